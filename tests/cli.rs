//! The `berth` binary end to end: exit codes, stdout, and one clear line on stderr for
//! every kind of bad input.

mod common;

use std::net::TcpListener;

use common::{berth, no_ledger, registry_file, shipped_registry};
use predicates::prelude::*;

/// Runs `berth check` on `text`, expecting `code` and one stderr line containing `needle`.
fn check_refuses(text: &str, needle: &str) {
    let file = registry_file(text);
    let output = berth().args(["check", "--registry"]).arg(file.path()).assert().code(2).get_output().clone();
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert_eq!(stderr.lines().count(), 1, "one line expected, got {stderr:?}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
}

#[test]
fn check_passes_on_the_shipped_registry() {
    berth()
        .arg("check")
        .assert()
        .success()
        .stdout(predicate::str::contains("16 services, 154 slots: 0 error(s), 1 warning(s)"));
}

#[test]
fn check_reports_collisions_with_exit_1() {
    let file = registry_file("grafana:\n  port: 3000\n  max_instances: 5\nloki:\n  port: 3100\n  max_instances: 5\n");
    berth()
        .args(["check", "--registry"])
        .arg(file.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "error[port-collision]: grafana[1].port = 3100 collides with loki[0].port = 3100",
        ))
        .stdout(predicate::str::contains("2 services, 10 slots: 4 error(s), 0 warning(s)"));
}

#[test]
fn check_speaks_json_for_pipelines() {
    let file = registry_file("a:\n  port: 5000\n  max_instances: 1\nb:\n  port: 5000\n  max_instances: 1\n");
    let output = berth().args(["check", "--format", "json", "--registry"]).arg(file.path()).assert().code(1);
    let report: serde_json::Value = serde_json::from_slice(&output.get_output().stdout).expect("json");
    assert_eq!(report["errors"], 1);
    assert_eq!(report["slots"], 2);
    let finding = &report["findings"][0];
    assert_eq!(finding["code"], "port-collision");
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["slots"][0]["service"], "a");
    assert_eq!(finding["slots"][1]["service"], "b");
    assert_eq!(finding["slots"][1]["port"], 5000);
}

#[test]
fn check_reports_ports_beyond_65535_as_findings() {
    let file = registry_file("big:\n  port: 65000\n  instance_increment: 100\n  max_instances: 10\n");
    berth()
        .args(["check", "--registry"])
        .arg(file.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("big[6].port = 65600 is beyond 65535"));
}

#[test]
fn unusable_registries_exit_2_with_one_clear_line() {
    let cases = [
        ("", "defines no services"),
        (
            "kafka: {port: 1\n",
            ":2:1: did not find expected ',' or '}', while parsing a flow mapping at line 1 column 8",
        ),
        ("- kafka\n- redis\n", ":1:1: invalid type: sequence, expected a map of services"),
        ("kafka:\n  port: 1\nkafka:\n  port: 2\n", ":3:1: duplicate service `kafka`"),
        ("kafka:\n  port: 1\n  colour: blue\n", ":3:3: kafka: unknown field `colour`"),
        ("kafka:\n  port: 0\n", ":2:9: kafka.port: a port of 0 is out of range"),
        ("kafka:\n  port: 70000\n", ":2:9: kafka.port: a port of 70000 is out of range"),
        ("kafka:\n  port: -3\n", ":2:9: kafka.port: a port of -3 is out of range"),
        ("kafka:\n  port: \"9092\"\n", ":2:9: kafka.port: invalid type: string \"9092\""),
        ("kafka:\n  port: 1\n  instance_increment: 0\n", ":3:23: kafka.instance_increment: `instance_increment` of 0"),
        ("kafka:\n  port: 1\n  max_instances: 0\n", ":3:18: kafka.max_instances: `max_instances` of 0"),
        (
            "reserved:\n  - ports: \"32767-30000\"\n    reason: k8s\n",
            "range 32767-30000 is written backwards: write 30000-32767",
        ),
    ];
    for (text, needle) in cases {
        check_refuses(text, needle);
    }
}

