//! `5` Logs: a live tail of bosun's own log (the last [`CONSOLE_LOG_CAPACITY`] tracing events,
//! kept by [`crate::api::log`]) and of one run's agent output, with a level filter, follow
//! mode and search. Only the visible lines are formatted, so a flood of output costs nothing
//! here; what is kept is bounded (the telemetry ring, [`super::data::OUTPUT_LINES`] live lines
//! per run, the last [`LOG_TAIL_LINES`] lines of a run's log file, read by the core).
//!
//! [`CONSOLE_LOG_CAPACITY`]: crate::api::log::CONSOLE_LOG_CAPACITY
//! [`LOG_TAIL_LINES`]: crate::api::LOG_TAIL_LINES

use std::cell::Cell;
use std::sync::{Arc, Mutex};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use tracing::Level;

use super::app::{Effect, Msg};
use super::data::Data;
use super::theme::Theme;
use crate::api::log::{LogBuffer, LogRecord};
use crate::model::RunId;

/// The logs screen's keys, for the footer.
pub const KEYS: [(&str, &str); 5] = [
    ("o", "bosun/agent"),
    ("f", "follow"),
    ("l", "level"),
    ("/", "search"),
    ("n/N", "match"),
];

/// The logs screen's keys, for the help.
pub const HELP: [(&str, &str); 8] = [
    ("o", "bosun's log ⇄ the agent's output"),
    ("[ ]", "agent output: previous / next run"),
    ("j/k ↑/↓", "scroll (pgup/pgdn a page, g/G top/bottom)"),
    ("f", "follow new lines on / off"),
    ("l", "bosun's log: lowest level shown"),
    ("/", "search; enter jumps to the newest match"),
    ("n / N", "older / newer match"),
    ("L", "agent output: read the run's log file again"),
];

/// Which log the screen shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pane {
    /// bosun's own tracing events.
    #[default]
    Bosun,
    /// The selected run's agent output.
    Agent,
}

/// The end of a run's log file, read off the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLogTail {
    /// The run.
    pub run: RunId,
    /// Its last lines.
    pub lines: Vec<String>,
    /// Earlier lines were left out.
    pub cut: bool,
}

/// The logs screen's state.
#[derive(Debug, Clone)]
pub struct LogsState {
    /// bosun's log.
    pub source: LogBuffer,
    /// The log shown.
    pub pane: Pane,
    /// bosun's log: the least severe level shown.
    pub level: Level,
    /// Keep the newest line in view.
    pub follow: bool,
    /// bosun's log, not following: the `seq` of the first line in view.
    pub anchor: u64,
    /// Agent output, not following: the index of the first line in view.
    pub agent_top: usize,
    /// The run whose output is shown; the newest run with output when None.
    pub run: Option<RunId>,
    /// The run log file's tail, filled by a job (the answer comes back as a footer message).
    pub tail: Arc<Mutex<Option<RunLogTail>>>,
    /// The search text.
    pub search: String,
    /// The search is being typed.
    pub searching: bool,
    /// The line of the current match (`seq` in bosun's log, index in the agent's output).
    pub current: Option<u64>,
    /// Lines in view at the last draw (for paging).
    pub rows: Cell<usize>,
    /// bosun's log: the next `seq` at the last draw (a different one means new lines).
    pub seen: Cell<u64>,
}

impl Default for LogsState {
    fn default() -> Self {
        LogsState {
            source: crate::api::log::console_log(),
            pane: Pane::Bosun,
            level: Level::INFO,
            follow: true,
            anchor: 0,
            agent_top: 0,
            run: None,
            tail: Arc::new(Mutex::new(None)),
            search: String::new(),
            searching: false,
            current: None,
            rows: Cell::new(20),
            seen: Cell::new(0),
        }
    }
}

impl LogsState {
    /// A state reading bosun's log from `source` (tests give it their own).
    pub fn with_source(source: LogBuffer) -> LogsState {
        LogsState {
            source,
            ..LogsState::default()
        }
    }

    fn has_tail(&self, run: &RunId) -> bool {
        let slot = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().is_some_and(|t| t.run == *run)
    }
}

/// Whether bosun's log has lines the last draw did not show (for a clock that redraws the
/// screen while it is open).
pub fn has_news(state: &LogsState) -> bool {
    state.pane == Pane::Bosun && state.source.next_seq() != state.seen.get()
}

/// The level after `level` in the order `l` cycles through.
fn next_level(level: Level) -> Level {
    match level {
        Level::ERROR => Level::WARN,
        Level::WARN => Level::INFO,
        Level::INFO => Level::DEBUG,
        Level::DEBUG => Level::TRACE,
        _ => Level::ERROR,
    }
}

