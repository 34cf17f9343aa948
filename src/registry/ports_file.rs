//! The flat `ports:` file format (`config/ports.yaml`) that teams wrote before berth, read
//! as it is written and mapped onto berth's model.
//!
//! Each entry of `ports:` becomes a service with one port key, `port`, and one instance.
//! Its `range` bounds overrides; when the range is wider than one port and
//! `conflict_detection.auto_resolve` (or the entry's own `conflict_check`) asks for it, the
//! range is also where a lookup falls back when another process holds the port.
//! `immutable: true` and `env_var: null` make the port ignore override variables;
//! `reserved:` entries reserve their port. With `warn_on_conflict: true`, the hazards such a
//! file accepts by design (a port on a reserved port, a fallback range over another port)
//! are warnings, so the file as written stays usable.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::model::{DEFAULT_ENVIRONMENT, Environment, OnConflict, PortKey, PortRange, Registry, Reservation, Service};
use super::names;
use super::schema::{OneLine, PORT, RangeValue, UniqueKey, port_list, service_name};

/// Whether `text`'s top level looks like a `ports:` file: a `ports:` map one of whose
/// entries has a `default:` port. A berth registry has no top-level `ports:` word. Only the shape is
/// read, so a mistake further in (a repeated entry) is reported by the format it belongs to.
pub(super) fn is_ports_file(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Shape {
        ports: Option<AnyEntryHasDefault>,
    }
    matches!(serde_yaml::from_str::<Shape>(text), Ok(Shape { ports: Some(AnyEntryHasDefault(true)) }))
}

struct AnyEntryHasDefault(bool);

impl<'de> Deserialize<'de> for AnyEntryHasDefault {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct First;
        impl<'de> Visitor<'de> for First {
            type Value = AnyEntryHasDefault;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // Any entry with `default:` tells the format, so a first entry that lacks it
                // is reported as a flat file's mistake, not read as berth's own format.
                let mut any = false;
                while let Some((_, HasDefault(has))) = map.next_entry::<IgnoredAny, HasDefault>()? {
                    any |= has;
                }
                Ok(AnyEntryHasDefault(any))
            }
        }
        deserializer.deserialize_map(First)
    }
}

struct HasDefault(bool);

impl<'de> Deserialize<'de> for HasDefault {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = HasDefault;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found = false;
                while let Some((key, IgnoredAny)) = map.next_entry::<serde_yaml::Value, IgnoredAny>()? {
                    found |= key.as_str() == Some("default");
                }
                Ok(HasDefault(found))
            }
            // An entry that is no map (`web:` alone) has no `default:`; the format is told by
            // the others, and the loader then names this one's mistake.
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(HasDefault(false))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(HasDefault(false))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(HasDefault(false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(HasDefault(false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(HasDefault(false))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(HasDefault(false))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
                while items.next_element::<IgnoredAny>()?.is_some() {}
                Ok(HasDefault(false))
            }
        }
        deserializer.deserialize_any(Keys)
    }
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PortsFile {
    ports: Entries,
    #[serde(default)]
    conflict_detection: ConflictDetection,
    #[serde(default)]
    reserved: Vec<ReservedEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a port entry: a map with `default:` (and `env_var`, `range`, … as needed)")]
struct Entry {
    #[serde(deserialize_with = "port")]
    default: u16,
    #[serde(default, deserialize_with = "variable")]
    env_var: Option<String>,
    #[serde(default)]
    description: Option<OneLine>,
    #[serde(default)]
    range: Option<RangeValue>,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    immutable: bool,
    #[serde(default)]
    conflict_check: bool,
}

/// `conflict_detection:`; without the block, conflicts are detected but not resolved.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a map of `enabled`, `check_on_startup`, `auto_resolve` and `warn_on_conflict` (true or false)"
)]
struct ConflictDetection {
    enabled: bool,
    // berth checks a port every time it starts an instance, whatever this says.
    #[serde(rename = "check_on_startup")]
    _check_on_startup: bool,
    auto_resolve: bool,
    warn_on_conflict: bool,
}

impl Default for ConflictDetection {
    fn default() -> Self {
        Self { enabled: true, _check_on_startup: true, auto_resolve: false, warn_on_conflict: false }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a reserved entry: a map with `port:` and `service:` (and `note:`)")]
struct ReservedEntry {
    #[serde(deserialize_with = "port_list")]
    port: Vec<PortRange>,
    service: OneLine,
    #[serde(default)]
    note: Option<OneLine>,
}

fn port<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    de::DeserializeSeed::deserialize(PORT, deserializer)
}

fn variable<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let name: Option<String> = Option::deserialize(deserializer)?;
    if let Some(name) = &name {
        names::check_variable(name).map_err(de::Error::custom)?;
    }
    Ok(name)
}

/// `ports:` in file order; a repeated name or a default outside its range is raised while
/// the parser still stands on it.
#[derive(Debug)]
struct Entries(Vec<(String, Entry)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a map of ports such as `api: {default: 8000, env_var: API_PORT}`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
        let mut entries = Vec::new();
        let mut seen = HashSet::new();
        while let Some(name) = map.next_key_seed(UniqueKey { seen: &mut seen, kind: "port", rule: service_name })? {
            let entry: Entry = map.next_value()?;
            if let Some(RangeValue(range)) = &entry.range
                && !range.contains(u32::from(entry.default))
            {
                return Err(de::Error::custom(format_args!(
                    "`{name}`: default {} lies outside its range [{}, {}]; widen the range or change the default",
                    entry.default, range.start, range.end
                )));
            }
            entries.push((name, entry));
        }
        Ok(Entries(entries))
    }
}

impl PortsFile {
    /// berth's model of the file.
    pub(super) fn into_registry(self) -> Registry {
        let detection = self.conflict_detection;
        let services = self
            .ports
            .0
            .into_iter()
            .map(|(name, entry)| {
                let range = entry.range.map(|RangeValue(range)| range);
                let wide = range.filter(|range| range.len() > 1);
                let on_conflict = match wide {
                    Some(range) if detection.enabled && (detection.auto_resolve || entry.conflict_check) => {
                        OnConflict::Fallback(range)
                    }
                    _ if detection.enabled && entry.conflict_check => OnConflict::Refuse,
                    _ => OnConflict::Ignore,
                };
                let fixed = entry.immutable || entry.env_var.is_none();
                let key = PortKey {
                    name: "port".to_string(),
                    base: entry.default,
                    variable: entry.env_var,
                    fixed,
                    on_conflict,
                };
                Service {
                    name,
                    description: entry.description.map(|OneLine(text)| text),
                    ports: vec![key],
                    instance_increment: 1,
                    max_instances: 1,
                    range,
                    container: None,
                    optional: entry.optional,
                }
            })
            .collect();
        let reserved = self
            .reserved
            .into_iter()
            .map(|entry| {
                let reason = match entry.note {
                    Some(OneLine(note)) => format!("{}: {note}", entry.service.0),
                    None => entry.service.0,
                };
                Reservation { ports: entry.port, reason }
            })
            .collect();
        Registry {
            services,
            environments: vec![Environment { name: DEFAULT_ENVIRONMENT.to_string(), offset: 0 }],
            reserved,
            dynamic_range: None,
            dynamic_ranges: Vec::new(),
            overrides: true,
            stacks: Vec::new(),
            warn_on_conflict: detection.warn_on_conflict,
        }
    }
}

#[cfg(test)]
mod tests;
