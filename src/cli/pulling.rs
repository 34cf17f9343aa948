//! `berth up`'s pulls, before any instance starts: each image once however many instances
//! use it, all at once, with a bar per layer on a terminal, one line per image otherwise,
//! and nothing with `-q`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::progress::Progress;

use crate::containers::images::{self, Ensured, ImageSettings, PullStep};
use crate::containers::{Engine, InstanceSpec, StartError};

/// Gets every spec's image as `settings` say; the error of each image that could not be
/// had, keyed by image. `run` is the run, which began at `since`.
pub(super) async fn pull_all(
    engine: &Engine,
    specs: &[InstanceSpec],
    settings: &ImageSettings,
    (since, run): (Instant, &str),
    progress: &Progress,
) -> HashMap<String, StartError> {
    let mut images: Vec<(&str, &str)> = Vec::new();
    for spec in specs {
        if !images.iter().any(|(image, _)| *image == spec.image) {
            images.push((&spec.image, &spec.service));
        }
    }
    let pulls = images.iter().map(|(image, service)| {
        let progress = progress.clone();
        async move {
            let display = Display::new(progress, image);
            let begun = Instant::now();
            let result =
                images::ensure(engine, image, service, settings, (since, run), &|step| display.step(step)).await;
            display.finish(&result, begun);
            (image.to_string(), result)
        }
    });
    futures_util::future::join_all(pulls)
        .await
        .into_iter()
        .filter_map(|(image, result)| result.err().map(|error| (image, error)))
        .collect()
}

/// How one image's pull is shown.
struct Display {
    image: String,
    progress: Progress,
    layers: Mutex<HashMap<String, ProgressBar>>,
    announced: Mutex<bool>,
}

impl Display {
    fn new(progress: Progress, image: &str) -> Self {
        Self { image: image.to_string(), progress, layers: Mutex::default(), announced: Mutex::new(false) }
    }

    fn step(&self, step: PullStep) {
        let mut announced = self.announced.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !*announced {
            *announced = true;
            if let Progress::Lines = self.progress {
                say!("pulling {}", self.image);
            }
        }
        let (Progress::Live(bars), Some(layer)) = (&self.progress, step.layer) else { return };
        let mut layers = self.layers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bar = layers.entry(layer.clone()).or_insert_with(|| {
            let bar = bars.add(ProgressBar::new(0));
            let style = ProgressStyle::with_template("{prefix} {msg:<18} [{bar:30}] {bytes}/{total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("{} {}", self.image, short(&layer)));
            bar
        });
        bar.set_message(step.status);
        if let Some((done, total)) = step.bytes {
            bar.set_length(total);
            bar.set_position(done);
        }
    }

    fn finish(&self, result: &Result<Ensured, StartError>, begun: Instant) {
        let layers = self.layers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for bar in layers.values() {
            bar.finish_and_clear();
        }
        let seconds = begun.elapsed().as_secs_f64();
        match result {
            Ok(Ensured::Pulled) => self.progress.note(&format!("pulled {} in {seconds:.1}s", self.image)),
            Ok(Ensured::Present | Ensured::PulledAlready) => {}
            Err(error) => self.progress.note(&format!("could not get {}: {}", self.image, error.kind())),
        }
    }
}

/// A layer id as the docker CLI shows it.
fn short(layer: &str) -> &str {
    layer.get(..12).unwrap_or(layer)
}
