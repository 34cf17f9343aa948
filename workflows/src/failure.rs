//! The one classification of berth's failures, shared by the command line, the worker's
//! activities and the workflows: each [`FailureKind`] says whether trying again can help
//! and which exit code the CLI gives it.
//!
//! The kind's name is the Temporal failure type, so a workflow written in any SDK can branch
//! on it; the workflows' retry policies are derived from [`FailureKind::retryable`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an operation failed, as far as callers need to decide what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureKind {
    /// The request itself cannot be understood (unknown field, bad value, unknown service).
    InvalidInput,
    /// The instance's container configuration is refused (by `berth check` or by Docker).
    InvalidSpec,
    /// The Docker engine setting (DOCKER_HOST, context) cannot be honoured as given.
    EngineSetting,
    /// The Docker engine did not answer.
    EngineUnreachable,
    /// The image is not on the host and cannot be pulled: it exists in no registry asked,
    /// or the pull policy forbids pulling.
    ImageMissing,
    /// The registry holding an image did not answer (down, unreachable, timed out).
    RegistryUnreachable,
    /// A container or volume of the instance's name exists and is not berth's for it.
    NotManaged,
    /// The instance's container runs another configuration.
    ConfigChanged,
    /// A host port of the instance is held by a process.
    PortTaken,
    /// A host port of the instance is leased to another project.
    PortLeased,
    /// The ledger has too few free ports for a request.
    PortsExhausted,
    /// A volume to remove is used by another container.
    VolumeInUse,
    /// The instance did not become ready in time.
    NotReady,
    /// The container exited before it was ready.
    ExitedEarly,
    /// The image's HEALTHCHECK reported unhealthy.
    Unhealthy,
    /// The readiness strategy cannot work for this instance.
    Readiness,
    /// The ledger is locked by another process for now.
    LedgerBusy,
    /// The ledger cannot be used (damaged, not writable, not a ledger).
    Ledger,
    /// The operation was cut short (a signal, a cancelled activity).
    Interrupted,
    /// The Docker engine failed on its side.
    Docker,
    /// No worker took the work within its bound.
    NoWorker,
}

impl FailureKind {
    /// Every kind, for documentation and retry policies.
    pub const ALL: [Self; 21] = [
        Self::InvalidInput,
        Self::InvalidSpec,
        Self::EngineSetting,
        Self::EngineUnreachable,
        Self::ImageMissing,
        Self::RegistryUnreachable,
        Self::NotManaged,
        Self::ConfigChanged,
        Self::PortTaken,
        Self::PortLeased,
        Self::PortsExhausted,
        Self::VolumeInUse,
        Self::NotReady,
        Self::ExitedEarly,
        Self::Unhealthy,
        Self::Readiness,
        Self::LedgerBusy,
        Self::Ledger,
        Self::Interrupted,
        Self::Docker,
        Self::NoWorker,
    ];

    /// The kind's name: the Temporal failure type and the `kind` in JSON reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "InvalidInput",
            Self::InvalidSpec => "InvalidSpec",
            Self::EngineSetting => "EngineSetting",
            Self::EngineUnreachable => "EngineUnreachable",
            Self::ImageMissing => "ImageMissing",
            Self::RegistryUnreachable => "RegistryUnreachable",
            Self::NotManaged => "NotManaged",
            Self::ConfigChanged => "ConfigChanged",
            Self::PortTaken => "PortTaken",
            Self::PortLeased => "PortLeased",
            Self::PortsExhausted => "PortsExhausted",
            Self::VolumeInUse => "VolumeInUse",
            Self::NotReady => "NotReady",
            Self::ExitedEarly => "ExitedEarly",
            Self::Unhealthy => "Unhealthy",
            Self::Readiness => "Readiness",
            Self::LedgerBusy => "LedgerBusy",
            Self::Ledger => "Ledger",
            Self::Interrupted => "Interrupted",
            Self::Docker => "Docker",
            Self::NoWorker => "NoWorker",
        }
    }

    /// Whether trying the same thing again can succeed without a person changing anything:
    /// an engine or registry that was away, a ledger that was locked, a step cut short.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::EngineUnreachable | Self::RegistryUnreachable | Self::LedgerBusy | Self::Interrupted | Self::Docker
        )
    }

    /// The CLI's exit code: 2 when the input or the setup is unusable, 1 for findings about
    /// the host (a port held, a container not berth's, an instance not ready).
    pub fn exit_code(self) -> u8 {
        match self {
            Self::InvalidInput
            | Self::InvalidSpec
            | Self::EngineSetting
            | Self::EngineUnreachable
            | Self::RegistryUnreachable
            | Self::Ledger
            | Self::LedgerBusy
            | Self::Docker
            | Self::NoWorker => 2,
            Self::ImageMissing
            | Self::NotManaged
            | Self::ConfigChanged
            | Self::PortTaken
            | Self::PortLeased
            | Self::PortsExhausted
            | Self::VolumeInUse
            | Self::NotReady
            | Self::ExitedEarly
            | Self::Unhealthy
            | Self::Readiness
            | Self::Interrupted => 1,
        }
    }

    /// The names of the kinds a retry cannot fix, for Temporal retry policies.
    pub fn non_retryable_names() -> Vec<String> {
        Self::ALL.iter().filter(|kind| !kind.retryable()).map(|kind| kind.as_str().to_string()).collect()
    }

    /// The kind called `name`, if berth has one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::FailureKind;

    #[test]
    fn names_round_trip_and_retry_policies_exclude_exactly_the_retryable_kinds() {
        for kind in FailureKind::ALL {
            assert_eq!(FailureKind::from_name(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_string(&kind).expect("json"), format!("\"{kind}\""));
        }
        let non_retryable = FailureKind::non_retryable_names();
        assert!(non_retryable.contains(&"Unhealthy".to_string()));
        assert!(non_retryable.contains(&"NotManaged".to_string()));
        assert!(!non_retryable.contains(&"LedgerBusy".to_string()));
        assert!(!non_retryable.contains(&"Docker".to_string()));
        assert_eq!(non_retryable.len(), FailureKind::ALL.iter().filter(|kind| !kind.retryable()).count());
    }
}
