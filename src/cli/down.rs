//! `berth down`: stop and remove instances' containers, keeping their volumes unless
//! `--volumes`, and release their ports in the ledger.

use std::path::Path;

use clap::Args;
use futures_util::StreamExt;

use super::output::emit;
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
}

pub(super) fn run(args: DownArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
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
