//! `berth worker`: the Temporal worker serving berth's activities and workflows.
//!
//! It polls the shared task queue (`berth`) and its own host queue (`berth@<host>`), so a
//! workflow can send work to one particular host; both are driven from the calling task
//! (the SDK's `Worker::run` is not `Send`). SIGTERM or SIGINT stops polling, lets running
//! activities finish within the grace period, and returns. Two HTTP endpoints: berth's
//! `/metrics` and `/healthz` on `metrics_addr`, and the SDK's own worker metrics on
//! `sdk_metrics_addr` (the SDK's Prometheus registry is private, so it cannot share one).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use berth_workflows::{RunActivity, SHARED_TASK_QUEUE, SpinUp, TearDown, host_task_queue};
use prometheus::Encoder;
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection};
use temporalio_common::telemetry::{PrometheusExporterOptions, TelemetryOptions, start_prometheus_metric_exporter};
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

use crate::activities::{BerthActivities, SeedActivity};
use crate::containers::spec::SERVICE_LABEL;
use crate::containers::{Engine, EngineTarget};
use crate::ledger::{self, Ledger};
use crate::metrics::METRICS;
use crate::registry::PortManager;

/// How the worker connects and what it serves.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The registry file (`--registry`), else the usual search.
    pub registry: Option<PathBuf>,
    /// Temporal's address (`host:port`); else TEMPORAL_ADDRESS or the profile's.
    pub address: Option<String>,
    /// The namespace; else TEMPORAL_NAMESPACE or the profile's.
    pub namespace: Option<String>,
    /// The host name for the host queue (`berth@<host>`).
    pub host: String,
    /// Where other machines reach this host, for the endpoints it reports.
    pub advertised: Option<crate::containers::advertise::AdvertisedAddress>,
    /// Where berth's `/metrics` and `/healthz` listen.
    pub metrics_addr: SocketAddr,
    /// Where the SDK's worker metrics listen, if anywhere.
    pub sdk_metrics_addr: Option<SocketAddr>,
    /// How long running activities may take to finish after a stop signal.
    pub grace: Duration,
    /// The Docker engine to work on.
    pub engine: EngineTarget,
    /// The registry Docker Hub images are pulled through, if any.
    pub image_mirror: Option<String>,
    /// The docker CLI's configuration directory, for registry logins.
    pub docker_config: Option<PathBuf>,
    /// The drift watch's interval and gc grace; `None` leaves it off.
    pub drift: Option<(Duration, Duration)>,
    /// The token that allows actions on the web pages; read-only without one.
    pub web_token: Option<crate::web::actions::Token>,
}

#[derive(Clone)]
struct Health {
    /// The host, a label on every series.
    host: String,
    engine: Engine,
    registry: &'static crate::registry::Registry,
    temporal: String,
    ledger: Option<PathBuf>,
}

