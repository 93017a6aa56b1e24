//! `4` Metrics: trends (throughput, success rate, queue and approval depth, approval latency,
//! quality per task type) as sparklines over time buckets, gate pass rates and rework as bar
//! charts, tokens and cost per executor, and process memory's record of each executor per
//! task type. Backed by the [`MetricsCollector`] the orchestrator's events feed; the first
//! time the screen is shown, a job seeds it from the stored runs (read in batches, so memory
//! stays flat with 100,000 runs) and the events that raced the read are replayed onto it.

use std::collections::{BTreeSet, HashMap};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Borders, Padding, Paragraph, Sparkline, SparklineBar, Wrap,
};

use super::app::{Effect, Msg, duration};
use super::data::Data;
use super::theme::Theme;
use crate::api::Event;
use crate::api::metrics::{BUCKET_MS, Bucket, MetricsCollector, type_index};
use crate::model::{TaskId, TaskType};

/// The metrics screen's keys, for the footer.
pub const KEYS: [(&str, &str); 1] = [("z", "zoom")];

/// The metrics screen's keys, for the help.
pub const HELP: [(&str, &str); 1] = [("z", "buckets of 5 minutes, 1 hour or 1 day")];

/// How much time one sparkline column covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Zoom {
    /// Five minutes (one bucket).
    #[default]
    Minutes,
    /// One hour.
    Hours,
    /// One day.
    Days,
}

impl Zoom {
    /// Base buckets per column.
    pub fn per_column(self) -> usize {
        match self {
            Self::Minutes => 1,
            Self::Hours => 12,
            Self::Days => 288,
        }
    }

    /// The next zoom level.
    pub fn next(self) -> Zoom {
        match self {
            Self::Minutes => Self::Hours,
            Self::Hours => Self::Days,
            Self::Days => Self::Minutes,
        }
    }

    /// For the title.
    pub fn label(self) -> &'static str {
        match self {
            Self::Minutes => "per 5 minutes",
            Self::Hours => "per hour",
            Self::Days => "per day",
        }
    }
}

/// One strategy of process memory: an executor's record on a task type.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyRow {
    /// The task type.
    pub task_type: TaskType,
    /// The executor.
    pub executor: String,
    /// Runs started.
    pub pulls: u64,
    /// Posterior mean of the success probability.
    pub expected_success: f64,
}

/// What a background load brings: the seed, process memory's table, or both.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The collector as built from the stored runs.
    pub seed: Option<Box<MetricsCollector>>,
    /// Process memory's strategies, or why they could not be read.
    pub memory: Option<Result<Vec<StrategyRow>, String>>,
}

/// The metrics screen's state.
#[derive(Debug, Clone, Default)]
pub struct MetricsState {
    /// The numbers, fed by every orchestrator event (see [`observe`]).
    pub collector: MetricsCollector,
    /// The collector has its seed from the stored runs.
    pub seeded: bool,
    /// Process memory's strategies.
    pub memory: Vec<StrategyRow>,
    /// Why process memory could not be read.
    pub memory_error: Option<String>,
    /// Time per sparkline column.
    pub zoom: Zoom,
    /// The audit trail's check at start: its entries, or what is broken (None: not done yet).
    pub audit: Option<Result<usize, String>>,
}

/// Counts an orchestrator event (called for every event, whatever the screen).
pub fn observe(state: &mut MetricsState, event: &Event, now_ms: u64) {
    state.collector.observe(event, now_ms);
}

/// Called when the screen is shown: reads process memory, and the first time, seeds the
/// collector from the store.
pub fn show(state: &mut MetricsState, data: &Data) -> Vec<Effect> {
    let types: HashMap<TaskId, TaskType> = data
        .tasks
        .iter()
        .map(|t| (t.id.clone(), t.task_type))
        .collect();
    state.collector.set_task_types(types.clone());
    let mut effects = vec![Effect::load(|cx| {
        let memory = cx.core.strategies().map(|all| {
            all.iter()
                .map(|s| StrategyRow {
                    task_type: s.task_type,
                    executor: s.executor.clone(),
                    pulls: s.pulls,
                    expected_success: s.expected_success(),
                })
                .collect()
        });
        Msg::Metrics(Box::new(Loaded {
            seed: None,
            memory: Some(memory),
        }))
    })];
    if !state.seeded && !state.collector.seeding() {
        state.collector.begin_seed();
        let now = data.now_ms;
        let since = crate::api::metrics::seed_since(now);
        effects.push(Effect::load(move |cx| {
            let runs = crate::api::metrics::paged_runs(|before, n| {
                cx.core.runs_page(before, n).unwrap_or_default()
            });
            let seed = MetricsCollector::seeded(runs, types, since, now);
            Msg::Metrics(Box::new(Loaded {
                seed: Some(Box::new(seed)),
                memory: None,
            }))
        }));
    }
    effects
}

