//! The `berth` command line: argument types (clap derive) and the one place that turns
//! outcomes and errors into exit codes.
//!
//! Each command lives in its own file with its arguments next to its `run`. Commands
//! return an [`Outcome`]; errors are `anyhow` chains printed on one line. Exit codes:
//! 0 clean, 1 findings (collisions, taken ports, drift, nothing to release), 2 unusable
//! input or failure. A closed
//! stdout (`berth ports | head`) ends the program quietly with 0.

/// `eprintln!` that never panics: a closed stderr (`berth up 2>&1 | head -1`) must not end a
/// run halfway, with containers made and nothing undone; what cannot be said is dropped.
macro_rules! say {
    ($($argument:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($argument)*);
    }};
}

mod alloc;
mod audit;
mod check;
mod completions;
mod doctor;
mod down;
mod drift_args;
mod export;
mod failures;
mod fleet;
mod gc;
mod leases;
mod ledger_args;
mod logging;
mod logs;
mod manual;
mod output;
mod port;
mod ports;
mod progress;
mod pulling;
mod release;
mod scan;
mod serve;
mod status;
mod style;
mod up;
mod via_temporal;
mod who;
mod worker;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::ledger::LedgerError;
use crate::registry::PortManager;

pub use logging::LogFormat;

/// Where `--help` lists the options every command takes, apart from the command's own.
const GLOBAL: &str = "Global options";

/// berth: collision-free ports for many instances of the same services on one host.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about, long_about = None)]
pub struct Cli {
    /// The port registry file [default: $BERTH_REGISTRY, else dynamicconfig/port_registry.yaml
    /// in the working directory or the nearest parent]
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL)]
    pub registry: Option<PathBuf>,

    /// How logs on stderr look.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty, help_heading = GLOBAL)]
    pub log_format: LogFormat,

    /// Say less: errors only, and no progress from `up`.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    pub quiet: bool,

    /// Say more: -v logs every port lookup and each step of a start, -vv debug detail
    /// (BERTH_LOG, a tracing filter such as `berth=debug`, takes precedence over both).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prove the registry collision-free: every slot of every instance, service and environment.
    Check(check::CheckArgs),
    /// Print one port, for scripts: `$(berth port kafka broker_port -i 1)`.
    Port(port::PortArgs),
    /// Print ports as a table, JSON, .env, compose env file, shell exports or Markdown.
    Ports(ports::PortsArgs),
    /// Show which process (pid, name) holds each port right now, TCP and UDP, IPv4 and IPv6.
    Who(who::WhoArgs),
    /// List every registry slot that something on this host holds right now.
    Scan(scan::ScanArgs),
    /// Find host ports that a tree's compose files, .env files and Kubernetes manifests
    /// claim twice, or that collide with the registry or the ledger.
    Audit(audit::AuditArgs),
    /// Start instances as containers and wait until they are ready: `berth up kafka:0-2 redis`.
    Up(up::UpArgs),
    /// Stop and remove instances' containers (volumes kept unless --volumes).
    Down(down::DownArgs),
    /// Show an instance's container output.
    Logs(logs::LogsArgs),
    /// Write instances as another tool's configuration (docker-compose, Kubernetes).
    Export(export::ExportArgs),
    /// Lease dynamic ports for a project from the host-wide ledger.
    Alloc(alloc::AllocArgs),
    /// Give a project's leases back.
    Release(release::ReleaseArgs),
    /// List the ledger's leases, or export a project's.
    Leases(leases::LeasesArgs),
    /// Managed containers and every lease: state, listeners, and drift from the ledger.
    Status(status::StatusArgs),
    /// Free stale leases (owner gone, TTL expired, project path removed) after a grace period.
    Gc(gc::GcArgs),
    /// Serve the web view of this host's ports: the port map, instances and leases, live,
    /// and the JSON API behind them; read-only unless started with a token.
    Serve(serve::ServeArgs),
    /// Check that this host is ready for berth: registry, kernel ports, state directory,
    /// Docker engine, and Temporal when one is named; one line per check with what to do.
    Doctor(doctor::DoctorArgs),
    /// Run the Temporal worker: berth's activities and workflows on `berth` and `berth@<host>`.
    Worker(worker::WorkerArgs),
    /// Every host's instances and leases in one table, from the workers polling Temporal.
    Fleet(fleet::FleetArgs),
    /// Print the shell code that completes berth's commands, options, services and stacks.
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a directory.
    Man(manual::ManArgs),
}

/// What a command found, as far as the exit code cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report: exit 0.
    Clean,
    /// Collisions, conflicts or taken ports: exit 1.
    Findings,
    /// A failure whose kind gives the exit code (1 findings, 2 unusable), or 130 when a
    /// signal interrupted the command.
    Exit(u8),
}

/// Parses the process's arguments, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    // A shell asking what to offer at <TAB> is answered here, and the process exits.
    clap_complete::CompleteEnv::with_factory(Cli::command).var(completions::REQUEST_VARIABLE).complete();
    run(Cli::parse())
}

