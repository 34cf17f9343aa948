//! `berth export compose|k8s`: the instances as a docker-compose file, or as Kubernetes
//! Services and a ConfigMap of their endpoints.

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
    /// Kubernetes Services on the same ports (NodePort inside the node-port range, else
    /// ClusterIP), selecting pods labelled as berth labels containers, and a ConfigMap of
    /// the endpoints.
    K8s {
        /// Instances to include: `kafka:0-2`, `redis:1`, `mongodb`.
        #[arg(required = true, value_name = "SERVICE[:N|:FIRST-LAST]", add = clap_complete::ArgValueCompleter::new(super::completions::instances))]
        selections: Vec<Selection>,
        /// The environment [default: the registry's first].
        #[arg(long = "env", value_name = "ENV")]
        environment: Option<String>,
        /// The cluster's node-port range (its `--service-node-port-range`).
        #[arg(long, value_name = "FIRST-LAST", default_value = "30000-32767", value_parser = crate::registry::parse_range)]
        node_port_range: crate::registry::PortRange,
        /// Write to this file (atomically) instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

pub(super) fn run(args: ExportArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    // The dependencies too, as `up` starts them, so that the file's `depends_on` resolve
    // and a cluster gets the Services its clients reach.
    let dependencies = containers::plan::Dependencies::Include;
    match args.target {
        ExportTarget::Compose { selections, environment, output } => {
            let plan =
                containers::plan::plan_with(manager(registry)?, environment.as_deref(), &selections, dependencies)?;
            emit(&containers::compose::render(&plan.specs), output.as_deref())?;
        }
        ExportTarget::K8s { selections, environment, node_port_range, output } => {
            let plan =
                containers::plan::plan_with(manager(registry)?, environment.as_deref(), &selections, dependencies)?;
            emit(&containers::kubernetes::render(&plan.specs, node_port_range)?, output.as_deref())?;
        }
    }
    Ok(Outcome::Clean)
}
