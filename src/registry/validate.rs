//! Proof that a registry can never collide: every slot of every instance of every service
//! in every environment is computed and checked, in O(n log n) for n slots.
//!
//! The check is pure: it takes a [`Registry`] and returns a [`Report`] listing every
//! problem at once (it never stops at the first). A [`Finding`] holds only indices and
//! numbers; its sentence is written on demand by [`Finding::message`], so a registry with
//! a hundred thousand collisions is still checked in milliseconds.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use super::model::{PortRange, Registry, Slot};
use super::names::{container_name, volume_name};
use super::schema::TOP_LEVEL_WORDS;
use super::stacks::{dependency_cycles, stack_problems};
use super::suggest::did_you_mean;
use super::variables::slot_variable;

/// Ports below this need privileges to bind.
const FIRST_UNPRIVILEGED_PORT: u32 = 1024;

/// What kind of problem a finding is; the kebab-case name is stable for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingCode {
    /// Two slots compute to the same port.
    PortCollision,
    /// A slot computes to a port beyond 65535.
    PortOutOfRange,
    /// A slot leaves the `range:` its service declares.
    OutsideServiceRange,
    /// A slot sits on a port listed under `reserved:`.
    ReservedPort,
    /// A service declares no port keys.
    NoPorts,
    /// A service's `container:` section names keys it lacks or has a broken template.
    ContainerConfig,
    /// Two slots export under the same environment variable name.
    VariableCollision,
    /// Two instances would get the same container or volume name.
    NameCollision,
    /// An override variable is not a port, or puts its slot where it cannot be.
    BadOverride,
    /// A `stacks:` entry that cannot work.
    StackConfig,
    /// Services whose `depends_on` form a loop.
    DependencyCycle,
    /// A named dynamic range overlaps another or holds registry slots.
    DynamicRange,
    /// A port key's fallback range holds another slot, a reserved port or another fallback range.
    FallbackRange,
    /// A slot is below 1024 and needs privileges to bind.
    PrivilegedPort,
    /// A slot lies in the kernel's ephemeral range, where outgoing connections take ports.
    EphemeralPort,
}

/// How much a finding matters: errors fail `berth check`, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The registry must not be used as it is.
    Error,
    /// Worth knowing; the registry still works.
    Warning,
}

