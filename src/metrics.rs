//! berth's own Prometheus metrics, in one registry that the worker serves on `/metrics`.
//!
//! Names carry the `berth_` prefix and base units; counters end in `_total`. Recording is
//! cheap and never fails the operation it measures.

use once_cell::sync::Lazy;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// Seconds from 5 ms to about 5 minutes: container starts and readiness waits.
const DURATION_BUCKETS: &[f64] = &[0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

/// All of berth's metrics.
pub struct Metrics {
    /// The registry holding them.
    pub registry: Registry,
    /// `berth_container_starts_total{service, outcome}`: created, adopted, started, recreated, failed.
    pub container_starts: IntCounterVec,
    /// `berth_container_start_duration_seconds{service}`: from the request to ready.
    pub start_duration: HistogramVec,
    /// `berth_container_ready_duration_seconds{service}`: from start to ready.
    pub ready_duration: HistogramVec,
    /// `berth_port_allocations_total{service, key}`: ports resolved by the `PortManager`.
    pub port_allocations: IntCounterVec,
    /// `berth_port_conflicts_total{kind}`: starts refused over a port (taken, leased, …).
    pub port_conflicts: IntCounterVec,
    /// `berth_running_instances{service}`: managed containers running, refreshed on scrape.
    pub running_instances: IntGaugeVec,
    /// `berth_ledger_leases`: leases in the host ledger, refreshed on scrape.
    pub ledger_leases: IntGauge,
    /// `berth_ledger_range_ports{range}`: ports of each lease range a lease may take.
    pub ledger_range_ports: IntGaugeVec,
    /// `berth_ledger_free_ports{range}`: those of them no lease holds.
    pub ledger_free_ports: IntGaugeVec,
    /// `berth_drift_findings{kind}`: what the drift watch finds now, by kind.
    pub drift_findings: IntGaugeVec,
    /// `berth_activity_executions_total{activity}`: Temporal activity executions.
    pub activity_executions: IntCounterVec,
    /// `berth_activity_failures_total{activity, type}`: failed activity executions by failure type.
    pub activity_failures: IntCounterVec,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition")
}

/// The process-wide metrics.
pub static METRICS: Lazy<Metrics> = Lazy::new(|| {
    let registry = Registry::new();
    let container_starts =
        counter("berth_container_starts_total", "Container starts by service and outcome", &["service", "outcome"]);
    let start_duration = HistogramVec::new(
        HistogramOpts::new("berth_container_start_duration_seconds", "Time from a start request to a ready instance")
            .buckets(DURATION_BUCKETS.to_vec()),
        &["service"],
    )
    .expect("static metric definition");
    let ready_duration = HistogramVec::new(
        HistogramOpts::new("berth_container_ready_duration_seconds", "Time from container start to ready")
            .buckets(DURATION_BUCKETS.to_vec()),
        &["service"],
    )
    .expect("static metric definition");
    let port_allocations = counter(
        "berth_port_allocations_total",
        "Ports resolved from the registry by service and key",
        &["service", "key"],
    );
    let port_conflicts = counter("berth_port_conflicts_total", "Starts refused over a port, by kind", &["kind"]);
    let running_instances =
        IntGaugeVec::new(Opts::new("berth_running_instances", "Managed containers running, by service"), &["service"])
            .expect("static metric definition");
    let ledger_leases =
        IntGauge::new("berth_ledger_leases", "Leases in the host ledger").expect("static metric definition");
    let range_gauge =
        |name: &str, help: &str| IntGaugeVec::new(Opts::new(name, help), &["range"]).expect("static metric definition");
    let ledger_range_ports = range_gauge("berth_ledger_range_ports", "Ports of each lease range that a lease may take");
    let ledger_free_ports = range_gauge("berth_ledger_free_ports", "Ports of each lease range that no lease holds");
    let drift_findings = IntGaugeVec::new(
        Opts::new("berth_drift_findings", "What the drift watch finds on the host now, by kind"),
        &["kind"],
    )
    .expect("static metric definition");
    let activity_executions =
        counter("berth_activity_executions_total", "Temporal activity executions by activity", &["activity"]);
    let activity_failures = counter(
        "berth_activity_failures_total",
        "Failed Temporal activity executions by activity and failure type",
        &["activity", "type"],
    );
    for collector in [
        Box::new(container_starts.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(start_duration.clone()),
        Box::new(ready_duration.clone()),
        Box::new(port_allocations.clone()),
        Box::new(port_conflicts.clone()),
        Box::new(running_instances.clone()),
        Box::new(ledger_leases.clone()),
        Box::new(ledger_range_ports.clone()),
        Box::new(ledger_free_ports.clone()),
        Box::new(drift_findings.clone()),
        Box::new(activity_executions.clone()),
        Box::new(activity_failures.clone()),
    ] {
        registry.register(collector).expect("metric names are unique");
    }
    Metrics {
        registry,
        container_starts,
        start_duration,
        ready_duration,
        port_allocations,
        port_conflicts,
        running_instances,
        ledger_leases,
        ledger_range_ports,
        ledger_free_ports,
        drift_findings,
        activity_executions,
        activity_failures,
    }
});
