//! `?`: every key, screen by screen.

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::app::{App, Tab, centered};
use super::{board, history, logs, metrics, review};

/// Keys that work on every screen.
pub const GLOBAL: [(&str, &str); 8] = [
    ("1 … 5", "Board, Review, History, Metrics, Logs (tab: next)"),
    ("p", "pause / resume starting runs"),
    ("t", "next theme"),
    ("?", "this help"),
    ("q", "quit (asks while runs are working)"),
    ("ctrl-c", "quit"),
    ("esc", "clear a filter, close a dialog"),
    ("mouse", "click to select, wheel to scroll"),
];

/// Draws the help over the screen.
pub fn render(app: &App, frame: &mut Frame<'_>) {
    let t = &app.theme;
    let mut lines = vec![Line::styled("Everywhere", t.accent())];
    let row = |k: &str, what: &str| {
        Line::from(vec![
            Span::styled(format!("  {k:<10}"), t.accent()),
            Span::styled(what.to_string(), t.text()),
        ])
    };
    lines.extend(GLOBAL.iter().map(|(k, w)| row(k, w)));
    lines.push(Line::raw(""));
    // The current screen's own keys, so the help fits a 24-line terminal.
    let (title, keys): (&str, &[(&str, &str)]) = match app.tab {
        Tab::Board => ("Board", &board::KEYS),
        Tab::Review => ("Review", &review::HELP),
        Tab::History => ("History", &history::HELP),
        Tab::Metrics => ("Metrics", &metrics::HELP),
        Tab::Logs => ("Logs", &logs::HELP),
    };
    lines.push(Line::styled(title, t.accent()));
    lines.extend(keys.iter().map(|(k, w)| row(k, w)));
    lines.push(Line::raw(""));
    lines.push(Line::styled("any key closes this help", t.muted()));
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let area = centered(frame.area(), 64, height);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys ").border_style(t.accent())),
        area,
    );
}
