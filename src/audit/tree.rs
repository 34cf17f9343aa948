//! Finding the files of a tree that claim ports, and reading each with the reader for its
//! kind: compose files by name, `.env` files by name, Kubernetes manifests by content.
//! Build output and dependencies (`.git`, `node_modules`, `target`, `.venv`) are skipped,
//! symbolic links are not followed, and a file larger than a registry may be is skipped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Claim, compose, env_file, kubernetes, marked};
use crate::registry::names::escape_controls;

/// Directories that hold no one's port plan.
const SKIPPED_DIRECTORIES: [&str; 4] = [".git", "node_modules", "target", ".venv"];

/// What reading a tree found.
#[derive(Debug, Default)]
pub struct Read {
    /// Every claim, in file order.
    pub claims: Vec<Claim>,
    /// The files that claimed ports or were read as port files.
    pub files: Vec<String>,
    /// Files that could not be read, each as one line saying where and why.
    pub problems: Vec<String>,
    /// YAML files left out because they are not manifests berth can read (a template, or
    /// YAML that does not parse), each as one line saying where and why.
    pub skipped: Vec<String>,
}

/// How a file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Compose,
    EnvFile,
    Yaml,
}

fn kind_of(name: &str) -> Option<Kind> {
    let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
    if yaml && (name.starts_with("compose.") || name.starts_with("docker-compose.")) {
        Some(Kind::Compose)
    } else if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
        Some(Kind::EnvFile)
    } else if yaml {
        Some(Kind::Yaml)
    } else {
        None
    }
}

/// Reads every port file under `roots` (files or directories).
pub fn read(roots: &[PathBuf]) -> Read {
    let mut read = Read::default();
    for root in roots {
        if !root.exists() {
            read.problems.push(format!("{}: no such file or directory", root.display()));
            continue;
        }
        let walker = walkdir::WalkDir::new(root).sort_by_file_name().into_iter().filter_entry(|entry| {
            entry.depth() == 0
                || !(entry.file_type().is_dir()
                    && SKIPPED_DIRECTORIES.contains(&entry.file_name().to_string_lossy().as_ref()))
        });
        for entry in walker {
            match entry {
                Ok(entry) if entry.file_type().is_file() => {
                    let Some(kind) = kind_of(&entry.file_name().to_string_lossy()) else { continue };
                    read_file(entry.path(), kind, &mut read);
                }
                Ok(_) => {}
                Err(error) => read.problems.push(format!("{error}")),
            }
        }
    }
    read
}

fn read_file(path: &Path, kind: Kind, read: &mut Read) {
    let location = shown(path);
    let text = match text_of(path) {
        Ok(Some(text)) => text,
        Ok(None) => return,
        Err(problem) => {
            read.problems.push(format!("{location}: {problem}"));
            return;
        }
    };
    let claims = match kind {
        Kind::EnvFile => env_file::settings(&location, &text).map(|settings| env_file::claims(&location, &settings)),
        Kind::Compose => {
            let directory = path.parent().unwrap_or(Path::new("."));
            let variables = beside(directory);
            compose::claims(&location, &shown(directory), &text, &variables)
        }
        Kind::Yaml => match marked::documents(&text) {
            Ok(documents) if documents.iter().any(kubernetes::is_manifest) => {
                Ok(kubernetes::claims(&location, &documents))
            }
            Ok(_) => return,
            // Helm and Kustomize templates are not YAML until rendered; a tree full of
            // charts must still be auditable, so such a file is left out and named.
            Err(_) if text.contains("{{") => {
                read.skipped
                    .push(format!("{location}: a template ({{{{ … }}}}), not a manifest: audit its rendered output"));
                return;
            }
            Err(problem) if text.contains("apiVersion") && text.contains("kind") => {
                read.skipped.push(escape_controls(&format!("{location}:{problem}: not YAML, left out")));
                return;
            }
            Err(_) => return,
        },
    };
    match claims {
        Ok(claims) => {
            read.files.push(location);
            read.claims.extend(claims);
        }
        Err(problem) => read.problems.push(escape_controls(&problem)),
    }
}

/// The variables of the `.env` beside a compose file, as compose reads them; none when
/// there is no such file or it cannot be read (the `.env` file is audited on its own).
fn beside(directory: &Path) -> HashMap<String, String> {
    let path = directory.join(".env");
    match text_of(&path) {
        Ok(Some(text)) => env_file::settings(&shown(&path), &text).map(|settings| env_file::variables(&settings)),
        _ => Ok(HashMap::new()),
    }
    .unwrap_or_default()
}

/// The file's text; `None` when it is larger than berth reads.
fn text_of(path: &Path) -> Result<Option<String>, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|error| format!("cannot read: {error}"))?;
    let mut bytes = Vec::new();
    file.take(crate::registry::MAXIMUM_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read: {error}"))?;
    if bytes.len() as u64 > crate::registry::MAXIMUM_FILE_BYTES {
        return Ok(None);
    }
    String::from_utf8(bytes).map(Some).map_err(|_| "not UTF-8 text".to_string())
}

fn shown(path: &Path) -> String {
    let text = path.display().to_string();
    text.strip_prefix("./").map_or(text.clone(), str::to_string)
}
