//! `1` Board: the tasks in five columns — Queued · Running · Awaiting approval · Done ·
//! Failed — by their newest run, with a detail pane for the selected card. Each column draws
//! only the rows that fit (10,000 tasks stay smooth); `/` filters by text, type or priority.

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{Effect, duration};
use super::data::{Column, Data};
use super::theme::Theme;
use crate::model::{Priority, RunId, RunStatus, Severity, Task};

/// The board's keys, for the footer and the help.
pub const KEYS: [(&str, &str); 7] = [
    ("h/l", "column"),
    ("j/k", "move"),
    ("enter", "review"),
    ("c", "cancel"),
    ("R", "retry"),
    ("n", "new task"),
    ("/", "filter"),
];

/// Fewest title characters a card keeps before its tail is shortened.
const MIN_TITLE: usize = 6;

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Where the operator is on the board.
#[derive(Debug, Clone, Default)]
pub struct BoardState {
    /// The column with the cursor (index into [`Column::ALL`]).
    pub column: usize,
    /// The selected row of each column.
    pub selected: [usize; 5],
    /// The first row shown in each column.
    pub offset: [usize; 5],
    /// The filter text (`type:docs`, `priority:high` or words of the title).
    pub filter: String,
    /// The filter is being typed.
    pub filtering: bool,
    /// Where each column was drawn last (for mouse clicks).
    pub areas: [Rect; 5],
}

/// Whether `task` passes the filter: every word must match — `type:X`, `priority:X` (or
/// `p:X`), or a piece of the title, description or id (case-insensitive).
pub fn matches(task: &Task, filter: &str) -> bool {
    filter.split_whitespace().all(|word| {
        let w = word.to_lowercase();
        if let Some(t) = w.strip_prefix("type:") {
            task.task_type.as_str().starts_with(t)
        } else if let Some(p) = w.strip_prefix("priority:").or_else(|| w.strip_prefix("p:")) {
            task.priority.as_str().starts_with(p)
        } else {
            task.title.to_lowercase().contains(&w)
                || task.description.to_lowercase().contains(&w)
                || task.id.0.contains(&w)
        }
    })
}

/// The tasks of one column, in task-file order (priority order for Queued), filtered.
pub fn column_tasks<'a>(data: &'a Data, column: Column, filter: &str) -> Vec<&'a Task> {
    data.column_indices(column, filter, |data| place(data, filter))
        .iter()
        .map(|&i| &data.tasks[i])
        .collect()
}

/// Every column's tasks (indices into `data.tasks`), in one pass over the tasks.
fn place(data: &Data, filter: &str) -> [Vec<usize>; 5] {
    let mut columns: [Vec<usize>; 5] = Default::default();
    for (i, task) in data.tasks.iter().enumerate() {
        if matches(task, filter) {
            let column = data.column(task);
            let slot = Column::ALL
                .iter()
                .position(|c| *c == column)
                .unwrap_or_default();
            columns[slot].push(i);
        }
    }
    // Queued is in priority order (a stable sort keeps file order within a priority).
    columns[0].sort_by_key(|&i| data.tasks[i].priority);
    columns
}

/// The run the cursor is on, if its task has one.
pub fn selected_run(state: &BoardState, data: &Data) -> Option<RunId> {
    let column = Column::ALL[state.column];
    let indices = data.column_indices(column, &state.filter, |data| place(data, &state.filter));
    let task = &data.tasks[*indices.get(state.selected[state.column])?];
    data.latest_run(&task.id).map(|r| r.id.clone())
}

/// Handles a key; the second value is a run to open in Review.
pub fn key(state: &mut BoardState, data: &Data, key: KeyEvent) -> (Vec<Effect>, Option<RunId>) {
    let answer = key_inner(state, data, key);
    follow(state, data);
    answer
}

/// Keeps each column's selection on one of its cards and in view.
pub fn clamp(state: &mut BoardState, data: &Data) {
    for (i, column) in Column::ALL.into_iter().enumerate() {
        let len = column_tasks(data, column, &state.filter).len();
        state.selected[i] = state.selected[i].min(len.saturating_sub(1));
    }
}

fn follow(state: &mut BoardState, data: &Data) {
    clamp(state, data);
    for i in 0..5 {
        let rows = usize::from(state.areas[i].height.saturating_sub(2));
        state.offset[i] = visible_offset(state.offset[i], state.selected[i], rows);
    }
}

