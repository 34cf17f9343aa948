//! Finding and reading the registry file: the only place that knows the YAML crate.
//!
//! `serde_yaml` is archived upstream, so every use of it stays in this file; a maintained
//! fork with the same API replaces it here and nowhere else. Errors carry the file, the
//! line and the column, and say what to do. Loading does not validate: a file that loads
//! may still collide, which is `validate`'s business.

use std::env;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use super::model::{
    DEFAULT_ENVIRONMENT, DEFAULT_INSTANCE_INCREMENT, DEFAULT_MAX_INSTANCES, Environment, Registry, Service,
};
use super::schema::Document;

/// Where the registry lives relative to a project root.
pub const REGISTRY_PATH: &str = "dynamicconfig/port_registry.yaml";
/// The environment variable naming a registry file when `--registry` is not given.
pub const REGISTRY_VARIABLE: &str = "BERTH_REGISTRY";

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

/// Reads and parses the registry at `path`.
pub fn load_file(path: &Path) -> Result<Registry, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
    parse(&text, path)
}

/// Parses registry text; `origin` names the file in errors.
pub fn parse(text: &str, origin: &Path) -> Result<Registry, LoadError> {
    let document: Document = serde_yaml::from_str(text).map_err(|error| syntax_error(&error, origin))?;
    let registry = resolve(document);
    if registry.services.is_empty() {
        return Err(LoadError::Empty { path: origin.to_path_buf() });
    }
    Ok(registry)
}

fn syntax_error(error: &serde_yaml::Error, origin: &Path) -> LoadError {
    let (line, column) = error.location().map_or((1, 1), |location| (location.line(), location.column()));
    let text = error.to_string();
    let message = text.replacen(&format!(" at line {line} column {column}"), "", 1);
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
        overrides: document.overrides.unwrap_or(true),
    }
}

#[cfg(test)]
mod tests;
