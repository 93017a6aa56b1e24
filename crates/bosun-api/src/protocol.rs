//! The control protocol: how a front end talks to the bosun that holds a repository (the
//! console, or `bosun run --headless`), which listens on `.bosun/bosun.sock` (mode 0600; a
//! connection from another user is refused; [`crate::control`] serves it).
//!
//! JSON lines over the Unix socket — no HTTP: one local peer, one request per connection,
//! and nothing a web stack would add is needed here. A request is one line of JSON
//! ([`Request`]); the answer is one line ([`Response`]) — except for [`Request::Subscribe`],
//! answered by a stream of lines: [`Streamed::Subscribed`] first, then every
//! [`Event`](crate::Event) as the orchestrator publishes it, with
//! [`Streamed::Lagged`] / [`Streamed::Skipped`] where the subscriber fell behind. A malformed
//! or oversized request gets an error answer.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::model::HunkRef;
use crate::model::Run;

/// The socket's file name in the state directory.
pub const SOCKET: &str = "bosun.sock";

/// Most bytes of one request.
pub const MAX_REQUEST: u64 = 64 * 1024;

/// A decision sent to the running bosun.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// `bosun approve`.
    Approve {
        /// Run id or unique prefix.
        run: String,
        /// Who approves.
        who: String,
        /// The note for the audit trail.
        note: String,
        /// Only these hunks (see [`Command::Approve`]).
        keep: Option<Vec<HunkRef>>,
        /// The operator's commit message (see [`Command::Approve`]).
        #[serde(default)]
        message: Option<String>,
        /// How it is delivered (see [`Command::Approve`]).
        #[serde(default)]
        deliver: Option<crate::model::Delivery>,
    },
    /// `bosun reject`.
    Reject {
        /// Run id or unique prefix.
        run: String,
        /// Who rejects.
        who: String,
        /// Why.
        reason: String,
        /// Queue another attempt.
        retry: bool,
        /// With `retry`: the operator's own instructions for it (see [`Command::Reject`]).
        #[serde(default)]
        prompt: Option<String>,
    },
    /// Rewrite the instructions a queued attempt will get (see [`Command::Instruct`]).
    Instruct {
        /// Run id or unique prefix of the queued run.
        run: String,
        /// Who writes them.
        who: String,
        /// The instructions.
        prompt: String,
    },
    /// `bosun cancel`.
    Cancel {
        /// Run id or unique prefix.
        run: String,
    },
    /// `bosun retry`: another attempt at a finished run's task.
    Retry {
        /// Run id or unique prefix.
        run: String,
        /// Who asks.
        who: String,
    },
    /// `bosun tasks add`: a Markdown list item appended to the task file.
    AddTask {
        /// The task.
        task: crate::NewTask,
        /// Who asks.
        who: String,
    },
    /// Stop starting new runs.
    Pause,
    /// Start new runs again.
    Resume,
    /// `bosun runs`: every run, newest first (read from the store, not through the
    /// orchestrator's queue).
    Runs,
    /// `bosun memory`: executors' records and lessons.
    Memory,
    /// `bosun memory forget`: drop a lesson.
    Forget {
        /// Lesson id or unique prefix.
        lesson: String,
    },
    /// `bosun audit`: the audit trail, oldest first.
    Audit,
    /// `bosun audit verify`: check the trail's hash chain.
    VerifyAudit,
    /// What an attached console shows in its header: the repository, the target branch.
    Status,
    /// The task list as the task files hold it now.
    Tasks,
    /// The runs not finished.
    OpenRuns,
    /// Runs, newest first: `limit` of them, older than `before` (from the newest without).
    RunsPage {
        /// The last run of the previous page.
        before: Option<crate::model::RunId>,
        /// How many.
        limit: usize,
    },
    /// How many runs the store holds.
    RunCount,
    /// One run by its exact id (no run in the answer: not stored).
    Run {
        /// The id.
        id: crate::model::RunId,
    },
    /// A run's annotations (none in the answer: it has none).
    Annotations {
        /// The run's exact id.
        id: crate::model::RunId,
        /// Only those on these files, with the run's notices and risks on every file (see
        /// `Core::annotations_on`); all when absent.
        #[serde(default)]
        paths: Option<Vec<String>>,
    },
    /// The end of a run's agent log (no log in the answer: the run has no log file).
    RunLog {
        /// The run's exact id.
        id: crate::model::RunId,
    },
    /// The first files of the change `base..head` (see `Core::first_diff`).
    FirstDiff {
        /// Base commit.
        base: String,
        /// Head commit.
        head: String,
        /// At most this many files…
        files: usize,
        /// …until this many bytes of content are read.
        bytes: usize,
    },
    /// The whole change `base..head`.
    Diff {
        /// Base commit.
        base: String,
        /// Head commit.
        head: String,
    },
    /// `bosun events`: a stream of what happens, until bosun stops or the client goes.
    Subscribe {
        /// Agent output lines too (sampled under load), not only state changes.
        output: bool,
    },
    /// `bosun show`: one run with its stored diff and history.
    Show {
        /// Run id or unique prefix.
        run: String,
    },
}

