//! The control socket: the bosun that holds a repository's lock (the console, or `bosun run
//! --headless`) listens on `.bosun/bosun.sock` (mode 0600; a connection from another user is
//! refused), so every command run from another terminal — `bosun runs`, `show`, `approve`,
//! `reject`, `cancel`, `retry`, `memory`, `audit`, `tasks add` — reaches the running bosun
//! instead of being refused because it is busy, and `bosun events` can watch it.
//!
//! The protocol is JSON lines over the Unix socket (no HTTP: one local peer, one request per
//! connection, and nothing a web stack would add is needed here). A request is one line of
//! JSON ([`Request`]); the answer is one line ([`Response`]) — except for
//! [`Request::Subscribe`], answered by a stream of lines: [`Streamed::Subscribed`] first, then
//! every [`Event`](crate::orchestrator::Event) as the orchestrator publishes it, with
//! [`Streamed::Lagged`] / [`Streamed::Skipped`] where the subscriber fell behind. A malformed or
//! oversized request gets an error response; a client that never sends or never reads holds
//! only its own connection's task, never the orchestrator.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use crate::git::HunkRef;
use crate::model::Run;
use crate::orchestrator::{Command, OrchestratorError};

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
        /// `- [ ] Title …` and its indented body lines.
        item: String,
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
    /// The first files of the change `base..head` (see [`crate::diff::first`]).
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
    /// The run's stored diff (`Show`).
    #[serde(default)]
    pub diff: Option<String>,
    /// The run's history (`Show`).
    #[serde(default)]
    pub events: Option<Vec<crate::store::RunEvent>>,
    /// Its best-of rival, when it has one (`Show`).
    #[serde(default)]
    pub rival: Option<Box<Run>>,
    /// The task added (`AddTask`).
    #[serde(default)]
    pub task: Option<crate::model::Task>,
    /// Executors' records per task type (`Memory`).
    #[serde(default)]
    pub strategies: Option<Vec<crate::memory::Strategy>>,
    /// Lessons (`Memory`), or the one forgotten (`Forget`).
    #[serde(default)]
    pub lessons: Option<Vec<crate::memory::Lesson>>,
    /// The audit trail (`Audit`).
    #[serde(default)]
    pub audit: Option<Vec<crate::store::AuditEntry>>,
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
    pub change: Option<crate::diff::Diff>,
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
    Event(Box<crate::orchestrator::Event>),
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

/// What the control socket serves: the running orchestrator's handles and its store.
#[derive(Clone)]
pub struct Service {
    /// Decisions go here.
    pub commands: mpsc::Sender<Command>,
    /// Reads come from here (off the async threads).
    pub store: std::sync::Arc<crate::store::Store>,
    /// Subscriptions listen here.
    pub events: crate::orchestrator::Bus,
    /// The repository (changes are read from it).
    pub repo_root: PathBuf,
    /// Its settings (the task files, for `Tasks`).
    pub config: std::sync::Arc<crate::config::Config>,
    /// The branch runs merge into.
    pub target: String,
}

impl Service {
    /// What [`Request::Status`] answers.
    pub fn status(&self) -> Status {
        Status {
            repo: self
                .repo_root
                .file_name()
                .map_or_else(|| "repository".into(), |n| n.to_string_lossy().into_owned()),
            target: self.target.clone(),
            sandbox_off: crate::executors::sandbox::warning(&self.config.sandbox),
        }
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

/// Starts listening on the socket of `state_dir` (replacing a stale one: the caller holds the
/// repository's lock, so no other bosun serves it).
pub fn serve(state_dir: &Path, service: Service) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = socket_path(state_dir);
    remove_stale(state_dir)?;
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let allowed = stream.peer_cred().is_ok_and(|c| c.uid() == me);
                let _ = answer(stream, allowed, service).await;
            });
        }
    }))
}

/// What a running bosun serves, once [`start`] set it up.
#[derive(Debug, Default)]
pub struct Served {
    /// Where `/metrics` and `/healthz` answer, when `[server] metrics_addr` asks for them.
    pub metrics: Option<std::net::SocketAddr>,
    /// What could not be started, one sentence each (bosun goes on without it).
    pub problems: Vec<String>,
}

