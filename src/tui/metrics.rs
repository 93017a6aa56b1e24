//! `4` Metrics: throughput, success rate and quality over time, queue depth, approval latency,
//! rework, gate pass rates, tokens and cost per executor, and process memory's table.
//! (Skeleton: the metrics work fills it in, backed by `crate::metrics`.)

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::Effect;
use super::data::Data;
use super::theme::Theme;

/// The metrics screen's keys.
pub const KEYS: [(&str, &str); 0] = [];

/// What a background load brings (process memory's table, history aggregates).
#[derive(Debug, Clone, Default)]
pub struct Loaded {}

/// The metrics screen's state.
#[derive(Debug, Clone, Default)]
pub struct MetricsState {}

/// Called when the screen is shown.
pub fn show(_state: &mut MetricsState, _data: &Data) -> Vec<Effect> {
    Vec::new()
}

/// A load arrived.
pub fn loaded(_state: &mut MetricsState, _loaded: Loaded) {}

/// Handles a key.
pub fn key(_state: &mut MetricsState, _data: &Data, _key: KeyEvent) -> Vec<Effect> {
    Vec::new()
}

/// Draws the screen.
pub fn render(_state: &MetricsState, _data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    frame.render_widget(
        Paragraph::new("Metrics")
            .style(t.muted())
            .block(Block::new().borders(Borders::TOP).border_style(t.border())),
        area,
    );
}
