//! `3` History: every run in the store, newest first. Pages of [`PAGE`] rows are read off the
//! loop as the cursor nears the end of what is loaded, so 100,000 runs cost one page at
//! start; a filter (`/`: words, `status:`, `type:`, `executor:`) is applied while reading, so
//! only matching rows are kept. Rows are small summaries, not whole runs; statuses the console
//! has seen change since are shown as they are now. `enter` opens the run in Review.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{Effect, JobContext, Msg};
use super::board::visible_offset;
use super::data::Data;
use super::theme::Theme;
use crate::model::{Run, RunId, RunStatus, TaskId, TaskType};

/// The history screen's keys, for the footer.
pub const KEYS: [(&str, &str); 4] = [
    ("j/k", "move"),
    ("enter", "review"),
    ("/", "filter"),
    ("esc", "clear"),
];

/// The history screen's keys, for the help.
pub const HELP: [(&str, &str); 5] = [
    ("j/k ↑/↓", "move (pgup/pgdn a page, g/G first/last)"),
    ("enter", "open the run in Review"),
    ("/", "filter: words, status:X type:X executor:X"),
    ("", "(several values: status:merged,rejected)"),
    ("esc", "clear the filter"),
];

/// Rows asked for per page.
pub const PAGE: usize = 200;
/// When the cursor is this close to the end of the loaded rows, the next page is read.
const LOOKAHEAD: usize = 50;
/// Runs read from the store per step while filtering (a stale search stops within a step).
const STEP: usize = 500;
/// At most this many new runs are fetched to put above the loaded rows; more and the list is
/// read again from the top.
const MAX_HEAD: usize = 2_000;

/// One run as a history row: what the table and its detail line show, not the whole run, so
/// 100,000 loaded rows stay a few megabytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The run.
    pub id: RunId,
    /// Its task.
    pub task_id: TaskId,
    /// The task's title when the run was made.
    pub title: String,
    /// The task's type (from the task list, else as the run recorded it).
    pub task_type: Option<TaskType>,
    /// Status when read.
    pub status: RunStatus,
    /// The executor.
    pub executor: String,
    /// Attempt number.
    pub attempt: u32,
    /// Gate score.
    pub score: Option<f64>,
    /// Lines added and removed.
    pub lines: Option<(usize, usize)>,
    /// When it was queued (Unix milliseconds).
    pub created_ms: u64,
    /// Who decided, and how (`approve by ana`).
    pub decision: Option<String>,
    /// The first line of its error.
    pub error: Option<String>,
}

impl Row {
    /// The row of `run`; `task_type` from the task list when the task is still there.
    pub fn new(run: &Run, task_type: Option<TaskType>) -> Row {
        let first_line =
            |s: &str| -> String { s.lines().next().unwrap_or("").chars().take(200).collect() };
        Row {
            id: run.id.clone(),
            task_id: run.task_id.clone(),
            title: run.task_title.clone(),
            task_type: task_type.or_else(|| run.routing.as_ref().map(|r| r.task_type)),
            status: run.status,
            executor: run.executor.clone(),
            attempt: run.attempt,
            score: run.score,
            lines: run.diffstat.map(|(_, added, removed)| (added, removed)),
            created_ms: run.created_ms,
            decision: run
                .decision
                .as_ref()
                .map(|d| format!("{} by {}", d.verdict, d.by)),
            error: run.error.as_deref().map(first_line),
        }
    }
}

/// A parsed filter: every group must match; within a group, any value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    statuses: Vec<String>,
    types: Vec<String>,
    executors: Vec<String>,
    words: Vec<String>,
}

impl Filter {
    /// Parses `status:X`, `type:X`, `executor:X` (`exec:X`; values comma-separated, matched
    /// as prefixes) and words matched anywhere in the title, run id or task id.
    pub fn parse(text: &str) -> Filter {
        let mut f = Filter::default();
        for word in text.split_whitespace() {
            let w = word.to_lowercase();
            let values = |v: &str| -> Vec<String> {
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            };
            if let Some(v) = w.strip_prefix("status:") {
                f.statuses.extend(values(v));
            } else if let Some(v) = w.strip_prefix("type:") {
                f.types.extend(values(v));
            } else if let Some(v) = w
                .strip_prefix("executor:")
                .or_else(|| w.strip_prefix("exec:"))
            {
                f.executors.extend(values(v));
            } else {
                f.words.push(w);
            }
        }
        f
    }

