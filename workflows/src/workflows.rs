//! `SpinUp` starts many instances in parallel and returns their endpoints, stopping what
//! it started when any instance fails; `TearDown` stops instances; `RunActivity` calls
//! any berth activity by name (for the `temporal` CLI and for SDKs without berth's types).
//!
//! Workflow code is deterministic: it only parses the request and schedules activities.

#![expect(missing_docs, reason = "the workflow macros generate undocumented items")]

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_common::ActivityDefinition;
use temporalio_common::protos::temporal::api::failure::v1::{Failure, failure::FailureInfo};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityExecutionError, ActivityOptions, ApplicationFailure, WorkflowContext, WorkflowResult};

use crate::activities::{ServiceInstance, ServiceStarted, ServiceStopped, StartService, StopService};
use crate::selection::Selection;
use crate::{SHARED_TASK_QUEUE, host_task_queue};

/// Input of `SpinUp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpinUpInput {
    /// Instances as `service[:N|:FIRST-LAST]` (`kafka:0-2`, `redis`).
    pub specs: Vec<String>,
    /// The environment [default: the registry's first].
    #[serde(default)]
    pub env: Option<String>,
    /// Run on this host's worker (`berth@<host>`) instead of any worker (`berth`).
    #[serde(default)]
    pub host: Option<String>,
    /// Start-to-close timeout of each start, in seconds.
    #[serde(default = "default_start_seconds")]
    pub start_timeout_seconds: u64,
    /// Heartbeat timeout of each start, in seconds.
    #[serde(default = "default_heartbeat_seconds")]
    pub heartbeat_timeout_seconds: u64,
    /// Attempts per activity before the workflow gives up on it.
    #[serde(default = "default_attempts")]
    pub maximum_attempts: u32,
}

/// Output of `SpinUp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpinUpOutput {
    /// Every started instance, in the order of the request, with its endpoints.
    pub instances: Vec<ServiceStarted>,
}

/// Input of `TearDown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TearDownInput {
    /// Instances as `service[:N|:FIRST-LAST]`.
    pub specs: Vec<String>,
    /// The environment [default: the registry's first].
    #[serde(default)]
    pub env: Option<String>,
    /// Run on this host's worker.
    #[serde(default)]
    pub host: Option<String>,
    /// Remove the instances' volumes too.
    #[serde(default)]
    pub volumes: bool,
}

/// Output of `TearDown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TearDownOutput {
    /// What each stop did.
    pub stopped: Vec<ServiceStopped>,
}

/// Input of `RunActivity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunActivityInput {
    /// The activity name (`start_kafka_activity`, `allocate_ports`, …).
    pub activity: String,
    /// Its JSON input.
    #[serde(default)]
    pub input: serde_json::Value,
    /// Run on this host's worker.
    #[serde(default)]
    pub host: Option<String>,
}

fn default_start_seconds() -> u64 {
    300
}

fn default_heartbeat_seconds() -> u64 {
    30
}

fn default_attempts() -> u32 {
    3
}

/// An activity known by name only, with JSON in and out.
struct Named(String);

impl ActivityDefinition for Named {
    type Input = serde_json::Value;
    type Output = serde_json::Value;

    fn name(&self) -> &str {
        &self.0
    }
}

/// The failure types a retry cannot fix; the activities mark them non-retryable too.
const NON_RETRYABLE: [&str; 9] = [
    "InvalidInput",
    "InvalidSpec",
    "ImageMissing",
    "NameTaken",
    "ConfigChanged",
    "PortTaken",
    "PortLeased",
    "NotReady",
    "ExitedEarly",
];

fn options(host: Option<&str>, start: Duration, heartbeat: Duration, attempts: u32) -> ActivityOptions {
    let retry = temporalio_common::RetryPolicy::builder()
        .maximum_attempts(attempts)
        .non_retryable_error_types(NON_RETRYABLE.iter().map(ToString::to_string).collect::<Vec<_>>())
        .build();
    ActivityOptions::with_start_to_close_timeout(start)
        .heartbeat_timeout(heartbeat)
        .task_queue(host.map_or_else(|| SHARED_TASK_QUEUE.to_string(), host_task_queue))
        .retry_policy(retry)
        .build()
}

/// The instances a request names; the error says which word is malformed.
fn instances(specs: &[String], env: Option<&String>) -> Result<Vec<ServiceInstance>, String> {
    let mut instances = Vec::new();
    for spec in specs {
        let selection: Selection = spec.parse()?;
        for instance_id in selection.instances() {
            instances.push(ServiceInstance {
                service: Some(selection.service.clone()),
                instance_id,
                env: env.cloned(),
                volumes: false,
            });
        }
    }
    Ok(instances)
}

