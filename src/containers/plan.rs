//! From the words a user or workflow gives (`kafka:0-2 observability:1`) to the instance
//! specs to act on, each instance once: named stacks stand for their services, and a start
//! brings the instances its services `depends_on`, ordered so that every dependency comes
//! before what depends on it. [`levels`] groups that order into steps that may run at once.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::Selection;
use super::spec::{self, InstanceSpec, Neighbours, SpecError};
use crate::registry::{LookupError, PortManager, ResolvedPort};

/// Why selections could not be turned into specs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A service, instance or environment does not exist.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// A service cannot run as a container.
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// Whether a plan brings the dependencies of what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependencies {
    /// Starting: every instance named, and what they depend on, dependencies first.
    Include,
    /// Stopping: the instances named, and what the services of a named stack depend on (what
    /// starting the stack brought), so that a stack goes down as it came up.
    OfStacks,
    /// Looking: only the instances named.
    Leave,
}

/// The instances a plan acts on, and which of them it added because something named
/// depends on them.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Each instance once; with [`Dependencies::Include`], dependencies before dependents.
    pub specs: Vec<InstanceSpec>,
    /// `mongodb[1] (mongoexpress[1] depends on it)`, for each instance added that way.
    pub added: Vec<String>,
}

/// Ports the host settled for some slots in place of the ones the registry computes: the
/// fallbacks in force, by service, instance and port key.
pub type SettledPorts = BTreeMap<(String, u16, String), SettledPort>;

/// A slot's settled port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettledPort {
    /// The port published instead of the computed one.
    pub port: u16,
    /// Whether its lease was made for the start at hand.
    pub new_lease: bool,
}

/// `ports` (one instance's) with the settled ones put in, each saying what it stands in for;
/// a port set through its variable stays as set.
fn with_settled(mut ports: Vec<ResolvedPort>, settled: &SettledPorts) -> Vec<ResolvedPort> {
    for resolved in ports.iter_mut().filter(|resolved| resolved.overridden_by.is_none()) {
        if let Some(chosen) = settled.get(&(resolved.service.clone(), resolved.instance, resolved.key.clone())) {
            resolved.fallback_for = Some(resolved.port);
            resolved.port = chosen.port;
        }
    }
    ports
}

/// The specs of every instance in `selections`, in `environment` (the registry's default
/// when `None`), in the order given, each once; stacks expanded, dependencies left out.
pub fn plan(
    manager: &PortManager,
    environment: Option<&str>,
    selections: &[Selection],
) -> Result<Vec<InstanceSpec>, PlanError> {
    Ok(plan_with(manager, environment, selections, Dependencies::Leave)?.specs)
}

/// The plan of `selections`: stacks expanded and, as `dependencies` says, instances'
/// dependencies added ahead of them.
pub fn plan_with(
    manager: &PortManager,
    environment: Option<&str>,
    selections: &[Selection],
    dependencies: Dependencies,
) -> Result<Plan, PlanError> {
    plan_settled(manager, environment, selections, dependencies, &SettledPorts::new())
}