/// One problem found in a registry, by the indices of what it involves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// `other` computes to the same port as `first`, which took it earlier in file order.
    Collision {
        /// The slot that holds the port first.
        first: Slot,
        /// The slot that collides with it.
        other: Slot,
        /// The shared port.
        port: u16,
    },
    /// `slot` computes beyond 65535; later instances of the same key are not reported again.
    OutOfRange {
        /// The first slot of its key that overflows.
        slot: Slot,
        /// What it computes to.
        port: u32,
    },
    /// `slot` leaves its service's declared range.
    OutsideServiceRange {
        /// The slot.
        slot: Slot,
        /// Its port.
        port: u16,
        /// The service's range.
        range: PortRange,
    },
    /// `slot` sits on a reserved port.
    Reserved {
        /// The slot.
        slot: Slot,
        /// Its port.
        port: u16,
        /// The reserved range it hits.
        range: PortRange,
        /// Index into [`Registry::reserved`].
        reservation: usize,
        /// A warning, not an error: the registry sets `warn_on_conflict`.
        advisory: bool,
    },
    /// The service at this index has no port keys.
    NoPorts {
        /// Index into [`Registry::services`].
        service: usize,
    },
    /// The service at this index has a `container:` section that cannot work.
    Container {
        /// Index into [`Registry::services`].
        service: usize,
        /// What is wrong.
        problem: String,
    },
    /// Instances `first` to `last` of one key are below 1024.
    Privileged {
        /// The lowest such instance's slot.
        first: Slot,
        /// The highest such instance's slot.
        last: Slot,
    },
    /// `other` exports under the variable `first` already uses.
    VariableCollision {
        /// The slot that has the name first.
        first: Slot,
        /// The slot that repeats it.
        other: Slot,
        /// The shared variable name.
        variable: String,
    },
    /// Two instances would get the same container or volume name.
    NameCollision {
        /// `container` or `volume`.
        what: &'static str,
        /// The shared name.
        name: String,
        /// The instance that has it first, written `kafka[1]@staging`.
        first: String,
        /// The instance that repeats it.
        other: String,
    },
    /// An override variable is not a port, or puts its slot where it cannot be.
    Override {
        /// The slot it overrides.
        slot: Slot,
        /// The variable.
        variable: String,
        /// Its value.
        value: String,
        /// What is wrong.
        problem: String,
    },
    /// A `stacks:` entry that cannot work.
    Stack {
        /// What is wrong, naming the stack.
        problem: String,
    },
    /// A port key's fallback range reaches onto ports that are not its own.
    Fallback {
        /// Instance 0 of the key, in the first environment.
        slot: Slot,
        /// What it overlaps.
        problem: String,
        /// A warning, not an error: the registry sets `warn_on_conflict`.
        advisory: bool,
    },
    /// A `dynamic_ranges:` entry that overlaps another or holds registry slots.
    DynamicRange {
        /// What is wrong, naming the range.
        problem: String,
    },
    /// Services whose `depends_on` loop back to the first.
    Cycle {
        /// The loop, first service repeated at the end.
        services: Vec<String>,
    },
    /// Instances `first` to `last` of one key lie inside the kernel's ephemeral range.
    Ephemeral {
        /// The lowest such instance's slot.
        first: Slot,
        /// The highest such instance's slot.
        last: Slot,
        /// The kernel's ephemeral range.
        range: PortRange,
    },
}

/// Everything `validate` found, plus the counts for the summary line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Findings, errors before warnings.
    pub findings: Vec<Finding>,
    /// How many services the registry has.
    pub services: usize,
    /// How many slots were checked.
    pub slots: usize,
}

