//! The console's state machine: [`App::update`] takes a [`Msg`] (a key, an orchestrator
//! event, a finished background job, a tick) and changes the state, returning the
//! [`Effect`]s the event loop must carry out (orchestrator commands, background loads,
//! notifications); [`render`] draws the state and changes nothing. Each screen keeps its own
//! state and handles its own keys; this module routes to them and owns the keys that work
//! everywhere.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::data::{Alert, Column, Data};
use super::theme::{self, Theme};
use super::{board, help, history, logs, metrics, newtask, review};
use crate::api::Event;
use crate::model::HunkRef;
use crate::model::{RunId, RunStatus};

/// The screens, as the number keys pick them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// `1`: the task board.
    Board,
    /// `2`: one run's change.
    Review,
    /// `3`: every run.
    History,
    /// `4`: throughput, quality, cost, memory.
    Metrics,
    /// `5`: bosun's log and the agents' output.
    Logs,
}

impl Tab {
    /// In key order.
    pub const ALL: [Tab; 5] = [
        Self::Board,
        Self::Review,
        Self::History,
        Self::Metrics,
        Self::Logs,
    ];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            Self::Board => "Board",
            Self::Review => "Review",
            Self::History => "History",
            Self::Metrics => "Metrics",
            Self::Logs => "Logs",
        }
    }
}

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A key was pressed.
    Key(KeyEvent),
    /// The mouse did something.
    Mouse(MouseEvent),
    /// The terminal has a new size.
    Resize(u16, u16),
    /// The orchestrator published an event.
    Orchestrator(Event),
    /// The frame timer: time moves on (elapsed times, spinners).
    Tick(u64),
    /// A review job finished: a run's change, or syntax colors for it.
    Review(Box<review::Loaded>),
    /// A page of history.
    History(history::Page),
    /// Data for the metrics screen.
    Metrics(Box<metrics::Loaded>),
    /// An answer to a request, for the footer.
    Flash(String),
    /// The audit trail was verified (at start, in the background): its entries, or what is
    /// broken.
    Audit(Result<usize, String>),
    /// The console fell behind the orchestrator's events (`missed` of them dropped): the runs
    /// as the store has them now — the unfinished ones and the newest — replace what it had.
    Resync {
        /// How many events were missed.
        missed: u64,
        /// The runs read back.
        runs: Vec<crate::model::Run>,
        /// Runs in the store.
        total: usize,
    },
}

/// What a background job may read.
pub struct JobContext {
    /// bosun's core: runs, tasks, changes, memory (in this process, or a running bosun's).
    pub core: std::sync::Arc<dyn crate::api::Core>,
    /// The repository (its `themes/` directory holds the operator's own themes).
    pub repo_root: std::path::PathBuf,
    /// What the console takes from the configuration.
    pub settings: crate::Settings,
    /// Told once the first frame is drawn (the orchestrator in this process waits for it
    /// before its start, which would otherwise compete with the first frame for the CPU).
    first_frame: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<std::time::Instant>>>,
}

impl JobContext {
    /// Jobs reading from `core`, for a console on the repository at `repo_root`.
    pub fn new(
        core: std::sync::Arc<dyn crate::api::Core>,
        repo_root: std::path::PathBuf,
        settings: crate::Settings,
    ) -> Self {
        Self {
            core,
            repo_root,
            settings,
            first_frame: std::sync::Mutex::new(None),
        }
    }

    /// The sender to tell when the first frame is drawn, if not taken yet (taken once: by
    /// the first frame, or, never drawn, to be dropped).
    pub fn take_first_frame(&self) -> Option<tokio::sync::oneshot::Sender<std::time::Instant>> {
        self.first_frame.lock().ok().and_then(|mut t| t.take())
    }

    /// The same, telling `first_frame` when the first frame is on the screen.
    pub fn telling_first_frame(
        self,
        first_frame: tokio::sync::oneshot::Sender<std::time::Instant>,
    ) -> Self {
        Self {
            first_frame: std::sync::Mutex::new(Some(first_frame)),
            ..self
        }
    }
}

/// Work that must not run on the event loop (git, the store, syntect, files): the loop runs it on
/// the blocking pool and feeds the message it returns back to [`App::update`].
pub struct Job(pub Box<dyn FnOnce(&JobContext) -> Msg + Send>);

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl PartialEq for Job {
    /// Jobs are never equal: each is a fresh piece of work.
    fn eq(&self, _other: &Self) -> bool {
        false
    }
}

