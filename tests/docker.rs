//! `berth up` / `down` / `status` / `logs` / `export compose` against a real Docker engine
//! with locally built test images. Each test has its own environment name and ports and
//! removes what it made, so tests run in parallel and leave the engine clean.

mod common;

use std::net::TcpListener;

use bollard::exec::{CreateExecOptions, StartExecResults};
use common::{DockerScene, block_on, containers_of, docker, up_json, volume_exists};
use futures_util::StreamExt;
use predicates::prelude::*;

const WEB: &str = "\
web:
  port: {base}
  instance_increment: 1
  max_instances: 5
  container:
    image: berth-test-busybox
    command: [sh, -c, 'echo booting {service} {instance_id}; mkdir -p /www; echo hello > /www/index.html; exec httpd -f -p {port} -h /www']
    volumes:
      data{tag}: /data
    ready:
      http: {port: port, path: /index.html}
    timeout: 20s
";

/// Runs `command` in `container` and returns what it printed.
fn exec(container: &str, command: &[&str]) -> String {
    block_on(async {
        let docker = docker();
        let options = CreateExecOptions {
            cmd: Some(command.iter().map(|part| part.to_string()).collect()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = docker.create_exec(container, options).await.expect("create exec");
        let mut text = String::new();
        if let StartExecResults::Attached { mut output, .. } =
            docker.start_exec(&exec.id, None).await.expect("start exec")
        {
            while let Some(chunk) = output.next().await {
                text.push_str(&chunk.expect("output").to_string());
            }
        }
        text
    })
}

#[test]
fn three_instances_get_distinct_names_volumes_and_ports() {
    let mut scene = DockerScene::new("three", 3, WEB);
    scene.remove_on_drop("web:0-2");
    let report = up_json(&scene, &["web:0-2"]);
    let started = report["started"].as_array().expect("started");
    assert_eq!(started.len(), 3);
    let names: Vec<&str> = started.iter().map(|instance| instance["container"].as_str().expect("name")).collect();
    assert_eq!(names, [scene.container("web", 0), scene.container("web", 1), scene.container("web", 2)]);
    for (instance, started) in started.iter().enumerate() {
        let port = scene.base + u16::try_from(instance).expect("small");
        assert_eq!(started["ports"]["port"], port);
        assert_eq!(started["outcome"], "created");
        let body = reqwest_get(port);
        assert_eq!(body, "hello\n", "instance {instance} answers on its own host port");
    }
    block_on(async {
        let inspected = docker().inspect_container(&scene.container("web", 1), None).await.expect("inspect");
        let labels = inspected.config.and_then(|config| config.labels).expect("labels");
        assert_eq!(labels["io.berth.managed"], "true");
        assert_eq!(labels["io.berth.service"], "web");
        assert_eq!(labels["io.berth.instance"], "1");
        assert_eq!(labels["io.berth.env"], scene.environment);
        assert_eq!(labels["io.berth.config-hash"].len(), 16);
        let host_config = inspected.host_config.expect("host config");
        assert_eq!(host_config.init, Some(true));
        let mounts = inspected.mounts.expect("mounts");
        assert_eq!(mounts[0].name, Some(scene.volume("web", "data{tag}", 1)));
    });
    let row = format!(r"(?m)^{}\s+web\s+1\s+{}\s+running\s", scene.container("web", 1), scene.environment);
    scene.berth().arg("status").assert().stdout(predicate::str::is_match(row).expect("pattern"));
    // The slot's port is leased to its own container: that is no conflict to warn about.
    let port = scene.berth().args(["port", "web", "-i", "1"]).assert().success();
    assert_eq!(String::from_utf8_lossy(&port.get_output().stdout), format!("{}\n", scene.base + 1));
    let warnings = String::from_utf8_lossy(&port.get_output().stderr).into_owned();
    assert!(warnings.is_empty(), "no warning for the instance's own container: {warnings}");
    // Published ports are held by docker-proxy; `who` names the container and slot behind it.
    let who = scene.berth().args(["who", &(scene.base + 1).to_string()]).assert().success();
    let who = String::from_utf8_lossy(&who.get_output().stdout).into_owned();
    assert!(
        who.contains(&format!("(docker-proxy) for container {}, slot web[1].port", scene.container("web", 1))),
        "{who}"
    );
}

fn reqwest_get(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
}

#[test]
fn data_in_a_volume_survives_down_and_up_and_down_volumes_removes_it() {
    let mut scene = DockerScene::new("volume", 1, WEB.replace("web:", "keep:").as_str());
    scene.remove_on_drop("keep:0");
    up_json(&scene, &["keep"]);
    let container = scene.container("keep", 0);
    exec(&container, &["sh", "-c", "echo kept > /data/file"]);
    scene.berth().args(["down", "keep"]).assert().success().stdout(format!(
        "{container}: removed, released port(s) {}, network berth-{}-0 removed\n",
        scene.base, scene.environment
    ));
    assert!(containers_of(&scene.environment).is_empty());
    assert!(volume_exists(&scene.volume("keep", "data{tag}", 0)), "down keeps volumes");
    up_json(&scene, &["keep"]);
    assert_eq!(exec(&container, &["cat", "/data/file"]), "kept\n");
    scene.berth().args(["down", "keep", "--volumes"]).assert().success().stdout(format!(
        "{container}: removed, volumes removed: {}, released port(s) {}, network berth-{}-0 removed\n",
        scene.volume("keep", "data{tag}", 0),
        scene.base,
        scene.environment
    ));
    assert!(!volume_exists(&scene.volume("keep", "data{tag}", 0)), "down --volumes removes them");
}

#[test]
fn up_twice_adopts_instead_of_duplicating() {
    let mut scene = DockerScene::new("twice", 2, WEB);
    scene.remove_on_drop("web:0-1");
    let first = up_json(&scene, &["web:0-1"]);
    let second = up_json(&scene, &["web:0-1"]);
    for index in 0..2 {
        assert_eq!(second["started"][index]["outcome"], "adopted");
        assert_eq!(second["started"][index]["id"], first["started"][index]["id"]);
    }
    assert_eq!(containers_of(&scene.environment), [scene.container("web", 0), scene.container("web", 1)]);
}

#[test]
fn a_stopped_instance_is_started_again_and_a_changed_one_needs_recreate() {
    let mut scene = DockerScene::new("change", 1, WEB);
    scene.remove_on_drop("web:0");
    up_json(&scene, &["web"]);
    block_on(async { docker().stop_container(&scene.container("web", 0), None).await.expect("stop") });
    assert_eq!(up_json(&scene, &["web"])["started"][0]["outcome"], "started");

    let changed = std::fs::read_to_string(scene.registry.path()).expect("read").replace("hello", "changed");
    std::fs::write(scene.registry.path(), changed).expect("write");
    scene.berth().args(["up", "web"]).assert().code(1).stderr(
        predicate::str::contains("runs another configuration").and(predicate::str::contains("pass --recreate")),
    );
    let recreated = scene.berth().args(["up", "web", "--recreate", "--format", "json"]).output().expect("run");
    let report: serde_json::Value = serde_json::from_slice(&recreated.stdout).expect("json");
    assert_eq!(report["started"][0]["outcome"], "recreated");
}

#[test]
fn a_foreign_listener_on_a_slot_port_is_named() {
    let mut scene = DockerScene::new("foreign", 2, WEB);
    scene.remove_on_drop("web:0-1");
    let port = scene.base + 1;
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the slot's port");
    scene.berth().args(["up", "web:0-1"]).assert().code(1).stderr(predicate::str::contains(format!(
        "port {port} for web[1].port is taken by tcp 127.0.0.1:{port} pid {}",
        std::process::id()
    )));
    assert!(containers_of(&scene.environment).is_empty(), "all or nothing: the instance that started is undone");
    drop(listener);
}

#[test]
fn a_port_leased_to_another_project_is_refused() {
    let mut scene = DockerScene::new("leased", 1, WEB);
    scene.remove_on_drop("web:0");
    let port = scene.base.to_string();
    // Without the registry, as another project would: its slots are then not off limits.
    common::berth_with_ledger(scene.state.path())
        .args(["alloc", "--project", "squatter", "--service", "x", "--range", &format!("{port}-{port}")])
        .assert()
        .success();
    scene
        .berth()
        .args(["up", "web"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("port {port} for web[0].port is leased to project `squatter`")));
}

#[test]
fn a_readiness_timeout_returns_the_last_log_lines() {
    let mut scene = DockerScene::new(
        "timeout",
        1,
        "slow:\n  port: {base}\n  container:\n    image: berth-test-busybox\n    command: [sh, -c, 'echo warming up; echo still warming; sleep 60']\n    timeout: 2s\n",
    );
    scene.remove_on_drop("slow:0");
    scene
        .berth()
        .args(["up", "slow"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not ready within 2s").and(predicate::str::contains("TCP connect on port")))
        .stderr(predicate::str::contains("the last check saw: TCP connect to "))
        .stderr(predicate::str::contains("Connection refused"))
        .stderr(predicate::str::contains("\n  last log lines:\n    warming up\n    still warming\n"))
        .stdout(
            predicate::str::is_match(format!(r"(?m)^{}\s+failed: NotReady$", scene.container("slow", 0)))
                .expect("pattern"),
        );
}

#[test]
fn a_readiness_timeout_says_what_the_http_check_last_saw() {
    let mut scene = DockerScene::new(
        "lastseen",
        1,
        "web:\n  port: {base}\n  container:\n    image: berth-test-busybox\n    command: [httpd, -f, -p, '{port}']\n    ready:\n      http: {port: port, path: /missing}\n    timeout: 3s\n",
    );
    scene.remove_on_drop("web:0");
    let output = scene.berth().args(["up", "web"]).output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the last check saw: HTTP 404 from "), "{stderr}");
    let error_lines = stderr.lines().filter(|line| line.starts_with("error:")).count();
    assert_eq!(error_lines, 1, "one error line: {stderr}");
}

#[test]
fn an_instance_that_exits_early_says_so_with_its_logs() {
    let mut scene = DockerScene::new(
        "exits",
        1,
        "dying:\n  port: {base}\n  container:\n    image: berth-test-busybox\n    command: [sh, -c, 'echo cannot start: no config; exit 3']\n",
    );
    scene.remove_on_drop("dying:0");
    scene.berth().args(["up", "dying"]).assert().code(1).stderr(
        predicate::str::contains("exited (code 3) before it was ready")
            .and(predicate::str::contains("cannot start: no config")),
    );
}

#[test]
fn a_real_redis_is_ready_by_command_and_answers_on_its_host_port() {
    let mut scene = DockerScene::new(
        "redis",
        2,
        "cache:\n  port: {base}\n  instance_increment: 1\n  container:\n    image: berth-test-redis\n    command: [--port, '6379', --save, '', --protected-mode, 'no']\n    ports:\n      port: 6379\n    ready:\n      command: [redis-cli, ping]\n",
    );
    scene.remove_on_drop("cache:0-1");
    let report = up_json(&scene, &["cache:0-1"]);
    assert_eq!(report["started"][1]["endpoints"]["port"], format!("127.0.0.1:{}", scene.base + 1));
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", scene.base + 1)).expect("connect");
    stream.write_all(b"PING\r\n").expect("send");
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).expect("read");
    assert_eq!(&reply, b"+PONG\r\n");
}

#[test]
fn log_readiness_counts_matches() {
    let mut scene = DockerScene::new(
        "logready",
        1,
        "chatty:\n  port: {base}\n  container:\n    image: berth-test-busybox\n    command: [sh, -c, 'echo step; sleep 1; echo step; exec sleep 60']\n    ready:\n      log: {pattern: '^step$', times: 2}\n    timeout: 15s\n",
    );
    scene.remove_on_drop("chatty:0");
    let report = up_json(&scene, &["chatty"]);
    assert!(report["started"][0]["seconds"].as_f64().expect("seconds") >= 1.0, "ready only after the second line");
}

#[test]
fn a_missing_image_says_how_to_get_it() {
    let scene =
        DockerScene::new("noimage", 1, "ghost:\n  port: {base}\n  container:\n    image: berth-test-does-not-exist\n");
    scene.berth().args(["up", "ghost", "--pull", "never"]).assert().code(1).stderr(predicate::str::contains(
        "image `berth-test-does-not-exist` for `ghost`: it is not on this host and the pull policy is `never`; pull it (`docker pull`), load it, or use --pull missing",
    ));
}

#[test]
fn a_foreign_container_with_the_name_is_not_touched() {
    let mut scene = DockerScene::new(
        "foreignname",
        2,
        "web:\n  port: {base}\n  instance_increment: 1\n  container:\n    image: berth-test-busybox\n",
    );
    scene.remove_on_drop("web:1");
    let foreign = scene.container("web", 1);
    block_on(async {
        let options = bollard::query_parameters::CreateContainerOptionsBuilder::new().name(&foreign).build();
        let body =
            bollard::models::ContainerCreateBody { image: Some("berth-test-busybox".into()), ..Default::default() };
        docker().create_container(Some(options), body).await.expect("create foreign container");
    });
    scene.berth().args(["up", "web:1"]).assert().code(1).stderr(predicate::str::contains(format!(
        "container `{foreign}` is not berth's for web[1] in environment {}: it has no berth labels",
        scene.environment
    )));
    block_on(async { docker().remove_container(&foreign, None).await.expect("remove foreign container") });
}

#[test]
fn logs_and_compose_export() {
    let mut scene = DockerScene::new("logs", 1, WEB);
    scene.remove_on_drop("web:0");
    up_json(&scene, &["web"]);
    scene.berth().args(["logs", "web"]).assert().success().stdout(predicate::str::contains("booting web 0"));
    let compose = scene.berth().args(["export", "compose", "web:0-1"]).assert().success();
    let text = String::from_utf8(compose.get_output().stdout.clone()).expect("utf-8");
    assert!(text.contains(&format!("container_name: \"{}\"", scene.container("web", 1))), "{text}");
    assert!(text.contains(&format!("- \"127.0.0.1:{0}:{0}\"", scene.base + 1)), "{text}");
    assert!(text.contains(&format!("- \"{}:/data\"", scene.volume("web", "data{tag}", 1))), "{text}");
}

#[test]
fn up_of_an_unknown_service_or_bare_service_exits_2() {
    let scene = DockerScene::new("bad", 1, "bare:\n  port: {base}\n");
    scene.berth().args(["up", "nope"]).assert().code(2).stderr(predicate::str::contains("unknown service `nope`"));
    scene.berth().args(["up", "bare"]).assert().code(2).stderr(predicate::str::contains("has no `container:` section"));
    scene.berth().args(["up", "bare:x"]).assert().code(2).stderr(predicate::str::contains("is not an instance id"));
}

/// A container removed outside berth leaves its lease behind; gc frees it (two passes),
/// and never the lease of a container that still exists.
#[test]
fn gc_frees_the_lease_of_a_container_removed_outside_berth() {
    let mut scene = DockerScene::new(
        "gcgone",
        2,
        "web:\n  port: {base}\n  instance_increment: 1\n  max_instances: 2\n  container:\n    image: berth-test-busybox\n    command: [httpd, -f, -p, '{port}', -h, /tmp]\n",
    );
    scene.remove_on_drop("web:0-1");
    up_json(&scene, &["web:0-1"]);
    // berth leases a container's ports just before creating it, so gc judges only leases
    // older than a minute; age these two as if they were.
    let ledger = rusqlite::Connection::open(scene.state.path().join("ledger.sqlite3")).expect("open ledger");
    ledger.execute("UPDATE leases SET renewed_at = renewed_at - 600", []).expect("age the leases");
    drop(ledger);
    let gone = scene.container("web", 1);
    block_on(async {
        let options = bollard::query_parameters::RemoveContainerOptionsBuilder::new().force(true).build();
        docker().remove_container(&gone, Some(options)).await.expect("remove outside berth");
    });
    let gc = || scene.berth().args(["gc", "--grace", "0s"]).assert().success();
    gc().stdout(predicate::str::contains(format!("marked stale (container {gone} no longer exists)")));
    let freed = format!(r"container:{gone}\s+web\s+freed \(container {gone} no longer exists\)");
    gc().stdout(predicate::str::is_match(freed).expect("pattern")).stdout(predicate::str::contains("1 lease(s) freed"));
    let leases = scene.berth().args(["leases", "--format", "json"]).assert().success();
    let leases: serde_json::Value = serde_json::from_slice(&leases.get_output().stdout).expect("json");
    let projects: Vec<&str> =
        leases.as_array().expect("leases").iter().map(|lease| lease["project"].as_str().expect("project")).collect();
    assert_eq!(projects, [format!("container:{}", scene.container("web", 0))], "the running container keeps its lease");
}

/// The kernel hands ports of its ephemeral range to outgoing connections; one that uses a
/// slot's port on another local address does not stop the engine publishing on loopback,
/// so it must not stop the start either.
#[test]
fn a_connection_using_the_port_elsewhere_does_not_fail_the_start() {
    let mut scene = DockerScene::new("ephemeral", 1, WEB);
    scene.remove_on_drop("web:0");
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let local: std::net::SocketAddr = format!("127.0.0.2:{}", scene.base).parse().expect("address");
    socket.bind(&local.into()).expect("bind the slot's port on 127.0.0.2");
    socket.connect(&server.local_addr().expect("address").into()).expect("connect");
    scene.berth().args(["who"]).arg(scene.base.to_string()).assert().success().stdout(predicate::str::contains(
        format!(
            "{}  used as the local port of a connection to {} (Established",
            scene.base,
            server.local_addr().expect("address")
        ),
    ));
    scene.berth().args(["up", "web"]).assert().success();
    assert_eq!(containers_of(&scene.environment).len(), 1);
    drop(socket);
}

#[test]
fn logs_follow_prints_output_as_it_comes_until_the_container_stops() {
    let mut scene = DockerScene::new("follow", 1, WEB);
    scene.remove_on_drop("web:1");
    up_json(&scene, &["web:1"]);
    let mut follow = scene.process(&["logs", "web:1", "--follow"]).spawn().expect("berth logs --follow");
    let stdout = follow.stdout.take().expect("stdout");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let first = received.recv_timeout(std::time::Duration::from_secs(60));
    scene.berth().args(["down", "web:1"]).assert().success();
    assert_eq!(first.as_deref(), Ok("booting web 1"), "the container's first line, while it runs");
    // The container stopped: following ends by itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = follow.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            follow.kill().expect("kill");
            panic!("berth logs --follow still runs a minute after its container stopped");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut follow.stderr.take().expect("stderr"), &mut stderr).expect("stderr");
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("stopped: no more output"), "{stderr}");
}

#[test]
fn quiet_up_prints_its_table_and_no_progress() {
    let mut scene = DockerScene::new("quiet", 1, WEB);
    scene.remove_on_drop("web:0");
    let up = scene.berth().args(["up", "web", "-q"]).assert().success();
    let output = up.get_output();
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "-q: no progress");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.starts_with("CONTAINER "), "{table}");
    assert!(table.contains(&format!("{}  created", scene.container("web", 0))), "{table}");
    let loud = scene.berth().args(["up", "web"]).assert().success();
    let progress = String::from_utf8_lossy(&loud.get_output().stderr).into_owned();
    assert!(progress.contains(&format!("web[0] {}: adopted and ready in ", scene.container("web", 0))), "{progress}");
}

