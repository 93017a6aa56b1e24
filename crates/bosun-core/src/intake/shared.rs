//! One parse for loads of the same task files at the same time: at start the console and
//! the orchestrator each load the task list, and on a large list (a 10 MB file is 176,000
//! tasks) parsing it twice at once doubled the wait for the first board.
//!
//! Only loads that overlap share: the first one parses and publishes its result to those
//! that came meanwhile with the very same bytes and rules, then forgets it — nothing is
//! kept once every waiting load has its copy, so memory and staleness are as without it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use super::{IntakeError, TaskList, TypeRules};

/// A parse under way.
struct Flight {
    sources: Vec<(PathBuf, Vec<u8>)>,
    rules: TypeRules,
    /// Set when the parse has ended and no load can join any more.
    done: OnceLock<()>,
    /// The list (none when the parse failed: a waiter then parses itself, to get the error
    /// as its own), and how many loads have yet to take their copy: the last one takes the
    /// list itself, the others a clone.
    list: Mutex<(Option<TaskList>, usize)>,
}

impl Flight {
    /// This load's copy of the list, if the parse succeeded.
    fn take(&self) -> Option<TaskList> {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        list.1 = list.1.saturating_sub(1);
        if list.1 == 0 {
            list.0.take()
        } else {
            list.0.clone()
        }
    }
}

static UNDER_WAY: Mutex<Option<Arc<Flight>>> = Mutex::new(None);

/// Parses `sources` as [`TaskList::from_sources`] does, sharing the work with a parse of
/// the same content that is under way.
pub(super) fn parse(
    sources: Vec<(PathBuf, Vec<u8>)>,
    rules: &TypeRules,
) -> Result<TaskList, IntakeError> {
    let flight = {
        let mut under_way = UNDER_WAY.lock().unwrap_or_else(|e| e.into_inner());
        match under_way.as_ref() {
            Some(f) if f.sources == sources && f.rules == *rules => {
                let flight = Arc::clone(f);
                flight.list.lock().unwrap_or_else(|e| e.into_inner()).1 += 1;
                drop(under_way);
                flight.done.wait();
                return match flight.take() {
                    Some(list) => Ok(list),
                    None => TaskList::from_sources(&flight.sources, rules),
                };
            }
            _ => {
                let flight = Arc::new(Flight {
                    sources,
                    rules: rules.clone(),
                    done: OnceLock::new(),
                    list: Mutex::new((None, 1)),
                });
                *under_way = Some(Arc::clone(&flight));
                flight
            }
        }
    };
    // Whatever happens here (a panic included), waiters are answered and the flight ends.
    let landing = Landing(&flight);
    let list = TaskList::from_sources(&flight.sources, rules)?;
    flight.list.lock().unwrap_or_else(|e| e.into_inner()).0 = Some(list);
    drop(landing);
    Ok(flight.take().unwrap_or_default())
}

/// Ends a flight, whatever happened (a panic included): takes it off the board, so that
/// later loads parse afresh and the number of loads sharing it is final, then wakes them.
struct Landing<'a>(&'a Arc<Flight>);

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        let mut under_way = UNDER_WAY.lock().unwrap_or_else(|e| e.into_inner());
        if under_way.as_ref().is_some_and(|f| Arc::ptr_eq(f, self.0)) {
            *under_way = None;
        }
        drop(under_way);
        let _ = self.0.done.set(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IntakeConfig;

    fn list(n: usize) -> Vec<(PathBuf, Vec<u8>)> {
        let text: String = (0..n).map(|i| format!("- [ ] Task {i}\n")).collect();
        vec![(PathBuf::from("TODO.md"), text.into_bytes())]
    }

    #[test]
    fn loads_at_the_same_time_get_the_same_tasks_and_a_later_one_parses_afresh() {
        let rules = IntakeConfig::default().type_rules();
        let alone = TaskList::from_sources(&list(20_000), &rules).unwrap();
        let lists: Vec<TaskList> = std::thread::scope(|s| {
            let loads: Vec<_> = (0..3)
                .map(|_| s.spawn(|| parse(list(20_000), &rules).unwrap()))
                .collect();
            loads.into_iter().map(|l| l.join().unwrap()).collect()
        });
        for l in &lists {
            assert_eq!(l.tasks, alone.tasks);
            assert_eq!(l.markers, alone.markers);
        }
        // The next load of other content parses that content.
        assert_eq!(parse(list(3), &rules).unwrap().tasks.len(), 3);
    }

    #[test]
    fn a_load_of_other_bytes_meanwhile_is_not_given_the_other_list() {
        let rules = IntakeConfig::default().type_rules();
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| parse(list(30_000), &rules).unwrap());
            let b = s.spawn(|| parse(list(29_999), &rules).unwrap());
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!((a.tasks.len(), b.tasks.len()), (30_000, 29_999));
    }
}