/// How many of the newest runs a second re-read takes (the first took the console's start
/// size).
const START_RUNS_AGAIN: usize = 2_000;

/// After the console fell behind the orchestrator's events: the runs re-read from the store
/// (the unfinished ones, and the newest `newest`), so no run state is lost.
fn resync(missed: u64, newest: usize) -> Effect {
    Effect::load(move |cx| {
        let mut runs = cx.core.open_runs().unwrap_or_default();
        runs.extend(cx.core.runs_page(None, newest).unwrap_or_default());
        Msg::Resync {
            missed,
            runs,
            total: cx.core.run_count(),
        }
    })
}

/// What the console does in the background as it opens: verify the audit trail's hash chain
/// (the result shows on the metrics screen; a broken chain in the footer too).
pub fn startup_effects() -> Vec<Effect> {
    vec![Effect::load(|cx| Msg::Audit(cx.core.verify_audit()))]
}

impl Effect {
    /// An [`Effect::Load`] running `f` off the loop.
    pub fn load(f: impl FnOnce(&JobContext) -> Msg + Send + 'static) -> Effect {
        Effect::Load(Job(Box::new(f)))
    }
}

/// Something the event loop must do for the state machine.
#[derive(Debug, PartialEq)]
pub enum Effect {
    /// Run a job off the loop.
    Load(Job),
    /// Approve a run: merge it (all of it, or only some hunks) and tick its task.
    Approve {
        /// The run.
        run: RunId,
        /// Only these hunks (the others are reversed first); `None`: the whole change.
        keep: Option<Vec<HunkRef>>,
        /// The operator's commit message (`m`); `None`: `[project] commit_message`.
        message: Option<String>,
        /// How it is delivered when the operator chose (`p`: a pull request, `M`: merged
        /// here); `None`: `[forge] deliver`.
        deliver: Option<crate::model::Delivery>,
    },
    /// Reject a run with a reason, optionally queueing another attempt.
    Reject {
        /// The run.
        run: RunId,
        /// Why.
        reason: String,
        /// Queue another attempt with the reason in its prompt.
        retry: bool,
        /// With `retry`: the operator's own instructions for the next attempt, in place of
        /// the reason.
        prompt: Option<String>,
    },
    /// Give a queued run (a retry) the operator's own instructions.
    Instruct {
        /// The queued run.
        run: RunId,
        /// The instructions.
        prompt: String,
    },
    /// Cancel a run.
    Cancel(RunId),
    /// Queue another attempt at a failed, rejected or cancelled run's task.
    Retry(RunId),
    /// Append a task to the task file.
    AddTask {
        /// The task.
        task: crate::api::NewTask,
    },
    /// Stop or resume starting runs.
    Pause(bool),
    /// Tell the operator (bell / desktop notification / `[notify] command`).
    Notify(String),
    /// Hand the terminal to a program (a shell, an editor) in `dir` and come back when it
    /// ends.
    Suspend {
        /// Where it runs (a run's checkout).
        dir: std::path::PathBuf,
        /// The program and its arguments.
        argv: Vec<String>,
    },
    /// Leave the console.
    Quit,
}

/// A window over the screen.
#[derive(Debug, Clone)]
pub enum Overlay {
    /// `?`: every key.
    Help,
    /// `q` while runs are active: asks first.
    ConfirmQuit,
    /// `n`: a new task.
    NewTask(Box<newtask::NewTask>),
}

/// The whole console state.
pub struct App {
    /// What the console knows.
    pub data: Data,
    /// The screen shown.
    pub tab: Tab,
    /// Colors.
    pub theme: Theme,
    /// The themes `t` cycles through, each loaded or why not ([`Theme::catalogue`]).
    pub themes: Vec<(String, Result<Theme, String>)>,
    /// The board's state.
    pub board: board::BoardState,
    /// The review screen's state.
    pub review: review::ReviewState,
    /// The history screen's state.
    pub history: history::HistoryState,
    /// The metrics screen's state.
    pub metrics: metrics::MetricsState,
    /// The logs screen's state.
    pub logs: logs::LogsState,
    /// A window over the screen, if any.
    pub overlay: Option<Overlay>,
    /// A one-line message for the operator, shown in the footer until the next key.
    pub flash: Option<String>,
    /// A re-read of the runs after the console fell behind is under way.
    pub resyncing: bool,
    /// Events were missed again while it was: read once more when it is done.
    resync_again: Option<u64>,
    /// Terminal size.
    pub size: (u16, u16),
    /// `[orchestrator] max_parallel`, for the ETA.
    pub max_parallel: usize,
    /// Something changed since the last frame.
    pub dirty: bool,
    /// Extra keys (`[keys]`): configured key → the default key of its action.
    pub keymap: Vec<(char, char)>,
    /// Attached to a bosun running elsewhere (`bosun attach`): quitting stops nothing.
    pub attached: bool,
    /// `[project] commit_message`: the default message of an approval's commit.
    pub commit_message: String,
}

