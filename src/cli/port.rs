//! `berth port`: print one port and nothing else, for `$(…)` in scripts.

use std::path::Path;

use clap::Args;

use super::ledger_args::warn_about_foreign_leases;
use super::output::emit;
use super::{Outcome, manager};

/// Arguments of `berth port`.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// The service (`kafka`).
    #[arg(add = clap_complete::ArgValueCompleter::new(super::completions::services))]
    service: String,
    /// The port key (`broker_port`); may be left out when the service has one port.
    key: Option<String>,
    /// The instance id.
    #[arg(short, long, default_value_t = 0, allow_negative_numbers = true)]
    instance: u32,
    /// The environment [default: the registry's first].
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
}

pub(super) fn run(args: PortArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let view = manager(registry)?.environment(args.environment.as_deref())?;
    let resolved = view.resolve(&args.service, args.instance, args.key.as_deref())?;
    warn_about_foreign_leases(std::slice::from_ref(&resolved));
    emit(&format!("{}\n", resolved.port), None)?;
    Ok(Outcome::Clean)
}
