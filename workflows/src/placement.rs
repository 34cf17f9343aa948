//! Where each instance of a request runs: `kafka:0-2@h1` places a selection on a host's
//! worker, `spread` deals the other instances over a list of hosts by instance id (so an
//! instance's services, which share its stack network, stay on one host), and `host` sends
//! the whole request to one host. Pure: the workflows and the CLI ask the same question.

use std::fmt;
use std::str::FromStr;

use crate::selection::Selection;

/// One `service[:instances][@host]` word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The instances.
    pub selection: Selection,
    /// The host they run on, when the word names one.
    pub host: Option<String>,
}

impl FromStr for Placed {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (selection, host) = match text.split_once('@') {
            Some((selection, host)) => {
                if host.is_empty() || host.contains(['@', ' ', '\t', '/']) {
                    return Err(format!(
                        "`{text}` places its instances on `{host}`, which is no host name; write `kafka:0-2@h1`"
                    ));
                }
                (selection, Some(host.to_string()))
            }
            None => (text, None),
        };
        Ok(Self { selection: selection.parse()?, host })
    }
}

impl fmt::Display for Placed {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Some(host) => write!(formatter, "{}@{host}", self.selection),
            None => write!(formatter, "{}", self.selection),
        }
    }
}

/// A request's words, spread list and host, asked where each instance runs.
#[derive(Debug, Clone)]
pub struct Placement {
    words: Vec<Placed>,
    spread: Vec<String>,
    host: Option<String>,
}

impl Placement {
    /// The placement `specs`, `spread` and `host` ask for, or what is wrong with it.
    pub fn new(specs: &[String], spread: &[String], host: Option<&str>) -> Result<Self, String> {
        let words = specs.iter().map(|spec| spec.parse()).collect::<Result<Vec<Placed>, String>>()?;
        let placed = words.iter().any(|word| word.host.is_some()) || !spread.is_empty();
        if placed && host.is_some() {
            return Err(
                "a request either runs on one host (host) or places its instances (`@host` words, spread), not both"
                    .to_string(),
            );
        }
        if let Some(empty) = spread.iter().find(|host| host.trim().is_empty() || host.contains(['@', ' ', '/'])) {
            return Err(format!("spread names `{empty}`, which is no host name"));
        }
        Ok(Self { words, spread: spread.to_vec(), host: host.map(str::to_string) })
    }

    /// The words without their hosts, as the registry's planning reads them.
    pub fn selections(&self) -> Vec<String> {
        self.words.iter().map(|word| word.selection.to_string()).collect()
    }

    /// Whether any instance is placed on a host of its own (`@host` or spread).
    pub fn is_placed(&self) -> bool {
        self.words.iter().any(|word| word.host.is_some()) || !self.spread.is_empty()
    }

    /// The host `service`'s instance `instance` runs on; `None` for any worker. The words
    /// naming the service decide; an instance no word names (a stack's, or a dependency the
    /// plan added) goes with the placed words covering its instance id when they agree;
    /// else the spread deals it, else it runs on the request's host.
    pub fn host_of(&self, service: &str, instance: u32) -> Result<Option<String>, String> {
        let covers = |word: &&Placed| word.selection.instances().contains(&instance);
        let mut naming = self.words.iter().filter(covers).filter(|word| word.selection.service == service).peekable();
        if naming.peek().is_some() {
            if let Some(host) = naming.find_map(|word| word.host.clone()) {
                return Ok(Some(host));
            }
        } else {
            let mut hosts: Vec<&str> =
                self.words.iter().filter(covers).filter_map(|word| word.host.as_deref()).collect();
            hosts.sort_unstable();
            hosts.dedup();
            match hosts.as_slice() {
                [] => {}
                [host] => return Ok(Some((*host).to_string())),
                [first, second, ..] => {
                    return Err(format!(
                        "{service}[{instance}] belongs to words placed on {first} and on {second}; place it with a word of its own (`{service}:{instance}@{first}`)"
                    ));
                }
            }
        }
        if !self.spread.is_empty() {
            let index = usize::try_from(instance).unwrap_or(usize::MAX) % self.spread.len();
            return Ok(Some(self.spread[index].clone()));
        }
        Ok(self.host.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(specs: &[&str], spread: &[&str], host: Option<&str>) -> Result<Placement, String> {
        let specs: Vec<String> = specs.iter().map(ToString::to_string).collect();
        let spread: Vec<String> = spread.iter().map(ToString::to_string).collect();
        Placement::new(&specs, &spread, host)
    }

    #[test]
    fn words_place_their_instances_and_dependencies_follow_their_dependents() {
        let placed = placement(&["kafka:0-2@h1", "redis:1@h2", "client:3@h3"], &[], None).expect("valid");
        assert_eq!(placed.selections(), ["kafka:0-2", "redis:1", "client:3"]);
        assert_eq!(placed.host_of("kafka", 2), Ok(Some("h1".into())));
        assert_eq!(placed.host_of("redis", 1), Ok(Some("h2".into())));
        assert_eq!(placed.host_of("server", 3), Ok(Some("h3".into())), "a dependency of client[3]");
        assert_eq!(placed.host_of("server", 0), Ok(Some("h1".into())), "only kafka:0-2@h1 covers instance 0");
        assert!(placed.host_of("server", 1).expect_err("two hosts cover it").contains("h1 and on h2"));
        assert_eq!(placed.host_of("server", 7), Ok(None), "nothing places it: any worker");
        let named = placement(&["kafka:0@h1", "redis:0"], &[], None).expect("valid");
        assert_eq!(named.host_of("redis", 0), Ok(None), "a word of its own without a host: any worker");
    }

    #[test]
    fn spread_deals_instances_by_id_so_a_stack_stays_together() {
        let placed = placement(&["web:0-5", "db:0-5", "cache:4@h9"], &["h1", "h2", "h3"], None).expect("valid");
        let hosts: Vec<Option<String>> =
            (0..6).map(|instance| placed.host_of("web", instance).expect("placed")).collect();
        assert_eq!(hosts, ["h1", "h2", "h3", "h1", "h2", "h3"].map(|host| Some(host.to_string())));
        assert_eq!(placed.host_of("db", 4), Ok(Some("h2".into())));
        assert_eq!(placed.host_of("cache", 4), Ok(Some("h9".into())), "a word beats the spread");
    }

    #[test]
    fn bad_placements_are_refused_on_one_line() {
        assert!(placement(&["web@"], &[], None).expect_err("empty host").contains("no host name"));
        assert!(placement(&["web@a@b"], &[], None).expect_err("two hosts").contains("no host name"));
        assert!(placement(&["web@h1"], &[], Some("h2")).expect_err("both").contains("not both"));
        assert!(placement(&["web"], &["h1", " "], None).expect_err("blank").contains("no host name"));
        assert!(placement(&["web:2-1@h1"], &[], None).expect_err("backwards").contains("backwards"));
        assert_eq!(
            placement(&["web:0-1"], &[], Some("h2")).expect("one host").host_of("web", 1),
            Ok(Some("h2".into()))
        );
    }

    #[test]
    fn placed_words_print_as_they_parse() {
        for text in ["kafka:0-2@h1", "redis:1", "web:3@build-07.internal"] {
            assert_eq!(text.parse::<Placed>().expect("parses").to_string(), text);
        }
    }
}
