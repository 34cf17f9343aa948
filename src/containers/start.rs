//! Starting and stopping one instance: create-or-adopt, preflight, start, wait ready.
//!
//! Starting is idempotent, which is what makes a Temporal retry safe: a running container
//! with the same name and config hash is adopted, a stopped one is started, one with
//! another hash is an error unless `recreate` — two starts never make two containers.
//! Every step is one structured log event, and the outcome is counted in the metrics.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::StartError;
use super::docker::Engine;
use super::ready;
use super::spec::{HASH_LABEL, InstanceSpec, MANAGED_LABEL};
use crate::ledger::{Claim, LeaseSlot, Ledger, ReleaseScope, container_project, now};
use crate::metrics::METRICS;
use crate::probe::{self, HostPorts, Protocol};

/// What a start did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StartOutcome {
    /// A new container was created and started.
    Created,
    /// A running container with the same configuration was reused.
    Adopted,
    /// A stopped container with the same configuration was started again.
    Started,
    /// A container with another configuration was replaced (`--recreate`).
    Recreated,
}

impl StartOutcome {
    /// The outcome's name, as serialized and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Adopted => "adopted",
            Self::Started => "started",
            Self::Recreated => "recreated",
        }
    }
}

/// The step an instance's start is in, reported as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum Phase {
    /// Checking ports and the ledger.
    Preflight,
    /// Creating or adopting the container.
    Create,
    /// Starting it.
    Start,
    /// Waiting for readiness, for this long so far.
    Ready {
        /// Seconds waited.
        waited_seconds: u64,
    },
}

/// How to start.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Replace a container whose configuration differs.
    pub recreate: bool,
    /// The ledger's state directory; `None` skips the ledger.
    pub ledger: Option<PathBuf>,
}

/// A started, ready instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Started {
    /// The container's name.
    pub container: String,
    /// The container's id.
    pub id: String,
    /// The registry service.
    pub service: String,
    /// The instance id.
    pub instance: u16,
    /// What the start did.
    pub outcome: StartOutcome,
    /// Port key → host port.
    pub ports: std::collections::BTreeMap<String, u16>,
    /// Port key → `address:port` to connect to.
    pub endpoints: std::collections::BTreeMap<String, String>,
    /// How long the whole start took.
    pub seconds: f64,
}

impl Started {
    /// The instance as the activity contract reports it, started by the worker on `host`.
    pub fn into_contract(self, host: String) -> berth_workflows::activities::ServiceStarted {
        berth_workflows::activities::ServiceStarted {
            container: self.container,
            id: self.id,
            service: self.service,
            instance: self.instance,
            outcome: self.outcome.as_str().to_string(),
            ports: self.ports,
            endpoints: self.endpoints,
            seconds: self.seconds,
            host,
        }
    }
}

/// Starts `spec`'s instance and waits until it is ready; see the module docs.
pub async fn start(
    engine: &Engine,
    spec: &InstanceSpec,
    options: &StartOptions,
    progress: &(dyn Fn(Phase) + Send + Sync),
) -> Result<Started, StartError> {
    let begun = Instant::now();
    let result = start_inner(engine, spec, options, progress, begun).await;
    let outcome = result.as_ref().map_or("failed", |started| started.outcome.as_str());
    if let Err(error @ (StartError::PortTaken { .. } | StartError::PortLeased { .. })) = &result {
        METRICS.port_conflicts.with_label_values(&[error.kind()]).inc();
    }
    METRICS.container_starts.with_label_values(&[spec.service.as_str(), outcome]).inc();
    if result.is_ok() {
        METRICS.start_duration.with_label_values(&[spec.service.as_str()]).observe(begun.elapsed().as_secs_f64());
    }
    result
}

