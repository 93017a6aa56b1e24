//! Stable task ids: a short hash of the normalized section path and title, so an id survives
//! edits to descriptions, subtasks and other tasks.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use crate::model::{Task, TaskId};

const ID_CHARS: usize = 6;
const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Lowercases and collapses whitespace, so spacing and case edits keep the id.
fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn short_hash(key: &str) -> TaskId {
    let digest = Sha256::digest(key.as_bytes());
    let mut n = u64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes"),
    );
    let mut id = String::with_capacity(2 + ID_CHARS);
    id.push_str("t-");
    for _ in 0..ID_CHARS {
        id.push(ALPHABET[(n % 36) as usize] as char);
        n /= 36;
    }
    TaskId(id)
}

/// The hash key of a task: its section path and title, normalized.
fn key(task: &Task) -> String {
    let mut key = String::new();
    for heading in &task.section {
        key.push_str(&normalize(heading));
        key.push('\u{1f}');
    }
    key.push('\u{1e}');
    key.push_str(&normalize(&task.title));
    key
}

/// Gives every task its id, in order. A task with the same section and title as an earlier
/// one gets the key's n-th variant; a hash collision between different keys is resolved by
/// rehashing the later task's key with a suffix. Both depend only on the order of the tasks
/// involved, so the result is deterministic.
pub(crate) fn assign_ids(tasks: &mut [Task]) {
    let mut used: HashSet<TaskId> = HashSet::with_capacity(tasks.len());
    let mut occurrences: HashMap<String, usize> = HashMap::with_capacity(tasks.len());
    for task in tasks {
        let base = key(task);
        let n = occurrences.entry(base.clone()).or_insert(0);
        let mut salted = if *n == 0 {
            base
        } else {
            format!("{base}\u{1d}{n}")
        };
        *n += 1;
        loop {
            let id = short_hash(&salted);
            if used.insert(id.clone()) {
                task.id = id;
                break;
            }
            salted.push('\u{1d}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(section: &[&str], title: &str) -> Task {
        Task {
            id: TaskId(String::new()),
            title: title.into(),
            description: String::new(),
            body: String::new(),
            priority: crate::model::Priority::Medium,
            priority_rule: String::new(),
            task_type: crate::model::TaskType::Code,
            type_rule: String::new(),
            done: false,
            section: section.iter().map(|s| s.to_string()).collect(),
            file: "TODO.md".into(),
            line: 1,
            subtasks: Vec::new(),
            refs: Vec::new(),
            depends_on: Vec::new(),
        }
    }

    #[test]
    fn ids_are_short_stable_and_unique() {
        let mut a = vec![
            task(&["A"], "Fix it"),
            task(&["A"], "Fix it"),
            task(&["B"], "Fix it"),
        ];
        assign_ids(&mut a);
        assert!(
            a.iter()
                .all(|t| t.id.0.len() == 8 && t.id.0.starts_with("t-"))
        );
        let ids: HashSet<_> = a.iter().map(|t| t.id.clone()).collect();
        assert_eq!(ids.len(), 3);
        let mut b = vec![
            task(&["a"], "fix   IT"),
            task(&["A"], "Fix it"),
            task(&["B"], "Fix it"),
        ];
        assign_ids(&mut b);
        assert_eq!(a[0].id, b[0].id, "case and spacing do not change the id");
        assert_eq!(a[1].id, b[1].id);
        assert_eq!(a[2].id, b[2].id);
    }
}
