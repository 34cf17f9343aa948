//! Which Docker engine berth talks to: exactly the one `docker` would, from `DOCKER_HOST`
//! (with `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`), else the docker CLI's context
//! (`DOCKER_CONTEXT`, else `currentContext` in `$DOCKER_CONFIG/config.json`), else the
//! local socket.
//!
//! A setting berth cannot honour (`ssh://`, a context that does not exist, TLS without its
//! certificates) is an [`EngineSettingError`] naming it: berth never falls back to another
//! engine than the one the user pointed at. The settings are read by the caller and passed
//! in; resolving reads only the docker CLI's own context files.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The local engine's socket, used when nothing names another engine.
const LOCAL_SOCKET: &str = "/var/run/docker.sock";

/// The docker CLI's engine settings, as found in the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineSettings {
    /// `DOCKER_HOST`.
    pub docker_host: Option<String>,
    /// `DOCKER_TLS_VERIFY` set to anything but the empty string.
    pub tls_verify: bool,
    /// `DOCKER_CERT_PATH`.
    pub cert_path: Option<PathBuf>,
    /// `DOCKER_CONTEXT`.
    pub context: Option<String>,
    /// `DOCKER_CONFIG`, else `~/.docker`.
    pub config_dir: Option<PathBuf>,
}

impl EngineSettings {
    /// The settings from environment variables looked up with `variable`.
    pub fn from_environment(variable: impl Fn(&str) -> Option<OsString>) -> Self {
        let text = |name: &str| {
            variable(name).map(|value| value.to_string_lossy().into_owned()).filter(|value| !value.is_empty())
        };
        Self {
            docker_host: text("DOCKER_HOST"),
            tls_verify: text("DOCKER_TLS_VERIFY").is_some(),
            cert_path: text("DOCKER_CERT_PATH").map(PathBuf::from),
            context: text("DOCKER_CONTEXT"),
            config_dir: text("DOCKER_CONFIG")
                .map(PathBuf::from)
                .or_else(|| text("HOME").map(|home| Path::new(&home).join(".docker"))),
        }
    }
}

/// The engine to connect to, and which setting chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineTarget {
    /// How to reach it.
    pub endpoint: Endpoint,
    /// Which setting chose it, for messages: `DOCKER_HOST`, `context "remote"`, `the local socket`.
    pub chosen_by: String,
}

/// How to reach an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket.
    Unix(PathBuf),
    /// Plain HTTP to `host:port`.
    Http(String),
    /// HTTPS to `host:port`, with `ca.pem`, `cert.pem` and `key.pem` from a directory.
    Https {
        /// `host:port`.
        address: String,
        /// The directory holding the certificates.
        certificates: PathBuf,
    },
}

impl fmt::Display for EngineTarget {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.endpoint {
            Endpoint::Unix(path) => write!(formatter, "unix://{}", path.display())?,
            Endpoint::Http(address) => write!(formatter, "tcp://{address}")?,
            Endpoint::Https { address, .. } => write!(formatter, "tcp://{address} (TLS)")?,
        }
        write!(formatter, ", from {}", self.chosen_by)
    }
}

/// A Docker engine setting berth cannot honour as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot use the Docker engine {setting}: {problem}")]
pub struct EngineSettingError {
    /// The setting, `DOCKER_HOST=ssh://build-host`.
    pub setting: String,
    /// What is wrong, and what to do.
    pub problem: String,
}

/// Resolves `settings` to one engine; see the module docs.
pub fn resolve(settings: &EngineSettings) -> Result<EngineTarget, EngineSettingError> {
    if let Some(host) = &settings.docker_host {
        let setting = format!("DOCKER_HOST={host}");
        let certificates =
            settings.tls_verify.then(|| settings.cert_path.clone().or_else(|| settings.config_dir.clone())).flatten();
        let endpoint = endpoint(host, settings.tls_verify, certificates, &setting)?;
        return Ok(EngineTarget { endpoint, chosen_by: "DOCKER_HOST".to_string() });
    }
    let (context, chosen_by) = match &settings.context {
        Some(context) => (Some(context.clone()), format!("DOCKER_CONTEXT={context}")),
        None => current_context(settings.config_dir.as_deref())?
            .map_or((None, String::new()), |context| (Some(context.clone()), format!("docker context {context}"))),
    };
    match context.filter(|context| context != "default") {
        None => Ok(EngineTarget {
            endpoint: Endpoint::Unix(PathBuf::from(LOCAL_SOCKET)),
            chosen_by: "the local socket (no DOCKER_HOST, no docker context)".to_string(),
        }),
        Some(context) => {
            let endpoint = context_endpoint(settings.config_dir.as_deref(), &context, &chosen_by)?;
            Ok(EngineTarget { endpoint, chosen_by })
        }
    }
}

