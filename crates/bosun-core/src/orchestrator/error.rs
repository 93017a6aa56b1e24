//! The orchestrator's typed errors; front ends hear them as [`CommandError`]s.

use bosun_api::CommandError;

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
    /// The forge refused or could not be reached (the run stays as it was).
    #[error("{0}")]
    Forge(String),
    /// The orchestrator is gone.
    #[error("bosun's orchestrator has stopped")]
    Stopped,
}

impl From<OrchestratorError> for CommandError {
    fn from(e: OrchestratorError) -> Self {
        match e {
            OrchestratorError::Stopped => CommandError::Stopped,
            e => CommandError::Refused(e.to_string()),
        }
    }
}
