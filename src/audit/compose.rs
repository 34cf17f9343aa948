//! The host ports a compose file publishes, read with compose's own rules: the file must
//! parse as a Compose file (after interpolation, with the variables of the `.env` beside
//! it), and each `ports:` entry, short (`"${API_PORT:-8000}:8000"`) or long
//! (`published: 8000`), is read by the Compose types, at the line where it is written.

use std::collections::HashMap;
use std::str::FromStr;

use compose_spec::service::ports::{Port, Protocol as ComposeProtocol, ShortPort};

use super::interpolate::interpolate;
use super::marked::{self, Marked, Node};
use super::{Claim, HOST, SourceKind};
use crate::probe::Protocol;
use crate::registry::names::one_line;

/// Every host port `text` (the compose file at `location`) publishes; `project` names the
/// directory its services belong to (files of one directory merge by service name).
pub(super) fn claims(
    location: &str,
    project: &str,
    text: &str,
    variables: &HashMap<String, String>,
) -> Result<Vec<Claim>, String> {
    let (whole, _) = interpolate(text, variables).map_err(|problem| format!("{location}: {problem}"))?;
    let not_compose = |error: serde_yaml::Error| {
        let place = error.location().map_or_else(String::new, |at| format!(":{}:{}", at.line(), at.column()));
        format!("{location}{place}: not a Compose file: {}", one_line(&error.to_string()))
    };
    // Merge keys (`<<: *base`) are how compose files share settings; Compose applies them.
    let mut value = serde_yaml::from_str::<serde_yaml::Value>(&whole).map_err(not_compose)?;
    value.apply_merge().map_err(not_compose)?;
    if let Err(error) = serde_yaml::from_value::<compose_spec::Compose>(value) {
        // A value has no lines: the text read as written says where, when it fails there too.
        let located = serde_yaml::from_str::<compose_spec::Compose>(&whole).err();
        return Err(not_compose(located.unwrap_or(error)));
    }
    let documents = marked::documents(text).map_err(|problem| format!("{location}:{problem}"))?;
    let mut claims = Vec::new();
    let Some(services) = documents.first().and_then(|document| document.get("services")) else { return Ok(claims) };
    for (name, service) in services.entries() {
        let Some(name) = name.text() else { continue };
        for (index, item) in service.get("ports").map(Marked::items).unwrap_or_default().iter().enumerate() {
            let at = format!("{location}:{}", item.line);
            let (ports, used) = entry(item, variables).map_err(|problem| format!("{at}: service {name}: {problem}"))?;
            let variable = port_variable(&used);
            for (port, protocol) in ports {
                claims.push(Claim {
                    port,
                    protocol,
                    scope: HOST.to_string(),
                    source: SourceKind::Compose,
                    claimant: format!("compose service {name}"),
                    variable: variable.clone(),
                    location: at.clone(),
                    // Each entry publishes its ports: two entries on one port collide, in
                    // one service or two, whatever variable they go through.
                    owner: format!("compose:{project}/{name}#{index}"),
                });
            }
        }
    }
    Ok(claims)
}

/// The host ports of one `ports:` entry.
type Published = Vec<(u16, Protocol)>;

/// The host ports of one `ports:` entry and the variables it named.
fn entry(item: &Marked, variables: &HashMap<String, String>) -> Result<(Published, Vec<String>), String> {
    let mut used = Vec::new();
    let ports: Vec<Port> = match &item.node {
        Node::Scalar(text) => {
            let (value, named) = interpolate(text, variables)?;
            used = named;
            let short = ShortPort::from_str(&value).map_err(|error| format!("port {value:?}: {error}"))?;
            short.into_long_iter().collect()
        }
        Node::Mapping(entries) => {
            let mut mapping = serde_yaml::Mapping::new();
            for (key, value) in entries {
                let (Some(key), Some(value)) = (key.text(), value.text()) else { continue };
                let (value, named) = interpolate(value, variables)?;
                used.extend(named);
                let value: serde_yaml::Value = serde_yaml::from_str(&value).unwrap_or(serde_yaml::Value::String(value));
                mapping.insert(serde_yaml::Value::String(key.to_string()), value);
            }
            let port: Port = serde_yaml::from_value(serde_yaml::Value::Mapping(mapping))
                .map_err(|error| format!("port: {}", one_line(&error.to_string())))?;
            vec![port]
        }
        Node::Sequence(_) | Node::Alias => return Ok((Vec::new(), used)),
    };
    let mut published = Vec::new();
    for port in ports {
        let protocol = match port.protocol {
            Some(ComposeProtocol::Udp) => Protocol::Udp,
            _ => Protocol::Tcp,
        };
        if let Some(range) = port.published {
            published.extend((range.start()..=range.end().unwrap_or(range.start())).map(|port| (port, protocol)));
        }
    }
    Ok((published, used))
}

/// The variable that sets an entry's port: its only one, or the one named like a port.
fn port_variable(used: &[String]) -> Option<String> {
    match used {
        [only] => Some(only.clone()),
        _ => used.iter().rev().find(|name| name.ends_with("PORT")).cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
services:
  api:
    image: example/api:${TAG:-1}
    ports:
      - \"${API_PORT:-8000}:8000\"
      - \"127.0.0.1:9000-9001:9000-9001/udp\"
      - target: 80
        published: \"${WEB_PORT:-8080}\"
      - \"3000\"
";

    #[test]
    fn short_and_long_entries_give_their_host_ports_at_their_lines() {
        let variables: HashMap<String, String> = [("API_PORT".to_string(), "8100".to_string())].into();
        let found: Vec<(u16, Protocol, String, Option<String>)> = claims("compose.yaml", "dir", FILE, &variables)
            .expect("reads")
            .into_iter()
            .map(|claim| (claim.port, claim.protocol, claim.location, claim.variable))
            .collect();
        let at = |line: usize| format!("compose.yaml:{line}");
        assert_eq!(
            found,
            [
                (8100, Protocol::Tcp, at(5), Some("API_PORT".to_string())),
                (9000, Protocol::Udp, at(6), None),
                (9001, Protocol::Udp, at(6), None),
                (8080, Protocol::Tcp, at(7), Some("WEB_PORT".to_string())),
            ]
        );
    }

    #[test]
    fn a_file_compose_would_refuse_is_reported_with_its_place() {
        let refused = claims("compose.yaml", "dir", "services:\n  api:\n    ports: [\"99999:80\"]\n", &HashMap::new());
        assert!(refused.is_err_and(|problem| problem.starts_with("compose.yaml:")), "located");
        let required =
            claims("compose.yaml", "dir", "services:\n  api:\n    image: ${IMAGE:?set IMAGE}\n", &HashMap::new());
        assert_eq!(required, Err("compose.yaml: IMAGE is required: set IMAGE".to_string()));
    }
}
