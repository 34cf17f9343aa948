//! Stacks against a real engine: the services of one instance share a network where each
//! answers to its service's name, `depends_on` starts dependencies first, named stacks
//! start wired copies, and taking them down leaves no network, container or lease.
//! The Prometheus + Alertmanager test runs Debian's real programs (test images built by
//! docker/test-images/build.sh).

mod common;

use std::time::{Duration, Instant};

use common::{CLIENT_SERVER, DockerScene, containers_of, http_get, network_exists, up_json};
use predicates::prelude::*;

#[test]
fn a_dependent_reaches_its_own_instances_dependency_by_name() {
    let mut scene = DockerScene::new("clientserver", 6, CLIENT_SERVER);
    scene.remove_on_drop("client:0-1");
    scene.remove_on_drop("server:0-1");
    let output = scene.berth().args(["up", "client:0-1", "--format", "json"]).output().expect("up");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("also starting server[1] (client[1] depends on it)"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let started: Vec<&str> = report["started"]
        .as_array()
        .expect("started")
        .iter()
        .map(|instance| instance["service"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(started, ["server", "server", "client", "client"], "dependencies start first");
    for instance in 0..2u16 {
        let page = http_get(scene.base + 3 + instance, "/index.html").expect("client answers");
        assert_eq!(page.trim(), format!("server-{instance}"), "client[{instance}] reached server[{instance}]");
        let network = format!("berth-{}-{instance}", scene.environment);
        assert!(network_exists(&network), "{network}");
    }
    let env = common::block_on(async {
        common::docker()
            .inspect_container(&scene.container("client", 1), None)
            .await
            .expect("inspect")
            .config
            .expect("config")
            .env
            .expect("env")
    });
    assert!(env.contains(&format!("UPSTREAM_ON_HOST={}", scene.base + 1)), "{env:?}");
    let status = scene.berth().args(["status", "--format", "json"]).output().expect("status");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    let client = status["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|container| container["name"] == scene.container("client", 1).as_str())
        .expect("client[1] listed");
    assert_eq!(client["networks"][0], format!("berth-{}-1", scene.environment));

    scene
        .berth()
        .args(["down", "client:0-1", "server:0-1"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("network berth-{}-1 removed", scene.environment)));
    assert!(containers_of(&scene.environment).is_empty());
    for instance in 0..2 {
        assert!(!network_exists(&format!("berth-{}-{instance}", scene.environment)));
    }
    let leases = scene.berth().args(["leases", "--format", "json"]).output().expect("leases");
    assert_eq!(String::from_utf8_lossy(&leases.stdout).trim(), "[]", "no lease left");
}

#[test]
fn a_failing_dependent_undoes_its_dependencies_and_their_network() {
    let broken = CLIENT_SERVER.replace("&& exec httpd", "&& exit 4 && exec httpd");
    let mut scene = DockerScene::new("brokenclient", 6, &broken);
    scene.remove_on_drop("client:2");
    scene.remove_on_drop("server:2");
    let output = scene.berth().args(["up", "client:2"]).output().expect("up");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ExitedEarly"), "{stderr}");
    let network = format!("berth-{}-2", scene.environment);
    assert!(stderr.contains(&format!("removed container {}", scene.container("server", 2))), "{stderr}");
    assert!(stderr.contains(&format!("removed network {network}")), "{stderr}");
    assert!(containers_of(&scene.environment).is_empty());
    assert!(!network_exists(&network));
}

#[test]
fn a_network_of_the_stack_name_that_is_not_berths_is_left_alone() {
    let mut scene = DockerScene::new("foreignnet", 6, CLIENT_SERVER);
    scene.remove_on_drop("server:1");
    let network = format!("berth-{}-1", scene.environment);
    let created = std::process::Command::new("docker").args(["network", "create", &network]).output().expect("docker");
    assert!(created.status.success());
    scene
        .berth()
        .args(["up", "server:1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("network `{network}` is not berth's for server[1]")));
    assert!(containers_of(&scene.environment).is_empty());
    assert!(network_exists(&network), "the foreign network stays");
    let _ = std::process::Command::new("docker").args(["network", "rm", &network]).output();
}

const ALERTING: &str = "\
stacks:
  alerting: [alertmanager, prometheus]
alertmanager:
  port: {base}
  instance_increment: 1
  max_instances: 2
  container:
    image: berth-test-alertmanager
    ports:
      port: 9093
    files:
      /etc/alertmanager/alertmanager.yml: |
        route:
          receiver: copy-{instance_id}
        receivers:
          - name: copy-{instance_id}
    ready:
      http: {port: port, path: /-/ready}
    timeout: 30s
prometheus:
  port: {base+2}
  instance_increment: 1
  max_instances: 2
  container:
    image: berth-test-prometheus
    depends_on: [alertmanager]
    ports:
      port: 9090
    files:
      /etc/prometheus/prometheus.yml: |
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        alerting:
          alertmanagers:
            - static_configs:
                - targets: ['{alertmanager.port.address}']
        scrape_configs:
          - job_name: alertmanager
            static_configs:
              - targets: ['{alertmanager.port.address}']
    ready:
      http: {port: port, path: /-/ready}
    timeout: 30s
";

/// The value of the `alertmanager_config_hash` sample in a Prometheus text exposition.
fn config_hash_in_metrics(text: &str) -> Option<String> {
    text.lines()
        .find(|line| line.starts_with("alertmanager_config_hash "))
        .and_then(|line| line.split_whitespace().nth(1))
        .map(str::to_string)
}

/// What Prometheus's API on `port` answers at `path` once `found` finds something in it:
/// polled for at most a minute (service discovery takes about 5 s, then one scrape).
fn prometheus_answer(port: u16, path: &str, found: impl Fn(&serde_json::Value) -> Option<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = http_get(port, path).unwrap_or_default();
        if let Some(value) = found(&serde_json::from_str(&body).unwrap_or_default()) {
            return value;
        }
        assert!(Instant::now() < deadline, "Prometheus on {port} answered {path} with nothing within a minute: {body}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn two_copies_of_a_prometheus_and_alertmanager_stack_stay_apart() {
    let mut scene = DockerScene::new("alerting", 4, ALERTING);
    scene.remove_on_drop("alerting:0-1");
    let report = up_json(&scene, &["alerting:0-1"]);
    assert_eq!(report["started"].as_array().map(Vec::len), Some(4));
    let mut hashes = Vec::new();
    for instance in 0..2u16 {
        let own = http_get(scene.base + instance, "/metrics").and_then(|text| config_hash_in_metrics(&text));
        let own = own.expect("alertmanager exposes its config hash");
        let prometheus = scene.base + 2 + instance;
        let active = prometheus_answer(prometheus, "/api/v1/alertmanagers", |answer| {
            answer["data"]["activeAlertmanagers"][0]["url"].as_str().map(str::to_string)
        });
        assert_eq!(active, "http://alertmanager:9093/api/v2/alerts");
        let scraped = prometheus_answer(prometheus, "/api/v1/query?query=alertmanager_config_hash", |answer| {
            answer["data"]["result"][0]["value"][1].as_str().map(str::to_string)
        });
        let own: f64 = own.parse().expect("number");
        let scraped: f64 = scraped.parse().expect("number");
        assert_eq!(own, scraped, "prometheus[{instance}] scraped alertmanager[{instance}]");
        hashes.push(own);
    }
    assert_ne!(hashes[0], hashes[1], "the copies run their own configurations");

    scene.berth().args(["down", "alerting:0-1", "--volumes"]).assert().success();
    assert!(containers_of(&scene.environment).is_empty());
    for instance in 0..2 {
        assert!(!network_exists(&format!("berth-{}-{instance}", scene.environment)));
    }
    let leases = scene.berth().args(["leases", "--format", "json"]).output().expect("leases");
    assert_eq!(String::from_utf8_lossy(&leases.stdout).trim(), "[]");
}

/// How many networks are called exactly `name` (older engines allow several).
fn networks_named(name: &str) -> usize {
    let output = std::process::Command::new("docker")
        .args(["network", "ls", "--filter", &format!("name={name}"), "--format", "{{.Name}}"])
        .output()
        .expect("docker network ls");
    String::from_utf8_lossy(&output.stdout).lines().filter(|line| *line == name).count()
}

const TWO_SERVICES: &str = "\
one:
  port: {base}
  instance_increment: 1
  max_instances: 2
  container:
    image: berth-test-busybox
    command: [httpd, -f, -p, '{port}', -h, /tmp]
    timeout: 20s
two:
  port: {base+2}
  instance_increment: 1
  max_instances: 2
  container:
    image: berth-test-busybox
    command: [httpd, -f, -p, '{port}', -h, /tmp]
    timeout: 20s
";

#[test]
fn services_started_at_once_share_one_network() {
    let mut scene = DockerScene::new("onenet", 4, TWO_SERVICES);
    scene.remove_on_drop("one:0-1");
    scene.remove_on_drop("two:0-1");
    // In one process, both at once.
    up_json(&scene, &["one:0", "two:0"]);
    assert_eq!(networks_named(&format!("berth-{}-0", scene.environment)), 1);
    // In two processes at once.
    let (first, second) = std::thread::scope(|threads| {
        let first = threads.spawn(|| scene.berth().args(["up", "one:1"]).output().expect("run"));
        let second = scene.berth().args(["up", "two:1"]).output().expect("run");
        (first.join().expect("first"), second)
    });
    assert!(first.status.success() && second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(networks_named(&format!("berth-{}-1", scene.environment)), 1);
    scene.berth().args(["down", "one:0-1", "two:0-1"]).assert().success();
    assert_eq!(networks_named(&format!("berth-{}-0", scene.environment)), 0);
    assert_eq!(networks_named(&format!("berth-{}-1", scene.environment)), 0);
}

#[test]
fn a_network_a_stopped_or_foreign_container_uses_is_kept() {
    let mut scene = DockerScene::new("keptnet", 6, CLIENT_SERVER);
    scene.remove_on_drop("client:0-1");
    scene.remove_on_drop("server:0-1");
    up_json(&scene, &["client:0-1"]);
    let docker = |arguments: &[&str]| {
        let output = std::process::Command::new("docker").args(arguments).output().expect("docker");
        assert!(output.status.success(), "docker {arguments:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    // A stopped berth container still needs its network to start again.
    docker(&["stop", &scene.container("server", 0)]);
    scene.berth().args(["down", "client:0"]).assert().success();
    let network = format!("berth-{}-0", scene.environment);
    assert!(network_exists(&network), "server[0] is stopped, not gone");
    up_json(&scene, &["server:0"]);

    // A container that is not berth's keeps the network too, and stays startable.
    let foreign = format!("foreign-{}", scene.environment);
    let network = format!("berth-{}-1", scene.environment);
    docker(&["create", "--name", &foreign, "--network", &network, "berth-test-busybox", "sleep", "30"]);
    scene.berth().args(["down", "client:1", "server:1"]).assert().success();
    assert!(network_exists(&network));
    docker(&["start", &foreign]);
    docker(&["rm", "--force", &foreign]);
    docker(&["network", "rm", &network]);
}

#[test]
fn a_stack_goes_down_with_what_it_brought_up() {
    let stacked = format!("stacks:\n  front: [client]\n{CLIENT_SERVER}");
    let mut scene = DockerScene::new("stackdown", 6, &stacked);
    scene.remove_on_drop("front:2");
    scene.remove_on_drop("server:2");
    let report = up_json(&scene, &["front:2"]);
    assert_eq!(report["started"].as_array().map(Vec::len), Some(2), "the stack's client and the server it needs");
    scene.berth().args(["down", "front:2"]).assert().success();
    assert!(containers_of(&scene.environment).is_empty(), "the server went down with the stack");
    assert!(!network_exists(&format!("berth-{}-2", scene.environment)));
}

#[test]
fn a_second_berth_network_of_the_name_is_resolved_not_fatal() {
    let mut scene = DockerScene::new("dupnet", 4, TWO_SERVICES);
    scene.remove_on_drop("one:0");
    scene.remove_on_drop("two:0");
    up_json(&scene, &["one:0"]);
    let network = format!("berth-{}-0", scene.environment);
    // What a concurrent berth can leave on engines before Docker 25: a second network of
    // the name with berth's labels (the docker CLI refuses that; the API does not).
    common::block_on(async {
        let labels = std::collections::HashMap::from([
            ("io.berth.managed".to_string(), "true".to_string()),
            ("io.berth.env".to_string(), scene.environment.clone()),
            ("io.berth.instance".to_string(), "0".to_string()),
        ]);
        let request =
            bollard::models::NetworkCreateRequest { name: network.clone(), labels: Some(labels), ..Default::default() };
        common::docker().create_network(request).await.expect("second network");
    });
    assert_eq!(networks_named(&network), 2);
    up_json(&scene, &["two:0"]);
    assert_eq!(networks_named(&network), 1, "the unused copy is removed");
    let page = common::block_on(async {
        common::docker().inspect_container(&scene.container("two", 0), None).await.expect("inspect")
    });
    let joined = page.network_settings.and_then(|settings| settings.networks).unwrap_or_default();
    assert!(joined.contains_key(&network), "{joined:?}");
    scene.berth().args(["down", "one:0", "two:0"]).assert().success();
    assert_eq!(networks_named(&network), 0);
}
