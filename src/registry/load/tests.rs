use std::path::{Path, PathBuf};

use super::*;
use crate::registry::PortRange;

fn parse_text(text: &str) -> Result<Registry, LoadError> {
    parse(text, Path::new("ports.yaml"))
}

fn error_of(text: &str) -> String {
    parse_text(text).expect_err("should be refused").to_string()
}

const SEED_EXAMPLE: &str = "\
service_name:
  port: 9092                  # For single-port services
  broker_port: 9092           # For multi-port services
  controller_port: 19093
  instance_increment: 100     # Port increment per instance
  max_instances: 10           # Maximum recommended instances

my_new_service:
  port: 10000
  instance_increment: 100
  max_instances: 5
";

#[test]
fn the_seed_format_loads_unchanged() {
    let registry = parse_text(SEED_EXAMPLE).expect("seed example loads");
    assert_eq!(registry.services.len(), 2);
    let first = &registry.services[0];
    assert_eq!(first.name, "service_name");
    let keys: Vec<(&str, u16)> = first.ports.iter().map(|key| (key.name.as_str(), key.base)).collect();
    assert_eq!(keys, [("port", 9092), ("broker_port", 9092), ("controller_port", 19093)]);
    assert_eq!(registry.services[1].max_instances, 5);
    assert_eq!(registry.environments, [Environment { name: "development".into(), offset: 0 }]);
}

#[test]
fn defaults_apply_where_a_service_is_silent() {
    let registry = parse_text("a:\n  port: 1000\nb:\n  port: 2000\n  max_instances: 2\n").expect("loads");
    assert_eq!(registry.services[0].instance_increment, DEFAULT_INSTANCE_INCREMENT);
    assert_eq!(registry.services[0].max_instances, DEFAULT_MAX_INSTANCES);
    let registry =
        parse_text("defaults:\n  instance_increment: 7\n  max_instances: 3\na:\n  port: 1000\nb:\n  port: 2000\n  max_instances: 2\n")
            .expect("loads");
    assert_eq!((registry.services[0].instance_increment, registry.services[0].max_instances), (7, 3));
    assert_eq!((registry.services[1].instance_increment, registry.services[1].max_instances), (7, 2));
}

#[test]
fn every_addition_loads() {
    let text = "\
environments:
  development: 0
  staging: 1000
dynamic_range: 30500-30599
reserved:
  - ports: \"22\"
    reason: ssh
  - ports: \"5432, 30000-32767\"
    reason: database and NodePorts
  - ports: 80
    reason: http
api:
  description: Backend API
  port: 8000
  range: [8000, 8009]
  max_instances: 10
  instance_increment: 1
docs:
  port: 8100
  range: \"8100-8199\"
";
    let registry = parse_text(text).expect("loads");
    assert_eq!(registry.environments[1], Environment { name: "staging".into(), offset: 1000 });
    assert_eq!(registry.dynamic_range, Some(PortRange { start: 30500, end: 30599 }));
    assert_eq!(registry.reserved.len(), 3);
    assert_eq!(
        registry.reserved[1].ports,
        [PortRange { start: 5432, end: 5432 }, PortRange { start: 30000, end: 32767 }]
    );
    assert_eq!(registry.services[0].range, Some(PortRange { start: 8000, end: 8009 }));
    assert_eq!(registry.services[0].description.as_deref(), Some("Backend API"));
    assert_eq!(registry.services[1].range, Some(PortRange { start: 8100, end: 8199 }));
}

