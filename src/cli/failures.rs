//! The instances an `up` or `down` could not do, as both paths report them: one `error:`
//! line each on stderr, and the exit code of the worst.

use berth_workflows::FailureKind;
use serde::Serialize;

use super::Outcome;

/// One instance that failed.
#[derive(Debug, Serialize)]
pub(super) struct Failure {
    pub(super) service: String,
    pub(super) instance: u32,
    /// The container's name; empty when the worker that failed did not say it.
    pub(super) container: String,
    pub(super) kind: FailureKind,
    pub(super) error: String,
}

/// Prints one `error:` line per failure.
pub(super) fn print(failures: &[Failure]) {
    for failure in failures {
        let container = if failure.container.is_empty() { String::new() } else { format!(" ({})", failure.container) };
        super::style::error(format_args!(
            "{}[{}]{container}: {}: {}",
            failure.service, failure.instance, failure.kind, failure.error
        ));
    }
}

/// Clean without failures, else the worst failure's exit code.
pub(super) fn outcome(failures: &[Failure]) -> Outcome {
    failures.iter().map(|failure| failure.kind.exit_code()).max().map_or(Outcome::Clean, Outcome::Exit)
}
