//! The operator console: a ratatui front end on bosun's core — in the same process, or on a
//! running bosun through its control socket (`bosun attach`). It can name only the domain
//! types and the API ([`api`]); the compiler keeps it from reading the store or git.
//!
//! One `tokio::select!` loop reads terminal input, the orchestrator's events, replies to the
//! console's own requests, a clock and SIGTERM/SIGHUP; every input becomes a [`Msg`] for
//! [`App::update`], whose [`Effect`]s the loop carries out off the loop (orchestrator
//! commands answer through a channel). A frame is drawn only when something changed, at most
//! 60 times a second, after every pending input has been applied. The terminal is restored on
//! every way out: normal exit, error, panic and signals.

pub use bosun_api as api;
pub use bosun_model as model;

pub mod app;
pub mod board;
pub mod data;
pub mod help;
pub mod highlight;
pub mod history;
pub mod logs;
pub mod metrics;
pub mod newtask;
pub mod review;
pub mod theme;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

pub use app::{App, Effect, Msg};
use data::Data;
use theme::Theme;

use crate::api::Feed;
use crate::api::Status;
use crate::api::{Command, CommandError, Missed};
use crate::model::now_ms;

/// Runs loaded at start for the board (history pages in the rest on demand).
const START_RUNS: usize = 2_000;
/// Fastest redraw: 60 frames a second.
const FRAME: Duration = Duration::from_millis(16);

/// The console's terminal: its output buffered whole, so a frame reaches the terminal in one
/// write when ratatui flushes after drawing it (stdout's own buffer is 1 KiB and line
/// buffered: a full-screen frame went out in 16 writes).
type Terminal =
    ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::BufWriter<std::io::Stdout>>>;

/// Bytes a frame may take before the buffer writes early: a full 300×100 screen of styled
/// cells fits.
const FRAME_BUFFER: usize = 256 * 1024;

/// What `ratatui::try_init` does, with a buffered writer: raw mode, the alternate screen, and
/// (once per process) a panic hook that gives the terminal back before the message prints.
fn init_terminal() -> std::io::Result<Terminal> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            ratatui::restore();
            hook(info);
        }));
    });
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    let out = std::io::BufWriter::with_capacity(FRAME_BUFFER, std::io::stdout());
    ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(out))
}

/// Gives the terminal back as it was before the console took it: mouse reports off, the
/// main screen, cooked mode. Also for a watchdog ending the process while the console is
/// stuck (then from another thread).
pub fn restore_terminal() {
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    ratatui::restore();
}

/// A stall point for the watchdog's test, as the core's crash points are for the chaos tests:
/// with `BOSUN_STALL_AT=NAME`, the thread reaching the point NAME stops there for good, as
/// the console's loop does behind a terminal reader that spins (crossterm issue 793). Unset
/// (always, in real use), a point costs one environment lookup.
fn stall_point(name: &str) {
    if std::env::var_os("BOSUN_STALL_AT").is_some_and(|v| v == name) {
        loop {
            std::thread::park();
        }
    }
}

/// Puts the terminal into the console's mode and back, whatever happens.
struct TerminalGuard {
    terminal: Terminal,
    /// The console has the terminal (it gives it back when dropped).
    active: bool,
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<Self> {
        let terminal = init_terminal().context("cannot set up the terminal")?;
        crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)
            .context("cannot enable the mouse")?;
        Ok(Self {
            terminal,
            active: true,
        })
    }

    /// Gives the terminal back as it was (for a program the operator runs meanwhile).
    fn leave(&mut self) {
        if std::mem::take(&mut self.active) {
            restore_terminal();
        }
    }

    /// Takes the terminal again after [`TerminalGuard::leave`]: a fresh alternate screen and
    /// a terminal whose next frame draws all of it.
    fn come_back(&mut self) -> anyhow::Result<()> {
        *self = Self::enter()?;
        Ok(())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        self.leave();
    }
}