    /// Whether nothing is filtered out.
    pub fn is_empty(&self) -> bool {
        self.statuses.is_empty()
            && self.types.is_empty()
            && self.executors.is_empty()
            && self.words.is_empty()
    }

    /// Whether `row` passes.
    pub fn matches(&self, row: &Row) -> bool {
        let any = |wanted: &[String], have: &str| {
            wanted.is_empty() || wanted.iter().any(|w| have.starts_with(w.as_str()))
        };
        let task_type = row.task_type.map_or("?", |t| t.as_str());
        any(&self.statuses, row.status.as_str())
            && any(&self.types, task_type)
            && any(&self.executors, &row.executor.to_lowercase())
            && self.words.iter().all(|w| {
                row.title.to_lowercase().contains(w.as_str())
                    || row.id.0.contains(w.as_str())
                    || row.task_id.0.contains(w.as_str())
            })
    }
}

/// Which rows a page brings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageKind {
    /// Rows below the loaded ones (or the first page).
    Older,
    /// Runs newer than the first loaded row, to put above it.
    Newer,
}

/// A page of rows read from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The query it answers; pages of an older query are dropped.
    pub generation: u64,
    /// Where the rows go.
    pub kind: PageKind,
    /// Matching rows, newest first.
    pub rows: Vec<Row>,
    /// The oldest run read: an older page starts below it.
    pub cursor: Option<RunId>,
    /// Nothing older is left.
    pub done: bool,
    /// Runs read (and decoded) for this page.
    pub scanned: usize,
    /// Runs in the store.
    pub total: usize,
    /// Why the read failed.
    pub error: Option<String>,
}

/// The history screen's state.
#[derive(Debug, Clone, Default)]
pub struct HistoryState {
    /// The rows loaded so far, newest first.
    pub rows: Vec<Row>,
    /// The row with the cursor.
    pub selected: usize,
    /// The first row drawn last time (so the view scrolls only as far as the cursor needs).
    pub offset: Cell<usize>,
    /// The filter text.
    pub filter: String,
    /// The filter is being typed.
    pub filtering: bool,
    /// A page is being read.
    pub loading: bool,
    /// Every matching run is loaded.
    pub done: bool,
    /// Where the next page starts.
    pub cursor: Option<RunId>,
    /// Runs in the store, as of the last page.
    pub total: usize,
    /// Runs read for the loaded rows.
    pub scanned: usize,
    /// The last read's error.
    pub error: Option<String>,
    /// `data.total_runs` when the rows were read: more means new runs to fetch.
    pub seen_total: usize,
    /// The current query; a job of another generation stops and its page is dropped.
    pub generation: Arc<AtomicU64>,
    /// Each task's type, for rows and the `type:` filter.
    types: Arc<HashMap<TaskId, TaskType>>,
}

impl HistoryState {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The selected row.
    pub fn selected_row(&self) -> Option<&Row> {
        self.rows.get(self.selected)
    }
}

/// Called when the screen is shown: reads the first page, or the runs made since.
pub fn show(state: &mut HistoryState, data: &Data) -> Vec<Effect> {
    if state.types.len() != data.tasks.len() {
        state.types = Arc::new(
            data.tasks
                .iter()
                .map(|t| (t.id.clone(), t.task_type))
                .collect(),
        );
    }
    if state.rows.is_empty() && !state.done {
        return restart(state, data);
    }
    if data.total_runs != state.seen_total && !state.loading {
        state.seen_total = data.total_runs;
        return vec![newer(state)];
    }
    Vec::new()
}

/// Reads from the top again (a new filter, or the first time).
fn restart(state: &mut HistoryState, data: &Data) -> Vec<Effect> {
    state.generation.fetch_add(1, Ordering::SeqCst);
    state.rows.clear();
    state.selected = 0;
    state.offset.set(0);
    state.cursor = None;
    state.done = false;
    state.scanned = 0;
    state.error = None;
    state.seen_total = data.total_runs;
    vec![older(state)]
}

/// The job reading the page below the loaded rows.
fn older(state: &mut HistoryState) -> Effect {
    state.loading = true;
    let generation = state.generation();
    let current = state.generation.clone();
    let filter = Filter::parse(&state.filter);
    let types = state.types.clone();
    let cursor = state.cursor.clone();
    Effect::load(move |cx| {
        Msg::History(read_older(
            &*cx.core, generation, &current, &filter, &types, cursor,
        ))
    })
}

