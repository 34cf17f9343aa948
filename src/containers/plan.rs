//! From the words a user or workflow gives (`kafka:0-2 observability:1`) to the instance
//! specs to act on, each instance once: named stacks stand for their services, and a start
//! brings the instances its services `depends_on`, ordered so that every dependency comes
//! before what depends on it. [`levels`] groups that order into steps that may run at once.

use std::collections::{HashMap, HashSet};

use super::Selection;
use super::spec::{self, InstanceSpec, Neighbours, SpecError};
use crate::registry::{LookupError, PortManager};

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
    /// Stopping or looking: only the instances named.
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

/// The specs of every instance in `selections`, in `environment` (the registry's default
/// when `None`), in the order given, each once; stacks expanded, dependencies left out.
pub fn plan(
    manager: &PortManager,
    environment: Option<&str>,
    selections: &[Selection],
) -> Result<Vec<InstanceSpec>, PlanError> {
    Ok(plan_with(manager, environment, selections, Dependencies::Leave)?.specs)
}

/// The plan of `selections`: stacks expanded and, with [`Dependencies::Include`], each
/// instance's dependencies added ahead of it.
pub fn plan_with(
    manager: &PortManager,
    environment: Option<&str>,
    selections: &[Selection],
    dependencies: Dependencies,
) -> Result<Plan, PlanError> {
    let view = manager.environment(environment)?;
    let registry = manager.registry();
    let default_environment = view.environment().name == registry.default_environment().name;
    let neighbour_ports = |service: &str, instance: u32| view.instance_ports(service, instance).ok();
    let mut named = Vec::new();
    for selection in selections {
        let members = match registry.stack(&selection.service) {
            Some(stack) => stack.services.clone(),
            None => vec![selection.service.clone()],
        };
        for instance in selection.instances() {
            named.extend(members.iter().map(|member| (member.clone(), instance)));
        }
    }
    let mut seen = HashSet::new();
    let mut plan = Plan { specs: Vec::new(), added: Vec::new() };
    for (service, instance) in named {
        // Depth first with an explicit stack, so a long chain of dependencies cannot
        // overflow the call stack: an entry is pushed to the plan once its dependencies are.
        let mut pending: Vec<(String, u32, Option<String>, bool)> = vec![(service, instance, None, false)];
        while let Some((service, instance, wanted_by, expanded)) = pending.pop() {
            if expanded {
                let found = manager.service(&service)?;
                let ports = view.instance_ports(&service, instance)?;
                let own_ports = |other: &str| neighbour_ports(other, instance);
                let neighbours = Neighbours { registry, ports: &own_ports };
                let built = spec::build(found, &ports, default_environment, &neighbours)?;
                if let Some(wanted_by) = wanted_by {
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
            if dependencies == Dependencies::Include {
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
}