/// A load arrived.
pub fn loaded(state: &mut MetricsState, loaded: Loaded) {
    if let Some(seed) = loaded.seed {
        state.collector.adopt(*seed);
        state.seeded = true;
    }
    match loaded.memory {
        Some(Ok(rows)) => {
            state.memory = rows;
            state.memory_error = None;
        }
        Some(Err(e)) => state.memory_error = Some(e),
        None => {}
    }
}

/// Handles a key.
pub fn key(state: &mut MetricsState, _data: &Data, key: KeyEvent) -> Vec<Effect> {
    if key.code == KeyCode::Char('z') {
        state.zoom = state.zoom.next();
    }
    Vec::new()
}

/// `1234` → `1.2k`, `3400000` → `3.4M`.
pub fn compact(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}G", n as f64 / 1e9),
    }
}

/// A span of time for the title: `2h50m`, `3d`.
fn span(ms: u64) -> String {
    if ms < 2 * 86_400_000 {
        duration(ms)
    } else {
        format!("{}d", ms / 86_400_000)
    }
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or("-".into(), |r| format!("{:.0}%", r * 100.0))
}

/// One trend: a label, a sparkline, a value.
struct Trend<'a> {
    label: String,
    bars: Vec<SparklineBar>,
    max: Option<u64>,
    style: Style,
    value: Line<'a>,
}

fn trends<'a>(state: &MetricsState, data: &Data, t: &Theme, columns: usize) -> Vec<Trend<'a>> {
    let c = &state.collector;
    let series: Vec<Bucket> = c.series(data.now_ms, columns, state.zoom.per_column());
    let totals = c.totals();
    let depths = c.depths();
    let latency = c.latency();
    let peak = |f: fn(&Bucket) -> Option<u32>| series.iter().filter_map(f).max().unwrap_or(0);
    let mut out = vec![
        Trend {
            label: "Finished".into(),
            bars: series
                .iter()
                .map(|b| u64::from(b.finished).into())
                .collect(),
            max: None,
            style: Style::new().fg(t.accent),
            value: Line::styled(
                format!("{} all time, {} merged", totals.finished, totals.merged),
                t.text(),
            ),
        },
        Trend {
            label: "Success rate".into(),
            bars: series
                .iter()
                .map(|b| b.success_rate().map(|r| (r * 100.0).round() as u64).into())
                .collect(),
            max: Some(100),
            style: Style::new().fg(t.pass),
            value: Line::styled(
                match totals.success_rate() {
                    Some(rate) => format!(
                        "{} of {} decided",
                        percent(Some(rate)),
                        totals.merged + totals.rejected + totals.failed
                    ),
                    None => "no decisions yet".into(),
                },
                t.text(),
            ),
        },
        Trend {
            label: "Queue".into(),
            bars: series
                .iter()
                .map(|b| b.queued.map(|d| u64::from(d.peak)).into())
                .collect(),
            max: None,
            style: Style::new().fg(t.running),
            value: Line::styled(
                format!(
                    "{} now, {} running, peak {}",
                    depths.queued,
                    depths.active,
                    peak(|b| b.queued.map(|d| d.peak))
                ),
                t.text(),
            ),
        },
        Trend {
            label: "Awaiting you".into(),
            bars: series
                .iter()
                .map(|b| b.awaiting.map(|d| u64::from(d.peak)).into())
                .collect(),
            max: None,
            style: Style::new().fg(t.notice),
            value: Line::styled(
                format!(
                    "{} now, peak {}",
                    depths.awaiting,
                    peak(|b| b.awaiting.map(|d| d.peak))
                ),
                t.text(),
            ),
        },
        Trend {
            label: "Approval wait".into(),
            bars: series
                .iter()
                .map(|b| b.latency_ms.value().map(|ms| (ms / 1000.0) as u64).into())
                .collect(),
            max: None,
            style: Style::new().fg(t.info),
            value: Line::styled(
                match (latency.median_ms, latency.p90_ms) {
                    (Some(m), Some(p)) => {
                        format!("median {}, p90 {}", duration(m), duration(p))
                    }
                    _ => "no decisions yet".into(),
                },
                t.text(),
            ),
        },
        Trend {
            label: "Quality".into(),
            bars: series
                .iter()
                .map(|b| b.score.value().map(|s| (s * 100.0).round() as u64).into())
                .collect(),
            max: Some(100),
            style: Style::new().fg(t.pass),
            value: Line::styled(
                series
                    .iter()
                    .rev()
                    .find_map(|b| b.score.value())
                    .map_or("no scores yet".into(), |s| format!("{s:.2} latest")),
                t.text(),
            ),
        },
    ];
    let quality = c.quality();
    for task_type in TaskType::ALL {
        let all_time = quality[type_index(task_type)];
        if all_time.count == 0 {
            continue;
        }
        let i = type_index(task_type);
        out.push(Trend {
            label: format!("  {task_type}"),
            bars: series
                .iter()
                .map(|b| {
                    b.score_by_type[i]
                        .value()
                        .map(|s| (s * 100.0).round() as u64)
                        .into()
                })
                .collect(),
            max: Some(100),
            style: Style::new().fg(t.pass),
            value: Line::styled(
                format!(
                    "{:.2} mean of {}",
                    all_time.value().unwrap_or(0.0),
                    all_time.count
                ),
                t.muted(),
            ),
        });
    }
    out
}

