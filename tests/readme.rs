//! The README's quick start does what it shows: its first command proves the shipped
//! registry and starts three Redis instances, pulled on first use. No public registry is
//! reachable here, so the pull goes through the image mirror setting to a real loopback
//! registry holding a locally built Redis under the catalog's name.

mod common;

use common::{LoopbackRegistry, containers_of, shipped_registry};

/// The lines of the README's code block that follows `after`.
fn block_after(readme: &str, after: &str) -> Vec<String> {
    let rest = &readme[readme.find(after).unwrap_or_else(|| panic!("the README says {after:?}"))..];
    let body = rest.split("```").nth(1).expect("a code block follows");
    body.lines().filter(|line| !line.trim().is_empty()).map(str::to_string).collect()
}

#[test]
fn the_quick_start_starts_three_redis_instances_as_shown() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md");
    let command = block_after(&readme, "From a checkout of this repository, with berth installed");
    assert_eq!(command, ["berth check && berth up redis:0-2"]);
    let shown = block_after(&readme, "and starts three Redis instances");

    let mut registry = LoopbackRegistry::start();
    let mirrored = registry.push("berth-test-redis", "library/redis:7.2");
    let state = tempfile::tempdir().expect("state dir");
    let berth = || {
        let mut berth = common::berth();
        berth
            .env("BERTH_REGISTRY", shipped_registry())
            .env("BERTH_STATE_DIR", state.path())
            .env("BERTH_IMAGE_MIRROR", &registry.address);
        berth
    };
    berth().arg("check").assert().success();
    let up = berth().args(["up", "redis:0-2"]).output().expect("berth up");
    let stderr = String::from_utf8_lossy(&up.stderr);
    let cleanup = || berth().args(["down", "redis:0-2", "--volumes"]).output().expect("berth down");
    if !up.status.success() {
        cleanup();
        panic!("berth up redis:0-2 failed: {stderr}");
    }
    let printed: Vec<String> =
        String::from_utf8_lossy(&up.stdout).lines().map(|line| line.trim_end().to_string()).collect();
    let down = cleanup();
    assert_eq!(printed, shown, "what the README shows");
    assert_eq!(stderr.matches(&format!("pulled {mirrored}")).count(), 1, "pulled once for three: {stderr}");
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(containers_of("development").iter().all(|name| !name.starts_with("redis-development")));
}
