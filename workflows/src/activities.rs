//! The activities berth's worker serves: their names and JSON shapes.
//!
//! Names are a public contract. Besides these, the worker serves
//! `start_<service>_activity` / `stop_<service>_activity` for every registry service, taking
//! `{"instance_id": N}` ([`StartRequest`] / [`StopRequest`] without `service`). Every input
//! rejects fields it does not know, so a typo fails as `InvalidInput` instead of being
//! ignored, and a stop must name its instance.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityDefinition;

/// `start_service`: start (or adopt) one instance and wait until it is ready.
pub const START_SERVICE: &str = "start_service";
/// `stop_service`: stop and remove one instance.
pub const STOP_SERVICE: &str = "stop_service";
/// `undo_start`: undo what one run's start of an instance did (compensation).
pub const UNDO_START: &str = "undo_start";
/// `service_status`: the containers berth manages on the worker's host.
pub const SERVICE_STATUS: &str = "service_status";
/// `plan_instances`: the instances a request names, stacks expanded and (for a start) with
/// what they depend on, in steps that may run at once.
pub const PLAN_INSTANCES: &str = "plan_instances";
/// `allocate_ports`: lease dynamic ports from the host ledger.
pub const ALLOCATE_PORTS: &str = "allocate_ports";
/// `release_ports`: give leases back.
pub const RELEASE_PORTS: &str = "release_ports";
/// `list_leases`: the host ledger's leases.
pub const LIST_LEASES: &str = "list_leases";

/// The activities every worker serves, besides the two per registry service.
pub const ACTIVITIES: [&str; 8] = [
    START_SERVICE,
    STOP_SERVICE,
    UNDO_START,
    SERVICE_STATUS,
    PLAN_INSTANCES,
    ALLOCATE_PORTS,
    RELEASE_PORTS,
    LIST_LEASES,
];

/// The name of the start activity of `service` in workflows that name the service in the activity: `start_kafka_activity`.
pub fn start_activity_name(service: &str) -> String {
    format!("start_{service}_activity")
}

/// The name of the stop activity of `service` in workflows that name the service in the activity: `stop_kafka_activity`.
pub fn stop_activity_name(service: &str) -> String {
    format!("stop_{service}_activity")
}

/// Input of `start_service` and `start_<service>_activity`: start (or adopt) one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// The registry service (`kafka`); implied by the name of `start_kafka_activity`.
    #[serde(default)]
    pub service: Option<String>,
    /// The instance id; 0 when left out.
    #[serde(default)]
    pub instance_id: u32,
    /// The environment; the registry's first when left out.
    #[serde(default)]
    pub env: Option<String>,
    /// Replace a container of the instance that runs another configuration.
    #[serde(default)]
    pub recreate: bool,
    /// When the image is pulled [default: missing].
    #[serde(default)]
    pub pull: crate::requests::PullPolicy,
    /// How long the start and readiness may take, in seconds [default: the service's `timeout`].
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Keep what a failed start made, for inspection, instead of removing it.
    #[serde(default)]
    pub keep_failed: bool,
    /// The run this start belongs to; containers and volumes it creates carry it, so that
    /// `undo_start` removes exactly what the run made [default: the calling workflow's run].
    #[serde(default)]
    pub run: Option<String>,
}

/// Input of `stop_service` and `stop_<service>_activity`: stop and remove one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopRequest {
    /// The registry service; implied by the name of `stop_kafka_activity`.
    #[serde(default)]
    pub service: Option<String>,
    /// The instance id. Required: a stop never guesses which instance is meant.
    pub instance_id: u32,
    /// The environment; the registry's first when left out.
    #[serde(default)]
    pub env: Option<String>,
    /// Remove the instance's volumes too (their data is gone).
    #[serde(default)]
    pub volumes: bool,
    /// Remove a berth container of the instance even when it runs another configuration.
    #[serde(default)]
    pub force: bool,
}

/// Input of `undo_start`: undo what one run's start of an instance did, and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRequest {
    /// The registry service.
    pub service: String,
    /// The instance id.
    pub instance_id: u32,
    /// The environment; the registry's first when left out.
    #[serde(default)]
    pub env: Option<String>,
    /// The run whose start is undone: only a container and volumes carrying it are removed.
    pub run: String,
    /// What the start reported (`started` means an existing container was started: it is
    /// stopped again); `None` when the start failed or its outcome is unknown.
    #[serde(default)]
    pub outcome: Option<String>,
    /// The ports the start reported it newly leased; given back.
    #[serde(default)]
    pub leased_ports: Vec<u16>,
}

/// Input of `plan_instances`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// Instances as `service[:N|:FIRST-LAST]` or `stack[:N|:FIRST-LAST]`.
    pub specs: Vec<String>,
    /// The environment; the registry's first when left out.
    #[serde(default)]
    pub env: Option<String>,
    /// Add what the instances depend on, ahead of them (for a start); without it, only what
    /// the services of a named stack depend on is added (for a stop: a stack goes down as it
    /// came up).
    #[serde(default)]
    pub dependencies: bool,
}

