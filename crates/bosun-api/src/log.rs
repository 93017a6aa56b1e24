//! bosun's own log as a console shows it: the last [`CONSOLE_LOG_CAPACITY`] events in a ring
//! that the process's tracing layer writes and the Logs screen reads. Memory is bounded (each
//! message is cut at [`MAX_MESSAGE`] bytes); recording costs one short lock and one string per
//! event.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tracing::Level;

/// Events kept for the console.
pub const CONSOLE_LOG_CAPACITY: usize = 5_000;
/// Longest message kept, in bytes (longer ones end in `…`).
pub const MAX_MESSAGE: usize = 2_000;

/// One event as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// 0 for the first event recorded, counting up (a screen anchors its view to it).
    pub seq: u64,
    /// When, in Unix milliseconds.
    pub at_ms: u64,
    /// How severe.
    pub level: Level,
    /// The module that logged it (`bosun::orchestrator`, …).
    pub target: &'static str,
    /// The message, then the event's other fields as `key=value`.
    pub message: String,
}

#[derive(Debug)]
struct Ring {
    records: VecDeque<LogRecord>,
    capacity: usize,
    next_seq: u64,
}

/// The last events, shared between the layer that writes them and the screens that read them.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    ring: Arc<Mutex<Ring>>,
}

impl LogBuffer {
    /// An empty buffer keeping the last `capacity` events.
    pub fn new(capacity: usize) -> LogBuffer {
        LogBuffer {
            ring: Arc::new(Mutex::new(Ring {
                records: VecDeque::with_capacity(capacity.min(1_024)),
                capacity: capacity.max(1),
                next_seq: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        // A panic while holding the lock leaves a consistent ring (a push is one push_back).
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an event.
    pub fn push(&self, at_ms: u64, level: Level, target: &'static str, mut message: String) {
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let mut ring = self.lock();
        if ring.records.len() == ring.capacity {
            ring.records.pop_front();
        }
        let seq = ring.next_seq;
        ring.next_seq += 1;
        ring.records.push_back(LogRecord {
            seq,
            at_ms,
            level,
            target,
            message,
        });
    }

    /// The `seq` the next event will get: it changes exactly when an event is recorded.
    pub fn next_seq(&self) -> u64 {
        self.lock().next_seq
    }

    /// Calls `f` with the events kept, oldest first (under the lock: keep `f` short).
    pub fn read<T>(&self, f: impl FnOnce(&VecDeque<LogRecord>) -> T) -> T {
        f(&self.lock().records)
    }
}

/// The process's console log, which its tracing layer fills.
pub fn console_log() -> LogBuffer {
    static LOG: OnceLock<LogBuffer> = OnceLock::new();
    LOG.get_or_init(|| LogBuffer::new(CONSOLE_LOG_CAPACITY))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let buffer = LogBuffer::new(2);
        buffer.push(0, Level::INFO, "t", "é".repeat(MAX_MESSAGE));
        let m = buffer.read(|r| r[0].message.clone());
        assert!(m.len() <= MAX_MESSAGE + '…'.len_utf8());
        assert!(m.ends_with('…'));
    }
}
