//! berth gives every service instance on a host its own ports, proves the port map can
//! never collide, and (in later stages) starts the instances as named containers.
//!
//! # Data flow
//!
//! ```text
//! dynamicconfig/port_registry.yaml
//!    │ load (serde, located errors)            registry::load_file
//!    ▼
//! Registry ── validate: every slot, collisions, reserved ports, ranges   registry::validate
//!    ▼
//! PortManager (process-wide singleton) ── resolve(service, instance, key) -> port
//!    │  emits `port_manager_port_allocated service=… instance=… type=… port=…`
//!    ▼
//! export (env / compose / shell / json / markdown)      probe (who holds a port)
//! ```
//!
//! # Map
//!
//! - [`registry`]: the registry model, loading, validation and the [`registry::PortManager`].
//! - [`export`]: renders resolved ports for `.env` files, compose, shells and docs.
//! - [`probe`]: which process listens on a port right now.
//! - [`cli`]: the `berth` command line; `main.rs` only calls [`cli::main`].

pub mod activities;
pub mod cli;
pub mod containers;
pub mod export;
pub mod ledger;
pub mod metrics;
pub mod probe;
pub mod registry;
pub mod worker;
