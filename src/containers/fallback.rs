//! Instances whose port key falls back inside a range (`{port: 3210, fallback: 3211-3220}`):
//! when a process berth did not start holds the computed port, the container is published
//! on the key's fallback instead, the same port a lookup answers.
//!
//! The choice is the ledger's fallback lease, settled before the specs are built, so the
//! instance's own templates and its neighbours' name the port it is published on. A start
//! that made the lease gives it back when it is undone; `down` gives it back with the
//! instance. Stopping and undoing build their specs with the fallbacks in force (reading
//! only), so that they find the container as it was started.

use std::path::Path;

use super::plan::{self, Dependencies, Plan, PlanError, SettledPort, SettledPorts};
use super::{InstanceSpec, Selection};
use crate::ledger::{self, Lease, Ledger, LedgerError, fallback_project};
use crate::probe;
use crate::registry::{EnvironmentView, OnConflict, PortManager};

/// Why the ports of a plan could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    /// The selections do not name instances that can run as containers.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// A plan to start, and a line for each port it publishes in place of a computed one.
#[derive(Debug)]
pub struct PlanToStart {
    /// The plan, its specs built with the settled ports.
    pub plan: Plan,
    /// `web[0].port uses 3211 instead of 3210: 3210 is held by …`, one per fallback.
    pub notes: Vec<String>,
}

/// The plan for starting `selections`: a held port of a key with a fallback range settled
/// on its fallback (leasing one when none is in force), in the ledger in `directory`.
/// Without a ledger, or without fallback ranges in the registry, the computed plan.
pub fn plan_to_start(
    manager: &PortManager,
    environment: Option<&str>,
    selections: &[Selection],
    dependencies: Dependencies,
    directory: Option<&Path>,
) -> Result<PlanToStart, SettleError> {
    let computed = plan::plan_with(manager, environment, selections, dependencies)?;
    let Some(directory) = directory.filter(|_| manager.has_fallbacks()) else {
        return Ok(PlanToStart { plan: computed, notes: Vec::new() });
    };
    let view = manager.environment(environment).map_err(PlanError::from)?;
    let mut ledger = Ledger::open(directory)?;
    let (settled, notes) = settle(&mut ledger, manager, &view, &computed.specs)?;
    if settled.is_empty() {
        return Ok(PlanToStart { plan: computed, notes });
    }
    let plan = plan::plan_settled(manager, environment, selections, dependencies, &settled)?;
    Ok(PlanToStart { plan, notes })
}

/// The plan of `selections` with the fallbacks in force: the specs instances were started
/// with, for stopping and undoing them. Reads only; creates no ledger.
pub fn plan_in_force(
    manager: &PortManager,
    environment: Option<&str>,
    selections: &[Selection],
    dependencies: Dependencies,
    directory: Option<&Path>,
) -> Result<Plan, SettleError> {
    let ledger = match directory.filter(|_| manager.has_fallbacks()) {
        Some(directory) => Ledger::open_existing(directory)?,
        None => None,
    };
    let Some(ledger) = ledger else { return Ok(plan::plan_with(manager, environment, selections, dependencies)?) };
    let environment_name = manager.environment(environment).map_err(PlanError::from)?.environment().name.clone();
    let settled = in_force(&ledger, &environment_name)?;
    Ok(plan::plan_settled(manager, environment, selections, dependencies, &settled)?)
}

/// The fallback leases in force for `environment`'s instances, by slot.
fn in_force(ledger: &Ledger, environment: &str) -> Result<SettledPorts, LedgerError> {
    let leases = ledger.leases(None)?;
    Ok(leases
        .into_iter()
        .filter(|lease| Lease::is_fallback_project(&lease.project))
        .filter_map(|lease| {
            let slot = lease.slot?;
            let project = fallback_project(&slot.service, environment, slot.instance);
            (lease.project == project && lease.service == slot.key).then_some((
                (slot.service, slot.instance, slot.key),
                SettledPort { port: lease.port, new_lease: false },
            ))
        })
        .collect())
}

/// Settles each fallback key of `specs` (built from `view`'s computed ports): the fallbacks
/// in force in the environment, plus a new lease for each computed port another process holds.
fn settle(
    ledger: &mut Ledger,
    manager: &PortManager,
    view: &EnvironmentView<'_>,
    specs: &[InstanceSpec],
) -> Result<(SettledPorts, Vec<String>), LedgerError> {
    let mut settled = in_force(ledger, &view.environment().name)?;
    let mut notes = Vec::new();
    let taken = ledger::registry_exclusions(manager.registry());
    for spec in specs {
        let Ok(ports) = view.instance_ports(&spec.service, u32::from(spec.instance)) else { continue };
        for resolved in ports.into_iter().filter(|resolved| resolved.overridden_by.is_none()) {
            let (OnConflict::Fallback(range), Some(binding)) =
                (manager.on_conflict(&resolved), spec.binding(&resolved.key))
            else {
                continue;
            };
            let address = binding.host_address;
            let holder = ledger::foreign_holder(Some(ledger), &resolved, probe::is_free_on(address, resolved.port));
            let is_free = |port| probe::is_free_on(address, port);
            let chosen = ledger::settle(ledger, &resolved, range, holder.as_deref(), &taken, is_free, ledger::now())?;
            if let Some(fallback) = chosen {
                let remedy = format!(
                    "`berth down {}:{} --env {}` gives it back with the instance",
                    resolved.service, resolved.instance, resolved.environment
                );
                notes.push(ledger::fallback_note(&resolved, &fallback, holder.as_deref(), &remedy));
                let slot = (resolved.service.clone(), resolved.instance, resolved.key.clone());
                settled.insert(slot, SettledPort { port: fallback.lease.port, new_lease: fallback.new });
            }
        }
    }
    Ok((settled, notes))
}
