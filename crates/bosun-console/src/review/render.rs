//! Drawing the review screen: an info line, the file list, the diff window (only the rows on
//! screen are built), the gate panel and risk card, and the decision dialogs. Wide terminals
//! get three columns; narrower ones stack the panel under the diff and hide the file list
//! until `f`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use unicode_width::UnicodeWidthChar;

use super::rows::{Change, Row, status_letter};
use super::{CHUNK, Mode, ReviewState};
use crate::app::centered;
use crate::data::Data;
use crate::highlight::{MAX_LINE, Spans};
use crate::model::ChangeStatus;
use crate::model::{FileDiff, LineKind};
use crate::model::{GateResult, Severity, Verdict};
use crate::theme::Theme;

/// From this width the gate panel sits beside the diff (below it otherwise).
pub const WIDE: u16 = 150;
/// From this width the file list is shown unless hidden with `f`.
pub const FILES_SHOWN: u16 = 100;
const FILES_WIDTH: u16 = 30;
const PANEL_WIDTH: u16 = 46;
/// Cells of a gate's score bar.
const BAR: usize = 6;

/// Where each part of the screen goes.
struct Areas {
    info: Rect,
    files: Option<Rect>,
    diff: Rect,
    panel: Option<Rect>,
}

fn areas(state: &ReviewState, area: Rect) -> Areas {
    let [info, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let files_shown = state.files_shown.unwrap_or(area.width >= FILES_SHOWN);
    let files_width = if files_shown {
        (area.width / 3).min(FILES_WIDTH)
    } else {
        0
    };
    let panel_shown = !state.panel_hidden;
    if area.width >= WIDE {
        let [files, diff, panel] = Layout::horizontal([
            Constraint::Length(files_width),
            Constraint::Min(20),
            Constraint::Length(if panel_shown { PANEL_WIDTH } else { 0 }),
        ])
        .areas(rest);
        return Areas {
            info,
            files: files_shown.then_some(files),
            diff,
            panel: panel_shown.then_some(panel),
        };
    }
    let panel_height = match rest.height {
        _ if !panel_shown => 0,
        30.. => 10,
        18.. => 7,
        12.. => 5,
        _ => 0,
    };
    let [top, panel] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(panel_height)]).areas(rest);
    let [files, diff] =
        Layout::horizontal([Constraint::Length(files_width), Constraint::Min(10)]).areas(top);
    Areas {
        info,
        files: files_shown.then_some(files),
        diff,
        panel: (panel_height > 0).then_some(panel),
    }
}

/// Rows of the diff shown at once in a body of `area`.
pub(super) fn diff_height(state: &ReviewState, area: Rect) -> usize {
    // The diff's title line takes one row.
    usize::from(areas(state, area).diff.height.saturating_sub(1))
}

/// Draws the screen.
pub fn render(state: &ReviewState, data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let Some(run) = &state.run else {
        frame.render_widget(
            Paragraph::new(
                "No run selected: pick one on the Board (1) or in History (3) and press enter.",
            )
            .style(t.muted())
            .block(Block::new().borders(Borders::TOP).border_style(t.border())),
            area,
        );
        return;
    };
    let a = areas(state, area);
    let Some(change) = &state.change else {
        let (text, style) = match &state.error {
            Some(e) => (e.clone(), Style::new().fg(t.fail)),
            None => (format!("loading run {} …", run.short()), t.muted()),
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(style)
                .wrap(Wrap { trim: false })
                .block(Block::new().borders(Borders::TOP).border_style(t.border())),
            area,
        );
        return;
    };
    render_info(state, change, data, t, frame, a.info);
    if let Some(files) = a.files {
        render_files(state, change, t, frame, files);
    }
    render_diff(state, change, t, frame, a.diff);
    if let Some(panel) = a.panel {
        render_panel(change, t, frame, panel, area.width >= WIDE);
    }
    render_dialog(state, change, data, t, frame, a.diff);
}

