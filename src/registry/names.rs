//! The grammar of every name and value in the registry that ends up in Docker, a shell or
//! a file: checked while the file loads, so `berth check` refuses what the engine would.
//!
//! Service and environment names become container names (`kafka-staging-1`), volume
//! names, compose keys and labels, so they keep to the lowest common grammar of those:
//! lower-case letters, digits, `-` and `_`, starting with a letter or digit, at most 63
//! characters (a DNS label). Port keys become `{placeholders}` and variable names, so they
//! are letters, digits and `_`. Each rule returns the sentence that explains it.

use std::str::FromStr;

/// The longest service, environment or volume key name: one DNS label.
pub(crate) const MAXIMUM_NAME_LENGTH: usize = 63;

/// What a name names, for the sentence that refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameKind {
    /// A service (`kafka`).
    Service,
    /// An environment (`staging`).
    Environment,
    /// A volume key under `container.volumes` (`data`).
    Volume,
}

impl NameKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Environment => "environment",
            Self::Volume => "volume key",
        }
    }
}

/// The container name of an instance: instance 0 keeps the bare name.
pub fn container_name(service: &str, environment: &str, instance: u16) -> String {
    match instance {
        0 => format!("{service}-{environment}"),
        _ => format!("{service}-{environment}-{instance}"),
    }
}

/// The network the containers of one instance of a stack share: `berth-development-1`.
pub fn network_name(environment: &str, instance: u16) -> String {
    format!("berth-{environment}-{instance}")
}

/// The name of an instance's volume: `kafka-data`, `kafka-data-1`. Environments other than
/// the registry's default carry their name too (`kafka-staging-data-1`) so that they never
/// share data with the default environment.
pub fn volume_name(service: &str, volume: &str, environment: Option<&str>, instance: u16) -> String {
    let prefix = environment.map_or_else(|| service.to_string(), |environment| format!("{service}-{environment}"));
    match instance {
        0 => format!("{prefix}-{volume}"),
        _ => format!("{prefix}-{volume}-{instance}"),
    }
}

/// Checks a service, environment or volume key name against the container-name grammar.
pub(crate) fn check_name(kind: NameKind, name: &str) -> Result<(), String> {
    // A service name also begins variable names (`KAFKA_PORT`), which cannot start with a digit.
    let digit_allowed = kind != NameKind::Service;
    let starts_well = name
        .starts_with(|character: char| character.is_ascii_lowercase() || (digit_allowed && character.is_ascii_digit()));
    let rest_fits = name.chars().all(|character| {
        character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-' || character == '_'
    });
    if name.is_empty() || !starts_well || !rest_fits || name.len() > MAXIMUM_NAME_LENGTH {
        return Err(format!(
            "{} name {} is not usable: it names containers and volumes, so it must start with a lower-case letter{}, hold only a-z, 0-9, `-` and `_`, and be at most {MAXIMUM_NAME_LENGTH} characters",
            kind.as_str(),
            shown(name),
            if digit_allowed { " or digit" } else { " (it begins variable names too)" }
        ));
    }
    Ok(())
}

/// Checks a port key: it becomes a `{placeholder}` and part of a variable name.
pub(crate) fn check_port_key(name: &str) -> Result<(), String> {
    let fits = name.starts_with(|character: char| character.is_ascii_lowercase())
        && name
            .chars()
            .all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_')
        && name.len() <= MAXIMUM_NAME_LENGTH;
    if !fits {
        return Err(format!(
            "port key {} is not usable: it becomes a {{placeholder}} and part of a variable name, so it must start with a lower-case letter, hold only a-z, 0-9 and `_`, and be at most {MAXIMUM_NAME_LENGTH} characters",
            shown(name)
        ));
    }
    Ok(())
}

/// Checks a variable name given with `env_var:`: what a POSIX shell can `export`, ending in
/// `_PORT` so that it can never be `PATH`, `HOME` or another variable a shell or tool lives by.
pub(crate) fn check_variable(name: &str) -> Result<(), String> {
    let fits = name.starts_with(|character: char| character.is_ascii_alphabetic() || character == '_')
        && name.chars().all(|character| character.is_ascii_alphanumeric() || character == '_')
        && name.ends_with("_PORT");
    if !fits {
        return Err(format!(
            "variable name {} is not usable: a port variable holds letters, digits and `_`, does not start with a digit, and ends in `_PORT` (CONTIMG_API_PORT)",
            shown(name)
        ));
    }
    Ok(())
}

/// Checks an image reference against the distribution grammar Docker uses
/// (`[registry[:port]/]path[:tag][@digest]`, the path in lower case).
pub(crate) fn check_image(reference: &str) -> Result<(), String> {
    let refused = |why: String| {
        Err(format!(
            "image {} is not a valid reference ({why}): write it as `[registry[:port]/]name[:tag][@digest]` with the name in lower case, such as `redis:7`",
            shown(reference)
        ))
    };
    if reference.is_empty() {
        return refused("it is empty".to_string());
    }
    if reference.contains("://") {
        return refused("a reference has no scheme".to_string());
    }
    if let Some((_, digest)) = reference.split_once('@')
        && digest.chars().any(|character| character.is_ascii_uppercase())
    {
        return refused("a digest is written in lower case".to_string());
    }
    match oci_spec::distribution::Reference::from_str(reference) {
        Ok(_) => Ok(()),
        Err(error) => refused(one_line(&error.to_string())),
    }
}

