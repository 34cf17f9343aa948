//! An instance as a container, fully worked out before anything touches Docker: its name,
//! image, command, environment, port bindings, volumes, labels and readiness check.
//!
//! Pure: built from a registry service and its resolved ports. The config hash covers
//! everything that shapes the container, so a changed registry is noticed on the next
//! start instead of silently adopting a container that runs the old configuration.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::registry::{Ready, Registry, ResolvedPort, Service, StackReference, expand};
pub use crate::registry::{container_name, network_name, volume_name};

/// Label on every container and volume berth manages.
pub const MANAGED_LABEL: &str = "io.berth.managed";
/// Label naming the registry service.
pub const SERVICE_LABEL: &str = "io.berth.service";
/// Label naming the instance id.
pub const INSTANCE_LABEL: &str = "io.berth.instance";
/// Label naming the environment.
pub const ENVIRONMENT_LABEL: &str = "io.berth.env";
/// Label holding the hash of the instance's configuration.
pub const HASH_LABEL: &str = "io.berth.config-hash";

/// Why an instance's spec cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The service has no `container:` section.
    #[error(
        "service `{service}` has no `container:` section, so it cannot run as a container; add one (README, \"Containers\")"
    )]
    NoContainer {
        /// The service.
        service: String,
    },
    /// A template or key in the section does not work; `berth check` reports the same.
    #[error("service `{service}`: {problem}; run `berth check`")]
    Invalid {
        /// The service.
        service: String,
        /// What is wrong.
        problem: String,
    },
}

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortBinding {
    /// The registry port key.
    pub key: String,
    /// The host address it is published on.
    pub host_address: IpAddr,
    /// The host port (the registry's port for this slot).
    pub host_port: u16,
    /// The port inside the container.
    pub container_port: u16,
    /// Set when `host_port` is the key's fallback, published because another process held
    /// the computed port; the host port itself is what the config hash covers.
    #[serde(skip)]
    pub fallback: Option<FallbackPort>,
}

/// A host port published in place of the slot's computed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallbackPort {
    /// The port the slot computes to.
    pub computed: u16,
    /// Whether the lease on the fallback was made for this start, so that undoing the start
    /// gives it back.
    pub new_lease: bool,
}

/// One named volume and where it is mounted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeMount {
    /// The volume's name (`kafka-data-1`).
    pub volume: String,
    /// The mount point inside the container.
    pub path: String,
}

/// Everything needed to start, find and check one instance's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    /// The registry service.
    pub service: String,
    /// The instance id.
    pub instance: u16,
    /// The environment.
    pub environment: String,
    /// `{service}-{environment}` for instance 0, `{service}-{environment}-{N}` after.
    pub container_name: String,
    /// The image.
    pub image: String,
    /// The command, when it replaces the image's.
    pub command: Option<Vec<String>>,
    /// Environment variables, templates filled.
    pub env: BTreeMap<String, String>,
    /// Published ports, in port key order.
    pub ports: Vec<PortBinding>,
    /// Named volumes.
    pub volumes: Vec<VolumeMount>,
    /// How to tell the instance is ready.
    pub ready: Ready,
    /// How long start plus readiness may take.
    pub timeout: Duration,
    /// Labels, the config hash among them.
    pub labels: BTreeMap<String, String>,
    /// The network of the instance's stack (`berth-development-1`), where the container
    /// answers to its service's name.
    pub network: String,
    /// Services of the same instance that must be ready first.
    pub depends_on: Vec<String>,
    /// Files written into the container before it starts: path → content.
    pub files: BTreeMap<String, String>,
}

/// What a spec may refer to beyond its own service: the registry, and the ports of the
/// other services' copy of the same instance in the same environment.
pub struct Neighbours<'a> {
    /// The registry.
    pub registry: &'a Registry,
    /// The resolved ports of `service`'s instance, or `None` when it has no such instance.
    pub ports: &'a dyn Fn(&str) -> Option<Vec<ResolvedPort>>,
}

impl Neighbours<'_> {
    /// The value of `{other.key}` (host port) or `{other.key.address}` (`other:port` inside
    /// the stack).
    fn value(&self, reference: StackReference<'_>) -> Option<String> {
        let ports = (self.ports)(reference.service)?;
        let port = ports.iter().find(|port| port.key == reference.key)?.port;
        if !reference.address {
            return Some(port.to_string());
        }
        let section = self.registry.service(reference.service)?.container.as_ref()?;
        let inside = section.ports.get(reference.key).copied().unwrap_or(port);
        Some(format!("{}:{inside}", reference.service))
    }
}

/// The part of a spec that shapes the container; its hash is the config hash.
#[derive(Serialize)]
struct Shape<'a> {
    image: &'a str,
    command: &'a Option<Vec<String>>,
    env: &'a BTreeMap<String, String>,
    ports: &'a [PortBinding],
    volumes: &'a [VolumeMount],
    network: &'a str,
    files: &'a BTreeMap<String, String>,
}