fn render_info(
    state: &ReviewState,
    change: &Change,
    data: &Data,
    t: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let run = &change.run;
    let status = state.status(data).unwrap_or(run.status);
    let (kept, all) = state.kept();
    // The title goes last: it is the part that may be cut.
    let mut spans = vec![
        Span::styled(format!(" {} ", run.id.short()), t.muted()),
        Span::styled(status.to_string(), t.status(status)),
    ];
    if change.pending > 0 {
        spans.push(Span::styled(
            format!("  loading {} more files…", change.pending),
            Style::new().fg(t.warn),
        ));
    }
    if let Some(score) = run.score {
        spans.push(Span::styled(format!("  score {score:.2}"), t.muted()));
    }
    // Best-of: the other candidate's score and size, one key away.
    if let Some(rival) = run.rival.as_ref().and_then(|id| data.runs.get(id)) {
        let score = rival.score.map_or("-".into(), |s| format!("{s:.2}"));
        let stat = rival
            .diffstat
            .map_or(String::new(), |(f, i, d)| format!(" +{i} −{d}/{f}"));
        spans.push(Span::styled(
            format!("  vs {} {score}{stat} (o)", rival.id.short()),
            t.accent(),
        ));
    }
    if kept == all {
        spans.push(Span::styled(format!("  {all} hunks"), t.muted()));
    } else {
        spans.push(Span::styled(
            format!("  keep {kept} of {all} hunks"),
            t.accent(),
        ));
    }
    // From the files' summaries: counting the lines of a 100,000-line change was most of
    // every frame's time (PgDn 6 ms against less's 2).
    let added: usize = change.files.iter().map(|f| f.added).sum();
    let removed: usize = change.files.iter().map(|f| f.removed).sum();
    spans.push(Span::styled(
        format!(
            "  +{added} −{removed} in {} files  ",
            change.diff.files.len()
        ),
        t.muted(),
    ));
    spans.push(Span::styled(run.task_title.clone(), t.accent()));
    let notice = state
        .notice
        .as_ref()
        .filter(|_| state.notice_while.is_none_or(|s| s == status));
    let line = match notice {
        Some(notice) => Line::from(vec![
            Span::styled(format!(" {} ", run.id.short()), t.muted()),
            Span::styled(notice.clone(), Style::new().fg(t.warn)),
        ]),
        None => Line::from(spans),
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// How much of a file is kept: its mark in the file list and on its header.
fn keep_marks(units: &[bool]) -> (&'static str, &'static str) {
    match (units.iter().all(|k| *k), units.iter().any(|k| *k)) {
        (true, _) => ("●", "[x] "),
        (false, true) => ("◐", "[~] "),
        (false, false) => ("○", "[ ] "),
    }
}

fn severity_icon(s: Severity) -> &'static str {
    match s {
        Severity::Risk => "▲",
        Severity::Notice => "◆",
        Severity::Info => "•",
    }
}

/// `text` cut to `width` columns from the left, with `…` in front when cut.
fn tail(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    let skip = count + 1 - width.max(1);
    let mut s = String::from("…");
    s.extend(text.chars().skip(skip));
    s
}

fn render_files(
    state: &ReviewState,
    change: &Change,
    t: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(t.border())
        .title(Span::styled(
            format!(" Files {} ", change.diff.files.len()),
            t.muted(),
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let current = change.rows.get(state.cursor).map_or(0, |r| r.file());
    let rows = usize::from(inner.height);
    let offset = current
        .saturating_sub(rows / 2)
        .min(change.diff.files.len().saturating_sub(rows));
    let width = usize::from(inner.width);
    let lines: Vec<Line<'_>> = change
        .diff
        .files
        .iter()
        .zip(&change.files)
        .enumerate()
        .skip(offset)
        .take(rows)
        .map(|(i, (file, summary))| {
            let counts = format!(" +{} −{}", summary.added, summary.removed);
            let notes = match summary.worst {
                Some(s) => format!(" {}{}", severity_icon(s), summary.notes),
                None => String::new(),
            };
            let room = width.saturating_sub(4 + counts.chars().count() + notes.chars().count());
            let units = state.keep.get(i).map_or(&[][..], Vec::as_slice);
            let mut spans = vec![
                Span::styled(keep_marks(units).0, t.accent()),
                Span::styled(format!("{} ", status_letter(file.status)), t.muted()),
                Span::styled(format!("{:<room$}", tail(file.path(), room)), t.text()),
                Span::styled(format!(" +{}", summary.added), Style::new().fg(t.added)),
                Span::styled(format!(" −{}", summary.removed), Style::new().fg(t.removed)),
            ];
            if let Some(s) = summary.worst {
                spans.push(Span::styled(notes, t.severity(s)));
            }
            let line = Line::from(spans);
            if i == current {
                line.style(t.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_diff(state: &ReviewState, change: &Change, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    if let Some(failure) = &change.failure {
        render_failure(failure, t, frame, area);
        return;
    }
    let current = change.rows.get(state.cursor).map_or(0, |r| r.file());
    let title = change
        .diff
        .files
        .get(current)
        .map_or_else(String::new, |f| format!(" {} ", f.path()));
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(t.border())
        .title(Span::styled(title, t.accent()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let lines: Vec<Line<'_>> = change
        .rows
        .iter()
        .enumerate()
        .skip(state.offset)
        .take(usize::from(inner.height))
        .map(|(i, row)| {
            let line = row_line(state, change, t, *row, width);
            if i == state.cursor {
                let spans = line
                    .spans
                    .into_iter()
                    .map(|s| {
                        let style = s.style.patch(t.selected());
                        s.style(style)
                    })
                    .collect::<Vec<_>>();
                Line::from(spans).style(t.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A run that ended without a change: why (wrapped), then as much of the end of its log as
/// fits.
fn render_failure(failure: &super::Failure, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(t.border())
        .title(Span::styled(" Why it ended without a change ", t.accent()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width.max(1));
    let reason: Vec<Line<'_>> = failure
        .reason
        .lines()
        .map(|l| Line::styled(l.to_string(), Style::new().fg(t.fail)))
        .collect();
    let wrapped: usize = failure
        .reason
        .lines()
        .map(|l| l.chars().count().div_ceil(width).max(1))
        .sum();
    let reason_rows = u16::try_from(wrapped)
        .unwrap_or(u16::MAX)
        .min(inner.height / 2);
    let [top, _, bottom] = Layout::vertical([
        Constraint::Length(reason_rows),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(reason).wrap(Wrap { trim: false }), top);
    let mut lines = Vec::new();
    if failure.log.is_empty() {
        lines.push(Line::styled("the agent's log is empty or gone", t.muted()));
    } else {
        let room = usize::from(bottom.height.saturating_sub(1));
        let shown = failure.log.len().min(room);
        let more = if failure.cut || shown < failure.log.len() {
            format!("its last {shown} lines")
        } else {
            format!("{shown} lines")
        };
        lines.push(Line::styled(format!("the agent's log, {more}:"), t.muted()));
        lines.extend(
            failure.log[failure.log.len() - shown..]
                .iter()
                .map(|l| Line::styled(format!("│ {}", crate::logs::printable(l)), t.text())),
        );
    }
    frame.render_widget(Paragraph::new(lines), bottom);
}

fn check(kept: bool, t: &Theme) -> Span<'static> {
    if kept {
        Span::styled("[x] ", t.accent())
    } else {
        Span::styled("[ ] ", t.muted())
    }
}

fn row_line(
    state: &ReviewState,
    change: &Change,
    t: &Theme,
    row: Row,
    width: usize,
) -> Line<'static> {
    let nw = change.number_width;
    let kept = |file: usize, unit: usize| {
        state
            .keep
            .get(file)
            .and_then(|f| f.get(unit))
            .copied()
            .unwrap_or(true)
    };
    match row {
        Row::File { file } => {
            let f = &change.diff.files[file as usize];
            let summary = &change.files[file as usize];
            let units = state.keep.get(file as usize).map_or(&[][..], Vec::as_slice);
            let mark = keep_marks(units).1;
            let mut spans = vec![
                Span::styled(mark, t.accent()),
                Span::styled(f.path().to_string(), t.accent()),
            ];
            if let (ChangeStatus::Renamed, Some(old)) = (f.status, &f.old_path) {
                spans.push(Span::styled(format!(" ← {old}"), t.muted()));
            }
            spans.push(Span::styled(
                format!("  {}", status_word(f.status)),
                t.muted(),
            ));
            spans.push(Span::styled(
                format!("  +{}", summary.added),
                Style::new().fg(t.added),
            ));
            spans.push(Span::styled(
                format!(" −{}", summary.removed),
                Style::new().fg(t.removed),
            ));
            if let Some(s) = summary.worst {
                spans.push(Span::styled(
                    format!("  {}{}", severity_icon(s), summary.notes),
                    t.severity(s),
                ));
            }
            Line::from(spans).style(t.bar())
        }
        Row::Whole { file } => {
            let f = &change.diff.files[file as usize];
            Line::from(vec![
                Span::raw(" ".repeat(2 * nw + 2)),
                check(kept(file as usize, 0), t),
                Span::styled(whole_file(f), t.muted()),
            ])
        }
        Row::Hunk { file, hunk } => {
            let h = &change.diff.files[file as usize].hunks[hunk as usize];
            let on = kept(file as usize, hunk as usize);
            let title = change
                .symbols
                .get(&(file, hunk))
                .cloned()
                .unwrap_or_else(|| h.header.clone());
            let units = change.files[file as usize].units;
            Line::from(vec![
                Span::raw(" ".repeat(2 * nw + 2)),
                check(on, t),
                Span::styled(
                    format!(
                        "@@ -{},{} +{},{} @@ ",
                        h.old_start, h.old_lines, h.new_start, h.new_lines
                    ),
                    t.muted(),
                ),
                Span::styled(title, if on { t.text() } else { t.muted() }),
                Span::styled(format!("  {}/{units}", hunk + 1), t.muted()),
            ])
        }
        Row::Line {
            file,
            hunk,
            line,
            mark,
        } => {
            let l = &change.diff.files[file as usize].hunks[hunk as usize].lines[line as usize];
            let on = kept(file as usize, hunk as usize);
            let number = |n: Option<u32>| n.map_or(" ".repeat(nw), |n| format!("{n:>nw$}"));
            let (sign, fg, bg) = match l.kind {
                LineKind::Added => ("+", t.added, Some(t.added_bg)),
                LineKind::Removed => ("-", t.removed, Some(t.removed_bg)),
                LineKind::Context => (" ", t.text, None),
            };
            let mut base = if on { Style::new().fg(fg) } else { t.muted() };
            if let (true, Some(bg)) = (on && !t.monochrome, bg) {
                base = base.bg(bg);
            }
            let gutter = match mark {
                Some(s) => Span::styled("▌", t.severity(s)),
                None => Span::raw(" "),
            };
            let mut spans = vec![
                gutter,
                Span::styled(
                    format!("{} {} ", number(l.old_no), number(l.new_no)),
                    t.muted(),
                ),
                Span::styled(format!("{sign} "), base),
            ];
            // A dropped hunk is shown without syntax colors.
            let colors = if on {
                state
                    .highlights
                    .chunks
                    .get(&(file, hunk, line / CHUNK as u32))
                    .filter(|_| state.highlights.theme == t.syntax)
                    .and_then(|c| c.lines.get(line as usize % CHUNK))
            } else {
                None
            };
            let room = width.saturating_sub(2 * nw + 5);
            // Credentials were masked by the core before the change reached the console.
            let mark = change
                .emphasis(file, hunk, line)
                .map(|(a, b)| (a as usize, b as usize));
            spans.extend(code(&l.text, colors, base, room, state.hscroll, mark));
            Line::from(spans)
        }
        Row::Note { annotation, .. } => {
            let Some(a) = change.annotation(annotation) else {
                return Line::default();
            };
            let mut spans = vec![
                Span::raw(" ".repeat(2 * nw + 4)),
                Span::styled(
                    format!("{} {}", severity_icon(a.severity), a.message),
                    t.severity(a.severity),
                ),
                Span::styled(format!("  {}", a.kind), t.muted()),
            ];
            if let Some(symbol) = &a.symbol {
                spans.push(Span::styled(format!(" · {symbol}"), t.muted()));
            }
            Line::from(spans)
        }
    }
}

fn status_word(status: ChangeStatus) -> &'static str {
    match status {
        ChangeStatus::Added => "added",
        ChangeStatus::Modified => "modified",
        ChangeStatus::Deleted => "deleted",
        ChangeStatus::Renamed => "renamed",
    }
}

/// What a file without text hunks is.
fn whole_file(f: &FileDiff) -> String {
    if f.binary {
        return "binary file changed".into();
    }
    if let Some((old, new)) = f.mode_change {
        return format!("mode {old:o} → {new:o}");
    }
    match f.status {
        ChangeStatus::Renamed => format!(
            "renamed from {}, content unchanged",
            f.old_path.as_deref().unwrap_or("?")
        ),
        ChangeStatus::Added => "empty file added".into(),
        ChangeStatus::Deleted => "empty file deleted".into(),
        ChangeStatus::Modified => "no text change".into(),
    }
}

/// The visible part of a code line (at most `room` columns) as spans: syntax colors over
/// `base` when there are any, tabs expanded, control characters shown as symbols. Only the
/// part that fits is looked at, so a megabyte-long line costs no more than a short one.
/// A line of code as spans: its syntax colors over `base`, the bytes in `mark` (the words
/// that changed, against the line it replaces) emphasised, `skip` columns scrolled off to the
/// left, at most `room` columns; tabs expanded, control characters shown as symbols.
fn code(
    text: &str,
    colors: Option<&Spans>,
    base: Style,
    room: usize,
    skip: usize,
    mark: Option<(usize, usize)>,
) -> Vec<Span<'static>> {
    let plain: Spans = vec![(text.len().min(u32::MAX as usize) as u32, Style::new())];
    let colors = match colors {
        Some(c) if !c.is_empty() && text.len() <= MAX_LINE => c,
        _ => &plain,
    };
    let emphasis = Modifier::BOLD | Modifier::UNDERLINED;
    let mut out: Vec<Span<'static>> = Vec::new();
    let mut run = String::new();
    let mut run_style = base;
    let mut cols = 0usize;
    let mut start = 0usize;
    'segments: for (end, style) in colors {
        let end = (*end as usize).min(text.len());
        let Some(piece) = text.get(start..end) else {
            break;
        };
        // Styles worked out once per segment, not per character.
        let plain_style = base.patch(*style);
        let marked_style = plain_style.add_modifier(emphasis);
        let marked = mark.filter(|&(from, to)| from < end && to > start);
        for (offset, c) in piece.char_indices() {
            let at = start + offset;
            let (shown, w) = match c {
                '\t' => (None, 4 - cols % 4),
                c if c.is_control() => {
                    let symbol = match c {
                        '\u{7f}' => '␡',
                        c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('·'),
                        _ => '·',
                    };
                    (Some(symbol), 1)
                }
                c => (Some(c), c.width().unwrap_or(0)),
            };
            let col = cols;
            cols += w;
            if col < skip {
                continue;
            }
            if cols - skip > room {
                break 'segments;
            }
            let style = match marked {
                Some((from, to)) if (from..to).contains(&at) => marked_style,
                _ => plain_style,
            };
            if style != run_style && !run.is_empty() {
                out.push(Span::styled(std::mem::take(&mut run), run_style));
            }
            run_style = style;
            match shown {
                Some(c) => run.push(c),
                None => run.push_str(&" ".repeat(w)),
            }
        }
        start = end;
    }
    if !run.is_empty() {
        out.push(Span::styled(run, run_style));
    }
    out
}

fn render_panel(change: &Change, t: &Theme, frame: &mut Frame<'_>, area: Rect, side: bool) {
    let card = &change.card;
    let gates = &change.run.gates;
    if side {
        let gate_rows = u16::try_from(gates.len() * 2 + 2).unwrap_or(u16::MAX);
        let [top, bottom] = Layout::vertical([
            Constraint::Length(gate_rows.max(3).min(area.height / 2)),
            Constraint::Min(3),
        ])
        .areas(area);
        render_gates(gates, t, frame, top);
        render_card(card, t, frame, bottom);
    } else if area.width >= 70 {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(area);
        render_gates(gates, t, frame, left);
        render_card(card, t, frame, right);
    } else {
        render_gates(gates, t, frame, area);
    }
}

/// `████░░` for a score in 0..1.
pub fn score_bar(score: f64) -> String {
    let filled = (score.clamp(0.0, 1.0) * BAR as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(BAR - filled))
}

fn verdict_icon(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✓",
        Verdict::Fail => "✗",
        Verdict::Warn => "!",
        Verdict::Skip => "-",
    }
}

fn render_gates(gates: &[GateResult], t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(t.border())
        .title(Span::styled(" Gates ", t.muted()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if gates.is_empty() {
        frame.render_widget(Paragraph::new("no gate ran").style(t.muted()), inner);
        return;
    }
    let detailed = usize::from(inner.height) >= gates.len() * 2;
    let name_width = gates
        .iter()
        .map(|g| g.name.chars().count())
        .max()
        .unwrap_or(4)
        .min(10);
    let mut lines = Vec::new();
    for g in gates {
        let verdict = t.verdict(g.verdict);
        let mut spans = vec![
            Span::styled(format!("{} ", verdict_icon(g.verdict)), verdict),
            Span::styled(format!("{:<name_width$} ", g.name), t.text()),
        ];
        if g.verdict == Verdict::Skip {
            spans.push(Span::styled("skipped", t.muted()));
        } else {
            spans.push(Span::styled(score_bar(g.score), verdict));
            spans.push(Span::styled(format!(" {:.2}", g.score), t.text()));
        }
        if let Some((lo, hi)) = g.interval {
            spans.push(Span::styled(format!(" [{lo:.2}, {hi:.2}]"), t.muted()));
        }
        if detailed {
            lines.push(Line::from(spans));
            // Every line of the summary, wrapped (never cut mid-word, never run together).
            lines.extend(
                g.summary
                    .lines()
                    .map(|l| Line::styled(format!("  {l}"), t.muted())),
            );
        } else {
            let first = g.summary.lines().next().unwrap_or_default();
            spans.push(Span::styled(format!("  {first}"), t.muted()));
            lines.push(Line::from(spans));
        }
    }
    // With a row to spare per gate, summaries wrap; a tight panel keeps a line per gate.
    let paragraph = Paragraph::new(lines);
    let paragraph = if detailed {
        paragraph.wrap(Wrap { trim: false })
    } else {
        paragraph
    };
    frame.render_widget(paragraph, inner);
}

fn render_card(card: &[String], t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(t.border())
        .title(Span::styled(" Risk card ", t.muted()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if card.is_empty() {
        frame.render_widget(
            Paragraph::new("nothing here needs a human").style(Style::new().fg(t.pass)),
            inner,
        );
        return;
    }
    // Group titles (unindented) in their severity's color, items as text.
    let lines: Vec<Line<'_>> = card
        .iter()
        .map(|l| {
            if let Some(item) = l.strip_prefix("  ") {
                // `location` is padded to a column for the terminal; two spaces do here.
                let (location, message) = item.split_once("  ").unwrap_or((item, ""));
                Line::from(vec![
                    Span::styled(format!(" {location}  "), t.muted()),
                    Span::styled(message.trim_start().to_string(), t.text()),
                ])
            } else {
                let severity = if l.starts_with("Notices") {
                    Severity::Notice
                } else {
                    Severity::Risk
                };
                Line::styled(l.clone(), t.severity(severity).add_modifier(Modifier::BOLD))
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_dialog(
    state: &ReviewState,
    change: &Change,
    data: &Data,
    t: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let width = area.width.saturating_sub(2).min(72);
    let target = data
        .runs
        .get(&change.run.id)
        .map_or(change.run.target.as_str(), |r| r.target.as_str());
    let hint = |text: &str| Line::styled(text.to_string(), t.muted());
    match &state.mode {
        Mode::Browse => {}
        Mode::Message { text } => text_dialog(
            frame,
            area,
            (width, 10),
            (" Commit message of the approval ", t.accent),
            text,
            "ctrl-s: keep it (Bosun-Task/Bosun-Run trailers are added)    esc: cancel",
            t,
        ),
        Mode::Search { text } => {
            let bar = Rect {
                y: area.y + area.height.saturating_sub(1),
                height: 1,
                ..area
            };
            let line = Line::from(vec![
                Span::styled(" search: ", t.accent()),
                Span::styled(text.clone(), t.text()),
                Span::styled("▏", t.accent()),
                Span::styled("   enter: find · esc: cancel", t.muted()),
            ]);
            frame.render_widget(Paragraph::new(line).style(t.bar()), bar);
        }
        Mode::ConfirmApprove => {
            let (kept, all) = state.kept();
            let as_pr = data.forge == Some(crate::model::Delivery::Pr);
            let question = if kept == all && as_pr {
                format!("Approve all {all} hunks and open a pull request against {target}?")
            } else if kept == all {
                format!("Approve all {all} hunks and merge into {target}?")
            } else {
                let others = match all - kept {
                    1 => "The other one is".to_string(),
                    n => format!("The {n} others are"),
                };
                format!(
                    "Approve {kept} of {all} hunks and merge into {target}? {others} reversed on the run's branch first."
                )
            };
            let mut lines = vec![Line::styled(question, t.text())];
            if let Some(message) = &state.message {
                let first = message.lines().next().unwrap_or_default();
                lines.push(hint(&format!("merging as: {first}")));
            }
            lines.push(Line::raw(""));
            lines.push(hint(if data.forge.is_some() {
                "y / enter: approve    p: as a pull request    M: merge here    any other key: cancel"
            } else {
                "y / enter: approve    any other key: cancel"
            }));
            dialog(
                frame,
                area,
                width,
                6,
                " Approve ",
                t,
                Paragraph::new(lines).wrap(Wrap { trim: true }),
            );
        }
        Mode::Reason {
            text,
            then_instructions,
        } => {
            let box_area = centered(area, width, 6);
            frame.render_widget(Clear, box_area);
            let title = if *then_instructions {
                " Reject, then write the next attempt's instructions — why? "
            } else {
                " Reject — why? "
            };
            let block = Block::bordered()
                .title(title)
                .border_style(Style::new().fg(t.warn));
            let inner = block.inner(box_area);
            frame.render_widget(block, box_area);
            let [field, help] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
            let mut text = (**text).clone();
            text.set_style(t.text());
            text.set_cursor_line_style(Style::new());
            text.set_placeholder_style(t.muted());
            frame.render_widget(&text, field);
            frame.render_widget(Paragraph::new(hint("enter: next    esc: cancel")), help);
        }
        Mode::AskRetry { reason } => {
            let lines = vec![
                Line::from(vec![
                    Span::styled("Reason: ", t.muted()),
                    Span::styled(reason.clone(), t.text()),
                ]),
                Line::raw(""),
                Line::from(vec![
                    Span::styled("y ", t.accent()),
                    Span::styled(
                        "reject and retry (the reason goes to the next attempt)",
                        t.text(),
                    ),
                ]),
                Line::from(vec![
                    Span::styled("n ", t.accent()),
                    Span::styled("reject, no retry", t.text()),
                ]),
                Line::from(vec![
                    Span::styled("e ", t.accent()),
                    Span::styled("write the next attempt's instructions", t.text()),
                ]),
                hint("esc: cancel"),
            ];
            dialog(
                frame,
                area,
                width,
                8,
                " Reject ",
                t,
                Paragraph::new(lines).wrap(Wrap { trim: true }),
            );
        }
        Mode::Instructions { text, queued, .. } => {
            let keys = if queued.is_some() {
                "ctrl-s: save them for the queued attempt    esc: cancel"
            } else {
                "ctrl-s: reject and retry with these    esc: back"
            };
            text_dialog(
                frame,
                area,
                (width, 14),
                (" Next attempt's instructions ", t.warn),
                text,
                keys,
                t,
            );
        }
    }
}

/// A text field in a box over `area` (at most `max_height` rows), titled and bordered in
/// `color`, with a line of keys under it.
fn text_dialog(
    frame: &mut Frame<'_>,
    area: Rect,
    (width, max_height): (u16, u16),
    (title, color): (&str, ratatui::style::Color),
    text: &ratatui_textarea::TextArea<'static>,
    keys: &str,
    t: &Theme,
) {
    let height = area.height.saturating_sub(2).clamp(5, max_height);
    let box_area = centered(area, width, height);
    frame.render_widget(Clear, box_area);
    let block = Block::bordered()
        .title(title.to_string())
        .border_style(Style::new().fg(color));
    let inner = block.inner(box_area);
    frame.render_widget(block, box_area);
    let [field, help] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let mut text = text.clone();
    text.set_style(t.text());
    text.set_cursor_line_style(Style::new());
    frame.render_widget(&text, field);
    frame.render_widget(
        Paragraph::new(Line::styled(keys.to_string(), t.muted())),
        help,
    );
}

fn dialog(
    frame: &mut Frame<'_>,
    area: Rect,
    width: u16,
    height: u16,
    title: &str,
    t: &Theme,
    body: Paragraph<'_>,
) {
    let box_area = centered(area, width, height);
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        body.block(
            Block::bordered()
                .title(title.to_string())
                .border_style(Style::new().fg(t.warn)),
        ),
        box_area,
    );
}
