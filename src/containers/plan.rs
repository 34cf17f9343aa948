//! From the words a user or workflow gives (`kafka:0-2 redis:1`) to the instance specs to
//! act on, in the order given, each instance once.

use std::collections::HashSet;

use super::Selection;
use super::spec::{self, InstanceSpec, SpecError};
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

/// The specs of every instance in `selections`, in `environment` (the registry's default
/// when `None`).
pub fn plan(
    manager: &PortManager,
    environment: Option<&str>,
    selections: &[Selection],
) -> Result<Vec<InstanceSpec>, PlanError> {
    let view = manager.environment(environment)?;
    let default_environment = view.environment().name == manager.registry().default_environment().name;
    let mut seen = HashSet::new();
    let mut specs = Vec::new();
    for selection in selections {
        let service = manager.service(&selection.service)?;
        for instance in selection.instances() {
            let ports = view.instance_ports(&selection.service, instance)?;
            let spec = spec::build(service, &ports, default_environment)?;
            if seen.insert(spec.container_name.clone()) {
                specs.push(spec);
            }
        }
    }
    Ok(specs)
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
