//! Variables such as `KAFKA_1_BROKER_PORT=9300` that move one slot off its computed port,
//! read once from the variables the caller passes in and proven like the registry itself.
//!
//! An override sets its slot's port in every environment. It is re-checked against every
//! other slot's effective port, the reserved ports and its service's range; a finding
//! names the variable and makes only that slot unusable, never the rest of the registry.
//! A value in Docker's link form (`tcp://10.0.0.5:6379`, set by Kubernetes and `docker
//! run --link` for a neighbour called `redis`) is not an override and is ignored.

use std::collections::{HashMap, HashSet};

use super::model::{Registry, Slot};
use super::validate::Finding;
use super::variables::slot_variable;

/// This process's environment variables that are text; the others cannot name a port.
pub fn process_variables() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

/// A slot across environments: an override names no environment.
type SlotKey = (usize, u16, usize);

/// The overrides that apply to a registry, and the variables set aside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    applied: HashMap<SlotKey, Override>,
    ignored: Vec<Ignored>,
}

/// One variable that names a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The variable (`KAFKA_1_BROKER_PORT`).
    pub variable: String,
    /// Its value as set.
    pub value: String,
    /// The port it sets, or why the value is not a port.
    pub port: Result<u16, String>,
}

/// A variable that names a slot but is not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The variable.
    pub variable: String,
    /// Its value.
    pub value: String,
    /// Why it does not count.
    pub reason: &'static str,
}

impl Overrides {
    /// The overrides among `variables` for `registry`'s slots.
    pub fn read(registry: &Registry, variables: &HashMap<String, String>) -> Self {
        let mut overrides = Self::default();
        if variables.is_empty() {
            return overrides;
        }
        for (service_index, service) in registry.services.iter().enumerate() {
            for (key_index, key) in service.ports.iter().enumerate() {
                for instance in service.instances() {
                    let variable = slot_variable(service, key, instance);
                    let Some(value) = variables.get(&variable) else { continue };
                    let ignored = |reason| Ignored { variable: variable.clone(), value: value.clone(), reason };
                    if !registry.overrides {
                        overrides.ignored.push(ignored("the registry sets `overrides: false`"));
                    } else if key.fixed {
                        overrides.ignored.push(ignored("the port is immutable (`immutable: true` or `env_var: null`)"));
                    } else if is_link(value) {
                        overrides.ignored.push(ignored("a Docker link address (tcp://host:port) is not a port"));
                    } else if value.trim().is_empty() {
                        overrides.ignored.push(ignored("an empty value is no override"));
                    } else {
                        let port = parse_port(value);
                        overrides.applied.insert(
                            (service_index, instance, key_index),
                            Override { variable, value: value.clone(), port },
                        );
                    }
                }
            }
        }
        overrides
    }

    /// The override for `slot`, whatever its environment.
    pub fn get(&self, slot: Slot) -> Option<&Override> {
        self.applied.get(&(slot.service, slot.instance, slot.key))
    }

    /// Variables that named a slot but were set aside.
    pub fn ignored(&self) -> &[Ignored] {
        &self.ignored
    }

    /// Every problem the overrides bring, one finding per slot and environment affected.
    pub fn findings(&self, registry: &Registry) -> Vec<Finding> {
        let mut findings = Vec::new();
        let targets: HashSet<u16> = self.applied.values().filter_map(|found| found.port.clone().ok()).collect();
        let mut holders: HashMap<u16, Vec<Slot>> = HashMap::new();
        for slot in every_slot(registry) {
            if let Some(port) = self.effective_port(registry, slot).filter(|port| targets.contains(port)) {
                holders.entry(port).or_default().push(slot);
            }
        }
        let mut overridden: Vec<(&SlotKey, &Override)> = self.applied.iter().collect();
        overridden.sort_by_key(|(key, _)| **key);
        for (&(service, instance, key), found) in overridden {
            let finding = |slot: Slot, problem: String| Finding::Override {
                slot,
                variable: found.variable.clone(),
                value: found.value.clone(),
                problem,
            };
            let port = match &found.port {
                Ok(port) => *port,
                Err(reason) => {
                    findings.push(finding(Slot { service, environment: 0, instance, key }, reason.clone()));
                    continue;
                }
            };
            for environment in 0..registry.environments.len() {
                let slot = Slot { service, environment, instance, key };
                let owner = registry.service_of(slot);
                if let Some(range) = owner.range.filter(|range| !range.contains(u32::from(port))) {
                    findings.push(finding(slot, format!("{port} is outside {}'s range {range}", owner.name)));
                }
                if let Some((range, reason)) = reserved(registry, port) {
                    findings.push(finding(slot, format!("{port} sits on reserved {range} ({reason})")));
                }
                // Its own copies in other environments share the port by design: the
                // ledger and the start's port check keep two of them from running at once.
                let others = holders
                    .get(&port)
                    .into_iter()
                    .flatten()
                    .filter(|other| (other.service, other.instance, other.key) != (service, instance, key));
                if let Some(other) = others.min() {
                    findings.push(finding(slot, format!("{port} is also the port of {}", registry.describe(*other))));
                }
            }
        }
        findings
    }

    /// The port `slot` gets: its override when that is a port, else the computed one.
    pub fn effective_port(&self, registry: &Registry, slot: Slot) -> Option<u16> {
        match self.get(slot) {
            Some(found) => found.port.clone().ok(),
            None => u16::try_from(registry.port_of(slot)).ok(),
        }
    }
}

