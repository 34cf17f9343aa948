//! `berth up`: start instances as containers, concurrently (bounded), a progress line per
//! instance on stderr, and at the end a table of containers, ports and endpoints.
//!
//! All or nothing, the same as the `SpinUp` workflow that `--temporal` runs: when any
//! instance fails, or Ctrl-C/SIGTERM arrives, what this run did is undone (containers and
//! volumes it created, containers it started) and what it found is left as it was. With
//! `--keep-failed` nothing is undone and the report says what was kept and how to remove it.
//! The exit code is the worst failure's (1 findings, 2 unusable input), 130 when interrupted.

use std::path::Path;
use std::time::Duration;

use berth_workflows::activities::{ServiceStarted, Undone};
use berth_workflows::{FailureKind, Placed, PullPolicy, SpinUpInput};
use clap::Args;
use futures_util::StreamExt;
use serde::Serialize;

use super::failures::{self, Failure};
use super::output::{OutputFormat, emit, emit_json};
use super::progress::Progress;
use super::via_temporal::{self, Target};
use super::{Outcome, block_on, engine_target, manager, pulling};
use crate::containers::undo::undo;
use crate::containers::{self, Engine, Failed, ImageSettings, InstanceSpec, Selection, StartOptions, Started};
use crate::ledger;
use crate::signals::Termination;

