//! berth gives every service instance on a host its own ports, proves the port map can
//! never collide, and starts the instances as named containers — from the command line,
//! or as activities of a Temporal worker that orchestrator workflows call.
//!
//! # Data flow
//!
//! ```text
//! dynamicconfig/port_registry.yaml
//!    │ load (serde, located errors)                     registry::load_file
//!    ▼
//! Registry ── validate: every slot, collisions, reserved ports, ranges   registry::validate
//!    ▼
//! PortManager (process-wide singleton) ── resolve(service, instance, key) -> port
//!    │  emits `port_manager_port_allocated service=… instance=… type=… port=…`
//!    ▼
//! InstanceSpec (pure): names, bindings, env, labels, readiness   containers::spec
//!    ▼
//! preflight: ledger lease (host-wide, SQLite) + bind test / who holds   ledger, probe
//!    ▼
//! Docker (bollard): create-or-adopt → start → wait ready       containers::start
//!    ▲                         ▲
//! CLI `berth up`          Temporal activities (worker) ◄── berth_workflows (SpinUp, TearDown)
//!                              │
//!                  metrics (prometheus) + tracing at every step
//! ```
//!
//! # Map
//!
//! - [`registry`]: the registry model, loading, validation and the [`registry::PortManager`].
//! - [`export`]: renders ports for `.env` files, compose, shells, JSON and docs.
//! - [`probe`]: which process holds a port right now; bind tests.
//! - [`ledger`]: the host-wide SQLite ledger of leased ports.
//! - [`containers`]: instances as named containers through the Docker API.
//! - [`activities`] and [`worker`]: the Temporal worker.
//! - [`fleet`]: every host's instances and leases, found and asked through Temporal.
//! - [`metrics`]: berth's Prometheus metrics.
//! - [`web`]: the web view of the host's ports and its JSON API (`berth serve`, the worker).
//! - [`drift`]: the drift watch, looking at the host again every interval.
//! - [`audit`]: ports that a tree's compose, `.env` and Kubernetes files claim twice.
//! - [`signals`]: Ctrl-C and SIGTERM, answered by undoing or draining.
//! - [`cli`]: the `berth` command line; `main.rs` only calls [`cli::main`].

pub mod activities;
pub mod audit;
pub mod cli;
pub mod containers;
pub mod drift;
pub mod export;
pub mod fleet;
pub mod ledger;
pub mod metrics;
pub mod probe;
pub mod registry;
pub mod signals;
pub mod table;
pub mod web;
pub mod worker;
