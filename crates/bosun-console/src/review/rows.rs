//! The review view's flat index of display rows — file headers, hunk headers, diff lines and
//! inline annotations — built once when a change is loaded (off the event loop), so that
//! drawing a screen of a 100,000-line diff touches only the rows on that screen.

use std::collections::HashMap;

use crate::model::ChangeStatus;
use crate::model::{Annotation, Run, Severity};
use crate::model::{Diff, FileDiff};

/// One display row. Indexes point into the loaded [`Change`] (files, hunks, lines of the diff;
/// annotations of the run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// A file's header: path, status, counts.
    File {
        /// The file.
        file: u32,
    },
    /// A file without text hunks (binary, renamed or re-moded only): one unit to keep or drop.
    Whole {
        /// The file.
        file: u32,
    },
    /// A hunk's header.
    Hunk {
        /// The file.
        file: u32,
        /// The hunk in the file.
        hunk: u32,
    },
    /// A line of a hunk.
    Line {
        /// The file.
        file: u32,
        /// The hunk in the file.
        hunk: u32,
        /// The line in the hunk.
        line: u32,
        /// The most severe annotation covering the line, for the gutter.
        mark: Option<Severity>,
    },
    /// An annotation, under the line it is about (or under the file header).
    Note {
        /// The file.
        file: u32,
        /// The hunk it sits in, when it sits under a line.
        hunk: Option<u32>,
        /// The annotation (index into the run's annotations).
        annotation: u32,
    },
}

impl Row {
    /// The file the row belongs to.
    pub fn file(self) -> usize {
        match self {
            Row::File { file }
            | Row::Whole { file }
            | Row::Hunk { file, .. }
            | Row::Line { file, .. }
            | Row::Note { file, .. } => file as usize,
        }
    }

    /// The unit (hunk, or whole file) the row belongs to: `(file, unit)`; `None` for a file
    /// header and for a note about the whole file.
    pub fn unit(self) -> Option<(usize, usize)> {
        match self {
            Row::Whole { file } => Some((file as usize, 0)),
            Row::Hunk { file, hunk } | Row::Line { file, hunk, .. } => {
                Some((file as usize, hunk as usize))
            }
            Row::Note { file, hunk, .. } => hunk.map(|h| (file as usize, h as usize)),
            Row::File { .. } => None,
        }
    }
}

/// What the file list shows about a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
    /// Annotations on the file.
    pub notes: usize,
    /// The most severe of them.
    pub worst: Option<Severity>,
    /// Units to keep or drop: the hunks, or 1 for a file without text hunks.
    pub units: usize,
}

/// A run's change, ready to draw.
#[derive(Debug, Clone)]
pub struct Change {
    /// The run as read from the store when the change was loaded.
    pub run: Run,
    /// The run's annotations (the run itself has only their counts).
    pub annotations: Vec<Annotation>,
    /// The parsed diff base..head.
    pub diff: Diff,
    /// Every display row, in order.
    pub rows: Vec<Row>,
    /// The header row of each file.
    pub file_rows: Vec<usize>,
    /// The first row of each unit (hunk headers, and the row of each whole-file unit), in order.
    pub unit_rows: Vec<usize>,
    /// Per file, for the file list.
    pub files: Vec<FileSummary>,
    /// The enclosing definition named by an annotation, by (file, hunk), where one overlaps
    /// the hunk (git's own guess, the text after `@@`, is used otherwise).
    pub symbols: HashMap<(u32, u32), String>,
    /// Digits of the largest line number (the width of each number column).
    pub number_width: usize,
    /// The risk card of the run's annotations (`model::risk_card`).
    pub card: Vec<String>,
    /// Files of the change not loaded yet: the first screen of a large change is shown while
    /// the rest is parsed (0 once it is all here).
    pub pending: usize,
    /// A run that ended without a change to review: why, and the end of its log.
    pub failure: Option<Failure>,
    /// The words that changed in a changed line, against the line it replaces (the byte
    /// range of its text), by (file, hunk, line): sorted, for [`Change::emphasis`] (a map
    /// took twice the memory: a 100,000-line change has as many entries).
    pub emphasis: Vec<(LineAt, (u32, u32))>,
}

/// A line of a change: (file, hunk, line), indices from 0.
pub type LineAt = (u32, u32, u32);

/// Why a run ended without a change, as its review shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    /// The run's error (its reason for failing, being cancelled or interrupted).
    pub reason: String,
    /// The last lines of the agent's log.
    pub log: Vec<String>,
    /// Earlier lines of the log were left out.
    pub cut: bool,
}

