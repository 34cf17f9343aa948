//! The web view: the host's port map, instances and leases as pages a person reads at a
//! glance and as a JSON API for scripts, served by `berth serve` and on the worker's
//! metrics address.
//!
//! A request reads the registry, the ledger, the host's listeners and berth's containers
//! ([`gather`]), joins them ([`map::PortMap::build`], pure) and renders them ([`pages`]).
//! Pages poll their own fragment every few seconds, so they stay live without a JavaScript
//! build chain. The view is read-only unless started with a token ([`actions`]).

pub mod actions;
pub mod fleet;
pub mod map;
pub mod pages;

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_workflows::activities::{ReleaseRequest, StartRequest, StopRequest};
use serde::{Deserialize, Serialize};

use crate::containers::one::InstanceFailure;
use crate::containers::spec::{ENVIRONMENT_LABEL, INSTANCE_LABEL, SERVICE_LABEL};
use crate::containers::{Engine, EngineTarget, StartError};
use crate::ledger::{self, Lease, Ledger};
use crate::probe::HostPorts;
use crate::registry::PortManager;
use actions::{Access, Actions, Refusal};
use map::{MapContainer, PortMap, Sources};
use pages::{ActionOutcome, Startable};

/// What the pages read from.
#[derive(Clone)]
pub struct WebState {
    /// The registry.
    pub manager: &'static PortManager,
    /// The environment whose slots the map shows; the registry's default when `None`.
    pub environment: Option<String>,
    /// The ledger's state directory.
    pub ledger: Option<PathBuf>,
    /// The engine whose containers are shown.
    pub engine: EngineSource,
    /// What allows actions; `None` keeps the view read-only.
    pub actions: Option<Arc<Actions>>,
    /// Where the fleet page asks for every host; `None` shows this host only.
    pub fleet: Option<fleet::FleetSource>,
}

impl WebState {
    /// What the browser sending `headers` may do.
    fn access(&self, headers: &HeaderMap) -> Access {
        self.actions.as_ref().map_or(Access::ReadOnly, |actions| actions.access(headers))
    }
}

/// The engine the views read: connected once, when first needed, so that a view works
/// (saying the engine does not answer) before the engine does.
#[derive(Clone)]
pub struct EngineSource {
    target: EngineTarget,
    connected: Arc<tokio::sync::Mutex<Option<Engine>>>,
}

impl EngineSource {
    /// An engine already connected.
    pub fn connected(engine: Engine) -> Self {
        Self { target: engine.target().clone(), connected: Arc::new(tokio::sync::Mutex::new(Some(engine))) }
    }

    /// The engine at `target`, connected when first asked for.
    pub fn at(target: EngineTarget) -> Self {
        Self { target, connected: Arc::default() }
    }

    /// The engine, connecting to it if that has not worked yet.
    pub async fn get(&self) -> Result<Engine, StartError> {
        let mut connected = self.connected.lock().await;
        if let Some(engine) = connected.as_ref() {
            return Ok(engine.clone());
        }
        let engine = Engine::connect(&self.target).await?;
        *connected = Some(engine.clone());
        Ok(engine)
    }
}

