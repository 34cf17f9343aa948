//! berth across three hosts on one machine (scripts/fleet.sh: a network namespace, an
//! address and a Docker engine each), with a Temporal dev server in the root namespace and
//! one worker per host: hosts stay apart, a foreign listener on one host fails only that
//! host's instance, and `berth fleet` finds the hosts from Temporal and lists them all.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PORT: u16 = 18080;
const SLOW_PORT: u16 = 18090;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn berth_binary() -> PathBuf {
    PathBuf::from(assert_cmd::cargo::cargo_bin!("berth"))
}

/// A fleet, its Temporal dev server and a worker per host, all removed on drop.
struct Fleet {
    name: String,
    root: String,
    hosts: Vec<(String, String)>,
    temporal: Option<Child>,
    temporal_address: String,
    workers: Vec<Child>,
    registry: tempfile::NamedTempFile,
    state: tempfile::TempDir,
}

impl Fleet {
    fn script(name: &str, arguments: &[&str]) -> Output {
        Command::new("bash")
            .arg(repository().join("scripts/fleet.sh"))
            .args(arguments)
            .arg(name)
            .output()
            .expect("run fleet.sh")
    }

    /// `count` hosts for the test whose one-letter `tag` sets its fleet apart from the
    /// other tests' running at the same time.
    fn up(tag: char, count: usize, environment: &str) -> Self {
        let name = format!("f{tag}{}", std::process::id() % 10_000);
        let made = Command::new("bash")
            .arg(repository().join("scripts/fleet.sh"))
            .args(["up", &name, &count.to_string(), "berth-test-busybox"])
            .output()
            .expect("run fleet.sh up");
        let said = String::from_utf8_lossy(&made.stdout).into_owned();
        assert!(made.status.success(), "{said}{}", String::from_utf8_lossy(&made.stderr));
        let mut lines = said.lines();
        let root = lines.next().and_then(|line| line.strip_prefix("root ")).expect("the root address").to_string();
        let hosts = lines
            .map(|line| {
                let mut words = line.split_whitespace();
                (words.next().expect("host").to_string(), words.next().expect("address").to_string())
            })
            .collect();
        let registry = common::registry_file(&format!(
            "environments:\n  {environment}: 0\nweb:\n  port: {PORT}\n  instance_increment: 1\n  max_instances: 4\n  container:\n    image: berth-test-busybox\n    command: [sh, -c, 'hostname > /tmp/index.html; exec httpd -f -p {{port}} -h /tmp']\n    host: 0.0.0.0\n    timeout: 30s\nslow:\n  port: {SLOW_PORT}\n  container:\n    image: berth-test-busybox\n    command: [sh, -c, 'sleep 8; exec httpd -f -p {{port}} -h /tmp']\n    host: 0.0.0.0\n    timeout: 120s\n"
        ));
        let mut fleet = Self {
            name,
            root,
            hosts,
            temporal: None,
            temporal_address: String::new(),
            workers: Vec::new(),
            registry,
            state: tempfile::tempdir().expect("state"),
        };
        fleet.start_temporal();
        for index in 0..count {
            fleet.start_worker(index);
        }
        for index in 0..count {
            fleet.wait_for_worker(index);
        }
        fleet
    }

