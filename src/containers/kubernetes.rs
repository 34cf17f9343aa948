//! `berth export k8s`: the same instances as Kubernetes objects, so a cluster serves them on
//! the ports the registry proved: a Service per instance selecting pods labelled as berth
//! labels its containers, and a ConfigMap of every endpoint for clients to read.
//!
//! A port inside the cluster's node-port range (30000–32767 unless told otherwise) is
//! published on every node as that very port (a NodePort Service); any other port is the
//! Service's cluster port. An instance with ports on both sides gets both Services, so no
//! node port is left for the cluster to pick. Pure rendering: YAML documents from specs,
//! each written as JSON (which YAML reads unchanged), so every string stays a string: a
//! YAML 1.1 reader such as Kubernetes' would take a bare `no` or `on` for a boolean.

use std::collections::BTreeMap;

use serde::Serialize;

use super::spec::{ENVIRONMENT_LABEL, INSTANCE_LABEL, InstanceSpec, MANAGED_LABEL, SERVICE_LABEL};
use crate::registry::PortRange;

/// Longest object name Kubernetes takes for a Service (a DNS label), and longest label value.
const MAXIMUM_NAME_LENGTH: usize = 63;
/// Longest port name (an IANA service name).
const MAXIMUM_PORT_NAME_LENGTH: usize = 15;

