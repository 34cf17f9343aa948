//! Stopping one instance: remove its container, its volumes when asked, and its leases —
//! but only what berth made for exactly this service, instance and environment.
//!
//! Everything is judged before anything is removed, so a stop refused for one volume has
//! not already removed the container. A container from another configuration (another
//! checkout's registry) is refused unless forced; one that is not berth's never is removed.

use std::path::PathBuf;

use serde::Serialize;

use super::StartError;
use super::docker::Engine;
use super::ownership::{self, Ownership};
use super::spec::InstanceSpec;
use super::start::not_managed;
use crate::ledger::{Ledger, LedgerError, ReleaseScope, container_project, fallback_project};

/// How to stop.
#[derive(Debug, Clone, Default)]
pub struct StopOptions {
    /// Remove the instance's volumes too.
    pub volumes: bool,
    /// Remove a berth container of the instance even when it runs another configuration.
    pub force: bool,
    /// The ledger's state directory; `None` skips the ledger.
    pub ledger: Option<PathBuf>,
}

/// What a stop did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stopped {
    /// Whether there was a container to remove.
    pub removed: bool,
    /// The volumes removed.
    pub volumes_removed: Vec<String>,
    /// The ports whose leases were released.
    pub released_ports: Vec<u16>,
    /// The stack network, removed with the last of its containers.
    pub network_removed: Option<String>,
}

/// `error`, saying what the stop had done before it: nothing is left unsaid.
fn partly(error: StartError, stopped: &Stopped, name: &str) -> StartError {
    let mut done = Vec::new();
    if stopped.removed {
        done.push(format!("removed container {name}"));
    }
    if !stopped.volumes_removed.is_empty() {
        done.push(format!("removed volume(s) {}", stopped.volumes_removed.join(", ")));
    }
    if !stopped.released_ports.is_empty() {
        let ports: Vec<String> = stopped.released_ports.iter().map(u16::to_string).collect();
        done.push(format!("released port(s) {}", ports.join(", ")));
    }
    if let Some(network) = &stopped.network_removed {
        done.push(format!("removed network {network}"));
    }
    if done.is_empty() {
        return error;
    }
    StartError::Partly { error: Box::new(error), done: done.join(", ") }
}

/// Stops and removes `spec`'s instance; see the module docs.
pub async fn stop(engine: &Engine, spec: &InstanceSpec, options: &StopOptions) -> Result<Stopped, StartError> {
    let name = &spec.container_name;
    let container = engine.inspect(name).await?;
    if let Some(existing) = &container {
        match ownership::container(&existing.labels, spec) {
            Ownership::NotOurs { reason } => return Err(not_managed("container", name, spec, reason)),
            Ownership::OtherConfiguration { running } if !options.force => {
                return Err(StartError::ConfigChanged {
                    name: name.clone(),
                    running,
                    wanted: spec.config_hash().to_string(),
                });
            }
            Ownership::Ours | Ownership::OtherConfiguration { .. } => {}
        }
    }
    let mut volumes = Vec::new();
    if options.volumes {
        for mount in &spec.volumes {
            let Some(labels) = engine.volume_labels(&mount.volume).await? else { continue };
            if let Ownership::NotOurs { reason } = ownership::volume(&labels, spec) {
                return Err(not_managed("volume", &mount.volume, spec, reason));
            }
            volumes.push(mount.volume.clone());
        }
    }
    let mut stopped = Stopped::default();
    if let Some(existing) = container {
        // By id: a container that replaced this one meanwhile is not the one judged above.
        stopped.removed = engine.remove(&existing.id).await?;
    }
    if let Some(directory) = options.ledger.clone() {
        // The container's ports, and the fallbacks it was published on.
        let projects = [container_project(name), fallback_project(&spec.service, &spec.environment, spec.instance)];
        let released = tokio::task::spawn_blocking(move || {
            let mut ledger = Ledger::open(&directory)?;
            let mut ports = Vec::new();
            for project in &projects {
                match ledger.release(project, &ReleaseScope::Project) {
                    Ok(leases) => ports.extend(leases.iter().map(|lease| lease.port)),
                    Err(LedgerError::UnknownProject { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
            ports.sort_unstable();
            Ok(ports)
        })
        .await
        .map_err(|_| StartError::Interrupted { name: name.clone() })
        .and_then(|released| released.map_err(StartError::Ledger));
        match released {
            Ok(ports) => stopped.released_ports = ports,
            Err(error) => return Err(partly(error, &stopped, name)),
        }
    }
    let mut first_failure = None;
    for volume in volumes {
        match engine.remove_volume(&volume).await {
            Ok(true) => stopped.volumes_removed.push(volume),
            Ok(false) => {}
            // The other volumes are still removed; the first failure is reported with all done.
            Err(error) => first_failure = first_failure.or(Some(error)),
        }
    }
    if let Some(error) = first_failure {
        return Err(partly(error, &stopped, name));
    }
    match remove_network_if_last(engine, spec).await {
        Ok(removed) => stopped.network_removed = removed,
        Err(error) => return Err(partly(error, &stopped, name)),
    }
    tracing::info!(service = %spec.service, instance = spec.instance, container = %name, removed = stopped.removed, volumes = ?stopped.volumes_removed, released = ?stopped.released_ports, network = ?stopped.network_removed, "container_stopped");
    Ok(stopped)
}

/// Removes the instance's stack network once no container uses it, when it is berth's for
/// this environment and instance.
async fn remove_network_if_last(engine: &Engine, spec: &InstanceSpec) -> Result<Option<String>, StartError> {
    let removed = super::undo::remove_network_if_unused(engine, spec).await?;
    Ok(removed.then(|| spec.network.clone()))
}