/// One instance of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedInstance {
    /// The registry service.
    pub service: String,
    /// The instance id.
    pub instance_id: u32,
    /// The services of the same instance it depends on.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// Output of `plan_instances`: steps in dependency order; the instances of one step may run
/// at once, and a step may start only once the one before it is done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    /// The steps.
    pub levels: Vec<Vec<PlannedInstance>>,
    /// `mongodb[1] (mongoexpress[1] depends on it)`, for each instance added as a dependency.
    #[serde(default)]
    pub added: Vec<String>,
}

/// What a stop did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStopped {
    /// The container name.
    pub container: String,
    /// Whether there was a container to remove.
    pub removed: bool,
    /// The volumes removed.
    #[serde(default)]
    pub volumes_removed: Vec<String>,
    /// The ports whose leases were released.
    #[serde(default)]
    pub released_ports: Vec<u16>,
    /// The stack network, removed with the last of its containers.
    #[serde(default)]
    pub network_removed: Option<String>,
    /// The host whose worker ran it.
    pub host: String,
}

/// What an undo did and what it left (with how to remove it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undone {
    /// What was undone, in words (`removed container web-dev-1`).
    pub undone: Vec<String>,
    /// What was left, in words, each with how to remove it.
    pub left: Vec<String>,
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
    /// Port key → the port the slot computes to, for each key published on its fallback
    /// because another process held that port.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fallback_for: BTreeMap<String, u16>,
    /// Seconds the start took.
    pub seconds: f64,
    /// The host whose worker ran it.
    pub host: String,
    /// The ports this start newly leased (a compensation gives back exactly these).
    #[serde(default)]
    pub leased_ports: Vec<u16>,
}

/// Input of `service_status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// `127.0.0.1:6379` for each published port.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

/// Input of `list_leases`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeasesRequest {
    /// Only this project's leases.
    #[serde(default)]
    pub project: Option<String>,
}

/// One lease in a host's ledger, as `list_leases` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseState {
    /// The port.
    pub port: u16,
    /// The project holding it (`container:redis-development`, `fallback:…`, a path, …).
    pub project: String,
    /// The service within the project.
    pub service: String,
}

/// Input of `allocate_ports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// A project kind: the registry's `dynamic_ranges:` range for it (not with `range`).
    #[serde(default)]
    pub kind: Option<String>,
}

fn one() -> u32 {
    1
}

/// Input of `release_ports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// The project.
    pub project: String,
    /// Only this service's leases.
    #[serde(default)]
    pub service: Option<String>,
    /// Only the lease on this port.
    #[serde(default)]
    pub port: Option<u16>,
    /// Give a fallback lease up even while its port is in use.
    #[serde(default)]
    pub force: bool,
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

activity!(StartService, START_SERVICE, StartRequest, ServiceStarted, "Calls `start_service`.");
activity!(StopService, STOP_SERVICE, StopRequest, ServiceStopped, "Calls `stop_service`.");
activity!(UndoStart, UNDO_START, UndoRequest, Undone, "Calls `undo_start`.");
activity!(PlanInstances, PLAN_INSTANCES, PlanRequest, Planned, "Calls `plan_instances`.");
activity!(ServiceStatus, SERVICE_STATUS, StatusRequest, Vec<ContainerState>, "Calls `service_status`.");
activity!(ListLeases, LIST_LEASES, LeasesRequest, Vec<LeaseState>, "Calls `list_leases`.");
activity!(AllocatePorts, ALLOCATE_PORTS, AllocateRequest, Ports, "Calls `allocate_ports`.");
activity!(ReleasePorts, RELEASE_PORTS, ReleaseRequest, Ports, "Calls `release_ports`.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_001_parameters_decode() {
        let input: StartRequest = serde_json::from_str(r#"{"instance_id": 1}"#).expect("decodes");
        assert_eq!(input, StartRequest { instance_id: 1, ..StartRequest::default() });
        let empty: StartRequest = serde_json::from_str("{}").expect("decodes");
        assert_eq!(empty.instance_id, 0, "a start without an instance means instance 0");
        assert_eq!(start_activity_name("kafka"), "start_kafka_activity");
        assert_eq!(StartService.name(), "start_service");
    }

    #[test]
    fn typos_and_stops_without_an_instance_are_refused() {
        let typo = serde_json::from_str::<StopRequest>(r#"{"instanceId": 2, "volumes": true}"#).expect_err("typo");
        assert!(typo.to_string().contains("unknown field `instanceId`"), "{typo}");
        let unnamed = serde_json::from_str::<StopRequest>(r#"{"volumes": true}"#).expect_err("no instance");
        assert!(unnamed.to_string().contains("missing field `instance_id`"), "{unnamed}");
        assert!(serde_json::from_str::<StartRequest>(r#"{"instance": 1}"#).is_err());
        assert!(serde_json::from_str::<AllocateRequest>(r#"{"project":"p","service":"s","cout":2}"#).is_err());
    }
}