#[test]
fn missing_files_and_directories_exit_2() {
    berth().args(["check", "--registry", "/nonexistent/ports.yaml"]).assert().code(2).stderr(
        "error: cannot read port registry /nonexistent/ports.yaml: No such file or directory (os error 2); check the path given by --registry or BERTH_REGISTRY\n",
    );
    let directory = tempfile::tempdir().expect("tempdir");
    berth()
        .args(["check", "--registry"])
        .arg(directory.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Is a directory"));
}

#[test]
fn the_registry_is_found_from_the_working_directory_upwards() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("dynamicconfig")).expect("mkdir");
    std::fs::create_dir_all(root.path().join("deep/er")).expect("mkdir");
    std::fs::write(root.path().join("dynamicconfig/port_registry.yaml"), "redis:\n  port: 7000\n").expect("write");
    berth()
        .env_remove("BERTH_REGISTRY")
        .current_dir(root.path().join("deep/er"))
        .args(["port", "redis", "-i", "2"])
        .assert()
        .success()
        .stdout("7200\n");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    berth()
        .env_remove("BERTH_REGISTRY")
        .current_dir(elsewhere.path())
        .args(["port", "redis"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no port registry found"));
}

#[test]
fn port_prints_only_the_number() {
    berth().args(["port", "kafka", "broker_port", "-i", "1"]).assert().success().stdout("9192\n").stderr("");
    berth().args(["port", "redis"]).assert().success().stdout("6379\n");
    berth().args(["port", "kafka", "controller_port", "--instance", "2"]).assert().success().stdout("19293\n");
}

#[test]
fn port_honours_environment_overrides() {
    berth()
        .env("KAFKA_1_BROKER_PORT", "29192")
        .args(["port", "kafka", "broker_port", "-i", "1"])
        .assert()
        .success()
        .stdout("29192\n");
    berth()
        .env("KAFKA_1_BROKER_PORT", "nine")
        .args(["port", "kafka", "broker_port", "-i", "1"])
        .assert()
        .code(2)
        .stderr("error: environment variable KAFKA_1_BROKER_PORT=\"nine\" cannot set the port of kafka[1].broker_port: not a whole number; fix or unset it\n");
}

#[test]
fn lookups_of_unknown_things_exit_2_and_say_what_exists() {
    let cases: [(&[&str], &str); 6] = [
        (&["port", "kafak", "broker_port"], "unknown service `kafak` (did you mean `kafka`?)"),
        (&["port", "kafka", "brokr_port"], "its keys are `broker_port`, `controller_port`"),
        (&["port", "kafka"], "service `kafka` has several ports; name one of `broker_port`, `controller_port`"),
        (
            &["port", "kafka", "broker_port", "-i", "10"],
            "instance 10 of `kafka` is out of range: it allows instances 0 to 9",
        ),
        (&["port", "redis", "--env", "prod"], "unknown environment `prod`; the registry defines `development`"),
        (&["ports", "redis", "--instances", "5-2"], "instances 5-2 are written backwards: write 2-5"),
    ];
    for (args, needle) in cases {
        berth().args(args).assert().code(2).stderr(predicate::str::contains(needle));
    }
}

#[test]
fn the_verbose_flag_shows_allocation_logs_and_json_logs_parse() {
    berth().args(["-v", "port", "kafka", "broker_port", "-i", "1"]).assert().success().stdout("9192\n").stderr(
        predicate::str::contains(
            "port_manager_port_allocated service=kafka instance=1 type=broker_port port=9192 base=9092 increment=100",
        ),
    );
    let output =
        berth().args(["-v", "--log-format", "json", "port", "kafka", "broker_port", "-i", "1"]).assert().success();
    let line = String::from_utf8(output.get_output().stderr.clone()).expect("utf-8");
    let event: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON event");
    assert_eq!(event["fields"]["message"], "port_manager_port_allocated");
    assert_eq!(event["fields"]["port"], 9192);
    assert_eq!(event["fields"]["type"], "broker_port");
}

#[test]
fn ports_exports_every_format() {
    berth()
        .args(["ports", "kafka", "-i", "1", "--format", "env"])
        .assert()
        .success()
        .stdout("KAFKA_1_BROKER_PORT=9192\nKAFKA_1_CONTROLLER_PORT=19193\n");
    berth()
        .args(["ports", "redis", "--instances", "0-1", "--format", "shell"])
        .assert()
        .success()
        .stdout(predicate::str::contains("export REDIS_PORT=6379\nexport REDIS_1_PORT=6479\n"));
    let output = berth().args(["ports", "--format", "json"]).assert().success();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.get_output().stdout).expect("json");
    assert_eq!(rows.len(), 154, "every slot of the shipped registry");
    berth()
        .args(["ports", "--format", "markdown", "-i", "0"])
        .assert()
        .success()
        .stdout(predicate::str::contains("| argocd | 0 | `server_port` | 8090 | `ARGOCD_SERVER_PORT` |"));
    berth()
        .args(["ports", "--format", "compose", "--instances", "0-4"])
        .assert()
        .success()
        .stdout(predicate::str::contains("# traefik instance 2 (development)\nTRAEFIK_2_WEB_PORT=280\n"))
        .stdout(predicate::str::contains("TRAEFIK_3_").not());
}

