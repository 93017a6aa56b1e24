//! Lessons (what went wrong before) and patterns (what was accepted before), and which of
//! them a new task's prompt should recall: those of the same type or with overlapping
//! keywords, most relevant first, capped.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::keywords::jaccard;
use crate::model::{GateResult, TaskType, Verdict};

pub use crate::model::{Lesson, LessonSource};

/// An accepted change, shown to later agents working on similar tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pattern {
    /// Time-ordered id (a ULID, lowercase).
    pub id: String,
    /// The task's type.
    pub task_type: TaskType,
    /// The task's title.
    pub task_title: String,
    /// The task's keywords.
    pub keywords: Vec<String>,
    /// The executor whose change was accepted.
    pub executor: String,
    /// Paths the change touched.
    pub files: Vec<String>,
    /// What the agent said it did, when it said.
    pub summary: Option<String>,
    /// The approved run.
    pub run_id: String,
    /// How many prompts included it.
    pub uses: u64,
    /// When the run was approved (Unix milliseconds).
    pub created_ms: u64,
}

/// What a prompt recalls for one task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recall {
    /// The most relevant lessons, best first.
    pub lessons: Vec<Lesson>,
    /// The most relevant accepted examples, best first.
    pub examples: Vec<Pattern>,
}

impl Recall {
    /// Whether there is nothing to say.
    pub fn is_empty(&self) -> bool {
        self.lessons.is_empty() && self.examples.is_empty()
    }
}

/// How relevant something learned on a task of `their_type` with `their_keywords` is to a
/// task of `task_type` with `keywords`: 1 for the same type plus the Jaccard overlap of the
/// keywords; `None` (not relevant) when the type differs and no keyword is shared.
pub fn relevance(
    task_type: TaskType,
    keywords: &[String],
    their_type: TaskType,
    their_keywords: &[String],
) -> Option<f64> {
    let overlap = jaccard(keywords, their_keywords);
    let same = if task_type == their_type { 1.0 } else { 0.0 };
    (same + overlap > 0.0).then_some(same + overlap)
}

/// The `cap` items with a relevance, most relevant first; among equals, the newest first.
pub fn most_relevant<T>(
    items: Vec<T>,
    cap: usize,
    relevance: impl Fn(&T) -> Option<f64>,
    created_ms: impl Fn(&T) -> u64,
) -> Vec<T> {
    let mut scored: Vec<(f64, u64, T)> = items
        .into_iter()
        .filter_map(|item| relevance(&item).map(|r| (r, created_ms(&item), item)))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
    scored
        .into_iter()
        .take(cap)
        .map(|(_, _, item)| item)
        .collect()
}

/// Most characters of a gate's line kept in a key or a lesson.
const MAX_LINE_CHARS: usize = 300;

/// The line that says how a required gate failed, or `None` for a gate that did not fail or
/// is not required: the first non-empty line of its summary (a command gate's summary already
/// carries the first error line of its output), else of its details. The run's worktree path
/// is cut from it, so it reads the same in every run.
pub fn gate_failure_line(gate: &GateResult, worktree: Option<&Path>) -> Option<String> {
    if gate.verdict != Verdict::Fail || !gate.required {
        return None;
    }
    let first = |text: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    };
    let mut line = first(&gate.summary).or_else(|| first(&gate.details))?;
    if let Some(wt) = worktree.map(|w| w.display().to_string())
        && !wt.is_empty()
    {
        line = line.replace(&format!("{wt}/"), "").replace(&wt, ".");
    }
    let line: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(line.chars().take(MAX_LINE_CHARS).collect())
}

/// The key under which the same failure is recognised on another run: the gate's name and
/// its failure line with every run of digits replaced by `#`. Counts, line numbers and exit
/// codes vary between runs of the same problem (`3 passed, 2 failed` and `4 passed, 1
/// failed` are one recurring test failure); words and paths do not, and they tell problems
/// apart.
pub fn gate_failure_key(gate: &str, line: &str) -> String {
    format!("gate\0{gate}\0{}", crate::model::mask_digits(line))
}

/// The key under which the same rejection reason is recognised for a task type:
/// case and spacing do not matter.
pub fn rejection_key(task_type: TaskType, reason: &str) -> String {
    let words: Vec<String> = reason.split_whitespace().map(str::to_lowercase).collect();
    format!("reject\0{task_type}\0{}", words.join(" "))
}

