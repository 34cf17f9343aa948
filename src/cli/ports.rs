//! `berth ports`: every port of the chosen services and instances, in one of the export
//! formats, on stdout or atomically into a file.
//!
//! Without `-i`/`--instances` every instance is listed. When services are named, asking for
//! an instance one of them does not have is an error; when all services are listed, each
//! service simply contributes the instances it has.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use clap::Args;

use super::ledger_args::{apply_fallbacks, warn_about_foreign_leases};
use super::output::emit;
use super::{Outcome, manager};
use crate::export::{self, ExportRow, Format};
use crate::registry::ResolvedPort;

/// Arguments of `berth ports`.
#[derive(Debug, Args)]
pub struct PortsArgs {
    /// Services to list [default: all, in registry order].
    #[arg(add = clap_complete::ArgValueCompleter::new(super::completions::services))]
    services: Vec<String>,
    /// Only this instance.
    #[arg(short, long, conflicts_with = "instances", allow_negative_numbers = true)]
    instance: Option<u32>,
    /// Only these instances, such as `0-3`.
    #[arg(long, value_name = "FIRST-LAST", value_parser = parse_instances)]
    instances: Option<RangeInclusive<u32>>,
    /// The environment [default: the registry's first].
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write to this file (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `2` or `0-3`; instance ids start at 0, unlike ports.
fn parse_instances(text: &str) -> Result<RangeInclusive<u32>, String> {
    berth_workflows::selection::parse_instances(text).map(|(first, last)| first..=last)
}

pub(super) fn run(args: PortsArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let manager = manager(registry)?;
    let view = manager.environment(args.environment.as_deref())?;
    let wanted = match (args.instance, args.instances) {
        (Some(instance), _) => Some(instance..=instance),
        (None, range) => range,
    };
    let named = !args.services.is_empty();
    let services: Vec<&str> = if named {
        args.services.iter().map(String::as_str).collect()
    } else {
        manager.registry().services.iter().map(|service| service.name.as_str()).collect()
    };
    let mut rows: Vec<ResolvedPort> = Vec::new();
    let mut spoiled = Vec::new();
    for name in services {
        let service = manager.service(name)?;
        let all = 0..=u32::from(service.max_instances) - 1;
        let instances = match &wanted {
            Some(range) if named => range.clone(),
            Some(range) => *range.start()..=(*range.end()).min(*all.end()),
            None => all,
        };
        for instance in instances {
            for resolved in view.each_instance_port(name, instance)? {
                match resolved {
                    Ok(resolved) => rows.push(resolved),
                    Err(error) => spoiled.push(error),
                }
            }
        }
    }
    apply_fallbacks(manager, &mut rows)?;
    warn_about_foreign_leases(&rows);
    let text = match args.format {
        Format::Json => super::output::json_text(&rows)?,
        format => export::render(format, &rows.iter().map(ExportRow::from).collect::<Vec<_>>()),
    };
    emit(&text, args.output.as_deref())?;
    super::report_spoiled_slots(&spoiled)
}
