//! The process runner: one agent CLI as a child process in the run's worktree.
//!
//! The child gets its own process group (so a timeout or cancel ends everything it started),
//! a scrubbed environment ([`ENV_ALLOWLIST`] plus the run's own variables), no stdin, and a
//! deadline. Its stdout and stderr are read concurrently, line by line, with bounded memory
//! whatever it prints: every line goes to the run's log until the log's size cap, to the
//! `lines` channel and (stdout only) to the output-format parser, whose events go to the
//! `progress` channel. Neither channel can slow the agent down: when a receiver lags, lines
//! and events are dropped rather than buffered.

mod group;
mod lines;

use std::collections::{BTreeMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

pub use group::{kill_process_group, process_group_alive};

use self::group::{KILL_GRACE, signal_group, wait_gone};
use self::lines::LineReader;
use super::events::{AgentEvent, EventParser};
use super::presets::OutputFormat;
use crate::model::Usage;

/// The variables of bosun's own environment an agent may see; everything else (cloud
/// credentials, tokens, `BOSUN_*` settings, the operator's shell customizations) is withheld.
///
/// - Basics every CLI expects: `PATH` (to find `git`, `node`, …), `HOME` (agents keep their
///   login state and settings there: `~/.claude`, `~/.codex`, `~/.gemini/settings.json`,
///   `~/.local/share/opencode`), `USER`, `LOGNAME`, `SHELL`, `TERM`, locale (`LANG`, `LC_ALL`,
///   `LC_CTYPE`) and `TZ` so text and times come out right, `TMPDIR`, the XDG base
///   directories (where some of those agents put their state instead of `HOME`), and
///   `SSH_AUTH_SOCK` so git over SSH works without exposing keys.
/// - Where toolchains live, so that `cargo test`, `go test`, `pytest` and `npm test` work in
///   gates and agents when they are installed outside the defaults: `CARGO_HOME`,
///   `RUSTUP_HOME`, `RUSTUP_TOOLCHAIN`, `GOROOT`, `GOPATH`, `GOCACHE`, `GOMODCACHE`,
///   `VIRTUAL_ENV`, `PYENV_ROOT`, `NVM_DIR`, `JAVA_HOME`.
/// - The provider variables the recorded agents read for their endpoint and key:
///   `ANTHROPIC_API_KEY` / `ANTHROPIC_BASE_URL` (claude), `OPENAI_API_KEY` /
///   `OPENAI_BASE_URL` (OpenAI SDKs), `OPENAI_API_BASE` (aider's endpoint, verified),
///   `CODEX_API_KEY` / `CODEX_HOME` (codex), `GEMINI_API_KEY` / `GOOGLE_API_KEY` /
///   `GOOGLE_GEMINI_BASE_URL` (gemini; the last verified), `OPENROUTER_API_KEY`.
/// - Network plumbing without which agents fail behind a corporate proxy or TLS-inspecting
///   gateway: `HTTP(S)_PROXY`, `ALL_PROXY`, `NO_PROXY` (both cases), `SSL_CERT_FILE`,
///   `SSL_CERT_DIR`, `NODE_EXTRA_CA_CERTS`, `REQUESTS_CA_BUNDLE`.
///
/// Anything else an agent needs goes in its `[executors.NAME] env` table, which is applied
/// after this list and may override it.
pub const ENV_ALLOWLIST: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "TZ",
    "SSH_AUTH_SOCK",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "GOROOT",
    "GOPATH",
    "GOCACHE",
    "GOMODCACHE",
    "VIRTUAL_ENV",
    "PYENV_ROOT",
    "NVM_DIR",
    "JAVA_HOME",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "CODEX_API_KEY",
    "CODEX_HOME",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "OPENROUTER_API_KEY",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
];

