//! The host ledger through the `berth` binary: allocation, release, export, status, gc,
//! bad input, and many processes allocating at once — some of them killed mid-way.

mod common;

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, SystemTime};

use berth::ledger::Ledger;
use common::{berth, berth_with_ledger, registry_file};
use predicates::prelude::*;

fn ports_of(output: &[u8]) -> Vec<u16> {
    String::from_utf8_lossy(output).lines().map(|line| line.trim().parse().expect("a port per line")).collect()
}

#[test]
fn alloc_is_idempotent_per_project_and_service() {
    let state = tempfile::tempdir().expect("tempdir");
    let alloc = |service: &str, count: &str| {
        let output = berth_with_ledger(state.path())
            .args(["alloc", "--project", "shop", "--service", service, "--count", count, "--range", "30500-30599"])
            .assert()
            .success();
        ports_of(&output.get_output().stdout)
    };
    let web = alloc("web", "3");
    assert_eq!(web.len(), 3);
    assert!(web.iter().all(|port| (30500..=30599).contains(port)));
    assert_eq!(alloc("web", "3"), web, "the same project and service get the same ports back");
    let db = alloc("db", "1");
    assert!(!web.contains(&db[0]));
}

#[test]
fn alloc_skips_registry_slots_reserved_and_listening_ports() {
    let state = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = listener.local_addr().expect("addr").port();
    let first = busy.saturating_sub(2).max(1025);
    let registry = registry_file(&format!(
        "reserved:\n  - ports: \"{}\"\n    reason: test\nslot:\n  port: {}\n  max_instances: 1\n",
        first,
        first + 1
    ));
    let range = format!("{first}-{}", u32::from(busy) + 3);
    let output = berth_with_ledger(state.path())
        .arg("--registry")
        .arg(registry.path())
        .args(["alloc", "--project", "p", "--service", "s", "--count", "2", "--range", &range])
        .assert()
        .success();
    let ports = ports_of(&output.get_output().stdout);
    for excluded in [first, first + 1, busy] {
        assert!(!ports.contains(&excluded), "{excluded} handed out in {ports:?}");
    }
}

#[test]
fn sequential_allocation_numbers_a_project_s_ports_from_its_base() {
    let state = tempfile::tempdir().expect("tempdir");
    let next = |service: &str| {
        let output = berth_with_ledger(state.path())
            .args([
                "alloc",
                "--project",
                "seed",
                "--service",
                service,
                "--sequential",
                "--base",
                "24000",
                "--range",
                "24000-24999",
            ])
            .assert()
            .success();
        ports_of(&output.get_output().stdout)[0]
    };
    let first = next("http-server");
    let second = next("postgres");
    assert!(second > first);
    berth_with_ledger(state.path())
        .args(["release", "--project", "seed", "--service", "http-server"])
        .assert()
        .success();
    assert!(next("mongo") > second, "released ports are not reused by the sequence");
    assert_eq!(next("postgres"), second, "stable across runs");
}

#[test]
fn leases_export_as_env_and_json() {
    let state = tempfile::tempdir().expect("tempdir");
    berth_with_ledger(state.path())
        .args([
            "alloc",
            "--project",
            "ml",
            "--service",
            "mlflow",
            "--count",
            "2",
            "--range",
            "30600-30699",
            "--purpose",
            "tracking UI",
        ])
        .assert()
        .success();
    let env = berth_with_ledger(state.path()).args(["leases", "--project", "ml", "--format", "env"]).assert().success();
    let text = String::from_utf8(env.get_output().stdout.clone()).expect("utf-8");
    let names: Vec<&str> = text.lines().map(|line| line.split('=').next().expect("name")).collect();
    assert_eq!(names, ["MLFLOW_PORT", "MLFLOW_1_PORT"]);
    let json = berth_with_ledger(state.path()).args(["leases", "--format", "json"]).assert().success();
    let leases: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).expect("json");
    assert_eq!(leases[0]["project"], "ml");
    assert_eq!(leases[0]["purpose"], "tracking UI");
    assert_eq!(leases[0]["protocol"], "tcp");
}

