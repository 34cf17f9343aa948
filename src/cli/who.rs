//! `berth who`: which process holds each of the given ports right now, or, when nothing
//! listens, which connection uses it as its local port.
//!
//! A port a container publishes is held by the engine's `docker-proxy`, which says nothing
//! to a person looking for the culprit; for those the engine is asked which container
//! publishes the port, and the registry which slot it is. Answers for every port, free or
//! not, and exits 0 once it could look; use `--format json` to script on the answer.

use std::path::Path;

use clap::Args;
use serde::Serialize;

use super::Outcome;
use super::output::{OutputFormat, emit, emit_json};
use crate::containers::Engine;
use crate::containers::spec::{ENVIRONMENT_LABEL, INSTANCE_LABEL, SERVICE_LABEL};
use crate::probe::{Connection, HostPorts, Listener};
use crate::registry::PortManager;

/// The process name of the engine's port forwarder.
const DOCKER_PROXY: &str = "docker-proxy";

/// Arguments of `berth who`.
#[derive(Debug, Args)]
pub struct WhoArgs {
    /// Ports to look up.
    #[arg(required = true, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    ports: Vec<u16>,
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Serialize)]
struct PortHolders<'a> {
    port: u16,
    holders: &'a [Listener],
    connections: &'a [Connection],
    /// The containers that publish the port, when docker-proxy holds it.
    containers: Vec<Publishing>,
}

/// A container behind docker-proxy, and the registry slot the port is.
#[derive(Debug, Clone, Serialize)]
struct Publishing {
    container: String,
    /// `kafka[1].broker_port`, when the port is a slot of the registry in use.
    slot: Option<String>,
}

pub(super) fn run(args: WhoArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let host = HostPorts::snapshot()?;
    let proxied: Vec<u16> = args
        .ports
        .iter()
        .copied()
        .filter(|&port| {
            host.holders(port)
                .iter()
                .any(|holder| holder.owner.as_ref().is_some_and(|owner| owner.name == DOCKER_PROXY))
        })
        .collect();
    let manager = super::ledger_args::optional_manager(registry).ok().flatten();
    let (publishers, engine_error) = if proxied.is_empty() {
        (Vec::new(), None)
    } else {
        match publishers(&proxied, manager) {
            Ok(found) => (found, None),
            Err(error) => (Vec::new(), Some(error)),
        }
    };
    let answers: Vec<PortHolders<'_>> = args
        .ports
        .iter()
        .map(|&port| PortHolders {
            port,
            holders: host.holders(port),
            connections: host.connections(port),
            containers: publishers
                .iter()
                .filter(|(published, _)| *published == port)
                .map(|(_, found)| found.clone())
                .collect(),
        })
        .collect();
    match args.format {
        OutputFormat::Json => emit_json(&answers)?,
        OutputFormat::Table => emit(&table(&answers), None)?,
    }
    if let Some(error) = engine_error {
        super::style::warning(format_args!(
            "docker-proxy holds a port, but the engine did not say for which container: {error:#}"
        ));
    }
    Ok(Outcome::Clean)
}

fn table(answers: &[PortHolders<'_>]) -> String {
    let mut table = crate::table::Table::new(&["PORT", "HELD BY"]);
    for answer in answers {
        let port = answer.port.to_string();
        if answer.holders.is_empty() && answer.connections.is_empty() {
            table.row([port.clone(), "free".to_string()]);
        }
        for listener in answer.holders {
            let mut held = listener.describe();
            if listener.owner.as_ref().is_some_and(|owner| owner.name == DOCKER_PROXY) {
                for found in &answer.containers {
                    held.push_str(&format!(" for container {}", found.container));
                    if let Some(slot) = &found.slot {
                        held.push_str(&format!(", slot {slot}"));
                    }
                }
            }
            table.row([port.clone(), held]);
        }
        for connection in answer.connections {
            table.row([port.clone(), format!("used as {}", connection.describe())]);
        }
    }
    table.render(super::output::terminal_width())
}

/// The containers publishing each of `ports`, asked of the engine this process is pointed at.
fn publishers(ports: &[u16], manager: Option<&PortManager>) -> anyhow::Result<Vec<(u16, Publishing)>> {
    let found = super::block_on(async {
        let engine = Engine::connect(&super::engine_target()?).await?;
        let mut found = Vec::new();
        for &port in ports {
            for publisher in engine.publishing(port).await? {
                found.push((port, publisher));
            }
        }
        anyhow::Ok(found)
    })?;
    Ok(found
        .into_iter()
        .map(|(port, publisher)| {
            let slot = manager.and_then(|manager| slot_of(manager, &publisher.labels, port));
            (port, Publishing { container: publisher.name, slot })
        })
        .collect())
}

/// The registry slot `port` is for a container with these labels: its own instance's, when
/// berth made it; otherwise any slot of the registry's first environment on that port.
fn slot_of(manager: &PortManager, labels: &std::collections::HashMap<String, String>, port: u16) -> Option<String> {
    let label = |name: &str| labels.get(name).map(String::as_str);
    let candidates = match (label(SERVICE_LABEL), label(INSTANCE_LABEL).and_then(|text| text.parse::<u32>().ok())) {
        (Some(service), Some(instance)) => {
            manager.environment(label(ENVIRONMENT_LABEL)).ok()?.instance_ports(service, instance).ok()?
        }
        _ => {
            let view = manager.environment(None).ok()?;
            manager
                .registry()
                .services
                .iter()
                .flat_map(|service| {
                    (0..u32::from(service.max_instances))
                        .filter_map(|instance| view.instance_ports(&service.name, instance).ok())
                        .flatten()
                        .collect::<Vec<_>>()
                })
                .collect()
        }
    };
    candidates
        .into_iter()
        .find(|resolved| resolved.port == port)
        .map(|resolved| format!("{}[{}].{}", resolved.service, resolved.instance, resolved.key))
}
