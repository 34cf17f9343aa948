//! The requests to bring instances up and down: one type each, used by `berth up`/`down`
//! directly and by the `SpinUp`/`TearDown` workflows, so both paths read the same fields the
//! same way and refuse the same bad values.
//!
//! Validation is pure: [`SpinUpInput::starts`] and [`TearDownInput::stops`] turn a request
//! into one activity input per instance, or say in one line what is wrong with it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::activities::{StartRequest, StopRequest};

/// How many instances start or stop at once when a request does not say.
pub const DEFAULT_PARALLEL: u16 = 8;
/// The most instances one request may name, so that `kafka:0-4000000000` is refused instead
/// of filling memory.
pub const MAXIMUM_INSTANCES: usize = 10_000;
/// The longest start (and readiness wait) a request may ask for: one day.
pub const MAXIMUM_TIMEOUT_SECONDS: u64 = 86_400;

/// When an instance's image is pulled from its registry, as in compose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    /// Pull only an image the host does not have.
    #[default]
    Missing,
    /// Pull every image, so that a moved tag is followed.
    Always,
    /// Never pull: an image the host lacks fails the start as `ImageMissing`.
    Never,
}

impl PullPolicy {
    /// Every policy, in the order `--help` lists them.
    pub const ALL: [Self; 3] = [Self::Missing, Self::Always, Self::Never];

    /// The policy's name, as written on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Always => "always",
            Self::Never => "never",
        }
    }
}

impl std::fmt::Display for PullPolicy {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl std::str::FromStr for PullPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|policy| policy.as_str() == text)
            .ok_or_else(|| format!("`{text}` is no pull policy: use missing, always or never"))
    }
}

/// Input of `SpinUp` and of `berth up`: start instances, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpinUpInput {
    /// Instances as `service[:N|:FIRST-LAST]` (`kafka:0-2`, `redis`).
    pub specs: Vec<String>,
    /// The environment [default: the registry's first].
    #[serde(default)]
    pub env: Option<String>,
    /// Run on this host's worker (`berth@<host>`) instead of any worker (`berth`).
    #[serde(default)]
    pub host: Option<String>,
    /// Deal the instances no `@host` word places over these hosts, by instance id.
    #[serde(default)]
    pub spread: Vec<String>,
    /// Replace containers whose configuration changed.
    #[serde(default)]
    pub recreate: bool,
    /// When images are pulled [default: missing].
    #[serde(default)]
    pub pull: PullPolicy,
    /// How long each instance may take to start and become ready, in seconds
    /// [default: the service's `timeout`].
    #[serde(default)]
    pub start_timeout_seconds: Option<u64>,
    /// How long a worker may go silent during a start before it is presumed dead, in seconds.
    #[serde(default = "default_heartbeat_seconds")]
    pub heartbeat_timeout_seconds: u64,
    /// Attempts per instance before the spin-up gives up on it.
    #[serde(default = "default_attempts")]
    pub maximum_attempts: u32,
    /// How many instances start at once.
    #[serde(default = "default_parallel")]
    pub parallel: u16,
    /// Keep what a failed spin-up made, for inspection, instead of undoing it.
    #[serde(default)]
    pub keep_failed: bool,
}

/// Input of `TearDown` and of `berth down`: stop and remove instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TearDownInput {
    /// Instances as `service[:N|:FIRST-LAST]`.
    pub specs: Vec<String>,
    /// The environment [default: the registry's first].
    #[serde(default)]
    pub env: Option<String>,
    /// Run on this host's worker.
    #[serde(default)]
    pub host: Option<String>,
    /// Deal the instances no `@host` word places over these hosts, by instance id.
    #[serde(default)]
    pub spread: Vec<String>,
    /// Remove the instances' volumes too.
    #[serde(default)]
    pub volumes: bool,
    /// Remove berth containers of the instances even when they run another configuration.
    #[serde(default)]
    pub force: bool,
    /// How many instances stop at once.
    #[serde(default = "default_parallel")]
    pub parallel: u16,
}

fn default_heartbeat_seconds() -> u64 {
    10
}

fn default_attempts() -> u32 {
    3
}

fn default_parallel() -> u16 {
    DEFAULT_PARALLEL
}

impl SpinUpInput {
    /// A request for `specs` with every other field at its default.
    pub fn new(specs: Vec<String>) -> Self {
        Self {
            specs,
            env: None,
            host: None,
            spread: Vec::new(),
            recreate: false,
            pull: PullPolicy::Missing,
            start_timeout_seconds: None,
            heartbeat_timeout_seconds: default_heartbeat_seconds(),
            maximum_attempts: default_attempts(),
            parallel: DEFAULT_PARALLEL,
            keep_failed: false,
        }
    }

