//! berth's Temporal activities: thin adapters from the public activity contract
//! (`berth_workflows::activities`) onto containers and the ledger.
//!
//! Every activity takes raw JSON and decodes it itself, so bad input is answered with a
//! non-retryable `InvalidInput` failure instead of the SDK's endless retries. Errors a
//! retry cannot fix (unknown service, port held by a foreign process, image missing…) are
//! non-retryable failures typed with `StartError::kind`; transient ones retry. Starts
//! heartbeat their phase while they wait for readiness and stop when cancelled.
//!
//! Seed 001's `start_kafka_activity` / `stop_kafka_activity` exist for every registry
//! service: [`SeedActivity`] is registered once per name and dispatches on the activity
//! type it was called as.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_workflows::activities::{
    ALLOCATE_PORTS, AllocateRequest, ContainerState, Ports, RELEASE_PORTS, ReleaseRequest, SERVICE_STATUS,
    START_SERVICE, STOP_SERVICE, ServiceInstance, ServiceStarted, ServiceStopped, StatusRequest, start_activity_name,
    stop_activity_name,
};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use temporalio_common::ActivityDefinition;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError, ExecutableActivity};

use crate::containers::{self, Engine, Phase, Selection, StartError, StartOptions, spec};
use crate::ledger::{self, AllocationRequest, DEFAULT_DYNAMIC_RANGE, Ledger, ReleaseScope, Strategy};
use crate::metrics::METRICS;
use crate::probe::{self, Protocol};
use crate::registry::{PortManager, parse_range};

/// How often a waiting start reports its phase.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// The state every activity works with; one per worker process.
#[derive(Clone)]
pub struct BerthActivities {
    manager: &'static PortManager,
    engine: Engine,
    ledger: Option<PathBuf>,
    host: String,
}

/// The one mapping from berth's errors to Temporal failures: transient ones retry, the
/// rest are non-retryable and typed.
fn failure(error: &StartError) -> ActivityError {
    if error.is_transient() {
        ActivityError::from(anyhow::anyhow!(error.to_string()))
    } else {
        ActivityError::application(
            ApplicationFailure::builder(error.to_string())
                .type_name(error.kind().to_string())
                .non_retryable(true)
                .build(),
        )
    }
}

fn invalid_input(message: String) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message).type_name("InvalidInput".to_string()).non_retryable(true).build(),
    )
}

fn decode<T: DeserializeOwned>(activity: &str, input: serde_json::Value) -> Result<T, ActivityError> {
    serde_json::from_value(input).map_err(|error| invalid_input(format!("{activity}: input does not fit: {error}")))
}

/// Counts the execution and, on failure, its type.
fn observe<T>(activity: &str, result: Result<T, ActivityError>) -> Result<T, ActivityError> {
    METRICS.activity_executions.with_label_values(&[activity]).inc();
    if let Err(error) = &result {
        let kind = match error {
            ActivityError::Application(failure) => failure.type_name().unwrap_or("ApplicationFailure").to_string(),
            ActivityError::Cancelled { .. } => "Cancelled".to_string(),
            _ => "Other".to_string(),
        };
        METRICS.activity_failures.with_label_values(&[activity, kind.as_str()]).inc();
    }
    result
}

impl BerthActivities {
    /// Activities over `manager`'s registry, Docker through `engine`, the ledger in `ledger`,
    /// reporting `host` as the worker's host.
    pub fn new(manager: &'static PortManager, engine: Engine, ledger: Option<PathBuf>, host: String) -> Self {
        Self { manager, engine, ledger, host }
    }

    /// The seed 001 activity names this worker serves, two per registry service.
    pub fn seed_activity_names(&self) -> Vec<String> {
        self.manager
            .registry()
            .services
            .iter()
            .flat_map(|service| [start_activity_name(&service.name), stop_activity_name(&service.name)])
            .collect()
    }

    fn spec(&self, service: &str, instance: u32, env: Option<&str>) -> Result<spec::InstanceSpec, ActivityError> {
        let selection = Selection { service: service.to_string(), first: instance, last: instance };
        let mut specs =
            containers::plan(self.manager, env, &[selection]).map_err(|error| invalid_input(error.to_string()))?;
        specs.pop().ok_or_else(|| invalid_input(format!("{service}[{instance}] selects nothing")))
    }

    async fn start(
        &self,
        ctx: &ActivityContext,
        service: &str,
        request: &ServiceInstance,
    ) -> Result<ServiceStarted, ActivityError> {
        let spec = self.spec(service, request.instance_id, request.env.as_deref())?;
        let options = StartOptions { recreate: false, ledger: self.ledger.clone() };
        let (phases, mut latest) = tokio::sync::watch::channel(None::<Phase>);
        let progress = move |phase: Phase| {
            let _ = phases.send(Some(phase));
        };
        let start = containers::start::start(&self.engine, &spec, &options, &progress);
        tokio::pin!(start);
        let mut ticks = tokio::time::interval(HEARTBEAT_INTERVAL);
        let started = loop {
            tokio::select! {
                result = &mut start => break result.map_err(|error| failure(&error))?,
                () = ctx.cancelled() => return Err(ActivityError::cancelled()),
                _ = ticks.tick() => {
                    let phase = *latest.borrow_and_update();
                    let _ = ctx.record_heartbeat(serde_json::json!({ "container": spec.container_name, "phase": phase })).await;
                }
            }
        };
        Ok(started.into_contract(self.host.clone()))
    }

