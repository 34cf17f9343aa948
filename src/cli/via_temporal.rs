//! `berth up --temporal` / `berth down --temporal`: the same requests run as the `SpinUp`
//! and `TearDown` workflows on a Temporal cluster, by whichever worker picks them up (or the
//! one on `--host`).
//!
//! Nothing waits silently: before starting, the task queues must have a worker polling them
//! (else the command fails naming the queue); while the workflow runs, its id and a line per
//! instance as it progresses go to stderr; a workflow task no worker takes within a bound is
//! terminated with a message naming the queue; Ctrl-C cancels the workflow, whose
//! compensation undoes what it did, and exits 130.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use berth_workflows::activities::ServiceStarted;
use berth_workflows::{
    FailureKind, SHARED_TASK_QUEUE, SpinUp, SpinUpInput, TearDown, TearDownInput, TearDownOutput, host_task_queue,
};
use serde::Serialize;
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{
    Client, NamespacedClient, WorkflowCancelOptions, WorkflowDescribeOptions, WorkflowGetResultOptions, WorkflowHandle,
    WorkflowStartOptions, WorkflowTerminateOptions,
};
use temporalio_common::error::IncomingError;
use temporalio_common::protos::temporal::api::enums::v1::{
    PendingActivityState, PendingWorkflowTaskState, TaskQueueType,
};

use super::Outcome;
use super::output::{OutputFormat, emit, emit_json};
use crate::signals::Termination;
use crate::worker;

/// Where to run a workflow.
pub(super) struct Target<'a> {
    /// Temporal's address; empty or `None` for the standard configuration.
    pub(super) address: Option<&'a str>,
    /// Run the activities on this host's worker.
    pub(super) host: Option<String>,
}

/// How often, and how far apart, the command asks whether a worker polls a task queue.
const POLLER_CHECKS: usize = 5;
const POLLER_PAUSE: Duration = Duration::from_secs(1);
/// How long a workflow task may wait for a worker before the command gives up on it.
const WORKFLOW_PICKUP: Duration = Duration::from_secs(30);
/// How often the command looks at the workflow's progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// How long, after Ctrl-C, the command waits for the cancelled workflow's compensation.
const CANCEL_WAIT: Duration = Duration::from_secs(180);

#[derive(Serialize)]
struct Report {
    started: Vec<ServiceStarted>,
    failed: Vec<super::failures::Failure>,
}

/// How many more batches a request may take than its words name when no local registry
/// says how its stacks and dependencies expand.
const UNKNOWN_EXPANSION: usize = 4;

/// Runs `SpinUp` for `request` and prints what `berth up` prints. `batches` is how many
/// batches of starts the run takes, when the local registry could tell.
pub(super) async fn spin_up(
    target: Target<'_>,
    request: SpinUpInput,
    batches: Option<usize>,
    format: OutputFormat,
) -> anyhow::Result<Outcome> {
    let instances = request.starts("check").map_err(|problem| anyhow::anyhow!("{problem}"))?.len();
    let mut termination = Termination::install()?;
    let (client, address) = connect(&target).await?;
    let hosts = request.placement().map_err(|problem| anyhow::anyhow!("{problem}"))?.named_hosts();
    if let Some(outcome) = require_workers(&client, &hosts).await? {
        return Ok(outcome);
    }
    let per_start = request.start_timeout_seconds.map_or(900, |seconds| seconds + 60);
    let batches =
        batches.unwrap_or_else(|| instances.div_ceil(usize::from(request.parallel)) * UNKNOWN_EXPANSION) as u64;
    // Bounds the whole run even if every worker vanishes: every attempt of every batch, and
    // room for compensation.
    let limit = Duration::from_secs(per_start * u64::from(request.maximum_attempts) * batches + 300);
    let id = worker::workflow_id("spinup");
    let options = WorkflowStartOptions::new(SHARED_TASK_QUEUE, id.clone()).execution_timeout(limit).build();
    let handle = client
        .start_workflow(SpinUp::run, serde_json::to_value(&request)?, options)
        .await
        .with_context(|| format!("cannot start the SpinUp workflow on {address}"))?;
    say!("SpinUp workflow {id} on {address} (task queue {})", queue(target.host.as_deref()));
    match follow(&handle, &mut termination).await? {
        Followed::Finished(Ok(output)) => {
            for added in &output.added {
                say!("also started {added}");
            }
            let report = Report { started: output.instances, failed: Vec::new() };
            match format {
                OutputFormat::Json => emit_json(&report)?,
                OutputFormat::Table => emit(&super::up::table(&report.started, &report.failed, true), None)?,
            }
            Ok(Outcome::Clean)
        }
        Followed::Finished(Err(error)) => Ok(failed("SpinUp", error)),
        Followed::Interrupted(outcome) => Ok(outcome),
    }
}

