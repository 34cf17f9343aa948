//! Getting an instance's image onto the host: through the mirror a site pulls from, as the
//! pull policy says, once per image however many instances need it, with progress.
//!
//! The reference rewriting and the reading of a pull's failure are pure; [`ensure`] is the
//! one place that decides whether to pull, shared by `berth up` and the worker's starts.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use berth_workflows::PullPolicy;
use bollard::auth::DockerCredentials;
use oci_spec::distribution::Reference;

use super::StartError;
use super::docker::Engine;

/// Where images come from: the pull policy, a mirror standing in for Docker Hub, and the
/// docker CLI's configuration directory holding the user's registry credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSettings {
    /// When to pull.
    pub policy: PullPolicy,
    /// `registry.internal` or `registry.internal:5000/hub`: Docker Hub images are pulled
    /// from here instead (`redis:7.2` becomes `registry.internal/library/redis:7.2`).
    pub mirror: Option<String>,
    /// `$DOCKER_CONFIG`, else `~/.docker`: its `config.json` holds logins and helpers.
    pub docker_config: Option<PathBuf>,
}

/// Why a mirror setting cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "image mirror `{mirror}` is not a registry address: give a host with an optional port and path, such as registry.internal or 127.0.0.1:5000/hub (no scheme, no tag)"
)]
pub struct MirrorError {
    /// The setting as given.
    pub mirror: String,
}

/// The longest mirror setting: references under it must stay within Docker's 255 characters.
const MAXIMUM_MIRROR: usize = 128;

/// The mirror setting checked: a registry host (with port and path prefix if any) that
/// image references can be put under; `None` for an empty setting (no mirror).
pub fn check_mirror(mirror: &str) -> Result<Option<String>, MirrorError> {
    let refused =
        || MirrorError { mirror: mirror.chars().take(MAXIMUM_MIRROR).collect::<String>().escape_debug().to_string() };
    if mirror.is_empty() {
        return Ok(None);
    }
    let trimmed = mirror.trim_end_matches('/');
    let host = trimmed.split('/').next().unwrap_or_default();
    let port_fits = host.split_once(':').is_none_or(|(_, port)| port.parse::<u16>().is_ok_and(|port| port > 0));
    // A registry host holds a dot or a port, or is localhost; anything else would be read
    // as a Docker Hub user name.
    let looks_like_host = (host.contains('.') || host.contains(':') || host == "localhost")
        && port_fits
        && mirror.len() <= MAXIMUM_MIRROR;
    let parsed = Reference::from_str(&format!("{trimmed}/library/probe:1"));
    match parsed {
        Ok(reference) if looks_like_host && !trimmed.contains("://") && reference.registry() == host => {
            Ok(Some(trimmed.to_string()))
        }
        _ => Err(refused()),
    }
}

/// The reference to pull and run for `image`: Docker Hub images under `mirror`, anything
/// that names its own registry unchanged.
pub fn mirrored(image: &str, mirror: Option<&str>) -> String {
    let Some(mirror) = mirror else { return image.to_string() };
    let Ok(reference) = Reference::from_str(image) else { return image.to_string() };
    if reference.registry() != "docker.io" {
        return image.to_string();
    }
    let mut text = format!("{mirror}/{}", reference.repository());
    if let Some(tag) = reference.tag() {
        text.push(':');
        text.push_str(tag);
    }
    if let Some(digest) = reference.digest() {
        text.push('@');
        text.push_str(digest);
    }
    text
}

/// The registry host an image is pulled from, as the docker CLI keys its logins.
pub fn registry_of(image: &str) -> String {
    match Reference::from_str(image) {
        Ok(reference) if reference.registry() == "docker.io" => "https://index.docker.io/v1/".to_string(),
        Ok(reference) => reference.registry().to_string(),
        Err(_) => String::new(),
    }
}

/// The user's credentials for `image`'s registry from `config_dir/config.json` (logins and
/// credential helpers); `None` when there are none, which is what public registries need.
pub fn credentials(config_dir: Option<&Path>, image: &str) -> Option<DockerCredentials> {
    let file = std::fs::File::open(config_dir?.join("config.json")).ok()?;
    let server = registry_of(image);
    match docker_credential::get_credential_from_reader(file, &server).ok()? {
        docker_credential::DockerCredential::IdentityToken(token) => {
            Some(DockerCredentials { identitytoken: Some(token), serveraddress: Some(server), ..Default::default() })
        }
        docker_credential::DockerCredential::UsernamePassword(username, password) => Some(DockerCredentials {
            username: Some(username),
            password: Some(password),
            serveraddress: Some(server),
            ..Default::default()
        }),
    }
}

