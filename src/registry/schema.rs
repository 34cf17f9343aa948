//! How the registry file's YAML maps onto berth's model, written against serde alone.
//!
//! The top level is a map of services with a few reserved words beside them (`defaults`,
//! `dynamic_range`, `environments`, `reserved`); a service's keys are either its settings or port keys ending
//! in `_port`. Both maps are read by hand-written visitors so that every mistake —
//! a duplicate key, an unknown field, a port out of range — is raised while the parser
//! still stands on the offending token, and so carries its line and column.
//! Nothing here reads files or knows which YAML crate drives it (that is `load`).

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::container::ContainerSection;
use super::model::{Environment, NamedRange, OnConflict, PortKey, PortRange, Reservation, Stack};
use super::names::{self, NameKind};
use super::suggest::did_you_mean;

/// The top-level words that are not services.
pub(super) const TOP_LEVEL_WORDS: [&str; 7] =
    ["defaults", "dynamic_range", "dynamic_ranges", "environments", "overrides", "reserved", "stacks"];
/// The settings a service may have besides its port keys.
const SERVICE_SETTINGS: [&str; 5] = ["container", "description", "instance_increment", "max_instances", "range"];

/// The registry file as written, before defaults are applied.
#[derive(Debug, Default)]
pub(super) struct Document {
    pub(super) services: Vec<ServiceEntry>,
    pub(super) defaults: Defaults,
    pub(super) environments: Vec<Environment>,
    pub(super) reserved: Vec<Reservation>,
    pub(super) dynamic_range: Option<PortRange>,
    pub(super) dynamic_ranges: Vec<NamedRange>,
    pub(super) overrides: Option<bool>,
    pub(super) stacks: Vec<Stack>,
}

/// The `defaults:` block.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Defaults {
    #[serde(default, deserialize_with = "increment")]
    pub(super) instance_increment: Option<u16>,
    #[serde(default, deserialize_with = "max_instances")]
    pub(super) max_instances: Option<u16>,
}

/// One service as written; unset settings fall back to `defaults:` in `load`.
#[derive(Debug)]
pub(super) struct ServiceEntry {
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) ports: Vec<PortKey>,
    pub(super) instance_increment: Option<u16>,
    pub(super) max_instances: Option<u16>,
    pub(super) range: Option<PortRange>,
    pub(super) container: Option<ContainerSection>,
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a map of services (`kafka:`, `redis:`, …)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut document = Document::default();
        let mut seen = HashSet::new();
        while let Some(name) = map.next_key_seed(UniqueKey { seen: &mut seen, kind: "service", rule: service_name })? {
            match name.as_str() {
                "defaults" => document.defaults = map.next_value()?,
                "overrides" => document.overrides = Some(map.next_value()?),
                "dynamic_range" => document.dynamic_range = Some(map.next_value::<RangeValue>()?.0),
                "dynamic_ranges" => document.dynamic_ranges = map.next_value::<NamedRanges>()?.0,
                "environments" => document.environments = map.next_value::<Environments>()?.0,
                "stacks" => document.stacks = map.next_value::<Stacks>()?.0,
                "reserved" => {
                    document.reserved = map
                        .next_value::<Vec<ReservationEntry>>()?
                        .into_iter()
                        .map(|entry| Reservation { ports: entry.ports, reason: entry.reason.0 })
                        .collect()
                }
                _ => {
                    let service = map.next_value_seed(ServiceSeed { name })?;
                    document.services.push(service);
                }
            }
        }
        Ok(document)
    }
}

/// A map key that must not repeat and must follow `rule`: raised where the parser stands.
pub(super) struct UniqueKey<'a> {
    pub(super) seen: &'a mut HashSet<String>,
    pub(super) kind: &'static str,
    pub(super) rule: fn(&str) -> Result<(), String>,
}

pub(super) fn service_name(name: &str) -> Result<(), String> {
    names::check_name(NameKind::Service, name)
}

fn environment_name(name: &str) -> Result<(), String> {
    names::check_name(NameKind::Environment, name)
}

fn any_key(_: &str) -> Result<(), String> {
    Ok(())
}

