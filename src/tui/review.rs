//! `2` Review: one run's change — files, syntax-highlighted diff with annotations, gate panel,
//! risk card — and the decision (approve all or some hunks, reject with a reason).
//! (Skeleton: the review work fills it in.)

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::Effect;
use super::data::Data;
use super::theme::Theme;
use crate::model::RunId;

/// The review screen's keys, for the footer and the help.
pub const KEYS: [(&str, &str); 0] = [];

/// What a background load of a run's change brings back.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The run it is for (stale loads are dropped).
    pub run: Option<RunId>,
}

/// The review screen's state.
#[derive(Debug, Clone, Default)]
pub struct ReviewState {
    /// The run shown.
    pub run: Option<RunId>,
}

/// Opens `run`: returns the effects that load it.
pub fn open(state: &mut ReviewState, _data: &Data, run: RunId) -> Vec<Effect> {
    state.run = Some(run);
    Vec::new()
}

/// A finished load.
pub fn loaded(_state: &mut ReviewState, _loaded: Loaded) {}

/// Handles a key.
pub fn key(_state: &mut ReviewState, _data: &Data, _key: KeyEvent) -> Vec<Effect> {
    Vec::new()
}

/// A text field has the keyboard.
pub fn captures_text(_state: &ReviewState) -> bool {
    false
}

/// Draws the screen.
pub fn render(state: &ReviewState, _data: &Data, t: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let text = match &state.run {
        Some(run) => format!("run {run}"),
        None => "No run selected: pick one on the Board (1) or in History (3) and press enter."
            .to_string(),
    };
    frame.render_widget(
        Paragraph::new(text)
            .style(t.muted())
            .block(Block::new().borders(Borders::TOP).border_style(t.border())),
        area,
    );
}
