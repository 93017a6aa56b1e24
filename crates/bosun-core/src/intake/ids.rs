//! Stable task ids: a short hash of the normalized section path and title, so an id survives
//! edits to descriptions, subtasks and other tasks.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use crate::model::{Task, TaskId};

const ID_CHARS: usize = 6;
const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Appends `text` to `out` lowercased, with whitespace runs collapsed to one space, so
/// spacing and case edits keep the id.
fn push_normalized(out: &mut String, text: &str) {
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.is_ascii() {
            let start = out.len();
            out.push_str(word);
            out[start..].make_ascii_lowercase();
        } else {
            out.extend(word.chars().flat_map(char::to_lowercase));
        }
    }
}

/// The hash of the section path alone; tasks of one section share it.
fn section_state(section: &[String]) -> Sha256 {
    let mut key = String::new();
    for heading in section {
        push_normalized(&mut key, heading);
        key.push('\u{1f}');
    }
    key.push('\u{1e}');
    Sha256::new_with_prefix(key.as_bytes())
}

/// Six base-36 characters from a digest, as a number (for the uniqueness check) and an id.
fn short(digest: &[u8]) -> u64 {
    let n = u64::from_be_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes"),
    );
    n % 36u64.pow(ID_CHARS as u32)
}

fn render(mut n: u64) -> TaskId {
    let mut id = String::with_capacity(2 + ID_CHARS);
    id.push_str("t-");
    for _ in 0..ID_CHARS {
        id.push(ALPHABET[(n % 36) as usize] as char);
        n /= 36;
    }
    TaskId(id)
}

/// Gives every task its id, in order. A task whose short hash is taken (by a task with the
/// same section and title, or by a rare collision) gets its key rehashed with a counter; this
/// depends only on the order of the tasks involved, so the result is deterministic. The keys
/// of a long list are hashed on as many threads as there are cores.
pub(crate) fn assign_ids(tasks: &mut [Task]) {
    let keys = keys(tasks);
    let mut used: HashSet<u64> = HashSet::with_capacity(tasks.len());
    for (task, (key, first)) in tasks.iter_mut().zip(keys) {
        // The id of the first try is rendered with the key; only a taken one is redone.
        if used.insert(short(&key)) {
            task.id = first;
            continue;
        }
        let mut digest = key;
        let mut salt = 0u32;
        loop {
            let id = short(&digest);
            if used.insert(id) {
                task.id = render(id);
                break;
            }
            salt += 1;
            digest = Sha256::new()
                .chain_update(key)
                .chain_update(salt.to_be_bytes())
                .finalize()
                .into();
        }
    }
}

/// Lists shorter than this hash their keys on one thread.
const PARALLEL_MIN: usize = 20_000;

/// Each task's key — the hash of its normalized section path and title — and the id it
/// gives when not taken.
fn keys(tasks: &[Task]) -> Vec<([u8; 32], TaskId)> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if tasks.len() < PARALLEL_MIN || threads < 2 {
        return keys_of(tasks);
    }
    let chunk = tasks.len().div_ceil(threads);
    std::thread::scope(|s| {
        let workers: Vec<_> = tasks
            .chunks(chunk)
            .map(|part| s.spawn(|| keys_of(part)))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

fn keys_of(tasks: &[Task]) -> Vec<([u8; 32], TaskId)> {
    let mut cached: Option<(std::sync::Arc<[String]>, Sha256)> = None;
    let mut title = String::new();
    tasks
        .iter()
        .map(|task| {
            let state = match &cached {
                Some((section, state))
                    if std::sync::Arc::ptr_eq(section, &task.section)
                        || *section == task.section =>
                {
                    state.clone()
                }
                _ => {
                    let state = section_state(&task.section);
                    cached = Some((task.section.clone(), state.clone()));
                    state
                }
            };
            title.clear();
            push_normalized(&mut title, &task.title);
            let key: [u8; 32] = state.chain_update(title.as_bytes()).finalize().into();
            (key, render(short(&key)))
        })
        .collect()
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
            priority_rule: "default".into(),
            task_type: crate::model::TaskType::Code,
            type_rule: "default".into(),
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
        // The section is part of the key: the same title elsewhere is another task.
        let mut c = vec![task(&["A", "Sub"], "Fix it")];
        assign_ids(&mut c);
        assert_ne!(c[0].id, a[0].id);
    }

    #[test]
    fn a_long_list_hashed_on_several_threads_gets_the_keys_of_one_thread() {
        let tasks: Vec<Task> = (0..2 * PARALLEL_MIN + 7)
            .map(|i| {
                task(
                    &["Plan", &format!("Part {}", i / 1000)],
                    &format!("Task {i}"),
                )
            })
            .collect();
        assert_eq!(keys(&tasks), keys_of(&tasks));
    }

    #[test]
    fn colliding_short_hashes_are_rehashed() {
        // 50,000 distinct titles make 6-character collisions likely (birthday bound); all
        // ids must still be unique.
        let mut many: Vec<Task> = (0..50_000)
            .map(|i| task(&["S"], &format!("task {i}")))
            .collect();
        assign_ids(&mut many);
        let ids: HashSet<_> = many.iter().map(|t| t.id.clone()).collect();
        assert_eq!(ids.len(), many.len());
    }
}
