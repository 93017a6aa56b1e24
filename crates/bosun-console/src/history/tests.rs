//! History's filters (paging over a real store is tested with the core, in
//! `tests/console_history.rs`).

use super::*;
use crate::model::Usage;

fn run(i: usize, status: RunStatus, executor: &str) -> Run {
    Run {
        // Sortable like ULIDs: a higher number is a newer run.
        id: RunId(format!("{i:026}")),
        task_id: TaskId(format!("t-{}", i % 7)),
        task_title: format!("Task number {i}"),
        attempt: 1,
        executor: executor.into(),
        status,
        branch: String::new(),
        target: "main".into(),
        created_ms: 1_700_000_000_000 + i as u64 * 1_000,
        usage: Usage::default(),
        diffstat: Some((1, 10, 2)),
        score: Some(0.5),
        ..Run::queued(crate::model::TaskId(String::new()), "", 1, "main")
    }
}

#[test]
fn filters_match_status_type_executor_and_words() {
    let mut row = Row::new(
        &run(42, RunStatus::AwaitingApproval, "Claude"),
        Some(TaskType::Docs),
    );
    assert!(Filter::parse("").is_empty());
    assert!(Filter::parse("status:await").matches(&row));
    assert!(Filter::parse("status:merged,awaiting").matches(&row));
    assert!(!Filter::parse("status:merged").matches(&row));
    assert!(Filter::parse("type:doc exec:claude").matches(&row));
    assert!(!Filter::parse("type:doc executor:codex").matches(&row));
    assert!(Filter::parse("NUMBER 42").matches(&row));
    assert!(!Filter::parse("number 43").matches(&row));
    assert!(Filter::parse("t-0").matches(&row), "task id");
    row.task_type = None;
    assert!(Filter::parse("type:?").matches(&row), "a task that is gone");
    assert!(!Filter::parse("type:docs").matches(&row));
}
