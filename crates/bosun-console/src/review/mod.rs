//! `2` Review: one run's change — file list, syntax-highlighted diff with old/new line numbers
//! and annotations in the gutter and under their lines, gate panel, risk card — and the
//! decision: approve all hunks or only the selected ones, or reject with a reason (then retry,
//! drop, or write the next attempt's instructions).
//!
//! Nothing here blocks: the change is read (store, git) by a background job that also builds
//! the flat row index ([`rows`]); drawing touches only the rows on screen; highlighting runs as
//! a single-flight background job over the rows about to be shown, cached per hunk in chunks,
//! and the screen shows plain text until it arrives. Results carry the run and a generation
//! number, so a late answer for a run no longer shown is dropped.

mod render;
pub mod rows;

use std::collections::HashMap;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use ratatui_textarea::TextArea;

pub use render::render;
pub use rows::{Change, Failure, Row};

use super::app::{Effect, JobContext, Msg};
use super::board::visible_offset;
use super::data::Data;
use super::highlight::{Checkpoint, FileHighlighter, Spans};
use super::theme::Theme;
use crate::model::HunkRef;
use crate::model::{Diff, RunId, RunStatus};

/// The review screen's keys for the footer (the help lists [`HELP`]).
pub const KEYS: [(&str, &str); 6] = [
    ("j/k", "move"),
    ("n/N", "hunk"),
    ("space", "toggle"),
    ("a", "approve"),
    ("r", "reject"),
    ("esc", "board"),
];

/// Every review key, for the help.
pub const HELP: [(&str, &str); 17] = [
    ("j/k ↑/↓", "move a line"),
    ("PgDn/PgUp", "move a page (g/G: top, bottom)"),
    ("n / N", "next / previous hunk"),
    ("] / [", "next / previous file"),
    (
        "space",
        "keep or drop the hunk (on a file header: the file)",
    ),
    ("a", "approve the kept hunks (asks first)"),
    ("o", "best of 2: open the other candidate"),
    (
        "r",
        "reject: reason, then y retry / n drop / e instructions",
    ),
    (
        "e",
        "write the next attempt's instructions (reject first, or for a queued retry)",
    ),
    ("f", "show / hide the file list"),
    (
        "/",
        "search the diff; n / N then go through the matches, esc ends it",
    ),
    ("← / →", "scroll long lines sideways"),
    ("s", "a shell in the run's checkout (exit to come back)"),
    (
        "E",
        "$EDITOR at the line under the cursor, in the run's checkout",
    ),
    ("i", "show / hide the gates and risk card"),
    ("ctrl-s", "send the instructions being written"),
    ("esc", "back to the board (or close the dialog)"),
];

/// Files read for the first screen of a large change (the rest follows in a second job):
/// several screens' worth, so paging on while the rest loads still shows the change.
const FIRST_FILES: usize = 20;
/// Columns `←` / `→` scroll the code by.
const HSCROLL: usize = 8;
/// Lines of its log a run that ended without a change shows.
const FAILURE_LOG_LINES: usize = 200;
/// Bytes of file content read for the first screen, at most (about): both sides of a dozen
/// files of a hundred functions, thousands of lines.
const FIRST_BYTES: usize = 128 * 1024;

/// Lines of a hunk highlighted together (the unit of the highlight cache).
pub const CHUNK: usize = 128;
/// Chunks kept before the cache starts over.
const CACHE_CHUNKS: usize = 4096;
/// Preceding chunks highlighted too, when not cached, so a comment or string opened above the
/// screen colors it right.
const LOOKBACK: usize = 4;

/// A highlighted piece of a hunk: file, hunk, chunk (lines `chunk * CHUNK ..`).
pub type ChunkKey = (u32, u32, u32);

/// The colors of one chunk of a hunk.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    /// One entry per line of the chunk; empty when the file has no known syntax.
    pub lines: Vec<Spans>,
    /// The highlighter's state after the chunk, for the next one.
    pub end: Option<Checkpoint>,
}

/// What a background job for the review screen brings back.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// A run's change (or why it cannot be shown).
    Change {
        /// The run it is for.
        run: RunId,
        /// The request it answers (stale answers are dropped).
        generation: u64,
        /// The change, indexed.
        change: Result<Arc<Change>, String>,
    },
    /// Colors for some chunks.
    Highlight {
        /// The run they are for.
        run: RunId,
        /// The request they answer.
        generation: u64,
        /// The cache they were made for ([`Highlights::epoch`]): colors made with another
        /// theme, or for a change since replaced, are dropped.
        epoch: u64,
        /// The chunks.
        chunks: Vec<(ChunkKey, Arc<Chunk>)>,
    },
}