impl App {
    /// A console over `data`.
    pub fn new(data: Data, theme: Theme, max_parallel: usize) -> App {
        let mut board = board::BoardState::default();
        // Focus on the most urgent run.
        board::clamp(&mut board, &data);
        App {
            data,
            tab: Tab::Board,
            themes: theme::BUILT_IN
                .iter()
                .map(|(name, _)| {
                    let loaded = Theme::built_in(name).ok_or_else(|| format!("no theme {name}"));
                    (name.to_string(), loaded)
                })
                .collect(),
            theme,
            board,
            review: review::ReviewState::default(),
            history: history::HistoryState::default(),
            metrics: metrics::MetricsState::default(),
            logs: logs::LogsState::default(),
            overlay: None,
            flash: None,
            resyncing: false,
            resync_again: None,
            size: (80, 24),
            max_parallel,
            dirty: true,
            keymap: Vec::new(),
            attached: false,
            commit_message: "{title}".into(),
        }
    }

    /// Applies `msg`; returns what the event loop must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(key) if key.kind != KeyEventKind::Release => {
                self.dirty = true;
                self.flash = None;
                self.key(key)
            }
            Msg::Key(_) => Vec::new(),
            Msg::Mouse(mouse) => {
                self.dirty = true;
                board::layout(&mut self.board, body_area(self.size));
                match self.tab {
                    Tab::Board => board::mouse(&mut self.board, &self.data, mouse),
                    Tab::Review => {
                        review::mouse(&mut self.review, &self.theme, body_area(self.size), mouse)
                    }
                    // Lists elsewhere: the wheel moves like the arrow keys.
                    Tab::History | Tab::Logs | Tab::Metrics => {
                        use crossterm::event::MouseEventKind;
                        let code = match mouse.kind {
                            MouseEventKind::ScrollDown => KeyCode::Down,
                            MouseEventKind::ScrollUp => KeyCode::Up,
                            _ => return Vec::new(),
                        };
                        let mut effects = Vec::new();
                        for _ in 0..3 {
                            effects
                                .extend(self.screen_key(KeyEvent::new(code, KeyModifiers::NONE)));
                        }
                        effects
                    }
                }
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                board::layout(&mut self.board, body_area(self.size));
                self.dirty = true;
                self.refresh_review()
            }
            Msg::Orchestrator(event) => {
                // An output line redraws only a screen that shows it.
                self.dirty |= match &event {
                    Event::Output { run_id, .. } | Event::Progress { run_id, .. } => {
                        self.shows_output_of(run_id)
                    }
                    _ => true,
                };
                metrics::observe(&mut self.metrics, &event, self.data.now_ms);
                let alert = self.data.apply(&event);
                // What the core wants the operator to know, said where they look.
                if let Event::Notice { text } = &event {
                    self.flash = Some(text.clone());
                }
                // Only a run's state or the task list moves cards; an output line does not.
                if matches!(event, Event::Run { .. } | Event::Tasks { .. }) {
                    board::clamp(&mut self.board, &self.data);
                }
                let mut effects = match alert {
                    Some(Alert::Awaiting { title, .. }) => {
                        vec![Effect::Notify(format!("awaiting approval: {title}"))]
                    }
                    Some(Alert::Failed { title, .. }) => {
                        vec![Effect::Notify(format!("run failed: {title}"))]
                    }
                    None => Vec::new(),
                };
                // The run under review had no change yet (it was working): load it now.
                if let Event::Run { run } = &event
                    && self.review.run.as_ref() == Some(&run.id)
                    && self.review.change.is_none()
                    && !run.status.is_active()
                    && run.status != crate::model::RunStatus::Queued
                {
                    effects.extend(review::open(
                        &mut self.review,
                        &self.data,
                        run.id.clone(),
                        &self.theme,
                        body_area(self.size),
                    ));
                }
                effects
            }
            Msg::Tick(now_ms) => {
                // Only a running run's elapsed time or spinner moves on its own.
                let animating = self.data.runs.values().any(|r| r.status.is_active());
                if animating && now_ms / 100 != self.data.now_ms / 100 {
                    self.dirty = true;
                }
                // bosun's own log grows without events of its own.
                if self.tab == Tab::Logs && logs::has_news(&self.logs) {
                    self.dirty = true;
                }
                self.data.now_ms = now_ms;
                Vec::new()
            }
            Msg::Review(loaded) => {
                self.dirty = true;
                review::loaded(&mut self.review, *loaded, &self.theme, body_area(self.size))
            }
            Msg::History(page) => {
                self.dirty = true;
                history::loaded(&mut self.history, page);
                Vec::new()
            }
            Msg::Metrics(loaded) => {
                self.dirty = true;
                metrics::loaded(&mut self.metrics, *loaded);
                Vec::new()
            }
            Msg::Flash(text) => {
                self.dirty = true;
                self.flash = Some(text);
                Vec::new()
            }
            Msg::Resync {
                missed,
                runs,
                total,
            } => {
                self.resyncing = false;
                self.dirty = true;
                self.data.add_runs(runs);
                self.data.total_runs = self.data.total_runs.max(total);
                board::clamp(&mut self.board, &self.data);
                self.flash = Some(format!(
                    "the console fell behind by {missed} events (agent output lines are dropped then); runs re-read from the store"
                ));
                match self.resync_again.take() {
                    Some(more) => self.lagged(more, START_RUNS_AGAIN),
                    None => Vec::new(),
                }
            }
            Msg::Audit(verified) => {
                self.dirty = true;
                if let Err(e) = &verified {
                    self.flash = Some(format!("{e} (see `bosun audit verify`)"));
                }
                self.metrics.audit = Some(verified);
                Vec::new()
            }
        }
    }

    /// The console fell behind the orchestrator's events by `missed`: the runs are read back
    /// from the store (once at a time), so a state change among the missed is not lost.
    pub fn lagged(&mut self, missed: u64, newest: usize) -> Vec<Effect> {
        if self.resyncing {
            // What this read misses is read by the next one.
            *self.resync_again.get_or_insert(0) += missed;
            return Vec::new();
        }
        self.resyncing = true;
        vec![resync(missed, newest)]
    }

    /// Shows `tab`, letting the screen load what it needs.
    pub fn switch(&mut self, tab: Tab) -> Vec<Effect> {
        self.tab = tab;
        match tab {
            Tab::History => history::show(&mut self.history, &self.data),
            Tab::Metrics => metrics::show(&mut self.metrics, &self.data),
            // A run loaded ahead is now the operator's: open it whole (colours, the rest).
            Tab::Review if self.review.prefetched => match self.review.run.clone() {
                Some(run) => self.open_review(run),
                None => self.refresh_review(),
            },
            Tab::Review => self.refresh_review(),
            Tab::Board | Tab::Logs => Vec::new(),
        }
    }

    /// Review's colors for what is on screen now (after a resize, a theme change, a switch).
    fn refresh_review(&mut self) -> Vec<Effect> {
        if self.tab != Tab::Review {
            return Vec::new();
        }
        review::refresh(&mut self.review, &self.theme, body_area(self.size))
    }

    /// The effect handing the terminal over, or why not (said on the flash line).
    fn suspend(&mut self, effect: Result<Effect, String>) -> Vec<Effect> {
        match effect {
            Ok(effect) => vec![effect],
            Err(why) => {
                self.flash = Some(why);
                Vec::new()
            }
        }
    }

    /// `t`: the next theme of [`App::themes`]; one that cannot be loaded is said (file and
    /// line) and passed over.
    fn next_theme(&mut self) {
        let n = self.themes.len();
        let at = self
            .themes
            .iter()
            .position(|(name, _)| *name == self.theme.name)
            .unwrap_or(n.saturating_sub(1));
        let mut problems = Vec::new();
        for step in 1..=n {
            match &self.themes[(at + step) % n] {
                (_, Ok(theme)) => {
                    self.theme = theme.clone();
                    let mut flash = format!("theme: {}", theme.name);
                    if !problems.is_empty() {
                        flash = format!("{}; {flash}", problems.join("; "));
                    }
                    self.flash = Some(flash);
                    return;
                }
                (_, Err(e)) => problems.push(e.clone()),
            }
        }
        self.flash = Some(problems.join("; "));
    }

    /// Opens `run` in Review.
    pub fn open_review(&mut self, run: RunId) -> Vec<Effect> {
        self.tab = Tab::Review;
        review::open(
            &mut self.review,
            &self.data,
            run,
            &self.theme,
            body_area(self.size),
        )
    }

    /// After the first frame: the run the board's focus landed on, when it awaits approval,
    /// is loaded ahead (its first screen), so opening it is immediate.
    pub fn prefetch(&mut self) -> Vec<Effect> {
        if self.tab != Tab::Board {
            return Vec::new();
        }
        let Some(run) = board::selected_run(&self.board, &self.data) else {
            return Vec::new();
        };
        let awaiting = self
            .data
            .runs
            .get(&run)
            .is_some_and(|r| r.status == crate::model::RunStatus::AwaitingApproval);
        if !awaiting {
            return Vec::new();
        }
        review::prefetch(&mut self.review, run)
    }

    fn key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.quit();
        }
        if let Some(Overlay::NewTask(form)) = &mut self.overlay {
            return match form.key(key) {
                newtask::Outcome::Editing => Vec::new(),
                newtask::Outcome::Cancelled => {
                    self.overlay = None;
                    Vec::new()
                }
                newtask::Outcome::Done(effect) => {
                    self.overlay = None;
                    self.flash = Some("adding the task…".into());
                    vec![effect]
                }
            };
        }
        match self.overlay {
            Some(Overlay::Help) => {
                self.overlay = None;
                return Vec::new();
            }
            Some(Overlay::ConfirmQuit) => {
                self.overlay = None;
                return match key.code {
                    KeyCode::Char('y') | KeyCode::Char('q') | KeyCode::Enter => {
                        vec![Effect::Quit]
                    }
                    _ => Vec::new(),
                };
            }
            Some(Overlay::NewTask(_)) | None => {}
        }
        if self.captures_text() {
            return self.screen_key(key);
        }
        // An extra key from `[keys]` acts as its action's default key.
        let key = match key.code {
            KeyCode::Char(c) => match self.keymap.iter().find(|(k, _)| *k == c) {
                Some((_, default)) => KeyEvent::new(KeyCode::Char(*default), key.modifiers),
                None => key,
            },
            _ => key,
        };
        match key.code {
            KeyCode::Char(c @ '1'..='5') => self.switch(Tab::ALL[usize::from(c as u8 - b'1')]),
            KeyCode::Tab => {
                let i = Tab::ALL.iter().position(|t| *t == self.tab).unwrap_or(0);
                self.switch(Tab::ALL[(i + 1) % Tab::ALL.len()])
            }
            // Elsewhere `n` means "next" (hunk, search match).
            KeyCode::Char('n') if self.tab == Tab::Board => {
                self.overlay = Some(Overlay::NewTask(Box::default()));
                Vec::new()
            }
            KeyCode::Char('?') => {
                self.overlay = Some(Overlay::Help);
                Vec::new()
            }
            KeyCode::Char('q') => self.quit(),
            // A shell in the run's checkout (board: the selected run's; review: the run's).
            KeyCode::Char('s') if matches!(self.tab, Tab::Board | Tab::Review) => {
                let run = match self.tab {
                    Tab::Board => board::selected_run(&self.board, &self.data),
                    _ => self.review.run.clone(),
                };
                let Some(run) = run else {
                    self.flash = Some("no run here: pick a card with a run".into());
                    return Vec::new();
                };
                self.suspend(shell_in(&self.data, &run))
            }
            // The selected run's output, full screen, following it.
            KeyCode::Char('f') if self.tab == Tab::Board => {
                let Some(run) = board::selected_run(&self.board, &self.data) else {
                    self.flash = Some("no run here: pick a card with a run".into());
                    return Vec::new();
                };
                let mut effects = self.switch(Tab::Logs);
                effects.extend(logs::follow_run(&mut self.logs, &self.data, run));
                effects
            }
            // The commit message the approval merges with.
            KeyCode::Char('m') if self.tab == Tab::Review => {
                let awaiting = self.review.status(&self.data) == Some(RunStatus::AwaitingApproval);
                match (&self.review.change, awaiting) {
                    (Some(change), true) => {
                        let run = self.data.runs.get(&change.run.id).unwrap_or(&change.run);
                        let task_type = self
                            .data
                            .tasks
                            .iter()
                            .find(|t| t.id == run.task_id)
                            .map_or(crate::model::TaskType::Code, |t| t.task_type);
                        let default = crate::model::commit_subject(
                            &self.commit_message,
                            &run.task_title,
                            task_type,
                            &run.task_id,
                            &run.id.0,
                            run.attempt,
                        );
                        review::start_message(&mut self.review, default);
                    }
                    _ => self.flash = Some("only a run awaiting approval merges".into()),
                }
                Vec::new()
            }
            // The editor on the file and line under the cursor, in the run's checkout.
            KeyCode::Char('E') if self.tab == Tab::Review => {
                let (Some(run), Some((path, line))) =
                    (self.review.run.clone(), self.review.cursor_place())
                else {
                    self.flash = Some("no file under the cursor".into());
                    return Vec::new();
                };
                self.suspend(editor_in(&self.data, &run, &path, line))
            }
            KeyCode::Char('p') => vec![Effect::Pause(!self.data.paused)],
            KeyCode::Char('t') => {
                if !self.theme.monochrome {
                    self.next_theme();
                }
                self.refresh_review()
            }
            _ => self.screen_key(key),
        }
    }

    /// A text field has the keyboard (a filter being typed, a reason being written).
    fn captures_text(&self) -> bool {
        match self.tab {
            Tab::Board => self.board.filtering || self.board.pending.is_some(),
            Tab::Review => review::captures_text(&self.review),
            Tab::History => history::captures_text(&self.history),
            Tab::Logs => logs::captures_text(&self.logs),
            Tab::Metrics => false,
        }
    }

    fn screen_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match self.tab {
            Tab::Board => {
                board::layout(&mut self.board, body_area(self.size));
                let (mut effects, open) = board::key(&mut self.board, &self.data, key);
                if let Some(open) = open {
                    effects.extend(self.open_review(open.run));
                    if open.reject {
                        review::start_reject(&mut self.review, &self.data);
                    }
                }
                effects
            }
            Tab::Review => {
                let area = body_area(self.size);
                let (effects, back) =
                    review::key(&mut self.review, &self.data, &self.theme, area, key);
                if back {
                    self.tab = Tab::Board;
                }
                effects
            }
            Tab::History => {
                let (mut effects, open) = history::key(&mut self.history, &self.data, key);
                if let Some(run) = open {
                    effects.extend(self.open_review(run));
                }
                effects
            }
            Tab::Metrics => metrics::key(&mut self.metrics, &self.data, key),
            Tab::Logs => logs::key(&mut self.logs, &self.data, key),
        }
    }

    /// Whether the screen shows `run`'s output or progress: Logs, the board's detail of the
    /// selected card, the run under review.
    fn shows_output_of(&self, run: &RunId) -> bool {
        match self.tab {
            Tab::Logs => true,
            Tab::Board => board::selected_run(&self.board, &self.data).as_ref() == Some(run),
            Tab::Review => self.review.run.as_ref() == Some(run),
            Tab::History | Tab::Metrics => false,
        }
    }

    fn quit(&mut self) -> Vec<Effect> {
        let active = self.data.runs.values().any(|r| r.status.is_active());
        // Quitting an attached console leaves its bosun and the runs going.
        if active && !self.attached {
            self.overlay = Some(Overlay::ConfirmQuit);
            Vec::new()
        } else {
            vec![Effect::Quit]
        }
    }

    /// The keys that work on the current screen, for the footer.
    pub fn footer_keys(&self) -> Vec<(&'static str, &'static str)> {
        let mut keys = match self.tab {
            Tab::Board => board::KEYS.to_vec(),
            Tab::Review => review::KEYS.to_vec(),
            Tab::History => history::KEYS.to_vec(),
            Tab::Metrics => metrics::KEYS.to_vec(),
            Tab::Logs => logs::KEYS.to_vec(),
        };
        // The screens' numbers are in the tab bar; the help lists every key.
        keys.extend([
            ("p", if self.data.paused { "resume" } else { "pause" }),
            ("?", "help"),
            ("q", "quit"),
        ]);
        keys
    }
}