fn invalid_input(message: String) -> ApplicationFailure {
    ApplicationFailure::builder(message).type_name("InvalidInput".to_string()).non_retryable(true).build()
}

/// The application failure inside an activity failure: its type and message.
fn application_failure(error: &ActivityExecutionError) -> (String, String) {
    let Some(failure) = error.failure() else { return ("ActivityFailed".to_string(), error.to_string()) };
    let application: &Failure = failure.cause.as_deref().unwrap_or(failure);
    let kind = match &application.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(info)) if !info.r#type.is_empty() => info.r#type.clone(),
        _ => "ActivityFailed".to_string(),
    };
    (kind, application.message.clone())
}

/// Starts every instance of a request in parallel; see the module docs.
#[workflow]
#[derive(Default)]
pub struct SpinUp;

#[workflow_methods]
impl SpinUp {
    /// Runs the spin-up.
    #[run(name = "SpinUp")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: SpinUpInput) -> WorkflowResult<SpinUpOutput> {
        let targets = instances(&input.specs, input.env.as_ref()).map_err(invalid_input)?;
        let start_options = options(
            input.host.as_deref(),
            Duration::from_secs(input.start_timeout_seconds),
            Duration::from_secs(input.heartbeat_timeout_seconds),
            input.maximum_attempts,
        );
        let starts =
            targets.iter().map(|target| ctx.execute_activity(StartService, target.clone(), start_options.clone()));
        let results = temporalio_sdk::workflows::join_all(starts).await;
        let mut started = Vec::new();
        let mut failures = Vec::new();
        for (target, result) in targets.iter().zip(results) {
            match result {
                Ok(instance) => started.push(instance),
                Err(error) => failures.push((target, application_failure(&error))),
            }
        }
        let Some((first, (kind, message))) = failures.first() else {
            return Ok(SpinUpOutput { instances: started });
        };
        // Compensation: stop what this run started, so a failed spin-up leaves nothing behind.
        let stop_options =
            options(input.host.as_deref(), Duration::from_secs(120), Duration::from_secs(60), input.maximum_attempts);
        let stops = started.iter().map(|instance| {
            let target = ServiceInstance {
                service: Some(instance.service.clone()),
                instance_id: u32::from(instance.instance),
                env: input.env.clone(),
                volumes: false,
            };
            ctx.execute_activity(StopService, target, stop_options.clone())
        });
        let _stopped = temporalio_sdk::workflows::join_all(stops).await;
        let named: Vec<String> = failures
            .iter()
            .map(|(target, (_, _))| format!("{}[{}]", target.service.as_deref().unwrap_or("?"), target.instance_id))
            .collect();
        Err(ApplicationFailure::builder(format!(
            "spin-up failed for {}: {}[{}]: {message}; stopped the {} instance(s) it had started",
            named.join(", "),
            first.service.as_deref().unwrap_or("?"),
            first.instance_id,
            started.len()
        ))
        .type_name(kind.clone())
        .non_retryable(true)
        .build()
        .into())
    }
}

/// Stops every instance of a request in parallel.
#[workflow]
#[derive(Default)]
pub struct TearDown;

#[workflow_methods]
impl TearDown {
    /// Runs the tear-down.
    #[run(name = "TearDown")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: TearDownInput) -> WorkflowResult<TearDownOutput> {
        let mut targets = instances(&input.specs, input.env.as_ref()).map_err(invalid_input)?;
        for target in &mut targets {
            target.volumes = input.volumes;
        }
        let stop_options = options(input.host.as_deref(), Duration::from_secs(120), Duration::from_secs(60), 3);
        let stops =
            targets.iter().map(|target| ctx.execute_activity(StopService, target.clone(), stop_options.clone()));
        let mut stopped = Vec::new();
        for result in temporalio_sdk::workflows::join_all(stops).await {
            stopped.push(result?);
        }
        Ok(TearDownOutput { stopped })
    }
}

/// Calls one berth activity by name with JSON input and returns its JSON output.
#[workflow]
#[derive(Default)]
pub struct RunActivity;

#[workflow_methods]
impl RunActivity {
    /// Runs the activity.
    #[run(name = "RunActivity")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: RunActivityInput) -> WorkflowResult<serde_json::Value> {
        let options = options(input.host.as_deref(), Duration::from_secs(300), Duration::from_secs(30), 3);
        Ok(ctx.execute_activity(Named(input.activity), input.input, options).await?)
    }
}
