//! The approval journal: an approval's intent, written (and flushed) before the target branch
//! moves and removed once the run, its history and the audit trail say it is merged. An entry
//! found at open means bosun stopped in between; git, the truth, then says which way it went
//! (`Orchestrator::reconcile`).

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, decode, encode};

/// One approval in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The run being approved.
    pub run_id: String,
    /// Who approved it.
    pub who: String,
    /// The operator's note, as the decision will carry it.
    pub note: String,
    /// The branch that moves.
    pub target: String,
    /// Its tip before (hex).
    pub old: String,
    /// Its tip after: the merge, with the task ticked (hex).
    pub new: String,
    /// When the approval started (Unix milliseconds).
    pub at_ms: u64,
}

impl Store {
    /// Records an approval about to move its target, flushed.
    pub fn put_approval(&self, approval: &Approval) -> Result<(), StoreError> {
        self.journal
            .insert(approval.run_id.as_bytes(), encode("approval", approval)?)?;
        self.flush()
    }

    /// Forgets the approval of `run_id` (done, or found undone), flushed.
    pub fn remove_approval(&self, run_id: &str) -> Result<(), StoreError> {
        self.journal.remove(run_id.as_bytes())?;
        self.flush()
    }

    /// Approvals that were in flight when bosun stopped.
    pub fn approvals(&self) -> Result<Vec<Approval>, StoreError> {
        self.journal
            .iter()
            .map(|kv| {
                let (_, v) = kv?;
                decode("approval", &v)
            })
            .collect()
    }
}
