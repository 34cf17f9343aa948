//! `berth up --temporal` / `berth down --temporal`: the same operations run as the
//! `SpinUp` and `TearDown` workflows on a Temporal cluster, by whichever worker picks them
//! up (or the one on `--host`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use berth_workflows::activities::ServiceStarted;
use berth_workflows::{SHARED_TASK_QUEUE, SpinUp, SpinUpInput, TearDown, TearDownInput, TearDownOutput};
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::error::IncomingError;

use crate::containers::Selection;
use crate::worker;

/// Where and how to run a workflow.
pub(super) struct Target<'a> {
    /// Temporal's address; empty or `None` for the standard configuration.
    pub(super) address: Option<&'a str>,
    /// Run the activities on this host's worker.
    pub(super) host: Option<String>,
    /// The environment.
    pub(super) environment: Option<String>,
}

fn workflow_id(kind: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
    format!("berth-{kind}-{}-{nanos}", std::process::id())
}

fn specs(selections: &[Selection]) -> Vec<String> {
    selections.iter().map(ToString::to_string).collect()
}

/// The workflow's failure in one line: `(PortTaken) spin-up failed for …`.
fn describe(error: WorkflowGetResultError) -> anyhow::Error {
    match error {
        WorkflowGetResultError::Failed(failure) => match *failure {
            IncomingError::Application(application) => {
                anyhow::anyhow!("({}) {application}", application.type_name().unwrap_or("ApplicationFailure"))
            }
            other => anyhow::anyhow!("{other}"),
        },
        WorkflowGetResultError::TimedOut => anyhow::anyhow!(
            "the workflow timed out: is a berth worker polling task queue `{SHARED_TASK_QUEUE}` (or the --host queue)?"
        ),
        other => anyhow::Error::new(other),
    }
}

/// Runs `SpinUp` and returns the started instances, or the workflow's failure.
pub(super) async fn spin_up(
    target: Target<'_>,
    selections: &[Selection],
    timeout_seconds: Option<u64>,
) -> anyhow::Result<Vec<ServiceStarted>> {
    let (client, address) = worker::connect(target.address, None, format!("berth-cli:{}", std::process::id())).await?;
    let input = SpinUpInput {
        specs: specs(selections),
        env: target.environment,
        host: target.host,
        start_timeout_seconds: timeout_seconds.unwrap_or(300),
        heartbeat_timeout_seconds: 30,
        maximum_attempts: 3,
    };
    // Without a worker the workflow would wait forever; give up after every attempt of a
    // start could have run, plus room for compensation.
    let limit = Duration::from_secs(input.start_timeout_seconds * u64::from(input.maximum_attempts) + 120);
    let options = WorkflowStartOptions::new(SHARED_TASK_QUEUE, workflow_id("spinup")).execution_timeout(limit).build();
    let handle = client
        .start_workflow(SpinUp::run, input, options)
        .await
        .with_context(|| format!("cannot start the SpinUp workflow on {address}"))?;
    Ok(handle.get_result(WorkflowGetResultOptions::default()).await.map_err(describe)?.instances)
}

/// Runs `TearDown`.
pub(super) async fn tear_down(
    target: Target<'_>,
    selections: &[Selection],
    volumes: bool,
) -> anyhow::Result<TearDownOutput> {
    let (client, address) = worker::connect(target.address, None, format!("berth-cli:{}", std::process::id())).await?;
    let input = TearDownInput { specs: specs(selections), env: target.environment, host: target.host, volumes };
    let handle = client
        .start_workflow(
            TearDown::run,
            input,
            WorkflowStartOptions::new(SHARED_TASK_QUEUE, workflow_id("teardown")).build(),
        )
        .await
        .with_context(|| format!("cannot start the TearDown workflow on {address}"))?;
    handle.get_result(WorkflowGetResultOptions::default()).await.map_err(describe)
}
