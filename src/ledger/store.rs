//! The ledger's SQLite database: opening it safely, its schema, and the transactions that
//! allocate, release, list and repair leases.
//!
//! One file per host, in WAL mode so readers never block the writer. Every allocation is
//! one `BEGIN IMMEDIATE` transaction: the write lock is taken before the free ports are
//! read, so two processes can never choose the same port, and `(port, protocol)` is the
//! primary key besides. A file that is not a berth ledger is reported, never replaced.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};

use super::LedgerError;
use super::allocate::{PortSet, first_free};
use super::gc::GcAction;
use super::lease::{AllocationRequest, Lease, LeaseOwner, LeaseSlot, Strategy};
use super::leased::LeasedPorts;
use crate::probe::Protocol;

/// The database file inside the state directory.
pub const LEDGER_FILE: &str = "ledger.sqlite3";
/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Schema versions, applied in order and recorded in SQLite's `user_version`.
const MIGRATIONS: &[M<'static>] = &[
    M::up(
        "CREATE TABLE leases (
        port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        protocol TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
        project TEXT NOT NULL,
        service TEXT NOT NULL,
        purpose TEXT NOT NULL DEFAULT '',
        owner_pid INTEGER,
        owner_start_time INTEGER,
        created_at INTEGER NOT NULL,
        renewed_at INTEGER NOT NULL,
        ttl_seconds INTEGER,
        health_endpoint TEXT,
        slot_service TEXT,
        slot_instance INTEGER,
        slot_key TEXT,
        stale_since INTEGER,
        PRIMARY KEY (port, protocol)
    ) STRICT;
    CREATE INDEX leases_by_project ON leases (project, service);
    CREATE TABLE sequences (
        project TEXT PRIMARY KEY,
        next_port INTEGER NOT NULL
    ) STRICT;",
    ),
    M::up(
        "CREATE TABLE ledger_state (deletions INTEGER NOT NULL) STRICT;
    INSERT INTO ledger_state (deletions) VALUES (0);
    CREATE TRIGGER leases_deleted AFTER DELETE ON leases
    BEGIN
        UPDATE ledger_state SET deletions = deletions + 1;
    END;",
    ),
    // The Docker engine (its ID) a container lease's container runs on, so that gc asks
    // only that engine whether the container still exists.
    M::up("ALTER TABLE leases ADD COLUMN engine TEXT;"),
];

const LEASE_COLUMNS: &str = "port, protocol, project, service, purpose, owner_pid, owner_start_time, created_at, \
     renewed_at, ttl_seconds, health_endpoint, slot_service, slot_instance, slot_key, stale_since, engine";

/// An open ledger.
#[derive(Debug)]
pub struct Ledger {
    connection: Connection,
    path: PathBuf,
    leased: LeasedPorts,
}

/// One specific port a project claims, with the registry slot it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The port.
    pub port: u16,
    /// The registry slot.
    pub slot: LeaseSlot,
    /// What it is for.
    pub purpose: String,
}

/// Which leases `release` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseScope {
    /// Every lease of the project.
    Project,
    /// The project's leases for one service.
    Service(String),
    /// The project's lease on one port.
    Port(u16),
}

impl Ledger {
    /// Opens (creating if needed) the ledger in `directory`, migrating its schema.
    pub fn open(directory: &Path) -> Result<Self, LedgerError> {
        create_state_directory(directory)
            .map_err(|source| LedgerError::StateDir { path: directory.to_path_buf(), source })?;
        let path = directory.join(LEDGER_FILE);
        create_shared_file(&path).map_err(|source| LedgerError::StateDir { path: path.clone(), source })?;
        let mut connection = Connection::open(&path).at(&path)?;
        configure(&mut connection, &path)?;
        Ok(Self { connection, path, leased: LeasedPorts::default() })
    }

