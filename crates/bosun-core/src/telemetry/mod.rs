//! Tracing setup: terminal output at the verbosity asked for (`-v`, `-q`, `RUST_LOG`), a
//! non-blocking, daily-rolling log file under `.bosun/logs/`, and the last few thousand
//! events in memory for the console's Logs screen ([`console_log`]).

mod console;

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::TelemetryConfig;

pub use console::{CONSOLE_LOG_CAPACITY, ConsoleLayer, LogBuffer, LogRecord, console_log};

/// When the process started, as near as bosun can tell: the binary's `main` calls
/// [`mark_start`] first thing (the first read marks it otherwise). Start-up figures in the log
/// ("first frame drawn") count from here.
static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Marks the process's start (see [`started`]); later calls change nothing.
pub fn mark_start() {
    started();
}

/// When [`mark_start`] was called.
pub fn started() -> std::time::Instant {
    *START.get_or_init(std::time::Instant::now)
}

/// Keeps the log file's writer thread alive; drop it last so buffered lines are flushed.
#[must_use = "dropping the guard stops the file logger"]
pub struct TelemetryGuard {
    _file: Option<WorkerGuard>,
}

/// Terminal level for a `-v` count minus a `-q` count: warnings by default.
fn stderr_filter(verbosity: i8) -> EnvFilter {
    if let Ok(filter) = EnvFilter::try_from_default_env() {
        return filter;
    }
    let level = match verbosity {
        i8::MIN..=-1 => "error",
        0 => "warn",
        1 => "info",
        2 => "debug",
        3..=i8::MAX => "trace",
    };
    EnvFilter::new(level)
}

/// While the console owns the screen, log lines must not reach the terminal.
static TERMINAL_SILENT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Stops (or resumes) writing log lines to the terminal; the log file is unaffected. The
/// console silences the terminal while it draws there.
pub fn silence_terminal(silent: bool) {
    TERMINAL_SILENT.store(silent, std::sync::atomic::Ordering::SeqCst);
}

/// Where terminal log lines go: stderr, or nowhere while the console runs.
fn terminal_writer() -> Box<dyn std::io::Write> {
    if TERMINAL_SILENT.load(std::sync::atomic::Ordering::SeqCst) {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stderr())
    }
}

/// Log lines waiting for the log file's writer thread, at most.
const LOG_QUEUE_LINES: usize = 8_192;

/// Starts tracing. With `log_dir`, also writes `bosun.YYYY-MM-DD.log` there at the configured
/// level, keeping `max_files` days. Returns an error message (and logs to the terminal only)
/// when the file cannot be opened.
pub fn init(
    verbosity: i8,
    log_dir: Option<&Path>,
    config: &TelemetryConfig,
) -> (TelemetryGuard, Option<String>) {
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(terminal_writer)
        .with_target(false)
        .without_time()
        .with_filter(stderr_filter(verbosity));
    let mut problem = None;
    let (file_layer, guard) = match log_dir.map(|dir| {
        Builder::new()
            .rotation(Rotation::DAILY)
            .filename_prefix("bosun")
            .filename_suffix("log")
            .max_log_files(config.max_files.max(1))
            .build(dir)
    }) {
        Some(Ok(appender)) => {
            // The writer thread's queue is allocated whole at start: the default (128,000
            // lines) touched 4 MB before the first frame. Lines beyond it are dropped (and
            // counted by tracing-appender) rather than blocking bosun.
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(LOG_QUEUE_LINES)
                .finish(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(EnvFilter::new(&config.file_level));
            (Some(layer), Some(guard))
        }
        Some(Err(e)) => {
            problem = Some(format!("cannot open the log file: {e}"));
            (None, None)
        }
        None => (None, None),
    };
    // A second init (tests in one process) keeps the first subscriber, which is fine.
    let _ = tracing_subscriber::registry()
        .with(stderr_layer)
        .with(file_layer)
        .with(ConsoleLayer::new(console_log()).with_filter(console::filter()))
        .try_init();
    (TelemetryGuard { _file: guard }, problem)
}