    async fn stop(&self, service: &str, request: &ServiceInstance) -> Result<ServiceStopped, ActivityError> {
        let spec = self.spec(service, request.instance_id, request.env.as_deref())?;
        let removed = containers::start::stop(&self.engine, &spec, request.volumes, self.ledger.clone())
            .await
            .map_err(|error| failure(&error))?;
        Ok(ServiceStopped { container: spec.container_name, removed, host: self.host.clone() })
    }

    fn ledger_directory(&self) -> Result<PathBuf, ActivityError> {
        self.ledger
            .clone()
            .ok_or_else(|| invalid_input("this worker has no ledger state directory (set BERTH_STATE_DIR)".to_string()))
    }
}

/// The activities with fixed names, registered through the SDK's macro.
mod fixed {
    #![expect(missing_docs, reason = "the activity macro generates undocumented items")]

    use super::*;

    #[activities]
    impl BerthActivities {
        /// `start_service` `{service, instance_id, env?}`.
        #[activity(name = "start_service")]
        pub async fn start_service(
            self: Arc<Self>,
            ctx: ActivityContext,
            input: serde_json::Value,
        ) -> Result<ServiceStarted, ActivityError> {
            let result = async {
                let request: ServiceInstance = decode(START_SERVICE, input)?;
                let service = request
                    .service
                    .clone()
                    .ok_or_else(|| invalid_input("start_service needs `service`".to_string()))?;
                self.start(&ctx, &service, &request).await
            };
            observe(START_SERVICE, result.await)
        }

        /// `stop_service` `{service, instance_id, env?, volumes?}`.
        #[activity(name = "stop_service")]
        pub async fn stop_service(
            self: Arc<Self>,
            _ctx: ActivityContext,
            input: serde_json::Value,
        ) -> Result<ServiceStopped, ActivityError> {
            let result = async {
                let request: ServiceInstance = decode(STOP_SERVICE, input)?;
                let service =
                    request.service.clone().ok_or_else(|| invalid_input("stop_service needs `service`".to_string()))?;
                self.stop(&service, &request).await
            };
            observe(STOP_SERVICE, result.await)
        }

        /// `service_status` `{env?}`: the managed containers on this host.
        #[activity(name = "service_status")]
        pub async fn service_status(
            self: Arc<Self>,
            _ctx: ActivityContext,
            input: serde_json::Value,
        ) -> Result<Vec<ContainerState>, ActivityError> {
            let result = async {
                let request: StatusRequest = decode(SERVICE_STATUS, input)?;
                let summaries = self.engine.managed(request.env.as_deref()).await.map_err(|error| failure(&error))?;
                Ok(summaries
                    .into_iter()
                    .map(|summary| {
                        let labels = summary.labels.unwrap_or_default();
                        let label = |name: &str| labels.get(name).cloned().unwrap_or_default();
                        ContainerState {
                            container: summary
                                .names
                                .unwrap_or_default()
                                .first()
                                .map(|name| name.trim_start_matches('/').to_string())
                                .unwrap_or_default(),
                            service: label(spec::SERVICE_LABEL),
                            instance: label(spec::INSTANCE_LABEL),
                            env: label(spec::ENVIRONMENT_LABEL),
                            state: summary.state.map(|state| state.to_string()).unwrap_or_default(),
                        }
                    })
                    .collect())
            };
            observe(SERVICE_STATUS, result.await)
        }

        /// `allocate_ports` `{project, service, count?, range?}`.
        #[activity(name = "allocate_ports")]
        pub async fn allocate_ports(
            self: Arc<Self>,
            _ctx: ActivityContext,
            input: serde_json::Value,
        ) -> Result<Ports, ActivityError> {
            let result = async {
                let request: AllocateRequest = decode(ALLOCATE_PORTS, input)?;
                let range = match &request.range {
                    Some(text) => parse_range(text).map_err(invalid_input)?,
                    None => self.manager.registry().dynamic_range.unwrap_or(DEFAULT_DYNAMIC_RANGE),
                };
                if request.count == 0 {
                    return Err(invalid_input("allocate_ports: count must be at least 1".to_string()));
                }
                let allocation = AllocationRequest {
                    project: request.project,
                    service: request.service,
                    count: request.count,
                    range,
                    strategy: Strategy::FirstFit,
                    protocol: Protocol::Tcp,
                    purpose: "allocate_ports activity".to_string(),
                    owner: None,
                    ttl_seconds: None,
                    health_endpoint: None,
                };
                let directory = self.ledger_directory()?;
                let taken = ledger::registry_exclusions(self.manager.registry());
                let leases = tokio::task::spawn_blocking(move || {
                    Ledger::open(&directory)?.allocate(
                        &allocation,
                        &taken,
                        |port| probe::is_free(port, Protocol::Tcp),
                        ledger::now(),
                    )
                })
                .await
                .map_err(anyhow::Error::from)?
                .map_err(|error| invalid_input(error.to_string()))?;
                Ok(Ports { ports: leases.iter().map(|lease| lease.port).collect() })
            };
            observe(ALLOCATE_PORTS, result.await)
        }

