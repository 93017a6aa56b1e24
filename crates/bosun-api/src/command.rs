//! What front ends ask of the orchestrator, and how it says no.

use tokio::sync::oneshot;

use crate::model::HunkRef;
use crate::model::Run;

/// A request to the orchestrator. Requests that can fail carry a reply channel.
#[derive(Debug)]
pub enum Command {
    /// Merge a run awaiting approval into the target branch and tick its task.
    Approve {
        /// Run id or unique prefix.
        run: String,
        /// Who approves.
        who: String,
        /// Optional note for the audit trail.
        note: String,
        /// Approve only these hunks (file path and hunk index as `diff::load` numbers them):
        /// a commit that reverses the others is made on top of the reviewed one, the run's
        /// required gates check it, and it merges only if they pass; the decision records
        /// which hunks were dropped. `None` approves the whole change.
        keep: Option<Vec<HunkRef>>,
        /// The operator's commit message for the merge (`None`: `[project] commit_message`);
        /// bosun's trailers are added to it.
        message: Option<String>,
        /// How the approval is delivered (`None`: `[forge] deliver`).
        deliver: Option<crate::model::Delivery>,
        /// The merged (or delivered) run, or why not (sent once the kept hunks are checked).
        reply: oneshot::Sender<Result<Run, CommandError>>,
    },
    /// Reject a run, optionally queueing another attempt with the reason as feedback.
    Reject {
        /// Run id or unique prefix.
        run: String,
        /// Who rejects.
        who: String,
        /// Why (goes into the next prompt and the audit trail).
        reason: String,
        /// Queue another attempt.
        retry: bool,
        /// With `retry`: the operator's own instructions for the next attempt, given to it in
        /// place of the usual "the operator rejected the previous attempt: <reason>".
        prompt: Option<String>,
        /// The rejected run, or why not.
        reply: oneshot::Sender<Result<Run, CommandError>>,
    },
    /// Rewrite the instructions a queued attempt will get (in place of the feedback it was
    /// queued with), e.g. after a rejection with retry.
    Instruct {
        /// Run id or unique prefix of the queued run.
        run: String,
        /// Who writes them.
        who: String,
        /// The instructions.
        prompt: String,
        /// The run, or why not.
        reply: oneshot::Sender<Result<Run, CommandError>>,
    },
    /// Stop a queued or active run.
    Cancel {
        /// Run id or unique prefix.
        run: String,
        /// The run, or why not.
        reply: oneshot::Sender<Result<Run, CommandError>>,
    },
    /// Queue another attempt at a failed, rejected or cancelled run's task, carrying the
    /// run's error as feedback (also past `max_attempts`: the operator asked for it).
    Retry {
        /// The run (id or unique prefix).
        run: String,
        /// Who asked.
        who: String,
        /// The new, queued run.
        reply: oneshot::Sender<Result<Run, CommandError>>,
    },
    /// Append a task to the first task file (committed on the target branch) and read the
    /// task list again; the scheduler picks it up like any open task.
    AddTask {
        /// The task.
        task: NewTask,
        /// Who asked.
        who: String,
        /// The new task as parsed.
        reply: oneshot::Sender<Result<crate::model::Task, CommandError>>,
    },
    /// Stop starting new runs (active ones go on).
    Pause,
    /// Start new runs again.
    Resume,
    /// Stop: no new runs, a grace period for active ones, then stop them.
    Shutdown,
}

/// Why the core did not do what a front end asked, in its words (a front end shows it; the
/// core keeps its own typed errors and says them through this).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The core is gone (or stopped before it answered).
    #[error("bosun's orchestrator has stopped")]
    Stopped,
    /// The core refused or failed: why, as it says it.
    #[error("{0}")]
    Refused(String),
}

/// A task to add, as a front end's form or `bosun tasks add` has it: the core writes it as a
/// list item of the task file.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct NewTask {
    /// The title (line breaks become spaces).
    pub title: String,
    /// The description, indented under the item; may be empty.
    #[serde(default)]
    pub body: String,
    /// The type, written as `[type:…]` (else the intake rules decide).
    #[serde(default)]
    pub task_type: Option<crate::model::TaskType>,
    /// The priority, written as `[priority:…]`.
    #[serde(default)]
    pub priority: Option<crate::model::Priority>,
}
