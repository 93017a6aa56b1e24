//! Turns a Markdown task list into tasks by walking pulldown-cmark's events (GFM task lists,
//! source offsets). The outermost checkbox items are tasks; items nested under them are
//! subtasks; items in block quotes, code fences and HTML blocks are not tasks.

use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use regex::Regex;

use super::classify::{
    TypeRules, collapse_whitespace, extract_tags, heading_priority, priority_label,
};
use crate::model::{Priority, Subtask, Task, TaskId};

/// What one file yielded.
#[derive(Debug, Default)]
pub(crate) struct FileParse {
    /// The tasks as found, before ids are assigned across files (their `id` is empty).
    pub tasks: Vec<Task>,
    /// Per task, the byte offset of its `[ ]` marker in the parsed text.
    pub markers: Vec<usize>,
    pub warnings: Vec<String>,
}

/// `see docs/x.md`, `см. docs/planning/task_1.md`, `cf. notes.txt`: a relative path after a
/// pointer word, optionally in backticks.
static SEE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:see|cf\.?|см\.?)\s*:?\s+`?([\w][\w.\-]*(?:/[\w.\-]+)+|[\w][\w\-]*\.[A-Za-z0-9]{1,8})`?")
        .expect("static regex is valid")
});

/// `depends on: X, Y` / `after: X` (English and Russian).
static DEPENDS_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[\s(\[;,])(?:depends on|after|зависит от|после)\s*:\s*([^\n)\]]+)")
        .expect("static regex is valid")
});

