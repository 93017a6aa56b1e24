//! `3` History: every run from the store, newest first, paged in lazily; filters; `enter`
//! opens a run in Review. (Skeleton: the history work fills it in.)

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::Effect;
use super::data::Data;
use super::theme::Theme;
use crate::model::{Run, RunId};

/// The history screen's keys.
pub const KEYS: [(&str, &str); 0] = [];

/// A page of runs read from the store.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The runs, newest first.
    pub runs: Vec<Run>,
}

/// The history screen's state.
#[derive(Debug, Clone, Default)]
pub struct HistoryState {}

/// Called when the screen is shown: loads the first page if needed.
pub fn show(_state: &mut HistoryState, _data: &Data) -> Vec<Effect> {
    Vec::new()
}

/// A page arrived.
pub fn loaded(_state: &mut HistoryState, _page: Page) {}

/// Handles a key; the second value is a run to open in Review.
pub fn key(
    _state: &mut HistoryState,
    _data: &Data,
    _key: KeyEvent,
) -> (Vec<Effect>, Option<RunId>) {
    (Vec::new(), None)
}

/// A text field has the keyboard.
pub fn captures_text(_state: &HistoryState) -> bool {
    false
}

/// Draws the screen.
pub fn render(_state: &HistoryState, _data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    frame.render_widget(
        Paragraph::new("History")
            .style(t.muted())
            .block(Block::new().borders(Borders::TOP).border_style(t.border())),
        area,
    );
}