#[test]
fn ports_refuses_instances_a_named_service_lacks() {
    berth()
        .args(["ports", "traefik", "-i", "3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("instance 3 of `traefik` is out of range"));
}

#[test]
fn ports_writes_files_atomically() {
    let directory = tempfile::tempdir().expect("tempdir");
    let target = directory.path().join(".env");
    std::fs::write(&target, "OLD=1\n").expect("old file");
    berth().args(["ports", "redis", "-i", "0", "--format", "env", "-o"]).arg(&target).assert().success().stdout("");
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "REDIS_PORT=6379\n");
    let leftovers = std::fs::read_dir(directory.path()).expect("list").count();
    assert_eq!(leftovers, 1, "no temporary files left behind");
    berth()
        .args(["ports", "--format", "env", "-o", "/nonexistent/dir/.env"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot create a temporary file in /nonexistent/dir"));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("berth"))
        .env("BERTH_REGISTRY", shipped_registry())
        .args(["ports", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut child = child;
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.stderr, b"");
}

#[test]
fn commands_that_need_a_valid_registry_refuse_a_colliding_one() {
    let file = registry_file("a:\n  port: 5000\nb:\n  port: 5000\n");
    berth().args(["port", "a", "--registry"]).arg(file.path()).assert().code(2).stderr(predicate::str::contains(
        "has 10 error(s), the first: a[0].port = 5000 collides with b[0].port = 5000; run `berth check",
    ));
}

#[test]
fn who_names_the_process_holding_a_port() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let me = std::process::id();
    let output = berth().args(["who", &port.to_string(), "--format", "json"]).assert().success();
    let answers: serde_json::Value = serde_json::from_slice(&output.get_output().stdout).expect("json");
    assert_eq!(answers[0]["port"], port);
    let holder = &answers[0]["holders"][0];
    assert_eq!(holder["protocol"], "tcp");
    assert_eq!(holder["address"], format!("127.0.0.1:{port}"));
    assert_eq!(holder["owner"]["pid"], me);
    berth()
        .args(["who", &port.to_string()])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("{port}  tcp 127.0.0.1:{port} pid {me} (")));
    drop(listener);
}

#[test]
fn who_rejects_ports_that_cannot_exist() {
    berth().args(["who", "0"]).assert().code(2);
    berth().args(["who", "70000"]).assert().code(2);
    berth().args(["who", "http"]).assert().code(2);
}

#[test]
fn scan_flags_a_registry_slot_that_something_holds() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let file = registry_file(&format!("probe:\n  port: {port}\n  max_instances: 1\n"));
    berth()
        .args(["scan", "--registry"])
        .arg(file.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "probe[0].port  {port}  tcp 127.0.0.1:{port} pid {}",
            std::process::id()
        )))
        .stdout(predicate::str::contains("1 slots scanned, 1 taken"));
    drop(listener);
    berth()
        .args(["scan", "--registry"])
        .arg(file.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("1 slots scanned, 0 taken"));
}

