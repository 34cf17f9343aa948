//! Waiting until an instance really is ready, by the strategy its registry entry names.
//!
//! Checks go to the container's own address and port: docker-proxy accepts connections on
//! the published host port before the application listens, so a connect there proves
//! nothing. One deadline covers the whole wait; a container that exits, or turns
//! unhealthy, ends the wait at once. Every failure carries the container's last log lines.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bollard::models::HealthStatusEnum;
use tokio::net::TcpStream;

use super::StartError;
use super::docker::{Engine, Existing};
use super::spec::InstanceSpec;
use crate::registry::Ready;

/// Pause between two checks.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// Log lines attached to a failure.
pub const FAILURE_LOG_LINES: usize = 20;

/// Waits until `spec`'s container is ready or `deadline` passes; `on_wait` hears how long
/// it has waited so far after each unsuccessful check (for heartbeats and progress).
pub async fn wait(
    engine: &Engine,
    spec: &InstanceSpec,
    deadline: Instant,
    on_wait: &(dyn Fn(Duration) + Send + Sync),
) -> Result<(), StartError> {
    let started = Instant::now();
    let mut last_seen: Option<String> = None;
    loop {
        let existing = match engine.inspect(&spec.container_name).await? {
            Some(existing) if existing.running => existing,
            stopped => {
                return Err(StartError::ExitedEarly {
                    name: spec.container_name.clone(),
                    exit_code: stopped.and_then(|gone| gone.exit_code),
                    logs: engine.logs(&spec.container_name, Some(FAILURE_LOG_LINES)).await,
                });
            }
        };
        // A check gets no more time than the deadline leaves: an exec that never exits
        // must not hold the wait past it.
        match tokio::time::timeout_at(deadline.into(), check(engine, spec, &existing)).await {
            Ok(Ok(Seen::Ready)) => return Ok(()),
            Ok(Ok(Seen::NotYet(seen))) => last_seen = Some(seen),
            // A check cut short by the deadline saw nothing; the one before it says more.
            Err(_) => {}
            Ok(Err(error)) => return Err(error),
        }
        on_wait(started.elapsed());
        let now = Instant::now();
        if now >= deadline {
            return Err(StartError::NotReady {
                name: spec.container_name.clone(),
                timeout: spec.timeout,
                strategy: describe(&spec.ready),
                last_seen: last_seen.unwrap_or_else(|| "no check finished before the deadline".to_string()),
                logs: engine.logs(&spec.container_name, Some(FAILURE_LOG_LINES)).await,
            });
        }
        tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
    }
}

/// What one check saw.
enum Seen {
    Ready,
    /// Not yet, and what the check saw instead (`HTTP 404`, `connection refused`).
    NotYet(String),
}

/// One check; an error means "never".
async fn check(engine: &Engine, spec: &InstanceSpec, existing: &Existing) -> Result<Seen, StartError> {
    let own_address = |key: &str| {
        let port = spec.binding(key)?.container_port;
        existing.address.map(|address| SocketAddr::new(address, port))
    };
    let no_address = || Seen::NotYet("the container has no address on its network yet".to_string());
    match &spec.ready {
        Ready::Tcp(key) => {
            let Some(address) = own_address(key) else { return Ok(no_address()) };
            Ok(match tokio::time::timeout(CHECK_TIMEOUT, TcpStream::connect(address)).await {
                Ok(Ok(_)) => Seen::Ready,
                Ok(Err(error)) => Seen::NotYet(format!("TCP connect to {address}: {error}")),
                Err(_) => Seen::NotYet(format!("TCP connect to {address} timed out after {CHECK_TIMEOUT:?}")),
            })
        }
        Ready::Http { port, path, status } => {
            let Some(address) = own_address(port) else { return Ok(no_address()) };
            let client = reqwest::Client::builder().timeout(CHECK_TIMEOUT).build().map_err(|error| {
                StartError::Readiness { name: spec.container_name.clone(), detail: error.to_string() }
            })?;
            Ok(match client.get(format!("http://{address}{path}")).send().await {
                Ok(response) if response.status().as_u16() == *status => Seen::Ready,
                Ok(response) => Seen::NotYet(format!("HTTP {} from {address}{path}", response.status().as_u16())),
                Err(error) if error.is_timeout() => {
                    Seen::NotYet(format!("no HTTP answer from {address} within {CHECK_TIMEOUT:?}"))
                }
                Err(error) if error.is_connect() => Seen::NotYet(format!("connection to {address} refused")),
                Err(error) => Seen::NotYet(format!("HTTP request to {address} failed: {error}")),
            })
        }
        Ready::Log { pattern, times } => {
            let pattern = regex::Regex::new(pattern).map_err(|error| StartError::Readiness {
                name: spec.container_name.clone(),
                detail: crate::registry::names::one_line(&error.to_string()),
            })?;
            let lines = engine.logs(&spec.container_name, None).await;
            let matches = lines.iter().map(|line| pattern.find_iter(line).count()).sum::<usize>();
            Ok(if matches >= *times as usize {
                Seen::Ready
            } else {
                Seen::NotYet(format!("the pattern matched {matches} of {times} time(s) in {} log line(s)", lines.len()))
            })
        }
        Ready::Healthcheck => match existing.health {
            Some(HealthStatusEnum::HEALTHY) => Ok(Seen::Ready),
            Some(HealthStatusEnum::UNHEALTHY) => Err(StartError::Unhealthy {
                name: spec.container_name.clone(),
                logs: engine.logs(&spec.container_name, Some(FAILURE_LOG_LINES)).await,
            }),
            Some(HealthStatusEnum::STARTING) => Ok(Seen::NotYet("health status `starting`".to_string())),
            _ => Err(StartError::Readiness {
                name: spec.container_name.clone(),
                detail: format!("image {} has no HEALTHCHECK; choose another `ready:` strategy", spec.image),
            }),
        },
        Ready::Command(command) => Ok(match engine.exec(&spec.container_name, command).await? {
            Some(0) => Seen::Ready,
            Some(code) => Seen::NotYet(format!("the command exited {code}")),
            None => Seen::NotYet("the command gave no exit code".to_string()),
        }),
    }
}

/// The strategy in words, for messages.
pub fn describe(ready: &Ready) -> String {
    match ready {
        Ready::Tcp(key) => format!("TCP connect on {key}"),
        Ready::Http { port, path, status } => format!("HTTP GET {path} on {port} answering {status}"),
        Ready::Log { pattern, times } => format!("log line /{pattern}/ seen {times} time(s)"),
        Ready::Healthcheck => "the image's HEALTHCHECK".to_string(),
        Ready::Command(command) => format!("`{}` exiting 0", command.join(" ")),
    }
}
