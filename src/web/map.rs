//! The port map: every port berth knows something about, from the registry's slots, the
//! ledger's leases, the host's listeners and berth's containers, joined on the port number,
//! with what disagrees marked as a conflict.
//!
//! Pure: [`PortMap::build`] takes what was read and returns what the page and the JSON API
//! show, so the rules are tested without a host.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ledger::{Lease, container_project};
use crate::probe::Listener;
use crate::registry::{PortRange, ResolvedPort, container_name};

/// A container berth manages, as the map needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapContainer {
    /// Its name.
    pub name: String,
    /// `running`, `exited`, …
    pub state: String,
    /// The host ports it publishes.
    pub host_ports: Vec<u16>,
}

/// What the map is built from.
#[derive(Debug)]
pub struct Sources {
    /// Every slot of the environment shown, with its port.
    pub slots: Vec<ResolvedPort>,
    /// The registry's reserved ranges, with their reasons.
    pub reserved: Vec<(PortRange, String)>,
    /// The ranges leases come from, by name.
    pub lease_ranges: Vec<(String, PortRange)>,
    /// The ledger's leases.
    pub leases: Vec<Lease>,
    /// The host's listening sockets.
    pub listeners: Vec<Listener>,
    /// berth's containers, or why they could not be listed.
    pub containers: Result<Vec<MapContainer>, String>,
    /// Now, in seconds since the Unix epoch.
    pub now: i64,
}

/// A registry slot, named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotName {
    /// The service.
    pub service: String,
    /// The instance.
    pub instance: u16,
    /// The port key.
    pub key: String,
    /// `kafka[1].broker_port`.
    pub label: String,
}

/// A lease, as the map shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapLease {
    /// The project.
    pub project: String,
    /// The service inside it.
    pub service: String,
    /// The owning process, if any.
    pub owner_pid: Option<i32>,
    /// Seconds since it was made.
    pub age_seconds: i64,
    /// Its time to live, if any.
    pub ttl_seconds: Option<i64>,
    /// Whether `gc` has marked it stale.
    pub stale: bool,
}

/// Why a port is marked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Conflict {
    /// A registry slot is held by a process other than its instance's container.
    SlotHeld {
        /// The process, as the host describes it.
        holder: String,
    },
    /// A container's lease, with the container running, and nothing listens on the port.
    LeaseUnused {
        /// The container.
        container: String,
    },
    /// A lease whose container berth does not find.
    ContainerGone {
        /// The container.
        container: String,
    },
    /// A leased port held by a process other than the lease's owner.
    HeldByOther {
        /// The process, as the host describes it.
        holder: String,
    },
}

/// One port on the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapPort {
    /// The port.
    pub port: u16,
    /// The registry slot on it, if any.
    pub slot: Option<SlotName>,
    /// The lease on it, if any.
    pub lease: Option<MapLease>,
    /// Who listens on it, as the host describes each socket.
    pub listeners: Vec<String>,
    /// berth's container publishing it, if any.
    pub container: Option<String>,
    /// What disagrees, if anything.
    pub conflict: Option<Conflict>,
}

/// A range shown on the band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapRange {
    /// `reserved` or `leases`.
    pub kind: &'static str,
    /// Its reason (reserved) or name (lease range).
    pub name: String,
    /// First port.
    pub start: u16,
    /// Last port.
    pub end: u16,
}

/// The whole map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMap {
    /// Every port with a slot, lease, listener or container, in port order.
    pub ports: Vec<MapPort>,
    /// Reserved and lease ranges.
    pub ranges: Vec<MapRange>,
    /// How many ports are marked.
    pub conflicts: usize,
    /// Why berth's containers could not be listed, if they could not.
    pub containers_error: Option<String>,
}