/// What bash offers after `words` when <TAB> is pressed at the last one, through the script
/// `berth completions bash` prints, with `berth` on PATH and the shipped registry in use.
fn bash_offers(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let bin = std::path::PathBuf::from(assert_cmd::cargo::cargo_bin!("berth"));
    let path = format!("{}:{}", bin.parent().expect("bin dir").display(), std::env::var("PATH").unwrap_or_default());
    let current = words.last().expect("a word");
    let program = format!(
        "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_TYPE=9; _clap_complete_berth berth {current} {}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.join(" "),
        words.len() - 1,
        words[words.len() - 2],
    );
    let output = std::process::Command::new("bash")
        .args(["-c", &program])
        .env("PATH", path)
        .env("BERTH_REGISTRY", shipped_registry())
        .env("BERTH_STATE_DIR", no_ledger())
        .output()
        .expect("bash");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut offers: Vec<String> =
        String::from_utf8_lossy(&output.stdout).lines().filter(|line| !line.is_empty()).map(str::to_string).collect();
    offers.sort();
    offers
}

#[test]
fn bash_completes_commands_options_and_the_registrys_services_and_stacks() {
    let script = tempfile::NamedTempFile::new().expect("temp file");
    let printed = berth().args(["completions", "bash"]).assert().success();
    std::fs::write(script.path(), &printed.get_output().stdout).expect("write script");
    assert_eq!(bash_offers(script.path(), &["berth", "up", "ka"]), ["kafka"]);
    assert_eq!(bash_offers(script.path(), &["berth", "down", "mo"]), ["mongo", "mongodb", "mongoexpress"]);
    assert_eq!(bash_offers(script.path(), &["berth", "up", "obs"]), ["observability"]);
    assert_eq!(bash_offers(script.path(), &["berth", "lea"]), ["leases"]);
    assert_eq!(bash_offers(script.path(), &["berth", "up", "--pu"]), ["--pull"]);
    assert!(bash_offers(script.path(), &["berth", "up", "kafka:"]).is_empty(), "no guesses at instances");
    berth().args(["completions", "tcsh"]).assert().code(2);
    // A FIFO named as the registry is not read: <TAB> must not hang.
    let directory = tempfile::tempdir().expect("tempdir");
    let fifo = directory.path().join("registry.yaml");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let output = std::process::Command::new("timeout")
        .args(["20"])
        .arg(assert_cmd::cargo::cargo_bin!("berth"))
        .args(["--", "berth", "--registry"])
        .arg(&fifo)
        .args(["up", "ka"])
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "4")
        .env("_CLAP_COMPLETE_COMP_TYPE", "9")
        .env("_CLAP_COMPLETE_SPACE", "true")
        .output()
        .expect("completion request");
    assert_eq!(output.status.code(), Some(0), "answered, not hung: {output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).trim().is_empty());
}

#[test]
fn the_manual_page_is_generated_from_the_command_line() {
    let page = berth().arg("man").assert().success();
    let page = String::from_utf8_lossy(&page.get_output().stdout).into_owned();
    assert!(page.starts_with(".ie"), "roff: {}", &page[..40]);
    assert!(page.contains(".TH berth 1"), "{page}");
    for command in ["check", "alloc", "up", "worker"] {
        assert!(page.contains(&format!("berth\\-{command}(1)")), "lists {command}: {page}");
    }
    let directory = tempfile::tempdir().expect("tempdir");
    berth().args(["man", "--dir"]).arg(directory.path().join("man1")).assert().success();
    let up = std::fs::read_to_string(directory.path().join("man1/berth-up.1")).expect("berth-up.1");
    assert!(up.contains(".TH berth-up 1") && up.contains("\\-\\-pull"), "{up}");
    let k8s = std::fs::read_to_string(directory.path().join("man1/berth-export-k8s.1")).expect("berth-export-k8s.1");
    assert!(k8s.contains("\\-\\-node\\-port\\-range"), "{k8s}");
}