/// [`plan_with`], with the `settled` ports in place of the computed ones: in the bindings,
/// and in every template that names them, the instance's own and its neighbours'.
pub fn plan_settled(
    manager: &PortManager,
    environment: Option<&str>,
    selections: &[Selection],
    dependencies: Dependencies,
    settled: &SettledPorts,
) -> Result<Plan, PlanError> {
    let view = manager.environment(environment)?;
    let registry = manager.registry();
    let default_environment = view.environment().name == registry.default_environment().name;
    let instance_ports =
        |service: &str, instance: u32| view.instance_ports(service, instance).map(|ports| with_settled(ports, settled));
    let neighbour_ports = |service: &str, instance: u32| instance_ports(service, instance).ok();
    let mut named = Vec::new();
    for selection in selections {
        let (members, in_stack) = match registry.stack(&selection.service) {
            Some(stack) => (stack.services.clone(), true),
            None => (vec![selection.service.clone()], false),
        };
        let follow = match dependencies {
            Dependencies::Include => true,
            Dependencies::OfStacks => in_stack,
            Dependencies::Leave => false,
        };
        for instance in selection.instances() {
            named.extend(members.iter().map(|member| (member.clone(), instance, follow)));
        }
    }
    // A dependency that was named too is no addition worth reporting.
    let named_set: HashSet<(String, u32)> =
        named.iter().map(|(service, instance, _)| (service.clone(), *instance)).collect();
    let mut seen = HashSet::new();
    let mut plan = Plan { specs: Vec::new(), added: Vec::new() };
    for (service, instance, follow) in named {
        // Depth first with an explicit stack, so a long chain of dependencies cannot
        // overflow the call stack: an entry is pushed to the plan once its dependencies are.
        let mut pending: Vec<(String, u32, Option<String>, bool)> = vec![(service, instance, None, false)];
        while let Some((service, instance, wanted_by, expanded)) = pending.pop() {
            if expanded {
                let found = manager.service(&service)?;
                let ports = instance_ports(&service, instance)?;
                let own_ports = |other: &str| neighbour_ports(other, instance);
                let neighbours = Neighbours { registry, ports: &own_ports };
                let mut built = spec::build(found, &ports, default_environment, &neighbours)?;
                for binding in &mut built.ports {
                    let key = (built.service.clone(), built.instance, binding.key.clone());
                    if let (Some(fallback), Some(chosen)) = (binding.fallback.as_mut(), settled.get(&key)) {
                        fallback.new_lease = chosen.new_lease;
                    }
                }
                if let Some(wanted_by) = wanted_by.filter(|_| !named_set.contains(&(service.clone(), instance))) {
                    plan.added.push(format!("{}[{instance}] ({wanted_by} depends on it)", service));
                }
                plan.specs.push(built);
                continue;
            }
            if !seen.insert((service.clone(), instance)) {
                continue;
            }
            let found = manager.service(&service)?;
            pending.push((service.clone(), instance, wanted_by, true));
            if follow {
                let wanted = format!("{service}[{instance}]");
                for dependency in found.container.iter().flat_map(|section| section.depends_on.iter()).rev() {
                    pending.push((dependency.clone(), instance, Some(wanted.clone()), false));
                }
            }
        }
    }
    Ok(plan)
}

