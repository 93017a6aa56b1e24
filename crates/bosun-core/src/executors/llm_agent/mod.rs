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
    /// The sandbox `run` commands start in (the run's agent sandbox).
    pub sandbox: crate::executors::sandbox::Sandbox,
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
            sandbox: crate::executors::sandbox::Sandbox::default(),
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
        sandbox: spec.sandbox.clone(),
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

    let session = Session {
        chat,
        meter,
        spec,
        workspace: &workspace,
        limits: &limits,
        io: &io,
    };
    let stop = session.converse(&mut request, &mut transcript).await;

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

/// What one run's turns work with.
struct Session<'a> {
    chat: &'a dyn Chat,
    meter: &'a Meter,
    spec: &'a AgentSpec,
    workspace: &'a Workspace,
    limits: &'a CommandLimits,
    io: &'a AgentIo,
}

impl Session<'_> {
    /// The turns of the conversation, until something ends it.
    async fn converse(&self, request: &mut ChatRequest, transcript: &mut Transcript) -> Stop {
        let Self {
            chat,
            meter,
            spec,
            workspace,
            limits,
            io,
        } = *self;
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
                        | LlmError::Config(_)
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::config::BudgetConfig;
    use crate::llm::{ChatFuture, ChatResponse, Ledger, TokenUsage, ToolCall};

    /// One scripted answer of [`Script`].
    enum Step {
        Answer(ChatResponse),
        Fail(LlmError),
        /// Never answers (to cancel a run mid-call).
        Hang,
    }

    /// A model that answers from a script and remembers what it was asked; charges the
    /// meter as the router does.
    struct Script {
        steps: Mutex<VecDeque<Step>>,
        seen: Mutex<Vec<ChatRequest>>,
    }

    impl Script {
        fn new(steps: Vec<Step>) -> Self {
            Self {
                steps: Mutex::new(steps.into()),
                seen: Mutex::new(Vec::new()),
            }
        }

        fn requests(&self) -> Vec<ChatRequest> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl Chat for Script {
        fn chat<'a>(
            &'a self,
            route: &'a str,
            request: &'a ChatRequest,
            meter: Option<&'a Meter>,
        ) -> ChatFuture<'a> {
            Box::pin(async move {
                assert_eq!(route, "coder");
                self.seen.lock().unwrap().push(request.clone());
                let step = self.steps.lock().unwrap().pop_front();
                match step {
                    Some(Step::Answer(response)) => {
                        if let Some(meter) = meter {
                            meter.charge(response.usage, response.cost_usd);
                        }
                        Ok(response)
                    }
                    Some(Step::Fail(error)) => Err(error),
                    Some(Step::Hang) => std::future::pending().await,
                    None => panic!("the script ran out after {} calls", self.requests().len()),
                }
            })
        }

        fn has_route(&self, route: &str) -> bool {
            route == "coder"
        }
    }

    fn answer(message: Message, tokens: u64) -> Step {
        Step::Answer(ChatResponse {
            message,
            finish_reason: None,
            usage: TokenUsage {
                input: tokens,
                output: tokens / 10,
            },
            cost_usd: 0.001,
            provider: "test".into(),
            model: "scripted".into(),
            logprobs: None,
            cached: false,
        })
    }

    /// An assistant turn calling tools `(name, arguments)`, ids `<turn>-<index>`.
    fn calls(turn: &str, calls: &[(&str, &str)]) -> Step {
        let message = Message {
            role: Role::Assistant,
            content: None,
            tool_calls: calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| ToolCall {
                    id: format!("{turn}-{i}"),
                    name: (*name).to_string(),
                    arguments: (*args).to_string(),
                })
                .collect(),
            tool_call_id: None,
        };
        answer(message, 100)
    }

    fn spec(allowed: &[&str]) -> AgentSpec {
        AgentSpec {
            route: "coder".into(),
            allowed_commands: allowed.iter().map(|s| (*s).to_string()).collect(),
            max_turns: 10,
            max_tokens: 100_000,
            command_timeout: Duration::from_secs(20),
            max_tool_output: 16 * 1024,
            env: Vec::new(),
            sandbox: Default::default(),
        }
    }

    struct Harness {
        worktree: tempfile::TempDir,
        runs: tempfile::TempDir,
        meter: Meter,
        lines: mpsc::Receiver<OutputLine>,
        progress: mpsc::Receiver<AgentEvent>,
        io: AgentIo,
    }

    impl Harness {
        fn new(files: &[(&str, &str)]) -> Self {
            let worktree = tempfile::tempdir().unwrap();
            for (path, content) in files {
                let full = worktree.path().join(path);
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(full, content).unwrap();
            }
            let runs = tempfile::tempdir().unwrap();
            let (lines_tx, lines) = mpsc::channel(1000);
            let (progress_tx, progress) = mpsc::channel(1000);
            let io = AgentIo {
                lines: lines_tx,
                progress: progress_tx,
                log_path: runs.path().join("r1/agent.log"),
                max_log_bytes: 1 << 20,
                transcript_path: runs.path().join("r1/transcript.jsonl"),
                cancel: CancellationToken::new(),
            };
            let meter = Meter::new(Ledger::new(BudgetConfig::default()), "r1", "t1");
            Self {
                worktree,
                runs,
                meter,
                lines,
                progress,
                io,
            }
        }

        async fn run(&self, script: &Script, spec: &AgentSpec) -> AgentOutcome {
            let work = run(
                script,
                &self.meter,
                spec,
                self.worktree.path(),
                "Make answer() return 42.",
                self.io.clone(),
            );
            tokio::time::timeout(Duration::from_secs(30), work)
                .await
                .expect("the agent did not stop")
                .unwrap()
        }

        fn transcript(&self) -> Vec<Message> {
            read_transcript(&self.io.transcript_path)
                .unwrap()
                .into_iter()
                .map(|e| e.message)
                .collect()
        }
    }

    fn drain<T>(rx: &mut mpsc::Receiver<T>) -> Vec<T> {
        let mut out = Vec::new();
        while let Ok(item) = rx.try_recv() {
            out.push(item);
        }
        out
    }

    /// The text of the last message of the `n`th request (what the model saw last).
    fn last_seen(script: &Script, n: usize) -> String {
        let requests = script.requests();
        let message = requests[n].messages.last().unwrap();
        message.content.clone().unwrap_or_default()
    }

    #[tokio::test]
    async fn the_agent_reads_edits_runs_and_finishes() {
        let mut h = Harness::new(&[("src/lib.rs", "pub fn answer() -> u32 {\n    41\n}\n")]);
        let script = Script::new(vec![
            calls("t1", &[("read_file", r#"{"path": "src/lib.rs"}"#)]),
            calls(
                "t2",
                &[(
                    "edit_file",
                    r#"{"path": "src/lib.rs", "search": "    41\n", "replace": "    42\n"}"#,
                )],
            ),
            calls("t3", &[("run", r#"{"command": "grep -n 42 src/lib.rs"}"#)]),
            calls(
                "t4",
                &[("finish", r#"{"summary": "answer() now returns 42"}"#)],
            ),
        ]);
        let outcome = h.run(&script, &spec(&["grep"])).await;

        assert_eq!(
            std::fs::read_to_string(h.worktree.path().join("src/lib.rs")).unwrap(),
            "pub fn answer() -> u32 {\n    42\n}\n"
        );
        assert_eq!(outcome.exit, ExitKind::Exited(0));
        assert_eq!(outcome.summary.as_deref(), Some("answer() now returns 42"));
        assert_eq!(outcome.agent_error, None);
        let usage = outcome.usage.unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (400, 40));

        // The model saw each tool's answer before its next turn.
        assert_eq!(script.requests().len(), 4);
        assert!(
            last_seen(&script, 1).contains("     2      41"),
            "{}",
            last_seen(&script, 1)
        );
        assert_eq!(
            last_seen(&script, 2),
            "edited src/lib.rs: lines 2-2 replaced by 1 lines"
        );
        assert_eq!(last_seen(&script, 3), "exit status 0\n2:    42\n");
        let first = &script.requests()[0];
        assert_eq!(first.tools.len(), 7);
        assert!(
            first.messages[0]
                .content
                .as_deref()
                .unwrap()
                .contains("bosun's built-in coding agent")
        );
        assert!(
            first.messages[0]
                .content
                .as_deref()
                .unwrap()
                .contains("allowed: grep")
        );

        // The transcript has every message, in order.
        let transcript = h.transcript();
        let roles: Vec<Role> = transcript.iter().map(|m| m.role).collect();
        use Role::{Assistant as A, System as S, Tool as T, User as U};
        assert_eq!(roles, [S, U, A, T, A, T, A, T, A, T]);
        assert_eq!(
            transcript[1].content.as_deref(),
            Some("Make answer() return 42.")
        );
        assert_eq!(transcript[2].tool_calls[0].name, "read_file");
        assert_eq!(transcript[7].tool_call_id.as_deref(), Some("t3-0"));
        assert_eq!(
            transcript[7].content.as_deref(),
            Some("exit status 0\n2:    42\n")
        );
        assert_eq!(transcript[9].content.as_deref(), Some("finished"));

        // The log view's rendering, in the log file and on the line channel.
        let log = std::fs::read_to_string(&h.io.log_path).unwrap();
        for expected in [
            "user: Make answer() return 42.",
            "▶ read_file src/lib.rs",
            "◀ src/lib.rs: lines 1-3 of 3",
            "▶ edit_file src/lib.rs",
            "▶ run grep -n 42 src/lib.rs",
            "◀ exit status 0",
            "  2:    42",
            "▶ finish",
            "[bosun] the agent finished",
        ] {
            assert!(
                log.lines().any(|l| l == expected),
                "{expected:?} not in the log:\n{log}"
            );
        }
        assert_eq!(outcome.log_bytes, log.len() as u64);
        let shown: Vec<String> = drain(&mut h.lines).into_iter().map(|l| l.text).collect();
        assert_eq!(shown, log.lines().collect::<Vec<_>>());
        assert_eq!(
            outcome.last_lines.last().unwrap(),
            "[bosun] the agent finished"
        );

        let progress = drain(&mut h.progress);
        for expected in [
            "reading src/lib.rs",
            "editing src/lib.rs",
            "running grep -n 42 src/lib.rs",
        ] {
            assert!(
                progress.contains(&AgentEvent::Progress(expected.into())),
                "{expected} not in {progress:?}"
            );
        }
        assert_eq!(
            progress.last(),
            Some(&AgentEvent::Final {
                summary: "answer() now returns 42".into(),
                is_error: false
            })
        );
        drop(h.runs);
    }

    #[tokio::test]
    async fn malformed_arguments_and_refusals_are_answers_the_model_sees() {
        let h = Harness::new(&[("a.txt", "a\n")]);
        let script = Script::new(vec![
            calls(
                "t1",
                &[
                    ("read_file", r#"{"path": "a.txt""#),
                    ("delete_everything", "{}"),
                    ("run", r#"{"command": "grep a a.txt; rm a.txt"}"#),
                    ("read_file", r#"{"path": "../outside"}"#),
                ],
            ),
            calls("t2", &[("finish", r#"{"summary": "gave up"}"#)]),
        ]);
        let outcome = h.run(&script, &spec(&["grep"])).await;
        assert_eq!(outcome.summary.as_deref(), Some("gave up"));
        let seen = &script.requests()[1].messages;
        let answers: Vec<&str> = seen[seen.len() - 4..]
            .iter()
            .map(|m| m.content.as_deref().unwrap())
            .collect();
        assert!(
            answers[0].starts_with("error: the arguments of `read_file` are not valid: EOF"),
            "{}",
            answers[0]
        );
        assert!(
            answers[1].starts_with("error: there is no tool `delete_everything`"),
            "{}",
            answers[1]
        );
        assert!(
            answers[2].starts_with("error: refused: the command contains \";\""),
            "{}",
            answers[2]
        );
        assert!(answers[3].contains("goes up with `..`"), "{}", answers[3]);
        assert!(h.worktree.path().join("a.txt").exists());
    }

    #[tokio::test]
    async fn the_run_stops_at_max_turns() {
        let h = Harness::new(&[("a.txt", "a\n")]);
        let script = Script::new(
            (0..5)
                .map(|i| calls(&format!("t{i}"), &[("list_files", "{}")]))
                .collect(),
        );
        let outcome = h
            .run(
                &script,
                &AgentSpec {
                    max_turns: 3,
                    ..spec(&[])
                },
            )
            .await;
        assert_eq!(script.requests().len(), 3);
        assert_eq!(outcome.exit, ExitKind::Exited(0));
        assert_eq!(outcome.summary, None);
        let error = outcome.agent_error.unwrap();
        assert!(
            error.starts_with("the built-in agent did not finish within max_turns (3)"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_run_stops_at_max_tokens() {
        let h = Harness::new(&[]);
        let script = Script::new(
            (0..5)
                .map(|i| calls(&format!("t{i}"), &[("list_files", "{}")]))
                .collect(),
        );
        // Each call uses 100 + 10 tokens: the third would start at 220 ≥ 200.
        let outcome = h
            .run(
                &script,
                &AgentSpec {
                    max_tokens: 200,
                    ..spec(&[])
                },
            )
            .await;
        assert_eq!(script.requests().len(), 2);
        let error = outcome.agent_error.unwrap();
        assert!(
            error.contains("220 tokens, reaching max_tokens (200)"),
            "{error}"
        );
        assert_eq!(outcome.usage.unwrap().input_tokens, 200);
    }

    #[tokio::test]
    async fn a_budget_stop_and_a_model_error_end_the_run_with_their_message() {
        let h = Harness::new(&[]);
        let budget = "budget: this run would pass its $0.0100 limit ([budget] per_run_usd; spent so far $0.0100)";
        let script = Script::new(vec![
            calls("t1", &[("list_files", "{}")]),
            Step::Fail(LlmError::Budget(budget.into())),
        ]);
        let outcome = h.run(&script, &spec(&[])).await;
        assert_eq!(outcome.exit, ExitKind::Exited(0));
        assert_eq!(outcome.agent_error.as_deref(), Some(budget));
        let log = std::fs::read_to_string(&h.io.log_path).unwrap();
        assert!(
            log.ends_with(&format!("[bosun] the agent stopped: {budget}\n")),
            "{log}"
        );

        let h = Harness::new(&[]);
        let script = Script::new(vec![Step::Fail(LlmError::Status {
            provider: "p".into(),
            status: 401,
            message: "bad key".into(),
            retry_after: None,
        })]);
        let outcome = h.run(&script, &spec(&[])).await;
        assert_eq!(
            outcome.agent_error.as_deref(),
            Some("model error: provider `p` answered HTTP 401: bad key")
        );
    }

    #[tokio::test]
    async fn prose_without_tools_is_nudged_once_then_taken_as_the_summary() {
        let h = Harness::new(&[]);
        let script = Script::new(vec![
            answer(Message::assistant("I would change lib.rs."), 10),
            calls("t2", &[("list_files", "{}")]),
            answer(Message::assistant("Thinking."), 10),
            answer(Message::assistant("Done: nothing needed changing."), 10),
        ]);
        let outcome = h.run(&script, &spec(&[])).await;
        assert_eq!(script.requests().len(), 4);
        assert_eq!(last_seen(&script, 1), NUDGE);
        // A tool call in between resets the reminder.
        assert_eq!(last_seen(&script, 3), NUDGE);
        assert_eq!(
            outcome.summary.as_deref(),
            Some("Done: nothing needed changing.")
        );
        assert_eq!(outcome.agent_error, None);
    }

    #[tokio::test]
    async fn cancelling_ends_a_waiting_model_call() {
        let h = Harness::new(&[]);
        let script = Script::new(vec![Step::Hang]);
        let cancel = h.io.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            cancel.cancel();
        });
        let outcome = h.run(&script, &spec(&[])).await;
        assert_eq!(outcome.exit, ExitKind::Cancelled);
        assert_eq!(outcome.agent_error, None);
        let log = std::fs::read_to_string(&h.io.log_path).unwrap();
        assert!(log.ends_with("[bosun] the agent was cancelled\n"), "{log}");
    }

    #[tokio::test]
    async fn cancelling_kills_a_running_command() {
        let h = Harness::new(&[]);
        let script = Script::new(vec![calls("t1", &[("run", r#"{"command": "sleep 30"}"#)])]);
        let cancel = h.io.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel();
        });
        let started = std::time::Instant::now();
        let outcome = h.run(&script, &spec(&["sleep"])).await;
        assert_eq!(outcome.exit, ExitKind::Cancelled);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let progress = drain(&mut { h.progress });
        assert!(progress.contains(&AgentEvent::Progress("running sleep 30".into())));
    }

    #[tokio::test]
    async fn a_missing_worktree_is_a_setup_error() {
        let h = Harness::new(&[]);
        let script = Script::new(vec![]);
        let gone = h.worktree.path().join("nope");
        let result = run(&script, &h.meter, &spec(&[]), &gone, "x", h.io.clone()).await;
        assert!(matches!(result, Err(ExecutorError::Spawn { .. })));
        assert!(script.requests().is_empty());
    }

    #[test]
    fn the_spec_comes_from_the_executor_config() {
        let config = ExecutorConfig {
            kind: crate::config::ExecutorKind::Llm,
            route: "coder".into(),
            allowed_commands: vec!["cargo test".into()],
            command_timeout: "90s".into(),
            ..ExecutorConfig::default()
        };
        let spec = AgentSpec::from_config(&config, vec![("K".into(), "V".into())]);
        assert_eq!(
            spec,
            AgentSpec {
                route: "coder".into(),
                allowed_commands: vec!["cargo test".into()],
                max_turns: 40,
                max_tokens: 400_000,
                command_timeout: Duration::from_secs(90),
                max_tool_output: 16 * 1024,
                env: vec![("K".into(), "V".into())],
                sandbox: Default::default(),
            }
        );
    }
}
