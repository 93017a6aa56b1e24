//! Syntax highlighting of diff lines with syntect, bounded the way a console needs it: a
//! caller highlights only the lines about to be shown, a run of lines at a time, resuming from
//! a [`Checkpoint`] it kept; lines longer than [`MAX_LINE`] bytes stay plain (and are not fed
//! to the parser, whose cost grows with line length). Removed lines are parsed as a stream of
//! the old file and added lines as one of the new file, context lines in both, so a string or
//! comment opened on one side does not color the other.
//!
//! Everything here is CPU work for the blocking pool, never for the event loop: loading
//! syntect's syntax and theme sets alone takes tens of milliseconds (once per process).

use std::sync::OnceLock;

use ratatui::style::{Color, Modifier, Style};
use syntect::highlighting::{
    FontStyle, HighlightState, Highlighter, RangedHighlightIterator, Theme as SyntaxTheme, ThemeSet,
};
use syntect::parsing::{ParseState, ScopeStack, SyntaxReference, SyntaxSet};

use crate::model::LineKind;

/// Lines longer than this (in bytes) are shown as plain text.
pub const MAX_LINE: usize = 500;

/// A line's colors: `(end, style)` pairs, each styling the bytes from the previous end (or 0)
/// up to `end`. Empty: plain text.
pub type Spans = Vec<(u32, Style)>;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn themes() -> &'static ThemeSet {
    static SET: OnceLock<ThemeSet> = OnceLock::new();
    SET.get_or_init(ThemeSet::load_defaults)
}

/// The parser and highlighter states of both sides after some lines: where the next run of
/// lines of the same hunk picks up.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    old: (ParseState, HighlightState),
    new: (ParseState, HighlightState),
}

/// Highlights the lines of one file with one syntect theme.
pub struct FileHighlighter {
    syntax: &'static SyntaxReference,
    highlighter: Highlighter<'static>,
}

impl FileHighlighter {
    /// A highlighter for `path` in syntect theme `theme`; `None` when syntect knows no syntax
    /// for the path or no such theme (the file is shown plain).
    pub fn new(path: &str, theme: &str) -> Option<Self> {
        let theme: &'static SyntaxTheme = themes().themes.get(theme)?;
        let set = syntaxes();
        let name = path.rsplit('/').next().unwrap_or(path);
        let syntax = name
            .rsplit_once('.')
            .and_then(|(_, ext)| set.find_syntax_by_extension(ext))
            .or_else(|| set.find_syntax_by_extension(name))?;
        if syntax.name == "Plain Text" {
            return None;
        }
        Some(Self {
            syntax,
            highlighter: Highlighter::new(theme),
        })
    }

    /// The state at the top of a hunk.
    pub fn start(&self) -> Checkpoint {
        let fresh = || {
            (
                ParseState::new(self.syntax),
                HighlightState::new(&self.highlighter, ScopeStack::new()),
            )
        };
        Checkpoint {
            old: fresh(),
            new: fresh(),
        }
    }

    /// The colors of the next line of the hunk (`kind` says which side it belongs to),
    /// advancing `at`.
    pub fn line(&self, at: &mut Checkpoint, kind: LineKind, text: &str) -> Spans {
        if text.len() > MAX_LINE {
            return Spans::new();
        }
        let mut line = String::with_capacity(text.len() + 1);
        line.push_str(text);
        line.push('\n');
        match kind {
            LineKind::Context => {
                // Both sides see a context line; the new side's colors are shown.
                let _ = self.advance(&mut at.old, &line);
                self.advance(&mut at.new, &line)
            }
            LineKind::Added => self.advance(&mut at.new, &line),
            LineKind::Removed => self.advance(&mut at.old, &line),
        }
    }

    fn advance(&self, (parse, highlight): &mut (ParseState, HighlightState), line: &str) -> Spans {
        let Ok(ops) = parse.parse_line(line, syntaxes()) else {
            return Spans::new();
        };
        let text_end = line.len() - 1;
        let mut spans = Spans::new();
        for (style, _, range) in
            RangedHighlightIterator::new(highlight, &ops, line, &self.highlighter)
        {
            let end = range.end.min(text_end);
            if end <= range.start {
                continue;
            }
            let style = convert(style);
            match spans.last_mut() {
                Some((last_end, last)) if *last == style => *last_end = end as u32,
                _ => spans.push((end as u32, style)),
            }
        }
        spans
    }
}

/// A syntect style as a ratatui one: the foreground and the font style (backgrounds come from
/// the console's theme: added and removed lines have their own).
fn convert(style: syntect::highlighting::Style) -> Style {
    let c = style.foreground;
    let mut out = Style::new().fg(Color::Rgb(c.r, c.g, c.b));
    if style.font_style.contains(FontStyle::BOLD) {
        out = out.add_modifier(Modifier::BOLD);
    }
    if style.font_style.contains(FontStyle::ITALIC) {
        out = out.add_modifier(Modifier::ITALIC);
    }
    if style.font_style.contains(FontStyle::UNDERLINE) {
        out = out.add_modifier(Modifier::UNDERLINED);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colors(spans: &Spans, text: &str) -> Vec<(String, Option<Color>)> {
        let mut start = 0;
        spans
            .iter()
            .map(|(end, style)| {
                let piece = text[start..*end as usize].to_string();
                start = *end as usize;
                (piece, style.fg)
            })
            .collect()
    }

    #[test]
    fn sides_are_separate_streams_and_long_lines_stay_plain() {
        let h = FileHighlighter::new("src/lib.rs", "base16-ocean.dark").unwrap();
        let mut at = h.start();
        let keyword = h.line(&mut at, LineKind::Context, "fn main() {");
        let pieces = colors(&keyword, "fn main() {");
        assert_eq!(
            pieces.iter().map(|(p, _)| p.as_str()).collect::<String>(),
            "fn main() {"
        );
        assert!(pieces.len() > 1, "{pieces:?}");
        // A comment opened on the removed side does not swallow the added line.
        let _ = h.line(&mut at, LineKind::Removed, "/* open");
        let added = h.line(&mut at, LineKind::Added, "let x = 1;");
        let comment = h.line(&mut at, LineKind::Removed, "still comment");
        let added_colors: Vec<_> = colors(&added, "let x = 1;");
        let comment_colors = colors(&comment, "still comment");
        assert_eq!(comment_colors.len(), 1, "{comment_colors:?}");
        assert!(added_colors.len() > 1, "{added_colors:?}");
        assert_ne!(added_colors[0].1, comment_colors[0].1);
        assert!(
            h.line(&mut at, LineKind::Added, &"x".repeat(MAX_LINE + 1))
                .is_empty()
        );
        assert!(FileHighlighter::new("notes.unknownext", "base16-ocean.dark").is_none());
        assert!(FileHighlighter::new("a.rs", "no such theme").is_none());
        assert!(FileHighlighter::new("Makefile", "base16-ocean.dark").is_some());
    }
}
