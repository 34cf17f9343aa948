//! berth's promises on a shared host, tried against a real Docker engine as a careless user
//! or an attacker would: it touches only what it made for that service, instance and
//! environment; it talks to exactly the engine it was pointed at; a failed or interrupted
//! start leaves the host as it found it; two starts of one instance never collide.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use common::{DockerScene, block_on, containers_of, docker, up_json, volume_exists};
use predicates::prelude::*;

const WEB: &str = "\
web:
  port: {base}
  instance_increment: 1
  max_instances: 3
  container:
    image: berth-test-busybox
    command: [sh, -c, 'mkdir -p /www; echo hello > /www/index.html; exec httpd -f -p {port} -h /www']
    volumes:
      data{tag}: /data
    ready:
      http: {port: port, path: /index.html}
    timeout: 20s
";

/// Never ready: a TCP readiness check on a port nothing listens on.
const SLOW: &str = "\
slow:
  port: {base}
  container:
    image: berth-test-busybox
    command: [sh, -c, 'echo warming up; exec sleep 300']
    volumes:
      data{tag}: /data
    timeout: TIMEOUT
";

/// A container berth did not make (or made for another instance), named `name`, running.
fn foreign_container(name: &str, labels: HashMap<String, String>) {
    block_on(async {
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        let body = ContainerCreateBody {
            image: Some("berth-test-busybox".into()),
            cmd: Some(vec!["sleep".into(), "300".into()]),
            labels: Some(labels),
            ..Default::default()
        };
        docker().create_container(Some(options), body).await.expect("create foreign container");
        docker().start_container(name, None).await.expect("start foreign container");
    });
}

fn remove_container(name: &str) {
    block_on(async {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        let _ = docker().remove_container(name, Some(options)).await;
    });
}

fn running(name: &str) -> Option<String> {
    block_on(async {
        let inspected = docker().inspect_container(name, None).await.ok()?;
        inspected.state.and_then(|state| state.running).filter(|running| *running)?;
        inspected.id
    })
}

/// `berth` as a plain process for `scene`, to signal it or run two at once.
fn berth_process(scene: &DockerScene, args: &[&str]) -> Command {
    scene.process(args)
}