/// Runs the worker until SIGTERM or SIGINT.
pub async fn run(settings: WorkerSettings) -> anyhow::Result<()> {
    let mut termination = crate::signals::Termination::install().context("cannot catch SIGTERM and SIGINT")?;
    let manager = PortManager::global(settings.registry.as_deref())?;
    let engine = Engine::connect(&settings.engine).await?;
    let ledger = ledger::state_dir();

    let sdk_meter = match settings.sdk_metrics_addr {
        Some(address) => Some(
            start_prometheus_metric_exporter(
                PrometheusExporterOptions::builder().socket_addr(address).counters_total_suffix(true).build(),
            )
            .with_context(|| format!("cannot serve the SDK's metrics on {address}"))?
            .meter as Arc<dyn temporalio_common::telemetry::metrics::CoreMeter>,
        ),
        None => None,
    };
    let runtime_options = RuntimeOptions::builder()
        .telemetry_options(TelemetryOptions::builder().maybe_metrics(sdk_meter).build())
        .build()
        .map_err(|error| anyhow::anyhow!(error))?;
    let runtime = Runtime::from_current_tokio(runtime_options).context("cannot start the Temporal runtime")?;

    let (mut connection_options, mut client_options) =
        ClientOptions::load_from_config(LoadClientConfigProfileOptions::default()).map_err(|error| {
            anyhow::anyhow!(
                "cannot read the Temporal client configuration (TEMPORAL_* variables, temporal.toml): {error}"
            )
        })?;
    if let Some(address) = &settings.address {
        connection_options.target = temporal_url(address)?;
    }
    if let Some(namespace) = &settings.namespace {
        client_options.namespace.clone_from(namespace);
    }
    connection_options.identity = format!("berth@{}:{}", settings.host, std::process::id());
    let target = connection_options.target.clone();
    let connection = Connection::connect(connection_options).await.with_context(|| {
        format!("cannot connect to Temporal at {target}; start it or pass --address / TEMPORAL_ADDRESS")
    })?;
    let namespace = client_options.namespace.clone();
    let client = Client::new(connection, client_options)?;

    let images = crate::containers::ImageSettings {
        mirror: settings.image_mirror.clone(),
        docker_config: settings.docker_config.clone(),
        ..Default::default()
    };
    let activities = BerthActivities::new(
        manager,
        engine.clone(),
        ledger.clone(),
        settings.host.clone(),
        settings.advertised.clone(),
        images.clone(),
    );
    let host_queue = host_task_queue(&settings.host);
    let mut shared =
        Worker::new(&runtime, client.clone(), worker_options(SHARED_TASK_QUEUE, &activities, settings.grace)?)?;
    let fleet = crate::web::fleet::FleetSource::connected(client.clone());
    let mut own = Worker::new(&runtime, client, worker_options(&host_queue, &activities, settings.grace)?)?;
    let stop_shared = shared.shutdown_handle();
    let stop_own = own.shutdown_handle();

    let health = Health {
        host: settings.host.clone(),
        engine,
        registry: manager.registry(),
        temporal: format!(
            "{}:{}",
            target.host_str().unwrap_or("127.0.0.1"),
            target.port_or_known_default().unwrap_or(7233)
        ),
        ledger,
    };
    let listener = tokio::net::TcpListener::bind(settings.metrics_addr)
        .await
        .with_context(|| format!("cannot serve /metrics on {}", settings.metrics_addr))?;
    let pages = crate::web::WebState {
        manager,
        environment: None,
        ledger: health.ledger.clone(),
        engine: crate::web::EngineSource::connected(health.engine.clone()),
        actions: settings.web_token.clone().map(|token| {
            std::sync::Arc::new(crate::web::actions::Actions::new(token, images.clone(), settings.host.clone()))
        }),
        fleet: Some(fleet),
    };
    let page_actions = pages.actions.clone();
    let drift = settings.drift.map(|(every, grace)| {
        let span = tracing::info_span!("drift_watch", host = %settings.host);
        tokio::spawn(tracing::Instrument::instrument(crate::drift::watch(pages.clone(), every, grace), span))
    });
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(health)
        .merge(crate::web::router(pages));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let per_service = activities.seed_activity_names().len();
    tracing::info!(
        temporal = %target,
        namespace = %namespace,
        task_queues = %format!("{SHARED_TASK_QUEUE}, {host_queue}"),
        registry = %manager.path().display(),
        activities = berth_workflows::activities::ACTIVITIES.len() + per_service,
        per_service_activities = per_service,
        docker = %settings.engine,
        metrics = %format!("http://{0}/metrics, http://{0}/healthz", settings.metrics_addr),
        sdk_metrics = %settings.sdk_metrics_addr.map_or_else(|| "none".to_string(), |address| format!("http://{address}/metrics")),
        "worker_serving"
    );

    let signals = async move {
        termination.received().await;
        tracing::info!("worker_stopping");
        stop_shared();
        stop_own();
    };
    let (shared_result, own_result, ()) = tokio::join!(shared.run(), own.run(), signals);
    server.abort();
    if let Some(actions) = page_actions {
        // Actions taken on the pages get the same grace as activities, then are interrupted
        // (a start undoes what it made).
        actions.drain(tokio::time::sleep(settings.grace)).await;
    }
    if let Some(drift) = drift {
        drift.abort();
    }
    shared_result.context("the shared-queue worker failed")?;
    own_result.context("the host-queue worker failed")?;
    tracing::info!("worker_stopped");
    Ok(())
}

