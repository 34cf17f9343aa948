//! How `berth up` shows each instance's start while it runs: on a terminal a live line per
//! instance (its phase, what readiness waits for, the seconds so far), elsewhere a line per
//! phase and one every few seconds of waiting (for logs and CI), and nothing with `-q`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::containers::{Failed, Phase, Started};

/// How often a readiness wait says it is still waiting, when lines cannot be redrawn.
const READY_REPORT_SECONDS: u64 = 5;

/// Where the progress of a run goes.
#[derive(Clone)]
pub(super) enum Progress {
    /// `-q`: nothing.
    Quiet,
    /// Not a terminal: a line per change.
    Lines,
    /// A terminal: a line per instance, redrawn in place.
    Live(MultiProgress),
}

impl Progress {
    /// Live on a terminal's stderr, lines elsewhere, nothing when `quiet`.
    pub(super) fn for_stderr(quiet: bool) -> Self {
        match (quiet, std::io::stderr().is_terminal()) {
            (true, _) => Self::Quiet,
            (false, true) => Self::Live(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            (false, false) => Self::Lines,
        }
    }

    /// A note that is not about one instance (`also starting …`).
    pub(super) fn note(&self, text: &str) {
        match self {
            Self::Quiet => {}
            Self::Lines => say!("{text}"),
            Self::Live(bars) => {
                let _ = bars.println(text);
            }
        }
    }

    /// The display of one instance's start; `label` names it, `waits_for` says what its
    /// readiness waits for (`HTTP 200 from /health on port`).
    pub(super) fn instance(&self, label: String, waits_for: String) -> InstanceProgress {
        let bar = match self {
            Self::Live(bars) => {
                let bar = bars.add(ProgressBar::new_spinner());
                let style = ProgressStyle::with_template("{spinner} {prefix} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                bar.set_style(style);
                bar.set_prefix(label.clone());
                bar.set_message("queued");
                bar.enable_steady_tick(Duration::from_millis(120));
                Some(bar)
            }
            Self::Quiet | Self::Lines => None,
        };
        InstanceProgress { label, waits_for, bar, quiet: matches!(self, Self::Quiet), reported: AtomicU64::new(0) }
    }
}

/// One instance's line.
pub(super) struct InstanceProgress {
    label: String,
    waits_for: String,
    bar: Option<ProgressBar>,
    quiet: bool,
    reported: AtomicU64,
}

impl InstanceProgress {
    /// The start reached `phase`.
    pub(super) fn phase(&self, phase: Phase) {
        let text = match phase {
            Phase::Pull { done_bytes, total_bytes } => format!("pulling ({done_bytes} of {total_bytes} bytes)"),
            Phase::Preflight => "checking ports".to_string(),
            Phase::Create => "creating".to_string(),
            Phase::Start => "starting".to_string(),
            Phase::Ready { waited_seconds } => {
                let text = format!("waiting for {} ({waited_seconds}s)", self.waits_for);
                if self.bar.is_none() {
                    // Without redrawing, a wait says so every few seconds, not every second.
                    if waited_seconds < self.reported.load(Ordering::Relaxed) + READY_REPORT_SECONDS {
                        return;
                    }
                    self.reported.store(waited_seconds, Ordering::Relaxed);
                }
                text
            }
        };
        self.show(&text);
    }

    /// The start ended.
    pub(super) fn finish(&self, result: &Result<Started, Failed>) {
        let text = match result {
            Ok(started) => format!("{} and ready in {:.1}s", started.outcome.as_str(), started.seconds),
            Err(failed) => format!("failed ({})", failed.kind()),
        };
        match &self.bar {
            Some(bar) => {
                let mark = match result {
                    Ok(_) => super::style::paint(super::style::GOOD, "✔"),
                    Err(_) => super::style::paint(super::style::ERROR, "✘"),
                };
                bar.set_style(
                    ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.finish_with_message(format!("{mark} {}: {text}", self.label));
            }
            None => self.show(&text),
        }
    }

    fn show(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(text.to_string()),
            None if !self.quiet => say!("{}: {text}", self.label),
            None => {}
        }
    }
}
