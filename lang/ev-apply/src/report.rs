//! The executor's faces (see [`crate::events`]): [`Human`] draws, on a
//! terminal, a live view (a line per running action with its elapsed time
//! and a bar for the whole apply, by indicatif) and, without one, plain
//! timestamped lines; [`JsonLines`] writes each event as a line of JSON
//! (`ev apply --json`).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::events::{ActionResult, Event, Events, EVENTS_VERSION};

/// Progress for people, on stderr.
pub struct Human {
    live: Option<Live>,
    /// Whether `confirm` may ask on the terminal.
    ask: bool,
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

impl Human {
    /// A live view when `live` (stderr is a terminal), else lines; `ask`:
    /// questions may be asked on the terminal (else they are refused).
    pub fn new(live: bool, ask: bool) -> Human {
        let live = live.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let total = multi.add(ProgressBar::new(0));
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
        Human { live, ask }
    }

    /// A line for people (printed above the live view).
    fn say(&mut self, text: &str) {
        let text = &*ev_core::output::terminal_safe(text);
        match &self.live {
            Some(live) => {
                let _ = live.multi.println(text);
            }
            None => line(&format!("{} {text}", clock())),
        }
    }

    fn started(&mut self, id: &str) {
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

    fn finished(&mut self, id: &str, outcome: &str, took: f64) {
        let line = format!("{id}: {outcome} ({took:.1}s)");
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

    fn close(&mut self) {
        if let Some(live) = self.live.take() {
            for bar in live.running.values() {
                bar.finish_and_clear();
            }
            live.total.finish_and_clear();
        }
    }
}

impl Events for Human {
    fn event(&mut self, event: Event) {
        match event {
            // The CLI prints the plan and the summary itself.
            Event::Plan { .. } => {}
            Event::Finished { .. } => self.close(),
            Event::Started { actions, .. } => {
                if let Some(live) = &self.live {
                    live.total.set_length(actions.len() as u64);
                }
            }
            Event::ActionStarted { id } => self.started(&id),
            Event::ActionFinished {
                id,
                result,
                message,
                log_tail,
                seconds,
            } => {
                let outcome = match (result, message) {
                    (ActionResult::Failed | ActionResult::Stopped, Some(why)) => {
                        format!("{}: {why}", result.human())
                    }
                    _ => result.human().to_string(),
                };
                self.finished(&id, &outcome, seconds);
                if let Some(tail) = log_tail {
                    self.say(&format!("--- last lines of {id}'s log\n{tail}\n---"));
                }
            }
            Event::ActionSkipped { id, because } => {
                self.say(&format!("{id}: skipped ({because} did not complete)"))
            }
            Event::Known {
                id,
                item,
                detail,
                after,
            } => self.say(&format!("{id}  {item}  {detail}  (known after {after})")),
            Event::Notice { message } => self.say(&message),
        }
    }

    fn confirm(&mut self, id: &str, why: &str) -> bool {
        if !self.ask {
            return false;
        }
        let question = ev_core::output::terminal_safe(&format!(
            "{id}: {why}.\nApply {id} anyway? Only `yes` is accepted: "
        ))
        .into_owned();
        let read = || {
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
}

/// Writes a line to stderr, ignoring failure: a closed terminal (SIGHUP) or
/// pipe must not end an apply that is recording what its tools did.
fn line(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Each event as one line of JSON (see [`crate::events`] for the format).
/// Questions are refused: nobody is there to answer them.
pub struct JsonLines<W: Write> {
    out: W,
    started: Instant,
}

impl<W: Write> JsonLines<W> {
    /// Events written to `out`, timed from now.
    pub fn new(out: W) -> JsonLines<W> {
        JsonLines {
            out,
            started: Instant::now(),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Events for JsonLines<W> {
    fn event(&mut self, event: Event) {
        let mut value = serde_json::json!({
            "version": EVENTS_VERSION,
            "elapsed": (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        });
        if let (Some(head), Ok(serde_json::Value::Object(body))) =
            (value.as_object_mut(), serde_json::to_value(&event))
        {
            head.extend(body);
        }
        // As the human face: a closed pipe must not stop the apply.
        let _ = writeln!(self.out, "{value}");
        let _ = self.out.flush();
    }
}