/// How a pull failed, read from the engine's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullFailure {
    /// The registry answered that the image is not there (or not for these credentials).
    Missing,
    /// The registry has the image's manifest but lost a layer: it is damaged.
    Damaged,
    /// The registry could not be reached or did not answer.
    Unreachable,
    /// Something else; the engine's message says what.
    Other,
}

/// Reads what the engine said about a failed pull: HTTP status (when the request itself
/// failed) and message.
pub fn classify_pull_failure(status: Option<u16>, message: &str) -> PullFailure {
    let message = message.to_ascii_lowercase();
    let said = |words: &[&str]| words.iter().any(|word| message.contains(word));
    if said(&[
        "connection refused",
        "no such host",
        "i/o timeout",
        "timeout exceeded",
        "deadline exceeded",
        "network is unreachable",
        "no route to host",
        "tls handshake",
        "connection reset",
        "server misbehaving",
        "unexpected eof",
        "service unavailable",
        "bad gateway",
    ]) {
        return PullFailure::Unreachable;
    }
    if said(&["unknown blob", "blob unknown"]) {
        return PullFailure::Damaged;
    }
    if status == Some(404)
        || said(&["manifest unknown", "not found", "repository does not exist", "pull access denied", "unauthorized"])
    {
        return PullFailure::Missing;
    }
    PullFailure::Other
}

/// One step of a pull as the engine reports it: a layer's state and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullStep {
    /// The image being pulled.
    pub image: String,
    /// The layer, when the step is about one.
    pub layer: Option<String>,
    /// `Downloading`, `Extracting`, `Pull complete`, …
    pub status: String,
    /// Bytes done and in all, when the engine says.
    pub bytes: Option<(u64, u64)>,
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// The image was on the host and the policy did not ask for a pull.
    Present,
    /// It was pulled now.
    Pulled,
    /// Another start in this process pulled it since this one began.
    PulledAlready,
}

/// The pulls of one process: one at a time per image, and when each last finished, so that
/// ten starts of one image pull it once.
pub type Pulls = super::keyed::Keyed<Option<LastPull>>;

/// The last pull of an image this process finished.
#[derive(Debug, Clone)]
pub struct LastPull {
    /// When it finished.
    finished: Instant,
    /// The run it was made for.
    run: String,
}

/// Gets `image` (already mirrored) onto the host as `settings.policy` says, for `service`,
/// in run `run`. `since` is when the caller's request began: a pull this process finished
/// after it, or made for the same run (whose instances may start one after another), counts
/// as this request's pull. A pull that makes no progress for [`PULL_STALL`] fails as
/// `RegistryUnreachable`.
pub async fn ensure(
    engine: &Engine,
    image: &str,
    service: &str,
    settings: &ImageSettings,
    (since, run): (Instant, &str),
    progress: &(dyn Fn(PullStep) + Send + Sync),
) -> Result<Ensured, StartError> {
    let slot = engine.pulls().slot(image);
    let mut last_pulled = slot.lock().await;
    if last_pulled.as_ref().is_some_and(|last| last.finished >= since || last.run == run) {
        return Ok(Ensured::PulledAlready);
    }
    match settings.policy {
        PullPolicy::Never if engine.has_image(image).await? => return Ok(Ensured::Present),
        PullPolicy::Never => {
            return Err(StartError::ImageMissing {
                image: image.to_string(),
                service: service.to_string(),
                reason: "it is not on this host and the pull policy is `never`".to_string(),
                remedy: "pull it (`docker pull`), load it, or use --pull missing".to_string(),
            });
        }
        PullPolicy::Missing if engine.has_image(image).await? => return Ok(Ensured::Present),
        PullPolicy::Missing | PullPolicy::Always => {}
    }
    // A credential helper is a program that may hang: run it aside, bounded.
    let config = settings.docker_config.clone();
    let reference = image.to_string();
    let lookup = tokio::task::spawn_blocking(move || credentials(config.as_deref(), &reference));
    let credentials = match tokio::time::timeout(CREDENTIALS_WAIT, lookup).await {
        Ok(found) => found.unwrap_or_default(),
        Err(_) => {
            return Err(StartError::RegistryUnreachable {
                image: image.to_string(),
                service: service.to_string(),
                detail: format!(
                    "the docker credential helper for {} did not answer within {}s (see credsStore and credHelpers in the docker config)",
                    registry_of(image),
                    CREDENTIALS_WAIT.as_secs()
                ),
            });
        }
    };
    engine.pull(image, service, credentials, progress).await?;
    *last_pulled = Some(LastPull { finished: Instant::now(), run: run.to_string() });
    Ok(Ensured::Pulled)
}

