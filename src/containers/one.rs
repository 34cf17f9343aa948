//! One instance, named by service, instance and environment, started or stopped the way the
//! worker's `start_service` / `stop_service` activities and the web view's actions both do
//! it: from the same request types, with the same spec (fallbacks settled for a start, in
//! force for a stop) and the same failure kinds.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_workflows::FailureKind;
use berth_workflows::activities::{ServiceStopped, StartRequest, StopRequest};

use super::fallback::SettleError;
use super::{Engine, ImageSettings, InstanceSpec, Selection, StartOptions, StopOptions};
use crate::registry::PortManager;

/// A failure, classified as everywhere else in berth.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InstanceFailure {
    /// What kind of failure, which also says whether a retry can help.
    pub kind: FailureKind,
    /// What went wrong and what to do.
    pub message: String,
}

impl InstanceFailure {
    /// A failure of `kind`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(FailureKind::InvalidInput, message)
    }
}

/// What the spec is built for.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    /// Starting it: held ports of keys with a fallback range settle on their fallback.
    Start,
    /// Stopping or undoing it: as it was started, with the fallbacks in force.
    Stop,
}

/// Where an instance's spec comes from: the registry, the ledger and the image mirror.
#[derive(Clone)]
pub struct Sources {
    /// The registry.
    pub manager: &'static PortManager,
    /// The ledger's state directory.
    pub ledger: Option<PathBuf>,
    /// Where images are pulled through.
    pub images: ImageSettings,
}

impl Sources {
    /// The spec of `service[instance]` in `env`, built for `purpose` as the CLI builds it.
    pub async fn spec(
        &self,
        service: &str,
        instance: u32,
        env: Option<&str>,
        purpose: Purpose,
    ) -> Result<InstanceSpec, InstanceFailure> {
        let manager = self.manager;
        let selections = [Selection::one(service, instance)];
        let (env, ledger) = (env.map(str::to_string), self.ledger.clone());
        let dependencies = super::plan::Dependencies::Leave;
        let planned = tokio::task::spawn_blocking(move || {
            let (env, ledger) = (env.as_deref(), ledger.as_deref());
            match purpose {
                Purpose::Start => super::fallback::plan_to_start(manager, env, &selections, dependencies, ledger)
                    .map(|to_start| to_start.plan),
                Purpose::Stop => super::fallback::plan_in_force(manager, env, &selections, dependencies, ledger),
            }
        })
        .await
        .map_err(|error| InstanceFailure::new(FailureKind::Interrupted, error.to_string()))?;
        let mut plan = planned.map_err(|error| match error {
            SettleError::Plan(error) => InstanceFailure::invalid_input(error.to_string()),
            SettleError::Ledger(error) => InstanceFailure::new(error.kind(), error.to_string()),
        })?;
        let mut spec = plan
            .specs
            .pop()
            .ok_or_else(|| InstanceFailure::invalid_input(format!("{service}[{instance}] selects nothing")))?;
        spec.image = super::images::mirrored(&spec.image, self.images.mirror.as_deref());
        Ok(spec)
    }

    /// How to start `spec` as `request` asks, in the run `default_run` when the request
    /// names none; sets the request's timeout on the spec.
    pub fn start_options(
        &self,
        request: &StartRequest,
        spec: &mut InstanceSpec,
        default_run: impl FnOnce() -> String,
    ) -> Result<StartOptions, InstanceFailure> {
        if let Some(seconds) = request.timeout_seconds {
            if seconds == 0 || seconds > berth_workflows::requests::MAXIMUM_TIMEOUT_SECONDS {
                return Err(InstanceFailure::invalid_input(format!(
                    "timeout_seconds must be between 1 and {} seconds, not {seconds}",
                    berth_workflows::requests::MAXIMUM_TIMEOUT_SECONDS
                )));
            }
            spec.timeout = Duration::from_secs(seconds);
        }
        Ok(StartOptions {
            recreate: request.recreate,
            ledger: self.ledger.clone(),
            run: request.run.clone().unwrap_or_else(default_run),
            keep_failed: request.keep_failed,
            images: ImageSettings { policy: request.pull, ..self.images.clone() },
            request_began: Some(Instant::now()),
        })
    }

    /// Stops and removes the instance `request` names (see [`super::stop::stop`]).
    pub async fn stop(
        &self,
        engine: &Engine,
        service: &str,
        request: &StopRequest,
        host: &str,
    ) -> Result<ServiceStopped, InstanceFailure> {
        let spec = self.spec(service, request.instance_id, request.env.as_deref(), Purpose::Stop).await?;
        let options = StopOptions { volumes: request.volumes, force: request.force, ledger: self.ledger.clone() };
        let stopped = super::stop::stop(engine, &spec, &options)
            .await
            .map_err(|error| InstanceFailure::new(error.kind(), error.to_string()))?;
        Ok(ServiceStopped {
            container: spec.container_name,
            removed: stopped.removed,
            volumes_removed: stopped.volumes_removed,
            released_ports: stopped.released_ports,
            network_removed: stopped.network_removed,
            host: host.to_string(),
        })
    }
}