/// Where screens are drawn in a terminal of `size`: below the two header lines, above the
/// footer line.
pub fn body_area((width, height): (u16, u16)) -> Rect {
    Rect {
        x: 0,
        y: 2,
        width,
        height: height.saturating_sub(3),
    }
}

/// Milliseconds as `1h02m`, `3m05s` or `42s`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Draws the console.
pub fn render(app: &App, frame: &mut Frame<'_>) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    render_header(app, frame, header);
    let (d, t) = (&app.data, &app.theme);
    match app.tab {
        Tab::Board => board::render(&app.board, d, t, frame, body),
        Tab::Review => review::render(&app.review, d, t, frame, body),
        Tab::History => history::render(&app.history, d, t, frame, body),
        Tab::Metrics => metrics::render(&app.metrics, d, t, frame, body),
        Tab::Logs => logs::render(&app.logs, d, t, frame, body),
    }
    render_footer(app, frame, footer);
    if let Some(error) = &app.data.failed {
        // Over the body's first line, on every screen, for as long as bosun is stopped.
        let banner = Rect { height: 1, ..body };
        let line = Line::from(vec![
            Span::styled(
                " ✗ bosun stopped: ",
                Style::new().fg(t.fail).add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!("{error} "), t.text()),
        ]);
        frame.render_widget(Paragraph::new(line).style(t.bar()), banner);
    }
    match &app.overlay {
        Some(Overlay::Help) => help::render(app, frame),
        Some(Overlay::ConfirmQuit) => render_confirm_quit(app, frame),
        Some(Overlay::NewTask(form)) => newtask::render(form, &app.theme, frame),
        None => {}
    }
}

