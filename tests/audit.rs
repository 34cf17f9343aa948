//! `berth audit` on a fixture tree with known collisions: compose files with `${VAR:-default}`
//! and a `.env` beside them, a systemd `.env` file, Kubernetes manifests, and a team's flat
//! ports file as the registry.

mod common;

use std::path::{Path, PathBuf};

use common::{berth, no_ledger};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/audit")
}

fn audit(arguments: &[&str]) -> (Option<i32>, String, String) {
    let output = berth()
        .current_dir(fixture())
        .env("BERTH_STATE_DIR", no_ledger())
        .arg("audit")
        .args(arguments)
        .output()
        .expect("run berth audit");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

/// Each collision as `port: claimant @ location; …`.
fn collisions(json: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(json).expect("JSON");
    value["collisions"]
        .as_array()
        .expect("collisions")
        .iter()
        .map(|collision| {
            let claims: Vec<String> = collision["claims"]
                .as_array()
                .expect("claims")
                .iter()
                .map(|claim| {
                    format!(
                        "{} @ {}",
                        claim["claimant"].as_str().unwrap_or(""),
                        claim["location"].as_str().unwrap_or("")
                    )
                })
                .collect();
            format!("{} {}: {}", collision["port"], collision["scope"].as_str().unwrap_or(""), claims.join("; "))
        })
        .collect()
}

#[test]
fn the_fixture_trees_known_collisions_are_found_with_file_and_line() {
    let (code, stdout, _) = audit(&["--files-only", "--format", "json"]);
    assert_eq!(code, Some(1), "collisions are findings");
    assert_eq!(
        collisions(&stdout),
        [
            "3000 host: compose service dashboard @ docker-compose.yml:12; compose service grafana @ monitoring/docker-compose.yml:5; variable CONTIMG_DASHBOARD_DOCKER_PORT @ ops/systemd/contimg.env:8",
            "6379 host: variable REDIS_PORT @ ops/systemd/contimg.env:14; Deployment/cache container redis hostPort @ k8s/cache.yaml:17",
            "8001 host: compose service docs-preview @ monitoring/docker-compose.yml:13; variable CONTIMG_DOCS_PORT @ ops/systemd/contimg.env:6",
            "8080 pod k8s/web.yaml#1 Pod/web: Pod/web container app containerPort @ k8s/web.yaml:10; Pod/web container metrics containerPort @ k8s/web.yaml:14",
        ]
    );
    let value: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(value["files"].as_array().map(Vec::len), Some(6));
    assert_eq!(value["problems"].as_array().map(Vec::len), Some(0));
}

#[test]
fn the_registrys_slots_and_reserved_ports_join_the_audit() {
    let registry = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config/ports.yaml");
    let (code, stdout, _) = audit(&["--registry", registry.to_str().expect("utf-8"), "--format", "json"]);
    assert_eq!(code, Some(1));
    let found = collisions(&stdout);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found[0].contains("registry slot dashboard_docker[0].port")
            && found[0].contains("reserved (Grafana (external)")
    );
    assert!(found[1].ends_with(&format!("registry slot redis[0].port @ {}", registry.display())), "{}", found[1]);
    assert!(!stdout.contains("8000 host"), "the .env's CONTIMG_API_PORT and the api slot are one setting");
}

#[test]
fn the_markdown_report_and_the_table_name_every_claim() {
    let (code, markdown, _) = audit(&["--files-only", "--format", "markdown"]);
    assert_eq!(code, Some(1));
    assert!(markdown.starts_with("# Port audit\n\n4 port(s) claimed more than once among 19 claim(s) in 6 file(s).\n"));
    assert!(markdown.contains("| **3000** | tcp | host | compose service dashboard | `docker-compose.yml:12` |\n|  |  |  | compose service grafana | `monitoring/docker-compose.yml:5` |"));
    assert!(markdown.contains("| 30080 | tcp | Service/web nodePort | `k8s/cache.yaml:29` |"));
    let (_, table, _) = audit(&["--files-only"]);
    assert!(table.lines().next().is_some_and(|header| header.starts_with("PORT  PROTOCOL  SCOPE")));
    assert!(table.ends_with("4 port(s) claimed more than once among 19 claim(s) in 6 file(s)\n"));
}

#[test]
fn a_tree_without_collisions_is_clean_and_a_broken_file_is_named() {
    let scratch = tempfile::tempdir().expect("scratch");
    std::fs::write(
        scratch.path().join("compose.yaml"),
        "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n",
    )
    .expect("write");
    let run = |path: &Path| {
        berth().env("BERTH_STATE_DIR", no_ledger()).args(["audit", "--files-only"]).arg(path).output().expect("run")
    };
    let clean = run(scratch.path());
    assert_eq!(clean.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&clean.stdout)
            .ends_with("0 port(s) claimed more than once among 1 claim(s) in 1 file(s)\n")
    );
    std::fs::write(
        scratch.path().join("docker-compose.override.yml"),
        "services:\n  web:\n    ports: [\"70000:80\"]\n",
    )
    .expect("write");
    let broken = run(scratch.path());
    assert_eq!(broken.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("docker-compose.override.yml:3:") && stderr.contains("not a Compose file"), "{stderr}");
    let missing = run(&scratch.path().join("nowhere"));
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn shared_settings_through_merge_keys_aliases_and_one_variable_still_collide_where_docker_would_refuse() {
    let scratch = tempfile::tempdir().expect("scratch");
    std::fs::write(
        scratch.path().join("compose.yaml"),
        "x-web: &web\n  image: nginx\n  ports: [\"21090:80\"]\nservices:\n  a:\n    <<: *web\n  b:\n    <<: *web\n    environment: {B: '1'}\n  c: *web\n  d:\n    image: nginx\n    ports: [\"${WEB_PORT:-21060}:80\", \"${WEB_PORT:-21060}:81\"]\n",
    )
    .expect("write");
    let output = berth()
        .current_dir(scratch.path())
        .env("BERTH_STATE_DIR", no_ledger())
        .args(["audit", "--files-only", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        collisions(&String::from_utf8_lossy(&output.stdout)),
        [
            "21060 host: compose service d @ compose.yaml:13; compose service d @ compose.yaml:13",
            "21090 host: compose service a @ compose.yaml:3; compose service b @ compose.yaml:3; compose service c @ compose.yaml:3",
        ]
    );
}
