//! Actions on the host from the web view (release a lease, stop or start an instance),
//! offered only when berth is started with a token; without one the view is read-only.
//!
//! A browser logs in once with the token and gets a session cookie (HttpOnly,
//! SameSite=Strict) and, in the log-in answer alone, the session's CSRF token, which the
//! page keeps in its origin's local storage and puts into every form it posts. Browsers
//! send a cookie of `127.0.0.1` to every port of it, so the cookie alone allows nothing: a
//! server on another port that receives it can read the pages but finds no CSRF token in
//! them. A post whose `Origin` is not the page's own is refused as well. Scripts send the
//! token as `Authorization: Bearer …` to `/api/actions/*`, with the same JSON requests the
//! worker's activities take.
//!
//! Each action runs the operation `berth release`, `berth down` and the worker's
//! `start_service` run, not a copy of it. It runs on a task of its own to its end even when
//! the browser goes away, and shutting down waits for it ([`Actions::drain`]): an action is
//! finished, or interrupted and undone, never dropped half-way.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use berth_workflows::FailureKind;
use berth_workflows::activities::{Ports, ReleaseRequest, ServiceStarted, ServiceStopped, StartRequest, StopRequest};
use subtle::ConstantTimeEq;
use tokio_util::task::TaskTracker;

use super::WebState;
use crate::containers::one::{InstanceFailure, Purpose, Sources};
use crate::containers::{self, ImageSettings};
use crate::ledger::{self, Ledger};

/// The shortest token berth accepts: long enough that guessing it over HTTP is hopeless.
pub const MINIMUM_TOKEN_LENGTH: usize = 16;
/// How long a browser session lasts.
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// How many sessions are kept; logging in beyond it ends the oldest.
const MAXIMUM_SESSIONS: usize = 64;
/// The most of a token file berth reads: a token is one short line.
const MAXIMUM_TOKEN_FILE: u64 = 4096;
/// How long a wrong token is answered after, so that guesses come slowly.
const WRONG_TOKEN_PAUSE: Duration = Duration::from_secs(1);
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "berth_session";

/// Why a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file could not be read.
    #[error("cannot read the token file {path}: {source}; give a readable file holding the token")]
    Unreadable {
        /// The file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Not a regular file (a FIFO or device would block or never end).
    #[error("the token file {path} is not a regular file; give a file holding the token")]
    NotAFile {
        /// The file.
        path: String,
    },
    /// The token holds characters a bearer header cannot carry.
    #[error(
        "the token in {path} holds characters other than visible ASCII; scripts could not send it as a bearer token: use letters, digits and punctuation (for example `openssl rand -hex 32 > {path}`)"
    )]
    NotVisibleAscii {
        /// The file.
        path: String,
    },
    /// The token is too short.
    #[error(
        "the token in {path} is {length} characters long; use at least {MINIMUM_TOKEN_LENGTH} (for example `openssl rand -hex 32 > {path}`)"
    )]
    TooShort {
        /// The file.
        path: String,
        /// Its length.
        length: usize,
    },
}

/// The secret that allows actions.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Token(…)")
    }
}

impl Token {
    /// The token in the first line of `path`, without surrounding white space.
    pub fn read(path: &Path) -> Result<Self, TokenError> {
        let shown = path.display().to_string();
        let unreadable = |source| TokenError::Unreadable { path: shown.clone(), source };
        if !std::fs::metadata(path).map_err(unreadable)?.is_file() {
            return Err(TokenError::NotAFile { path: shown });
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| file.take(MAXIMUM_TOKEN_FILE).read_to_end(&mut bytes))
            .map_err(unreadable)?;
        let text = String::from_utf8_lossy(&bytes);
        Self::new(text.lines().next().unwrap_or_default().trim(), &shown)
    }

    /// `text` as the token; `source` names where it came from in the error.
    pub fn new(text: &str, source: &str) -> Result<Self, TokenError> {
        if !text.chars().all(|character| character.is_ascii_graphic()) {
            return Err(TokenError::NotVisibleAscii { path: source.to_string() });
        }
        let length = text.chars().count();
        if length < MINIMUM_TOKEN_LENGTH {
            return Err(TokenError::TooShort { path: source.to_string(), length });
        }
        Ok(Self(text.to_string()))
    }

    fn matches(&self, offered: &str) -> bool {
        self.0.as_bytes().ct_eq(offered.as_bytes()).into()
    }
}

/// What the person looking at a page may do, as the templates show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Access {
    /// Started without a token: no actions.
    ReadOnly,
    /// Actions need a log-in.
    LoggedOut,
    /// Logged in: the pages offer actions, whose forms the page fills with the CSRF token it
    /// keeps.
    LoggedIn,
}

struct Session {
    csrf: String,
    began: Instant,
}