impl<'de> DeserializeSeed<'de> for UniqueKey<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        // The check runs inside the visitor so the parser still stands on the key and the
        // error carries the key's own line and column.
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for UniqueKey<'_> {
    type Value = String;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "a {} name", self.kind)
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<String, E> {
        if !self.seen.insert(key.to_string()) {
            return Err(E::custom(format_args!(
                "duplicate {} {}: each may appear once; merge the two entries",
                self.kind,
                names::shown(key)
            )));
        }
        (self.rule)(key).map_err(E::custom)?;
        Ok(key.to_string())
    }
}

struct ServiceSeed {
    name: String,
}

impl<'de> DeserializeSeed<'de> for ServiceSeed {
    type Value = ServiceEntry;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ServiceEntry, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ServiceSeed {
    type Value = ServiceEntry;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "service `{}` as a map with `port:` or keys ending in `_port`", self.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ServiceEntry, A::Error> {
        let mut service = ServiceEntry {
            name: self.name,
            description: None,
            ports: Vec::new(),
            instance_increment: None,
            max_instances: None,
            range: None,
            container: None,
        };
        let mut seen = HashSet::new();
        while let Some(field) = map.next_key_seed(ServiceFieldSeed { service: &service.name, seen: &mut seen })? {
            match field {
                ServiceField::Container => service.container = Some(map.next_value()?),
                ServiceField::Description => service.description = Some(map.next_value::<OneLine>()?.0),
                ServiceField::InstanceIncrement => {
                    service.instance_increment = Some(map.next_value_seed(INCREMENT)?);
                }
                ServiceField::MaxInstances => {
                    service.max_instances = Some(map.next_value_seed(MAX_INSTANCES)?);
                }
                ServiceField::Range => service.range = Some(map.next_value::<RangeValue>()?.0),
                ServiceField::Port(name) => {
                    let PortValue { base, variable, fallback } = map.next_value()?;
                    let on_conflict = fallback.map_or(OnConflict::Ignore, OnConflict::Fallback);
                    service.ports.push(PortKey { name, base, variable, fixed: false, on_conflict });
                }
            }
        }
        Ok(service)
    }
}

enum ServiceField {
    Container,
    Description,
    InstanceIncrement,
    MaxInstances,
    Range,
    Port(String),
}

struct ServiceFieldSeed<'a> {
    service: &'a str,
    seen: &'a mut HashSet<String>,
}

impl<'de> DeserializeSeed<'de> for ServiceFieldSeed<'_> {
    type Value = ServiceField;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ServiceField, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for ServiceFieldSeed<'_> {
    type Value = ServiceField;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a service setting or a port key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<ServiceField, E> {
        let key = UniqueKey { seen: self.seen, kind: "key", rule: any_key }.visit_str::<E>(key)?;
        Ok(match key.as_str() {
            "container" => ServiceField::Container,
            "description" => ServiceField::Description,
            "instance_increment" => ServiceField::InstanceIncrement,
            "max_instances" => ServiceField::MaxInstances,
            "range" => ServiceField::Range,
            _ if key == "port" || key.ends_with("_port") => {
                names::check_port_key(&key).map_err(E::custom)?;
                ServiceField::Port(key)
            }
            _ => {
                let hint = match did_you_mean(self.service, TOP_LEVEL_WORDS) {
                    Some(word) => format!(
                        "`{}` is read as a service; if it was meant as the top-level `{word}:`, correct its spelling; ",
                        self.service
                    ),
                    None => did_you_mean(&key, SERVICE_SETTINGS.iter().chain(["port"].iter()).copied())
                        .map(|known| format!("did you mean `{known}`? "))
                        .unwrap_or_default(),
                };
                return Err(E::custom(format_args!(
                    "unknown field `{key}`: {hint}a service takes {} and port keys named `port` or ending in `_port`",
                    SERVICE_SETTINGS.map(|setting| format!("`{setting}`")).join(", ")
                )));
            }
        })
    }
}

/// An integer setting with bounds, named in its error message.
#[derive(Clone, Copy)]
pub(super) struct Bounded {
    what: &'static str,
    min: i64,
    max: i64,
    help: &'static str,
}

pub(super) const PORT: Bounded =
    Bounded { what: "a port", min: 1, max: 65535, help: "ports are whole numbers from 1 to 65535" };
const INCREMENT: Bounded = Bounded {
    what: "`instance_increment`",
    min: 1,
    max: 65535,
    help: "instances need distinct ports, so the increment is at least 1",
};
const MAX_INSTANCES: Bounded =
    Bounded { what: "`max_instances`", min: 1, max: 65535, help: "a service needs at least instance 0" };
