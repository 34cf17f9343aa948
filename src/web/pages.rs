//! The pages, rendered on the server from the templates beside this file: the port map,
//! the instances and the leases. A `fragment` render is the part of a page that updates,
//! which the page's script fetches and swaps in.

use std::sync::LazyLock;

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::Instance;
use super::actions::Access;
use super::map::{MapPort, PortMap};
use crate::fleet::Host;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut templates = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("templates/base.html")),
        ("map.html", include_str!("templates/map.html")),
        ("map_live.html", include_str!("templates/map_live.html")),
        ("instances.html", include_str!("templates/instances.html")),
        ("instances_live.html", include_str!("templates/instances_live.html")),
        ("leases.html", include_str!("templates/leases.html")),
        ("instance.html", include_str!("templates/instance.html")),
        ("instance_live.html", include_str!("templates/instance_live.html")),
        ("not_found.html", include_str!("templates/not_found.html")),
        ("leases_live.html", include_str!("templates/leases_live.html")),
        ("instance_action.html", include_str!("templates/instance_action.html")),
        ("login.html", include_str!("templates/login.html")),
        ("action.html", include_str!("templates/action.html")),
        ("logged_in.html", include_str!("templates/logged_in.html")),
        ("fleet.html", include_str!("templates/fleet.html")),
        ("fleet_live.html", include_str!("templates/fleet_live.html")),
    ] {
        templates.add_template(name, source).expect("the shipped templates parse");
    }
    templates
});

/// A port's place on its band, in percent of the band's width.
#[derive(Serialize)]
struct Mark<'a> {
    port: &'a MapPort,
    left: f64,
    class: &'static str,
    title: String,
}

/// A stretch of the port space where marked ports lie close together, drawn as a band of
/// its own: on the band of the whole port space, ports a few apart fall on one pixel.
#[derive(Serialize)]
struct Zoom<'a> {
    first: u16,
    last: u16,
    /// Its place on the band of the whole port space.
    left: f64,
    width: f64,
    /// The services and projects on it, for its caption.
    names: String,
    marks: Vec<Mark<'a>>,
    conflicts: usize,
}

/// Ports further apart than this start a new zoomed band.
const ZOOM_GAP: u16 = 64;
/// The widest stretch one zoomed band shows, so that its marks stay apart.
const ZOOM_WIDTH: u16 = 512;
/// How many names a zoomed band's caption lists before it says how many more.
const ZOOM_NAMES: usize = 4;

/// Groups `ports` (in port order) into stretches of neighbouring ports; pure.
fn stretches(ports: &[MapPort]) -> Vec<&[MapPort]> {
    let mut stretches = Vec::new();
    let mut start = 0;
    for index in 1..=ports.len() {
        let ends = index == ports.len()
            || ports[index].port - ports[index - 1].port > ZOOM_GAP
            || ports[index].port - ports[start].port >= ZOOM_WIDTH;
        if ends {
            stretches.push(&ports[start..index]);
            start = index;
        }
    }
    stretches
}

fn zoom(ports: &[MapPort]) -> Zoom<'_> {
    let (first, last) = (ports[0].port, ports[ports.len() - 1].port);
    let span = f64::from(last - first) + 1.0;
    let marks = ports
        .iter()
        .map(|port| Mark {
            port,
            left: (f64::from(port.port - first) + 0.5) * 100.0 / span,
            class: class(port),
            title: title(port),
        })
        .collect();
    let mut names: Vec<&str> = Vec::new();
    for port in ports {
        let name = port
            .slot
            .as_ref()
            .map(|slot| slot.service.as_str())
            .or(port.lease.as_ref().map(|lease| lease.project.as_str()));
        if let Some(name) = name.filter(|name| !names.contains(name)) {
            names.push(name);
        }
    }
    let more = names.len().saturating_sub(ZOOM_NAMES);
    let mut names = names.into_iter().take(ZOOM_NAMES).collect::<Vec<_>>().join(", ");
    if more > 0 {
        names.push_str(&format!(" and {more} more"));
    }
    Zoom {
        first,
        last,
        left: percent(first),
        width: (percent(last) - percent(first)).max(0.2),
        names,
        marks,
        conflicts: ports.iter().filter(|port| port.conflict.is_some()).count(),
    }
}

