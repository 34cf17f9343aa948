//! The host ledger: every port berth hands out on a host, dynamic or computed, recorded in
//! one place so it can never be handed out twice.
//!
//! [`Ledger`] is the SQLite database (one per host, see [`state_dir`]); [`AllocationRequest`]
//! asks it for ports and gets [`Lease`]s back. Choosing ports ([`first_free`]) and judging
//! staleness ([`staleness`], [`action`]) are pure functions the database calls into.

mod allocate;
mod fallback;
mod gc;
mod lease;
mod leased;
mod release;
mod state_dir;
mod store;

use std::path::PathBuf;

use berth_workflows::FailureKind;

pub use allocate::{PortSet, Shortfall, first_free, lease_ranges, registry_exclusions, room};
pub use fallback::{
    Fallback, FallbackError, existing as existing_fallback, fallback_note, foreign_holder, is_own_container_lease,
    refuse_if_held, settle,
};
pub use gc::{ContainerListing, GcAction, StaleReason, action, pass as gc_pass, staleness};
pub use lease::{
    AllocationRequest, DEFAULT_DYNAMIC_RANGE, Lease, LeaseOwner, LeaseSlot, Strategy, allocation_range,
    container_project, fallback_project, now, rfc3339,
};
pub use release::{release, scope as release_scope};
pub use state_dir::{STATE_DIR_VARIABLE, state_dir, writable};
pub use store::{Claim, LEDGER_FILE, Ledger, ReleaseScope};

use crate::registry::PortRange;

/// What can go wrong with the ledger; each names the file or project and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// No state directory could be chosen.
    #[error("no state directory for the ledger: set BERTH_STATE_DIR (or HOME) to a writable directory")]
    NoStateDir,
    /// The state directory could not be created.
    #[error("cannot create the ledger's state directory {}: {source}; set BERTH_STATE_DIR to a writable directory", path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file exists but is not an SQLite database.
    #[error(
        "{} is not a berth ledger (not an SQLite database); berth will not overwrite it: move it aside (mv {0} {0}.broken) to start an empty ledger, or restore it from a backup",
        path.display()
    )]
    NotALedger {
        /// The file.
        path: PathBuf,
    },
    /// SQLite found the database damaged (for example truncated).
    #[error(
        "ledger {} is damaged ({detail}); berth will not overwrite it: try `sqlite3 {0} .recover`, or move it aside to start an empty ledger",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// The database or its directory cannot be written.
    #[error("ledger {} cannot be opened for writing ({detail}); make its directory writable or set BERTH_STATE_DIR elsewhere", path.display())]
    NotWritable {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// Another process held the write lock for longer than the busy timeout.
    #[error("ledger {} stayed locked by another process for 30 s; retry, or look for a hung berth process", path.display())]
    Busy {
        /// The file.
        path: PathBuf,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate ledger {} to this berth's schema: {detail}", path.display())]
    Migration {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// Any other database failure.
    #[error("ledger {} failed: {source}", path.display())]
    Database {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// Fewer free ports than requested.
    #[error(
        "cannot allocate {requested} port(s) in {range}: only {free} free from {from} on (registry slots, reserved, leased and listening ports are skipped); release some, or search a wider range"
    )]
    Exhausted {
        /// How many were asked for.
        requested: u32,
        /// How many are free.
        free: u32,
        /// The range searched.
        range: PortRange,
        /// Where the search started.
        from: u16,
    },
    /// A slot's computed port is held and every port of its fallback range is taken.
    #[error(
        "{slot} = {port} is held by {holder}, and every port of its fallback range {range} is taken or leased; stop that process, free a fallback (`berth leases` shows who holds them), or widen the range"
    )]
    FallbackFull {
        /// The slot, written `dashboard[0].port`.
        slot: String,
        /// Its computed port.
        port: u16,
        /// Who holds it.
        holder: String,
        /// The fallback range.
        range: PortRange,
    },
    /// `release` of a fallback lease whose port something uses right now.
    #[error(
        "port {port} of project `{project}` is in use now by {holder}: giving the fallback up would let another lookup take the port while it serves; stop that first (`berth down` for an instance berth started on it), or pass --force"
    )]
    FallbackInUse {
        /// The fallback project.
        project: String,
        /// The port.
        port: u16,
        /// Who uses it.
        holder: String,
    },
    /// A count of zero ports was asked for.
    #[error("a request must ask for at least 1 port")]
    ZeroCount,
    /// A request names no project or service, or a project berth keeps for its containers.
    #[error("{problem}")]
    InvalidRequest {
        /// What is wrong, and what to do.
        problem: String,
    },
    /// A port a project claims is leased to another project.
    #[error(
        "port {port} is leased to project `{project}` (service `{service}`) in the host ledger; release it there first"
    )]
    LeasedElsewhere {
        /// The port.
        port: u16,
        /// The project holding it.
        project: String,
        /// The service it was leased for.
        service: String,
    },
    /// `release` named a project with no leases at all.
    #[error("project `{project}` holds no leases")]
    UnknownProject {
        /// The project.
        project: String,
    },
    /// `release` named a service or port the project does not hold.
    #[error("project `{project}` holds no lease for {}", describe_scope(scope))]
    NothingToRelease {
        /// The project.
        project: String,
        /// What was to be released.
        scope: ReleaseScope,
    },
}

fn describe_scope(scope: &ReleaseScope) -> String {
    match scope {
        ReleaseScope::Project => "anything".to_string(),
        ReleaseScope::Service(service) => format!("service `{service}`"),
        ReleaseScope::Port(port) => format!("port {port}"),
    }
}

impl LedgerError {
    /// Whether this is a finding about the ledger's contents (exit 1) rather than a failure.
    pub fn is_finding(&self) -> bool {
        matches!(
            self,
            Self::UnknownProject { .. }
                | Self::NothingToRelease { .. }
                | Self::FallbackFull { .. }
                | Self::FallbackInUse { .. }
        )
    }

    /// The failure's kind: a locked ledger is worth another try, a broken one is not.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Busy { .. } => FailureKind::LedgerBusy,
            Self::Exhausted { .. } => FailureKind::PortsExhausted,
            Self::FallbackFull { .. } | Self::FallbackInUse { .. } => FailureKind::PortTaken,
            Self::LeasedElsewhere { .. } => FailureKind::PortLeased,
            Self::ZeroCount
            | Self::InvalidRequest { .. }
            | Self::UnknownProject { .. }
            | Self::NothingToRelease { .. } => FailureKind::InvalidInput,
            Self::NoStateDir
            | Self::StateDir { .. }
            | Self::NotALedger { .. }
            | Self::Corrupt { .. }
            | Self::NotWritable { .. }
            | Self::Migration { .. }
            | Self::Database { .. } => FailureKind::Ledger,
        }
    }
}
