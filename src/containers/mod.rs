//! Instances as named containers: `kafka-development-1` with volume `kafka-data-1`,
//! started through the Docker API and waited on until really ready.
//!
//! [`spec::build`] turns a registry service and its resolved ports into an
//! [`InstanceSpec`] (pure); [`start::start`] creates or adopts the container, checks its
//! ports first, and waits with the service's [`crate::registry::Ready`] strategy, recording
//! in a [`Journal`] what it did so that [`undo::undo`] can take back exactly that;
//! [`stop::stop`] removes an instance, and only one [`ownership`] proves berth's.
//! [`docker::Engine`] is the thin bollard edge, connected to exactly the engine
//! [`engine_target`] resolves. Errors are [`StartError`]s that name the container, the
//! port, the process holding it, and what to do.

pub mod advertise;
pub mod compose;
pub mod docker;
pub mod engine_target;
pub mod fallback;
pub mod images;
pub mod keyed;
pub mod kubernetes;
pub mod one;
pub mod ownership;
pub mod plan;
pub mod ready;
pub mod spec;
pub mod start;
pub mod stop;
pub mod undo;

use std::time::Duration;

pub use berth_workflows::{FailureKind, Selection};
pub use docker::{Engine, Publisher};
pub use engine_target::{EngineSettings, EngineTarget};
pub use images::ImageSettings;
pub use plan::{PlanError, plan};
pub use spec::{InstanceSpec, SpecError};
pub use start::{Failed, Phase, StartOptions, StartOutcome, Started};
pub use stop::{StopOptions, Stopped};
pub use undo::Journal;

use crate::ledger::LedgerError;

/// Why an instance could not be started (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The spec could not be built from the registry.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The engine berth was pointed at answered not at all.
    #[error("cannot reach the Docker engine at {engine} ({detail}); start it, or point DOCKER_HOST at one that runs")]
    EngineUnreachable {
        /// The engine's address.
        engine: String,
        /// What the client said.
        detail: String,
    },
    /// The engine setting cannot be honoured as given.
    #[error("{0}")]
    EngineSetting(#[from] engine_target::EngineSettingError),
    /// The image is not on the host and cannot be got.
    #[error("image `{image}` for `{service}`: {reason}; {remedy}")]
    ImageMissing {
        /// The image.
        image: String,
        /// The service that names it.
        service: String,
        /// Why it cannot be had (`the registry has no such image: manifest unknown`).
        reason: String,
        /// What to do.
        remedy: String,
    },
    /// The registry holding the image did not answer.
    #[error(
        "cannot pull `{image}` for `{service}`: its registry did not answer ({detail}); check that the registry (or the image mirror) is up and reachable from the Docker engine, then try again"
    )]
    RegistryUnreachable {
        /// The image.
        image: String,
        /// The service that names it.
        service: String,
        /// What the engine said.
        detail: String,
    },
    /// A container or volume of the instance's name exists and is not berth's for it.
    #[error(
        "{what} `{name}` is not berth's for {instance}: {reason}; berth leaves it alone (remove or rename it yourself)"
    )]
    NotManaged {
        /// `container` or `volume`.
        what: &'static str,
        /// Its name.
        name: String,
        /// The instance, `web[4] in environment development`.
        instance: String,
        /// Why it is not berth's.
        reason: String,
    },
    /// The existing container runs another configuration.
    #[error(
        "container `{name}` runs another configuration (config hash {running}, the registry now gives {wanted}): it was started from another registry or an older one"
    )]
    ConfigChanged {
        /// The container name.
        name: String,
        /// The hash on the container.
        running: String,
        /// The hash of the current spec.
        wanted: String,
    },
    /// A host port of the instance is in use.
    #[error("port {port} for {slot} is taken by {holder}; stop it, or move the slot in the registry")]
    PortTaken {
        /// The port.
        port: u16,
        /// The registry slot, `kafka[1].broker_port`.
        slot: String,
        /// Who holds it.
        holder: String,
    },
    /// A host port of the instance is leased to another project in the ledger.
    #[error(
        "port {port} for {slot} is leased to project `{project}` (service `{service}`) in the host ledger; `berth release --project {project}` if that is stale"
    )]
    PortLeased {
        /// The port.
        port: u16,
        /// The registry slot.
        slot: String,
        /// The project holding the lease.
        project: String,
        /// Its service.
        service: String,
    },
    /// The readiness wait ran out.
    #[error("{name} not ready within {} (waiting for {strategy}; the last check saw: {last_seen}){}", humantime::format_duration(*timeout), log_tail(logs))]
    NotReady {
        /// The container.
        name: String,
        /// The timeout that ran out (start and readiness together).
        timeout: Duration,
        /// The strategy it waited for.
        strategy: String,
        /// What the last check saw instead (`HTTP 404`, `connection refused`).
        last_seen: String,
        /// The container's last log lines.
        logs: Vec<String>,
    },
    /// The container exited before it was ready.
    #[error("{name} exited (code {}) before it was ready{}", exit_code.map_or_else(|| "unknown".to_string(), |code| code.to_string()), log_tail(logs))]
    ExitedEarly {
        /// The container.
        name: String,
        /// Its exit code.
        exit_code: Option<i64>,
        /// Its last log lines.
        logs: Vec<String>,
    },
    /// The image's HEALTHCHECK reported unhealthy.
    #[error("{name} reports unhealthy{}", log_tail(logs))]
    Unhealthy {
        /// The container.
        name: String,
        /// Its last log lines.
        logs: Vec<String>,
    },
    /// The readiness strategy itself cannot work.
    #[error("cannot check whether {name} is ready: {detail}")]
    Readiness {
        /// The container.
        name: String,
        /// Why.
        detail: String,
    },
    /// A volume to remove is used by a container that is not this instance's.
    #[error("volume `{volume}` is in use by another container, so it was kept ({detail}); remove that container first")]
    VolumeInUse {
        /// The volume.
        volume: String,
        /// What Docker said.
        detail: String,
    },
    /// A stop that did part of its work before a step failed.
    #[error("{error}; before that it {done}")]
    Partly {
        /// What failed.
        error: Box<StartError>,
        /// What was done, in words (`removed container web-dev, released port(s) 8080`).
        done: String,
    },
    /// Others kept changing what a start works on, try after try.
    #[error(
        "gave up on `{name}`: {what} (another berth or a docker command acting on it at the same time?); try again"
    )]
    Contended {
        /// The container or network.
        name: String,
        /// What kept happening.
        what: &'static str,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(LedgerError),
    /// The operation was cut short (a signal, a cancelled activity).
    #[error("the work on {name} was interrupted")]
    Interrupted {
        /// The container.
        name: String,
    },
    /// Any other Docker failure.
    #[error("Docker failed on {subject}: {source}")]
    Docker {
        /// What it was working on.
        subject: String,
        /// What Docker said.
        source: bollard::errors::Error,
    },
}

