//! `berth logs SERVICE[:N]`: an instance's container output, the last lines or, with
//! `--follow`, as it comes until the container stops or Ctrl-C.

use std::io::Write;
use std::path::Path;

use clap::Args;
use futures_util::StreamExt;

use super::output::emit;
use super::{Outcome, block_on, manager};
use crate::containers::{self, Engine, Selection};
use crate::signals::Termination;

/// Arguments of `berth logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The instance: `kafka:1`, or `kafka` for instance 0.
    #[arg(value_name = "SERVICE[:N]", add = clap_complete::ArgValueCompleter::new(super::completions::instances))]
    selection: Selection,
    /// The environment [default: the registry's first].
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
    /// Only the last N lines.
    #[arg(long, value_name = "N", default_value_t = 100, allow_negative_numbers = true)]
    tail: usize,
    /// Keep printing what the container writes until it stops (or Ctrl-C).
    #[arg(short, long)]
    follow: bool,
}

pub(super) fn run(args: LogsArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        args.selection.first == args.selection.last,
        "`berth logs` shows one instance; name one, such as `kafka:1`"
    );
    let specs =
        containers::plan(manager(registry)?, args.environment.as_deref(), std::slice::from_ref(&args.selection))?;
    let name = &specs[0].container_name;
    block_on(async {
        let mut termination = Termination::install()?;
        let engine = Engine::connect(&super::engine_target()?).await?;
        anyhow::ensure!(
            engine.inspect(name).await?.is_some(),
            "no container `{name}`; start it with `berth up {}`",
            args.selection
        );
        if !args.follow {
            let lines = engine.logs(name, Some(args.tail)).await;
            emit(&lines.iter().map(|line| format!("{line}\n")).collect::<String>(), None)?;
            return Ok(Outcome::Clean);
        }
        let output = engine.follow_logs(name, args.tail);
        tokio::pin!(output);
        let mut stdout = std::io::stdout();
        loop {
            tokio::select! {
                chunk = output.next() => match chunk {
                    Some(chunk) => {
                        stdout.write_all(chunk?.as_bytes())?;
                        stdout.flush()?;
                    }
                    None => {
                        say!("{name} stopped: no more output");
                        return Ok(Outcome::Clean);
                    }
                },
                () = termination.received() => return Ok(Outcome::Exit(130)),
            }
        }
    })
}