/// A dialog over the diff.
#[derive(Debug, Clone, Default)]
pub enum Mode {
    /// Reading the diff.
    #[default]
    Browse,
    /// `a`: approve what is kept?
    ConfirmApprove,
    /// `r` / `e`: the reason for rejecting.
    Reason {
        /// The text field.
        text: Box<TextArea<'static>>,
        /// `e`: go on to writing the next attempt's instructions.
        then_instructions: bool,
    },
    /// After the reason: retry, drop, or write instructions.
    AskRetry {
        /// The reason given.
        reason: String,
    },
    /// Writing the instructions the next attempt gets.
    Instructions {
        /// The reason given (when rejecting now).
        reason: String,
        /// The text field.
        text: Box<TextArea<'static>>,
        /// The attempt already queued after an earlier rejection, whose instructions these
        /// replace (`None`: rejecting now, with a retry).
        queued: Option<RunId>,
    },
    /// `m`: the commit message the approval merges with, being written.
    Message {
        /// The text field.
        text: Box<TextArea<'static>>,
    },
    /// `/`: the text to search the diff for, being typed.
    Search {
        /// What is typed so far.
        text: String,
    },
}

/// A search of the diff (`/`): the rows that match, for `n` / `N`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// What was searched for.
    pub needle: String,
    /// The matching rows, in order.
    pub rows: Vec<usize>,
}

/// The highlight cache and its single background job.
#[derive(Debug, Clone, Default)]
pub struct Highlights {
    /// The syntect theme the cached colors are for.
    pub theme: String,
    /// Highlighted chunks.
    pub chunks: HashMap<ChunkKey, Arc<Chunk>>,
    /// A job is running.
    pub in_flight: bool,
    /// Counts the times the cache was emptied because its colors no longer apply.
    pub epoch: u64,
}

impl Highlights {
    /// Forgets every color (another theme, another change).
    fn invalidate(&mut self) {
        self.chunks.clear();
        self.epoch += 1;
    }
}

/// The review screen's state.
#[derive(Debug, Clone, Default)]
pub struct ReviewState {
    /// The run shown.
    pub run: Option<RunId>,
    /// Counts loads; answers to older ones are dropped.
    pub generation: u64,
    /// The loaded change.
    pub change: Option<Arc<Change>>,
    /// Why the change cannot be shown.
    pub error: Option<String>,
    /// The row with the cursor.
    pub cursor: usize,
    /// The first row shown.
    pub offset: usize,
    /// Which units (hunks, or whole files) are kept, per file.
    pub keep: Vec<Vec<bool>>,
    /// The file list is shown (`None`: when the screen is wide enough).
    pub files_shown: Option<bool>,
    /// The gate panel and risk card are hidden.
    pub panel_hidden: bool,
    /// The dialog open, if any.
    pub mode: Mode,
    /// The last search, while its matches are what `n` / `N` move between.
    pub search: Option<Search>,
    /// Columns of code scrolled off to the left (`←` / `→`).
    pub hscroll: usize,
    /// The commit message the operator wrote for the approval (`m`).
    pub message: Option<String>,
    /// A line for the operator (why a key did nothing, what was sent).
    pub notice: Option<String>,
    /// The notice says what was sent about the run while it had this status: it goes once
    /// the status changes (the orchestrator's answer is in the footer).
    pub notice_while: Option<RunStatus>,
    /// Syntax colors.
    pub highlights: Highlights,
    /// `G` (or End) was pressed while only the change's first files were here: the cursor
    /// goes to the end of the whole change when it arrives, unless it moved since.
    pub at_end: bool,
    /// Loaded ahead, while the board showed the run (its first screen only): its colours and
    /// the rest of a large change are asked for when the operator opens it.
    pub prefetched: bool,
    /// The first screen's load is under way (opening the run again does not start another).
    pub loading: bool,
}

impl ReviewState {
    /// The run's status as the console knows it now (the orchestrator's events are newer than
    /// the loaded copy).
    pub fn status(&self, data: &Data) -> Option<RunStatus> {
        let id = self.run.as_ref()?;
        data.runs
            .get(id)
            .map(|r| r.status)
            .or_else(|| self.change.as_ref().map(|c| c.run.status))
    }

    /// The file and line (new side) the cursor is on, for an editor: a removed line counts as
    /// the line after it, a header as its hunk's (or file's) first line.
    pub fn cursor_place(&self) -> Option<(String, u32)> {
        let change = self.change.as_ref()?;
        let row = *change.rows.get(self.cursor)?;
        let file = change.diff.files.get(row.file())?;
        let path = file.new_path.clone().or_else(|| file.old_path.clone())?;
        let line = match row {
            Row::Line { hunk, line, .. } => {
                let hunk = file.hunks.get(hunk as usize)?;
                hunk.lines[..=(line as usize).min(hunk.lines.len().saturating_sub(1))]
                    .iter()
                    .rev()
                    .find_map(|l| l.new_no)
                    .unwrap_or(hunk.new_start)
            }
            Row::Hunk { hunk, .. } => file.hunks.get(hunk as usize)?.new_start,
            _ => 1,
        };
        Some((path, line.max(1)))
    }

    /// Units kept and in all.
    pub fn kept(&self) -> (usize, usize) {
        let all = self.keep.iter().map(Vec::len).sum();
        let kept = self.keep.iter().flatten().filter(|k| **k).count();
        (kept, all)
    }

