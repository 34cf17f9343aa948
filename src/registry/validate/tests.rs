use std::path::Path;

use super::*;
use crate::registry::parse;

fn registry(text: &str) -> Registry {
    parse(text, Path::new("test.yaml")).expect("test registry loads")
}

fn messages(text: &str) -> Vec<String> {
    let registry = registry(text);
    let report = validate(&registry);
    report.findings.iter().map(|finding| format!("{}: {}", finding.code(), finding.message(&registry))).collect()
}

#[test]
fn a_clean_registry_has_no_findings() {
    let registry = registry("kafka:\n  broker_port: 9092\n  controller_port: 19093\nredis:\n  port: 6379\n");
    let report = validate(&registry);
    assert_eq!(report.findings, []);
    assert_eq!((report.services, report.slots, report.errors()), (2, 30, 0));
}

#[test]
fn collisions_name_both_sides_and_the_port() {
    let found = messages("grafana:\n  port: 3000\n  max_instances: 5\nloki:\n  port: 3100\n  max_instances: 5\n");
    assert_eq!(
        found,
        [
            "port-collision: grafana[1].port = 3100 collides with loki[0].port = 3100",
            "port-collision: grafana[2].port = 3200 collides with loki[1].port = 3200",
            "port-collision: grafana[3].port = 3300 collides with loki[2].port = 3300",
            "port-collision: grafana[4].port = 3400 collides with loki[3].port = 3400",
        ]
    );
}

#[test]
fn keys_of_one_service_can_collide_with_each_other() {
    let found = messages("svc:\n  a_port: 5000\n  b_port: 5010\n  instance_increment: 5\n  max_instances: 3\n");
    assert_eq!(found, ["port-collision: svc[0].b_port = 5010 collides with svc[2].a_port = 5010"]);
}

#[test]
fn three_slots_on_one_port_are_two_collisions_against_the_first() {
    let found = messages(
        "a:\n  port: 4000\n  max_instances: 1\nb:\n  port: 4000\n  max_instances: 1\nc:\n  port: 4000\n  max_instances: 1\n",
    );
    assert_eq!(
        found,
        [
            "port-collision: a[0].port = 4000 collides with b[0].port = 4000",
            "port-collision: a[0].port = 4000 collides with c[0].port = 4000",
        ]
    );
}

#[test]
fn ports_beyond_65535_are_reported_once_per_key() {
    let found = messages("big:\n  port: 65000\n  instance_increment: 300\n  max_instances: 10\n");
    assert_eq!(
        found,
        [
            "port-out-of-range: big[2].port = 65600 is beyond 65535 (65000 + 2 × 300): set max_instances to at most 2 or lower the base or increment"
        ]
    );
}

#[test]
fn environment_offsets_are_part_of_every_slot() {
    let text = "environments:\n  development: 0\n  staging: 1000\na:\n  port: 5000\n  max_instances: 1\nb:\n  port: 6000\n  max_instances: 1\nc:\n  port: 65000\n  max_instances: 1\n";
    assert_eq!(
        messages(text),
        [
            "port-out-of-range: c[0].port@staging = 66000 is beyond 65535 (65000 + offset 1000 + 0 × 100): set max_instances to at most 0 or lower the base or increment",
            "port-collision: a[0].port@staging = 6000 collides with b[0].port@development = 6000",
        ]
    );
    assert_eq!(validate(&registry(text)).slots, 6);
}

#[test]
fn reserved_ports_and_ranges_are_off_limits() {
    let text = "reserved:\n  - ports: \"22\"\n    reason: ssh\n  - ports: \"30000-32767\"\n    reason: Kubernetes NodePorts\nssh:\n  port: 22\n  max_instances: 1\nnode:\n  port: 29900\n  max_instances: 3\n";
    assert_eq!(
        messages(text),
        [
            "reserved-port: ssh[0].port = 22 sits on reserved port 22 (ssh)",
            "reserved-port: node[1].port = 30000 sits on reserved range 30000-32767 (Kubernetes NodePorts)",
            "reserved-port: node[2].port = 30100 sits on reserved range 30000-32767 (Kubernetes NodePorts)",
            "privileged-port: ssh[0].port = 22 is below 1024: binding needs root or CAP_NET_BIND_SERVICE",
        ]
    );
}

