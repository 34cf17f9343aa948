//! Deciding which leases are stale and when to free them: pure functions over leases,
//! the clock and what is known of the host (is this owner alive, does this path exist,
//! which containers exist).
//!
//! A stale lease is freed only when a second pass, at least `grace` seconds after the pass
//! that first saw it stale, still finds it stale: Kubernetes' repair-loop lesson, better to
//! leak a port briefly than to hand out one that is still in use.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::lease::{Lease, LeaseOwner, rfc3339};

/// Why a lease is stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum StaleReason {
    /// The owner process is gone (or its pid now belongs to another process).
    OwnerGone {
        /// The recorded owner pid.
        pid: i32,
    },
    /// The TTL ran out.
    Expired {
        /// When it expired, in seconds since the Unix epoch.
        at: i64,
    },
    /// The project is a path that no longer exists.
    ProjectGone,
    /// The lease holds a container's ports and no container of that name exists.
    ContainerGone {
        /// The container.
        container: String,
    },
}

/// The names of every container on one engine, and when they were listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerListing {
    /// The engine's ID: only leases made for containers on it are judged.
    pub engine: String,
    /// Every container's name, managed by berth or not.
    pub names: HashSet<String>,
    /// When the list was taken, in seconds since the Unix epoch.
    pub listed_at: i64,
}

/// berth leases a container's ports just before it creates the container, so a lease this
/// young may belong to a container that is being created: it is not judged yet.
const CONTAINER_SETTLE_SECONDS: i64 = 60;

impl ContainerListing {
    /// The container `lease` holds ports for, when the listing proves it gone.
    fn missing<'a>(&self, lease: &'a Lease) -> Option<&'a str> {
        let container = lease.container()?;
        if lease.engine.as_deref() != Some(self.engine.as_str()) {
            return None;
        }
        let settled = self.listed_at.saturating_sub(lease.renewed_at) >= CONTAINER_SETTLE_SECONDS;
        (settled && !self.names.contains(container)).then_some(container)
    }
}

/// What a gc pass does with one lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GcAction {
    /// First seen stale: remember when, free on a later pass.
    Mark(StaleReason),
    /// Seen stale before, at least `grace` ago, and still stale: free it.
    Free(StaleReason),
    /// Seen stale before, but less than `grace` ago: leave it for now.
    Wait(StaleReason),
    /// Was marked stale, is healthy again: clear the mark.
    Recover,
}

impl fmt::Display for StaleReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OwnerGone { pid } => write!(formatter, "owner pid {pid} is gone"),
            Self::Expired { at } => write!(formatter, "TTL expired at {}", rfc3339(*at)),
            Self::ProjectGone => formatter.write_str("project path no longer exists"),
            Self::ContainerGone { container } => write!(formatter, "container {container} no longer exists"),
        }
    }
}

/// Why `lease` is stale now, if it is; `containers` is `None` when the engine could not be
/// asked, and then no container lease is judged.
pub fn staleness(
    lease: &Lease,
    now: i64,
    owner_alive: impl Fn(LeaseOwner) -> bool,
    path_exists: impl Fn(&Path) -> bool,
    containers: Option<&ContainerListing>,
) -> Option<StaleReason> {
    if let Some(owner) = lease.owner.filter(|owner| !owner_alive(*owner)) {
        return Some(StaleReason::OwnerGone { pid: owner.pid });
    }
    if let Some(at) = lease.expires_at().filter(|at| *at <= now) {
        return Some(StaleReason::Expired { at });
    }
    if lease.project_is_path() && !path_exists(Path::new(&lease.project)) {
        return Some(StaleReason::ProjectGone);
    }
    if let Some(container) = containers.and_then(|listing| listing.missing(lease)) {
        return Some(StaleReason::ContainerGone { container: container.to_string() });
    }
    None
}

/// What one pass does with `lease`, given why it is stale now (if it is); `None` when
/// there is nothing to do.
pub fn action(lease: &Lease, stale: Option<StaleReason>, now: i64, grace_seconds: i64) -> Option<GcAction> {
    match (stale, lease.stale_since) {
        (None, None) => None,
        (None, Some(_)) => Some(GcAction::Recover),
        (Some(reason), None) => Some(GcAction::Mark(reason)),
        (Some(reason), Some(since)) if now.saturating_sub(since) >= grace_seconds => Some(GcAction::Free(reason)),
        (Some(reason), Some(_)) => Some(GcAction::Wait(reason)),
    }
}