impl PortMap {
    /// Joins `sources` on the port number and marks what disagrees.
    pub fn build(sources: Sources) -> Self {
        let mut ports: BTreeMap<u16, MapPort> = BTreeMap::new();
        let mut slot_containers: BTreeMap<u16, String> = BTreeMap::new();
        for slot in &sources.slots {
            port_entry(&mut ports, slot.port).slot = Some(SlotName {
                service: slot.service.clone(),
                instance: slot.instance,
                key: slot.key.clone(),
                label: format!("{}[{}].{}", slot.service, slot.instance, slot.key),
            });
            slot_containers.insert(slot.port, container_name(&slot.service, &slot.environment, slot.instance));
        }
        for lease in &sources.leases {
            port_entry(&mut ports, lease.port).lease = Some(MapLease {
                project: lease.project.clone(),
                service: lease.service.clone(),
                owner_pid: lease.owner.map(|owner| owner.pid),
                age_seconds: sources.now.saturating_sub(lease.created_at),
                ttl_seconds: lease.ttl_seconds,
                stale: lease.stale_since.is_some(),
            });
        }
        let mut listeners: BTreeMap<u16, Vec<&Listener>> = BTreeMap::new();
        for listener in &sources.listeners {
            port_entry(&mut ports, listener.port()).listeners.push(listener.describe());
            listeners.entry(listener.port()).or_default().push(listener);
        }
        let containers = sources.containers.as_ref().ok();
        for container in containers.into_iter().flatten() {
            for port in &container.host_ports {
                port_entry(&mut ports, *port).container = Some(container.name.clone());
            }
        }
        for map_port in ports.values_mut() {
            let on_port = Port {
                lease: sources.leases.iter().find(|lease| lease.port == map_port.port),
                listeners: listeners.get(&map_port.port).map_or(&[], Vec::as_slice),
                slot_container: slot_containers.get(&map_port.port).map(String::as_str),
                container: map_port.container.as_deref(),
            };
            map_port.conflict = conflict(&on_port, containers.map(Vec::as_slice));
        }
        let mut ranges: Vec<MapRange> = sources
            .reserved
            .iter()
            .map(|(range, reason)| MapRange {
                kind: "reserved",
                name: reason.clone(),
                start: range.start,
                end: range.end,
            })
            .collect();
        ranges.extend(sources.lease_ranges.iter().map(|(name, range)| MapRange {
            kind: "leases",
            name: name.clone(),
            start: range.start,
            end: range.end,
        }));
        let ports: Vec<MapPort> = ports.into_values().collect();
        let conflicts = ports.iter().filter(|port| port.conflict.is_some()).count();
        Self { ports, ranges, conflicts, containers_error: sources.containers.err() }
    }
}

/// What is known of one port, for judging it.
struct Port<'a> {
    lease: Option<&'a Lease>,
    listeners: &'a [&'a Listener],
    /// The container of the registry slot on the port.
    slot_container: Option<&'a str>,
    /// berth's container publishing the port.
    container: Option<&'a str>,
}

fn port_entry(ports: &mut BTreeMap<u16, MapPort>, port: u16) -> &mut MapPort {
    ports.entry(port).or_insert_with(|| MapPort {
        port,
        slot: None,
        lease: None,
        listeners: Vec::new(),
        container: None,
        conflict: None,
    })
}