/// How long a pull may go without any word from the engine before it counts as stalled.
pub const PULL_STALL: Duration = Duration::from_secs(120);
/// How long the user's docker credential helper may take to answer.
const CREDENTIALS_WAIT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_images_go_through_the_mirror_and_others_stay() {
        let mirror = Some("registry.internal");
        assert_eq!(mirrored("redis:7.2", mirror), "registry.internal/library/redis:7.2");
        assert_eq!(mirrored("grafana/grafana:11.1.0", mirror), "registry.internal/grafana/grafana:11.1.0");
        assert_eq!(mirrored("docker.io/library/redis:7.2", mirror), "registry.internal/library/redis:7.2");
        assert_eq!(mirrored("quay.io/prometheus/prometheus:v2", mirror), "quay.io/prometheus/prometheus:v2");
        assert_eq!(mirrored("127.0.0.1:5000/x/y:1", mirror), "127.0.0.1:5000/x/y:1");
        assert_eq!(mirrored("redis", Some("127.0.0.1:5000/hub")), "127.0.0.1:5000/hub/library/redis:latest");
        let pinned = format!("redis@sha256:{}", "a".repeat(64));
        assert_eq!(mirrored(&pinned, mirror), format!("registry.internal/library/redis@sha256:{}", "a".repeat(64)));
        assert_eq!(mirrored("redis:7.2", None), "redis:7.2");
    }

    #[test]
    fn mirror_settings_must_name_a_registry() {
        assert_eq!(check_mirror("registry.internal/"), Ok(Some("registry.internal".to_string())));
        assert_eq!(check_mirror("127.0.0.1:5000/hub"), Ok(Some("127.0.0.1:5000/hub".to_string())));
        assert_eq!(check_mirror("localhost:5000"), Ok(Some("localhost:5000".to_string())));
        assert_eq!(check_mirror(""), Ok(None), "an empty setting means no mirror");
        let long = format!("{}.internal", "r".repeat(300));
        for bad in [
            "https://registry.internal",
            "mirror",
            "registry.internal/x:1",
            "a b.c",
            "127.0.0.1:99999",
            "127.0.0.1:0",
            &long,
        ] {
            let error = check_mirror(bad).expect_err(bad);
            assert!(error.to_string().starts_with("image mirror `"), "{error}");
        }
    }

    #[test]
    fn logins_are_keyed_as_the_docker_cli_keys_them() {
        assert_eq!(registry_of("redis:7.2"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("127.0.0.1:5000/x/y:1"), "127.0.0.1:5000");
        let directory = tempfile::tempdir().expect("temp dir");
        // "user:secret" in base64, as `docker login` writes it.
        std::fs::write(
            directory.path().join("config.json"),
            r#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpzZWNyZXQ="}}}"#,
        )
        .expect("write");
        let found = credentials(Some(directory.path()), "127.0.0.1:5000/x/y:1").expect("credentials");
        assert_eq!((found.username.as_deref(), found.password.as_deref()), (Some("user"), Some("secret")));
        assert_eq!(credentials(Some(directory.path()), "redis:7.2"), None);
        assert_eq!(credentials(None, "redis:7.2"), None);
    }

    #[test]
    fn pull_failures_tell_a_missing_image_from_an_absent_registry() {
        let missing = [
            (Some(404), "manifest for 127.0.0.1:5000/library/nope:1 not found: manifest unknown: manifest unknown"),
            (None, "manifest unknown"),
            (
                Some(404),
                "repository 127.0.0.1:5000/library/nope not found: name unknown: repository name not known to registry",
            ),
            (Some(500), "pull access denied for nope, repository does not exist or may require 'docker login'"),
        ];
        for (status, message) in missing {
            assert_eq!(classify_pull_failure(status, message), PullFailure::Missing, "{message}");
        }
        let unreachable = [
            (Some(500), "Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused"),
            (Some(500), "Get \"https://registry.internal/v2/\": dial tcp: lookup registry.internal: no such host"),
            (None, "net/http: TLS handshake timeout"),
        ];
        for (status, message) in unreachable {
            assert_eq!(classify_pull_failure(status, message), PullFailure::Unreachable, "{message}");
        }
        assert_eq!(classify_pull_failure(None, "unknown blob"), PullFailure::Damaged);
        assert_eq!(classify_pull_failure(Some(500), "no space left on device"), PullFailure::Other);
    }
}
