//! The built-in agent's record of a run: every message as one JSON object per line (the
//! transcript, stored with the run), and a human-readable rendering of the same messages in
//! the run's log and on the console's line channel (what the log view shows).
//!
//! Both files are appended to and flushed message by message, so a crash loses at most the
//! message being written.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::tools::Call;
use crate::executors::command::{ExecutorError, OutputLine, Stream};
use crate::llm::{Message, Role};

/// How many rendered lines [`Transcript::finish`] hands back for the run's outcome.
const LAST_LINES: usize = 20;

/// How many lines of a tool's answer the log shows (the transcript has all of it).
const RESULT_LINES: usize = 20;

/// One line of the transcript file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// When the message was added (ms since the Unix epoch).
    pub at_ms: u64,
    /// The message as the model saw or wrote it.
    #[serde(flatten)]
    pub message: Message,
}

/// Reads a transcript file back (for the console and tests); a line that does not parse (a
/// write cut short by a crash) is skipped.
pub fn read_transcript(path: &Path) -> std::io::Result<Vec<TranscriptEntry>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

/// Where a run's messages are written as they happen.
pub(super) struct Transcript {
    jsonl: Option<tokio::fs::File>,
    jsonl_path: PathBuf,
    log: Option<tokio::fs::File>,
    log_path: PathBuf,
    log_max: u64,
    log_written: u64,
    log_truncated: bool,
    lines: Option<mpsc::Sender<OutputLine>>,
    last: VecDeque<String>,
    /// Masks credentials in every line written (see [`crate::semantic::rules::Redactor`]).
    redactor: crate::semantic::rules::Redactor,
}

impl Transcript {
    /// Opens (creating, appending to) the transcript and the log.
    pub(super) async fn open(
        transcript_path: &Path,
        log_path: &Path,
        log_max: u64,
        lines: mpsc::Sender<OutputLine>,
    ) -> Result<Self, ExecutorError> {
        Ok(Self {
            jsonl: Some(crate::executors::command::open_append(transcript_path).await?),
            jsonl_path: transcript_path.to_path_buf(),
            log: Some(crate::executors::command::open_append(log_path).await?),
            log_path: log_path.to_path_buf(),
            log_max,
            log_written: 0,
            log_truncated: false,
            lines: Some(lines),
            last: VecDeque::with_capacity(LAST_LINES),
            redactor: crate::semantic::rules::Redactor::new(),
        })
    }

    /// Records `message`: a transcript line, and its rendering in the log and on the channel.
    pub(super) async fn message(&mut self, message: &Message) {
        let entry = TranscriptEntry {
            at_ms: crate::model::now_ms(),
            message: message.clone(),
        };
        match serde_json::to_string(&entry) {
            Ok(json) => {
                // One line of JSON: a credential in a file the agent wrote, or in a command's
                // output, is masked inside its string (the mask keeps the JSON valid).
                let mut json = self.redactor.text(&json);
                json.push('\n');
                self.write_jsonl(json.as_bytes()).await;
            }
            Err(error) => tracing::warn!(%error, "cannot encode a transcript message"),
        }
        for line in render(message) {
            self.show(line).await;
        }
        self.flush().await;
    }

    /// A `[bosun] …` line in the log only (how the run ended, a limit reached).
    pub(super) async fn note(&mut self, text: &str) {
        self.show(format!("[bosun] {text}")).await;
        self.flush().await;
    }

    /// Bytes written to the log, whether it hit its cap, and the last rendered lines.
    pub(super) fn finish(self) -> (u64, bool, Vec<String>) {
        (self.log_written, self.log_truncated, self.last.into())
    }

    async fn write_jsonl(&mut self, bytes: &[u8]) {
        if let Some(file) = &mut self.jsonl
            && let Err(error) = file.write_all(bytes).await
        {
            tracing::warn!(path = %self.jsonl_path.display(), %error, "cannot write the transcript; it stops here");
            self.jsonl = None;
        }
    }

