//! `berth gc`: free leases whose owner process is gone, whose TTL expired, or whose
//! project path no longer exists, or whose container is gone — but only once a second
//! pass, at least `--grace` after the first, still finds them stale. Each pass decides and
//! frees inside one ledger transaction. `--dry-run` shows the decisions and writes nothing.

use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::ledger_args::open_ledger;
use super::output::{OutputFormat, emit, emit_json};
use super::{Outcome, block_on};
use crate::containers::Engine;
use crate::ledger::{ContainerListing, GcAction, Lease, now};

/// Arguments of `berth gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Show what would be marked and freed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// How long a lease must stay stale between two passes before it is freed.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    grace: Duration,
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Serialize)]
struct Decision<'a> {
    lease: &'a Lease,
    action: &'a GcAction,
}

pub(super) fn run(args: GcArgs) -> anyhow::Result<Outcome> {
    let mut ledger = open_ledger()?;
    let containers = list_containers(&ledger)?;
    let grace = i64::try_from(args.grace.as_secs()).unwrap_or(i64::MAX);
    let decisions = crate::ledger::gc_pass(&mut ledger, containers.as_ref(), grace, now(), args.dry_run)?;
    for (lease, decision) in &decisions {
        tracing::info!(port = lease.port, project = %lease.project, action = ?decision, dry_run = args.dry_run, "ledger_gc_decision");
    }
    match args.format {
        OutputFormat::Json => {
            emit_json(&decisions.iter().map(|(lease, action)| Decision { lease, action }).collect::<Vec<_>>())?
        }
        OutputFormat::Table => emit(&table(&decisions, args.dry_run), None)?,
    }
    Ok(Outcome::Clean)
}

/// The engine's containers, when the ledger holds container leases; `None` (and a warning)
/// when the engine cannot be asked, so that no container lease is judged on no evidence.
fn list_containers(ledger: &crate::ledger::Ledger) -> anyhow::Result<Option<ContainerListing>> {
    if !ledger.leases(None)?.iter().any(|lease| lease.container().is_some()) {
        return Ok(None);
    }
    let listed = block_on(async {
        let engine = Engine::connect(&super::engine_target()?).await?;
        let names = engine.container_names().await?;
        Ok::<_, crate::containers::StartError>((engine.id().to_string(), names))
    });
    match listed {
        // Only the engine the containers were started on can say they are gone.
        Ok((engine, names)) => Ok(Some(ContainerListing { engine, names, listed_at: now() })),
        Err(error) => {
            super::style::warning(format_args!(
                "container leases were not checked, the Docker engine did not answer: {error}"
            ));
            Ok(None)
        }
    }
}

fn table(decisions: &[(Lease, GcAction)], dry_run: bool) -> String {
    let verb = |done: &'static str, planned: &'static str| if dry_run { planned } else { done };
    let mut table = crate::table::Table::new(&["PORT", "PROTOCOL", "PROJECT", "SERVICE", "DECISION"]);
    let mut freed = 0;
    for (lease, decision) in decisions {
        let what = match decision {
            GcAction::Mark(reason) => {
                format!("{} stale ({reason}); freed on a later pass", verb("marked", "would mark"))
            }
            GcAction::Wait(reason) => format!("still stale ({reason}); grace period not over"),
            GcAction::Free(reason) => {
                freed += 1;
                format!("{} ({reason})", verb("freed", "would free"))
            }
            GcAction::Recover => format!("{} stale mark: healthy again", verb("cleared", "would clear")),
        };
        table.row([
            lease.port.to_string(),
            lease.protocol.to_string(),
            lease.project.clone(),
            lease.service.clone(),
            what,
        ]);
    }
    let mut text = if table.is_empty() { String::new() } else { table.render(super::output::terminal_width()) };
    text.push_str(&format!("{} lease(s) {}\n", freed, verb("freed", "would be freed")));
    text
}
