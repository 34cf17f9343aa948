//! Helpers shared by the integration tests: the `berth` binary with a controlled
//! environment, and throwaway registries.

#![allow(dead_code, reason = "each test crate uses its own subset of these helpers")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The registry shipped in `dynamicconfig/`.
pub(crate) fn shipped_registry() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dynamicconfig/port_registry.yaml")
}

/// A state directory with no ledger in it, so lookups never touch the host's real one.
pub(crate) fn no_ledger() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-ledger-here")
}

/// `berth` with the shipped registry, no ledger, and nothing inherited from the caller's
/// berth settings.
pub(crate) fn berth() -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("berth"));
    command
        .env_remove("BERTH_LOG")
        .env_remove("BERTH_PROJECT")
        .env("BERTH_REGISTRY", shipped_registry())
        .env("BERTH_STATE_DIR", no_ledger());
    command
}

/// `berth` with its ledger in `state` and no registry at all (run from `state`, where no
/// `dynamicconfig/` exists above).
pub(crate) fn berth_with_ledger(state: &Path) -> Command {
    let mut command = berth();
    command.env_remove("BERTH_REGISTRY").env("BERTH_STATE_DIR", state).current_dir(state);
    command
}

/// A registry file holding `text`.
pub(crate) fn registry_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().expect("temp file");
    std::fs::write(file.path(), text).expect("write registry");
    file
}