/// Arguments of `berth up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Instances to start: `kafka:0-2`, `redis:1`, `mongodb` (instance 0), or a stack's
    /// (`observability:0-2`); what they depend on starts first. With --temporal, `@HOST`
    /// runs a word's instances (and what they depend on) on that host's worker.
    #[arg(required = true, value_name = "SERVICE[:N|:FIRST-LAST][@HOST]", add = clap_complete::ArgValueCompleter::new(super::completions::instances))]
    selections: Vec<Placed>,
    /// The environment [default: the registry's first].
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
    /// Replace containers whose configuration changed.
    #[arg(long)]
    recreate: bool,
    /// When to pull images: `missing` (those the host lacks), `always` or `never`.
    #[arg(long, value_name = "WHEN", default_value = "missing", value_parser = pull_policy())]
    pull: PullPolicy,
    /// Pull Docker Hub images through this registry (`registry.internal/library/redis:7.2`).
    #[arg(long, value_name = "REGISTRY", env = "BERTH_IMAGE_MIRROR", hide_env_values = true, value_parser = image_mirror)]
    image_mirror: Option<super::up::Mirror>,
    /// How long each instance may take to start and become ready, 1s to 1d [default: the service's].
    #[arg(long, value_parser = start_timeout)]
    timeout: Option<Duration>,
    /// How many instances start at once.
    #[arg(long, default_value_t = berth_workflows::requests::DEFAULT_PARALLEL, value_parser = clap::value_parser!(u16).range(1..))]
    parallel: u16,
    /// Keep what a failed run made (containers, volumes, leases) for inspection instead of
    /// undoing it; the report says how to remove it.
    #[arg(long)]
    keep_failed: bool,
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Run as the SpinUp workflow on Temporal (at ADDR, else $TEMPORAL_ADDRESS or the profile's).
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

impl UpArgs {
    /// The request, the same one the SpinUp workflow takes.
    fn request(&self) -> SpinUpInput {
        SpinUpInput {
            env: self.environment.clone(),
            host: self.host.clone(),
            spread: self.spread.clone(),
            recreate: self.recreate,
            pull: self.pull,
            start_timeout_seconds: self.timeout.map(|timeout| timeout.as_secs()),
            parallel: self.parallel,
            keep_failed: self.keep_failed,
            ..SpinUpInput::new(self.selections.iter().map(ToString::to_string).collect())
        }
    }
}

/// `--pull`: one of the policies, each listed in `--help`.
pub(super) fn pull_policy() -> impl clap::builder::TypedValueParser<Value = PullPolicy> {
    use clap::builder::TypedValueParser;
    let names: Vec<&'static str> = PullPolicy::ALL.iter().map(|policy| policy.as_str()).collect();
    clap::builder::PossibleValuesParser::new(names).try_map(|text| text.parse::<PullPolicy>())
}

/// An `--image-mirror` setting: a registry address, or none when set empty.
#[derive(Debug, Clone)]
pub(super) struct Mirror(pub(super) Option<String>);

/// `--image-mirror`: a registry address, or nothing for an empty setting.
pub(super) fn image_mirror(text: &str) -> Result<Mirror, String> {
    containers::images::check_mirror(text).map(Mirror).map_err(|error| error.to_string())
}

/// `--timeout`: whole seconds from one second to a day.
fn start_timeout(text: &str) -> Result<Duration, String> {
    let timeout = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    let limit = berth_workflows::requests::MAXIMUM_TIMEOUT_SECONDS;
    if timeout.as_secs() == 0 || timeout.as_secs() > limit {
        return Err(format!("must be between 1s and {}", humantime::format_duration(Duration::from_secs(limit))));
    }
    Ok(timeout)
}

#[derive(Serialize)]
struct Report {
    started: Vec<ServiceStarted>,
    failed: Vec<Failure>,
    /// What the run undid, and what it left with how to remove it.
    undone: Undone,
}

pub(super) fn run(args: UpArgs, registry: Option<&Path>, quiet: bool) -> anyhow::Result<Outcome> {
    let request = args.request();
    if let Some(address) = &args.temporal {
        let target = Target { address: address.as_deref(), host: args.host.clone() };
        // The local registry, where there is one, tells how many steps the run takes; the
        // workflow's time bound is derived from it.
        let batches = manager(registry).ok().and_then(|manager| {
            let selections: Vec<Selection> = args.selections.iter().map(|word| word.selection.clone()).collect();
            let dependencies = containers::plan::Dependencies::Include;
            let plan = containers::plan::plan_with(manager, request.env.as_deref(), &selections, dependencies).ok()?;
            let parallel = usize::from(args.parallel);
            Some(containers::plan::levels(&plan.specs).iter().map(|level| level.len().div_ceil(parallel)).sum())
        });
        return block_on(via_temporal::spin_up(target, request, batches, args.format));
    }
    super::refuse_placement_without_temporal(request.placement().map_err(|problem| anyhow::anyhow!("{problem}"))?)?;
    let run_id = containers::start::run_id("cli");
    let starts = request.starts(&run_id).map_err(|problem| anyhow::anyhow!("{problem}"))?;
    let selections: Vec<Selection> = starts
        .iter()
        .map(|start| Selection::one(start.service.as_deref().unwrap_or_default(), start.instance_id))
        .collect();
    let state = ledger::state_dir();
    let to_start = containers::fallback::plan_to_start(
        manager(registry)?,
        request.env.as_deref(),
        &selections,
        containers::plan::Dependencies::Include,
        state.as_deref(),
    )
    .map_err(super::settle_error)?;
    let progress = Progress::for_stderr(quiet);
    for added in &to_start.plan.added {
        progress.note(&format!("also starting {added}"));
    }
    for note in &to_start.notes {
        progress.note(&format!("note: {note}"));
    }
    let mut specs = to_start.plan.specs;
    for spec in &mut specs {
        spec.image = containers::images::mirrored(
            &spec.image,
            args.image_mirror.as_ref().and_then(|mirror| mirror.0.as_deref()),
        );
        if let Some(timeout) = args.timeout {
            spec.timeout = timeout;
        }
    }
    let began = std::time::Instant::now();
    let options = StartOptions {
        recreate: args.recreate,
        ledger: state,
        run: run_id,
        keep_failed: args.keep_failed,
        images: ImageSettings {
            policy: args.pull,
            mirror: args.image_mirror.as_ref().and_then(|mirror| mirror.0.clone()),
            docker_config: super::docker_config(),
        },
        request_began: Some(began),
    };
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    block_on(async {
        let mut termination = Termination::install()?;
        let engine = Engine::connect(&engine_target()?).await?;
        let (interrupt, interrupted) = tokio::sync::watch::channel(false);
        let signals = tokio::spawn(async move {
            termination.received().await;
            let _ = interrupt.send(true);
        });
        let mut report = Report { started: Vec::new(), failed: Vec::new(), undone: Undone::default() };
        let mut pull_interrupted = interrupted.clone();
        let unavailable = tokio::select! {
            unavailable = pulling::pull_all(&engine, &specs, &options.images, (began, &options.run), &progress) => unavailable,
            _ = pull_interrupted.wait_for(|interrupted| *interrupted) => {
                print(&report, args.format)?;
                say!("interrupted while pulling: nothing was started");
                return anyhow::Ok(Outcome::Exit(130));
            }
        };
        if !unavailable.is_empty() {
            // Nothing starts when an image cannot be had: the run is all or nothing.
            for spec in &specs {
                if let Some(error) = unavailable.get(&spec.image) {
                    report.failed.push(Failure {
                        service: spec.service.clone(),
                        instance: u32::from(spec.instance),
                        container: spec.container_name.clone(),
                        kind: error.kind(),
                        error: error.to_string(),
                    });
                }
            }
            print(&report, args.format)?;
            if args.format == OutputFormat::Table {
                say!("{}", summary(&report.undone));
            }
            return Ok(failures::outcome(&report.failed));
        }
        // Step by step in dependency order: a step starts once every instance of the one
        // before is ready, and none starts after a failure.
        let mut results: Vec<(usize, Result<Started, Failed>)> = Vec::new();
        for level in containers::plan::levels(&specs) {
            let step =
                start_all(&engine, &specs, &level, &options, usize::from(args.parallel), &interrupted, &progress).await;
            let failed = step.iter().any(|(_, result)| result.is_err());
            results.extend(step);
            if failed || *interrupted.borrow() {
                break;
            }
        }
        signals.abort();
        for (index, result) in &results {
            if let Err(failed) = result {
                report.failed.push(failure(&specs[*index], failed));
                report.undone.undone.extend(failed.undone.undone.iter().cloned());
                report.undone.left.extend(failed.undone.left.iter().cloned());
            }
        }
        // A signal after every instance was ready came too late to stop anything.
        let was_interrupted = *interrupted.borrow() && (!report.failed.is_empty() || results.len() < specs.len());
        let all_started = report.failed.is_empty() && results.len() == specs.len();
        if all_started || args.keep_failed {
            for (index, result) in &results {
                if let Ok(started) = result {
                    containers::start::finish(&engine, &specs[*index], started, options.ledger.clone()).await;
                }
            }
            report.started = results
                .into_iter()
                .filter_map(|(_, result)| result.ok())
                .map(|started| started.into_contract(host.clone()))
                .collect();
        } else {
            // All or nothing: undo what this run did, dependents before their dependencies.
            for (index, result) in results.into_iter().rev() {
                if let Ok(started) = result {
                    let undone = undo(&engine, &specs[index], &started.journal, options.ledger.clone()).await;
                    report.undone.undone.extend(undone.undone);
                    report.undone.left.extend(undone.left);
                }
            }
            let swept = containers::undo::sweep_networks(&engine, &specs).await;
            report.undone.undone.extend(swept.undone);
            report.undone.left.extend(swept.left);
        }
        print(&report, args.format)?;
        if was_interrupted {
            say!("interrupted: {}", summary(&report.undone));
        } else if !report.failed.is_empty() && args.format == OutputFormat::Table {
            say!("{}", summary(&report.undone));
        }
        Ok(if was_interrupted { Outcome::Exit(130) } else { failures::outcome(&report.failed) })
    })
}

fn failure(spec: &InstanceSpec, failed: &Failed) -> Failure {
    let hint = match failed.kind() {
        FailureKind::ConfigChanged => "; pass --recreate to replace it",
        _ => "",
    };
    Failure {
        service: spec.service.clone(),
        instance: u32::from(spec.instance),
        container: spec.container_name.clone(),
        kind: failed.kind(),
        error: format!("{}{hint}", failed.error),
    }
}

/// Starts the specs at `indices`, at most `parallel` at once; results in the order of `indices`.
async fn start_all(
    engine: &Engine,
    specs: &[InstanceSpec],
    indices: &[usize],
    options: &StartOptions,
    parallel: usize,
    interrupted: &tokio::sync::watch::Receiver<bool>,
    progress: &Progress,
) -> Vec<(usize, Result<Started, Failed>)> {
    let mut results: Vec<(usize, Result<Started, Failed>)> =
        futures_util::stream::iter(indices.iter().map(|&index| (index, &specs[index])))
            .map(|(index, spec)| async move {
                let shown = progress.instance(
                    format!("{} {}", spec.label(), spec.container_name),
                    containers::ready::describe(&spec.ready),
                );
                let mut interrupted = interrupted.clone();
                let signal = async move {
                    let _ = interrupted.wait_for(|interrupted| *interrupted).await;
                };
                let result = containers::start::start(engine, spec, options, &|phase| shown.phase(phase), signal).await;
                shown.finish(&result);
                (index, result)
            })
            .buffer_unordered(parallel)
            .collect()
            .await;
    results.sort_by_key(|(index, _)| *index);
    results
}

fn print(report: &Report, format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => emit_json(report)?,
        OutputFormat::Table => emit(&table(&report.started, &report.failed, false), None)?,
    }
    failures::print(&report.failed);
    Ok(())
}