/// What to run: one agent invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRun {
    /// The command, placeholders already expanded; `argv[0]` is the program (looked up on
    /// `PATH`, or a path — relative ones are relative to `cwd`).
    pub argv: Vec<String>,
    /// Extra environment (config and `BOSUN_*` variables), applied after scrubbing.
    pub env: Vec<(String, String)>,
    /// Where the agent works: the run's worktree.
    pub cwd: PathBuf,
    /// How long the agent may run before its process group is killed.
    pub timeout: Duration,
    /// The run's full output log (parent directories are created; appended to).
    pub log_path: PathBuf,
    /// Log bytes after which one truncation note is written and logging stops.
    pub max_log_bytes: u64,
    /// How stdout is parsed for progress and usage.
    pub format: OutputFormat,
    /// What the command may write and reach (its `cwd` and private `TMPDIR` are added).
    pub sandbox: super::sandbox::Sandbox,
    /// Free space (MB) below which the log stops taking output (`[store] min_free_mb`; 0:
    /// never), so a flood of output cannot fill the disk under the store.
    pub min_free_mb: u64,
}

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of agent output, without its newline (at most 64 KiB; a longer line is cut and
/// ends in `…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    /// Where it came from.
    pub stream: Stream,
    /// The text (invalid UTF-8 replaced).
    pub text: String,
}

/// How the agent's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// It exited with this status code.
    Exited(i32),
    /// A signal bosun did not send killed it.
    Signaled(i32),
    /// It ran past its timeout; its process group was killed.
    TimedOut,
    /// The run was cancelled; its process group was killed.
    Cancelled,
}

/// What came of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentOutcome {
    /// How the process ended.
    pub exit: ExitKind,
    /// Tokens and cost, when the agent's output reports them.
    pub usage: Option<Usage>,
    /// The agent's closing message, when its format has one.
    pub summary: Option<String>,
    /// The error the agent reported last (an API error, a budget stop), when its format has
    /// such a thing and the agent did not recover from it. Agents often exit 0 regardless.
    pub agent_error: Option<String>,
    /// Bytes written to the log (the truncation note included).
    pub log_bytes: u64,
    /// Whether the log hit `max_log_bytes`.
    pub log_truncated: bool,
    /// The last output lines (stderr ones prefixed `[stderr] `), for error messages.
    pub last_lines: Vec<String>,
}

/// Why an agent could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// `argv[0]` is not an executable on `PATH` (or at the given path).
    #[error(
        "agent program `{program}` was not found on PATH (or is not executable); install it or fix the `command` of its [executors.NAME] table in bosun.toml"
    )]
    MissingProgram {
        /// The program as written in the command.
        program: String,
    },
    /// The process could not be started.
    #[error("cannot start agent `{program}`: {error}")]
    Spawn {
        /// The program as written in the command.
        program: String,
        /// Why.
        error: std::io::Error,
    },
    /// The run's log (or its directory) could not be created.
    #[error("cannot write the agent's log {path}: {error}")]
    Log {
        /// The log file or directory.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// How many output lines [`AgentOutcome::last_lines`] keeps.
const LAST_LINES: usize = 20;

/// Longest line kept in [`AgentOutcome::last_lines`], in bytes (cut at a char boundary).
const LAST_LINE_BYTES: usize = 1000;

/// After the agent exits, how long its output may keep coming (from processes it left behind
/// that are being killed, or that escaped its group) before bosun stops reading.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(3);

/// Finds `program` as the agent would be found: a name is looked up on `PATH`; a path (with
/// a `/`) is taken relative to `cwd`. Only regular files with an executable bit count.
pub fn find_program(program: &str, cwd: &Path) -> Option<PathBuf> {
    find_program_in(program, cwd, std::env::var_os("PATH").as_deref())
}

/// [`find_program`] as the agent's launch finds it: on the `PATH` of the executor's own
/// `env` when it sets one (an agent installed in a virtualenv), else on bosun's.
pub fn find_agent_program(
    program: &str,
    cwd: &Path,
    env: &std::collections::BTreeMap<String, String>,
) -> Option<PathBuf> {
    match env.get("PATH") {
        Some(path) => find_program_in(program, cwd, Some(OsStr::new(path))),
        None => find_program(program, cwd),
    }
}

fn find_program_in(program: &str, cwd: &Path, path_var: Option<&OsStr>) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        let candidate = cwd.join(program);
        return is_executable(&candidate).then_some(candidate);
    }
    std::env::split_paths(path_var?)
        .map(|dir| {
            // An empty PATH entry means the current directory (POSIX).
            let dir = if dir.as_os_str().is_empty() {
                cwd.to_path_buf()
            } else {
                cwd.join(dir)
            };
            dir.join(program)
        })
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The agent's whole environment: the allow-listed variables `lookup` finds, then `TMPDIR`
/// if the run has a private one, then the run's own variables (which win).
fn child_env(
    lookup: impl Fn(&str) -> Option<OsString>,
    tmpdir: Option<&Path>,
    extra: &[(String, String)],
) -> BTreeMap<OsString, OsString> {
    let mut env: BTreeMap<OsString, OsString> = ENV_ALLOWLIST
        .iter()
        .filter_map(|name| lookup(name).map(|value| (OsString::from(name), value)))
        .collect();
    if let Some(dir) = tmpdir {
        env.insert("TMPDIR".into(), dir.as_os_str().to_owned());
    }
    for (name, value) in extra {
        env.insert(name.into(), value.into());
    }
    env
}

