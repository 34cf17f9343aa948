//! Instances as named containers: `kafka-development-1` with volume `kafka-data-1`,
//! started through the Docker API and waited on until really ready.
//!
//! [`spec::build`] turns a registry service and its resolved ports into an
//! [`InstanceSpec`] (pure); [`start::start`] creates or adopts the container, checks its
//! ports first, and waits with the service's [`crate::registry::Ready`] strategy;
//! [`docker::Engine`] is the thin bollard edge. Errors are [`StartError`]s that name the
//! container, the port, the process holding it, and what to do.

pub mod compose;
pub mod docker;
pub mod plan;
pub mod ready;
pub mod spec;
pub mod start;

use std::time::Duration;

pub use berth_workflows::Selection;
pub use docker::Engine;
pub use plan::{PlanError, plan};
pub use spec::{InstanceSpec, SpecError};
pub use start::{Phase, StartOptions, StartOutcome, Started};

use crate::ledger::LedgerError;

/// Why an instance could not be started (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The spec could not be built from the registry.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// No Docker engine answered.
    #[error(
        "cannot reach the Docker engine ({detail}); start it (bash scripts/ensure-docker.sh) or point DOCKER_HOST at one"
    )]
    EngineUnreachable {
        /// What the client said.
        detail: String,
    },
    /// The image is not on the host, and nothing can be pulled.
    #[error(
        "image `{image}` for `{service}` is not on this host and berth does not pull: build it (`docker build`; berth's test images: bash docker/test-images/build.sh) or load it (`docker load -i image.tar`)"
    )]
    ImageMissing {
        /// The image.
        image: String,
        /// The service that names it.
        service: String,
    },
    /// A container of that name exists and berth does not manage it.
    #[error("container `{name}` exists but is not managed by berth (no io.berth.managed label); remove or rename it")]
    NameTaken {
        /// The container name.
        name: String,
    },
    /// The existing container runs another configuration.
    #[error(
        "container `{name}` runs another configuration (config hash {running}, the registry now gives {wanted}); pass --recreate to replace it"
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
    #[error("{name} not ready within {} (waiting for {strategy}); last log lines:\n{}", humantime::format_duration(*timeout), logs.join("\n"))]
    NotReady {
        /// The container.
        name: String,
        /// The timeout that ran out (start and readiness together).
        timeout: Duration,
        /// The strategy it waited for.
        strategy: String,
        /// The container's last log lines.
        logs: Vec<String>,
    },
    /// The container exited before it was ready.
    #[error("{name} exited (code {}) before it was ready; last log lines:\n{}", exit_code.map_or_else(|| "unknown".to_string(), |code| code.to_string()), logs.join("\n"))]
    ExitedEarly {
        /// The container.
        name: String,
        /// Its exit code.
        exit_code: Option<i64>,
        /// Its last log lines.
        logs: Vec<String>,
    },
    /// The image's HEALTHCHECK reported unhealthy.
    #[error("{name} reports unhealthy; last log lines:\n{}", logs.join("\n"))]
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
    /// The ledger failed.
    #[error(transparent)]
    Ledger(LedgerError),
    /// A background step was cancelled (the process is shutting down).
    #[error("starting {name} was interrupted")]
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

impl StartError {
    fn docker(subject: &str, source: bollard::errors::Error) -> Self {
        Self::Docker { subject: subject.to_string(), source }
    }

    /// Whether trying again could help (the engine was away, Docker hiccuped, a step was
    /// cut short); everything else needs a person to change something first.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::EngineUnreachable { .. } | Self::Docker { .. } | Self::Interrupted { .. })
    }

    /// A stable name for the kind of error (Temporal failure types, JSON output).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Spec(_) => "InvalidSpec",
            Self::EngineUnreachable { .. } => "EngineUnreachable",
            Self::ImageMissing { .. } => "ImageMissing",
            Self::NameTaken { .. } => "NameTaken",
            Self::ConfigChanged { .. } => "ConfigChanged",
            Self::PortTaken { .. } => "PortTaken",
            Self::PortLeased { .. } => "PortLeased",
            Self::NotReady { .. } => "NotReady",
            Self::ExitedEarly { .. } => "ExitedEarly",
            Self::Unhealthy { .. } => "Unhealthy",
            Self::Readiness { .. } => "Readiness",
            Self::Ledger(_) => "Ledger",
            Self::Interrupted { .. } => "Interrupted",
            Self::Docker { .. } => "Docker",
        }
    }
}