    /// The hunks to approve: `None` when every one is kept (the whole change).
    pub fn selection(&self) -> Option<Vec<HunkRef>> {
        let change = self.change.as_ref()?;
        let (kept, all) = self.kept();
        if kept == all {
            return None;
        }
        Some(
            self.keep
                .iter()
                .enumerate()
                .flat_map(|(f, units)| {
                    let path = change.diff.files[f].path();
                    units
                        .iter()
                        .enumerate()
                        .filter(|(_, k)| **k)
                        .map(move |(u, _)| HunkRef::new(path, u))
                })
                .collect(),
        )
    }
}

/// Opens `run`: returns the job that loads it — nothing when it is loaded or being loaded,
/// and for a run loaded ahead ([`prefetch`]) its colours and the rest of its change.
pub fn open(
    state: &mut ReviewState,
    _data: &Data,
    run: RunId,
    theme: &Theme,
    area: Rect,
) -> Vec<Effect> {
    if state.run.as_ref() == Some(&run) && (state.change.is_some() || state.loading) {
        if !std::mem::take(&mut state.prefetched) {
            return Vec::new();
        }
        // Loaded ahead: what was held back until the operator came. (Still in flight: its
        // answer finds `prefetched` false and asks for them itself.)
        let Some(change) = state.change.clone() else {
            return Vec::new();
        };
        let mut effects = request_highlight(state, theme, area);
        if change.pending > 0 {
            effects.push(load_rest(run, state.generation));
        }
        return effects;
    }
    start_load(state, run)
}

/// Loads `run`'s first screen ahead, while the board shows it awaiting approval: opening it
/// is then immediate. Nothing when a run is already in Review.
pub fn prefetch(state: &mut ReviewState, run: RunId) -> Vec<Effect> {
    if state.run.is_some() {
        return Vec::new();
    }
    let effects = start_load(state, run);
    state.prefetched = true;
    effects
}

/// A fresh state for `run` and the job that reads its first screen.
fn start_load(state: &mut ReviewState, run: RunId) -> Vec<Effect> {
    let generation = state.generation + 1;
    *state = ReviewState {
        run: Some(run.clone()),
        generation,
        files_shown: state.files_shown,
        panel_hidden: state.panel_hidden,
        loading: true,
        ..ReviewState::default()
    };
    vec![Effect::load(move |cx| {
        let change = load(cx, &run, true).map(Arc::new);
        Msg::Review(Box::new(Loaded::Change {
            run,
            generation,
            change,
        }))
    })]
}

/// The job that reads the whole of a large change whose first files are shown.
fn load_rest(run: RunId, generation: u64) -> Effect {
    Effect::load(move |cx| {
        let change = load(cx, &run, false).map(Arc::new);
        Msg::Review(Box::new(Loaded::Change {
            run,
            generation,
            change,
        }))
    })
}

/// Reads a run and its change; runs on the blocking pool. With `first`, a large change comes
/// back partial — its first files only, read straight from git, so the first screen does not
/// wait for the whole diff to be parsed ([`Change::pending`] says how many files are left).
pub fn load(cx: &JobContext, run: &RunId, first: bool) -> Result<Change, String> {
    let stored = cx
        .core
        .run(run)
        .map_err(|e| format!("cannot read run {run}: {e}"))?
        .ok_or_else(|| format!("run {run} is not in the store"))?;
    let (Some(base), Some(head)) = (stored.base.clone(), stored.head.clone()) else {
        if stored.status.is_active() || stored.status == RunStatus::Queued {
            return Err(format!(
                "run {} is {}: it has no change to review yet",
                run.short(),
                stored.status
            ));
        }
        // It ended without a change: its review says why, with its gates and its log's end.
        let log = cx.core.run_log(run).ok().flatten().unwrap_or_default();
        let reason = stored
            .error
            .clone()
            .unwrap_or_else(|| format!("the run is {} and made no change", stored.status));
        let mut change = Change::new(stored, Vec::new(), Diff::default());
        let keep = log.lines.len().saturating_sub(FAILURE_LOG_LINES);
        change.failure = Some(Failure {
            reason,
            cut: log.cut || keep > 0,
            log: log.lines.into_iter().skip(keep).collect(),
        });
        return Ok(change);
    };
    let unreadable = |e: &dyn std::fmt::Display| {
        format!(
            "cannot read the change {}..{}: {e}",
            &base[..base.len().min(10)],
            &head[..head.len().min(10)]
        )
    };
    let unannotated = |e: String| format!("cannot read the annotations of run {run}: {e}");
    if first {
        let (diff, total) = cx
            .core
            .first_diff(&base, &head, FIRST_FILES, FIRST_BYTES)
            .map_err(|e| unreadable(&e))?;
        if diff.files.len() < total {
            // Only the annotations of the files shown (and the risk card's): a large
            // change has tens of thousands.
            let paths: Vec<String> = diff
                .files
                .iter()
                .flat_map(|f| [f.old_path.clone(), f.new_path.clone()])
                .flatten()
                .collect();
            let annotations = cx.core.annotations_on(run, &paths).map_err(unannotated)?;
            let shown = diff.files.len();
            let mut change = Change::new(stored, annotations, diff);
            change.pending = total - shown;
            return Ok(change);
        }
    }
    let annotations = cx.core.annotations(run).map_err(unannotated)?;
    let diff = cx.core.diff(&base, &head).map_err(|e| unreadable(&e))?;
    Ok(Change::new(stored, annotations, diff))
}

