//! Services that run together: the registry's named stacks, and the order `depends_on`
//! puts services in. Pure; `check` reports what is wrong, `plan` uses the order.

use std::collections::HashMap;

use super::model::Registry;

/// What is wrong with the `stacks:` section: unknown or container-less members, members
/// named twice, and stacks named like a service (a selection must name one thing).
pub fn stack_problems(registry: &Registry) -> Vec<String> {
    let mut problems = Vec::new();
    for stack in &registry.stacks {
        if registry.service(&stack.name).is_some() {
            problems.push(format!("stack `{0}` has the name of service `{0}`: rename the stack", stack.name));
        }
        for (position, member) in stack.services.iter().enumerate() {
            match registry.service(member) {
                None => problems.push(format!(
                    "stack `{}` lists `{member}`, which is not a service of this registry{}",
                    stack.name,
                    super::did_you_mean(member, registry.services.iter().map(|service| service.name.as_str()))
                        .map(|name| format!("; did you mean `{name}`?"))
                        .unwrap_or_default()
                )),
                Some(service) if service.container.is_none() => problems.push(format!(
                    "stack `{}` lists `{member}`, which has no `container:` section and cannot run",
                    stack.name
                )),
                Some(_) if stack.services[..position].contains(member) => {
                    problems.push(format!("stack `{}` lists `{member}` twice: list it once", stack.name));
                }
                Some(_) => {}
            }
        }
    }
    problems
}

/// Every dependency cycle among the services' `depends_on`, each once, written from the
/// service the file lists first: `[a, b, a]`.
pub fn dependency_cycles(registry: &Registry) -> Vec<Vec<String>> {
    let index: HashMap<&str, usize> =
        registry.services.iter().enumerate().map(|(position, service)| (service.name.as_str(), position)).collect();
    let edges: Vec<Vec<usize>> = registry
        .services
        .iter()
        .map(|service| {
            let dependencies = service.container.iter().flat_map(|container| &container.depends_on);
            // A service naming itself is reported on its own; it is no cycle to walk.
            dependencies
                .filter(|name| **name != service.name)
                .filter_map(|name| index.get(name.as_str()).copied())
                .collect()
        })
        .collect();
    // Colours: 0 unseen, 1 on the current path, 2 done. Iterative, so a long chain of
    // dependencies cannot overflow the stack.
    let mut colour = vec![0u8; edges.len()];
    let mut cycles = Vec::new();
    for root in 0..edges.len() {
        if colour[root] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        colour[root] = 1;
        while let Some((node, next)) = path.last_mut() {
            let node = *node;
            if let Some(&target) = edges[node].get(*next) {
                *next += 1;
                match colour[target] {
                    0 => {
                        colour[target] = 1;
                        path.push((target, 0));
                    }
                    1 => {
                        let start = path.iter().position(|(on_path, _)| *on_path == target).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            path[start..].iter().map(|(member, _)| registry.services[*member].name.clone()).collect();
                        cycle.push(registry.services[target].name.clone());
                        cycles.push(cycle);
                    }
                    _ => {}
                }
            } else {
                colour[node] = 2;
                path.pop();
            }
        }
    }
    cycles
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::registry::parse;

    fn registry(text: &str) -> Registry {
        parse(text, Path::new("stacks.yaml")).expect("loads")
    }

    const SERVICES: &str = "a:\n  port: 5000\n  container:\n    image: x\n    depends_on: [b]\nb:\n  port: 5001\n  container:\n    image: x\n    depends_on: [c]\nc:\n  port: 5002\n  container:\n    image: x\n";

    #[test]
    fn chains_have_no_cycles_and_loops_are_named_once() {
        assert!(dependency_cycles(&registry(SERVICES)).is_empty());
        let looped = SERVICES.replace(
            "c:\n  port: 5002\n  container:\n    image: x\n",
            "c:\n  port: 5002\n  container:\n    image: x\n    depends_on: [a]\n",
        );
        assert_eq!(dependency_cycles(&registry(&looped)), [["a", "b", "c", "a"]]);
    }

    #[test]
    fn stacks_must_name_runnable_services_once_and_not_shadow_one() {
        let text = format!("stacks:\n  a: [b]\n  web: [b, bb, b, bare]\n{SERVICES}bare:\n  port: 6000\n");
        let problems = stack_problems(&registry(&text));
        assert_eq!(
            problems,
            [
                "stack `a` has the name of service `a`: rename the stack",
                "stack `web` lists `bb`, which is not a service of this registry; did you mean `b`?",
                "stack `web` lists `b` twice: list it once",
                "stack `web` lists `bare`, which has no `container:` section and cannot run",
            ]
        );
    }
}
