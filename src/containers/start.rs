//! Starting one instance: create-or-adopt, preflight, start, wait ready — and when that
//! fails or is interrupted, undoing what this start did.
//!
//! Starting is idempotent, which is what makes a Temporal retry safe: a running container
//! of the instance with the same config hash is adopted, a stopped one is started, one with
//! another hash is an error unless `recreate`, and one that is not berth's for this very
//! instance is never touched. Two starts never make two containers: a start that finds the
//! name taken while creating adopts what the other made. Every step is one structured log
//! event, and the outcome is counted in the metrics.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use berth_workflows::FailureKind;
use berth_workflows::activities::Undone;
use serde::Serialize;

use super::StartError;
use super::docker::Engine;
use super::images::{self, ImageSettings, PullStep};
use super::ownership::{self, Ownership};
use super::ready;
use super::spec::InstanceSpec;
use super::undo::{ContainerStep, Journal, Replaced, set_aside_name, undo};
use crate::ledger::{Claim, LeaseSlot, Ledger, container_project, now};
use crate::metrics::METRICS;
use crate::probe::{self, HostPorts};

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
    /// Pulling the image: bytes done of the layers whose size is known so far.
    Pull {
        /// Bytes downloaded.
        done_bytes: u64,
        /// Bytes to download, as far as known.
        total_bytes: u64,
    },
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
    /// The run this start belongs to; what it creates carries it.
    pub run: String,
    /// Keep what a failed start made, for inspection, instead of undoing it.
    pub keep_failed: bool,
    /// When and from where the image is pulled.
    pub images: ImageSettings,
    /// When the request this start belongs to began: a pull of the image this process
    /// finished since then is not repeated [default: when this start began].
    pub request_began: Option<Instant>,
}

/// A start that failed, and what was done about what it had made.
#[derive(Debug)]
pub struct Failed {
    /// Why it failed.
    pub error: Box<StartError>,
    /// What was undone, and what was left with how to remove it.
    pub undone: Undone,
}

impl Failed {
    /// The failure's kind.
    pub fn kind(&self) -> FailureKind {
        self.error.kind()
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The error's first line, what was done about it, then the error's detail lines.
        let text = self.error.to_string();
        let (line, detail) = text.split_once('\n').map_or((text.as_str(), None), |(line, detail)| (line, Some(detail)));
        write!(formatter, "{line}")?;
        if !self.undone.undone.is_empty() {
            write!(formatter, "; undone: {}", self.undone.undone.join(", "))?;
        }
        if !self.undone.left.is_empty() {
            write!(formatter, "; left: {}", self.undone.left.join(", "))?;
        }
        if let Some(detail) = detail {
            write!(formatter, "\n{detail}")?;
        }
        Ok(())
    }
}

/// How many times a start looks again after finding the name taken while creating, and how
/// long it pauses first: Docker reserves a name before the container can be inspected.
const CREATE_ATTEMPTS: u32 = 20;
const CREATE_PAUSE: Duration = Duration::from_millis(100);

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
    /// Port key → the computed port, for each key published on its fallback instead.
    pub fallback_for: std::collections::BTreeMap<String, u16>,
    /// How long the whole start took.
    pub seconds: f64,
    /// What the start did to the host, for undoing it when the run as a whole fails.
    #[serde(skip)]
    pub journal: Journal,
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
            fallback_for: self.fallback_for,
            seconds: self.seconds,
            host,
            leased_ports: self.journal.leases,
        }
    }
}