/// Runs the agent to the end and reports how it went.
///
/// - `argv[0]` missing or not executable → [`ExecutorError::MissingProgram`] at once,
///   before anything is created or started.
/// - `on_start` gets the agent's process-group id right after it starts (record it: after a
///   crash, [`kill_process_group`] ends an agent that outlived bosun).
/// - `lines` gets every output line, `progress` every parsed [`AgentEvent`] — both only as
///   long as they have room; lagging receivers lose items instead of stalling the agent.
/// - Timeout or `cancel` → SIGTERM to the whole group, SIGKILL 2 s later, and
///   [`ExitKind::TimedOut`] / [`ExitKind::Cancelled`]. When the agent exits by itself,
///   processes it left running in its group are ended the same way. Either way no process
///   of the group is left when this returns (unless it ignored SIGKILL's delivery for over
///   a second, which the log then notes).
/// - A log write failure mid-run stops logging (with a warning) but not the run.
/// - Every command gets a private `TMPDIR` beside its working directory, removed afterwards
///   (OpenCode otherwise leaves a 5 MB library in the shared temp directory per run, gemini
///   its error reports), and runs in `run.sandbox`.
pub async fn run_agent(
    run: &AgentRun,
    on_start: impl FnOnce(i32),
    lines: mpsc::Sender<OutputLine>,
    progress: mpsc::Sender<AgentEvent>,
    cancel: CancellationToken,
) -> Result<AgentOutcome, ExecutorError> {
    let program = run.argv.first().map_or("", String::as_str);
    if program.trim().is_empty() {
        return Err(ExecutorError::Spawn {
            program: program.to_string(),
            error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the command is empty"),
        });
    }
    // PATH as the agent will see it (the run may override it).
    let path_var = run
        .env
        .iter()
        .rev()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| OsString::from(value))
        .or_else(|| std::env::var_os("PATH"));
    let resolved = find_program_in(program, &run.cwd, path_var.as_deref()).ok_or_else(|| {
        ExecutorError::MissingProgram {
            program: program.to_string(),
        }
    })?;
    if !run.cwd.is_dir() {
        return Err(ExecutorError::Spawn {
            program: program.to_string(),
            error: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("its working directory {} does not exist", run.cwd.display()),
            ),
        });
    }
    if cancel.is_cancelled() {
        return Ok(AgentOutcome::not_started(ExitKind::Cancelled));
    }

    let mut log = RunLog::create(&run.log_path, run.max_log_bytes, run.min_free_mb).await?;
    let private_tmp = private_tmpdir(&run.cwd)?;
    let env = child_env(
        |name| std::env::var_os(name),
        Some(private_tmp.path()),
        &run.env,
    );
    let restrictions = run
        .sandbox
        .prepare(&run.cwd, private_tmp.path())
        .map_err(|e| ExecutorError::Spawn {
            program: program.to_string(),
            error: std::io::Error::other(e),
        })?;
    // Under bubblewrap the command is bwrap's argument; otherwise it is started as it is.
    let wrapped = run
        .sandbox
        .wrap_argv(&run.argv, &run.cwd, private_tmp.path());
    let (exe, arg0, args) = if wrapped.len() == run.argv.len() {
        (resolved.clone(), program.to_string(), &run.argv[1..])
    } else {
        (
            PathBuf::from(&wrapped[0]),
            wrapped[0].clone(),
            &wrapped[1..],
        )
    };

    let mut command = tokio::process::Command::new(&exe);
    command
        .arg0(arg0)
        .args(args)
        .current_dir(&run.cwd)
        .env_clear()
        .envs(&env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: `apply` only makes system calls (setrlimit, prctl, landlock_restrict_self) on
    // data prepared before the fork; it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || restrictions.apply());
    }
    let mut child = command.spawn().map_err(|error| ExecutorError::Spawn {
        program: program.to_string(),
        error,
    })?;
    // Invariant: `id()` is `Some` until the child has been waited for, which it has not.
    let Some(pgid) = child.id().and_then(|id| i32::try_from(id).ok()) else {
        let _ = child.start_kill();
        return Err(ExecutorError::Spawn {
            program: program.to_string(),
            error: std::io::Error::other("the started process has no id"),
        });
    };
    let mut guard = GroupGuard { pgid, armed: true };
    tracing::debug!(program, pgid, cwd = %run.cwd.display(), "agent started");
    on_start(pgid);

    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        // Invariant: both were configured as pipes above.
        return Err(ExecutorError::Spawn {
            program: program.to_string(),
            error: std::io::Error::other("the agent's output pipes are missing"),
        });
    };
    let mut out = LineReader::new(stdout);
    let mut err = LineReader::new(stderr);
    let mut pump = Pump {
        log: &mut log,
        parser: EventParser::new(run.format).with_root(&run.cwd),
        lines: Some(lines),
        progress: Some(progress),
        last_lines: VecDeque::with_capacity(LAST_LINES),
        summary: None,
        agent_error: None,
        redactor: crate::semantic::rules::Redactor::new(),
    };

    let deadline = tokio::time::sleep(run.timeout);
    let kill_timer = tokio::time::sleep(Duration::ZERO);
    let drain_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(deadline, kill_timer, drain_timer);
    let (mut out_open, mut err_open) = (true, true);
    let mut status: Option<ExitStatus> = None;
    let mut stopped: Option<ExitKind> = None;
    let mut kill_pending = false;

    // Ends when the agent has exited and its pipes are closed (or stopped trickling).
    while status.is_none() || out_open || err_open {
        tokio::select! {
            line = out.next_line(), if out_open => match line {
                Ok(Some(text)) => pump.handle(Stream::Stdout, text).await,
                Ok(None) => out_open = false,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the agent's stdout");
                    out_open = false;
                }
            },
            line = err.next_line(), if err_open => match line {
                Ok(Some(text)) => pump.handle(Stream::Stderr, text).await,
                Ok(None) => err_open = false,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the agent's stderr");
                    err_open = false;
                }
            },
            waited = child.wait(), if status.is_none() => {
                status = Some(waited.unwrap_or_else(|error| {
                    tracing::warn!(%error, "cannot wait for the agent");
                    ExitStatus::from_raw(libc::SIGKILL)
                }));
                // Whatever it left running would hold the pipes and keep changing the worktree.
                if !kill_pending && process_group_alive(pgid) {
                    signal_group(pgid, libc::SIGTERM);
                    kill_timer.as_mut().reset(tokio::time::Instant::now() + KILL_GRACE);
                    kill_pending = true;
                }
                drain_timer.as_mut().reset(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
            },
            () = &mut deadline, if stopped.is_none() && status.is_none() => {
                stopped = Some(ExitKind::TimedOut);
                signal_group(pgid, libc::SIGTERM);
                kill_timer.as_mut().reset(tokio::time::Instant::now() + KILL_GRACE);
                kill_pending = true;
            },
            () = cancel.cancelled(), if stopped.is_none() && status.is_none() => {
                stopped = Some(ExitKind::Cancelled);
                signal_group(pgid, libc::SIGTERM);
                kill_timer.as_mut().reset(tokio::time::Instant::now() + KILL_GRACE);
                kill_pending = true;
            },
            () = &mut kill_timer, if kill_pending => {
                kill_pending = false;
                signal_group(pgid, libc::SIGKILL);
            },
            () = &mut drain_timer, if status.is_some() => break,
            else => break,
        }
    }

    // Nothing of the agent may outlive the run.
    if process_group_alive(pgid) {
        signal_group(pgid, libc::SIGKILL);
    }
    let gone = wait_gone(pgid, Duration::from_secs(1)).await;
    guard.armed = !gone;
    drop(guard);

    for event in pump.parser.finish() {
        pump.event(event);
    }
    let exit = match (stopped, status) {
        (Some(kind), _) => kind,
        (None, Some(status)) => exit_kind(status),
        // Unreachable: the loop only ends once the agent has been waited for.
        (None, None) => ExitKind::Signaled(libc::SIGKILL),
    };
    let Pump {
        parser,
        last_lines,
        summary,
        agent_error,
        ..
    } = pump;
    let note = match exit {
        ExitKind::Exited(code) => format!("agent exited with code {code}"),
        ExitKind::Signaled(signal) => format!("agent was killed by signal {signal}"),
        ExitKind::TimedOut => format!(
            "agent timed out after {}; its process group was killed",
            humantime::format_duration(run.timeout)
        ),
        ExitKind::Cancelled => "agent cancelled; its process group was killed".to_string(),
    };
    log.note(&note).await;
    if !gone {
        log.note(&format!(
            "process group {pgid} still had processes after SIGKILL"
        ))
        .await;
    }
    log.close().await;
    drop(private_tmp);
    tracing::debug!(pgid, ?exit, "agent finished");

    Ok(AgentOutcome {
        exit,
        usage: parser.usage(),
        summary,
        agent_error,
        log_bytes: log.written,
        log_truncated: log.truncated,
        last_lines: last_lines
            .into_iter()
            .map(|(stream, text)| tail_line(stream, &text))
            .collect(),
    })
}

