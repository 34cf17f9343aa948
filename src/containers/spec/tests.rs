use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::registry::{PortManager, parse};

const REGISTRY: &str = "\
environments:
  development: 0
  staging: 1000
kafka:
  broker_port: 9092
  controller_port: 19093
  container:
    image: apache/kafka:3.9.0
    env:
      KAFKA_NODE_ID: '{instance_id}'
      KAFKA_ADVERTISED_LISTENERS: PLAINTEXT://{host}:{broker_port}
      KAFKA_CONTROLLER_QUORUM_VOTERS: 1@{container}:{controller_port}
    volumes:
      data: /var/lib/kafka/data
redis:
  port: 6379
  container:
    image: redis:7
    ports:
      port: 6379
    command: [redis-server, --appendonly, 'yes']
    ready:
      command: [redis-cli, ping]
bare:
  port: 5000
";

fn manager() -> PortManager {
    let registry = parse(REGISTRY, Path::new("test.yaml")).expect("loads");
    PortManager::new(registry, PathBuf::from("test.yaml"), HashMap::new()).expect("valid")
}

fn spec(
    manager: &PortManager,
    environment: Option<&str>,
    service: &str,
    instance: u32,
) -> Result<InstanceSpec, SpecError> {
    match crate::containers::plan(manager, environment, &[crate::containers::Selection::one(service, instance)]) {
        Ok(mut specs) => Ok(specs.remove(0)),
        Err(crate::containers::PlanError::Spec(error)) => Err(error),
        Err(other) => panic!("not a spec error: {other}"),
    }
}

#[test]
fn names_follow_the_seed_convention() {
    assert_eq!(container_name("kafka", "development", 0), "kafka-development");
    assert_eq!(container_name("kafka", "development", 1), "kafka-development-1");
    assert_eq!(volume_name("kafka", "data", None, 0), "kafka-data");
    assert_eq!(volume_name("kafka", "data", None, 2), "kafka-data-2");
    assert_eq!(volume_name("kafka", "data", Some("staging"), 1), "kafka-staging-data-1");
}

#[test]
fn an_instance_gets_its_ports_names_env_and_labels() {
    let manager = manager();
    let kafka = spec(&manager, None, "kafka", 1).expect("spec");
    assert_eq!(kafka.container_name, "kafka-development-1");
    assert_eq!(kafka.volumes, [VolumeMount { volume: "kafka-data-1".into(), path: "/var/lib/kafka/data".into() }]);
    let bindings: Vec<(u16, u16)> =
        kafka.ports.iter().map(|binding| (binding.host_port, binding.container_port)).collect();
    assert_eq!(bindings, [(9192, 9192), (19193, 19193)], "seed 001 maps 9192:9192");
    assert_eq!(kafka.env["KAFKA_ADVERTISED_LISTENERS"], "PLAINTEXT://127.0.0.1:9192");
    assert_eq!(kafka.env["KAFKA_NODE_ID"], "1");
    assert_eq!(kafka.env["KAFKA_CONTROLLER_QUORUM_VOTERS"], "1@kafka-development-1:19193");
    assert_eq!(kafka.labels[MANAGED_LABEL], "true");
    assert_eq!(kafka.labels[INSTANCE_LABEL], "1");
    assert_eq!(kafka.labels[ENVIRONMENT_LABEL], "development");
    assert_eq!(kafka.config_hash().len(), 16);
    assert_eq!(kafka.ready, Ready::Tcp("broker_port".into()), "the default readiness is TCP on the first key");
    assert_eq!(kafka.endpoints()["broker_port"], "127.0.0.1:9192");
}

#[test]
fn fixed_inner_ports_and_other_environments() {
    let manager = manager();
    let redis = spec(&manager, Some("staging"), "redis", 2).expect("spec");
    assert_eq!(redis.container_name, "redis-staging-2");
    assert_eq!((redis.ports[0].host_port, redis.ports[0].container_port), (7579, 6379));
    let kafka = spec(&manager, Some("staging"), "kafka", 1).expect("spec");
    assert_eq!(kafka.volumes[0].volume, "kafka-staging-data-1");
}

#[test]
fn the_config_hash_changes_with_the_configuration_only() {
    let manager = manager();
    let first = spec(&manager, None, "kafka", 1).expect("spec");
    assert_eq!(first.config_hash(), spec(&manager, None, "kafka", 1).expect("again").config_hash());
    assert_ne!(first.config_hash(), spec(&manager, None, "kafka", 2).expect("other").config_hash());
}

#[test]
fn a_service_without_a_container_section_is_named() {
    let error = spec(&manager(), None, "bare", 0).expect_err("no section");
    assert_eq!(
        error.to_string(),
        "service `bare` has no `container:` section, so it cannot run as a container; add one (README, \"Containers\")"
    );
}
