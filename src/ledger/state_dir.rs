//! Where the host's ledger lives: `BERTH_STATE_DIR`, else `/var/lib/berth` when it can be
//! written, else `$XDG_STATE_HOME/berth` (`~/.local/state/berth`).
//!
//! One directory per host is the point: every project on the host must find the same
//! ledger, so the choice depends only on the user's environment, not on the project.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The variable that names the state directory explicitly.
pub const STATE_DIR_VARIABLE: &str = "BERTH_STATE_DIR";
/// The system-wide state directory, used when it can be written (as root).
const SYSTEM_STATE_DIR: &str = "/var/lib/berth";

/// The state directory for this process's environment; `None` when nothing is set and
/// neither `/var/lib/berth` nor a home directory can be used.
pub fn state_dir() -> Option<PathBuf> {
    choose(
        std::env::var_os(STATE_DIR_VARIABLE),
        writable(Path::new(SYSTEM_STATE_DIR)),
        std::env::var_os("XDG_STATE_HOME"),
        std::env::var_os("HOME"),
    )
}

fn choose(
    explicit: Option<OsString>,
    system_writable: bool,
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let non_empty = |value: Option<OsString>| value.filter(|value| !value.is_empty()).map(PathBuf::from);
    if let Some(directory) = non_empty(explicit) {
        return Some(directory);
    }
    if system_writable {
        return Some(PathBuf::from(SYSTEM_STATE_DIR));
    }
    non_empty(xdg_state_home)
        .or_else(|| non_empty(home).map(|home| home.join(".local/state")))
        .map(|state| state.join("berth"))
}

/// Whether `directory` takes a new file, or (when it does not exist yet) its parent does;
/// asking never creates anything, `Ledger::open` does when it is needed.
pub fn writable(directory: &Path) -> bool {
    let probe = if directory.exists() { Some(directory) } else { directory.parent() };
    probe.is_some_and(|existing| tempfile::tempfile_in(existing).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_wins_then_the_system_directory_then_xdg_then_home() {
        let some = |text: &str| Some(OsString::from(text));
        assert_eq!(choose(some("/srv/berth"), true, some("/x"), some("/home/u")), Some("/srv/berth".into()));
        assert_eq!(choose(None, true, some("/x"), some("/home/u")), Some(SYSTEM_STATE_DIR.into()));
        assert_eq!(choose(some(""), false, some("/x"), some("/home/u")), Some("/x/berth".into()));
        assert_eq!(choose(None, false, None, some("/home/u")), Some("/home/u/.local/state/berth".into()));
        assert_eq!(choose(None, false, None, None), None);
    }
}