/// A background job finished.
pub fn loaded(state: &mut ReviewState, loaded: Loaded, theme: &Theme, area: Rect) -> Vec<Effect> {
    match loaded {
        Loaded::Change {
            run,
            generation,
            change,
        } => {
            if state.run.as_ref() != Some(&run) || state.generation != generation {
                return Vec::new();
            }
            state.loading = false;
            match (change, state.change.take()) {
                (Ok(change), None) => {
                    state.keep = change.files.iter().map(|f| vec![true; f.units]).collect();
                    state.error = None;
                    state.cursor = 0;
                    state.offset = 0;
                    state.highlights.invalidate();
                    let rest = change.pending > 0;
                    state.change = Some(change);
                    // Loaded ahead: the colours and the rest wait for the operator.
                    if state.prefetched {
                        return Vec::new();
                    }
                    let mut effects = request_highlight(state, theme, area);
                    if rest {
                        effects.push(load_rest(run, generation));
                    }
                    effects
                }
                (Ok(whole), Some(first)) => {
                    complete(state, &first, whole);
                    if std::mem::take(&mut state.at_end) {
                        state.cursor = usize::MAX;
                    }
                    clamp_view(state, area);
                    request_highlight(state, theme, area)
                }
                (Err(e), Some(first)) => {
                    state.notice = Some(format!("only part of the change could be read: {e}"));
                    state.change = Some(first);
                    Vec::new()
                }
                (Err(e), None) => {
                    state.error = Some(e);
                    Vec::new()
                }
            }
        }
        Loaded::Highlight {
            run,
            generation,
            epoch,
            chunks,
        } => {
            if state.run.as_ref() != Some(&run) || state.generation != generation {
                return Vec::new();
            }
            state.highlights.in_flight = false;
            if epoch == state.highlights.epoch {
                if state.highlights.chunks.len() + chunks.len() > CACHE_CHUNKS {
                    state.highlights.chunks.clear();
                }
                state.highlights.chunks.extend(chunks);
            }
            request_highlight(state, theme, area)
        }
    }
}

/// The whole change arrived after its first files: what was chosen and colored on those files
/// carries over where they are the same.
fn complete(state: &mut ReviewState, first: &Change, whole: Arc<Change>) {
    let same = first
        .diff
        .files
        .iter()
        .zip(&whole.diff.files)
        .all(|(a, b)| a.path() == b.path() && a.hunks == b.hunks);
    let mut keep: Vec<Vec<bool>> = whole.files.iter().map(|f| vec![true; f.units]).collect();
    if same {
        for (k, old) in keep.iter_mut().zip(&state.keep) {
            if k.len() == old.len() {
                k.clone_from(old);
            }
        }
    } else {
        state.highlights.invalidate();
    }
    state.keep = keep;
    state.change = Some(whole);
}

/// `m`: write the commit message the approval merges with, starting from what was written
/// before, else `default` (the `[project] commit_message` template's).
pub fn start_message(state: &mut ReviewState, default: String) {
    let text = state.message.clone().unwrap_or(default);
    state.mode = Mode::Message {
        text: editor(&text),
    };
}

/// `r` pressed on the board: the reason for rejecting the run just opened is asked at once
/// (when its state allows a rejection).
pub fn start_reject(state: &mut ReviewState, data: &Data) {
    let status = state
        .run
        .as_ref()
        .and_then(|id| data.runs.get(id))
        .map(|r| r.status);
    if matches!(
        status,
        Some(RunStatus::AwaitingApproval | RunStatus::Failed)
    ) {
        state.mode = Mode::Reason {
            text: reason_field(),
            then_instructions: false,
        };
    }
}

/// The terminal was resized, the theme changed or the screen is shown again: colors for what
/// is now on screen.
pub fn refresh(state: &mut ReviewState, theme: &Theme, area: Rect) -> Vec<Effect> {
    clamp_view(state, area);
    request_highlight(state, theme, area)
}

