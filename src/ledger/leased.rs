//! The set of leased ports as this process last saw it, kept up to date cheaply.
//!
//! First fit must know every leased port; reading them all in each allocation makes it
//! O(leases). Leases are only ever added or deleted (their port never changes), and a
//! trigger counts deletions, so inside each write transaction the cache reads just the rows
//! added since its last look — or everything again when the deletion count moved.

use rusqlite::Connection;

use super::allocate::PortSet;

/// Leased ports, with what is needed to bring them up to date.
#[derive(Debug, Default)]
pub(super) struct LeasedPorts {
    ports: PortSet,
    last_rowid: i64,
    deletions: Option<i64>,
}

impl LeasedPorts {
    /// Brings the set up to date; call inside the write transaction so it stays true.
    pub(super) fn refresh(&mut self, connection: &Connection) -> rusqlite::Result<&PortSet> {
        let deletions: i64 = connection.query_row("SELECT deletions FROM ledger_state", [], |row| row.get(0))?;
        if self.deletions != Some(deletions) {
            *self = Self { deletions: Some(deletions), ..Self::default() };
        }
        // A new row's rowid exceeds every existing one unless the highest row was deleted,
        // which the deletion count above has caught.
        let mut statement = connection.prepare_cached("SELECT rowid, port FROM leases WHERE rowid > ?1")?;
        let mut rows = statement.query([self.last_rowid])?;
        while let Some(row) = rows.next()? {
            self.last_rowid = self.last_rowid.max(row.get(0)?);
            self.ports.insert(row.get(1)?);
        }
        Ok(&self.ports)
    }
}
