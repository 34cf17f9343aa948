//! What the ledger records: a [`Lease`] holds one port for one project, and an
//! [`AllocationRequest`] says what a caller wants.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::probe::Protocol;
use crate::registry::PortRange;

/// The range dynamic ports are handed out of, when neither the request nor the
/// registry's `dynamic_range:` names one.
pub const DEFAULT_DYNAMIC_RANGE: PortRange = PortRange { start: 3100, end: 9999 };

/// Where a request for dynamic ports looks: the range of its project kind (`kind`, one of
/// the registry's `dynamic_ranges:`), else the range it names, else the registry's
/// `dynamic_range:`, else [`DEFAULT_DYNAMIC_RANGE`]. The CLI and the activity both ask here.
pub fn allocation_range(
    registry: Option<&crate::registry::Registry>,
    range: Option<PortRange>,
    kind: Option<&str>,
) -> Result<PortRange, String> {
    let Some(kind) = kind else {
        return Ok(range
            .or_else(|| registry.and_then(|registry| registry.dynamic_range))
            .unwrap_or(DEFAULT_DYNAMIC_RANGE));
    };
    let ranges = registry.map(|registry| registry.dynamic_ranges.as_slice()).unwrap_or_default();
    match ranges.iter().find(|named| named.name == kind) {
        Some(named) => Ok(named.range),
        None if ranges.is_empty() => {
            Err(format!("no project kind `{kind}`: the registry names none; add it under `dynamic_ranges:`"))
        }
        None => {
            let names: Vec<&str> = ranges.iter().map(|named| named.name.as_str()).collect();
            Err(format!("no project kind `{kind}`; the registry names {}", names.join(", ")))
        }
    }
}

/// One port held by one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The leased port.
    pub port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The project: a path (its lease is stale once the path is gone) or a name.
    pub project: String,
    /// The service inside the project the port is for.
    pub service: String,
    /// Free text: what the port is for.
    pub purpose: String,
    /// The process the lease lives and dies with, if any.
    pub owner: Option<LeaseOwner>,
    /// When the lease was made, in seconds since the Unix epoch.
    pub created_at: i64,
    /// When it was last asked for again, in seconds since the Unix epoch.
    pub renewed_at: i64,
    /// Seconds after `renewed_at` at which the lease expires.
    pub ttl_seconds: Option<i64>,
    /// Where the service answers health checks.
    pub health_endpoint: Option<String>,
    /// The registry slot the port belongs to, when it came from the registry.
    pub slot: Option<LeaseSlot>,
    /// When a `gc` pass first found the lease stale; cleared when it is healthy again.
    pub stale_since: Option<i64>,
    /// For a container's lease, the ID of the Docker engine the container runs on.
    pub engine: Option<String>,
}

/// A process identified as Google's portserver does: pid plus start time, so a reused
/// pid is not mistaken for the original owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LeaseOwner {
    /// Process id.
    pub pid: i32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_time: i64,
}

/// The registry slot (service, instance, key) a leased port was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseSlot {
    /// Registry service.
    pub service: String,
    /// Instance id.
    pub instance: u16,
    /// Port key.
    pub key: String,
}

/// How ports are picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The lowest free ports of the range.
    FirstFit,
    /// The next free ports after the last one handed out to the project,
    /// starting at `base`; stable across runs, released ports are not reused.
    Sequential {
        /// Where the project's sequence starts.
        base: u16,
    },
}

/// What a caller asks the ledger for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationRequest {
    /// The project the ports are for.
    pub project: String,
    /// The service inside the project.
    pub service: String,
    /// How many ports; at least 1.
    pub count: u32,
    /// Where to look for them.
    pub range: PortRange,
    /// How to pick them.
    pub strategy: Strategy,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Free text.
    pub purpose: String,
    /// The process the leases live and die with.
    pub owner: Option<LeaseOwner>,
    /// Expire the leases this many seconds after the last request for them.
    pub ttl_seconds: Option<i64>,
    /// A health endpoint to record.
    pub health_endpoint: Option<String>,
    /// The registry slot the ports stand in for (a fallback), if any.
    pub slot: Option<LeaseSlot>,
}

/// The ledger project that holds a container's ports: the container's own name, so the
/// CLI and the worker starting the same instance agree on who holds them.
pub fn container_project(container: &str) -> String {
    format!("{CONTAINER_PROJECT_PREFIX}{container}")
}

const CONTAINER_PROJECT_PREFIX: &str = "container:";
const FALLBACK_PROJECT_PREFIX: &str = "fallback:";

/// The ledger project that holds the fallback port of one instance's keys
/// (`fallback:dashboard-development`): named like the instance's container, so the
/// choice is the same for every caller and stays while the lease lives.
pub fn fallback_project(service: &str, environment: &str, instance: u16) -> String {
    format!("{FALLBACK_PROJECT_PREFIX}{}", crate::registry::container_name(service, environment, instance))
}

impl Lease {
    /// The container whose ports this lease holds, when berth leased them for one.
    pub fn container(&self) -> Option<&str> {
        self.project.strip_prefix(CONTAINER_PROJECT_PREFIX)
    }

    /// Whether `project` is one berth keeps for a container's ports.
    pub fn is_container_project(project: &str) -> bool {
        project.starts_with(CONTAINER_PROJECT_PREFIX)
    }

    /// Whether this is the fallback lease of port key `key` of the container whose project
    /// is `container_project`: a port the container publishes as its own.
    pub fn is_fallback_of(&self, container_project: &str, key: &str) -> bool {
        let container = container_project.strip_prefix(CONTAINER_PROJECT_PREFIX);
        container.is_some() && self.project.strip_prefix(FALLBACK_PROJECT_PREFIX) == container && self.service == key
    }

    /// Whether `project` is one berth keeps for fallback ports.
    pub fn is_fallback_project(project: &str) -> bool {
        project.starts_with(FALLBACK_PROJECT_PREFIX)
    }

    /// Whether the lease's project is a path (stale once the path is gone).
    pub fn project_is_path(&self) -> bool {
        Path::new(&self.project).is_absolute()
    }

    /// When the lease expires, if it has a TTL.
    pub fn expires_at(&self) -> Option<i64> {
        self.ttl_seconds.map(|ttl| self.renewed_at.saturating_add(ttl))
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// Seconds since the Unix epoch written as RFC 3339 (`2026-11-23T07:00:00Z`).
pub fn rfc3339(seconds: i64) -> String {
    let moment = UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
    humantime::format_rfc3339_seconds(moment).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_takes_its_named_range_and_an_unknown_kind_lists_the_known_ones() {
        let text = "dynamic_range: 20000-20999\ndynamic_ranges:\n  ml: 30500-30599\n  web: 30600-30699\nredis:\n  port: 6379\n";
        let registry = crate::registry::parse(text, std::path::Path::new("r.yaml")).expect("loads");
        let range = |start, end| PortRange { start, end };
        assert_eq!(allocation_range(Some(&registry), None, Some("web")), Ok(range(30600, 30699)));
        assert_eq!(allocation_range(Some(&registry), None, None), Ok(range(20000, 20999)));
        assert_eq!(allocation_range(Some(&registry), Some(range(4000, 4099)), None), Ok(range(4000, 4099)));
        assert_eq!(allocation_range(None, None, None), Ok(DEFAULT_DYNAMIC_RANGE));
        assert_eq!(
            allocation_range(Some(&registry), None, Some("gpu")),
            Err("no project kind `gpu`; the registry names ml, web".to_string())
        );
        assert!(allocation_range(None, None, Some("ml")).is_err_and(|error| error.contains("names none")));
    }
}
