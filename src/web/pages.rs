//! The pages, rendered on the server from the templates beside this file: the port map,
//! the instances and the leases. A `fragment` render is the part of a page that updates,
//! which the page's script fetches and swaps in.

use std::sync::LazyLock;

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::Instance;
use super::map::{MapPort, PortMap};

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut templates = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("templates/base.html")),
        ("map.html", include_str!("templates/map.html")),
        ("map_live.html", include_str!("templates/map_live.html")),
        ("instances.html", include_str!("templates/instances.html")),
        ("instances_live.html", include_str!("templates/instances_live.html")),
        ("leases.html", include_str!("templates/leases.html")),
        ("leases_live.html", include_str!("templates/leases_live.html")),
    ] {
        templates.add_template(name, source).expect("the shipped templates parse");
    }
    templates
});

/// A port's place on the band, in percent of the port space.
#[derive(Serialize)]
struct Mark<'a> {
    port: &'a MapPort,
    left: f64,
    class: &'static str,
    title: String,
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
pub fn map(map: &PortMap, environment: &str, fragment: bool) -> String {
    let marks: Vec<Mark<'_>> = map
        .ports
        .iter()
        .map(|port| Mark { port, left: percent(port.port), class: class(port), title: title(port) })
        .collect();
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
            page => "map", environment, slots, leases,
            marks => Value::from(Serde(&marks)),
            spans => Value::from(Serde(&spans)),
            conflicts => Value::from(Serde(&conflicts)),
            ports => Value::from(Serde(&map.ports)),
            containers_error => Value::from(Serde(&map.containers_error)),
        },
    )
}

/// The instances berth manages.
pub fn instances(instances: &Result<Vec<Instance>, String>, fragment: bool) -> String {
    let (instances, error) = match instances {
        Ok(instances) => (instances.as_slice(), None),
        Err(error) => (&[][..], Some(error)),
    };
    render(
        "instances",
        fragment,
        context! { page => "instances", instances => Value::from(Serde(instances)), error => Value::from(Serde(error)) },
    )
}

/// The ledger's leases.
pub fn leases(map: &PortMap, fragment: bool) -> String {
    let leased: Vec<&MapPort> = map.ports.iter().filter(|port| port.lease.is_some()).collect();
    let conflicts: Vec<(u16, String)> =
        leased.iter().filter_map(|port| Some((port.port, conflict_text(port.conflict.as_ref()?)))).collect();
    render(
        "leases",
        fragment,
        context! { page => "leases", leased => Value::from(Serde(&leased)), conflicts => Value::from(Serde(&conflicts)) },
    )
}