/// Builds the spec of `service`'s instance whose ports are `ports` (all keys, one instance,
/// one environment, as `EnvironmentView::instance_ports` returns them), with the other
/// services of its stack as `neighbours` give them.
pub fn build(
    service: &Service,
    ports: &[ResolvedPort],
    default_environment: bool,
    neighbours: &Neighbours<'_>,
) -> Result<InstanceSpec, SpecError> {
    let section = service.container.as_ref().ok_or_else(|| SpecError::NoContainer { service: service.name.clone() })?;
    let invalid = |problem: String| SpecError::Invalid { service: service.name.clone(), problem };
    let first = ports.first().ok_or_else(|| invalid("it has no port keys".to_string()))?;
    let (instance, environment) = (first.instance, first.environment.clone());
    let name = container_name(&service.name, &environment, instance);
    let host = section.host.to_string();
    let value = |placeholder: &str| -> Option<String> {
        match placeholder {
            "instance_id" => Some(instance.to_string()),
            "service" => Some(service.name.clone()),
            "environment" => Some(environment.clone()),
            "host" => Some(host.clone()),
            "container" => Some(name.clone()),
            key => match StackReference::parse(key) {
                Some(reference) => neighbours.value(reference),
                None => ports.iter().find(|port| port.key == key).map(|port| port.port.to_string()),
            },
        }
    };
    let command = section
        .command
        .as_ref()
        .map(|arguments| arguments.iter().map(|argument| expand(argument, value)).collect::<Result<Vec<_>, _>>())
        .transpose()
        .map_err(invalid)?;
    let env = section
        .env
        .iter()
        .map(|(variable, template)| Ok((variable.clone(), expand(template, value)?)))
        .collect::<Result<BTreeMap<_, _>, String>>()
        .map_err(invalid)?;
    let bindings: Vec<PortBinding> = ports
        .iter()
        .map(|port| PortBinding {
            key: port.key.clone(),
            host_address: section.host,
            host_port: port.port,
            container_port: section.ports.get(&port.key).copied().unwrap_or(port.port),
            fallback: port.fallback_for.map(|computed| FallbackPort { computed, new_lease: false }),
        })
        .collect();
    let own_environment = (!default_environment).then_some(environment.as_str());
    let volumes = section
        .volumes
        .iter()
        .map(|(volume, path)| VolumeMount {
            volume: volume_name(&service.name, volume, own_environment, instance),
            path: path.clone(),
        })
        .collect::<Vec<_>>();
    let files = section
        .files
        .iter()
        .map(|(path, template)| Ok((path.clone(), expand(template, value)?)))
        .collect::<Result<BTreeMap<_, _>, String>>()
        .map_err(invalid)?;
    let network = network_name(&environment, instance);
    let ready = section.ready.clone().unwrap_or_else(|| Ready::Tcp(first.key.clone()));
    if let Some(problem) = section.problems(service, neighbours.registry).into_iter().next() {
        return Err(invalid(problem));
    }
    let hash = config_hash(&Shape {
        image: &section.image,
        command: &command,
        env: &env,
        ports: &bindings,
        volumes: &volumes,
        network: &network,
        files: &files,
    });
    let labels = BTreeMap::from([
        (MANAGED_LABEL.to_string(), "true".to_string()),
        (SERVICE_LABEL.to_string(), service.name.clone()),
        (INSTANCE_LABEL.to_string(), instance.to_string()),
        (ENVIRONMENT_LABEL.to_string(), environment.clone()),
        (HASH_LABEL.to_string(), hash),
    ]);
    Ok(InstanceSpec {
        service: service.name.clone(),
        instance,
        environment,
        container_name: name,
        image: section.image.clone(),
        command,
        env,
        ports: bindings,
        volumes,
        ready,
        timeout: section.timeout,
        labels,
        network,
        depends_on: section.depends_on.clone(),
        files,
    })
}

fn config_hash(shape: &Shape<'_>) -> String {
    let canonical = serde_json::to_vec(shape).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

impl InstanceSpec {
    /// The config hash label's value.
    pub fn config_hash(&self) -> &str {
        self.labels.get(HASH_LABEL).map_or("", String::as_str)
    }

    /// The binding of port key `key`.
    pub fn binding(&self, key: &str) -> Option<&PortBinding> {
        self.ports.iter().find(|binding| binding.key == key)
    }

    /// `kafka[1]`, for messages.
    pub fn label(&self) -> String {
        format!("{}[{}]", self.service, self.instance)
    }

    /// Host endpoints per port key: `broker_port` → `127.0.0.1:9192`.
    pub fn endpoints(&self) -> BTreeMap<String, String> {
        self.ports
            .iter()
            .map(|binding| {
                let address = std::net::SocketAddr::new(binding.host_address, binding.host_port);
                (binding.key.clone(), address.to_string())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
