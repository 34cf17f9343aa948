//! `berth gc`: free leases whose owner process is gone, whose TTL expired, or whose
//! project path no longer exists — but only once a second pass, at least `--grace` after
//! the first, still finds them stale. `--dry-run` shows the decisions and writes nothing.

use std::path::Path;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use super::Outcome;
use super::ledger_args::open_ledger;
use super::output::{OutputFormat, emit, emit_json};
use crate::ledger::{GcAction, Lease, LeaseOwner, action, now, staleness};
use crate::probe;

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
    let now = now();
    let grace = i64::try_from(args.grace.as_secs()).unwrap_or(i64::MAX);
    let owner_alive = |owner: LeaseOwner| {
        probe::process_start_time(owner.pid).and_then(|start| i64::try_from(start).ok()) == Some(owner.start_time)
    };
    let decisions: Vec<(Lease, GcAction)> = ledger
        .leases(None)?
        .into_iter()
        .filter_map(|lease| {
            let stale = staleness(&lease, now, owner_alive, Path::exists);
            action(&lease, stale, now, grace).map(|action| (lease, action))
        })
        .collect();
    if !args.dry_run {
        ledger.apply_gc(&decisions, now)?;
    }
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

fn table(decisions: &[(Lease, GcAction)], dry_run: bool) -> String {
    let verb = |done: &'static str, planned: &'static str| if dry_run { planned } else { done };
    let mut text = String::new();
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
        text.push_str(&format!("{} {} {}/{}: {what}\n", lease.port, lease.protocol, lease.project, lease.service));
    }
    text.push_str(&format!("{} lease(s) {}\n", freed, verb("freed", "would be freed")));
    text
}