fn render_header(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let t = &app.theme;
    let d = &app.data;
    let counts = d.counts();
    let state = match (&d.stopped, d.paused) {
        (Some(_), _) => Span::styled("stopped", Style::new().fg(t.fail)),
        (None, true) => Span::styled("paused", Style::new().fg(t.warn)),
        (None, false) => Span::styled("running", Style::new().fg(t.pass)),
    };
    let mut top = vec![
        Span::styled(" bosun ", t.accent()),
        Span::styled(format!("{} → {}", d.repo, d.target), t.text()),
        Span::raw("  "),
        state,
        Span::raw("  "),
    ];
    if d.sandbox_off.is_some() {
        // Never a silent downgrade: `bosun doctor` says why.
        top.push(Span::styled("NO SANDBOX", Style::new().fg(t.fail)));
        top.push(Span::raw("  "));
    }
    // Narrow terminals get the counts as letters (Q R A D F) so spend and ETA still fit.
    let narrow = area.width < 120;
    for col in Column::ALL {
        let n = counts.get(&col).copied().unwrap_or(0);
        let label = if narrow {
            format!("{}{n} ", &col.title()[..1])
        } else {
            format!("{} {n}  ", col.title())
        };
        let style = if narrow && col == Column::Awaiting && n > 0 {
            Style::new().fg(t.notice)
        } else if narrow && col == Column::Failed && n > 0 {
            Style::new().fg(t.fail)
        } else {
            t.muted()
        };
        top.push(Span::styled(label, style));
    }
    if narrow {
        top.push(Span::raw(" "));
    }
    let (spent, partly_unknown) = d.spend();
    let at_least = if partly_unknown { "≥" } else { "" };
    let mut right = format!("spent {at_least}${spent:.2}");
    if let Some(eta) = d.eta_ms(app.max_parallel) {
        right.push_str(&format!("  ETA {}", duration(eta)));
    }
    top.push(Span::styled(right, t.muted()));
    let tabs: Vec<Span<'_>> = Tab::ALL
        .iter()
        .enumerate()
        .flat_map(|(i, tab)| {
            let style = if *tab == app.tab {
                t.accent().add_modifier(Modifier::REVERSED)
            } else {
                t.muted()
            };
            [
                Span::styled(format!(" {} {} ", i + 1, tab.title()), style),
                Span::raw(" "),
            ]
        })
        .collect();
    frame.render_widget(
        Paragraph::new(vec![Line::from(top), Line::from(tabs)]).style(t.bar()),
        area,
    );
}