fn key_inner(state: &mut BoardState, data: &Data, key: KeyEvent) -> (Vec<Effect>, Option<RunId>) {
    if state.filtering {
        if super::app::edit_line(&mut state.filter, key.code).is_some() {
            state.filtering = false;
        }
        state.selected = [0; 5];
        state.offset = [0; 5];
        return (Vec::new(), None);
    }
    let col = state.column;
    let len = column_tasks(data, Column::ALL[col], &state.filter).len();
    match key.code {
        KeyCode::Left | KeyCode::Char('h') => state.column = col.saturating_sub(1),
        KeyCode::Right | KeyCode::Char('l') => state.column = (col + 1).min(4),
        KeyCode::Down | KeyCode::Char('j') => {
            state.selected[col] = (state.selected[col] + 1).min(len.saturating_sub(1));
        }
        KeyCode::Up | KeyCode::Char('k') => {
            state.selected[col] = state.selected[col].saturating_sub(1);
        }
        KeyCode::PageDown => {
            state.selected[col] = (state.selected[col] + 20).min(len.saturating_sub(1));
        }
        KeyCode::PageUp => state.selected[col] = state.selected[col].saturating_sub(20),
        KeyCode::Home | KeyCode::Char('g') => state.selected[col] = 0,
        KeyCode::End | KeyCode::Char('G') => state.selected[col] = len.saturating_sub(1),
        KeyCode::Char('/') => state.filtering = true,
        KeyCode::Esc => state.filter.clear(),
        KeyCode::Enter => return (Vec::new(), selected_run(state, data)),
        KeyCode::Char('R') => {
            if let Some(run) = selected_run(state, data)
                && data.runs.get(&run).is_some_and(|r| {
                    matches!(
                        r.status,
                        RunStatus::Failed
                            | RunStatus::Rejected
                            | RunStatus::Cancelled
                            | RunStatus::Interrupted
                    )
                })
            {
                return (vec![Effect::Retry(run)], None);
            }
        }
        KeyCode::Char('c') => {
            if let Some(run) = selected_run(state, data)
                && data.runs.get(&run).is_some_and(|r| r.status.is_active())
            {
                return (vec![Effect::Cancel(run)], None);
            }
        }
        _ => {}
    }
    (Vec::new(), None)
}

/// Handles the mouse: a click picks a card, the wheel moves the selection.
pub fn mouse(state: &mut BoardState, data: &Data, mouse: MouseEvent) -> Vec<Effect> {
    let hit = state
        .areas
        .iter()
        .position(|a| a.contains((mouse.column, mouse.row).into()));
    let Some(col) = hit else {
        return Vec::new();
    };
    let len = column_tasks(data, Column::ALL[col], &state.filter).len();
    match mouse.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            state.column = col;
            let row = usize::from(mouse.row.saturating_sub(state.areas[col].y + 1));
            let i = state.offset[col] + row;
            if i < len {
                state.selected[col] = i;
            }
        }
        MouseEventKind::ScrollDown => {
            state.selected[col] = (state.selected[col] + 3).min(len.saturating_sub(1));
        }
        MouseEventKind::ScrollUp => state.selected[col] = state.selected[col].saturating_sub(3),
        _ => {}
    }
    follow(state, data);
    Vec::new()
}

fn priority_badge(p: Priority, t: &Theme) -> Span<'static> {
    let (mark, color) = match p {
        Priority::Critical => ("!!", t.risk),
        Priority::High => ("! ", t.notice),
        Priority::Medium => ("· ", t.muted),
        Priority::Low => ("  ", t.muted),
    };
    Span::styled(mark, Style::new().fg(color))
}

fn card<'a>(task: &'a Task, data: &Data, t: &Theme, width: usize) -> Line<'a> {
    let mut spans = vec![
        priority_badge(task.priority, t),
        Span::styled(
            format!(
                "{:<4}",
                &task.task_type.as_str()[..4.min(task.task_type.as_str().len())]
            ),
            t.muted(),
        ),
        Span::raw(" "),
    ];
    let mut tails: Vec<String> = vec![String::new()];
    if let Some(run) = data.latest_run(&task.id) {
        match run.status {
            RunStatus::Preparing | RunStatus::Running | RunStatus::Gating => {
                let elapsed = data
                    .now_ms
                    .saturating_sub(run.started_ms.unwrap_or(run.created_ms));
                let spin = SPINNER[(data.now_ms / 100) as usize % SPINNER.len()];
                tails = vec![
                    format!(" {spin} {} {}", run.executor, duration(elapsed)),
                    format!(" {spin} {}", duration(elapsed)),
                    String::new(),
                ];
            }
            RunStatus::AwaitingApproval => {
                let risks = run
                    .annotations
                    .iter()
                    .filter(|a| a.severity == Severity::Risk)
                    .count();
                let score = run.score.map_or("-".to_string(), |s| format!("{s:.2}"));
                tails = if risks > 0 {
                    vec![
                        format!(" {score} ⚠{risks}"),
                        format!(" ⚠{risks}"),
                        String::new(),
                    ]
                } else {
                    vec![format!(" {score}"), String::new()]
                };
            }
            RunStatus::Failed
            | RunStatus::Rejected
            | RunStatus::Cancelled
            | RunStatus::Interrupted => {
                tails = vec![format!(" {}", run.status), String::new()];
            }
            RunStatus::Queued | RunStatus::Merged => {}
        }
    }
    let fits = |t: &String| 7 + MIN_TITLE + t.chars().count() <= width;
    let tail = tails.into_iter().find(fits).unwrap_or_default();
    let room = width.saturating_sub(7 + tail.chars().count());
    let title: String = if task.title.chars().count() > room {
        let mut s: String = task.title.chars().take(room.saturating_sub(1)).collect();
        s.push('…');
        s
    } else {
        task.title.clone()
    };
    spans.push(Span::styled(title, t.text()));
    spans.push(Span::styled(tail, t.muted()));
    Line::from(spans)
}