/// Each bad input: the exact message, led by `file:line:column`.
#[test]
fn bad_inputs_are_refused_with_their_location() {
    let cases = [
        ("- kafka\n", "ports.yaml:1:1: invalid type: sequence, expected a map of services (`kafka:`, `redis:`, …)"),
        ("kafka:\n  port: 1\n\tbroker_port: 2\n", "ports.yaml:2:9: while scanning a plain scalar, found a tab"),
        (
            "kafka:\n  port: 1\nkafka:\n  port: 2\n",
            "ports.yaml:3:1: duplicate service `kafka`: each may appear once; merge the two entries",
        ),
        (
            "kafka:\n  port: 1\n  port: 2\n",
            "ports.yaml:3:3: kafka: duplicate key `port`: each may appear once; merge the two entries",
        ),
        (
            "kafka:\n  port: 1\n  max_instance: 3\n",
            "ports.yaml:3:3: kafka: unknown field `max_instance`: did you mean `max_instances`? a service takes `container`, `description`, `instance_increment`, `max_instances`, `range` and port keys named `port` or ending in `_port`",
        ),
        (
            "kafka:\n  port: 0\n",
            "ports.yaml:2:9: kafka.port: a port of 0 is out of range: ports are whole numbers from 1 to 65535",
        ),
        (
            "kafka:\n  port: 70000\n",
            "ports.yaml:2:9: kafka.port: a port of 70000 is out of range: ports are whole numbers from 1 to 65535",
        ),
        (
            "kafka:\n  port: -1\n",
            "ports.yaml:2:9: kafka.port: a port of -1 is out of range: ports are whole numbers from 1 to 65535",
        ),
        (
            "kafka:\n  port: \"9092\"\n",
            "ports.yaml:2:9: kafka.port: invalid type: string \"9092\", expected a port such as 9092, or a map such as {port: 9092, env_var: KAFKA_PORT, fallback: 9093-9099}",
        ),
        (
            "kafka:\n  port: 9092\n  instance_increment: 0\n",
            "ports.yaml:3:23: kafka.instance_increment: `instance_increment` of 0 is out of range: instances need distinct ports, so the increment is at least 1",
        ),
        (
            "kafka:\n  port: 9092\n  max_instances: 0\n",
            "ports.yaml:3:18: kafka.max_instances: `max_instances` of 0 is out of range: a service needs at least instance 0",
        ),
        (
            "reserved:\n  - ports: \"32767-30000\"\n    reason: backwards\n",
            "ports.yaml:2:12: reserved[0].ports: range 32767-30000 is written backwards: write 30000-32767",
        ),
        (
            "api:\n  port: 8000\n  range: [8009, 8000]\n",
            "ports.yaml:3:10: api.range: range 8009-8000 is written backwards: write 8000-8009",
        ),
        ("reserved:\n  - ports: \"22\"\n", "ports.yaml:2:5: reserved[0]: missing field `reason`"),
        (
            "kafka: 9092\n",
            "ports.yaml:1:8: kafka: invalid type: integer `9092`, expected service `kafka` as a map with `port:` or keys ending in `_port`",
        ),
        (
            "environments:\n  staging: -5\nkafka:\n  port: 1\n",
            "ports.yaml:2:12: environments.staging: an environment offset of -5 is out of range: offsets are whole numbers from 0 to 65535",
        ),
        (
            "enviroments:\n  staging: 1000\n",
            "ports.yaml:2:3: enviroments: unknown field `staging`: `enviroments` is read as a service; if it was meant as the top-level `environments:`, correct its spelling; a service takes `container`, `description`, `instance_increment`, `max_instances`, `range` and port keys named `port` or ending in `_port`",
        ),
        (
            "defaults:\n  increment: 5\nkafka:\n  port: 1\n",
            "ports.yaml:2:3: defaults: unknown field `increment`, expected `instance_increment` or `max_instances`",
        ),
    ];
    let mismatches: Vec<String> = cases
        .iter()
        .filter_map(|(text, expected)| {
            let actual = error_of(text);
            (actual != *expected).then(|| format!("input {text:?}\n  expected: {expected}\n  actual:   {actual}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn a_file_without_services_is_empty() {
    for text in ["", "# only a comment\n", "defaults:\n  max_instances: 2\n"] {
        assert!(matches!(parse_text(text), Err(LoadError::Empty { .. })), "{text:?} should be refused as empty");
    }
    assert!(error_of("").starts_with("ports.yaml: the port registry defines no services"));
}

#[test]
fn missing_files_and_directories_cannot_be_read() {
    let directory = tempfile::tempdir().expect("tempdir");
    let missing = directory.path().join("nope.yaml");
    let error = load_file(&missing).expect_err("missing");
    assert!(matches!(error, LoadError::Read { .. }));
    assert!(error.to_string().contains("nope.yaml") && error.to_string().contains("No such file"));
    let error = load_file(directory.path()).expect_err("directory");
    assert!(error.to_string().contains("Is a directory"), "{error}");
}

#[test]
fn location_prefers_the_flag_then_the_variable_then_the_nearest_parent() {
    let root = tempfile::tempdir().expect("tempdir");
    let nested = root.path().join("a/b");
    std::fs::create_dir_all(&nested).expect("nested");
    std::fs::create_dir_all(root.path().join("dynamicconfig")).expect("dynamicconfig");
    let found = root.path().join(REGISTRY_PATH);
    std::fs::write(&found, "redis:\n  port: 6379\n").expect("write");

    let flag = PathBuf::from("/flag.yaml");
    assert_eq!(locate_from(Some(&flag), Some("/var.yaml".into()), &nested).expect("flag"), flag);
    assert_eq!(locate_from(None, Some("/var.yaml".into()), &nested).expect("variable"), PathBuf::from("/var.yaml"));
    assert_eq!(locate_from(None, Some("".into()), &nested).expect("search"), found);
    assert_eq!(locate_from(None, None, &nested).expect("search"), found);

    let elsewhere = tempfile::tempdir().expect("tempdir");
    let error = locate_from(None, None, elsewhere.path()).expect_err("nothing to find");
    assert!(error.to_string().contains("pass --registry PATH or set BERTH_REGISTRY"), "{error}");
}

#[test]
fn the_shipped_registry_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(REGISTRY_PATH);
    let registry = load_file(&path).expect("shipped registry loads");
    let names: Vec<&str> = registry.services.iter().map(|service| service.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "berth",
            "kafka",
            "mongodb",
            "mongoexpress",
            "redis",
            "alertmanager",
            "prometheus",
            "grafana",
            "loki",
            "jaeger",
            "neo4j",
            "qdrant",
            "traefik",
            "promtail",
            "temporal",
            "argocd"
        ]
    );
}

#[test]
fn container_sections_load_with_defaults() {
    let text = "\
redis:
  port: 6379
  container:
    image: redis:7
    command: [redis-server, --port, '{port}']
    volumes:
      data: /data
    ready:
      command: [redis-cli, ping]
web:
  port: 8080
  container:
    image: web:1
    host: 0.0.0.0
    timeout: 90s
    ready:
      http: {port: port, path: /healthz}
";
    let registry = parse_text(text).expect("loads");
    let redis = registry.services[0].container.as_ref().expect("section");
    assert_eq!(redis.host.to_string(), "127.0.0.1");
    assert_eq!(redis.timeout, crate::registry::DEFAULT_READY_TIMEOUT);
    assert_eq!(redis.volumes.get("data").map(String::as_str), Some("/data"));
    assert_eq!(redis.ready, Some(crate::registry::Ready::Command(vec!["redis-cli".into(), "ping".into()])));
    let web = registry.services[1].container.as_ref().expect("section");
    assert_eq!(web.timeout, std::time::Duration::from_secs(90));
    assert_eq!(
        web.ready,
        Some(crate::registry::Ready::Http { port: "port".into(), path: "/healthz".into(), status: 200 })
    );
}

#[test]
fn bad_container_sections_are_located() {
    let error = error_of("web:\n  port: 1\n  container:\n    image: x\n    timeout: soon\n");
    assert!(error.starts_with("ports.yaml:5:14: web.container.timeout: `soon` is not a duration"), "{error}");
    let error = error_of("web:\n  port: 1\n  container:\n    image: x\n    ready:\n      ping: port\n");
    assert!(error.starts_with("ports.yaml:6:7: web.container.ready: unknown variant `ping`"), "{error}");
    let error = error_of("web:\n  port: 1\n  container:\n    imag: x\n");
    assert!(error.contains("unknown field `imag`, expected one of `image`"), "{error}");
}

/// Each input Docker, a shell or the kernel would refuse later: the location and the rule.
#[test]
fn names_and_values_the_engine_rejects_are_refused_with_their_location() {
    let container = |section: &str| format!("rl:\n  port: 45000\n  container:\n    image: redis:7\n{section}");
    let cases: Vec<(String, &str)> = vec![
        ("rl/web:\n  port: 1\n".into(), "ports.yaml:1:1: service name `rl/web` is not usable"),
        ("rl web:\n  port: 1\n".into(), "service name `rl web` is not usable"),
        ("..:\n  port: 1\n".into(), "service name `..` is not usable"),
        (".x:\n  port: 1\n".into(), "service name `.x` is not usable"),
        ("_x:\n  port: 1\n".into(), "service name `_x` is not usable"),
        ("'-':\n  port: 1\n".into(), "service name `-` is not usable"),
        ("ünï:\n  port: 1\n".into(), "service name `ünï` is not usable"),
        ("Kafka:\n  port: 1\n".into(), "service name `Kafka` is not usable"),
        (
            "\"x\\nexport PATH=/tmp/evil\":\n  port: 1\n".into(),
            r"service name `x\nexport PATH=/tmp/evil` is not usable",
        ),
        (
            "environments:\n  dev/x: 0\nrl:\n  port: 1\n".into(),
            "ports.yaml:2:3: environments: environment name `dev/x` is not usable",
        ),
        ("environments:\n  'a:b': 0\nrl:\n  port: 1\n".into(), "environment name `a:b` is not usable"),
        ("rl:\n  http-x_port: 1\n".into(), "ports.yaml:2:3: rl: port key `http-x_port` is not usable"),
        ("rl:\n  port: {port: 1, env_var: 'A-B'}\n".into(), "variable name `A-B` is not usable"),
        ("rl:\n  port: {port: 1, env_var: PATH}\n".into(), "variable name `PATH` is not usable"),
        ("0day:\n  port: 1\n".into(), "service name `0day` is not usable"),
        (
            "rl:\n  port: 1\n  container:\n    image: redis\n    volumes:\n      a: /proc/x\n".into(),
            "mount path `/proc/x` is not usable",
        ),
        (
            "rl:\n  port: 1\n  container:\n    image: redis\n    command: [*x]\n".into(),
            "YAML alias `*x` is not supported",
        ),
        ("rl:\n  description: \"two\\nlines\"\n  port: 1\n".into(), "holds a line break or control character"),
        (
            container("    volumes:\n      a/b: /data\n"),
            "ports.yaml:6:7: rl.container.volumes: volume key name `a/b` is not usable",
        ),
        (
            container("    volumes:\n      data: data\n"),
            "ports.yaml:6:13: rl.container.volumes.data: mount path `data` is not usable: Docker mounts volumes only at absolute paths",
        ),
        (
            container("    files:\n      /etc/app/: x\n"),
            "ports.yaml:6:7: rl.container.files: file path `/etc/app/` is not usable: berth writes files only at absolute paths to a file",
        ),
        (container("    files:\n      etc/app.yml: x\n"), "file path `etc/app.yml` is not usable"),
        (container("    files:\n      /etc/a: \"x\\0y\"\n"), "a file's content must be text without NUL bytes"),
        (container("    depends_on: [Redis]\n"), "service name `Redis` is not usable"),
        ("stacks:\n  web: []\nrl:\n  port: 1\n".into(), "stack `web` lists no services"),
        ("stacks:\n  web: [a, 'b c']\nrl:\n  port: 1\n".into(), "service name `b c` is not usable"),
        ("stacks: [web]\nrl:\n  port: 1\n".into(), "a map of stack names to lists of services"),
        (
            container("    env:\n      '': x\n"),
            "ports.yaml:6:7: rl.container.env: environment variable name `` is not usable",
        ),
        (container("    env:\n      A: \"x\\0y\"\n"), "environment value `x\\0y` holds a NUL byte"),
        (
            "rl:\n  port: 1\n  container:\n    image: RL/Upper\n".into(),
            "ports.yaml:4:12: rl.container.image: image `RL/Upper` is not a valid reference",
        ),
        ("rl:\n  port: 1\n  container:\n    image: ''\n".into(), "image `` is not a valid reference (it is empty)"),
        (
            "rl:\n  port: 1\n  container:\n    image: https://example.com/x\n".into(),
            "image `https://example.com/x` is not a valid reference (a reference has no scheme)",
        ),
        (
            container("    ports:\n      port: 0\n"),
            "ports.yaml:6:13: rl.container.ports.port: a port of 0 is out of range",
        ),
        (
            container("    ready:\n      http: {port: port, status: 0}\n"),
            "HTTP status 0 is out of range: statuses run from 100 to 599",
        ),
        (container("    ready:\n      http: {port: port, path: health}\n"), "HTTP path `health` must start with `/`"),
        (container("    ready:\n      log: {pattern: x, times: 0}\n"), "`times: 0` is out of range"),
        (container("    command: []\n"), "a command needs at least the program to run"),
        (
            container("    timeout: 18446744073709551615s\n"),
            "ports.yaml:5:14: rl.container.timeout: timeout `18446744073709551615s` is out of range",
        ),
        (
            container("    timeout: 200000000s\n"),
            "timeout `200000000s` is out of range: a start may take from 1s to 1d",
        ),
        (container("    timeout: 0s\n"), "timeout `0s` is out of range"),
        ("dynamic_range: \"9999\\nreserved:\"\nrl:\n  port: 1\n".into(), r"`9999\nreserved:` in range"),
    ];
    let mismatches: Vec<String> = cases
        .iter()
        .filter_map(|(text, expected)| {
            let actual = error_of(text);
            let one_line = !actual.contains('\n');
            (!actual.contains(expected) || !one_line)
                .then(|| format!("input {text:?}\n  expected: {expected}\n  actual:   {actual}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn named_dynamic_ranges_load_in_file_order_and_refuse_repeats() {
    let registry =
        parse_text("dynamic_ranges:\n  ml: 30500-30599\n  web: [30600, 30699]\nredis:\n  port: 6379\n").expect("loads");
    let names: Vec<(&str, u16)> =
        registry.dynamic_ranges.iter().map(|named| (named.name.as_str(), named.range.start)).collect();
    assert_eq!(names, [("ml", 30500), ("web", 30600)]);
    let repeated = parse_text("dynamic_ranges:\n  ml: 30500-30599\n  ml: 30600-30699\nredis:\n  port: 6379\n");
    assert!(repeated.is_err_and(|error| error.to_string().contains("ml")));
    let backwards = parse_text("dynamic_ranges:\n  ml: 30599-30500\nredis:\n  port: 6379\n");
    assert!(backwards.is_err());
}
