//! Colour for people at a terminal: `error:` and `warning:` labels, finding codes and the
//! states of instances. Text is styled here with ANSI escapes and written through
//! `anstream`, which drops them when the stream is not a terminal or `NO_COLOR` is set
//! (and keeps them for `CLICOLOR_FORCE`), so pipes, files and `$(…)` get plain text.

use std::io::Write as _;

use anstyle::{AnsiColor, Style};

/// Errors: what failed.
pub(super) const ERROR: Style = AnsiColor::Red.on_default().bold();
/// Warnings and states on their way somewhere.
pub(super) const WARNING: Style = AnsiColor::Yellow.on_default().bold();
/// States that are as they should be.
pub(super) const GOOD: Style = AnsiColor::Green.on_default();
/// What was left out.
pub(super) const DIM: Style = Style::new().dimmed();

/// `text` in `style`.
pub(super) fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// A container's or instance's state, coloured by whether it is as it should be.
pub(super) fn state(state: &str) -> String {
    let style = match state {
        "running" | "created" | "adopted" | "started" | "recreated" | "ready" | "healthy" => GOOD,
        "exited" | "dead" | "failed" | "unhealthy" | "removing" => ERROR,
        _ => WARNING,
    };
    paint(style, state)
}

/// Prints `error: {message}` on stderr (never panicking: see `say!`).
pub(super) fn error(message: impl std::fmt::Display) {
    let _ = writeln!(anstream::stderr(), "{}: {message}", paint(ERROR, "error"));
}

/// Prints `warning: {message}` on stderr.
pub(super) fn warning(message: impl std::fmt::Display) {
    let _ = writeln!(anstream::stderr(), "{}: {message}", paint(WARNING, "warning"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_that_are_well_are_green_and_failures_red() {
        assert_eq!(state("running"), "\u{1b}[32mrunning\u{1b}[0m");
        assert_eq!(state("exited"), "\u{1b}[1m\u{1b}[31mexited\u{1b}[0m");
        assert_eq!(anstream::adapter::strip_str(&state("paused")).to_string(), "paused");
    }
}