fn render_footer(app: &App, frame: &mut Frame<'_>, area: Rect) {
    let t = &app.theme;
    let line = match &app.flash {
        Some(text) => Line::from(Span::styled(format!(" {text}"), t.accent())),
        None => {
            // The screen's keys as far as they fit, then pause, help and quit, which always
            // show (the help lists everything).
            let keys = app.footer_keys();
            let (screen, global) = keys.split_at(keys.len().saturating_sub(3));
            let width = |k: &str, w: &str| k.chars().count() + w.chars().count() + 3;
            let mut room = usize::from(area.width)
                .saturating_sub(global.iter().map(|(k, w)| width(k, w)).sum());
            let mut shown: Vec<(&str, &str)> = Vec::new();
            for (k, w) in screen {
                let need = width(k, w);
                if need > room {
                    break;
                }
                room -= need;
                shown.push((k, w));
            }
            shown.extend(global.iter().copied());
            Line::from(
                shown
                    .into_iter()
                    .flat_map(|(k, what)| {
                        [
                            Span::styled(format!(" {k}"), t.accent()),
                            Span::styled(format!(" {what} "), t.muted()),
                        ]
                    })
                    .collect::<Vec<_>>(),
            )
        }
    };
    frame.render_widget(Paragraph::new(line).style(t.bar()), area);
}