/// Starts everything a running bosun serves to other front ends: the control socket in
/// `state_dir`, and the metrics endpoint when `server` names an address.
pub async fn start(
    state_dir: &Path,
    server: &crate::config::ServerConfig,
    service: Service,
) -> Served {
    let mut served = Served::default();
    let (store, events) = (service.store.clone(), service.events.clone());
    if let Err(e) = serve(state_dir, service) {
        served.problems.push(format!(
            "cannot listen on the control socket {}: {e}; commands from other terminals are refused",
            socket_path(state_dir).display()
        ));
    }
    let addr = server.metrics_addr.trim();
    if !addr.is_empty() {
        // The config check made sure it parses.
        match addr.parse() {
            Ok(addr) => match crate::metrics::endpoint::serve(addr, store, &events).await {
                Ok(bound) => served.metrics = Some(bound),
                Err(e) => served.problems.push(format!(
                    "cannot serve metrics on {addr} ([server] metrics_addr): {e}"
                )),
            },
            Err(e) => served
                .problems
                .push(format!("[server] metrics_addr `{addr}`: {e}")),
        }
    }
    for problem in &served.problems {
        tracing::warn!("{problem}");
    }
    if let Some(addr) = served.metrics {
        tracing::info!(%addr, "serving /metrics and /healthz");
    }
    served
}

/// Removes the socket file of `state_dir`, left by a bosun that is gone (the caller holds the
/// repository's lock, so no live bosun serves it).
pub fn remove_stale(state_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(socket_path(state_dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Reads one request from `stream`, carries it out, writes the response (or the stream).
async fn answer(
    stream: tokio::net::UnixStream,
    allowed: bool,
    service: Service,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_REQUEST + 1));
    let response = if allowed {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).await?;
        if line.len() as u64 > MAX_REQUEST {
            refused(format!("the request is over {MAX_REQUEST} bytes"))
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Ok(Request::Subscribe { output }) => {
                    return stream_events(write, &service.events, output).await;
                }
                Ok(request) => respond(request, &service).await,
                Err(e) => refused(format!("not a request bosun understands: {e}")),
            }
        }
    } else {
        refused("the control socket serves only the user running bosun".into())
    };
    let mut bytes = serde_json::to_vec(&response).unwrap_or_default();
    bytes.push(b'\n');
    write.write_all(&bytes).await?;
    write.shutdown().await?;
    // What the client sent beyond what was read is drained (for a moment, up to a bound), so
    // closing does not reset the connection before the client has read the answer.
    let mut rest = reader.into_inner().into_inner().take(16 * MAX_REQUEST);
    let mut sink = tokio::io::sink();
    let drain = tokio::io::copy(&mut rest, &mut sink);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
    Ok(())
}

/// Writes every event published from now on to `write`, one JSON line each, until bosun stops
/// or the client goes away. Only this connection's task waits on a slow client: the bus never
/// does, and what the client missed is said ([`Streamed::Lagged`], [`Streamed::Skipped`]).
async fn stream_events(
    mut write: tokio::net::unix::OwnedWriteHalf,
    events: &crate::orchestrator::Bus,
    output: bool,
) -> std::io::Result<()> {
    use crate::orchestrator::{Event, Missed};
    let mut subscription = events.subscribe();
    if !output {
        subscription = subscription.without_output();
    }
    let line = |value: Result<Vec<u8>, serde_json::Error>| {
        let mut bytes = value.unwrap_or_default();
        bytes.push(b'\n');
        bytes
    };
    write
        .write_all(&line(serde_json::to_vec(&Streamed::Subscribed)))
        .await?;
    loop {
        let (bytes, last) = match subscription.recv().await {
            Ok(event) => {
                let last = matches!(event, Event::Stopped);
                (line(serde_json::to_vec(&event)), last)
            }
            Err(Missed::State(run_changes)) => (
                line(serde_json::to_vec(&Streamed::Lagged { run_changes })),
                false,
            ),
            Err(Missed::Output(lines)) => (
                line(serde_json::to_vec(&Streamed::Skipped { lines })),
                false,
            ),
            Err(Missed::Closed) => break,
        };
        write.write_all(&bytes).await?;
        if last {
            break;
        }
    }
    write.shutdown().await
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

fn refused(error: String) -> Response {
    Response {
        error: Some(error),
        ..Response::default()
    }
}

/// Answers a read from the store on the blocking pool.
async fn read_store(
    store: std::sync::Arc<crate::store::Store>,
    f: impl FnOnce(&crate::store::Store) -> Result<Response, crate::store::StoreError> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => refused(e.to_string()),
        Err(e) => refused(format!("the read stopped: {e}")),
    }
}