/// The job reading the runs made since the first loaded row.
fn newer(state: &mut HistoryState) -> Effect {
    state.loading = true;
    let generation = state.generation();
    let current = state.generation.clone();
    let filter = Filter::parse(&state.filter);
    let types = state.types.clone();
    let newest = state.rows.first().map(|r| r.id.clone());
    Effect::load(move |cx: &JobContext| {
        Msg::History(read_newer(
            &*cx.core, generation, &current, &filter, &types, newest,
        ))
    })
}

/// Reads up to [`PAGE`] matching rows older than `cursor`, stopping early when the query is
/// no longer current.
pub fn read_older(
    store: &dyn crate::api::Core,
    generation: u64,
    current: &AtomicU64,
    filter: &Filter,
    types: &HashMap<TaskId, TaskType>,
    mut cursor: Option<RunId>,
) -> Page {
    let mut page = Page {
        generation,
        kind: PageKind::Older,
        rows: Vec::new(),
        cursor: cursor.clone(),
        done: false,
        scanned: 0,
        total: store.run_count(),
        error: None,
    };
    // Unfiltered, a page is exactly the runs needed; filtered, read in steps.
    let step = if filter.is_empty() { PAGE } else { STEP };
    'read: while current.load(Ordering::SeqCst) == generation {
        let batch = match store.runs_page(cursor.as_ref(), step) {
            Ok(b) => b,
            Err(e) => {
                page.error = Some(e.to_string());
                break;
            }
        };
        let last_batch = batch.len() < step;
        for run in batch {
            page.scanned += 1;
            cursor = Some(run.id.clone());
            let row = Row::new(&run, types.get(&run.task_id).copied());
            if filter.matches(&row) {
                page.rows.push(row);
                if page.rows.len() == PAGE {
                    break 'read;
                }
            }
        }
        if last_batch {
            page.done = true;
            break;
        }
    }
    page.cursor = cursor;
    page
}

/// Reads the matching runs newer than `newest` (every run when None).
pub fn read_newer(
    store: &dyn crate::api::Core,
    generation: u64,
    current: &AtomicU64,
    filter: &Filter,
    types: &HashMap<TaskId, TaskType>,
    newest: Option<RunId>,
) -> Page {
    let mut page = Page {
        generation,
        kind: PageKind::Newer,
        rows: Vec::new(),
        cursor: None,
        done: false,
        scanned: 0,
        total: store.run_count(),
        error: None,
    };
    let mut cursor: Option<RunId> = None;
    'read: while current.load(Ordering::SeqCst) == generation && page.scanned < MAX_HEAD {
        let batch = match store.runs_page(cursor.as_ref(), PAGE) {
            Ok(b) => b,
            Err(e) => {
                page.error = Some(e.to_string());
                break;
            }
        };
        let last_batch = batch.len() < PAGE;
        for run in batch {
            if newest.as_ref().is_some_and(|n| run.id <= *n) {
                page.done = true;
                break 'read;
            }
            page.scanned += 1;
            cursor = Some(run.id.clone());
            let row = Row::new(&run, types.get(&run.task_id).copied());
            if filter.matches(&row) {
                page.rows.push(row);
            }
        }
        if last_batch {
            page.done = true;
            break;
        }
    }
    page.cursor = cursor;
    page
}

/// A page arrived.
pub fn loaded(state: &mut HistoryState, page: Page) {
    if page.generation != state.generation() {
        return;
    }
    state.loading = false;
    state.total = page.total;
    state.error = page.error;
    match page.kind {
        PageKind::Older => {
            state.rows.extend(page.rows);
            state.cursor = page.cursor;
            state.done = page.done;
            state.scanned += page.scanned;
        }
        PageKind::Newer if !page.done => {
            // Too many new runs to put above the loaded rows: they are the first rows of a
            // fresh read from the top, which goes on below them.
            state.rows = page.rows;
            state.cursor = page.cursor;
            state.done = false;
            state.selected = 0;
            state.offset.set(0);
            state.scanned = page.scanned;
        }
        PageKind::Newer => {
            let added = page.rows.len();
            state.selected += if state.rows.is_empty() { 0 } else { added };
            state.offset.set(state.offset.get() + added);
            let mut rows = page.rows;
            rows.append(&mut state.rows);
            state.rows = rows;
            state.scanned += page.scanned;
        }
    }
}

