//! berth's own Prometheus metrics, in one registry that the worker serves on `/metrics`.
//!
//! Names carry the `berth_` prefix and base units; counters end in `_total`. Recording is
//! cheap and never fails the operation it measures.

use once_cell::sync::Lazy;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

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
}

/// The process-wide metrics.
pub static METRICS: Lazy<Metrics> = Lazy::new(|| {
    let registry = Registry::new();
    let container_starts = IntCounterVec::new(
        Opts::new("berth_container_starts_total", "Container starts by service and outcome"),
        &["service", "outcome"],
    )
    .expect("static metric definition");
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
    for collector in [
        Box::new(container_starts.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(start_duration.clone()),
        Box::new(ready_duration.clone()),
    ] {
        registry.register(collector).expect("metric names are unique");
    }
    Metrics { registry, container_starts, start_duration, ready_duration }
});
