//! Taking back exactly what one start did, so a failed or interrupted start leaves the host
//! as it found it: the container it created (or stops again the one it started), the volumes
//! it created, the ports it newly leased; never anything that was there before.
//!
//! A [`Journal`] is written by the start as it goes; [`undo`] reads it. A compensation in
//! another process rebuilds the journal from the run label on what the run made
//! ([`journal_of_run`]).

use std::path::PathBuf;

use berth_workflows::activities::Undone;

use super::StartError;
use super::docker::Engine;
use super::ownership::{self, Ownership};
use super::spec::InstanceSpec;
use crate::ledger::{Ledger, container_project, fallback_project};

/// What a start did to the host, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Journal {
    /// The container of another configuration it set aside to replace (`--recreate`).
    pub replaced: Option<Replaced>,
    /// What it did to the instance's container.
    pub container: Option<ContainerStep>,
    /// Volumes it created.
    pub volumes: Vec<String>,
    /// Ports it newly leased for the container.
    pub leases: Vec<u16>,
    /// The stack network it created.
    pub network: Option<String>,
}

/// A container of another configuration, stopped and renamed out of the way while its
/// replacement starts; removed once the replacement is ready, restored if it fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    /// Its id.
    pub id: String,
    /// Whether it was running.
    pub was_running: bool,
    /// The name it is set aside under.
    pub set_aside_as: String,
}

/// The name a replaced container is set aside under while its replacement starts.
pub fn set_aside_name(container: &str, run: &str) -> String {
    let run: String =
        run.chars().map(|character| if character.is_ascii_alphanumeric() { character } else { '-' }).collect();
    format!("{container}.replaced-by-{run}")
}

/// What a start did to the instance's container, which is named by its id: whatever holds
/// the instance's name by the time the start is undone may not be it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerStep {
    /// Created it (also when it replaced one of another configuration).
    Created {
        /// The container's id.
        id: String,
    },
    /// Started it; it existed, stopped.
    Started {
        /// The container's id.
        id: String,
    },
}

impl Journal {
    /// What a start that keeps its failures for inspection left, each with how to remove it.
    pub fn kept(&self, spec: &InstanceSpec) -> Undone {
        let mut left = Vec::new();
        let down = format!("berth down {}:{}{}", spec.service, spec.instance, environment_flag(spec));
        if self.container.is_some() {
            left.push(format!("container {} (kept for inspection; `{down}` removes it)", spec.container_name));
        }
        for volume in &self.volumes {
            left.push(format!("volume {volume} (`{down} --volumes` removes it)"));
        }
        if !self.leases.is_empty() {
            left.push(format!("leases on port(s) {} (`{down}` releases them)", ports(&self.leases)));
        }
        if let Some(network) = &self.network {
            left.push(format!("network {network} (`{down}` removes it with the stack's last container)"));
        }
        if let Some(replaced) = &self.replaced {
            left.push(format!(
                "the container it replaced, stopped, as {} (`docker rm {0}` removes it; after `{down}`, `docker rename {0} {}` restores it)",
                replaced.set_aside_as, spec.container_name
            ));
        }
        Undone { undone: Vec::new(), left }
    }
}

fn environment_flag(spec: &InstanceSpec) -> String {
    format!(" --env {}", spec.environment)
}

fn ports(ports: &[u16]) -> String {
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
}

