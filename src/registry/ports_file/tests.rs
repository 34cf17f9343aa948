use std::collections::HashMap;
use std::path::Path;

use crate::registry::{OnConflict, Overrides, PortManager, PortRange, Registry, Severity, parse, validate};

/// A team's `config/ports.yaml`, as its port plan wrote it.
const PORTS_FILE: &str = include_str!("../../../examples/config/ports.yaml");

fn load(text: &str) -> Registry {
    parse(text, Path::new("config/ports.yaml")).expect("the ports file loads")
}

fn error_of(text: &str) -> String {
    parse(text, Path::new("config/ports.yaml")).expect_err("should be refused").to_string()
}

fn range(start: u16, end: u16) -> PortRange {
    PortRange::new(start, end).expect("forwards")
}

#[test]
fn the_file_as_written_maps_onto_one_service_per_port() {
    let registry = load(PORTS_FILE);
    let names: Vec<&str> = registry.services.iter().map(|service| service.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "api",
            "docs",
            "metrics",
            "frontend_dev",
            "dashboard",
            "dashboard_docker",
            "mcp_http",
            "mcp_ws",
            "chrome_debug",
            "redis"
        ]
    );
    let key = |name: &str| registry.service(name).expect("service").ports[0].clone();
    assert_eq!((key("api").base, key("api").variable.as_deref()), (8000, Some("CONTIMG_API_PORT")));
    assert_eq!(key("api").on_conflict, OnConflict::Fallback(range(8000, 8009)));
    assert_eq!(key("dashboard").on_conflict, OnConflict::Fallback(range(3210, 3220)));
    assert_eq!(key("dashboard_docker").on_conflict, OnConflict::Refuse);
    assert_eq!(key("docs").on_conflict, OnConflict::Ignore);
    assert!(key("mcp_ws").fixed && key("mcp_ws").variable.is_none());
    assert!(!key("api").fixed);
    let optional: Vec<&str> =
        registry.services.iter().filter(|service| service.optional).map(|service| service.name.as_str()).collect();
    assert_eq!(optional, ["metrics", "chrome_debug", "redis"]);
    let api = registry.service("api").expect("api");
    assert_eq!((api.max_instances, api.range), (1, Some(range(8000, 8009))));
    let reserved: Vec<(String, &str)> =
        registry.reserved.iter().map(|entry| (entry.ports[0].to_string(), entry.reason.as_str())).collect();
    assert_eq!(
        reserved,
        [
            ("3000".to_string(), "Grafana (external): Check before using dashboard_docker"),
            ("8080".to_string(), "Pipeline (external Docker): External service, not managed"),
        ]
    );
    assert!(registry.warn_on_conflict);
}

#[test]
fn its_real_hazards_are_warnings_in_the_files_own_spirit() {
    let registry = load(PORTS_FILE);
    let report = validate(&registry);
    let found: Vec<String> = report
        .findings
        .iter()
        .map(|finding| format!("{}[{}]: {}", finding.severity(), finding.code(), finding.message(&registry)))
        .collect();
    assert_eq!(
        found,
        [
            "warning[reserved-port]: dashboard_docker[0].port = 3000 sits on reserved port 3000 (Grafana (external): Check before using dashboard_docker)",
            "warning[fallback-range]: api[0].port's fallback range 8000-8009 holds docs[0].port = 8001: narrow the range so that a fallback never sits on another port",
            "warning[fallback-range]: api[0].port's fallback range 8000-8009 holds metrics[0].port = 8002: narrow the range so that a fallback never sits on another port",
        ]
    );
    assert_eq!((report.errors(), report.warnings()), (0, 3));
    let manager = PortManager::new(registry, "config/ports.yaml".into(), HashMap::new()).expect("usable as written");
    assert_eq!(manager.get_port("api", 0, "port"), Ok(8000));
}

#[test]
fn without_warn_on_conflict_the_same_hazards_are_errors() {
    let strict = PORTS_FILE.replace("warn_on_conflict: true", "warn_on_conflict: false");
    let registry = load(&strict);
    let report = validate(&registry);
    assert_eq!((report.errors(), report.warnings()), (3, 0));
    assert!(report.findings.iter().all(|finding| finding.severity() == Severity::Error));
}

