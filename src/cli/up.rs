//! `berth up`: start instances as containers, concurrently (bounded), a progress line per
//! instance on stderr, and at the end a table of containers, ports and endpoints.
//!
//! Exit 1 when any instance failed; each failure is named with its reason.

use std::path::Path;
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use serde::Serialize;

use super::output::{OutputFormat, emit, emit_json};
use super::via_temporal::{self, Target};
use super::{Outcome, manager, runtime};
use crate::containers::{self, Engine, InstanceSpec, Phase, Selection, StartError, StartOptions, Started};
use crate::ledger;
use berth_workflows::activities::ServiceStarted;

/// Arguments of `berth up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Instances to start: `kafka:0-2`, `redis:1`, `mongodb` (instance 0).
    #[arg(required = true, value_name = "SERVICE[:N|:FIRST-LAST]")]
    selections: Vec<Selection>,
    /// The environment [default: the registry's first].
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
    /// Replace containers whose configuration changed.
    #[arg(long)]
    recreate: bool,
    /// How long each instance may take to start and become ready [default: the service's].
    #[arg(long, value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    /// How many instances start at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    parallel: u16,
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Run as the SpinUp workflow on Temporal (at ADDR, else $TEMPORAL_ADDRESS or the profile's).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    temporal: Option<String>,
    /// With --temporal: run on this host's worker (`berth@<host>`).
    #[arg(long = "host", value_name = "HOST", requires = "temporal")]
    host: Option<String>,
}

#[derive(Serialize)]
struct Failure {
    service: String,
    instance: u16,
    container: String,
    kind: &'static str,
    error: String,
}

#[derive(Serialize)]
struct Report {
    started: Vec<ServiceStarted>,
    failed: Vec<Failure>,
}

pub(super) fn run(args: UpArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    if let Some(address) = args.temporal.as_deref() {
        let target = Target { address: Some(address), host: args.host.clone(), environment: args.environment.clone() };
        let timeout = args.timeout.map(|timeout| timeout.as_secs().max(1));
        return match runtime()?.block_on(via_temporal::spin_up(target, &args.selections, timeout)) {
            Ok(instances) => {
                let report = Report { started: instances, failed: Vec::new() };
                match args.format {
                    OutputFormat::Json => emit_json(&report)?,
                    OutputFormat::Table => emit(&table(&report.started), None)?,
                }
                Ok(Outcome::Clean)
            }
            Err(error) => {
                eprintln!("error: SpinUp failed: {error:#}");
                Ok(Outcome::Findings)
            }
        };
    }
    let mut specs = containers::plan(manager(registry)?, args.environment.as_deref(), &args.selections)?;
    if let Some(timeout) = args.timeout {
        for spec in &mut specs {
            spec.timeout = timeout;
        }
    }
    let options = StartOptions { recreate: args.recreate, ledger: ledger::state_dir() };
    let results = runtime()?.block_on(start_all(&specs, &options, usize::from(args.parallel)))?;
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let mut report = Report { started: Vec::new(), failed: Vec::new() };
    for (spec, result) in specs.iter().zip(results) {
        match result {
            Ok(started) => report.started.push(started.into_contract(host.clone())),
            Err(error) => report.failed.push(Failure {
                service: spec.service.clone(),
                instance: spec.instance,
                container: spec.container_name.clone(),
                kind: error.kind(),
                error: error.to_string(),
            }),
        }
    }
    match args.format {
        OutputFormat::Json => emit_json(&report)?,
        OutputFormat::Table => emit(&table(&report.started), None)?,
    }
    for failure in &report.failed {
        eprintln!("error: {}[{}] ({}): {}", failure.service, failure.instance, failure.container, failure.error);
    }
    Ok(if report.failed.is_empty() { Outcome::Clean } else { Outcome::Findings })
}

/// Starts every spec, at most `parallel` at once; results in the order of `specs`.
async fn start_all(
    specs: &[InstanceSpec],
    options: &StartOptions,
    parallel: usize,
) -> Result<Vec<Result<Started, StartError>>, StartError> {
    let engine = Engine::connect().await?;
    let engine = &engine;
    let mut results: Vec<(usize, Result<Started, StartError>)> = futures_util::stream::iter(specs.iter().enumerate())
        .map(|(index, spec)| async move {
            let label = format!("{} {}", spec.label(), spec.container_name);
            let progress = |phase: Phase| match phase {
                Phase::Preflight => eprintln!("{label}: checking ports"),
                Phase::Create => eprintln!("{label}: creating"),
                Phase::Start => eprintln!("{label}: starting"),
                Phase::Ready { .. } => {}
            };
            let result = containers::start::start(engine, spec, options, &progress).await;
            match &result {
                Ok(started) => eprintln!("{label}: {} and ready in {:.1}s", started.outcome.as_str(), started.seconds),
                Err(error) => eprintln!("{label}: failed ({})", error.kind()),
            }
            (index, result)
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    results.sort_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, result)| result).collect())
}

fn table(started: &[ServiceStarted]) -> String {
    let mut text = String::new();
    for instance in started {
        let endpoints: Vec<String> =
            instance.endpoints.iter().map(|(key, endpoint)| format!("{key}={endpoint}")).collect();
        text.push_str(&format!("{:<28} {:<9} {}\n", instance.container, instance.outcome, endpoints.join(" ")));
    }
    text
}