/// Checks a mount point inside a container: Docker takes only absolute paths below `/`,
/// and the runtime refuses volumes inside the kernel's own file systems.
pub(crate) fn check_mount_path(path: &str) -> Result<(), String> {
    let inner = path.strip_prefix('/').map(|inner| inner.strip_suffix('/').unwrap_or(inner));
    let parts_fit = inner.is_some_and(|inner| {
        !inner.is_empty() && inner.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
    });
    let kernel =
        inner.is_some_and(|inner| ["proc", "sys", "dev"].contains(&inner.split('/').next().unwrap_or_default()));
    if !parts_fit || kernel || path.contains(':') || has_control(path) {
        return Err(format!(
            "mount path {} is not usable: Docker mounts volumes only at absolute paths below `/`, without empty, `.` or `..` parts, `:` or control characters, and not inside /proc, /sys or /dev; such as /var/lib/data",
            shown(path)
        ));
    }
    Ok(())
}

/// A mount path as Docker compares them: without a trailing `/`.
pub(crate) fn mount_point(path: &str) -> &str {
    if path.len() > 1 { path.trim_end_matches('/') } else { path }
}

/// Checks free text that is printed on one line (descriptions, reservation reasons).
pub(crate) fn check_one_line(what: &str, text: &str) -> Result<(), String> {
    if has_control(text) {
        return Err(format!(
            "{what} {} holds a line break or control character: it is printed on one line, so write it without them",
            shown(text)
        ));
    }
    Ok(())
}

/// Checks a value handed to a process (an argument, an environment value): the kernel
/// cannot pass a NUL byte.
pub(crate) fn check_argument(what: &str, text: &str) -> Result<(), String> {
    if text.contains('\0') {
        return Err(format!("{what} {} holds a NUL byte, which no process can receive; remove it", shown(text)));
    }
    Ok(())
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// A name quoted for an error message, with control characters escaped so that no
/// input can break the message's single line.
pub(crate) fn shown(text: &str) -> String {
    format!("`{}`", text.escape_debug())
}

/// `text` with every control character escaped (`\n`), so that quoted text cannot break a
/// message's line.
pub(crate) fn escape_controls(text: &str) -> String {
    text.chars()
        .map(
            |character| {
                if character.is_control() { character.escape_default().to_string() } else { character.to_string() }
            },
        )
        .collect()
}

/// Joins a multi-line message (a regex or parser error) into one line.
pub(crate) fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_docker_refuses_are_refused() {
        for bad in ["rl/web", "rl web", "..", ".x", "_x", "-", "-x", "ünï", "Upper", "dev/x", "a:b", "a.b", "", "a\nb"]
        {
            assert!(check_name(NameKind::Service, bad).is_err(), "{bad:?} should be refused");
        }
        assert!(check_name(NameKind::Service, &"a".repeat(64)).is_err());
        for good in ["kafka", "kafka_ui", "kafka-ui", "0day", "a", &"a".repeat(63)] {
            assert_eq!(check_name(NameKind::Environment, good), Ok(()), "{good:?}");
        }
        assert!(check_name(NameKind::Service, "0day").is_err(), "`export 0DAY_PORT` is no shell variable");
    }

    #[test]
    fn a_refused_name_stays_on_one_line() {
        let message = check_name(NameKind::Service, "x\nexport PATH=/tmp/evil").expect_err("refused");
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains(r"`x\nexport PATH=/tmp/evil`"), "{message}");
    }

    #[test]
    fn port_keys_fit_placeholders_and_variables() {
        assert_eq!(check_port_key("broker_port"), Ok(()));
        for bad in ["http-port", "Port", "_port", "9_port", "a port"] {
            assert!(check_port_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn variables_are_what_a_shell_exports() {
        assert_eq!(check_variable("CONTIMG_API_PORT"), Ok(()));
        assert_eq!(check_variable("_X1_PORT"), Ok(()));
        for bad in ["", "1X_PORT", "A-B_PORT", "A=B_PORT", "A B_PORT", "A\nB_PORT", "PATH", "SHLVL", "HOME"] {
            assert!(check_variable(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn image_references_follow_the_distribution_grammar() {
        let pinned = format!("mongo@sha256:{}", "a".repeat(64));
        for good in ["redis:7", "apache/kafka:3.9.0", "localhost:5000/berth/redis:test", pinned.as_str()] {
            assert_eq!(check_image(good), Ok(()), "{good}");
        }
        let upper_digest = format!("x@sha256:{}", "A".repeat(64));
        for bad in ["RL/Upper", "", "https://example.com/x", "a b", "redis:", ":7", upper_digest.as_str()] {
            let message = check_image(bad).expect_err(bad);
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn mount_paths_are_absolute() {
        assert_eq!(check_mount_path("/var/lib/kafka/data"), Ok(()));
        for bad in [
            "data", "./data", "", "/a:b", "/a\nb", "/", "//", "/a/../", "/a/./b", "/a//b", "/proc/x", "/sys",
            "/dev/shm",
        ] {
            assert!(check_mount_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn multi_line_errors_become_one_line() {
        assert_eq!(
            one_line("regex parse error:\n    (\n    ^\nerror: unclosed group"),
            "regex parse error: ( ^ error: unclosed group"
        );
    }
}
