//! `1` Board: the tasks in five columns — Queued · Running · Awaiting approval · Done ·
//! Failed — by their newest run, with a detail pane for the selected card. On a wide terminal
//! each card is three lines (its type, priority and state, then its title over two lines); on
//! a narrow one the board is a list of one column at a time, a card a line. Each column draws
//! only the cards that fit (10,000 tasks stay smooth); `/` filters by text, type or priority.
//!
//! Focus starts on the most urgent run (awaiting approval, then running, then failed) and
//! follows it until the operator moves; `]`/`[` jump between runs awaiting approval. A
//! selection stays on its card when cards reorder, and a key that acts on a run (`a`, `R`,
//! `c`) names the run and waits for `y`: the second key acts on that run, wherever the board
//! has moved it meanwhile.

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{Effect, duration};
use super::data::{Column, Data};
use super::theme::Theme;
use crate::model::{Priority, RunId, RunStatus, Severity, Task, TaskId};

/// The board's keys, for the footer and the help.
pub const KEYS: [(&str, &str); 12] = [
    ("h/l", "column"),
    ("j/k", "move"),
    ("]/[", "next awaiting"),
    ("enter", "review"),
    ("a", "approve"),
    ("r", "reject"),
    ("c", "cancel"),
    ("R", "retry"),
    ("n", "new task"),
    ("/", "filter"),
    ("s", "shell in the run's checkout"),
    ("f", "follow the run's output"),
];

/// Narrower than this, the board is a list of one column at a time.
pub const WIDE: u16 = 100;
/// Lines of a card on the wide board: its state, then two lines of title.
const CARD_LINES: usize = 3;

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
    /// Where each column's cards are drawn (for mouse clicks and scrolling; in the list
    /// layout only the shown column has an area).
    pub areas: [Rect; 5],
    /// The narrow layout: one column at a time, a card a line.
    pub list: bool,
    /// The task each column's selection is on, so that it stays on its card when cards move.
    pub anchor: [Option<TaskId>; 5],
    /// The operator has moved on the board: focus no longer follows the most urgent run.
    pub moved: bool,
    /// A key that waits for `y` before it acts on its run.
    pub pending: Option<Pending>,
}

/// What a key that needs confirming will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Approve and merge the whole change.
    Approve,
    /// Queue another attempt.
    Retry,
    /// Stop the run.
    Cancel,
}

/// A key pressed on a run, waiting for `y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// What it will do.
    pub action: Action,
    /// The run it was pressed on.
    pub run: RunId,
    /// Its task's title, for the question.
    pub title: String,
}

/// What a board key asks the console to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The run to review.
    pub run: RunId,
    /// Start writing the reason for rejecting it.
    pub reject: bool,
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

/// The task the cursor is on in `column`.
fn task_at<'a>(state: &BoardState, data: &'a Data, column: usize) -> Option<&'a Task> {
    let indices = data.column_indices(Column::ALL[column], &state.filter, |data| {
        place(data, &state.filter)
    });
    Some(&data.tasks[*indices.get(state.selected[column])?])
}

/// The run the cursor is on, if its task has one.
pub fn selected_run(state: &BoardState, data: &Data) -> Option<RunId> {
    let task = task_at(state, data, state.column)?;
    data.latest_run(&task.id).map(|r| r.id.clone())
}

/// Handles a key; the second value is a run to open in Review.
pub fn key(state: &mut BoardState, data: &Data, key: KeyEvent) -> (Vec<Effect>, Option<Open>) {
    if let Some(pending) = state.pending.take() {
        // The second key of `a`, `R` or `c`: `y` (or enter) acts on the run the first was
        // pressed on; any other key lets it be.
        if matches!(key.code, KeyCode::Char('y') | KeyCode::Enter) {
            return (vec![confirmed(pending, None)], None);
        }
        // With a forge: `p` delivers as a pull request, `M` merges here, whatever the default.
        let chosen = match key.code {
            KeyCode::Char('p') => Some(crate::model::Delivery::Pr),
            KeyCode::Char('M') => Some(crate::model::Delivery::Merge),
            _ => None,
        };
        if pending.action == Action::Approve && data.forge.is_some() && chosen.is_some() {
            return (vec![confirmed(pending, chosen)], None);
        }
        return (Vec::new(), None);
    }
    let answer = key_inner(state, data, key);
    state.moved = true;
    anchor(state, data);
    follow(state, data);
    answer
}