/// Draws the screen.
pub fn render(state: &MetricsState, data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    const LABEL: u16 = 14;
    const VALUE: u16 = 30;
    let columns = usize::from(area.width.saturating_sub(LABEL + VALUE + 2).max(1));
    let mut trends = trends(state, data, t, columns);
    // Keep at least 8 rows for the tables.
    let room = usize::from(area.height.saturating_sub(1 + 1 + 8));
    trends.truncate(room.max(3));
    let [title, trend_area, tables] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::try_from(trends.len()).unwrap_or(0)),
        Constraint::Min(0),
    ])
    .areas(area);

    let span_ms = BUCKET_MS * (state.zoom.per_column() * columns) as u64;
    let mut head = vec![
        Span::styled(" Metrics ", t.accent()),
        Span::styled(
            format!("· {} · last {}", state.zoom.label(), span(span_ms)),
            t.muted(),
        ),
    ];
    if state.collector.seeding() {
        head.push(Span::styled("  reading history…", t.accent()));
    }
    match &state.audit {
        None => head.push(Span::styled(" · checking the audit trail…", t.muted())),
        Some(Ok(n)) => head.push(Span::styled(
            format!(" · audit trail verified ({n} entries)"),
            t.muted(),
        )),
        Some(Err(e)) => head.push(Span::styled(
            format!(" · AUDIT TRAIL BROKEN: {e}"),
            t.severity(crate::model::Severity::Risk),
        )),
    }
    frame.render_widget(Paragraph::new(Line::from(head)), title);

    for (i, trend) in trends.into_iter().enumerate() {
        let row = Rect {
            y: trend_area.y + u16::try_from(i).unwrap_or(0),
            height: 1,
            ..trend_area
        };
        let [label, spark, _, value] = Layout::horizontal([
            Constraint::Length(LABEL),
            Constraint::Length(u16::try_from(columns).unwrap_or(0)),
            Constraint::Length(2),
            Constraint::Min(0),
        ])
        .areas(row);
        frame.render_widget(Paragraph::new(trend.label).style(t.muted()), label);
        let mut sparkline = Sparkline::default()
            .data(trend.bars)
            .style(trend.style)
            .absent_value_symbol(" ");
        if let Some(max) = trend.max {
            sparkline = sparkline.max(max);
        }
        frame.render_widget(sparkline, spark);
        frame.render_widget(Paragraph::new(trend.value), value);
    }

    if tables.height < 3 {
        return;
    }
    if tables.width >= 110 {
        let [gates, spend, memory] = Layout::horizontal([
            Constraint::Percentage(34),
            Constraint::Percentage(33),
            Constraint::Percentage(33),
        ])
        .areas(tables);
        render_gates_and_rework(state, t, frame, gates);
        render_spend(state, data, t, frame, spend);
        render_memory(state, t, frame, memory);
    } else {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(tables);
        let [spend, memory] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(right);
        render_gates_and_rework(state, t, frame, left);
        render_spend(state, data, t, frame, spend);
        render_memory(state, t, frame, memory);
    }
}