    /// Opens the ledger in `directory` only if one exists there; for read-only lookups that
    /// should not create state as a side effect.
    pub fn open_existing(directory: &Path) -> Result<Option<Self>, LedgerError> {
        if directory.join(LEDGER_FILE).is_file() { Self::open(directory).map(Some) } else { Ok(None) }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Allocates (or, for the same project and service, returns again) `request.count` ports.
    /// `taken` holds ports that must not be handed out (registry slots, reserved ports);
    /// `is_free` tests a candidate on the live host.
    pub fn allocate(
        &mut self,
        request: &AllocationRequest,
        taken: &PortSet,
        is_free: impl Fn(u16) -> bool,
        now: i64,
    ) -> Result<Vec<Lease>, LedgerError> {
        check_request(request)?;
        let path = self.path.clone();
        let transaction = self.connection.transaction_with_behavior(TransactionBehavior::Immediate).at(&path)?;
        let mut existing = select(
            &transaction,
            "WHERE project = ?1 AND service = ?2 AND protocol = ?3 ORDER BY port",
            params![request.project, request.service, request.protocol.as_str()],
        )
        .at(&path)?;
        let wanted = request.count as usize;
        if existing.len() < wanted {
            let mut unavailable = self.leased.refresh(&transaction).at(&path)?.clone();
            unavailable.union_with(taken);
            let fresh = choose(&transaction, &path, request, &unavailable, is_free, wanted - existing.len())?;
            for port in fresh {
                insert(&transaction, request, port, now).at(&path)?;
            }
            existing = select(
                &transaction,
                "WHERE project = ?1 AND service = ?2 AND protocol = ?3 ORDER BY port",
                params![request.project, request.service, request.protocol.as_str()],
            )
            .at(&path)?;
        }
        existing.truncate(wanted);
        for lease in &mut existing {
            renew(&transaction, lease, request, now).at(&path)?;
        }
        transaction.commit().at(&path)?;
        Ok(existing)
    }

    /// Records that `project` holds each of `claims` (specific ports, such as a container's
    /// registry slots) for a container on `engine` (the Docker engine's ID). A port already
    /// leased to the same project is renewed, and one that is the container's own fallback
    /// for the claim's key stays the fallback's; one leased to another project fails the
    /// whole claim. Returns the ports newly leased, which are what undoing this claim gives back.
    pub fn claim(
        &mut self,
        project: &str,
        claims: &[Claim],
        engine: Option<&str>,
        now: i64,
    ) -> Result<Vec<u16>, LedgerError> {
        let path = self.path.clone();
        let transaction = self.write_transaction()?;
        let mut leased = Vec::new();
        for claim in claims {
            let holder =
                select(&transaction, "WHERE port = ?1 ORDER BY protocol LIMIT 1", params![claim.port]).at(&path)?;
            match holder.first() {
                Some(lease) if lease.is_fallback_of(project, &claim.slot.key) => {}
                Some(lease) if lease.project != project => {
                    return Err(LedgerError::LeasedElsewhere {
                        port: claim.port,
                        project: lease.project.clone(),
                        service: lease.service.clone(),
                    });
                }
                Some(_) => {
                    transaction
                        .execute(
                            "UPDATE leases SET renewed_at = ?2, stale_since = NULL, engine = ?3 WHERE port = ?1",
                            params![claim.port, now, engine],
                        )
                        .at(&path)?;
                }
                None => {
                    transaction
                        .execute(
                            "INSERT INTO leases (port, protocol, project, service, purpose, created_at, renewed_at,
                                                 slot_service, slot_instance, slot_key, engine)
                             VALUES (?1, 'tcp', ?2, ?3, ?4, ?5, ?5, ?3, ?6, ?7, ?8)",
                            params![
                                claim.port,
                                project,
                                claim.slot.service,
                                claim.purpose,
                                now,
                                claim.slot.instance,
                                claim.slot.key,
                                engine
                            ],
                        )
                        .at(&path)?;
                    leased.push(claim.port);
                }
            }
        }
        transaction.commit().at(&path)?;
        Ok(leased)
    }

    /// Removes `project`'s leases on `ports` (those it holds; others are left as they are)
    /// and returns the ports released.
    pub fn release_ports(&mut self, project: &str, ports: &[u16]) -> Result<Vec<u16>, LedgerError> {
        let path = self.path.clone();
        let transaction = self.write_transaction()?;
        let mut released = Vec::new();
        for port in ports {
            let removed = transaction
                .execute("DELETE FROM leases WHERE project = ?1 AND port = ?2", params![project, port])
                .at(&path)?;
            if removed > 0 {
                released.push(*port);
            }
        }
        transaction.commit().at(&path)?;
        Ok(released)
    }