/// Handles a key; the second value says "back to the board".
pub fn key(
    state: &mut ReviewState,
    data: &Data,
    theme: &Theme,
    area: Rect,
    key: KeyEvent,
) -> (Vec<Effect>, bool) {
    state.notice = None;
    state.notice_while = None;
    let mode = std::mem::take(&mut state.mode);
    match mode {
        Mode::Browse => browse(state, data, theme, area, key),
        Mode::Message { mut text } => {
            let save = key.modifiers.contains(KeyModifiers::CONTROL)
                && matches!(key.code, KeyCode::Char('s'));
            if save {
                let written = text.lines().join("\n").trim().to_string();
                if written.is_empty() {
                    state.message = None;
                    state.notice = Some("the commit message is the default again".into());
                } else {
                    let first = written.lines().next().unwrap_or_default().to_string();
                    state.message = Some(written);
                    state.notice = Some(format!("the approval merges as: {first}"));
                }
            } else if key.code != KeyCode::Esc {
                text.input(key);
                state.mode = Mode::Message { text };
            }
            (Vec::new(), false)
        }
        Mode::Search { mut text } => {
            match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter => {
                    if let Some(change) = state.change.clone() {
                        let rows = matching_rows(&change, &text);
                        state.notice = Some(match rows.len() {
                            0 => format!("no line has \"{text}\""),
                            n => format!(
                                "{n} lines have \"{text}\": n / N go through them, esc ends the search"
                            ),
                        });
                        let next = rows.iter().find(|&&r| r >= state.cursor).or(rows.first());
                        if let Some(&row) = next {
                            state.cursor = row;
                        }
                        state.search = (!rows.is_empty()).then_some(Search { needle: text, rows });
                        clamp_view(state, area);
                        return (request_highlight(state, theme, area), false);
                    }
                }
                KeyCode::Backspace => {
                    text.pop();
                    state.mode = Mode::Search { text };
                }
                KeyCode::Char(c) => {
                    text.push(c);
                    state.mode = Mode::Search { text };
                }
                _ => state.mode = Mode::Search { text },
            }
            (Vec::new(), false)
        }
        Mode::ConfirmApprove => {
            // With a forge: `p` delivers as a pull request, `M` merges here.
            let deliver = match key.code {
                KeyCode::Char('p') if data.forge.is_some() => {
                    Some(Some(crate::model::Delivery::Pr))
                }
                KeyCode::Char('M') if data.forge.is_some() => {
                    Some(Some(crate::model::Delivery::Merge))
                }
                KeyCode::Char('y') | KeyCode::Enter => Some(None),
                _ => None,
            };
            if let Some(deliver) = deliver
                && let Some(run) = state.run.clone()
            {
                let keep = state.selection();
                let (kept, all) = state.kept();
                let text = if keep.is_some() {
                    format!("approving {kept} of {all} hunks…")
                } else {
                    "approving…".into()
                };
                sent(state, data, text);
                let message = state.message.clone();
                return (
                    vec![Effect::Approve {
                        run,
                        keep,
                        message,
                        deliver,
                    }],
                    false,
                );
            }
            (Vec::new(), false)
        }
        Mode::Reason {
            mut text,
            then_instructions,
        } => {
            match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter if !key.modifiers.contains(KeyModifiers::ALT) => {
                    let reason = text.lines().join("\n").trim().to_string();
                    if reason.is_empty() {
                        state.notice = Some(
                            "a reason is needed: it goes to the audit trail and the agent".into(),
                        );
                        state.mode = Mode::Reason {
                            text,
                            then_instructions,
                        };
                    } else if then_instructions {
                        state.mode = instructions(reason);
                    } else {
                        state.mode = Mode::AskRetry { reason };
                    }
                }
                _ => {
                    text.input(key);
                    state.mode = Mode::Reason {
                        text,
                        then_instructions,
                    };
                }
            }
            (Vec::new(), false)
        }
        Mode::AskRetry { reason } => {
            let Some(run) = state.run.clone() else {
                return (Vec::new(), false);
            };
            let reject = |retry| Effect::Reject {
                run,
                reason: reason.clone(),
                retry,
                prompt: None,
            };
            match key.code {
                KeyCode::Char('y') => {
                    sent(
                        state,
                        data,
                        "rejecting; another attempt will follow…".into(),
                    );
                    (vec![reject(true)], false)
                }
                KeyCode::Char('n') => {
                    sent(state, data, "rejecting…".into());
                    (vec![reject(false)], false)
                }
                KeyCode::Char('e') => {
                    state.mode = instructions(reason.clone());
                    (Vec::new(), false)
                }
                KeyCode::Esc => (Vec::new(), false),
                _ => {
                    state.mode = Mode::AskRetry {
                        reason: reason.clone(),
                    };
                    (Vec::new(), false)
                }
            }
        }
        Mode::Instructions {
            reason,
            mut text,
            queued,
        } => {
            let send = key.modifiers.contains(KeyModifiers::CONTROL)
                && matches!(key.code, KeyCode::Char('s'));
            if send && let Some(run) = state.run.clone() {
                let prompt = text.lines().join("\n").trim().to_string();
                if prompt.is_empty() {
                    state.notice = Some("the instructions are empty".into());
                    state.mode = Mode::Instructions {
                        reason,
                        text,
                        queued,
                    };
                    return (Vec::new(), false);
                }
                if let Some(queued) = queued {
                    state.notice = Some("saving the next attempt's instructions…".into());
                    return (
                        vec![Effect::Instruct {
                            run: queued,
                            prompt,
                        }],
                        false,
                    );
                }
                sent(
                    state,
                    data,
                    "rejecting; the next attempt gets your instructions…".into(),
                );
                return (
                    vec![Effect::Reject {
                        run,
                        reason,
                        retry: true,
                        prompt: Some(prompt),
                    }],
                    false,
                );
            }
            match (key.code, &queued) {
                (KeyCode::Esc, Some(_)) => {}
                (KeyCode::Esc, None) => state.mode = Mode::AskRetry { reason },
                _ => {
                    text.input(key);
                    state.mode = Mode::Instructions {
                        reason,
                        text,
                        queued,
                    };
                }
            }
            (Vec::new(), false)
        }
    }
}

