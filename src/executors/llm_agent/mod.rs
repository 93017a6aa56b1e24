//! bosun's built-in coding agent (`[executors.NAME] type = "llm"`): a tool-calling loop over
//! a [`Chat`] route, working in the run's worktree.
//!
//! Each turn sends the conversation and the tool definitions ([`tools`]) to the model, records
//! its answer, and carries out the tools it called in order, answering each with a tool
//! message. The loop ends when the model calls `finish`, when it answers twice in a row
//! without calling a tool, at `max_turns` model calls or `max_tokens` tokens, on a model or
//! budget error, or when the run is cancelled. Every message goes to the transcript
//! ([`transcript`]) as it happens. The provider's API key never passes through here: the
//! router adds it to requests, and the agent records only messages.

pub mod tools;
pub mod transcript;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

use self::tools::{Call, CommandAnswer, CommandLimits, Workspace, check_command, run_command};
use self::transcript::Transcript;
pub use self::transcript::{TranscriptEntry, read_transcript};
use super::command::{AgentOutcome, ExecutorError, ExitKind, OutputLine};
use super::events::AgentEvent;
use crate::config::ExecutorConfig;
use crate::llm::{Chat, ChatRequest, LlmError, Message, Meter, Role};

/// What the model is told when it answers without calling a tool the first time.
const NUDGE: &str =
    "Call a tool to continue the work, or call `finish` with a summary if the task is done.";

/// How one built-in agent works: its `[executors.NAME]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSpec {
    /// The `[llm.routes.NAME]` it thinks with.
    pub route: String,
    /// Command lines its `run` tool may start (see [`tools::check_command`]).
    pub allowed_commands: Vec<String>,
    /// Most model calls per run.
    pub max_turns: u32,
    /// Most tokens (input + output) per run.
    pub max_tokens: u64,
    /// Longest one `run` command may take.
    pub command_timeout: Duration,
    /// Most bytes of one tool answer.
    pub max_tool_output: usize,
    /// Extra environment for `run` commands (applied after scrubbing).
    pub env: Vec<(String, String)>,
}

impl AgentSpec {
    /// The spec of executor `c`; `env` is the environment its commands get on top of the
    /// scrubbed one (its `env` table and the run's `BOSUN_*` variables).
    pub fn from_config(c: &ExecutorConfig, env: Vec<(String, String)>) -> Self {
        Self {
            route: c.route.clone(),
            allowed_commands: c.allowed_commands.clone(),
            max_turns: c.max_turns,
            max_tokens: c.max_tokens,
            command_timeout: c.command_timeout(),
            max_tool_output: c.max_tool_output,
            env,
        }
    }
}

/// Where a built-in agent run reports to.
#[derive(Debug, Clone)]
pub struct AgentIo {
    /// Rendered transcript lines for the console (dropped when it lags).
    pub lines: mpsc::Sender<OutputLine>,
    /// Progress, usage and the final word (dropped when the receiver lags).
    pub progress: mpsc::Sender<AgentEvent>,
    /// The run's human-readable log (appended to; parent directories created).
    pub log_path: PathBuf,
    /// Log bytes after which one truncation note is written and logging stops.
    pub max_log_bytes: u64,
    /// The run's transcript, one JSON message per line (appended to; parents created).
    pub transcript_path: PathBuf,
    /// Ends the run (and any command it is running) promptly.
    pub cancel: CancellationToken,
}

/// How the loop ended.
enum Stop {
    /// The model called `finish` (or stopped calling tools); its summary.
    Finished(String),
    /// A limit or an error ended it; the reason for the operator.
    Failed(String),
    /// The run was cancelled.
    Cancelled,
}

/// The system message: who the agent is and how it works.
fn system_prompt(spec: &AgentSpec) -> String {
    let commands = if spec.allowed_commands.is_empty() {
        "none (the run tool refuses everything)".to_string()
    } else {
        spec.allowed_commands.join(", ")
    };
    format!(
        "You are bosun's built-in coding agent, working on one task in a git worktree of the project.
Work only through your tools; every path is relative to the worktree root, and you cannot go outside it or into .git.
- list_files, read_file and search show you the code (what .gitignore ignores is skipped);
- write_file creates or replaces a file, edit_file replaces one exact, unique piece of a file;
- run starts one allowed command in the worktree root (allowed: {commands}), optionally with arguments, without chaining, pipes or redirections;
- finish ends your work.
Read before you change, keep changes to what the task needs, and check them with an allowed command when one fits.
A tool answer starting with `error:` means the call did nothing; fix the call and try again.
You have at most {turns} turns. When the task is done (or cannot be done), call finish with a short summary of what you changed and why; bosun commits the worktree after you finish.",
        turns = spec.max_turns,
    )
}