const FALLBACK_WEB: &str = "\
web:
  port: {port: {base}, fallback: {base+1}-{base+3}}
  container:
    image: berth-test-busybox
    command: [sh, -c, 'mkdir -p /www; echo hello from {port} > /www/index.html; exec httpd -f -p {port} -h /www']
    ready:
      http: {port: port, path: /index.html}
    timeout: 20s
";

/// The ledger's leases in the scene, as `(project, port)`.
fn leases(scene: &DockerScene) -> Vec<(String, u64)> {
    let output = scene.berth().args(["leases", "--format", "json"]).output().expect("run berth leases");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let leases: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    leases
        .as_array()
        .expect("a list")
        .iter()
        .map(|lease| (lease["project"].as_str().expect("project").to_string(), lease["port"].as_u64().expect("port")))
        .collect()
}

#[test]
fn a_held_port_with_a_fallback_range_starts_the_container_on_its_fallback() {
    let mut scene = DockerScene::new("fallback", 4, FALLBACK_WEB);
    scene.remove_on_drop("web");
    let (computed, fallback) = (scene.base, scene.base + 1);
    let listener = TcpListener::bind(("127.0.0.1", computed)).expect("hold the computed port");
    let container = scene.container("web", 0);
    let fallback_project = format!("fallback:{container}");

    let output = scene.berth().args(["up", "web", "--format", "json"]).output().expect("run berth up");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "note: web[0].port uses {fallback} instead of {computed}: {computed} is held by tcp 127.0.0.1:{computed} pid {}",
            std::process::id()
        )),
        "{said}"
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let started = &report["started"][0];
    assert_eq!(started["ports"]["port"], fallback);
    assert_eq!(started["fallback_for"]["port"], computed);
    assert_eq!(started["endpoints"]["port"], format!("127.0.0.1:{fallback}"));
    assert_eq!(common::http_get(fallback, "/index.html").as_deref(), Some(format!("hello from {fallback}\n").as_str()));
    assert_eq!(leases(&scene), [(fallback_project.clone(), u64::from(fallback))], "one lease, the fallback's");

    assert!(
        said.contains(&format!("`berth down web:0 --env {}` gives it back with the instance", scene.environment)),
        "{said}"
    );
    // The fallback is not given up while the container publishes it.
    scene
        .berth()
        .args(["release", "--project", &fallback_project])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("port {fallback} of project `{fallback_project}` is in use now by")));
    // Lookups answer the port the container publishes, and a second up adopts it.
    scene.berth().args(["port", "web"]).assert().success().stdout(format!("{fallback}\n"));
    let again = up_json(&scene, &["web"]);
    assert_eq!(
        (again["started"][0]["outcome"].as_str(), again["started"][0]["ports"]["port"].as_u64()),
        (Some("adopted"), Some(u64::from(fallback)))
    );

    // Down takes the instance, and the fallback made for it, away.
    scene.berth().args(["down", "web"]).assert().success().stdout(format!(
        "{container}: removed, released port(s) {fallback}, network berth-{}-0 removed\n",
        scene.environment
    ));
    assert!(leases(&scene).is_empty());
    assert!(containers_of(&scene.environment).is_empty());
    drop(listener);
}