/// Handles a key; the second value is a run to open in Review.
pub fn key(state: &mut HistoryState, data: &Data, key: KeyEvent) -> (Vec<Effect>, Option<RunId>) {
    if state.filtering {
        let before = state.filter.clone();
        if super::app::edit_line(&mut state.filter, key.code).is_some() {
            state.filtering = false;
        }
        let changed = Filter::parse(&before) != Filter::parse(&state.filter);
        return (
            if changed {
                restart(state, data)
            } else {
                Vec::new()
            },
            None,
        );
    }
    let last = state.rows.len().saturating_sub(1);
    match key.code {
        KeyCode::Down | KeyCode::Char('j') => state.selected = (state.selected + 1).min(last),
        KeyCode::Up | KeyCode::Char('k') => state.selected = state.selected.saturating_sub(1),
        KeyCode::PageDown => state.selected = (state.selected + 20).min(last),
        KeyCode::PageUp => state.selected = state.selected.saturating_sub(20),
        KeyCode::Home | KeyCode::Char('g') => state.selected = 0,
        KeyCode::End | KeyCode::Char('G') => state.selected = last,
        KeyCode::Char('/') => state.filtering = true,
        KeyCode::Esc if !state.filter.is_empty() => {
            state.filter.clear();
            return (restart(state, data), None);
        }
        KeyCode::Enter => return (Vec::new(), state.selected_row().map(|r| r.id.clone())),
        _ => {}
    }
    let near_end = state.selected + LOOKAHEAD >= state.rows.len();
    if near_end && !state.loading && !state.done {
        return (vec![older(state)], None);
    }
    (Vec::new(), None)
}

/// A text field has the keyboard.
pub fn captures_text(state: &HistoryState) -> bool {
    state.filtering
}

