use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::registry::parse;

const REGISTRY: &str = "\
environments:
  development: 0
  staging: 1000
kafka:
  broker_port: 9092
  controller_port: 19093
redis:
  port: 6379
  max_instances: 3
api:
  port: 8000
  range: 8000-9099
  instance_increment: 1
";

fn manager_with(overrides: &[(&str, &str)]) -> PortManager {
    let registry = parse(REGISTRY, Path::new("test.yaml")).expect("loads");
    let overrides = overrides.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
    PortManager::new(registry, PathBuf::from("test.yaml"), overrides).expect("valid")
}

#[test]
fn ports_follow_the_formula_in_every_environment() {
    let manager = manager_with(&[]);
    assert_eq!(manager.get_port("kafka", 0, "broker_port"), Ok(9092));
    assert_eq!(manager.get_port("kafka", 1, "broker_port"), Ok(9192));
    assert_eq!(manager.get_port("kafka", 2, "controller_port"), Ok(19293));
    let staging = manager.environment(Some("staging")).expect("staging");
    assert_eq!(staging.get_port("kafka", 1, "broker_port"), Ok(10192));
    assert_eq!(staging.resolve("redis", 2, None).map(|port| port.port), Ok(7579));
}

#[test]
fn instance_ports_lists_every_key_with_its_variable() {
    let manager = manager_with(&[]);
    let ports = manager.instance_ports("kafka", 1).expect("ports");
    let summary: Vec<(&str, u16, &str)> =
        ports.iter().map(|port| (port.key.as_str(), port.port, port.variable.as_str())).collect();
    assert_eq!(
        summary,
        [("broker_port", 9192, "KAFKA_1_BROKER_PORT"), ("controller_port", 19193, "KAFKA_1_CONTROLLER_PORT")]
    );
    assert_eq!((ports[0].base, ports[0].increment, ports[0].environment.as_str()), (9092, 100, "development"));
}

#[test]
fn lookups_fail_with_what_would_have_been_valid() {
    let manager = manager_with(&[]);
    let error = |result: Result<u16, LookupError>| result.expect_err("should fail").to_string();
    assert_eq!(
        error(manager.get_port("kafak", 0, "broker_port")),
        "unknown service `kafak` (did you mean `kafka`?); run `berth ports` to list the services"
    );
    assert_eq!(
        error(manager.get_port("kafka", 0, "broker")),
        "service `kafka` has no port key `broker`; its keys are `broker_port`, `controller_port`"
    );
    assert_eq!(
        error(manager.get_port("redis", 3, "port")),
        "instance 3 of `redis` is out of range: it allows instances 0 to 2 (max_instances: 3)"
    );
    assert_eq!(
        error(manager.get_port("redis", u32::MAX, "port")),
        "instance 4294967295 of `redis` is out of range: it allows instances 0 to 2 (max_instances: 3)"
    );
    assert_eq!(
        manager.environment(Some("stagign")).expect_err("unknown").to_string(),
        "unknown environment `stagign` (did you mean `staging`?); the registry defines `development`, `staging`"
    );
    let view = manager.environment(None).expect("default");
    assert_eq!(
        view.resolve("kafka", 0, None).expect_err("ambiguous").to_string(),
        "service `kafka` has several ports; name one of `broker_port`, `controller_port`"
    );
}

#[test]
fn environment_variables_override_the_computed_port() {
    let manager = manager_with(&[("KAFKA_BROKER_PORT", "19999"), ("KAFKA_1_BROKER_PORT", " 29092 ")]);
    assert_eq!(manager.get_port("kafka", 0, "broker_port"), Ok(19999));
    assert_eq!(manager.get_port("kafka", 1, "broker_port"), Ok(29092));
    assert_eq!(manager.get_port("kafka", 2, "broker_port"), Ok(9292));
    let resolved = manager.instance_ports("kafka", 1).expect("ports");
    assert_eq!(resolved[0].overridden_by.as_deref(), Some("KAFKA_1_BROKER_PORT"));
    assert_eq!(resolved[1].overridden_by, None);
}

#[test]
fn malformed_overrides_name_the_variable() {
    let cases = [
        (
            "abc",
            "environment variable REDIS_PORT=\"abc\" cannot set the port of redis[0].port@development: not a whole number; fix or unset it",
        ),
        (
            "0",
            "environment variable REDIS_PORT=\"0\" cannot set the port of redis[0].port@development: ports are whole numbers from 1 to 65535; fix or unset it",
        ),
        (
            "70000",
            "environment variable REDIS_PORT=\"70000\" cannot set the port of redis[0].port@development: ports are whole numbers from 1 to 65535; fix or unset it",
        ),
        (
            "-1",
            "environment variable REDIS_PORT=\"-1\" cannot set the port of redis[0].port@development: not a whole number; fix or unset it",
        ),
    ];
    for (value, expected) in cases {
        let manager = manager_with(&[("REDIS_PORT", value)]);
        assert_eq!(manager.get_port("redis", 0, "port").expect_err(value).to_string(), expected);
    }
    let manager = manager_with(&[("API_PORT", "9500")]);
    assert_eq!(
        manager.get_port("api", 0, "port").expect_err("outside").to_string(),
        "environment variable API_PORT=\"9500\" cannot set the port of api[0].port@development: 9500 is outside api's range 8000-9099; fix or unset it"
    );
}

#[test]
fn a_bad_override_makes_only_its_own_slot_unusable() {
    let manager = manager_with(&[("REDIS_PORT", "abc"), ("KAFKA_1_BROKER_PORT", "9092")]);
    assert!(manager.get_port("redis", 0, "port").is_err());
    assert_eq!(manager.get_port("redis", 1, "port"), Ok(6479));
    assert_eq!(
        manager.get_port("kafka", 1, "broker_port").expect_err("collides").to_string(),
        "environment variable KAFKA_1_BROKER_PORT=\"9092\" cannot set the port of kafka[1].broker_port@development: 9092 is also the port of kafka[0].broker_port@development; fix or unset it"
    );
    assert_eq!(manager.get_port("kafka", 0, "broker_port"), Ok(9092));
}

#[test]
fn a_docker_link_variable_is_not_an_override() {
    let manager = manager_with(&[("REDIS_PORT", "tcp://10.0.0.5:6379")]);
    assert_eq!(manager.get_port("redis", 0, "port"), Ok(6379));
    assert_eq!(manager.overrides().ignored().len(), 1);
}

#[test]
fn a_registry_with_errors_is_refused() {
    let registry = parse("a:\n  port: 5000\nb:\n  port: 5000\n", Path::new("bad.yaml")).expect("loads");
    let error = PortManager::new(registry, PathBuf::from("bad.yaml"), HashMap::new()).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "port registry bad.yaml has 10 error(s), the first: a[0].port = 5000 collides with b[0].port = 5000; run `berth check --registry bad.yaml` to see them all"
    );
}

#[test]
fn the_global_manager_is_built_once() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::registry::REGISTRY_PATH);
    let first = PortManager::global(Some(&path)).expect("shipped registry");
    let second = PortManager::global(Some(Path::new("/elsewhere.yaml"))).expect("already built");
    assert!(std::ptr::eq(first, second));
    assert_eq!(second.get_port("kafka", 1, "broker_port"), Ok(9192));
}