/// Runs a parsed command line and returns its exit code.
pub fn run(cli: Cli) -> ExitCode {
    let default_level = match cli.command {
        Command::Worker(_) | Command::Serve(_) => logging::WORKER_DEFAULT,
        _ => "warn",
    };
    logging::init(cli.log_format, cli.quiet, cli.verbose, default_level);
    let result = match cli.command {
        Command::Check(args) => check::run(args, cli.registry.as_deref(), &crate::registry::process_variables()),
        Command::Port(args) => port::run(args, cli.registry.as_deref()),
        Command::Ports(args) => ports::run(args, cli.registry.as_deref()),
        Command::Who(args) => who::run(args, cli.registry.as_deref()),
        Command::Scan(args) => scan::run(args, cli.registry.as_deref()),
        Command::Audit(args) => audit::run(args, cli.registry.as_deref()),
        Command::Up(args) => up::run(args, cli.registry.as_deref(), cli.quiet),
        Command::Down(args) => down::run(args, cli.registry.as_deref()),
        Command::Logs(args) => logs::run(args, cli.registry.as_deref()),
        Command::Export(args) => export::run(args, cli.registry.as_deref()),
        Command::Alloc(args) => alloc::run(args, cli.registry.as_deref()),
        Command::Release(args) => release::run(args),
        Command::Leases(args) => leases::run(args),
        Command::Status(args) => status::run(args, cli.registry.as_deref()),
        Command::Gc(args) => gc::run(args),
        Command::Serve(args) => serve::run(args, cli.registry.as_deref()),
        Command::Doctor(args) => doctor::run(args, cli.registry.as_deref()),
        Command::Worker(args) => worker::run(args, cli.registry.as_deref()),
        Command::Fleet(args) => fleet::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => manual::run(args),
    };
    exit_code(result)
}

/// A plan that could not be settled, as the error it wraps, so that its exit code is that
/// error's: 2 for selections that name nothing, the ledger's own otherwise.
fn settle_error(error: crate::containers::fallback::SettleError) -> anyhow::Error {
    match error {
        crate::containers::fallback::SettleError::Plan(error) => error.into(),
        crate::containers::fallback::SettleError::Ledger(error) => error.into(),
    }
}

/// The one mapping from results to exit codes.
fn exit_code(result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Ok(Outcome::Exit(code)) => ExitCode::from(code),
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error)
            if error.downcast_ref::<LedgerError>().is_some_and(LedgerError::is_finding)
                || error.downcast_ref::<crate::ledger::FallbackError>().is_some() =>
        {
            style::error(one_line(&error));
            ExitCode::from(1)
        }
        Err(error) => {
            style::error(one_line(&error));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, each cause once (an error that already quotes its
/// source is not followed by it again); any further lines are details, indented.
fn one_line(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    indent_details(&text)
}

/// Keeps the first line and indents every later one, so a detail can never pass for an
/// error line of its own.
pub(crate) fn indent_details(text: &str) -> String {
    let mut lines = text.lines();
    let mut shaped = lines.next().unwrap_or_default().to_string();
    for line in lines {
        shaped.push_str("\n  ");
        shaped.push_str(line.trim_start());
    }
    shaped
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|cause| cause.kind() == io::ErrorKind::BrokenPipe)
}

/// Prints one `error:` line per slot an override spoiled; the others were answered, so
/// this is exit 2 only when there was any.
fn report_spoiled_slots(spoiled: &[crate::registry::LookupError]) -> anyhow::Result<Outcome> {
    for error in spoiled {
        style::error(error);
    }
    Ok(if spoiled.is_empty() { Outcome::Clean } else { Outcome::Exit(2) })
}

/// Placing instances on hosts needs the workers of those hosts: refused on the direct path,
/// which acts on this host alone.
fn refuse_placement_without_temporal(placement: berth_workflows::Placement) -> anyhow::Result<()> {
    if placement.is_placed() {
        anyhow::bail!(
            "placing instances on hosts (`@HOST`, --spread) needs --temporal: each host's worker starts its own"
        );
    }
    Ok(())
}

/// Runs `work` on a runtime for the commands that talk to Docker. The process does not wait
/// at exit for a blocking call that never returns (a hung docker credential helper): what
/// waits on it has already given up with a bounded error.
fn block_on<T, E: Into<anyhow::Error>>(work: impl std::future::Future<Output = Result<T, E>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let output = runtime.block_on(work);
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    output.map_err(Into::into)
}

/// The Docker engine this process was pointed at: the environment is read here, at the
/// edge, and the library is handed the result.
fn engine_target() -> Result<crate::containers::EngineTarget, crate::containers::engine_target::EngineSettingError> {
    let settings = crate::containers::EngineSettings::from_environment(|name| std::env::var_os(name));
    crate::containers::engine_target::resolve(&settings)
}

/// The docker CLI's configuration directory (`$DOCKER_CONFIG`, else `~/.docker`), where
/// registry logins are.
fn docker_config() -> Option<std::path::PathBuf> {
    crate::containers::EngineSettings::from_environment(|name| std::env::var_os(name)).config_dir
}

/// A Temporal address given on the command line. An empty one is refused: taken as "none",
/// it would quietly reach whichever cluster the environment or the profile names.
fn temporal_address(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("an empty Temporal address; give host:port, or leave the value out to use $TEMPORAL_ADDRESS or the profile's".into());
    }
    Ok(text.to_string())
}

/// The process-wide manager, with the registry named on the command line.
fn manager(registry: Option<&std::path::Path>) -> anyhow::Result<&'static PortManager> {
    Ok(PortManager::global(registry)?)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