/// The effect of a confirmed key.
fn confirmed(pending: Pending, deliver: Option<crate::model::Delivery>) -> Effect {
    match pending.action {
        Action::Approve => Effect::Approve {
            run: pending.run,
            keep: None,
            message: None,
            deliver,
        },
        Action::Retry => Effect::Retry(pending.run),
        Action::Cancel => Effect::Cancel(pending.run),
    }
}

/// Records which card each column's selection is on.
fn anchor(state: &mut BoardState, data: &Data) {
    for column in 0..5 {
        state.anchor[column] = task_at(state, data, column).map(|t| t.id.clone());
    }
}

/// After the tasks or runs changed: each column's selection back on the card it was on
/// (wherever that card moved in the column), or on a card at the same place when it left;
/// focus on the most urgent run while the operator has not moved.
pub fn clamp(state: &mut BoardState, data: &Data) {
    for (i, column) in Column::ALL.into_iter().enumerate() {
        let indices = data.column_indices(column, &state.filter, |data| place(data, &state.filter));
        let found = state.anchor[i]
            .as_ref()
            .and_then(|id| indices.iter().position(|&t| data.tasks[t].id == *id));
        if let Some(at) = found {
            state.selected[i] = at;
        }
        state.selected[i] = state.selected[i].min(indices.len().saturating_sub(1));
    }
    if !state.moved {
        focus_urgent(state, data);
    }
    anchor(state, data);
    follow(state, data);
}

/// Puts the cursor on the most urgent card: the first run awaiting approval, else the first
/// running, failed or queued one.
pub fn focus_urgent(state: &mut BoardState, data: &Data) {
    const URGENCY: [Column; 5] = [
        Column::Awaiting,
        Column::Running,
        Column::Failed,
        Column::Queued,
        Column::Done,
    ];
    let urgent = URGENCY
        .into_iter()
        .find(|c| !column_tasks(data, *c, &state.filter).is_empty());
    if let Some(column) = urgent {
        let i = Column::ALL.iter().position(|c| *c == column).unwrap_or(0);
        if state.column != i {
            state.column = i;
            state.selected[i] = 0;
        }
    }
}

fn follow(state: &mut BoardState, data: &Data) {
    for (i, column) in Column::ALL.into_iter().enumerate() {
        let len = column_tasks(data, column, &state.filter).len();
        state.selected[i] = state.selected[i].min(len.saturating_sub(1));
        let rows = cards_fit(state.areas[i], state.list);
        state.offset[i] = visible_offset(state.offset[i], state.selected[i], rows);
    }
}

/// How many cards fit in `area` (a column's cards).
fn cards_fit(area: Rect, list: bool) -> usize {
    usize::from(area.height) / if list { 1 } else { CARD_LINES }
}

/// `action` on the selected run if its state allows it: the question to confirm.
fn ask(state: &mut BoardState, data: &Data, action: Action) {
    let Some(task) = task_at(state, data, state.column) else {
        return;
    };
    let Some(run) = data.latest_run(&task.id) else {
        return;
    };
    let allowed = match action {
        Action::Approve => run.status == RunStatus::AwaitingApproval,
        Action::Retry => matches!(
            run.status,
            RunStatus::Failed | RunStatus::Rejected | RunStatus::Cancelled | RunStatus::Interrupted
        ),
        Action::Cancel => run.status.is_active() || run.status == RunStatus::Queued,
    };
    if allowed {
        state.pending = Some(Pending {
            action,
            run: run.id.clone(),
            title: task.title.clone(),
        });
    }
}

