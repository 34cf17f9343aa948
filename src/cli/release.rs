//! `berth release`: give a project's leases back to the host ledger.
//!
//! A project, service or port that holds nothing is a finding (exit 1), so scripts notice
//! a typo instead of believing the ports were freed.

use clap::Args;

use super::Outcome;
use super::ledger_args::{ProjectArg, open_ledger};
use super::output::emit;
use crate::ledger::{Lease, Ledger, LedgerError, ReleaseScope};
use crate::probe::{self, HostPorts};

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
    let scope = match (args.service, args.port) {
        (Some(service), _) => ReleaseScope::Service(service),
        (None, Some(port)) => ReleaseScope::Port(port),
        (None, None) => ReleaseScope::Project,
    };
    let mut ledger = open_ledger()?;
    if Lease::is_fallback_project(&project) && !args.force {
        refuse_fallbacks_in_use(&ledger, &project, &scope)?;
    }
    let released = ledger.release(&project, &scope).map_err(|error| {
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

/// A fallback stands in for a held port while something uses it: releasing it then would let
/// the next lookup hand the port to another holder. Fails on the first lease in `scope`
/// whose port is in use now.
fn refuse_fallbacks_in_use(ledger: &Ledger, project: &str, scope: &ReleaseScope) -> Result<(), LedgerError> {
    let in_scope = |lease: &Lease| match scope {
        ReleaseScope::Project => true,
        ReleaseScope::Service(service) => &lease.service == service,
        ReleaseScope::Port(port) => lease.port == *port,
    };
    for lease in ledger.leases(Some(project))?.iter().filter(|lease| in_scope(lease)) {
        if !probe::is_free(lease.port, lease.protocol) {
            let holder = HostPorts::snapshot()
                .ok()
                .and_then(|host| host.describe_holder(lease.port))
                .unwrap_or_else(|| "a process berth cannot see".to_string());
            return Err(LedgerError::FallbackInUse { project: project.to_string(), port: lease.port, holder });
        }
    }
    Ok(())
}
