//! A service's `container:` section: how one instance becomes a container.
//!
//! The image, command, environment (with `{placeholders}` filled per instance), the
//! container-side port of each port key, named volumes, the address to publish on, and
//! how to tell the container is ready. This file holds the model, its serde form and the
//! template language; turning it into a concrete instance is `containers::spec`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::model::{Registry, Service};
use super::names::{self, NameKind};
use super::schema::PORT;

/// How long an instance may take to become ready when the section does not say.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest `timeout:` a section may set: a day, as for `berth up --timeout`.
pub const MAXIMUM_READY_TIMEOUT: Duration = Duration::from_secs(86_400);

/// The `container:` section of a service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSection {
    /// The image, which must already be on the host (nothing is pulled).
    #[serde(deserialize_with = "image")]
    pub image: String,
    /// Replaces the image's command; each argument is a template.
    #[serde(default, deserialize_with = "command")]
    pub command: Option<Vec<String>>,
    /// Environment variables; values are templates.
    #[serde(default, deserialize_with = "environment")]
    pub env: BTreeMap<String, String>,
    /// Container-side port per port key; a key left out listens on its host port inside too.
    #[serde(default, deserialize_with = "container_ports")]
    pub ports: BTreeMap<String, u16>,
    /// Named volumes: `data: /var/lib/x` mounts volume `{service}-data[-N]` at that path.
    #[serde(default, deserialize_with = "volumes")]
    pub volumes: BTreeMap<String, String>,
    /// The host address ports are published on.
    #[serde(default = "loopback")]
    pub host: IpAddr,
    /// How to tell the instance is ready [default: TCP on its first port key].
    #[serde(default)]
    pub ready: Option<Ready>,
    /// How long start plus readiness may take (`30s`, `2m`).
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Services of the same instance that must be ready before this one starts.
    #[serde(default, deserialize_with = "dependencies")]
    pub depends_on: Vec<String>,
    /// Files written into the container before it starts: path → content (a template).
    #[serde(default, deserialize_with = "files")]
    pub files: BTreeMap<String, String>,
}

/// Readiness strategies, after testcontainers' wait strategies. Written as a map with one
/// key naming the strategy (`tcp: broker_port`), or the word `healthcheck`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// A TCP connect to the container's own address on this port key's container port
    /// (not the published host port, which docker-proxy accepts before the app listens).
    Tcp(String),
    /// An HTTP GET to the container's own address.
    Http {
        /// The port key to call.
        port: String,
        /// The path to GET.
        path: String,
        /// The status that means ready.
        status: u16,
    },
    /// A regular expression that must appear in the container's logs `times` times.
    Log {
        /// The pattern.
        pattern: String,
        /// How many matches mean ready.
        times: u32,
    },
    /// The image's own HEALTHCHECK reports healthy.
    Healthcheck,
    /// A command run inside the container exits 0.
    Command(Vec<String>),
}

/// The strategy names, for error messages.
const STRATEGIES: &[&str] = &["tcp", "http", "log", "healthcheck", "command"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpReady {
    port: String,
    #[serde(default = "root", deserialize_with = "http_path")]
    path: String,
    #[serde(default = "ok_status", deserialize_with = "http_status")]
    status: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogReady {
    pattern: String,
    #[serde(default = "once", deserialize_with = "log_times")]
    times: u32,
}

impl<'de> Deserialize<'de> for Ready {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ReadyVisitor)
    }
}

struct ReadyVisitor;

impl<'de> Visitor<'de> for ReadyVisitor {
    type Value = Ready;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("`healthcheck`, or a map with one of `tcp`, `http`, `log`, `command`")
    }

    fn visit_str<E: de::Error>(self, word: &str) -> Result<Ready, E> {
        match word {
            "healthcheck" => Ok(Ready::Healthcheck),
            other => Err(E::unknown_variant(other, STRATEGIES)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ready, A::Error> {
        let Some(kind) = map.next_key::<String>()? else {
            return Err(de::Error::invalid_length(0, &self));
        };
        let ready = match kind.as_str() {
            "tcp" => Ready::Tcp(map.next_value()?),
            "http" => {
                let HttpReady { port, path, status } = map.next_value()?;
                Ready::Http { port, path, status }
            }
            "log" => {
                let LogReady { pattern, times } = map.next_value()?;
                Ready::Log { pattern, times }
            }
            "command" => Ready::Command(map.next_value::<Arguments>()?.0),
            "healthcheck" => {
                map.next_value::<de::IgnoredAny>()?;
                Ready::Healthcheck
            }
            other => return Err(de::Error::unknown_variant(other, STRATEGIES)),
        };
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(
                "`ready` takes one strategy; pick one of tcp, http, log, healthcheck, command",
            ));
        }
        Ok(ready)
    }
}