/// What allows actions: the token, and the browser sessions logged in with it; and the
/// actions under way.
pub struct Actions {
    token: Token,
    sessions: Mutex<HashMap<String, Session>>,
    under_way: TaskTracker,
    interrupt: tokio::sync::watch::Sender<bool>,
    /// How images are pulled for a start.
    pub images: ImageSettings,
    /// The host's name, as results report it.
    pub host: String,
}

/// Why an action was refused before it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 401, 403 or 404.
    pub status: StatusCode,
    /// What was wrong and what to do.
    pub message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: &str) -> Self {
        Self { status, message: message.to_string() }
    }
}

/// 32 random bytes, in hex.
fn random_hex() -> String {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source answers");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Actions {
    /// Actions allowed with `token`.
    pub fn new(token: Token, images: ImageSettings, host: String) -> Self {
        Self {
            token,
            sessions: Mutex::default(),
            under_way: TaskTracker::new(),
            interrupt: tokio::sync::watch::Sender::new(false),
            images,
            host,
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new session when `offered` is the token: its cookie's value and its CSRF token.
    pub async fn log_in(&self, offered: &str) -> Option<(String, String)> {
        if !self.token.matches(offered) {
            tokio::time::sleep(WRONG_TOKEN_PAUSE).await;
            return None;
        }
        let id = random_hex();
        let mut sessions = self.sessions();
        sessions.retain(|_, session| session.began.elapsed() < SESSION_LIFETIME);
        if sessions.len() >= MAXIMUM_SESSIONS
            && let Some(oldest) = sessions.iter().min_by_key(|(_, session)| session.began).map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        let csrf = random_hex();
        sessions.insert(id.clone(), Session { csrf: csrf.clone(), began: Instant::now() });
        Some((id, csrf))
    }

    /// Ends the session `headers` carry.
    pub fn log_out(&self, headers: &HeaderMap) {
        if let Some(id) = session_id(headers) {
            self.sessions().remove(&id);
        }
    }

    /// The CSRF token of the live session `headers` carry.
    fn csrf(&self, headers: &HeaderMap) -> Option<String> {
        let id = session_id(headers)?;
        let sessions = self.sessions();
        let session = sessions.get(&id)?;
        (session.began.elapsed() < SESSION_LIFETIME).then(|| session.csrf.clone())
    }

    /// What the browser sending `headers` may do.
    pub fn access(&self, headers: &HeaderMap) -> Access {
        match self.csrf(headers) {
            Some(_) => Access::LoggedIn,
            None => Access::LoggedOut,
        }
    }

    /// The CSRF token of the logged-in session of a browser posting from this page's own
    /// origin; the form's token is then checked against it ([`check_csrf`]).
    pub fn check_session(&self, headers: &HeaderMap) -> Result<String, Refusal> {
        if !same_origin(headers) {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "refused: the form was posted from another site's page; use berth's own pages",
            ));
        }
        self.csrf(headers).ok_or_else(|| {
            Refusal::new(StatusCode::UNAUTHORIZED, "not logged in, or the session ended: log in at /login")
        })
    }

    /// Allows a script sending the token as `Authorization: Bearer …`; a wrong token is
    /// answered as slowly as a wrong log-in.
    pub async fn check_bearer(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let offered = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match offered {
            Some(offered) if self.token.matches(offered) => Ok(()),
            Some(_) => {
                tokio::time::sleep(WRONG_TOKEN_PAUSE).await;
                Err(Refusal::new(StatusCode::UNAUTHORIZED, "the bearer token is wrong"))
            }
            None => Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "actions need the token: send `Authorization: Bearer <token>`",
            )),
        }
    }

    /// Runs `work` to its end on its own task: a browser that goes away does not cut an
    /// action short between what it does and what would undo it, and [`Actions::drain`]
    /// waits for it.
    async fn to_the_end<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, InstanceFailure>> + Send + 'static,
    ) -> Result<T, InstanceFailure> {
        self.under_way.spawn(work).await.unwrap_or_else(|error| {
            Err(InstanceFailure::new(FailureKind::Interrupted, format!("the action failed: {error}")))
        })
    }

    /// Resolves once the actions are told to stop (a start then undoes what it made).
    fn interrupted(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut told = self.interrupt.subscribe();
        async move {
            let _ = told.wait_for(|interrupted| *interrupted).await;
        }
    }

    /// Takes no more actions and waits for those under way to end; once `interrupt_after`
    /// resolves, interrupts them (a start undoes what it made) and waits for that.
    pub async fn drain(&self, interrupt_after: impl Future<Output = ()>) {
        self.under_way.close();
        if self.under_way.is_empty() {
            return;
        }
        tracing::warn!(actions = self.under_way.len(), "web_actions_draining");
        tokio::select! {
            () = self.under_way.wait() => {}
            () = interrupt_after => {
                tracing::warn!(actions = self.under_way.len(), "web_actions_interrupted");
                self.interrupt.send_replace(true);
                self.under_way.wait().await;
            }
        }
    }

    /// How many actions are under way.
    pub fn under_way(&self) -> usize {
        self.under_way.len()
    }
}

