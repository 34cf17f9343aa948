//! Where command output goes: stdout, or a file replaced atomically (`-o FILE`), so a
//! reader of `.env` never sees half a file and a failed run leaves the old one intact.
//! The file gets the mode `>` would give it (0666 less the umask), not a temporary
//! file's 0600, so the people and tools that read it today still can.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;
use clap::ValueEnum;

/// `--format` of the commands whose output is a report: for people or for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum OutputFormat {
    /// Lines for people.
    Table,
    /// JSON for machines.
    Json,
}

/// Writes `text` to `path` atomically, or to stdout when `path` is `None`; a closed stdout
/// is not an error.
pub(super) fn emit(text: &str, path: Option<&Path>) -> anyhow::Result<()> {
    match path {
        None => {
            let mut stdout = anstream::stdout().lock();
            let written = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
            // A reader that stopped reading (`berth check | head -1`) does not change what
            // the command found: its exit code still says so.
            match written {
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
                written => written?,
            }
        }
        Some(path) => write_file(&anstream::adapter::strip_str(text).to_string(), path)?,
    }
    Ok(())
}

/// Writes `text` to the file at `path` the way a person expects of `-o`: a regular file (or
/// none yet) is replaced atomically; a symbolic link keeps pointing where it points, and
/// the file it points to is replaced; anything else (`/dev/null`, a FIFO, a terminal) is
/// written to as `>` would, never replaced: berth does not turn a device into a file.
fn write_file(text: &str, path: &Path) -> anyhow::Result<()> {
    let target = match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => std::fs::canonicalize(path)
            .with_context(|| format!("cannot follow the link {} to the file it names", path.display()))?,
        _ => path.to_path_buf(),
    };
    if std::fs::metadata(&target).is_ok_and(|metadata| !metadata.is_file()) {
        let mut sink = std::fs::OpenOptions::new()
            .write(true)
            .open(&target)
            .with_context(|| format!("cannot open {} for writing", target.display()))?;
        sink.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", target.display()))?;
        return Ok(());
    }
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(directory)
        .with_context(|| format!("cannot create a temporary file in {}", directory.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", file.path().display()))?;
    file.persist(&target).with_context(|| format!("cannot replace {}", target.display()))?;
    Ok(())
}

/// The width tables should fit: the terminal's when stdout is one, else none (a pipe or a
/// file gets whole lines).
pub(super) fn terminal_width() -> Option<u16> {
    terminal_size::terminal_size_of(std::io::stdout()).map(|(terminal_size::Width(width), _)| width)
}

/// `value` as pretty JSON with a final newline.
pub(super) fn json_text(value: &impl serde::Serialize) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// Prints `value` as pretty JSON on stdout.
pub(super) fn emit_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    emit(&json_text(value)?, None)
}