    /// Removes the project's leases in `scope`; an error when there were none.
    pub fn release(&mut self, project: &str, scope: &ReleaseScope) -> Result<Vec<Lease>, LedgerError> {
        let path = self.path.clone();
        let transaction = self.write_transaction()?;
        let (filter, service, port) = match scope {
            ReleaseScope::Project => ("WHERE project = ?1 AND ?2 IS NULL AND ?3 IS NULL", None, None),
            ReleaseScope::Service(service) => {
                ("WHERE project = ?1 AND service = ?2 AND ?3 IS NULL", Some(service), None)
            }
            ReleaseScope::Port(port) => ("WHERE project = ?1 AND ?2 IS NULL AND port = ?3", None, Some(*port)),
        };
        let released = select(&transaction, filter, params![project, service, port]).at(&path)?;
        if released.is_empty() {
            let known: bool = transaction
                .query_row("SELECT EXISTS (SELECT 1 FROM leases WHERE project = ?1)", [project], |row| row.get(0))
                .at(&path)?;
            return Err(if known {
                LedgerError::NothingToRelease { project: project.to_string(), scope: scope.clone() }
            } else {
                LedgerError::UnknownProject { project: project.to_string() }
            });
        }
        transaction.execute(&format!("DELETE FROM leases {filter}"), params![project, service, port]).at(&path)?;
        transaction.commit().at(&path)?;
        Ok(released)
    }

    /// Every lease, or one project's, ordered by project, service and port.
    pub fn leases(&self, project: Option<&str>) -> Result<Vec<Lease>, LedgerError> {
        select(
            &self.connection,
            "WHERE ?1 IS NULL OR project = ?1 ORDER BY project, service, port, protocol",
            params![project],
        )
        .at(&self.path)
    }

    /// The lease on `port`, any protocol, if there is one.
    pub fn lease_on(&self, port: u16) -> Result<Option<Lease>, LedgerError> {
        select(&self.connection, "WHERE port = ?1 ORDER BY protocol LIMIT 1", params![port])
            .map(|mut leases| leases.pop())
            .at(&self.path)
    }

    /// One gc pass: reads every lease, asks `decide` what to do with it, and applies the
    /// decisions, all inside one write transaction, so a lease allocated or renewed while the
    /// pass runs can never be freed by a decision made on an older read. Each change matches
    /// the lease's whole identity (port, protocol, project, service, creation time), never
    /// the port alone. With `dry_run` the decisions are returned and nothing is written.
    pub fn collect_garbage(
        &mut self,
        decide: impl Fn(&Lease) -> Option<GcAction>,
        now: i64,
        dry_run: bool,
    ) -> Result<Vec<(Lease, GcAction)>, LedgerError> {
        let path = self.path.clone();
        let transaction = self.write_transaction()?;
        let decisions: Vec<(Lease, GcAction)> = select(&transaction, "ORDER BY project, service, port, protocol", [])
            .at(&path)?
            .into_iter()
            .filter_map(|lease| decide(&lease).map(|action| (lease, action)))
            .collect();
        if dry_run {
            return Ok(decisions);
        }
        for (lease, action) in &decisions {
            let (port, protocol, project, service, created_at) =
                (lease.port, lease.protocol.as_str(), &lease.project, &lease.service, lease.created_at);
            let identity = "port = ?1 AND protocol = ?2 AND project = ?3 AND service = ?4 AND created_at = ?5";
            let changed = match action {
                GcAction::Mark(_) => transaction.execute(
                    &format!("UPDATE leases SET stale_since = ?6 WHERE {identity}"),
                    params![port, protocol, project, service, created_at, now],
                ),
                GcAction::Recover => transaction.execute(
                    &format!("UPDATE leases SET stale_since = NULL WHERE {identity}"),
                    params![port, protocol, project, service, created_at],
                ),
                GcAction::Free(_) => transaction.execute(
                    &format!("DELETE FROM leases WHERE {identity} AND stale_since IS NOT NULL"),
                    params![port, protocol, project, service, created_at],
                ),
                GcAction::Wait(_) => continue,
            };
            changed.at(&path)?;
        }
        transaction.commit().at(&path)?;
        Ok(decisions)
    }

    /// SQLite's own consistency check; `Ok(())` when it answers "ok".
    pub fn integrity_check(&self) -> Result<(), LedgerError> {
        let verdict: String =
            self.connection.query_row("PRAGMA integrity_check", [], |row| row.get(0)).at(&self.path)?;
        if verdict == "ok" { Ok(()) } else { Err(LedgerError::Corrupt { path: self.path.clone(), detail: verdict }) }
    }

    fn write_transaction(&mut self) -> Result<Transaction<'_>, LedgerError> {
        let path = self.path.clone();
        self.connection.transaction_with_behavior(TransactionBehavior::Immediate).at(&path)
    }
}

/// A request must name its project and service, and may not use the project berth keeps for
/// a container's own ports: `berth down` releases that project whole.
fn check_request(request: &AllocationRequest) -> Result<(), LedgerError> {
    let problem = if request.project.trim().is_empty() {
        "the project is empty: name one with --project (or BERTH_PROJECT)".to_string()
    } else if request.service.trim().is_empty() {
        "the service is empty: name what the ports are for with --service".to_string()
    } else if Lease::is_container_project(&request.project) {
        format!("project `{}` is berth's own, for a container's ports; choose another project name", request.project)
    } else if Lease::is_fallback_project(&request.project) && request.slot.is_none() {
        format!("project `{}` is berth's own, for fallback ports; choose another project name", request.project)
    } else {
        return Ok(());
    };
    Err(LedgerError::InvalidRequest { problem })
}