/// The console's data at start, read from the core: the task list and the newest runs.
async fn initial_data(status: Status, jobs: &Arc<app::JobContext>) -> anyhow::Result<Data> {
    let jobs = Arc::clone(jobs);
    let data = tokio::task::spawn_blocking(move || -> Result<Data, String> {
        let core = &jobs.core;
        // The task list and the runs are read at once, on two threads.
        let (tasks, runs) = std::thread::scope(|s| {
            // A task file that cannot be read is said by the orchestrator's start.
            let tasks = s.spawn(|| core.tasks().unwrap_or_default());
            let runs = core.runs_page(None, START_RUNS);
            (tasks.join().unwrap_or_default(), runs)
        });
        let mut data = Data {
            repo: status.repo,
            target: status.target,
            sandbox_off: status.sandbox_off,
            tasks: Arc::new(tasks),
            total_runs: core.run_count(),
            now_ms: now_ms(),
            ..Data::default()
        };
        data.add_runs(runs?);
        Ok(data)
    })
    .await?;
    data.map_err(|e| anyhow::anyhow!("cannot read the runs: {e}"))
}

/// What the console takes from the configuration (the command line reads it).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Agents at a time (the header's "Running n / max", the ETA).
    pub max_parallel: usize,
    /// Each configured key with the default key of its action (`[keys]`).
    pub keys: Vec<(char, char)>,
    /// Ring the terminal bell and send a desktop notification when a run needs the operator.
    pub bell: bool,
    /// `[project] commit_message`: the template of an approval's commit message.
    pub commit_message: String,
    /// `[forge] deliver` when `[forge]` is set up (the approval questions then offer a pull
    /// request and a merge here); `None` without a forge.
    pub forge: Option<crate::model::Delivery>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_parallel: 2,
            keys: Vec::new(),
            bell: true,
            commit_message: "{title}".into(),
            forge: None,
        }
    }
}

/// The console itself, on any core — bosun's own, in this process, or a running bosun's
/// through its control socket (both set up by the command line): reads the start, takes the
/// terminal, runs the loop until the operator quits. The caller keeps log lines off the
/// terminal meanwhile.
pub async fn session(
    status: Status,
    events: &mut Feed,
    commands: &mpsc::Sender<Command>,
    jobs: &Arc<app::JobContext>,
) -> anyhow::Result<()> {
    let attached = matches!(events, Feed::Remote(_));
    let data = initial_data(status, jobs).await?;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    // The first theme (dark, or the repository's themes/dark.toml); a broken file is said.
    let themes = Theme::catalogue(&jobs.repo_root, no_color);
    let (theme, problem) = match themes.first() {
        Some((_, Ok(theme))) => (theme.clone(), None),
        Some((_, Err(e))) => (Theme::default_theme(), Some(e.clone())),
        None => (Theme::default_theme(), None),
    };
    let mut app = App::new(data, theme, jobs.settings.max_parallel);
    app.themes = themes;
    app.flash = problem;
    app.keymap = jobs.settings.keys.clone();
    app.commit_message = jobs.settings.commit_message.clone();
    app.data.forge = jobs.settings.forge;
    app.attached = attached;
    let mut guard = TerminalGuard::enter()?;
    let size = guard.terminal.size().unwrap_or_default();
    app.update(Msg::Resize(size.width, size.height));
    let result = event_loop(&mut app, &mut guard, events, commands, jobs).await;
    drop(guard);
    result
}