fn key_inner(state: &mut BoardState, data: &Data, key: KeyEvent) -> (Vec<Effect>, Option<Open>) {
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
        KeyCode::Char(c @ (']' | '[')) => {
            let awaiting = Column::ALL
                .iter()
                .position(|c| *c == Column::Awaiting)
                .unwrap_or(2);
            let n = column_tasks(data, Column::Awaiting, &state.filter).len();
            if n > 0 {
                let at = state.selected[awaiting];
                state.selected[awaiting] = match (state.column == awaiting, c) {
                    (false, _) => at.min(n - 1),
                    (true, ']') => (at + 1) % n,
                    (true, _) => (at + n - 1) % n,
                };
                state.column = awaiting;
            }
        }
        KeyCode::Char('/') => state.filtering = true,
        KeyCode::Esc => state.filter.clear(),
        KeyCode::Enter => {
            let open = selected_run(state, data).map(|run| Open { run, reject: false });
            return (Vec::new(), open);
        }
        KeyCode::Char('r') => {
            let open = selected_run(state, data)
                .filter(|run| {
                    data.runs.get(run).is_some_and(|r| {
                        matches!(r.status, RunStatus::AwaitingApproval | RunStatus::Failed)
                    })
                })
                .map(|run| Open { run, reject: true });
            return (Vec::new(), open);
        }
        KeyCode::Char('a') => ask(state, data, Action::Approve),
        KeyCode::Char('R') => ask(state, data, Action::Retry),
        KeyCode::Char('c') => ask(state, data, Action::Cancel),
        _ => {}
    }
    (Vec::new(), None)
}

/// Handles the mouse: a click picks a card, the wheel moves the selection.
pub fn mouse(state: &mut BoardState, data: &Data, mouse: MouseEvent) -> Vec<Effect> {
    let at = (mouse.column, mouse.row).into();
    let hit = if state.list {
        state.areas[state.column]
            .contains(at)
            .then_some(state.column)
    } else {
        state.areas.iter().position(|a| a.contains(at))
    };
    let Some(col) = hit else {
        return Vec::new();
    };
    state.moved = true;
    let len = column_tasks(data, Column::ALL[col], &state.filter).len();
    match mouse.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            state.column = col;
            let lines = if state.list { 1 } else { CARD_LINES };
            let row = usize::from(mouse.row.saturating_sub(state.areas[col].y)) / lines;
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
    anchor(state, data);
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

/// A card's state at its end, longest first: the longest that fits is shown.
fn tails(task: &Task, data: &Data) -> Vec<String> {
    let Some(run) = data.latest_run(&task.id) else {
        return vec![String::new()];
    };
    match run.status {
        RunStatus::Preparing | RunStatus::Running | RunStatus::Gating => {
            let elapsed = data
                .now_ms
                .saturating_sub(run.started_ms.unwrap_or(run.created_ms));
            let spin = SPINNER[(data.now_ms / 100) as usize % SPINNER.len()];
            vec![
                format!(" {spin} {} {}", run.executor, duration(elapsed)),
                format!(" {spin} {}", duration(elapsed)),
                String::new(),
            ]
        }
        RunStatus::AwaitingApproval => {
            let risks = run.annotation_counts.severity(Severity::Risk);
            let score = run.score.map_or("-".to_string(), |s| format!("{s:.2}"));
            if risks > 0 {
                vec![
                    format!(" {score} ⚠{risks}"),
                    format!(" ⚠{risks}"),
                    String::new(),
                ]
            } else {
                vec![format!(" {score}"), String::new()]
            }
        }
        // An agent that could not reach its model did no wrong: said apart from failed work.
        RunStatus::Failed if run.reason.as_deref() == Some("unavailable") => {
            vec![" unavailable".into(), String::new()]
        }
        RunStatus::Failed | RunStatus::Rejected | RunStatus::Cancelled | RunStatus::Interrupted => {
            vec![format!(" {}", run.status), String::new()]
        }
        // Approved and waiting for the forge: the pull request says where.
        RunStatus::Delivered => match &run.delivery {
            Some(pr) => vec![
                format!(" PR #{} {}", pr.number, pr.state),
                format!(" PR #{}", pr.number),
                String::new(),
            ],
            None => vec![" delivered".into(), String::new()],
        },
        RunStatus::Queued | RunStatus::Merged => vec![String::new()],
    }
}

/// The priority badge and the type, as a card starts.
fn head(task: &Task, t: &Theme) -> [Span<'static>; 2] {
    let kind = task.task_type.as_str();
    [
        priority_badge(task.priority, t),
        Span::styled(format!("{:<4}", &kind[..4.min(kind.len())]), t.muted()),
    ]
}

/// `text` cut to `width` characters, ending in `…` when cut.
fn cut(text: &str, width: usize) -> String {
    crate::model::shorten(text, width)
}

/// `title` over at most `lines` lines of `width` characters, broken between words (a word
/// longer than a line is cut); the last line ends in `…` when the title goes on.
pub fn wrap_title(title: &str, width: usize, lines: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut words = title.split_whitespace().peekable();
    while let Some(word) = words.peek() {
        let need = word.chars().count() + usize::from(!line.is_empty());
        if line.chars().count() + need <= width {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            words.next();
        } else if line.is_empty() {
            // A word longer than the line: as much of it as fits.
            line = word.chars().take(width).collect();
            words.next();
        } else {
            out.push(std::mem::take(&mut line));
            if out.len() == lines {
                break;
            }
        }
    }
    if out.len() < lines && !line.is_empty() {
        out.push(line);
    }
    if words.peek().is_some()
        && let Some(last) = out.last_mut()
    {
        let kept: String = last.chars().take(width.saturating_sub(1)).collect();
        *last = format!("{kept}…");
    }
    out
}

/// A card on the wide board: its priority, type and state, then its title over two lines.
fn card_lines<'a>(task: &'a Task, data: &Data, t: &Theme, width: usize) -> [Line<'a>; 3] {
    let [badge, kind] = head(task, t);
    let room = width.saturating_sub(6);
    let tail = tails(task, data)
        .into_iter()
        .find(|s| s.chars().count() <= room)
        .unwrap_or_default();
    let mut title = wrap_title(&task.title, width, 2).into_iter();
    [
        Line::from(vec![badge, kind, Span::styled(tail, t.muted())]),
        Line::styled(title.next().unwrap_or_default(), t.text()),
        Line::styled(title.next().unwrap_or_default(), t.text()),
    ]
}

