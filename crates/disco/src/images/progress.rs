//! Progress of long steps (downloading and unpacking hundreds of packages):
//! a bar on a terminal (`indicatif`), otherwise a line every tenth of the
//! way, so logs stay short.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Counts a step's units of work done out of a known total.
#[derive(Debug)]
pub struct Meter {
    what: &'static str,
    total: u64,
    done: u64,
    bar: Option<ProgressBar>,
    /// The last tenth reported without a terminal.
    reported: u64,
}

impl Meter {
    /// A meter for `total` units of step `what` (e.g. "downloading").
    pub fn new(what: &'static str, total: u64) -> Meter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "disco: {msg:12} [{bar:40}] {pos}/{len} packages ({elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(what);
            bar
        });
        Meter {
            what,
            total,
            done: 0,
            bar,
            reported: 0,
        }
    }

    /// Sets the units done so far.
    pub fn set(&mut self, done: u64) {
        self.done = done.min(self.total);
        match &self.bar {
            Some(bar) => bar.set_position(self.done),
            None => {
                let tenth = (self.done * 10).checked_div(self.total).unwrap_or(10);
                if tenth > self.reported {
                    self.reported = tenth;
                    eprintln!("disco: {} {}/{}", self.what, self.done, self.total);
                }
            }
        }
    }

    /// Ends the meter (clears the bar; the last line stays).
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish();
        }
    }
}

/// Runs `work` (a step such as one package's download, whose progress
/// cannot be read: `apt-get download` writes its file only at the end)
/// with a spinner and the elapsed time on a terminal; elsewhere it just
/// runs `work`.
pub fn with_spinner<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("disco: {spinner} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let out = work();
    bar.finish_and_clear();
    out
}
