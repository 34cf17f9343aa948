//! The deployable worker: the image docker/worker/build.sh makes FROM scratch runs berth
//! against the host's engine through the mounted socket, and the systemd unit is one
//! systemd accepts.

mod common;

use std::path::Path;
use std::process::Command;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_worker_image_runs_berth_against_the_mounted_engine() {
    let _engine = common::DockerScene::new("workerimage", 1, "web:\n  port: {base}\n");
    let tag = format!("berth-worker-test-{}", std::process::id());
    let built = Command::new("bash")
        .arg(repository().join("docker/worker/build.sh"))
        .arg(assert_cmd::cargo::cargo_bin!("berth"))
        .arg(repository().join("dynamicconfig/port_registry.yaml"))
        .arg(&tag)
        .output()
        .expect("run build.sh");
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    assert!(String::from_utf8_lossy(&built.stdout).starts_with(&format!("built {tag} (")));
    let run = |arguments: &[&str]| {
        Command::new("docker")
            .args(["run", "--rm", "--network", "host", "-v", "/var/run/docker.sock:/var/run/docker.sock"])
            .args(["--entrypoint", "/usr/bin/berth", &tag])
            .args(arguments)
            .output()
            .expect("docker run")
    };
    let version = run(&["--version"]);
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("berth {}", env!("CARGO_PKG_VERSION")));
    let doctor = run(&["doctor", "--format", "json"]);
    let _ = Command::new("docker").args(["image", "rm", "-f", &tag]).output();
    let checks: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap_or_else(|error| {
        panic!("{error}: {}{}", String::from_utf8_lossy(&doctor.stdout), String::from_utf8_lossy(&doctor.stderr))
    });
    let status = |name: &str| {
        checks
            .as_array()
            .expect("checks")
            .iter()
            .find(|check| check["check"] == name)
            .map(|check| check["status"].clone())
    };
    assert_eq!(status("engine"), Some("ok".into()), "{checks}");
    assert_eq!(status("registry"), Some("warn".into()), "the shipped registry, with its one warning: {checks}");
    assert_eq!(status("state"), Some("ok".into()), "{checks}");
}

#[test]
fn systemd_accepts_the_worker_unit() {
    let unit = std::fs::read_to_string(repository().join("docker/worker/berth-worker.service")).expect("the unit");
    let directory = tempfile::tempdir().expect("scratch");
    let berth = assert_cmd::cargo::cargo_bin!("berth");
    let installed = unit.replace("/usr/local/bin/berth", &berth.display().to_string());
    assert_ne!(installed, unit, "the unit runs /usr/local/bin/berth");
    let path = directory.path().join("berth-worker.service");
    std::fs::write(&path, installed).expect("write the unit");
    let verified = Command::new("systemd-analyze").arg("verify").arg(&path).output().expect("systemd-analyze");
    let said = format!("{}{}", String::from_utf8_lossy(&verified.stdout), String::from_utf8_lossy(&verified.stderr));
    assert!(verified.status.success() && !said.contains("berth-worker.service"), "{said}");
}