/// How long ago `then` was: `42s`, `5m`, `3h`, `12d`.
pub fn age(now_ms: u64, then_ms: u64) -> String {
    let s = now_ms.saturating_sub(then_ms) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..172_800 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Unix milliseconds as an RFC 3339 time in UTC, to the second.
pub fn timestamp(ms: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A number with thousands separators.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Cuts `text` to `width` characters, ending in `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        format!("{text:<width$}")
    } else {
        let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// The short name of a status for the table.
fn status_label(status: RunStatus) -> &'static str {
    match status {
        RunStatus::AwaitingApproval => "awaiting",
        other => other.as_str(),
    }
}

/// Which optional columns fit in `width`.
struct Columns {
    executor: bool,
    lines: bool,
}

impl Columns {
    fn for_width(width: u16) -> Columns {
        Columns {
            executor: width >= 72,
            lines: width >= 90,
        }
    }
}

fn header_line(cols: &Columns, t: &Theme) -> Line<'static> {
    let mut text = format!("{:<4} {:<6} {:<11} {:<8} ", "AGE", "RUN", "STATUS", "TYPE");
    if cols.executor {
        text.push_str(&format!("{:<10} ", "EXECUTOR"));
    }
    text.push_str(&format!("{:>5} ", "SCORE"));
    if cols.lines {
        text.push_str(&format!("{:<11} ", "+/−"));
    }
    text.push_str("TITLE");
    Line::styled(text, t.muted().add_modifier(Modifier::BOLD))
}

fn row_line<'a>(
    row: &'a Row,
    status: RunStatus,
    data: &Data,
    cols: &Columns,
    width: usize,
    t: &Theme,
) -> Line<'a> {
    let mut spans = vec![
        Span::styled(
            format!("{:<4} ", age(data.now_ms, row.created_ms)),
            t.muted(),
        ),
        Span::styled(format!("{:<6} ", row.id.short()), t.muted()),
        Span::styled(format!("{:<11} ", status_label(status)), t.status(status)),
        Span::styled(
            format!("{:<8} ", row.task_type.map_or("?", |t| t.as_str())),
            t.text(),
        ),
    ];
    let mut used = 4 + 1 + 6 + 1 + 11 + 1 + 8 + 1;
    if cols.executor {
        spans.push(Span::styled(
            format!("{} ", fit(&row.executor, 10)),
            t.text(),
        ));
        used += 11;
    }
    spans.push(Span::styled(
        format!(
            "{:>5} ",
            row.score.map_or("-".to_string(), |s| format!("{s:.2}"))
        ),
        t.text(),
    ));
    used += 6;
    if cols.lines {
        match row.lines {
            Some((added, removed)) => {
                let plus = format!("+{added}");
                let minus = format!("−{removed}");
                let pad = 11usize.saturating_sub(plus.chars().count() + 1 + minus.chars().count());
                spans.push(Span::styled(plus, ratatui::style::Style::new().fg(t.added)));
                spans.push(Span::raw(" "));
                spans.push(Span::styled(
                    minus,
                    ratatui::style::Style::new().fg(t.removed),
                ));
                spans.push(Span::raw(" ".repeat(pad + 1)));
            }
            None => spans.push(Span::styled(format!("{:<11} ", "-"), t.muted())),
        }
        used += 12;
    }
    spans.push(Span::styled(
        fit(&row.title, width.saturating_sub(used)),
        t.text(),
    ));
    Line::from(spans)
}

/// Draws the screen.
pub fn render(state: &HistoryState, data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let detail_height = if area.height > 12 { 3 } else { 0 };
    let [top, table, detail] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(detail_height),
    ])
    .areas(area);

    let mut status = vec![
        Span::styled(" History ", t.accent()),
        Span::styled(
            format!(
                "{} of {} runs",
                thousands(state.rows.len()),
                thousands(state.total.max(data.total_runs))
            ),
            t.muted(),
        ),
    ];
    if !state.filter.is_empty() && !state.filtering {
        status.push(Span::styled(
            format!(" matching `{}`", state.filter),
            t.muted(),
        ));
    }
    if state.loading {
        status.push(Span::styled("  reading…", t.accent()));
    }
    if let Some(e) = &state.error {
        status.push(Span::styled(
            format!("  {e}"),
            ratatui::style::Style::new().fg(t.fail),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(status)), top);

    let bar_height = u16::from(state.filtering || !state.filter.is_empty());
    let [table, bar] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(bar_height)]).areas(table);
    let block = Block::new().borders(Borders::TOP).border_style(t.border());
    let inner = block.inner(table);
    frame.render_widget(block, table);
    let cols = Columns::for_width(inner.width);
    let rows_area = Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    };
    frame.render_widget(
        Paragraph::new(header_line(&cols, t)),
        Rect { height: 1, ..inner },
    );
    if state.rows.is_empty() {
        let text = if state.loading {
            "Reading the runs…".to_string()
        } else if !state.filter.is_empty() {
            format!("No run matches `{}` (esc clears the filter).", state.filter)
        } else {
            "No runs yet: runs appear here as the orchestrator starts them.".to_string()
        };
        frame.render_widget(Paragraph::new(text).style(t.muted()), rows_area);
    } else {
        let rows = usize::from(rows_area.height);
        let selected = state.selected.min(state.rows.len() - 1);
        let offset = visible_offset(state.offset.get(), selected, rows);
        state.offset.set(offset);
        let lines: Vec<Line<'_>> = state
            .rows
            .iter()
            .enumerate()
            .skip(offset)
            .take(rows)
            .map(|(i, row)| {
                // What the console has seen since the row was read (an approval, say) wins.
                let status = data.runs.get(&row.id).map_or(row.status, |r| r.status);
                let line = row_line(row, status, data, &cols, usize::from(rows_area.width), t);
                if i == selected {
                    line.style(t.selected().add_modifier(Modifier::BOLD))
                } else {
                    line
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), rows_area);
    }

    if detail_height > 0 {
        render_detail(state, t, frame, detail);
    }
    if bar_height > 0 {
        let line = Line::from(vec![
            Span::styled(" filter: ", t.accent()),
            Span::styled(state.filter.clone(), t.text()),
            Span::styled(if state.filtering { "▏" } else { "" }, t.accent()),
            Span::styled("   status:X type:X executor:X words", t.muted()),
        ]);
        frame.render_widget(Paragraph::new(line).style(t.bar()), bar);
    }
}

fn render_detail(state: &HistoryState, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::new().borders(Borders::TOP).border_style(t.border());
    let Some(row) = state.selected_row() else {
        frame.render_widget(block, area);
        return;
    };
    let mut first = vec![
        Span::styled(format!("run {}", row.id), t.muted()),
        Span::styled(format!("  task {}", row.task_id), t.muted()),
        Span::styled(format!("  attempt {}", row.attempt), t.muted()),
        Span::styled(format!("  queued {}", timestamp(row.created_ms)), t.muted()),
    ];
    if let Some(d) = &row.decision {
        first.push(Span::styled(format!("  {d}"), t.muted()));
    }
    let mut lines = vec![Line::from(first)];
    if let Some(e) = &row.error {
        lines.push(Line::styled(
            e.clone(),
            ratatui::style::Style::new().fg(t.fail),
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests;
