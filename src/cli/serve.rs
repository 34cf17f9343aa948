//! `berth serve`: the web view of this host's ports (port map, instances, leases) and its
//! JSON API, read-only, until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use clap::Args;

use super::{Outcome, block_on, manager};
use crate::ledger;
use crate::web::{self, EngineSource, WebState};

/// Arguments of `berth serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen; a port of 0 takes any free one (the address is printed).
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:9470")]
    addr: SocketAddr,
    /// The environment whose slots the map shows [default: the registry's default].
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
    #[command(flatten)]
    drift: super::drift_args::DriftArgs,
}

pub(super) fn run(args: ServeArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let manager = manager(registry)?;
    if let Some(environment) = args.environment.as_deref() {
        manager.environment(Some(environment))?;
    }
    block_on(async {
        let mut termination = crate::signals::Termination::install()?;
        // The view works without the engine, saying it does not answer, until it does.
        let engine = EngineSource::at(super::engine_target()?);
        if let Err(error) = engine.get().await {
            super::style::warning(format_args!("{error}; the pages show no containers until it answers"));
        }
        let state = WebState { manager, environment: args.environment, ledger: ledger::state_dir(), engine };
        let drift =
            args.drift.watch().map(|(every, grace)| tokio::spawn(crate::drift::watch(state.clone(), every, grace)));
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}; choose another address with --addr", args.addr))?;
        let address = listener.local_addr()?;
        say!(
            "berth serves the port map at http://{address}/ (JSON: /api/map, /api/instances, /api/leases); Ctrl-C stops it"
        );
        tracing::info!(%address, "web_serving");
        axum::serve(listener, web::router(state))
            .with_graceful_shutdown(async move { termination.received().await })
            .await
            .context("the web server failed")?;
        if let Some(drift) = drift {
            drift.abort();
        }
        anyhow::Ok(Outcome::Clean)
    })
}