/// One gc pass over `ledger`, deciding in its write transaction: stale leases (owner gone,
/// TTL over, project path gone, container gone from `containers`' engine) are marked, and
/// freed once marked at least `grace_seconds` ago; healthy ones lose their mark. With
/// `dry_run`, decides and writes nothing. `berth gc` and the drift watch both run this.
pub fn pass(
    ledger: &mut super::Ledger,
    containers: Option<&ContainerListing>,
    grace_seconds: i64,
    now: i64,
    dry_run: bool,
) -> Result<Vec<(Lease, GcAction)>, super::LedgerError> {
    let owner_alive = |owner: LeaseOwner| {
        crate::probe::process_start_time(owner.pid).and_then(|start| i64::try_from(start).ok())
            == Some(owner.start_time)
    };
    let decide = |lease: &Lease| {
        let stale = staleness(lease, now, owner_alive, std::path::Path::exists, containers);
        action(lease, stale, now, grace_seconds)
    };
    ledger.collect_garbage(decide, now, dry_run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Protocol;

    fn lease() -> Lease {
        Lease {
            port: 4000,
            protocol: Protocol::Tcp,
            project: "shop".into(),
            service: "web".into(),
            purpose: String::new(),
            owner: None,
            created_at: 1_000,
            renewed_at: 1_000,
            ttl_seconds: None,
            health_endpoint: None,
            slot: None,
            stale_since: None,
            engine: None,
        }
    }

    #[test]
    fn owners_ttls_and_project_paths_make_leases_stale() {
        let alive = |_| true;
        let exists = |_: &Path| true;
        assert_eq!(staleness(&lease(), 5_000, alive, exists, None), None);

        let owned = Lease { owner: Some(LeaseOwner { pid: 77, start_time: 5 }), ..lease() };
        assert_eq!(staleness(&owned, 5_000, |_| false, exists, None), Some(StaleReason::OwnerGone { pid: 77 }));
        assert_eq!(staleness(&owned, 5_000, alive, exists, None), None);

        let expiring = Lease { ttl_seconds: Some(60), ..lease() };
        assert_eq!(staleness(&expiring, 1_059, alive, exists, None), None);
        assert_eq!(staleness(&expiring, 1_060, alive, exists, None), Some(StaleReason::Expired { at: 1_060 }));

        let pathed = Lease { project: "/srv/shop".into(), ..lease() };
        assert_eq!(staleness(&pathed, 5_000, alive, |_| false, None), Some(StaleReason::ProjectGone));
        assert_eq!(staleness(&lease(), 5_000, alive, |_| false, None), None, "a name is not a path");
    }

    #[test]
    fn a_container_lease_is_stale_once_its_container_is_gone_and_the_lease_has_settled() {
        let (alive, exists) = (|_| true, |_: &Path| true);
        let held = Lease {
            project: "container:web-dev-1".into(),
            renewed_at: 1_000,
            engine: Some("local-engine".into()),
            ..lease()
        };
        let listing = |names: &[&str], listed_at| ContainerListing {
            engine: "local-engine".into(),
            names: names.iter().map(ToString::to_string).collect(),
            listed_at,
        };
        let gone = Some(StaleReason::ContainerGone { container: "web-dev-1".into() });
        assert_eq!(staleness(&held, 2_000, alive, exists, Some(&listing(&[], 2_000))), gone);
        assert_eq!(staleness(&held, 2_000, alive, exists, Some(&listing(&["web-dev-1"], 2_000))), None);
        assert_eq!(staleness(&held, 2_000, alive, exists, None), None, "an engine that did not answer proves nothing");
        assert_eq!(staleness(&held, 1_030, alive, exists, Some(&listing(&[], 1_030))), None, "may be being created");
        assert_eq!(
            staleness(&lease(), 2_000, alive, exists, Some(&listing(&[], 2_000))),
            None,
            "not a container lease"
        );
    }

    #[test]
    fn stale_leases_are_freed_only_on_a_second_pass_after_the_grace_period() {
        let reason = StaleReason::ProjectGone;
        assert_eq!(action(&lease(), None, 100, 60), None);
        assert_eq!(action(&lease(), Some(reason.clone()), 100, 60), Some(GcAction::Mark(reason.clone())));
        let marked = Lease { stale_since: Some(100), ..lease() };
        assert_eq!(action(&marked, Some(reason.clone()), 159, 60), Some(GcAction::Wait(reason.clone())));
        assert_eq!(action(&marked, Some(reason.clone()), 160, 60), Some(GcAction::Free(reason.clone())));
        assert_eq!(action(&marked, None, 160, 60), Some(GcAction::Recover));
        assert_eq!(action(&marked, Some(reason.clone()), 100, 0), Some(GcAction::Free(reason)));
    }
}
