//! `berth port`: print one port and nothing else, for `$(…)` in scripts.
//!
//! A key with a fallback range answers its fallback when another process holds its port,
//! leasing it so that the answer is unique on the host and stable while the lease lives.

use std::path::Path;

use clap::Args;

use super::ledger_args::settle_port;
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
    let manager = manager(registry)?;
    let view = manager.environment(args.environment.as_deref())?;
    let mut resolved = view.resolve(&args.service, args.instance, args.key.as_deref())?;
    settle_port(manager, &mut resolved)?;
    emit(&format!("{}\n", resolved.port), None)?;
    Ok(Outcome::Clean)
}