impl AgentOutcome {
    fn not_started(exit: ExitKind) -> Self {
        Self {
            exit,
            usage: None,
            summary: None,
            agent_error: None,
            log_bytes: 0,
            log_truncated: false,
            last_lines: Vec::new(),
        }
    }
}

/// A line for [`AgentOutcome::last_lines`]: stderr marked, long lines cut.
fn tail_line(stream: Stream, text: &str) -> String {
    let prefix = match stream {
        Stream::Stdout => "",
        Stream::Stderr => "[stderr] ",
    };
    if text.len() <= LAST_LINE_BYTES {
        return format!("{prefix}{text}");
    }
    let cut = text.floor_char_boundary(LAST_LINE_BYTES);
    format!("{prefix}{}…", &text[..cut])
}

fn exit_kind(status: ExitStatus) -> ExitKind {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitKind::Exited(code),
        (None, Some(signal)) => ExitKind::Signaled(signal),
        // Neither a code nor a signal does not happen on Unix; report it as a kill.
        (None, None) => ExitKind::Signaled(libc::SIGKILL),
    }
}

/// A fresh temp directory next to the run's log.
fn private_tmpdir(cwd: &Path) -> Result<tempfile::TempDir, ExecutorError> {
    // Beside the checkout (under bosun's worktree root, outside the repository): not in the
    // checkout, where it would end up in the change, nor in the shared /tmp, where tools
    // leave files behind and other processes can read them.
    let name = cwd
        .file_name()
        .map_or_else(|| "run".to_string(), |n| n.to_string_lossy().into_owned());
    let parent = cwd
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(std::env::temp_dir, Path::to_path_buf);
    tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempdir_in(&parent)
        .map_err(|error| ExecutorError::Log {
            path: parent.clone(),
            error,
        })
}