/// The answer: the run as the decision left it (or the runs asked for), or why not.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Response {
    /// The run, when the request was carried out.
    #[serde(default)]
    pub run: Option<Box<Run>>,
    /// The runs (`Runs`, `OpenRuns`, `RunsPage`): a JSON array of runs, passed through as
    /// the store holds them (read with [`Response::runs`]).
    #[serde(default)]
    pub runs: Option<Box<serde_json::value::RawValue>>,
    /// The run's annotations (`Show`, `Annotations`).
    #[serde(default)]
    pub annotations: Option<Vec<crate::model::Annotation>>,
    /// The run's stored diff (`Show`).
    #[serde(default)]
    pub diff: Option<String>,
    /// The run's history (`Show`).
    #[serde(default)]
    pub events: Option<Vec<crate::model::RunEvent>>,
    /// Its best-of rival, when it has one (`Show`).
    #[serde(default)]
    pub rival: Option<Box<Run>>,
    /// The task added (`AddTask`).
    #[serde(default)]
    pub task: Option<crate::model::Task>,
    /// Executors' records per task type (`Memory`).
    #[serde(default)]
    pub strategies: Option<Vec<crate::model::Strategy>>,
    /// Lessons (`Memory`), or the one forgotten (`Forget`).
    #[serde(default)]
    pub lessons: Option<Vec<crate::model::Lesson>>,
    /// The audit trail (`Audit`).
    #[serde(default)]
    pub audit: Option<Vec<crate::model::AuditEntry>>,
    /// How many entries the hash chain verified (`VerifyAudit`).
    #[serde(default)]
    pub verified: Option<usize>,
    /// The running bosun's repository and branch (`Status`).
    #[serde(default)]
    pub status: Option<Status>,
    /// The task list (`Tasks`).
    #[serde(default)]
    pub tasks: Option<Vec<crate::model::Task>>,
    /// A count (`RunCount`), or how many files the change has in all (`FirstDiff`).
    #[serde(default)]
    pub count: Option<usize>,
    /// A change (`FirstDiff`, `Diff`).
    #[serde(default)]
    pub change: Option<crate::model::Diff>,
    /// The end of a run's agent log (`RunLog`).
    #[serde(default)]
    pub log: Option<crate::LogTail>,
    /// Why not, in the orchestrator's words.
    #[serde(default)]
    pub error: Option<String>,
}

/// The running bosun's repository, as a console's header shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The repository's directory name.
    pub repo: String,
    /// The branch runs merge into.
    pub target: String,
    /// Why agents run without a sandbox, when they do.
    pub sandbox_off: Option<String>,
}

/// A line of a [`Request::Subscribe`] stream that is not an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Streamed {
    /// The subscription is in place: every event from here on follows.
    Subscribed,
    /// The subscriber fell this many run changes behind and they were dropped: read the
    /// state again (`Runs`).
    Lagged {
        /// How many.
        run_changes: u64,
    },
    /// This many output lines were skipped (they are in the runs' log files).
    Skipped {
        /// How many.
        lines: u64,
    },
}

/// One line of a subscription: an event, or a note about the stream.
#[derive(Debug, Clone)]
pub enum Heard {
    /// What the orchestrator published.
    Event(Box<crate::Event>),
    /// About the stream itself.
    Note(Streamed),
}

impl Heard {
    /// Reads one line of a subscription.
    pub fn parse(line: &[u8]) -> Result<Self, ControlError> {
        if let Ok(note) = serde_json::from_slice::<Streamed>(line) {
            return Ok(Heard::Note(note));
        }
        serde_json::from_slice(line)
            .map(|e| Heard::Event(Box::new(e)))
            .map_err(|e| ControlError::Broken(format!("not an event: {e}")))
    }
}

/// Why a request could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nothing listens on the socket (no bosun, or one that stopped).
    #[error("no running bosun answers on {0}: {1}")]
    Unreachable(PathBuf, String),
    /// The running bosun answered with an error.
    #[error("{0}")]
    Refused(String),
    /// The conversation broke off.
    #[error("the running bosun's answer could not be read: {0}")]
    Broken(String),
}

/// The socket of the state directory `state_dir`.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET)
}

impl Response {
    /// The runs the answer carries (none: an empty list).
    pub fn runs(&self) -> Result<Vec<Run>, ControlError> {
        match &self.runs {
            Some(raw) => serde_json::from_str(raw.get())
                .map_err(|e| ControlError::Broken(format!("the runs could not be read: {e}"))),
            None => Ok(Vec::new()),
        }
    }