/// The runs whose output can be shown, newest first: those with output kept, and those that
/// started.
pub fn runs_with_output(data: &Data) -> Vec<RunId> {
    let mut ids: Vec<RunId> = data
        .output
        .keys()
        .cloned()
        .chain(
            data.runs
                .values()
                .filter(|r| r.started_ms.is_some())
                .map(|r| r.id.clone()),
        )
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    ids
}

/// The run the agent pane shows: the chosen one, else the newest active run with output,
/// else the newest with output.
pub fn shown_run(state: &LogsState, data: &Data) -> Option<RunId> {
    if let Some(run) = &state.run {
        return Some(run.clone());
    }
    let active = data
        .output
        .keys()
        .filter(|id| data.runs.get(*id).is_some_and(|r| r.status.is_active()))
        .max();
    active
        .or_else(|| data.output.keys().max())
        .cloned()
        .or_else(|| runs_with_output(data).into_iter().next())
}

/// The job reading `run`'s log file into the state's tail slot.
fn load_tail(state: &LogsState, run: RunId) -> Effect {
    let slot = state.tail.clone();
    Effect::load(move |cx| {
        let answer = match cx.core.run_log(&run) {
            Ok(Some(crate::api::LogTail { lines, cut })) => {
                let n = lines.len();
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(RunLogTail {
                    run: run.clone(),
                    lines,
                    cut,
                });
                format!("run {}: {n} lines from its log", run.short())
            }
            Ok(None) => format!("run {} has no log file", run.short()),
            Err(e) => format!("run {}'s log: {e}", run.short()),
        };
        Msg::Flash(answer)
    })
}

/// The agent pane on `run`, following its newest line (`f` on the board: a run's output full
/// screen).
pub fn follow_run(state: &mut LogsState, data: &Data, run: RunId) -> Vec<Effect> {
    state.pane = Pane::Agent;
    show_run(state, data, Some(run))
}

/// Shows the agent pane on `run`; reads its log file unless the run is still working (its
/// live lines are kept in memory).
fn show_run(state: &mut LogsState, data: &Data, run: Option<RunId>) -> Vec<Effect> {
    state.run = run.clone();
    state.follow = true;
    state.current = None;
    let Some(run) = run.or_else(|| shown_run(state, data)) else {
        return Vec::new();
    };
    let active = data.runs.get(&run).is_some_and(|r| r.status.is_active());
    if active || state.has_tail(&run) {
        Vec::new()
    } else {
        vec![load_tail(state, run)]
    }
}

/// Where the agent pane's lines come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The run's log file (its end, when `cut`).
    File { cut: bool },
    /// The lines kept in memory as the agent printed them.
    Live,
}

/// Calls `f` with the agent pane's lines for `run`: its log file's tail when that was read,
/// else the live lines (the tail stays locked while `f` runs: keep it short).
fn with_agent_lines<T>(
    state: &LogsState,
    data: &Data,
    run: &RunId,
    f: impl FnOnce(&[&str], Origin) -> T,
) -> T {
    let slot = state.tail.lock().unwrap_or_else(|e| e.into_inner());
    match slot.as_ref().filter(|t| t.run == *run) {
        Some(tail) => {
            let lines: Vec<&str> = tail.lines.iter().map(String::as_str).collect();
            f(&lines, Origin::File { cut: tail.cut })
        }
        None => {
            let lines: Vec<&str> = data
                .output
                .get(run)
                .map(|o| o.iter().map(String::as_str).collect())
                .unwrap_or_default();
            f(&lines, Origin::Live)
        }
    }
}

fn shown(record: &LogRecord, level: Level) -> bool {
    record.level <= level
}

/// Byte ranges where `needle` occurs in `hay`, ignoring ASCII case.
pub fn find_all(hay: &str, needle: &str) -> Vec<(usize, usize)> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let mut out = Vec::new();
    if n.is_empty() || n.len() > h.len() {
        return out;
    }
    let mut i = 0;
    while i + n.len() <= h.len() {
        if h[i..i + n.len()].eq_ignore_ascii_case(n) {
            out.push((i, i + n.len()));
            i += n.len();
        } else {
            i += 1;
        }
    }
    out
}

/// The line keys (seq or index) and texts of the current pane, oldest first.
fn pane_lines(state: &LogsState, data: &Data) -> Vec<(u64, String)> {
    match state.pane {
        Pane::Bosun => state.source.read(|records| {
            records
                .iter()
                .filter(|r| shown(r, state.level))
                .map(|r| (r.seq, format!("{} {}", r.target, r.message)))
                .collect()
        }),
        Pane::Agent => match shown_run(state, data) {
            Some(run) => with_agent_lines(state, data, &run, |lines, _| {
                lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (i as u64, (*l).to_string()))
                    .collect()
            }),
            None => Vec::new(),
        },
    }
}

