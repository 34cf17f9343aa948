//! `berth doctor`: is this host ready for berth? One line per check (the registry, the
//! kernel's ephemeral range against it, the state directory and its ledger, the Docker
//! engine, Temporal when one is named), each failure with what to do about it.
//!
//! Doctor only reads: it creates no state directory, ledger, container or workflow. Every
//! check that talks to something has a bound, so a dead engine or cluster is a failed line,
//! not a hang. Exit 0 when nothing failed (warnings allowed), 1 when a check failed.

use std::path::Path;
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use temporalio_client::NamespacedClient as _;

use super::Outcome;
use super::output::{OutputFormat, emit, emit_json};
use crate::containers::Engine;
use crate::ledger::{self, Ledger};
use crate::registry::{self, PortRange};

/// How long doctor waits for the engine and for Temporal before calling them unreachable.
const ANSWER_BOUND: Duration = Duration::from_secs(10);

/// Arguments of `berth doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also check the Temporal cluster at this `host:port` and that a berth worker polls it
    /// [default: $TEMPORAL_ADDRESS; not checked when neither is set]
    #[arg(long, value_name = "ADDRESS", env = "TEMPORAL_ADDRESS")]
    temporal: Option<String>,
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

/// One check's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Check {
    check: &'static str,
    status: Status,
    /// What was found, and for a warning or failure what to do.
    detail: String,
}

impl Check {
    fn new(check: &'static str, status: Status, detail: impl Into<String>) -> Self {
        Self { check, status, detail: detail.into() }
    }
}

pub(super) fn run(args: DoctorArgs, explicit_registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let mut checks = registry_checks(explicit_registry);
    checks.push(state_check(ledger::state_dir().as_deref()));
    let runtime = tokio::runtime::Runtime::new()?;
    checks.push(runtime.block_on(engine_check()));
    checks.push(match args.temporal.as_deref().filter(|address| !address.is_empty()) {
        Some(address) => runtime.block_on(temporal_check(address)),
        None => Check::new("temporal", Status::Skip, "no cluster named (--temporal ADDRESS or TEMPORAL_ADDRESS)"),
    });
    match args.format {
        OutputFormat::Table => emit(&render(&checks), None)?,
        OutputFormat::Json => emit_json(&checks)?,
    }
    Ok(if checks.iter().any(|check| check.status == Status::Fail) { Outcome::Findings } else { Outcome::Clean })
}

/// The lines: status, check, detail; a detail's own later lines indented under it.
fn render(checks: &[Check]) -> String {
    checks.iter().fold(String::new(), |mut text, check| {
        let (label, style) = match check.status {
            Status::Ok => ("ok", super::style::GOOD),
            Status::Warn => ("warn", super::style::WARNING),
            Status::Fail => ("FAIL", super::style::ERROR),
            Status::Skip => ("skip", super::style::DIM),
        };
        let label = super::style::paint(style, format_args!("{label:<4}"));
        let detail = check.detail.replace('\n', "\n               ");
        text.push_str(&format!("{label}  {:<8} {detail}\n", check.check));
        text
    })
}

/// The registry: found, loads, proven collision-free; and the kernel's ephemeral range
/// against its slots.
fn registry_checks(explicit: Option<&Path>) -> Vec<Check> {
    let loaded = registry::locate(explicit).and_then(|path| registry::load_file(&path).map(|loaded| (path, loaded)));
    let (path, loaded) = match loaded {
        Ok(found) => found,
        Err(error) => {
            return vec![
                Check::new("registry", Status::Fail, error.to_string()),
                Check::new("kernel", Status::Skip, "needs a registry"),
            ];
        }
    };
    let report = registry::validate(&loaded);
    let place = format!("{}: {} service(s), {} slot(s)", path.display(), report.services, report.slots);
    let registry = match (report.errors(), report.warnings()) {
        (0, 0) => Check::new("registry", Status::Ok, format!("{place}, proven collision-free")),
        (0, warnings) => {
            Check::new("registry", Status::Warn, format!("{place}, {warnings} warning(s); `berth check` lists them"))
        }
        (errors, _) => Check::new(
            "registry",
            Status::Fail,
            format!("{place}, {errors} error(s): ports can collide; `berth check` lists them"),
        ),
    };
    vec![registry, kernel_check(&loaded, super::check::ephemeral_range())]
}

/// Registry slots inside the kernel's ephemeral range can be taken by any outgoing connection.
fn kernel_check(registry: &registry::Registry, ephemeral: Option<PortRange>) -> Check {
    let Some(ephemeral) = ephemeral else {
        return Check::new("kernel", Status::Skip, "cannot read net.ipv4.ip_local_port_range");
    };
    let findings = registry::ephemeral_findings(registry, ephemeral).len();
    if findings == 0 {
        return Check::new("kernel", Status::Ok, format!("no registry slot in the ephemeral range {ephemeral}"));
    }
    Check::new(
        "kernel",
        Status::Warn,
        format!(
            "registry slots reach into the ephemeral range {ephemeral}, where outgoing connections take ports ({findings} finding(s) in `berth check`); `berth check --kernel-reserved-ports` prints the sysctl that keeps them off"
        ),
    )
}