#[test]
fn overlapping_reservations_still_catch_every_slot() {
    let text = "reserved:\n  - ports: \"1000-9000\"\n    reason: wide\n  - ports: \"1500\"\n    reason: narrow\n  - ports: \"9500-9600\"\n    reason: later\nsvc:\n  port: 1500\n  instance_increment: 4000\n  max_instances: 3\n";
    let found = messages(text);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].contains("svc[0].port = 1500 sits on reserved range 1000-9000 (wide)"), "{found:?}");
    assert!(found[1].contains("svc[1].port = 5500 sits on reserved range 1000-9000"), "{found:?}");
    assert!(found[2].contains("svc[2].port = 9500 sits on reserved range 9500-9600 (later)"), "{found:?}");
}

#[test]
fn slots_must_stay_inside_their_service_range() {
    let found = messages("api:\n  port: 8000\n  range: 8000-8009\n  instance_increment: 5\n  max_instances: 3\n");
    assert_eq!(
        found,
        [
            "outside-service-range: api[2].port = 8010 is outside api's range 8000-8009: widen the range or lower max_instances"
        ]
    );
}

#[test]
fn a_service_without_ports_is_an_error_with_a_spelling_hint() {
    assert_eq!(
        messages("default:\n  max_instances: 3\nredis:\n  port: 6379\n"),
        [
            "no-ports: service `default` has no ports: add `port:` or keys ending in `_port` (if `default` was meant as the top-level `defaults:`, correct its spelling)"
        ]
    );
}

#[test]
fn privileged_ports_warn_without_failing() {
    let registry = registry("traefik:\n  web_port: 80\n  max_instances: 3\n");
    let report = validate(&registry);
    assert_eq!((report.errors(), report.warnings()), (0, 1));
    assert_eq!(
        report.findings[0].message(&registry),
        "traefik[0].web_port to traefik[2].web_port = 80 to 280 are below 1024: binding needs root or CAP_NET_BIND_SERVICE"
    );
}

#[test]
fn the_shipped_registry_is_collision_free() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::registry::REGISTRY_PATH);
    let registry = crate::registry::load_file(&path).expect("loads");
    let report = validate(&registry);
    assert_eq!(report.errors(), 0, "{:?}", report.findings.iter().map(|f| f.message(&registry)).collect::<Vec<_>>());
    assert_eq!(report.services, 16);
}

/// The catalog at its projects' default ports, as `examples/upstream-defaults.yaml` keeps
/// it: the checker must find what the shipped file fixes.
#[test]
fn the_upstream_defaults_collide_where_the_readme_says() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/upstream-defaults.yaml");
    let upstream = std::fs::read_to_string(path).expect("examples/upstream-defaults.yaml");
    let registry = registry(&upstream);
    let report = validate(&registry);
    assert_eq!(report.errors(), 10);
    let pairs: Vec<(String, String)> = report
        .findings
        .iter()
        .filter_map(|finding| match finding {
            Finding::Collision { first, other, .. } => {
                Some((registry.service_of(*first).name.clone(), registry.service_of(*other).name.clone()))
            }
            _ => None,
        })
        .collect();
    let count = |a: &str, b: &str| pairs.iter().filter(|(x, y)| x == a && y == b).count();
    assert_eq!(count("grafana", "loki"), 4);
    assert_eq!(count("temporal", "argocd"), 3);
    assert_eq!(count("mongoexpress", "argocd"), 3);
}

#[test]
fn container_sections_are_checked_against_their_service() {
    let text = "\
kafka:
  broker_port: 9092
  max_instances: 2
  container:
    image: kafka:test
    env:
      ADVERTISED: PLAINTEXT://{host}:{broker_port}
      BROKEN: '{brokr_port}'
    ports:
      controller_port: 9093
    ready:
      tcp: broker
";
    assert_eq!(
        messages(text),
        [
            "container-config: service `kafka`: container.ports names `controller_port`, which is not a port key of `kafka`",
            "container-config: service `kafka`: container.ready names `broker`, which is not a port key of `kafka`",
            "container-config: service `kafka`: unknown placeholder `{brokr_port}` in `{brokr_port}`",
        ]
    );
}