/// Longest line whose changed words are looked for, in bytes.
const MAX_COMPARED: usize = 1_000;

/// In each block of removed lines followed by added lines, the lines paired in order (the
/// first removed with the first added, …): for each line of a pair, the byte range of the
/// words that differ from the other line — what is left after their common beginning and
/// end, widened to whole words. Lines that share nothing, or are too long, get none. In line
/// order (a block's removed lines come before its added ones).
pub fn changed_words(hunk: &crate::model::Hunk) -> Vec<(u32, (u32, u32))> {
    use crate::model::LineKind;
    let mut out = Vec::new();
    let mut added_words = Vec::new();
    let lines = &hunk.lines;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].kind != LineKind::Removed {
            i += 1;
            continue;
        }
        let removed = i;
        while i < lines.len() && lines[i].kind == LineKind::Removed {
            i += 1;
        }
        let added = i;
        while i < lines.len() && lines[i].kind == LineKind::Added {
            i += 1;
        }
        let pairs = (added - removed).min(i - added);
        for k in 0..pairs {
            let (old, new) = (&lines[removed + k].text, &lines[added + k].text);
            if old.len() > MAX_COMPARED || new.len() > MAX_COMPARED {
                continue;
            }
            if let Some((a, b)) = difference(old, new) {
                out.push((u32_of(removed + k), a));
                added_words.push((u32_of(added + k), b));
            }
        }
        out.append(&mut added_words);
    }
    out
}

