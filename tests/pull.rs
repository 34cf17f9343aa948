//! `berth up --pull missing|always|never` and `--image-mirror` against a real registry
//! (Debian's `docker-registry` on a loopback port) holding a locally built test image.

mod common;

use common::{DockerScene, LoopbackRegistry, containers_of, image_exists};
use predicates::prelude::*;

/// A service whose image is `image`, serving HTTP on its port.
fn web(image: &str) -> String {
    format!(
        "\
web:
  port: {{base}}
  instance_increment: 1
  max_instances: 5
  container:
    image: {image}
    command: [sh, -c, 'mkdir -p /www; echo hello > /www/index.html; exec httpd -f -p {{port}} -h /www']
    ready:
      http: {{port: port, path: /index.html}}
    timeout: 20s
"
    )
}

/// `berth up … --format json` in `scene` with `arguments`; the output and the JSON report.
fn up(scene: &DockerScene, arguments: &[&str]) -> (std::process::Output, serde_json::Value) {
    let output = scene.berth().arg("up").args(arguments).args(["--format", "json"]).output().expect("run berth up");
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output, report)
}

#[test]
fn missing_pulls_once_for_three_instances_and_never_refuses_to_pull() {
    let mut registry = LoopbackRegistry::start();
    let image = registry.push("berth-test-busybox", "berth/pulled-missing:1");
    let mut scene = DockerScene::new("pullmissing", 3, &web(&image));
    scene.remove_on_drop("web:0-2");

    let (never, report) = up(&scene, &["web:0", "--pull", "never"]);
    assert_eq!(never.status.code(), Some(1), "{}", String::from_utf8_lossy(&never.stderr));
    assert_eq!(report["failed"][0]["kind"], "ImageMissing");
    let message = report["failed"][0]["error"].as_str().expect("error");
    assert!(message.contains(&image) && message.contains("pull policy is `never`"), "{message}");
    assert!(containers_of(&scene.environment).is_empty(), "nothing may be created when the image is missing");

    let (missing, report) = up(&scene, &["web:0-2"]);
    assert!(missing.status.success(), "{}", String::from_utf8_lossy(&missing.stderr));
    assert_eq!(report["started"].as_array().map(Vec::len), Some(3));
    assert!(image_exists(&image));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.matches(&format!("pulled {image}")).count(), 1, "{stderr}");
    assert_eq!(registry.manifest_requests("berth/pulled-missing"), 1, "three instances, one pull");

    // Present now: `missing` asks the registry nothing more.
    let (again, _) = up(&scene, &["web:0-2"]);
    assert!(again.status.success());
    assert_eq!(registry.manifest_requests("berth/pulled-missing"), 1);
}

#[test]
fn always_pulls_a_present_image_once_per_run() {
    let mut registry = LoopbackRegistry::start();
    let image = registry.push("berth-test-busybox", "berth/pulled-always:1");
    let mut scene = DockerScene::new("pullalways", 3, &web(&image));
    scene.remove_on_drop("web:0-2");
    let (first, _) = up(&scene, &["web:0-2", "--pull", "always"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let (second, report) = up(&scene, &["web:0-2", "--pull", "always"]);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(report["started"].as_array().expect("started").iter().all(|instance| instance["outcome"] == "adopted"));
    assert_eq!(String::from_utf8_lossy(&second.stderr).matches(&format!("pulled {image}")).count(), 1);
    // Each pull asks the registry for the manifest once or twice (the engine may check a
    // present image's digest first); a pull per instance would take at least six.
    let asked = registry.manifest_requests("berth/pulled-always");
    assert!((2..6).contains(&asked), "one pull per run, not per instance: {asked} manifest requests");
}

#[test]
fn an_image_that_exists_nowhere_is_image_missing_and_starts_nothing() {
    let mut registry = LoopbackRegistry::start();
    registry.push("berth-test-busybox", "berth/real:1");
    let image = format!("{}/berth/real:no-such-tag", registry.address);
    let scene = DockerScene::new("pullnowhere", 2, &web(&image));
    let (output, report) = up(&scene, &["web:0-1"]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let failed = report["failed"].as_array().expect("failed");
    assert_eq!(failed.len(), 2, "both instances named: {report}");
    assert!(failed.iter().all(|failure| failure["kind"] == "ImageMissing"));
    let message = failed[0]["error"].as_str().expect("error");
    assert!(message.contains(&image) && message.contains("manifest unknown"), "{message}");
    assert!(containers_of(&scene.environment).is_empty());
}

#[test]
fn a_registry_that_is_down_is_retryable_and_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let image = format!("127.0.0.1:{port}/berth/down:1");
    let scene = DockerScene::new("pulldown", 1, &web(&image));
    let (output, report) = up(&scene, &["web"]);
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(report["failed"][0]["kind"], "RegistryUnreachable");
    let message = report["failed"][0]["error"].as_str().expect("error");
    assert!(message.contains(&image) && message.contains("connection refused"), "{message}");
    assert!(containers_of(&scene.environment).is_empty());
}

#[test]
fn docker_hub_names_are_pulled_through_the_mirror() {
    let mut registry = LoopbackRegistry::start();
    let unique = format!("berth-mirrored-{}", std::process::id());
    let mirrored = registry.push("berth-test-busybox", &format!("library/{unique}:1"));
    let mut scene = DockerScene::new("pullmirror", 1, &web(&format!("{unique}:1")));
    scene.remove_on_drop("web");
    let output = scene
        .berth()
        .args(["up", "web", "--format", "json"])
        .env("BERTH_IMAGE_MIRROR", &registry.address)
        .output()
        .expect("run berth up");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(image_exists(&mirrored));
    assert!(!image_exists(&format!("{unique}:1")), "the catalog's name is not pulled from Docker Hub");

    scene
        .berth()
        .args(["up", "web", "--image-mirror", "https://registry.internal"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("image mirror `https://registry.internal` is not a registry address"));
}

#[test]
fn an_empty_mirror_setting_means_no_mirror() {
    let mut scene = DockerScene::new("pullnomirror", 1, &web("berth-test-busybox"));
    scene.remove_on_drop("web");
    let output = scene
        .berth()
        .args(["up", "web", "--pull", "never", "--format", "json"])
        .env("BERTH_IMAGE_MIRROR", "")
        .output()
        .expect("run berth up");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_credential_helper_that_hangs_is_bounded_and_named() {
    let mut registry = LoopbackRegistry::start();
    let image = registry.push("berth-test-busybox", "berth/helped:1");
    let scene = DockerScene::new("pullhelper", 1, &web(&image));
    let config = tempfile::tempdir().expect("docker config");
    std::fs::write(config.path().join("config.json"), r#"{"credsStore": "berthhangs"}"#).expect("config");
    let helper = config.path().join("docker-credential-berthhangs");
    std::fs::write(&helper, "#!/bin/sh\nexec sleep 600\n").expect("helper");
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let path = format!("{}:{}", config.path().display(), std::env::var("PATH").unwrap_or_default());
    let (output, report) = {
        let output = scene
            .berth()
            .args(["up", "web", "--format", "json"])
            .env("DOCKER_CONFIG", config.path())
            .env("PATH", path)
            .output()
            .expect("run berth up");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        (output, report)
    };
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(report["failed"][0]["kind"], "RegistryUnreachable");
    let message = report["failed"][0]["error"].as_str().expect("error");
    assert!(message.contains("credential helper") && message.contains("did not answer within 30s"), "{message}");
    assert!(containers_of(&scene.environment).is_empty());
    let _ = std::process::Command::new("pkill").args(["-f", "docker-credential-berthhangs"]).output();
}