/// The pages and the JSON API, to serve alone or beside other routes.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(map_page))
        .route("/instances", get(instances_page))
        .route("/instances/{name}", get(instance_page))
        .route("/leases", get(leases_page))
        .route("/fleet", get(fleet_page))
        .route("/api/fleet", get(fleet_json))
        .route("/api/map", get(map_json))
        .route("/api/instances", get(instances_json))
        .route("/api/leases", get(leases_json))
        .route("/login", get(login_page).post(log_in))
        .route("/logout", post(log_out))
        .route("/actions/release", post(release_form))
        .route("/actions/stop", post(stop_form))
        .route("/actions/start", post(start_form))
        .route("/api/actions/release", post(release_json))
        .route("/api/actions/stop", post(stop_json))
        .route("/api/actions/start", post(start_json))
        .route("/static/berth.css", get(|| async { asset("text/css", include_str!("static/berth.css")) }))
        .route("/static/berth.js", get(|| async { asset("text/javascript", include_str!("static/berth.js")) }))
        .route("/static/berth.svg", get(|| async { asset("image/svg+xml", include_str!("static/berth.svg")) }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such page here: see /, /instances, /leases or /api/map\n") })
        .with_state(state)
        .layer(axum::middleware::from_fn(own_host))
        .layer(tower_http::compression::CompressionLayer::new())
}

/// Whether `host`, a request's `Host` header, names this machine: an address, `localhost`,
/// or the machine's own name (`machine_name`, alone or as the first label of a longer name).
fn is_own_host(host: &str, machine_name: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => {
            return bracketed.split(']').next().is_some_and(|address| address.parse::<std::net::Ipv6Addr>().is_ok());
        }
        None => {
            host.rsplit_once(':').map_or(host, |(name, port)| if port.parse::<u16>().is_ok() { name } else { host })
        }
    };
    let name = name.to_ascii_lowercase();
    let machine_name = machine_name.to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || (!machine_name.is_empty() && (name == machine_name || name.starts_with(&format!("{machine_name}."))))
}

/// Refuses a request for a host name that is not this machine's: a page of another site
/// whose name was made to resolve to this address (DNS rebinding) could otherwise read the
/// view, container logs included.
async fn own_host(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or_default();
    let machine_name = gethostname::gethostname().to_string_lossy().into_owned();
    if is_own_host(host, &machine_name) {
        return next.run(request).await;
    }
    let message = format!(
        "refused: berth answers to this machine's address or name ({machine_name}, localhost or an IP address), not to `{}`\n",
        host.chars().take(100).collect::<String>()
    );
    (StatusCode::MISDIRECTED_REQUEST, message).into_response()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// `?fragment=1`: only the part of the page that updates, for the page's own polling.
#[derive(Debug, Deserialize)]
struct PageQuery {
    fragment: Option<String>,
}

impl PageQuery {
    fn fragment(&self) -> bool {
        self.fragment.is_some()
    }
}

/// An instance berth manages, as the instances page and `/api/instances` show it.
#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    /// The container.
    pub name: String,
    /// The registry service.
    pub service: String,
    /// The instance id (none when the label is not a number).
    pub instance: Option<u16>,
    /// The environment.
    pub environment: String,
    /// `running`, `exited`, …
    pub state: String,
    /// Docker's words for it (`Up 3 minutes (healthy)`).
    pub status: String,
    /// `127.0.0.1:6379` for each published port.
    pub endpoints: Vec<String>,
    /// The host ports it publishes, in order.
    #[serde(skip)]
    pub host_ports: Vec<u16>,
}

/// Everything one request shows.
pub(crate) struct Gathered {
    /// The port map.
    pub(crate) map: PortMap,
    /// berth's containers, or why they could not be listed.
    pub(crate) instances: Result<Vec<Instance>, String>,
    /// The ledger's leases, or why the ledger could not be read (then the map has none).
    pub(crate) leases: Result<Vec<Lease>, String>,
    environment: String,
}