/// Sends without waiting; a full or closed channel loses `event`.
fn offer(tx: &mpsc::Sender<AgentEvent>, event: AgentEvent) {
    match tx.try_send(event) {
        Ok(()) | Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {}
    }
}

/// Runs the built-in agent on `prompt` in `worktree` until it finishes, hits a limit, fails
/// or is cancelled. Model calls go to `spec.route` through `chat`, charged to `meter`.
///
/// Only setup problems are errors (the worktree is missing, the log or transcript cannot be
/// created). Everything after that is in the outcome: [`ExitKind::Cancelled`] when cancelled,
/// else [`ExitKind::Exited`]`(0)` with `agent_error` saying why it stopped when it did not
/// finish — a budget stop's message starts with `budget:`.
pub async fn run(
    chat: &dyn Chat,
    meter: &Meter,
    spec: &AgentSpec,
    worktree: &Path,
    prompt: &str,
    io: AgentIo,
) -> Result<AgentOutcome, ExecutorError> {
    let workspace =
        Workspace::new(worktree, spec.max_tool_output).map_err(|error| ExecutorError::Spawn {
            program: "bosun's built-in agent".to_string(),
            error: std::io::Error::new(
                error.kind(),
                format!("its worktree {}: {error}", worktree.display()),
            ),
        })?;
    let mut transcript = Transcript::open(
        &io.transcript_path,
        &io.log_path,
        io.max_log_bytes,
        io.lines.clone(),
    )
    .await?;
    let limits = CommandLimits {
        timeout: spec.command_timeout,
        max_output: spec.max_tool_output.max(512),
        env: spec.env.clone(),
        scratch: io
            .log_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(std::env::temp_dir, Path::to_path_buf),
    };

    let mut request = ChatRequest {
        tools: tools::definitions(),
        ..ChatRequest::default()
    };
    for message in [Message::system(system_prompt(spec)), Message::user(prompt)] {
        transcript.message(&message).await;
        request.messages.push(message);
    }

    let stop = converse(
        chat,
        meter,
        spec,
        &workspace,
        &limits,
        &io,
        &mut request,
        &mut transcript,
    )
    .await;

    let (exit, summary, agent_error) = match stop {
        Stop::Finished(summary) => {
            transcript.note("the agent finished").await;
            let summary = Some(summary).filter(|s| !s.trim().is_empty());
            (ExitKind::Exited(0), summary, None)
        }
        Stop::Failed(reason) => {
            transcript
                .note(&format!("the agent stopped: {reason}"))
                .await;
            (ExitKind::Exited(0), None, Some(reason))
        }
        Stop::Cancelled => {
            transcript.note("the agent was cancelled").await;
            (ExitKind::Cancelled, None, None)
        }
    };
    match (&summary, &agent_error) {
        (_, Some(reason)) => offer(
            &io.progress,
            AgentEvent::Final {
                summary: reason.clone(),
                is_error: true,
            },
        ),
        (Some(summary), None) => offer(
            &io.progress,
            AgentEvent::Final {
                summary: summary.clone(),
                is_error: false,
            },
        ),
        (None, None) => {}
    }
    let usage = meter.ledger.run_usage(&meter.run);
    let (log_bytes, log_truncated, last_lines) = transcript.finish();
    Ok(AgentOutcome {
        exit,
        usage: Some(usage),
        summary,
        agent_error,
        log_bytes,
        log_truncated,
        last_lines,
    })
}

