//! "Did you mean …?" for names typed by people: services, port keys, environments, fields.
//!
//! Uses Jaro-Winkler similarity from `strsim`, which favours a shared prefix — the
//! usual shape of a typo in a service name (`kafak`, `mongo` for `mongodb`).

/// How similar two names must be before one is offered for the other.
const THRESHOLD: f64 = 0.8;

/// The known name most similar to `typed`, if any is similar enough.
pub fn did_you_mean<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(typed, candidate), candidate))
        .filter(|(score, _)| *score >= THRESHOLD)
        .max_by(|left, right| left.0.total_cmp(&right.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_the_closest_known_name() {
        let known = ["kafka", "mongodb", "mongoexpress", "redis"];
        assert_eq!(did_you_mean("kafak", known), Some("kafka"));
        assert_eq!(did_you_mean("mongo", known), Some("mongodb"));
        assert_eq!(did_you_mean("max_instance", ["max_instances", "range"]), Some("max_instances"));
    }

    #[test]
    fn stays_quiet_when_nothing_is_close() {
        assert_eq!(did_you_mean("postgres", ["kafka", "redis"]), None);
        assert_eq!(did_you_mean("anything", []), None);
    }
}
