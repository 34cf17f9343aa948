//! `berth scan`: every registry slot (all instances of every service) that something on
//! this host holds right now, and by whom.
//!
//! It answers "can these slots be used here now?": any taken slot is a finding (exit 1),
//! except a slot of an optional service. A slot with a fallback lease in force is scanned
//! at its fallback port.
//! Where the host ledger has a lease on the port, the lease's project is shown too.

use std::path::Path;

use clap::Args;
use serde::Serialize;

use super::ledger_args::{apply_fallbacks, existing_ledger};
use super::output::{OutputFormat, emit, emit_json};
use super::{Outcome, manager};
use crate::ledger::Lease;
use crate::probe::{HostPorts, Listener};
use crate::registry::ResolvedPort;

/// Arguments of `berth scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The environment [default: the registry's first].
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Serialize)]
struct TakenSlot<'a> {
    slot: &'a ResolvedPort,
    holders: &'a [Listener],
    lease: Option<Lease>,
    /// The service is optional: something else on its port is not a finding.
    optional: bool,
}

pub(super) fn run(args: ScanArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let manager = manager(registry)?;
    let view = manager.environment(args.environment.as_deref())?;
    let mut slots = Vec::new();
    let mut spoiled = Vec::new();
    for service in &manager.registry().services {
        for instance in service.instances() {
            for resolved in view.each_instance_port(&service.name, u32::from(instance))? {
                match resolved {
                    Ok(resolved) => slots.push(resolved),
                    Err(error) => spoiled.push(error),
                }
            }
        }
    }
    apply_fallbacks(manager, &mut slots)?;
    let host = HostPorts::snapshot()?;
    let ledger = existing_ledger()?;
    let mut taken = Vec::new();
    for slot in &slots {
        let holders = host.holders(slot.port);
        if holders.is_empty() {
            continue;
        }
        let lease = match &ledger {
            Some(ledger) => ledger.lease_on(slot.port)?,
            None => None,
        };
        let optional = manager.registry().service(&slot.service).is_some_and(|service| service.optional);
        taken.push(TakenSlot { slot, holders, lease, optional });
    }
    match args.format {
        OutputFormat::Json => emit_json(&taken)?,
        OutputFormat::Table => {
            let mut table = crate::table::Table::new(&["SLOT", "PORT", "TAKEN BY", "LEASED TO"]);
            for entry in &taken {
                let lease = entry
                    .lease
                    .as_ref()
                    .map_or_else(String::new, |lease| format!("project {} (service {})", lease.project, lease.service));
                for listener in entry.holders {
                    let slot = entry.slot;
                    let optional = if entry.optional { " (optional)" } else { "" };
                    table.row([
                        format!("{}[{}].{}{optional}", slot.service, slot.instance, slot.key),
                        slot.port.to_string(),
                        listener.describe(),
                        lease.clone(),
                    ]);
                }
            }
            let mut text = if table.is_empty() { String::new() } else { table.render(super::output::terminal_width()) };
            let optional = taken.iter().filter(|entry| entry.optional).count();
            let optional = if optional == 0 { String::new() } else { format!(" ({optional} of optional services)") };
            text.push_str(&format!("{} slots scanned, {} taken{optional}\n", slots.len(), taken.len()));
            emit(&text, None)?;
        }
    }
    match super::report_spoiled_slots(&spoiled)? {
        Outcome::Clean if taken.iter().any(|entry| !entry.optional) => Ok(Outcome::Findings),
        outcome => Ok(outcome),
    }
}
