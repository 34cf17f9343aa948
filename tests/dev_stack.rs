//! The development stack (docker/dev-stack): a Temporal dev server, the berth worker image
//! and Prometheus with berth's alert rules come up on the registry's `berth` ports;
//! Prometheus scrapes the worker and has the rules loaded, and a SpinUp runs through the
//! stack's Temporal and its worker.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::DockerScene;

const REGISTRY: &str = "\
berth:
  metrics_port: {base}
  sdk_metrics_port: {base+1}
  temporal_port: {base+2}
  temporal_ui_port: {base+3}
  temporal_metrics_port: {base+4}
  prometheus_port: {base+5}
web:
  port: {base+6}
  container:
    image: berth-test-busybox
    command: [httpd, -f, -p, '{port}', -h, /tmp]
    timeout: 20s
";

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The stack of one test, removed (with its worker image) when the test ends, pass or fail.
struct Stack<'a> {
    scene: &'a DockerScene,
    project: String,
    worker_image: String,
}

impl Stack<'_> {
    fn script(&self, action: &str) -> Output {
        Command::new("bash")
            .arg(repository().join("docker/dev-stack/stack.sh"))
            .arg(action)
            .env("BERTH", assert_cmd::cargo::cargo_bin!("berth"))
            .env("BERTH_REGISTRY", self.scene.registry.path())
            .env("BERTH_STATE_DIR", self.scene.state.path())
            .env("BERTH_DEV_PROJECT", &self.project)
            .env("BERTH_DEV_TEMPORAL_IMAGE", "berth-test-temporal")
            .env("BERTH_DEV_WORKER_IMAGE", &self.worker_image)
            .env("BERTH_DEV_PROMETHEUS_IMAGE", "berth-test-prometheus")
            .output()
            .expect("run stack.sh")
    }
}

impl Drop for Stack<'_> {
    fn drop(&mut self) {
        let _ = self.script("down");
        let _ = Command::new("docker").args(["image", "rm", "-f", &self.worker_image]).output();
    }
}

/// Prometheus's answer to an API query, once `accept` takes it, asking again for at most a
/// minute (scrapes and rule loads come every few seconds).
fn prometheus_until(port: u16, path: &str, accept: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = common::http_get(port, path)
            .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
            .unwrap_or_default();
        if accept(&answer) || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn the_dev_stack_runs_the_worker_under_prometheus_and_a_spin_up_through_its_temporal() {
    let mut scene = DockerScene::new("devstack", 7, REGISTRY);
    scene.remove_on_drop("web:0");
    let (base, environment) = (scene.base, scene.environment.clone());
    let stack = Stack {
        scene: &scene,
        project: format!("berth-dev-test-{}", std::process::id()),
        worker_image: format!("berth-worker-devstack-{}", std::process::id()),
    };
    let built = Command::new("bash")
        .arg(repository().join("docker/worker/build.sh"))
        .arg(assert_cmd::cargo::cargo_bin!("berth"))
        .arg(scene.registry.path())
        .arg(&stack.worker_image)
        .output()
        .expect("run build.sh");
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));

    let held = std::net::TcpListener::bind(("127.0.0.1", base + 5)).expect("hold the Prometheus port");
    let refused = stack.script("up");
    assert_eq!(refused.status.code(), Some(1));
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(error.contains(&format!("error: port {} (berth.prometheus_port) is in use: ", base + 5)), "{error}");
    let made = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=io.berth.dev-stack={}", stack.project)])
        .output()
        .expect("docker ps");
    assert_eq!(String::from_utf8_lossy(&made.stdout).trim(), "", "a refused start makes nothing");
    drop(held);

    let up = stack.script("up");
    let said = String::from_utf8_lossy(&up.stdout);
    assert!(up.status.success(), "{said}{}", String::from_utf8_lossy(&up.stderr));
    assert!(said.contains(&format!("Temporal      127.0.0.1:{}", base + 2)), "{said}");
    assert!(said.contains(&format!("Prometheus    http://127.0.0.1:{}/", base + 5)), "{said}");

    let prometheus = base + 5;
    let up_targets = |answer: &serde_json::Value| {
        let targets = answer["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
        let health = |job: &str| {
            targets.iter().find(|target| target["labels"]["job"] == job).map(|target| target["health"].clone())
        };
        health("berth-worker") == Some("up".into()) && health("berth-worker-sdk") == Some("up".into())
    };
    let targets = prometheus_until(prometheus, "/api/v1/targets", up_targets);
    assert!(up_targets(&targets), "the worker's targets are up: {targets}");
    let scraped =
        |answer: &serde_json::Value| answer["data"]["result"].as_array().is_some_and(|result| !result.is_empty());
    // count({__name__=~"berth_.+"}): how many berth series Prometheus holds.
    let berth_series = "/api/v1/query?query=count(%7B__name__%3D~%22berth_.%2B%22%7D)";
    let metric = prometheus_until(prometheus, berth_series, scraped);
    assert!(scraped(&metric), "a berth metric is scraped: {metric}");
    let rules = prometheus_until(prometheus, "/api/v1/rules", |answer| answer["data"]["groups"].as_array().is_some());
    let alerts: Vec<String> = rules["data"]["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|rule| rule["name"].as_str().map(str::to_string))
        .collect();
    assert!(alerts.iter().any(|name| name == "BerthWorkerDown"), "berth's alert rules are loaded: {alerts:?}");
    assert!(alerts.iter().any(|name| name == "BerthWorkerNotPolling"), "{alerts:?}");

    let temporal = format!("127.0.0.1:{}", base + 2);
    let spun = scene
        .berth()
        .args(["up", "web:0", "--env", &environment, "--temporal", &temporal, "--format", "json"])
        .output()
        .expect("berth up --temporal");
    assert!(spun.status.success(), "{}", String::from_utf8_lossy(&spun.stderr));
    let result: serde_json::Value = serde_json::from_slice(&spun.stdout).expect("the SpinUp's result");
    assert_eq!(result["started"][0]["container"], scene.container("web", 0), "{result}");
    assert_eq!(result["started"][0]["ports"]["port"], base + 6, "{result}");
    assert!(common::http_get(base + 6, "/").is_some(), "the instance serves on its port");
    let down = scene
        .berth()
        .args(["down", "web:0", "--env", &environment, "--temporal", &temporal])
        .output()
        .expect("berth down --temporal");
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(common::containers_of(&environment).is_empty());

    let removed = stack.script("down");
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    let left = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=io.berth.dev-stack={}", stack.project)])
        .output()
        .expect("docker ps");
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "", "the stack's containers are gone");
}