/// Whether `offered`, a form's CSRF token, is the session's `expected` one.
pub fn check_csrf(expected: &str, offered: &str) -> Result<(), Refusal> {
    if offered.is_empty() || !bool::from(expected.as_bytes().ct_eq(offered.as_bytes())) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "refused: the form carries no CSRF token of this session; log in again at /login in this browser",
        ));
    }
    Ok(())
}

/// The refusal of every action when berth was started without a token.
pub fn read_only() -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        "this view is read-only: start it with a token (`berth serve --token-file FILE`) to allow actions",
    )
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .map(|cookie| cookie.value().to_string())
}

/// Whether a post comes from a page of this server: its `Origin`, when the browser sends
/// one, names the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok());
    match (origin.to_str().ok(), host) {
        (Some(origin), Some(host)) => origin == format!("http://{host}") || origin == format!("https://{host}"),
        _ => false,
    }
}

/// The `Set-Cookie` value that starts session `id`, or ends it when `None`.
pub fn session_cookie(id: Option<String>) -> String {
    let ending = id.is_none();
    let mut cookie = cookie::Cookie::build((SESSION_COOKIE, id.unwrap_or_default()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .build();
    if ending {
        cookie.make_removal();
    }
    cookie.to_string()
}

/// The HTTP status a failure of `kind` is answered with.
pub fn status(kind: FailureKind) -> StatusCode {
    match kind {
        FailureKind::InvalidInput | FailureKind::InvalidSpec => StatusCode::BAD_REQUEST,
        FailureKind::EngineUnreachable | FailureKind::LedgerBusy | FailureKind::Interrupted => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::CONFLICT,
    }
}

fn sources(state: &WebState, actions: &Actions) -> Sources {
    Sources { manager: state.manager, ledger: state.ledger.clone(), images: actions.images.clone() }
}

/// `berth release`: gives back what `request` names (a fallback in use is kept unless forced).
pub async fn release(state: &WebState, actions: &Actions, request: ReleaseRequest) -> Result<Ports, InstanceFailure> {
    let Some(directory) = state.ledger.clone() else {
        return Err(InstanceFailure::new(FailureKind::InvalidInput, "berth has no ledger state directory here"));
    };
    tracing::info!(action = "release", project = %request.project, port = ?request.port, "web_action");
    actions
        .to_the_end(async move {
            let released =
                tokio::task::spawn_blocking(move || ledger::release(&mut Ledger::open(&directory)?, &request))
                    .await
                    .map_err(|error| InstanceFailure::new(FailureKind::Interrupted, error.to_string()))?
                    .map_err(|error| InstanceFailure::new(error.kind(), error.to_string()))?;
            Ok(Ports { ports: released.iter().map(|lease| lease.port).collect() })
        })
        .await
}

/// The worker's `stop_service`: stops and removes the instance, releasing its ports.
pub async fn stop(
    state: &WebState,
    actions: &Actions,
    request: StopRequest,
) -> Result<ServiceStopped, InstanceFailure> {
    let service = service_of(request.service.as_deref())?;
    tracing::info!(action = "stop", service = %service, instance = request.instance_id, "web_action");
    let engine = state.engine.get().await.map_err(|error| InstanceFailure::new(error.kind(), error.to_string()))?;
    let (sources, host) = (sources(state, actions), actions.host.clone());
    actions.to_the_end(async move { sources.stop(&engine, &service, &request, &host).await }).await
}

/// The worker's `start_service`: starts (or adopts) the instance and waits until it is ready;
/// a failed start undoes what it made.
pub async fn start(
    state: &WebState,
    actions: &Actions,
    request: StartRequest,
) -> Result<ServiceStarted, InstanceFailure> {
    let service = service_of(request.service.as_deref())?;
    tracing::info!(action = "start", service = %service, instance = request.instance_id, "web_action");
    let engine = state.engine.get().await.map_err(|error| InstanceFailure::new(error.kind(), error.to_string()))?;
    let (sources, host, interrupted) = (sources(state, actions), actions.host.clone(), actions.interrupted());
    actions
        .to_the_end(async move {
            let mut spec = sources.spec(&service, request.instance_id, request.env.as_deref(), Purpose::Start).await?;
            let options = sources.start_options(&request, &mut spec, || containers::start::run_id("web"))?;
            let started = containers::start::start(&engine, &spec, &options, &|_| {}, interrupted)
                .await
                .map_err(|failed| InstanceFailure::new(failed.kind(), failed.to_string()))?;
            containers::start::finish(&engine, &spec, &started, options.ledger.clone()).await;
            Ok(started.into_contract(host))
        })
        .await
}

fn service_of(service: Option<&str>) -> Result<String, InstanceFailure> {
    service
        .filter(|service| !service.is_empty())
        .map(str::to_string)
        .ok_or_else(|| InstanceFailure::new(FailureKind::InvalidInput, "the request names no `service`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn actions() -> Actions {
        Actions::new(
            Token::new("a-token-of-twenty-chars", "test").expect("a long token"),
            ImageSettings::default(),
            "h".into(),
        )
    }

    fn with(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name.clone(), HeaderValue::from_str(value).expect("a header value"));
        }
        headers
    }

    #[test]
    fn a_short_token_is_refused_naming_its_file_and_length() {
        let error = Token::new("short", "/etc/berth/token").expect_err("refused").to_string();
        assert!(error.contains("/etc/berth/token is 5 characters long; use at least 16"), "{error}");
    }

    #[tokio::test]
    async fn only_the_token_logs_in_and_a_form_needs_the_session_and_its_csrf_token() {
        let actions = actions();
        assert_eq!(actions.log_in("a-token-of-twenty-charz").await, None);
        let (session, csrf) = actions.log_in("a-token-of-twenty-chars").await.expect("logged in");
        let cookie = format!("other=1; {SESSION_COOKIE}={session}");
        let browser = with(&[(header::COOKIE, &cookie), (header::HOST, "127.0.0.1:7000")]);
        assert_eq!(actions.access(&browser), Access::LoggedIn);
        assert_eq!(actions.check_session(&browser).and_then(|expected| check_csrf(&expected, &csrf)), Ok(()));
        assert_eq!(
            actions
                .check_session(&browser)
                .and_then(|expected| check_csrf(&expected, "guess"))
                .expect_err("refused")
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            actions.check_session(&browser).and_then(|expected| check_csrf(&expected, "")).expect_err("refused").status,
            StatusCode::FORBIDDEN
        );
        let no_session = with(&[(header::HOST, "127.0.0.1:7000")]);
        assert_eq!(actions.access(&no_session), Access::LoggedOut);
        assert_eq!(actions.check_session(&no_session).expect_err("refused").status, StatusCode::UNAUTHORIZED);
        let elsewhere =
            with(&[(header::COOKIE, &cookie), (header::HOST, "127.0.0.1:7000"), (header::ORIGIN, "http://evil.test")]);
        assert_eq!(actions.check_session(&elsewhere).expect_err("refused").status, StatusCode::FORBIDDEN);
        let own = with(&[
            (header::COOKIE, &cookie),
            (header::HOST, "127.0.0.1:7000"),
            (header::ORIGIN, "http://127.0.0.1:7000"),
        ]);
        assert_eq!(actions.check_session(&own), Ok(csrf.clone()));
        actions.log_out(&browser);
        assert_eq!(actions.access(&browser), Access::LoggedOut);
    }

    #[tokio::test]
    async fn a_script_needs_the_token_as_bearer() {
        let actions = actions();
        let bearer = |value: &str| with(&[(header::AUTHORIZATION, value)]);
        assert!(actions.check_bearer(&bearer("Bearer a-token-of-twenty-chars")).await.is_ok());
        assert!(actions.check_bearer(&bearer("bearer  a-token-of-twenty-chars ")).await.is_ok());
        assert!(actions.check_bearer(&bearer("Bearer a-token-of-twenty-charz")).await.is_err());
        assert!(actions.check_bearer(&bearer("Basic eDp5")).await.is_err());
        assert!(actions.check_bearer(&HeaderMap::new()).await.is_err());
    }

    #[test]
    fn a_token_of_invisible_or_non_ascii_characters_is_refused() {
        for text in ["a-token-of-twenty-chars\u{7}", "a-token-of-twenty-chärs", "a token of twenty chars"] {
            let error = Token::new(text, "t").expect_err("refused").to_string();
            assert!(error.contains("other than visible ASCII"), "{error}");
        }
    }

    #[tokio::test]
    async fn sessions_are_bounded() {
        let actions = actions();
        for _ in 0..MAXIMUM_SESSIONS + 10 {
            actions.log_in("a-token-of-twenty-chars").await.expect("logged in");
        }
        assert_eq!(actions.sessions().len(), MAXIMUM_SESSIONS);
    }

    #[test]
    fn the_session_cookie_is_http_only_and_same_site_strict() {
        let cookie = session_cookie(Some("abc".into()));
        assert!(
            cookie.contains("berth_session=abc") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict")
        );
        assert!(session_cookie(None).contains("Max-Age=0"));
    }
}