fn panel<'a>(title: String, t: &Theme) -> Block<'a> {
    Block::new()
        .borders(Borders::TOP)
        .border_style(t.border())
        .padding(Padding::horizontal(1))
        .title(Span::styled(format!(" {title} "), t.muted()))
}

fn render_gates_and_rework(state: &MetricsState, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let c = &state.collector;
    let gates = c.gates();
    // Gates first (one row each), attempts below them when there is room for all five.
    let rework_rows: u16 = 5 + 1;
    let gate_rows = u16::try_from(gates.len().max(1) + 1).unwrap_or(u16::MAX);
    let rework_fits = area.height >= gate_rows.min(4) + rework_rows;
    let [gate_area, rework_area, _] = Layout::vertical([
        Constraint::Length(if rework_fits {
            gate_rows.min(area.height - rework_rows)
        } else {
            area.height
        }),
        Constraint::Length(if rework_fits { rework_rows } else { 0 }),
        Constraint::Min(0),
    ])
    .areas(area);
    let block = panel("Gate pass rate".into(), t);
    if gates.is_empty() {
        frame.render_widget(
            Paragraph::new("No gate has run yet.")
                .style(t.muted())
                .block(block),
            gate_area,
        );
    } else {
        let bars: Vec<Bar<'_>> = gates
            .iter()
            .map(|(name, g)| {
                let rate = g.pass_rate();
                let ran = g.pass + g.fail + g.warn;
                let color = match rate {
                    Some(r) if r >= 0.9 => t.pass,
                    Some(r) if r >= 0.6 => t.warn,
                    Some(_) => t.fail,
                    None => t.skip,
                };
                Bar::default()
                    .label(Line::from(name.clone()))
                    .value(rate.map_or(0, |r| (r * 100.0).round() as u64))
                    .text_value(format!("{} of {ran}", percent(rate)))
                    .style(Style::new().fg(color))
                    .value_style(t.text().add_modifier(Modifier::REVERSED))
            })
            .collect();
        frame.render_widget(
            BarChart::default()
                .direction(Direction::Horizontal)
                .data(BarGroup::default().bars(&bars))
                .bar_width(1)
                .bar_gap(0)
                .max(100)
                .label_style(t.muted())
                .block(block),
            gate_area,
        );
    }
    if rework_area.height == 0 {
        return;
    }
    let attempts = c.attempts();
    let title = match c.mean_attempts() {
        Some(m) => format!("Attempts per merge · mean {m:.1}"),
        None => "Attempts per merge".to_string(),
    };
    let block = panel(title, t);
    let bars: Vec<Bar<'_>> = attempts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let label = if i == 4 {
                "5+".to_string()
            } else {
                format!("{}", i + 1)
            };
            Bar::default()
                .label(Line::from(label))
                .value(*n)
                .text_value(n.to_string())
                .style(Style::new().fg(if i == 0 { t.pass } else { t.warn }))
                .value_style(t.text().add_modifier(Modifier::REVERSED))
        })
        .collect();
    frame.render_widget(
        BarChart::default()
            .direction(Direction::Horizontal)
            .data(BarGroup::default().bars(&bars))
            .bar_width(1)
            .bar_gap(0)
            .label_style(t.muted())
            .block(block),
        rework_area,
    );
}

/// Spend per executor, with the model providers' record below it once a model was called.
fn render_spend(state: &MetricsState, data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    if data.providers.is_empty() {
        render_executors(state, t, frame, area);
        return;
    }
    let [spend, models] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    render_executors(state, t, frame, spend);
    render_models(&data.providers, t, frame, models);
}