/// A range's place on the band.
#[derive(Serialize)]
struct Span<'a> {
    kind: &'a str,
    name: &'a str,
    start: u16,
    end: u16,
    left: f64,
    width: f64,
}

fn percent(port: u16) -> f64 {
    f64::from(port) * 100.0 / 65536.0
}

/// What hovering a port says: its slot, lease, listeners, container and conflict.
fn title(port: &MapPort) -> String {
    let mut parts = vec![format!("port {}", port.port)];
    if let Some(slot) = &port.slot {
        parts.push(format!("slot {}", slot.label));
    }
    if let Some(lease) = &port.lease {
        parts.push(format!("leased to {} ({})", lease.project, lease.service));
    }
    parts.extend(port.listeners.iter().map(|listener| format!("held by {listener}")));
    if let Some(container) = &port.container {
        parts.push(format!("container {container}"));
    }
    if let Some(conflict) = &port.conflict {
        parts.push(format!("CONFLICT: {}", conflict_text(conflict)));
    }
    parts.join("\n")
}

fn conflict_text(conflict: &super::map::Conflict) -> String {
    use super::map::Conflict;
    match conflict {
        Conflict::SlotHeld { holder } => format!("the slot is held by {holder}, not by its instance"),
        Conflict::LeaseUnused { container } => format!("leased to running {container}, but nothing listens"),
        Conflict::ContainerGone { container } => format!("leased to {container}, which no longer exists"),
        Conflict::HeldByOther { holder } => format!("held by {holder}, not by the lease's owner"),
    }
}

fn class(port: &MapPort) -> &'static str {
    match (&port.conflict, &port.slot, &port.lease) {
        (Some(_), _, _) => "conflict",
        (None, Some(_), _) if port.container.is_some() || !port.listeners.is_empty() => "slot in-use",
        (None, Some(_), _) => "slot",
        (None, None, Some(_)) => "lease",
        (None, None, None) => "listener",
    }
}

/// Renders page `name` (`map`), or only its live part (`map_live`) for a `fragment`.
fn render(name: &str, fragment: bool, values: minijinja::Value) -> String {
    let name = if fragment { format!("{name}_live.html") } else { format!("{name}.html") };
    let template = TEMPLATES.get_template(&name).expect("a shipped template");
    template
        .render(values)
        .unwrap_or_else(|error| format!("<p class=\"error\">the page could not be rendered: {error}</p>"))
}

/// The port map.
pub fn map(map: &PortMap, environment: &str, access: &Access, fragment: bool) -> String {
    let zooms: Vec<Zoom<'_>> = stretches(&map.ports).into_iter().map(zoom).collect();
    let spans: Vec<Span<'_>> = map
        .ranges
        .iter()
        .map(|range| Span {
            kind: range.kind,
            name: &range.name,
            start: range.start,
            end: range.end,
            left: percent(range.start),
            width: (percent(range.end) - percent(range.start)).max(0.2),
        })
        .collect();
    let conflicts: Vec<(u16, String)> =
        map.ports.iter().filter_map(|port| Some((port.port, conflict_text(port.conflict.as_ref()?)))).collect();
    let slots = map.ports.iter().filter(|port| port.slot.is_some()).count();
    let leases = map.ports.iter().filter(|port| port.lease.is_some()).count();
    render(
        "map",
        fragment,
        context! {
            page => "map", environment, slots, leases, access => Value::from(Serde(access)),
            zooms => Value::from(Serde(&zooms)),
            spans => Value::from(Serde(&spans)),
            conflicts => Value::from(Serde(&conflicts)),
            ports => Value::from(Serde(&map.ports)),
            containers_error => Value::from(Serde(&map.containers_error)),
        },
    )
}

/// What the instances page offers to start: the registry's services that run as containers,
/// and its environments.
#[derive(Debug, Clone, Default)]
pub struct Startable {
    /// The services.
    pub services: Vec<String>,
    /// The environments.
    pub environments: Vec<String>,
}

/// The instances berth manages.
pub fn instances(
    instances: &Result<Vec<Instance>, String>,
    startable: &Startable,
    access: &Access,
    fragment: bool,
) -> String {
    let (instances, error) = match instances {
        Ok(instances) => (instances.as_slice(), None),
        Err(error) => (&[][..], Some(error)),
    };
    render(
        "instances",
        fragment,
        context! {
            page => "instances",
            instances => Value::from(Serde(instances)),
            error => Value::from(Serde(error)),
            access => Value::from(Serde(access)),
            services => Value::from(Serde(&startable.services)),
            environments => Value::from(Serde(&startable.environments)),
        },
    )
}

