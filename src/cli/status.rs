//! `berth status`: every container berth manages (instance, state, health, ports), every
//! lease with whether its port is listening now and by which process, and drift between
//! the ledger and the host.
//!
//! Drift is a finding (exit 1): a leased port held by a process other than the lease's
//! owner, or a lease owner listening on a port it has not leased. A Docker engine that
//! does not answer is reported and the ledger part still shown, but the exit code is the
//! engine failure's, so a script never takes a half answer for a whole one.

use std::collections::BTreeMap;

use clap::Args;
use serde::Serialize;

use super::ledger_args::open_ledger;
use super::output::{OutputFormat, emit, emit_json};
use super::{Outcome, block_on};
use crate::containers::spec::{ENVIRONMENT_LABEL, INSTANCE_LABEL, SERVICE_LABEL};
use crate::containers::{Engine, StartError};
use crate::ledger::Lease;
use crate::probe::{HostPorts, Listener};
use crate::table::Table;

/// Arguments of `berth status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Debug, Serialize)]
struct LeaseStatus<'a> {
    lease: &'a Lease,
    holders: &'a [Listener],
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Drift<'a> {
    /// The port is held by a process that is not the lease's owner.
    HeldByOther { port: u16, project: &'a str, owner_pid: i32, holder: &'a Listener },
    /// A lease owner listens on a port it has not leased.
    Unleased { pid: i32, project: &'a str, listener: &'a Listener },
}

#[derive(Debug, Serialize)]
struct Status<'a> {
    containers: Vec<ContainerStatus>,
    docker_error: Option<String>,
    leases: Vec<LeaseStatus<'a>>,
    drift: Vec<Drift<'a>>,
}

#[derive(Debug, Serialize)]
struct ContainerStatus {
    name: String,
    service: String,
    instance: String,
    environment: String,
    state: String,
    status: String,
    ports: Vec<String>,
    /// The stack networks it is on (`berth-development-1`).
    networks: Vec<String>,
    /// The registry's stacks its service belongs to, when the registry could be read.
    stacks: Vec<String>,
}

pub(super) fn run(args: StatusArgs, registry: Option<&std::path::Path>) -> anyhow::Result<Outcome> {
    let leases = open_ledger()?.leases(None)?;
    let host = HostPorts::snapshot()?;
    // The registry only names stacks here; status works without one.
    let stacks = super::manager(registry).map(|manager| manager.registry().stacks.clone()).unwrap_or_default();
    let (containers, docker_error, engine_exit) = match containers(&stacks) {
        Ok(containers) => (containers, None, None),
        Err(error) => {
            let exit = error.downcast_ref::<StartError>().map_or(1, |error| error.kind().exit_code());
            (Vec::new(), Some(error.to_string()), Some(exit))
        }
    };
    let status = Status {
        containers,
        docker_error,
        leases: leases.iter().map(|lease| LeaseStatus { lease, holders: host.holders(lease.port) }).collect(),
        drift: drift(&leases, &host),
    };
    match args.format {
        OutputFormat::Json => emit_json(&status)?,
        OutputFormat::Table => emit(&table(&status, super::output::terminal_width()), None)?,
    }
    Ok(match (engine_exit, status.drift.is_empty()) {
        (Some(exit), _) => Outcome::Exit(exit),
        (None, true) => Outcome::Clean,
        (None, false) => Outcome::Findings,
    })
}

