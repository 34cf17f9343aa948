//! The fleet: every host's instances and leases, asked of the hosts themselves, for
//! `berth fleet` and the web view's fleet page.
//!
//! The hosts come from Temporal itself, the workers polling the shared task queue (whose
//! identities are `berth@<host>:<pid>`), not from a list berth keeps. Each host answers
//! through its own queue (`berth@<host>`), all at once, each within a bound: a host whose
//! worker is gone is reported as such, with the kind of its failure, and the others are
//! still listed.

use std::time::Duration;

use anyhow::Context;
use berth_workflows::activities::{ContainerState, LIST_LEASES, LeaseState, SERVICE_STATUS};
use berth_workflows::{FailureKind, RunActivity, RunActivityInput, SHARED_TASK_QUEUE, host_task_queue};
use serde::Serialize;
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::IntoRequest;
use temporalio_client::{Client, NamespacedClient, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::error::IncomingError;
use temporalio_common::protos::temporal::api::enums::v1::TaskQueueType;
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeTaskQueueRequest;

/// How long one host may take to answer: its queue's own pickup bound and some room.
pub const HOST_ANSWER: Duration = Duration::from_secs(40);
/// How long one attempt of a host's answer may take once its worker has it: a worker that
/// takes the question and hangs (its engine not answering) fails as such, not as gone.
const ATTEMPT_BOUND: u64 = 10;
/// Room beyond a workflow's own bound for its result to arrive.
const RESULT_ROOM: Duration = Duration::from_secs(1);

/// One host, as it answered.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    /// The host name of its worker (`berth@<host>`).
    pub host: String,
    /// Its managed containers.
    pub instances: Vec<ContainerState>,
    /// Its ledger's leases.
    pub leases: Vec<LeaseState>,
    /// The kind of failure that kept the host from answering: `NoWorker` when its worker
    /// is gone, another kind when it answered with a failure (its engine down, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<FailureKind>,
    /// Why the host did not answer, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Host {
    /// `unreachable` when no worker answered for it, `failed` when it answered with a failure.
    pub fn trouble(&self) -> Option<&'static str> {
        self.error.as_ref()?;
        Some(if self.kind == Some(FailureKind::NoWorker) { "unreachable" } else { "failed" })
    }
}

/// One row of the fleet's instances: an instance on a host, or a host that did not answer
/// (`trouble`, its state `unreachable` or `failed` and the cause where the endpoints go).
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Row<'a> {
    /// The host.
    pub host: &'a str,
    /// The registry service (`-` on a trouble row).
    pub service: &'a str,
    /// The instance id.
    pub instance: &'a str,
    /// The environment.
    pub env: &'a str,
    /// Docker's state, or `unreachable` / `failed`.
    pub state: &'a str,
    /// The endpoints, space-separated, or why the host did not answer.
    pub endpoints: String,
    /// Whether the host did not answer.
    pub trouble: bool,
}

/// One row of the fleet's leases.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct LeaseRow<'a> {
    /// The host whose ledger holds it.
    pub host: &'a str,
    /// The leased port.
    pub port: u16,
    /// The project holding it.
    pub project: &'a str,
    /// The service it was leased for.
    pub service: &'a str,
}

/// The instances of `hosts`, host by host, each host that did not answer first in its turn.
pub fn rows(hosts: &[Host]) -> Vec<Row<'_>> {
    let mut rows = Vec::new();
    for host in hosts {
        if let (Some(trouble), Some(error)) = (host.trouble(), &host.error) {
            let cause = error.lines().next().unwrap_or_default().to_string();
            rows.push(Row {
                host: &host.host,
                service: "-",
                instance: "-",
                env: "-",
                state: trouble,
                endpoints: cause,
                trouble: true,
            });
        }
        rows.extend(host.instances.iter().map(|instance| Row {
            host: &host.host,
            service: &instance.service,
            instance: &instance.instance,
            env: &instance.env,
            state: &instance.state,
            endpoints: instance.endpoints.join(" "),
            trouble: false,
        }));
    }
    rows
}

/// The leases of `hosts`, host by host.
pub fn lease_rows(hosts: &[Host]) -> Vec<LeaseRow<'_>> {
    hosts
        .iter()
        .flat_map(|host| {
            host.leases.iter().map(|lease| LeaseRow {
                host: &host.host,
                port: lease.port,
                project: &lease.project,
                service: &lease.service,
            })
        })
        .collect()
}

/// Why an activity run on a host gave no answer: the failure's kind and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoAnswer {
    /// `NoWorker` when nobody took the work, else the activity's own kind.
    pub kind: FailureKind,
    /// The cause, in one line.
    pub message: String,
}

/// The host of a worker identity `berth@<host>:<pid>`.
fn host_of(identity: &str) -> Option<&str> {
    let (host, _pid) = identity.strip_prefix("berth@")?.rsplit_once(':')?;
    (!host.is_empty()).then_some(host)
}

