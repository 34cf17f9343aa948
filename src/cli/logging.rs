//! Logging setup: tracing events on stderr, pretty or JSON, so stdout stays clean for
//! `$(berth port …)` and exported files.
//!
//! The level comes from `-q`/`-v` unless `BERTH_LOG` holds a filter (`BERTH_LOG=berth=debug`).
//! At the default level commands log only warnings; the worker, a service that runs for
//! days, also says what it serves and each activity it runs.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per event.
    Json,
}

/// The environment variable that overrides the log filter.
const FILTER_VARIABLE: &str = "BERTH_LOG";

/// The default level of a long-running process (worker, serve): its own events at info, the
/// rest at warn.
pub(super) const WORKER_DEFAULT: &str = "warn,berth::worker=info,berth::activities=info,berth::drift=info";

/// Installs the global subscriber; a second call (in tests) is a no-op. `default` is the
/// filter when neither `-q`, `-v` nor `BERTH_LOG` says otherwise.
pub(super) fn init(format: LogFormat, quiet: bool, verbose: u8, default: &str) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => default,
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_env(FILTER_VARIABLE).unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Unfailing(std::io::stderr()))
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _already_set = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// stderr that drops what it cannot write: a closed stderr (`berth -v ports 2>&1 | head -1`)
/// must not end the program, as tracing's own fallback would, with a panic.
struct Unfailing(std::io::Stderr);

impl std::io::Write for Unfailing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        Ok(self.0.write(bytes).unwrap_or(bytes.len()))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}