/// The ledger's leases.
pub fn leases(map: &PortMap, access: &Access, fragment: bool) -> String {
    let leased: Vec<&MapPort> = map.ports.iter().filter(|port| port.lease.is_some()).collect();
    let conflicts: Vec<(u16, String)> =
        leased.iter().filter_map(|port| Some((port.port, conflict_text(port.conflict.as_ref()?)))).collect();
    render(
        "leases",
        fragment,
        context! {
            page => "leases",
            leased => Value::from(Serde(&leased)),
            conflicts => Value::from(Serde(&conflicts)),
            access => Value::from(Serde(access)),
        },
    )
}

/// The fleet: every host's instances and leases; `None` when these pages see one host only.
pub fn fleet(answer: Option<&Result<Vec<Host>, String>>, access: &Access, fragment: bool) -> String {
    let (hosts, error) = match answer {
        Some(Ok(hosts)) => (hosts.as_slice(), None),
        Some(Err(error)) => (&[][..], Some(error.as_str())),
        None => (&[][..], None),
    };
    let rows = crate::fleet::rows(hosts);
    let leases = crate::fleet::lease_rows(hosts);
    render(
        "fleet",
        fragment,
        context! {
            page => "fleet",
            configured => answer.is_some(),
            error => error,
            rows => Value::from(Serde(&rows)),
            leases => Value::from(Serde(&leases)),
            access => Value::from(Serde(access)),
        },
    )
}

/// One instance with its last log lines.
pub fn instance(instance: &Instance, logs: &[String], access: &Access, fragment: bool) -> String {
    render(
        "instance",
        fragment,
        context! {
            page => "instances",
            instance => Value::from(Serde(instance)),
            logs => Value::from(Serde(logs)),
            access => Value::from(Serde(access)),
        },
    )
}

/// The log-in form, saying why the last try failed.
pub fn login(error: Option<&str>) -> String {
    render("login", false, context! { page => "", error, access => Value::from(Serde(&Access::ReadOnly)) })
}

/// The answer to a log-in: hands the page the session's CSRF token to keep, then goes on
/// to the instances.
pub fn logged_in(csrf: &str) -> String {
    render("logged_in", false, context! { page => "", csrf, access => Value::from(Serde(&Access::LoggedIn)) })
}

/// What an action did, or why it failed.
#[derive(Debug, Clone, Serialize)]
pub struct ActionOutcome<'a> {
    /// `release`, `stop`, `start`.
    pub action: &'a str,
    /// One line saying what happened.
    pub message: String,
    /// The failure's kind, when it failed.
    pub kind: Option<String>,
    /// Where to go back to, and its name.
    pub back: &'a str,
    /// The name of the page to go back to.
    pub back_name: &'a str,
}

/// The page showing an action's outcome.
pub fn action(outcome: &ActionOutcome<'_>, access: &Access) -> String {
    render(
        "action",
        false,
        context! {
            page => "",
            action => outcome.action,
            message => &outcome.message,
            kind => &outcome.kind,
            failed => outcome.kind.is_some(),
            back => outcome.back,
            back_name => outcome.back_name,
            access => Value::from(Serde(access)),
        },
    )
}

