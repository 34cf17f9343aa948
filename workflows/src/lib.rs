//! berth's Temporal side that workflows see: activity names and their JSON input/output
//! (a public contract, callable from any Temporal SDK), and the `SpinUp`, `TearDown` and
//! `RunActivity` workflows.
//!
//! The activities themselves run in berth's worker (`berth worker`); this crate only names
//! them ([`activities`]), so workflow code never depends on Docker or SQLite.

pub mod activities;
pub mod failure;
pub mod placement;
pub mod requests;
pub mod selection;
mod workflows;

pub use failure::FailureKind;
pub use placement::{Placed, Placement};
pub use requests::{PullPolicy, SpinUpInput, TearDownInput};
pub use selection::Selection;
pub use workflows::{
    InstanceFailure, RunActivity, RunActivityInput, SpinUp, SpinUpOutput, TearDown, TearDownOutput, activity_id,
};

/// The task queue every berth worker polls.
pub const SHARED_TASK_QUEUE: &str = "berth";

/// The task queue only the worker on `host` polls: `berth@<host>`.
pub fn host_task_queue(host: &str) -> String {
    format!("{SHARED_TASK_QUEUE}@{host}")
}
