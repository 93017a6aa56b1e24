//! An entry of the audit trail of decisions (the core's store keeps and chains them; front
//! ends list them).

use serde::{Deserialize, Serialize};

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 0.
    pub seq: u64,
    /// When, in Unix milliseconds.
    pub at_ms: u64,
    /// Who (`$USER`, or `policy`, or `bosun`).
    pub who: String,
    /// What: `approve`, `reject`, `retry`, `cancel`, …
    pub action: String,
    /// The run concerned.
    pub run_id: String,
    /// The task concerned.
    pub task_id: String,
    /// Why, or what resulted.
    pub detail: String,
    /// Hash of the previous entry (hex), empty for the first.
    pub prev_hash: String,
    /// Hash of this entry's other fields and `prev_hash` (hex).
    pub hash: String,
}