/// Starts `spec`'s instance and waits until it is ready; see the module docs. When the start
/// fails, or `interrupted` resolves, what it did is undone (or, with `keep_failed`, listed
/// with how to remove it) before it returns. An interruption is honoured between steps and
/// during the readiness wait, never inside a Docker or ledger call, so that every change
/// that reached the host is in the journal.
pub async fn start(
    engine: &Engine,
    spec: &InstanceSpec,
    options: &StartOptions,
    progress: &(dyn Fn(Phase) + Send + Sync),
    interrupted: impl Future<Output = ()>,
) -> Result<Started, Failed> {
    let begun = Instant::now();
    // A fallback lease made for this start is this start's to give back.
    let fallback_leases = spec
        .ports
        .iter()
        .filter(|binding| binding.fallback.is_some_and(|fallback| fallback.new_lease))
        .map(|binding| binding.host_port);
    let mut journal = Journal { leases: fallback_leases.collect(), ..Journal::default() };
    tokio::pin!(interrupted);
    let result = attempt(engine, spec, options, progress, begun, &mut journal, interrupted).await;
    let outcome = result.as_ref().map_or("failed", |started| started.outcome.as_str());
    if let Err(error @ (StartError::PortTaken { .. } | StartError::PortLeased { .. })) = &result {
        METRICS.port_conflicts.with_label_values(&[error.kind().as_str()]).inc();
    }
    METRICS.container_starts.with_label_values(&[spec.service.as_str(), outcome]).inc();
    match result {
        Ok(mut started) => {
            METRICS.start_duration.with_label_values(&[spec.service.as_str()]).observe(begun.elapsed().as_secs_f64());
            started.journal = journal;
            Ok(started)
        }
        Err(error) => {
            let undone = if options.keep_failed {
                journal.kept(spec)
            } else {
                undo(engine, spec, &journal, options.ledger.clone()).await
            };
            tracing::info!(service = %spec.service, instance = spec.instance, container = %spec.container_name, kind = %error.kind(), undone = ?undone.undone, left = ?undone.left, "container_start_failed");
            Err(Failed { error: Box::new(error), undone })
        }
    }
}

/// A run id unique on this host, for a run started from `origin` (`cli`, `web`): what the
/// run creates carries it.
pub fn run_id(origin: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
    format!("{origin}-{}-{}", std::process::id(), nanos)
}

/// The longest a start may take, whatever its configuration says.
const MAXIMUM_START: Duration = Duration::from_secs(berth_workflows::requests::MAXIMUM_TIMEOUT_SECONDS);

/// `Err(Interrupted)` once `interrupted` has resolved; never waits.
fn go_on<I: Future<Output = ()>>(interrupted: Pin<&mut I>, spec: &InstanceSpec) -> Result<(), StartError> {
    match interrupted.now_or_never() {
        Some(()) => Err(StartError::Interrupted { name: spec.container_name.clone() }),
        None => Ok(()),
    }
}

async fn attempt<I: Future<Output = ()>>(
    engine: &Engine,
    spec: &InstanceSpec,
    options: &StartOptions,
    progress: &(dyn Fn(Phase) + Send + Sync),
    begun: Instant,
    journal: &mut Journal,
    mut interrupted: Pin<&mut I>,
) -> Result<Started, StartError> {
    let deadline = begun + spec.timeout.min(MAXIMUM_START);
    let name = &spec.container_name;
    tracing::info!(service = %spec.service, instance = spec.instance, container = %name, "container_preflight");
    progress(Phase::Preflight);
    let (outcome, id) = place(engine, spec, options, progress, journal, interrupted.as_mut()).await?;
    tracing::info!(service = %spec.service, instance = spec.instance, container = %name, outcome = ?outcome, "container_started");
    let ready_from = Instant::now();
    let on_wait = |waited: Duration| progress(Phase::Ready { waited_seconds: waited.as_secs() });
    tokio::select! {
        ready = ready::wait(engine, spec, deadline, &on_wait) => ready?,
        () = interrupted => return Err(StartError::Interrupted { name: name.clone() }),
    }
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
        fallback_for: spec
            .ports
            .iter()
            .filter_map(|binding| Some((binding.key.clone(), binding.fallback?.computed)))
            .collect(),
        seconds: begun.elapsed().as_secs_f64(),
        journal: Journal::default(),
    })
}