/// A page saying what was not found.
pub fn not_found(what: &str) -> String {
    render("not_found", false, context! { page => "", what, access => Value::from(Serde(&Access::ReadOnly)) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::map::{Conflict, MapLease, SlotName};

    fn sample_map() -> PortMap {
        let port = MapPort {
            port: 6379,
            slot: Some(SlotName {
                service: "redis".into(),
                instance: 0,
                key: "port".into(),
                label: "redis[0].port".into(),
            }),
            lease: Some(MapLease {
                project: "<b>x</b>".into(),
                service: "s".into(),
                owner_pid: Some(7),
                age_seconds: 5,
                ttl_seconds: Some(60),
                stale: true,
            }),
            listeners: vec!["tcp 127.0.0.1:6379 pid 7 (nc)".into()],
            container: None,
            conflict: Some(Conflict::SlotHeld { holder: "pid 7 (nc)".into() }),
        };
        PortMap { ports: vec![port], ranges: Vec::new(), conflicts: 1, containers_error: Some("engine away".into()) }
    }

    fn bare(port: u16) -> MapPort {
        MapPort { port, slot: None, lease: None, listeners: Vec::new(), container: None, conflict: None }
    }

    #[test]
    fn neighbouring_ports_share_a_zoomed_band_and_distant_or_too_many_do_not() {
        let ports: Vec<MapPort> = [80, 100, 144, 209, 6379, 6380].into_iter().map(bare).collect();
        let found: Vec<Vec<u16>> =
            stretches(&ports).iter().map(|stretch| stretch.iter().map(|port| port.port).collect()).collect();
        assert_eq!(found, vec![vec![80, 100, 144], vec![209], vec![6379, 6380]]);
        let wide: Vec<MapPort> = (0..2000).map(|index| bare(10_000 + index * 2)).collect();
        let bands = stretches(&wide);
        assert_eq!(bands.len(), 8);
        assert!(bands.iter().all(|band| band[band.len() - 1].port - band[0].port < ZOOM_WIDTH));
        assert_eq!(bands.iter().map(|band| band.len()).sum::<usize>(), 2000);
        assert!(stretches(&[]).is_empty());
        let alone = zoom(&wide[..1]);
        assert_eq!((alone.first, alone.last, alone.marks[0].left), (10_000, 10_000, 50.0));
    }

    #[test]
    fn every_page_and_fragment_renders_and_escapes_what_it_shows() {
        let map = sample_map();
        let instance = Instance {
            name: "redis-development".into(),
            service: "redis".into(),
            instance: Some(0),
            environment: "development".into(),
            state: "running".into(),
            status: "Up".into(),
            endpoints: vec!["127.0.0.1:6379".into()],
            host_ports: vec![6379],
        };
        let csrf = Access::LoggedIn;
        let startable = Startable { services: vec!["redis".into()], environments: vec!["development".into()] };
        let pages = [
            super::map(&map, "development", &Access::ReadOnly, false),
            super::map(&map, "development", &Access::LoggedOut, true),
            instances(&Ok(vec![instance.clone()]), &startable, &csrf, false),
            instances(&Err("engine away".into()), &startable, &Access::ReadOnly, true),
            leases(&map, &Access::ReadOnly, false),
            leases(&map, &csrf, true),
            super::instance(&instance, &["<ready>".to_string()], &Access::ReadOnly, false),
            not_found("berth manages no container named x"),
            login(Some("that is <not> the token")),
            action(
                &ActionOutcome {
                    action: "stop",
                    message: "<refused>".into(),
                    kind: Some("NotManaged".into()),
                    back: "/instances",
                    back_name: "the instances",
                },
                &csrf,
            ),
        ];
        for page in &pages {
            assert!(!page.contains("could not be rendered"), "{page}");
        }
        assert!(pages[0].contains("redis[0].port") && pages[0].contains("class=\"mark conflict\""));
        assert!(pages[4].contains("&lt;b&gt;x&lt;") && !pages[4].contains("<b>x</b>"), "{}", pages[4]);
        assert!(pages[6].contains("&lt;ready&gt;"));
        assert!(!pages[1].contains("<html"), "a fragment is only the live part");
        assert!(pages[1].contains("href=\"/login\"") || !pages[1].contains("<header"), "{}", pages[1]);
        assert!(!pages[0].contains("<form"), "read-only pages offer no actions: {}", pages[0]);
        assert!(pages[2].contains("action=\"/actions/stop\"") && pages[2].contains("action=\"/actions/start\""));
        assert!(pages[2].contains("name=\"csrf\" value=\"\""), "pages never carry the CSRF token: {}", pages[2]);
        let handed = logged_in("c<s>rf");
        assert!(handed.contains("data-csrf=\"c&lt;s&gt;rf\"") && !handed.contains("data-every"), "{handed}");
        assert!(pages[5].contains("action=\"/actions/release\"") && pages[5].contains("value=\"6379\""));
        assert!(!pages[4].contains("/actions/release"));
        assert!(pages[8].contains("that is &lt;not&gt; the token") && pages[8].contains("type=\"password\""));
        assert!(pages[9].contains("&lt;refused&gt;") && pages[9].contains("NotManaged"));
        assert!(!pages[8].contains("data-every") && !pages[9].contains("data-every"), "result pages do not poll");
    }
}
