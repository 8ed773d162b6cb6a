//! Which actions may start: a dependency count per action, released as
//! dependencies succeed; a failure skips everything downstream of it.
//! Ready actions start in plan order. Every operation costs in proportion
//! to the edges it touches, so a graph of thousands of actions schedules in
//! linear time.

use std::collections::{BTreeSet, HashMap};

/// The actions not started yet.
#[derive(Debug, Default)]
pub struct Schedule {
    order: HashMap<String, usize>,
    dependents: HashMap<String, Vec<String>>,
    remaining: HashMap<String, usize>,
    ready: BTreeSet<(usize, String)>,
    blocked: BTreeSet<(usize, String)>,
}

impl Schedule {
    /// `ids` in plan order; `deps_of` gives an action's dependencies (those
    /// outside `ids` count as done).
    pub fn new(ids: &[String], deps_of: impl Fn(&str) -> Vec<String>) -> Schedule {
        let mut s = Schedule::default();
        for (i, id) in ids.iter().enumerate() {
            s.order.insert(id.clone(), i);
        }
        for id in ids {
            let deps: Vec<String> = deps_of(id)
                .into_iter()
                .filter(|d| s.order.contains_key(d) && d != id)
                .collect();
            for d in &deps {
                s.dependents.entry(d.clone()).or_default().push(id.clone());
            }
            let key = (s.order[id], id.clone());
            if deps.is_empty() {
                s.ready.insert(key);
            } else {
                s.remaining.insert(id.clone(), deps.len());
                s.blocked.insert(key);
            }
        }
        s
    }

    /// Takes the first ready action.
    pub fn next_ready(&mut self) -> Option<String> {
        self.ready.pop_first().map(|(_, id)| id)
    }

    /// Whether a ready action depends on one of `producers`.
    pub fn ready_depends_on(
        &self,
        graph: &ev_deploy::plan::ActionGraph,
        producers: &[String],
    ) -> bool {
        self.ready.iter().any(|(_, id)| {
            graph
                .get(id)
                .is_some_and(|a| a.depends_on.iter().any(|d| producers.contains(d)))
        })
    }

    /// Whether anything is ready.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// An action succeeded (or needed nothing): its dependents may start once
    /// their other dependencies have. It leaves the schedule if still in it.
    pub fn succeeded(&mut self, id: &str) {
        self.forget(id);
        for d in self.dependents.get(id).cloned().unwrap_or_default() {
            if let Some(n) = self.remaining.get_mut(&d) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.remaining.remove(&d);
                    let key = (self.order[&d], d);
                    if self.blocked.remove(&key) {
                        self.ready.insert(key);
                    }
                }
            }
        }
    }

    /// An action failed (or was stopped): everything downstream of it is
    /// skipped. Returns the skipped actions with the dependency that did not
    /// complete, in plan order.
    pub fn failed(&mut self, id: &str) -> Vec<(String, String)> {
        self.forget(id);
        let mut skipped = Vec::new();
        let mut stack = vec![id.to_string()];
        while let Some(cause) = stack.pop() {
            for d in self.dependents.get(&cause).cloned().unwrap_or_default() {
                if self.forget(&d) {
                    skipped.push((d.clone(), cause.clone()));
                    stack.push(d);
                }
            }
        }
        skipped.sort_by_key(|(d, _)| self.order.get(d).copied().unwrap_or(usize::MAX));
        skipped
    }

    /// Removes an action that has not started; whether it was there.
    fn forget(&mut self, id: &str) -> bool {
        let Some(&i) = self.order.get(id) else {
            return false;
        };
        let key = (i, id.to_string());
        self.remaining.remove(id);
        self.ready.remove(&key) | self.blocked.remove(&key)
    }

    /// The actions not started, in plan order.
    pub fn pending(&self) -> Vec<String> {
        let mut all: Vec<&(usize, String)> = self.ready.iter().chain(self.blocked.iter()).collect();
        all.sort();
        all.into_iter().map(|(_, id)| id.clone()).collect()
    }

    /// Nothing left to start.
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.blocked.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> Schedule {
        // a → b → c, and d independent.
        let ids: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        Schedule::new(&ids, |id| match id {
            "b" => vec!["a".into()],
            "c" => vec!["b".into(), "outside".into()],
            _ => vec![],
        })
    }

    #[test]
    fn dependents_start_after_their_dependencies() {
        let mut s = chain();
        assert_eq!(s.next_ready().as_deref(), Some("a"));
        assert_eq!(s.next_ready().as_deref(), Some("d"));
        assert_eq!(s.next_ready(), None);
        s.succeeded("a");
        assert_eq!(s.next_ready().as_deref(), Some("b"));
        s.succeeded("b");
        assert_eq!(s.next_ready().as_deref(), Some("c"));
        assert!(s.is_empty());
    }

    #[test]
    fn a_failure_skips_everything_downstream() {
        let mut s = chain();
        let _ = s.next_ready();
        assert_eq!(
            s.failed("a"),
            vec![
                ("b".to_string(), "a".to_string()),
                ("c".to_string(), "b".to_string())
            ]
        );
        assert_eq!(s.pending(), vec!["d".to_string()]);
    }
}
