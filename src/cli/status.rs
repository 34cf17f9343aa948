//! `berth status`: every lease, whether its port is listening now and by which process,
//! and drift between the ledger and the host.
//!
//! Drift is a finding (exit 1): a leased port held by a process other than the lease's
//! owner, or a lease owner listening on a port it has not leased.

use std::collections::BTreeMap;

use clap::Args;
use serde::Serialize;

use super::Outcome;
use super::ledger_args::open_ledger;
use super::output::{emit, emit_json};
use super::who::ProbeFormat;
use crate::ledger::Lease;
use crate::probe::{HostPorts, Listener};

/// Arguments of `berth status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = ProbeFormat::Table)]
    format: ProbeFormat,
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
    leases: Vec<LeaseStatus<'a>>,
    drift: Vec<Drift<'a>>,
}

pub(super) fn run(args: StatusArgs) -> anyhow::Result<Outcome> {
    let leases = open_ledger()?.leases(None)?;
    let host = HostPorts::snapshot()?;
    let status = Status {
        leases: leases.iter().map(|lease| LeaseStatus { lease, holders: host.holders(lease.port) }).collect(),
        drift: drift(&leases, &host),
    };
    match args.format {
        ProbeFormat::Json => emit_json(&status)?,
        ProbeFormat::Table => emit(&table(&status), None)?,
    }
    Ok(if status.drift.is_empty() { Outcome::Clean } else { Outcome::Findings })
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

fn table(status: &Status<'_>) -> String {
    let mut text = String::new();
    for entry in &status.leases {
        let lease = entry.lease;
        let state = if entry.holders.is_empty() {
            "not listening".to_string()
        } else {
            entry.holders.iter().map(Listener::describe).collect::<Vec<_>>().join("; ")
        };
        text.push_str(&format!("{} {} {}/{}: {state}\n", lease.port, lease.protocol, lease.project, lease.service));
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
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(&format!("{} lease(s), {} drift finding(s)\n", status.leases.len(), status.drift.len()));
    text
}
