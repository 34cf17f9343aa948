//! `berth alloc`: lease dynamic ports for a project from the host ledger.
//!
//! Asking again for the same project and service returns the same ports (and renews
//! them); asking for more tops them up. Prints the ports one per line by default.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::Outcome;
use super::leases::export_rows;
use super::ledger_args::{ProjectArg, open_ledger, optional_manager, registry_ports};
use super::output::{emit, json_text};
use crate::export::{self, Format};
use crate::ledger::{AllocationRequest, LeaseOwner, Strategy, allocation_range, now};
use crate::probe::{self, Protocol};
use crate::registry::{PortManager, PortRange, parse_range};

/// Arguments of `berth alloc`.
#[derive(Debug, Args)]
pub struct AllocArgs {
    #[command(flatten)]
    project: ProjectArg,
    /// The service inside the project the ports are for.
    #[arg(long)]
    service: String,
    /// How many ports.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), allow_negative_numbers = true)]
    count: u32,
    /// Where to look, such as `30500-30599` [default: the registry's dynamic_range, else 3100-9999].
    #[arg(long, value_name = "FIRST-LAST", value_parser = parse_range, conflicts_with = "kind")]
    range: Option<PortRange>,
    /// Look in the range the registry keeps for this kind of project (`dynamic_ranges:`).
    #[arg(long)]
    kind: Option<String>,
    /// What the ports are for, as a note on the leases.
    #[arg(long, value_name = "TEXT")]
    purpose: Option<String>,
    /// Expire the leases this long after the last request for them (`90s`, `1h`, `7d`).
    #[arg(long, value_parser = positive_duration)]
    ttl: Option<Duration>,
    /// Tie the leases to this process: they go stale when it exits.
    #[arg(long)]
    pid: Option<i32>,
    /// Number the project's ports in sequence: the next free ports after the last one
    /// handed out to it, stable across runs, never reusing released ones.
    #[arg(long)]
    sequential: bool,
    /// Where a sequential project's numbering starts [default: the range's first port].
    #[arg(long, requires = "sequential")]
    base: Option<u16>,
    /// TCP or UDP.
    #[arg(long, value_enum, default_value_t = Protocol::Tcp)]
    protocol: Protocol,
    /// A health endpoint to record with the leases.
    #[arg(long, value_name = "URL")]
    health: Option<String>,
    /// Output: the ports one per line, or an export format.
    #[arg(long, value_enum, default_value_t = AllocFormat::Plain)]
    format: AllocFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AllocFormat {
    Plain,
    Json,
    Env,
    Compose,
    Shell,
}

pub(super) fn run(args: AllocArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let manager = optional_manager(registry)?;
    let range = allocation_range(manager.map(PortManager::registry), args.range, args.kind.as_deref())
        .map_err(anyhow::Error::msg)?;
    let strategy = if args.sequential {
        let base = args.base.unwrap_or(range.start);
        anyhow::ensure!(
            range.contains(u32::from(base)),
            "--base {base} lies outside the range {range}; pick a base inside it or widen --range"
        );
        Strategy::Sequential { base }
    } else {
        Strategy::FirstFit
    };
    let owner = args
        .pid
        .map(|pid| {
            probe::process_start_time(pid)
                .map(|start_time| LeaseOwner { pid, start_time: i64::try_from(start_time).unwrap_or(i64::MAX) })
                .with_context(|| {
                    format!("--pid {pid}: no such process is running; leases tied to it would be stale at once")
                })
        })
        .transpose()?;
    let ttl_seconds = args.ttl.map(|ttl| i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    let request = AllocationRequest {
        project: args.project.resolve()?,
        service: args.service,
        count: args.count,
        range,
        strategy,
        protocol: args.protocol,
        purpose: args.purpose.unwrap_or_default(),
        owner,
        ttl_seconds,
        health_endpoint: args.health,
        slot: None,
    };
    let mut ledger = open_ledger()?;
    let taken = registry_ports(manager);
    let leases = ledger.allocate(&request, &taken, |port| probe::is_free(port, request.protocol), now())?;
    tracing::info!(project = %request.project, service = %request.service, ports = ?leases.iter().map(|lease| lease.port).collect::<Vec<_>>(), "ledger_ports_allocated");
    let text = match args.format {
        AllocFormat::Plain => leases.iter().map(|lease| format!("{}\n", lease.port)).collect(),
        AllocFormat::Json => json_text(&leases)?,
        AllocFormat::Env => export::render(Format::Env, &export_rows(&leases)),
        AllocFormat::Compose => export::render(Format::Compose, &export_rows(&leases)),
        AllocFormat::Shell => export::render(Format::Shell, &export_rows(&leases)),
    };
    emit(&text, None)?;
    Ok(Outcome::Clean)
}

/// A lease time of at least a second: `0s` would expire the lease as it is made.
fn positive_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if duration < Duration::from_secs(1) {
        return Err("a lease must live at least 1s".to_string());
    }
    Ok(duration)
}