/// Gets the instance's container running: adopts, starts, creates or replaces it.
async fn place<I: Future<Output = ()>>(
    engine: &Engine,
    spec: &InstanceSpec,
    options: &StartOptions,
    progress: &(dyn Fn(Phase) + Send + Sync),
    journal: &mut Journal,
    mut interrupted: Pin<&mut I>,
) -> Result<(StartOutcome, String), StartError> {
    let name = &spec.container_name;
    // Before anything else, so that a missing image changes nothing, whatever is found.
    get_image(engine, spec, options, progress, interrupted.as_mut()).await?;
    for attempt in 0..CREATE_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(CREATE_PAUSE).await;
        }
        go_on(interrupted.as_mut(), spec)?;
        match engine.inspect(name).await? {
            None => {}
            Some(existing) => match ownership::container(&existing.labels, spec) {
                Ownership::NotOurs { reason } => return Err(not_managed("container", name, spec, reason)),
                Ownership::Ours => {
                    journal.leases.extend(claim(engine, spec, options).await?);
                    go_on(interrupted.as_mut(), spec)?;
                    if existing.running {
                        return Ok((StartOutcome::Adopted, existing.id));
                    }
                    if let Err(taken) = preflight(spec).await {
                        // Another start may be starting it: then the ports are its own.
                        if started_elsewhere(engine, name).await? {
                            continue;
                        }
                        return Err(taken);
                    }
                    progress(Phase::Start);
                    journal.container = Some(ContainerStep::Started { id: existing.id.clone() });
                    engine.start(spec).await?;
                    return Ok((StartOutcome::Started, existing.id));
                }
                Ownership::OtherConfiguration { running } if !options.recreate => {
                    return Err(StartError::ConfigChanged {
                        name: name.clone(),
                        running,
                        wanted: spec.config_hash().to_string(),
                    });
                }
                Ownership::OtherConfiguration { .. } => {
                    // Set aside, not removed: restored if the new configuration fails. Renamed
                    // before it is stopped, so that a name it cannot take leaves it running.
                    let set_aside_as = set_aside_name(name, &options.run);
                    engine.rename(&existing.id, &set_aside_as).await?;
                    journal.replaced = Some(Replaced {
                        id: existing.id.clone(),
                        was_running: existing.running,
                        set_aside_as: set_aside_as.clone(),
                    });
                    engine.stop(&existing.id).await?;
                }
            },
        }
        if let Err(taken) = preflight(spec).await {
            // Another start may have made the container meanwhile: look again and adopt it.
            if engine.inspect(name).await?.is_some() {
                continue;
            }
            return Err(taken);
        }
        go_on(interrupted.as_mut(), spec)?;
        journal.leases.extend(claim(engine, spec, options).await?);
        go_on(interrupted.as_mut(), spec)?;
        prepare_volumes(engine, spec, &options.run, journal).await?;
        let network = prepare_network(engine, spec, &options.run, journal).await?;
        go_on(interrupted.as_mut(), spec)?;
        progress(Phase::Create);
        // `None`: another start created the container first, or a stop removed the stack's
        // network since it was prepared; look again.
        let Some(id) = engine.create(spec, &options.run, &network).await? else { continue };
        journal.container = Some(ContainerStep::Created { id: id.clone() });
        engine.write_files(spec).await?;
        go_on(interrupted.as_mut(), spec)?;
        progress(Phase::Start);
        if let Err(error) = engine.start(spec).await {
            if !error.is_network_in_flux() {
                return Err(error);
            }
            // A stop removed the network between create and start, or another berth's second
            // network of the name is about to go: take the container back and try again.
            engine.remove(&id).await?;
            journal.container = None;
            continue;
        }
        return Ok((if journal.replaced.is_some() { StartOutcome::Recreated } else { StartOutcome::Created }, id));
    }
    Err(StartError::Contended {
        name: name.clone(),
        what: "its container or network kept changing while berth started it",
    })
}

