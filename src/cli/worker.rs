//! `berth worker`: run the Temporal worker (see `worker.rs`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use clap::Args;

use super::{Outcome, block_on};
use crate::worker::{self, WorkerSettings};

/// Where berth's own `/metrics` listen when the registry has no `berth` service.
const FALLBACK_METRICS_PORT: u16 = 9464;

/// Arguments of `berth worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Temporal's address, `host:port` [default: $TEMPORAL_ADDRESS, the profile's, else localhost:7233].
    #[arg(long, value_name = "HOST:PORT", value_parser = super::temporal_address)]
    address: Option<String>,
    /// The namespace [default: $TEMPORAL_NAMESPACE, the profile's, else default].
    #[arg(long)]
    namespace: Option<String>,
    /// The host name in this worker's own task queue `berth@<host>` [default: the hostname].
    #[arg(long = "host-name", value_name = "HOST")]
    host: Option<String>,
    /// The address other machines reach this host at (an IP address or a DNS name): the
    /// endpoints it reports for ports published on every address (0.0.0.0) say it
    /// [default: they say the address they are published on].
    #[arg(long, value_name = "ADDRESS")]
    advertise_address: Option<crate::containers::advertise::AdvertisedAddress>,
    /// Where /metrics and /healthz listen [default: 127.0.0.1 and the registry's
    /// `berth` metrics_port, else 9464].
    #[arg(long, value_name = "ADDR:PORT")]
    metrics_addr: Option<SocketAddr>,
    /// Where the Temporal SDK's own worker metrics listen [default: 127.0.0.1 and the
    /// registry's `berth` sdk_metrics_port; none without it].
    #[arg(long, value_name = "ADDR:PORT")]
    sdk_metrics_addr: Option<SocketAddr>,
    /// Pull Docker Hub images through this registry (`registry.internal/library/redis:7.2`).
    #[arg(long, value_name = "REGISTRY", env = "BERTH_IMAGE_MIRROR", hide_env_values = true, value_parser = super::up::image_mirror)]
    image_mirror: Option<super::up::Mirror>,
    /// How long running activities may finish after SIGTERM/SIGINT.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    grace: Duration,
    /// Allow actions (release a lease, stop or start an instance) on the web pages beside
    /// /metrics, for whoever has the token in FILE; without it the pages are read-only.
    #[arg(long, value_name = "FILE")]
    web_token_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    drift: super::drift_args::DriftArgs,
}

pub(super) fn run(args: WorkerArgs, registry: Option<&Path>) -> anyhow::Result<Outcome> {
    let manager = super::manager(registry)?;
    let registry_port = |key: &str| manager.get_port("berth", 0, key).ok();
    let loopback = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let settings = WorkerSettings {
        registry: registry.map(Path::to_path_buf),
        address: args.address,
        namespace: args.namespace,
        host: args.host.unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned()),
        advertised: args.advertise_address,
        metrics_addr: args
            .metrics_addr
            .unwrap_or_else(|| loopback(registry_port("metrics_port").unwrap_or(FALLBACK_METRICS_PORT))),
        sdk_metrics_addr: args.sdk_metrics_addr.or_else(|| registry_port("sdk_metrics_port").map(loopback)),
        grace: args.grace,
        engine: super::engine_target()?,
        image_mirror: args.image_mirror.and_then(|mirror| mirror.0),
        docker_config: super::docker_config(),
        drift: args.drift.watch(),
        web_token: args.web_token_file.as_deref().map(crate::web::actions::Token::read).transpose()?,
    };
    block_on(worker::run(settings))?;
    Ok(Outcome::Clean)
}