/// Reads the registry's slots, the ledger, the host and the engine.
pub(crate) async fn gather(state: &WebState) -> Result<Gathered, String> {
    let registry = state.manager.registry();
    let view = state.manager.environment(state.environment.as_deref()).map_err(|error| error.to_string())?;
    let slots = registry
        .services
        .iter()
        .flat_map(|service| (0..service.max_instances).map(move |instance| (service, instance)))
        .filter_map(|(service, instance)| view.instance_ports_quietly(&service.name, u32::from(instance)).ok())
        .flatten()
        .collect();
    let directory = state.ledger.clone();
    let leases = tokio::task::spawn_blocking(move || match directory {
        Some(directory) => Ledger::open_existing(&directory).and_then(|ledger| match ledger {
            Some(ledger) => ledger.leases(None),
            None => Ok(Vec::new()),
        }),
        None => Ok(Vec::new()),
    })
    .await
    .map_err(|error| error.to_string())?
    .map_err(|error| error.to_string());
    let host = tokio::task::spawn_blocking(HostPorts::snapshot)
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())?;
    let instances = match state.engine.get().await {
        Ok(engine) => engine.managed(None).await,
        Err(error) => Err(error),
    }
    .map(|summaries| summaries.into_iter().map(instance).collect::<Vec<_>>())
    .map_err(|error| error.to_string());
    let containers = instances.clone().map(|instances| {
        instances
            .iter()
            .map(|instance| MapContainer {
                name: instance.name.clone(),
                state: instance.state.clone(),
                host_ports: instance.host_ports.clone(),
            })
            .collect()
    });
    let sources = Sources {
        slots,
        reserved: registry
            .reserved
            .iter()
            .flat_map(|reservation| reservation.ports.iter().map(|range| (*range, reservation.reason.clone())))
            .collect(),
        lease_ranges: ledger::lease_ranges(registry),
        leases: leases.clone().unwrap_or_default(),
        listeners: host.listeners().into_iter().cloned().collect(),
        containers,
        now: ledger::now(),
    };
    Ok(Gathered { map: PortMap::build(sources), instances, leases, environment: view.environment().name.clone() })
}

fn instance(summary: bollard::models::ContainerSummary) -> Instance {
    let label = |name: &str| summary.labels.as_ref().and_then(|labels| labels.get(name)).cloned().unwrap_or_default();
    let endpoints = crate::containers::docker::endpoints(&summary);
    let mut host_ports: Vec<u16> = summary.ports.iter().flatten().filter_map(|port| port.public_port).collect();
    host_ports.sort_unstable();
    host_ports.dedup();
    Instance {
        name: summary
            .names
            .iter()
            .flatten()
            .next()
            .map(|name| name.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        service: label(SERVICE_LABEL),
        instance: label(INSTANCE_LABEL).parse().ok(),
        environment: label(ENVIRONMENT_LABEL),
        state: summary.state.map(|state| state.to_string()).unwrap_or_default(),
        status: summary.status.clone().unwrap_or_default(),
        endpoints,
        host_ports,
    }
}

/// A page or fragment with its ETag: a page that polls sends the last one back and is
/// answered 304, with no body, while nothing on it changed.
fn html(headers: &HeaderMap, body: String) -> Response {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body.as_bytes());
    let tag = format!("\"{}\"", digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect::<String>());
    let unchanged = headers.get(header::IF_NONE_MATCH).and_then(|value| value.to_str().ok()) == Some(tag.as_str());
    if unchanged {
        return private((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    private(([(header::ETAG, tag)], Html(body)).into_response())
}

/// Marks a page that must not be kept by a cache or shown inside another site's frame.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("frame-ancestors 'none'; form-action 'self'"),
    );
    response
}

fn failed(error: String) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("berth cannot read the host: {error}\n")).into_response()
}

fn ledger_failed(error: String) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("berth cannot read the ledger: {error}\n")).into_response()
}

async fn map_page(State(state): State<WebState>, headers: HeaderMap, Query(query): Query<PageQuery>) -> Response {
    let access = state.access(&headers);
    match gather(&state).await {
        Ok(Gathered { leases: Err(error), .. }) => ledger_failed(error),
        Ok(gathered) => html(&headers, pages::map(&gathered.map, &gathered.environment, &access, query.fragment())),
        Err(error) => failed(error),
    }
}

async fn instances_page(State(state): State<WebState>, headers: HeaderMap, Query(query): Query<PageQuery>) -> Response {
    let access = state.access(&headers);
    let registry = state.manager.registry();
    let startable = Startable {
        services: registry
            .services
            .iter()
            .filter(|service| service.container.is_some())
            .map(|service| service.name.clone())
            .collect(),
        environments: registry.environments.iter().map(|environment| environment.name.clone()).collect(),
    };
    match gather(&state).await {
        Ok(gathered) => html(&headers, pages::instances(&gathered.instances, &startable, &access, query.fragment())),
        Err(error) => failed(error),
    }
}

