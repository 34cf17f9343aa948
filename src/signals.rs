//! Waiting for the signals that ask berth to stop: Ctrl-C (SIGINT) and SIGTERM. Commands
//! that change the host answer them by undoing what they started; the worker by draining.
//!
//! The handlers are installed when [`Termination::install`] returns, before any work
//! starts, so a signal can never kill berth halfway through a change it would undo.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT and SIGTERM, caught from the moment this exists.
#[derive(Debug)]
pub struct Termination {
    interrupt: Signal,
    terminate: Signal,
}

impl Termination {
    /// Catches SIGINT and SIGTERM from now on; needs a running Tokio runtime.
    pub fn install() -> std::io::Result<Self> {
        Ok(Self { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
    }

    /// Resolves when SIGINT or SIGTERM arrives.
    pub async fn received(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
