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

/// A task as found in one file, before ids are assigned across files.
#[derive(Debug, Clone)]
pub(crate) struct FoundTask {
    /// The task (its `id` is empty until assigned).
    pub task: Task,
    /// Byte offset of the `[ ]` marker in the parsed text.
    pub marker: usize,
}

/// What one file yielded.
#[derive(Debug, Default)]
pub(crate) struct FileParse {
    pub tasks: Vec<FoundTask>,
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

/// Parses `text` (the content of `file`) into tasks.
pub(crate) fn parse(text: &str, file: &Path, rules: &TypeRules) -> FileParse {
    let mut out = FileParse::default();
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
        line: 1,
    };

    for (event, range) in Parser::new_ext(text, Options::ENABLE_TASKLISTS).into_offset_iter() {
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
                        marker: range.start,
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
                    out.tasks
                        .push(finish(b, range.end, &context, &mut out.warnings));
                }
            }
            _ => {}
        }
    }
    out
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

fn finish(b: Builder, item_end: usize, cx: &Context<'_>, warnings: &mut Vec<String>) -> FoundTask {
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

    let (priority, priority_rule) = match title_tags.priority.or(desc_tags.priority) {
        Some((p, tag)) => (p, Arc::from(format!("tag {tag}"))),
        None => match label {
            Some((p, len)) => {
                let l = first_text.trim_start();
                (p, Arc::from(format!("label \"{}\"", l[..len].trim_end())))
            }
            None => headings
                .iter()
                .rev()
                .find_map(|h| h.priority.clone())
                .unwrap_or_else(|| (Priority::Medium, Arc::from("default"))),
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

    FoundTask {
        task: Task {
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
        },
        marker: b.marker,
    }
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
        .into_iter()
        .map(|f| f.task)
        .collect()
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
}