/// The mode of a state directory berth creates: the directory's group may use the ledger
/// (a shared host puts its users in that group), nobody else may; setgid, so the files
/// inside keep that group whoever creates them.
pub(crate) const STATE_DIRECTORY_MODE: u32 = 0o2770;
/// The mode of the ledger files berth creates; SQLite gives its WAL files the same.
pub(crate) const LEDGER_FILE_MODE: u32 = 0o660;

/// Creates `directory` with [`STATE_DIRECTORY_MODE`] when it does not exist; an existing
/// one keeps the mode its owner chose.
fn create_state_directory(directory: &Path) -> std::io::Result<()> {
    if directory.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).create(directory)?;
    // Set after creating: the mode given at creation is cut by the umask.
    std::fs::set_permissions(directory, std::fs::Permissions::from_mode(STATE_DIRECTORY_MODE))
}

/// Creates `path` with [`LEDGER_FILE_MODE`] unless it exists; whoever creates it first
/// sets the mode, the others leave it alone.
fn create_shared_file(path: &Path) -> std::io::Result<()> {
    match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(LEDGER_FILE_MODE)),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

fn configure(connection: &mut Connection, path: &Path) -> Result<(), LedgerError> {
    connection.busy_timeout(BUSY_TIMEOUT).at(path)?;
    // Turning a new database to WAL needs an exclusive lock, for which SQLite returns "busy"
    // at once instead of waiting, and rusqlite_migration reads the schema version before
    // its transaction, so two processes opening a new ledger at once could both migrate it.
    // A file lock serialises both steps across processes; once done they are no-ops.
    let lock_path = path.with_extension("lock");
    create_shared_file(&lock_path)
        .map_err(|error| LedgerError::NotWritable { path: lock_path.clone(), detail: error.to_string() })?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .and_then(|file| file.lock().map(|()| file))
        .map_err(|error| LedgerError::NotWritable { path: lock_path.clone(), detail: error.to_string() })?;
    connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0)).at(path)?;
    // WAL with synchronous=NORMAL survives any process crash; only a power cut can lose the
    // last commits, and it takes every owner process down with them.
    connection.pragma_update(None, "synchronous", "NORMAL").at(path)?;
    let migrated = Migrations::from_slice(MIGRATIONS).to_latest(connection).map_err(|error| match error {
        rusqlite_migration::Error::RusqliteError { err, .. } => classify(path, err),
        other => LedgerError::Migration { path: path.to_path_buf(), detail: other.to_string() },
    });
    drop(lock);
    migrated
}

/// Names the database file in SQLite's errors.
trait AtPath<T> {
    fn at(self, path: &Path) -> Result<T, LedgerError>;
}

impl<T> AtPath<T> for rusqlite::Result<T> {
    fn at(self, path: &Path) -> Result<T, LedgerError> {
        self.map_err(|source| classify(path, source))
    }
}

/// Turns SQLite's error into one that names the file and says how to recover.
fn classify(path: &Path, source: rusqlite::Error) -> LedgerError {
    let path = path.to_path_buf();
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => LedgerError::NotALedger { path },
        Some(ErrorCode::DatabaseCorrupt) => LedgerError::Corrupt { path, detail: source.to_string() },
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            LedgerError::NotWritable { path, detail: source.to_string() }
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => LedgerError::Busy { path },
        _ => LedgerError::Database { path, source },
    }
}

/// Picks `needed` new ports for `request` inside the open write transaction; `taken` holds
/// every leased port and every port the registry claims.
fn choose(
    transaction: &Transaction<'_>,
    path: &Path,
    request: &AllocationRequest,
    taken: &PortSet,
    is_free: impl Fn(u16) -> bool,
    needed: usize,
) -> Result<Vec<u16>, LedgerError> {
    let start = match request.strategy {
        Strategy::FirstFit => request.range.start,
        Strategy::Sequential { base } => {
            let next: Option<u32> = transaction
                .query_row("SELECT next_port FROM sequences WHERE project = ?1", [&request.project], |row| row.get(0))
                .optional()
                .at(path)?;
            next.map_or(base, |next| u16::try_from(next).unwrap_or(u16::MAX).max(base))
        }
    };
    let count = u32::try_from(needed).unwrap_or(u32::MAX);
    let chosen = first_free(request.range, start, count, taken, is_free).map_err(|shortfall| {
        LedgerError::Exhausted { requested: count, free: shortfall.free, range: request.range, from: start }
    })?;
    if let (Strategy::Sequential { .. }, Some(last)) = (request.strategy, chosen.last()) {
        transaction
            .execute(
                "INSERT INTO sequences (project, next_port) VALUES (?1, ?2)
                 ON CONFLICT (project) DO UPDATE SET next_port = excluded.next_port",
                params![request.project, u32::from(*last) + 1],
            )
            .at(path)?;
    }
    Ok(chosen)
}

