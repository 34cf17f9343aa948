//! `berth leases`: the host ledger's leases, all or one project's, as a table, JSON, or
//! the env/compose/shell/Markdown exports (`MLFLOW_PORT`, `MLFLOW_1_PORT`, …).

use clap::Args;

use super::Outcome;
use super::ledger_args::open_ledger;
use super::output::{emit, json_text};
use crate::export::{self, ExportRow, Format};
use crate::ledger::{Lease, rfc3339};
use crate::registry::variable_name;

/// Arguments of `berth leases`.
#[derive(Debug, Args)]
pub struct LeasesArgs {
    /// Only this project's leases [default: every project's].
    #[arg(long)]
    project: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub(super) fn run(args: LeasesArgs) -> anyhow::Result<Outcome> {
    let leases = open_ledger()?.leases(args.project.as_deref())?;
    let text = match args.format {
        Format::Table => table(&leases, super::output::terminal_width()),
        Format::Json => json_text(&leases)?,
        format => {
            let mut projects: Vec<&str> = leases.iter().map(|lease| lease.project.as_str()).collect();
            projects.dedup();
            if projects.len() > 1 && matches!(format, Format::Env | Format::Compose | Format::Shell) {
                anyhow::bail!(
                    "the leases of {} projects ({}) would export the same variable names; name one with --project",
                    projects.len(),
                    projects.join(", ")
                );
            }
            export::render(format, &export_rows(&leases))
        }
    };
    emit(&text, None)?;
    Ok(Outcome::Clean)
}

/// Leases as export rows. A lease from a registry slot keeps the slot's variable
/// (`KAFKA_1_BROKER_PORT`); the others are numbered per project and service in port order
/// (`WEB_PORT`, `WEB_1_PORT`). Expects leases ordered by project, service and port.
pub(super) fn export_rows(leases: &[Lease]) -> Vec<ExportRow> {
    leases
        .chunk_by(|left, right| (&left.project, &left.service) == (&right.project, &right.service))
        .flat_map(|group| {
            group.iter().zip(0u16..).map(|(lease, ordinal)| {
                let (instance, key, variable) = match &lease.slot {
                    Some(slot) => {
                        (slot.instance, slot.key.clone(), variable_name(&slot.service, slot.instance, &slot.key))
                    }
                    None => (ordinal, "port".to_string(), variable_name(&lease.service, ordinal, "port")),
                };
                ExportRow {
                    service: lease.service.clone(),
                    instance,
                    key,
                    port: lease.port,
                    variable,
                    heading: format!("project {}: {}", lease.project, lease.service),
                }
            })
        })
        .collect()
}

fn table(leases: &[Lease], width: Option<u16>) -> String {
    let mut table =
        crate::table::Table::new(&["PORT", "PROTOCOL", "PROJECT", "SERVICE", "OWNER", "EXPIRES", "PURPOSE"]);
    for lease in leases {
        table.row([
            lease.port.to_string(),
            lease.protocol.to_string(),
            lease.project.clone(),
            lease.service.clone(),
            lease.owner.map_or_else(|| "-".to_string(), |owner| format!("pid {}", owner.pid)),
            lease.expires_at().map_or_else(|| "-".to_string(), rfc3339),
            lease.purpose.clone(),
        ]);
    }
    format!("{}{} lease(s)\n", table.render(width), leases.len())
}
