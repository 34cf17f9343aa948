//! `berth serve`: the web view of this host's ports (port map, instances, leases) and its
//! JSON API, until Ctrl-C or SIGTERM; read-only unless started with a token.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::{Outcome, block_on, manager};
use crate::containers::ImageSettings;
use crate::ledger;
use crate::web::actions::{Actions, Token};
use crate::web::fleet::FleetSource;
use crate::web::{self, EngineSource, WebState};

/// How long connections may stay open after a stop is asked for.
const CONNECTION_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Arguments of `berth serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen; a port of 0 takes any free one (the address is printed).
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:9470")]
    addr: SocketAddr,
    /// The environment whose slots the map shows [default: the registry's default].
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
    /// Allow actions (release a lease, stop or start an instance) for whoever has the token
    /// in FILE: browsers log in with it, scripts send it as `Authorization: Bearer`.
    /// Without it the view is read-only.
    #[arg(long, value_name = "FILE")]
    token_file: Option<std::path::PathBuf>,
    /// Add the fleet page: every host's instances and leases, asked through the Temporal
    /// cluster at ADDR [default: $TEMPORAL_ADDRESS or the profile's] that their workers poll.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, value_parser = super::temporal_address)]
    temporal: Option<Option<String>>,
    #[command(flatten)]
    drift: super::drift_args::DriftArgs,
}

pub(super) fn run(args: ServeArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let manager = manager(registry)?;
    if let Some(environment) = args.environment.as_deref() {
        manager.environment(Some(environment))?;
    }
    let token = args.token_file.as_deref().map(Token::read).transpose()?;
    block_on(async {
        let mut termination = crate::signals::Termination::install()?;
        // The view works without the engine, saying it does not answer, until it does.
        let engine = EngineSource::at(super::engine_target()?);
        if let Err(error) = engine.get().await {
            super::style::warning(format_args!("{error}; the pages show no containers until it answers"));
        }
        let fleet = args.temporal.map(FleetSource::at);
        if let Some(fleet) = &fleet
            && let Err(error) = fleet.client().await
        {
            super::style::warning(format_args!("{error}; the fleet page says so until it answers"));
        }
        let images = ImageSettings { docker_config: super::docker_config(), ..ImageSettings::default() };
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let actions = token.map(|token| Arc::new(Actions::new(token, images, host)));
        let fleet_api = if fleet.is_some() { ", /api/fleet" } else { "" };
        let allowed = if actions.is_some() { "; actions allowed with the token" } else { ", read-only" };
        let state = WebState {
            manager,
            environment: args.environment,
            ledger: ledger::state_dir(),
            engine,
            actions: actions.clone(),
            fleet,
        };
        let drift =
            args.drift.watch().map(|(every, grace)| tokio::spawn(crate::drift::watch(state.clone(), every, grace)));
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}; choose another address with --addr", args.addr))?;
        let address = listener.local_addr()?;
        say!(
            "berth serves the port map at http://{address}/ (JSON: /api/map, /api/instances, /api/leases{fleet_api}){allowed}; Ctrl-C stops it"
        );
        tracing::info!(%address, "web_serving");
        let stopping = Arc::new(tokio::sync::Notify::new());
        let told = stopping.clone();
        let server = axum::serve(listener, web::router(state)).with_graceful_shutdown(async move {
            termination.received().await;
            told.notify_one();
        });
        let server = std::future::IntoFuture::into_future(server);
        tokio::pin!(server);
        // Connections still open a while after the signal (a client that never finishes its
        // request) are closed rather than waited on; actions under way are waited on below.
        tokio::select! {
            served = &mut server => served.context("the web server failed")?,
            () = async {
                stopping.notified().await;
                tokio::time::sleep(CONNECTION_GRACE).await;
            } => tracing::warn!(seconds = CONNECTION_GRACE.as_secs(), "web_connections_closed"),
        }
        if let Some(drift) = drift {
            drift.abort();
        }
        if let Some(actions) = actions.filter(|actions| actions.under_way() > 0) {
            say!(
                "waiting for {} action(s) under way to end (each is bound by its own timeout); Ctrl-C again interrupts them, and a start then undoes what it made",
                actions.under_way()
            );
            let mut again = crate::signals::Termination::install()?;
            actions.drain(async move { again.received().await }).await;
        }
        anyhow::Ok(Outcome::Clean)
    })
}