/// An engine address as `DOCKER_HOST` or a context writes it.
fn endpoint(
    host: &str,
    tls: bool,
    certificates: Option<PathBuf>,
    setting: &str,
) -> Result<Endpoint, EngineSettingError> {
    let refuse = |problem: String| EngineSettingError { setting: setting.to_string(), problem };
    let (scheme, rest) = host.split_once("://").ok_or_else(|| {
        refuse("it is not an address such as unix:///var/run/docker.sock or tcp://host:2376".to_string())
    })?;
    let address = |default_port: u16| {
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(refuse(format!("`{rest}` is not a host:port")));
        }
        // `[::1]:2375`, `host:2375`, `host`; a port that is there must be a port.
        match authority
            .rsplit_once(':')
            .filter(|(host, _)| !host.ends_with(':') && (!host.starts_with('[') || host.ends_with(']')))
        {
            Some((_, port)) if port.parse::<u16>().is_ok_and(|port| port > 0) => Ok(authority.to_string()),
            Some((_, port)) if !authority.starts_with('[') || authority.contains("]:") => {
                Err(refuse(format!("`{port}` is not a port (1-65535)")))
            }
            _ => Ok(format!("{authority}:{default_port}")),
        }
    };
    let secured = |address: String, certificates: Option<PathBuf>| {
        let certificates = certificates.ok_or_else(|| {
            refuse(
                "TLS needs certificates: set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem"
                    .to_string(),
            )
        })?;
        for file in ["ca.pem", "cert.pem", "key.pem"] {
            if !certificates.join(file).is_file() {
                return Err(refuse(format!(
                    "TLS is on but {} does not exist; set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem",
                    certificates.join(file).display()
                )));
            }
        }
        Ok(Endpoint::Https { address, certificates })
    };
    match scheme {
        "unix" if rest.starts_with('/') => Ok(Endpoint::Unix(PathBuf::from(rest))),
        "unix" => Err(refuse(format!("`{rest}` is not an absolute socket path"))),
        "tcp" if tls => secured(address(2376)?, certificates),
        "tcp" | "http" => Ok(Endpoint::Http(address(2375)?)),
        "https" => secured(address(2376)?, certificates),
        "ssh" => Err(refuse(
            "berth does not speak to engines over ssh; forward the engine's socket (ssh -NL /tmp/remote-docker.sock:/var/run/docker.sock HOST) and set DOCKER_HOST=unix:///tmp/remote-docker.sock".to_string(),
        )),
        other => Err(refuse(format!("berth cannot reach `{other}://` engines; use unix://, tcp://, http:// or https://"))),
    }
}

/// `currentContext` from the docker CLI's `config.json`, when it names one.
fn current_context(config_dir: Option<&Path>) -> Result<Option<String>, EngineSettingError> {
    let Some(path) = config_dir.map(|directory| directory.join("config.json")) else { return Ok(None) };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(EngineSettingError {
                setting: format!("context from {}", path.display()),
                problem: format!("it cannot be read: {error}"),
            });
        }
    };
    let config: serde_json::Value = serde_json::from_str(&text).map_err(|error| EngineSettingError {
        setting: format!("context from {}", path.display()),
        problem: format!("it is not valid JSON ({error}); fix it or set DOCKER_HOST"),
    })?;
    Ok(config
        .get("currentContext")
        .and_then(serde_json::Value::as_str)
        .filter(|name| !name.is_empty())
        .map(str::to_string))
}