/// A container's last log lines as the indented detail under the one-line error: blank
/// lines dropped, control characters escaped so a log line cannot pass for an error line.
fn log_tail(logs: &[String]) -> String {
    let lines: Vec<String> =
        logs.iter().map(|line| line.trim_end().escape_debug().to_string()).filter(|line| !line.is_empty()).collect();
    if lines.is_empty() {
        return "; it printed no log lines".to_string();
    }
    lines.iter().fold("\n  last log lines:".to_string(), |mut text, line| {
        text.push_str("\n    ");
        text.push_str(line);
        text
    })
}

impl StartError {
    fn docker(subject: &str, source: bollard::errors::Error) -> Self {
        Self::Docker { subject: subject.to_string(), source }
    }

    /// Whether Docker refused because the container's network is changing under it: gone
    /// (a stop removed it), or found twice (another berth made a second one of the name on an
    /// engine that allows that, and is about to remove it again).
    fn is_network_in_flux(&self) -> bool {
        match self {
            Self::Docker {
                source: bollard::errors::Error::DockerResponseServerError { status_code, message }, ..
            } => network_in_flux(*status_code, message),
            _ => false,
        }
    }

    /// The failure's kind: whether a retry can help, and the CLI's exit code.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Spec(_) => FailureKind::InvalidSpec,
            Self::EngineUnreachable { .. } => FailureKind::EngineUnreachable,
            Self::EngineSetting(_) => FailureKind::EngineSetting,
            Self::ImageMissing { .. } => FailureKind::ImageMissing,
            Self::RegistryUnreachable { .. } => FailureKind::RegistryUnreachable,
            Self::NotManaged { .. } => FailureKind::NotManaged,
            Self::ConfigChanged { .. } => FailureKind::ConfigChanged,
            Self::PortTaken { .. } => FailureKind::PortTaken,
            Self::PortLeased { .. } => FailureKind::PortLeased,
            Self::NotReady { .. } => FailureKind::NotReady,
            Self::ExitedEarly { .. } => FailureKind::ExitedEarly,
            Self::Unhealthy { .. } => FailureKind::Unhealthy,
            Self::Readiness { .. } => FailureKind::Readiness,
            Self::Ledger(error) => error.kind(),
            Self::Interrupted { .. } => FailureKind::Interrupted,
            Self::Contended { .. } => FailureKind::Docker,
            Self::VolumeInUse { .. } => FailureKind::VolumeInUse,
            Self::Partly { error, .. } => error.kind(),
            Self::Docker { source, .. } => docker_kind(source),
        }
    }
}

/// Whether Docker's answer says a network is gone or ambiguous for now.
fn network_in_flux(status_code: u16, message: &str) -> bool {
    (status_code == 404 && message.contains("network")) || (status_code == 400 && message.contains("is ambiguous"))
}

/// Whether `error` means the engine did not answer at all.
pub(crate) fn failed_kind_is_unreachable(error: &bollard::errors::Error) -> bool {
    docker_kind(error) == FailureKind::EngineUnreachable
}

/// Docker's own answers: a 4xx refuses what berth asked for (a retry asks the same), a 5xx
/// is the engine's trouble, and no answer at all means the engine is away.
fn docker_kind(error: &bollard::errors::Error) -> FailureKind {
    use bollard::errors::Error;
    match error {
        Error::DockerResponseServerError { status_code: 400..=499, .. } => FailureKind::InvalidSpec,
        Error::DockerResponseServerError { .. } => FailureKind::Docker,
        Error::IOError { .. }
        | Error::HyperResponseError { .. }
        | Error::HyperLegacyError { .. }
        | Error::RequestTimeoutError
        | Error::SocketNotFoundError(_) => FailureKind::EngineUnreachable,
        _ => FailureKind::Docker,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_refusals_are_not_retried_and_engine_trouble_is() {
        let answer = |status_code| bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: "refused".to_string(),
        };
        let refused = StartError::docker("web", answer(400));
        assert_eq!(refused.kind(), FailureKind::InvalidSpec);
        assert!(!refused.kind().retryable());
        assert_eq!(refused.kind().exit_code(), 2);
        assert_eq!(StartError::docker("web", answer(500)).kind(), FailureKind::Docker);
        assert!(StartError::docker("web", answer(500)).kind().retryable());
        assert!(StartError::docker("web", bollard::errors::Error::RequestTimeoutError).kind().retryable());
        assert!(!StartError::Unhealthy { name: "web".into(), logs: Vec::new() }.kind().retryable());
    }
}
