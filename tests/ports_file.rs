//! A team's flat `ports:` file read as written, and fallback ports taken on a real host:
//! each scenario runs in its own network namespace, so the ports it holds (3210, as the
//! file says) never meet another test's.

mod common;

use std::path::Path;
use std::process::Command;

/// Runs `script` with `sh` in a new network namespace, in a scratch directory holding
/// `ports.yaml` (`registry`) and a ledger of its own; `hold PORT` listens on PORT in the
/// background and returns once it listens. Returns stdout's lines and the exit status.
fn in_namespace(registry: &str, script: &str) -> Vec<String> {
    let scratch = tempfile::tempdir().expect("scratch dir");
    std::fs::write(scratch.path().join("ports.yaml"), registry).expect("write registry");
    let berth = Path::new(assert_cmd::cargo::cargo_bin!("berth"));
    let path = format!("{}:{}", berth.parent().expect("bin dir").display(), std::env::var("PATH").unwrap_or_default());
    let prelude = r#"
set -u
ip link set lo up
holders=""
trap 'kill $holders 2>/dev/null' EXIT
hold() {
    rm -f held; mkfifo held
    python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen()
print("held", flush=True); time.sleep(600)' "$1" > held 2>/dev/null &
    holders="$holders $!"
    read -r _ < held
}
"#;
    let output = Command::new("unshare")
        .args(["--net", "--", "sh", "-c", &format!("{prelude}\n{script}")])
        .current_dir(scratch.path())
        .env_clear()
        .env("PATH", &path)
        .env("HOME", scratch.path())
        .env("BERTH_REGISTRY", scratch.path().join("ports.yaml"))
        .env("BERTH_STATE_DIR", scratch.path().join("state"))
        .output()
        .expect("run unshare");
    assert!(output.status.success(), "script failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect()
}

const PORTS_FILE: &str = include_str!("../examples/config/ports.yaml");

#[test]
fn the_teams_file_works_as_written_and_falls_back_where_its_plan_says() {
    let lines = in_namespace(
        PORTS_FILE,
        r#"
berth check >/dev/null 2>&1; echo "check exit $?"
echo "api $(berth port api)"
echo "dashboard free $(berth port dashboard)"
hold 3210
echo "dashboard held $(berth port dashboard 2>notes)"
grep -c 'dashboard\[0\].port uses 3211 instead of 3210: 3210 is held by tcp 0.0.0.0:3210 pid [0-9]* (python3)' notes
echo "dashboard again $(berth port dashboard 2>/dev/null)"
berth ports dashboard --format env 2>/dev/null
berth leases --format json | python3 -c 'import json, sys
for lease in json.load(sys.stdin): print("lease", lease["port"], lease["project"], lease["slot"]["service"], lease["slot"]["key"])'
hold 3000
berth port dashboard_docker 2>refused; echo "refused exit $?"
grep -c 'dashboard_docker\[0\].port = 3000 is held by tcp 0.0.0.0:3000 pid [0-9]* (python3)' refused
hold 6379
berth scan >/dev/null 2>&1; echo "scan exit $?"
berth release --project fallback:dashboard-development >/dev/null
set -- $holders
kill "$1"
wait "$1" 2>/dev/null
echo "dashboard released $(berth port dashboard)"
"#,
    );
    assert_eq!(
        lines,
        [
            "check exit 0",
            "api 8000",
            "dashboard free 3210",
            "dashboard held 3211",
            "1",
            "dashboard again 3211",
            "CONTIMG_DASHBOARD_PORT=3211",
            "lease 3211 fallback:dashboard-development dashboard port",
            "refused exit 1",
            "1",
            "scan exit 1",
            "dashboard released 3210",
        ]
    );
}

#[test]
fn concurrent_lookups_never_share_a_fallback_and_keep_it() {
    let registry = "web:\n  port: {port: 4100, fallback: 4150-4159}\n  instance_increment: 10\n  max_instances: 3\n";
    let lines = in_namespace(
        registry,
        r#"
hold 4100; hold 4110; hold 4120; hold 4150
for run in first second; do
    lookups=""
    for instance in 0 1 2; do
        berth port web -i "$instance" > "$run-$instance" 2>/dev/null &
        lookups="$lookups $!"
    done
    wait $lookups
    echo "$run $(cat "$run-0") $(cat "$run-1") $(cat "$run-2")"
done
"#,
    );
    let ports = |line: &str| -> Vec<u16> {
        line.split_whitespace().skip(1).map(|port| port.parse().expect("a port")).collect()
    };
    assert_eq!(lines.len(), 2, "{lines:?}");
    let first = ports(&lines[0]);
    let mut sorted = first.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [4151, 4152, 4153], "three distinct fallbacks, 4150 being held: {lines:?}");
    assert_eq!(ports(&lines[1]), first, "each instance keeps its fallback");
}

#[test]
fn a_set_variable_beats_a_fallback_a_fallback_in_use_is_kept_and_a_full_range_is_a_finding() {
    let lines = in_namespace(
        PORTS_FILE,
        r#"
hold 3210
echo "fallback $(berth port dashboard 2>/dev/null)"
echo "set $(CONTIMG_DASHBOARD_PORT=3215 berth port dashboard 2>set-notes)"
grep -c 'uses' set-notes
CONTIMG_DASHBOARD_PORT=3215 berth ports dashboard --format env 2>/dev/null
hold 3211
berth release --project fallback:dashboard-development 2>in-use; echo "release exit $?"
grep -c 'port 3211 of project `fallback:dashboard-development` is in use now by tcp 0.0.0.0:3211 pid [0-9]* (python3)' in-use
berth release --project fallback:dashboard-development --force; echo "forced exit $?"
for port in 3212 3213 3214 3215 3216 3217 3218 3219 3220; do hold $port; done
berth port dashboard 2>full; echo "full exit $?"
grep -c 'dashboard\[0\].port = 3210 is held by tcp 0.0.0.0:3210 pid [0-9]* (python3), and every port of its fallback range 3210-3220 is taken or leased' full
echo end
"#,
    );
    assert_eq!(
        lines,
        [
            "fallback 3211",
            "set 3215",
            "0",
            "CONTIMG_DASHBOARD_PORT=3215",
            "release exit 1",
            "1",
            "released 1 lease(s) of fallback:dashboard-development: 3211",
            "forced exit 0",
            "full exit 1",
            "1",
            "end",
        ]
    );
}