    /// One start per instance named, each once, in the order named; every start carries
    /// `run`. An error says what is wrong with the request.
    pub fn starts(&self, run: &str) -> Result<Vec<StartRequest>, String> {
        check_common(self.env.as_deref(), self.host.as_deref(), self.parallel)?;
        self.placement()?;
        if self.maximum_attempts == 0 {
            return Err("maximum_attempts must be at least 1 (0 would retry a failing start forever)".to_string());
        }
        if let Some(seconds) = self.start_timeout_seconds {
            check_seconds("start_timeout_seconds", seconds)?;
        }
        check_seconds("heartbeat_timeout_seconds", self.heartbeat_timeout_seconds)?;
        Ok(instances(&self.specs)?
            .into_iter()
            .map(|(service, instance_id)| self.start_of(&service, instance_id, run))
            .collect())
    }

    /// Where its instances run.
    pub fn placement(&self) -> Result<crate::placement::Placement, String> {
        crate::placement::Placement::new(&self.specs, &self.spread, self.host.as_deref())
    }

    /// The start of `service`'s instance `instance_id` as this request asks for it.
    pub fn start_of(&self, service: &str, instance_id: u32, run: &str) -> StartRequest {
        StartRequest {
            service: Some(service.to_string()),
            instance_id,
            env: self.env.clone(),
            recreate: self.recreate,
            pull: self.pull,
            timeout_seconds: self.start_timeout_seconds,
            keep_failed: self.keep_failed,
            run: Some(run.to_string()),
        }
    }
}

impl TearDownInput {
    /// A request for `specs` with every other field at its default.
    pub fn new(specs: Vec<String>) -> Self {
        Self {
            specs,
            env: None,
            host: None,
            spread: Vec::new(),
            volumes: false,
            force: false,
            parallel: DEFAULT_PARALLEL,
        }
    }

    /// One stop per instance named, each once, in the order named.
    pub fn stops(&self) -> Result<Vec<StopRequest>, String> {
        check_common(self.env.as_deref(), self.host.as_deref(), self.parallel)?;
        self.placement()?;
        Ok(instances(&self.specs)?
            .into_iter()
            .map(|(service, instance_id)| self.stop_of(&service, instance_id))
            .collect())
    }

    /// Where its instances run.
    pub fn placement(&self) -> Result<crate::placement::Placement, String> {
        crate::placement::Placement::new(&self.specs, &self.spread, self.host.as_deref())
    }

    /// The stop of `service`'s instance `instance_id` as this request asks for it.
    pub fn stop_of(&self, service: &str, instance_id: u32) -> StopRequest {
        StopRequest {
            service: Some(service.to_string()),
            instance_id,
            env: self.env.clone(),
            volumes: self.volumes,
            force: self.force,
        }
    }
}

fn check_common(env: Option<&str>, host: Option<&str>, parallel: u16) -> Result<(), String> {
    if env.is_some_and(str::is_empty) {
        return Err("env is empty: name an environment, or leave it out for the registry's first".to_string());
    }
    if host.is_some_and(str::is_empty) {
        return Err("host is empty: name a host, or leave it out to run on any worker".to_string());
    }
    if parallel == 0 {
        return Err("parallel must be at least 1".to_string());
    }
    Ok(())
}

fn check_seconds(field: &str, seconds: u64) -> Result<(), String> {
    if seconds == 0 || seconds > MAXIMUM_TIMEOUT_SECONDS {
        return Err(format!("{field} must be between 1 and {MAXIMUM_TIMEOUT_SECONDS} seconds, not {seconds}"));
    }
    Ok(())
}