    /// Waits until the worker of host `index` is healthy (Docker and Temporal answer it),
    /// within a minute; fails with its log when it is not, or when it has ended.
    fn wait_for_worker(&mut self, index: usize) {
        let host = self.hosts[index].0.clone();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health = Command::new("bash")
                .arg(repository().join("scripts/fleet.sh"))
                .args(["run", &self.name, &host, "curl", "-s", "--max-time", "5", "127.0.0.1:9464/healthz"])
                .output()
                .expect("ask the worker's health");
            if String::from_utf8_lossy(&health.stdout) == "ok\n" {
                return;
            }
            let log = || std::fs::read_to_string(self.state.path().join(format!("{host}.log"))).unwrap_or_default();
            let ended = self.workers[index].try_wait().expect("the worker's state");
            assert!(ended.is_none(), "the worker of {host} ended ({ended:?}):\n{}", log());
            assert!(Instant::now() < deadline, "the worker of {host} is not healthy after a minute:\n{}", log());
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn start_temporal(&mut self) {
        // On every address: the dev server bound to one address alone cannot describe its
        // own task queues (its services dial each other on 127.0.0.1).
        let port = std::net::TcpListener::bind(("0.0.0.0", 0))
            .and_then(|listener| listener.local_addr())
            .expect("a free port on the fleet's root address")
            .port();
        self.temporal_address = format!("{}:{port}", self.root);
        let temporal = Command::new(repository().join(".venv/bin/temporal"))
            .args(["server", "start-dev", "--headless", "--ip", "0.0.0.0", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the temporal dev server (scripts/ensure-test-tools.sh installs it)");
        self.temporal = Some(temporal);
        // Ready once it answers for its namespace: it accepts connections before that, and a
        // worker that connects too early gives up.
        let deadline = Instant::now() + Duration::from_secs(60);
        let answers = || {
            Command::new(repository().join(".venv/bin/temporal"))
                .args(["operator", "namespace", "list", "--address", &self.temporal_address])
                .output()
                .is_ok_and(|output| output.status.success())
        };
        while !answers() {
            assert!(Instant::now() < deadline, "the Temporal dev server did not answer within 60 s");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn start_worker(&mut self, index: usize) {
        let host = self.hosts[index].0.clone();
        let state = self.state.path().join(&host);
        std::fs::create_dir_all(&state).expect("the host's state directory");
        let worker = Command::new("bash")
            .arg(repository().join("scripts/fleet.sh"))
            .args(["run", &self.name, &host])
            .arg(berth_binary())
            .args(["worker", "--address", &self.temporal_address, "--host-name", &host])
            .args(["--advertise-address", &self.hosts[index].1])
            .args(["--metrics-addr", "127.0.0.1:9464", "--drift-interval", "0s"])
            .env("BERTH_REGISTRY", self.registry.path())
            .env("BERTH_STATE_DIR", &state)
            .env_remove("BERTH_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.state.path().join(format!("{host}.log"))).expect("the worker's log"))
            .spawn()
            .expect("start a worker on the host");
        // A worker started again takes the place of the one that ended.
        match self.workers.get_mut(index) {
            Some(ended) => *ended = worker,
            None => self.workers.push(worker),
        }
    }

    /// `berth ARGS` on the root namespace, against the fleet's Temporal.
    fn berth(&self, arguments: &[&str]) -> Output {
        Command::new(berth_binary())
            .args(arguments)
            .env("BERTH_REGISTRY", self.registry.path())
            .env("BERTH_STATE_DIR", self.state.path().join("cli"))
            .env("TEMPORAL_ADDRESS", &self.temporal_address)
            .env_remove("BERTH_LOG")
            .output()
            .expect("run berth")
    }

    /// `berth serve --temporal` on the root namespace, against the fleet's Temporal.
    fn serve(&self) -> Serving {
        let mut child = Command::new(berth_binary())
            .args(["serve", "--addr", "127.0.0.1:0", "--temporal", &self.temporal_address])
            .env("BERTH_REGISTRY", self.registry.path())
            .env("BERTH_STATE_DIR", self.state.path().join("cli"))
            .env_remove("BERTH_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start berth serve");
        let mut said = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        while !line.contains("serves the port map at http://") {
            line.clear();
            let read = std::io::BufRead::read_line(&mut said, &mut line).expect("stderr");
            assert!(read > 0, "berth serve ended without saying where it listens");
        }
        let port = line
            .split("port map at http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no address in: {line}"));
        // Read the rest, so that a line it says later does not meet a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut said, &mut std::io::sink()));
        Serving { child, port }
    }

    /// `berth fleet --format json`, once it lists `count` hosts (a worker shows once Temporal
    /// has seen it poll), within two minutes; fails with the workers' logs when it does not.
    fn listed(&self, count: usize) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let output = self.berth(&["fleet", "--format", "json"]);
            let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
            if listed["hosts"].as_array().is_some_and(|hosts| hosts.len() == count) {
                return listed;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = self
                    .hosts
                    .iter()
                    .map(|(host, _)| {
                        let log = std::fs::read_to_string(self.state.path().join(format!("{host}.log")));
                        format!("{host}:\n{}", log.unwrap_or_default())
                    })
                    .collect();
                panic!("berth fleet did not list {count} hosts within two minutes: {listed}\n{}", logs.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// A `berth serve`, stopped on drop.
struct Serving {
    child: Child,
    port: u16,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            let _ = worker.kill();
            let _ = worker.wait();
        }
        if let Some(temporal) = &mut self.temporal {
            let _ = temporal.kill();
            let _ = temporal.wait();
        }
        let _ = Self::script(&self.name, &["down"]);
    }
}

#[test]
fn three_hosts_stay_apart_and_berth_fleet_lists_them_from_temporal() {
    let environment = format!("fleet{}", std::process::id());
    let fleet = Fleet::up('a', 3, &environment);
    let listed = fleet.listed(3);
    let names: Vec<&str> =
        listed["hosts"].as_array().expect("hosts").iter().filter_map(|host| host["host"].as_str()).collect();
    let expected: Vec<&str> = fleet.hosts.iter().map(|(host, _)| host.as_str()).collect();
    assert_eq!(names, expected, "the hosts, from the workers polling Temporal: {listed}");

    // The same instance on two hosts: the same port on each, no conflict.
    let container = format!("web-{environment}");
    for (host, address) in &fleet.hosts[..2] {
        let up = fleet.berth(&["up", "web", "--env", &environment, "--temporal", "--host", host, "--format", "json"]);
        assert!(up.status.success(), "{host}: {}", String::from_utf8_lossy(&up.stderr));
        let report: serde_json::Value = serde_json::from_slice(&up.stdout).expect("json");
        assert_eq!(report["started"][0]["host"], host.as_str(), "{report}");
        assert_eq!(report["started"][0]["ports"]["port"], PORT, "{report}");
        let endpoint = format!("{address}:{PORT}");
        assert_eq!(report["started"][0]["endpoints"]["port"], endpoint.as_str(), "at the host's address: {report}");
        let page = common::http_get_at(address, PORT, "/").unwrap_or_default();
        assert!(!page.trim().is_empty(), "{host}'s instance answers at {address}:{PORT}");
    }

    // A foreign listener on the third host fails only that host's instance, named with it.
    let (third, _) = &fleet.hosts[2];
    let mut squatter = Command::new("bash")
        .arg(repository().join("scripts/fleet.sh"))
        .args(["run", &fleet.name, third, "python3", "-c"])
        .arg(format!(
            "import socket, time\ns = socket.socket()\ns.bind(('0.0.0.0', {PORT}))\ns.listen()\nprint('held', flush=True)\ntime.sleep(300)"
        ))
        .stdout(Stdio::piped())
        .spawn()
        .expect("hold the port on the third host");
    let mut held = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(squatter.stdout.take().expect("stdout")), &mut held)
        .expect("the squatter says it holds the port");
    let refused = fleet.berth(&["up", "web", "--env", &environment, "--temporal", "--host", third]);
    let _ = squatter.kill();
    let _ = squatter.wait();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("berth@{third}")) && said.contains("PortTaken"), "{said}");

    let listed = fleet.listed(3);
    let table = String::from_utf8_lossy(&fleet.berth(&["fleet"]).stdout).into_owned();
    for (host, address) in &fleet.hosts[..2] {
        let row = table.lines().find(|line| line.starts_with(host.as_str()) && line.contains("running"));
        assert!(row.is_some_and(|row| row.contains(&format!("{address}:{PORT}"))), "{host} in:\n{table}");
        let lease = table
            .lines()
            .find(|line| line.starts_with(host.as_str()) && line.contains(&format!("container:{container}")));
        assert!(lease.is_some(), "{host}'s lease in:\n{table}");
    }
    assert!(!table.lines().any(|line| line.starts_with(third.as_str())), "nothing on {third}:\n{table}\n{listed}");

    // The web view's fleet page shows the same, in a browser.
    let served = fleet.serve();
    let deadline = Instant::now() + Duration::from_secs(120);
    let api = loop {
        let body = common::http_get_at("127.0.0.1", served.port, "/api/fleet").unwrap_or_default();
        let api: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if api["hosts"].as_array().is_some_and(|hosts| hosts.len() == 3) {
            break api;
        }
        assert!(Instant::now() < deadline, "/api/fleet did not list 3 hosts within two minutes: {body}");
        std::thread::sleep(Duration::from_millis(500));
    };
    for (index, (host, address)) in fleet.hosts.iter().enumerate() {
        let listed = &api["hosts"][index];
        assert_eq!(listed["host"], host.as_str(), "{api}");
        let endpoints = &listed["instances"][0]["endpoints"][0];
        let expected = if index < 2 { serde_json::json!(format!("{address}:{PORT}")) } else { serde_json::Value::Null };
        assert_eq!(*endpoints, expected, "{api}");
    }
    let python = repository().join(".venv/bin/python");
    let browsed = Command::new(&python)
        .arg(repository().join("tests/browser/fleet.py"))
        .arg(format!("http://127.0.0.1:{}/fleet", served.port))
        .output()
        .expect("run the browser driver (scripts/ensure-test-tools.sh installs it)");
    let said = String::from_utf8_lossy(&browsed.stdout);
    assert!(browsed.status.success(), "{said}{}", String::from_utf8_lossy(&browsed.stderr));
    let page: serde_json::Value = serde_json::from_str(said.trim()).unwrap_or_else(|error| panic!("{error}: {said}"));
    assert_eq!(page["title"], "berth · fleet", "{page}");
    assert_eq!(page["console_errors"], serde_json::json!([]), "{page}");
    for (host, address) in &fleet.hosts[..2] {
        let row = serde_json::json!([host, "web", "0", environment, "running", format!("{address}:{PORT}")]);
        assert!(page["instances"].as_array().is_some_and(|rows| rows.contains(&row)), "{row} in {page}");
        let lease = serde_json::json!([host, PORT.to_string(), format!("container:{container}"), "web"]);
        assert!(page["leases"].as_array().is_some_and(|rows| rows.contains(&lease)), "{lease} in {page}");
    }
    drop(served);

    for (host, _) in &fleet.hosts[..2] {
        let down = fleet.berth(&["down", "web", "--env", &environment, "--temporal", "--host", host]);
        assert!(down.status.success(), "{host}: {}", String::from_utf8_lossy(&down.stderr));
    }

    // Placement: a word on a host, the rest spread by instance id; the table names the host.
    let (first, second, third) = (&fleet.hosts[0].0, &fleet.hosts[1].0, &fleet.hosts[2].0);
    let spread = format!("{first},{second}");
    let placed = format!("web:3@{third}");
    let up = fleet.berth(&["up", "web:1-2", &placed, "--env", &environment, "--temporal", "--spread", &spread]);
    let table = String::from_utf8_lossy(&up.stdout).into_owned();
    assert!(up.status.success(), "{table}{}", String::from_utf8_lossy(&up.stderr));
    let row = |instance: u16| {
        table
            .lines()
            .find(|line| line.contains(&format!("web-{environment}-{instance} ")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(table.starts_with("HOST"), "{table}");
    assert!(row(1).starts_with(second.as_str()), "instance 1 of a spread over two: the second host\n{table}");
    assert!(row(2).starts_with(first.as_str()), "{table}");
    assert!(row(3).starts_with(third.as_str()), "{table}");
    let down = fleet.berth(&["down", "web:1-2", &placed, "--env", &environment, "--temporal", "--spread", &spread]);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    let listed = fleet.berth(&["fleet"]);
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(!table.contains("running"), "every placed instance was stopped on its host:\n{table}");

    let direct = fleet.berth(&["up", &placed, "--env", &environment]);
    assert_eq!(direct.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&direct.stderr).contains("needs --temporal"));

    // A host whose engine stops is listed as failing, with the cause; the others still answer.
    stop_engine(&fleet, 2);
    let listed = fleet.berth(&["fleet", "--format", "json"]);
    assert_eq!(listed.status.code(), Some(1), "{}", String::from_utf8_lossy(&listed.stderr));
    let said = String::from_utf8_lossy(&listed.stderr).into_owned();
    assert!(said.contains(&format!("host {third} is failed")), "{said}");
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    let hosts = listed["hosts"].as_array().expect("hosts");
    let kinds: Vec<&serde_json::Value> = hosts.iter().map(|host| &host["kind"]).collect();
    assert_eq!(
        kinds,
        [&serde_json::Value::Null, &serde_json::Value::Null, &serde_json::json!("EngineUnreachable")],
        "{listed}"
    );
}

/// Stops the Docker engine of host `index` (0-based) and waits until it has ended.
fn stop_engine(fleet: &Fleet, index: usize) {
    let pidfile = format!("/run/berth-fleet/{}/h{}/docker.pid", fleet.name, index + 1);
    let pid = std::fs::read_to_string(&pidfile).expect("the engine's pid file").trim().to_string();
    assert!(Command::new("kill").arg(&pid).status().is_ok_and(|status| status.success()), "stop engine {pid}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "the engine of host {} did not stop within a minute", index + 1);
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `berth ARGUMENTS` (an up placing `slow:0` on the second host) running, once the slow
/// instance's container exists there: the process, and that container's name.
fn up_until_slow_is_made(fleet: &Fleet, arguments: &[String], environment: &str) -> (Child, String) {
    let up = Command::new(berth_binary())
        .args(arguments)
        .env("BERTH_REGISTRY", fleet.registry.path())
        .env("TEMPORAL_ADDRESS", &fleet.temporal_address)
        .env_remove("BERTH_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start berth up");
    let (second, slow) = (&fleet.hosts[1].0, format!("slow-{environment}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !containers_on(fleet, second).contains(&slow) {
        assert!(Instant::now() < deadline, "the slow instance never got a container on {second}");
        std::thread::sleep(Duration::from_millis(200));
    }
    (up, slow)
}

/// The containers on `host` of the fleet, by name.
fn containers_on(fleet: &Fleet, host: &str) -> Vec<String> {
    let listed = Command::new("bash")
        .arg(repository().join("scripts/fleet.sh"))
        .args(["run", &fleet.name, host, "docker", "ps", "-a", "--format", "{{.Names}}"])
        .output()
        .expect("docker ps on the host");
    String::from_utf8_lossy(&listed.stdout).lines().map(str::to_string).collect()
}

#[test]
fn a_host_lost_mid_spin_up_fails_it_by_name_the_others_are_undone_and_a_rerun_adopts() {
    let environment = format!("loss{}", std::process::id());
    let mut fleet = Fleet::up('b', 2, &environment);
    fleet.listed(2);
    let (first, second) = (fleet.hosts[0].0.clone(), fleet.hosts[1].0.clone());
    let words = [format!("web:0@{first}"), format!("slow:0@{second}")];
    let arguments = |extra: &[&str]| -> Vec<String> {
        let mut arguments = vec!["up".to_string()];
        arguments.extend(words.iter().cloned());
        arguments.extend(["--env", environment.as_str(), "--temporal"].map(str::to_string));
        arguments.extend(extra.iter().map(ToString::to_string));
        arguments
    };
    let (mut up, slow) = up_until_slow_is_made(&fleet, &arguments(&[]), &environment);
    // The second host's worker dies while its instance waits to be ready.
    let _ = fleet.workers[1].kill();
    let _ = fleet.workers[1].wait();
    let status = up.wait().expect("berth up ends");
    let mut said = String::new();
    std::io::Read::read_to_string(&mut up.stderr.take().expect("stderr"), &mut said).expect("stderr");
    assert_eq!(status.code(), Some(2), "NoWorker: {said}");
    assert!(said.contains(&format!("slow[0] on {second}")) && said.contains(&format!("berth@{second}")), "{said}");
    assert!(!containers_on(&fleet, &first).iter().any(|name| name.starts_with("web-")), "undone on {first}: {said}");
    let left = format!("`berth down slow:0@{second} --temporal` removes it");
    assert!(said.contains(&left), "what is left is said, with how to reach it: {said}");
    let asked = format!("no berth worker took `undo_start` from task queue `berth@{second}`");
    assert!(said.contains(&asked), "the gone host's undo was still asked for: {said}");

    // The fleet view says the host is gone, and still lists the other one.
    let listed = fleet.berth(&["fleet", "--format", "json"]);
    assert_eq!(listed.status.code(), Some(1), "{}", String::from_utf8_lossy(&listed.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    let host = |name: &str| {
        listed["hosts"].as_array().and_then(|hosts| hosts.iter().find(|host| host["host"] == name)).cloned()
    };
    assert_eq!(host(&second).map(|host| host["kind"].clone()), Some("NoWorker".into()), "{listed}");
    assert_eq!(host(&first).map(|host| host["error"].is_null()), Some(true), "{listed}");

    // Back again, its worker finds its container and the rerun adopts it.
    fleet.start_worker(1);
    fleet.wait_for_worker(1);
    fleet.listed(2);
    let rerun = fleet.berth(&arguments(&["--format", "json"]).iter().map(String::as_str).collect::<Vec<_>>());
    let report: serde_json::Value = serde_json::from_slice(&rerun.stdout).unwrap_or_default();
    assert!(rerun.status.success(), "{}", String::from_utf8_lossy(&rerun.stderr));
    let outcome = |container: &str| {
        report["started"].as_array().and_then(|started| {
            started
                .iter()
                .find(|instance| instance["container"] == container)
                .map(|instance| instance["outcome"].clone())
        })
    };
    assert_eq!(outcome(&slow), Some("adopted".into()), "{report}");
    assert_eq!(outcome(&format!("web-{environment}")), Some("created".into()), "{report}");
    let mut down = vec!["down".to_string()];
    down.extend(words.iter().cloned());
    down.extend(["--env", environment.as_str(), "--temporal"].map(str::to_string));
    let down = fleet.berth(&down.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
}

#[test]
fn an_engine_stopped_mid_spin_up_fails_it_naming_the_host_and_the_other_host_is_undone() {
    let environment = format!("engine{}", std::process::id());
    let fleet = Fleet::up('c', 2, &environment);
    fleet.listed(2);
    let (first, second) = (fleet.hosts[0].0.clone(), fleet.hosts[1].0.clone());
    let words = [format!("web:0@{first}"), format!("slow:0@{second}")];
    let arguments = ["up", &words[0], &words[1], "--env", &environment, "--temporal"].map(str::to_string);
    let (mut up, _) = up_until_slow_is_made(&fleet, &arguments, &environment);
    // The second host's engine stops while its instance waits to be ready.
    stop_engine(&fleet, 1);
    let status = up.wait().expect("berth up ends");
    let mut said = String::new();
    std::io::Read::read_to_string(&mut up.stderr.take().expect("stderr"), &mut said).expect("stderr");
    assert_eq!(status.code(), Some(2), "EngineUnreachable: {said}");
    assert!(said.contains("(EngineUnreachable)") && said.contains(&format!("slow[0] on {second}")), "{said}");
    assert!(said.contains("cannot reach the Docker engine at"), "the engine is named: {said}");
    assert!(!containers_on(&fleet, &first).iter().any(|name| name.starts_with("web-")), "undone on {first}: {said}");
    let left = format!("`berth down slow:0@{second} --temporal` removes it");
    assert!(said.contains(&left), "what is left is said, with how to reach it: {said}");
}