/// Draws the board: five columns over a detail pane.
pub fn render(state: &BoardState, data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let detail_height = if area.height > 16 { 7 } else { 0 };
    let [columns, detail] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(detail_height)]).areas(area);
    let areas = Layout::horizontal([Constraint::Ratio(1, 5); 5]).split(columns);
    // The areas are recorded for mouse hits at render time through interior state the loop
    // copies back; see `layout_columns`.
    for (i, column) in Column::ALL.into_iter().enumerate() {
        let tasks = column_tasks(data, column, &state.filter);
        let focused = i == state.column;
        let block = Block::new()
            .borders(Borders::ALL)
            .border_style(if focused { t.accent() } else { t.border() })
            .title(Span::styled(
                format!(" {} {} ", column.title(), tasks.len()),
                if focused { t.accent() } else { t.muted() },
            ));
        let inner = block.inner(areas[i]);
        frame.render_widget(block, areas[i]);
        let rows = usize::from(inner.height);
        let selected = state.selected[i].min(tasks.len().saturating_sub(1));
        let offset = visible_offset(state.offset[i], selected, rows);
        let lines: Vec<Line<'_>> = tasks
            .iter()
            .enumerate()
            .skip(offset)
            .take(rows)
            .map(|(n, task)| {
                let line = card(task, data, t, usize::from(inner.width));
                if focused && n == selected {
                    line.style(t.selected().add_modifier(Modifier::BOLD))
                } else {
                    line
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }
    if detail_height > 0 {
        render_detail(state, data, t, frame, detail);
    }
    if state.filtering || !state.filter.is_empty() {
        let line = Line::from(vec![
            Span::styled(" filter: ", t.accent()),
            Span::styled(state.filter.clone(), t.text()),
            Span::styled(if state.filtering { "▏" } else { "" }, t.accent()),
        ]);
        let bar = Rect {
            y: columns.y + columns.height.saturating_sub(1),
            height: 1,
            ..columns
        };
        frame.render_widget(Paragraph::new(line).style(t.bar()), bar);
    }
}

/// The areas of the five columns for a body of `area` (the same split [`render`] uses).
pub fn layout_columns(area: Rect) -> [Rect; 5] {
    let detail_height = if area.height > 16 { 7 } else { 0 };
    let [columns, _] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(detail_height)]).areas(area);
    let split = Layout::horizontal([Constraint::Ratio(1, 5); 5]).split(columns);
    [split[0], split[1], split[2], split[3], split[4]]
}

/// The first row to show so that `selected` is visible, moving as little as possible.
pub fn visible_offset(offset: usize, selected: usize, rows: usize) -> usize {
    if rows == 0 {
        return selected;
    }
    if selected < offset {
        selected
    } else if selected >= offset + rows {
        selected + 1 - rows
    } else {
        offset
    }
}

fn render_detail(state: &BoardState, data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let column = Column::ALL[state.column];
    let tasks = column_tasks(data, column, &state.filter);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(t.border())
        .title(Span::styled(" Detail ", t.muted()));
    let Some(task) = tasks.get(state.selected[state.column]) else {
        frame.render_widget(block, area);
        return;
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{} ", task.id), t.muted()),
        Span::styled(task.title.clone(), t.accent()),
        Span::styled(
            format!(
                "  {} · {} · {}:{}",
                task.priority,
                task.task_type,
                task.file.display(),
                task.line
            ),
            t.muted(),
        ),
    ])];
    if !task.description.is_empty() {
        lines.push(Line::styled(task.description.clone(), t.text()));
    }
    if let Some(run) = data.latest_run(&task.id) {
        let mut what = vec![
            Span::styled(format!("run {} ", run.id.short()), t.muted()),
            Span::styled(run.status.to_string(), t.status(run.status)),
            Span::styled(
                format!(" · attempt {} · {}", run.attempt, run.executor),
                t.muted(),
            ),
        ];
        if let Some(gate) = data.gating.get(&run.id) {
            what.push(Span::styled(format!(" · gate {gate}"), t.muted()));
        }
        if let Some(score) = run.score {
            what.push(Span::styled(format!(" · score {score:.2}"), t.muted()));
        }
        lines.push(Line::from(what));
        let last = data
            .progress
            .get(&run.id)
            .cloned()
            .or_else(|| data.output.get(&run.id).and_then(|o| o.back().cloned()))
            .or_else(|| run.error.clone());
        if let Some(last) = last {
            lines.push(Line::styled(format!("│ {last}"), t.muted()));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}