/// The docker endpoint of context `name`, from the docker CLI's context store.
fn context_endpoint(config_dir: Option<&Path>, name: &str, chosen_by: &str) -> Result<Endpoint, EngineSettingError> {
    let refuse = |problem: String| EngineSettingError { setting: chosen_by.to_string(), problem };
    let directory = config_dir
        .ok_or_else(|| refuse("no docker configuration directory (set DOCKER_CONFIG or HOME)".to_string()))?;
    let digest: String = Sha256::digest(name.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect();
    let meta = directory.join("contexts/meta").join(&digest).join("meta.json");
    let text = std::fs::read_to_string(&meta).map_err(|error| {
        refuse(format!("the context is not in {} ({error}); `docker context ls` lists the contexts", meta.display()))
    })?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| refuse(format!("{} is not valid JSON: {error}", meta.display())))?;
    let docker = &value["Endpoints"]["docker"];
    let host =
        docker["Host"].as_str().ok_or_else(|| refuse(format!("{} names no docker endpoint Host", meta.display())))?;
    let certificates = directory.join("contexts/tls").join(&digest).join("docker");
    let tls = certificates.join("ca.pem").is_file() && docker["SkipTLSVerify"].as_bool() != Some(true);
    endpoint(host, tls, tls.then_some(certificates), &format!("{chosen_by} (Host {host})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(host: Option<&str>) -> EngineSettings {
        EngineSettings { docker_host: host.map(str::to_string), ..EngineSettings::default() }
    }

    #[test]
    fn docker_host_schemes_resolve_to_exactly_that_engine() {
        let resolved = |host: &str| resolve(&settings(Some(host))).map(|target| target.endpoint);
        assert_eq!(
            resolved("unix:///run/user/1000/docker.sock"),
            Ok(Endpoint::Unix("/run/user/1000/docker.sock".into()))
        );
        assert_eq!(resolved("tcp://127.0.0.1:41999"), Ok(Endpoint::Http("127.0.0.1:41999".into())));
        assert_eq!(resolved("tcp://build-host"), Ok(Endpoint::Http("build-host:2375".into())));
        assert_eq!(resolved("http://[::1]:2375/"), Ok(Endpoint::Http("[::1]:2375".into())));
        assert_eq!(resolve(&settings(None)).map(|target| target.endpoint), Ok(Endpoint::Unix(LOCAL_SOCKET.into())));
    }

    #[test]
    fn settings_berth_cannot_honour_are_errors_naming_them() {
        for (host, needle) in [
            ("ssh://me@build-host", "does not speak to engines over ssh"),
            ("npipe:////./pipe/docker_engine", "cannot reach `npipe://` engines"),
            ("build-host:2375", "is not an address"),
            ("unix://relative.sock", "not an absolute socket path"),
            ("https://build-host", "TLS needs certificates"),
            ("tcp://", "is not a host:port"),
            ("tcp://127.0.0.1:99999", "`99999` is not a port"),
            ("tcp://127.0.0.1:0", "`0` is not a port"),
        ] {
            let error = resolve(&settings(Some(host))).expect_err(host);
            assert!(
                error.to_string().starts_with(&format!("cannot use the Docker engine DOCKER_HOST={host}: ")),
                "{error}"
            );
            assert!(error.to_string().contains(needle), "{host}: {error}");
        }
        let missing = tempfile::tempdir().expect("tempdir");
        let tls = EngineSettings {
            docker_host: Some("tcp://build-host:2376".into()),
            tls_verify: true,
            cert_path: Some(missing.path().to_path_buf()),
            ..EngineSettings::default()
        };
        assert!(resolve(&tls).expect_err("no certificates").to_string().contains("ca.pem does not exist"));
    }

    #[test]
    fn the_docker_cli_context_is_followed_and_a_missing_one_is_an_error() {
        let config = tempfile::tempdir().expect("tempdir");
        let digest: String = Sha256::digest(b"remote").iter().map(|byte| format!("{byte:02x}")).collect();
        let meta = config.path().join("contexts/meta").join(digest);
        std::fs::create_dir_all(&meta).expect("mkdir");
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.1.2.3:2375","SkipTLSVerify":false}}}"#,
        )
        .expect("meta");
        std::fs::write(config.path().join("config.json"), r#"{"currentContext":"remote"}"#).expect("config");
        let from_config = EngineSettings { config_dir: Some(config.path().to_path_buf()), ..EngineSettings::default() };
        let target = resolve(&from_config).expect("context");
        assert_eq!(target.endpoint, Endpoint::Http("10.1.2.3:2375".into()));
        assert_eq!(target.chosen_by, "docker context remote");

        let named = EngineSettings { context: Some("gone".into()), ..from_config.clone() };
        let error = resolve(&named).expect_err("no such context");
        assert!(
            error.to_string().starts_with("cannot use the Docker engine DOCKER_CONTEXT=gone: the context is not in"),
            "{error}"
        );

        let default = EngineSettings { context: Some("default".into()), ..from_config.clone() };
        assert_eq!(resolve(&default).expect("default").endpoint, Endpoint::Unix(LOCAL_SOCKET.into()));

        let host_wins = EngineSettings { docker_host: Some("unix:///tmp/x.sock".into()), ..from_config };
        assert_eq!(resolve(&host_wins).expect("host").endpoint, Endpoint::Unix("/tmp/x.sock".into()));
    }
}
