//! Where each instance of a request runs: `kafka:0-2@h1` places a selection on a host's
//! worker, `spread` deals the other instances over a list of hosts by instance id, and
//! `host` sends the whole request to one host. What an instance depends on runs where it
//! does: an instance's services share its stack network, which lives on one host. Pure: the
//! workflows and the CLI ask the same question.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::activities::PlannedInstance;
use crate::selection::Selection;

/// Whether `host` can name a host: letters, digits, `.`, `-` and `_`.
fn is_host_name(host: &str) -> bool {
    !host.is_empty() && host.chars().all(|character| character.is_ascii_alphanumeric() || "._-".contains(character))
}

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
                if !is_host_name(host) {
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
        if let Some(bad) = spread.iter().find(|host| !is_host_name(host)) {
            return Err(format!("spread names `{bad}`, which is no host name (letters, digits, `.`, `-`, `_`)"));
        }
        for (index, word) in words.iter().enumerate() {
            let clash = words[index + 1..].iter().find(|other| {
                other.selection.service == word.selection.service
                    && other.host != word.host
                    && other.selection.first <= word.selection.last
                    && word.selection.first <= other.selection.last
            });
            if let Some(other) = clash {
                return Err(format!(
                    "`{word}` and `{other}` place the same instances on different hosts; an instance runs once: name each on one host"
                ));
            }
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

    /// The host each planned instance runs on (`None`: any worker), in the plan's order,
    /// or why the request cannot be placed. `levels` is the plan: dependencies in earlier
    /// levels than their dependents, each instance with the services it depends on.
    ///
    /// A word naming the instance's service with a host decides. Else what depends on it
    /// decides (it must run where they do). Else a word naming it without a host, or a
    /// stack's word covering it, decides; else the spread deals it by instance id; else it
    /// runs on the request's host.
    pub fn hosts(&self, levels: &[Vec<PlannedInstance>]) -> Result<Vec<Vec<Option<String>>>, String> {
        let services: Vec<&str> = levels.iter().flatten().map(|planned| planned.service.as_str()).collect();
        let mut decided: HashMap<(&str, u32), Option<String>> = HashMap::new();
        // Dependents first: the plan's levels in reverse.
        for level in levels.iter().rev() {
            for planned in level {
                let host = self.host_of(planned, levels, &services, &decided)?;
                decided.insert((planned.service.as_str(), planned.instance_id), host);
            }
        }
        for planned in levels.iter().flatten() {
            let host = &decided[&(planned.service.as_str(), planned.instance_id)];
            for dependency in &planned.depends_on {
                let theirs = decided.get(&(dependency.as_str(), planned.instance_id)).cloned().flatten();
                if decided.contains_key(&(dependency.as_str(), planned.instance_id)) && &theirs != host {
                    return Err(format!(
                        "{}[{}] on {} depends on {dependency}[{}] on {}: an instance's services share its network, so place them on one host",
                        planned.service,
                        planned.instance_id,
                        host.as_deref().unwrap_or("any worker"),
                        planned.instance_id,
                        theirs.as_deref().unwrap_or("any worker")
                    ));
                }
            }
        }
        Ok(levels
            .iter()
            .map(|level| {
                level.iter().map(|planned| decided[&(planned.service.as_str(), planned.instance_id)].clone()).collect()
            })
            .collect())
    }

    fn host_of(
        &self,
        planned: &PlannedInstance,
        levels: &[Vec<PlannedInstance>],
        services: &[&str],
        decided: &HashMap<(&str, u32), Option<String>>,
    ) -> Result<Option<String>, String> {
        let (service, instance) = (planned.service.as_str(), planned.instance_id);
        let covers = |word: &&Placed| word.selection.instances().contains(&instance);
        let naming: Vec<&Placed> =
            self.words.iter().filter(covers).filter(|word| word.selection.service == service).collect();
        if let Some(host) = naming.iter().find_map(|word| word.host.clone()) {
            return Ok(Some(host));
        }
        let mut wanted: Vec<Option<String>> = levels
            .iter()
            .flatten()
            .filter(|other| other.instance_id == instance && other.depends_on.iter().any(|name| name == service))
            .filter_map(|other| decided.get(&(other.service.as_str(), instance)).cloned())
            .collect();
        wanted.sort();
        wanted.dedup();
        match wanted.as_slice() {
            [] => {}
            [host] => return Ok(host.clone()),
            [first, second, ..] => {
                return Err(format!(
                    "{service}[{instance}] is needed on {} and on {}; run what needs it on one host",
                    first.as_deref().unwrap_or("any worker"),
                    second.as_deref().unwrap_or("any worker")
                ));
            }
        }
        if naming.is_empty() {
            // A stack's word: one whose name is no service of the plan.
            let mut hosts: Vec<&str> = self
                .words
                .iter()
                .filter(covers)
                .filter(|word| !services.contains(&word.selection.service.as_str()))
                .filter_map(|word| word.host.as_deref())
                .collect();
            hosts.sort_unstable();
            hosts.dedup();
            match hosts.as_slice() {
                [] => {}
                [host] => return Ok(Some((*host).to_string())),
                [first, second, ..] => {
                    return Err(format!(
                        "{service}[{instance}] belongs to stacks placed on {first} and on {second}; place it with a word of its own (`{service}:{instance}@{first}`)"
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

    /// Every host the request names: its `@HOST` words', its spread's and its own.
    pub fn named_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .words
            .iter()
            .filter_map(|word| word.host.clone())
            .chain(self.spread.iter().cloned())
            .chain(self.host.clone())
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
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

    fn planned(service: &str, instance_id: u32, depends_on: &[&str]) -> PlannedInstance {
        PlannedInstance {
            service: service.into(),
            instance_id,
            depends_on: depends_on.iter().map(ToString::to_string).collect(),
        }
    }

    /// The hosts of a plan, flattened, as `service[instance]@host` (`*` for any worker).
    fn placed(placement: &Placement, levels: &[Vec<PlannedInstance>]) -> Result<Vec<String>, String> {
        let hosts = placement.hosts(levels)?;
        Ok(levels
            .iter()
            .flatten()
            .zip(hosts.iter().flatten())
            .map(|(planned, host)| {
                format!("{}[{}]@{}", planned.service, planned.instance_id, host.as_deref().unwrap_or("*"))
            })
            .collect())
    }

    #[test]
    fn what_an_instance_depends_on_runs_where_it_does() {
        // mongoexpress depends on mongodb; redis on nothing.
        let levels = vec![
            vec![planned("mongodb", 0, &[]), planned("redis", 0, &[])],
            vec![planned("mongoexpress", 0, &["mongodb"])],
        ];
        let spread = placement(&["mongoexpress:0", "redis:0@h3"], &["h1", "h2"], None).expect("valid");
        assert_eq!(
            placed(&spread, &levels),
            Ok(vec!["mongodb[0]@h1".into(), "redis[0]@h3".into(), "mongoexpress[0]@h1".into()])
        );
        let named = placement(&["mongoexpress:0@h1", "mongodb:0", "redis:0@h2"], &[], None).expect("valid");
        assert_eq!(
            placed(&named, &levels),
            Ok(vec!["mongodb[0]@h1".into(), "redis[0]@h2".into(), "mongoexpress[0]@h1".into()])
        );
        let apart = placement(&["mongoexpress:0@h1", "mongodb:0@h2"], &[], None).expect("valid");
        assert!(placed(&apart, &levels).expect_err("separated").contains("place them on one host"));
    }

    #[test]
    fn a_stack_s_word_places_its_services_and_other_words_do_not() {
        let levels = vec![
            vec![planned("alertmanager", 0, &[]), planned("redis", 0, &[])],
            vec![planned("prometheus", 0, &["alertmanager"])],
        ];
        let stacks = placement(&["observability:0@h1", "redis:0@h2"], &[], None).expect("valid");
        assert_eq!(
            placed(&stacks, &levels),
            Ok(vec!["alertmanager[0]@h1".into(), "redis[0]@h2".into(), "prometheus[0]@h1".into()])
        );
        let two = placement(&["observability:0@h1", "monitoring:0@h2"], &[], None).expect("valid");
        assert!(placed(&two, &levels).expect_err("two stacks").contains("stacks placed on h1 and on h2"));
    }

    #[test]
    fn spread_deals_instances_by_id_so_a_stack_stays_together() {
        let levels: Vec<Vec<PlannedInstance>> =
            vec![(0..6).map(|instance| planned("web", instance, &[])).collect(), vec![planned("cache", 4, &[])]];
        let spread = placement(&["web:0-5", "cache:4@h9"], &["h1", "h2", "h3"], None).expect("valid");
        let hosts = placed(&spread, &levels).expect("placed");
        assert_eq!(hosts[..6], ["web[0]@h1", "web[1]@h2", "web[2]@h3", "web[3]@h1", "web[4]@h2", "web[5]@h3"]);
        assert_eq!(hosts[6], "cache[4]@h9", "a word beats the spread");
        let one = placement(&["web:0-5"], &[], Some("h2")).expect("one host");
        assert!(placed(&one, &levels[..1]).expect("placed").iter().all(|host| host.ends_with("@h2")));
        let anywhere = placement(&["web:0-5"], &[], None).expect("anywhere");
        assert!(placed(&anywhere, &levels[..1]).expect("placed").iter().all(|host| host.ends_with("@*")));
        assert_eq!(spread.named_hosts(), ["h1", "h2", "h3", "h9"]);
    }

    #[test]
    fn bad_placements_are_refused_on_one_line() {
        assert!(placement(&["web@"], &[], None).expect_err("empty host").contains("no host name"));
        assert!(placement(&["web@a@b"], &[], None).expect_err("two hosts").contains("no host name"));
        assert!(placement(&["redis@h1\nx"], &[], None).expect_err("a newline").contains("no host name"));
        assert!(placement(&["web@h1"], &[], Some("h2")).expect_err("both").contains("not both"));
        assert!(placement(&["web"], &["h1", "h\t2"], None).expect_err("a tab").contains("no host name"));
        assert!(placement(&["web:2-1@h1"], &[], None).expect_err("backwards").contains("backwards"));
        let twice = placement(&["web:0-2@h1", "web:2-3@h2"], &[], None).expect_err("web[2] twice");
        assert!(twice.contains("same instances on different hosts"), "{twice}");
        assert!(placement(&["redis@h1", "redis@h1"], &[], None).is_ok(), "the same place twice is no clash");
    }

    #[test]
    fn placed_words_print_as_they_parse() {
        for text in ["kafka:0-2@h1", "redis:1", "web:3@build-07.internal"] {
            assert_eq!(text.parse::<Placed>().expect("parses").to_string(), text);
        }
    }
}
