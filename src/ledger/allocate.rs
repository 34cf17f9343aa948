//! Choosing ports: pure functions over a set of ports that are off limits and a test for
//! whether a port is free on the host right now.
//!
//! The ledger calls these inside its write transaction, so what they choose is what gets
//! recorded; they never touch the database themselves.

use crate::registry::{PortRange, Registry};

/// A set of ports as a 65,536-bit bitmap: constant-time membership for allocation loops.
#[derive(Clone)]
pub struct PortSet {
    words: Box<[u64; 1024]>,
}

impl Default for PortSet {
    fn default() -> Self {
        Self { words: Box::new([0; 1024]) }
    }
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "PortSet({} ports)", self.len())
    }
}

impl PortSet {
    /// Adds one port.
    pub fn insert(&mut self, port: u16) {
        self.words[usize::from(port / 64)] |= 1 << (port % 64);
    }

    /// Adds every port of a range.
    pub fn insert_range(&mut self, range: PortRange) {
        for port in range.start..=range.end {
            self.insert(port);
        }
    }

    /// Adds every port of `other`.
    pub fn union_with(&mut self, other: &PortSet) {
        for (word, other) in self.words.iter_mut().zip(other.words.iter()) {
            *word |= other;
        }
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.words[usize::from(port / 64)] & (1 << (port % 64)) != 0
    }

    /// How many ports the set holds.
    pub fn len(&self) -> usize {
        self.words.iter().map(|word| word.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|word| *word == 0)
    }
}

/// The ranges leases come from, by name: `default` (the registry's `dynamic_range`, else
/// [`DEFAULT_DYNAMIC_RANGE`](super::DEFAULT_DYNAMIC_RANGE)) and each named kind's.
pub fn lease_ranges(registry: &Registry) -> Vec<(String, PortRange)> {
    let default = registry.dynamic_range.unwrap_or(super::DEFAULT_DYNAMIC_RANGE);
    std::iter::once(("default".to_string(), default))
        .chain(registry.dynamic_ranges.iter().map(|named| (named.name.clone(), named.range)))
        .collect()
}

/// How many ports of `range` a lease may take at all (those not in `excluded`), and how
/// many of those no lease holds (not in `leased`).
pub fn room(range: PortRange, excluded: &PortSet, leased: &PortSet) -> (usize, usize) {
    let usable = (range.start..=range.end).filter(|port| !excluded.contains(*port));
    usable.fold((0, 0), |(capacity, free), port| (capacity + 1, free + usize::from(!leased.contains(port))))
}

/// The ports a registry claims for itself: every slot of every environment, and every
/// reserved port. Dynamic leases must stay off them.
pub fn registry_exclusions(registry: &Registry) -> PortSet {
    let mut set = PortSet::default();
    for reservation in &registry.reserved {
        for range in &reservation.ports {
            set.insert_range(*range);
        }
    }
    for service in &registry.services {
        for environment in &registry.environments {
            for key in &service.ports {
                for instance in service.instances() {
                    if let Ok(port) = u16::try_from(service.port_of(key, environment.offset, instance)) {
                        set.insert(port);
                    }
                }
            }
        }
    }
    set
}

/// Not enough free ports: how many there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    /// Free ports found where the search looked.
    pub free: u32,
}

/// The first `count` ports from `start` to `range.end` that are neither `taken` nor busy on
/// the host; on a shortfall, how many free ports there are in that stretch.
pub fn first_free(
    range: PortRange,
    start: u16,
    count: u32,
    taken: &PortSet,
    is_free: impl Fn(u16) -> bool,
) -> Result<Vec<u16>, Shortfall> {
    let candidates = || (start.max(range.start)..=range.end).filter(|port| !taken.contains(*port) && is_free(*port));
    let chosen: Vec<u16> = candidates().take(count as usize).collect();
    if chosen.len() as u64 == u64::from(count) {
        return Ok(chosen);
    }
    Err(Shortfall { free: u32::try_from(candidates().count()).unwrap_or(u32::MAX) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_counts_the_usable_ports_of_a_range_and_the_unleased_ones() {
        let range = PortRange::new(5000, 5009).expect("range");
        let mut excluded = PortSet::default();
        excluded.insert(5000);
        excluded.insert(6000);
        let mut leased = PortSet::default();
        for port in [5001, 5002, 7000] {
            leased.insert(port);
        }
        assert_eq!(room(range, &excluded, &leased), (9, 7));
    }
    use crate::registry::parse;

    fn range(start: u16, end: u16) -> PortRange {
        PortRange::new(start, end).expect("forwards")
    }

    #[test]
    fn port_sets_hold_the_whole_port_space() {
        let mut set = PortSet::default();
        for port in [0, 1, 63, 64, 65535] {
            set.insert(port);
        }
        set.insert_range(range(100, 199));
        assert!(set.contains(0) && set.contains(65535) && set.contains(150));
        assert!(!set.contains(2) && !set.contains(200));
        assert_eq!(set.len(), 105);
    }

    #[test]
    fn first_fit_skips_taken_and_busy_ports() {
        let mut taken = PortSet::default();
        taken.insert(4000);
        taken.insert(4002);
        let busy = |port: u16| port != 4001;
        assert_eq!(first_free(range(4000, 4010), 4000, 3, &taken, busy), Ok(vec![4003, 4004, 4005]));
        assert_eq!(first_free(range(4000, 4010), 4006, 2, &taken, busy), Ok(vec![4006, 4007]));
        assert_eq!(first_free(range(4000, 4010), 3000, 1, &taken, |_| true), Ok(vec![4001]));
    }

    #[test]
    fn a_shortfall_counts_the_free_ports() {
        let mut taken = PortSet::default();
        taken.insert_range(range(5000, 5007));
        assert_eq!(first_free(range(5000, 5009), 5000, 3, &taken, |_| true), Err(Shortfall { free: 2 }));
        assert_eq!(first_free(range(5000, 5009), 5000, 1, &taken, |_| false), Err(Shortfall { free: 0 }));
    }

    #[test]
    fn registry_slots_and_reserved_ports_are_excluded() {
        let registry = parse(
            "reserved:\n  - ports: \"30000-30002\"\n    reason: test\nenvironments:\n  dev: 0\n  qa: 1000\nweb:\n  port: 4000\n  max_instances: 2\n",
            std::path::Path::new("test.yaml"),
        )
        .expect("loads");
        let set = registry_exclusions(&registry);
        let ports: Vec<u16> = (0..=65535).filter(|port| set.contains(*port)).collect();
        assert_eq!(ports, [4000, 4100, 5000, 5100, 30000, 30001, 30002]);
    }
}
