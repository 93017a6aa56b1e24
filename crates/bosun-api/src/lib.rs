//! What a front end asks of bosun's core, and how: the console reads runs, tasks and changes
//! through [`Core`], sends the orchestrator's [`Command`]s, and hears its events through a
//! [`Feed`] — in bosun's own process (the core's own `control::Local`, the orchestrator's channels), or
//! from another terminal through the control socket ([`Remote`], [`forward_commands`], `bosun
//! attach`), in the protocol of [`protocol`].
//! The console never reads the store or git itself: this crate, with the domain types of
//! [`model`], is all of bosun it can name (the compiler keeps it so).
//!
//! Here too is what the core and every front end share: the orchestrator's [`Event`]s and the
//! [`Bus`] that carries them, the [`Command`]s front ends send, the [`metrics`] both compute
//! from the events, and the ring of [`log`] records a console shows.

mod bus;
mod command;
mod event;
pub mod log;
pub mod metrics;
mod protocol;

pub use bosun_model as model;
pub use bus::{Bus, Missed, Subscription};
pub use command::{Command, CommandError, NewTask};
pub use event::Event;

use std::path::PathBuf;

use tokio::sync::mpsc;

pub use protocol::{
    ControlError, Heard, MAX_REQUEST, Request, Response, SOCKET, Status, Stream, Streamed,
    exchange, exchange_blocking, socket_path,
};

use crate::model::Diff;
use crate::model::Strategy;
use crate::model::{Annotation, Run, RunId, Task};

/// Who is at the keyboard, for the audit trail.
pub fn operator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "operator".to_string())
}

/// Lines of a run's log file a front end gets (its end).
pub const LOG_TAIL_LINES: usize = 10_000;

/// The end of a run's agent log: at most [`LOG_TAIL_LINES`] lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogTail {
    /// The lines, oldest first.
    pub lines: Vec<String>,
    /// Earlier lines were left out (or the first one was cut).
    pub cut: bool,
}

/// The reads a front end makes, each a blocking call (run them off the async threads). Errors
/// are the sentence to show.
pub trait Core: Send + Sync {
    /// The task list as the task files hold it now.
    fn tasks(&self) -> Result<Vec<Task>, String>;
    /// The runs not finished.
    fn open_runs(&self) -> Result<Vec<Run>, String>;
    /// Runs, newest first: `limit` of them, older than `before`.
    fn runs_page(&self, before: Option<&RunId>, limit: usize) -> Result<Vec<Run>, String>;
    /// How many runs the store holds.
    fn run_count(&self) -> usize;
    /// One run by its exact id.
    fn run(&self, id: &RunId) -> Result<Option<Run>, String>;
    /// A run's annotations (kept apart from the run, which has their counts).
    fn annotations(&self, id: &RunId) -> Result<Vec<Annotation>, String>;
    /// A run's annotations on the files `paths`, with its notices and risks on every file:
    /// what a review's first screen of a large change needs.
    fn annotations_on(&self, id: &RunId, paths: &[String]) -> Result<Vec<Annotation>, String>;
    /// The audit trail's hash chain checked: how many entries.
    fn verify_audit(&self) -> Result<usize, String>;
    /// Process memory's record of each executor per task type.
    fn strategies(&self) -> Result<Vec<Strategy>, String>;
    /// The first files of the change `base..head` and how many it has in all, credentials
    /// masked.
    fn first_diff(
        &self,
        base: &str,
        head: &str,
        files: usize,
        bytes: usize,
    ) -> Result<(Diff, usize), String>;
    /// The whole change `base..head`, credentials masked.
    fn diff(&self, base: &str, head: &str) -> Result<Diff, String>;
    /// The end of a run's agent log; `None` when the run has no log file.
    fn run_log(&self, id: &RunId) -> Result<Option<LogTail>, String>;
}

/// The core of a bosun running elsewhere, asked through its control socket.
pub struct Remote {
    /// The state directory whose socket it serves.
    pub state_dir: PathBuf,
}

impl Remote {
    fn ask(&self, request: &Request) -> Result<Response, String> {
        exchange_blocking(&self.state_dir, request).map_err(|e| e.to_string())
    }
}