/// Gets the spec's image onto the host as the options say, reporting the pull's bytes. An
/// interruption drops the pull: it changes nothing on the host that berth would undo.
async fn get_image<I: Future<Output = ()>>(
    engine: &Engine,
    spec: &InstanceSpec,
    options: &StartOptions,
    progress: &(dyn Fn(Phase) + Send + Sync),
    interrupted: Pin<&mut I>,
) -> Result<(), StartError> {
    let layers = std::sync::Mutex::new(std::collections::HashMap::<String, (u64, u64)>::new());
    let on_step = |step: PullStep| {
        let (Some(layer), Some(bytes)) = (step.layer, step.bytes) else { return };
        let mut layers = layers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        layers.insert(layer, bytes);
        let (done_bytes, total_bytes) = layers
            .values()
            .fold((0, 0), |(done, total), (layer_done, layer_total)| (done + layer_done, total + layer_total));
        progress(Phase::Pull { done_bytes, total_bytes });
    };
    let since = options.request_began.unwrap_or_else(Instant::now);
    tokio::select! {
        ensured = images::ensure(engine, &spec.image, &spec.service, &options.images, (since, &options.run), &on_step) => ensured.map(|_| ()),
        () = interrupted => Err(StartError::Interrupted { name: spec.container_name.clone() }),
    }
}

/// Whether the container `name`, found stopped with its ports taken, turns out to be being
/// started by another start: Docker holds the ports from the beginning of a start and marks
/// the container running only at its end.
async fn started_elsewhere(engine: &Engine, name: &str) -> Result<bool, StartError> {
    for _ in 0..CREATE_ATTEMPTS {
        match engine.inspect(name).await? {
            Some(existing) if existing.running => return Ok(true),
            Some(_) => tokio::time::sleep(CREATE_PAUSE).await,
            None => return Ok(false),
        }
    }
    Ok(false)
}

/// Completes a start once the run it belongs to has succeeded as a whole: removes the
/// container a `--recreate` set aside, and gives back the leases of ports the new
/// configuration no longer uses. Until then, undoing the run can still restore it all.
pub async fn finish(engine: &Engine, spec: &InstanceSpec, started: &Started, ledger: Option<PathBuf>) {
    if let Some(replaced) = &started.journal.replaced
        && let Err(error) = engine.remove(&replaced.id).await
    {
        tracing::warn!(container = %replaced.set_aside_as, %error, "replaced_container_not_removed");
    }
    let Some(directory) = ledger.filter(|_| started.journal.replaced.is_some()) else { return };
    let project = container_project(&spec.container_name);
    let current: Vec<u16> = spec.ports.iter().map(|binding| binding.host_port).collect();
    let released = tokio::task::spawn_blocking(move || {
        let mut ledger = Ledger::open(&directory)?;
        let old: Vec<u16> = ledger
            .leases(Some(&project))?
            .iter()
            .map(|lease| lease.port)
            .filter(|port| !current.contains(port))
            .collect();
        ledger.release_ports(&project, &old)
    })
    .await;
    if let Ok(Err(error)) = released {
        tracing::warn!(container = %spec.container_name, %error, "old_configuration_leases_not_released");
    }
}

/// Creates the volumes the instance lacks; an existing one must be berth's for this instance.
async fn prepare_volumes(
    engine: &Engine,
    spec: &InstanceSpec,
    run: &str,
    journal: &mut Journal,
) -> Result<(), StartError> {
    for mount in &spec.volumes {
        if let Some(labels) = engine.volume_labels(&mount.volume).await? {
            if let Ownership::NotOurs { reason } = ownership::volume(&labels, spec) {
                return Err(not_managed("volume", &mount.volume, spec, reason));
            }
            continue;
        }
        let created = engine.create_volume(&mount.volume, spec, run).await;
        // Another start may have made it first; only what carries this run is ours to undo.
        if engine.volume_labels(&mount.volume).await?.is_some_and(|labels| ownership::made_by(&labels, run)) {
            journal.volumes.push(mount.volume.clone());
        }
        created?;
    }
    Ok(())
}