#[test]
fn two_slots_exporting_the_same_variable_collide() {
    let found =
        messages("kafka:\n  ui_port: 44000\n  max_instances: 1\nkafka_ui:\n  port: 44100\n  max_instances: 1\n");
    assert_eq!(
        found,
        [
            "variable-collision: kafka[0].ui_port and kafka_ui[0].port both export as KAFKA_UI_PORT: rename one, or give one its own `env_var:`"
        ]
    );
    let found = messages(
        "kafka:\n  broker_port: 44000\n  max_instances: 2\nkafka_1:\n  broker_port: 45000\n  max_instances: 1\n",
    );
    assert_eq!(
        found,
        [
            "variable-collision: kafka[1].broker_port and kafka_1[0].broker_port both export as KAFKA_1_BROKER_PORT: rename one, or give one its own `env_var:`"
        ]
    );
    let found = messages(
        "a:\n  port: {port: 44000, env_var: SHARED_PORT}\n  max_instances: 1\nb:\n  port: {port: 45000, env_var: SHARED_PORT}\n  max_instances: 1\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn two_instances_with_the_same_container_or_volume_name_collide() {
    let service = |name: &str, port: u16, volume: &str| {
        format!(
            "{name}:\n  port: {port}\n  max_instances: 2\n  container:\n    image: redis:7\n    volumes:\n      {volume}: /data\n"
        )
    };
    let text = format!(
        "environments:\n  development: 0\n  development-1: 10\n{}{}",
        service("web", 44000, "data"),
        service("web-staging", 45000, "data")
    );
    let found = messages(&text);
    assert!(
        found.contains(&"name-collision: web[1]@development and web[0]@development-1 would both use container name `web-development-1`: rename a service or an environment".to_string()),
        "{found:?}"
    );
    let text = format!(
        "environments:\n  development: 0\n  staging: 10\n{}{}",
        service("web", 44000, "staging-data"),
        service("other", 45000, "data")
    );
    let found = messages(&text.replace("other:", "web2:"));
    assert_eq!(found, Vec::<String>::new(), "distinct names do not collide");
    let found = messages(&format!(
        "environments:\n  development: 0\n  staging: 10\n{}",
        service("web", 44000, "staging-data")
            .replace("      staging-data: /data\n", "      staging-data: /data\n      data: /other\n")
    ));
    assert!(found.iter().any(|finding| finding.contains("would both use volume name `web-staging-data`")), "{found:?}");
}

#[test]
fn two_volumes_at_one_mount_point_are_refused() {
    let found = messages(
        "web:\n  port: 44000\n  container:\n    image: redis:7\n    volumes:\n      a: /data\n      b: /data/\n",
    );
    assert_eq!(
        found,
        ["container-config: service `web`: container.volumes mounts two volumes at /data; Docker allows one per path"]
    );
}

#[test]
fn privileged_and_ephemeral_warnings_list_every_slot() {
    let registry = registry(
        "traefik:\n  port: 80\n  instance_increment: 1\n  max_instances: 3\napp:\n  port: 32700\n  max_instances: 3\n",
    );
    let report = validate(&registry);
    let privileged =
        report.findings.iter().find(|finding| finding.code() == FindingCode::PrivilegedPort).expect("warned");
    let instances: Vec<u16> = privileged.slots().iter().map(|slot| slot.instance).collect();
    assert_eq!(instances, [0, 1, 2], "traefik[1] is listed too");
    let ephemeral = ephemeral_findings(&registry, PortRange { start: 32768, end: 60999 });
    assert_eq!(ephemeral.len(), 1);
    assert_eq!(
        ephemeral[0].message(&registry),
        "app[1].port to app[2].port = 32800 to 32900 are inside the kernel's ephemeral range 32768-60999, where outgoing connections take their local ports: reserve them with `berth check --kernel-reserved-ports`"
    );
    assert_eq!(ephemeral[0].code().severity(), Severity::Warning);
}

#[test]
fn the_kernel_setting_covers_every_slot_and_is_never_widened() {
    let small = registry(
        "a:\n  port: 40000\n  instance_increment: 1\n  max_instances: 3\nb:\n  port: 40010\n  max_instances: 2\n",
    );
    assert_eq!(kernel_reserved_ports(&small, None), Ok("40000-40002,40010,40110".to_string()));
    let ephemeral = PortRange { start: 40001, end: 40100 };
    assert_eq!(
        kernel_reserved_ports(&small, Some(ephemeral)),
        Ok("40001-40002,40010".to_string()),
        "only slots inside"
    );
    let spread = registry(&registry_text_with_spread_slots());
    let error = kernel_reserved_ports(&spread, None).expect_err("too long to write");
    assert!(error.contains("more than the kernel reads (4000)"), "{error}");
    let filling = registry("svc:\n  port: 32768\n  instance_increment: 1\n  max_instances: 100\n");
    let error = kernel_reserved_ports(&filling, Some(PortRange { start: 32768, end: 32867 })).expect_err("fills it");
    assert!(error.contains("would leave no port for outgoing connections"), "{error}");
}

fn registry_text_with_spread_slots() -> String {
    "spread:\n  port: 20000\n  instance_increment: 2\n  max_instances: 5000\n".to_string()
}

#[test]
fn a_log_pattern_that_does_not_compile_is_one_line() {
    let found =
        messages("web:\n  port: 44000\n  container:\n    image: redis:7\n    ready:\n      log: {pattern: 'a(b'}\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(
            "container-config: service `web`: container.ready.log pattern does not compile: regex parse error:"
        ),
        "{}",
        found[0]
    );
    assert!(!found[0].contains('\n'), "{}", found[0]);
}