fn insert(transaction: &Transaction<'_>, request: &AllocationRequest, port: u16, now: i64) -> rusqlite::Result<()> {
    transaction.execute(
        "INSERT INTO leases (port, protocol, project, service, purpose, owner_pid, owner_start_time,
                             created_at, renewed_at, ttl_seconds, health_endpoint,
                             slot_service, slot_instance, slot_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            port,
            request.protocol.as_str(),
            request.project,
            request.service,
            request.purpose,
            request.owner.map(|owner| owner.pid),
            request.owner.map(|owner| owner.start_time),
            now,
            request.ttl_seconds,
            request.health_endpoint,
            request.slot.as_ref().map(|slot| &slot.service),
            request.slot.as_ref().map(|slot| slot.instance),
            request.slot.as_ref().map(|slot| &slot.key),
        ],
    )?;
    Ok(())
}

/// Asking again renews a lease: a new renewal time, the newest owner/TTL/purpose when given.
fn renew(
    transaction: &Transaction<'_>,
    lease: &mut Lease,
    request: &AllocationRequest,
    now: i64,
) -> rusqlite::Result<()> {
    lease.renewed_at = now;
    lease.stale_since = None;
    if request.owner.is_some() {
        lease.owner = request.owner;
    }
    if request.ttl_seconds.is_some() {
        lease.ttl_seconds = request.ttl_seconds;
    }
    if !request.purpose.is_empty() {
        lease.purpose.clone_from(&request.purpose);
    }
    if request.health_endpoint.is_some() {
        lease.health_endpoint.clone_from(&request.health_endpoint);
    }
    transaction.execute(
        "UPDATE leases SET renewed_at = ?3, stale_since = NULL, owner_pid = ?4, owner_start_time = ?5,
                           ttl_seconds = ?6, purpose = ?7, health_endpoint = ?8
         WHERE port = ?1 AND protocol = ?2",
        params![
            lease.port,
            lease.protocol.as_str(),
            now,
            lease.owner.map(|owner| owner.pid),
            lease.owner.map(|owner| owner.start_time),
            lease.ttl_seconds,
            lease.purpose,
            lease.health_endpoint,
        ],
    )?;
    Ok(())
}

fn select(connection: &Connection, filter: &str, parameters: impl rusqlite::Params) -> rusqlite::Result<Vec<Lease>> {
    let mut statement = connection.prepare_cached(&format!("SELECT {LEASE_COLUMNS} FROM leases {filter}"))?;
    let rows = statement.query_map(parameters, lease_from_row)?;
    rows.collect()
}

fn lease_from_row(row: &Row<'_>) -> rusqlite::Result<Lease> {
    let protocol: String = row.get("protocol")?;
    let owner = match (row.get::<_, Option<i32>>("owner_pid")?, row.get::<_, Option<i64>>("owner_start_time")?) {
        (Some(pid), Some(start_time)) => Some(LeaseOwner { pid, start_time }),
        _ => None,
    };
    let slot = match (
        row.get::<_, Option<String>>("slot_service")?,
        row.get::<_, Option<u16>>("slot_instance")?,
        row.get::<_, Option<String>>("slot_key")?,
    ) {
        (Some(service), Some(instance), Some(key)) => Some(LeaseSlot { service, instance, key }),
        _ => None,
    };
    Ok(Lease {
        port: row.get("port")?,
        protocol: if protocol == "udp" { Protocol::Udp } else { Protocol::Tcp },
        project: row.get("project")?,
        service: row.get("service")?,
        purpose: row.get("purpose")?,
        owner,
        created_at: row.get("created_at")?,
        renewed_at: row.get("renewed_at")?,
        ttl_seconds: row.get("ttl_seconds")?,
        health_endpoint: row.get("health_endpoint")?,
        slot,
        stale_since: row.get("stale_since")?,
        engine: row.get("engine")?,
    })
}

#[cfg(test)]
mod tests;