/// Answers `request`: a read from the store, a decision through the orchestrator (as a
/// [`Command`], waiting for its answer).
async fn respond(request: Request, service: &Service) -> Response {
    let store = std::sync::Arc::clone(&service.store);
    let (reply, answer) = oneshot::channel();
    let command = match request {
        Request::Runs => {
            return read_store(store, |s| {
                Ok(Response {
                    runs: Some(s.runs_json()?),
                    ..Response::default()
                })
            })
            .await;
        }
        Request::Show { run } => {
            return read_store(store, move |s| {
                let found = s.find_run(&run)?;
                let rival = match &found.rival {
                    Some(id) => s.run(id)?.map(Box::new),
                    None => None,
                };
                Ok(Response {
                    diff: s.diff(&found.id)?,
                    events: Some(s.events(&found.id)?),
                    run: Some(Box::new(found)),
                    rival,
                    ..Response::default()
                })
            })
            .await;
        }
        Request::Memory => {
            return read_store(store, |s| {
                let memory = s.memory();
                Ok(Response {
                    strategies: Some(memory.strategies()?),
                    lessons: Some(memory.lessons()?),
                    ..Response::default()
                })
            })
            .await;
        }
        Request::Forget { lesson } => {
            return read_store(store, move |s| {
                Ok(Response {
                    lessons: Some(vec![s.memory().forget(&lesson)?]),
                    ..Response::default()
                })
            })
            .await;
        }
        Request::Audit => {
            return read_store(store, |s| {
                Ok(Response {
                    audit: Some(s.audit()?),
                    ..Response::default()
                })
            })
            .await;
        }
        Request::VerifyAudit => {
            return read_store(store, |s| {
                let verified = s.verify_audit()?;
                Ok(Response {
                    verified: Some(verified),
                    audit: Some(s.audit()?.into_iter().last().into_iter().collect()),
                    ..Response::default()
                })
            })
            .await;
        }
        Request::Pause | Request::Resume => {
            let command = if matches!(request, Request::Pause) {
                Command::Pause
            } else {
                Command::Resume
            };
            return match service.commands.send(command).await {
                Ok(()) => Response::default(),
                Err(_) => refused(OrchestratorError::Stopped.to_string()),
            };
        }
        Request::AddTask { item, who } => {
            let (reply, answer) = oneshot::channel();
            if service
                .commands
                .send(Command::AddTask { item, who, reply })
                .await
                .is_err()
            {
                return refused(OrchestratorError::Stopped.to_string());
            }
            return match answer.await {
                Ok(Ok(task)) => Response {
                    task: Some(task),
                    ..Response::default()
                },
                Ok(Err(e)) => refused(e.to_string()),
                Err(_) => refused(OrchestratorError::Stopped.to_string()),
            };
        }
        Request::Subscribe { .. } => {
            return refused("a subscription is answered by a stream, not here".into());
        }
        Request::Status => {
            return Response {
                status: Some(service.status()),
                ..Response::default()
            };
        }
        Request::Tasks
        | Request::FirstDiff { .. }
        | Request::Diff { .. }
        | Request::OpenRuns
        | Request::RunsPage { .. }
        | Request::RunCount
        | Request::Run { .. } => return read(request, service).await,
        Request::Approve {
            run,
            who,
            note,
            keep,
        } => Command::Approve {
            run,
            who,
            note,
            keep,
            reply,
        },
        Request::Reject {
            run,
            who,
            reason,
            retry,
            prompt,
        } => Command::Reject {
            run,
            who,
            reason,
            retry,
            prompt,
            reply,
        },
        Request::Instruct { run, who, prompt } => Command::Instruct {
            run,
            who,
            prompt,
            reply,
        },
        Request::Cancel { run } => Command::Cancel { run, reply },
        Request::Retry { run, who } => Command::Retry { run, who, reply },
    };
    if service.commands.send(command).await.is_err() {
        return refused(OrchestratorError::Stopped.to_string());
    }
    match answer.await {
        Ok(Ok(run)) => Response {
            run: Some(Box::new(run)),
            ..Response::default()
        },
        Ok(Err(e)) => refused(e.to_string()),
        Err(_) => refused(OrchestratorError::Stopped.to_string()),
    }
}