/// Why the instances cannot be written as Kubernetes objects.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KubernetesError {
    /// A name or label value Kubernetes does not take.
    #[error("{container}: Kubernetes takes no {what} `{name}`: {rule}; rename the service or environment")]
    Unusable {
        /// The container the object is for.
        container: String,
        /// `Service name`, `ConfigMap name` or `label value`.
        what: &'static str,
        /// The name as it would be written.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// Two instances would make Services of the same name.
    #[error("{first} and {second} would both be the Kubernetes Service {name} (`_` becomes `-`); rename one service")]
    SameName {
        /// One container.
        first: String,
        /// The other.
        second: String,
        /// The Service name both map to.
        name: String,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<Spec: Serialize> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<Spec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct ServiceSpec {
    #[serde(rename = "type")]
    kind: &'static str,
    selector: BTreeMap<String, String>,
    ports: Vec<ServicePort>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicePort {
    name: String,
    protocol: &'static str,
    port: u16,
    target_port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_port: Option<u16>,
}

/// The Services of every spec and one ConfigMap of their endpoints (per environment), as
/// a multi-document YAML file.
pub fn render(specs: &[InstanceSpec], node_ports: PortRange) -> Result<String, KubernetesError> {
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    let mut documents = Vec::new();
    let mut endpoints: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    for spec in specs {
        let name = spec.container_name.replace('_', "-");
        for value in [&spec.service, &spec.environment] {
            check_label_value(&spec.container_name, value)?;
        }
        for taken in [name.clone(), format!("{name}-nodeport")] {
            if let Some(first) = names.insert(taken.clone(), &spec.container_name) {
                return Err(KubernetesError::SameName {
                    first: first.to_string(),
                    second: spec.container_name.clone(),
                    name: taken,
                });
            }
        }
        let (inside, outside): (Vec<_>, Vec<_>) =
            spec.ports.iter().partition(|binding| node_ports.contains(u32::from(binding.host_port)));
        let port_names = port_names(spec.ports.iter().map(|binding| binding.key.as_str()));
        let service_ports = |bindings: &[&super::spec::PortBinding], node: bool| -> Vec<ServicePort> {
            bindings
                .iter()
                .map(|binding| ServicePort {
                    name: port_names[&binding.key].clone(),
                    protocol: "TCP",
                    port: binding.host_port,
                    target_port: binding.container_port,
                    node_port: node.then_some(binding.host_port),
                })
                .collect()
        };
        // All in the range: one NodePort Service under the instance's name. Mixed: the
        // cluster ports keep the name, the node ports get their own Service.
        let parts = match (outside.is_empty(), inside.is_empty()) {
            (true, _) => vec![(name.clone(), "NodePort", service_ports(&inside, true))],
            (false, true) => vec![(name.clone(), "ClusterIP", service_ports(&outside, false))],
            (false, false) => vec![
                (name.clone(), "ClusterIP", service_ports(&outside, false)),
                (format!("{name}-nodeport"), "NodePort", service_ports(&inside, true)),
            ],
        };
        for (object, kind, ports) in parts {
            check_dns_label(&spec.container_name, "Service name", &object)?;
            documents.push(document(&Object {
                api_version: "v1",
                kind: "Service",
                metadata: Metadata { name: object, labels: labels(spec, true) },
                spec: Some(ServiceSpec { kind, selector: labels(spec, false), ports }),
                data: None,
            }));
        }
        let data = endpoints.entry(&spec.environment).or_default();
        for binding in &spec.ports {
            let variable = crate::registry::variable_name(&spec.service, spec.instance, &binding.key);
            data.insert(variable.clone(), binding.host_port.to_string());
            let address = variable
                .strip_suffix("_PORT")
                .map_or_else(|| format!("{variable}_ADDRESS"), |stem| format!("{stem}_ADDRESS"));
            // The Service that carries the port: the node-port one when the instance has both.
            let serving = if node_ports.contains(u32::from(binding.host_port)) && !outside.is_empty() {
                format!("{name}-nodeport")
            } else {
                name.clone()
            };
            data.insert(address, format!("{serving}:{}", binding.host_port));
        }
    }
    for (environment, data) in endpoints {
        let labels = BTreeMap::from([
            (MANAGED_LABEL.to_string(), "true".to_string()),
            (ENVIRONMENT_LABEL.to_string(), environment.to_string()),
        ]);
        documents.push(document(&Object::<ServiceSpec> {
            api_version: "v1",
            kind: "ConfigMap",
            metadata: Metadata { name: configmap_name(environment)?, labels },
            spec: None,
            data: Some(data),
        }));
    }
    Ok(format!(
        "# Generated by `berth export k8s`: Services on the ports `berth up` uses, and their endpoints.\n{}",
        documents.join("")
    ))
}

fn document(object: &impl Serialize) -> String {
    format!("---\n{}\n", serde_json::to_string_pretty(object).unwrap_or_default())
}

/// The endpoints ConfigMap of one environment.
fn configmap_name(environment: &str) -> Result<String, KubernetesError> {
    let name = format!("berth-endpoints-{}", environment.replace('_', "-"));
    check_dns_label(environment, "ConfigMap name", &name)?;
    Ok(name)
}

/// The labels berth puts on the instance's container: on the Service itself (`managed`
/// included) and as its selector (service, instance and environment).
fn labels(spec: &InstanceSpec, managed: bool) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = [SERVICE_LABEL, INSTANCE_LABEL, ENVIRONMENT_LABEL]
        .into_iter()
        .filter_map(|label| spec.labels.get(label).map(|value| (label.to_string(), value.clone())))
        .collect();
    if managed {
        labels.insert(MANAGED_LABEL.to_string(), "true".to_string());
    }
    labels
}

/// Kubernetes' rule for Service and ConfigMap names (RFC 1035 labels).
fn check_dns_label(container: &str, what: &'static str, name: &str) -> Result<(), KubernetesError> {
    let fits = name.len() <= MAXIMUM_NAME_LENGTH
        && name.starts_with(|character: char| character.is_ascii_lowercase())
        && name
            .chars()
            .all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-')
        && !name.ends_with('-');
    if fits {
        return Ok(());
    }
    Err(KubernetesError::Unusable {
        container: container.to_string(),
        what,
        name: name.to_string(),
        rule: "at most 63 characters, a-z, 0-9 and `-`, starting with a letter and ending with a letter or digit",
    })
}

/// Kubernetes' rule for label values: what berth's labels carry must fit it.
fn check_label_value(container: &str, value: &str) -> Result<(), KubernetesError> {
    let ends_well = |character: char| character.is_ascii_alphanumeric();
    let fits = value.len() <= MAXIMUM_NAME_LENGTH
        && value.starts_with(ends_well)
        && value.ends_with(ends_well)
        && value.chars().all(|character| character.is_ascii_alphanumeric() || "-_.".contains(character));
    if fits {
        return Ok(());
    }
    Err(KubernetesError::Unusable {
        container: container.to_string(),
        what: "label value",
        name: value.to_string(),
        rule: "at most 63 characters, letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
    })
}

/// A name per port key that Kubernetes takes (at most 15 characters, `a-z`, `0-9` and
/// single `-`): the key without `_port`, `_` as `-` (`broker_port` → `broker`), shortened
/// if need be; `port-N` where that would be empty or taken.
fn port_names<'a>(keys: impl Iterator<Item = &'a str>) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (index, key) in keys.enumerate() {
        let stem = key.strip_suffix("_port").unwrap_or(key).replace('_', "-");
        let mut name: String = stem.chars().take(MAXIMUM_PORT_NAME_LENGTH).collect();
        while name.ends_with('-') || name.contains("--") {
            name = name.trim_end_matches('-').replace("--", "-");
        }
        let taken = |name: &str| names.values().any(|taken| taken == name);
        if name.is_empty() || !name.starts_with(|character: char| character.is_ascii_lowercase()) || taken(&name) {
            name = (index..).map(|number| format!("port-{number}")).find(|name| !taken(name)).unwrap_or_default();
        }
        names.insert(key.to_string(), name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_names_fit_what_kubernetes_takes() {
        let names = |keys: &[&str]| port_names(keys.iter().copied()).into_values().collect::<Vec<_>>();
        assert_eq!(names(&["broker_port", "controller_port"]), ["broker", "controller"]);
        assert_eq!(names(&["repo_server_port"]), ["repo-server"]);
        assert_eq!(names(&["port"]), ["port"]);
        assert_eq!(names(&["a_very_long_name_for_a_port"]), ["a-very-long-nam"]);
        assert_eq!(names(&["x__y_port"]), ["x-y"]);
        assert_eq!(names(&["a_very_long_name_one_port", "a_very_long_name_two_port"]), ["a-very-long-nam", "port-1"]);
    }

    #[test]
    fn names_kubernetes_cannot_take_are_refused() {
        assert_eq!(check_dns_label("c", "Service name", "web-ui-development-1"), Ok(()));
        assert!(check_dns_label("c", "Service name", "web--dev-").is_err());
        assert!(check_dns_label("c", "Service name", &"s".repeat(64)).is_err());
        assert_eq!(check_dns_label("c", "Service name", &"s".repeat(63)), Ok(()));
        assert!(check_label_value("c", "web_").is_err());
        assert_eq!(check_label_value("c", "web_ui"), Ok(()));
    }

    #[test]
    fn a_fallback_port_name_is_never_one_already_taken() {
        let names = port_names(["port_1_port", "port_1__port"].into_iter());
        assert_eq!((names["port_1_port"].as_str(), names["port_1__port"].as_str()), ("port-1", "port-2"));
    }
}