#[test]
fn the_install_step_puts_manual_pages_and_bash_completions_where_they_are_found() {
    let home = tempfile::tempdir().expect("home");
    let output = std::process::Command::new("bash")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-docs.sh"))
        .arg(assert_cmd::cargo::cargo_bin!("berth"))
        .env("HOME", home.path())
        .env("SHELL", "/bin/bash")
        .env_remove("XDG_DATA_HOME")
        .output()
        .expect("install-docs.sh");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let data = home.path().join(".local/share");
    assert!(data.join("man/man1/berth.1").is_file());
    assert!(data.join("man/man1/berth-alloc.1").is_file());
    let completions = data.join("bash-completion/completions/berth");
    assert_eq!(bash_offers(&completions, &["berth", "up", "redi"]), ["redis"]);
}

#[test]
fn output_files_get_the_mode_the_umask_gives() {
    use std::os::unix::fs::PermissionsExt;
    let directory = tempfile::tempdir().expect("tempdir");
    let target = directory.path().join("ports.env");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 027 && exec \"$0\" ports redis -i 0 --format env -o \"$1\"")
        .arg(assert_cmd::cargo::cargo_bin!("berth"))
        .arg(&target)
        .env("BERTH_REGISTRY", shipped_registry())
        .status()
        .expect("runs");
    assert!(status.success());
    let mode = std::fs::metadata(&target).expect("written").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "0666 less umask 027, as `>` would give");
}

#[test]
fn status_with_an_unreachable_engine_shows_the_ledger_and_fails() {
    let state = tempfile::tempdir().expect("tempdir");
    berth()
        .args(["status"])
        .env("BERTH_STATE_DIR", state.path())
        .env("DOCKER_HOST", format!("unix://{}/no-engine.sock", state.path().display()))
        .assert()
        .code(2)
        .stdout(predicate::str::contains("containers: unknown (cannot reach the Docker engine at unix://"));
}

#[test]
fn a_kubernetes_service_link_is_not_an_override() {
    for command in [&["port", "redis"][..], &["ports", "--format", "env"], &["scan"], &["check"]] {
        let output = berth().env("REDIS_PORT", "tcp://10.0.0.5:6379").args(command).output().expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.is_empty(), "{command:?}: {stderr}");
        assert!(matches!(output.status.code(), Some(0 | 1)), "{command:?} exits {:?}", output.status.code());
    }
    berth().env("REDIS_PORT", "tcp://10.0.0.5:6379").args(["port", "redis"]).assert().success().stdout("6379\n");
}

#[test]
fn a_malformed_override_spoils_only_its_own_slot() {
    let output = berth().env("REDIS_PORT", "abc").args(["ports", "--format", "env"]).output().expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout.contains("REDIS_1_PORT=6479\n") && stdout.contains("KAFKA_BROKER_PORT=9092\n"), "{stdout}");
    assert!(!stdout.contains("REDIS_PORT="), "{stdout}");
    assert_eq!(
        stderr,
        "error: environment variable REDIS_PORT=\"abc\" cannot set the port of redis[0].port: not a whole number; fix or unset it\n"
    );
    berth().env("REDIS_PORT", "22").args(["check"]).assert().code(1).stdout(predicate::str::contains(
        "error[bad-override]: REDIS_PORT=22 sets redis[0].port: 22 sits on reserved 22 (ssh)",
    ));
}

#[test]
fn check_prints_the_kernel_setting_that_reserves_every_slot() {
    let file = registry_file(
        "a:\n  port: 40000\n  instance_increment: 1\n  max_instances: 3\nb:\n  port: 40010\n  max_instances: 2\n",
    );
    berth()
        .args(["check", "--kernel-reserved-ports", "--registry"])
        .arg(file.path())
        .assert()
        .success()
        .stdout("net.ipv4.ip_local_reserved_ports = 40000-40002,40010,40110\n");
}

