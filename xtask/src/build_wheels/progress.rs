//! Progress of `build-wheels`: a bar (indicatif) of built sdists with the
//! ones building now, drawn only when stderr is a terminal, and one line
//! per finished build either way.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
    running: Mutex<Vec<String>>,
}

impl Progress {
    /// A bar for `total` builds (hidden when stderr is not a terminal).
    pub fn new(total: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {pos}/{len} built; building {wide_msg}",
        ) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress {
            bar,
            running: Mutex::new(Vec::new()),
        }
    }

    pub fn start(&self, name: &str) {
        if let Ok(mut running) = self.running.lock() {
            running.push(name.to_owned());
            self.bar.set_message(running.join(", "));
        }
    }

    pub fn finish(&self, name: &str) {
        if let Ok(mut running) = self.running.lock() {
            running.retain(|n| n != name);
            self.bar.set_message(running.join(", "));
        }
    }

    /// Counts one wheel done.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// A line above the bar (or alone on stderr).
    pub fn note(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    pub fn done(&self) {
        self.bar.finish_and_clear();
    }
}