    /// The run the answer carries.
    pub fn take_run(&mut self) -> Result<Run, ControlError> {
        self.run
            .take()
            .map(|run| *run)
            .ok_or_else(|| ControlError::Broken("an answer without the run".into()))
    }
}

/// [`exchange`] for threads that may block (a console's background jobs).
pub fn exchange_blocking(state_dir: &Path, request: &Request) -> Result<Response, ControlError> {
    use std::io::{BufRead as _, Write as _};
    let path = socket_path(state_dir);
    let mut stream = std::os::unix::net::UnixStream::connect(&path)
        .map_err(|e| ControlError::Unreachable(path.clone(), e.to_string()))?;
    stream
        .write_all(&line_of(request)?)
        .map_err(|e| ControlError::Broken(e.to_string()))?;
    let mut line = Vec::new();
    std::io::BufReader::new(stream)
        .read_until(b'\n', &mut line)
        .map_err(|e| ControlError::Broken(e.to_string()))?;
    answer_of(&line)
}

/// Connects to the bosun serving `state_dir` and sends `request`; the connection's halves.
async fn send(
    state_dir: &Path,
    request: &Request,
) -> Result<
    (
        tokio::net::unix::OwnedReadHalf,
        tokio::net::unix::OwnedWriteHalf,
    ),
    ControlError,
> {
    let path = socket_path(state_dir);
    let stream = tokio::net::UnixStream::connect(&path)
        .await
        .map_err(|e| ControlError::Unreachable(path.clone(), e.to_string()))?;
    let (read, mut write) = stream.into_split();
    write
        .write_all(&line_of(request)?)
        .await
        .map_err(|e| ControlError::Broken(e.to_string()))?;
    Ok((read, write))
}

/// `request` as the line sent.
fn line_of(request: &Request) -> Result<Vec<u8>, ControlError> {
    let mut bytes = serde_json::to_vec(request).map_err(|e| ControlError::Broken(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The answer a line carries (an error answer is [`ControlError::Refused`]).
fn answer_of(line: &[u8]) -> Result<Response, ControlError> {
    let response: Response =
        serde_json::from_slice(line).map_err(|e| ControlError::Broken(e.to_string()))?;
    match response.error {
        Some(e) => Err(ControlError::Refused(e)),
        None => Ok(response),
    }
}

/// Sends `request` to the bosun serving `state_dir`; its whole answer (an error answer is
/// [`ControlError::Refused`]).
pub async fn exchange(state_dir: &Path, request: &Request) -> Result<Response, ControlError> {
    let (read, _write) = send(state_dir, request).await?;
    let mut line = Vec::new();
    BufReader::new(read)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| ControlError::Broken(e.to_string()))?;
    answer_of(&line)
}

/// A subscription to the bosun serving a state directory: what it publishes, line by line.
pub struct Stream {
    lines: BufReader<tokio::net::unix::OwnedReadHalf>,
    /// Kept open: the server reads no more, but closing it could end the connection early.
    _write: tokio::net::unix::OwnedWriteHalf,
    line: Vec<u8>,
}

impl Stream {
    /// Subscribes to the bosun serving `state_dir` (with agent output lines when `output`);
    /// returns once the subscription is in place, so everything published from then on is
    /// heard.
    pub async fn open(state_dir: &Path, output: bool) -> Result<Self, ControlError> {
        let (read, write) = send(state_dir, &Request::Subscribe { output }).await?;
        let mut stream = Self {
            lines: BufReader::new(read),
            _write: write,
            line: Vec::new(),
        };
        // The first line says the subscription is in place, or why not.
        if !stream.read_line().await? {
            return Err(ControlError::Broken(
                "the running bosun closed the stream".into(),
            ));
        }
        match serde_json::from_slice::<Streamed>(&stream.line) {
            Ok(Streamed::Subscribed) => Ok(stream),
            _ => match serde_json::from_slice::<Response>(&stream.line) {
                Ok(Response {
                    error: Some(error), ..
                }) => Err(ControlError::Refused(error)),
                _ => Err(ControlError::Broken(
                    "the running bosun did not confirm the subscription".into(),
                )),
            },
        }
    }

    async fn read_line(&mut self) -> Result<bool, ControlError> {
        self.line.clear();
        let n = self
            .lines
            .read_until(b'\n', &mut self.line)
            .await
            .map_err(|e| ControlError::Broken(e.to_string()))?;
        Ok(n > 0)
    }

    /// The next line heard; None once bosun has stopped (or the connection closed).
    pub async fn next(&mut self) -> Option<Result<Heard, ControlError>> {
        match self.read_line().await {
            Ok(true) => Some(Heard::parse(&self.line)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