#[test]
fn a_variable_that_is_not_text_is_skipped_not_a_crash() {
    use std::os::unix::ffi::OsStrExt;
    let junk = std::ffi::OsStr::from_bytes(b"\xff\xfe");
    for command in [&["check"][..], &["port", "redis"], &["ports", "--format", "env"]] {
        let output = berth().env("JUNK", junk).env("REDIS_1_PORT", junk).args(command).output().expect("runs");
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{command:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    }
}

#[test]
fn colour_reaches_only_terminals_and_never_with_no_color() {
    let upstream = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/upstream-defaults.yaml");
    let check = |variables: &[(&str, &str)]| {
        let mut command = berth();
        command.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE").env_remove("CLICOLOR");
        for (name, value) in variables {
            command.env(name, value);
        }
        let output = command.args(["check", "--registry"]).arg(&upstream).assert().code(1);
        String::from_utf8_lossy(&output.get_output().stdout).into_owned()
    };
    let forced = check(&[("CLICOLOR_FORCE", "1")]);
    assert!(forced.contains("\u{1b}[1m\u{1b}[31merror[port-collision]\u{1b}[0m: grafana[1].port"), "{forced}");
    let piped = check(&[]);
    assert!(!piped.contains('\u{1b}') && piped.contains("error[port-collision]: grafana[1].port"), "{piped}");
    let refused = check(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert_eq!(refused, piped, "NO_COLOR wins");
    let error = berth().env("CLICOLOR_FORCE", "1").args(["port", "nosuchservice"]).assert().code(2);
    assert!(String::from_utf8_lossy(&error.get_output().stderr).starts_with("\u{1b}[1m\u{1b}[31merror\u{1b}[0m: "));
}

#[test]
fn a_reader_that_stops_early_does_not_change_the_exit_code() {
    let upstream = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/upstream-defaults.yaml");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    // `berth check | head -1` with pipefail: the collisions must still fail the pipeline.
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin!("berth"))
        .env("BERTH_STATE_DIR", no_ledger())
        .args(["check", "--registry"])
        .arg(&upstream)
        .stdout(writer)
        .status()
        .expect("berth check");
    assert_eq!(status.code(), Some(1));
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin!("berth"))
        .env("BERTH_REGISTRY", shipped_registry())
        .env("BERTH_STATE_DIR", no_ledger())
        .arg("ports")
        .stdout(writer)
        .status()
        .expect("berth ports");
    assert_eq!(status.code(), Some(0), "`berth ports | head` ends quietly");
}

#[test]
fn a_negative_number_is_called_a_bad_value_not_a_stray_argument() {
    let refused = berth().args(["port", "kafka", "broker_port", "-i", "-1"]).assert().code(2);
    let said = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
    assert!(said.starts_with("error: invalid value '-1' for '--instance <INSTANCE>'"), "{said}");
    assert!(!said.contains("-- -1"), "no advice that would make it a positional argument: {said}");
}

/// The YAML documents of a multi-document file.
fn documents(text: &str) -> Vec<serde_yaml::Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .map(|document| serde_yaml::Value::deserialize(document).expect("yaml"))
        .collect()
}

