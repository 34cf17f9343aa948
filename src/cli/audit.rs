//! `berth audit [PATH…]`: every host port that a tree's compose files, `.env` files and
//! Kubernetes manifests claim twice, or that collides with the registry's slots, its
//! reserved ports or the ledger's leases, each claim with its `file:line`.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::Outcome;
use super::ledger_args::existing_ledger;
use super::output::{emit, json_text, terminal_width};
use crate::audit::{self, report};
use crate::registry::{self, LoadError};

/// Arguments of `berth audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Files or directories to audit [default: the working directory].
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// A table for people, JSON for scripts, or a Markdown port audit report.
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    format: AuditFormat,
    /// Audit the files only, leaving out the registry's slots and the ledger's leases.
    #[arg(long)]
    files_only: bool,
    /// Write to this file (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AuditFormat {
    /// Collisions as a table.
    Table,
    /// Collisions, claims, files and problems as JSON.
    Json,
    /// A port audit report in Markdown.
    Markdown,
}

pub(super) fn run(args: AuditArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let roots = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths };
    let read = audit::tree::read(&roots);
    let mut every = read.claims.clone();
    if !args.files_only {
        let loaded = match registry::locate(registry) {
            Ok(path) => Some((registry::load_file(&path)?, path)),
            Err(LoadError::NotFound { .. }) => None,
            Err(error) => return Err(error.into()),
        };
        if let Some((registry, path)) = &loaded {
            every.extend(audit::state::registry_claims(registry, &path.display().to_string()));
        }
        if let Some(ledger) = existing_ledger()? {
            let location = ledger.path().display().to_string();
            let leases = ledger.leases(None)?;
            every.extend(audit::state::lease_claims(&leases, loaded.as_ref().map(|(registry, _)| registry), &location));
        }
    }
    let found = report::Audit {
        collisions: audit::collisions(&every),
        claims: read.claims,
        files: read.files,
        problems: read.problems,
        skipped: read.skipped,
    };
    let text = match args.format {
        AuditFormat::Table => report::table(&found, terminal_width()),
        AuditFormat::Json => json_text(&found)?,
        AuditFormat::Markdown => report::markdown(&found),
    };
    emit(&text, args.output.as_deref())?;
    for skipped in &found.skipped {
        super::style::warning(format_args!("{skipped}"));
    }
    for problem in &found.problems {
        super::style::error(format_args!("{problem}"));
    }
    Ok(if !found.problems.is_empty() {
        Outcome::Exit(2)
    } else if found.collisions.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}