/// Opens a log for appending, creating it and its directory (the run's log, the built-in
/// agent's transcript).
pub(crate) async fn open_append(path: &Path) -> Result<tokio::fs::File, ExecutorError> {
    let dir = log_dir(path);
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|error| ExecutorError::Log {
            path: dir.to_path_buf(),
            error,
        })?;
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|error| ExecutorError::Log {
            path: path.to_path_buf(),
            error,
        })
}

fn log_dir(log_path: &Path) -> &Path {
    match log_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// SIGKILLs the agent's group if the run is abandoned midway (its future dropped), so no
/// agent outlives a dropped run; disarmed once the group is known to be gone.
struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            signal_group(self.pgid, libc::SIGKILL);
        }
    }
}

/// Where each output line goes.
struct Pump<'a> {
    log: &'a mut RunLog,
    parser: EventParser,
    lines: Option<mpsc::Sender<OutputLine>>,
    progress: Option<mpsc::Sender<AgentEvent>>,
    /// The latest lines as read; cut to size only when the run ends.
    last_lines: VecDeque<(Stream, String)>,
    summary: Option<String>,
    agent_error: Option<String>,
    /// Credentials the agent (or a hook, or a gate command) prints are masked before the
    /// line goes anywhere: the log, the events, the last lines kept for the error message.
    redactor: crate::semantic::rules::Redactor,
}

