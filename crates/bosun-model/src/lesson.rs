//! What process memory learned from a rejection or a recurring gate failure, for later
//! prompts (kept by the core's memory, shown by front ends).

use serde::{Deserialize, Serialize};

use crate::TaskType;

/// Where a lesson came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LessonSource {
    /// An operator's rejection reason.
    Rejection,
    /// A required gate that failed the same way on two runs or more.
    GateFailure,
}

/// Something learned from a rejection or a recurring gate failure, for later prompts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lesson {
    /// Time-ordered id (a ULID, lowercase).
    pub id: String,
    /// What the prompt says.
    pub text: String,
    /// The type of the task it was learned on.
    pub task_type: TaskType,
    /// The keywords of the task(s) it was learned on.
    pub keywords: Vec<String>,
    /// Where it came from.
    pub source: LessonSource,
    /// How many prompts included it.
    pub uses: u64,
    /// When it was learned (Unix milliseconds).
    pub created_ms: u64,
    /// The runs it was learned from.
    pub runs: Vec<String>,
    /// The recurrence key it was made under (see [`gate_failure_key`], [`rejection_key`]).
    pub key: String,
}