fn loopback() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

fn default_timeout() -> Duration {
    DEFAULT_READY_TIMEOUT
}

fn root() -> String {
    "/".to_string()
}

fn ok_status() -> u16 {
    200
}

fn once() -> u32 {
    1
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a duration such as 30s or 2m")
        }

        // Parsed inside the visitor so the error carries the value's own line and column.
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            let duration = humantime::parse_duration(text).map_err(|error| {
                E::custom(format_args!("{} is not a duration such as 30s or 2m: {error}", names::shown(text)))
            })?;
            if duration < Duration::from_secs(1) || duration > MAXIMUM_READY_TIMEOUT {
                return Err(E::custom(format_args!(
                    "timeout {} is out of range: a start may take from 1s to 1d",
                    names::shown(text)
                )));
            }
            Ok(duration)
        }
    }

    deserializer.deserialize_str(DurationVisitor)
}

fn image<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    de::DeserializeSeed::deserialize(CheckedText { rule: names::check_image }, deserializer)
}

/// A command or exec line: at least one argument, none holding a NUL byte.
struct Arguments(Vec<String>);

impl<'de> Deserialize<'de> for Arguments {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let arguments = Vec::<String>::deserialize(deserializer)?;
        if arguments.is_empty() {
            return Err(de::Error::custom("a command needs at least the program to run, such as [redis-cli, ping]"));
        }
        for argument in &arguments {
            names::check_argument("argument", argument).map_err(de::Error::custom)?;
        }
        Ok(Self(arguments))
    }
}

fn command<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    Arguments::deserialize(deserializer).map(|arguments| Some(arguments.0))
}

/// A string checked by `rule` inside its visitor, where the parser still stands on it.
#[derive(Clone, Copy)]
struct CheckedText {
    rule: fn(&str) -> Result<(), String>,
}

impl<'de> de::DeserializeSeed<'de> for CheckedText {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for CheckedText {
    type Value = String;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<String, E> {
        (self.rule)(text).map_err(E::custom)?;
        Ok(text.to_string())
    }
}

/// A map whose keys follow `key_rule` and whose values are read by `value`.
struct CheckedMap<S> {
    key_rule: fn(&str) -> Result<(), String>,
    value: S,
}

impl<'de, S: de::DeserializeSeed<'de> + Copy> Visitor<'de> for CheckedMap<S> {
    type Value = BTreeMap<String, S::Value>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = BTreeMap::new();
        while let Some(key) = map.next_key_seed(CheckedText { rule: self.key_rule })? {
            let value = map.next_value_seed(self.value)?;
            if entries.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format_args!("duplicate key {}: give it once", names::shown(&key))));
            }
        }
        Ok(entries)
    }
}

fn environment<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    let value = CheckedText { rule: |text| names::check_argument("environment value", text) };
    deserializer.deserialize_map(CheckedMap { key_rule: environment_key, value })
}

/// What Docker takes as a variable name: not empty, no `=`, no control characters
/// (dots are fine: Elasticsearch reads `discovery.type`).
fn environment_key(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('=') || name.chars().any(|character| character.is_control() || character == ' ')
    {
        return Err(format!(
            "environment variable name {} is not usable: it must not be empty or hold `=`, spaces or control characters",
            names::shown(name)
        ));
    }
    Ok(())
}

fn container_ports<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, u16>, D::Error> {
    deserializer.deserialize_map(CheckedMap { key_rule: names::check_port_key, value: PORT })
}

fn volumes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    let key_rule = |name: &str| names::check_name(NameKind::Volume, name);
    deserializer.deserialize_map(CheckedMap { key_rule, value: CheckedText { rule: names::check_mount_path } })
}

fn dependencies<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let services = Vec::<String>::deserialize(deserializer)?;
    for service in &services {
        names::check_name(NameKind::Service, service).map_err(de::Error::custom)?;
    }
    Ok(services)
}

/// The most a `files:` entry may hold: configuration, not data.
const MAXIMUM_FILE_CONTENT: usize = 64 * 1024;

fn files<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    let content = CheckedText {
        rule: |text| {
            if text.len() > MAXIMUM_FILE_CONTENT || text.contains('\0') {
                return Err(format!(
                    "a file's content must be text without NUL bytes and at most {} KiB (mount a volume for data)",
                    MAXIMUM_FILE_CONTENT / 1024
                ));
            }
            Ok(())
        },
    };
    deserializer.deserialize_map(CheckedMap { key_rule: file_path, value: content })
}

