//! The `berth` binary: everything lives in the library so tests can reach it.

use std::process::ExitCode;

fn main() -> ExitCode {
    berth::cli::main()
}