async fn start_inner(
    engine: &Engine,
    spec: &InstanceSpec,
    options: &StartOptions,
    progress: &(dyn Fn(Phase) + Send + Sync),
    begun: Instant,
) -> Result<Started, StartError> {
    let deadline = begun + spec.timeout;
    let name = &spec.container_name;
    tracing::info!(service = %spec.service, instance = spec.instance, container = %name, "container_preflight");
    progress(Phase::Preflight);
    let existing = engine.inspect(name).await?;
    let (outcome, id) = match existing {
        Some(existing) if existing.labels.get(MANAGED_LABEL).map(String::as_str) != Some("true") => {
            return Err(StartError::NameTaken { name: name.clone() });
        }
        Some(existing) if existing.labels.get(HASH_LABEL).map(String::as_str) == Some(spec.config_hash()) => {
            claim(spec, options).await?;
            if existing.running {
                (StartOutcome::Adopted, existing.id)
            } else {
                preflight(spec)?;
                progress(Phase::Start);
                engine.start(spec).await?;
                (StartOutcome::Started, existing.id)
            }
        }
        Some(existing) if !options.recreate => {
            return Err(StartError::ConfigChanged {
                name: name.clone(),
                running: existing.labels.get(HASH_LABEL).cloned().unwrap_or_default(),
                wanted: spec.config_hash().to_string(),
            });
        }
        existing => {
            let replacing = existing.is_some();
            if replacing {
                engine.remove(name).await?;
            }
            if !engine.has_image(&spec.image).await? {
                return Err(StartError::ImageMissing { image: spec.image.clone(), service: spec.service.clone() });
            }
            preflight(spec)?;
            claim(spec, options).await?;
            progress(Phase::Create);
            let id = engine.create(spec).await?;
            progress(Phase::Start);
            engine.start(spec).await?;
            (if replacing { StartOutcome::Recreated } else { StartOutcome::Created }, id)
        }
    };
    tracing::info!(service = %spec.service, instance = spec.instance, container = %name, outcome = ?outcome, "container_started");
    let ready_from = Instant::now();
    let on_wait = |waited: Duration| progress(Phase::Ready { waited_seconds: waited.as_secs() });
    ready::wait(engine, spec, deadline, &on_wait).await?;
    METRICS.ready_duration.with_label_values(&[spec.service.as_str()]).observe(ready_from.elapsed().as_secs_f64());
    tracing::info!(service = %spec.service, instance = spec.instance, container = %name, seconds = begun.elapsed().as_secs_f64(), "container_ready");
    Ok(Started {
        container: name.clone(),
        id,
        service: spec.service.clone(),
        instance: spec.instance,
        outcome,
        ports: spec.ports.iter().map(|binding| (binding.key.clone(), binding.host_port)).collect(),
        endpoints: spec.endpoints(),
        seconds: begun.elapsed().as_secs_f64(),
    })
}

/// Every host port of the instance must be free right now; a taken one is named with the
/// process holding it.
fn preflight(spec: &InstanceSpec) -> Result<(), StartError> {
    let taken: Vec<_> = spec.ports.iter().filter(|binding| !probe::is_free(binding.host_port, Protocol::Tcp)).collect();
    let Some(first) = taken.first() else { return Ok(()) };
    let holder = HostPorts::snapshot()
        .ok()
        .and_then(|host| host.holders(first.host_port).first().map(crate::probe::Listener::describe))
        .unwrap_or_else(|| "a process berth cannot see (run as root to name it)".to_string());
    Err(StartError::PortTaken { port: first.host_port, slot: format!("{}.{}", spec.label(), first.key), holder })
}

async fn claim(spec: &InstanceSpec, options: &StartOptions) -> Result<(), StartError> {
    let Some(directory) = options.ledger.clone() else { return Ok(()) };
    let project = container_project(&spec.container_name);
    let claims: Vec<Claim> = spec
        .ports
        .iter()
        .map(|binding| Claim {
            port: binding.host_port,
            slot: LeaseSlot { service: spec.service.clone(), instance: spec.instance, key: binding.key.clone() },
            purpose: format!("container {}", spec.container_name),
        })
        .collect();
    let slot_of = |port: u16| {
        spec.ports
            .iter()
            .find(|binding| binding.host_port == port)
            .map_or_else(|| spec.label(), |binding| format!("{}.{}", spec.label(), binding.key))
    };
    tokio::task::spawn_blocking(move || Ledger::open(&directory)?.claim(&project, &claims, now()))
        .await
        .map_err(|_| StartError::Interrupted { name: spec.container_name.clone() })?
        .map_err(|error| match error {
            crate::ledger::LedgerError::LeasedElsewhere { port, project, service } => {
                StartError::PortLeased { port, slot: slot_of(port), project, service }
            }
            other => StartError::Ledger(other),
        })
}

/// Stops and removes `spec`'s container (and its volumes when asked) and releases its
/// ports in the ledger. Returns whether there was a container.
pub async fn stop(
    engine: &Engine,
    spec: &InstanceSpec,
    volumes: bool,
    ledger: Option<PathBuf>,
) -> Result<bool, StartError> {
    let removed = engine.remove(&spec.container_name).await?;
    if volumes {
        for mount in &spec.volumes {
            engine.remove_volume(&mount.volume).await?;
        }
    }
    if let Some(directory) = ledger {
        let project = container_project(&spec.container_name);
        let released =
            tokio::task::spawn_blocking(move || Ledger::open(&directory)?.release(&project, &ReleaseScope::Project))
                .await
                .map_err(|_| StartError::Interrupted { name: spec.container_name.clone() })?;
        match released {
            Ok(_) | Err(crate::ledger::LedgerError::UnknownProject { .. }) => {}
            Err(error) => return Err(StartError::Ledger(error)),
        }
    }
    tracing::info!(service = %spec.service, instance = spec.instance, container = %spec.container_name, removed, volumes, "container_stopped");
    Ok(removed)
}