/// Runs `TearDown` for `request` and prints what `berth down` prints.
pub(super) async fn tear_down(target: Target<'_>, request: TearDownInput) -> anyhow::Result<Outcome> {
    let instances = request.stops().map_err(|problem| anyhow::anyhow!("{problem}"))?.len();
    let mut termination = Termination::install()?;
    let (client, address) = connect(&target).await?;
    let hosts = request.placement().map_err(|problem| anyhow::anyhow!("{problem}"))?.named_hosts();
    if let Some(outcome) = require_workers(&client, &hosts).await? {
        return Ok(outcome);
    }
    let batches = instances.div_ceil(usize::from(request.parallel)) as u64;
    let limit = Duration::from_secs(120 * 3 * batches + 120);
    let id = worker::workflow_id("teardown");
    let options = WorkflowStartOptions::new(SHARED_TASK_QUEUE, id.clone()).execution_timeout(limit).build();
    let handle = client
        .start_workflow(TearDown::run, serde_json::to_value(&request)?, options)
        .await
        .with_context(|| format!("cannot start the TearDown workflow on {address}"))?;
    say!("TearDown workflow {id} on {address} (task queue {})", queue(target.host.as_deref()));
    match follow(&handle, &mut termination).await? {
        Followed::Finished(Ok(TearDownOutput { stopped, failed })) => {
            let failed: Vec<super::failures::Failure> = failed
                .into_iter()
                .map(|failure| super::failures::Failure {
                    container: String::new(),
                    service: failure.service,
                    instance: failure.instance,
                    kind: failure.kind,
                    error: failure.error,
                })
                .collect();
            super::down::report(&stopped, &failed)
        }
        Followed::Finished(Err(error)) => Ok(failed("TearDown", error)),
        Followed::Interrupted(outcome) => Ok(outcome),
    }
}

/// A client of the Temporal cluster at `address` (`None`: the standard configuration).
pub(super) async fn client(address: Option<&str>) -> anyhow::Result<Client> {
    Ok(connect(&Target { address, host: None }).await?.0)
}

async fn connect(target: &Target<'_>) -> anyhow::Result<(Client, temporalio_client::Url)> {
    worker::connect(target.address, None, format!("berth-cli:{}", std::process::id())).await
}

fn queue(host: Option<&str>) -> String {
    host.map_or_else(|| SHARED_TASK_QUEUE.to_string(), host_task_queue)
}

/// Fails (exit 2, naming the queue) unless a worker polls the workflow queue and the queue
/// of every host the activities go to: `hosts`, or the shared queue when none is named.
async fn require_workers(client: &Client, hosts: &[String]) -> anyhow::Result<Option<Outcome>> {
    let mut queues = vec![(SHARED_TASK_QUEUE.to_string(), TaskQueueType::Workflow, None)];
    if hosts.is_empty() {
        queues.push((SHARED_TASK_QUEUE.to_string(), TaskQueueType::Activity, None));
    }
    queues.extend(hosts.iter().map(|host| (host_task_queue(host), TaskQueueType::Activity, Some(host.as_str()))));
    for (name, kind, host) in queues {
        let mut polled = false;
        // A worker that has just started may not have polled yet: ask a few times.
        for attempt in 0..POLLER_CHECKS {
            if attempt > 0 {
                tokio::time::sleep(POLLER_PAUSE).await;
            }
            polled = !crate::fleet::pollers(client, &name, kind).await?.is_empty();
            if polled {
                break;
            }
        }
        if !polled {
            super::style::error(format_args!(
                "{}: no berth worker polls task queue `{name}` in namespace {}; start one (berth worker{}) and try again",
                FailureKind::NoWorker,
                client.namespace(),
                host.map_or_else(String::new, |host| format!(" --host-name {host}"))
            ));
            return Ok(Some(Outcome::Exit(FailureKind::NoWorker.exit_code())));
        }
    }
    Ok(None)
}

enum Followed<T> {
    Finished(Result<T, WorkflowGetResultError>),
    Interrupted(Outcome),
}

