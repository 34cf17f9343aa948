//! The port registry as berth understands it, after loading and before validation.
//!
//! [`Registry`] is plain data: services with their port keys, the environments that shift
//! every port by an offset, and the reserved ports nothing may take. Defaults are already
//! applied, so every [`Service`] carries its own increment and instance limit. Port
//! arithmetic lives here too, done in `u32` so that no combination of values can overflow.

use std::fmt;

use super::container::ContainerSection;

/// Increment between two instances of a service when neither the service nor `defaults:` sets one.
pub const DEFAULT_INSTANCE_INCREMENT: u16 = 100;
/// Number of instances a service may run when neither the service nor `defaults:` sets one.
pub const DEFAULT_MAX_INSTANCES: u16 = 10;
/// The environment a registry has when it declares none.
pub const DEFAULT_ENVIRONMENT: &str = "development";

/// The whole registry: every service, environment and reservation of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// Services in the order the file lists them.
    pub services: Vec<Service>,
    /// Environments in file order; never empty (the default is `development` at offset 0).
    pub environments: Vec<Environment>,
    /// Ports that no slot may take, each with the reason it is reserved.
    pub reserved: Vec<Reservation>,
    /// Where the ledger hands out dynamic ports when a request names no range.
    pub dynamic_range: Option<PortRange>,
    /// Named ranges for kinds of projects (`ml: 30500-30599`), in file order.
    pub dynamic_ranges: Vec<NamedRange>,
    /// Whether variables such as `KAFKA_1_BROKER_PORT` may override computed ports.
    pub overrides: bool,
    /// Named sets of services started together per instance, in file order.
    pub stacks: Vec<Stack>,
    /// Whether slots on reserved ports and fallback ranges that overlap other ports are
    /// warnings rather than errors (a `ports:` file's `conflict_detection.warn_on_conflict`).
    pub warn_on_conflict: bool,
}

/// A range of dynamic ports kept for one kind of project (`berth alloc --kind ml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRange {
    /// The kind's name.
    pub name: String,
    /// Its ports.
    pub range: PortRange,
}

/// A named set of services that run together, one copy per instance (`observability`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// The stack's name.
    pub name: String,
    /// Its services, as listed.
    pub services: Vec<String>,
}

/// One service (`kafka`), with one or more port keys and its instance layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service's name as written in the registry (`kafka`).
    pub name: String,
    /// Free text shown in port tables.
    pub description: Option<String>,
    /// Port keys in file order (`broker_port`, `controller_port`); a single `port:` is key `port`.
    pub ports: Vec<PortKey>,
    /// Distance between the ports of instance N and instance N+1.
    pub instance_increment: u16,
    /// Instances 0 to `max_instances - 1` exist.
    pub max_instances: u16,
    /// When set, every port of every instance must stay inside it.
    pub range: Option<PortRange>,
    /// How an instance runs as a container, when it can.
    pub container: Option<ContainerSection>,
    /// Whether the service may be absent: a slot of it held by something else is not a
    /// finding of `scan`.
    pub optional: bool,
}

/// A named port of a service and its port for instance 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortKey {
    /// The key as written (`broker_port`, or `port` for single-port services).
    pub name: String,
    /// The port of instance 0 in an environment with offset 0.
    pub base: u16,
    /// The variable named with `env_var:` for instance 0 (instance N adds `_N`), instead of
    /// the `SERVICE_KEY` name berth makes up.
    pub variable: Option<String>,
    /// Whether override variables are ignored for this key (`immutable: true`, or
    /// `env_var: null` in a `ports:` file).
    pub fixed: bool,
    /// What a lookup does when another process holds the computed port.
    pub on_conflict: OnConflict,
}

/// What a lookup of a port key does when a process berth did not start holds its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// Answer the computed port anyway; `scan` and the start of an instance report the holder.
    #[default]
    Ignore,
    /// Refuse, naming the holder (a `ports:` file's `conflict_check: true` on a single port).
    Refuse,
    /// Take the first free port of this range, leased in the ledger so that the choice is
    /// unique on the host and stable while the lease lives. The computed port may lie inside.
    Fallback(PortRange),
}

impl PortKey {
    /// A key at `base` that honours overrides and ignores conflicts: the common case.
    pub fn plain(name: impl Into<String>, base: u16) -> Self {
        Self { name: name.into(), base, variable: None, fixed: false, on_conflict: OnConflict::Ignore }
    }

    /// The key's fallback range, if it has one.
    pub fn fallback(&self) -> Option<PortRange> {
        match self.on_conflict {
            OnConflict::Fallback(range) => Some(range),
            OnConflict::Ignore | OnConflict::Refuse => None,
        }
    }
}

/// An inclusive range of ports, such as `30000-32767`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    /// First port of the range.
    pub start: u16,
    /// Last port of the range, included.
    pub end: u16,
}

/// A deployment environment that shifts every port by the same offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// The environment's name (`development`, `staging`).
    pub name: String,
    /// Added to every port of every service in this environment.
    pub offset: u16,
}

/// Ports set aside for something berth does not manage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The reserved ports and ranges.
    pub ports: Vec<PortRange>,
    /// Why they are reserved (`ssh`, `Kubernetes NodePorts`).
    pub reason: String,
}

/// One port of one instance of one service in one environment: the unit of allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    /// Index into [`Registry::services`].
    pub service: usize,
    /// Index into [`Registry::environments`].
    pub environment: usize,
    /// The instance id, `0..max_instances`.
    pub instance: u16,
    /// Index into the service's [`Service::ports`].
    pub key: usize,
}

impl PortRange {
    /// A range from `start` to `end`, both included; `None` when written backwards.
    pub fn new(start: u16, end: u16) -> Option<Self> {
        (start <= end).then_some(Self { start, end })
    }