const OFFSET: Bounded =
    Bounded { what: "an environment offset", min: 0, max: 65535, help: "offsets are whole numbers from 0 to 65535" };

impl<'de> DeserializeSeed<'de> for Bounded {
    type Value = u16;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u16, D::Error> {
        deserializer.deserialize_i64(self)
    }
}

impl Visitor<'_> for Bounded {
    type Value = u16;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} as a whole number from {} to {}", self.what, self.min, self.max)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u16, E> {
        if value < self.min || value > self.max {
            return Err(E::custom(format_args!("{} of {value} is out of range: {}", self.what, self.help)));
        }
        u16::try_from(value).map_err(|_| E::custom(format_args!("{} of {value} does not fit", self.what)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u16, E> {
        match i64::try_from(value) {
            Ok(value) => self.visit_i64(value),
            Err(_) => Err(E::custom(format_args!("{} of {value} is out of range: {}", self.what, self.help))),
        }
    }
}

fn increment<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u16>, D::Error> {
    INCREMENT.deserialize(deserializer).map(Some)
}

fn max_instances<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u16>, D::Error> {
    MAX_INSTANCES.deserialize(deserializer).map(Some)
}

/// `environments:` — a map of name to offset, in file order.
struct Stacks(Vec<Stack>);

impl<'de> Deserialize<'de> for Stacks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StacksVisitor)
    }
}

struct StacksVisitor;

impl<'de> Visitor<'de> for StacksVisitor {
    type Value = Stacks;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a map of stack names to lists of services, such as `observability: [prometheus, grafana]`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Stacks, A::Error> {
        let mut stacks = Vec::new();
        let mut seen = HashSet::new();
        while let Some(name) = map.next_key_seed(UniqueKey { seen: &mut seen, kind: "stack", rule: service_name })? {
            let services = map.next_value::<Vec<String>>()?;
            if services.is_empty() {
                return Err(de::Error::custom(format_args!("stack `{name}` lists no services; name at least one")));
            }
            for service in &services {
                service_name(service).map_err(de::Error::custom)?;
            }
            stacks.push(Stack { name, services });
        }
        Ok(Stacks(stacks))
    }
}

struct NamedRanges(Vec<NamedRange>);

impl<'de> Deserialize<'de> for NamedRanges {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(NamedRangesVisitor)
    }
}

struct NamedRangesVisitor;

impl<'de> Visitor<'de> for NamedRangesVisitor {
    type Value = NamedRanges;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a map of project kinds to port ranges, such as `ml: 30500-30599`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NamedRanges, A::Error> {
        let mut ranges = Vec::new();
        let mut seen = HashSet::new();
        while let Some(name) =
            map.next_key_seed(UniqueKey { seen: &mut seen, kind: "dynamic range", rule: service_name })?
        {
            let range = map.next_value::<RangeValue>()?.0;
            ranges.push(NamedRange { name, range });
        }
        Ok(NamedRanges(ranges))
    }
}

struct Environments(Vec<Environment>);

impl<'de> Deserialize<'de> for Environments {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvironmentsVisitor)
    }
}

struct EnvironmentsVisitor;

impl<'de> Visitor<'de> for EnvironmentsVisitor {
    type Value = Environments;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a map of environment name to port offset (`staging: 1000`)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Environments, A::Error> {
        let mut environments = Vec::new();
        let mut seen = HashSet::new();
        while let Some(name) =
            map.next_key_seed(UniqueKey { seen: &mut seen, kind: "environment", rule: environment_name })?
        {
            let offset = map.next_value_seed(OFFSET)?;
            environments.push(Environment { name, offset });
        }
        Ok(Environments(environments))
    }
}

/// One entry of `reserved:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReservationEntry {
    #[serde(deserialize_with = "port_list")]
    ports: Vec<PortRange>,
    reason: OneLine,
}

/// Free text that is printed on one line: no line breaks or control characters.
#[derive(Debug)]
pub(super) struct OneLine(pub(super) String);

impl<'de> Deserialize<'de> for OneLine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        names::check_one_line("text", &text).map_err(de::Error::custom)?;
        Ok(Self(text))
    }
}

/// A port key's value: its base port, or `{port: 8000, env_var: CONTIMG_API_PORT}` to name
/// the variable that carries it.
struct PortValue {
    base: u16,
    variable: Option<String>,
    fallback: Option<PortRange>,
}

