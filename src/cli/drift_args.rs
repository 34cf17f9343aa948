//! The drift watch's options, shared by `berth serve` and `berth worker`.

use std::time::Duration;

use clap::Args;

/// `--drift-interval` and `--gc-grace`.
#[derive(Debug, Args)]
pub(super) struct DriftArgs {
    /// How often to look at the host again for drift (slots held by others, instances down,
    /// leases nobody uses) and free stale leases: 1s or more; 0s turns the watch off.
    #[arg(long, default_value = "30s", value_parser = interval)]
    drift_interval: Duration,
    /// How long a lease must stay stale between two looks before the watch frees it.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    gc_grace: Duration,
}

/// A watch interval: none (`0s`), or at least a second, so that the watch cannot take a core.
fn interval(text: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if !interval.is_zero() && interval < Duration::from_secs(1) {
        return Err("must be 0s (off) or at least 1s".to_string());
    }
    Ok(interval)
}

impl DriftArgs {
    /// The watch's interval and gc grace, or `None` when it is off.
    pub(super) fn watch(&self) -> Option<(Duration, Duration)> {
        (!self.drift_interval.is_zero()).then_some((self.drift_interval, self.gc_grace))
    }
}