/// Undoes what `journal` records, in reverse order; what cannot be undone is reported in
/// `left` with how to remove it, never silently kept.
pub async fn undo(engine: &Engine, spec: &InstanceSpec, journal: &Journal, ledger: Option<PathBuf>) -> Undone {
    let mut report = Undone::default();
    let name = &spec.container_name;
    let down = format!("berth down {}:{}{}", spec.service, spec.instance, environment_flag(spec));
    match &journal.container {
        Some(ContainerStep::Created { id }) => match engine.remove(id).await {
            Ok(_) => report.undone.push(format!("removed container {name}")),
            Err(error) => report.left.push(format!("container {name} ({error}; `{down}` removes it)")),
        },
        Some(ContainerStep::Started { id }) => match engine.stop(id).await {
            Ok(()) => report.undone.push(format!("stopped container {name} again (it was stopped before)")),
            Err(error) => {
                report.left.push(format!("container {name} running ({error}; `docker stop {name}` stops it)"))
            }
        },
        None => {}
    }
    if let Some(replaced) = &journal.replaced {
        let restored = async {
            engine.rename(&replaced.id, name).await?;
            if replaced.was_running {
                engine.start_existing(name).await?;
            }
            Ok::<(), StartError>(())
        };
        match restored.await {
            Ok(()) => report.undone.push(format!("restored container {name} of the previous configuration")),
            Err(error) => report.left.push(format!(
                "the replaced container, stopped, as {} ({error}; `docker rename {0} {name}` restores it)",
                replaced.set_aside_as
            )),
        }
    }
    for volume in &journal.volumes {
        match engine.remove_volume(volume).await {
            Ok(_) => report.undone.push(format!("removed volume {volume}")),
            Err(error) => report.left.push(format!("volume {volume} ({error}; `{down} --volumes` removes it)")),
        }
    }
    if let (Some(directory), false) = (ledger, journal.leases.is_empty()) {
        let projects = [container_project(name), fallback_project(&spec.service, &spec.environment, spec.instance)];
        let leased = journal.leases.clone();
        let released = tokio::task::spawn_blocking(move || {
            let mut ledger = Ledger::open(&directory)?;
            let mut released = Vec::new();
            for project in &projects {
                released.extend(ledger.release_ports(project, &leased)?);
            }
            released.sort_unstable();
            Ok::<_, crate::ledger::LedgerError>(released)
        })
        .await
        .map_err(|error| error.to_string())
        .and_then(|released| released.map_err(|error| error.to_string()));
        match released {
            Ok(released) if !released.is_empty() => {
                report.undone.push(format!("released port(s) {}", ports(&released)))
            }
            Ok(_) => {}
            Err(error) => report.left.push(format!(
                "leases on port(s) {} ({error}; `berth release --project {}` and `berth release --project {}` release them)",
                ports(&journal.leases),
                container_project(name),
                fallback_project(&spec.service, &spec.environment, spec.instance)
            )),
        }
    }
    if let Some(network) = &journal.network {
        // Only once unused: another start may have attached a container of the stack meanwhile.
        match remove_network_if_unused(engine, spec).await {
            Ok(true) => report.undone.push(format!("removed network {network}")),
            Ok(false) => {}
            Err(error) => report
                .left
                .push(format!("network {network} ({error}; `docker network rm {network}` removes it once empty)")),
        }
    }
    report
}

/// What run `run` did to `spec`'s instance, read back from the host: a container or volumes
/// carrying its run label were created by it; a start reported as `started` started an
/// existing container and newly leased `leased_ports`. The instance's ports are given back
/// with a container the run created, all but a fallback the run did not lease.
pub async fn journal_of_run(
    engine: &Engine,
    spec: &InstanceSpec,
    run: &str,
    outcome: Option<&str>,
    leased_ports: &[u16],
) -> Result<Journal, StartError> {
    let mut journal = Journal { leases: leased_ports.to_vec(), ..Journal::default() };
    if let Some(existing) = engine.inspect(&spec.container_name).await? {
        let owned = !matches!(ownership::container(&existing.labels, spec), Ownership::NotOurs { .. });
        if owned && ownership::made_by(&existing.labels, run) {
            journal.container = Some(ContainerStep::Created { id: existing.id.clone() });
            let own = spec.ports.iter().filter(|binding| binding.fallback.is_none()).map(|binding| binding.host_port);
            journal.leases = own.chain(leased_ports.iter().copied()).collect();
            journal.leases.sort_unstable();
            journal.leases.dedup();
        } else if owned && outcome == Some("started") {
            journal.container = Some(ContainerStep::Started { id: existing.id.clone() });
        }
    }
    for mount in &spec.volumes {
        if let Some(labels) = engine.volume_labels(&mount.volume).await?
            && ownership::volume(&labels, spec) == Ownership::Ours
            && ownership::made_by(&labels, run)
        {
            journal.volumes.push(mount.volume.clone());
        }
    }
    // Whoever made it: an unused berth network of the instance is removed as `down` would,
    // so that concurrent runs that all failed leave none behind.
    if let Some((network, _)) = engine.network(&spec.network).await?
        && ownership::network(&network.labels, spec) == Ownership::Ours
    {
        journal.network = Some(spec.network.clone());
    }
    Ok(journal)
}

/// Removes `spec`'s stack network when it is berth's for the instance and no container,
/// running or stopped, uses it; whether it was removed.
pub async fn remove_network_if_unused(engine: &Engine, spec: &InstanceSpec) -> Result<bool, StartError> {
    let Some((network, users)) = engine.network(&spec.network).await? else { return Ok(false) };
    let ours = ownership::network(&network.labels, spec) == Ownership::Ours;
    if users > 0 || !ours {
        return Ok(false);
    }
    engine.remove_network(&network.id).await
}

/// Removes the stack networks of `specs` that are berth's and that no container uses any
/// more, after a failed run's undo: whichever run made them (a concurrent run that failed
/// too may have), as `down` would.
pub async fn sweep_networks(engine: &Engine, specs: &[InstanceSpec]) -> Undone {
    let mut report = Undone::default();
    let mut seen = std::collections::HashSet::new();
    for spec in specs.iter().filter(|spec| seen.insert(spec.network.clone())) {
        let network = &spec.network;
        match remove_network_if_unused(engine, spec).await {
            Ok(true) => report.undone.push(format!("removed network {network}")),
            Ok(false) => {}
            Err(error) => report.left.push(format!(
                "network {network} perhaps ({error}; `docker network rm {network}` removes it once no container uses it)"
            )),
        }
    }
    report
}