/// Temporal's address as given (`host:port`, or a URL with its port), never a guessed port:
/// a URL without one would silently mean port 80.
fn temporal_url(address: &str) -> anyhow::Result<temporalio_client::Url> {
    let url = if address.contains("://") { address.to_string() } else { format!("http://{address}") };
    let parsed: temporalio_client::Url =
        url.parse().with_context(|| format!("Temporal address {address} is not a host:port"))?;
    if parsed.port().is_none() {
        anyhow::bail!(
            "Temporal address {address} has no port; write host:port (a cluster listens on 7233 unless set otherwise)"
        );
    }
    Ok(parsed)
}

/// A workflow id of `kind` no other run of any berth process takes.
pub fn workflow_id(kind: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
    format!("berth-{kind}-{}-{nanos}", std::process::id())
}

/// The longest a running activity's heartbeat waits before it is sent to Temporal.
const HEARTBEAT_SEND: Duration = Duration::from_secs(2);

/// How long connecting to Temporal may take when the configuration does not say.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// A Temporal client: the standard configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
/// TLS and API key variables, temporal.toml profiles), with `address` and `namespace`
/// overriding it when given. Returns the client and the address it connected to.
pub async fn connect(
    address: Option<&str>,
    namespace: Option<&str>,
    identity: String,
) -> anyhow::Result<(Client, temporalio_client::Url)> {
    let (mut connection_options, mut client_options) =
        ClientOptions::load_from_config(LoadClientConfigProfileOptions::default()).map_err(|error| {
            anyhow::anyhow!(
                "cannot read the Temporal client configuration (TEMPORAL_* variables, temporal.toml): {error}"
            )
        })?;
    if let Some(address) = address {
        connection_options.target = temporal_url(address)?;
    }
    if let Some(namespace) = namespace {
        client_options.namespace = namespace.to_string();
    }
    connection_options.identity = identity;
    // A cluster that never answers the connection (its backlog full, a firewall dropping
    // packets) must not hold the caller forever.
    connection_options.connect_timeout.get_or_insert(CONNECT_WAIT);
    let target = connection_options.target.clone();
    let connection = Connection::connect(connection_options).await.with_context(|| {
        format!("cannot connect to Temporal at {target}; start it or pass its address (or set TEMPORAL_ADDRESS)")
    })?;
    Ok((Client::new(connection, client_options)?, target))
}

fn worker_options(queue: &str, activities: &BerthActivities, grace: Duration) -> anyhow::Result<WorkerOptions> {
    let shared = Arc::new(activities.clone());
    let mut options = WorkerOptions::new(queue)
        .register_activities(activities.clone())
        .register_workflow::<SpinUp>()?
        .register_workflow::<TearDown>()?
        .register_workflow::<RunActivity>()?;
    for name in activities.seed_activity_names() {
        options = SeedActivity::register(options, &name, shared.clone());
    }
    // Heartbeats go out every few seconds whatever the timeout: the SDK's own throttle
    // (80% of the timeout) would leave a 10 s timeout 2 s of slack on a busy machine.
    Ok(options.graceful_shutdown_period(grace).max_heartbeat_throttle_interval(HEARTBEAT_SEND).build())
}

/// Sets each lease range's size and free ports from the ledger's `leases`.
fn set_range_room(registry: &crate::registry::Registry, leases: &[ledger::Lease]) {
    let excluded = ledger::registry_exclusions(registry);
    let mut leased = ledger::PortSet::default();
    for lease in leases {
        leased.insert(lease.port);
    }
    for (name, range) in ledger::lease_ranges(registry) {
        let (capacity, free) = ledger::room(range, &excluded, &leased);
        let gauge = |count: usize| i64::try_from(count).unwrap_or(i64::MAX);
        METRICS.ledger_range_ports.with_label_values(&[name.as_str()]).set(gauge(capacity));
        METRICS.ledger_free_ports.with_label_values(&[name.as_str()]).set(gauge(free));
    }
}

/// How often a scrape tries to list the managed containers.
const LISTING_TRIES: usize = 3;