fn render_confirm_quit(app: &App, frame: &mut Frame<'_>) {
    let active = app
        .data
        .runs
        .values()
        .filter(|r| r.status.is_active())
        .count();
    let area = centered(frame.area(), 52, 5);
    frame.render_widget(Clear, area);
    let text = format!(
        "{active} run(s) are still working. Quit anyway? They are stopped and queued again next time.\n\ny: quit   any other key: stay"
    );
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .style(app.theme.text())
            .block(
                Block::bordered()
                    .title(" Quit? ")
                    .border_style(Style::new().fg(app.theme.warn)),
            ),
        area,
    );
}

/// How a key ended a one-line input (a filter or a search), if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    /// `enter`: keep the text.
    Done,
    /// `esc`: the text was cleared.
    Cancelled,
}

/// Edits a one-line input the same way on every screen: characters are typed, `backspace`
/// deletes, `enter` ends it, `esc` clears and ends it; other keys do nothing.
pub fn edit_line(text: &mut String, code: KeyCode) -> Option<LineEnd> {
    match code {
        KeyCode::Enter => return Some(LineEnd::Done),
        KeyCode::Esc => {
            text.clear();
            return Some(LineEnd::Cancelled);
        }
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char(c) => text.push(c),
        _ => {}
    }
    None
}