/// The state directory: chosen, writable, and its ledger (if one exists) sound.
fn state_check(directory: Option<&Path>) -> Check {
    let Some(directory) = directory else {
        return Check::new(
            "state",
            Status::Fail,
            "no state directory for the ledger: set BERTH_STATE_DIR (or HOME) to a writable directory",
        );
    };
    if !ledger::writable(directory) {
        return Check::new(
            "state",
            Status::Fail,
            format!(
                "{} cannot be written by this user; make it writable, or set BERTH_STATE_DIR to a directory that is",
                directory.display()
            ),
        );
    }
    let sound = |ledger: Ledger| ledger.integrity_check().and_then(|()| ledger.leases(None)).map(|leases| leases.len());
    match Ledger::open_existing(directory).and_then(|ledger| ledger.map(sound).transpose()) {
        Ok(None) => Check::new(
            "state",
            Status::Ok,
            format!("{} (no ledger yet; the first lease creates it)", directory.display()),
        ),
        Ok(Some(leases)) => {
            Check::new("state", Status::Ok, format!("{}: ledger sound, {leases} lease(s)", directory.display()))
        }
        Err(error) => Check::new("state", Status::Fail, error.to_string()),
    }
}

/// The engine berth would use, as every command resolves it; nothing else is tried.
async fn engine_check() -> Check {
    let target = match super::engine_target() {
        Ok(target) => target,
        Err(error) => return Check::new("engine", Status::Fail, error.to_string()),
    };
    match tokio::time::timeout(ANSWER_BOUND, Engine::connect(&target)).await {
        Ok(Ok(engine)) => Check::new("engine", Status::Ok, format!("answers (engine {}) at {target}", engine.id())),
        Ok(Err(error)) => Check::new("engine", Status::Fail, error.to_string()),
        Err(_) => Check::new(
            "engine",
            Status::Fail,
            format!(
                "the Docker engine at {target} did not answer within {}s; check that it runs",
                ANSWER_BOUND.as_secs()
            ),
        ),
    }
}

/// The cluster at `address`, and whether a berth worker polls its shared task queue.
async fn temporal_check(address: &str) -> Check {
    let identity = format!("berth-doctor:{}", std::process::id());
    let asked = async {
        let (client, _) = crate::worker::connect(Some(address), None, identity).await?;
        let queue = berth_workflows::SHARED_TASK_QUEUE;
        let kind = temporalio_common::protos::temporal::api::enums::v1::TaskQueueType::Workflow;
        let pollers = crate::fleet::pollers(&client, queue, kind).await?;
        anyhow::Ok((client.namespace(), pollers))
    };
    match tokio::time::timeout(ANSWER_BOUND, asked).await {
        Ok(Ok((namespace, pollers))) if pollers.is_empty() => Check::new(
            "temporal",
            Status::Warn,
            format!(
                "{address} answers (namespace {namespace}), but no berth worker polls task queue `{}`; start one with `berth worker --address {address}`",
                berth_workflows::SHARED_TASK_QUEUE
            ),
        ),
        Ok(Ok((namespace, pollers))) => Check::new(
            "temporal",
            Status::Ok,
            format!(
                "{address} answers (namespace {namespace}); {} worker(s) poll task queue `{}`: {}",
                pollers.len(),
                berth_workflows::SHARED_TASK_QUEUE,
                pollers.join(", ")
            ),
        ),
        Ok(Err(error)) => Check::new("temporal", Status::Fail, super::one_line(&error)),
        Err(_) => Check::new(
            "temporal",
            Status::Fail,
            format!(
                "Temporal at {address} did not answer within {}s; check the address and that it runs",
                ANSWER_BOUND.as_secs()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_is_one_line_and_details_are_indented_under_it() {
        let checks = [
            Check::new("registry", Status::Ok, "r.yaml: 2 service(s), 4 slot(s), proven collision-free"),
            Check::new("engine", Status::Fail, "cannot reach the Docker engine\n  detail"),
        ];
        assert_eq!(
            anstream::adapter::strip_str(&render(&checks)).to_string(),
            "ok    registry r.yaml: 2 service(s), 4 slot(s), proven collision-free\nFAIL  engine   cannot reach the Docker engine\n                 detail\n"
        );
    }

    #[test]
    fn slots_in_the_ephemeral_range_are_a_warning_with_the_fix() {
        let registry = registry::parse("web:\n  port: 40000\n", Path::new("r.yaml")).expect("loads");
        let inside = kernel_check(&registry, PortRange::new(32768, 60999));
        assert_eq!(inside.status, Status::Warn);
        assert!(inside.detail.contains("`berth check --kernel-reserved-ports`"), "{}", inside.detail);
        let below = kernel_check(&registry, PortRange::new(50000, 60999));
        assert_eq!(
            (below.status, below.detail.as_str()),
            (Status::Ok, "no registry slot in the ephemeral range 50000-60999")
        );
        assert_eq!(kernel_check(&registry, None).status, Status::Skip);
    }
}