/// Says what was sent, for as long as the run keeps its status.
fn sent(state: &mut ReviewState, data: &Data, text: String) {
    state.notice = Some(text);
    state.notice_while = state.status(data);
}

/// The instructions editor, with the sentence the next attempt would get otherwise.
fn instructions(reason: String) -> Mode {
    let text = editor(&format!(
        "The operator rejected the previous attempt: {reason}"
    ));
    Mode::Instructions {
        reason,
        text,
        queued: None,
    }
}

/// A text field holding `text`, the cursor at its end.
fn editor(text: &str) -> Box<TextArea<'static>> {
    let mut field = TextArea::new(text.lines().map(String::from).collect());
    field.move_cursor(ratatui_textarea::CursorMove::Bottom);
    field.move_cursor(ratatui_textarea::CursorMove::End);
    Box::new(field)
}

/// The attempt queued after `run` was rejected with a retry, if it has not started.
fn queued_retry<'d>(data: &'d Data, run: &crate::model::Run) -> Option<&'d crate::model::Run> {
    data.latest_run(&run.task_id)
        .filter(|r| r.status == RunStatus::Queued && r.attempt > run.attempt)
}

fn reason_field() -> Box<TextArea<'static>> {
    let mut text = TextArea::default();
    text.set_placeholder_text("why is this change not good enough?");
    Box::new(text)
}

fn browse(
    state: &mut ReviewState,
    data: &Data,
    theme: &Theme,
    area: Rect,
    key: KeyEvent,
) -> (Vec<Effect>, bool) {
    let page = render::diff_height(state, area).max(1);
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let Some(change) = state.change.clone() else {
        return (Vec::new(), key.code == KeyCode::Esc);
    };
    let last = change.rows.len().saturating_sub(1);
    let status = state.status(data);
    match key.code {
        // Esc ends a search first, then goes back to the board.
        KeyCode::Esc if state.search.is_some() => state.search = None,
        KeyCode::Esc => return (Vec::new(), true),
        KeyCode::Char('/') => {
            state.mode = Mode::Search {
                text: String::new(),
            };
        }
        KeyCode::Char(c @ ('n' | 'N')) if state.search.is_some() => {
            let rows = state
                .search
                .as_ref()
                .map(|s| s.rows.clone())
                .unwrap_or_default();
            let next = if c == 'n' {
                rows.iter().find(|&&r| r > state.cursor).or(rows.first())
            } else {
                rows.iter()
                    .rev()
                    .find(|&&r| r < state.cursor)
                    .or(rows.last())
            };
            if let Some(&row) = next {
                state.cursor = row;
                let at = rows.iter().position(|&r| r == row).unwrap_or(0) + 1;
                state.notice = Some(format!("match {at} of {}", rows.len()));
            }
        }
        KeyCode::Right => state.hscroll += HSCROLL,
        KeyCode::Left => state.hscroll = state.hscroll.saturating_sub(HSCROLL),
        KeyCode::Down | KeyCode::Char('j') => state.cursor = (state.cursor + 1).min(last),
        KeyCode::Up | KeyCode::Char('k') => state.cursor = state.cursor.saturating_sub(1),
        KeyCode::Char('d') if ctrl => state.cursor = (state.cursor + page / 2).min(last),
        KeyCode::Char('u') if ctrl => state.cursor = state.cursor.saturating_sub(page / 2),
        KeyCode::PageDown => {
            state.cursor = (state.cursor + page).min(last);
            state.offset = (state.offset + page).min(last);
        }
        KeyCode::PageUp => {
            state.cursor = state.cursor.saturating_sub(page);
            state.offset = state.offset.saturating_sub(page);
        }
        KeyCode::Home | KeyCode::Char('g') => state.cursor = 0,
        KeyCode::End | KeyCode::Char('G') => {
            state.cursor = last;
            if change.pending > 0 {
                state.at_end = true;
                state.notice = Some(format!(
                    "the end so far: {} more files are loading, the cursor goes on when they are here",
                    change.pending
                ));
            }
        }
        KeyCode::Char('n') => jump(state, &change.unit_rows, true),
        KeyCode::Char('N') => jump(state, &change.unit_rows, false),
        KeyCode::Char(']') => jump(state, &change.file_rows, true),
        KeyCode::Char('[') => jump(state, &change.file_rows, false),
        KeyCode::Char(' ') => toggle(state, &change),
        KeyCode::Char('f') => {
            let shown = state
                .files_shown
                .unwrap_or(area.width >= render::FILES_SHOWN);
            state.files_shown = Some(!shown);
        }
        KeyCode::Char('i') => state.panel_hidden = !state.panel_hidden,
        KeyCode::Char('o') => {
            let rival = data
                .runs
                .get(&change.run.id)
                .unwrap_or(&change.run)
                .rival
                .clone();
            match rival {
                Some(other) => return (open(state, data, other, theme, area), false),
                None => state.notice = Some("this run has no other candidate (best_of)".into()),
            }
        }
        KeyCode::Char('a') => match status {
            Some(RunStatus::AwaitingApproval) if change.pending > 0 => {
                state.notice = Some(format!(
                    "the change is still loading ({} more files); approve once it is all here",
                    change.pending
                ));
            }
            Some(RunStatus::AwaitingApproval) => {
                if state.kept().0 == 0 {
                    state.notice =
                        Some("no hunk is kept: keep some with space, or reject with r".into());
                } else {
                    state.mode = Mode::ConfirmApprove;
                }
            }
            other => state.notice = Some(read_only(other, "approved")),
        },
        KeyCode::Char(c @ ('r' | 'e')) => match status {
            Some(RunStatus::AwaitingApproval | RunStatus::Failed) => {
                state.mode = Mode::Reason {
                    text: reason_field(),
                    then_instructions: c == 'e',
                };
            }
            Some(RunStatus::Rejected) if c == 'e' => {
                let run = data.runs.get(&change.run.id).unwrap_or(&change.run);
                match queued_retry(data, run) {
                    Some(next) => {
                        state.mode = Mode::Instructions {
                            reason: String::new(),
                            text: editor(next.feedback.as_deref().unwrap_or_default()),
                            queued: Some(next.id.clone()),
                        };
                    }
                    None => {
                        state.notice = Some(
                            "no attempt is waiting after this one: nothing to instruct".into(),
                        );
                    }
                }
            }
            other => state.notice = Some(read_only(other, "rejected")),
        },
        _ => return (Vec::new(), false),
    }
    if state.cursor != last {
        // The operator moved away from the end: the whole change's arrival leaves them there.
        state.at_end = false;
    }
    clamp_view(state, area);
    (request_highlight(state, theme, area), false)
}

