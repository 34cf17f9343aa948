//! `berth check`: load the registry and prove it collision-free.
//!
//! Prints every finding (errors, then warnings) and a summary line; `--format json` gives
//! the same for CI pipelines. Exit 0 clean (warnings allowed), 1 with errors, 2 when the
//! file cannot be used at all. Besides the file it checks what this host adds: the port
//! overrides set in the environment, and the kernel's ephemeral port range.

use std::collections::HashMap;
use std::path::Path;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::Outcome;
use super::output::{emit, emit_json};
use crate::registry::{self, FindingCode, Overrides, PortRange, Registry, Report, Severity};

/// Where Linux keeps the range it picks outgoing connections' local ports from.
const EPHEMERAL_RANGE_FILE: &str = "/proc/sys/net/ipv4/ip_local_port_range";

/// Arguments of `berth check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output for people or for machines.
    #[arg(long, value_enum, default_value_t = CheckFormat::Table)]
    format: CheckFormat,
    /// Print only the `net.ipv4.ip_local_reserved_ports` setting that keeps the kernel from
    /// giving any registry port to an outgoing connection (for /etc/sysctl.d).
    #[arg(long, conflicts_with = "format")]
    kernel_reserved_ports: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    /// Lines for people.
    #[value(alias = "human")]
    Table,
    /// JSON for machines.
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

pub(super) fn run(
    args: CheckArgs,
    explicit: Option<&Path>,
    variables: &HashMap<String, String>,
) -> anyhow::Result<Outcome> {
    let path = registry::locate(explicit)?;
    let loaded = registry::load_file(&path)?;
    let mut report = registry::validate(&loaded);
    let ephemeral = ephemeral_range();
    if args.kernel_reserved_ports {
        if report.errors() > 0 {
            anyhow::bail!(
                "{} has {} error(s), so its slots are not final; run `berth check` and fix them first",
                path.display(),
                report.errors()
            );
        }
        let setting = registry::kernel_reserved_ports(&loaded, ephemeral).map_err(anyhow::Error::msg)?;
        if setting.is_empty() {
            // An empty value would clear every reservation on the host, not just berth's.
            let range = ephemeral.map_or_else(String::new, |range| format!(" {range}"));
            say!("nothing to reserve: no slot lies inside the kernel's ephemeral range{range}");
        } else {
            emit(&format!("net.ipv4.ip_local_reserved_ports = {setting}\n"), None)?;
        }
        return Ok(Outcome::Clean);
    }
    let overrides = Overrides::read(&loaded, variables);
    for ignored in overrides.ignored() {
        tracing::info!(variable = %ignored.variable, value = %ignored.value, reason = ignored.reason, "override_ignored");
    }
    report.findings.extend(overrides.findings(&loaded));
    if let Some(range) = ephemeral {
        report.findings.extend(registry::ephemeral_findings(&loaded, range));
    }
    report.findings.sort_by_key(registry::Finding::severity);
    match args.format {
        CheckFormat::Table => emit(&human(&report, &loaded, &shown(&path)), None)?,
        CheckFormat::Json => emit_json(&json(&report, &loaded, &path))?,
    }
    Ok(if report.errors() > 0 { Outcome::Findings } else { Outcome::Clean })
}

/// The registry's path as a person would type it: relative to the working directory when
/// it lies inside it (a registry found upwards from there is named in full).
fn shown(path: &Path) -> std::path::PathBuf {
    let inside = std::env::current_dir().ok().and_then(|here| path.strip_prefix(here).ok().map(Path::to_path_buf));
    inside.unwrap_or_else(|| path.to_path_buf())
}

/// The kernel's ephemeral port range; `None` where it cannot be read (not Linux).
pub(super) fn ephemeral_range() -> Option<PortRange> {
    let text = std::fs::read_to_string(EPHEMERAL_RANGE_FILE).ok()?;
    let mut numbers = text.split_whitespace().map(|number| number.parse::<u16>().ok());
    PortRange::new(numbers.next()??, numbers.next()??)
}

fn human(report: &Report, registry: &Registry, path: &Path) -> String {
    let mut text = String::new();
    for finding in &report.findings {
        let code = finding.code();
        let severity = finding.severity();
        let style = match severity {
            Severity::Error => super::style::ERROR,
            Severity::Warning => super::style::WARNING,
        };
        let label = super::style::paint(style, format_args!("{severity}[{code}]"));
        text.push_str(&format!("{label}: {}\n", finding.message(registry)));
    }
    if report.findings.iter().any(|finding| finding.code() == FindingCode::EphemeralPort) {
        text.push_str("hint: `berth check --kernel-reserved-ports` prints the sysctl setting that keeps outgoing connections off every registry port (README, \"Ephemeral ports\")\n");
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
            severity: finding.severity(),
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