#[derive(Clone)]
struct Heading {
    level: usize,
    text: String,
    /// The priority the heading names, with the rule as reported on its tasks.
    priority: Option<(Priority, Arc<str>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// A list item not yet known to be a checkbox.
    Pending,
    /// A plain item outside any task: checkbox items under it may still be tasks.
    Plain,
    /// The item that is the current task.
    Task,
    /// An item nested in the current task.
    Sub,
    /// An item in a block quote: never a task.
    Quoted,
}

/// Inline text of an item's first paragraph, reduced to plain text.
#[derive(Default)]
struct Inline {
    text: String,
    bold: Option<Range<usize>>,
    bold_start: Option<usize>,
    strong_depth: u32,
    seen_paragraph: bool,
}

impl Inline {
    fn push_event(&mut self, event: &Event<'_>) {
        match event {
            Event::Text(t) => self.text.push_str(t),
            Event::Code(c) => {
                self.text.push('`');
                self.text.push_str(c);
                self.text.push('`');
            }
            Event::SoftBreak | Event::HardBreak => self.text.push('\n'),
            Event::Start(Tag::Strong) => {
                if self.strong_depth == 0 && self.bold.is_none() && self.text.trim().is_empty() {
                    self.bold_start = Some(self.text.len());
                }
                self.strong_depth += 1;
            }
            Event::End(TagEnd::Strong) => {
                self.strong_depth = self.strong_depth.saturating_sub(1);
                if self.strong_depth == 0
                    && let Some(start) = self.bold_start.take()
                {
                    self.bold = Some(start..self.text.len());
                }
            }
            _ => {}
        }
    }
}

enum Collecting {
    Nothing,
    Task,
    Sub(usize),
}

struct Builder {
    marker: usize,
    done: bool,
    line: usize,
    first: Inline,
    body_start: Option<usize>,
    subtasks: Vec<Subtask>,
    links: Vec<String>,
}

/// Counts lines up to increasing offsets without rescanning from the start.
struct LineCounter<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl LineCounter<'_> {
    fn line_at(&mut self, offset: usize) -> usize {
        if offset < self.pos {
            self.pos = 0;
            self.line = 1;
        }
        self.line += self.text.as_bytes()[self.pos..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.pos = offset;
        self.line
    }
}

/// What one piece of a file yielded, with what joining it to the pieces before it needs.
#[derive(Default)]
struct PieceParse {
    parse: FileParse,
    /// Per task: the lowest heading level seen in this piece before it (headings of the
    /// pieces before at this level or deeper do not apply to it), and whether its priority
    /// is the default for want of a heading that names one (a heading before may).
    open: Vec<(usize, bool)>,
    /// The lowest heading level in the whole piece, and the headings in force at its end.
    floor: usize,
    headings: Vec<Heading>,
    /// The piece's last top-level block may still be open where the piece was cut (a fenced
    /// code block or an HTML block): the next piece cannot be parsed on its own.
    unsafe_end: bool,
}

/// A section path (headings, outermost first), shared by the tasks under it.
type Section = Arc<[String]>;

/// Files smaller than this are parsed on one thread.
const PIECE_MIN: usize = 256 * 1024;

/// Parses `text` (the content of `file`) into tasks. A large file is cut into pieces at
/// top-level headings and the pieces are parsed on as many threads as there are cores.
pub(crate) fn parse(text: &str, file: &Path, rules: &TypeRules) -> FileParse {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let pieces = if text.len() >= PIECE_MIN {
        threads.min(text.len() / (PIECE_MIN / 2)).min(8)
    } else {
        1
    };
    parse_in(text, file, rules, &cut_points(text, pieces))
}

/// Parses `text` in the pieces that begin at `cuts` (each the start of a line holding an
/// ATX heading at column 0), one thread each; the whole text on one thread when a cut turns
/// out unsafe.
fn parse_in(text: &str, file: &Path, rules: &TypeRules, cuts: &[usize]) -> FileParse {
    if cuts.is_empty() {
        return parse_piece(text, 0, 1, file, rules).parse;
    }
    let starts: Vec<usize> = std::iter::once(0).chain(cuts.iter().copied()).collect();
    let ends: Vec<usize> = cuts.iter().copied().chain([text.len()]).collect();
    let pieces: Vec<PieceParse> = std::thread::scope(|s| {
        let workers: Vec<_> = starts
            .iter()
            .zip(&ends)
            .map(|(&start, &end)| {
                s.spawn(move || {
                    let first_line = 1 + text.as_bytes()[..start]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count();
                    parse_piece(&text[start..end], start, first_line, file, rules)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    // A cut is safe when the piece before it ends with nothing a heading cannot close.
    if pieces[..pieces.len() - 1].iter().any(|p| p.unsafe_end) {
        return parse_piece(text, 0, 1, file, rules).parse;
    }
    join(pieces)
}

/// Joins pieces parsed apart: each piece's tasks get the headings in force where it began
/// (their section path and, where no heading of their own named one, their priority).
fn join(pieces: Vec<PieceParse>) -> FileParse {
    let mut out = FileParse::default();
    let total: usize = pieces.iter().map(|p| p.parse.tasks.len()).sum();
    let mut inherited: Vec<Heading> = Vec::new();
    for piece in pieces {
        let PieceParse {
            parse,
            open,
            floor,
            headings,
            ..
        } = piece;
        let FileParse {
            mut tasks,
            mut markers,
            warnings,
        } = parse;
        out.warnings.extend(warnings);
        // The inherited headings that apply below a level (the level only falls within a
        // piece, so they are picked again only when it changes), and the last joined path:
        // consecutive tasks share a section, so it is made once per section.
        let mut kept: Option<(usize, Vec<&Heading>)> = None;
        let mut joined: Option<(Section, Section)> = None;
        for (task, &(below, default_priority)) in tasks.iter_mut().zip(&open) {
            if kept.as_ref().is_none_or(|(b, _)| *b != below) {
                let headings = inherited.iter().filter(|h| h.level < below).collect();
                kept = Some((below, headings));
                joined = None;
            }
            let Some((_, kept)) = kept.as_ref().filter(|(_, k)| !k.is_empty()) else {
                continue;
            };
            task.section = match &joined {
                Some((local, whole)) if Arc::ptr_eq(local, &task.section) => whole.clone(),
                _ => {
                    let whole: Section = kept
                        .iter()
                        .map(|h| h.text.clone())
                        .chain(task.section.iter().cloned())
                        .collect();
                    joined = Some((task.section.clone(), whole.clone()));
                    whole
                }
            };
            if default_priority
                && let Some((p, rule)) = kept.iter().rev().find_map(|h| h.priority.clone())
            {
                task.priority = p;
                task.priority_rule = rule;
            }
        }
        if out.tasks.is_empty() {
            // The first piece's tasks stay where they are; the others move in after them.
            tasks.reserve_exact(total - tasks.len());
            markers.reserve_exact(total - markers.len());
            (out.tasks, out.markers) = (tasks, markers);
        } else {
            out.tasks.append(&mut tasks);
            out.markers.append(&mut markers);
        }
        inherited.retain(|h| h.level < floor);
        inherited.extend(headings);
    }
    out
}

/// Up to `pieces - 1` offsets where `text` may be cut: the start of a line that is an ATX
/// heading at column 0 (`# …`), near equal shares of the text. None when the text may hold a
/// link reference definition (`[x]: url`), which applies to the whole document.
fn cut_points(text: &str, pieces: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    if pieces < 2 || text.contains("]:") {
        return cuts;
    }
    for k in 1..pieces {
        let from = (text.len() * k / pieces).max(cuts.last().map_or(0, |c| c + 1));
        match heading_lines(text, from).next() {
            Some(line) => cuts.push(line),
            None => break,
        }
    }
    cuts
}

/// The starts of the lines after `from` that open an ATX heading at column 0: one to six
/// `#` followed by a space, a tab or the line's end.
fn heading_lines(text: &str, from: usize) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    text.get(from..)
        .unwrap_or_default()
        .match_indices("\n#")
        .map(move |(i, _)| from + i + 1)
        .filter(move |&line| {
            let hashes = bytes[line..].iter().take_while(|&&b| b == b'#').count();
            let after = bytes.get(line + hashes);
            line < bytes.len()
                && hashes <= 6
                && after.is_none_or(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        })
}

/// Parses one piece of a file: `text` begins at byte `offset` of the file, on line
/// `first_line`, with no block open (the start of the file, or a top-level heading).
fn parse_piece(
    text: &str,
    offset: usize,
    first_line: usize,
    file: &Path,
    rules: &TypeRules,
) -> PieceParse {
    let mut out = FileParse::default();
    let mut open = Vec::new();
    let mut floor = usize::MAX;
    // The kind of the last top-level block begun (fenced code, HTML, or other), and where
    // it ended.
    let mut depth = 0usize;
    let mut last_block: Option<(bool, Range<usize>)> = None;
    let mut headings: Vec<Heading> = Vec::new();
    // The section path of the current headings, shared by every task under them.
    let mut section: Arc<[String]> = Arc::from(Vec::new());
    let mut heading: Option<(usize, Inline)> = None;
    let mut quote_depth = 0usize;
    let mut frames: Vec<Frame> = Vec::new();
    let mut task: Option<Builder> = None;
    let mut collecting = Collecting::Nothing;
    let mut sub = Inline::default();
    let mut lines = LineCounter {
        text,
        pos: 0,
        line: first_line,
    };

    for (event, range) in Parser::new_ext(text, Options::ENABLE_TASKLISTS).into_offset_iter() {
        match &event {
            Event::Start(tag) => {
                if depth == 0 {
                    let risky = matches!(
                        tag,
                        Tag::CodeBlock(pulldown_cmark::CodeBlockKind::Fenced(_)) | Tag::HtmlBlock
                    );
                    last_block = Some((risky, range.clone()));
                }
                depth += 1;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        // Text of the first paragraph of the task or of a subtask.
        if !matches!(collecting, Collecting::Nothing) {
            let stop_at = match &event {
                // An End event's range is the whole element's: it stops where the element ends.
                Event::End(TagEnd::Paragraph | TagEnd::Item) => Some(range.end),
                Event::Rule | Event::Html(_) => Some(range.start),
                Event::Start(Tag::Paragraph) => {
                    let inline = match collecting {
                        Collecting::Task => task.as_mut().map(|b| &mut b.first),
                        _ => Some(&mut sub),
                    };
                    match inline {
                        Some(i) if !i.seen_paragraph && i.text.is_empty() => {
                            i.seen_paragraph = true;
                            None
                        }
                        _ => Some(range.start),
                    }
                }
                Event::Start(
                    Tag::List(_)
                    | Tag::Item
                    | Tag::CodeBlock(_)
                    | Tag::BlockQuote(_)
                    | Tag::HtmlBlock
                    | Tag::Heading { .. }
                    | Tag::Table(_),
                ) => Some(range.start),
                _ => None,
            };
            match stop_at {
                Some(at) => match std::mem::replace(&mut collecting, Collecting::Nothing) {
                    Collecting::Task => {
                        if let Some(b) = task.as_mut() {
                            b.body_start = Some(at);
                        }
                    }
                    Collecting::Sub(i) => {
                        if let Some(b) = task.as_mut() {
                            b.subtasks[i].text =
                                collapse_whitespace(&std::mem::take(&mut sub).text);
                        }
                    }
                    Collecting::Nothing => {}
                },
                None => match collecting {
                    Collecting::Task => {
                        if let Some(b) = task.as_mut() {
                            b.first.push_event(&event);
                        }
                    }
                    Collecting::Sub(_) => sub.push_event(&event),
                    Collecting::Nothing => {}
                },
            }
        }
        if let Some((_, h)) = heading.as_mut() {
            h.push_event(&event);
        }

        // A pending item turns plain on anything but its opening paragraph or its marker.
        if frames.last() == Some(&Frame::Pending)
            && !matches!(
                event,
                Event::TaskListMarker(_) | Event::Start(Tag::Paragraph)
            )
            && let Some(top) = frames.last_mut()
        {
            *top = Frame::Plain;
        }

        match event {
            Event::Start(Tag::Heading { level, .. }) if quote_depth == 0 && task.is_none() => {
                heading = Some((level as usize, Inline::default()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, h)) = heading.take() {
                    headings.retain(|x| x.level < level);
                    floor = floor.min(level);
                    let text = collapse_whitespace(&h.text);
                    let priority = heading_priority(&text)
                        .map(|p| (p, Arc::from(format!("heading \"{text}\""))));
                    headings.push(Heading {
                        level,
                        text,
                        priority,
                    });
                    section = headings.iter().map(|h| h.text.clone()).collect();
                }
            }
            Event::Start(Tag::BlockQuote(_)) => quote_depth += 1,
            Event::End(TagEnd::BlockQuote(_)) => quote_depth = quote_depth.saturating_sub(1),
            Event::Start(Tag::Item) => {
                let frame = if task.is_some() {
                    Frame::Sub
                } else if quote_depth > 0 {
                    Frame::Quoted
                } else {
                    Frame::Pending
                };
                if frame == Frame::Sub
                    && let Some(b) = task.as_mut()
                {
                    b.subtasks.push(Subtask {
                        text: String::new(),
                        done: false,
                    });
                    sub = Inline::default();
                    collecting = Collecting::Sub(b.subtasks.len() - 1);
                }
                frames.push(frame);
            }
            Event::TaskListMarker(checked) => match frames.last() {
                Some(Frame::Pending) => {
                    if let Some(top) = frames.last_mut() {
                        *top = Frame::Task;
                    }
                    task = Some(Builder {
                        marker: offset + range.start,
                        done: checked,
                        line: lines.line_at(range.start),
                        first: Inline {
                            seen_paragraph: true,
                            ..Inline::default()
                        },
                        body_start: None,
                        subtasks: Vec::new(),
                        links: Vec::new(),
                    });
                    collecting = Collecting::Task;
                }
                Some(Frame::Sub) => {
                    if let Some(s) = task.as_mut().and_then(|b| b.subtasks.last_mut()) {
                        s.done = checked;
                    }
                }
                _ => {}
            },
            Event::Start(Tag::Link { dest_url, .. }) => {
                if let Some(b) = task.as_mut()
                    && let Some(path) = relative_link(&dest_url)
                {
                    b.links.push(path);
                }
            }
            Event::End(TagEnd::Item) => {
                if frames.pop() == Some(Frame::Task)
                    && let Some(b) = task.take()
                {
                    collecting = Collecting::Nothing;
                    let context = Context {
                        text,
                        file,
                        headings: &headings,
                        section: &section,
                        rules,
                    };
                    out.markers.push(b.marker);
                    let (found, default_priority) =
                        finish(b, range.end, &context, &mut out.warnings);
                    out.tasks.push(found);
                    open.push((floor, default_priority));
                }
            }
            _ => {}
        }
    }
    let unsafe_end = last_block.is_some_and(|(risky, block)| risky && !closed(text, block));
    PieceParse {
        parse: out,
        open,
        floor,
        headings,
        unsafe_end,
    }
}

/// Whether the fenced code block or HTML block at `block` of `text` (the last top-level
/// block of a piece) is closed before the piece ends, so that a heading after it starts a
/// new block: a blank line follows it, or it is a fence whose closing line is its last.
fn closed(text: &str, block: Range<usize>) -> bool {
    let source = &text[block.start..block.end.min(text.len())];
    let first = source.lines().next().unwrap_or_default().trim_start();
    let fence = first.bytes().next().filter(|b| matches!(b, b'`' | b'~'));
    match fence {
        Some(ch) => {
            let len = first.bytes().take_while(|&b| b == ch).count();
            let mut lines = source.lines();
            lines.next();
            lines.next_back().is_some_and(|last| {
                let indent = last.len() - last.trim_start_matches(' ').len();
                let run = last.trim_start_matches(' ');
                let n = run.bytes().take_while(|&b| b == ch).count();
                indent <= 3 && n >= len && run[n..].trim().is_empty()
            })
        }
        None => {
            // HTML: a comment that ends in its block, or a block followed by a blank line
            // and not of a kind that a blank line does not end.
            let lower = first.to_ascii_lowercase();
            if lower.starts_with("<!--") {
                return source[4..].contains("-->");
            }
            let long_kind = ["<script", "<pre", "<style", "<textarea", "<?", "<!"]
                .iter()
                .any(|k| lower.starts_with(k));
            !long_kind && blank_line_after(text, block.end)
        }
    }
}

/// Whether the line after the one `end` falls in (or begins, when `end` is a line start) is
/// blank, before the end of `text`.
fn blank_line_after(text: &str, end: usize) -> bool {
    let end = end.min(text.len());
    let next = if end > 0 && text.as_bytes()[end - 1] == b'\n' {
        end
    } else {
        match text[end..].find('\n') {
            Some(i) => end + i + 1,
            None => return false,
        }
    };
    let rest = &text[next..];
    !rest.is_empty() && rest.split('\n').next().is_some_and(|l| l.trim().is_empty())
}

/// A link target that is a relative path in the repository (not a URL, anchor or mail).
fn relative_link(dest: &str) -> Option<String> {
    let path = dest.split('#').next().unwrap_or("");
    let is_url = dest.contains("://") || dest.starts_with("mailto:") || dest.starts_with('/');
    (!path.is_empty() && !is_url).then(|| path.trim_start_matches("./").to_string())
}

const SEPARATORS: [&str; 3] = [" - ", " — ", " – "];

/// Splits an item's first paragraph into title and description.
fn split_title(raw: &str, bold: Option<Range<usize>>) -> (&str, &str) {
    if let Some(b) = bold.filter(|b| !raw[b.clone()].trim().is_empty()) {
        return (&raw[b.clone()], &raw[b.end..]);
    }
    let first_line_end = raw.find('\n').unwrap_or(raw.len());
    let first = &raw[..first_line_end];
    // One pass for the earliest separator: ` - `, ` — `, ` – ` or `: `.
    let separator = first.char_indices().find_map(|(at, c)| {
        let rest = &first[at..];
        let len = match c {
            ' ' => SEPARATORS[..3]
                .iter()
                .find(|s| rest.starts_with(**s))
                .map(|s| s.len()),
            ':' => rest.starts_with(": ").then_some(2),
            _ => None,
        };
        len.map(|len| (at, len))
    });
    match separator {
        Some((at, len)) => (&raw[..at], &raw[at + len..]),
        None => (first, &raw[first_line_end..]),
    }
}

/// Whether `text` contains `needle` (ASCII, lowercase) in any ASCII case.
fn contains_ignore_ascii_case(text: &str, needle: &str) -> bool {
    text.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Whether `text` may hold a `see …` / `cf. …` / `см. …` reference: a cheap test that spares
/// most items the regex.
fn may_refer(text: &str) -> bool {
    text.contains("см")
        || text.contains("См")
        || contains_ignore_ascii_case(text, "see")
        || contains_ignore_ascii_case(text, "cf")
}

/// Whether `text` may hold a `depends on:` / `after:` annotation (the regex decides).
fn may_depend(text: &str) -> bool {
    text.contains(':')
        && (contains_ignore_ascii_case(text, "depends on")
            || contains_ignore_ascii_case(text, "after")
            || text.contains("зависит")
            || text.contains("Зависит")
            || text.contains("после")
            || text.contains("После"))
}

/// Removes the common indentation of `text`'s lines and surrounding blank lines.
fn dedent(text: &str) -> String {
    if text.trim().is_empty() {
        return String::new();
    }
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.get(indent..).unwrap_or_else(|| l.trim_start()).trim_end())
        .collect();
    lines.join("\n").trim_matches('\n').to_string()
}

/// What a task is read against: the file's text and the headings above the item.
struct Context<'a> {
    text: &'a str,
    file: &'a Path,
    headings: &'a [Heading],
    section: &'a Arc<[String]>,
    rules: &'a TypeRules,
}

/// The task `b` describes, and whether its priority is the default for want of a heading
/// (above it in this piece) that names one.
fn finish(
    b: Builder,
    item_end: usize,
    cx: &Context<'_>,
    warnings: &mut Vec<String>,
) -> (Task, bool) {
    let Context {
        text,
        file,
        headings,
        section,
        rules,
    } = *cx;
    // Dependencies first: `after: X` must not be taken for a title separator.
    let mut depends_on = Vec::new();
    // The regex only runs where a `:` makes an annotation possible.
    let dependency = may_depend(&b.first.text)
        .then(|| DEPENDS_RE.captures(&b.first.text))
        .flatten();
    let first_text: std::borrow::Cow<'_, str> = match dependency {
        Some(m)
            if b.first
                .bold
                .as_ref()
                .is_none_or(|r| m.get(0).is_some_and(|g| g.start() >= r.end)) =>
        {
            depends_on.extend(split_refs(&m[1]));
            let whole = m.get(0).map_or(0..0, |g| g.range());
            let before = &b.first.text[..whole.start];
            let mut after = &b.first.text[whole.end..];
            if b.first.text[whole.clone()]
                .trim_start()
                .starts_with(['(', '['])
            {
                after = after.trim_start_matches([')', ']']);
            }
            format!("{before}{after}").into()
        }
        _ => b.first.text.as_str().into(),
    };
    let mut raw: &str = &first_text;
    let mut bold = b.first.bold.clone();
    let label = match bold {
        Some(_) => None,
        None => priority_label(raw.trim_start()),
    };
    if let Some((_, len)) = label {
        let skip = raw.len() - raw.trim_start().len() + len;
        raw = &raw[skip..];
        bold = None;
    }
    let (title_raw, desc_raw) = split_title(raw, bold);
    let desc_raw = desc_raw.trim_start_matches(|c: char| c.is_whitespace() || "-—–:".contains(c));
    let title_tags = extract_tags(title_raw);
    let mut desc_tags = extract_tags(desc_raw);
    let kept = desc_tags
        .text
        .trim_end_matches([',', ';', '—', '-', ' '])
        .len();
    desc_tags.text.truncate(kept);
    for unknown in title_tags.unknown.iter().chain(&desc_tags.unknown) {
        warnings.push(format!(
            "{}:{}: unknown tag {unknown} (ignored)",
            file.display(),
            b.line
        ));
    }
    let mut subtasks = b.subtasks;
    subtasks.retain(|s| {
        match may_depend(&s.text)
            .then(|| DEPENDS_RE.captures(&s.text))
            .flatten()
        {
            Some(m) if m.get(0).is_some_and(|g| g.start() == 0) => {
                depends_on.extend(split_refs(&m[1]));
                false
            }
            _ => true,
        }
    });

    let mut from_default = false;
    let (priority, priority_rule) = match title_tags.priority.or(desc_tags.priority) {
        Some((p, tag)) => (p, Arc::from(format!("tag {tag}"))),
        None => match label {
            Some((p, len)) => {
                let l = first_text.trim_start();
                (p, Arc::from(format!("label \"{}\"", l[..len].trim_end())))
            }
            None => match headings.iter().rev().find_map(|h| h.priority.clone()) {
                Some(found) => found,
                None => {
                    from_default = true;
                    (Priority::Medium, Arc::from("default"))
                }
            },
        },
    };
    let title = title_tags.text;
    let description = desc_tags.text;
    let (task_type, type_rule) = match title_tags.task_type.or(desc_tags.task_type) {
        Some((t, tag)) => (t, Arc::from(format!("tag {tag}"))),
        None => rules.classify(&title, &description),
    };

    let body_start = line_start_if_indented(text, b.body_start.unwrap_or(item_end));
    let body = dedent(&text[body_start..item_end.max(body_start)]);

    let mut refs = b.links;
    for source in [b.first.text.as_str(), body.as_str()] {
        if !may_refer(source) {
            continue;
        }
        for m in SEE_RE.captures_iter(source) {
            let r = m[1].trim_end_matches('.');
            // Few refs per task: a linear scan beats hashing.
            if !refs.iter().any(|x| x == r) {
                refs.push(r.to_string());
            }
        }
    }

    let task = Task {
        id: TaskId(String::new()),
        title,
        description,
        body,
        priority,
        priority_rule,
        task_type,
        type_rule,
        done: b.done,
        section: section.clone(),
        file: file.to_path_buf(),
        line: b.line,
        subtasks,
        refs,
        depends_on,
    };
    (task, from_default)
}

/// Moves `offset` back to the start of its line when only indentation precedes it, so that
/// dedenting sees the first body line's real indentation.
fn line_start_if_indented(text: &str, offset: usize) -> usize {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    if text[line_start..offset].trim().is_empty() {
        line_start
    } else {
        offset
    }
}

fn split_refs(list: &str) -> Vec<String> {
    list.split([',', ';'])
        .map(|s| s.trim().trim_matches('`').trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IntakeConfig;
    use crate::model::TaskType;

    fn tasks(md: &str) -> Vec<Task> {
        parse(
            md,
            Path::new("TODO.md"),
            &IntakeConfig::default().type_rules(),
        )
        .tasks
    }

    #[test]
    fn every_list_marker_style_is_a_task_and_done_is_read() {
        let t = tasks("- [ ] dash\n* [x] star\n+ [X] plus\n1. [ ] one\n");
        let got: Vec<(&str, bool)> = t.iter().map(|t| (t.title.as_str(), t.done)).collect();
        assert_eq!(
            got,
            [
                ("dash", false),
                ("star", true),
                ("plus", true),
                ("one", false)
            ]
        );
        assert_eq!(t.iter().map(|t| t.line).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }

    #[test]
    fn quotes_fences_and_html_hold_no_tasks() {
        let md =
            "> - [ ] quoted\n\n```\n- [ ] fenced\n```\n\n<div>\n- [ ] html\n</div>\n\n- [ ] real\n";
        let t = tasks(md);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].title, "real");
        assert_eq!(t[0].line, 11);
    }

    #[test]
    fn bold_title_description_body_and_subtasks() {
        let md = "## High\n- [ ] **Fix the panic** — `load()` unwraps\n  continued here\n  - [x] reproduce\n  - plain note\n    - [ ] deeper\n\n  A later paragraph.\n";
        let t = &tasks(md)[0];
        assert_eq!(t.title, "Fix the panic");
        assert_eq!(t.description, "`load()` unwraps continued here");
        assert_eq!(t.priority, Priority::High);
        assert_eq!(&*t.priority_rule, "heading \"High\"");
        assert_eq!(
            t.subtasks,
            vec![
                Subtask {
                    text: "reproduce".into(),
                    done: true
                },
                Subtask {
                    text: "plain note".into(),
                    done: false
                },
                Subtask {
                    text: "deeper".into(),
                    done: false
                },
            ]
        );
        assert_eq!(
            t.body,
            "- [x] reproduce\n- plain note\n  - [ ] deeper\n\nA later paragraph."
        );
    }

    #[test]
    fn plain_title_split_on_separator() {
        let t =
            tasks("- [ ] Parser: handle tabs\n- [ ] Add tests - for export\n- [ ] Plain title\n");
        assert_eq!(
            (t[0].title.as_str(), t[0].description.as_str()),
            ("Parser", "handle tabs")
        );
        assert_eq!(
            (t[1].title.as_str(), t[1].description.as_str()),
            ("Add tests", "for export")
        );
        assert_eq!(
            (t[2].title.as_str(), t[2].description.as_str()),
            ("Plain title", "")
        );
    }

    #[test]
    fn checkbox_under_a_plain_item_is_a_task() {
        let t = tasks("- Backend\n  - [ ] cache results\n  - [ ] drop old API\n");
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].title, "drop old API");
    }

    #[test]
    fn refs_tags_labels_and_dependencies() {
        let md = "# Plan\n## 🔵 Low\n- [ ] **Split server** - см. docs/planning/task_1.md\n- [ ] Nice to have: colour output [type:docs]\n  - depends on: Split server, t-zzzzzz\n- [ ] Write guide, see [the notes](docs/notes.md#top) (after: Split server)\n";
        let t = tasks(md);
        assert_eq!(t[0].refs, vec!["docs/planning/task_1.md"]);
        assert_eq!(*t[0].section, ["Plan", "🔵 Low"]);
        assert_eq!(t[0].priority, Priority::Low);
        assert_eq!(t[1].title, "colour output");
        assert_eq!(&*t[1].priority_rule, "label \"Nice to have:\"");
        assert_eq!(t[1].task_type, TaskType::Docs);
        assert_eq!(&*t[1].type_rule, "tag [type:docs]");
        assert!(t[1].subtasks.is_empty());
        assert_eq!(t[1].depends_on, vec!["Split server", "t-zzzzzz"]);
        assert_eq!(t[2].title, "Write guide, see the notes");
        assert_eq!(t[2].refs, vec!["docs/notes.md"]);
        assert_eq!(t[2].depends_on, vec!["Split server"]);
    }

    #[test]
    fn crlf_and_loose_lists() {
        let md = "# T\r\n\r\n- [ ] one\r\n\r\n- [x] two\r\n  body line\r\n";
        let t = tasks(md);
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].title, "two");
        assert_eq!(t[1].description, "body line");
        assert_eq!(t[1].body, "");
        assert_eq!(t[1].line, 5);
    }

    /// The start of every line but the first that is an ATX heading at column 0.
    fn every_cut(text: &str) -> Vec<usize> {
        heading_lines(text, 0).collect()
    }

    fn whole_and_cut(text: &str, cuts: &[usize]) -> (FileParse, FileParse) {
        let rules = IntakeConfig::default().type_rules();
        let file = Path::new("TODO.md");
        let whole = parse_piece(text, 0, 1, file, &rules).parse;
        (whole, parse_in(text, file, &rules, cuts))
    }

    fn same(a: &FileParse, b: &FileParse) {
        assert_eq!(a.tasks, b.tasks);
        assert_eq!(a.markers, b.markers);
        assert_eq!(a.warnings, b.warnings);
    }

    #[test]
    fn a_file_cut_at_headings_parses_as_the_whole_with_inherited_sections_and_priorities() {
        let md = "# Plan\n## 🔥 Critical\n- [ ] one\n### Area\n- [ ] two [oops:x]\n# Later\n- [ ] three\n## Low\n- [ ] four\n## Deep\n- [ ] five\n";
        let cuts = every_cut(md);
        assert_eq!(cuts.len(), 5, "{cuts:?}");
        let rules = IntakeConfig::default().type_rules();
        // Each piece on its own is safe to join.
        let starts: Vec<usize> = std::iter::once(0).chain(cuts.iter().copied()).collect();
        let ends: Vec<usize> = cuts.iter().copied().chain([md.len()]).collect();
        for (s, e) in starts.iter().zip(&ends) {
            assert!(!parse_piece(&md[*s..*e], *s, 1, Path::new("TODO.md"), &rules).unsafe_end);
        }
        let (whole, cut) = whole_and_cut(md, &cuts);
        same(&whole, &cut);
        let t = &cut.tasks;
        assert_eq!(*t[1].section, ["Plan", "🔥 Critical", "Area"]);
        assert_eq!(t[1].priority, Priority::Critical);
        assert_eq!(t[1].line, 5);
        assert_eq!(*t[2].section, ["Later"]);
        assert_eq!(t[2].priority, Priority::Medium);
        assert_eq!(*t[4].section, ["Later", "Deep"]);
    }

    #[test]
    fn a_cut_after_an_open_fence_or_html_block_is_not_taken() {
        for md in [
            "```\n- [ ] in code\n# not a heading\n- [ ] still code\n```\n- [ ] real\n",
            "<!--\n# hidden\n- [ ] hidden too\n-->\n- [ ] real\n",
            "<pre>\n\n# in pre\n</pre>\n- [ ] real\n",
            "<div>\n# in html\n- [ ] real\n",
        ] {
            let cuts = every_cut(md);
            assert!(!cuts.is_empty(), "{md:?}");
            let (whole, cut) = whole_and_cut(md, &cuts);
            same(&whole, &cut);
        }
    }

    #[test]
    fn a_large_file_is_cut_into_pieces_that_give_the_same_tasks() {
        let mut md = String::new();
        let mut n = 0;
        while md.len() < 3 * PIECE_MIN {
            md.push_str(&format!("# Part {n}\n## High\n- [ ] task {n} see docs/a.md\n  - [x] sub\n\n```\n# code\n```\n"));
            n += 1;
        }
        let cuts = cut_points(&md, 3);
        assert_eq!(cuts.len(), 2);
        let rules = IntakeConfig::default().type_rules();
        let whole = parse_piece(&md, 0, 1, Path::new("TODO.md"), &rules).parse;
        same(&whole, &parse(&md, Path::new("TODO.md"), &rules));
        same(&whole, &parse_in(&md, Path::new("TODO.md"), &rules, &cuts));
        // A reference definition anywhere keeps the file whole.
        md.push_str("[docs]: docs/a.md\n");
        assert!(cut_points(&md, 3).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn any_file_cut_at_its_headings_parses_as_the_whole(
            picks in proptest::collection::vec(0usize..LINES.len(), 0..60),
            crlf in proptest::bool::ANY,
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let md: String = picks.iter().map(|&i| format!("{}{end}", LINES[i])).collect();
            let cuts = if md.contains("]:") { Vec::new() } else { every_cut(&md) };
            let (whole, cut) = whole_and_cut(&md, &cuts);
            same(&whole, &cut);
        }
    }

    /// Lines task files are made of, and the block constructs a cut must respect.
    const LINES: [&str; 44] = [
        "# Top",
        "## High",
        "### 🔥 Critical",
        "## Low priority",
        "#",
        "####### not a heading",
        "#nospace",
        "- [ ] task A",
        "- [x] **Bold** - a description",
        "  - [ ] sub",
        "  body text",
        "* [ ] Fix bug [priority:high] [oops:1]",
        "1. [ ] numbered (after: task A)",
        "- plain",
        "  - [ ] nested under plain",
        "```",
        "~~~",
        "  ```",
        "````rust",
        "<!--",
        "-->",
        "<!-- one line -->",
        "<div>",
        "</div>",
        "<pre>",
        "</pre>",
        "<?php",
        "?>",
        "> - [ ] quoted",
        "> quote",
        "",
        "",
        "    indented code",
        "paragraph text",
        "---",
        "===",
        "see docs/x.md",
        "[ref]: /url",
        "[ref]",
        "\t- [ ] tab",
        "  # indented heading",
        "- # heading in item",
        "> # quoted heading",
        "Setext",
    ];
}
