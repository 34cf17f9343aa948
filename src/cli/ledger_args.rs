//! What the ledger commands share: opening the host's ledger, naming the project, and the
//! registry's view of which ports are off limits.

use std::path::Path;

use anyhow::Context;
use clap::Args;

use crate::ledger::{self, Fallback, Ledger, LedgerError, PortSet};
use crate::probe::Protocol;
use crate::registry::{LoadError, ManagerError, OnConflict, PortManager, ResolvedPort};

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
            && !is_own_fallback_lease(&lease, resolved)
            && !ledger::is_own_container_lease(&lease, resolved)
        {
            super::style::warning(format_args!(
                "{}[{}].{} = {} is leased to project {} (service {}) in the host ledger",
                resolved.service, resolved.instance, resolved.key, resolved.port, lease.project, lease.service
            ));
        }
    }
}

fn is_own_fallback_lease(lease: &crate::ledger::Lease, resolved: &ResolvedPort) -> bool {
    lease.project == ledger::fallback_project(&resolved.service, &resolved.environment, resolved.instance)
        && lease.service == resolved.key
}

/// Settles the port a lookup answers for `resolved`: the computed port, or, when its key
/// falls back and another process holds that port, a leased port of the fallback range
/// (stable while the lease lives). A key that refuses conflicts fails naming the holder.
pub(super) fn settle_port(manager: &PortManager, resolved: &mut ResolvedPort) -> anyhow::Result<()> {
    let range = match manager.on_conflict(resolved) {
        // A port set through its variable is the user's choice: it is answered as set.
        OnConflict::Fallback(_) if resolved.overridden_by.is_some() => {
            warn_about_foreign_leases(std::slice::from_ref(resolved));
            return Ok(());
        }
        OnConflict::Ignore => {
            warn_about_foreign_leases(std::slice::from_ref(resolved));
            return Ok(());
        }
        OnConflict::Refuse => {
            let existing = existing_ledger()?;
            return Ok(ledger::refuse_if_held(resolved, foreign_holder(existing.as_ref(), resolved))?);
        }
        OnConflict::Fallback(range) => range,
    };
    let existing = existing_ledger()?;
    let holder = foreign_holder(existing.as_ref(), resolved);
    let mut ledger = match existing {
        Some(ledger) => ledger,
        // A lookup creates the ledger only when it must lease a fallback.
        None if holder.is_some() => open_ledger()?,
        None => return Ok(()),
    };
    let taken = registry_ports(Some(manager));
    let is_free = |port| crate::probe::is_free(port, Protocol::Tcp);
    let settled = ledger::settle(&mut ledger, resolved, range, holder.as_deref(), &taken, is_free, ledger::now())?;
    if let Some(fallback) = settled {
        report_fallback(resolved, &fallback, holder.as_deref());
        resolved.fallback_for = Some(resolved.port);
        resolved.port = fallback.lease.port;
    }
    Ok(())
}

/// Who holds `resolved`'s computed port, unless it is free or its own container's.
fn foreign_holder(ledger: Option<&Ledger>, resolved: &ResolvedPort) -> Option<String> {
    ledger::foreign_holder(ledger, resolved, crate::probe::is_free(resolved.port, Protocol::Tcp))
}

fn report_fallback(resolved: &ResolvedPort, fallback: &Fallback, holder: Option<&str>) {
    let remedy = format!("`berth release --project {}` gives the fallback up", fallback.lease.project);
    say!("note: {}", ledger::fallback_note(resolved, fallback, holder, &remedy));
}

/// Puts each fallback lease in force into `ports` (reads only), so that tables and exports
/// carry the ports clients must use.
pub(super) fn apply_fallbacks(manager: &PortManager, ports: &mut [ResolvedPort]) -> anyhow::Result<()> {
    let falls_back = |resolved: &ResolvedPort| {
        resolved.overridden_by.is_none() && matches!(manager.on_conflict(resolved), OnConflict::Fallback(_))
    };
    if !ports.iter().any(falls_back) {
        return Ok(());
    }
    let Some(ledger) = existing_ledger()? else { return Ok(()) };
    for resolved in ports.iter_mut().filter(|resolved| falls_back(resolved)) {
        if let Some(lease) = ledger::existing_fallback(&ledger, resolved)? {
            resolved.fallback_for = Some(resolved.port);
            resolved.port = lease.port;
        }
    }
    Ok(())
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