/// Why a decided (or still running) run cannot be approved or rejected.
fn read_only(status: Option<RunStatus>, what: &str) -> String {
    match status {
        Some(s) if s.is_final() => format!("this run is {s}: decided runs are read-only"),
        Some(s) => format!("this run is {s}; it cannot be {what} now"),
        None => "no run is loaded".into(),
    }
}

/// Moves the cursor to the next (or previous) of `marks` (sorted row numbers).
fn jump(state: &mut ReviewState, marks: &[usize], forward: bool) {
    let to = if forward {
        marks.iter().find(|r| **r > state.cursor)
    } else {
        marks.iter().rev().find(|r| **r < state.cursor)
    };
    if let Some(row) = to {
        state.cursor = *row;
        // Show the hunk from its header down.
        state.offset = *row;
    }
}

/// `space`: keeps or drops the unit under the cursor; on a file header, the whole file.
fn toggle(state: &mut ReviewState, change: &Change) {
    let Some(row) = change.rows.get(state.cursor) else {
        return;
    };
    match row.unit() {
        Some((file, unit)) => {
            if let Some(k) = state.keep.get_mut(file).and_then(|f| f.get_mut(unit)) {
                *k = !*k;
            }
        }
        None => {
            if let Some(units) = state.keep.get_mut(row.file()) {
                let to = !units.iter().all(|k| *k);
                units.iter_mut().for_each(|k| *k = to);
            }
        }
    }
}

/// Handles the mouse: the wheel scrolls the diff.
pub fn mouse(state: &mut ReviewState, theme: &Theme, area: Rect, mouse: MouseEvent) -> Vec<Effect> {
    let Some(change) = state.change.clone() else {
        return Vec::new();
    };
    let last = change.rows.len().saturating_sub(1);
    match mouse.kind {
        MouseEventKind::ScrollDown => {
            state.offset = (state.offset + 3).min(last);
            state.cursor = state.cursor.max(state.offset).min(last);
        }
        MouseEventKind::ScrollUp => {
            state.offset = state.offset.saturating_sub(3);
            let height = render::diff_height(state, area).max(1);
            state.cursor = state.cursor.min(state.offset + height - 1);
        }
        _ => return Vec::new(),
    }
    request_highlight(state, theme, area)
}

/// The rows of `change` whose text has `needle` (ignoring case): lines, file paths,
/// annotation messages.
pub fn matching_rows(change: &Change, needle: &str) -> Vec<usize> {
    if needle.is_empty() {
        return Vec::new();
    }
    let needle = needle.to_lowercase();
    let has = |text: &str| text.to_lowercase().contains(&needle);
    change
        .rows
        .iter()
        .enumerate()
        .filter(|(_, row)| match **row {
            Row::Line {
                file, hunk, line, ..
            } => has(
                &change.diff.files[file as usize].hunks[hunk as usize].lines[line as usize].text,
            ),
            Row::File { file } | Row::Whole { file } => {
                has(change.diff.files[file as usize].path())
            }
            Row::Note { annotation, .. } => change
                .annotation(annotation)
                .is_some_and(|a| has(&a.message)),
            Row::Hunk { .. } => false,
        })
        .map(|(i, _)| i)
        .collect()
}

