//! `berth logs SERVICE[:N]`: an instance's container output.

use std::path::Path;

use clap::Args;

use super::output::emit;
use super::{Outcome, block_on, manager};
use crate::containers::{self, Engine, Selection};

/// Arguments of `berth logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The instance: `kafka:1`, or `kafka` for instance 0.
    #[arg(value_name = "SERVICE[:N]", add = clap_complete::ArgValueCompleter::new(super::completions::services_and_stacks))]
    selection: Selection,
    /// The environment [default: the registry's first].
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
    /// Only the last N lines.
    #[arg(long, default_value_t = 100)]
    tail: usize,
}

pub(super) fn run(args: LogsArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        args.selection.first == args.selection.last,
        "`berth logs` shows one instance; name one, such as `kafka:1`"
    );
    let specs =
        containers::plan(manager(registry)?, args.environment.as_deref(), std::slice::from_ref(&args.selection))?;
    let name = &specs[0].container_name;
    let lines = block_on(async {
        let engine = Engine::connect(&super::engine_target()?).await?;
        anyhow::ensure!(
            engine.inspect(name).await?.is_some(),
            "no container `{name}`; start it with `berth up {}`",
            args.selection
        );
        Ok(engine.logs(name, Some(args.tail)).await)
    })?;
    emit(&lines.iter().map(|line| format!("{line}\n")).collect::<String>(), None)?;
    Ok(Outcome::Clean)
}