#[test]
fn a_port_key_can_name_its_own_variable() {
    let registry = registry("api:\n  port: {port: 8000, env_var: CONTIMG_API_PORT}\n  max_instances: 2\n");
    let service = &registry.services[0];
    assert_eq!(crate::registry::slot_variable(service, &service.ports[0], 0), "CONTIMG_API_PORT");
    assert_eq!(crate::registry::slot_variable(service, &service.ports[0], 1), "CONTIMG_API_PORT_1");
}

#[test]
fn stacks_dependencies_and_references_that_cannot_work_are_findings() {
    let found = messages(
        "\
defaults:
  instance_increment: 1
stacks:
  web: [front, ghost]
front:
  port: 5000
  max_instances: 3
  container:
    image: front
    depends_on: [back, bare, front, few]
    env:
      BACK: '{back.port.address}'
      BACK_ON_HOST: '{back.port}'
      WRONG_KEY: '{back.http_port}'
      NO_CONTAINER: '{bare.port.address}'
      BARE_ON_HOST: '{bare.port}'
      TOO_DEEP: '{back.port.address.more}'
back:
  port: 5100
  max_instances: 3
  container:
    image: back
    depends_on: [front]
bare:
  port: 5200
  max_instances: 3
few:
  port: 5300
  max_instances: 1
  container:
    image: few
",
    );
    assert_eq!(
        found,
        [
            "container-config: service `front`: container.depends_on names `bare`, which has no `container:` section",
            "container-config: service `front`: container.depends_on names `front` itself",
            "container-config: service `front`: container.depends_on names `few`, which has 1 instances while `front` has 3: give `few` at least as many",
            "container-config: service `front`: `{bare.port.address}` refers to `bare`, which has no `container:` section",
            "container-config: service `front`: unknown placeholder `{back.port.address.more}` in `{back.port.address.more}`",
            "container-config: service `front`: `{back.http_port}` names port key `http_port` of `back`, which has `port`",
            "stack-config: stack `web` lists `ghost`, which is not a service of this registry",
            "dependency-cycle: depends_on makes a cycle: front → back → front; nothing in it could start first, so remove one of the dependencies",
        ]
    );
}

