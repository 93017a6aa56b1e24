//! bosun's domain types, shared by every layer — tasks, runs and their outcomes. A crate of
//! its own that depends on no other part of bosun (the compiler keeps it so).

mod annotation;
mod audit;
mod change;
mod gate;
mod lesson;
mod provider;
mod run;
mod strategy;
mod task;

pub use annotation::{Annotation, AnnotationCounts, AnnotationKind, Severity, risk_card};
pub use audit::AuditEntry;
pub use change::{ChangeStatus, Diff, FileDiff, Hunk, HunkRef, Line, LineKind};
pub use gate::{GateResult, TestCounts, TestDelta, Verdict, mask_digits, weighted_score};
pub use lesson::{Lesson, LessonSource};
pub use provider::ProviderStats;
pub use run::{
    CandidateDraw, ChosenBy, Decision, Delivery, PullRequest, RoutingChoice, Run, RunEvent, RunId,
    RunStatus, RunSummary, Usage, now_ms, slug,
};
pub use strategy::{Outcome, PRIOR, Strategy, cost_adjusted, strategy_key};
pub use task::{
    COMMIT_PLACEHOLDERS, Priority, Subtask, Task, TaskId, TaskType, commit_subject, with_trailers,
};

/// `text` cut to at most `max` characters, ending in `…` when cut: for a reason, a snippet or
/// a title that must fit.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
