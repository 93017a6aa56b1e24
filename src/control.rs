//! The control socket: the bosun that holds a repository's lock (the console, or `bosun run
//! --headless`) listens on `.bosun/bosun.sock` (mode 0600; a connection from another user is
//! refused), so decisions made from another terminal — `bosun approve`, `reject`, `cancel`,
//! `retry` — reach the running orchestrator instead of being refused because bosun is busy.
//!
//! One request per connection: a line of JSON ([`Request`]) in, a line of JSON ([`Response`])
//! out. A malformed or oversized request gets an error response; a client that never sends or
//! never reads holds only its own connection's task, never the orchestrator.

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
    },
    /// `bosun cancel`.
    Cancel {
        /// Run id or unique prefix.
        run: String,
    },
    /// `bosun runs`: every run, newest first (read from the store, not through the
    /// orchestrator's queue).
    Runs,
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
    /// The runs (`Runs`).
    #[serde(default)]
    pub runs: Option<Vec<Run>>,
    /// The run's stored diff (`Show`).
    #[serde(default)]
    pub diff: Option<String>,
    /// The run's history (`Show`).
    #[serde(default)]
    pub events: Option<Vec<crate::store::RunEvent>>,
    /// Its best-of rival, when it has one (`Show`).
    #[serde(default)]
    pub rival: Option<Box<Run>>,
    /// Why not, in the orchestrator's words.
    #[serde(default)]
    pub error: Option<String>,
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
/// repository's lock, so no other bosun serves it): decisions go to `commands`, reads are
/// answered from `store` off the async threads.
pub fn serve(
    state_dir: &Path,
    commands: mpsc::Sender<Command>,
    store: std::sync::Arc<crate::store::Store>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = socket_path(state_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (commands, store) = (commands.clone(), std::sync::Arc::clone(&store));
            tokio::spawn(async move {
                let allowed = stream.peer_cred().is_ok_and(|c| c.uid() == me);
                let _ = answer(stream, allowed, commands, store).await;
            });
        }
    }))
}

/// Reads one request from `stream`, carries it out, writes the response.
async fn answer(
    stream: tokio::net::UnixStream,
    allowed: bool,
    commands: mpsc::Sender<Command>,
    store: std::sync::Arc<crate::store::Store>,
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
                Ok(request) => respond(request, &commands, store).await,
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

impl Response {
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
async fn respond(
    request: Request,
    commands: &mpsc::Sender<Command>,
    store: std::sync::Arc<crate::store::Store>,
) -> Response {
    let (reply, answer) = oneshot::channel();
    let command = match request {
        Request::Runs => {
            return read_store(store, |s| {
                Ok(Response {
                    runs: Some(s.runs()?),
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
        } => Command::Reject {
            run,
            who,
            reason,
            retry,
            prompt: None,
            reply,
        },
        Request::Cancel { run } => Command::Cancel { run, reply },
    };
    if commands.send(command).await.is_err() {
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