/// Answers the reads a console makes (runs, tasks, changes) on the blocking pool: through
/// [`crate::api::Local`], as the console in bosun's own process reads them.
async fn read(request: Request, service: &Service) -> Response {
    use crate::api::Core as _;
    let local = crate::api::Local {
        store: std::sync::Arc::clone(&service.store),
        repo_root: service.repo_root.clone(),
        config: std::sync::Arc::clone(&service.config),
    };
    let answered = tokio::task::spawn_blocking(move || -> Result<Response, String> {
        let mut r = Response::default();
        match request {
            Request::Tasks => r.tasks = Some(local.tasks()?),
            Request::FirstDiff {
                base,
                head,
                files,
                bytes,
            } => {
                let (diff, total) = local.first_diff(&base, &head, files, bytes)?;
                r.change = Some(diff);
                r.count = Some(total);
            }
            Request::Diff { base, head } => r.change = Some(local.diff(&base, &head)?),
            Request::OpenRuns => r.runs = Some(raw(&local.open_runs()?)?),
            Request::RunsPage { before, limit } => {
                r.runs = Some(raw(&local.runs_page(before.as_ref(), limit)?)?);
            }
            Request::RunCount => r.count = Some(local.run_count()),
            Request::Run { id } => r.run = local.run(&id)?.map(Box::new),
            _ => return Err("not a read".into()),
        }
        Ok(r)
    })
    .await;
    match answered {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => refused(e),
        Err(e) => refused(format!("the read stopped: {e}")),
    }
}

/// `runs` as the JSON a [`Response`] carries.
fn raw(runs: &[Run]) -> Result<Box<serde_json::value::RawValue>, String> {
    serde_json::value::to_raw_value(runs).map_err(|e| e.to_string())
}

/// [`exchange`] for threads that may block (a console's background jobs).
pub fn exchange_blocking(state_dir: &Path, request: &Request) -> Result<Response, ControlError> {
    use std::io::{BufRead as _, Write as _};
    let path = socket_path(state_dir);
    let mut stream = std::os::unix::net::UnixStream::connect(&path)
        .map_err(|e| ControlError::Unreachable(path.clone(), e.to_string()))?;
    let mut bytes = serde_json::to_vec(request).map_err(|e| ControlError::Broken(e.to_string()))?;
    bytes.push(b'\n');
    stream
        .write_all(&bytes)
        .map_err(|e| ControlError::Broken(e.to_string()))?;
    let mut line = Vec::new();
    std::io::BufReader::new(stream)
        .read_until(b'\n', &mut line)
        .map_err(|e| ControlError::Broken(e.to_string()))?;
    let response: Response =
        serde_json::from_slice(&line).map_err(|e| ControlError::Broken(e.to_string()))?;
    match response.error {
        Some(e) => Err(ControlError::Refused(e)),
        None => Ok(response),
    }
}

/// Sends `request` to the bosun serving `state_dir`; its whole answer (an error answer is
/// [`ControlError::Refused`]).
pub async fn exchange(state_dir: &Path, request: &Request) -> Result<Response, ControlError> {
    let path = socket_path(state_dir);
    let stream = tokio::net::UnixStream::connect(&path)
        .await
        .map_err(|e| ControlError::Unreachable(path.clone(), e.to_string()))?;
    let (read, mut write) = stream.into_split();
    let mut bytes = serde_json::to_vec(request).map_err(|e| ControlError::Broken(e.to_string()))?;
    bytes.push(b'\n');
    write
        .write_all(&bytes)
        .await
        .map_err(|e| ControlError::Broken(e.to_string()))?;
    let mut line = Vec::new();
    BufReader::new(read)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| ControlError::Broken(e.to_string()))?;
    let response: Response =
        serde_json::from_slice(&line).map_err(|e| ControlError::Broken(e.to_string()))?;
    match response.error {
        Some(e) => Err(ControlError::Refused(e)),
        None => Ok(response),
    }
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
        let path = socket_path(state_dir);
        let stream = tokio::net::UnixStream::connect(&path)
            .await
            .map_err(|e| ControlError::Unreachable(path.clone(), e.to_string()))?;
        let (read, mut write) = stream.into_split();
        let mut bytes = serde_json::to_vec(&Request::Subscribe { output })
            .map_err(|e| ControlError::Broken(e.to_string()))?;
        bytes.push(b'\n');
        write
            .write_all(&bytes)
            .await
            .map_err(|e| ControlError::Broken(e.to_string()))?;
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
