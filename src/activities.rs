//! berth's Temporal activities: thin adapters from the public activity contract
//! (`berth_workflows::activities`) onto containers and the ledger.
//!
//! Every activity takes raw JSON and decodes it itself, rejecting unknown fields, so bad
//! input is answered with a non-retryable `InvalidInput` failure instead of the SDK's
//! endless retries or a silently ignored typo. Every failure is typed with its
//! [`FailureKind`], whose `retryable()` alone decides whether Temporal tries again. Starts
//! heartbeat their phase while they wait for readiness; a cancelled or failed start undoes
//! what it made before it returns, and `undo_start` undoes a whole run's start afterwards.
//!
//! `start_kafka_activity` / `stop_kafka_activity` exist for every registry
//! service: [`SeedActivity`] is registered once per name and dispatches on the activity
//! type it was called as (the name the server sends), never on a name it remembers.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_workflows::FailureKind;
use berth_workflows::activities::{
    ALLOCATE_PORTS, AllocateRequest, ContainerState, LIST_LEASES, LeaseState, LeasesRequest, PLAN_INSTANCES,
    PlanRequest, Planned, PlannedInstance, Ports, RELEASE_PORTS, ReleaseRequest, SERVICE_STATUS, START_SERVICE,
    STOP_SERVICE, ServiceStarted, ServiceStopped, StartRequest, StatusRequest, StopRequest, UNDO_START, UndoRequest,
    Undone, start_activity_name, stop_activity_name,
};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use temporalio_common::ActivityDefinition;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError, ExecutableActivity};

use crate::containers::advertise::AdvertisedAddress;
use crate::containers::one::{InstanceFailure, Purpose, Sources};
use crate::containers::{self, Engine, ImageSettings, Phase, Selection, spec};
use crate::ledger::{self, AllocationRequest, Ledger, Strategy};
use crate::metrics::METRICS;
use crate::probe::{self, Protocol};
use crate::registry::{PortManager, parse_range};

/// How often a waiting start reports its phase.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// The state every activity works with; one per worker process.
#[derive(Clone)]
pub struct BerthActivities {
    sources: Sources,
    engine: Engine,
    host: String,
    /// Where other machines reach this host; endpoints on every address are reported there.
    advertised: Option<AdvertisedAddress>,
}

/// Runs `work`, telling Temporal every second that the worker is alive (with `details`).
async fn heartbeating<T>(
    ctx: &ActivityContext,
    work: impl std::future::Future<Output = T>,
    mut details: impl FnMut() -> serde_json::Value,
) -> T {
    tokio::pin!(work);
    let mut ticks = tokio::time::interval(HEARTBEAT_INTERVAL);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = ticks.tick() => {
                let _ = ctx.record_heartbeat(details()).await;
            }
        }
    }
}

/// The one mapping from berth's failures to Temporal failures: typed with the kind, and
/// non-retryable exactly when the kind says a retry cannot help.
fn failure(kind: FailureKind, message: String) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message).type_name(kind.to_string()).non_retryable(!kind.retryable()).build(),
    )
}

fn classified(failed: InstanceFailure) -> ActivityError {
    failure(failed.kind, failed.message)
}

fn invalid_input(message: String) -> ActivityError {
    failure(FailureKind::InvalidInput, message)
}

fn decode<T: DeserializeOwned>(activity: &str, input: serde_json::Value) -> Result<T, ActivityError> {
    serde_json::from_value(input).map_err(|error| invalid_input(format!("{activity}: input does not fit: {error}")))
}

/// Runs one activity: a log line when it starts and when it ends (a failure with its type
/// and message, at warning level), and the execution counted, with its failure type.
async fn observe<T>(
    activity: &str,
    work: impl std::future::Future<Output = Result<T, ActivityError>>,
) -> Result<T, ActivityError> {
    tracing::info!(activity, "activity_started");
    let began = std::time::Instant::now();
    let result = work.await;
    METRICS.activity_executions.with_label_values(&[activity]).inc();
    let seconds = began.elapsed().as_secs_f64();
    match &result {
        Ok(_) => tracing::info!(activity, seconds, "activity_completed"),
        Err(error) => {
            let (kind, message) = match error {
                ActivityError::Application(failure) => {
                    (failure.type_name().unwrap_or("ApplicationFailure").to_string(), failure.to_string())
                }
                ActivityError::Cancelled { .. } => ("Cancelled".to_string(), "cancelled".to_string()),
                _ => ("Other".to_string(), String::new()),
            };
            tracing::warn!(activity, kind = %kind, seconds, error = %message, "activity_failed");
            METRICS.activity_failures.with_label_values(&[activity, kind.as_str()]).inc();
        }
    }
    result
}