/// Waits for the workflow's result, printing its progress; see the module docs.
async fn follow<W>(
    handle: &WorkflowHandle<Client, W>,
    termination: &mut Termination,
) -> anyhow::Result<Followed<W::Output>>
where
    W: temporalio_common::HasWorkflowDefinition,
{
    let result = handle.get_result(WorkflowGetResultOptions::default());
    tokio::pin!(result);
    let mut ticks = tokio::time::interval(PROGRESS_INTERVAL);
    let mut progress = Progress::default();
    let signal = termination.received();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            result = &mut result => return Ok(Followed::Finished(result)),
            () = &mut signal => break,
            _ = ticks.tick() => {
                if let Some(queue) = progress.update(handle).await {
                    let reason = format!("no berth worker took the workflow task from task queue `{queue}` within {}s", WORKFLOW_PICKUP.as_secs());
                    handle.terminate(WorkflowTerminateOptions::builder().reason(reason.clone()).build()).await?;
                    super::style::error(format_args!("{}: {reason}; the workflow was terminated: start a worker (berth worker) and try again", FailureKind::NoWorker));
                    return Ok(Followed::Interrupted(Outcome::Exit(FailureKind::NoWorker.exit_code())));
                }
            }
        }
    }
    say!("interrupted: cancelling workflow {}; its compensation undoes what it did", handle.info().workflow_id);
    handle
        .cancel(WorkflowCancelOptions::builder().reason("berth: interrupted by a signal".to_string()).build())
        .await?;
    let deadline = Instant::now() + CANCEL_WAIT;
    loop {
        tokio::select! {
            result = &mut result => {
                match result {
                    Err(WorkflowGetResultError::Cancelled { .. }) => say!("interrupted: the workflow was cancelled and undid what it had done"),
                    Ok(_) => say!("interrupted: the workflow had already finished"),
                    Err(error) => say!("interrupted: the workflow ended: {error}"),
                }
                return Ok(Followed::Interrupted(Outcome::Exit(130)));
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                say!("interrupted: the cancelled workflow {} did not finish within {}s; `temporal workflow describe --workflow-id {0}` shows where it is", handle.info().workflow_id, CANCEL_WAIT.as_secs());
                return Ok(Followed::Interrupted(Outcome::Exit(130)));
            }
            _ = ticks.tick() => { progress.update(handle).await; }
        }
    }
}

/// What the command last said about each activity, so it says only what changed.
#[derive(Default)]
struct Progress {
    said: HashMap<String, String>,
    workflow_task_waiting_since: Option<Instant>,
}

impl Progress {
    /// Prints what changed; returns the task queue when the workflow task has waited for a
    /// worker longer than the bound.
    async fn update<W>(&mut self, handle: &WorkflowHandle<Client, W>) -> Option<String>
    where
        W: temporalio_common::HasWorkflowDefinition,
    {
        let description = handle.describe(WorkflowDescribeOptions::default()).await.ok()?.raw_description;
        let waiting = description
            .pending_workflow_task
            .as_ref()
            .is_some_and(|task| task.state() == PendingWorkflowTaskState::Scheduled);
        self.workflow_task_waiting_since =
            if waiting { self.workflow_task_waiting_since.or(Some(Instant::now())) } else { None };
        if self.workflow_task_waiting_since.is_some_and(|since| since.elapsed() >= WORKFLOW_PICKUP) {
            return Some(SHARED_TASK_QUEUE.to_string());
        }
        for activity in &description.pending_activities {
            let Some((verb, instance)) = instance_of(&activity.activity_id) else { continue };
            let line = match activity.state() {
                PendingActivityState::Scheduled if activity.attempt > 1 => format!(
                    "{verb}: retrying (attempt {}) after: {}",
                    activity.attempt,
                    activity.last_failure.as_ref().map_or("", |failure| failure.message.as_str())
                ),
                PendingActivityState::Scheduled => format!("{verb}: waiting for a worker"),
                PendingActivityState::Started => {
                    let phase = phase(activity.heartbeat_details.as_ref());
                    format!(
                        "{verb}: {} on {}{}",
                        phase.unwrap_or_else(|| "running".to_string()),
                        activity.last_worker_identity,
                        attempt(activity.attempt)
                    )
                }
                PendingActivityState::CancelRequested => format!("{verb}: cancelling"),
                other => format!("{verb}: {}", other.as_str_name().to_lowercase()),
            };
            if self.said.get(&instance) != Some(&line) {
                say!("{instance}: {line}");
                self.said.insert(instance, line);
            }
        }
        None
    }
}

