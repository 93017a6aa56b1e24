//! The audit trail: every decision appended as an entry that carries the hash of the previous
//! one, so editing or deleting an entry breaks the chain and `verify_audit` says where. The
//! newest entry's position and hash are also kept in `meta` (written in the same transaction),
//! so losing entries at the end is caught too.

use sha2::{Digest, Sha256};

pub use crate::model::AuditEntry;

use super::{Store, StoreError, decode, encode};
use crate::model::now_ms;

/// `meta` key of the newest entry: its `seq` (8 bytes, big-endian) then its hash.
const AUDIT_HEAD: &str = "audit_head";

/// The hash of `entry`'s fields and the previous entry's hash (the chain's link).
fn compute_hash(entry: &AuditEntry) -> String {
    let mut h = Sha256::new();
    for part in [
        entry.seq.to_string().as_str(),
        &entry.at_ms.to_string(),
        &entry.who,
        &entry.action,
        &entry.run_id,
        &entry.task_id,
        &entry.detail,
        &entry.prev_hash,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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
        entry.hash = compute_hash(&entry);
        let bytes = encode("audit entry", &entry)?;
        let mut head = seq.to_be_bytes().to_vec();
        head.extend_from_slice(entry.hash.as_bytes());
        // The entry and the head move together (durably), or neither does.
        self.db.write::<_, StoreError>(|tx| {
            tx.insert(&self.audit, &seq.to_be_bytes(), &bytes)?;
            tx.insert(&self.meta, AUDIT_HEAD.as_bytes(), &head)?;
            Ok(())
        })?;
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

    /// Checks the chain: every entry's hash matches its content and links to the previous one,
    /// and the newest is the one recorded as the head (when a head was recorded: stores made
    /// before it have none). Returns how many entries there are.
    pub fn verify_audit(&self) -> Result<usize, StoreError> {
        let entries = self.audit()?;
        if let Some(head) = self.meta.get(AUDIT_HEAD)? {
            let (seq, hash) = head.split_at(8.min(head.len()));
            let seq = u64::from_be_bytes(seq.try_into().unwrap_or([0xff; 8]));
            match entries.last() {
                Some(last) if last.seq == seq && last.hash.as_bytes() == hash => {}
                Some(last) if last.seq < seq => {
                    return Err(StoreError::AuditBroken {
                        seq: last.seq + 1,
                        why: format!("entries {} to {seq} are missing", last.seq + 1),
                    });
                }
                Some(last) => {
                    return Err(StoreError::AuditBroken {
                        seq: last.seq,
                        why: "it is not the entry recorded as the newest".into(),
                    });
                }
                None => {
                    return Err(StoreError::AuditBroken {
                        seq: 0,
                        why: format!("all {} entries are missing", seq + 1),
                    });
                }
            }
        }
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
            if compute_hash(e) != e.hash {
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

    #[test]
    fn losing_the_newest_entries_is_caught_too() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for run in ["r1", "r2", "r3"] {
            store
                .append_audit("ana", "approve", run, "t-1", "")
                .unwrap();
        }
        assert_eq!(store.verify_audit().unwrap(), 3);
        store.audit.remove(2u64.to_be_bytes()).unwrap();
        let err = store.verify_audit().unwrap_err();
        assert!(
            matches!(err, StoreError::AuditBroken { seq: 2, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("entries 2 to 2 are missing"),
            "{err}"
        );
        store.audit.clear().unwrap();
        let err = store.verify_audit().unwrap_err();
        assert!(
            err.to_string().contains("all 3 entries are missing"),
            "{err}"
        );
    }
}