#[test]
fn a_failed_start_on_a_fallback_gives_the_fallback_lease_back() {
    let mut scene = DockerScene::new(
        "fallbackfail",
        3,
        "crash:\n  port: {port: {base}, fallback: {base+1}-{base+2}}\n  container:\n    image: berth-test-busybox\n    command: [sh, -c, 'echo giving up; exit 3']\n    timeout: 10s\n",
    );
    scene.remove_on_drop("crash");
    let listener = TcpListener::bind(("127.0.0.1", scene.base)).expect("hold the computed port");
    scene
        .berth()
        .args(["up", "crash"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("released port(s) {}", scene.base + 1)));
    assert!(leases(&scene).is_empty(), "the fallback lease made for the failed start is given back");
    assert!(containers_of(&scene.environment).is_empty());
    drop(listener);
}

#[test]
fn a_held_port_without_a_fallback_range_still_fails_the_start() {
    let mut scene = DockerScene::new(
        "nofallback",
        2,
        "web:\n  port: {base}\n  container:\n    image: berth-test-busybox\n    command: [sh, -c, 'exec httpd -f -p {port}']\n",
    );
    scene.remove_on_drop("web");
    let listener = TcpListener::bind(("127.0.0.1", scene.base)).expect("hold the computed port");
    scene
        .berth()
        .args(["up", "web"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("port {} for web[0].port is taken", scene.base)));
    assert!(leases(&scene).is_empty());
    drop(listener);
}

