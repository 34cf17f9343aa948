//! `SpinUp` starts many instances in parallel and returns their endpoints; when any instance
//! fails, or the workflow is cancelled, it undoes exactly what its run did (containers and
//! volumes it created, containers it started) and nothing else. `TearDown` stops instances;
//! `RunActivity` calls any berth activity by name (for the `temporal` CLI and for SDKs
//! without berth's types).
//!
//! Workflow code is deterministic: it only parses the request and schedules activities.
//! Inputs arrive as JSON and are decoded here, so a bad one fails as `InvalidInput` at once
//! instead of failing the workflow task over and over.

#![expect(missing_docs, reason = "the workflow macros generate undocumented items")]

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use temporalio_common::ActivityDefinition;
use temporalio_common::protos::temporal::api::failure::v1::{Failure, failure::FailureInfo};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityCancellationType, ActivityExecutionError, ActivityOptions, ApplicationFailure, TimeoutType,
    WorkflowCancellationToken, WorkflowContext, WorkflowResult, WorkflowTermination,
};

use crate::activities::{
    PlanInstances, PlanRequest, Planned, ServiceStarted, ServiceStopped, StartService, StopService, UndoRequest,
    UndoStart, Undone,
};
use crate::activities::{StartRequest, StopRequest};
use crate::failure::FailureKind;
use crate::requests::{SpinUpInput, TearDownInput};
use crate::{SHARED_TASK_QUEUE, host_task_queue};

/// Output of `SpinUp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpinUpOutput {
    /// Every started instance, dependencies first, with its endpoints.
    pub instances: Vec<ServiceStarted>,
    /// `mongodb[1] (mongoexpress[1] depends on it)`, for each instance started because
    /// another depends on it.
    #[serde(default)]
    pub added: Vec<String>,
}

/// One instance an operation could not do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceFailure {
    /// The registry service.
    pub service: String,
    /// The instance id.
    pub instance: u32,
    /// The failure kind.
    pub kind: FailureKind,
    /// What went wrong.
    pub error: String,
}

/// Output of `TearDown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TearDownOutput {
    /// What each stop did.
    pub stopped: Vec<ServiceStopped>,
    /// The instances that could not be stopped, each with why.
    #[serde(default)]
    pub failed: Vec<InstanceFailure>,
}

/// Input of `RunActivity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunActivityInput {
    /// The activity name (`start_kafka_activity`, `allocate_ports`, …).
    pub activity: String,
    /// Its JSON input.
    #[serde(default)]
    pub input: serde_json::Value,
    /// Run on this host's worker.
    #[serde(default)]
    pub host: Option<String>,
    /// How long one attempt may take once a worker has it [default: 900]; a short bound
    /// tells a hung worker from a gone one.
    #[serde(default)]
    pub start_to_close_seconds: Option<u64>,
}

/// How long a host's own queue may leave an activity untaken before the host counts as
/// gone; short, so that a dead host fails the workflow fast.
const HOST_QUEUE_PICKUP: Duration = Duration::from_secs(20);
/// The same bound for the compensation's undos on a host whose queue already went untaken.
const GONE_HOST_PICKUP: Duration = Duration::from_secs(5);
/// The same bound on the shared queue, where a busy pool of workers may take longer.
const SHARED_QUEUE_PICKUP: Duration = Duration::from_secs(120);
/// Start-to-close of a start whose request names no timeout; the instance's own timeout
/// (from the registry) ends the wait earlier.
const DEFAULT_START_TO_CLOSE: Duration = Duration::from_secs(900);
/// Room beyond a start's own timeout for creating, rolling back and reporting.
const START_MARGIN: Duration = Duration::from_secs(60);
/// Start-to-close of a stop or an undo.
const STOP_TO_CLOSE: Duration = Duration::from_secs(120);
/// Start-to-close of planning: reading the registry, nothing more.
const PLAN_TO_CLOSE: Duration = Duration::from_secs(60);

/// An activity known by name only, with JSON in and out.
struct Named(String);

impl ActivityDefinition for Named {
    type Input = serde_json::Value;
    type Output = serde_json::Value;

    fn name(&self) -> &str {
        &self.0
    }
}

fn queue(host: Option<&str>) -> String {
    host.map_or_else(|| SHARED_TASK_QUEUE.to_string(), host_task_queue)
}

fn options(host: Option<&str>, start_to_close: Duration, heartbeat: Duration, attempts: u32) -> ActivityOptions {
    let retry = temporalio_common::RetryPolicy::builder()
        .maximum_attempts(attempts)
        .non_retryable_error_types(FailureKind::non_retryable_names())
        .build();
    ActivityOptions::with_start_to_close_timeout(start_to_close)
        .schedule_to_start_timeout(if host.is_some() { HOST_QUEUE_PICKUP } else { SHARED_QUEUE_PICKUP })
        .heartbeat_timeout(heartbeat)
        .task_queue(queue(host))
        .retry_policy(retry)
        // The workflow waits until a cancelled start has rolled itself back, so compensation
        // never races a start that is still creating its container.
        .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
        .build()
}

