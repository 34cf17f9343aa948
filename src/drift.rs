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

/// The kinds of finding that only the engine's listing can confirm or clear.
const CONTAINER_KINDS: [&str; 3] = ["lease-unused", "container-gone", "instance-down"];

/// The findings of a look that could not list the containers: what it found, and the
/// container findings of the look before, which it can neither confirm nor clear.
pub fn without_containers(found: BTreeSet<Finding>, before: &BTreeSet<Finding>) -> BTreeSet<Finding> {
    let kept = before.iter().filter(|finding| CONTAINER_KINDS.contains(&finding.kind)).cloned();
    found.into_iter().filter(|finding| !CONTAINER_KINDS.contains(&finding.kind)).chain(kept).collect()
}

/// A problem that keeps a look from seeing everything, logged when it starts and when it
/// ends rather than at every look.
#[derive(Default)]
struct Problem(Option<String>);

impl Problem {
    fn now(&mut self, problem: Option<String>, event: &'static str) {
        if problem == self.0 {
            return;
        }
        match &problem {
            Some(error) => tracing::warn!(%error, "{event}"),
            None => tracing::info!("{event}_over"),
        }
        self.0 = problem;
    }
}

/// Looks at the host every `every` until the process ends; see the module docs. A look
/// that cannot read the host, the ledger or the engine says so once, keeps what it cannot
/// judge as it was, and tries again at the next interval.
pub async fn watch(state: WebState, every: Duration, grace: Duration) {
    let mut known = BTreeSet::new();
    let (mut unread, mut unlisted, mut uncollected) = (Problem::default(), Problem::default(), Problem::default());
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let gathered = crate::web::gather(&state).await;
        let problem = match &gathered {
            Ok(gathered) => gathered.leases.as_ref().err().map(|error| format!("the ledger: {error}")),
            Err(error) => Some(error.clone()),
        };
        unread.now(problem, "drift_not_checked");
        if let Some(gathered) = gathered.as_ref().ok().filter(|gathered| gathered.leases.is_ok()) {
            unlisted.now(gathered.instances.as_ref().err().cloned(), "drift_containers_not_listed");
            let now = match &gathered.instances {
                Ok(instances) => findings(&gathered.map, instances),
                Err(_) => without_containers(findings(&gathered.map, &[]), &known),
            };
            let (appeared, cleared) = changes(&known, &now);
            for finding in appeared {
                tracing::warn!(kind = finding.kind, port = finding.port, subject = %finding.subject, "drift_found");
            }
            for finding in cleared {
                tracing::info!(kind = finding.kind, port = finding.port, subject = %finding.subject, "drift_cleared");
            }
            for (kind, count) in counts(&now) {
                METRICS.drift_findings.with_label_values(&[kind]).set(i64::try_from(count).unwrap_or(i64::MAX));
            }
            known = now;
        }
        uncollected.now(collect_garbage(&state, grace).await.err(), "drift_gc_failed");
    }
}

/// One gc pass over the ledger, judging container leases only on the engine's own listing.
async fn collect_garbage(state: &WebState, grace: Duration) -> Result<(), String> {
    let Some(directory) = state.ledger.clone() else { return Ok(()) };
    let containers = match state.engine.get().await {
        Ok(engine) => engine.container_names().await.ok().map(|names| ContainerListing {
            engine: engine.id().to_string(),
            names,
            listed_at: ledger::now(),
        }),
        Err(_) => None,
    };
    let grace = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
    let decisions = tokio::task::spawn_blocking(move || {
        let Some(mut ledger) = Ledger::open_existing(&directory)? else { return Ok(Vec::new()) };
        ledger::gc_pass(&mut ledger, containers.as_ref(), grace, ledger::now(), false)
    })
    .await
    .map_err(|error| error.to_string())?
    .map_err(|error| error.to_string())?;
    for (lease, decision) in decisions {
        tracing::info!(port = lease.port, project = %lease.project, action = ?decision, "ledger_gc_decision");
    }
    Ok(())
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
            instance: Some(0),
            environment: "development".to_string(),
            state: state.to_string(),
            status: String::new(),
            endpoints: Vec::new(),
            host_ports: Vec::new(),
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

    #[test]
    fn a_look_without_the_containers_neither_confirms_nor_clears_their_findings() {
        let finding = |kind: &'static str, port: Option<u16>| Finding { kind, port, subject: "x".to_string() };
        let before: BTreeSet<Finding> =
            [finding("instance-down", None), finding("slot-held", Some(5100)), finding("container-gone", Some(5200))]
                .into();
        let found: BTreeSet<Finding> = [finding("held-by-other", Some(7000))].into();
        let now = without_containers(found, &before);
        let kinds: Vec<&str> = now.iter().map(|finding| finding.kind).collect();
        assert_eq!(kinds, ["container-gone", "held-by-other", "instance-down"], "slot-held cleared, the rest kept");
    }
}
