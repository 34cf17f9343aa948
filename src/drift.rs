//! The drift watch: the worker and `berth serve` look at the host again every interval and
//! say what has drifted from what berth set up, when it appears and when it clears.
//!
//! A finding is a port map conflict (a slot held by a foreign process, a lease nobody
//! listens on, a lease whose container is gone, a leased port held by another process) or
//! a managed container that is not running. Each is one structured log event when it
//! appears (`drift_found`) and when it clears (`drift_cleared`), and the count of each kind
//! is the `berth_drift_findings{kind}` gauge. Every look also runs one `berth gc` pass, so
//! stale leases are freed by the same two-pass rule.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::ledger::{self, ContainerListing, Ledger};
use crate::metrics::METRICS;
use crate::web::map::{Conflict, PortMap};
use crate::web::{Instance, WebState};

/// The kinds of drift, as the gauge labels them; every kind is always exported.
pub const KINDS: [&str; 5] = ["slot-held", "lease-unused", "container-gone", "held-by-other", "instance-down"];

/// One thing that has drifted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// The port, when the finding is about one.
    pub port: Option<u16>,
    /// What it is about: the holder, the container.
    pub subject: String,
}

/// The findings in `map` and among `instances`. Pure.
pub fn findings(map: &PortMap, instances: &[Instance]) -> BTreeSet<Finding> {
    let conflicts = map.ports.iter().filter_map(|port| {
        let (kind, subject) = match port.conflict.as_ref()? {
            Conflict::SlotHeld { holder } => ("slot-held", holder),
            Conflict::LeaseUnused { container } => ("lease-unused", container),
            Conflict::ContainerGone { container } => ("container-gone", container),
            Conflict::HeldByOther { holder } => ("held-by-other", holder),
        };
        Some(Finding { kind, port: Some(port.port), subject: subject.clone() })
    });
    let down = instances.iter().filter(|instance| instance.state != "running").map(|instance| Finding {
        kind: "instance-down",
        port: None,
        subject: format!("{} ({})", instance.name, instance.state),
    });
    conflicts.chain(down).collect()
}

/// What changed between two looks: the findings that appeared, and those that cleared.
pub fn changes<'a>(before: &'a BTreeSet<Finding>, now: &'a BTreeSet<Finding>) -> (Vec<&'a Finding>, Vec<&'a Finding>) {
    (now.difference(before).collect(), before.difference(now).collect())
}

/// How many findings of each kind, every kind present.
pub fn counts(findings: &BTreeSet<Finding>) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = KINDS.iter().map(|kind| (*kind, 0)).collect();
    for finding in findings {
        *counts.entry(finding.kind).or_default() += 1;
    }
    counts
}

/// Looks at the host every `every` until the process ends; see the module docs. A look
/// that cannot read the host is logged and tried again at the next interval.
pub async fn watch(state: WebState, every: Duration, grace: Duration) {
    let mut known = BTreeSet::new();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match crate::web::gather(&state).await {
            Ok(gathered) => {
                let instances = gathered.instances.as_deref().unwrap_or_default();
                let now = findings(&gathered.map, instances);
                let (appeared, cleared) = changes(&known, &now);
                for finding in appeared {
                    tracing::warn!(kind = finding.kind, port = ?finding.port, subject = %finding.subject, "drift_found");
                }
                for finding in cleared {
                    tracing::info!(kind = finding.kind, port = ?finding.port, subject = %finding.subject, "drift_cleared");
                }
                for (kind, count) in counts(&now) {
                    METRICS.drift_findings.with_label_values(&[kind]).set(i64::try_from(count).unwrap_or(i64::MAX));
                }
                known = now;
            }
            Err(error) => tracing::warn!(%error, "drift_not_checked"),
        }
        collect_garbage(&state, grace).await;
    }
}

/// One gc pass over the ledger, judging container leases only on the engine's own listing.
async fn collect_garbage(state: &WebState, grace: Duration) {
    let Some(directory) = state.ledger.clone() else { return };
    let containers = match state.engine.container_names().await {
        Ok(names) => Some(ContainerListing { engine: state.engine.id().to_string(), names, listed_at: ledger::now() }),
        Err(error) => {
            tracing::warn!(%error, "drift_gc_without_containers");
            None
        }
    };
    let grace = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
    let passed = tokio::task::spawn_blocking(move || {
        let Some(mut ledger) = Ledger::open_existing(&directory)? else { return Ok(Vec::new()) };
        ledger::gc_pass(&mut ledger, containers.as_ref(), grace, ledger::now(), false)
    })
    .await;
    match passed {
        Ok(Ok(decisions)) => {
            for (lease, decision) in decisions {
                tracing::info!(port = lease.port, project = %lease.project, action = ?decision, "ledger_gc_decision");
            }
        }
        Ok(Err(error)) => tracing::warn!(%error, "drift_gc_failed"),
        Err(error) => tracing::warn!(%error, "drift_gc_failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::map::MapPort;

    fn port(port: u16, conflict: Option<Conflict>) -> MapPort {
        MapPort { port, slot: None, lease: None, listeners: Vec::new(), container: None, conflict }
    }

    fn instance(name: &str, state: &str) -> Instance {
        Instance {
            name: name.to_string(),
            service: "web".to_string(),
            instance: "0".to_string(),
            environment: "development".to_string(),
            state: state.to_string(),
            status: String::new(),
            endpoints: Vec::new(),
        }
    }

    #[test]
    fn conflicts_and_stopped_instances_are_findings_and_changes_say_what_appeared_and_cleared() {
        let map = PortMap {
            ports: vec![
                port(5000, None),
                port(5100, Some(Conflict::SlotHeld { holder: "pid 7 (nc)".to_string() })),
                port(5200, Some(Conflict::ContainerGone { container: "web-development-2".to_string() })),
            ],
            ranges: Vec::new(),
            conflicts: 2,
            containers_error: None,
        };
        let first = findings(&map, &[instance("web-development", "running"), instance("db-development", "exited")]);
        let kinds: Vec<(&str, Option<u16>)> = first.iter().map(|finding| (finding.kind, finding.port)).collect();
        assert_eq!(kinds, [("container-gone", Some(5200)), ("instance-down", None), ("slot-held", Some(5100))]);
        assert_eq!(counts(&first)["slot-held"], 1);
        assert_eq!(counts(&first)["held-by-other"], 0, "every kind is counted");

        let second = findings(&PortMap { ports: vec![port(5100, map.ports[1].conflict.clone())], ..map.clone() }, &[]);
        let (appeared, cleared) = changes(&first, &second);
        assert!(appeared.is_empty());
        let cleared: Vec<&str> = cleared.iter().map(|finding| finding.kind).collect();
        assert_eq!(cleared, ["container-gone", "instance-down"]);
    }
}