/// berth's metrics in Prometheus text format; the gauges are refreshed first.
async fn metrics(State(health): State<Health>) -> (StatusCode, String) {
    // Docker 20.10 can fail a listing while another client removes a container; a few
    // tries get past that, and a gauge that still cannot be refreshed is emptied rather
    // than left showing an older scrape's numbers.
    let mut listed = health.engine.managed(None).await;
    for _ in 1..LISTING_TRIES {
        if listed.is_ok() {
            break;
        }
        listed = health.engine.managed(None).await;
    }
    METRICS.running_instances.reset();
    if let Err(error) = &listed {
        tracing::warn!(%error, "running_instances_not_refreshed");
    }
    if let Ok(containers) = listed {
        for container in containers
            .iter()
            .filter(|container| container.state.as_ref().is_some_and(|state| state.to_string() == "running"))
        {
            let service =
                container.labels.as_ref().and_then(|labels| labels.get(SERVICE_LABEL)).cloned().unwrap_or_default();
            METRICS.running_instances.with_label_values(&[service.as_str()]).inc();
        }
    }
    if let Some(directory) = health.ledger.clone() {
        let leases = tokio::task::spawn_blocking(move || {
            Ledger::open_existing(&directory).ok().flatten().and_then(|ledger| ledger.leases(None).ok())
        })
        .await
        .ok()
        .flatten();
        if let Some(leases) = leases {
            METRICS.ledger_leases.set(i64::try_from(leases.len()).unwrap_or(i64::MAX));
            set_range_room(health.registry, &leases);
        }
    }
    let mut buffer = Vec::new();
    match prometheus::TextEncoder::new().encode(&with_host(METRICS.registry.gather(), &health.host), &mut buffer) {
        Ok(()) => (StatusCode::OK, String::from_utf8_lossy(&buffer).into_owned()),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

/// `families` with a `host` label on every series, so that one Prometheus scraping a fleet
/// tells the hosts apart by their own names.
fn with_host(mut families: Vec<prometheus::proto::MetricFamily>, host: &str) -> Vec<prometheus::proto::MetricFamily> {
    for family in &mut families {
        for metric in family.mut_metric() {
            let mut label = prometheus::proto::LabelPair::default();
            label.set_name("host".to_string());
            label.set_value(host.to_string());
            let mut labels = metric.take_label();
            labels.push(label);
            metric.set_label(labels);
        }
    }
    families
}

/// 200 when Docker answers and Temporal is reachable, 503 naming what is not.
async fn healthz(State(health): State<Health>) -> (StatusCode, String) {
    let docker = Engine::connect(health.engine.target()).await.map(drop).map_err(|error| format!("docker: {error}"));
    let temporal = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(&health.temporal))
        .await
        .map_err(|_| format!("temporal: {} did not answer within 2s", health.temporal))
        .and_then(|connected| connected.map(drop).map_err(|error| format!("temporal: {}: {error}", health.temporal)));
    let problems: Vec<String> = [docker, temporal].into_iter().filter_map(Result::err).collect();
    if problems.is_empty() {
        (StatusCode::OK, "ok\n".to_string())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("{}\n", problems.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use prometheus::Encoder;

    use super::with_host;

    #[test]
    fn every_series_carries_the_host() {
        let registry = prometheus::Registry::new();
        let plain = prometheus::IntGauge::new("plain", "no labels").expect("a gauge");
        let labelled = prometheus::IntCounterVec::new(prometheus::Opts::new("labelled", "one label"), &["service"])
            .expect("a counter");
        registry.register(Box::new(plain.clone())).expect("registered");
        registry.register(Box::new(labelled.clone())).expect("registered");
        plain.set(3);
        labelled.with_label_values(&["web"]).inc();
        let mut text = Vec::new();
        prometheus::TextEncoder::new().encode(&with_host(registry.gather(), "h1"), &mut text).expect("encoded");
        let text = String::from_utf8(text).expect("UTF-8");
        assert!(text.contains("plain{host=\"h1\"} 3"), "{text}");
        assert!(text.contains("labelled{service=\"web\",host=\"h1\"} 1"), "{text}");
    }
}