/// The differing middle of `old` and `new` as byte ranges of each, widened to word
/// boundaries; `None` when they share no beginning or end (the whole line changed) or are
/// the same.
fn difference(old: &str, new: &str) -> Option<((u32, u32), (u32, u32))> {
    let prefix: usize = old
        .char_indices()
        .zip(new.chars())
        .find(|((_, a), b)| a != b)
        .map_or(old.len().min(new.len()), |((at, _), _)| at);
    let (old_rest, new_rest) = (&old[prefix..], &new[prefix..]);
    let suffix: usize = old_rest
        .chars()
        .rev()
        .zip(new_rest.chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum();
    if (prefix == 0 && suffix == 0) || (old.len() == new.len() && prefix == old.len()) {
        return None;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    // A change that starts (ends) inside a word takes in the rest of that word.
    let widen = |text: &str, from: usize, to: usize| -> (u32, u32) {
        let changed = &text[from..to];
        let start = match changed.chars().next() {
            Some(c) if word(c) => text[..from]
                .char_indices()
                .rev()
                .take_while(|(_, c)| word(*c))
                .last()
                .map_or(from, |(at, _)| at),
            _ => from,
        };
        let end = match changed.chars().next_back() {
            Some(c) if word(c) => text[to..]
                .char_indices()
                .take_while(|(_, c)| word(*c))
                .last()
                .map_or(to, |(at, c)| to + at + c.len_utf8()),
            _ => to,
        };
        (u32_of(start), u32_of(end))
    };
    Some((
        widen(old, prefix, old.len() - suffix),
        widen(new, prefix, new.len() - suffix),
    ))
}

/// A file's annotation: where it sits and which lines it covers.
struct Placed {
    index: u32,
    severity: Severity,
    old_side: bool,
    first: Option<u32>,
    last: Option<u32>,
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Change {
    /// The changed words' byte range in line `line` of hunk `hunk` of file `file`, if any.
    pub fn emphasis(&self, file: u32, hunk: u32, line: u32) -> Option<(u32, u32)> {
        let key = (file, hunk, line);
        self.emphasis
            .binary_search_by_key(&key, |(k, _)| *k)
            .ok()
            .map(|i| self.emphasis[i].1)
    }

    /// Indexes `diff` for `run`: its `annotations` are placed under the first line they name
    /// (on the side they count), or under the file header when that line is not in a hunk.
    /// `diff` comes from the core with every credential masked
    /// (by the core): the screen and the highlighter only ever see
    /// the masked text.
    pub fn new(run: Run, annotations: Vec<Annotation>, diff: Diff) -> Change {
        let mut by_path: HashMap<&str, Vec<Placed>> = HashMap::new();
        for (i, a) in annotations.iter().enumerate() {
            by_path.entry(a.path.as_str()).or_default().push(Placed {
                index: u32_of(i),
                severity: a.severity,
                old_side: a.old_side,
                first: a.line,
                last: a.end_line.or(a.line),
            });
        }
        let lines: usize = diff
            .files
            .iter()
            .map(|f| f.hunks.iter().map(|h| h.lines.len() + 1).sum::<usize>() + 2)
            .sum();
        let mut rows = Vec::with_capacity(lines + annotations.len());
        let mut file_rows = Vec::with_capacity(diff.files.len());
        let mut unit_rows = Vec::new();
        let mut files = Vec::with_capacity(diff.files.len());
        let mut symbols = HashMap::new();
        let mut emphasis = Vec::new();
        let mut largest = 0u32;
        let empty = Vec::new();
        for (fi, file) in diff.files.iter().enumerate() {
            let f = u32_of(fi);
            let placed = by_path
                .get(file.path())
                .or_else(|| file.old_path.as_deref().and_then(|p| by_path.get(p)))
                .unwrap_or(&empty);
            file_rows.push(rows.len());
            rows.push(Row::File { file: f });
            // Notes whose line is in no hunk go under the header.
            let mut shown = vec![false; placed.len()];
            for (pi, p) in placed.iter().enumerate() {
                if !in_some_hunk(file, p) {
                    shown[pi] = true;
                    rows.push(Row::Note {
                        file: f,
                        hunk: None,
                        annotation: p.index,
                    });
                }
            }
            if file.hunks.is_empty() {
                unit_rows.push(rows.len());
                rows.push(Row::Whole { file: f });
            }
            // Each line's mark and notes, found by line number rather than by trying every
            // annotation of the file on every line (a file of a large change has hundreds
            // of each).
            let mut marks = [Sweep::new(placed, false), Sweep::new(placed, true)];
            let mut notes: HashMap<(bool, u32), Vec<usize>> = HashMap::new();
            for (pi, p) in placed.iter().enumerate() {
                if let (false, Some(first)) = (shown[pi], p.first) {
                    notes.entry((p.old_side, first)).or_default().push(pi);
                }
            }
            for (hi, hunk) in file.hunks.iter().enumerate() {
                let h = u32_of(hi);
                emphasis.extend(
                    changed_words(hunk)
                        .into_iter()
                        .map(|(line, range)| ((f, h, line), range)),
                );
                unit_rows.push(rows.len());
                rows.push(Row::Hunk { file: f, hunk: h });
                let new_end = hunk.new_start + hunk.new_lines.max(1) - 1;
                if let Some(symbol) = placed
                    .iter()
                    .filter(|p| !p.old_side)
                    .filter_map(|p| {
                        let a = &annotations[p.index as usize];
                        let (first, last) = (p.first?, p.last?);
                        (first <= new_end && last >= hunk.new_start).then_some(a.symbol.as_ref()?)
                    })
                    .next()
                {
                    symbols.insert((f, h), symbol.clone());
                }
                for (li, line) in hunk.lines.iter().enumerate() {
                    largest = largest.max(line.old_no.unwrap_or(0).max(line.new_no.unwrap_or(0)));
                    let [new_side, old_side] = &mut marks;
                    let mark = new_side.at(line.new_no).max(old_side.at(line.old_no));
                    rows.push(Row::Line {
                        file: f,
                        hunk: h,
                        line: u32_of(li),
                        mark,
                    });
                    let mut here: Vec<usize> = [(false, line.new_no), (true, line.old_no)]
                        .into_iter()
                        .filter_map(|(side, n)| notes.remove(&(side, n?)))
                        .flatten()
                        .collect();
                    here.sort_unstable();
                    for pi in here {
                        shown[pi] = true;
                        rows.push(Row::Note {
                            file: f,
                            hunk: Some(h),
                            annotation: placed[pi].index,
                        });
                    }
                }
            }
            // A note whose line is in a hunk's range but on no line shown: after the file.
            for (pi, p) in placed.iter().enumerate() {
                if !shown[pi] {
                    rows.push(Row::Note {
                        file: f,
                        hunk: None,
                        annotation: p.index,
                    });
                }
            }
            files.push(FileSummary {
                added: file.insertions(),
                removed: file.deletions(),
                notes: placed.len(),
                worst: placed.iter().map(|p| p.severity).max(),
                units: file.hunks.len().max(1),
            });
        }
        // Files, hunks and lines in order: sorted for `Change::emphasis`'s search.
        debug_assert!(emphasis.is_sorted_by_key(|(at, _)| *at));
        emphasis.shrink_to_fit();
        Change {
            card: crate::model::risk_card(&annotations),
            run,
            annotations,
            diff,
            rows,
            file_rows,
            unit_rows,
            files,
            symbols,
            number_width: largest.max(1).ilog10() as usize + 1,
            pending: 0,
            failure: None,
            emphasis,
        }
    }

    /// The annotation a note row shows.
    pub fn annotation(&self, index: u32) -> Option<&Annotation> {
        self.annotations.get(index as usize)
    }

    /// Units in the whole change.
    pub fn units(&self) -> usize {
        self.files.iter().map(|f| f.units).sum()
    }
}

/// The annotation's line falls inside one of the file's hunks (on its side).
fn in_some_hunk(file: &FileDiff, p: &Placed) -> bool {
    let Some(line) = p.first else {
        return false;
    };
    file.hunks.iter().any(|h| {
        let (start, len) = if p.old_side {
            (h.old_start, h.old_lines)
        } else {
            (h.new_start, h.new_lines)
        };
        line >= start && line < start + len.max(1)
    })
}

/// The worst severity among the annotations of one side of a file that cover a line, asked
/// for line numbers in increasing order (as a file's hunks give them): the annotations are
/// taken in order of their first line and dropped past their last.
struct Sweep {
    /// (first, last, severity), by first line.
    pending: Vec<(u32, u32, Severity)>,
    next: usize,
    /// (last, severity) of those begun.
    active: Vec<(u32, Severity)>,
}

impl Sweep {
    fn new(placed: &[Placed], old_side: bool) -> Sweep {
        let mut pending: Vec<(u32, u32, Severity)> = placed
            .iter()
            .filter(|p| p.old_side == old_side)
            .filter_map(|p| Some((p.first?, p.last?, p.severity)))
            .collect();
        pending.sort_unstable_by_key(|&(first, _, _)| first);
        Sweep {
            pending,
            next: 0,
            active: Vec::new(),
        }
    }

    /// The worst severity covering line `n` of this side (none for a line it does not have).
    fn at(&mut self, n: Option<u32>) -> Option<Severity> {
        let n = n?;
        while let Some(&(first, last, severity)) = self.pending.get(self.next) {
            if first > n {
                break;
            }
            self.active.push((last, severity));
            self.next += 1;
        }
        self.active.retain(|&(last, _)| last >= n);
        self.active.iter().map(|&(_, severity)| severity).max()
    }
}

/// One letter for a file's status in the file list.
pub fn status_letter(status: ChangeStatus) -> char {
    match status {
        ChangeStatus::Added => 'A',
        ChangeStatus::Modified => 'M',
        ChangeStatus::Deleted => 'D',
        ChangeStatus::Renamed => 'R',
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AnnotationKind, Hunk, Line, LineKind};

    /// A run awaiting approval with nothing else set.
    fn awaiting_run() -> Run {
        serde_json::from_value(serde_json::json!({
            "id": "r", "task_id": "t", "task_title": "", "attempt": 1, "executor": "",
            "status": "awaiting_approval", "branch": "", "target": "", "base": null,
            "head": null, "worktree": null, "pgid": null, "created_ms": 0, "started_ms": null,
            "finished_ms": null, "usage": {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0},
            "error": null, "feedback": null, "decision": null, "diffstat": null
        }))
        .unwrap()
    }

    fn annotation(path: &str, line: u32, severity: Severity, symbol: Option<&str>) -> Annotation {
        Annotation {
            kind: AnnotationKind::ApiChanged,
            severity,
            path: path.into(),
            line: Some(line),
            end_line: Some(line + 1),
            old_side: false,
            symbol: symbol.map(String::from),
            message: "m".into(),
        }
    }

    /// The hunk of a 30-line file `l1`…`l30` whose line `n` became `text`.
    fn rewritten(n: u32, text: &str) -> Hunk {
        let line = |kind, old_no, new_no, text: String| Line {
            kind,
            old_no,
            new_no,
            text,
            no_newline: false,
        };
        let context = |i: u32| line(LineKind::Context, Some(i), Some(i), format!("l{i}"));
        let mut lines: Vec<Line> = (n - 3..n).map(context).collect();
        lines.push(line(LineKind::Removed, Some(n), None, format!("l{n}")));
        lines.push(line(LineKind::Added, None, Some(n), text.into()));
        lines.extend((n + 1..=n + 3).map(context));
        Hunk {
            old_start: n - 3,
            old_lines: 7,
            new_start: n - 3,
            new_lines: 7,
            header: format!("@@ -{0},7 +{0},7 @@", n - 3),
            lines,
        }
    }

    #[test]
    fn changed_words_are_what_differs_between_paired_lines_widened_to_words() {
        let d = |a: &str, b: &str| {
            difference(a, b).map(|((a0, a1), (b0, b1))| {
                (
                    a[a0 as usize..a1 as usize].to_string(),
                    b[b0 as usize..b1 as usize].to_string(),
                )
            })
        };
        assert_eq!(
            d("let x = 1;", "let y = 1;"),
            Some(("x".into(), "y".into()))
        );
        assert_eq!(
            d("fn count_words(t: &str)", "fn count_lines(t: &str)"),
            Some(("count_words".into(), "count_lines".into()))
        );
        // Added words: an empty range on the old side.
        assert_eq!(
            d("print(total)", "print(total, file=out)"),
            Some(("".into(), ", file=out".into()))
        );
        assert_eq!(
            d("Привет, мир", "Привет, миру"),
            Some(("".into(), "миру".into()))
        );
        assert_eq!(
            d("abc", "xyz"),
            None,
            "nothing shared: the whole line changed"
        );
        assert_eq!(d("same", "same"), None);
        // Paired in order within a block of removed then added lines.
        let hunk = rewritten(5, "five");
        assert!(changed_words(&hunk).is_empty(), "l5 and five share nothing");
        let mut hunk = rewritten(5, "l5 and more");
        hunk.lines.push(Line {
            kind: LineKind::Added,
            old_no: None,
            new_no: Some(9),
            text: "unpaired".into(),
            no_newline: false,
        });
        assert_eq!(changed_words(&hunk), [(3, (2, 2)), (4, (2, 11))]);
        // A block of two removed and two added lines: in line order, for the review's search.
        let line = |kind, text: &str| Line {
            kind,
            old_no: None,
            new_no: None,
            text: text.into(),
            no_newline: false,
        };
        hunk.lines = vec![
            line(LineKind::Removed, "let a = 1;"),
            line(LineKind::Removed, "let b = 2;"),
            line(LineKind::Added, "let a = 10;"),
            line(LineKind::Added, "let b = 20;"),
        ];
        let lines: Vec<u32> = changed_words(&hunk).iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [0, 1, 2, 3]);
    }

    #[test]
    fn rows_interleave_headers_lines_and_notes_where_they_belong() {
        // 30 lines `l1`…`l30`; lines 5 and 25 rewritten, as git shows it (3 lines of context).
        let file = FileDiff {
            old_path: Some("a.rs".into()),
            new_path: Some("a.rs".into()),
            status: ChangeStatus::Modified,
            binary: false,
            mode_change: None,
            hunks: vec![rewritten(5, "five"), rewritten(25, "twenty-five")],
        };
        let bin = FileDiff {
            binary: true,
            hunks: vec![],
            ..file.clone()
        };
        let bin = FileDiff {
            new_path: Some("logo.png".into()),
            old_path: Some("logo.png".into()),
            ..bin
        };
        let annotations = vec![
            annotation("a.rs", 25, Severity::Risk, Some("fn f")),
            annotation("a.rs", 99, Severity::Info, None),
            annotation("logo.png", 1, Severity::Notice, None),
        ];
        let change = Change::new(
            awaiting_run(),
            annotations,
            Diff {
                files: vec![file, bin],
            },
        );
        assert_eq!(change.files[0].units, 2);
        assert_eq!(change.files[0].worst, Some(Severity::Risk));
        assert_eq!(change.units(), 3);
        assert_eq!(change.file_rows, [0, 21]);
        assert_eq!(change.unit_rows, [2, 11, 23]);
        // Row 1: the note about line 99, which no hunk shows, under the header.
        assert_eq!(
            change.rows[1],
            Row::Note {
                file: 0,
                hunk: None,
                annotation: 1
            }
        );
        // The risk on line 25 sits right under it, which carries the gutter mark.
        let line25 = change
            .rows
            .iter()
            .position(|r| {
                matches!(
                    r,
                    Row::Line {
                        hunk: 1,
                        line: 4,
                        ..
                    }
                )
            })
            .unwrap();
        assert!(matches!(
            change.rows[line25],
            Row::Line {
                mark: Some(Severity::Risk),
                ..
            }
        ));
        assert_eq!(
            change.rows[line25 + 1],
            Row::Note {
                file: 0,
                hunk: Some(1),
                annotation: 0
            }
        );
        assert_eq!(
            change.symbols.get(&(0, 1)).map(String::as_str),
            Some("fn f")
        );
        assert_eq!(change.symbols.get(&(0, 0)), None);
        assert_eq!(change.rows[23], Row::Whole { file: 1 });
        assert_eq!(change.number_width, 2);
    }
}