    /// Whether `port` lies inside the range.
    pub fn contains(&self, port: u32) -> bool {
        u32::from(self.start) <= port && port <= u32::from(self.end)
    }

    /// How many ports the range holds.
    pub fn len(&self) -> u32 {
        u32::from(self.end) - u32::from(self.start) + 1
    }

    /// Always false: a range holds at least its start.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end { write!(f, "{}", self.start) } else { write!(f, "{}-{}", self.start, self.end) }
    }
}

impl Service {
    /// The port key called `name`, if the service has one.
    pub fn port_key(&self, name: &str) -> Option<&PortKey> {
        self.ports.iter().find(|key| key.name == name)
    }

    /// `base + offset + instance × increment`, in `u32` so it cannot overflow; the caller
    /// decides what a value beyond 65535 means.
    pub fn port_of(&self, key: &PortKey, offset: u16, instance: u16) -> u32 {
        u32::from(key.base) + u32::from(offset) + u32::from(instance) * u32::from(self.instance_increment)
    }

    /// Every instance id this service allows.
    pub fn instances(&self) -> std::ops::Range<u16> {
        0..self.max_instances
    }
}

impl Registry {
    /// The service called `name`, if the registry has one.
    pub fn stack(&self, name: &str) -> Option<&Stack> {
        self.stacks.iter().find(|stack| stack.name == name)
    }

    /// The service called `name`, if there is one.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|service| service.name == name)
    }

    /// The environment called `name`, if the registry has one.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|environment| environment.name == name)
    }

    /// The environment used when none is named: the first one the file lists.
    pub fn default_environment(&self) -> &Environment {
        &self.environments[0]
    }

    /// How many slots the registry defines across all environments.
    pub fn slot_count(&self) -> usize {
        let per_environment = self.services.iter().fold(0usize, |total, service| {
            total.saturating_add(service.ports.len().saturating_mul(usize::from(service.max_instances)))
        });
        per_environment.saturating_mul(self.environments.len())
    }

    /// The service a slot belongs to. Slots index into this registry; one made for another
    /// registry may panic.
    pub fn service_of(&self, slot: Slot) -> &Service {
        &self.services[slot.service]
    }

    /// The port key a slot belongs to.
    pub fn key_of(&self, slot: Slot) -> &PortKey {
        &self.service_of(slot).ports[slot.key]
    }

    /// The environment a slot belongs to.
    pub fn environment_of(&self, slot: Slot) -> &Environment {
        &self.environments[slot.environment]
    }

    /// The port a slot computes to, before any range check.
    pub fn port_of(&self, slot: Slot) -> u32 {
        self.service_of(slot).port_of(self.key_of(slot), self.environment_of(slot).offset, slot.instance)
    }

    /// A slot written for people: `kafka[1].broker_port`, with `@staging` when the registry
    /// has more than one environment.
    pub fn describe(&self, slot: Slot) -> String {
        let mut text = format!("{}[{}].{}", self.service_of(slot).name, slot.instance, self.key_of(slot).name);
        if self.environments.len() > 1 {
            text.push('@');
            text.push_str(&self.environment_of(slot).name);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka() -> Service {
        Service {
            name: "kafka".into(),
            description: None,
            ports: vec![PortKey::plain("broker_port", 9092), PortKey::plain("controller_port", 19093)],
            instance_increment: 100,
            max_instances: 10,
            range: None,
            container: None,
            optional: false,
        }
    }

    #[test]
    fn port_follows_the_seed_formula() {
        let service = kafka();
        let broker = &service.ports[0];
        assert_eq!(service.port_of(broker, 0, 0), 9092);
        assert_eq!(service.port_of(broker, 0, 1), 9192);
        assert_eq!(service.port_of(broker, 0, 2), 9292);
        assert_eq!(service.port_of(broker, 1000, 2), 10292);
    }

    #[test]
    fn port_arithmetic_cannot_overflow() {
        let mut service = kafka();
        service.instance_increment = u16::MAX;
        let key = PortKey::plain("port", u16::MAX);
        assert_eq!(service.port_of(&key, u16::MAX, u16::MAX), 65535 + 65535 + 65535 * 65535);
    }

    #[test]
    fn ranges_refuse_to_run_backwards() {
        assert_eq!(PortRange::new(10, 9), None);
        let range = PortRange::new(30000, 32767).expect("forwards");
        assert_eq!(range.len(), 2768);
        assert!(range.contains(30000) && range.contains(32767));
        assert!(!range.contains(29999) && !range.contains(32768));
        assert_eq!(range.to_string(), "30000-32767");
        assert_eq!(PortRange::new(22, 22).expect("single").to_string(), "22");
    }

    #[test]
    fn slots_are_described_with_environment_only_when_there_are_several() {
        let mut registry = Registry {
            services: vec![kafka()],
            environments: vec![Environment { name: "development".into(), offset: 0 }],
            reserved: vec![],
            dynamic_range: None,
            dynamic_ranges: vec![],
            overrides: true,
            stacks: vec![],
            warn_on_conflict: false,
        };
        let slot = Slot { environment: 0, service: 0, instance: 1, key: 0 };
        assert_eq!(registry.describe(slot), "kafka[1].broker_port");
        assert_eq!(registry.slot_count(), 20);
        registry.environments.push(Environment { name: "staging".into(), offset: 1000 });
        let staging = Slot { environment: 1, ..slot };
        assert_eq!(registry.describe(staging), "kafka[1].broker_port@staging");
        assert_eq!(registry.port_of(staging), 10192);
        assert_eq!(registry.slot_count(), 40);
    }
}
