//! `berth release`: give a project's leases back to the host ledger.
//!
//! A project, service or port that holds nothing is a finding (exit 1), so scripts notice
//! a typo instead of believing the ports were freed.

use berth_workflows::activities::ReleaseRequest;
use clap::Args;

use super::Outcome;
use super::ledger_args::{ProjectArg, open_ledger};
use super::output::emit;
use crate::ledger::{self, LedgerError};

/// Arguments of `berth release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// Only this service's leases.
    #[arg(long, conflicts_with = "port")]
    service: Option<String>,
    /// Only the lease on this port.
    #[arg(long)]
    port: Option<u16>,
    /// Give a fallback lease up even while its port is in use.
    #[arg(long)]
    force: bool,
}

pub(super) fn run(args: ReleaseArgs) -> anyhow::Result<Outcome> {
    let project = args.project.resolve()?;
    let request =
        ReleaseRequest { project: project.clone(), service: args.service, port: args.port, force: args.force };
    let mut ledger = open_ledger()?;
    let released = ledger::release(&mut ledger, &request).map_err(|error| {
        let hint = match error {
            LedgerError::UnknownProject { .. } => "; `berth leases` lists the projects that do",
            _ => "",
        };
        let text = format!("{error}{hint}");
        anyhow::Error::new(error).context(text)
    })?;
    let ports: Vec<String> = released.iter().map(|lease| lease.port.to_string()).collect();
    tracing::info!(project = %project, ports = %ports.join(","), "ledger_ports_released");
    emit(&format!("released {} lease(s) of {project}: {}\n", released.len(), ports.join(", ")), None)?;
    Ok(Outcome::Clean)
}
