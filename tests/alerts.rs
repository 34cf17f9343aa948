//! The Prometheus alert rules shipped in docker/prometheus: valid for promtool, each alert
//! firing when its unit tests say (and not before), and naming only metrics berth exports.

use std::path::{Path, PathBuf};
use std::process::Command;

fn rules_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/prometheus")
}

fn promtool(args: &[&str]) -> (bool, String) {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(rules_directory())
        .output()
        .expect("promtool (bash scripts/ensure-test-tools.sh installs it)");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn the_alert_rules_are_valid_and_their_unit_tests_pass() {
    let (valid, said) = promtool(&["check", "rules", "berth-alerts.yml"]);
    assert!(valid && said.contains("SUCCESS: 8 rules found"), "{said}");
    let (passed, said) = promtool(&["test", "rules", "berth-alerts.test.yml"]);
    assert!(passed && said.contains("SUCCESS"), "{said}");
}

#[test]
fn every_alert_has_a_unit_test_and_names_only_metrics_berth_exports() {
    let rules = std::fs::read_to_string(rules_directory().join("berth-alerts.yml")).expect("rules");
    let tests = std::fs::read_to_string(rules_directory().join("berth-alerts.test.yml")).expect("tests");
    let alerts: Vec<&str> = rules.lines().filter_map(|line| line.trim().strip_prefix("- alert: ")).collect();
    assert_eq!(alerts.len(), 8, "{alerts:?}");
    for alert in &alerts {
        assert!(tests.contains(&format!("alertname: {alert}\n")), "{alert} has no unit test");
    }
    let defined = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/metrics.rs")).expect("src");
    let mut named: Vec<&str> = rules
        .split(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
        .filter(|word| word.starts_with("berth_"))
        .collect();
    named.sort_unstable();
    named.dedup();
    assert!(named.len() >= 7, "{named:?}");
    for metric in named {
        assert!(defined.contains(&format!("\"{metric}\"")), "the rules name {metric}, which berth does not export");
    }
}
