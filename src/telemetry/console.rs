//! The console's log: a tracing layer that keeps the last [`CONSOLE_LOG_CAPACITY`] events in
//! a ring shared with the Logs screen. Memory is bounded (each message is cut at
//! [`MAX_MESSAGE`] bytes); recording costs one short lock and one string per event.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer};

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

/// The process's console log, which [`super::init`] fills.
pub fn console_log() -> LogBuffer {
    static LOG: OnceLock<LogBuffer> = OnceLock::new();
    LOG.get_or_init(|| LogBuffer::new(CONSOLE_LOG_CAPACITY))
        .clone()
}

/// What the console keeps: bosun's own debug events and up, other crates' info and up.
pub fn filter() -> Targets {
    Targets::new()
        .with_default(Level::INFO)
        .with_target("bosun", Level::DEBUG)
}

/// A tracing layer writing into a [`LogBuffer`].
#[derive(Debug, Clone)]
pub struct ConsoleLayer {
    buffer: LogBuffer,
}

impl ConsoleLayer {
    /// A layer recording into `buffer`.
    pub fn new(buffer: LogBuffer) -> ConsoleLayer {
        ConsoleLayer { buffer }
    }
}

/// Collects an event's message and fields into one line.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for ConsoleLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut line = Line::default();
        event.record(&mut line);
        let mut message = line.message;
        message.push_str(&line.fields);
        let meta = event.metadata();
        self.buffer.push(
            crate::model::now_ms(),
            *meta.level(),
            meta.target(),
            message,
        );
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn events_are_kept_with_their_fields_and_the_oldest_go_first() {
        let buffer = LogBuffer::new(3);
        let subscriber = tracing_subscriber::registry()
            .with(ConsoleLayer::new(buffer.clone()).with_filter(filter()));
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..4 {
                tracing::info!(run = "r1", attempt = i, "agent started");
            }
            tracing::debug!(target: "hyper", "filtered out: not ours, below info");
            tracing::warn!(path = %"/tmp/x", "cannot write");
        });
        let records = buffer.read(|r| r.iter().cloned().collect::<Vec<_>>());
        assert_eq!(records.len(), 3);
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(records[0].message, "agent started run=r1 attempt=2");
        assert_eq!(records[2].level, Level::WARN);
        assert_eq!(records[2].message, "cannot write path=/tmp/x");
        assert!(records[2].target.starts_with("bosun"));
        assert_eq!(buffer.next_seq(), 5);
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let buffer = LogBuffer::new(2);
        buffer.push(0, Level::INFO, "t", "é".repeat(MAX_MESSAGE));
        let m = buffer.read(|r| r[0].message.clone());
        assert!(m.len() <= MAX_MESSAGE + '…'.len_utf8());
        assert!(m.ends_with('…'));
    }
}