/// The id of one instance's activity, `verb:service:instance`, so that a caller watching
/// the workflow can tell which instance each pending activity works on.
pub fn activity_id(verb: &str, service: &str, instance: u32) -> String {
    format!("{verb}:{service}:{instance}")
}

fn for_instance(options: &ActivityOptions, verb: &str, service: Option<&str>, instance: u32) -> ActivityOptions {
    let mut options = options.clone();
    options.activity_id = Some(activity_id(verb, service.unwrap_or_default(), instance));
    options
}

/// Options for the compensation's undos: they run even after the workflow was cancelled.
fn undo_options(host: Option<&str>, attempts: u32) -> ActivityOptions {
    let mut options = options(host, STOP_TO_CLOSE, STOP_TO_CLOSE, attempts);
    options.cancellation_token = Some(WorkflowCancellationToken::new());
    options
}

/// The plan of `specs` from the worker's registry (on `host`'s queue), or the failure that
/// ends the workflow.
async fn plan_of<W>(
    ctx: &mut WorkflowContext<W>,
    workflow: &str,
    request: PlanRequest,
    host: Option<&str>,
) -> Result<Planned, ApplicationFailure> {
    let mut options = options(host, PLAN_TO_CLOSE, PLAN_TO_CLOSE, 3);
    options.activity_id = Some("plan".to_string());
    ctx.execute_activity(PlanInstances, request, options).await.map_err(|error| {
        let (kind, message) = classify(&error, "plan_instances", host);
        ApplicationFailure::builder(format!("{workflow}: {message}"))
            .type_name(kind.to_string())
            .non_retryable(true)
            .build()
    })
}

/// The workflow's input, or why it does not fit.
fn decode<T: DeserializeOwned>(workflow: &str, input: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(input).map_err(|error| format!("{workflow}: input does not fit: {error}"))
}

fn invalid_input(message: String) -> ApplicationFailure {
    ApplicationFailure::builder(message).type_name(FailureKind::InvalidInput.to_string()).non_retryable(true).build()
}

/// The kind and message of an activity's failure; a timeout says which bound ran out.
fn classify(error: &ActivityExecutionError, activity: &str, host: Option<&str>) -> (FailureKind, String) {
    if let Some(timeout) = error.as_timeout() {
        return match timeout.timeout_type() {
            TimeoutType::ScheduleToStart => (
                FailureKind::NoWorker,
                format!(
                    "no berth worker took `{activity}` from task queue `{}` in time; is the worker running (berth worker{})?",
                    queue(host),
                    host.map_or_else(String::new, |host| format!(" --host-name {host}"))
                ),
            ),
            other => {
                (FailureKind::Interrupted, format!("`{activity}` timed out ({other:?}): its worker stopped answering"))
            }
        };
    }
    let Some(failure) = error.failure() else { return (FailureKind::Interrupted, error.to_string()) };
    let application: &Failure = failure.cause.as_deref().unwrap_or(failure);
    let kind = match &application.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(info)) => FailureKind::from_name(&info.r#type),
        _ => None,
    };
    (kind.unwrap_or(FailureKind::Interrupted), application.message.clone())
}

/// Starts every instance of a request in parallel; see the module docs.
#[workflow]
#[derive(Default)]
pub struct SpinUp;

