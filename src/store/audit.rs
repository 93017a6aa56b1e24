//! The audit trail: every decision appended as an entry that carries the hash of the previous
//! one, so editing or deleting an entry breaks the chain and `verify_audit` says where.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Store, StoreError, decode, encode};
use crate::model::now_ms;

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

impl AuditEntry {
    fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.seq.to_string().as_str(),
            &self.at_ms.to_string(),
            &self.who,
            &self.action,
            &self.run_id,
            &self.task_id,
            &self.detail,
            &self.prev_hash,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Store {
    /// Appends an entry to the audit chain and flushes it.
    pub fn append_audit(
        &self,
        who: &str,
        action: &str,
        run_id: &str,
        task_id: &str,
        detail: &str,
    ) -> Result<AuditEntry, StoreError> {
        let (seq, prev_hash) = match self.audit.last()? {
            Some((_, v)) => {
                let last: AuditEntry = decode("audit entry", &v)?;
                (last.seq + 1, last.hash)
            }
            None => (0, String::new()),
        };
        let mut entry = AuditEntry {
            seq,
            at_ms: now_ms(),
            who: who.to_string(),
            action: action.to_string(),
            run_id: run_id.to_string(),
            task_id: task_id.to_string(),
            detail: detail.to_string(),
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        self.audit
            .insert(seq.to_be_bytes(), encode("audit entry", &entry)?)?;
        self.flush()?;
        Ok(entry)
    }

    /// Every audit entry, oldest first.
    pub fn audit(&self) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit
            .iter()
            .map(|kv| {
                let (_, v) = kv?;
                decode("audit entry", &v)
            })
            .collect()
    }

    /// Checks the chain: every entry's hash matches its content and links to the previous one.
    pub fn verify_audit(&self) -> Result<usize, StoreError> {
        let entries = self.audit()?;
        let mut prev = String::new();
        for (i, e) in entries.iter().enumerate() {
            let broken = |why: &str| StoreError::AuditBroken {
                seq: e.seq,
                why: why.to_string(),
            };
            if e.seq != i as u64 {
                return Err(broken("an entry is missing before it"));
            }
            if e.prev_hash != prev {
                return Err(broken("it does not link to the previous entry"));
            }
            if e.compute_hash() != e.hash {
                return Err(broken("its content was changed"));
            }
            prev = e.hash.clone();
        }
        Ok(entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_verifies_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .append_audit("ana", "approve", "r1", "t-1", "looks good")
            .unwrap();
        store
            .append_audit("ana", "reject", "r2", "t-2", "tests weakened")
            .unwrap();
        store
            .append_audit("bob", "approve", "r3", "t-3", "")
            .unwrap();
        assert_eq!(store.verify_audit().unwrap(), 3);

        let mut second: AuditEntry =
            decode("e", &store.audit.get(1u64.to_be_bytes()).unwrap().unwrap()).unwrap();
        second.detail = "fine".into();
        store
            .audit
            .insert(1u64.to_be_bytes(), encode("e", &second).unwrap())
            .unwrap();
        let err = store.verify_audit().unwrap_err();
        assert!(
            matches!(err, StoreError::AuditBroken { seq: 1, .. }),
            "{err}"
        );

        store.audit.remove(1u64.to_be_bytes()).unwrap();
        let err = store.verify_audit().unwrap_err();
        assert!(
            matches!(err, StoreError::AuditBroken { seq: 2, .. }),
            "{err}"
        );
    }
}