/// The hosts among worker `identities`, each once, in order.
pub fn hosts(identities: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> =
        identities.iter().filter_map(|identity| host_of(identity)).map(str::to_string).collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The identities of the workers polling task queue `name` for `kind` tasks right now.
pub async fn pollers(client: &Client, name: &str, kind: TaskQueueType) -> anyhow::Result<Vec<String>> {
    let request = DescribeTaskQueueRequest {
        namespace: client.namespace(),
        task_queue: Some(TaskQueue { name: name.to_string(), ..Default::default() }),
        task_queue_type: kind as i32,
        ..Default::default()
    };
    let mut service = client.clone();
    let answer = WorkflowService::describe_task_queue(&mut service, request.into_request())
        .await
        .with_context(|| format!("cannot ask Temporal who polls task queue `{name}`"))?;
    Ok(answer.into_inner().pollers.into_iter().map(|poller| poller.identity).collect())
}

/// Runs one activity on `host`'s worker through the `RunActivity` workflow, within `bound`:
/// its JSON output, or the kind and cause of its failure (`NoWorker` when nobody answered).
pub async fn run_activity(
    client: &Client,
    activity: &str,
    input: serde_json::Value,
    host: &str,
    bound: Duration,
) -> Result<serde_json::Value, NoAnswer> {
    let queue = host_task_queue(host);
    let interrupted = |message: String| NoAnswer { kind: FailureKind::Interrupted, message };
    let unanswered = || NoAnswer {
        kind: FailureKind::NoWorker,
        message: format!(
            "no worker answered `{activity}` on task queue `{queue}` within {}s; is `berth worker --host-name {host}` running there?",
            bound.as_secs()
        ),
    };
    let request = RunActivityInput {
        activity: activity.to_string(),
        input,
        host: Some(host.to_string()),
        start_to_close_seconds: Some(ATTEMPT_BOUND),
    };
    let id = crate::worker::workflow_id(&format!("{activity}-{host}"));
    let options = WorkflowStartOptions::new(SHARED_TASK_QUEUE, id).execution_timeout(bound).build();
    let request = serde_json::to_value(&request).map_err(|error| interrupted(error.to_string()))?;
    let handle = client
        .start_workflow(RunActivity::run, request, options)
        .await
        .map_err(|error| interrupted(format!("cannot start `{activity}` on {queue}: {error}")))?;
    match tokio::time::timeout(bound + RESULT_ROOM, handle.get_result(WorkflowGetResultOptions::default())).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(WorkflowGetResultError::TimedOut)) | Err(_) => Err(unanswered()),
        Ok(Err(WorkflowGetResultError::Failed(failure))) => match failure.as_ref() {
            IncomingError::Application(application) => Err(NoAnswer {
                kind: application.type_name().and_then(FailureKind::from_name).unwrap_or(FailureKind::Interrupted),
                message: application.to_string(),
            }),
            other => Err(interrupted(format!("`{activity}` on {queue}: {other}"))),
        },
        Ok(Err(other)) => Err(interrupted(format!("`{activity}` on {queue}: {other}"))),
    }
}

/// The hosts whose workers poll the shared queue right now.
pub async fn find_hosts(client: &Client) -> anyhow::Result<Vec<String>> {
    // Every worker polls the shared queue for both kinds of task; a poller shows on
    // whichever partition it last polled, so both answers together find them all sooner.
    let mut identities = pollers(client, SHARED_TASK_QUEUE, TaskQueueType::Activity).await?;
    identities.extend(pollers(client, SHARED_TASK_QUEUE, TaskQueueType::Workflow).await?);
    Ok(hosts(&identities))
}

/// A worker's answer as the type it should have.
fn decode<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, NoAnswer> {
    serde_json::from_value(value).map_err(|error| NoAnswer {
        kind: FailureKind::Interrupted,
        message: format!("the worker's answer does not fit: {error}"),
    })
}

/// What each of `hosts` answers, all asked at once, each within [`HOST_ANSWER`].
pub async fn ask(client: &Client, hosts: &[String]) -> Vec<Host> {
    let asked = hosts.iter().map(|host| async move {
        let ask = |activity: &'static str| run_activity(client, activity, serde_json::json!({}), host, HOST_ANSWER);
        let (instances, leases) = tokio::join!(ask(SERVICE_STATUS), ask(LIST_LEASES));
        match instances.and_then(decode).and_then(|instances| Ok((instances, leases.and_then(decode)?))) {
            Ok((instances, leases)) => Host { host: host.clone(), instances, leases, kind: None, error: None },
            Err(failed) => Host {
                host: host.clone(),
                instances: Vec::new(),
                leases: Vec::new(),
                kind: Some(failed.kind),
                error: Some(failed.message),
            },
        }
    });
    futures_util::future::join_all(asked).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_from_worker_identities_once_each() {
        let identities =
            ["berth@h2:17", "berth@h1:9", "berth@h2:18", "berth-cli:4", "someone", "berth@:3", "berth@a:b:5"]
                .map(str::to_string);
        assert_eq!(hosts(&identities), ["a:b", "h1", "h2"]);
    }

    #[test]
    fn a_host_that_did_not_answer_says_whether_it_is_gone_or_failing() {
        let host = |kind: Option<FailureKind>| Host {
            host: "h1".into(),
            instances: Vec::new(),
            leases: Vec::new(),
            kind,
            error: kind.map(|_| "why".to_string()),
        };
        assert_eq!(host(None).trouble(), None);
        assert_eq!(host(Some(FailureKind::NoWorker)).trouble(), Some("unreachable"));
        assert_eq!(host(Some(FailureKind::EngineUnreachable)).trouble(), Some("failed"));
    }
}
