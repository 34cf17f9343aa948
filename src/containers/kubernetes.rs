//! `berth export k8s`: the same instances as Kubernetes objects, so a cluster serves them on
//! the ports the registry proved: a Service per instance selecting pods labelled as berth
//! labels its containers, and a ConfigMap of every endpoint for clients to read.
//!
//! A port inside the cluster's node-port range (30000–32767 unless told otherwise) is
//! published on every node as that very port (a NodePort Service); any other port is the
//! Service's cluster port. An instance with ports on both sides gets both Services, so no
//! node port is left for the cluster to pick. Pure rendering: YAML documents from specs.

use std::collections::BTreeMap;

use serde::Serialize;

use super::spec::{ENVIRONMENT_LABEL, INSTANCE_LABEL, InstanceSpec, MANAGED_LABEL, SERVICE_LABEL};
use crate::registry::PortRange;

/// Longest object name Kubernetes takes for a Service (a DNS label).
const MAXIMUM_NAME_LENGTH: usize = 63;
/// Longest port name (an IANA service name).
const MAXIMUM_PORT_NAME_LENGTH: usize = 15;

/// Why the instances cannot be written as Kubernetes objects.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KubernetesError {
    /// A Service name would be longer than a DNS label may be.
    #[error(
        "{container} cannot name a Kubernetes Service: {length} characters, more than {MAXIMUM_NAME_LENGTH}; use a shorter service or environment name"
    )]
    NameTooLong {
        /// The container name.
        container: String,
        /// Its length as a Service name.
        length: usize,
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
        let name = object_name(&spec.container_name)?;
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
            data.insert(address, format!("{name}:{}", binding.host_port));
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
            metadata: Metadata { name: format!("berth-endpoints-{}", environment.replace('_', "-")), labels },
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
    format!("---\n{}", serde_yaml::to_string(object).unwrap_or_default())
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

/// A container name as a Service name: Kubernetes takes no `_` in it.
fn object_name(container: &str) -> Result<String, KubernetesError> {
    let name = container.replace('_', "-");
    // The longer of the two names an instance may take must fit.
    let length = name.len() + "-nodeport".len();
    if length > MAXIMUM_NAME_LENGTH {
        return Err(KubernetesError::NameTooLong { container: container.to_string(), length });
    }
    Ok(name)
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
        if name.is_empty()
            || !name.starts_with(|character: char| character.is_ascii_lowercase())
            || names.values().any(|taken| *taken == name)
        {
            name = format!("port-{index}");
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
        assert_eq!(object_name("web_ui-development-1"), Ok("web-ui-development-1".to_string()));
        let long = format!("{}-development", "s".repeat(50));
        assert!(matches!(object_name(&long), Err(KubernetesError::NameTooLong { length: 71, .. })));
    }
}