impl<'de> Deserialize<'de> for PortValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PortValueVisitor)
    }
}

struct PortValueVisitor;

const PORT_FIELDS: [&str; 3] = ["port", "env_var", "fallback"];

impl<'de> Visitor<'de> for PortValueVisitor {
    type Value = PortValue;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .write_str("a port such as 9092, or a map such as {port: 9092, env_var: KAFKA_PORT, fallback: 9093-9099}")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        PORT.visit_i64(value).map(|base| PortValue { base, variable: None, fallback: None })
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        PORT.visit_u64(value).map(|base| PortValue { base, variable: None, fallback: None })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut base = None;
        let mut variable = None;
        let mut fallback = None;
        let mut seen = HashSet::new();
        while let Some(field) = map.next_key::<String>()? {
            if !PORT_FIELDS.contains(&field.as_str()) {
                return Err(de::Error::unknown_field(&field, &PORT_FIELDS));
            }
            if !seen.insert(field.clone()) {
                return Err(de::Error::custom(format_args!("duplicate `{field}`: give it once")));
            }
            match field.as_str() {
                "port" => base = Some(map.next_value_seed(PORT)?),
                "env_var" => {
                    let name: String = map.next_value()?;
                    names::check_variable(&name).map_err(de::Error::custom)?;
                    variable = Some(name);
                }
                _ => fallback = Some(map.next_value::<RangeValue>()?.0),
            }
        }
        let base = base.ok_or_else(|| de::Error::missing_field("port"))?;
        Ok(PortValue { base, variable, fallback })
    }
}

/// A range written `8000-8009`, `[8000, 8009]` or as one port.
#[derive(Debug)]
pub(super) struct RangeValue(pub(super) PortRange);

impl<'de> Deserialize<'de> for RangeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RangeVisitor).map(RangeValue)
    }
}

struct RangeVisitor;

impl<'de> Visitor<'de> for RangeVisitor {
    type Value = PortRange;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a port range such as \"8000-8009\" or [8000, 8009]")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<PortRange, E> {
        parse_range(text).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<PortRange, E> {
        let port = PORT.visit_i64(value)?;
        Ok(PortRange { start: port, end: port })
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<PortRange, E> {
        let port = PORT.visit_u64(value)?;
        Ok(PortRange { start: port, end: port })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PortRange, A::Error> {
        let start = seq.next_element_seed(PORT)?;
        let end = seq.next_element_seed(PORT)?;
        let (Some(start), Some(end), None) = (start, end, seq.next_element::<de::IgnoredAny>()?) else {
            return Err(de::Error::custom("a range list holds exactly two ports: [first, last]"));
        };
        PortRange::new(start, end).ok_or_else(|| de::Error::custom(backwards(start, end)))
    }
}

/// `reserved:` ports: `"22"`, `"22,80,30000-32767"` (as Nomad writes them) or a bare number.
pub(super) fn port_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<PortRange>, D::Error> {
    struct PortListVisitor;

    impl Visitor<'_> for PortListVisitor {
        type Value = Vec<PortRange>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("ports such as \"22\", \"5432\" or \"22,80,30000-32767\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<PortRange>, E> {
            text.split(',').map(|part| parse_range(part.trim()).map_err(E::custom)).collect()
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Vec<PortRange>, E> {
            RangeVisitor.visit_i64(value).map(|range| vec![range])
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Vec<PortRange>, E> {
            RangeVisitor.visit_u64(value).map(|range| vec![range])
        }
    }

    deserializer.deserialize_any(PortListVisitor)
}

/// Parses `"8000"` or `"8000-8009"`; the error says what was wrong with the text.
pub fn parse_range(text: &str) -> Result<PortRange, String> {
    let port = |part: &str| -> Result<u16, String> {
        let value: i64 = part
            .trim()
            .parse()
            .map_err(|_| format!("{} in range {} is not a port number", names::shown(part), names::shown(text)))?;
        PORT.visit_i64::<de::value::Error>(value).map_err(|error| error.to_string())
    };
    let (start, end) = match text.split_once('-') {
        Some((start, end)) => (port(start)?, port(end)?),
        None => {
            let single = port(text)?;
            (single, single)
        }
    };
    PortRange::new(start, end).ok_or_else(|| backwards(start, end))
}

fn backwards(start: u16, end: u16) -> String {
    format!("range {start}-{end} is written backwards: write {end}-{start}")
}
