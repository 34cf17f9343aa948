//! `berth fleet`: every host's instances and leases in one table.
//!
//! The hosts come from Temporal itself, the workers polling the shared task queue (whose
//! identities are `berth@<host>:<pid>`), not from a list berth keeps. Each host answers
//! through its own queue (`berth@<host>`), all at once, each within a bound: a host whose
//! worker is gone is reported as such, and the others are still listed.

use std::time::Duration;

use berth_workflows::activities::{ContainerState, LIST_LEASES, LeaseState, SERVICE_STATUS};
use berth_workflows::{FailureKind, SHARED_TASK_QUEUE};
use clap::Args;
use serde::Serialize;
use temporalio_common::protos::temporal::api::enums::v1::TaskQueueType;

use super::output::{OutputFormat, emit, emit_json};
use super::{Outcome, block_on};
use crate::table::Table;

/// How long one host may take to answer: its queue's own pickup bound and some room.
const HOST_ANSWER: Duration = Duration::from_secs(40);

/// Arguments of `berth fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The Temporal cluster the hosts' workers poll [default: $TEMPORAL_ADDRESS, the
    /// profile's, else localhost:7233].
    #[arg(long, value_name = "ADDR")]
    temporal: Option<String>,
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

/// One host, as it answered.
#[derive(Debug, Serialize)]
struct Host {
    host: String,
    instances: Vec<ContainerState>,
    leases: Vec<LeaseState>,
    /// Why the host did not answer, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The host of a worker identity `berth@<host>:<pid>`.
fn host_of(identity: &str) -> Option<&str> {
    let (host, _pid) = identity.strip_prefix("berth@")?.rsplit_once(':')?;
    (!host.is_empty()).then_some(host)
}

/// The hosts among `identities`, each once, in order.
fn hosts(identities: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> =
        identities.iter().filter_map(|identity| host_of(identity)).map(str::to_string).collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

pub(super) fn run(args: FleetArgs) -> anyhow::Result<Outcome> {
    block_on(async {
        let client = super::via_temporal::client(args.temporal.as_deref()).await?;
        // Every worker polls the shared queue for both kinds of task; a poller shows on
        // whichever partition it last polled, so both answers together find them all sooner.
        let mut identities = super::via_temporal::pollers(&client, SHARED_TASK_QUEUE, TaskQueueType::Activity).await?;
        identities.extend(super::via_temporal::pollers(&client, SHARED_TASK_QUEUE, TaskQueueType::Workflow).await?);
        let found = hosts(&identities);
        if found.is_empty() {
            super::style::error(format_args!(
                "{}: no berth worker polls task queue `{SHARED_TASK_QUEUE}`, so no host is known; start one (berth worker) on each host",
                FailureKind::NoWorker
            ));
            return anyhow::Ok(Outcome::Exit(FailureKind::NoWorker.exit_code()));
        }
        let asked = found.iter().map(|host| {
            let client = client.clone();
            async move {
                let ask = |activity: &'static str| {
                    let client = client.clone();
                    async move {
                        let answer = super::via_temporal::run_activity(
                            &client,
                            activity,
                            serde_json::json!({}),
                            host,
                            HOST_ANSWER,
                        );
                        answer.await
                    }
                };
                let (instances, leases) = tokio::join!(ask(SERVICE_STATUS), ask(LIST_LEASES));
                let decoded = instances
                    .and_then(|value| serde_json::from_value(value).map_err(|error| error.to_string()))
                    .and_then(|instances| {
                        let leases = leases?;
                        Ok((instances, serde_json::from_value(leases).map_err(|error| error.to_string())?))
                    });
                match decoded {
                    Ok((instances, leases)) => Host { host: host.clone(), instances, leases, error: None },
                    Err(error) => {
                        Host { host: host.clone(), instances: Vec::new(), leases: Vec::new(), error: Some(error) }
                    }
                }
            }
        });
        let answered: Vec<Host> = futures_util::future::join_all(asked).await;
        match args.format {
            OutputFormat::Json => emit_json(&serde_json::json!({ "hosts": answered }))?,
            OutputFormat::Table => emit(&tables(&answered), None)?,
        }
        for host in answered.iter().filter(|host| host.error.is_some()) {
            super::style::error(format_args!(
                "host {} did not answer: {}",
                host.host,
                host.error.as_deref().unwrap_or_default()
            ));
        }
        Ok(if answered.iter().any(|host| host.error.is_some()) { Outcome::Exit(1) } else { Outcome::Clean })
    })
}

/// The instances table, then the leases table.
fn tables(hosts: &[Host]) -> String {
    let mut instances = Table::new(&["HOST", "SERVICE", "INSTANCE", "ENV", "STATE", "ENDPOINTS"]);
    let mut leases = Table::new(&["HOST", "PORT", "PROJECT", "SERVICE"]);
    for host in hosts {
        if let Some(error) = &host.error {
            instances.row([host.host.as_str(), "-", "-", "-", "unreachable", error.lines().next().unwrap_or_default()]);
        }
        for instance in &host.instances {
            instances.row([
                host.host.clone(),
                instance.service.clone(),
                instance.instance.clone(),
                instance.env.clone(),
                instance.state.clone(),
                instance.endpoints.join(" "),
            ]);
        }
        for lease in &host.leases {
            leases.row([host.host.clone(), lease.port.to_string(), lease.project.clone(), lease.service.clone()]);
        }
    }
    let mut text = instances.render(None);
    if !leases.is_empty() {
        text.push('\n');
        text.push_str(&leases.render(None));
    }
    text
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
    fn a_host_that_did_not_answer_is_a_row_saying_so() {
        let hosts = [
            Host {
                host: "h1".into(),
                instances: vec![ContainerState {
                    container: "web-dev".into(),
                    service: "web".into(),
                    instance: "0".into(),
                    env: "dev".into(),
                    state: "running".into(),
                    endpoints: vec!["0.0.0.0:8080".into()],
                }],
                leases: vec![LeaseState { port: 8080, project: "container:web-dev".into(), service: "web".into() }],
                error: None,
            },
            Host { host: "h2".into(), instances: Vec::new(), leases: Vec::new(), error: Some("gone\nmore".into()) },
        ];
        let text = tables(&hosts);
        assert_eq!(
            text,
            "HOST  SERVICE  INSTANCE  ENV  STATE        ENDPOINTS\n\
             h1    web      0         dev  running      0.0.0.0:8080\n\
             h2    -        -         -    unreachable  gone\n\
             \n\
             HOST  PORT  PROJECT            SERVICE\n\
             h1    8080  container:web-dev  web\n"
        );
    }
}