/// The index of the first line in view among `len` lines (`keys` are the lines' keys).
fn top_index(state: &LogsState, keys: &[u64], rows: usize) -> usize {
    let len = keys.len();
    if state.follow {
        return len.saturating_sub(rows);
    }
    match state.pane {
        Pane::Bosun => keys.partition_point(|s| *s < state.anchor),
        Pane::Agent => state.agent_top,
    }
    .min(len.saturating_sub(1))
}

/// Puts the first line in view at `top` (following when that shows the newest line).
fn scroll_to(state: &mut LogsState, keys: &[u64], top: usize, rows: usize) {
    let last_top = keys.len().saturating_sub(rows);
    if top >= last_top {
        state.follow = true;
        return;
    }
    state.follow = false;
    match state.pane {
        Pane::Bosun => state.anchor = keys.get(top).copied().unwrap_or(0),
        Pane::Agent => state.agent_top = top,
    }
}

/// Moves to the match older (`up`) or newer than the current one (or than the view).
fn jump(state: &mut LogsState, data: &Data, up: bool) {
    if state.search.is_empty() {
        return;
    }
    let lines = pane_lines(state, data);
    let keys: Vec<u64> = lines.iter().map(|(k, _)| *k).collect();
    let rows = state.rows.get().max(1);
    let top = top_index(state, &keys, rows);
    // Start from the current match, else from the bottom (up) or top (down) of the view.
    let from = match state
        .current
        .and_then(|c| keys.iter().position(|k| *k == c))
    {
        Some(i) => i,
        None if up => (top + rows).min(lines.len()),
        None => top.saturating_sub(1),
    };
    let hit = |(_, text): &&(u64, String)| !find_all(text, &state.search).is_empty();
    let found = if up {
        lines[..from.min(lines.len())].iter().rev().find(hit)
    } else {
        lines.iter().skip(from + 1).find(hit)
    };
    if let Some((key, _)) = found {
        let key = *key;
        state.current = Some(key);
        let i = keys.iter().position(|k| *k == key).unwrap_or(0);
        if i < top || i >= top + rows {
            // Put the match a third of the way down.
            scroll_to(state, &keys, i.saturating_sub(rows / 3), rows);
        }
    }
}

/// Handles a key.
pub fn key(state: &mut LogsState, data: &Data, key: KeyEvent) -> Vec<Effect> {
    if state.searching {
        if let Some(end) = super::app::edit_line(&mut state.search, key.code) {
            state.searching = false;
            state.current = None;
            if end == super::app::LineEnd::Done {
                state.follow = true;
                jump(state, data, true);
            }
        }
        return Vec::new();
    }
    let rows = state.rows.get().max(1);
    let keys = || {
        pane_lines(state, data)
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
    };
    match key.code {
        KeyCode::Char('o') => {
            state.follow = true;
            state.current = None;
            state.pane = match state.pane {
                Pane::Bosun => Pane::Agent,
                Pane::Agent => Pane::Bosun,
            };
            if state.pane == Pane::Agent {
                let run = state.run.clone();
                return show_run(state, data, run);
            }
        }
        KeyCode::Char('[') | KeyCode::Char(']') if state.pane == Pane::Agent => {
            let runs = runs_with_output(data);
            let now = shown_run(state, data);
            let i = now.and_then(|r| runs.iter().position(|x| *x == r));
            // The list is newest first: `[` goes to an older run.
            let next = match (i, key.code == KeyCode::Char('[')) {
                (Some(i), true) => runs.get(i + 1).or(runs.last()),
                (Some(i), false) => runs.get(i.saturating_sub(1)),
                (None, _) => runs.first(),
            };
            let next = next.cloned();
            return show_run(state, data, next);
        }
        KeyCode::Char('L') if state.pane == Pane::Agent => {
            if let Some(run) = shown_run(state, data) {
                return vec![load_tail(state, run)];
            }
        }
        KeyCode::Char('f') => {
            if state.follow {
                let keys = keys();
                let top = top_index(state, &keys, rows);
                state.follow = false;
                match state.pane {
                    Pane::Bosun => state.anchor = keys.get(top).copied().unwrap_or(0),
                    Pane::Agent => state.agent_top = top,
                }
            } else {
                state.follow = true;
            }
        }
        KeyCode::Char('l') => {
            state.level = next_level(state.level);
            state.current = None;
        }
        KeyCode::Char('/') => {
            state.searching = true;
            state.search.clear();
        }
        KeyCode::Char('n') => jump(state, data, true),
        KeyCode::Char('N') => jump(state, data, false),
        KeyCode::Esc => {
            state.search.clear();
            state.current = None;
        }
        code => {
            let keys = keys();
            let top = top_index(state, &keys, rows);
            let target = match code {
                KeyCode::Up | KeyCode::Char('k') => Some(top.saturating_sub(1)),
                KeyCode::Down | KeyCode::Char('j') => Some(top + 1),
                KeyCode::PageUp => Some(top.saturating_sub(rows)),
                KeyCode::PageDown => Some(top + rows),
                KeyCode::Home | KeyCode::Char('g') => Some(0),
                KeyCode::End | KeyCode::Char('G') => Some(usize::MAX),
                _ => None,
            };
            if let Some(target) = target {
                scroll_to(state, &keys, target, rows);
            }
        }
    }
    Vec::new()
}