/// A card in the narrow list: priority, type, title, state on one line.
fn card_line<'a>(task: &'a Task, data: &Data, t: &Theme, width: usize) -> Line<'a> {
    const MIN_TITLE: usize = 20;
    let [badge, kind] = head(task, t);
    let fits = |s: &String| 7 + MIN_TITLE + s.chars().count() <= width;
    let tail = tails(task, data).into_iter().find(fits).unwrap_or_default();
    let room = width.saturating_sub(7 + tail.chars().count());
    Line::from(vec![
        badge,
        kind,
        Span::raw(" "),
        Span::styled(cut(&task.title, room), t.text()),
        Span::styled(tail, t.muted()),
    ])
}

/// Where the board goes in `area`: the columns (or the one list) over the detail pane.
fn split(area: Rect) -> (Rect, Rect) {
    let detail_height = if area.height > 16 { 7 } else { 0 };
    let [columns, detail] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(detail_height)]).areas(area);
    (columns, detail)
}

/// Lays the board out in `area`: wide (five columns) or a list, and where each column's
/// cards go (every column the same area in the list: it shows the focused one).
pub fn layout(state: &mut BoardState, area: Rect) {
    let (columns, _) = split(area);
    state.list = area.width < WIDE;
    state.areas = if state.list {
        [inner(columns); 5]
    } else {
        let split = Layout::horizontal([Constraint::Ratio(1, 5); 5]).split(columns);
        [0, 1, 2, 3, 4].map(|i| inner(split[i]))
    };
}

/// A bordered block's inside.
fn inner(area: Rect) -> Rect {
    Block::new().borders(Borders::ALL).inner(area)
}

