//! `5` Logs: a live tail of bosun's own log and of the selected run's agent output, with a
//! level filter, follow mode and search. (Skeleton: the logs work fills it in.)

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::Effect;
use super::data::Data;
use super::theme::Theme;

/// The logs screen's keys.
pub const KEYS: [(&str, &str); 0] = [];

/// The logs screen's state.
#[derive(Debug, Clone, Default)]
pub struct LogsState {}

/// Handles a key.
pub fn key(_state: &mut LogsState, _data: &Data, _key: KeyEvent) -> Vec<Effect> {
    Vec::new()
}

/// A text field has the keyboard.
pub fn captures_text(_state: &LogsState) -> bool {
    false
}

/// Draws the screen.
pub fn render(_state: &LogsState, _data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    frame.render_widget(
        Paragraph::new("Logs")
            .style(t.muted())
            .block(Block::new().borders(Borders::TOP).border_style(t.border())),
        area,
    );
}
