//! What front ends ask of the orchestrator, and the typed errors it answers with.

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
        /// The merged run, or why not (sent once the kept hunks are checked).
        reply: oneshot::Sender<Result<Run, OrchestratorError>>,
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
        reply: oneshot::Sender<Result<Run, OrchestratorError>>,
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
        reply: oneshot::Sender<Result<Run, OrchestratorError>>,
    },
    /// Stop a queued or active run.
    Cancel {
        /// Run id or unique prefix.
        run: String,
        /// The run, or why not.
        reply: oneshot::Sender<Result<Run, OrchestratorError>>,
    },
    /// Queue another attempt at a failed, rejected or cancelled run's task, carrying the
    /// run's error as feedback (also past `max_attempts`: the operator asked for it).
    Retry {
        /// The run (id or unique prefix).
        run: String,
        /// Who asked.
        who: String,
        /// The new, queued run.
        reply: oneshot::Sender<Result<Run, OrchestratorError>>,
    },
    /// Append a task to the first task file (committed on the target branch) and read the
    /// task list again; the scheduler picks it up like any open task.
    AddTask {
        /// The Markdown list item, `- [ ] …` and its indented body lines.
        item: String,
        /// Who asked.
        who: String,
        /// The new task as parsed.
        reply: oneshot::Sender<Result<crate::model::Task, OrchestratorError>>,
    },
    /// Stop starting new runs (active ones go on).
    Pause,
    /// Start new runs again.
    Resume,
    /// Stop: no new runs, a grace period for active ones, then stop them.
    Shutdown,
}

/// Why a request or a run failed, by kind; each kind has its recovery (DESIGN.md §5).
#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    /// The store failed (stop: the operator must look).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A git operation failed.
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    /// Part of a change could not be approved (the hunks chosen no longer match the run).
    #[error(transparent)]
    Partial(#[from] crate::git::PartialError),
    /// The task list could not be read or ticked.
    #[error(transparent)]
    Intake(#[from] crate::intake::IntakeError),
    /// The run is not in a state that allows the request.
    #[error("run {run} is {status}; {what}")]
    WrongState {
        /// The run.
        run: String,
        /// Its status.
        status: String,
        /// What the request needs.
        what: String,
    },
    /// The configuration does not allow what was asked (stop with a message naming the key).
    #[error("{0}")]
    Config(String),
    /// The kept hunks of a partial approval failed the run's required gates (or could not be
    /// checked): nothing was merged and the run still awaits approval.
    #[error("{0}")]
    NotMerged(String),
    /// The orchestrator is gone.
    #[error("bosun's orchestrator has stopped")]
    Stopped,
    /// What a bosun running elsewhere answered to a forwarded command, in its words.
    #[error("{0}")]
    Forwarded(String),
}
