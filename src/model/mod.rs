//! Domain types shared by every layer: tasks, runs and their outcomes.
//! Nothing in here depends on another module of the crate.

mod annotation;
mod gate;
mod run;
mod task;

pub use annotation::{Annotation, AnnotationKind, Severity};
pub use gate::{GateResult, TestDelta, Verdict, weighted_score};
pub use run::{
    CandidateDraw, ChosenBy, Decision, RoutingChoice, Run, RunId, RunStatus, RunSummary, Usage,
    now_ms, slug,
};
pub use task::{Priority, Subtask, Task, TaskId, TaskType};
