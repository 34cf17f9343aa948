//! `berth completions SHELL`: shell completion scripts generated from the clap definition.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, Outcome};

/// Arguments of `berth completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate for.
    shell: Shell,
}

pub(super) fn run(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "berth", &mut script);
    super::output::emit(&String::from_utf8_lossy(&script), None)?;
    Ok(Outcome::Clean)
}