#[workflow_methods]
impl SpinUp {
    /// Runs the spin-up.
    #[run(name = "SpinUp")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: serde_json::Value) -> WorkflowResult<SpinUpOutput> {
        let input: SpinUpInput = decode("SpinUp", input).map_err(invalid_input)?;
        let run = ctx.run_id().to_string();
        // Checked here first, so a bad request fails at once without asking a worker.
        input.starts(&run).map_err(invalid_input)?;
        let placement = input.placement().map_err(invalid_input)?;
        let host = input.host.as_deref();
        let request = PlanRequest { specs: placement.selections(), env: input.env.clone(), dependencies: true };
        let planned = plan_of(ctx, "SpinUp", request, host).await?;
        let hosts = placement.hosts(&planned.levels).map_err(invalid_input)?;
        let steps: Vec<Vec<(StartRequest, Option<String>)>> = planned
            .levels
            .iter()
            .zip(&hosts)
            .map(|(level, hosts)| {
                level
                    .iter()
                    .zip(hosts)
                    .map(|(planned, host)| (input.start_of(&planned.service, planned.instance_id, &run), host.clone()))
                    .collect()
            })
            .collect();
        let targets: Vec<(StartRequest, Option<String>)> = steps.iter().flatten().cloned().collect();
        let start_to_close = input
            .start_timeout_seconds
            .map_or(DEFAULT_START_TO_CLOSE, |seconds| Duration::from_secs(seconds) + START_MARGIN);
        let heartbeat = Duration::from_secs(input.heartbeat_timeout_seconds);
        // Step by step in dependency order, each step in batches of `parallel`; nothing more
        // starts after a failure. `results` lines up with the first entries of `targets`.
        let mut results = Vec::new();
        'steps: for step in &steps {
            for batch in step.chunks(usize::from(input.parallel)) {
                let starts = batch.iter().map(|(target, host)| {
                    let options = options(host.as_deref(), start_to_close, heartbeat, input.maximum_attempts);
                    let options = for_instance(&options, "start", target.service.as_deref(), target.instance_id);
                    ctx.execute_activity(StartService, target.clone(), options)
                });
                results.extend(temporalio_sdk::workflows::join_all(starts).await);
                if ctx.cancellation_token().is_cancelled() || results.iter().any(Result::is_err) {
                    break 'steps;
                }
            }
        }
        let cancelled = ctx.cancellation_token().is_cancelled();
        let failures: Vec<(usize, FailureKind, String)> = results
            .iter()
            .enumerate()
            .filter_map(|(index, result)| {
                result
                    .as_ref()
                    .err()
                    .map(|error| (index, classify(error, "start_service", targets[index].1.as_deref())))
            })
            .map(|(index, (kind, message))| (index, kind, message))
            .collect();
        if failures.is_empty() && !cancelled {
            return Ok(SpinUpOutput {
                instances: results.into_iter().filter_map(Result::ok).collect(),
                added: planned.added,
            });
        }
        let mut undone = Undone::default();
        if input.keep_failed {
            let mut down = format!("berth down {}", input.specs.join(" "));
            if let Some(env) = &input.env {
                down.push_str(&format!(" --env {env}"));
            }
            if placement.is_placed() || input.host.is_some() {
                down.push_str(" --temporal");
            }
            if let Some(host) = &input.host {
                down.push_str(&format!(" --host {host}"));
            }
            if !input.spread.is_empty() {
                down.push_str(&format!(" --spread {}", input.spread.join(",")));
            }
            undone.left.push(format!("everything this run made, for inspection (--keep-failed): `{down}` removes it"));
        } else {
            // Compensation: undo what this run did to every instance it attempted, however it
            // ended; the undo itself leaves alone whatever the run did not make.
            // Where each started, when it did: an unplaced start ran on whichever worker took
            // it, and an undo elsewhere would act on another host's instance.
            let ran_on: Vec<Option<String>> = targets
                .iter()
                .zip(&results)
                .map(|((_, host), result)| {
                    let started = result.as_ref().ok().map(|started| started.host.clone());
                    started.filter(|host| !host.is_empty()).or_else(|| host.clone())
                })
                .collect();
            // A host whose queue no worker took work from is likely gone: its undos still go
            // to it (a worker back by now, or one whose slots were only full, does them),
            // but wait for a worker only briefly, so that a dead host does not hold the run.
            let gone: Vec<&str> = failures
                .iter()
                .filter(|(_, kind, _)| *kind == FailureKind::NoWorker)
                .filter_map(|(index, _, _)| ran_on[*index].as_deref())
                .collect();
            let undos = targets.iter().zip(&results).zip(&ran_on).map(|(((target, _), result), host)| {
                let mut undo_options = undo_options(host.as_deref(), input.maximum_attempts);
                if host.as_deref().is_some_and(|host| gone.contains(&host)) {
                    undo_options.schedule_to_start_timeout = Some(GONE_HOST_PICKUP);
                }
                let request = UndoRequest {
                    service: target.service.clone().unwrap_or_default(),
                    instance_id: target.instance_id,
                    env: target.env.clone(),
                    run: run.clone(),
                    outcome: result.as_ref().ok().map(|started| started.outcome.clone()),
                    leased_ports: result.as_ref().map(|started| started.leased_ports.clone()).unwrap_or_default(),
                };
                let options = for_instance(&undo_options, "undo", Some(&request.service), request.instance_id);
                ctx.execute_activity(UndoStart, request, options)
            });
            let undone_each = temporalio_sdk::workflows::join_all(undos).await;
            for (((target, _), host), result) in targets.iter().zip(&ran_on).zip(undone_each) {
                let why = match result {
                    Ok(report) => {
                        undone.undone.extend(report.undone);
                        undone.left.extend(report.left);
                        continue;
                    }
                    Err(error) => classify(&error, "undo_start", host.as_deref()).1,
                };
                let service = target.service.as_deref().unwrap_or_default();
                // The command that reaches the instance where it runs.
                let down = match host {
                    Some(host) => format!("berth down {service}:{}@{host} --temporal", target.instance_id),
                    None => format!("berth down {service}:{}", target.instance_id),
                };
                undone.left.push(format!(
                    "{service}[{}]: could not be undone ({why}): `{down}` removes it",
                    target.instance_id
                ));
            }
        }
        if cancelled {
            return Err(WorkflowTermination::cancelled());
        }
        let (_, kind, message) = &failures[0];
        let named: Vec<String> = failures
            .iter()
            .map(|(index, _, _)| {
                let (target, host) = &targets[*index];
                let on = host.as_deref().map_or_else(String::new, |host| format!(" on {host}"));
                format!("{}[{}]{on}", target.service.as_deref().unwrap_or_default(), target.instance_id)
            })
            .collect();
        let mut text = if named.len() == 1 {
            format!("spin-up failed for {}: {message}", named[0])
        } else {
            format!("spin-up failed for {}; {}: {message}", named.join(", "), named[0])
        };
        text.push_str(&format!(
            "; undone: {}",
            if undone.undone.is_empty() {
                "nothing (this run had made nothing)".to_string()
            } else {
                undone.undone.join(", ")
            }
        ));
        if !undone.left.is_empty() {
            text.push_str(&format!("; left: {}", undone.left.join(", ")));
        }
        Err(ApplicationFailure::builder(text).type_name(kind.to_string()).non_retryable(true).build().into())
    }
}

