//! `berth down`: stop and remove instances' containers, keeping their volumes unless
//! `--volumes`, and release their ports in the ledger — only what berth made for exactly
//! those instances; anything else of the same name is refused and left alone.
//!
//! Every instance is tried and every failure reported (the same as the `TearDown` workflow
//! that `--temporal` runs); the exit code is the worst failure's.

use std::path::Path;

use berth_workflows::activities::ServiceStopped;
use berth_workflows::{FailureKind, Placed, TearDownInput};
use clap::Args;
use futures_util::StreamExt;

use super::failures::{self, Failure};
use super::output::emit;
use super::via_temporal::{self, Target};
use super::{Outcome, block_on, engine_target, manager};
use crate::containers::{self, Engine, Selection, StopOptions};
use crate::ledger;

/// Arguments of `berth down`.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Instances to stop: `kafka:0-2`, `redis:1`, `mongodb` (instance 0), or a stack's
    /// (`observability:0-2`) with what its services depend on.
    #[arg(required = true, value_name = "SERVICE[:N|:FIRST-LAST][@HOST]", add = clap_complete::ArgValueCompleter::new(super::completions::instances))]
    selections: Vec<Placed>,
    /// The environment [default: the registry's first].
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
    /// Remove the instances' volumes too (their data is gone).
    #[arg(long)]
    volumes: bool,
    /// Remove berth containers of the instances even when they run another configuration
    /// (started from another registry); containers berth did not make are never removed.
    #[arg(long)]
    force: bool,
    /// How many instances stop at once.
    #[arg(long, default_value_t = berth_workflows::requests::DEFAULT_PARALLEL, value_parser = clap::value_parser!(u16).range(1..))]
    parallel: u16,
    /// Run as the TearDown workflow on Temporal (at ADDR, else $TEMPORAL_ADDRESS or the profile's).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, value_parser = super::temporal_address)]
    temporal: Option<Option<String>>,
    /// With --temporal: run on this host's worker (`berth@<host>`).
    #[arg(long = "host", value_name = "HOST", requires = "temporal")]
    host: Option<String>,
    /// With --temporal: deal the instances no `@HOST` word places over these hosts' workers,
    /// by instance id (`--spread h1,h2,h3`).
    #[arg(long, value_name = "HOSTS", value_delimiter = ',', requires = "temporal", conflicts_with = "host")]
    spread: Vec<String>,
}

impl DownArgs {
    /// The request, the same one the TearDown workflow takes.
    fn request(&self) -> TearDownInput {
        TearDownInput {
            env: self.environment.clone(),
            host: self.host.clone(),
            spread: self.spread.clone(),
            volumes: self.volumes,
            force: self.force,
            parallel: self.parallel,
            ..TearDownInput::new(self.selections.iter().map(ToString::to_string).collect())
        }
    }
}

pub(super) fn run(args: DownArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let request = args.request();
    if let Some(address) = &args.temporal {
        let target = Target { address: address.as_deref(), host: args.host.clone() };
        return block_on(via_temporal::tear_down(target, request));
    }
    let stops = request.stops().map_err(|problem| anyhow::anyhow!("{problem}"))?;
    super::refuse_placement_without_temporal(request.placement().map_err(|problem| anyhow::anyhow!("{problem}"))?)?;
    let selections: Vec<Selection> = stops
        .iter()
        .map(|stop| Selection::one(stop.service.as_deref().unwrap_or_default(), stop.instance_id))
        .collect();
    let dependencies = containers::plan::Dependencies::OfStacks;
    let state = ledger::state_dir();
    let specs = containers::fallback::plan_in_force(
        manager(registry)?,
        request.env.as_deref(),
        &selections,
        dependencies,
        state.as_deref(),
    )
    .map_err(super::settle_error)?
    .specs;
    let options = StopOptions { volumes: args.volumes, force: args.force, ledger: state };
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let (stopped, failed) = block_on(async {
        let engine = Engine::connect(&engine_target()?).await?;
        let engine = &engine;
        let options = &options;
        // Dependents before what they depend on: the reverse of the order `up` starts them.
        let mut results = Vec::new();
        for level in containers::plan::levels(&specs).into_iter().rev() {
            let stops: Vec<_> = futures_util::stream::iter(level.into_iter().map(|index| &specs[index]))
                .map(|spec| async move { (spec, containers::stop::stop(engine, spec, options).await) })
                .buffer_unordered(usize::from(args.parallel))
                .collect()
                .await;
            results.extend(stops);
        }
        let mut stopped = Vec::new();
        let mut failed = Vec::new();
        for (spec, result) in results {
            match result {
                Ok(done) => stopped.push(ServiceStopped {
                    container: spec.container_name.clone(),
                    removed: done.removed,
                    volumes_removed: done.volumes_removed,
                    released_ports: done.released_ports,
                    network_removed: done.network_removed,
                    host: host.clone(),
                }),
                Err(error) => {
                    let hint = match error.kind() {
                        FailureKind::ConfigChanged => "; pass --force to remove it anyway",
                        _ => "",
                    };
                    failed.push(Failure {
                        service: spec.service.clone(),
                        instance: u32::from(spec.instance),
                        container: spec.container_name.clone(),
                        kind: error.kind(),
                        error: format!("{error}{hint}"),
                    });
                }
            }
        }
        anyhow::Ok((stopped, failed))
    })?;
    report(&stopped, &failed)
}

/// Prints a line per instance stopped and one per failure; the exit code is the worst failure's.
pub(super) fn report(stopped: &[ServiceStopped], failed: &[Failure]) -> anyhow::Result<Outcome> {
    // In the order the instances were stopped: dependents before what they depend on.
    emit(&stopped.iter().map(line).collect::<String>(), None)?;
    failures::print(failed);
    Ok(failures::outcome(failed))
}

fn line(stopped: &ServiceStopped) -> String {
    let mut text = format!("{}: {}", stopped.container, if stopped.removed { "removed" } else { "no such container" });
    if !stopped.volumes_removed.is_empty() {
        text.push_str(&format!(", volumes removed: {}", stopped.volumes_removed.join(", ")));
    }
    if !stopped.released_ports.is_empty() {
        let ports: Vec<String> = stopped.released_ports.iter().map(u16::to_string).collect();
        text.push_str(&format!(", released port(s) {}", ports.join(", ")));
    }
    if let Some(network) = &stopped.network_removed {
        text.push_str(&format!(", network {network} removed"));
    }
    text.push('\n');
    text
}