/// Per provider: requests, failures, median latency, cost, and whether it is cooling down.
fn render_models(
    providers: &[crate::model::ProviderStats],
    t: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    let block = panel("Models (this session)".into(), t);
    // Padding 2, then 4 + 4 + 6 + 6 + 4 columns with their spaces.
    let name_width = usize::from(area.width.saturating_sub(2 + 29)).clamp(6, 14);
    let mut lines = vec![Line::styled(
        format!(
            "{:<name_width$} {:>4} {:>4} {:>6} {:>6} {:<4}",
            "provider", "req", "fail", "p50", "cost", ""
        ),
        t.muted().add_modifier(Modifier::BOLD),
    )];
    for p in providers {
        let p50 = p
            .latency_p50_ms
            .map_or("-".to_string(), |ms| format!("{ms:.0}ms"));
        let (state, style) = if p.cooling_down {
            ("cool", Style::new().fg(t.warn))
        } else if p.failures > 0 && p.successes == 0 {
            ("down", Style::new().fg(t.fail))
        } else {
            ("ok", t.muted())
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{:<name_width$} {:>4} {:>4} {:>6} {:>6} ",
                    fit(&p.name, name_width),
                    p.requests,
                    p.failures,
                    p50,
                    format!("${:.2}", p.cost_usd)
                ),
                t.text(),
            ),
            Span::styled(state, style),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_executors(state: &MetricsState, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = panel("Spend per executor".into(), t);
    let executors = state.collector.executors();
    if executors.is_empty() {
        frame.render_widget(
            Paragraph::new("No run has finished yet.")
                .style(t.muted())
                .block(block),
            area,
        );
        return;
    }
    let name_width = usize::from(area.width.saturating_sub(30)).clamp(6, 14);
    let mut lines = vec![Line::styled(
        format!(
            "{:<name_width$} {:>5} {:>6} {:>6} {:>7}",
            "executor", "runs", "in", "out", "cost"
        ),
        t.muted().add_modifier(Modifier::BOLD),
    )];
    for (name, e) in executors {
        lines.push(Line::styled(
            format!(
                "{:<name_width$} {:>5} {:>6} {:>6} {:>7}",
                fit(name, name_width),
                e.runs,
                compact(e.input_tokens),
                compact(e.output_tokens),
                e.cost_text()
            ),
            t.text(),
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

fn render_memory(state: &MetricsState, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let block = panel("Process memory · P(ok) pulls".into(), t);
    if let Some(e) = &state.memory_error {
        frame.render_widget(
            Paragraph::new(e.clone())
                .style(Style::new().fg(t.fail))
                .block(block),
            area,
        );
        return;
    }
    if state.memory.is_empty() {
        frame.render_widget(
            Paragraph::new("Nothing learned yet: each decided run adds to its executor's record.")
                .wrap(Wrap { trim: true })
                .style(t.muted())
                .block(block),
            area,
        );
        return;
    }
    let executors: BTreeSet<&str> = state.memory.iter().map(|s| s.executor.as_str()).collect();
    let types: BTreeSet<TaskType> = state.memory.iter().map(|s| s.task_type).collect();
    const CELL: usize = 10;
    let fits = usize::from(area.width.saturating_sub(11)) / CELL;
    let shown: Vec<&str> = executors.iter().copied().take(fits.max(1)).collect();
    let mut header = format!("{:<9}", "");
    for e in &shown {
        header.push_str(&format!("{:>CELL$}", fit(e, CELL - 1)));
    }
    let mut lines = vec![Line::styled(header, t.muted().add_modifier(Modifier::BOLD))];
    for task_type in types {
        let mut spans = vec![Span::styled(
            format!("{:<9}", task_type.as_str()),
            t.muted(),
        )];
        for e in &shown {
            let cell = state
                .memory
                .iter()
                .find(|s| s.task_type == task_type && s.executor == *e);
            spans.push(match cell {
                Some(s) => {
                    let color = if s.expected_success >= 0.7 {
                        t.pass
                    } else if s.expected_success >= 0.4 {
                        t.warn
                    } else {
                        t.fail
                    };
                    Span::styled(
                        format!(
                            "{:>CELL$}",
                            format!("{:.2} {:>3}", s.expected_success, s.pulls)
                        ),
                        Style::new().fg(color),
                    )
                }
                None => Span::styled(format!("{:>CELL$}", "·"), t.muted()),
            });
        }
        lines.push(Line::from(spans));
    }
    if shown.len() < executors.len() {
        lines.push(Line::styled(
            format!(
                "+{} more executors (widen the terminal)",
                executors.len() - shown.len()
            ),
            t.muted(),
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
