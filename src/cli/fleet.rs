//! `berth fleet`: every host's instances and leases in one table, found and asked through
//! Temporal (see `crate::fleet`); a host whose worker is gone is a row saying so.

use berth_workflows::{FailureKind, SHARED_TASK_QUEUE};
use clap::Args;

use super::output::{OutputFormat, emit, emit_json};
use super::{Outcome, block_on};
use crate::fleet::{self, Host};
use crate::table::Table;

/// Arguments of `berth fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The Temporal cluster the hosts' workers poll [default: $TEMPORAL_ADDRESS, the
    /// profile's, else localhost:7233].
    #[arg(long, value_name = "ADDR", value_parser = super::temporal_address)]
    temporal: Option<String>,
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub(super) fn run(args: FleetArgs) -> anyhow::Result<Outcome> {
    block_on(async {
        let client = super::via_temporal::client(args.temporal.as_deref()).await?;
        let found = fleet::find_hosts(&client).await?;
        if found.is_empty() {
            super::style::error(format_args!(
                "{}: no berth worker polls task queue `{SHARED_TASK_QUEUE}`, so no host is known; start one (berth worker) on each host",
                FailureKind::NoWorker
            ));
            return anyhow::Ok(Outcome::Exit(FailureKind::NoWorker.exit_code()));
        }
        let answered = fleet::ask(&client, &found).await;
        match args.format {
            OutputFormat::Json => emit_json(&serde_json::json!({ "hosts": answered }))?,
            OutputFormat::Table => emit(&tables(&answered), None)?,
        }
        for host in &answered {
            if let (Some(trouble), Some(error)) = (host.trouble(), &host.error) {
                super::style::error(format_args!("host {} is {trouble}: {error}", host.host));
            }
        }
        Ok(if answered.iter().any(|host| host.error.is_some()) { Outcome::Exit(1) } else { Outcome::Clean })
    })
}

/// The instances table, then the leases table.
fn tables(hosts: &[Host]) -> String {
    let mut instances = Table::new(&["HOST", "SERVICE", "INSTANCE", "ENV", "STATE", "ENDPOINTS"]);
    let mut leases = Table::new(&["HOST", "PORT", "PROJECT", "SERVICE"]);
    for row in fleet::rows(hosts) {
        instances.row([row.host, row.service, row.instance, row.env, row.state, &row.endpoints]);
    }
    for lease in fleet::lease_rows(hosts) {
        leases.row([
            lease.host.to_string(),
            lease.port.to_string(),
            lease.project.to_string(),
            lease.service.to_string(),
        ]);
    }
    let mut text = instances.render(None);
    if !leases.is_empty() {
        text.push('\n');
        text.push_str(&leases.render(None));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_workflows::activities::{ContainerState, LeaseState};

    #[test]
    fn a_host_that_did_not_answer_is_a_row_saying_why() {
        let hosts = [
            Host {
                host: "h1".into(),
                instances: vec![ContainerState {
                    container: "web-dev".into(),
                    service: "web".into(),
                    instance: "0".into(),
                    env: "dev".into(),
                    state: "running".into(),
                    endpoints: vec!["0.0.0.0:8080".into()],
                }],
                leases: vec![LeaseState { port: 8080, project: "container:web-dev".into(), service: "web".into() }],
                kind: None,
                error: None,
            },
            Host {
                host: "h2".into(),
                instances: Vec::new(),
                leases: Vec::new(),
                kind: Some(FailureKind::NoWorker),
                error: Some("gone\nmore".into()),
            },
            Host {
                host: "h3".into(),
                instances: Vec::new(),
                leases: Vec::new(),
                kind: Some(FailureKind::EngineUnreachable),
                error: Some("Docker does not answer".into()),
            },
        ];
        let text = tables(&hosts);
        assert_eq!(
            text,
            "HOST  SERVICE  INSTANCE  ENV  STATE        ENDPOINTS\n\
             h1    web      0         dev  running      0.0.0.0:8080\n\
             h2    -        -         -    unreachable  gone\n\
             h3    -        -         -    failed       Docker does not answer\n\
             \n\
             HOST  PORT  PROJECT            SERVICE\n\
             h1    8080  container:web-dev  web\n"
        );
    }
}