    async fn show(&mut self, line: String) {
        let line = self.redactor.text(&line);
        self.log_line(&line).await;
        if self.last.len() == LAST_LINES {
            self.last.pop_front();
        }
        self.last.push_back(line.clone());
        // A lagging console loses lines rather than slowing the agent down.
        if let Some(tx) = &self.lines {
            match tx.try_send(OutputLine {
                stream: Stream::Stdout,
                text: line,
            }) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Closed(_)) => self.lines = None,
            }
        }
    }

    async fn log_line(&mut self, line: &str) {
        let Some(file) = &mut self.log else {
            return;
        };
        let len = line.len() as u64 + 1;
        let (bytes, stop) = if self.log_written.saturating_add(len) > self.log_max {
            let note = format!("[bosun] log truncated at {} bytes\n", self.log_written);
            (note, true)
        } else {
            (format!("{line}\n"), false)
        };
        match file.write_all(bytes.as_bytes()).await {
            Ok(()) => self.log_written += bytes.len() as u64,
            Err(error) => {
                tracing::warn!(path = %self.log_path.display(), %error, "cannot write the agent's log; logging stops");
                self.log = None;
                return;
            }
        }
        if stop {
            self.log_truncated = true;
            if let Some(mut file) = self.log.take() {
                let _ = file.flush().await;
            }
        }
    }

    async fn flush(&mut self) {
        if let Some(file) = &mut self.jsonl
            && let Err(error) = file.flush().await
        {
            tracing::warn!(path = %self.jsonl_path.display(), %error, "cannot write the transcript; it stops here");
            self.jsonl = None;
        }
        if let Some(file) = &mut self.log
            && let Err(error) = file.flush().await
        {
            tracing::warn!(path = %self.log_path.display(), %error, "cannot write the agent's log; logging stops");
            self.log = None;
        }
    }
}

/// A message as the log view shows it.
fn render(message: &Message) -> Vec<String> {
    let text = message.content.as_deref().unwrap_or("").trim_end();
    let mut out = Vec::new();
    match message.role {
        Role::System => {
            let first = text.lines().next().unwrap_or("");
            let more = text.lines().count().saturating_sub(1);
            if more > 0 {
                out.push(format!("system: {first} (+{more} lines in the transcript)"));
            } else {
                out.push(format!("system: {first}"));
            }
        }
        Role::User => prefixed(&mut out, "user: ", text),
        Role::Assistant => {
            if !text.trim().is_empty() {
                prefixed(&mut out, "assistant: ", text);
            }
            for call in &message.tool_calls {
                let described = match Call::parse(&call.name, &call.arguments) {
                    Ok(parsed) => parsed.describe(),
                    Err(_) => {
                        let args: String = call.arguments.chars().take(120).collect();
                        format!("{} (invalid arguments: {args})", call.name)
                    }
                };
                out.push(format!("▶ {described}"));
            }
        }
        Role::Tool => {
            let mut lines = text.lines();
            out.push(format!("◀ {}", lines.next().unwrap_or("")));
            let rest: Vec<&str> = lines.collect();
            for line in rest.iter().take(RESULT_LINES) {
                out.push(format!("  {line}"));
            }
            if rest.len() > RESULT_LINES {
                out.push(format!(
                    "  … {} more lines in the transcript",
                    rest.len() - RESULT_LINES
                ));
            }
        }
    }
    out
}

/// `text` with `label` before its first line and the rest indented to match.
fn prefixed(out: &mut Vec<String>, label: &str, text: &str) {
    let pad = " ".repeat(label.chars().count());
    for (index, line) in text.lines().enumerate() {
        if index == 0 {
            out.push(format!("{label}{line}"));
        } else {
            out.push(format!("{pad}{line}"));
        }
    }
    if text.is_empty() {
        out.push(label.trim_end().to_string());
    }
}