/// Where `files:` may write: an absolute path to a file, the same rules as a mount path,
/// and no trailing `/` (that would name a directory).
fn file_path(path: &str) -> Result<(), String> {
    if path.ends_with('/') || names::check_mount_path(path).is_err() {
        return Err(format!(
            "file path {} is not usable: berth writes files only at absolute paths to a file below `/`, without a trailing `/`, empty, `.` or `..` parts, `:` or control characters, and not inside /proc, /sys or /dev; such as /etc/app/config.yml",
            names::shown(path)
        ));
    }
    Ok(())
}

fn http_path<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let rule = |path: &str| {
        if path.starts_with('/') && !path.chars().any(|character| character.is_control() || character == ' ') {
            Ok(())
        } else {
            Err(format!(
                "HTTP path {} must start with `/` and hold no spaces or control characters",
                names::shown(path)
            ))
        }
    };
    de::DeserializeSeed::deserialize(CheckedText { rule }, deserializer)
}

fn http_status<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    let status = i64::deserialize(deserializer)?;
    u16::try_from(status).ok().filter(|status| (100..=599).contains(status)).ok_or_else(|| {
        de::Error::custom(format_args!("HTTP status {status} is out of range: statuses run from 100 to 599"))
    })
}

fn log_times<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let times = i64::deserialize(deserializer)?;
    u32::try_from(times).ok().filter(|times| *times >= 1).ok_or_else(|| {
        de::Error::custom(format_args!("`times: {times}` is out of range: a log line must be seen at least once"))
    })
}

/// The names every template may use besides the service's port keys and the stack
/// references `{other.key}` (the other service's host port, same instance and environment)
/// and `{other.key.address}` (`other:port` as containers of the stack reach it).
pub const PLACEHOLDERS: [&str; 5] = ["instance_id", "service", "environment", "host", "container"];

/// A template placeholder that names another service of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackReference<'a> {
    /// The other service.
    pub service: &'a str,
    /// Its port key.
    pub key: &'a str,
    /// `{other.key.address}`: the address inside the stack, not the host port.
    pub address: bool,
}

impl<'a> StackReference<'a> {
    /// `mongodb.port` or `mongodb.port.address`; `None` for a plain placeholder.
    pub fn parse(placeholder: &'a str) -> Option<Self> {
        let mut parts = placeholder.split('.');
        let (service, key) = (parts.next()?, parts.next()?);
        let address = match parts.next() {
            None => false,
            Some("address") => true,
            Some(_) => return None,
        };
        parts.next().is_none().then_some(Self { service, key, address })
    }
}

/// Fills `{name}` placeholders in `template` from `value`; `{{` and `}}` stand for braces.
/// The error names the first unknown or unclosed placeholder.
pub fn expand(template: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut output = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(position) = rest.find(['{', '}']) {
        output.push_str(&rest[..position]);
        let tail = &rest[position..];
        if let Some(after) = tail.strip_prefix("{{") {
            output.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            output.push('}');
            rest = after;
        } else if let Some(inner) = tail.strip_prefix('{') {
            let end = inner.find('}').ok_or_else(|| format!("unclosed `{{` in `{template}`"))?;
            let name = &inner[..end];
            let filled = value(name).ok_or_else(|| format!("unknown placeholder `{{{name}}}` in `{template}`"))?;
            output.push_str(&filled);
            rest = &inner[end + 1..];
        } else {
            return Err(format!("lone `}}` in `{template}`; write `}}}}` for a brace"));
        }
    }
    output.push_str(rest);
    Ok(output)
}