/// The turns of the conversation, until something ends it.
#[allow(clippy::too_many_arguments)]
async fn converse(
    chat: &dyn Chat,
    meter: &Meter,
    spec: &AgentSpec,
    workspace: &Workspace,
    limits: &CommandLimits,
    io: &AgentIo,
    request: &mut ChatRequest,
    transcript: &mut Transcript,
) -> Stop {
    let mut turns = 0u32;
    let mut nudged = false;
    loop {
        if io.cancel.is_cancelled() {
            return Stop::Cancelled;
        }
        let usage = meter.ledger.run_usage(&meter.run);
        let used = usage.input_tokens + usage.output_tokens;
        if used >= spec.max_tokens {
            return Stop::Failed(format!(
                "the built-in agent used {used} tokens, reaching max_tokens ({}); raise [executors.NAME] max_tokens or split the task",
                spec.max_tokens
            ));
        }
        if turns >= spec.max_turns {
            return Stop::Failed(format!(
                "the built-in agent did not finish within max_turns ({}); raise [executors.NAME] max_turns or split the task",
                spec.max_turns
            ));
        }
        turns += 1;
        offer(
            &io.progress,
            AgentEvent::Progress(format!("thinking (turn {turns})")),
        );
        let answer = tokio::select! {
            biased;
            () = io.cancel.cancelled() => return Stop::Cancelled,
            answer = chat.chat(&spec.route, request, Some(meter)) => answer,
        };
        let response = match answer {
            Ok(response) => response,
            Err(error) => {
                return match error {
                    LlmError::Budget(message) => Stop::Failed(message),
                    LlmError::Cancelled if io.cancel.is_cancelled() => Stop::Cancelled,
                    LlmError::UnknownRoute(_)
                    | LlmError::MissingKey { .. }
                    | LlmError::Status { .. }
                    | LlmError::Transport { .. }
                    | LlmError::Malformed { .. }
                    | LlmError::Exhausted { .. }
                    | LlmError::Cancelled => Stop::Failed(format!("model error: {error}")),
                };
            }
        };
        offer(
            &io.progress,
            AgentEvent::Usage(meter.ledger.run_usage(&meter.run)),
        );
        let mut message = response.message;
        // Whatever the provider labelled it, it is the model's turn in the conversation.
        message.role = Role::Assistant;
        transcript.message(&message).await;
        let calls = message.tool_calls.clone();
        let text = message.content.clone().unwrap_or_default();
        request.messages.push(message);

        if calls.is_empty() {
            // A model that answers in prose may have forgotten its tools; one reminder, and if
            // it answers in prose again its words are taken as its final summary (a model
            // that is done but does not call finish should not burn the remaining turns).
            if nudged {
                return Stop::Finished(text.trim().to_string());
            }
            nudged = true;
            let nudge = Message::user(NUDGE);
            transcript.message(&nudge).await;
            request.messages.push(nudge);
            continue;
        }
        nudged = false;

        let mut finished: Option<String> = None;
        for call in calls {
            let answer = if finished.is_some() {
                // Every call gets an answer so the transcript is a well-formed conversation.
                "not run: finish was called before it".to_string()
            } else {
                match Call::parse(&call.name, &call.arguments) {
                    Err(error) => format!("error: {error}"),
                    Ok(parsed) => {
                        offer(&io.progress, AgentEvent::Progress(parsed.progress()));
                        match parsed {
                            Call::Finish { summary } if summary.trim().is_empty() => {
                                "error: the summary is empty; say what was done".to_string()
                            }
                            Call::Finish { summary } => {
                                finished = Some(summary);
                                "finished".to_string()
                            }
                            Call::Run { command } => {
                                match run_tool(
                                    workspace,
                                    limits,
                                    &spec.allowed_commands,
                                    &command,
                                    &io.cancel,
                                )
                                .await
                                {
                                    Some(answer) => answer,
                                    None => return Stop::Cancelled,
                                }
                            }
                            Call::File(file_call) => file_tool(workspace, file_call).await,
                        }
                    }
                }
            };
            let reply = Message::tool(call.id, answer);
            transcript.message(&reply).await;
            request.messages.push(reply);
        }
        if let Some(summary) = finished {
            return Stop::Finished(summary);
        }
    }
}

/// A file tool's answer, computed on the blocking pool (walking a large tree or reading a
/// big file must not hold up the runtime's other tasks).
async fn file_tool(workspace: &Workspace, call: tools::FileCall) -> String {
    let workspace = workspace.clone();
    match tokio::task::spawn_blocking(move || workspace.call(&call)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => format!("error: {error}"),
        Err(error) => format!("error: the tool failed unexpectedly ({error})"),
    }
}

/// The `run` tool's answer, or `None` when the run was cancelled while the command ran.
async fn run_tool(
    workspace: &Workspace,
    limits: &CommandLimits,
    allowed: &[String],
    command: &str,
    cancel: &CancellationToken,
) -> Option<String> {
    if let Err(refused) = check_command(command, allowed) {
        return Some(format!("error: {refused}"));
    }
    match run_command(workspace.root(), command, limits, cancel).await {
        Ok(CommandAnswer::Done(answer)) => Some(answer),
        Ok(CommandAnswer::Cancelled) => None,
        Err(error) => Some(format!("error: {error}")),
    }
}
