//! Plain-text tables for the terminal: columns padded by display width (CJK and emoji count
//! double), the last columns truncated with `…` to fit the terminal.

use std::io::IsTerminal;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::model::{Priority, Task};

/// The width to fit output to: the terminal's when stdout is one, else unlimited.
pub fn output_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size()
        .ok()
        .map(|(w, _)| usize::from(w))
}

/// Cuts `text` to at most `width` columns, ending with `…` when cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(text.width());
    format!("{text}{}", " ".repeat(fill))
}

/// Renders tasks as a table (id, priority, type, status, title, section) grouped by priority,
/// most urgent first, file order within a group.
pub fn tasks_table(tasks: &[&Task], width: Option<usize>) -> String {
    const FIXED: [(&str, usize); 4] = [("ID", 8), ("PRIORITY", 8), ("TYPE", 8), ("STATUS", 6)];
    let fixed: usize = FIXED.iter().map(|(_, w)| w + 2).sum();
    let rows: Vec<[String; 2]> = tasks
        .iter()
        .map(|t| {
            [
                t.title.clone(),
                t.section.last().cloned().unwrap_or_default(),
            ]
        })
        .collect();
    let natural_title = rows.iter().map(|r| r[0].width()).max().unwrap_or(0).max(5);
    let (title_w, section_w) = match width {
        Some(w) => {
            let room = w.saturating_sub(fixed + 2).max(20);
            let title = natural_title.min((room * 3 / 5).max(room.saturating_sub(30)));
            (title, room - title)
        }
        None => (natural_title, usize::MAX),
    };

    let mut out = String::new();
    for (name, w) in FIXED {
        out.push_str(&pad(name, w + 2));
    }
    out.push_str(&pad("TITLE", title_w + 2));
    out.push_str("SECTION\n");
    for (group, priority) in Priority::ALL.into_iter().enumerate() {
        let in_group: Vec<usize> = (0..tasks.len())
            .filter(|&i| tasks[i].priority == priority)
            .collect();
        if in_group.is_empty() {
            continue;
        }
        if group > 0 && !out.ends_with("SECTION\n") {
            out.push('\n');
        }
        for i in in_group {
            let t = tasks[i];
            let status = if t.done { "done" } else { "open" };
            for (text, w) in [
                (t.id.0.as_str(), 8),
                (t.priority.as_str(), 8),
                (t.task_type.as_str(), 8),
                (status, 6),
            ] {
                out.push_str(&pad(text, w + 2));
            }
            out.push_str(&pad(&truncate(&rows[i][0], title_w), title_w + 2));
            out.push_str(truncate(&rows[i][1], section_w).trim_end());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_display_width() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("Декомпозиция", 6), "Деком…");
        assert_eq!(truncate("🔥🔥🔥", 4), "🔥…");
    }
}