#[test]
fn kubernetes_export_passes_the_cluster_schemas_and_keeps_the_registrys_ports() {
    let exported = berth().args(["export", "k8s", "kafka:1", "traefik"]).assert().success();
    let text = String::from_utf8_lossy(&exported.get_output().stdout).into_owned();
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().expect("temp file");
    std::fs::write(file.path(), &text).expect("write");
    let validator = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/kubernetes-validate");
    let validated =
        std::process::Command::new(&validator).arg("--strict").arg(file.path()).output().unwrap_or_else(|error| {
            panic!("{}: {error} (scripts/ensure-test-tools.sh installs it)", validator.display())
        });
    let said = String::from_utf8_lossy(&validated.stdout);
    assert!(validated.status.success(), "{said}{}", String::from_utf8_lossy(&validated.stderr));
    assert_eq!(said.matches(" passed for resource ").count(), 4, "three Services and the ConfigMap: {said}");

    let objects = documents(&text);
    let named = |name: &str| {
        objects.iter().find(|object| object["metadata"]["name"] == name).unwrap_or_else(|| panic!("{name} in {text}"))
    };
    let kafka = named("kafka-development-1");
    assert_eq!(kafka["spec"]["type"], "ClusterIP");
    assert_eq!(kafka["spec"]["selector"]["io.berth.instance"], "1");
    assert_eq!(kafka["spec"]["ports"][0]["name"], "broker");
    assert_eq!(kafka["spec"]["ports"][0]["port"], 9192);
    // Traefik's node ports lie in the node-port range, its web port does not.
    let traefik = named("traefik-development");
    assert_eq!((&traefik["spec"]["type"], &traefik["spec"]["ports"][0]["port"]), (&"ClusterIP".into(), &80.into()));
    let node_ports = named("traefik-development-nodeport");
    assert_eq!(node_ports["spec"]["type"], "NodePort");
    let published: Vec<u64> = node_ports["spec"]["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .filter_map(|port| port["nodePort"].as_u64())
        .collect();
    assert_eq!(published, [31001, 31002, 31003]);
    let endpoints = named("berth-endpoints-development");
    assert_eq!(endpoints["data"]["KAFKA_1_BROKER_PORT"], "9192");
    assert_eq!(endpoints["data"]["KAFKA_1_BROKER_ADDRESS"], "kafka-development-1:9192");
    assert_eq!(endpoints["data"]["TRAEFIK_NODE_A_ADDRESS"], "traefik-development-nodeport:31001");
    assert_eq!(endpoints["data"]["TRAEFIK_WEB_ADDRESS"], "traefik-development:80");

    // Names a YAML 1.1 reader takes for booleans stay strings.
    let tricky =
        registry_file("environments:\n  on: 0\nno:\n  port: 20080\n  container:\n    image: berth-test-busybox\n");
    let exported = berth().args(["export", "k8s", "no", "--registry"]).arg(tricky.path()).assert().success();
    std::fs::write(file.path(), &exported.get_output().stdout).expect("write");
    let validated =
        std::process::Command::new(&validator).arg("--strict").arg(file.path()).output().expect("validator");
    assert!(validated.status.success(), "{}", String::from_utf8_lossy(&validated.stdout));

    berth().args(["export", "k8s", "kafka", "--node-port-range", "9000-8000"]).assert().code(2);
    berth().args(["export", "k8s", "argocd"]).assert().code(2);
}

#[test]
fn output_files_follow_links_and_never_replace_a_device() {
    use std::os::unix::fs::FileTypeExt;
    let directory = tempfile::tempdir().expect("tempdir");
    let real = directory.path().join("real.env");
    let link = directory.path().join("link.env");
    std::fs::write(&real, "old\n").expect("write");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    berth().args(["ports", "redis", "-i", "1", "--format", "env", "-o"]).arg(&link).assert().success();
    assert!(std::fs::symlink_metadata(&link).expect("link").file_type().is_symlink(), "the link stays a link");
    assert_eq!(std::fs::read_to_string(&real).expect("real"), "REDIS_1_PORT=6479\n");
    berth().args(["ports", "redis", "--format", "env", "-o", "/dev/null"]).assert().success();
    assert!(std::fs::metadata("/dev/null").expect("/dev/null").file_type().is_char_device(), "still a device");
}

#[test]
fn a_closed_stderr_does_not_crash_a_command_that_logs() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin!("berth"))
        .env("BERTH_REGISTRY", shipped_registry())
        .env("BERTH_STATE_DIR", no_ledger())
        .args(["-v", "ports", "kafka"])
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .status()
        .expect("berth -v ports");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn an_empty_temporal_address_is_refused_not_taken_from_the_environment() {
    // The environment names a cluster; an empty --temporal must not quietly reach it.
    for arguments in [
        &["up", "redis", "--temporal", ""][..],
        &["down", "redis", "--temporal", " "],
        &["fleet", "--temporal", ""],
        &["worker", "--address", ""],
    ] {
        let output =
            berth().args(arguments).env("TEMPORAL_ADDRESS", "127.0.0.1:1").assert().code(2).get_output().clone();
        let stderr = String::from_utf8(output.stderr).expect("utf-8");
        assert!(stderr.contains("an empty Temporal address"), "{arguments:?}: {stderr}");
    }
}