#[test]
fn doctor_says_the_host_is_ready_and_names_each_thing_that_is_not() {
    let state = tempfile::tempdir().expect("state dir");
    let ready = common::berth()
        .env("BERTH_STATE_DIR", state.path())
        .env_remove("TEMPORAL_ADDRESS")
        .env_remove("DOCKER_HOST")
        .args(["doctor", "--format", "json"])
        .output()
        .expect("run berth doctor");
    assert_eq!(ready.status.code(), Some(0), "{}", String::from_utf8_lossy(&ready.stdout));
    let checks: serde_json::Value = serde_json::from_slice(&ready.stdout).expect("json");
    let statuses: Vec<(&str, &str)> = checks
        .as_array()
        .expect("a list")
        .iter()
        .map(|check| (check["check"].as_str().expect("check"), check["status"].as_str().expect("status")))
        .collect();
    assert_eq!(
        statuses,
        [("registry", "warn"), ("kernel", "ok"), ("state", "ok"), ("engine", "ok"), ("temporal", "skip")],
        "the shipped registry's one warning is its privileged port"
    );
    assert_eq!(std::fs::read_dir(state.path()).expect("read").count(), 0, "doctor creates no ledger");

    let broken = common::registry_file("web:\n  port: 80000\n");
    let unwritable = tempfile::NamedTempFile::new().expect("a file where a directory should be");
    common::berth()
        .env("BERTH_REGISTRY", broken.path())
        .env("BERTH_STATE_DIR", unwritable.path().join("state"))
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("TEMPORAL_ADDRESS")
        .arg("doctor")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!("FAIL  registry {}:2:9:", broken.path().display())))
        .stdout(predicate::str::contains("skip  kernel   needs a registry"))
        .stdout(predicate::str::contains(format!(
            "FAIL  state    {} cannot be written by this user",
            unwritable.path().join("state").display()
        )))
        .stdout(predicate::str::contains(
            "FAIL  engine   cannot reach the Docker engine at unix:///nonexistent/docker.sock, from DOCKER_HOST",
        ));
    common::berth()
        .env("BERTH_STATE_DIR", state.path())
        .args(["doctor", "--temporal", "127.0.0.1"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL  temporal Temporal address 127.0.0.1 has no port; write host:port"));
}