fn containers(stacks: &[crate::registry::Stack]) -> anyhow::Result<Vec<ContainerStatus>> {
    let summaries = block_on(async { Engine::connect(&super::engine_target()?).await?.managed(None).await })?;
    let label = |labels: &Option<std::collections::HashMap<String, String>>, name: &str| {
        labels.as_ref().and_then(|labels| labels.get(name)).cloned().unwrap_or_default()
    };
    let mut containers: Vec<ContainerStatus> = summaries
        .into_iter()
        .map(|summary| ContainerStatus {
            name: summary
                .names
                .unwrap_or_default()
                .first()
                .map(|name| name.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            networks: {
                let networks = summary.network_settings.and_then(|settings| settings.networks).unwrap_or_default();
                let mut names: Vec<String> = networks.into_keys().collect();
                names.sort();
                names
            },
            stacks: stacks
                .iter()
                .filter(|stack| stack.services.contains(&label(&summary.labels, SERVICE_LABEL)))
                .map(|stack| stack.name.clone())
                .collect(),
            service: label(&summary.labels, SERVICE_LABEL),
            instance: label(&summary.labels, INSTANCE_LABEL),
            environment: label(&summary.labels, ENVIRONMENT_LABEL),
            state: summary.state.map(|state| state.to_string()).unwrap_or_default(),
            status: summary.status.unwrap_or_default(),
            ports: summary
                .ports
                .unwrap_or_default()
                .into_iter()
                .filter_map(|port| {
                    port.public_port
                        .map(|public| format!("{}:{public}->{}", port.ip.unwrap_or_default(), port.private_port))
                })
                .collect(),
        })
        .collect();
    containers.sort_by(|left, right| left.name.cmp(&right.name));
    containers.iter_mut().for_each(|container| container.ports.sort());
    Ok(containers)
}

fn drift<'a>(leases: &'a [Lease], host: &'a HostPorts) -> Vec<Drift<'a>> {
    let mut found = Vec::new();
    for lease in leases {
        let Some(owner) = lease.owner else { continue };
        for holder in host.holders(lease.port) {
            if holder.owner.as_ref().is_some_and(|process| process.pid != owner.pid) {
                found.push(Drift::HeldByOther {
                    port: lease.port,
                    project: &lease.project,
                    owner_pid: owner.pid,
                    holder,
                });
            }
        }
    }
    let owners: BTreeMap<i32, &str> =
        leases.iter().filter_map(|lease| lease.owner.map(|owner| (owner.pid, lease.project.as_str()))).collect();
    for (pid, project) in owners {
        for listener in host.listeners_of(pid) {
            let leased = leases
                .iter()
                .any(|lease| lease.port == listener.port() && lease.owner.is_some_and(|owner| owner.pid == pid));
            if !leased {
                found.push(Drift::Unleased { pid, project, listener });
            }
        }
    }
    found
}

fn table(status: &Status<'_>, width: Option<u16>) -> String {
    let mut text = String::new();
    if !status.containers.is_empty() {
        let mut table = Table::new(&["CONTAINER", "SERVICE", "INSTANCE", "ENV", "STATE", "PORTS", "NETWORK", "STACKS"]);
        for container in &status.containers {
            table.row([
                container.name.clone(),
                container.service.clone(),
                container.instance.clone(),
                container.environment.clone(),
                super::style::state(&container.state),
                container.ports.join(" "),
                container.networks.join(" "),
                container.stacks.join(" "),
            ]);
        }
        text.push_str(&table.render(width));
    }
    if let Some(error) = &status.docker_error {
        text.push_str(&format!("containers: unknown ({error})\n"));
    }
    if !status.leases.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        let mut table = Table::new(&["PORT", "PROTOCOL", "PROJECT", "SERVICE", "LISTENING"]);
        for entry in &status.leases {
            let lease = entry.lease;
            let listening = if entry.holders.is_empty() {
                "no".to_string()
            } else {
                entry.holders.iter().map(Listener::describe).collect::<Vec<_>>().join("; ")
            };
            table.row([
                lease.port.to_string(),
                lease.protocol.to_string(),
                lease.project.clone(),
                lease.service.clone(),
                listening,
            ]);
        }
        text.push_str(&table.render(width));
    }
    for drift in &status.drift {
        let line = match drift {
            Drift::HeldByOther { port, project, owner_pid, holder } => format!(
                "drift: port {port} is leased to {project} (owner pid {owner_pid}) but held by {}",
                holder.describe()
            ),
            Drift::Unleased { pid, project, listener } => format!(
                "drift: pid {pid} (owner of {project}'s leases) listens on port {} without a lease: {}",
                listener.port(),
                listener.describe()
            ),
        };
        text.push_str(&line.replacen("drift", &super::style::paint(super::style::WARNING, "drift"), 1));
        text.push('\n');
    }
    let containers = match status.docker_error {
        Some(_) => "unknown".to_string(),
        None => status.containers.len().to_string(),
    };
    text.push_str(&format!(
        "{containers} container(s), {} lease(s), {} drift finding(s)\n",
        status.leases.len(),
        status.drift.len()
    ));
    text
}