/// How many of an instance's last log lines its page shows.
const LOG_TAIL: usize = 50;

/// One instance berth manages: its state and endpoints, and its last log lines. Only
/// berth's containers are shown; any other name is 404.
async fn instance_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    axum::extract::Path(name): axum::extract::Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let access = state.access(&headers);
    let engine = match state.engine.get().await {
        Ok(engine) => engine,
        Err(error) => return failed(error.to_string()),
    };
    let instances = match engine.managed(None).await {
        Ok(summaries) => summaries.into_iter().map(instance).collect::<Vec<_>>(),
        Err(error) => return failed(error.to_string()),
    };
    let Some(found) = instances.into_iter().find(|instance| instance.name == name) else {
        return (StatusCode::NOT_FOUND, Html(pages::not_found(&format!("berth manages no container named {name}"))))
            .into_response();
    };
    let logs = engine.logs(&found.name, Some(LOG_TAIL)).await;
    html(&headers, pages::instance(&found, &logs, &access, query.fragment()))
}

async fn leases_page(State(state): State<WebState>, headers: HeaderMap, Query(query): Query<PageQuery>) -> Response {
    let access = state.access(&headers);
    match gather(&state).await {
        Ok(Gathered { leases: Err(error), .. }) => ledger_failed(error),
        Ok(gathered) => html(&headers, pages::leases(&gathered.map, &access, query.fragment())),
        Err(error) => failed(error),
    }
}

async fn fleet_page(State(state): State<WebState>, headers: HeaderMap, Query(query): Query<PageQuery>) -> Response {
    let access = state.access(&headers);
    let answer = match &state.fleet {
        Some(source) => Some(source.answer().await),
        None => None,
    };
    html(&headers, pages::fleet(answer.as_deref(), &access, query.fragment()))
}

async fn fleet_json(State(state): State<WebState>) -> Response {
    let Some(source) = &state.fleet else {
        let refusal = "this view shows one host: start it with `berth serve --temporal` to ask the fleet";
        return (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": refusal }))).into_response();
    };
    match source.answer().await.as_ref() {
        Ok(hosts) => Json(serde_json::json!({ "hosts": hosts })).into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": format!("berth cannot ask the fleet: {error}") })),
        )
            .into_response(),
    }
}

async fn map_json(State(state): State<WebState>) -> Response {
    match gather(&state).await {
        Ok(Gathered { leases: Err(error), .. }) => ledger_failed(error),
        Ok(gathered) => axum::Json(gathered.map).into_response(),
        Err(error) => failed(error),
    }
}

async fn instances_json(State(state): State<WebState>) -> Response {
    match gather(&state).await {
        Ok(Gathered { instances: Ok(instances), .. }) => axum::Json(instances).into_response(),
        Ok(Gathered { instances: Err(error), .. }) | Err(error) => failed(error),
    }
}

async fn leases_json(State(state): State<WebState>) -> Response {
    match gather(&state).await {
        Ok(Gathered { leases: Ok(leases), .. }) => axum::Json(leases).into_response(),
        Ok(Gathered { leases: Err(error), .. }) => ledger_failed(error),
        Err(error) => failed(error),
    }
}

fn refused(refusal: Refusal) -> Response {
    (refusal.status, format!("{}\n", refusal.message)).into_response()
}

fn refused_json(refusal: Refusal) -> Response {
    (refusal.status, Json(serde_json::json!({ "error": refusal.message }))).into_response()
}

/// The actions when berth was started with a token.
fn actions_of(state: &WebState) -> Result<Arc<Actions>, Refusal> {
    state.actions.clone().ok_or_else(actions::read_only)
}