/// The id of the instance's stack network, made if missing; an existing one must be
/// berth's for this environment and instance. Engines before Docker 25 let two processes
/// make two networks of one name; whoever finds two keeps the one containers use (else the
/// oldest) and removes the unused berth copies, so every berth converges on one.
async fn prepare_network(
    engine: &Engine,
    spec: &InstanceSpec,
    run: &str,
    journal: &mut Journal,
) -> Result<String, StartError> {
    let lock = engine.network_locks().slot(&spec.network);
    let _one_at_a_time = lock.lock().await;
    let mut found = engine.networks_named(&spec.network).await?;
    let mut created = None;
    if found.is_empty() {
        created = engine.create_network(spec, run).await?;
        found = engine.networks_named(&spec.network).await?;
    }
    if found.len() > 1 {
        let mut used = Vec::with_capacity(found.len());
        for network in &found {
            used.push(engine.containers_on(network, None).await? > 0);
        }
        let kept = used.iter().position(|in_use| *in_use).unwrap_or(0);
        for (index, network) in found.iter().enumerate() {
            if index != kept && !used[index] && ownership::network(&network.labels, spec) == Ownership::Ours {
                engine.remove_network(&network.id).await?;
            }
        }
        found = vec![found.swap_remove(kept)];
    }
    let network = found.into_iter().next().ok_or_else(|| StartError::Contended {
        name: spec.network.clone(),
        what: "the network was removed each time berth made it",
    })?;
    if let Ownership::NotOurs { reason } = ownership::network(&network.labels, spec) {
        return Err(not_managed("network", &spec.network, spec, reason));
    }
    if created.as_deref() == Some(network.id.as_str()) {
        journal.network = Some(spec.network.clone());
    }
    Ok(network.id)
}

/// The error for a container or volume that is not berth's for `spec`'s instance.
pub fn not_managed(what: &'static str, name: &str, spec: &InstanceSpec, reason: String) -> StartError {
    StartError::NotManaged {
        what,
        name: name.to_string(),
        instance: format!("{} in environment {}", spec.label(), spec.environment),
        reason,
    }
}

/// Every host port of the instance must be free right now; a taken one is named with the
/// process holding it.
async fn preflight(spec: &InstanceSpec) -> Result<(), StartError> {
    let taken = |binding: &&super::spec::PortBinding| !probe::is_free_on(binding.host_address, binding.host_port);
    let Some(mut first) = spec.ports.iter().find(taken) else { return Ok(()) };
    // Another berth testing the same port holds it for an instant; a real holder stays.
    for _ in 0..PREFLIGHT_RECHECKS {
        tokio::time::sleep(PREFLIGHT_PAUSE).await;
        match spec.ports.iter().find(taken) {
            Some(still) => first = still,
            None => return Ok(()),
        }
    }
    let holder = HostPorts::snapshot()
        .ok()
        .and_then(|host| host.describe_holder(first.host_port))
        .unwrap_or_else(|| "a socket berth cannot see (run as root to name its process)".to_string());
    Err(StartError::PortTaken { port: first.host_port, slot: format!("{}.{}", spec.label(), first.key), holder })
}

/// How often, and how far apart, a port found taken is tested again before it counts as taken.
const PREFLIGHT_RECHECKS: usize = 2;
const PREFLIGHT_PAUSE: Duration = Duration::from_millis(50);

/// Leases the instance's ports to its container in the ledger; returns the ports newly leased.
async fn claim(engine: &Engine, spec: &InstanceSpec, options: &StartOptions) -> Result<Vec<u16>, StartError> {
    let Some(directory) = options.ledger.clone() else { return Ok(Vec::new()) };
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
    let engine_id = engine.id().to_string();
    tokio::task::spawn_blocking(move || Ledger::open(&directory)?.claim(&project, &claims, Some(&engine_id), now()))
        .await
        .map_err(|_| StartError::Interrupted { name: spec.container_name.clone() })?
        .map_err(|error| match error {
            crate::ledger::LedgerError::LeasedElsewhere { port, project, service } => {
                StartError::PortLeased { port, slot: slot_of(port), project, service }
            }
            other => StartError::Ledger(other),
        })
}