impl FindingCode {
    /// Whether this kind of finding is an error or a warning.
    pub fn severity(self) -> Severity {
        match self {
            Self::PrivilegedPort | Self::EphemeralPort => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::PortCollision => "port-collision",
            Self::PortOutOfRange => "port-out-of-range",
            Self::OutsideServiceRange => "outside-service-range",
            Self::ReservedPort => "reserved-port",
            Self::NoPorts => "no-ports",
            Self::ContainerConfig => "container-config",
            Self::VariableCollision => "variable-collision",
            Self::NameCollision => "name-collision",
            Self::BadOverride => "bad-override",
            Self::StackConfig => "stack-config",
            Self::DependencyCycle => "dependency-cycle",
            Self::DynamicRange => "dynamic-range",
            Self::FallbackRange => "fallback-range",
            Self::PrivilegedPort => "privileged-port",
            Self::EphemeralPort => "ephemeral-port",
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

impl Finding {
    /// The stable kind of this finding.
    pub fn code(&self) -> FindingCode {
        match self {
            Self::Collision { .. } => FindingCode::PortCollision,
            Self::OutOfRange { .. } => FindingCode::PortOutOfRange,
            Self::OutsideServiceRange { .. } => FindingCode::OutsideServiceRange,
            Self::Reserved { .. } => FindingCode::ReservedPort,
            Self::NoPorts { .. } => FindingCode::NoPorts,
            Self::Container { .. } => FindingCode::ContainerConfig,
            Self::Privileged { .. } => FindingCode::PrivilegedPort,
            Self::VariableCollision { .. } => FindingCode::VariableCollision,
            Self::NameCollision { .. } => FindingCode::NameCollision,
            Self::Override { .. } => FindingCode::BadOverride,
            Self::Stack { .. } => FindingCode::StackConfig,
            Self::Cycle { .. } => FindingCode::DependencyCycle,
            Self::DynamicRange { .. } => FindingCode::DynamicRange,
            Self::Fallback { .. } => FindingCode::FallbackRange,
            Self::Ephemeral { .. } => FindingCode::EphemeralPort,
        }
    }

    /// Whether this finding fails `berth check`: its kind's severity, unless the registry
    /// accepts the hazard as a warning (`warn_on_conflict`).
    pub fn severity(&self) -> Severity {
        match self {
            Self::Reserved { advisory: true, .. } | Self::Fallback { advisory: true, .. } => Severity::Warning,
            _ => self.code().severity(),
        }
    }

    /// The slots involved, in the order the message names them.
    pub fn slots(&self) -> Vec<Slot> {
        match *self {
            Self::Collision { first, other, .. } | Self::VariableCollision { first, other, .. } => vec![first, other],
            Self::OutOfRange { slot, .. }
            | Self::OutsideServiceRange { slot, .. }
            | Self::Reserved { slot, .. }
            | Self::Fallback { slot, .. }
            | Self::Override { slot, .. } => vec![slot],
            Self::NoPorts { .. }
            | Self::Container { .. }
            | Self::NameCollision { .. }
            | Self::Stack { .. }
            | Self::DynamicRange { .. }
            | Self::Cycle { .. } => Vec::new(),
            Self::Privileged { first, last } | Self::Ephemeral { first, last, .. } => {
                (first.instance..=last.instance).map(|instance| Slot { instance, ..first }).collect()
            }
        }
    }

    /// The sentence for people: both sides, the numbers, and what to do; on one line,
    /// whatever text from the registry it quotes.
    pub fn message(&self, registry: &Registry) -> String {
        super::names::escape_controls(&self.sentence(registry))
    }

    fn sentence(&self, registry: &Registry) -> String {
        let describe = |slot| registry.describe(slot);
        match *self {
            Self::Collision { first, other, port } => {
                format!("{} = {port} collides with {} = {port}", describe(first), describe(other))
            }
            Self::OutOfRange { slot, port } => {
                let service = registry.service_of(slot);
                let offset = registry.environment_of(slot).offset;
                let offset = if offset == 0 { String::new() } else { format!(" + offset {offset}") };
                format!(
                    "{} = {port} is beyond 65535 ({}{offset} + {} × {}): set max_instances to at most {} or lower the base or increment",
                    describe(slot),
                    registry.key_of(slot).base,
                    slot.instance,
                    service.instance_increment,
                    slot.instance,
                )
            }
            Self::OutsideServiceRange { slot, port, range } => format!(
                "{} = {port} is outside {}'s range {range}: widen the range or lower max_instances",
                describe(slot),
                registry.service_of(slot).name,
            ),
            Self::Reserved { slot, port, range, reservation, .. } => format!(
                "{} = {port} sits on reserved {} {range} ({})",
                describe(slot),
                if range.start == range.end { "port" } else { "range" },
                registry.reserved[reservation].reason,
            ),
            Self::NoPorts { service } => {
                let name = &registry.services[service].name;
                let hint = did_you_mean(name, TOP_LEVEL_WORDS)
                    .map(|word| format!(" (if `{name}` was meant as the top-level `{word}:`, correct its spelling)"))
                    .unwrap_or_default();
                format!("service `{name}` has no ports: add `port:` or keys ending in `_port`{hint}")
            }
            Self::Container { service, ref problem } => {
                format!("service `{}`: {problem}", registry.services[service].name)
            }
            Self::Privileged { first, last } => {
                format!("{} below 1024: binding needs root or CAP_NET_BIND_SERVICE", run_of(registry, first, last))
            }
            Self::VariableCollision { first, other, ref variable } => format!(
                "{} and {} both export as {variable}: rename one, or give one its own `env_var:`",
                describe(first),
                describe(other)
            ),
            Self::NameCollision { what, ref name, ref first, ref other } => {
                format!("{first} and {other} would both use {what} name `{name}`: rename a service or an environment")
            }
            Self::Override { slot, ref variable, ref value, ref problem } => {
                let value = if value.parse::<u64>().is_ok() { value.clone() } else { format!("{value:?}") };
                format!("{variable}={value} sets {}: {problem}", describe(slot))
            }
            Self::Stack { ref problem } | Self::DynamicRange { ref problem } => problem.clone(),
            Self::Fallback { slot, ref problem, .. } => format!("{}'s fallback {problem}", describe(slot)),
            Self::Cycle { ref services } => format!(
                "depends_on makes a cycle: {}; nothing in it could start first, so remove one of the dependencies",
                services.join(" → ")
            ),
            Self::Ephemeral { first, last, range } => {
                format!(
                    "{} inside the kernel's ephemeral range {range}, where outgoing connections take their local ports: reserve them with `berth check --kernel-reserved-ports`",
                    run_of(registry, first, last)
                )
            }
        }
    }
}

/// `kafka[0].port = 80 is`, or `kafka[0].port to kafka[2].port = 80 to 280 are`.
fn run_of(registry: &Registry, first: Slot, last: Slot) -> String {
    if first == last {
        return format!("{} = {} is", registry.describe(first), registry.port_of(first));
    }
    format!(
        "{} to {} = {} to {} are",
        registry.describe(first),
        registry.describe(last),
        registry.port_of(first),
        registry.port_of(last)
    )
}

impl Report {
    /// How many findings are errors.
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    /// How many findings are warnings.
    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|finding| finding.severity() == severity).count()
    }
}

/// Checks every slot of `registry`; see the module docs.
pub fn validate(registry: &Registry) -> Report {
    let mut findings = Vec::new();
    let mut warnings = Vec::new();
    let mut placed = Vec::with_capacity(registry.slot_count());
    for (service_index, service) in registry.services.iter().enumerate() {
        if service.ports.is_empty() {
            findings.push(Finding::NoPorts { service: service_index });
        }
        if let Some(container) = &service.container {
            findings.extend(
                container
                    .problems(service, registry)
                    .into_iter()
                    .map(|problem| Finding::Container { service: service_index, problem }),
            );
        }
        for (environment_index, environment) in registry.environments.iter().enumerate() {
            for (key_index, key) in service.ports.iter().enumerate() {
                let slot_at = |instance| Slot {
                    service: service_index,
                    environment: environment_index,
                    instance,
                    key: key_index,
                };
                let mut privileged: Option<(Slot, Slot)> = None;
                for instance in service.instances() {
                    let slot = slot_at(instance);
                    let computed = service.port_of(key, environment.offset, instance);
                    let Ok(port) = u16::try_from(computed) else {
                        findings.push(Finding::OutOfRange { slot, port: computed });
                        break;
                    };
                    if let Some(range) = service.range.filter(|range| !range.contains(computed)) {
                        findings.push(Finding::OutsideServiceRange { slot, port, range });
                        continue;
                    }
                    if computed < FIRST_UNPRIVILEGED_PORT {
                        privileged = Some((privileged.map_or(slot, |(first, _)| first), slot));
                    }
                    placed.push((port, slot));
                }
                if let Some((first, last)) = privileged {
                    warnings.push(Finding::Privileged { first, last });
                }
            }
        }
    }
    placed.sort_unstable();
    collisions(&placed, &mut findings);
    reserved_hits(registry, &placed, &mut findings);
    findings
        .extend(dynamic_range_problems(registry, &placed).into_iter().map(|problem| Finding::DynamicRange { problem }));
    fallback_problems(registry, &placed, &mut findings);
    variable_collisions(registry, &mut findings);
    name_collisions(registry, &mut findings);
    findings.extend(stack_problems(registry).into_iter().map(|problem| Finding::Stack { problem }));
    findings.extend(dependency_cycles(registry).into_iter().map(|services| Finding::Cycle { services }));
    findings.append(&mut warnings);
    Report { findings, services: registry.services.len(), slots: registry.slot_count() }
}

/// Named dynamic ranges must be apart from each other and from every registry slot, so a
/// kind of project never competes with another kind or with the registry for a port.
/// `placed` is sorted by port.
fn dynamic_range_problems(registry: &Registry, placed: &[(u16, Slot)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut ranges: Vec<&super::model::NamedRange> = registry.dynamic_ranges.iter().collect();
    ranges.sort_by_key(|named| (named.range.start, named.range.end));
    // One sweep: each range against the one reaching furthest among those before it.
    let mut furthest: Option<&super::model::NamedRange> = None;
    for named in ranges {
        if let Some(earlier) = furthest.filter(|earlier| named.range.start <= earlier.range.end) {
            problems.push(format!(
                "dynamic ranges `{}` ({}) and `{}` ({}) overlap: make them disjoint, so two kinds of projects never draw from the same ports",
                earlier.name, earlier.range, named.name, named.range
            ));
        }
        if furthest.is_none_or(|earlier| named.range.end > earlier.range.end) {
            furthest = Some(named);
        }
    }
    for named in &registry.dynamic_ranges {
        if let Some(default) = registry.dynamic_range.filter(|default| overlaps(*default, named.range)) {
            problems.push(format!(
                "dynamic range `{}` ({}) overlaps dynamic_range ({default}), where allocations without a kind draw from: make them disjoint",
                named.name, named.range
            ));
        }
        let reserved =
            registry.reserved.iter().flat_map(|entry| entry.ports.iter()).find(|range| overlaps(**range, named.range));
        if let Some(reserved) = reserved {
            problems.push(format!(
                "dynamic range `{}` ({}) overlaps the reserved ports {reserved}: berth never hands those out; move the range",
                named.name, named.range
            ));
        }
    }
    for named in &registry.dynamic_ranges {
        let first = placed.partition_point(|(port, _)| *port < named.range.start);
        let inside = placed[first..].iter().take_while(|(port, _)| *port <= named.range.end).count();
        if let Some(&(port, slot)) = placed.get(first).filter(|_| inside > 0) {
            problems.push(format!(
                "dynamic range `{}` ({}) holds {inside} registry slot(s), the first {} = {port}: move the range off the registry's ports",
                named.name,
                named.range,
                registry.describe(slot)
            ));
        }
    }
    problems
}

/// A fallback range must hold no other slot, reserved port or other key's fallback range,
/// so that falling back never moves onto a port the plan gives to someone else. `placed`
/// is sorted by port.
fn fallback_problems(registry: &Registry, placed: &[(u16, Slot)], findings: &mut Vec<Finding>) {
    let advisory = registry.warn_on_conflict;
    let mut ranges: Vec<(PortRange, Slot)> = Vec::new();
    for (service_index, service) in registry.services.iter().enumerate() {
        for (key_index, key) in service.ports.iter().enumerate() {
            if let Some(range) = key.fallback() {
                ranges.push((range, Slot { service: service_index, environment: 0, instance: 0, key: key_index }));
            }
        }
    }
    let mut finding = |slot, problem| findings.push(Finding::Fallback { slot, problem, advisory });
    for &(range, owner) in &ranges {
        let first = placed.partition_point(|(port, _)| *port < range.start);
        let inside = placed[first..].iter().take_while(|(port, _)| *port <= range.end);
        for &(port, slot) in inside.filter(|(_, slot)| (slot.service, slot.key) != (owner.service, owner.key)) {
            finding(
                owner,
                format!(
                    "range {range} holds {} = {port}: narrow the range so that a fallback never sits on another port",
                    registry.describe(slot)
                ),
            );
        }
        for reservation in &registry.reserved {
            for reserved in reservation.ports.iter().filter(|reserved| overlaps(**reserved, range)) {
                finding(
                    owner,
                    format!(
                        "range {range} overlaps reserved {reserved} ({}): move the range off it",
                        reservation.reason
                    ),
                );
            }
        }
    }
    ranges.sort_by_key(|(range, _)| (range.start, range.end));
    let mut furthest: Option<(PortRange, Slot)> = None;
    for &(range, owner) in &ranges {
        if let Some((earlier, other)) = furthest.filter(|(earlier, _)| range.start <= earlier.end) {
            finding(
                owner,
                format!(
                    "range {range} overlaps {}'s fallback range {earlier}: make them disjoint",
                    registry.describe(other)
                ),
            );
        }
        if furthest.is_none_or(|(earlier, _)| range.end > earlier.end) {
            furthest = Some((range, owner));
        }
    }
}

fn overlaps(left: PortRange, right: PortRange) -> bool {
    left.start <= right.end && right.start <= left.end
}

/// Adjacent equal ports in the sorted list collide; each later slot is reported against the
/// first one that took the port.
fn collisions(placed: &[(u16, Slot)], findings: &mut Vec<Finding>) {
    for group in placed.chunk_by(|left, right| left.0 == right.0) {
        let (port, first) = group[0];
        findings.extend(group[1..].iter().map(|&(_, other)| Finding::Collision { first, other, port }));
    }
}

/// Walks the sorted slots and the sorted reserved ranges together: O(slots + ranges).
fn reserved_hits(registry: &Registry, placed: &[(u16, Slot)], findings: &mut Vec<Finding>) {
    let mut ranges: Vec<(PortRange, usize)> = registry
        .reserved
        .iter()
        .enumerate()
        .flat_map(|(reservation, entry)| entry.ports.iter().map(move |range| (*range, reservation)))
        .collect();
    ranges.sort_unstable();
    let mut next = 0;
    for &(port, slot) in placed {
        while next < ranges.len() && ranges[next].0.end < port {
            next += 1;
        }
        let hit = ranges[next..]
            .iter()
            .take_while(|(range, _)| range.start <= port)
            .find(|(range, _)| range.contains(u32::from(port)));
        if let Some(&(range, reservation)) = hit {
            findings.push(Finding::Reserved { slot, port, range, reservation, advisory: registry.warn_on_conflict });
        }
    }
}

#[cfg(test)]
mod tests;

/// Variable names do not depend on the environment, so the first environment's slots
/// stand for all.
fn variable_collisions(registry: &Registry, findings: &mut Vec<Finding>) {
    let mut seen: HashMap<String, Slot> = HashMap::new();
    for (service_index, service) in registry.services.iter().enumerate() {
        for (key_index, key) in service.ports.iter().enumerate() {
            for instance in service.instances() {
                let slot = Slot { service: service_index, environment: 0, instance, key: key_index };
                let variable = slot_variable(service, key, instance);
                match seen.get(&variable) {
                    Some(&first) => findings.push(Finding::VariableCollision { first, other: slot, variable }),
                    None => {
                        seen.insert(variable, slot);
                    }
                }
            }
        }
    }
}

/// Container and volume names of every instance that runs as a container.
fn name_collisions(registry: &Registry, findings: &mut Vec<Finding>) {
    let mut containers: HashMap<String, String> = HashMap::new();
    let mut volumes: HashMap<String, String> = HashMap::new();
    let several = registry.environments.len() > 1;
    for service in registry.services.iter().filter(|service| service.container.is_some()) {
        let volume_keys = service.container.iter().flat_map(|section| section.volumes.keys());
        for (index, environment) in registry.environments.iter().enumerate() {
            let own_environment = (index > 0).then_some(environment.name.as_str());
            for instance in service.instances() {
                let owner = if several {
                    format!("{}[{instance}]@{}", service.name, environment.name)
                } else {
                    format!("{}[{instance}]", service.name)
                };
                let container = container_name(&service.name, &environment.name, instance);
                remember(&mut containers, "container", container, &owner, findings);
                for key in volume_keys.clone() {
                    let volume = volume_name(&service.name, key, own_environment, instance);
                    remember(&mut volumes, "volume", volume, &owner, findings);
                }
            }
        }
    }
}

fn remember(
    seen: &mut HashMap<String, String>,
    what: &'static str,
    name: String,
    owner: &str,
    findings: &mut Vec<Finding>,
) {
    match seen.get(&name) {
        Some(first) if first != owner => {
            findings.push(Finding::NameCollision { what, name, first: first.clone(), other: owner.to_string() })
        }
        Some(_) => {}
        None => {
            seen.insert(name, owner.to_string());
        }
    }
}

/// Warnings for the slots inside the kernel's ephemeral port range (read by the caller
/// from `/proc/sys/net/ipv4/ip_local_port_range`), one per key, instance run and environment.
pub fn ephemeral_findings(registry: &Registry, ephemeral: PortRange) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (service_index, service) in registry.services.iter().enumerate() {
        for environment in 0..registry.environments.len() {
            for key in 0..service.ports.len() {
                let mut run: Option<(Slot, Slot)> = None;
                for instance in service.instances() {
                    let slot = Slot { service: service_index, environment, instance, key };
                    if ephemeral.contains(registry.port_of(slot)) {
                        run = Some((run.map_or(slot, |(first, _)| first), slot));
                    } else if let Some((first, last)) = run.take() {
                        findings.push(Finding::Ephemeral { first, last, range: ephemeral });
                    }
                }
                if let Some((first, last)) = run {
                    findings.push(Finding::Ephemeral { first, last, range: ephemeral });
                }
            }
        }
    }
    findings
}

/// The longest `net.ipv4.ip_local_reserved_ports` value the kernel reads in one write.
const MAXIMUM_SETTING_LENGTH: usize = 4000;

/// The `net.ipv4.ip_local_reserved_ports` value that keeps the kernel from handing any
/// registry slot (in any environment) inside `ephemeral` (every slot when `None`) to an
/// outgoing connection. Exact, never widened: an error says why no setting fits.
pub fn kernel_reserved_ports(registry: &Registry, ephemeral: Option<PortRange>) -> Result<String, String> {
    let mut ports: Vec<u16> = Vec::with_capacity(registry.slot_count());
    for (service_index, service) in registry.services.iter().enumerate() {
        for environment in 0..registry.environments.len() {
            for key in 0..service.ports.len() {
                for instance in service.instances() {
                    let slot = Slot { service: service_index, environment, instance, key };
                    let port = registry.port_of(slot);
                    if let Ok(port) = u16::try_from(port)
                        && ephemeral.is_none_or(|range| range.contains(u32::from(port)))
                    {
                        ports.push(port);
                    }
                }
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    let mut ranges: Vec<PortRange> = Vec::new();
    for port in ports {
        match ranges.last_mut() {
            Some(last) if u32::from(last.end) + 1 == u32::from(port) => last.end = port,
            _ => ranges.push(PortRange { start: port, end: port }),
        }
    }
    if let Some(range) = ephemeral
        && ranges.first().is_some_and(|first| first.start == range.start && first.end == range.end)
    {
        return Err(format!(
            "the registry's slots fill the whole ephemeral range {range}: reserving them would leave no port for outgoing connections; move slots below it, or widen net.ipv4.ip_local_port_range"
        ));
    }
    let text = ranges.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    if text.len() > MAXIMUM_SETTING_LENGTH {
        return Err(format!(
            "the {} slot ranges inside the ephemeral range take {} characters, more than the kernel reads ({MAXIMUM_SETTING_LENGTH}): move slots below the range, or give services an instance_increment of 1 so their slots form runs",
            ranges.len(),
            text.len()
        ));
    }
    Ok(text)
}
