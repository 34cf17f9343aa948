//! Which instances a command or workflow means: `kafka:0-2 redis:1 mongodb` — a service, optionally
//! with an instance id or an inclusive range of them (instance 0 when left out).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One `service[:instances]` word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// The registry service.
    pub service: String,
    /// First instance id.
    pub first: u32,
    /// Last instance id, included.
    pub last: u32,
}

impl Selection {
    /// The one instance `instance` of `service`.
    pub fn one(service: &str, instance: u32) -> Self {
        Self { service: service.to_string(), first: instance, last: instance }
    }

    /// Every instance id selected.
    pub fn instances(&self) -> std::ops::RangeInclusive<u32> {
        self.first..=self.last
    }
}

/// Parses `2` or `0-3` into the first and last instance id (instance ids start at 0).
pub fn parse_instances(text: &str) -> Result<(u32, u32), String> {
    let id = |part: &str| {
        part.trim()
            .parse::<u32>()
            .map_err(|_| format!("`{part}` is not an instance id; write instances like `2` or `0-3`"))
    };
    let (first, last) = match text.split_once('-') {
        Some((first, last)) => (id(first)?, id(last)?),
        None => (id(text)?, id(text)?),
    };
    if first > last {
        return Err(format!("instances {first}-{last} are written backwards: write {last}-{first}"));
    }
    Ok((first, last))
}

impl FromStr for Selection {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (service, instances) = text.split_once(':').unwrap_or((text, "0"));
        if service.is_empty() {
            return Err(format!("`{text}` names no service; write `kafka`, `kafka:1` or `kafka:0-2`"));
        }
        let (first, last) = parse_instances(instances).map_err(|error| format!("{error} (in `{text}`)"))?;
        Ok(Self { service: service.to_string(), first, last })
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(formatter, "{}:{}", self.service, self.first)
        } else {
            write!(formatter, "{}:{}-{}", self.service, self.first, self.last)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Selection;

    #[test]
    fn selections_parse_and_print() {
        let parse = |text: &str| text.parse::<Selection>();
        assert_eq!(parse("kafka:0-2"), Ok(Selection { service: "kafka".into(), first: 0, last: 2 }));
        assert_eq!(parse("redis:1"), Ok(Selection { service: "redis".into(), first: 1, last: 1 }));
        assert_eq!(parse("mongodb"), Ok(Selection { service: "mongodb".into(), first: 0, last: 0 }));
        assert_eq!(parse("kafka:0-2").map(|selection| selection.to_string()), Ok("kafka:0-2".into()));
        assert_eq!(parse("mongodb").map(|selection| selection.to_string()), Ok("mongodb:0".into()));
    }

    #[test]
    fn bad_selections_say_how_to_write_them() {
        assert_eq!(
            "kafka:x".parse::<Selection>(),
            Err("`x` is not an instance id; write instances like `2` or `0-3` (in `kafka:x`)".into())
        );
        assert_eq!(
            "kafka:3-1".parse::<Selection>(),
            Err("instances 3-1 are written backwards: write 1-3 (in `kafka:3-1`)".into())
        );
        assert!(":1".parse::<Selection>().is_err());
    }
}