impl BerthActivities {
    /// Activities over `manager`'s registry, Docker through `engine`, the ledger in `ledger`,
    /// reporting `host` as the worker's host, pulling images through `images`' mirror with its
    /// docker configuration (each start brings its own pull policy).
    pub fn new(
        manager: &'static PortManager,
        engine: Engine,
        ledger: Option<PathBuf>,
        host: String,
        advertised: Option<AdvertisedAddress>,
        images: ImageSettings,
    ) -> Self {
        Self { sources: Sources { manager, ledger, images }, engine, host, advertised }
    }

    /// `endpoint` as a client on another machine dials it.
    fn dialled(&self, endpoint: String) -> String {
        match &self.advertised {
            Some(address) => address.endpoint(&endpoint),
            None => endpoint,
        }
    }

    /// The per-service activity names this worker serves, two per registry service.
    pub fn seed_activity_names(&self) -> Vec<String> {
        self.sources
            .manager
            .registry()
            .services
            .iter()
            .flat_map(|service| [start_activity_name(&service.name), stop_activity_name(&service.name)])
            .collect()
    }

    async fn start(
        &self,
        ctx: &ActivityContext,
        service: &str,
        request: &StartRequest,
    ) -> Result<ServiceStarted, ActivityError> {
        let mut spec = self
            .sources
            .spec(service, request.instance_id, request.env.as_deref(), Purpose::Start)
            .await
            .map_err(classified)?;
        let info = ctx.info();
        let options = self
            .sources
            .start_options(request, &mut spec, || {
                format!(
                    "{}/{}",
                    info.workflow_id.as_deref().unwrap_or("activity"),
                    info.workflow_run_id.as_deref().unwrap_or(&info.activity_id)
                )
            })
            .map_err(classified)?;
        let (phases, mut latest) = tokio::sync::watch::channel(None::<Phase>);
        let progress = move |phase: Phase| {
            let _ = phases.send(Some(phase));
        };
        let start = containers::start::start(&self.engine, &spec, &options, &progress, ctx.cancelled());
        let details = || {
            let phase = *latest.borrow_and_update();
            serde_json::json!({ "container": spec.container_name, "phase": phase })
        };
        let result = heartbeating(ctx, start, details).await;
        match result {
            Ok(started) => {
                // An activity's start is its own run's whole work once it succeeds. Finishing
                // (removing a replaced container, the ledger) heartbeats too: a start that
                // succeeded must not time out and run again.
                let finish = containers::start::finish(&self.engine, &spec, &started, self.sources.ledger.clone());
                heartbeating(
                    ctx,
                    finish,
                    || serde_json::json!({ "container": spec.container_name, "phase": { "phase": "finish" } }),
                )
                .await;
                let mut started = started.into_contract(self.host.clone());
                started.endpoints = std::mem::take(&mut started.endpoints)
                    .into_iter()
                    .map(|(key, endpoint)| (key, self.dialled(endpoint)))
                    .collect();
                Ok(started)
            }
            Err(_) if ctx.is_cancelled() => Err(ActivityError::cancelled()),
            Err(failed) => Err(failure(failed.kind(), failed.to_string())),
        }
    }

    async fn stop(&self, service: &str, request: &StopRequest) -> Result<ServiceStopped, ActivityError> {
        self.sources.stop(&self.engine, service, request, &self.host).await.map_err(classified)
    }

    async fn undo(&self, request: &UndoRequest) -> Result<Undone, ActivityError> {
        let spec = self
            .sources
            .spec(&request.service, request.instance_id, request.env.as_deref(), Purpose::Stop)
            .await
            .map_err(classified)?;
        let journal = containers::undo::journal_of_run(
            &self.engine,
            &spec,
            &request.run,
            request.outcome.as_deref(),
            &request.leased_ports,
        )
        .await
        .map_err(|error| failure(error.kind(), error.to_string()))?;
        Ok(containers::undo::undo(&self.engine, &spec, &journal, self.sources.ledger.clone()).await)
    }

    fn plan(&self, request: &PlanRequest) -> Result<Planned, ActivityError> {
        let selections = request
            .specs
            .iter()
            .map(|word| word.parse::<Selection>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid_input)?;
        let dependencies = if request.dependencies {
            containers::plan::Dependencies::Include
        } else {
            containers::plan::Dependencies::OfStacks
        };
        let plan = containers::plan::plan_with(self.sources.manager, request.env.as_deref(), &selections, dependencies)
            .map_err(|error| invalid_input(error.to_string()))?;
        let levels = containers::plan::levels(&plan.specs)
            .into_iter()
            .map(|level| {
                level
                    .into_iter()
                    .map(|index| PlannedInstance {
                        service: plan.specs[index].service.clone(),
                        instance_id: u32::from(plan.specs[index].instance),
                        depends_on: plan.specs[index].depends_on.clone(),
                    })
                    .collect()
            })
            .collect();
        Ok(Planned { levels, added: plan.added })
    }

