//! `berth export compose`: the instances as a docker-compose file.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::output::emit;
use super::{Outcome, manager};
use crate::containers::{self, Selection};

/// Arguments of `berth export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    target: ExportTarget,
}

#[derive(Debug, Subcommand)]
enum ExportTarget {
    /// A docker-compose file with the same container names, ports, volumes and labels.
    Compose {
        /// Instances to include: `kafka:0-2`, `redis:1`, `mongodb`.
        #[arg(required = true, value_name = "SERVICE[:N|:FIRST-LAST]", add = clap_complete::ArgValueCompleter::new(super::completions::instances))]
        selections: Vec<Selection>,
        /// The environment [default: the registry's first].
        #[arg(long = "env", value_name = "ENV")]
        environment: Option<String>,
        /// Write to this file (atomically) instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

pub(super) fn run(args: ExportArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let ExportTarget::Compose { selections, environment, output } = args.target;
    // The dependencies too, as `up` starts them, so that the file's `depends_on` resolve.
    let dependencies = containers::plan::Dependencies::Include;
    let plan = containers::plan::plan_with(manager(registry)?, environment.as_deref(), &selections, dependencies)?;
    emit(&containers::compose::render(&plan.specs), output.as_deref())?;
    Ok(Outcome::Clean)
}