fn every_slot(registry: &Registry) -> impl Iterator<Item = Slot> + '_ {
    registry.services.iter().enumerate().flat_map(move |(service, entry)| {
        (0..registry.environments.len()).flat_map(move |environment| {
            (0..entry.ports.len()).flat_map(move |key| {
                entry.instances().map(move |instance| Slot { service, environment, instance, key })
            })
        })
    })
}

fn reserved(registry: &Registry, port: u16) -> Option<(super::model::PortRange, &str)> {
    registry.reserved.iter().find_map(|reservation| {
        let range = reservation.ports.iter().find(|range| range.contains(u32::from(port)))?;
        Some((*range, reservation.reason.as_str()))
    })
}

/// Docker's link variables: `REDIS_PORT=tcp://10.0.0.5:6379`.
fn is_link(value: &str) -> bool {
    let value = value.trim();
    ["tcp://", "udp://", "sctp://"].iter().any(|scheme| value.starts_with(scheme))
}

fn parse_port(value: &str) -> Result<u16, String> {
    let number: u64 = value.trim().parse().map_err(|_| "not a whole number".to_string())?;
    u16::try_from(number)
        .ok()
        .filter(|port| *port >= 1)
        .ok_or_else(|| "ports are whole numbers from 1 to 65535".to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::registry::parse;

    const TWO: &str = "reserved:\n  - ports: \"22\"\n    reason: ssh\nrlnl:\n  port: 44200\n  max_instances: 2\nrlok:\n  port: 44300\n  max_instances: 2\n  range: 44300-44399\n";

    fn messages(text: &str, variables: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
        let registry = parse(text, Path::new("test.yaml")).expect("loads");
        let variables = variables.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
        let overrides = Overrides::read(&registry, &variables);
        let found = overrides.findings(&registry).iter().map(|finding| finding.message(&registry)).collect();
        let ignored =
            overrides.ignored().iter().map(|ignored| format!("{}: {}", ignored.variable, ignored.reason)).collect();
        (found, ignored)
    }

    #[test]
    fn an_override_onto_another_slot_is_a_collision_naming_the_variable() {
        let (found, _) = messages(TWO, &[("RLOK_PORT", "44200")]);
        assert_eq!(
            found,
            [
                "RLOK_PORT=44200 sets rlok[0].port: 44200 is outside rlok's range 44300-44399",
                "RLOK_PORT=44200 sets rlok[0].port: 44200 is also the port of rlnl[0].port"
            ]
        );
    }

    #[test]
    fn an_override_onto_a_reserved_port_is_refused() {
        let (found, _) = messages(TWO, &[("RLNL_PORT", "22")]);
        assert_eq!(found, ["RLNL_PORT=22 sets rlnl[0].port: 22 sits on reserved 22 (ssh)"]);
    }

    #[test]
    fn a_malformed_override_is_a_finding_for_its_slot_only() {
        let (found, _) = messages(TWO, &[("RLNL_1_PORT", "http")]);
        assert_eq!(found, ["RLNL_1_PORT=\"http\" sets rlnl[1].port: not a whole number"]);
    }

    #[test]
    fn docker_link_values_are_not_overrides() {
        let (found, ignored) = messages(TWO, &[("RLNL_PORT", "tcp://10.0.0.5:6379")]);
        assert_eq!(found, Vec::<String>::new());
        assert_eq!(ignored, ["RLNL_PORT: a Docker link address (tcp://host:port) is not a port"]);
    }

    #[test]
    fn empty_values_and_every_link_scheme_are_not_overrides() {
        let (found, ignored) = messages(TWO, &[("RLNL_PORT", ""), ("RLOK_PORT", "sctp://10.0.0.5:44300")]);
        assert_eq!(found, Vec::<String>::new());
        assert_eq!(ignored.len(), 2, "{ignored:?}");
    }

    #[test]
    fn a_registry_can_turn_overrides_off() {
        let text = format!("overrides: false\n{TWO}");
        let (found, ignored) = messages(&text, &[("RLOK_PORT", "44200")]);
        assert_eq!(found, Vec::<String>::new());
        assert_eq!(ignored, ["RLOK_PORT: the registry sets `overrides: false`"]);
    }

    #[test]
    fn an_override_applies_in_every_environment_and_is_checked_in_each() {
        let text = "environments:\n  development: 0\n  staging: 1000\nrl:\n  port: 44200\n  max_instances: 1\nother:\n  port: 44000\n  max_instances: 1\n";
        let (found, _) = messages(text, &[("RL_PORT", "45500")]);
        assert_eq!(found, Vec::<String>::new(), "its own copy in staging is not a collision");
        let (found, _) = messages(text, &[("RL_PORT", "45500"), ("OTHER_PORT", "44000")]);
        assert_eq!(found, Vec::<String>::new());
        let (found, _) = messages(text, &[("RL_PORT", "45500"), ("OTHER_PORT", "45500")]);
        assert_eq!(found.len(), 4, "both variables, in both environments: {found:?}");
        assert_eq!(
            found[0],
            "RL_PORT=45500 sets rl[0].port@development: 45500 is also the port of other[0].port@development"
        );
    }

    #[test]
    fn a_harmless_override_has_no_findings() {
        let (found, _) = messages(TWO, &[("RLNL_1_PORT", "44250")]);
        assert_eq!(found, Vec::<String>::new());
    }
}