/// Every (service, instance) the words name, each once, in order.
fn instances(specs: &[String]) -> Result<Vec<(String, u32)>, String> {
    if specs.is_empty() {
        return Err("specs names no instances; give at least one, such as `kafka:0-2`".to_string());
    }
    let mut seen = HashSet::new();
    let mut instances = Vec::new();
    for spec in specs {
        let selection = spec.parse::<crate::placement::Placed>()?.selection;
        let count = usize::try_from(selection.last - selection.first).unwrap_or(usize::MAX).saturating_add(1);
        if count > MAXIMUM_INSTANCES.saturating_sub(instances.len()) {
            return Err(format!("`{spec}` names too many instances: one request may name at most {MAXIMUM_INSTANCES}"));
        }
        for instance_id in selection.instances() {
            if seen.insert((selection.service.clone(), instance_id)) {
                instances.push((selection.service.clone(), instance_id));
            }
        }
    }
    Ok(instances)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin_up(json: &str) -> Result<Vec<StartRequest>, String> {
        serde_json::from_str::<SpinUpInput>(json).map_err(|error| error.to_string())?.starts("run-1")
    }

    #[test]
    fn a_request_becomes_one_start_per_instance_once_each_in_order() {
        let starts = spin_up(r#"{"specs": ["web:1-2", "web:0-1", "db"], "recreate": true}"#).expect("valid");
        let named: Vec<(Option<&str>, u32)> =
            starts.iter().map(|start| (start.service.as_deref(), start.instance_id)).collect();
        assert_eq!(named, [(Some("web"), 1), (Some("web"), 2), (Some("web"), 0), (Some("db"), 0)]);
        assert!(starts.iter().all(|start| start.recreate && start.run.as_deref() == Some("run-1")));
    }

    #[test]
    fn values_that_would_hang_loop_or_flood_are_refused() {
        for (json, needle) in [
            (r#"{"specs": ["web"], "maximum_attempts": 0}"#, "maximum_attempts must be at least 1"),
            (r#"{"specs": ["web"], "start_timeout_seconds": 0}"#, "start_timeout_seconds must be between 1"),
            (r#"{"specs": ["web"], "heartbeat_timeout_seconds": 0}"#, "heartbeat_timeout_seconds must be between 1"),
            (r#"{"specs": ["web"], "parallel": 0}"#, "parallel must be at least 1"),
            (r#"{"specs": []}"#, "names no instances"),
            (r#"{"specs": ["web:0-4000000000"]}"#, "names too many instances"),
            (r#"{"specs": ["web"], "env": ""}"#, "env is empty"),
            (r#"{"specs": ["web"], "start_timeout": 5}"#, "unknown field `start_timeout`"),
        ] {
            let error = spin_up(json).expect_err(json);
            assert!(error.contains(needle), "{json}: {error}");
        }
        let typo = serde_json::from_str::<TearDownInput>(r#"{"specs": ["web"], "volume": true}"#).expect_err("typo");
        assert!(typo.to_string().contains("unknown field `volume`"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;
        use crate::activities::{StartRequest, StopRequest};

        /// JSON objects whose keys are the requests' own field names or near misses, with
        /// values of every JSON kind: what a person or a workflow in another SDK might send.
        fn request_json() -> impl Strategy<Value = serde_json::Value> {
            let key = prop::sample::select(vec![
                "specs",
                "env",
                "host",
                "recreate",
                "start_timeout_seconds",
                "heartbeat_timeout_seconds",
                "maximum_attempts",
                "parallel",
                "keep_failed",
                "volumes",
                "force",
                "service",
                "instance_id",
                "timeout_seconds",
                "run",
                "instanceId",
                "volume",
                "start_timeout",
            ]);
            let word = prop::sample::select(vec![
                "web",
                "web:0",
                "web:0-2",
                "web:3-1",
                "web:0-4294967295",
                ":1",
                "",
                "web:x",
                "a:b:c",
                "web:7",
            ]);
            let value = prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<u64>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                word.clone().prop_map(serde_json::Value::from),
                prop::collection::vec(word, 0..4).prop_map(serde_json::Value::from),
            ];
            prop::collection::btree_map(key, value, 0..8).prop_map(|fields| {
                serde_json::Value::Object(fields.into_iter().map(|(key, value)| (key.to_string(), value)).collect())
            })
        }

        proptest! {
            #[test]
            fn any_request_is_refused_in_words_or_bounded_never_a_panic(input in request_json()) {
                if let Ok(request) = serde_json::from_value::<SpinUpInput>(input.clone()) {
                    match request.starts("run") {
                        Ok(starts) => {
                            prop_assert!(!starts.is_empty() && starts.len() <= MAXIMUM_INSTANCES);
                            prop_assert!(request.maximum_attempts >= 1 && request.parallel >= 1);
                            prop_assert!(request.start_timeout_seconds.is_none_or(|seconds| (1..=MAXIMUM_TIMEOUT_SECONDS).contains(&seconds)));
                        }
                        Err(problem) => prop_assert!(!problem.is_empty() && !problem.contains('\n')),
                    }
                }
                if let Ok(request) = serde_json::from_value::<TearDownInput>(input.clone())
                    && let Ok(stops) = request.stops()
                {
                    prop_assert!(!stops.is_empty() && stops.len() <= MAXIMUM_INSTANCES);
                }
                let _ = serde_json::from_value::<StartRequest>(input.clone());
                if let Ok(stop) = serde_json::from_value::<StopRequest>(input.clone()) {
                    prop_assert!(input.get("instance_id").is_some(), "a stop always names its instance: {stop:?}");
                }
            }
        }
    }
}
