//! Which task runs next: a pure function of the task list and each task's history of runs
//! (their summaries, as the store keeps them per task), so the rules are unit-tested without
//! processes or git, and a loop turn costs O(tasks), not O(runs ever made).

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};

use crate::model::{Run, RunId, RunStatus, RunSummary, Task, TaskId};

/// `Run::reason` of a run stopped by a `[budget]` limit.
pub const BUDGET: &str = "budget";
/// `Run::reason` of a run whose agent could not reach or use its model (credentials, rate
/// limit, outage, no connection): it is not an attempt, and teaches nothing.
pub const UNAVAILABLE: &str = "unavailable";

/// Each task's runs, oldest first.
pub type History = HashMap<TaskId, Vec<RunSummary>>;

/// What to start next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A run already queued (a retry, or one re-queued after an interruption).
    Queued(RunId),
    /// A new attempt at a task.
    Task {
        /// The task.
        task: TaskId,
        /// Its attempt number.
        attempt: u32,
        /// The task's latest run, whose failure or rejection the prompt should carry (see
        /// [`feedback`]).
        after: Option<RunId>,
    },
}

/// What the scheduler may consider.
pub struct Scope<'a> {
    /// Attempts per task before bosun stops retrying it on its own.
    pub max_attempts: u32,
    /// When given, only these tasks (and they are run even if rejected or cancelled before).
    pub only: Option<&'a HashSet<TaskId>>,
    /// Failed attempts not counted against `max_attempts`, per task: a task that had used up
    /// its attempts and was named again (`bosun run --task`) gets a fresh set.
    pub forgiven: Option<&'a HashMap<TaskId, u32>>,
}

/// The history of `runs` (callers and tests holding whole runs).
pub fn history_of<R: Borrow<Run>>(runs: &[R]) -> History {
    let mut history = History::new();
    for r in runs.iter().map(Borrow::borrow) {
        history
            .entry(r.task_id.clone())
            .or_default()
            .push(RunSummary::from(r));
    }
    for list in history.values_mut() {
        list.sort_by(|a, b| a.id.cmp(&b.id));
    }
    history
}

/// Puts `summary` into `task`'s history in id order (replacing the run's earlier summary),
/// when that history is loaded.
pub fn record(history: &mut History, task: &TaskId, summary: RunSummary) {
    if let Some(list) = history.get_mut(task) {
        match list.binary_search_by(|r| r.id.cmp(&summary.id)) {
            Ok(i) => list[i] = summary,
            Err(i) => list.insert(i, summary),
        }
    }
}

/// Everything that could start now, in order: queued runs oldest first, then open tasks by
/// priority, then file order. Tasks wait while a run of theirs is active, queued or awaiting
/// approval, while a dependency is neither ticked nor merged, after a merge, after a
/// rejection or cancellation (unless named in `only`), after a budget stop, and after
/// `max_attempts` failed attempts.
pub fn candidates(tasks: &[Task], history: &History, scope: &Scope<'_>) -> Vec<Next> {
    let in_scope = |id: &TaskId| scope.only.is_none_or(|only| only.contains(id));
    let mut queued: Vec<&RunId> = history
        .iter()
        .filter(|(task, _)| in_scope(task))
        .flat_map(|(_, runs)| runs.iter())
        .filter(|r| r.status == RunStatus::Queued)
        .map(|r| &r.id)
        .collect();
    queued.sort();
    let mut out: Vec<Next> = queued.into_iter().cloned().map(Next::Queued).collect();

    let known: HashMap<&str, &Task> = tasks.iter().map(|t| (t.id.0.as_str(), t)).collect();
    let satisfied = |dep: &String| {
        known.get(dep.as_str()).is_some_and(|t| t.done)
            || history
                .get(&TaskId(dep.clone()))
                .is_some_and(|rs| rs.iter().any(|r| r.status == RunStatus::Merged))
    };

    let mut open: Vec<&Task> = tasks
        .iter()
        .filter(|t| !t.done && in_scope(&t.id))
        .collect();
    open.sort_by_key(|t| t.priority);
    for task in open {
        let runs = history.get(&task.id).map(Vec::as_slice).unwrap_or_default();
        let busy = runs.iter().any(|r| {
            r.status.is_active()
                || matches!(
                    r.status,
                    RunStatus::Queued | RunStatus::AwaitingApproval | RunStatus::Delivered
                )
        });
        if busy || !task.depends_on.iter().all(satisfied) {
            continue;
        }
        let explicit = scope.only.is_some();
        let latest = runs.last();
        let stop = match latest.map(|r| r.status) {
            Some(RunStatus::Merged) => true,
            Some(RunStatus::Rejected | RunStatus::Cancelled) => !explicit,
            // Another attempt would spend past the same limit.
            Some(RunStatus::Failed) => {
                !explicit && latest.is_some_and(|r| r.reason.as_deref() == Some(BUDGET))
            }
            _ => false,
        };
        let forgiven = scope
            .forgiven
            .and_then(|f| f.get(&task.id))
            .copied()
            .unwrap_or(0);
        if stop || failed_attempts(runs.iter()).saturating_sub(forgiven) >= scope.max_attempts {
            continue;
        }
        out.push(Next::Task {
            task: task.id.clone(),
            // Best-of candidates share their attempt number.
            attempt: runs
                .iter()
                .map(|r| r.attempt)
                .max()
                .unwrap_or(0)
                .saturating_add(1),
            // An agent that could not work left nothing to learn from.
            after: latest
                .filter(|r| matches!(r.status, RunStatus::Failed | RunStatus::Rejected))
                .filter(|r| r.reason.as_deref() != Some(UNAVAILABLE))
                .map(|r| r.id.clone()),
        });
    }
    out
}

