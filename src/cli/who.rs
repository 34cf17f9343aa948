//! `berth who`: which process holds each of the given ports right now, or, when nothing
//! listens, which connection uses it as its local port.
//!
//! Answers for every port, free or not, and exits 0 once it could look; use
//! `--format json` to script on the answer.

use clap::Args;
use serde::Serialize;

use super::Outcome;
use super::output::{OutputFormat, emit, emit_json};
use crate::probe::{Connection, HostPorts, Listener};

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
}

pub(super) fn run(args: WhoArgs) -> anyhow::Result<Outcome> {
    let host = HostPorts::snapshot()?;
    match args.format {
        OutputFormat::Json => {
            let answers: Vec<PortHolders<'_>> = args
                .ports
                .iter()
                .map(|&port| PortHolders { port, holders: host.holders(port), connections: host.connections(port) })
                .collect();
            emit_json(&answers)?;
        }
        OutputFormat::Table => {
            let mut table = crate::table::Table::new(&["PORT", "HELD BY"]);
            for &port in &args.ports {
                let (holders, connections) = (host.holders(port), host.connections(port));
                if holders.is_empty() && connections.is_empty() {
                    table.row([port.to_string(), "free".to_string()]);
                }
                for listener in holders {
                    table.row([port.to_string(), listener.describe()]);
                }
                for connection in connections {
                    table.row([port.to_string(), format!("used as {}", connection.describe())]);
                }
            }
            emit(&table.render(super::output::terminal_width()), None)?;
        }
    }
    Ok(Outcome::Clean)
}