        /// `release_ports` `{project, service?}`.
        #[activity(name = "release_ports")]
        pub async fn release_ports(
            self: Arc<Self>,
            _ctx: ActivityContext,
            input: serde_json::Value,
        ) -> Result<Ports, ActivityError> {
            let result = async {
                let request: ReleaseRequest = decode(RELEASE_PORTS, input)?;
                let directory = self.ledger_directory()?;
                let scope = request.service.map_or(ReleaseScope::Project, ReleaseScope::Service);
                let released =
                    tokio::task::spawn_blocking(move || Ledger::open(&directory)?.release(&request.project, &scope))
                        .await
                        .map_err(anyhow::Error::from)?
                        .map_err(|error| invalid_input(error.to_string()))?;
                Ok(Ports { ports: released.iter().map(|lease| lease.port).collect() })
            };
            observe(RELEASE_PORTS, result.await)
        }
    }
}

thread_local! {
    /// The name `SeedActivity::definition` hands out while it is being registered.
    static REGISTERING: RefCell<String> = const { RefCell::new(String::new()) };
}

/// `start_<service>_activity` and `stop_<service>_activity`, one registration per name,
/// one implementation that reads which service and verb from the activity type.
#[derive(Debug, Clone)]
pub struct SeedActivity {
    name: String,
}

impl SeedActivity {
    /// Registers the seed activity called `name` on `options`.
    pub fn register(
        options: temporalio_sdk::WorkerOptionsBuilder,
        name: &str,
        activities: Arc<BerthActivities>,
    ) -> temporalio_sdk::WorkerOptionsBuilder {
        REGISTERING.with(|registering| name.clone_into(&mut registering.borrow_mut()));
        options.register_activity::<SeedActivity>(activities)
    }
}

impl ActivityDefinition for SeedActivity {
    type Input = serde_json::Value;
    type Output = serde_json::Value;

    fn name(&self) -> &str {
        &self.name
    }
}

impl ExecutableActivity for SeedActivity {
    type Implementer = BerthActivities;
    const REQUIRES_INSTANCE: bool = true;

    fn definition() -> Self {
        Self { name: REGISTERING.with(|registering| registering.borrow().clone()) }
    }

    fn execute(
        receiver: Option<Arc<BerthActivities>>,
        ctx: ActivityContext,
        input: serde_json::Value,
    ) -> BoxFuture<'static, Result<serde_json::Value, ActivityError>> {
        Box::pin(async move {
            let activity = ctx.info().activity_type.clone();
            let result = async {
                let activities = receiver.ok_or_else(|| invalid_input("no activity instance".to_string()))?;
                let (verb, service) = parse_seed_name(&activity)
                    .ok_or_else(|| invalid_input(format!("`{activity}` is not a seed activity name")))?;
                let request: ServiceInstance = decode(&activity, input)?;
                if let Some(named) = request.service.as_deref().filter(|named| *named != service) {
                    return Err(invalid_input(format!("{activity} starts `{service}`, but the input names `{named}`")));
                }
                let output = match verb {
                    "start" => serde_json::to_value(activities.start(&ctx, service, &request).await?),
                    _ => serde_json::to_value(activities.stop(service, &request).await?),
                };
                output.map_err(|error| ActivityError::from(anyhow::Error::from(error)))
            };
            observe(&activity, result.await)
        })
    }
}

/// `start_kafka_activity` → `("start", "kafka")`.
fn parse_seed_name(name: &str) -> Option<(&'static str, &str)> {
    let service = name.strip_suffix("_activity")?;
    if let Some(service) = service.strip_prefix("start_") {
        return Some(("start", service));
    }
    service.strip_prefix("stop_").map(|service| ("stop", service))
}

#[cfg(test)]
mod tests {
    use super::parse_seed_name;

    #[test]
    fn seed_names_split_into_verb_and_service() {
        assert_eq!(parse_seed_name("start_kafka_activity"), Some(("start", "kafka")));
        assert_eq!(parse_seed_name("stop_my_new_service_activity"), Some(("stop", "my_new_service")));
        assert_eq!(parse_seed_name("start_kafka"), None);
        assert_eq!(parse_seed_name("restart_kafka_activity"), None);
    }
}
