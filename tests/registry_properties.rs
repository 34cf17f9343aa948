//! Generated registries, good and bad, against what Docker, a shell and the kernel accept.
//!
//! The property: whatever text goes in, loading never panics, and a registry that passes
//! `check` yields only names Docker takes, image references of its grammar, absolute mount
//! paths, bounded timeouts, distinct ports and variables, and exports that a shell and
//! compose read back unchanged. The oracles here are written from Docker's documented
//! grammars, independently of berth's own rules.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use berth::containers::plan;
use berth::export::{ExportRow, Format, render};
use berth::registry::{self, MAXIMUM_READY_TIMEOUT, PortManager, Registry};
use proptest::prelude::*;
use regex::Regex;

/// Names, from the ones Docker takes to the ones the fuzzing found it refuses.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9_-]{0,8}",
        1 => prop::sample::select(vec![
            "rl/web", "rl web", "..", ".x", "_x", "-", "ünï", "Upper", "a:b", "dev/x", "x\nexport PATH=/tmp/evil",
            "a\u{0}b", "kafka_ui", "kafka", "a.b", "",
        ])
        .prop_map(str::to_string),
    ]
}

fn image() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "redis:7",
        "berth-test-busybox",
        "localhost:5000/team/app:1.2",
        "RL/Upper",
        "",
        "https://example.com/x",
        "a b",
        "redis:",
        "mongo@sha256:0123",
        "x:y:z",
    ])
    .prop_map(str::to_string)
}

fn mount_path() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["/data", "/var/lib/x", "relative/path", "/", "/a/../", "/a:b", "./x", ""])
        .prop_map(str::to_string)
}

fn port_number() -> impl Strategy<Value = i64> {
    prop_oneof![3 => 1024i64..60000, 1 => prop::sample::select(vec![0i64, 1, 22, 80, 65535, 65536, -1])]
}

fn timeout() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["30s", "2m", "0s", "18446744073709551615s", "200000000s", "1d", "soon"])
        .prop_map(str::to_string)
}

/// YAML with every scalar quoted as JSON, which YAML reads unchanged.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

#[derive(Debug, Clone)]
struct ServiceText {
    name: String,
    keys: Vec<(String, i64)>,
    max_instances: i64,
    increment: i64,
    container: Option<(String, String, String, String, String, i64, String)>,
}

fn service() -> impl Strategy<Value = ServiceText> {
    let key =
        (prop_oneof![Just("port".to_string()), "[a-z]{1,5}_port", Just("http-x_port".to_string())], port_number());
    let container =
        (image(), name(), mount_path(), name(), "[ -~]{0,6}", prop::sample::select(vec![0i64, 80, 8080]), timeout());
    (
        name(),
        prop::collection::vec(key, 1..3),
        prop::sample::select(vec![1i64, 2, 3, 50, 65535]),
        prop::sample::select(vec![1i64, 10, 100]),
        prop::option::of(container),
    )
        .prop_map(|(name, keys, max_instances, increment, container)| ServiceText {
            name,
            keys,
            max_instances,
            increment,
            container,
        })
}

fn registry_text() -> impl Strategy<Value = String> {
    (prop::collection::vec(service(), 1..4), prop::collection::vec(name(), 0..3)).prop_map(
        |(services, environments)| {
            let mut text = String::new();
            if !environments.is_empty() {
                text.push_str("environments:\n");
                for (offset, environment) in environments.iter().enumerate() {
                    text.push_str(&format!("  {}: {}\n", quoted(environment), offset * 7));
                }
            }
            for service in services {
                text.push_str(&format!("{}:\n", quoted(&service.name)));
                for (key, port) in &service.keys {
                    text.push_str(&format!("  {}: {port}\n", quoted(key)));
                }
                text.push_str(&format!(
                    "  max_instances: {}\n  instance_increment: {}\n",
                    service.max_instances, service.increment
                ));
                if let Some((image, volume, path, variable, value, container_port, timeout)) = service.container {
                    text.push_str(&format!("  container:\n    image: {}\n", quoted(&image)));
                    text.push_str(&format!("    volumes:\n      {}: {}\n", quoted(&volume), quoted(&path)));
                    text.push_str(&format!("    env:\n      {}: {}\n", quoted(&variable), quoted(&value)));
                    if container_port != 0 || service.keys.len() == 1 {
                        text.push_str(&format!("    ports:\n      {}: {container_port}\n", quoted(&service.keys[0].0)));
                    }
                    text.push_str(&format!("    timeout: {}\n", quoted(&timeout)));
                }
            }
            text
        },
    )
}