impl Core for Remote {
    fn tasks(&self) -> Result<Vec<Task>, String> {
        Ok(self.ask(&Request::Tasks)?.tasks.unwrap_or_default())
    }
    fn open_runs(&self) -> Result<Vec<Run>, String> {
        self.ask(&Request::OpenRuns)?
            .runs()
            .map_err(|e| e.to_string())
    }
    fn runs_page(&self, before: Option<&RunId>, limit: usize) -> Result<Vec<Run>, String> {
        let request = Request::RunsPage {
            before: before.cloned(),
            limit,
        };
        self.ask(&request)?.runs().map_err(|e| e.to_string())
    }
    fn run_count(&self) -> usize {
        self.ask(&Request::RunCount)
            .ok()
            .and_then(|r| r.count)
            .unwrap_or_default()
    }
    fn run(&self, id: &RunId) -> Result<Option<Run>, String> {
        Ok(self.ask(&Request::Run { id: id.clone() })?.run.map(|r| *r))
    }
    fn annotations(&self, id: &RunId) -> Result<Vec<Annotation>, String> {
        let request = Request::Annotations {
            id: id.clone(),
            paths: None,
        };
        Ok(self.ask(&request)?.annotations.unwrap_or_default())
    }
    fn annotations_on(&self, id: &RunId, paths: &[String]) -> Result<Vec<Annotation>, String> {
        let request = Request::Annotations {
            id: id.clone(),
            paths: Some(paths.to_vec()),
        };
        Ok(self.ask(&request)?.annotations.unwrap_or_default())
    }
    fn verify_audit(&self) -> Result<usize, String> {
        self.ask(&Request::VerifyAudit)?
            .verified
            .ok_or_else(|| "the running bosun did not say".into())
    }
    fn strategies(&self) -> Result<Vec<Strategy>, String> {
        Ok(self.ask(&Request::Memory)?.strategies.unwrap_or_default())
    }
    fn first_diff(
        &self,
        base: &str,
        head: &str,
        files: usize,
        bytes: usize,
    ) -> Result<(Diff, usize), String> {
        let answer = self.ask(&Request::FirstDiff {
            base: base.into(),
            head: head.into(),
            files,
            bytes,
        })?;
        let diff = answer.change.unwrap_or_default();
        let total = answer.count.unwrap_or(diff.files.len());
        Ok((diff, total))
    }
    fn diff(&self, base: &str, head: &str) -> Result<Diff, String> {
        let answer = self.ask(&Request::Diff {
            base: base.into(),
            head: head.into(),
        })?;
        Ok(answer.change.unwrap_or_default())
    }
    fn run_log(&self, id: &RunId) -> Result<Option<LogTail>, String> {
        Ok(self.ask(&Request::RunLog { id: id.clone() })?.log)
    }
}

/// Where a front end hears the orchestrator: its bus in this process, or a subscription
/// through the control socket.
pub enum Feed {
    /// In this process.
    Local(Subscription),
    /// From the bosun serving a control socket.
    Remote(Stream),
}

impl Feed {
    /// The next event, or what was missed (as [`Subscription::recv`]).
    pub async fn recv(&mut self) -> Result<Event, Missed> {
        match self {
            Feed::Local(subscription) => subscription.recv().await,
            Feed::Remote(stream) => match stream.next().await {
                Some(Ok(Heard::Event(event))) => Ok(*event),
                Some(Ok(Heard::Note(Streamed::Lagged { run_changes }))) => {
                    Err(Missed::State(run_changes))
                }
                Some(Ok(Heard::Note(Streamed::Skipped { lines }))) => Err(Missed::Output(lines)),
                Some(Ok(Heard::Note(Streamed::Subscribed))) => Err(Missed::Output(0)),
                Some(Err(e)) => {
                    tracing::warn!("the running bosun's events broke off: {e}");
                    Err(Missed::Closed)
                }
                None => Err(Missed::Closed),
            },
        }
    }
}

/// A command channel whose commands go to the bosun serving `state_dir`, each answered
/// through its reply channel as the orchestrator would answer it. `Shutdown` is not
/// forwarded: a console attached to a bosun leaves it running when it quits.
pub fn forward_commands(state_dir: PathBuf) -> mpsc::Sender<Command> {
    let (tx, mut rx) = mpsc::channel::<Command>(64);
    tokio::spawn(async move {
        while let Some(command) = rx.recv().await {
            let state_dir = state_dir.clone();
            tokio::spawn(async move { forward(&state_dir, command).await });
        }
    });
    tx
}

/// The running bosun's words for why not.
fn refused(e: ControlError) -> CommandError {
    CommandError::Refused(e.to_string())
}

async fn forward(state_dir: &std::path::Path, command: Command) {
    let ask =
        |request: Request| async move { exchange(state_dir, &request).await.map_err(refused) };
    let run = |answer: Result<Response, CommandError>| {
        answer.and_then(|mut a| a.take_run().map_err(refused))
    };
    match command {
        Command::Approve {
            run: id,
            who,
            note,
            keep,
            message,
            deliver,
            reply,
        } => {
            let request = Request::Approve {
                run: id,
                who,
                note,
                keep,
                message,
                deliver,
            };
            let _ = reply.send(run(ask(request).await));
        }
        Command::Reject {
            run: id,
            who,
            reason,
            retry,
            prompt,
            reply,
        } => {
            let request = Request::Reject {
                run: id,
                who,
                reason,
                retry,
                prompt,
            };
            let _ = reply.send(run(ask(request).await));
        }
        Command::Instruct {
            run: id,
            who,
            prompt,
            reply,
        } => {
            let request = Request::Instruct {
                run: id,
                who,
                prompt,
            };
            let _ = reply.send(run(ask(request).await));
        }
        Command::Cancel { run: id, reply } => {
            let _ = reply.send(run(ask(Request::Cancel { run: id }).await));
        }
        Command::Retry {
            run: id,
            who,
            reply,
        } => {
            let _ = reply.send(run(ask(Request::Retry { run: id, who }).await));
        }
        Command::AddTask { task, who, reply } => {
            let answer = ask(Request::AddTask { task, who }).await.and_then(|a| {
                a.task
                    .ok_or_else(|| CommandError::Refused("no task in the answer".into()))
            });
            let _ = reply.send(answer);
        }
        Command::Pause => {
            let _ = ask(Request::Pause).await;
        }
        Command::Resume => {
            let _ = ask(Request::Resume).await;
        }
        Command::Shutdown => {}
    }
}
