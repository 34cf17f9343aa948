//! `berth check`: load the registry and prove it collision-free.
//!
//! Prints every finding (errors, then warnings) and a summary line; `--format json` gives
//! the same for CI pipelines. Exit 0 clean (warnings allowed), 1 with errors, 2 when the
//! file cannot be used at all.

use std::path::Path;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::Outcome;
use super::output::{emit, emit_json};
use crate::registry::{self, FindingCode, Registry, Report, Severity};

/// Arguments of `berth check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    format: CheckFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    Human,
    Json,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    registry: &'a Path,
    services: usize,
    slots: usize,
    errors: usize,
    warnings: usize,
    findings: Vec<JsonFinding<'a>>,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    code: FindingCode,
    severity: Severity,
    message: String,
    slots: Vec<JsonSlot<'a>>,
}

#[derive(Serialize)]
struct JsonSlot<'a> {
    service: &'a str,
    instance: u16,
    key: &'a str,
    environment: &'a str,
    port: u32,
}

pub(super) fn run(args: CheckArgs, explicit: Option<&Path>) -> anyhow::Result<Outcome> {
    let path = registry::locate(explicit)?;
    let loaded = registry::load_file(&path)?;
    let report = registry::validate(&loaded);
    match args.format {
        CheckFormat::Human => emit(&human(&report, &loaded, &path), None)?,
        CheckFormat::Json => emit_json(&json(&report, &loaded, &path))?,
    }
    Ok(if report.errors() > 0 { Outcome::Findings } else { Outcome::Clean })
}

fn human(report: &Report, registry: &Registry, path: &Path) -> String {
    let mut text = String::new();
    for finding in &report.findings {
        let code = finding.code();
        text.push_str(&format!("{}[{code}]: {}\n", code.severity(), finding.message(registry)));
    }
    text.push_str(&format!(
        "{}: {} services, {} slots: {} error(s), {} warning(s)\n",
        path.display(),
        report.services,
        report.slots,
        report.errors(),
        report.warnings()
    ));
    text
}

fn json<'a>(report: &'a Report, registry: &'a Registry, path: &'a Path) -> JsonReport<'a> {
    let findings = report
        .findings
        .iter()
        .map(|finding| JsonFinding {
            code: finding.code(),
            severity: finding.code().severity(),
            message: finding.message(registry),
            slots: finding
                .slots()
                .into_iter()
                .map(|slot| JsonSlot {
                    service: &registry.service_of(slot).name,
                    instance: slot.instance,
                    key: &registry.key_of(slot).name,
                    environment: &registry.environment_of(slot).name,
                    port: registry.port_of(slot),
                })
                .collect(),
        })
        .collect();
    JsonReport {
        registry: path,
        services: report.services,
        slots: report.slots,
        errors: report.errors(),
        warnings: report.warnings(),
        findings,
    }
}
