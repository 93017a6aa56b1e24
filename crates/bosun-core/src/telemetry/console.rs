//! The console's log: a tracing layer that writes bosun's events into the ring the Logs screen
//! reads ([`bosun_api::log`]).

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer};

pub use bosun_api::log::{CONSOLE_LOG_CAPACITY, LogBuffer, LogRecord, console_log};

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
}