async fn event_loop(
    app: &mut App,
    guard: &mut TerminalGuard,
    events: &mut Feed,
    commands: &mpsc::Sender<Command>,
    jobs: &Arc<app::JobContext>,
) -> anyhow::Result<()> {
    let mut input = EventStream::new();
    let (replies_tx, mut replies) = mpsc::unbounded_channel::<Msg>();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut last_draw = Instant::now() - FRAME;
    let mut orchestrator_open = true;
    let mut prefetched = false;
    for effect in app::startup_effects() {
        carry_out(effect, commands, &replies_tx, jobs);
    }
    // The clock's next tick: fast while a spinner turns, slow otherwise, so an idle console
    // sleeps. Kept across loop turns, so it ticks however often events arrive.
    let mut next_tick = Instant::now();
    loop {
        let frame_due = app.dirty.then(|| last_draw + FRAME);
        let active = app.data.runs.values().any(|r| r.status.is_active());
        let clock = if active {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        };
        // A run that just started shortens a slow wait.
        next_tick = next_tick.min(Instant::now() + clock);
        let mut effects = Vec::new();
        // What the operator did is drawn at once; what the orchestrator and the background
        // jobs report waits for the next frame (at most 60 a second).
        let mut operator = false;
        tokio::select! {
            term = input.next() => match term {
                Some(Ok(TermEvent::Key(key))) => {
                    operator = true;
                    effects = app.update(Msg::Key(key));
                }
                Some(Ok(TermEvent::Mouse(mouse))) => {
                    operator = true;
                    effects = app.update(Msg::Mouse(mouse));
                }
                Some(Ok(TermEvent::Resize(w, h))) => {
                    operator = true;
                    effects = app.update(Msg::Resize(w, h));
                    let _ = guard.terminal.autoresize();
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("cannot read the terminal"),
                None => return Ok(()),
            },
            event = events.recv(), if orchestrator_open => match event {
                Ok(event) => effects = app.update(Msg::Orchestrator(event)),
                Err(Missed::State(missed)) => {
                    tracing::warn!(missed, "the console fell behind the orchestrator's run changes");
                    // Run state was among what was dropped: read it back.
                    effects = app.lagged(missed, START_RUNS);
                }
                Err(Missed::Output(lines)) => {
                    app.data.skipped_lines += lines;
                    app.dirty = true;
                }
                Err(Missed::Closed) => orchestrator_open = false,
            },
            Some(msg) = replies.recv() => effects = app.update(msg),
            () = sleep_until(frame_due) => {}
            () = tokio::time::sleep_until(next_tick.into()) => {
                next_tick = Instant::now() + clock;
                effects = app.update(Msg::Tick(now_ms()));
            }
            _ = sigterm.recv() => effects = vec![Effect::Quit],
            _ = sighup.recv() => effects = vec![Effect::Quit],
        }
        for effect in effects {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Suspend { dir, argv } => {
                    // The program reads the keyboard: the console stops reading it first.
                    drop(input);
                    guard.leave();
                    let ran = run_in_terminal(&dir, &argv).await;
                    guard.come_back()?;
                    input = EventStream::new();
                    let size = guard.terminal.size().unwrap_or_default();
                    app.update(Msg::Resize(size.width, size.height));
                    app.update(Msg::Flash(ran));
                }
                effect => carry_out(effect, commands, &replies_tx, jobs),
            }
        }
        if app.dirty && (operator || last_draw.elapsed() >= FRAME) {
            guard
                .terminal
                .draw(|frame| app::render(app, frame))
                .context("cannot draw")?;
            app.dirty = false;
            last_draw = Instant::now();
            // Once the board is on the screen, the run its focus landed on is read ahead.
            if !prefetched {
                prefetched = true;
                if let Some(first_frame) = jobs.take_first_frame() {
                    let _ = first_frame.send(Instant::now());
                }
                for effect in app.prefetch() {
                    carry_out(effect, commands, &replies_tx, jobs);
                }
                stall_point("console:drawn");
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Sends an effect's request on its way; its answer comes back as a message.
fn carry_out(
    effect: Effect,
    commands: &mpsc::Sender<Command>,
    replies: &mpsc::UnboundedSender<Msg>,
    jobs: &Arc<app::JobContext>,
) {
    let commands = commands.clone();
    let replies = replies.clone();
    match effect {
        Effect::Load(job) => {
            let cx = jobs.clone();
            tokio::task::spawn_blocking(move || {
                let _ = replies.send((job.0)(&cx));
            });
        }
        Effect::Approve {
            run,
            keep,
            message,
            deliver,
        } => {
            tokio::spawn(async move {
                let done = match &keep {
                    Some(k) if k.len() == 1 => "approved (1 selected hunk) and merged".into(),
                    Some(k) => format!("approved ({} selected hunks) and merged", k.len()),
                    None => "approved and merged".to_string(),
                };
                if keep.is_some() {
                    // The gates check the kept hunks before anything merges.
                    let _ = replies.send(Msg::Flash(
                        "checking the kept hunks with the required gates…".into(),
                    ));
                }
                let answer = ask(&commands, |reply| Command::Approve {
                    run: run.0.clone(),
                    who: crate::api::operator(),
                    note: String::new(),
                    keep,
                    message,
                    deliver,
                    reply,
                })
                .await;
                // Delivered as a pull request (`[forge] deliver = "pr"`): say where.
                let done = match &answer {
                    Ok(run) => match &run.delivery {
                        Some(pr) => {
                            format!("approved and delivered as PR #{} ({})", pr.number, pr.url)
                        }
                        None => done,
                    },
                    Err(_) => done,
                };
                let _ = replies.send(Msg::Flash(said(answer, &done)));
            });
        }
        Effect::Reject {
            run,
            reason,
            retry,
            prompt,
        } => {
            tokio::spawn(async move {
                let answer = ask(&commands, |reply| Command::Reject {
                    run: run.0.clone(),
                    who: crate::api::operator(),
                    reason,
                    retry,
                    prompt: prompt.clone(),
                    reply,
                })
                .await;
                let done = match (retry, &prompt) {
                    (true, Some(_)) => "rejected; another attempt is queued with your instructions",
                    (true, None) => "rejected; another attempt is queued",
                    (false, _) => "rejected",
                };
                let _ = replies.send(Msg::Flash(said(answer, done)));
            });
        }
        Effect::Instruct { run, prompt } => {
            tokio::spawn(async move {
                let answer = ask(&commands, |reply| Command::Instruct {
                    run: run.0.clone(),
                    who: crate::api::operator(),
                    prompt,
                    reply,
                })
                .await;
                let _ = replies.send(Msg::Flash(said(
                    answer,
                    "will start with your instructions",
                )));
            });
        }
        Effect::Retry(run) => {
            tokio::spawn(async move {
                let answer = ask(&commands, |reply| Command::Retry {
                    run: run.0.clone(),
                    who: crate::api::operator(),
                    reply,
                })
                .await;
                let _ = replies.send(Msg::Flash(said(answer, "queued for another attempt")));
            });
        }
        Effect::AddTask { task } => {
            tokio::spawn(async move {
                let answer = ask(&commands, |reply| Command::AddTask {
                    task,
                    who: crate::api::operator(),
                    reply,
                })
                .await;
                let line = match answer {
                    Ok(task) => format!("added {} {}", task.id, task.title),
                    Err(e) => e,
                };
                let _ = replies.send(Msg::Flash(line));
            });
        }
        Effect::Cancel(run) => {
            tokio::spawn(async move {
                let answer = ask(&commands, |reply| Command::Cancel {
                    run: run.0.clone(),
                    reply,
                })
                .await;
                let _ = replies.send(Msg::Flash(said(answer, "cancelled")));
            });
        }
        Effect::Pause(pause) => {
            tokio::spawn(async move {
                let command = if pause {
                    Command::Pause
                } else {
                    Command::Resume
                };
                let _ = commands.send(command).await;
            });
        }
        Effect::Notify(text) => {
            // `[notify] command` is run by the core, once, whatever the number of consoles.
            if jobs.settings.bell {
                notify(&text);
            }
        }
        Effect::Quit | Effect::Suspend { .. } => {}
    }
}

/// Runs `argv` in `dir` on the terminal and waits for it; what became of it, for the flash
/// line.
async fn run_in_terminal(dir: &std::path::Path, argv: &[String]) -> String {
    let Some((program, args)) = argv.split_first() else {
        return "nothing to run".into();
    };
    // ctrl-c and ctrl-\ in the program reach the terminal's whole process group, bosun with
    // it: bosun catches them meanwhile (the program, after exec, gets the default action).
    use tokio::signal::unix::{SignalKind, signal};
    let _caught = (signal(SignalKind::interrupt()), signal(SignalKind::quit()));
    let status = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .await;
    match status {
        Ok(s) if s.success() => format!("back from {program} in {}", dir.display()),
        Ok(s) => format!("{program} in {} ended with {s}", dir.display()),
        Err(e) => format!("cannot run {program}: {e}"),
    }
}

/// Sends the command `make` builds and waits for the orchestrator's answer: its value, or
/// the line to show. A send that fails is dropped at once: it holds the reply channel the
/// answer waits on (kept, it made every console command hang once bosun had stopped).
async fn ask<T>(
    commands: &mpsc::Sender<Command>,
    make: impl FnOnce(oneshot::Sender<Result<T, CommandError>>) -> Command,
) -> Result<T, String> {
    const STOPPED: &str = "error: bosun's orchestrator has stopped";
    let (reply, answer) = oneshot::channel();
    if commands.send(make(reply)).await.is_err() {
        return Err(STOPPED.into());
    }
    match answer.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("error: {e}")),
        Err(_) => Err(STOPPED.into()),
    }
}

/// The flash line for a command's answer about a run.
fn said(answer: Result<crate::model::Run, String>, done: &str) -> String {
    match answer {
        Ok(run) => format!("{} {done}", run.id.short()),
        Err(e) => e,
    }
}

/// Tells the operator even when they look elsewhere: the terminal bell and a desktop
/// notification (OSC 9, understood by iTerm2, kitty, WezTerm, Windows Terminal; other
/// terminals ignore it).
fn notify(text: &str) {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    let mut out = std::io::stdout();
    let _ = write!(out, "\x07\x1b]9;bosun: {clean}\x07");
    let _ = out.flush();
}