/// Docker's container and volume name grammar.
fn docker_name() -> Regex {
    Regex::new(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$").expect("pattern")
}

/// The distribution reference grammar, as Docker documents it.
fn image_reference() -> Regex {
    let component = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*";
    let domain =
        r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?";
    let pattern = format!(
        r"^{domain}{component}(?:/{component})*(?::[\w][\w.-]{{0,127}})?(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{{32,}})?$"
    );
    Regex::new(&pattern).expect("pattern")
}

/// Everything a registry that passed `check` hands to Docker, a shell and compose.
fn assert_usable(registry: &Registry) {
    let manager = PortManager::new(registry.clone(), "generated.yaml".into(), HashMap::new()).expect("valid");
    let (names, references) = (docker_name(), image_reference());
    let mut ports = HashSet::new();
    let mut variables = HashSet::new();
    let mut rows = Vec::new();
    for environment in &registry.environments {
        let view = manager.environment(Some(&environment.name)).expect("environment");
        for service in &registry.services {
            for instance in service.instances() {
                let resolved = view.instance_ports(&service.name, u32::from(instance)).expect("ports");
                for port in &resolved {
                    assert!(port.port >= 1 && ports.insert(port.port), "port {} twice", port.port);
                    if environment.name == registry.environments[0].name {
                        assert!(variables.insert(port.variable.clone()), "variable {} twice", port.variable);
                    }
                }
                rows.extend(resolved.iter().map(ExportRow::from));
                if service.container.is_none() {
                    continue;
                }
                let selection = berth::containers::Selection::one(&service.name, u32::from(instance));
                let spec = plan(&manager, Some(&environment.name), &[selection]).expect("spec").remove(0);
                assert!(names.is_match(&spec.container_name), "container name {:?}", spec.container_name);
                assert!(references.is_match(&spec.image), "image {:?}", spec.image);
                assert!(spec.timeout >= std::time::Duration::from_secs(1) && spec.timeout <= MAXIMUM_READY_TIMEOUT);
                for mount in &spec.volumes {
                    assert!(names.is_match(&mount.volume), "volume name {:?}", mount.volume);
                    assert!(mount.path.starts_with('/') && mount.path.len() > 1, "mount path {:?}", mount.path);
                    assert!(!mount.path.split('/').any(|part| part == ".."), "mount path {:?}", mount.path);
                }
                for (variable, value) in &spec.env {
                    assert!(!variable.is_empty() && !variable.contains('=') && !value.contains('\0'), "{variable:?}");
                }
                assert!(spec.ports.iter().all(|binding| binding.container_port >= 1));
                let compose = berth::containers::compose::render(std::slice::from_ref(&spec));
                let parsed: serde_yaml::Value = serde_yaml::from_str(&compose).expect("compose file is YAML");
                let service_entry = &parsed["services"][spec.container_name.as_str()];
                for (variable, value) in &spec.env {
                    let written = service_entry["environment"][variable.as_str()].as_str().expect("written");
                    assert_eq!(written.replace("$$", "$"), *value, "compose reads the value back");
                }
            }
        }
    }
    let shell = render(Format::Shell, &rows);
    let line = Regex::new(r"^export [A-Za-z_][A-Za-z0-9_]*=[0-9]+$").expect("pattern");
    for text in shell.lines().filter(|text| !text.starts_with('#')) {
        assert!(line.is_match(text), "a shell export line that sources as written: {text:?}");
    }
    for text in render(Format::Compose, &rows).lines().filter(|text| !text.is_empty()) {
        assert!(text.starts_with('#') || line.is_match(&format!("export {text}")), "{text:?}");
    }
}

/// The file at `path` (from the repository root) with `insert` put in at about `cut`.
fn mutated(path: &str, cut: usize, insert: &str) -> String {
    let written = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("the file");
    let mut at = cut.min(written.len());
    while !written.is_char_boundary(at) {
        at -= 1;
    }
    format!("{}{insert}{}", &written[..at], &written[at..])
}

/// A registry text loads (and, clean, works everywhere) or is refused on one line.
fn loads_or_is_refused_on_one_line(text: &str) -> Result<(), TestCaseError> {
    match registry::parse(text, Path::new("mutated.yaml")) {
        Ok(registry) => {
            if registry::validate(&registry).errors() == 0 {
                assert_usable(&registry);
            }
        }
        Err(error) => prop_assert!(!error.to_string().contains('\n'), "one line: {error}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_registry_that_passes_check_works_everywhere(text in registry_text()) {
        if let Ok(registry) = registry::parse(&text, Path::new("generated.yaml")) {
            let report = registry::validate(&registry);
            if report.errors() == 0 {
                assert_usable(&registry);
            }
            for finding in &report.findings {
                let message = finding.message(&registry);
                prop_assert!(!message.contains('\n'), "one line: {message:?}");
            }
        } else if let Err(error) = registry::parse(&text, Path::new("generated.yaml")) {
            prop_assert!(!error.to_string().contains('\n'), "one line: {error}");
        }
    }

    #[test]
    fn any_mutation_of_the_shipped_registry_loads_or_is_refused_on_one_line(
        cut in 0usize..6000,
        insert in "[\\[\\]{}:,\\-\n #'\"a-z0-9]{0,40}",
    ) {
        loads_or_is_refused_on_one_line(&mutated(registry::REGISTRY_PATH, cut, &insert))?;
    }

    #[test]
    fn any_mutation_of_a_flat_ports_file_loads_or_is_refused_on_one_line(
        cut in 0usize..3000,
        insert in "[\\[\\]{}:,\\-\n #'\"a-z0-9]{0,40}",
    ) {
        loads_or_is_refused_on_one_line(&mutated("examples/config/ports.yaml", cut, &insert))?;
    }
}

#[test]
fn adversarial_sizes_are_refused_by_limits_not_by_exhaustion() {
    let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let error = registry::parse(&deep, Path::new("deep.yaml")).expect_err("too deep");
    assert!(error.to_string().starts_with("deep.yaml:1:"), "{error}");
    assert!(
        error.to_string().contains("nesting deeper than 64 levels") || error.to_string().contains("recursion limit"),
        "{error}"
    );
    let mut wide = String::from("environments:\n");
    for environment in 0..7 {
        wide.push_str(&format!("  e{environment}: 0\n"));
    }
    for service in 0..30 {
        wide.push_str(&format!("s{service}:\n  a_port: 1\n  b_port: 2\n  c_port: 3\n  max_instances: 65535\n"));
    }
    let error = registry::parse(&wide, Path::new("wide.yaml")).expect_err("too many slots");
    assert!(error.to_string().contains("it defines 41287050 slots"), "{error}");
    let portless: String = (0..50)
        .map(|service| format!("s{service}:\n  max_instances: 65535\n  container: {{image: redis}}\n"))
        .collect();
    let error = registry::parse(&portless, Path::new("portless.yaml")).expect_err("too many containers");
    assert!(error.to_string().contains("would name 3276750 containers and volumes"), "{error}");
    let aliases = format!(
        "s:\n  description: &d \"{}\"\n  port: 44000\n  container:\n    image: redis\n    command: [{}]\n",
        "x".repeat(500_000),
        vec!["*d"; 4000].join(",")
    );
    let error = registry::parse(&aliases, Path::new("aliases.yaml")).expect_err("aliases");
    assert!(error.to_string().contains("aliases.yaml:6:15: YAML alias `*d` is not supported"), "{error}");
    let directory = tempfile::tempdir().expect("tempdir");
    let large = directory.path().join("large.yaml");
    std::fs::write(&large, "#".repeat(2 << 20)).expect("write");
    let error = registry::load_file(&large).expect_err("too large");
    assert!(error.to_string().contains("larger than 1024 KiB"), "{error}");
    let error = registry::load_file(Path::new("/dev/zero")).expect_err("endless");
    assert!(error.to_string().contains("larger than 1024 KiB"), "{error}");
}