impl ContainerSection {
    /// Everything in the section that cannot work for `service` in `registry`: keys that do
    /// not exist, templates with unknown placeholders, dependencies and stack references that
    /// name nothing runnable. Empty when the section is sound.
    pub fn problems(&self, service: &Service, registry: &Registry) -> Vec<String> {
        let known_key = |key: &str| service.port_key(key).is_some();
        let mut problems = Vec::new();
        let other = |name: &str, needs_container: bool| neighbour(registry, service, name, needs_container);
        let placeholder = |name: &str| -> Option<String> {
            if PLACEHOLDERS.contains(&name) || known_key(name) {
                return Some(String::new());
            }
            let reference = StackReference::parse(name)?;
            let target = other(reference.service, reference.address).ok()?;
            target.port_key(reference.key).map(|_| String::new())
        };
        for key in self.ports.keys().filter(|key| !known_key(key)) {
            problems.push(format!("container.ports names `{key}`, which is not a port key of `{}`", service.name));
        }
        let ready_key = match &self.ready {
            Some(Ready::Tcp(key) | Ready::Http { port: key, .. }) => Some(key),
            _ => None,
        };
        if let Some(key) = ready_key.filter(|key| !known_key(key)) {
            problems.push(format!("container.ready names `{key}`, which is not a port key of `{}`", service.name));
        }
        if let Some(Ready::Log { pattern, .. }) = &self.ready
            && let Err(error) = regex::Regex::new(pattern)
        {
            problems
                .push(format!("container.ready.log pattern does not compile: {}", names::one_line(&error.to_string())));
        }
        let mut mount_points: Vec<&str> = self.volumes.values().map(|path| names::mount_point(path)).collect();
        mount_points.sort_unstable();
        for pair in mount_points.windows(2).filter(|pair| pair[0] == pair[1]) {
            problems.push(format!("container.volumes mounts two volumes at {}; Docker allows one per path", pair[0]));
        }
        for (path, mount) in self.files.keys().flat_map(|path| self.volumes.values().map(move |mount| (path, mount))) {
            let mount = names::mount_point(mount);
            if mount.strip_prefix(path.as_str()).is_some_and(|rest| rest.starts_with('/')) {
                problems.push(format!(
                    "container.files writes {path}, but a volume is mounted at {mount} below it: {path} cannot be a file and a directory"
                ));
            }
            if path == mount || path.strip_prefix(mount).is_some_and(|rest| rest.starts_with('/')) {
                problems.push(format!(
                    "container.files writes {path}, inside the volume mounted at {mount}: files go into the container's own filesystem; move the file or the volume"
                ));
            }
        }
        for (path, other) in self.files.keys().flat_map(|path| self.files.keys().map(move |other| (path, other))) {
            if other.strip_prefix(path.as_str()).is_some_and(|rest| rest.starts_with('/')) {
                problems.push(format!(
                    "container.files writes both {path} and {other}: {path} cannot be a file and a directory"
                ));
            }
        }
        for dependency in &self.depends_on {
            if dependency == &service.name {
                problems.push(format!("container.depends_on names `{}` itself", service.name));
            } else if let Err(problem) = other(dependency, true) {
                problems.push(format!("container.depends_on names {problem}"));
            }
        }
        let templates = self.command.iter().flatten().chain(self.env.values()).chain(self.files.values());
        for template in templates {
            if let Err(problem) = expand(template, placeholder) {
                problems.push(stack_hint(&problem, template, other));
            }
        }
        problems
    }
}

/// The service `name` that `service` refers to (or depends on), if it can serve: it exists,
/// runs as a container when `needs_container`, and has every instance `service` has.
fn neighbour<'r>(
    registry: &'r Registry,
    service: &Service,
    name: &str,
    needs_container: bool,
) -> Result<&'r Service, String> {
    let other = registry.service(name).ok_or_else(|| format!("`{name}`, which is not a service of this registry"))?;
    if needs_container && other.container.is_none() {
        return Err(format!("`{name}`, which has no `container:` section"));
    }
    if other.max_instances < service.max_instances {
        return Err(format!(
            "`{name}`, which has {} instances while `{}` has {}: give `{name}` at least as many",
            other.max_instances, service.name, service.max_instances
        ));
    }
    Ok(other)
}

/// An unknown-placeholder message, made precise when the placeholder is a stack reference.
fn stack_hint<'r>(problem: &str, template: &str, other: impl Fn(&str, bool) -> Result<&'r Service, String>) -> String {
    let unknown = problem.strip_prefix("unknown placeholder `{").and_then(|rest| rest.split_once("}`"));
    let Some(reference) = unknown.and_then(|(name, _)| StackReference::parse(name)) else {
        return problem.to_string();
    };
    match other(reference.service, reference.address) {
        Err(why) => format!("`{template}` refers to {why}"),
        Ok(target) => format!(
            "`{template}` names port key `{}` of `{}`, which has {}",
            reference.key,
            target.name,
            target.ports.iter().map(|key| format!("`{}`", key.name)).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_placeholders_and_keep_escaped_braces() {
        let value = |name: &str| match name {
            "broker_port" => Some("9192".to_string()),
            "instance_id" => Some("1".to_string()),
            _ => None,
        };
        assert_eq!(expand("PLAINTEXT://localhost:{broker_port}", value), Ok("PLAINTEXT://localhost:9192".into()));
        assert_eq!(expand("node-{instance_id} {{literal}}", value), Ok("node-1 {literal}".into()));
        assert_eq!(expand("no placeholders", value), Ok("no placeholders".into()));
        assert_eq!(expand("{nope}", value), Err("unknown placeholder `{nope}` in `{nope}`".into()));
        assert_eq!(expand("{broker_port", value), Err("unclosed `{` in `{broker_port`".into()));
        assert_eq!(expand("a } b", value), Err("lone `}` in `a } b`; write `}}` for a brace".into()));
    }
}