/// What disagrees on one port: the first rule that applies.
fn conflict(port: &Port<'_>, containers: Option<&[MapContainer]>) -> Option<Conflict> {
    let held_by = |listener: &&Listener| listener.describe();
    if let Some(slot_container) = port.slot_container {
        let its_own = port.container == Some(slot_container)
            || port.lease.is_some_and(|lease| lease.project == container_project(slot_container));
        // A lease with an owner is a dynamic one on a slot's port; its owner is judged below.
        if !its_own
            && port.lease.is_none_or(|lease| lease.owner.is_none())
            && let Some(holder) = port.listeners.first()
        {
            return Some(Conflict::SlotHeld { holder: held_by(holder) });
        }
    }
    let lease = port.lease?;
    if let (Some(container), Some(containers)) = (lease.container(), containers) {
        return match containers.iter().find(|candidate| candidate.name == container) {
            None => Some(Conflict::ContainerGone { container: container.to_string() }),
            Some(found) if found.state == "running" && port.listeners.is_empty() => {
                Some(Conflict::LeaseUnused { container: container.to_string() })
            }
            Some(_) => None,
        };
    }
    let owner = lease.owner?;
    let other = port
        .listeners
        .iter()
        .find(|listener| listener.owner.as_ref().is_some_and(|process| process.pid != owner.pid))?;
    Some(Conflict::HeldByOther { holder: held_by(other) })
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::ledger::LeaseOwner;
    use crate::probe::{Owner, Protocol};

    fn slot(service: &str, instance: u16, port: u16) -> ResolvedPort {
        ResolvedPort {
            service: service.to_string(),
            instance,
            key: "port".to_string(),
            environment: "development".to_string(),
            port,
            base: port,
            increment: 100,
            variable: "WEB_PORT".to_string(),
            overridden_by: None,
            fallback_for: None,
        }
    }

    fn listener(port: u16, pid: i32, name: &str) -> Listener {
        Listener {
            protocol: Protocol::Tcp,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            owner: Some(Owner { pid, name: name.to_string() }),
        }
    }

    fn lease(port: u16, project: &str, owner: Option<i32>) -> Lease {
        Lease {
            port,
            protocol: Protocol::Tcp,
            project: project.to_string(),
            service: "web".to_string(),
            purpose: String::new(),
            owner: owner.map(|pid| LeaseOwner { pid, start_time: 1 }),
            created_at: 100,
            renewed_at: 100,
            ttl_seconds: None,
            health_endpoint: None,
            slot: None,
            stale_since: None,
            engine: None,
        }
    }

    fn container(name: &str, state: &str, host_ports: &[u16]) -> MapContainer {
        MapContainer { name: name.to_string(), state: state.to_string(), host_ports: host_ports.to_vec() }
    }

    fn sources() -> Sources {
        Sources {
            slots: vec![slot("web", 0, 5000), slot("web", 1, 5100), slot("web", 2, 5200)],
            reserved: vec![(PortRange::new(22, 22).expect("range"), "ssh".to_string())],
            lease_ranges: vec![("default".to_string(), PortRange::new(3100, 9999).expect("range"))],
            leases: Vec::new(),
            listeners: Vec::new(),
            containers: Ok(Vec::new()),
            now: 160,
        }
    }

    fn conflicts(map: &PortMap) -> Vec<(u16, &Conflict)> {
        map.ports.iter().filter_map(|port| Some((port.port, port.conflict.as_ref()?))).collect()
    }

    #[test]
    fn a_slot_held_by_its_own_container_is_in_use_and_one_held_by_anyone_else_is_a_conflict() {
        let mut sources = sources();
        sources.listeners =
            vec![listener(5000, 10, "docker-proxy"), listener(5100, 4242, "python3"), listener(8080, 7, "nginx")];
        sources.leases = vec![lease(5000, "container:web-development", None)];
        sources.containers = Ok(vec![container("web-development", "running", &[5000])]);
        let map = PortMap::build(sources);
        assert_eq!(
            conflicts(&map),
            [(5100, &Conflict::SlotHeld { holder: "tcp 127.0.0.1:5100 pid 4242 (python3)".to_string() })]
        );
        assert_eq!(map.conflicts, 1);
        let ports: Vec<u16> = map.ports.iter().map(|port| port.port).collect();
        assert_eq!(ports, [5000, 5100, 5200, 8080], "every slot, and every listener, in port order");
        let web = &map.ports[0];
        assert_eq!(web.slot.as_ref().map(|slot| slot.label.as_str()), Some("web[0].port"));
        assert_eq!(web.container.as_deref(), Some("web-development"));
        assert_eq!(web.lease.as_ref().map(|lease| lease.age_seconds), Some(60));
        assert_eq!(map.ranges.len(), 2);
    }

    #[test]
    fn container_leases_are_judged_against_the_containers_and_dynamic_ones_against_their_owner() {
        let mut sources = sources();
        sources.leases = vec![
            lease(5000, "container:web-development", None),
            lease(5100, "container:web-development-1", None),
            lease(7000, "/srv/app", Some(300)),
            lease(7001, "/srv/app", Some(300)),
        ];
        sources.listeners = vec![listener(7000, 301, "intruder"), listener(7001, 300, "app")];
        sources.containers = Ok(vec![container("web-development", "running", &[5000])]);
        let map = PortMap::build(sources);
        assert_eq!(
            conflicts(&map),
            [
                (5000, &Conflict::LeaseUnused { container: "web-development".to_string() }),
                (5100, &Conflict::ContainerGone { container: "web-development-1".to_string() }),
                (7000, &Conflict::HeldByOther { holder: "tcp 127.0.0.1:7000 pid 301 (intruder)".to_string() }),
            ]
        );
    }

    #[test]
    fn without_the_containers_their_leases_are_not_judged_and_the_reason_is_kept() {
        let mut sources = sources();
        sources.leases = vec![lease(5100, "container:web-development-1", None)];
        sources.containers = Err("cannot reach the Docker engine".to_string());
        let map = PortMap::build(sources);
        assert!(conflicts(&map).is_empty());
        assert_eq!(map.containers_error.as_deref(), Some("cannot reach the Docker engine"));
    }
}