    fn ledger_directory(&self) -> Result<PathBuf, ActivityError> {
        self.sources
            .ledger
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
        /// `start_service` [`StartRequest`].
        #[activity(name = "start_service")]
        pub async fn start_service(
            self: Arc<Self>,
            ctx: ActivityContext,
            input: serde_json::Value,
        ) -> Result<ServiceStarted, ActivityError> {
            let result = async {
                let request: StartRequest = decode(START_SERVICE, input)?;
                let service = request
                    .service
                    .clone()
                    .ok_or_else(|| invalid_input("start_service needs `service`".to_string()))?;
                self.start(&ctx, &service, &request).await
            };
            observe(START_SERVICE, result).await
        }

        /// `stop_service` [`StopRequest`].
        #[activity(name = "stop_service")]
        pub async fn stop_service(
            self: Arc<Self>,
            _ctx: ActivityContext,
            input: serde_json::Value,
        ) -> Result<ServiceStopped, ActivityError> {
            let result = async {
                let request: StopRequest = decode(STOP_SERVICE, input)?;
                let service =
                    request.service.clone().ok_or_else(|| invalid_input("stop_service needs `service`".to_string()))?;
                self.stop(&service, &request).await
            };
            observe(STOP_SERVICE, result).await
        }

        /// `undo_start` [`UndoRequest`]: undo what one run's start of an instance did.
        #[activity(name = "undo_start")]
        pub async fn undo_start(
            self: Arc<Self>,
            _ctx: ActivityContext,
            input: serde_json::Value,
        ) -> Result<Undone, ActivityError> {
            let result = async {
                let request: UndoRequest = decode(UNDO_START, input)?;
                self.undo(&request).await
            };
            observe(UNDO_START, result).await
        }

        /// `plan_instances` [`PlanRequest`]: the instances a request names, in steps.
        #[activity(name = "plan_instances")]
        pub async fn plan_instances(
            self: Arc<Self>,
            _ctx: ActivityContext,
            input: serde_json::Value,
        ) -> Result<Planned, ActivityError> {
            let result = async {
                let request: PlanRequest = decode(PLAN_INSTANCES, input)?;
                self.plan(&request)
            };
            observe(PLAN_INSTANCES, result).await
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
                let summaries = self
                    .engine
                    .managed(request.env.as_deref())
                    .await
                    .map_err(|error| failure(error.kind(), error.to_string()))?;
                Ok(summaries
                    .into_iter()
                    .map(|summary| {
                        // Published on 0.0.0.0 and on :: alike, a port is one endpoint here.
                        let mut endpoints: Vec<String> = containers::docker::endpoints(&summary)
                            .into_iter()
                            .map(|endpoint| self.dialled(endpoint))
                            .collect();
                        endpoints.sort();
                        endpoints.dedup();
                        let labels = summary.labels.unwrap_or_default();
                        let label = |name: &str| labels.get(name).cloned().unwrap_or_default();
                        ContainerState {
                            endpoints,
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
            observe(SERVICE_STATUS, result).await
        }

        /// `list_leases` `{project?}`: the host ledger's leases (none without a ledger yet).
        #[activity(name = "list_leases")]
        pub async fn list_leases(
            self: Arc<Self>,
            _ctx: ActivityContext,
            input: serde_json::Value,
        ) -> Result<Vec<LeaseState>, ActivityError> {
            let result = async {
                let request: LeasesRequest = decode(LIST_LEASES, input)?;
                let directory = self.ledger_directory()?;
                let leases = tokio::task::spawn_blocking(move || match Ledger::open_existing(&directory)? {
                    Some(ledger) => ledger.leases(request.project.as_deref()),
                    None => Ok(Vec::new()),
                })
                .await
                .map_err(|_| failure(FailureKind::Interrupted, "list_leases was interrupted".to_string()))?
                .map_err(|error| failure(error.kind(), error.to_string()))?;
                Ok(leases
                    .into_iter()
                    .map(|lease| LeaseState { port: lease.port, project: lease.project, service: lease.service })
                    .collect())
            };
            observe(LIST_LEASES, result).await
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
                if request.range.is_some() && request.kind.is_some() {
                    return Err(invalid_input("allocate_ports: name a range or a kind, not both".to_string()));
                }
                let named = request.range.as_deref().map(parse_range).transpose().map_err(invalid_input)?;
                let range =
                    ledger::allocation_range(Some(self.sources.manager.registry()), named, request.kind.as_deref())
                        .map_err(|problem| invalid_input(format!("allocate_ports: {problem}")))?;
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
                    slot: None,
                };
                let directory = self.ledger_directory()?;
                let taken = ledger::registry_exclusions(self.sources.manager.registry());
                let leases = tokio::task::spawn_blocking(move || {
                    Ledger::open(&directory)?.allocate(
                        &allocation,
                        &taken,
                        |port| probe::is_free(port, Protocol::Tcp),
                        ledger::now(),
                    )
                })
                .await
                .map_err(|_| failure(FailureKind::Interrupted, "allocate_ports was interrupted".to_string()))?
                .map_err(|error| failure(error.kind(), error.to_string()))?;
                Ok(Ports { ports: leases.iter().map(|lease| lease.port).collect() })
            };
            observe(ALLOCATE_PORTS, result).await
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
                let released =
                    tokio::task::spawn_blocking(move || ledger::release(&mut Ledger::open(&directory)?, &request))
                        .await
                        .map_err(|_| failure(FailureKind::Interrupted, "release_ports was interrupted".to_string()))?
                        .map_err(|error| failure(error.kind(), error.to_string()))?;
                Ok(Ports { ports: released.iter().map(|lease| lease.port).collect() })
            };
            observe(RELEASE_PORTS, result).await
        }
    }
}

/// What `SeedActivity::definition` is called outside registration: the SDK asks for a
/// definition again when it executes an activity (for its own error messages only), and it
/// must never be given another activity's name there.
const SEED_ACTIVITY: &str = "berth seed activity (start_ or stop_<service>_activity)";

thread_local! {
    /// The name being registered, set only for the duration of one registration.
    static REGISTERING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// `start_<service>_activity` and `stop_<service>_activity`, one registration per name,
/// one implementation that reads which service and verb from the activity type.
#[derive(Debug, Clone)]
pub struct SeedActivity {
    name: String,
}

impl SeedActivity {
    /// Registers the per-service activity called `name` on `options`.
    pub fn register(
        options: temporalio_sdk::WorkerOptionsBuilder,
        name: &str,
        activities: Arc<BerthActivities>,
    ) -> temporalio_sdk::WorkerOptionsBuilder {
        // The SDK keys a registration by `definition().name()`, read during this call only.
        REGISTERING.with(|registering| *registering.borrow_mut() = Some(name.to_string()));
        let options = options.register_activity::<SeedActivity>(activities);
        REGISTERING.with(|registering| *registering.borrow_mut() = None);
        options
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
        let registering = REGISTERING.with(|registering| registering.borrow().clone());
        Self { name: registering.unwrap_or_else(|| SEED_ACTIVITY.to_string()) }
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
                let mismatch = |named: &str| {
                    invalid_input(format!("{activity} acts on `{service}`, but the input names `{named}`"))
                };
                let output = if verb == "start" {
                    let request: StartRequest = decode(&activity, input)?;
                    if let Some(named) = request.service.as_deref().filter(|named| *named != service) {
                        return Err(mismatch(named));
                    }
                    serde_json::to_value(activities.start(&ctx, service, &request).await?)
                } else {
                    let request: StopRequest = decode(&activity, input)?;
                    if let Some(named) = request.service.as_deref().filter(|named| *named != service) {
                        return Err(mismatch(named));
                    }
                    serde_json::to_value(activities.stop(service, &request).await?)
                };
                output.map_err(|error| ActivityError::from(anyhow::Error::from(error)))
            };
            observe(&activity, result).await
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
    use super::*;

    #[test]
    fn outside_registration_the_seed_definition_names_no_real_activity() {
        assert_eq!(SeedActivity::definition().name(), SEED_ACTIVITY);
        REGISTERING.with(|registering| *registering.borrow_mut() = Some("start_web_activity".to_string()));
        assert_eq!(SeedActivity::definition().name(), "start_web_activity");
        REGISTERING.with(|registering| *registering.borrow_mut() = None);
        assert!(parse_seed_name(SeedActivity::definition().name()).is_none());
    }

    #[test]
    fn seed_names_split_into_verb_and_service() {
        assert_eq!(parse_seed_name("start_kafka_activity"), Some(("start", "kafka")));
        assert_eq!(parse_seed_name("stop_my_new_service_activity"), Some(("stop", "my_new_service")));
        assert_eq!(parse_seed_name("start_kafka"), None);
        assert_eq!(parse_seed_name("restart_kafka_activity"), None);
    }
}