/// A dialog (or text field) has the keyboard: every key goes to this screen.
pub fn captures_text(state: &ReviewState) -> bool {
    !matches!(state.mode, Mode::Browse)
}

/// Keeps the cursor on screen, moving the view as little as possible.
fn clamp_view(state: &mut ReviewState, area: Rect) {
    let Some(change) = &state.change else {
        return;
    };
    let last = change.rows.len().saturating_sub(1);
    state.cursor = state.cursor.min(last);
    let height = render::diff_height(state, area);
    // No blank screen below the last row.
    let bottom = change.rows.len().saturating_sub(height);
    state.offset = visible_offset(state.offset.min(bottom), state.cursor, height);
}

/// Starts the highlight job for the rows on screen and one page below, unless one is running
/// (its answer asks again) or they are all cached.
fn request_highlight(state: &mut ReviewState, theme: &Theme, area: Rect) -> Vec<Effect> {
    if theme.syntax.is_empty() || theme.monochrome {
        return Vec::new();
    }
    if state.highlights.theme != theme.syntax {
        state.highlights.theme = theme.syntax.clone();
        state.highlights.invalidate();
    }
    let (Some(change), Some(run)) = (state.change.clone(), state.run.clone()) else {
        return Vec::new();
    };
    if state.highlights.in_flight {
        return Vec::new();
    }
    let height = render::diff_height(state, area).max(1);
    let end = (state.offset + 2 * height).min(change.rows.len());
    let mut wanted: Vec<ChunkKey> = Vec::new();
    for row in &change.rows[state.offset.min(end)..end] {
        if let Row::Line {
            file, hunk, line, ..
        } = *row
        {
            let key = (file, hunk, line / CHUNK as u32);
            if wanted.last() != Some(&key) && !state.highlights.chunks.contains_key(&key) {
                wanted.push(key);
            }
        }
    }
    if wanted.is_empty() {
        return Vec::new();
    }
    // Chunks above a wanted one, back to a cached end state or the hunk's top, within limits.
    let mut jobs: Vec<(ChunkKey, Option<Checkpoint>)> = Vec::new();
    for key in wanted {
        let (file, hunk, chunk) = key;
        let mut first = chunk;
        while first > 0
            && chunk - first < LOOKBACK as u32
            && !state
                .highlights
                .chunks
                .contains_key(&(file, hunk, first - 1))
            && !jobs.iter().any(|(k, _)| *k == (file, hunk, first - 1))
        {
            first -= 1;
        }
        let start = first
            .checked_sub(1)
            .and_then(|p| state.highlights.chunks.get(&(file, hunk, p)))
            .and_then(|c| c.end.clone());
        let mut start = Some(start);
        for c in first..=chunk {
            if !jobs.iter().any(|(k, _)| *k == (file, hunk, c)) {
                jobs.push(((file, hunk, c), start.take().flatten()));
            }
        }
    }
    state.highlights.in_flight = true;
    let generation = state.generation;
    let epoch = state.highlights.epoch;
    let syntax = theme.syntax.clone();
    vec![Effect::load(move |_| {
        let chunks = highlight(&change, &syntax, jobs);
        Msg::Review(Box::new(Loaded::Highlight {
            run,
            generation,
            epoch,
            chunks,
        }))
    })]
}

/// Highlights chunks (in order; a chunk right after one just done continues its state);
/// runs on the blocking pool.
pub fn highlight(
    change: &Change,
    theme: &str,
    jobs: Vec<(ChunkKey, Option<Checkpoint>)>,
) -> Vec<(ChunkKey, Arc<Chunk>)> {
    let mut highlighters: HashMap<u32, Option<FileHighlighter>> = HashMap::new();
    let mut out: Vec<(ChunkKey, Arc<Chunk>)> = Vec::with_capacity(jobs.len());
    let mut previous: Option<(ChunkKey, Checkpoint)> = None;
    for (key, start) in jobs {
        let (file, hunk, chunk) = key;
        let Some(f) = change.diff.files.get(file as usize) else {
            continue;
        };
        let Some(h) = highlighters
            .entry(file)
            .or_insert_with(|| FileHighlighter::new(f.path(), theme))
        else {
            out.push((key, Arc::new(Chunk::default())));
            continue;
        };
        let Some(lines) = f.hunks.get(hunk as usize).map(|h| &h.lines) else {
            continue;
        };
        let mut at = match previous.take() {
            Some((k, cp)) if k == (file, hunk, chunk.wrapping_sub(1)) => cp,
            _ => start.unwrap_or_else(|| h.start()),
        };
        let from = chunk as usize * CHUNK;
        let spans: Vec<Spans> = lines
            .iter()
            .skip(from)
            .take(CHUNK)
            .map(|l| h.line(&mut at, l.kind, &l.text))
            .collect();
        previous = Some((key, at.clone()));
        out.push((
            key,
            Arc::new(Chunk {
                lines: spans,
                end: Some(at),
            }),
        ));
    }
    out
}