/// The specs in steps: each step holds the indices of specs whose dependencies (of the same
/// instance, among `specs`) are all in earlier steps. Starting runs the steps in order,
/// stopping in reverse; within a step, in any order or at once.
pub fn levels(specs: &[InstanceSpec]) -> Vec<Vec<usize>> {
    let position: HashMap<(&str, u16, &str), usize> = specs
        .iter()
        .enumerate()
        .map(|(index, spec)| ((spec.service.as_str(), spec.instance, spec.environment.as_str()), index))
        .collect();
    let mut level = vec![0usize; specs.len()];
    // Dependencies may come later in `specs` when the caller ordered them otherwise, so
    // relax until nothing changes; a cycle (refused by `check`) stops at `specs.len()` rounds.
    for _ in 0..specs.len() {
        let mut changed = false;
        for (index, spec) in specs.iter().enumerate() {
            for dependency in &spec.depends_on {
                if let Some(&other) = position.get(&(dependency.as_str(), spec.instance, spec.environment.as_str()))
                    && level[index] <= level[other]
                {
                    level[index] = level[other] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let steps = level.iter().max().map_or(0, |deepest| deepest + 1);
    let mut grouped = vec![Vec::new(); steps];
    for (index, step) in level.into_iter().enumerate() {
        grouped[step].push(index);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::registry::parse;

    fn manager() -> PortManager {
        let registry = parse(
            "environments:\n  dev: 0\n  qa: 1000\nweb:\n  port: 5000\n  max_instances: 3\n  container:\n    image: web\nbare:\n  port: 7700\n",
            Path::new("test.yaml"),
        )
        .expect("loads");
        PortManager::new(registry, PathBuf::from("test.yaml"), HashMap::new()).expect("valid")
    }

    fn selections(words: &[&str]) -> Vec<Selection> {
        words.iter().map(|word| word.parse().expect("selection")).collect()
    }

    #[test]
    fn selections_become_specs_once_each_in_order() {
        let names: Vec<String> = plan(&manager(), None, &selections(&["web:1-2", "web:0-1"]))
            .expect("plan")
            .into_iter()
            .map(|spec| spec.container_name)
            .collect();
        assert_eq!(names, ["web-dev-1", "web-dev-2", "web-dev"]);
        let qa = plan(&manager(), Some("qa"), &selections(&["web:1"])).expect("plan");
        assert_eq!((qa[0].container_name.as_str(), qa[0].ports[0].host_port), ("web-qa-1", 6100));
    }

    #[test]
    fn unknown_services_instances_and_bare_services_are_refused() {
        let manager = manager();
        assert!(matches!(plan(&manager, None, &selections(&["wbe"])), Err(PlanError::Lookup(_))));
        assert!(matches!(plan(&manager, None, &selections(&["web:3"])), Err(PlanError::Lookup(_))));
        assert!(matches!(plan(&manager, None, &selections(&["bare"])), Err(PlanError::Spec(_))));
    }

    fn shipped() -> PortManager {
        let text = include_str!("../../dynamicconfig/port_registry.yaml");
        let registry = parse(text, Path::new("port_registry.yaml")).expect("the shipped registry loads");
        PortManager::new(registry, PathBuf::from("port_registry.yaml"), HashMap::new()).expect("valid")
    }

    #[test]
    fn the_shipped_catalog_wires_each_instance_to_its_own_neighbours() {
        let manager = shipped();
        let mongo = plan_with(&manager, None, &selections(&["mongoexpress:1"]), Dependencies::Include).expect("plan");
        let names: Vec<&str> = mongo.specs.iter().map(|spec| spec.container_name.as_str()).collect();
        assert_eq!(names, ["mongodb-development-1", "mongoexpress-development-1"]);
        assert_eq!(mongo.added, ["mongodb[1] (mongoexpress[1] depends on it)"]);
        let stack = plan_with(&manager, None, &selections(&["mongo:1"]), Dependencies::Include).expect("plan");
        assert!(stack.added.is_empty(), "mongodb is in the stack: {:?}", stack.added);
        assert_eq!(mongo.specs[1].env["ME_CONFIG_MONGODB_URL"], "mongodb://mongodb:27017");
        assert!(mongo.specs.iter().all(|spec| spec.network == "berth-development-1"));

        let observability =
            plan_with(&manager, None, &selections(&["observability:2"]), Dependencies::Include).expect("plan");
        let file = |service: &str, path: &str| -> String {
            let spec = observability.specs.iter().find(|spec| spec.service == service).expect("in the stack");
            spec.files[path].clone()
        };
        let datasources = file("grafana", "/etc/grafana/provisioning/datasources/berth.yaml");
        assert!(datasources.contains("url: http://prometheus:9090") && datasources.contains("url: http://loki:3100"));
        assert!(file("promtail", "/etc/promtail/config.yml").contains("url: http://loki:3100/loki/api/v1/push"));
        assert!(file("prometheus", "/etc/prometheus/prometheus.yml").contains("targets: ['alertmanager:9093']"));
        let order: Vec<String> = levels(&observability.specs)
            .iter()
            .map(|level| {
                level.iter().map(|index| observability.specs[*index].service.as_str()).collect::<Vec<_>>().join(",")
            })
            .collect();
        assert_eq!(order, ["alertmanager,grafana,loki", "prometheus,promtail"], "dependencies in the first step");

        let temporal = plan(&manager, None, &selections(&["temporal"])).expect("plan");
        let published: Vec<u16> = temporal[0].ports.iter().map(|binding| binding.host_port).collect();
        assert_eq!(published, [7233, 8080], "only what the development server listens on");
    }

    #[test]
    fn levels_put_each_instance_after_its_dependencies() {
        let manager = shipped();
        let starting = plan_with(&manager, None, &selections(&["mongoexpress:0-1", "redis"]), Dependencies::Include)
            .expect("plan");
        let steps: Vec<Vec<String>> = levels(&starting.specs)
            .into_iter()
            .map(|level| level.into_iter().map(|index| starting.specs[index].container_name.clone()).collect())
            .collect();
        assert_eq!(
            steps,
            [
                vec![
                    "mongodb-development".to_string(),
                    "mongodb-development-1".to_string(),
                    "redis-development".to_string()
                ],
                vec!["mongoexpress-development".to_string(), "mongoexpress-development-1".to_string()],
            ]
        );
        let stopping = plan(&manager, None, &selections(&["mongo:1"])).expect("plan");
        let names: Vec<&str> = stopping.iter().map(|spec| spec.container_name.as_str()).collect();
        assert_eq!(names, ["mongodb-development-1", "mongoexpress-development-1"], "a stack names its services");
    }
}