#[test]
fn release_of_nothing_is_a_finding() {
    let state = tempfile::tempdir().expect("tempdir");
    berth_with_ledger(state.path())
        .args(["release", "--project", "ghost"])
        .assert()
        .code(1)
        .stderr("error: project `ghost` holds no leases; `berth leases` lists the projects that do\n");
    berth_with_ledger(state.path())
        .args(["alloc", "--project", "real", "--service", "a", "--range", "30700-30710"])
        .assert()
        .success();
    berth_with_ledger(state.path())
        .args(["release", "--project", "real", "--service", "b"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("project `real` holds no lease for service `b`"));
    berth_with_ledger(state.path())
        .args(["release", "--project", "real"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("released 1 lease(s) of real: 307"));
}

#[test]
fn bad_allocation_requests_exit_2_with_one_line() {
    let state = tempfile::tempdir().expect("tempdir");
    let cases: [(&[&str], &str); 7] = [
        (&["--range", "30599-30500"], "range 30599-30500 is written backwards: write 30500-30599"),
        (&["--range", "0-100"], "a port of 0 is out of range"),
        (&["--range", "60000-70000"], "a port of 70000 is out of range"),
        (&["--count", "0"], "invalid value '0' for '--count <COUNT>'"),
        (&["--count", "20", "--range", "30800-30809"], "only 10 free from 30800 on"),
        (&["--pid", "2147483600"], "--pid 2147483600: no such process is running"),
        (&["--ttl", "0s"], "a lease must live at least 1s"),
    ];
    for (extra, needle) in cases {
        berth_with_ledger(state.path())
            .args(["alloc", "--project", "p", "--service", "s"])
            .args(extra)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
    berth_with_ledger(state.path())
        .args(["alloc", "--project", "", "--service", "s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the project is empty"));
}

#[test]
fn a_broken_ledger_file_is_named_and_kept() {
    let state = tempfile::tempdir().expect("tempdir");
    let file = state.path().join("ledger.sqlite3");
    std::fs::write(&file, "not a database at all, just text that is long enough to look like a header").expect("write");
    berth_with_ledger(state.path())
        .args(["leases"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("{} is not a berth ledger", file.display())))
        .stderr(predicate::str::contains("move it aside"));
    assert!(std::fs::read_to_string(&file).expect("kept").starts_with("not a database"));
}

#[test]
fn status_shows_listeners_and_drift() {
    let state = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let me = std::process::id().to_string();
    // Lease some other port to this test process: the port it does listen on is then drift.
    berth_with_ledger(state.path())
        .args(["alloc", "--project", "mine", "--service", "api", "--range", "30900-30999", "--pid", &me])
        .assert()
        .success();
    let output = berth_with_ledger(state.path()).args(["status", "--format", "json"]).assert().code(1);
    let status: serde_json::Value = serde_json::from_slice(&output.get_output().stdout).expect("json");
    let drift = status["drift"].as_array().expect("drift list");
    assert!(
        drift
            .iter()
            .any(|entry| entry["kind"] == "unleased" && entry["listener"]["address"] == format!("127.0.0.1:{port}")),
        "{drift:?}"
    );
    drop(listener);
}

#[test]
fn gc_frees_leases_of_dead_owners_only_on_the_second_pass() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut sleeper = Process::new("sleep").arg("30").spawn().expect("spawn sleep");
    let pid = sleeper.id().to_string();
    berth_with_ledger(state.path())
        .args(["alloc", "--project", "tmp", "--service", "job", "--range", "31000-31099", "--pid", &pid])
        .assert()
        .success();
    berth_with_ledger(state.path()).args(["gc", "--grace", "0s"]).assert().success().stdout("0 lease(s) freed\n");
    sleeper.kill().expect("kill");
    sleeper.wait().expect("reap");
    berth_with_ledger(state.path())
        .args(["gc", "--grace", "0s", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("would mark stale (owner pid {pid} is gone)")));
    berth_with_ledger(state.path())
        .args(["gc", "--grace", "0s"])
        .assert()
        .success()
        .stdout(predicate::str::contains("marked stale"));
    assert_eq!(leases_in(state.path()), 1, "the first pass only marks");
    berth_with_ledger(state.path())
        .args(["gc", "--grace", "0s"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 lease(s) freed"));
    assert_eq!(leases_in(state.path()), 0);
}

#[test]
fn gc_frees_leases_whose_project_path_is_gone() {
    let state = tempfile::tempdir().expect("tempdir");
    let project = tempfile::tempdir().expect("project");
    let project_path = project.path().display().to_string();
    berth_with_ledger(state.path())
        .args(["alloc", "--project", &project_path, "--service", "web", "--range", "31100-31199"])
        .assert()
        .success();
    berth_with_ledger(state.path()).args(["gc", "--grace", "0s"]).assert().success();
    drop(project);
    berth_with_ledger(state.path()).args(["gc", "--grace", "0s"]).assert().success();
    berth_with_ledger(state.path())
        .args(["gc", "--grace", "0s"])
        .assert()
        .success()
        .stdout(predicate::str::contains("project path no longer exists"));
    assert_eq!(leases_in(state.path()), 0);
}

#[test]
fn lookups_warn_when_the_ledger_gives_a_slot_to_another_project() {
    let state = tempfile::tempdir().expect("tempdir");
    let registry = registry_file("svc:\n  port: 31234\n  max_instances: 1\n");
    berth_with_ledger(state.path())
        .args(["alloc", "--project", "other", "--service", "squatter", "--range", "31234-31234"])
        .assert()
        .success()
        .stdout("31234\n");
    berth_with_ledger(state.path())
        .arg("--registry")
        .arg(registry.path())
        .env("BERTH_PROJECT", "mine")
        .args(["port", "svc"])
        .assert()
        .success()
        .stdout("31234\n")
        .stderr(predicate::str::contains("svc[0].port = 31234 is leased to project other (service squatter)"));
}

fn leases_in(state: &Path) -> usize {
    Ledger::open(state).expect("open").leases(None).expect("leases").len()
}

/// 8 workers, each allocating 500 times through its own `berth` processes, all at once.
#[test]
fn concurrent_processes_never_share_a_port() {
    const WORKERS: usize = 8;
    const ALLOCATIONS: usize = 500;
    let state = tempfile::tempdir().expect("tempdir");
    let binary = assert_cmd::cargo::cargo_bin!("berth");
    let handed_out: Vec<Vec<u16>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|worker| {
                let state = state.path();
                scope.spawn(move || {
                    (0..ALLOCATIONS)
                        .map(|index| {
                            let output = Process::new(binary)
                                .env("BERTH_STATE_DIR", state)
                                .env_remove("BERTH_REGISTRY")
                                .current_dir(state)
                                .args(["alloc", "--project", &format!("p{worker}"), "--service", &format!("s{index}")])
                                .args(["--range", "20000-29999"])
                                .output()
                                .expect("run berth");
                            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
                            ports_of(&output.stdout)[0]
                        })
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("worker")).collect()
    });
    let all: Vec<u16> = handed_out.into_iter().flatten().collect();
    assert_eq!(all.len(), WORKERS * ALLOCATIONS);
    let unique: HashSet<u16> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "a port was handed out twice");
    let ledger = Ledger::open(state.path()).expect("open");
    ledger.integrity_check().expect("intact");
    let recorded: HashSet<u16> = ledger.leases(None).expect("leases").into_iter().map(|lease| lease.port).collect();
    assert_eq!(recorded, unique, "every allocation is recorded");
}

/// Allocating processes killed with SIGKILL at scattered moments leave a consistent ledger:
/// intact, no port twice, and every allocation a process reported is recorded.
#[test]
fn killed_processes_leave_a_consistent_ledger() {
    let state = tempfile::tempdir().expect("tempdir");
    let binary = assert_cmd::cargo::cargo_bin!("berth");
    let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("clock").subsec_nanos();
    let reported: Vec<u16> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4u32)
            .map(|worker| {
                let state = state.path();
                scope.spawn(move || {
                    let mut random = seed ^ (worker + 1).wrapping_mul(0x9E37_79B9);
                    let mut reported = Vec::new();
                    for index in 0..60 {
                        random ^= random << 13;
                        random ^= random >> 17;
                        random ^= random << 5;
                        let mut child = Process::new(binary)
                            .env("BERTH_STATE_DIR", state)
                            .env_remove("BERTH_REGISTRY")
                            .current_dir(state)
                            .args(["alloc", "--project", &format!("k{worker}"), "--service", &format!("s{index}")])
                            .args(["--count", "3", "--range", "40000-49999"])
                            .stdout(Stdio::piped())
                            .stderr(Stdio::null())
                            .spawn()
                            .expect("spawn");
                        std::thread::sleep(Duration::from_micros(u64::from(random % 6000)));
                        let _ = child.kill();
                        let output = child.wait_with_output().expect("wait");
                        if output.status.success() {
                            reported.extend(ports_of(&output.stdout));
                        }
                    }
                    reported
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("worker")).collect()
    });
    let ledger = Ledger::open(state.path()).expect("open after crashes");
    ledger.integrity_check().expect("intact after SIGKILLs");
    let leases = ledger.leases(None).expect("leases");
    let recorded: HashSet<u16> = leases.iter().map(|lease| lease.port).collect();
    assert_eq!(recorded.len(), leases.len(), "a port is leased twice");
    for port in reported {
        assert!(recorded.contains(&port), "port {port} was reported but not recorded");
    }
}

#[test]
fn the_default_state_dir_is_not_touched_by_lookups() {
    let state = tempfile::tempdir().expect("tempdir");
    let unused = state.path().join("unused");
    berth().env("BERTH_STATE_DIR", &unused).args(["port", "redis"]).assert().success();
    assert!(!unused.join("ledger.sqlite3").exists());
}

/// gc passes running beside allocations never free a live lease, so a port is never handed
/// to two projects: 4 gc loops (`--grace 0s`) race 8 allocation loops whose leases belong
/// half to owners that die (gc must free those) and half to this test process (live).
#[test]
fn gc_beside_allocations_never_frees_a_live_lease() {
    const ALLOCATORS: usize = 8;
    const BATCHES: usize = 20;
    let state = tempfile::tempdir().expect("tempdir");
    let binary = assert_cmd::cargo::cargo_bin!("berth");
    let alloc = |project: &str, service: &str, pid: u32| {
        let output = Process::new(binary)
            .env("BERTH_STATE_DIR", state.path())
            .env_remove("BERTH_REGISTRY")
            .current_dir(state.path())
            .args(["alloc", "--project", project, "--service", service, "--range", "44000-45999"])
            .args(["--pid", &pid.to_string()])
            .output()
            .expect("run berth");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        ports_of(&output.stdout)[0]
    };
    let done = std::sync::atomic::AtomicBool::new(false);
    let live: Vec<(String, u16)> = std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let output = Process::new(binary)
                        .env("BERTH_STATE_DIR", state.path())
                        .env_remove("BERTH_REGISTRY")
                        .current_dir(state.path())
                        .args(["gc", "--grace", "0s"])
                        .output()
                        .expect("run berth gc");
                    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
                }
            });
        }
        let allocators: Vec<_> = (0..ALLOCATORS)
            .map(|allocator| {
                let alloc = &alloc;
                scope.spawn(move || {
                    let mut live = Vec::new();
                    for batch in 0..BATCHES {
                        let mut mortal = Process::new("sleep").arg("30").spawn().expect("spawn sleep");
                        for index in 0..5 {
                            alloc(&format!("dies{allocator}"), &format!("b{batch}s{index}"), mortal.id());
                        }
                        mortal.kill().expect("kill");
                        mortal.wait().expect("reap");
                        for index in 0..3 {
                            let project = format!("lives{allocator}");
                            let service = format!("b{batch}s{index}");
                            let port = alloc(&project, &service, std::process::id());
                            live.push((format!("{project}/{service}"), port));
                        }
                    }
                    live
                })
            })
            .collect();
        let live = allocators.into_iter().flat_map(|allocator| allocator.join().expect("allocator")).collect();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        live
    });
    let ports: HashSet<u16> = live.iter().map(|(_, port)| *port).collect();
    assert_eq!(ports.len(), live.len(), "a port was handed to two live holders");
    let ledger = Ledger::open(state.path()).expect("open");
    let recorded: HashSet<(String, u16)> = ledger
        .leases(None)
        .expect("leases")
        .into_iter()
        .map(|lease| (format!("{}/{}", lease.project, lease.service), lease.port))
        .collect();
    for holder in &live {
        assert!(recorded.contains(holder), "gc freed the live lease {holder:?}");
    }
}

