//! Finding and reading the registry file: the only place that knows the YAML crate.
//!
//! `serde_yaml` is archived upstream, so every use of it stays in this file; a maintained
//! fork with the same API replaces it here and nowhere else. Errors carry the file, the
//! line and the column, and say what to do. Loading does not validate: a file that loads
//! may still collide, which is `validate`'s business.

use std::env;
use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::model::{
    DEFAULT_ENVIRONMENT, DEFAULT_INSTANCE_INCREMENT, DEFAULT_MAX_INSTANCES, Environment, Registry, Service,
};
use super::ports_file::{PortsFile, is_ports_file};
use super::schema::Document;
use yaml_rust2::scanner::{Scanner, Token, TokenType};

/// Where the registry lives relative to a project root.
pub const REGISTRY_PATH: &str = "dynamicconfig/port_registry.yaml";
/// The environment variable naming a registry file when `--registry` is not given.
pub const REGISTRY_VARIABLE: &str = "BERTH_REGISTRY";

/// The largest registry file berth reads; a registry of a few thousand services fits in a
/// tenth of it.
pub const MAXIMUM_FILE_BYTES: u64 = 1 << 20;
/// The deepest nesting of maps and lists berth parses; a registry needs a handful.
pub const MAXIMUM_NESTING: usize = 64;
/// The most slots a registry may define across its environments: one per port, since more
/// could never be collision-free.
pub const MAXIMUM_SLOTS: usize = 65_535;
/// The most services a registry may define.
pub const MAXIMUM_SERVICES: usize = 10_000;

/// Why a registry could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No `--registry`, no `BERTH_REGISTRY`, and no registry above the working directory.
    #[error(
        "no port registry found: looked for {REGISTRY_PATH} in {} and every parent; pass --registry PATH or set {REGISTRY_VARIABLE}",
        start.display()
    )]
    NotFound {
        /// The directory the search started from.
        start: PathBuf,
    },
    /// The file could not be read (missing, a directory, no permission).
    #[error("cannot read port registry {}: {source}; check the path given by --registry or {REGISTRY_VARIABLE}", path.display())]
    Read {
        /// The path that was tried.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The file holds no services.
    #[error("{}: the port registry defines no services; add one such as `redis:` with `port: 6379` (see README, \"Registry format\")", path.display())]
    Empty {
        /// The empty file.
        path: PathBuf,
    },
    /// The file or what it defines is beyond one of berth's documented limits.
    #[error("{}: {what}; see README, \"Limits\"", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Which limit, and by how much.
        what: String,
    },
    /// The YAML is malformed or does not fit the registry format.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending token.
        line: usize,
        /// 1-based column of the offending token.
        column: usize,
        /// What was wrong there.
        message: String,
    },
}

/// Picks the registry file: `explicit` (from `--registry`), else `BERTH_REGISTRY`, else
/// `dynamicconfig/port_registry.yaml` in the working directory or the nearest parent.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, LoadError> {
    let start = env::current_dir().map_err(|source| LoadError::Read { path: PathBuf::from("."), source })?;
    locate_from(explicit, env::var_os(REGISTRY_VARIABLE), &start)
}

fn locate_from(explicit: Option<&Path>, variable: Option<OsString>, start: &Path) -> Result<PathBuf, LoadError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = variable.filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    start
        .ancestors()
        .map(|directory| directory.join(REGISTRY_PATH))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| LoadError::NotFound { start: start.to_path_buf() })
}

/// Reads and parses the registry at `path`, reading no more than [`MAXIMUM_FILE_BYTES`].
pub fn load_file(path: &Path) -> Result<Registry, LoadError> {
    let read_error = |source| LoadError::Read { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAXIMUM_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > MAXIMUM_FILE_BYTES {
        let what = format!("the file is larger than {} KiB, berth's limit for a registry", MAXIMUM_FILE_BYTES / 1024);
        return Err(LoadError::TooLarge { path: path.to_path_buf(), what });
    }
    let text = String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|byte| **byte == b'\n').count() + 1;
        let column = valid.iter().rev().take_while(|byte| **byte != b'\n').count() + 1;
        let message = "this is not UTF-8 text; save the registry as UTF-8".to_string();
        LoadError::Syntax { path: path.to_path_buf(), line, column, message }
    });
    parse(&text?, path)
}

