//! Whether berth may touch a container or volume: only when its labels say berth made it
//! for exactly this service, instance and environment. Everything else on the host belongs
//! to someone else and is left alone.
//!
//! Pure: a judgment over labels and the instance's spec; the callers do the Docker calls.

use std::collections::HashMap;

use super::spec::{ENVIRONMENT_LABEL, HASH_LABEL, INSTANCE_LABEL, InstanceSpec, MANAGED_LABEL, SERVICE_LABEL};

/// Label naming the run (a `berth up`, a SpinUp workflow run) that created a container or
/// volume, so that undoing a run removes exactly what it made.
pub const RUN_LABEL: &str = "io.berth.run";

/// What a container's or volume's labels say about who owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// berth made it for this instance, from the configuration the registry gives now.
    Ours,
    /// berth made it for this instance, from another configuration (another registry).
    OtherConfiguration {
        /// The config hash it carries.
        running: String,
    },
    /// Not berth's for this instance; why, in words.
    NotOurs {
        /// `it has no berth labels`, `its labels name web[2] in environment prod`.
        reason: String,
    },
}

/// Judges a container's labels against `spec`.
pub fn container(labels: &HashMap<String, String>, spec: &InstanceSpec) -> Ownership {
    if let Some(reason) = foreign(labels, spec) {
        return Ownership::NotOurs { reason };
    }
    match labels.get(HASH_LABEL) {
        Some(hash) if hash == spec.config_hash() => Ownership::Ours,
        running => Ownership::OtherConfiguration {
            running: running.filter(|hash| !hash.is_empty()).cloned().unwrap_or_else(|| "none".to_string()),
        },
    }
}

/// Judges a volume's labels against `spec`; a volume carries no configuration of its own,
/// so only who it was made for counts.
pub fn volume(labels: &HashMap<String, String>, spec: &InstanceSpec) -> Ownership {
    foreign(labels, spec).map_or(Ownership::Ours, |reason| Ownership::NotOurs { reason })
}

/// Judges a stack network's labels against `spec`: berth's for the same environment and
/// instance (the instance's services share it, so no service is named).
pub fn network(labels: &HashMap<String, String>, spec: &InstanceSpec) -> Ownership {
    let label = |name: &str| labels.get(name).map_or("?", String::as_str);
    if label(MANAGED_LABEL) != "true" {
        return Ownership::NotOurs { reason: "it has no berth labels (berth did not make it)".to_string() };
    }
    if label(INSTANCE_LABEL) != spec.instance.to_string() || label(ENVIRONMENT_LABEL) != spec.environment {
        return Ownership::NotOurs {
            reason: format!(
                "its labels name instance {} in environment {}",
                label(INSTANCE_LABEL),
                label(ENVIRONMENT_LABEL)
            ),
        };
    }
    Ownership::Ours
}

/// Whether the thing carries the run label `run`.
pub fn made_by(labels: &HashMap<String, String>, run: &str) -> bool {
    labels.get(RUN_LABEL).is_some_and(|label| label == run)
}

fn foreign(labels: &HashMap<String, String>, spec: &InstanceSpec) -> Option<String> {
    match labels.get(MANAGED_LABEL).map(String::as_str) {
        Some("true") => {}
        None => return Some("it has no berth labels (berth did not make it)".to_string()),
        Some(other) => return Some(format!("its {MANAGED_LABEL} label is `{other}`, not `true`")),
    }
    let label = |name: &str| labels.get(name).map_or("?", String::as_str);
    let instance = spec.instance.to_string();
    let matches = label(SERVICE_LABEL) == spec.service
        && label(INSTANCE_LABEL) == instance
        && label(ENVIRONMENT_LABEL) == spec.environment;
    (!matches).then(|| {
        format!(
            "its labels name {}[{}] in environment {}",
            label(SERVICE_LABEL),
            label(INSTANCE_LABEL),
            label(ENVIRONMENT_LABEL)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> InstanceSpec {
        let labels = std::collections::BTreeMap::from([
            (MANAGED_LABEL.to_string(), "true".to_string()),
            (SERVICE_LABEL.to_string(), "web".to_string()),
            (INSTANCE_LABEL.to_string(), "4".to_string()),
            (ENVIRONMENT_LABEL.to_string(), "development".to_string()),
            (HASH_LABEL.to_string(), "abc".to_string()),
        ]);
        InstanceSpec {
            service: "web".into(),
            instance: 4,
            environment: "development".into(),
            container_name: "web-development-4".into(),
            image: "busybox".into(),
            command: None,
            env: Default::default(),
            ports: Vec::new(),
            volumes: Vec::new(),
            ready: crate::registry::Ready::Tcp("port".into()),
            timeout: std::time::Duration::from_secs(5),
            labels,
            network: "berth-development-4".into(),
            depends_on: Vec::new(),
            files: Default::default(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    #[test]
    fn only_berth_labels_for_this_very_instance_make_a_container_ours() {
        let spec = spec();
        let ours: HashMap<String, String> = spec.labels.clone().into_iter().collect();
        assert_eq!(container(&ours, &spec), Ownership::Ours);

        let mut other_config = ours.clone();
        other_config.insert(HASH_LABEL.into(), "def".into());
        assert_eq!(container(&other_config, &spec), Ownership::OtherConfiguration { running: "def".into() });

        assert_eq!(
            container(&labels(&[]), &spec),
            Ownership::NotOurs { reason: "it has no berth labels (berth did not make it)".into() }
        );
        for (name, value) in [(SERVICE_LABEL, "api"), (INSTANCE_LABEL, "2"), (ENVIRONMENT_LABEL, "prod")] {
            let mut elsewhere = ours.clone();
            elsewhere.insert(name.into(), value.into());
            assert!(matches!(container(&elsewhere, &spec), Ownership::NotOurs { .. }), "{name}={value}");
        }
        let mut unmanaged = ours.clone();
        unmanaged.insert(MANAGED_LABEL.into(), "TRUE".into());
        assert_eq!(
            container(&unmanaged, &spec),
            Ownership::NotOurs { reason: "its io.berth.managed label is `TRUE`, not `true`".into() }
        );
        let mut unhashed = ours;
        unhashed.remove(HASH_LABEL);
        assert_eq!(container(&unhashed, &spec), Ownership::OtherConfiguration { running: "none".into() });
    }

    #[test]
    fn volumes_are_judged_by_owner_only_and_runs_by_their_label() {
        let spec = spec();
        let mut ours: HashMap<String, String> = spec.labels.clone().into_iter().collect();
        ours.insert(HASH_LABEL.into(), "old".into());
        assert_eq!(volume(&ours, &spec), Ownership::Ours, "a volume outlives configurations");
        assert!(matches!(volume(&labels(&[("owner", "alice")]), &spec), Ownership::NotOurs { .. }));
        ours.insert(RUN_LABEL.into(), "run-1".into());
        assert!(made_by(&ours, "run-1"));
        assert!(!made_by(&ours, "run-2"));
        assert!(!made_by(&labels(&[]), "run-1"));
    }
}