/// Draws the board: five columns (or the focused one as a list) over a detail pane.
pub fn render(state: &BoardState, data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let (columns, detail) = split(area);
    if area.width < WIDE {
        render_list(state, data, t, frame, columns);
    } else {
        let areas = Layout::horizontal([Constraint::Ratio(1, 5); 5]).split(columns);
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
            let width = usize::from(inner.width);
            let lines = shown_cards(state, i, &tasks, (inner, false), focused, t, |task| {
                card_lines(task, data, t, width).to_vec()
            });
            frame.render_widget(Paragraph::new(lines), inner);
        }
    }
    if detail.height > 0 {
        render_detail(state, data, t, frame, detail);
    }
    let bar = Rect {
        y: columns.y + columns.height.saturating_sub(1),
        height: 1,
        ..columns
    };
    if let Some(pending) = &state.pending {
        let what = match (pending.action, data.forge) {
            (Action::Approve, Some(crate::model::Delivery::Pr)) => "approve as a pull request",
            (Action::Approve, _) => "approve and merge",
            (Action::Retry, _) => "queue another attempt at",
            (Action::Cancel, _) => "cancel",
        };
        let choices = if pending.action == Action::Approve && data.forge.is_some() {
            "?  y: yes · p: as a pull request · M: merge here · any other key: no"
        } else {
            "?  y: yes · any other key: no"
        };
        let line = Line::from(vec![
            Span::styled(format!(" {what} {} ", pending.run.short()), t.accent()),
            Span::styled(cut(&pending.title, 40), t.text()),
            Span::styled(choices, t.accent()),
        ]);
        frame.render_widget(Paragraph::new(line).style(t.bar()), bar);
    } else if state.filtering || !state.filter.is_empty() {
        let line = Line::from(vec![
            Span::styled(" filter: ", t.accent()),
            Span::styled(state.filter.clone(), t.text()),
            Span::styled(if state.filtering { "▏" } else { "" }, t.accent()),
        ]);
        frame.render_widget(Paragraph::new(line).style(t.bar()), bar);
    }
}

/// The narrow board: the focused column as a list, the others named with their counts in its
/// title (`h`/`l` go to them).
fn render_list(state: &BoardState, data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let counts = Column::ALL.map(|c| column_tasks(data, c, &state.filter).len());
    let full: usize = Column::ALL
        .iter()
        .zip(counts)
        .map(|(c, n)| c.title().len() + n.to_string().len() + 4)
        .sum();
    // Too narrow for every name: the others by their first letter.
    let short = full + 2 > usize::from(area.width);
    let mut title = vec![Span::raw(" ")];
    for (i, column) in Column::ALL.into_iter().enumerate() {
        if i > 0 {
            title.push(Span::styled(" · ", t.muted()));
        }
        let (style, name) = if i == state.column {
            (t.accent().add_modifier(Modifier::BOLD), column.title())
        } else if short {
            (t.muted(), &column.title()[..1])
        } else {
            (t.muted(), column.title())
        };
        title.push(Span::styled(format!("{name} {}", counts[i]), style));
    }
    title.push(Span::raw(" "));
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(t.accent())
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let i = state.column;
    let tasks = column_tasks(data, Column::ALL[i], &state.filter);
    let width = usize::from(inner.width);
    let lines = shown_cards(state, i, &tasks, (inner, true), true, t, |task| {
        vec![card_line(task, data, t, width)]
    });
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The lines of the cards of column `i` that fit in `inner` (a line each in the `list`, else
/// three), scrolled so that its selected
/// card shows, that one highlighted when the column has the focus.
fn shown_cards<'a>(
    state: &BoardState,
    i: usize,
    tasks: &[&'a Task],
    (inner, list): (Rect, bool),
    focused: bool,
    t: &Theme,
    draw: impl Fn(&'a Task) -> Vec<Line<'a>>,
) -> Vec<Line<'a>> {
    let rows = cards_fit(inner, list);
    let selected = state.selected[i].min(tasks.len().saturating_sub(1));
    let offset = visible_offset(state.offset[i], selected, rows);
    tasks
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows)
        .flat_map(|(n, task)| {
            let chosen = focused && n == selected;
            draw(task).into_iter().map(move |line| {
                if chosen {
                    line.style(t.selected().add_modifier(Modifier::BOLD))
                } else {
                    line
                }
            })
        })
        .collect()
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
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(t.border())
        .title(Span::styled(" Detail ", t.muted()));
    let Some(task) = task_at(state, data, state.column) else {
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
        // A delivered run's pull request: where the reviewers are.
        if let Some(pr) = &run.delivery {
            lines.push(Line::from(vec![
                Span::styled(format!("PR #{} ", pr.number), t.accent()),
                Span::styled(format!("{} · {}", pr.state, pr.url), t.muted()),
            ]));
        }
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