async fn login_page(State(state): State<WebState>) -> Response {
    match actions_of(&state) {
        Ok(_) => private(Html(pages::login(None)).into_response()),
        Err(refusal) => refused(refusal),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

/// A form's fields, or the one line saying why they are not usable.
fn form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_urlencoded::from_bytes(body).map_err(|error| Refusal {
        status: StatusCode::BAD_REQUEST,
        message: format!("the form is not usable: {error}"),
    })
}

async fn log_in(State(state): State<WebState>, body: Bytes) -> Response {
    let checked = actions_of(&state).and_then(|actions| Ok((actions, form::<LoginForm>(&body)?)));
    let (actions, login) = match checked {
        Ok(checked) => checked,
        Err(refusal) => return refused(refusal),
    };
    match actions.log_in(&login.token).await {
        Some((session, csrf)) => {
            tracing::info!("web_logged_in");
            private(
                ([(header::SET_COOKIE, actions::session_cookie(Some(session)))], Html(pages::logged_in(&csrf)))
                    .into_response(),
            )
        }
        None => {
            tracing::warn!("web_login_refused");
            (StatusCode::UNAUTHORIZED, Html(pages::login(Some("that is not the token berth was started with"))))
                .into_response()
        }
    }
}

/// Every form carries the session's CSRF token.
#[derive(Deserialize)]
struct Csrf {
    csrf: String,
}

/// The actions, for a logged-in browser posting `body` from this origin with its session's
/// CSRF token; the session is checked before the body is read.
fn checked_form<T: serde::de::DeserializeOwned>(
    state: &WebState,
    headers: &HeaderMap,
    body: &[u8],
    csrf: impl FnOnce(&T) -> &str,
) -> Result<(Arc<Actions>, T), Refusal> {
    let actions = actions_of(state)?;
    let expected = actions.check_session(headers)?;
    let fields: T = form(body)?;
    actions::check_csrf(&expected, csrf(&fields))?;
    Ok((actions, fields))
}

async fn log_out(State(state): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    match checked_form::<Csrf>(&state, &headers, &body, |fields| &fields.csrf) {
        Ok((actions, _)) => {
            actions.log_out(&headers);
            ([(header::SET_COOKIE, actions::session_cookie(None))], Redirect::to("/")).into_response()
        }
        Err(refusal) => refused(refusal),
    }
}

#[derive(Deserialize)]
struct ReleaseForm {
    csrf: String,
    project: String,
    port: u16,
}

#[derive(Deserialize)]
struct InstanceForm {
    csrf: String,
    service: String,
    instance_id: u32,
    env: String,
}

/// The page saying what an action did: 200 when it did it, the failure's status when not.
fn outcome<T>(
    state: &WebState,
    headers: &HeaderMap,
    action: &str,
    back: (&str, &str),
    result: Result<T, InstanceFailure>,
    said: impl FnOnce(T) -> String,
) -> Response {
    let access = state.access(headers);
    let (status, message, kind) = match result {
        Ok(done) => (StatusCode::OK, said(done), None),
        Err(failure) => (actions::status(failure.kind), failure.message, Some(failure.kind.to_string())),
    };
    let page = ActionOutcome { action, message, kind, back: back.0, back_name: back.1 };
    private((status, Html(pages::action(&page, &access))).into_response())
}

async fn release_form(State(state): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let (actions, fields) = match checked_form::<ReleaseForm>(&state, &headers, &body, |fields| &fields.csrf) {
        Ok(checked) => checked,
        Err(refusal) => return refused(refusal),
    };
    let project = fields.project.clone();
    let request = ReleaseRequest { project: fields.project, service: None, port: Some(fields.port), force: false };
    let result = actions::release(&state, &actions, request).await;
    outcome(&state, &headers, "release", ("/leases", "the leases"), result, |released| {
        format!(
            "released port {} of {project}",
            released.ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
        )
    })
}

async fn stop_form(State(state): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let (actions, fields) = match checked_form::<InstanceForm>(&state, &headers, &body, |fields| &fields.csrf) {
        Ok(checked) => checked,
        Err(refusal) => return refused(refusal),
    };
    let request = StopRequest {
        service: Some(fields.service),
        instance_id: fields.instance_id,
        env: Some(fields.env),
        volumes: false,
        force: false,
    };
    let result = actions::stop(&state, &actions, request).await;
    outcome(&state, &headers, "stop", ("/instances", "the instances"), result, |stopped| {
        let ports: Vec<String> = stopped.released_ports.iter().map(u16::to_string).collect();
        match (stopped.removed, ports.is_empty()) {
            (true, true) => format!("stopped and removed {}", stopped.container),
            (true, false) => {
                format!("stopped and removed {}; released port(s) {}", stopped.container, ports.join(", "))
            }
            (false, _) => format!("{} was not there: nothing to stop", stopped.container),
        }
    })
}

async fn start_form(State(state): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let (actions, fields) = match checked_form::<InstanceForm>(&state, &headers, &body, |fields| &fields.csrf) {
        Ok(checked) => checked,
        Err(refusal) => return refused(refusal),
    };
    let request = StartRequest {
        service: Some(fields.service),
        instance_id: fields.instance_id,
        env: Some(fields.env),
        ..StartRequest::default()
    };
    let result = actions::start(&state, &actions, request).await;
    outcome(&state, &headers, "start", ("/instances", "the instances"), result, |started| {
        format!(
            "{} is {} and ready: {}",
            started.container,
            started.outcome,
            started.endpoints.values().cloned().collect::<Vec<_>>().join(" ")
        )
    })
}

/// An action's JSON answer: its result, or the failure with its kind and whether a retry can help.
fn answer<T: Serialize>(result: Result<T, InstanceFailure>) -> Response {
    match result {
        Ok(done) => Json(done).into_response(),
        Err(failure) => (
            actions::status(failure.kind),
            Json(serde_json::json!({
                "error": failure.message,
                "kind": failure.kind,
                "retryable": failure.kind.retryable(),
            })),
        )
            .into_response(),
    }
}

/// The actions and the request, for a script with the token; the token is checked before
/// the body is read.
async fn checked_json<T: serde::de::DeserializeOwned>(
    state: &WebState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Arc<Actions>, T), Response> {
    let actions = actions_of(state).map_err(refused_json)?;
    actions.check_bearer(headers).await.map_err(refused_json)?;
    let request = serde_json::from_slice(body).map_err(|error| {
        answer::<()>(Err(InstanceFailure::new(
            berth_workflows::FailureKind::InvalidInput,
            format!("the request is not usable: {error}"),
        )))
    })?;
    Ok((actions, request))
}

async fn release_json(State(state): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    match checked_json::<ReleaseRequest>(&state, &headers, &body).await {
        Ok((actions, request)) => answer(actions::release(&state, &actions, request).await),
        Err(response) => response,
    }
}

async fn stop_json(State(state): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    match checked_json::<StopRequest>(&state, &headers, &body).await {
        Ok((actions, request)) => answer(actions::stop(&state, &actions, request).await),
        Err(response) => response,
    }
}

async fn start_json(State(state): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    match checked_json::<StartRequest>(&state, &headers, &body).await {
        Ok((actions, request)) => answer(actions::start(&state, &actions, request).await),
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::is_own_host;

    #[test]
    fn only_this_machine_s_names_and_addresses_are_served() {
        for host in [
            "127.0.0.1:9470",
            "127.0.0.1",
            "[::1]:9470",
            "localhost:9470",
            "LOCALHOST",
            "build-07:9470",
            "build-07.internal:80",
            "10.0.0.5",
        ] {
            assert!(is_own_host(host, "build-07"), "{host}");
        }
        for host in ["evil.test:9470", "build-07x:9470", "", "localhost.evil.test", "[not-an-address]", "build-08"] {
            assert!(!is_own_host(host, "build-07"), "{host}");
        }
        assert!(!is_own_host("anything", ""));
    }
}