/// A text field has the keyboard.
pub fn captures_text(state: &LogsState) -> bool {
    state.searching
}

/// Width of the module column of bosun's log.
const TARGET: usize = 18;

/// `text` cut to `width` characters, ending in `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Unix milliseconds as `HH:MM:SS` (UTC).
pub fn clock(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3_600, (s / 60) % 60, s % 60)
}

/// Text with control characters (terminal escapes, carriage returns) removed and tabs
/// expanded, so a line cannot move the cursor.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' => out.push_str("    "),
            '\u{1b}' => {
                // Skip an escape sequence: ESC [ … final byte, or ESC and one character.
                if chars.next_if_eq(&'[').is_some() {
                    for n in chars.by_ref() {
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Spans of `text` with the matches of `search` highlighted.
fn highlighted<'a>(text: String, search: &str, base: Style, t: &Theme) -> Vec<Span<'a>> {
    let hits = find_all(&text, search);
    if hits.is_empty() {
        return vec![Span::styled(text, base)];
    }
    let mark = Style::new().fg(t.accent).add_modifier(Modifier::REVERSED);
    let mut spans = Vec::new();
    let mut at = 0;
    for (s, e) in hits {
        if s > at {
            spans.push(Span::styled(text[at..s].to_string(), base));
        }
        spans.push(Span::styled(text[s..e].to_string(), mark));
        at = e;
    }
    if at < text.len() {
        spans.push(Span::styled(text[at..].to_string(), base));
    }
    spans
}

fn level_style(level: Level, t: &Theme) -> Style {
    match level {
        Level::ERROR => Style::new().fg(t.fail).add_modifier(Modifier::BOLD),
        Level::WARN => Style::new().fg(t.warn),
        Level::INFO => Style::new().fg(t.info),
        _ => t.muted(),
    }
}

/// Draws the screen.
pub fn render(state: &LogsState, data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let [title, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let block = Block::new().borders(Borders::TOP).border_style(t.border());
    let inner = block.inner(body);
    frame.render_widget(block, body);
    let bar_height = u16::from(state.searching || !state.search.is_empty());
    let [text_area, bar] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(bar_height)]).areas(inner);
    let rows = usize::from(text_area.height);
    state.rows.set(rows);

    let mut head = vec![
        Span::styled(" Logs ", t.accent()),
        Span::styled(
            if state.pane == Pane::Bosun {
                "[bosun]"
            } else {
                " bosun "
            },
            if state.pane == Pane::Bosun {
                t.accent()
            } else {
                t.muted()
            },
        ),
        Span::raw(" "),
        Span::styled(
            if state.pane == Pane::Agent {
                "[agent]"
            } else {
                " agent "
            },
            if state.pane == Pane::Agent {
                t.accent()
            } else {
                t.muted()
            },
        ),
        Span::styled(
            if state.follow {
                "  following  "
            } else {
                "  paused (f follows)  "
            },
            if state.follow {
                t.accent()
            } else {
                Style::new().fg(t.warn)
            },
        ),
    ];
    let lines: Vec<Line<'_>> = match state.pane {
        Pane::Bosun => {
            state.seen.set(state.source.next_seq());
            head.push(Span::styled(
                format!("level ≥ {}", state.level.as_str().to_lowercase()),
                t.muted(),
            ));
            state.source.read(|records| {
                let keys: Vec<u64> = records
                    .iter()
                    .filter(|r| shown(r, state.level))
                    .map(|r| r.seq)
                    .collect();
                let top = top_index(state, &keys, rows);
                records
                    .iter()
                    .filter(|r| shown(r, state.level))
                    .skip(top)
                    .take(rows)
                    .map(|r| {
                        // `bosun_core::orchestrator` shows as `orchestrator`.
                        let target = r
                            .target
                            .split_once("::")
                            .filter(|(krate, _)| krate.starts_with("bosun"))
                            .map_or(r.target, |(_, module)| module);
                        let target = fit(target, TARGET);
                        let mut spans = vec![
                            Span::styled(format!("{} ", clock(r.at_ms)), t.muted()),
                            Span::styled(
                                format!("{:<5} ", r.level.as_str()),
                                level_style(r.level, t),
                            ),
                            Span::styled(format!("{target:<TARGET$} "), t.muted()),
                        ];
                        spans.extend(highlighted(
                            printable(&r.message),
                            &state.search,
                            t.text(),
                            t,
                        ));
                        let line = Line::from(spans);
                        if state.current == Some(r.seq) {
                            line.style(t.selected())
                        } else {
                            line
                        }
                    })
                    .collect()
            })
        }
        Pane::Agent => match shown_run(state, data) {
            None => {
                head.push(Span::styled("no run has printed anything yet", t.muted()));
                Vec::new()
            }
            Some(run) => {
                let info = data.runs.get(&run);
                head.push(Span::styled(format!("run {} ", run.short()), t.text()));
                if let Some(r) = info {
                    head.push(Span::styled(format!("{} ", r.status), t.status(r.status)));
                    head.push(Span::styled(format!("{} ", r.task_title), t.muted()));
                }
                let (lines, origin) = with_agent_lines(state, data, &run, |all, origin| {
                    let keys: Vec<u64> = (0..all.len() as u64).collect();
                    let top = top_index(state, &keys, rows);
                    let lines: Vec<(usize, String)> = all
                        .iter()
                        .enumerate()
                        .skip(top)
                        .take(rows)
                        .map(|(i, l)| (i, printable(l)))
                        .collect();
                    ((lines, all.len()), origin)
                });
                let (lines, total) = lines;
                head.push(Span::styled(
                    match origin {
                        Origin::File { cut } => format!(
                            "· log file, {}{total} lines",
                            if cut { "last " } else { "" }
                        ),
                        Origin::Live => format!("· live, {total} lines"),
                    },
                    t.muted(),
                ));
                if data.skipped_lines > 0 && origin == Origin::Live {
                    head.push(Span::styled(
                        format!(
                            " · {} lines skipped under load (L reads the log file)",
                            data.skipped_lines
                        ),
                        Style::new().fg(t.warn),
                    ));
                }
                lines
                    .into_iter()
                    .map(|(i, text)| {
                        let base = if text.starts_with("[stderr]") {
                            Style::new().fg(t.warn)
                        } else if text.starts_with("[bosun]") {
                            t.muted()
                        } else {
                            t.text()
                        };
                        let line = Line::from(highlighted(text, &state.search, base, t));
                        if state.current == Some(i as u64) {
                            line.style(t.selected())
                        } else {
                            line
                        }
                    })
                    .collect()
            }
        },
    };
    frame.render_widget(Paragraph::new(Line::from(head)), title);
    if lines.is_empty() && state.pane == Pane::Bosun {
        frame.render_widget(
            Paragraph::new("Nothing logged at this level yet (l shows more).").style(t.muted()),
            text_area,
        );
    } else {
        frame.render_widget(Paragraph::new(lines), text_area);
    }
    if bar_height > 0 {
        let line = Line::from(vec![
            Span::styled(" search: ", t.accent()),
            Span::styled(state.search.clone(), t.text()),
            Span::styled(if state.searching { "▏" } else { "" }, t.accent()),
            Span::styled(
                if state.searching {
                    "   enter: newest match"
                } else {
                    "   n older · N newer · esc clears"
                },
                t.muted(),
            ),
        ]);
        frame.render_widget(Paragraph::new(line).style(t.bar()), bar);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_ignore_ascii_case_and_respect_characters() {
        assert_eq!(find_all("Error: error", "ERROR"), [(0, 5), (7, 12)]);
        assert_eq!(find_all("привет мир", "мир"), [(13, 19)]);
        assert!(find_all("abc", "").is_empty());
        assert!(find_all("ab", "abc").is_empty());
    }

    #[test]
    fn escapes_and_control_characters_are_not_printed() {
        assert_eq!(printable("\u{1b}[31mred\u{1b}[0m\tx\r"), "red    x");
    }

    #[test]
    fn clock_is_utc() {
        assert_eq!(clock(1_735_689_600_000 + 3_723_000), "01:02:03");
    }
}