/// A `width`×`height` rectangle in the middle of `area` (clamped to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// `$SHELL` in the checkout of `run` (while it has one: a run working or awaiting approval),
/// or why not.
pub fn shell_in(data: &Data, run: &RunId) -> Result<Effect, String> {
    let dir = checkout(data, run)?;
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    Ok(Effect::Suspend {
        dir,
        argv: vec![shell],
    })
}

/// `$EDITOR +LINE PATH` (`vi` without one) in the checkout of `run`.
pub fn editor_in(data: &Data, run: &RunId, path: &str, line: u32) -> Result<Effect, String> {
    let dir = checkout(data, run)?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "vi".into());
    // `$EDITOR` may carry its own flags (`code -w`).
    let mut argv: Vec<String> = editor.split_whitespace().map(String::from).collect();
    argv.push(format!("+{}", line.max(1)));
    argv.push(path.to_string());
    Ok(Effect::Suspend { dir, argv })
}

/// The directory of `run`'s checkout, if it still has one.
fn checkout(data: &Data, run: &RunId) -> Result<std::path::PathBuf, String> {
    let found = data
        .runs
        .get(run)
        .ok_or_else(|| format!("run {} is not known", run.short()))?;
    match &found.worktree {
        Some(dir) if dir.is_dir() => Ok(dir.clone()),
        _ => Err(format!(
            "run {} is {} and has no checkout any more (a run keeps it while it works or awaits approval)",
            run.short(),
            found.status
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(app: &mut App, c: char) -> Vec<Effect> {
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )))
    }

    #[test]
    fn an_extra_key_acts_as_its_actions_default_and_text_fields_keep_it() {
        let mut app = App::new(Data::default(), Theme::default_theme(), 2);
        app.keymap = vec![('x', 'q'), ('P', 'p')];
        assert!(matches!(
            press(&mut app, 'P').as_slice(),
            [Effect::Pause(true)]
        ));
        assert!(matches!(press(&mut app, 'q').as_slice(), [Effect::Quit]));
        // While the board's filter is typed, `x` is just a letter.
        press(&mut app, '/');
        assert!(press(&mut app, 'x').is_empty());
        assert_eq!(app.board.filter, "x");
        app.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
        assert!(matches!(press(&mut app, 'x').as_slice(), [Effect::Quit]));
    }

    #[test]
    fn n_opens_the_new_task_form_on_the_board_only() {
        let mut app = App::new(Data::default(), Theme::default_theme(), 2);
        press(&mut app, 'n');
        assert!(matches!(app.overlay, Some(Overlay::NewTask(_))));
        app.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
        assert!(app.overlay.is_none());
        press(&mut app, '5');
        press(&mut app, 'n');
        assert!(app.overlay.is_none(), "on Logs, n is the next search match");
    }
}