/// The files a unified diff touches, from its `diff --git a/… b/…` headers (the new path).
pub fn files_in_patch(patch: &str) -> Vec<String> {
    let mut files = Vec::new();
    for header in patch.lines().filter_map(|l| l.strip_prefix("diff --git ")) {
        let path = header
            .rsplit_once(" b/")
            .map(|(_, p)| p)
            .or_else(|| header.rsplit_once(" \"b/").map(|(_, p)| p))
            .map(|p| p.trim_end_matches('"'));
        if let Some(p) = path
            && !files.iter().any(|f| f == p)
        {
            files.push(p.to_string());
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| (*w).to_string()).collect()
    }

    fn gate(verdict: Verdict, required: bool, summary: &str, details: &str) -> GateResult {
        GateResult {
            verdict,
            summary: summary.into(),
            details: details.into(),
            ..GateResult::skipped("test", "", required, 1.0)
        }
    }

    #[test]
    fn lessons_rank_by_type_and_overlap_and_are_capped() {
        let task = words(&["parser", "crash", "empty", "input"]);
        // (name, type, keywords, created)
        let items = vec![
            (
                "other type, no overlap",
                TaskType::Docs,
                words(&["readme"]),
                5,
            ),
            ("same type, no overlap", TaskType::Code, words(&["ci"]), 4),
            (
                "same type, overlap",
                TaskType::Code,
                words(&["parser", "crash"]),
                1,
            ),
            (
                "other type, overlap",
                TaskType::Docs,
                words(&["parser", "docs"]),
                2,
            ),
            (
                "same type, no overlap, newer",
                TaskType::Code,
                words(&["yaml"]),
                9,
            ),
        ];
        let rank = |cap| {
            most_relevant(
                items.clone(),
                cap,
                |(_, t, k, _)| relevance(TaskType::Code, &task, *t, k),
                |(_, _, _, at)| *at,
            )
            .into_iter()
            .map(|(name, ..)| name)
            .collect::<Vec<_>>()
        };
        assert_eq!(
            rank(10),
            vec![
                "same type, overlap",
                "same type, no overlap, newer",
                "same type, no overlap",
                "other type, overlap",
            ]
        );
        assert_eq!(
            rank(2),
            vec!["same type, overlap", "same type, no overlap, newer"]
        );
        assert!(rank(0).is_empty());
    }

    #[test]
    fn failure_lines_come_from_failed_required_gates_without_the_worktree() {
        let wt = Path::new("/tmp/wt/01jabc");
        let g = gate(
            Verdict::Fail,
            true,
            "`cargo test` exited with status 101: error: /tmp/wt/01jabc/src/lib.rs:12:5   mismatched types",
            "",
        );
        assert_eq!(
            gate_failure_line(&g, Some(wt)).as_deref(),
            Some("`cargo test` exited with status 101: error: src/lib.rs:12:5 mismatched types")
        );
        let only_details = gate(Verdict::Fail, true, "  \n", "\n  first line\nsecond\n");
        assert_eq!(
            gate_failure_line(&only_details, None).as_deref(),
            Some("first line")
        );
        assert_eq!(
            gate_failure_line(&gate(Verdict::Fail, false, "x", ""), None),
            None
        );
        assert_eq!(
            gate_failure_line(&gate(Verdict::Pass, true, "x", ""), None),
            None
        );
        assert_eq!(
            gate_failure_line(&gate(Verdict::Warn, true, "x", ""), None),
            None
        );
    }

    #[test]
    fn failure_keys_ignore_varying_numbers_but_not_words() {
        let a = gate_failure_key(
            "test",
            "`cargo test` exited with status 101: 3 passed, 2 failed",
        );
        let b = gate_failure_key(
            "test",
            "`cargo test` exited with status 101: 14 passed, 1 failed",
        );
        let c = gate_failure_key(
            "lint",
            "`cargo test` exited with status 101: 3 passed, 2 failed",
        );
        let d = gate_failure_key("test", "error[E0425]: cannot find value `x`");
        assert_eq!(a, b);
        assert_ne!(a, c, "another gate");
        assert_ne!(a, d);
        assert_eq!(
            rejection_key(TaskType::Code, "Use  snake_case\nplease"),
            rejection_key(TaskType::Code, "use snake_case please")
        );
        assert_ne!(
            rejection_key(TaskType::Code, "x"),
            rejection_key(TaskType::Docs, "x")
        );
    }

    #[test]
    fn files_come_from_diff_headers() {
        let patch = "diff --git a/src/lib.rs b/src/lib.rs\nindex 1..2\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-a\n+b\ndiff --git a/old.md b/docs/new.md\nsimilarity index 90%\ndiff --git a/notes.txt b/notes.txt\ndeleted file mode 100644\n";
        assert_eq!(
            files_in_patch(patch),
            words(&["src/lib.rs", "docs/new.md", "notes.txt"])
        );
        assert!(files_in_patch("").is_empty());
    }
}