/// Many processes opening a ledger that does not exist yet, all at once, all succeed.
#[test]
fn concurrent_first_opens_of_a_new_ledger_all_succeed() {
    let binary = assert_cmd::cargo::cargo_bin!("berth");
    for round in 0..10 {
        let state = tempfile::tempdir().expect("tempdir");
        let children: Vec<_> = (0..40)
            .map(|index| {
                Process::new(binary)
                    .env("BERTH_STATE_DIR", state.path())
                    .env_remove("BERTH_REGISTRY")
                    .current_dir(state.path())
                    .args(["alloc", "--project", &format!("p{index}"), "--service", "s", "--range", "45000-45999"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().expect("wait");
            assert!(
                output.status.success(),
                "round {round}: a first open failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert_eq!(leases_in(state.path()), 40);
    }
}

#[test]
fn allocations_for_berth_s_own_container_projects_or_without_names_are_refused() {
    let state = tempfile::tempdir().expect("tempdir");
    for (project, service, needle) in [
        ("container:web-development", "mine", "project `container:web-development` is berth's own"),
        ("", "web", "the project is empty"),
        ("shop", "", "the service is empty"),
    ] {
        berth_with_ledger(state.path())
            .args(["alloc", "--project", project, "--service", service, "--range", "31500-31599"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
}

#[test]
fn a_new_ledger_is_shared_with_its_group_and_nobody_else() {
    use std::os::unix::fs::PermissionsExt;
    let state = tempfile::tempdir().expect("tempdir");
    let directory = state.path().join("new/state");
    berth_with_ledger(&directory)
        .current_dir(state.path())
        .args(["alloc", "--project", "p", "--service", "s"])
        .assert()
        .success();
    let mode = |path: &std::path::Path| std::fs::metadata(path).expect("exists").permissions().mode() & 0o7777;
    assert_eq!(mode(&directory), 0o2770, "group rwx and setgid, nothing for others");
    for file in ["ledger.sqlite3", "ledger.lock"] {
        assert_eq!(mode(&directory.join(file)), 0o660, "{file}");
    }
    std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    berth_with_ledger(&directory).args(["leases"]).assert().success();
    assert_eq!(mode(&directory), 0o755, "an existing directory keeps the mode its owner chose");
}

#[test]
fn variables_of_several_projects_are_not_exported_into_one_file() {
    let state = tempfile::tempdir().expect("state dir");
    for project in ["teama", "teamb"] {
        berth_with_ledger(state.path()).args(["alloc", "--project", project, "--service", "web"]).assert().success();
    }
    for format in ["env", "compose", "shell"] {
        berth_with_ledger(state.path()).args(["leases", "--format", format]).assert().code(2).stdout("").stderr(
            predicate::str::contains(
                "the leases of 2 projects (teama, teamb) would export the same variable names; name one with --project",
            ),
        );
    }
    let one =
        berth_with_ledger(state.path()).args(["leases", "--project", "teamb", "--format", "env"]).assert().success();
    let text = String::from_utf8_lossy(&one.get_output().stdout).into_owned();
    assert!(text.starts_with("WEB_PORT=") && text.lines().count() == 1, "{text}");
    berth_with_ledger(state.path()).args(["leases", "--format", "json"]).assert().success();
}

#[test]
fn alloc_kind_draws_from_the_range_the_registry_keeps_for_that_kind_of_project() {
    let state = tempfile::tempdir().expect("state dir");
    let registry = registry_file("dynamic_ranges:\n  ml: 20500-20599\n  web: 20600-20699\nredis:\n  port: 6379\n");
    let alloc = |arguments: &[&str]| {
        let mut command = berth_with_ledger(state.path());
        command.env("BERTH_REGISTRY", registry.path()).arg("alloc").args(arguments);
        command
    };
    let ml = alloc(&["--project", "lab", "--service", "notebook", "--kind", "ml", "--count", "2"]).assert().success();
    let ports = ports_of(&ml.get_output().stdout);
    assert_eq!(ports.len(), 2);
    assert!(ports.iter().all(|port| (20500..=20599).contains(port)), "{ports:?}");
    let web = alloc(&["--project", "shop", "--service", "ui", "--kind", "web"]).assert().success();
    assert!(ports_of(&web.get_output().stdout).iter().all(|port| (20600..=20699).contains(port)));
    alloc(&["--project", "x", "--service", "y", "--kind", "gpu"])
        .assert()
        .code(2)
        .stderr("error: no project kind `gpu`; the registry names ml, web\n");
    alloc(&["--project", "x", "--service", "y", "--kind", "ml", "--range", "20000-20099"]).assert().code(2);
}
