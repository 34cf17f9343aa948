//! The activities berth's worker serves: their names and JSON shapes.
//!
//! Names are a public contract. Besides these, the worker serves seed 001's
//! `start_<service>_activity` / `stop_<service>_activity` for every registry service, taking
//! `{"instance_id": N}` ([`ServiceInstance`] without `service`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityDefinition;

/// `start_service`: start (or adopt) one instance and wait until it is ready.
pub const START_SERVICE: &str = "start_service";
/// `stop_service`: stop and remove one instance.
pub const STOP_SERVICE: &str = "stop_service";
/// `service_status`: the containers berth manages on the worker's host.
pub const SERVICE_STATUS: &str = "service_status";
/// `allocate_ports`: lease dynamic ports from the host ledger.
pub const ALLOCATE_PORTS: &str = "allocate_ports";
/// `release_ports`: give leases back.
pub const RELEASE_PORTS: &str = "release_ports";

/// The seed 001 name of the start activity of `service`: `start_kafka_activity`.
pub fn start_activity_name(service: &str) -> String {
    format!("start_{service}_activity")
}

/// The seed 001 name of the stop activity of `service`: `stop_kafka_activity`.
pub fn stop_activity_name(service: &str) -> String {
    format!("stop_{service}_activity")
}

/// One instance of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInstance {
    /// The registry service (`kafka`); implied by the name of `start_kafka_activity`.
    #[serde(default)]
    pub service: Option<String>,
    /// The instance id; 0 when left out, as in seed 001.
    #[serde(default)]
    pub instance_id: u32,
    /// The environment; the registry's first when left out.
    #[serde(default)]
    pub env: Option<String>,
    /// For stops: remove the instance's volumes too.
    #[serde(default)]
    pub volumes: bool,
}

/// What a start did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceStarted {
    /// The container name (`kafka-development-1`).
    pub container: String,
    /// The container id.
    pub id: String,
    /// The registry service.
    pub service: String,
    /// The instance id.
    pub instance: u16,
    /// `created`, `adopted`, `started` or `recreated`.
    pub outcome: String,
    /// Port key → host port.
    pub ports: BTreeMap<String, u16>,
    /// Port key → `address:port`.
    pub endpoints: BTreeMap<String, String>,
    /// Seconds the start took.
    pub seconds: f64,
    /// The host whose worker ran it.
    pub host: String,
}

/// What a stop did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStopped {
    /// The container name.
    pub container: String,
    /// Whether there was a container to remove.
    pub removed: bool,
    /// The host whose worker ran it.
    pub host: String,
}

/// Input of `service_status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRequest {
    /// Only this environment's containers.
    #[serde(default)]
    pub env: Option<String>,
}

/// One managed container, as `service_status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// The container name.
    pub container: String,
    /// The registry service.
    pub service: String,
    /// The instance id.
    pub instance: String,
    /// The environment.
    pub env: String,
    /// Docker's state (`running`, `exited`, …).
    pub state: String,
}

/// Input of `allocate_ports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocateRequest {
    /// The project.
    pub project: String,
    /// The service within it.
    pub service: String,
    /// How many ports.
    #[serde(default = "one")]
    pub count: u32,
    /// A range such as `30500-30599` [default: the registry's dynamic_range].
    #[serde(default)]
    pub range: Option<String>,
}

fn one() -> u32 {
    1
}

/// Input of `release_ports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRequest {
    /// The project.
    pub project: String,
    /// Only this service's leases.
    #[serde(default)]
    pub service: Option<String>,
}

/// Ports leased or released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ports {
    /// The ports.
    pub ports: Vec<u16>,
}

macro_rules! activity {
    ($marker:ident, $name:expr, $input:ty, $output:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $marker;

        impl ActivityDefinition for $marker {
            type Input = $input;
            type Output = $output;

            fn name(&self) -> &str {
                $name
            }
        }
    };
}

activity!(StartService, START_SERVICE, ServiceInstance, ServiceStarted, "Calls `start_service`.");
activity!(StopService, STOP_SERVICE, ServiceInstance, ServiceStopped, "Calls `stop_service`.");
activity!(ServiceStatus, SERVICE_STATUS, StatusRequest, Vec<ContainerState>, "Calls `service_status`.");
activity!(AllocatePorts, ALLOCATE_PORTS, AllocateRequest, Ports, "Calls `allocate_ports`.");
activity!(ReleasePorts, RELEASE_PORTS, ReleaseRequest, Ports, "Calls `release_ports`.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_001_parameters_decode() {
        let input: ServiceInstance = serde_json::from_str(r#"{"instance_id": 1}"#).expect("decodes");
        assert_eq!(input, ServiceInstance { instance_id: 1, ..ServiceInstance::default() });
        let empty: ServiceInstance = serde_json::from_str("{}").expect("decodes");
        assert_eq!(empty.instance_id, 0);
        assert_eq!(start_activity_name("kafka"), "start_kafka_activity");
        assert_eq!(StartService.name(), "start_service");
    }
}
