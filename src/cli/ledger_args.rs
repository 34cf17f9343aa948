//! What the ledger commands share: opening the host's ledger, naming the project, and the
//! registry's view of which ports are off limits.

use std::path::Path;

use anyhow::Context;
use clap::Args;

use crate::ledger::{self, Lease, Ledger, LedgerError, PortSet};
use crate::registry::{LoadError, ManagerError, PortManager, ResolvedPort};

/// `--project`, shared by the ledger commands.
#[derive(Debug, Args)]
pub(super) struct ProjectArg {
    /// The project: a name, or a path (its leases go stale when the path is removed)
    /// [default: $BERTH_PROJECT, else the working directory]
    #[arg(long, value_name = "PROJECT")]
    project: Option<String>,
}

impl ProjectArg {
    /// The project named on the command line, else `BERTH_PROJECT`, else the working directory.
    pub(super) fn resolve(&self) -> anyhow::Result<String> {
        if let Some(project) = self.project.clone().or_else(|| std::env::var("BERTH_PROJECT").ok()) {
            return Ok(project);
        }
        let directory = std::env::current_dir().context("cannot read the working directory to name the project")?;
        Ok(directory.display().to_string())
    }
}

/// The host's ledger, created on first use.
pub(super) fn open_ledger() -> Result<Ledger, LedgerError> {
    Ledger::open(&ledger::state_dir().ok_or(LedgerError::NoStateDir)?)
}

/// The host's ledger if one exists; lookups must not create state.
pub(super) fn existing_ledger() -> Result<Option<Ledger>, LedgerError> {
    ledger::state_dir().map_or(Ok(None), |directory| Ledger::open_existing(&directory))
}

/// Warns about each resolved port that the ledger shows leased to another project. The
/// lookup itself still succeeds: the registry decides ports, the ledger only reports.
pub(super) fn warn_about_foreign_leases(ports: &[ResolvedPort]) {
    let project = ProjectArg { project: None }.resolve().unwrap_or_default();
    let ledger = match existing_ledger() {
        Ok(Some(ledger)) => ledger,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!("cannot consult the ledger for conflicting leases: {error}");
            return;
        }
    };
    for resolved in ports {
        if let Ok(Some(lease)) = ledger.lease_on(resolved.port)
            && lease.project != project
            && !is_own_container_lease(&lease, resolved)
        {
            super::style::warning(format_args!(
                "{}[{}].{} = {} is leased to project {} (service {}) in the host ledger",
                resolved.service, resolved.instance, resolved.key, resolved.port, lease.project, lease.service
            ));
        }
    }
}

/// Whether `lease` is the one berth took for the slot's own container: the instance's
/// container (its name says service, instance and environment) holding this very port key.
/// That is the slot in use as intended, not a conflict.
fn is_own_container_lease(lease: &Lease, resolved: &ResolvedPort) -> bool {
    let container = crate::registry::container_name(&resolved.service, &resolved.environment, resolved.instance);
    lease.container() == Some(container.as_str())
        && lease.slot.as_ref().is_some_and(|slot| {
            (slot.service.as_str(), slot.instance, slot.key.as_str())
                == (resolved.service.as_str(), resolved.instance, resolved.key.as_str())
        })
}

/// The registry's manager when there is a registry; none is fine for the ledger, a broken
/// one is not.
pub(super) fn optional_manager(registry: Option<&Path>) -> anyhow::Result<Option<&'static PortManager>> {
    match PortManager::global(registry) {
        Ok(manager) => Ok(Some(manager)),
        Err(ManagerError::Load(LoadError::NotFound { .. })) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The ports the registry claims (slots and reserved), or none without a registry.
pub(super) fn registry_ports(manager: Option<&PortManager>) -> PortSet {
    manager.map(|manager| ledger::registry_exclusions(manager.registry())).unwrap_or_default()
}