/// What a new attempt is told about the task's latest run: the failing gates' first errors
/// (else its error) when it failed, the operator's reason when it was rejected.
pub fn feedback(latest: &Run) -> Option<String> {
    match latest.status {
        RunStatus::Failed => match super::prompt::failure_summary(latest) {
            Some(gates) => Some(format!(
                "The previous attempt's change failed these checks; fix what they report:\n{gates}"
            )),
            None => latest
                .error
                .as_ref()
                .map(|e| format!("The previous attempt failed: {e}")),
        },
        RunStatus::Rejected => latest
            .decision
            .as_ref()
            .map(|d| format!("The operator rejected the previous attempt: {}", d.reason)),
        _ => None,
    }
}

/// How many attempts at a task failed: best-of candidates of one attempt count once.
pub fn failed_attempts<'a>(runs: impl Iterator<Item = &'a RunSummary>) -> u32 {
    let attempts: HashSet<u32> = runs
        .filter(|r| r.status == RunStatus::Failed && r.reason.as_deref() != Some(UNAVAILABLE))
        .map(|r| r.attempt)
        .collect();
    u32::try_from(attempts.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::TaskList;
    use crate::model::Decision;

    fn tasks() -> Vec<Task> {
        let md = "## Low\n- [ ] low one\n## Critical\n- [ ] crit one\n- [ ] crit two (after: low one)\n- [x] crit done\n## High\n- [ ] high one\n";
        let rules = crate::config::IntakeConfig::default().type_rules();
        TaskList::parse_str(md, std::path::Path::new("TODO.md"), &rules).tasks
    }

    fn run(task: &Task, status: RunStatus) -> Run {
        std::thread::sleep(std::time::Duration::from_millis(1));
        Run {
            id: RunId::new(),
            task_id: task.id.clone(),
            task_title: task.title.clone(),
            attempt: 1,
            executor: "x".into(),
            status,
            branch: String::new(),
            target: "main".into(),
            created_ms: 0,
            error: Some("agent exited with status 1".into()),
            decision: Some(Decision {
                verdict: "reject".into(),
                by: "ana".into(),
                at_ms: 0,
                reason: "too broad".into(),
            }),
            ..Run::queued(TaskId(String::new()), "", 1, "main")
        }
    }

    fn cands(t: &[Task], runs: &[Run], scope: &Scope<'_>) -> Vec<Next> {
        candidates(t, &history_of(runs), scope)
    }

    /// The feedback the orchestrator gives a new attempt: its `after` run's.
    fn feedback_of(next: &Next, runs: &[Run]) -> Option<String> {
        match next {
            Next::Task {
                after: Some(id), ..
            } => feedback(runs.iter().find(|r| &r.id == id).expect("after is a run")),
            _ => None,
        }
    }

    fn titles(next: &[Next], tasks: &[Task]) -> Vec<String> {
        next.iter()
            .map(|n| match n {
                Next::Queued(id) => format!("queued {id}"),
                Next::Task { task, .. } => {
                    tasks.iter().find(|t| &t.id == task).unwrap().title.clone()
                }
            })
            .collect()
    }

    const SCOPE: Scope<'static> = Scope {
        max_attempts: 3,
        forgiven: None,
        only: None,
    };

    #[test]
    fn priority_then_file_order_and_dependencies_wait() {
        let t = tasks();
        let next = cands(&t, &[], &SCOPE);
        assert_eq!(titles(&next, &t), ["crit one", "high one", "low one"]);
        // Once "low one" is merged, its dependent may go.
        let merged = run(&t[0], RunStatus::Merged);
        let next = cands(&t, &[merged], &SCOPE);
        assert_eq!(titles(&next, &t), ["crit one", "crit two", "high one"]);
    }

    #[test]
    fn busy_rejected_and_failed_tasks_wait_and_queued_runs_come_first() {
        let t = tasks();
        let runs = vec![
            run(&t[1], RunStatus::AwaitingApproval),
            run(&t[4], RunStatus::Rejected),
            run(&t[0], RunStatus::Failed),
        ];
        let next = cands(&t, &runs, &SCOPE);
        assert_eq!(titles(&next, &t), ["low one"]);
        match &next[0] {
            Next::Task { attempt, .. } => assert_eq!(*attempt, 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            feedback_of(&next[0], &runs).as_deref(),
            Some("The previous attempt failed: agent exited with status 1")
        );
        // Two best-of candidates of one attempt are one failed attempt.
        let pair = vec![run(&t[0], RunStatus::Failed), run(&t[0], RunStatus::Failed)];
        assert!(titles(&cands(&t, &pair, &SCOPE), &t).contains(&"low one".to_string()));
        let failures: Vec<Run> = (1..=3)
            .map(|attempt| Run {
                attempt,
                ..run(&t[0], RunStatus::Failed)
            })
            .collect();
        assert!(
            titles(&cands(&t, &failures, &SCOPE), &t)
                .iter()
                .all(|x| x != "low one")
        );

        let queued = run(&t[4], RunStatus::Queued);
        let next = cands(&t, std::slice::from_ref(&queued), &SCOPE);
        assert_eq!(next[0], Next::Queued(queued.id));
    }

    #[test]
    fn naming_a_task_runs_it_even_after_a_rejection() {
        let t = tasks();
        let only: HashSet<TaskId> = [t[4].id.clone()].into();
        let runs = vec![run(&t[4], RunStatus::Rejected)];
        let next = cands(
            &t,
            &runs,
            &Scope {
                max_attempts: 3,
                forgiven: None,
                only: Some(&only),
            },
        );
        assert_eq!(titles(&next, &t), ["high one"]);
        assert_eq!(
            feedback_of(&next[0], &runs).as_deref(),
            Some("The operator rejected the previous attempt: too broad")
        );
    }

    #[test]
    fn a_gate_failure_is_summarized_and_a_budget_stop_is_not_retried() {
        use crate::model::{GateResult, Verdict};
        let t = tasks();
        let scope = Scope {
            max_attempts: 3,
            forgiven: None,
            only: None,
        };
        let mut failed = run(&t[4], RunStatus::Failed);
        failed.worktree = Some("/tmp/wt/run1".into());
        failed.error = Some("gate `build` failed".into());
        let mut build = GateResult::new(
            "build",
            Verdict::Fail,
            0.0,
            "exit status 101".into(),
            "   Compiling demo\nerror[E0308]: mismatched types\n  --> /tmp/wt/run1/src/lib.rs:3:5\nwarning: unused\n"
                .into(),
        );
        build.required = true;
        failed.gates = vec![build];
        let next = cands(&t, std::slice::from_ref(&failed), &scope);
        let feedback = next
            .iter()
            .find(|n| matches!(n, Next::Task { task, .. } if task == &t[4].id))
            .and_then(|n| feedback_of(n, std::slice::from_ref(&failed)))
            .expect("the failed task is retried with feedback");
        assert!(
            feedback.contains("- gate `build`: exit status 101"),
            "{feedback}"
        );
        assert!(
            feedback.contains("error[E0308]: mismatched types"),
            "{feedback}"
        );
        assert!(feedback.contains("--> src/lib.rs:3:5"), "{feedback}");
        assert!(
            !feedback.contains("warning: unused") && !feedback.contains("/tmp/wt"),
            "{feedback}"
        );

        failed.reason = Some(BUDGET.into());
        let next = cands(&t, std::slice::from_ref(&failed), &scope);
        assert!(!titles(&next, &t).contains(&"high one".to_string()));
    }

    #[test]
    fn recording_keeps_a_loaded_history_in_id_order_and_skips_unloaded_ones() {
        let t = tasks();
        let (a, b) = (run(&t[0], RunStatus::Failed), run(&t[0], RunStatus::Queued));
        let mut history = History::new();
        record(&mut history, &t[0].id, (&a).into());
        assert!(
            history.is_empty(),
            "an unloaded history is left to the store"
        );
        history.insert(t[0].id.clone(), Vec::new());
        record(&mut history, &t[0].id, (&b).into());
        record(&mut history, &t[0].id, (&a).into());
        let ids: Vec<&RunId> = history[&t[0].id].iter().map(|r| &r.id).collect();
        assert_eq!(ids, [&a.id, &b.id]);
        let running = Run {
            status: RunStatus::Running,
            ..b.clone()
        };
        record(&mut history, &t[0].id, (&running).into());
        assert_eq!(history[&t[0].id].len(), 2);
        assert_eq!(history[&t[0].id][1].status, RunStatus::Running);
    }
}