impl Pump<'_> {
    async fn handle(&mut self, stream: Stream, text: String) {
        let text = self.redactor.line(&text);
        self.log.line(stream, &text).await;
        if self.last_lines.len() == LAST_LINES {
            self.last_lines.pop_front();
        }
        self.last_lines.push_back((stream, text.clone()));
        if stream == Stream::Stdout {
            for event in self.parser.feed(&text) {
                self.event(event);
            }
        }
        offer(&mut self.lines, OutputLine { stream, text });
    }

    fn event(&mut self, event: AgentEvent) {
        match &event {
            AgentEvent::Final { summary, is_error } => {
                if *is_error {
                    self.agent_error = Some(summary.clone());
                } else {
                    // A later success (Codex's next turn) supersedes an earlier error.
                    self.agent_error = None;
                    if !summary.is_empty() {
                        self.summary = Some(summary.clone());
                    }
                }
            }
            AgentEvent::Progress(_) | AgentEvent::Usage(_) => {}
        }
        offer(&mut self.progress, event);
    }
}

/// Sends without waiting: a full channel loses `item`, a closed one is let go of.
fn offer<T>(sender: &mut Option<mpsc::Sender<T>>, item: T) {
    if let Some(tx) = sender {
        match tx.try_send(item) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Closed(_)) => *sender = None,
        }
    }
}

/// The run's log file, capped at `max` bytes.
struct RunLog {
    path: PathBuf,
    /// `None` once truncated or after a write error.
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    max: u64,
    written: u64,
    truncated: bool,
    /// `[store] min_free_mb` (0: no check) and where the written count stood at the last check.
    min_free_mb: u64,
    checked_at: Option<u64>,
}

/// Bytes of log between two free-space checks.
const SPACE_CHECK_BYTES: u64 = 1024 * 1024;

impl RunLog {
    async fn create(path: &Path, max: u64, min_free_mb: u64) -> Result<Self, ExecutorError> {
        let file = open_append(path).await?;
        Ok(Self {
            min_free_mb,
            checked_at: None,
            path: path.to_path_buf(),
            file: Some(tokio::io::BufWriter::with_capacity(64 * 1024, file)),
            max,
            written: 0,
            truncated: false,
        })
    }

    /// Logs one output line; at the cap, writes the truncation note instead and stops.
    async fn line(&mut self, stream: Stream, text: &str) {
        if self.file.is_none() {
            return;
        }
        let prefix = match stream {
            Stream::Stdout => "",
            Stream::Stderr => "[stderr] ",
        };
        let len = (prefix.len() + text.len() + 1) as u64;
        if self.min_free_mb > 0
            && self
                .checked_at
                .is_none_or(|at| self.written.saturating_sub(at) >= SPACE_CHECK_BYTES)
        {
            self.checked_at = Some(self.written);
            let dir = log_dir(&self.path);
            if let Some(free) = crate::kv::free_mb(dir)
                && free < self.min_free_mb
            {
                let note = format!(
                    "[bosun] log stopped: only {free} MB free ([store] min_free_mb = {})\n",
                    self.min_free_mb
                );
                self.write(note.as_bytes()).await;
                self.truncated = true;
                self.close().await;
                return;
            }
        }
        if self.written.saturating_add(len) > self.max {
            let note = format!("[bosun] log truncated at {} bytes\n", self.written);
            self.write(note.as_bytes()).await;
            self.truncated = true;
            self.close().await;
            return;
        }
        self.write(prefix.as_bytes()).await;
        self.write(text.as_bytes()).await;
        self.write(b"\n").await;
    }