/// Stops every instance of a request in parallel, reporting each failure.
#[workflow]
#[derive(Default)]
pub struct TearDown;

#[workflow_methods]
impl TearDown {
    /// Runs the tear-down.
    #[run(name = "TearDown")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: serde_json::Value) -> WorkflowResult<TearDownOutput> {
        let input: TearDownInput = decode("TearDown", input).map_err(invalid_input)?;
        input.stops().map_err(invalid_input)?;
        let placement = input.placement().map_err(invalid_input)?;
        let host = input.host.as_deref();
        let request = PlanRequest { specs: placement.selections(), env: input.env.clone(), dependencies: false };
        let planned = plan_of(ctx, "TearDown", request, host).await?;
        let mut output = TearDownOutput { stopped: Vec::new(), failed: Vec::new() };
        // Dependents first: the steps of a start in reverse. Every instance is tried.
        let hosts = placement.hosts(&planned.levels).map_err(invalid_input)?;
        let mut batches: Vec<Vec<(StopRequest, Option<String>)>> = Vec::new();
        for (level, hosts) in planned.levels.iter().zip(&hosts).rev() {
            let stops: Vec<(StopRequest, Option<String>)> = level
                .iter()
                .zip(hosts)
                .map(|(planned, host)| (input.stop_of(&planned.service, planned.instance_id), host.clone()))
                .collect();
            batches.extend(stops.chunks(usize::from(input.parallel)).map(<[_]>::to_vec));
        }
        for batch in &batches {
            let stops = batch.iter().map(|(target, host)| {
                let options = options(host.as_deref(), STOP_TO_CLOSE, STOP_TO_CLOSE, 3);
                let options = for_instance(&options, "stop", target.service.as_deref(), target.instance_id);
                ctx.execute_activity(StopService, target.clone(), options)
            });
            for ((target, host), result) in batch.iter().zip(temporalio_sdk::workflows::join_all(stops).await) {
                match result {
                    Ok(stopped) => output.stopped.push(stopped),
                    Err(error) => {
                        let (kind, error) = classify(&error, "stop_service", host.as_deref());
                        output.failed.push(InstanceFailure {
                            service: target.service.clone().unwrap_or_default(),
                            instance: target.instance_id,
                            kind,
                            error,
                        });
                    }
                }
            }
        }
        Ok(output)
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
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: serde_json::Value) -> WorkflowResult<serde_json::Value> {
        let input: RunActivityInput = decode("RunActivity", input).map_err(invalid_input)?;
        let start_to_close = match input.start_to_close_seconds {
            Some(seconds) if seconds == 0 || seconds > crate::requests::MAXIMUM_TIMEOUT_SECONDS => {
                return Err(invalid_input(format!(
                    "RunActivity: start_to_close_seconds must be between 1 and {}, not {seconds}",
                    crate::requests::MAXIMUM_TIMEOUT_SECONDS
                ))
                .into());
            }
            Some(seconds) => Duration::from_secs(seconds),
            None => DEFAULT_START_TO_CLOSE,
        };
        let options = options(input.host.as_deref(), start_to_close, Duration::from_secs(30), 3);
        let activity = input.activity.clone();
        ctx.execute_activity(Named(input.activity), input.input, options).await.map_err(|error| {
            // The activity's own kind and cause, not the SDK's wrapper around them.
            let (kind, message) = classify(&error, &activity, input.host.as_deref());
            ApplicationFailure::builder(message).type_name(kind.to_string()).non_retryable(true).build().into()
        })
    }
}
