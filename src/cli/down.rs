//! `berth down`: stop and remove instances' containers, keeping their volumes unless
//! `--volumes`, and release their ports in the ledger.

use std::path::Path;

use clap::Args;
use futures_util::StreamExt;

use super::output::emit;
use super::via_temporal::{self, Target};
use super::{Outcome, manager, runtime};
use crate::containers::{self, Engine, Selection};
use crate::ledger;

/// Arguments of `berth down`.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Instances to stop: `kafka:0-2`, `redis:1`, `mongodb` (instance 0).
    #[arg(required = true, value_name = "SERVICE[:N|:FIRST-LAST]")]
    selections: Vec<Selection>,
    /// The environment [default: the registry's first].
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
    /// Remove the instances' volumes too (their data is gone).
    #[arg(long)]
    volumes: bool,
    /// How many instances stop at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    parallel: u16,
    /// Run as the TearDown workflow on Temporal (at ADDR, else $TEMPORAL_ADDRESS or the profile's).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    temporal: Option<String>,
    /// With --temporal: run on this host's worker (`berth@<host>`).
    #[arg(long = "host", value_name = "HOST", requires = "temporal")]
    host: Option<String>,
}

pub(super) fn run(args: DownArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    if let Some(address) = args.temporal.as_deref() {
        let target = Target { address: Some(address), host: args.host.clone(), environment: args.environment.clone() };
        let output = runtime()?.block_on(via_temporal::tear_down(target, &args.selections, args.volumes))?;
        let mut lines: Vec<String> = output
            .stopped
            .iter()
            .map(|stopped| {
                format!("{}: {}\n", stopped.container, if stopped.removed { "removed" } else { "no such container" })
            })
            .collect();
        lines.sort();
        emit(&lines.concat(), None)?;
        return Ok(Outcome::Clean);
    }
    let specs = containers::plan(manager(registry)?, args.environment.as_deref(), &args.selections)?;
    let ledger = ledger::state_dir();
    let lines = runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        let engine = &engine;
        let results: Vec<_> = futures_util::stream::iter(&specs)
            .map(|spec| {
                let ledger = ledger.clone();
                async move { (spec, containers::start::stop(engine, spec, args.volumes, ledger).await) }
            })
            .buffer_unordered(usize::from(args.parallel))
            .collect()
            .await;
        let mut lines = Vec::new();
        for (spec, result) in results {
            let removed = result?;
            lines.push(format!(
                "{}: {}{}",
                spec.container_name,
                if removed { "removed" } else { "no such container" },
                if args.volumes && !spec.volumes.is_empty() { ", volumes removed" } else { "" }
            ));
        }
        anyhow::Ok(lines)
    })?;
    let mut lines = lines;
    lines.sort();
    emit(&lines.iter().map(|line| format!("{line}\n")).collect::<String>(), None)?;
    Ok(Outcome::Clean)
}