    /// A `[bosun] …` line, unless the log was truncated (nothing follows the note).
    async fn note(&mut self, text: &str) {
        if self.file.is_some() {
            self.write(format!("[bosun] {text}\n").as_bytes()).await;
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        let Some(file) = &mut self.file else {
            return;
        };
        match file.write_all(bytes).await {
            Ok(()) => self.written += bytes.len() as u64,
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "cannot write the agent's log; logging stops");
                self.file = None;
            }
        }
    }

    async fn close(&mut self) {
        if let Some(mut file) = self.file.take()
            && let Err(error) = file.flush().await
        {
            tracing::warn!(path = %self.path.display(), %error, "cannot write the agent's log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_and_run_variables_win() {
        let bosun_env = |name: &str| -> Option<OsString> {
            match name {
                "PATH" => Some("/usr/bin:/bin".into()),
                "HOME" => Some("/home/op".into()),
                "TMPDIR" => Some("/tmp".into()),
                "AWS_SECRET_ACCESS_KEY" => Some("x".into()),
                "BOSUN_TEST_SECRET_XYZ" => Some("1".into()),
                "GITHUB_TOKEN" => Some("ghp".into()),
                _ => None,
            }
        };
        let extra = [
            ("BOSUN_RUN_ID".to_string(), "r1".to_string()),
            ("HOME".to_string(), "/home/agent".to_string()),
        ];
        let env = child_env(bosun_env, Some(Path::new("/logs/tmp-1")), &extra);
        let get = |k: &str| env.get(OsStr::new(k)).and_then(|v| v.to_str());
        assert_eq!(get("PATH"), Some("/usr/bin:/bin"));
        assert_eq!(get("HOME"), Some("/home/agent"));
        assert_eq!(get("TMPDIR"), Some("/logs/tmp-1"));
        assert_eq!(get("BOSUN_RUN_ID"), Some("r1"));
        for secret in [
            "AWS_SECRET_ACCESS_KEY",
            "BOSUN_TEST_SECRET_XYZ",
            "GITHUB_TOKEN",
        ] {
            assert_eq!(get(secret), None, "{secret} leaked");
        }
        assert_eq!(env.len(), 4);
    }

    #[test]
    fn programs_are_found_on_path_or_relative_to_the_worktree() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let wt = dir.path().join("wt");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(wt.join("scripts")).unwrap();
        let write = |path: &Path, mode: u32| {
            std::fs::write(path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write(&bin.join("agent"), 0o755);
        write(&bin.join("notes"), 0o644);
        write(&wt.join("scripts/run.sh"), 0o755);
        let path = std::env::join_paths([Path::new("/nonexistent"), &bin]).unwrap();
        let find = |p: &str| find_program_in(p, &wt, Some(&path));
        assert_eq!(find("agent"), Some(bin.join("agent")));
        assert_eq!(find("notes"), None, "not executable");
        assert_eq!(find("bin"), None, "a directory");
        assert_eq!(find("missing"), None);
        assert_eq!(find(""), None);
        assert_eq!(find("./scripts/run.sh"), Some(wt.join("./scripts/run.sh")));
        assert_eq!(
            find(&bin.join("agent").display().to_string()),
            Some(bin.join("agent"))
        );
        assert_eq!(find_program_in("agent", &wt, None), None);
        assert!(find_program("sh", &wt).is_some());
    }

    #[test]
    fn missing_program_message_says_what_to_do() {
        let e = ExecutorError::MissingProgram {
            program: "claude".to_string(),
        };
        assert_eq!(
            e.to_string(),
            "agent program `claude` was not found on PATH (or is not executable); install it or fix the `command` of its [executors.NAME] table in bosun.toml"
        );
    }
}