/// Parses registry text, in berth's format or a flat `ports:` file; `origin` names the
/// file in errors.
pub fn parse(text: &str, origin: &Path) -> Result<Registry, LoadError> {
    if let Some((line, column, message)) = prescan(text) {
        return Err(LoadError::Syntax { path: origin.to_path_buf(), line, column, message });
    }
    let registry = if is_ports_file(text) {
        let file: PortsFile = serde_yaml::from_str(text).map_err(|error| syntax_error(&error, origin))?;
        file.into_registry()
    } else {
        resolve(serde_yaml::from_str(text).map_err(|error| syntax_error(&error, origin))?)
    };
    if registry.services.len() > MAXIMUM_SERVICES {
        let what = format!("{} services is more than berth's limit of {MAXIMUM_SERVICES}", registry.services.len());
        return Err(LoadError::TooLarge { path: origin.to_path_buf(), what });
    }
    if registry.services.is_empty() {
        return Err(LoadError::Empty { path: origin.to_path_buf() });
    }
    let slots = registry.slot_count();
    if slots > MAXIMUM_SLOTS {
        let what = format!(
            "it defines {slots} slots (ports × max_instances × environments), more than the {MAXIMUM_SLOTS} ports a host has: lower max_instances or drop environments"
        );
        return Err(LoadError::TooLarge { path: origin.to_path_buf(), what });
    }
    let named = registry
        .services
        .iter()
        .filter_map(|service| Some((service, service.container.as_ref()?)))
        .fold(0usize, |total, (service, section)| {
            total.saturating_add(usize::from(service.max_instances).saturating_mul(1 + section.volumes.len()))
        })
        .saturating_mul(registry.environments.len());
    if named > MAXIMUM_SLOTS {
        let what = format!(
            "its instances would name {named} containers and volumes, more than berth's limit of {MAXIMUM_SLOTS}: lower max_instances or drop environments"
        );
        return Err(LoadError::TooLarge { path: origin.to_path_buf(), what });
    }
    Ok(registry)
}

/// The first place where the text nests deeper than [`MAXIMUM_NESTING`] or uses an alias,
/// as a 1-based line and column and what is wrong there. serde_yaml's parser takes time
/// quadratic in the nesting and copies an aliased node at every use, so a small file could
/// cost minutes or gigabytes; this scan of the YAML tokens stops at the first sign of
/// either, or at the first syntax error it meets.
fn prescan(text: &str) -> Option<(usize, usize, String)> {
    let mut depth = 0usize;
    let mut scanner = Scanner::new(text.chars());
    for Token(mark, token) in scanner.by_ref() {
        let place = (mark.line().max(1), mark.col() + 1);
        match token {
            TokenType::BlockSequenceStart
            | TokenType::BlockMappingStart
            | TokenType::FlowSequenceStart
            | TokenType::FlowMappingStart => {
                depth += 1;
                if depth > MAXIMUM_NESTING {
                    let message = format!("nesting deeper than {MAXIMUM_NESTING} levels; a registry nests a handful");
                    return Some((place.0, place.1, message));
                }
            }
            TokenType::BlockEnd | TokenType::FlowSequenceEnd | TokenType::FlowMappingEnd => {
                depth = depth.saturating_sub(1);
            }
            TokenType::Alias(name) => {
                let message = format!(
                    "YAML alias `*{}` is not supported in a registry: write the value out where it is used",
                    name.escape_debug()
                );
                return Some((place.0, place.1, message));
            }
            _ => {}
        }
    }
    // The scan stops at its first error (such as its own nesting limit); what follows was
    // not checked, so the text goes no further.
    scanner.get_error().map(|error| {
        let mark = error.marker();
        (mark.line().max(1), mark.col() + 1, error.info().to_string())
    })
}

fn syntax_error(error: &serde_yaml::Error, origin: &Path) -> LoadError {
    let (line, column) = error.location().map_or((1, 1), |location| (location.line(), location.column()));
    let text = error.to_string();
    // A message may quote the offending text; escaped, it cannot break the error's line.
    let message = super::names::escape_controls(&text.replacen(&format!(" at line {line} column {column}"), "", 1));
    LoadError::Syntax { path: origin.to_path_buf(), line, column, message }
}

/// Applies `defaults:` and the default environment.
fn resolve(document: Document) -> Registry {
    let increment = document.defaults.instance_increment.unwrap_or(DEFAULT_INSTANCE_INCREMENT);
    let max_instances = document.defaults.max_instances.unwrap_or(DEFAULT_MAX_INSTANCES);
    let services = document
        .services
        .into_iter()
        .map(|entry| Service {
            name: entry.name,
            description: entry.description,
            ports: entry.ports,
            instance_increment: entry.instance_increment.unwrap_or(increment),
            max_instances: entry.max_instances.unwrap_or(max_instances),
            range: entry.range,
            container: entry.container,
            optional: false,
        })
        .collect();
    let environments = if document.environments.is_empty() {
        vec![Environment { name: DEFAULT_ENVIRONMENT.to_string(), offset: 0 }]
    } else {
        document.environments
    };
    Registry {
        services,
        environments,
        reserved: document.reserved,
        dynamic_range: document.dynamic_range,
        dynamic_ranges: document.dynamic_ranges,
        overrides: document.overrides.unwrap_or(true),
        stacks: document.stacks,
        warn_on_conflict: false,
    }
}

#[cfg(test)]
mod tests;