#[test]
fn overrides_are_range_checked_and_immutable_ports_ignore_them() {
    let registry = load(PORTS_FILE);
    let variables: HashMap<String, String> =
        [("CONTIMG_API_PORT", "9000"), ("CONTIMG_DASHBOARD_PORT", "3215"), ("MCP_WS_PORT", "9010")]
            .into_iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
    let overrides = Overrides::read(&registry, &variables);
    let ignored: Vec<(&str, &str)> =
        overrides.ignored().iter().map(|ignored| (ignored.variable.as_str(), ignored.reason)).collect();
    assert_eq!(ignored, [("MCP_WS_PORT", "the port is immutable (`immutable: true` or `env_var: null`)")]);
    let problems: Vec<String> =
        overrides.findings(&registry).iter().map(|finding| finding.message(&registry)).collect();
    assert_eq!(problems, ["CONTIMG_API_PORT=9000 sets api[0].port: 9000 is outside api's range 8000-8009"]);
    let manager = PortManager::new(registry, "config/ports.yaml".into(), variables).expect("loads");
    assert_eq!(manager.get_port("dashboard", 0, "port"), Ok(3215));
    assert_eq!(manager.get_port("mcp_ws", 0, "port"), Ok(9009));
    assert!(manager.get_port("api", 0, "port").is_err());
}

#[test]
fn mistakes_in_the_file_are_located_and_say_what_to_do() {
    let cases = [
        (
            "ports:\n  api:\n    default: 8000\n    defualt: 8001\n",
            "config/ports.yaml:4:5: ports.api: unknown field `defualt`",
        ),
        (
            "ports:\n  api:\n    default: 8010\n    range: [8000, 8009]\n",
            "default 8010 lies outside its range [8000, 8009]",
        ),
        (
            "ports:\n  api:\n    default: 8000\n  api:\n    default: 8001\n",
            "config/ports.yaml:4:3: ports: duplicate port `api`: each may appear once",
        ),
        ("ports:\n  api:\n    default: 70000\n", "a port of 70000 is out of range"),
        ("ports:\n  api:\n    default: 8000\n    env_var: \"API PORT\"\n", "API PORT"),
        ("ports:\n  api:\n    default: 8000\n    range: [8009, 8000]\n", "config/ports.yaml:4"),
        ("ports:\n  api:\n    default: 8000\nreserved:\n  - port: 3000\n", "missing field `service`"),
        (
            "ports:\n  api:\n    default: 8000\nconflict_detection:\n  auto_resolv: true\n",
            "unknown field `auto_resolv`",
        ),
        ("ports:\n  web:\n    env_var: WEB_PORT\n  api:\n    default: 8000\n", "ports.web: missing field `default`"),
        ("ports:\n  web: 5\n  api:\n    default: 8000\n", "expected a port entry: a map with `default:`"),
        ("ports:\n  api:\n    default: 8000\nconflict_detection: 5\n", "expected a map of `enabled`"),
        ("ports:\n  api:\n    default: 8000\nreserved:\n  - null\n", "expected a reserved entry"),
    ];
    for (text, expected) in cases {
        let error = error_of(text);
        assert!(error.contains(expected), "{text:?} gave {error:?}, expected {expected:?}");
        assert!(!error.contains("struct "), "no Rust type names: {error:?}");
        assert!(!error.contains('\n'), "one line: {error:?}");
    }
}

#[test]
fn fallback_is_taken_only_where_the_file_asks_for_it() {
    let text = "ports:\n  web:\n    default: 3210\n    range: [3210, 3220]\n  admin:\n    default: 4000\n    range: [4000, 4009]\n    conflict_check: true\n";
    let registry = load(text);
    assert_eq!(registry.services[0].ports[0].on_conflict, OnConflict::Ignore, "no auto_resolve, no conflict_check");
    assert_eq!(registry.services[1].ports[0].on_conflict, OnConflict::Fallback(range(4000, 4009)));
    let disabled = format!("{text}conflict_detection:\n  enabled: false\n  auto_resolve: true\n");
    assert!(load(&disabled).services.iter().all(|service| service.ports[0].on_conflict == OnConflict::Ignore));
}

#[test]
fn a_berth_registry_with_a_service_called_ports_is_not_mistaken_for_a_ports_file() {
    let registry = load("ports:\n  port: 7000\n");
    assert_eq!(registry.services[0].name, "ports");
    assert_eq!(registry.services[0].ports[0].base, 7000);
}