fn attempt(attempt: i32) -> String {
    if attempt > 1 { format!(" (attempt {attempt})") } else { String::new() }
}

/// `start:web:1` → (`start`, `web[1]`).
fn instance_of(activity_id: &str) -> Option<(&str, String)> {
    let mut parts = activity_id.splitn(3, ':');
    let (verb, service, instance) = (parts.next()?, parts.next()?, parts.next()?);
    Some((verb, format!("{service}[{instance}]")))
}

/// The phase a start's heartbeat reports, in words; a readiness wait in steps of 5 s so the
/// line changes only that often.
fn phase(details: Option<&temporalio_common::protos::temporal::api::common::v1::Payloads>) -> Option<String> {
    phase_of(details?)
}

/// The phase a start's heartbeat reports, in words.
fn phase_of(details: &temporalio_common::protos::temporal::api::common::v1::Payloads) -> Option<String> {
    let payload = details.payloads.first()?;
    let value: serde_json::Value = serde_json::from_slice(&payload.data).ok()?;
    let phase = &value["phase"];
    Some(match phase["phase"].as_str()? {
        "ready" => format!("waiting until ready ({}s)", phase["waited_seconds"].as_u64().unwrap_or(0) / 5 * 5),
        "pull" => {
            let (done, total) = (phase["done_bytes"].as_u64().unwrap_or(0), phase["total_bytes"].as_u64().unwrap_or(0));
            // In steps of a tenth, so a long pull says where it is without a line a second.
            let tenths = (done.saturating_mul(10)).checked_div(total).unwrap_or(0).min(10);
            format!("pulling the image ({}% of {} MB)", tenths * 10, total / 1_000_000)
        }
        "preflight" => "checking ports".to_string(),
        "create" => "creating".to_string(),
        "start" => "starting".to_string(),
        "finish" => "finishing".to_string(),
        other => other.to_string(),
    })
}

/// The workflow's failure in one line on stderr; the exit code from its kind.
fn failed(workflow: &str, error: WorkflowGetResultError) -> Outcome {
    let kind = match &error {
        WorkflowGetResultError::Failed(failure) => match failure.as_ref() {
            IncomingError::Application(application) => {
                let kind = application.type_name().and_then(FailureKind::from_name);
                super::style::error(format_args!(
                    "{workflow} failed: ({}) {application}",
                    application.type_name().unwrap_or("ApplicationFailure")
                ));
                kind
            }
            other => {
                super::style::error(format_args!("{workflow} failed: {other}"));
                None
            }
        },
        WorkflowGetResultError::TimedOut => {
            super::style::error(format_args!(
                "{workflow} timed out: is a berth worker polling task queue `{SHARED_TASK_QUEUE}` (or the --host queue)?"
            ));
            Some(FailureKind::NoWorker)
        }
        other => {
            super::style::error(format_args!("{workflow} ended: {other}"));
            None
        }
    };
    Outcome::Exit(kind.map_or(1, FailureKind::exit_code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_ids_name_their_instance() {
        assert_eq!(
            instance_of(&berth_workflows::activity_id("start", "web", 3)),
            Some(("start", "web[3]".to_string()))
        );
        assert_eq!(instance_of("7"), None, "activities without berth's ids are skipped");
    }

    #[test]
    fn heartbeats_say_the_phase_and_a_pull_in_tenths() {
        use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads};
        let said = |phase: serde_json::Value| {
            let data = serde_json::to_vec(&serde_json::json!({ "container": "web", "phase": phase })).expect("json");
            phase_of(&Payloads { payloads: vec![Payload { data, ..Payload::default() }] })
        };
        let pulling = serde_json::json!({"phase": "pull", "done_bytes": 37_000_000u64, "total_bytes": 100_000_000u64});
        assert_eq!(said(pulling).as_deref(), Some("pulling the image (30% of 100 MB)"));
        let unknown_size = serde_json::json!({"phase": "pull", "done_bytes": 5u64, "total_bytes": 0u64});
        assert_eq!(said(unknown_size).as_deref(), Some("pulling the image (0% of 0 MB)"));
        assert_eq!(
            said(serde_json::json!({"phase": "ready", "waited_seconds": 12})).as_deref(),
            Some("waiting until ready (10s)")
        );
    }
}