fn summary(undone: &Undone) -> String {
    match (undone.undone.is_empty(), undone.left.is_empty()) {
        (true, true) => "nothing to undo: this run had made nothing".to_string(),
        (false, true) => format!("undone: {}", undone.undone.join(", ")),
        (true, false) => format!("left: {}", undone.left.join(", ")),
        (false, false) => format!("undone: {}; left: {}", undone.undone.join(", "), undone.left.join(", ")),
    }
}

/// The instances as a table: those started with their endpoints, those that failed with
/// their failure kind.
pub(super) fn table(started: &[ServiceStarted], failed: &[Failure], hosts: bool) -> String {
    let headers: &[&str] =
        if hosts { &["HOST", "CONTAINER", "OUTCOME", "ENDPOINTS"] } else { &["CONTAINER", "OUTCOME", "ENDPOINTS"] };
    let mut table = crate::table::Table::new(headers);
    let host_cell = |host: &str| hosts.then(|| host.to_string());
    for instance in started {
        // A fallback is marked where it is read: `port=127.0.0.1:3211 (fallback for 3210)`.
        let endpoints: Vec<String> = instance
            .endpoints
            .iter()
            .map(|(key, endpoint)| match instance.fallback_for.get(key) {
                Some(computed) => format!("{key}={endpoint} (fallback for {computed})"),
                None => format!("{key}={endpoint}"),
            })
            .collect();
        table.row(host_cell(&instance.host).into_iter().chain([
            instance.container.clone(),
            super::style::state(&instance.outcome),
            endpoints.join(" "),
        ]));
    }
    for failure in failed {
        let container = if failure.container.is_empty() {
            format!("{}[{}]", failure.service, failure.instance)
        } else {
            failure.container.clone()
        };
        table.row(host_cell("").into_iter().chain([
            container,
            format!("{}: {}", super::style::state("failed"), failure.kind),
            String::new(),
        ]));
    }
    if table.is_empty() { String::new() } else { table.render(super::output::terminal_width()) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_and_the_workflow_take_the_same_request() {
        use clap::Parser;
        let cli = crate::cli::Cli::parse_from([
            "berth",
            "up",
            "web:0-1",
            "--recreate",
            "--timeout",
            "30s",
            "--parallel",
            "2",
            "--keep-failed",
        ]);
        let crate::cli::Command::Up(args) = cli.command else { panic!("not up") };
        let request = args.request();
        assert_eq!(request.specs, ["web:0-1"]);
        assert_eq!(
            (request.recreate, request.start_timeout_seconds, request.parallel, request.keep_failed),
            (true, Some(30), 2, true)
        );
        assert_eq!(request.starts("run").expect("valid").len(), 2);
    }
}