#[test]
fn files_that_a_volume_would_hide_or_that_nest_are_findings() {
    let found = messages(
        "web:\n  port: 5000\n  container:\n    image: web\n    volumes:\n      data: /data/\n      cache: /var/lib/cache\n    files:\n      /data: x\n      /data/app.yml: x\n      /etc/app: x\n      /etc/app/more.yml: x\n      /etc/ok.yml: x\n      /var/lib: x\n",
    );
    assert_eq!(
        found,
        [
            "container-config: service `web`: container.files writes /data, inside the volume mounted at /data: files go into the container's own filesystem; move the file or the volume",
            "container-config: service `web`: container.files writes /data/app.yml, inside the volume mounted at /data: files go into the container's own filesystem; move the file or the volume",
            "container-config: service `web`: container.files writes /var/lib, but a volume is mounted at /var/lib/cache below it: /var/lib cannot be a file and a directory",
            "container-config: service `web`: container.files writes both /data and /data/app.yml: /data cannot be a file and a directory",
            "container-config: service `web`: container.files writes both /etc/app and /etc/app/more.yml: /etc/app cannot be a file and a directory",
        ]
    );
}

#[test]
fn named_dynamic_ranges_stay_apart_from_each_other_and_from_slots() {
    let clean = "dynamic_ranges:\n  ml: 30500-30599\n  web: [30600, 30699]\nredis:\n  port: 6379\n";
    assert_eq!(messages(clean), Vec::<String>::new());
    let overlapping = "dynamic_ranges:\n  ml: 30500-30599\n  web: 30550-30650\nredis:\n  port: 6379\n";
    assert_eq!(
        messages(overlapping),
        [
            "dynamic-range: dynamic ranges `ml` (30500-30599) and `web` (30550-30650) overlap: make them disjoint, so two kinds of projects never draw from the same ports"
        ]
    );
    let on_slots = "dynamic_ranges:\n  cache: 6400-6599\nredis:\n  port: 6379\n";
    assert_eq!(
        messages(on_slots),
        [
            "dynamic-range: dynamic range `cache` (6400-6599) holds 2 registry slot(s), the first redis[1].port = 6479: move the range off the registry's ports"
        ]
    );
}

#[test]
fn every_overlap_of_named_ranges_is_found_with_the_default_range_and_reserved_ports() {
    let nested = "dynamic_ranges:\n  big: 30000-30999\n  tiny: 30001-30002\n  mid: 30500-30600\nredis:\n  port: 6379\n";
    let found = messages(nested);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found.iter().any(|message| message.contains("`big` (30000-30999) and `mid` (30500-30600) overlap")),
        "{found:?}"
    );
    let beside = "dynamic_range: 30500-30999\nreserved:\n  - ports: 30600-30699\n    reason: nodes\ndynamic_ranges:\n  ml: 30500-30599\n  web: 30600-30699\nredis:\n  port: 6379\n";
    let found = messages(beside);
    assert!(
        found.iter().any(|message| message.contains("`ml` (30500-30599) overlaps dynamic_range (30500-30999)")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|message| message.contains("`web` (30600-30699) overlaps the reserved ports 30600-30699")),
        "{found:?}"
    );
}

#[test]
fn fallback_ranges_hold_no_other_slot_reserved_port_or_fallback() {
    let found = messages(
        "reserved:\n  - ports: \"3215\"\n    reason: probe\nweb:\n  port: {port: 3200, fallback: 3210-3220}\n  max_instances: 2\napi:\n  port: {port: 3350, fallback: 3219-3225}\n  max_instances: 1\ndocs:\n  port: 3224\n  max_instances: 1\n",
    );
    assert_eq!(
        found,
        [
            "fallback-range: web[0].port's fallback range 3210-3220 overlaps reserved 3215 (probe): move the range off it",
            "fallback-range: api[0].port's fallback range 3219-3225 holds docs[0].port = 3224: narrow the range so that a fallback never sits on another port",
            "fallback-range: api[0].port's fallback range 3219-3225 overlaps web[0].port's fallback range 3210-3220: make them disjoint",
        ]
    );
    let clean = registry("web:\n  port: {port: 3200, fallback: 3210-3220}\n  max_instances: 2\n");
    assert_eq!(validate(&clean).findings, []);
    assert_eq!(clean.services[0].ports[0].fallback(), PortRange::new(3210, 3220));
}
