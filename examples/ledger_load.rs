//! Load generator for `bench/ledger_throughput.sh`: one process making many allocations,
//! either through berth's ledger or the seeds' way (a JSON file rewritten under a file
//! lock per allocation, as seeds 000 and 002 describe), writing one latency per line.
//!
//! `ledger_load preload --mode M --dir D --leases N` fills a store with N leases first.

use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use berth::ledger::{AllocationRequest, Ledger, PortSet, Strategy, now};
use berth::probe::{self, Protocol};
use berth::registry::PortRange;
use clap::{Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

const RANGE: PortRange = PortRange { start: 10000, end: 60000 };

#[derive(Parser)]
struct Arguments {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fill the store with existing leases.
    Preload {
        #[arg(long, value_enum)]
        mode: Mode,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        leases: u32,
    },
    /// Allocate `count` ports one at a time, writing "port microseconds" per line to `latencies`.
    Run {
        #[arg(long, value_enum)]
        mode: Mode,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        count: u32,
        #[arg(long)]
        worker: u32,
        #[arg(long)]
        latencies: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    /// berth's SQLite ledger.
    Berth,
    /// A JSON file rewritten under an exclusive file lock.
    Json,
}

fn request(project: String, service: String, count: u32) -> AllocationRequest {
    AllocationRequest {
        project,
        service,
        count,
        range: RANGE,
        strategy: Strategy::FirstFit,
        protocol: Protocol::Tcp,
        purpose: String::new(),
        owner: None,
        ttl_seconds: None,
        health_endpoint: None,
        slot: None,
    }
}

#[derive(Default, Serialize, Deserialize)]
struct JsonRegistry {
    allocations: Vec<JsonAllocation>,
}

#[derive(Serialize, Deserialize)]
struct JsonAllocation {
    port: u16,
    project: String,
    service: String,
    allocated_at: i64,
}

fn json_path(dir: &Path) -> PathBuf {
    dir.join("services_registry.json")
}

/// One allocation the seeds' way: lock, read and parse the whole file, pick the first free
/// port (bind-tested, as the seeds check system ports), rewrite the whole file, unlock.
fn json_allocate(dir: &Path, project: &str, service: &str) -> anyhow::Result<u16> {
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("registry.lock"))?;
    lock.lock()?;
    let path = json_path(dir);
    let mut registry: JsonRegistry = match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => JsonRegistry::default(),
        Err(error) => return Err(error.into()),
    };
    let used: HashSet<u16> = registry.allocations.iter().map(|allocation| allocation.port).collect();
    let port = (RANGE.start..=RANGE.end)
        .find(|port| !used.contains(port) && probe::is_free(*port, Protocol::Tcp))
        .context("range exhausted")?;
    registry.allocations.push(JsonAllocation {
        port,
        project: project.into(),
        service: service.into(),
        allocated_at: now(),
    });
    fs::write(&path, serde_json::to_vec_pretty(&registry)?)?;
    lock.unlock()?;
    Ok(port)
}

fn main() -> anyhow::Result<()> {
    match Arguments::parse().command {
        Command::Preload { mode: Mode::Berth, dir, leases } => {
            let mut ledger = Ledger::open(&dir)?;
            ledger.allocate(
                &request("preload".into(), "existing".into(), leases),
                &PortSet::default(),
                |_| true,
                now(),
            )?;
        }
        Command::Preload { mode: Mode::Json, dir, leases } => {
            let allocations = (0..leases)
                .map(|index| JsonAllocation {
                    port: RANGE.start + u16::try_from(index).expect("preload fits the range"),
                    project: "preload".into(),
                    service: format!("existing{index}"),
                    allocated_at: now(),
                })
                .collect();
            fs::write(json_path(&dir), serde_json::to_vec_pretty(&JsonRegistry { allocations })?)?;
        }
        Command::Run { mode, dir, count, worker, latencies } => {
            let mut ledger = match mode {
                Mode::Berth => Some(Ledger::open(&dir)?),
                Mode::Json => None,
            };
            let mut out = std::io::BufWriter::new(File::create(latencies)?);
            let mut ports = BTreeSet::new();
            for index in 0..count {
                let project = format!("bench{worker}");
                let service = format!("s{index}");
                let started = Instant::now();
                let port = match ledger.as_mut() {
                    Some(ledger) => {
                        let leases = ledger.allocate(
                            &request(project, service, 1),
                            &PortSet::default(),
                            |port| probe::is_free(port, Protocol::Tcp),
                            now(),
                        )?;
                        leases[0].port
                    }
                    None => json_allocate(&dir, &project, &service)?,
                };
                writeln!(out, "{port} {}", started.elapsed().as_micros())?;
                anyhow::ensure!(ports.insert(port), "port {port} handed out twice to worker {worker}");
            }
        }
    }
    Ok(())
}