fn leases(scene: &DockerScene) -> Vec<serde_json::Value> {
    let output = scene.berth().args(["leases", "--format", "json"]).output().expect("berth leases");
    serde_json::from_slice::<serde_json::Value>(&output.stdout)
        .ok()
        .and_then(|value| value.as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn down_refuses_a_container_berth_did_not_make_and_leaves_it_running() {
    let scene = DockerScene::new("notours", 2, WEB);
    let name = scene.container("web", 1);
    foreign_container(&name, HashMap::new());
    for extra in [&[][..], &["--force", "--volumes"][..]] {
        scene.berth().args(["down", "web:1"]).args(extra).assert().code(1).stderr(predicate::str::contains(format!(
            "NotManaged: container `{name}` is not berth's for web[1] in environment {}: it has no berth labels",
            scene.environment
        )));
        assert!(running(&name).is_some(), "the foreign container still runs after down {extra:?}");
    }
    remove_container(&name);
}

#[test]
fn down_refuses_a_berth_container_labelled_for_another_instance() {
    let scene = DockerScene::new("otherinst", 3, WEB);
    let name = scene.container("web", 1);
    let labels: HashMap<String, String> = [
        ("io.berth.managed", "true"),
        ("io.berth.service", "web"),
        ("io.berth.instance", "2"),
        ("io.berth.env", scene.environment.as_str()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    foreign_container(&name, labels);
    scene
        .berth()
        .args(["down", "web:1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("its labels name web[2] in environment {}", scene.environment)));
    assert!(running(&name).is_some());
    remove_container(&name);
}

#[test]
fn down_refuses_a_container_of_another_configuration_unless_forced() {
    let mut scene = DockerScene::new("otherconf", 1, WEB);
    scene.remove_on_drop("web:0");
    up_json(&scene, &["web"]);
    let name = scene.container("web", 0);
    // Another checkout's registry: the same instance, another command.
    let other = std::fs::read_to_string(scene.registry.path()).expect("read").replace("hello", "other");
    std::fs::write(scene.registry.path(), other).expect("write");
    scene.berth().args(["down", "web"]).assert().code(1).stderr(
        predicate::str::contains("ConfigChanged").and(predicate::str::contains("pass --force to remove it anyway")),
    );
    assert!(running(&name).is_some(), "refused, so still running");
    scene
        .berth()
        .args(["down", "web", "--force"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("{name}: removed")));
    assert!(containers_of(&scene.environment).is_empty());
}

/// A TCP proxy on loopback to the local engine's socket: a `tcp://` engine that is real.
fn engine_over_tcp() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let port = listener.local_addr().expect("address").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let Ok(engine) = UnixStream::connect("/var/run/docker.sock") else { continue };
            let (mut client_read, mut engine_write) =
                (client.try_clone().expect("clone"), engine.try_clone().expect("clone"));
            let (mut engine_read, mut client_write) = (engine, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_read, &mut engine_write);
                let _ = engine_write.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut engine_read, &mut client_write);
                let _ = client_write.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (port, connections)
}

#[test]
fn berth_talks_to_exactly_the_engine_docker_host_names() {
    let mut scene = DockerScene::new("dockerhost", 1, WEB);
    scene.remove_on_drop("web:0");
    up_json(&scene, &["web"]);
    let name = scene.container("web", 0);
    let dead = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    for (host, needle) in [
        (
            format!("tcp://127.0.0.1:{dead}"),
            format!("cannot reach the Docker engine at tcp://127.0.0.1:{dead}, from DOCKER_HOST"),
        ),
        ("ssh://me@build-host".to_string(), "does not speak to engines over ssh".to_string()),
        ("npipe:////./pipe/docker_engine".to_string(), "cannot reach `npipe://` engines".to_string()),
    ] {
        scene
            .berth()
            .env("DOCKER_HOST", &host)
            .args(["down", "web"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
        assert!(running(&name).is_some(), "DOCKER_HOST={host} must not fall back to the local engine");
    }
    let context = tempfile::tempdir().expect("docker config");
    std::fs::write(context.path().join("config.json"), r#"{"currentContext":"gone"}"#).expect("config");
    scene
        .berth()
        .env_remove("DOCKER_HOST")
        .env("DOCKER_CONFIG", context.path())
        .args(["down", "web"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot use the Docker engine docker context gone: the context is not in"));
    assert!(running(&name).is_some(), "a missing context is an error, not the local engine");

    let (port, connections) = engine_over_tcp();
    scene
        .berth()
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .args(["down", "web"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("{name}: removed")));
    assert!(connections.load(Ordering::SeqCst) > 0, "the work went through the tcp:// engine");
    assert!(containers_of(&scene.environment).is_empty());
}

#[test]
fn a_failed_start_leaves_the_host_as_it_found_it_or_says_what_it_kept() {
    let mut scene = DockerScene::new("rollback", 1, &SLOW.replace("TIMEOUT", "2s"));
    scene.remove_on_drop("slow:0");
    let name = scene.container("slow", 0);
    let volume = scene.volume("slow", "data{tag}", 0);
    for _ in 0..2 {
        scene.berth().args(["up", "slow"]).assert().code(1).stderr(
            predicate::str::contains("NotReady: ")
                .and(predicate::str::contains(format!(
                    "undone: removed container {name}, removed volume {volume}, released port(s) {}",
                    scene.base
                )))
                .and(predicate::str::contains("ConfigChanged").not()),
        );
        assert!(containers_of(&scene.environment).is_empty(), "no container left");
        assert!(!volume_exists(&volume), "no volume left");
        assert!(leases(&scene).is_empty(), "no lease left");
    }
    scene.berth().args(["up", "slow", "--keep-failed"]).assert().code(1).stderr(
        predicate::str::contains(format!(
            "left: container {name} (kept for inspection; `berth down slow:0 --env {}` removes it)",
            scene.environment
        ))
        .and(predicate::str::contains(format!("volume {volume}"))),
    );
    assert_eq!(containers_of(&scene.environment), std::slice::from_ref(&name), "kept for inspection");
    scene.berth().args(["down", "slow:0", "--volumes"]).assert().success();
    assert!(!volume_exists(&volume) && containers_of(&scene.environment).is_empty());
}

#[test]
fn a_failed_run_undoes_what_it_made_and_never_what_it_adopted() {
    let mut scene = DockerScene::new("adopted", 3, WEB);
    scene.remove_on_drop("web:0-2");
    up_json(&scene, &["web:1"]);
    let adopted = running(&scene.container("web", 1)).expect("web[1] runs");
    let listener = TcpListener::bind(("127.0.0.1", scene.base + 2)).expect("hold web[2]'s port");
    scene
        .berth()
        .args(["up", "web:0-2"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("PortTaken"))
        .stderr(predicate::str::contains(format!("removed container {}", scene.container("web", 0))))
        .stderr(predicate::str::contains(format!("removed container {}", scene.container("web", 1))).not());
    assert_eq!(containers_of(&scene.environment), [scene.container("web", 1)], "only the adopted instance is left");
    assert_eq!(running(&scene.container("web", 1)), Some(adopted), "the adopted container was not touched");
    assert!(volume_exists(&scene.volume("web", "data{tag}", 1)));
    assert!(!volume_exists(&scene.volume("web", "data{tag}", 0)), "the volume this run made is gone");
    drop(listener);
}

#[test]
fn a_container_docker_refuses_leaves_nothing_behind() {
    // `check` cannot know the host's addresses: Docker refuses to publish on one the host
    // lacks (TEST-NET-3), after berth made the volume and the container.
    let scene = DockerScene::new(
        "refused",
        1,
        "bad:\n  port: {base}\n  container:\n    image: berth-test-busybox\n    command: [sleep, '600']\n    host: 203.0.113.7\n    volumes:\n      data{tag}: /data\n",
    );
    scene.berth().args(["up", "bad"]).assert().code(2).stderr(
        predicate::str::contains("203.0.113.7")
            .and(predicate::str::contains(format!("undone: removed container {}", scene.container("bad", 0))))
            .and(predicate::str::contains(format!("removed volume {}", scene.volume("bad", "data{tag}", 0)))),
    );
    assert!(!volume_exists(&scene.volume("bad", "data{tag}", 0)));
    assert!(containers_of(&scene.environment).is_empty());
    assert!(leases(&scene).is_empty());
}

#[test]
fn a_foreign_volume_with_the_instance_s_name_is_refused_and_kept() {
    let scene = DockerScene::new("foreignvol", 1, WEB);
    let volume = scene.volume("web", "data{tag}", 0);
    block_on(async {
        let request = bollard::models::VolumeCreateRequest { name: Some(volume.clone()), ..Default::default() };
        docker().create_volume(request).await.expect("create someone's volume");
    });
    scene
        .berth()
        .args(["up", "web"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("NotManaged: volume `{volume}` is not berth's for web[0]")));
    assert!(volume_exists(&volume), "someone's data is kept");
    assert!(containers_of(&scene.environment).is_empty());
    scene.berth().args(["down", "web", "--volumes"]).assert().code(1).stderr(predicate::str::contains("NotManaged"));
    assert!(volume_exists(&volume), "down --volumes does not remove it either");
    block_on(async {
        docker()
            .remove_volume(&volume, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
            .expect("remove the volume")
    });
}

#[test]
fn an_interrupted_up_undoes_what_it_made_and_exits_130() {
    let mut scene = DockerScene::new("sigint", 1, &SLOW.replace("TIMEOUT", "120s"));
    scene.remove_on_drop("slow:0");
    let mut up = berth_process(&scene, &["up", "slow"]).stdout(Stdio::null()).spawn().expect("start berth up");
    let deadline = Instant::now() + Duration::from_secs(30);
    while running(&scene.container("slow", 0)).is_none() {
        assert!(Instant::now() < deadline, "the container never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let signalled = Command::new("kill").args(["-INT", &up.id().to_string()]).status().expect("kill");
    assert!(signalled.success());
    let status = up.wait().expect("wait for berth up");
    let mut stderr = String::new();
    up.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(&format!("interrupted: undone: removed container {}", scene.container("slow", 0))),
        "{stderr}"
    );
    assert!(containers_of(&scene.environment).is_empty());
    assert!(!volume_exists(&scene.volume("slow", "data{tag}", 0)));
    assert!(leases(&scene).is_empty());
}

#[test]
fn two_ups_of_one_instance_at_the_same_instant_both_succeed() {
    let mut scene = DockerScene::new("race", 1, WEB);
    scene.remove_on_drop("web:0");
    for round in 0..3 {
        let spawn = || berth_process(&scene, &["up", "web", "--format", "json"]).spawn().expect("start berth up");
        let (first, second) = (spawn(), spawn());
        let mut outcomes = Vec::new();
        for child in [first, second] {
            let output = child.wait_with_output().expect("wait");
            assert!(output.status.success(), "round {round}: {}", String::from_utf8_lossy(&output.stderr));
            let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
            outcomes.push(report["started"][0]["outcome"].as_str().expect("outcome").to_string());
        }
        outcomes.sort();
        assert!(outcomes.contains(&"created".to_string()), "round {round}: one of them created it: {outcomes:?}");
        assert_eq!(containers_of(&scene.environment), [scene.container("web", 0)], "round {round}: one container");
        scene.berth().args(["down", "web", "--volumes"]).assert().success();
    }
}

#[test]
fn a_tcp_proxy_engine_really_is_an_engine() {
    let (port, _) = engine_over_tcp();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.ends_with("OK"), "{response}");
}

#[test]
fn a_recreate_that_fails_restores_the_container_it_replaced() {
    let mut scene = DockerScene::new("recreate", 1, WEB);
    scene.remove_on_drop("web:0");
    up_json(&scene, &["web"]);
    let name = scene.container("web", 0);
    let original = running(&name).expect("web[0] runs");
    let registry = std::fs::read_to_string(scene.registry.path()).expect("read");
    std::fs::write(scene.registry.path(), registry.replace("image: berth-test-busybox", "image: berth-test-nowhere"))
        .expect("write");
    scene
        .berth()
        .args(["up", "web", "--recreate", "--pull", "never"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ImageMissing"));
    assert_eq!(running(&name), Some(original.clone()), "a missing image touches nothing");
    std::fs::write(scene.registry.path(), registry.replace("exec httpd", "exit 3; exec httpd")).expect("write");
    scene
        .berth()
        .args(["up", "web", "--recreate"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ExitedEarly"))
        .stderr(predicate::str::contains(format!("restored container {name} of the previous configuration")));
    assert_eq!(running(&name), Some(original), "the replaced container is back, running");
    assert_eq!(containers_of(&scene.environment), [name], "and nothing else is left");
    assert_eq!(leases(&scene).len(), 1, "its lease is kept");
}

#[test]
fn a_readiness_command_that_never_ends_is_bounded_by_the_timeout() {
    let mut scene = DockerScene::new(
        "execbound",
        1,
        "stuck:\n  port: {base}\n  container:\n    image: berth-test-busybox\n    command: [sleep, '300']\n    ready:\n      command: [sleep, '300']\n    timeout: 2s\n",
    );
    scene.remove_on_drop("stuck:0");
    scene
        .berth()
        .args(["up", "stuck"])
        .timeout(Duration::from_secs(120))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("NotReady: ").and(predicate::str::contains("not ready within 2s")));
    assert!(containers_of(&scene.environment).is_empty());
}

#[test]
fn an_absurd_timeout_in_the_registry_is_refused_before_anything_starts() {
    // It used to pass `check`, then overflow an Instant inside `up` and panic.
    let scene = DockerScene::new(
        "hugetimeout",
        1,
        "dying:\n  port: {base}\n  container:\n    image: berth-test-busybox\n    command: [sh, -c, 'exit 3']\n    timeout: 18446744073709551615s\n",
    );
    scene.berth().args(["up", "dying"]).assert().code(2).stderr(
        predicate::str::contains(
            "dying.container.timeout: timeout `18446744073709551615s` is out of range: a start may take from 1s to 1d",
        )
        .and(predicate::str::contains("panicked").not()),
    );
    scene.berth().args(["check"]).assert().code(2);
    assert!(containers_of(&scene.environment).is_empty());
}

#[test]
fn down_volumes_says_what_it_did_when_a_volume_is_in_use() {
    let mut scene = DockerScene::new("inuse", 1, WEB);
    scene.remove_on_drop("web:0");
    up_json(&scene, &["web"]);
    let volume = scene.volume("web", "data{tag}", 0);
    let user = format!("{}-user", scene.environment);
    let created = Command::new("docker")
        .args(["run", "-d", "--name", &user, "-v", &format!("{volume}:/x"), "berth-test-busybox", "sleep", "300"])
        .output()
        .expect("docker run");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    scene.berth().args(["down", "web", "--volumes"]).assert().code(1).stderr(
        predicate::str::contains(format!(
            "VolumeInUse: volume `{volume}` is in use by another container, so it was kept"
        ))
        .and(predicate::str::contains(format!(
            "before that it removed container {}, released port(s) {}",
            scene.container("web", 0),
            scene.base
        ))),
    );
    assert!(volume_exists(&volume));
    assert!(leases(&scene).is_empty(), "the container's lease was released");
    remove_container(&user);
}

#[test]
fn undoing_a_started_container_gives_back_only_the_leases_the_run_took() {
    let mut scene = DockerScene::new(
        "startedundo",
        4,
        &format!(
            "{WEB}broken:\n  port: {{base+3}}\n  container:\n    image: berth-test-busybox\n    command: [sh, -c, 'exit 3']\n"
        ),
    );
    scene.remove_on_drop("web:0");
    scene.remove_on_drop("broken:0");
    up_json(&scene, &["web"]);
    let name = scene.container("web", 0);
    block_on(async { docker().stop_container(&name, None).await.expect("stop") });
    scene.berth().args(["release", "--project", &format!("container:{name}")]).assert().success();
    scene
        .berth()
        .args(["up", "web", "broken"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("stopped container {name} again (it was stopped before)")));
    assert!(running(&name).is_none(), "stopped, as it was");
    assert!(leases(&scene).is_empty(), "the lease the run took is given back");
}

#[test]
fn an_interrupt_at_any_moment_of_up_leaves_nothing_behind() {
    let mut scene = DockerScene::new("anymoment", 3, &WEB.replace("httpd -f", "sleep 300; httpd -f"));
    scene.remove_on_drop("web:0-2");
    for delay in [0, 10, 20, 30, 45, 60, 80, 120, 200, 400] {
        let mut up = berth_process(&scene, &["up", "web:0-2"]).stdout(Stdio::null()).spawn().expect("start berth up");
        std::thread::sleep(Duration::from_millis(delay));
        Command::new("kill").args(["-INT", &up.id().to_string()]).status().expect("kill");
        let status = up.wait().expect("wait");
        let mut stderr = String::new();
        up.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read");
        // Before berth catches signals it has done nothing, and SIGINT ends it as it would any program.
        let before_any_work = status.signal() == Some(2) && stderr.is_empty();
        assert!(status.code() == Some(130) || before_any_work, "after {delay} ms: {status:?}\n{stderr}");
        assert!(containers_of(&scene.environment).is_empty(), "after {delay} ms a container is left:\n{stderr}");
        for instance in 0..3 {
            assert!(
                !volume_exists(&scene.volume("web", "data{tag}", instance)),
                "after {delay} ms a volume is left:\n{stderr}"
            );
        }
        assert!(leases(&scene).is_empty(), "after {delay} ms a lease is left:\n{stderr}");
    }
}

#[test]
fn a_failed_recreate_of_several_instances_restores_every_one() {
    let mut scene = DockerScene::new("recreatemany", 3, WEB);
    scene.remove_on_drop("web:0-1");
    up_json(&scene, &["web:0-1"]);
    let originals: Vec<String> =
        (0..2).map(|instance| running(&scene.container("web", instance)).expect("running")).collect();
    let registry = std::fs::read_to_string(scene.registry.path()).expect("read");
    // The new configuration works for instance 0 and not for instance 1.
    std::fs::write(
        scene.registry.path(),
        registry.replace("exec httpd", "test {instance_id} = 0 || exit 3; exec httpd"),
    )
    .expect("write");
    scene
        .berth()
        .args(["up", "web:0-1", "--recreate"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ExitedEarly"));
    for (instance, original) in originals.iter().enumerate() {
        let name = scene.container("web", u16::try_from(instance).expect("small"));
        assert_eq!(running(&name).as_ref(), Some(original), "{name} is back, running, as it was");
    }
    assert_eq!(containers_of(&scene.environment).len(), 2, "no replacement and no set-aside container is left");
}

#[test]
fn a_recreate_that_moves_ports_gives_back_the_old_leases() {
    let mut scene = DockerScene::new("recreateports", 2, &WEB.replace("max_instances: 3", "max_instances: 1"));
    scene.remove_on_drop("web:0");
    up_json(&scene, &["web"]);
    let registry = std::fs::read_to_string(scene.registry.path()).expect("read");
    let moved = registry.replace(&format!("port: {}", scene.base), &format!("port: {}", scene.base + 1));
    std::fs::write(scene.registry.path(), moved).expect("write");
    scene.berth().args(["up", "web", "--recreate"]).assert().success();
    let ports: Vec<u64> = leases(&scene).iter().filter_map(|lease| lease["port"].as_u64()).collect();
    assert_eq!(ports, [u64::from(scene.base) + 1], "only the new configuration's port stays leased");
    assert_eq!(containers_of(&scene.environment), [scene.container("web", 0)]);
}

/// A pipe whose reading end is already closed: every write to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    writer
}

#[test]
fn a_closed_stderr_or_stdout_never_cuts_a_run_short() {
    let mut scene = DockerScene::new("closedpipe", 2, WEB);
    scene.remove_on_drop("web:0-1");
    // `berth up 2>&1 | head -1`: progress can no longer be written, the run goes on.
    let status =
        scene.process(&["up", "web:0-1"]).stdout(closed_pipe()).stderr(closed_pipe()).status().expect("berth up");
    assert_eq!(status.code(), Some(0), "finishes as if the output had been read: {status:?}");
    let mut running = containers_of(&scene.environment);
    running.sort();
    assert_eq!(running, [scene.container("web", 0), scene.container("web", 1)]);
    let leased: Vec<u64> = leases(&scene).iter().filter_map(|lease| lease["port"].as_u64()).collect();
    assert_eq!(leased.len(), 2, "both instances' ports leased: {leased:?}");
    scene.berth().args(["down", "web:0-1", "--volumes"]).assert().success();
    assert!(containers_of(&scene.environment).is_empty());
    assert!(leases(&scene).is_empty());
}

#[test]
fn undoing_a_failed_start_removes_the_container_it_made_not_one_put_in_its_place() {
    let mut scene = DockerScene::new("undoswap", 1, &SLOW.replace("TIMEOUT", "8s"));
    scene.remove_on_drop("slow:0");
    let name = scene.container("slow", 0);
    let moved = format!("{name}-moved");
    let mut up = berth_process(&scene, &["up", "slow"]).stdout(Stdio::null()).spawn().expect("start berth up");
    let deadline = Instant::now() + Duration::from_secs(30);
    while running(&name).is_none() {
        assert!(Instant::now() < deadline, "the container never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // While berth waits for readiness, its container is moved aside and another takes the name.
    block_on(async {
        let options = bollard::query_parameters::RenameContainerOptionsBuilder::new().name(&moved).build();
        docker().rename_container(&name, options).await.expect("move berth's container aside");
    });
    foreign_container(&name, HashMap::from([("owner".to_string(), "alice".to_string())]));
    let status = up.wait().expect("wait for berth up");
    let mut stderr = String::new();
    up.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    let foreign = running(&name);
    let berths = running(&moved);
    remove_container(&name);
    remove_container(&moved);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(foreign.is_some(), "alice's container is left running: {stderr}");
    assert!(berths.is_none(), "berth's own container, under its new name, is what it removed: {stderr}");
}
