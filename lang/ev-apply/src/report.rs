//! Progress: on a terminal a live view (a line per running action with its
//! elapsed time and a bar for the whole apply, drawn by indicatif); without
//! one, plain timestamped lines. Every message passes through here.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes.
pub struct Reporter {
    live: Option<Live>,
    started: Instant,
}

struct Live {
    multi: MultiProgress,
    total: ProgressBar,
    running: BTreeMap<String, ProgressBar>,
}

fn clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

impl Reporter {
    /// A reporter for `total` actions; live when `live` (stderr is a terminal).
    pub fn new(total: usize, live: bool) -> Reporter {
        let live = live.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let total = multi.add(ProgressBar::new(total as u64));
            total.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} actions  {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Live {
                multi,
                total,
                running: BTreeMap::new(),
            }
        });
        Reporter {
            live,
            started: Instant::now(),
        }
    }

    /// A line for people (printed above the live view).
    pub fn say(&mut self, text: &str) {
        let text = &*ev_core::output::terminal_safe(text);
        match &self.live {
            Some(live) => {
                let _ = live.multi.println(text);
            }
            None => line(&format!("{} {text}", clock())),
        }
    }

    /// Asks a yes/no question on the terminal (the live view paused);
    /// only `yes` is yes.
    pub fn ask(&mut self, question: &str) -> bool {
        let read = || {
            use std::io::Write;
            let mut stderr = std::io::stderr();
            let _ = write!(stderr, "{question}");
            let _ = stderr.flush();
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            answer.trim() == "yes"
        };
        match &self.live {
            Some(live) => live.multi.suspend(read),
            None => read(),
        }
    }

    /// An action started.
    pub fn started(&mut self, id: &str) {
        let id = &*ev_core::output::terminal_safe(id);
        match &mut self.live {
            Some(live) => {
                let bar = live
                    .multi
                    .insert_before(&live.total, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(id.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                live.running.insert(id.to_string(), bar);
            }
            None => line(&format!("{} {id}: started", clock())),
        }
    }

    /// An action ended (`outcome`: `done`, `failed: …`, `unchanged`).
    pub fn finished(&mut self, id: &str, outcome: &str, took: Duration) {
        let line = format!("{id}: {outcome} ({:.1}s)", took.as_secs_f64());
        let line = ev_core::output::terminal_safe(&line).into_owned();
        match &mut self.live {
            Some(live) => {
                if let Some(bar) = live.running.remove(id) {
                    bar.finish_and_clear();
                    live.multi.remove(&bar);
                }
                live.total.inc(1);
                let _ = live.multi.println(format!("  {line}"));
            }
            None => self::line(&format!("{} {line}", clock())),
        }
    }

    /// Clears the live view.
    pub fn close(&mut self) {
        if let Some(live) = self.live.take() {
            for bar in live.running.values() {
                bar.finish_and_clear();
            }
            live.total.finish_and_clear();
        }
    }

    /// Time since the apply started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Writes a line to stderr, ignoring failure: a closed terminal (SIGHUP) or
/// pipe must not end an apply that is recording what its tools did.
fn line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}
