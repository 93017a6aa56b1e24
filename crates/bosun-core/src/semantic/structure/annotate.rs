//! One changed file, both versions parsed once: its hunks mapped to the definitions they
//! touch, and the annotations that follow (symbols added, removed, modified; formatting-only
//! hunks; public API changes; new syntax errors).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;

use tree_sitter::{InputEdit, Node, Point, Tree};

use super::DefKind;
use super::defs::{self, Def};
use super::language::{self, Language};
use super::syntax::{self, ErrorSite};
use super::tokens::{self, Visited};
use crate::diff::{FileDiff, Hunk, LineKind};
use crate::model::{Annotation, AnnotationKind, Severity};

/// At most this many syntax errors are annotated per file; the last one says how many more
/// there are (the gate fails on the first anyway).
const MAX_SYNTAX_ANNOTATIONS: usize = 10;

/// Messages show at most this many characters of a signature.
const SIGNATURE_CHARS: usize = 120;

/// One version of the file, parsed, with its definitions indexed by line.
pub(super) struct Side<'s> {
    lang: Language,
    src: &'s str,
    tree: Tree,
    pub(super) defs: Vec<Def>,
    /// `innermost[line]`: the innermost definition whose lines include `line` (1-based).
    innermost: Vec<Option<u32>>,
    /// Byte offset where each line starts (`line_starts[0]` is line 1).
    line_starts: Vec<usize>,
}

impl<'s> Side<'s> {
    /// Parse `src` once (reusing `old`, an edited tree of the other version, when given)
    /// and index its definitions. None when it cannot be parsed.
    pub(super) fn new(lang: Language, src: &'s str, old: Option<&Tree>) -> Option<Side<'s>> {
        let mut tree = language::reparse(lang, src, old).ok()?;
        if old.is_some() && tree.root_node().has_error() {
            // Error recovery may go differently when it starts from reused subtrees; errors
            // are compared with a fresh parse of base, so they come from a fresh parse too.
            tree = language::parse(lang, src).ok()?;
        }
        let defs = defs::extract(lang, src, &tree);
        if lang == Language::Rust {
            // The crate-level API reading that follows needs this file's declarations too.
            crate::semantic::api::rust::remember(src, &tree);
        }
        let line_starts = line_starts(src);
        let mut innermost = vec![None; line_starts.len() + 2];
        // Outer definitions come first, so inner ones overwrite them.
        for (i, d) in defs.iter().enumerate() {
            let last = (d.def.end_line as usize).min(innermost.len() - 1);
            for slot in innermost
                .iter_mut()
                .take(last + 1)
                .skip(d.def.start_line as usize)
            {
                *slot = Some(i as u32);
            }
        }
        Some(Side {
            lang,
            src,
            tree,
            defs,
            innermost,
            line_starts,
        })
    }

    fn innermost(&self, line: u32) -> Option<usize> {
        self.innermost
            .get(line as usize)
            .copied()
            .flatten()
            .map(|i| i as usize)
    }

    pub(super) fn syntax_errors(&self) -> Vec<ErrorSite> {
        syntax::collect(self.src, &self.tree)
    }

    /// The byte range of lines `first..=last` (1-based), clamped to the source.
    fn bytes(&self, first: u32, last: u32) -> Option<(usize, usize)> {
        let start = *self.line_starts.get((first as usize).checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(last as usize)
            .copied()
            .unwrap_or(self.src.len());
        (start < end).then_some((start, end))
    }

    /// The text of lines `lines` (ascending) without whitespace and commas; None where comments may be among them or the language has
    /// other tokens the walk treats apart (Python docstrings, JSX text). Two sides whose
    /// texts differ here hold different code tokens, so [`Side::same_code`] need not walk.
    fn bare_code(&self, lines: &[u32]) -> Option<Vec<u8>> {
        if !matches!(self.lang, Language::Rust | Language::Go) {
            return None;
        }
        let mut out: Vec<u8> = Vec::new();
        for &l in lines {
            let (lo, hi) = self.bytes(l, l)?;
            for &b in self.src.as_bytes().get(lo..hi)? {
                match b {
                    // A comment starts with one.
                    b'/' => return None,
                    // The walk drops a trailing comma, whose bracket may be on a line not
                    // in `lines`: commas are left out on both sides.
                    b',' => {}
                    _ if b.is_ascii_whitespace() => {}
                    _ => out.push(b),
                }
            }
        }
        Some(out)
    }

    /// What lines `lines` (ascending) hold once layout is ignored: their code tokens (with
    /// depth; a trailing comma before a closing bracket dropped) and their comments.
    fn content(&self, lines: &[u32]) -> Content<'s> {
        let mut content = Content::default();
        let _ = self.walk(lines, |item| {
            match item {
                Item::Code(depth, text) => content.code.push((depth, text)),
                Item::Comment(text) => content.comments.push(text),
            }
            ControlFlow::Continue(())
        });
        content
    }

    /// Whether lines `lines` hold the code tokens of `expected` (stops at the first token
    /// that differs: most hunks change code, and that shows early).
    fn same_code(&self, lines: &[u32], expected: &Content<'_>) -> bool {
        let mut next = expected.code.iter();
        let walked = self.walk(lines, |item| match item {
            Item::Code(depth, text) => match next.next() {
                Some((d, t)) if *d == depth && *t == text => ControlFlow::Continue(()),
                _ => ControlFlow::Break(()),
            },
            Item::Comment(_) => ControlFlow::Continue(()),
        });
        walked.is_continue() && next.next().is_none()
    }

    /// The code tokens and comments of `lines`, in order, until `f` breaks.
    fn walk(
        &self,
        lines: &[u32],
        mut f: impl FnMut(Item<'s>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for &l in lines {
            match runs.last_mut() {
                Some((_, last)) if last.checked_add(1) == Some(l) => *last = l,
                Some((_, last)) if *last == l => {}
                _ => runs.push((l, l)),
            }
        }
        let (mut last_token, mut last_comment) = (None, None);
        let root = self.tree.root_node();
        for (first, last) in runs {
            let Some((lo, hi)) = self.bytes(first, last) else {
                continue;
            };
            tokens::visit(root, lo, hi, |v| match v {
                // A token spanning two runs (a multi-line string) is visited twice.
                Visited::Comment(c) if last_comment != Some(c.start_byte()) => {
                    last_comment = Some(c.start_byte());
                    f(Item::Comment(collapse(self.text(c))))
                }
                Visited::Token(t, depth)
                    if last_token != Some(t.start_byte()) && !trailing_comma(self.src, t) =>
                {
                    last_token = Some(t.start_byte());
                    let text = self.text(t);
                    let text = if t.kind() == "jsx_text" {
                        Cow::Owned(collapse(text))
                    } else {
                        Cow::Borrowed(text)
                    };
                    if text.is_empty() {
                        ControlFlow::Continue(())
                    } else {
                        f(Item::Code(depth, text))
                    }
                }
                Visited::Comment(_) | Visited::Token(..) => ControlFlow::Continue(()),
            })?;
        }
        ControlFlow::Continue(())
    }

    fn text(&self, node: Node<'_>) -> &'s str {
        self.src.get(node.byte_range()).unwrap_or("")
    }
}

/// A comma right before a closing bracket, which formatters add and remove at will — but
/// not the one that makes a one-element tuple (`(a,)`).
fn trailing_comma(src: &str, token: Node<'_>) -> bool {
    if token.kind() != "," {
        return false;
    }
    // Looking at the text is cheaper than asking for the next sibling (tree-sitter walks the
    // parent's children for it); a comment between comma and bracket keeps the comma.
    let after = src.get(token.end_byte()..).unwrap_or("").trim_start();
    if !after.starts_with([')', ']', '}']) {
        return false;
    }
    let one_tuple = token
        .parent()
        .is_some_and(|p| p.kind().contains("tuple") && p.named_child_count() == 1);
    !one_tuple
}

/// One thing [`Side::walk`] finds.
enum Item<'s> {
    /// A code token with its depth in the tree.
    Code(usize, Cow<'s, str>),
    /// A comment, whitespace collapsed.
    Comment(String),
}

/// The code and comments of some lines, layout ignored.
#[derive(Debug, Default, PartialEq)]
struct Content<'s> {
    /// Code tokens with their depth in the tree.
    code: Vec<(usize, Cow<'s, str>)>,
    /// Comments, whitespace collapsed.
    comments: Vec<String>,
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One hunk's changed lines, with removed lines placed on the new side.
struct HunkLines {
    /// Lines of the new side inside the hunk, when it has any.
    new_range: Option<(u32, u32)>,
    /// Lines of the old side inside the hunk, when it has any.
    old_range: Option<(u32, u32)>,
    /// Added lines (new side).
    added: Vec<u32>,
    /// Removed lines (old side), each with the new-side line it sits at (the next line
    /// that is not removed, else the previous one).
    removed: Vec<(u32, Option<u32>)>,
}

impl HunkLines {
    fn new(hunk: &Hunk) -> HunkLines {
        let range = |start: u32, len: u32| {
            (start > 0 && len > 0).then(|| (start, start.saturating_add(len - 1)))
        };
        let new_range = range(hunk.new_start, hunk.new_lines);
        let old_range = range(hunk.old_start, hunk.old_lines);
        let inside = |r: Option<(u32, u32)>, n: u32| r.is_some_and(|(lo, hi)| lo <= n && n <= hi);
        let mut added = Vec::new();
        let mut removed: Vec<(u32, Option<u32>)> = Vec::new();
        let mut pending = 0;
        let mut last_new = None;
        for line in &hunk.lines {
            match line.kind {
                LineKind::Removed => {
                    if let Some(n) = line.old_no.filter(|n| inside(old_range, *n)) {
                        removed.push((n, None));
                        pending += 1;
                    }
                }
                LineKind::Added | LineKind::Context => {
                    let Some(n) = line.new_no.filter(|n| inside(new_range, *n)) else {
                        continue;
                    };
                    if line.kind == LineKind::Added {
                        added.push(n);
                    }
                    let len = removed.len();
                    for r in &mut removed[len - pending..] {
                        r.1 = Some(n);
                    }
                    pending = 0;
                    last_new = Some(n);
                }
            }
        }
        let len = removed.len();
        for r in &mut removed[len - pending..] {
            r.1 = last_new;
        }
        HunkLines {
            new_range,
            old_range,
            added,
            removed,
        }
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// How one hunk touches a head definition that has a counterpart on base.
#[derive(Default)]
struct Touch {
    /// The changed lines, on the new side (removed lines where they sit).
    at: Vec<u32>,
    /// Added lines inside the definition.
    added: Vec<u32>,
    /// Removed lines inside its base counterpart.
    removed: Vec<u32>,
}

/// Line starts of `src` (byte offsets; the first line starts at 0).
pub(super) fn line_starts(src: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(src.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The row and byte column of `byte`.
fn point(starts: &[usize], byte: usize) -> Point {
    let row = starts.partition_point(|&s| s <= byte).saturating_sub(1);
    Point::new(row, byte - starts.get(row).copied().unwrap_or(0))
}

/// The bytes of `count` lines from line `first` (1-based; `count` 0: the position where
/// line `first` starts, or the end of the text past the last line).
fn lines_bytes(starts: &[usize], total: usize, first: u32, count: u32) -> Option<(usize, usize)> {
    let line = |n: u32| {
        let i = (n as usize).checked_sub(1)?;
        starts
            .get(i)
            .copied()
            .or((i == starts.len()).then_some(total))
    };
    Some((line(first)?, line(first.checked_add(count)?)?))
}

/// The runs of removed and added lines in hunks, as (first old line, removed count, first
/// new line, added count): what actually changed, without the context lines around it.
fn changed_runs(hunks: &[Hunk]) -> Vec<(u32, u32, u32, u32)> {
    let mut runs = Vec::new();
    for h in hunks {
        // An empty side's start is the line before the change.
        let mut old_next = h.old_start.saturating_add(u32::from(h.old_lines == 0));
        let mut new_next = h.new_start.saturating_add(u32::from(h.new_lines == 0));
        let mut run: Option<(u32, u32, u32, u32)> = None;
        for line in &h.lines {
            match line.kind {
                LineKind::Context => {
                    runs.extend(run.take());
                    old_next = old_next.saturating_add(1);
                    new_next = new_next.saturating_add(1);
                }
                LineKind::Removed => {
                    run.get_or_insert((old_next, 0, new_next, 0)).1 += 1;
                    old_next = old_next.saturating_add(1);
                }
                LineKind::Added => {
                    run.get_or_insert((old_next, 0, new_next, 0)).3 += 1;
                    new_next = new_next.saturating_add(1);
                }
            }
        }
        runs.extend(run);
    }
    runs
}

/// The edits that turn `base` into `head`, one per run of changed lines (context lines are
/// left for tree-sitter to reuse), each in the coordinates left by the ones before (what
/// `Tree::edit` expects). None unless the text between the runs is the same on both
/// sides: a diff that does not belong to the sources must not steer the parse.
pub(super) fn edits(
    hunks: &[Hunk],
    base: &str,
    base_starts: &[usize],
    head: &str,
) -> Option<Vec<InputEdit>> {
    let head_starts = line_starts(head);
    let (old, new) = (base.as_bytes(), head.as_bytes());
    let runs = changed_runs(hunks);
    let mut out = Vec::with_capacity(runs.len());
    let (mut old_at, mut new_at) = (0, 0);
    for (old_first, removed, new_first, added) in runs {
        let (old_start, old_end) = lines_bytes(base_starts, old.len(), old_first, removed)?;
        let (new_start, new_end) = lines_bytes(&head_starts, new.len(), new_first, added)?;
        if old_start < old_at || new_start < new_at {
            return None;
        }
        if old.get(old_at..old_start)? != new.get(new_at..new_start)? {
            return None;
        }
        let start = point(&head_starts, new_start);
        let (from, to) = (point(base_starts, old_start), point(base_starts, old_end));
        let old_end_position = if to.row == from.row {
            Point::new(start.row, start.column + to.column - from.column)
        } else {
            Point::new(start.row + to.row - from.row, to.column)
        };
        out.push(InputEdit {
            start_byte: new_start,
            old_end_byte: new_start + (old_end - old_start),
            new_end_byte: new_end,
            start_position: start,
            old_end_position,
            new_end_position: point(&head_starts, new_end),
        });
        (old_at, new_at) = (old_end, new_end);
    }
    (old.get(old_at..)? == new.get(new_at..)?).then_some(out)
}

/// Where an old-side line is on the new side: None when a hunk removed it.
fn new_line_of(hunks: &[Hunk], old: u32) -> Option<u32> {
    // The first line after a side's range; an empty side sits after its start line.
    let end = |start: u32, len: u32| i64::from(start) + i64::from(len.max(1));
    let mut delta: i64 = 0;
    for h in hunks {
        let before = if h.old_lines == 0 {
            old <= h.old_start
        } else {
            old < h.old_start
        };
        if before {
            break;
        }
        if old < h.old_start.saturating_add(h.old_lines) {
            return h
                .lines
                .iter()
                .find(|l| l.old_no == Some(old))
                .filter(|l| l.kind == LineKind::Context)
                .and_then(|l| l.new_no);
        }
        delta = end(h.new_start, h.new_lines) - end(h.old_start, h.old_lines);
    }
    u32::try_from(i64::from(old) + delta).ok()
}

/// `lo..=hi` of a definition clamped into a hunk's range on its side.
fn clamp(range: Option<(u32, u32)>, lo: u32, hi: u32) -> Option<(u32, u32)> {
    let (first, last) = range?;
    let lo = lo.clamp(first, last);
    let hi = hi.clamp(lo, last);
    Some((lo, hi))
}

/// Pair definitions of the two versions by qualified name; the n-th definition with a name
/// on base goes with the n-th on head (`#[cfg]` twins, overloads).
fn pair(base: &[Def], head: &[Def]) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
    let mut by_name: HashMap<&str, std::collections::VecDeque<usize>> = HashMap::new();
    for (i, d) in head.iter().enumerate() {
        by_name.entry(d.def.name.as_str()).or_default().push_back(i);
    }
    let mut b2h = vec![None; base.len()];
    let mut h2b = vec![None; head.len()];
    for (i, d) in base.iter().enumerate() {
        if let Some(h) = by_name
            .get_mut(d.def.name.as_str())
            .and_then(|q| q.pop_front())
        {
            b2h[i] = Some(h);
            h2b[h] = Some(i);
        }
    }
    (b2h, h2b)
}

/// The outermost definition around `i` that has no counterpart (itself when its parent has
/// one): everything inside a new class is new, so the class alone is reported.
fn outermost_unpaired(defs: &[Def], paired: &[Option<usize>], mut i: usize) -> usize {
    while let Some(p) = defs[i].parent {
        if paired[p].is_some() {
            break;
        }
        i = p;
    }
    i
}

/// Public items at or inside `root` that are not inside another public item there (a
/// removed inherent `impl` has no visibility, its `pub fn`s do).
fn public_roots(defs: &[Def], root: usize) -> Vec<usize> {
    if defs[root].def.public {
        return vec![root];
    }
    let mut out = Vec::new();
    // Definitions are in pre-order: the ones inside `root` follow it, contiguously.
    for (i, d) in defs.iter().enumerate().skip(root + 1) {
        let mut p = d.parent;
        let mut covered = false;
        while let Some(q) = p {
            if q == root {
                break;
            }
            covered |= defs[q].def.public;
            p = defs[q].parent;
        }
        if p != Some(root) {
            break;
        }
        if d.def.public && !covered {
            out.push(i);
        }
    }
    out
}

/// Collects a file's annotations.
struct FileAnnotations {
    path: String,
    annotations: Vec<Annotation>,
}

impl FileAnnotations {
    fn push(
        &mut self,
        kind: AnnotationKind,
        severity: Severity,
        lines: Option<(u32, u32)>,
        old_side: bool,
        symbol: Option<&str>,
        message: String,
    ) {
        self.annotations.push(Annotation {
            kind,
            severity,
            path: self.path.clone(),
            line: lines.map(|(lo, _)| lo),
            end_line: lines.and_then(|(lo, hi)| (hi != lo).then_some(hi)),
            old_side,
            symbol: symbol.map(str::to_string),
            message,
        });
    }
}

/// Everything structural about one changed file (see [`super::annotate_file`]);
/// `incremental`: parse head by re-parsing base's tree where the diff allows.
pub(super) fn annotate(
    file: &FileDiff,
    base: Option<&str>,
    head: Option<&str>,
    incremental: bool,
) -> Vec<Annotation> {
    let Some(change) = Change::new(file, base, head, incremental) else {
        return Vec::new();
    };
    let mut out = FileAnnotations {
        path: file.path().to_string(),
        annotations: Vec::new(),
    };
    let head_errors = change
        .head
        .as_ref()
        .map(Side::syntax_errors)
        .unwrap_or_default();
    let mapping = change.map_hunks(&mut out);
    change.report_modified(&mapping.modified, &mut out);
    change.report_added(&mapping.added, &mut out);
    let removed = change.keep_removed(mapping.removed, &head_errors, &mut out);
    change.report_removed(&removed, &mapping.added, &mut out);
    change.report_syntax(head_errors, &mut out);
    let mut annotations = out.annotations;
    crate::semantic::sort(&mut annotations);
    annotations
}

/// One changed file: both sides parsed, their definitions paired.
struct Change<'s> {
    file: &'s FileDiff,
    base: Option<Side<'s>>,
    head: Option<Side<'s>>,
    hunks: Vec<HunkLines>,
    /// Base definition → its head counterpart.
    b2h: Vec<Option<usize>>,
    /// Head definition → its base counterpart.
    h2b: Vec<Option<usize>>,
}

/// What the hunks do to definitions.
#[derive(Default)]
struct Mapping {
    /// Head definitions (outermost) without a counterpart → the first hunk showing them.
    added: BTreeMap<usize, usize>,
    /// Base definitions (outermost) without a counterpart → the first hunk showing them.
    removed: BTreeMap<usize, usize>,
    /// Head definitions with a counterpart whose code changed → (hunk, changed lines on
    /// the new side) for each hunk that changes them.
    modified: BTreeMap<usize, Vec<(usize, Vec<u32>)>>,
}

impl<'s> Change<'s> {
    /// Parse both sides (head from base's edited tree when possible). None when neither
    /// side is in a supported language or can be parsed, or the file is binary.
    fn new(
        file: &'s FileDiff,
        base: Option<&'s str>,
        head: Option<&'s str>,
        incremental: bool,
    ) -> Option<Change<'s>> {
        let base_lang = file
            .old_path
            .as_deref()
            .or(file.new_path.as_deref())
            .and_then(Language::for_path);
        let head_lang = file
            .new_path
            .as_deref()
            .or(file.old_path.as_deref())
            .and_then(Language::for_path);
        if file.binary {
            return None;
        }
        let base = base
            .zip(base_lang)
            .and_then(|(src, lang)| Side::new(lang, src, None));
        // Head is base with the hunks applied: when the diff accounts for every difference,
        // tree-sitter re-parses only what the hunks touched. Only from a base without
        // syntax errors, and a head that comes out with errors is parsed afresh (see
        // `Side::new`).
        let edited = base.as_ref().zip(head).and_then(|(base, head)| {
            if !incremental || base_lang != head_lang || base.tree.root_node().has_error() {
                return None;
            }
            let mut tree = base.tree.clone();
            for edit in edits(&file.hunks, base.src, &base.line_starts, head)? {
                tree.edit(&edit);
            }
            Some(tree)
        });
        let head = head
            .zip(head_lang)
            .and_then(|(src, lang)| Side::new(lang, src, edited.as_ref()));
        if base.is_none() && head.is_none() {
            return None;
        }
        let no_defs: &[Def] = &[];
        let (b2h, h2b) = pair(
            base.as_ref().map_or(no_defs, |s| &s.defs),
            head.as_ref().map_or(no_defs, |s| &s.defs),
        );
        Some(Change {
            file,
            base,
            head,
            hunks: file.hunks.iter().map(HunkLines::new).collect(),
            b2h,
            h2b,
        })
    }

    /// Map every hunk's changed lines to definitions; formatting-only hunks are annotated
    /// here and map to nothing.
    fn map_hunks(&self, out: &mut FileAnnotations) -> Mapping {
        let (base, head) = (self.base.as_ref(), self.head.as_ref());
        let mut mapping = Mapping::default();
        for (index, hunk) in self.hunks.iter().enumerate() {
            if hunk.is_empty() {
                continue;
            }
            if let Some(comments) = formatting_only(base, head, hunk) {
                formatting_annotation(out, base, head, hunk, comments);
                continue;
            }
            let mut touched: BTreeMap<usize, Touch> = BTreeMap::new();
            if let Some(head) = head {
                for &n in &hunk.added {
                    let Some(h) = head.innermost(n) else { continue };
                    if self.h2b[h].is_some() {
                        let entry = touched.entry(h).or_default();
                        entry.at.push(n);
                        entry.added.push(n);
                    } else {
                        mapping
                            .added
                            .entry(outermost_unpaired(&head.defs, &self.h2b, h))
                            .or_insert(index);
                    }
                }
            }
            if let Some(base) = base {
                for &(o, anchor) in &hunk.removed {
                    let Some(b) = base.innermost(o) else { continue };
                    match (self.b2h[b], anchor) {
                        (Some(h), Some(at)) => {
                            let entry = touched.entry(h).or_default();
                            entry.at.push(at);
                            entry.removed.push(o);
                        }
                        (Some(_), None) => {}
                        (None, _) => {
                            mapping
                                .removed
                                .entry(outermost_unpaired(&base.defs, &self.b2h, b))
                                .or_insert(index);
                        }
                    }
                }
            }
            for (h, touch) in touched {
                // In a hunk that also changes code elsewhere, a definition whose own lines
                // changed only in comments or layout is not modified.
                if let (Some(base), Some(head)) = (base, head)
                    && !code_differs(base, &touch.removed, head, &touch.added)
                    && head.same_code(&touch.added, &base.content(&touch.removed))
                {
                    continue;
                }
                mapping
                    .modified
                    .entry(h)
                    .or_default()
                    .push((index, touch.at));
            }
        }
        mapping
    }

    /// `symbol_modified` per definition and hunk; `api_changed` once per public definition
    /// whose signature or visibility changed, on the signature when a hunk shows it.
    fn report_modified(
        &self,
        modified: &BTreeMap<usize, Vec<(usize, Vec<u32>)>>,
        out: &mut FileAnnotations,
    ) {
        let (Some(base), Some(head)) = (&self.base, &self.head) else {
            return;
        };
        for (&h, touches) in modified {
            let Some(b) = self.h2b[h] else { continue };
            let (hd, bd) = (&head.defs[h], &base.defs[b]);
            let signature_changed = hd.sig_key != bd.sig_key;
            for (n, (index, lines)) in touches.iter().enumerate() {
                let lo = lines.iter().copied().min().unwrap_or_default();
                let hi = lines.iter().copied().max().unwrap_or_default();
                let note = if signature_changed && n == 0 {
                    " (signature changed)"
                } else {
                    ""
                };
                out.push(
                    AnnotationKind::SymbolModified,
                    Severity::Info,
                    clamp(self.hunks[*index].new_range, lo, hi),
                    false,
                    Some(&hd.def.name),
                    format!("{} `{}` modified{note}", hd.def.kind.label(), hd.def.name),
                );
            }
            let Some(message) = api_change(bd, hd) else {
                continue;
            };
            let all = touches
                .iter()
                .flat_map(|(i, lines)| lines.iter().map(move |l| (*i, *l)));
            let at = all
                .clone()
                .find(|(_, l)| (hd.def.start_line..=hd.sig_end_line).contains(l))
                .or_else(|| all.clone().next());
            if let Some((index, line)) = at {
                out.push(
                    AnnotationKind::ApiChanged,
                    Severity::Risk,
                    clamp(self.hunks[index].new_range, line, line),
                    false,
                    Some(&hd.def.name),
                    message,
                );
            }
        }
    }

    /// `symbol_added` for each outermost new definition.
    fn report_added(&self, added: &BTreeMap<usize, usize>, out: &mut FileAnnotations) {
        let Some(head) = &self.head else {
            return;
        };
        for (&h, &index) in added {
            let d = &head.defs[h].def;
            let public = if d.public { "public " } else { "" };
            out.push(
                AnnotationKind::SymbolAdded,
                Severity::Info,
                clamp(self.hunks[index].new_range, d.start_line, d.end_line),
                false,
                Some(&d.name),
                format!("{public}{} `{}` added", d.kind.label(), d.name),
            );
        }
    }

    /// The removed definitions that are really gone. One that head still has but cannot
    /// parse (an unbalanced brace swallowed it into an ERROR node) is annotated as modified,
    /// and broken, instead.
    fn keep_removed(
        &self,
        mut removed: BTreeMap<usize, usize>,
        head_errors: &[ErrorSite],
        out: &mut FileAnnotations,
    ) -> BTreeMap<usize, usize> {
        let Some(base) = &self.base else {
            return removed;
        };
        let unparsed: Vec<(u32, u32)> = head_errors
            .iter()
            .filter(|e| !e.error.missing)
            .map(|e| (e.error.line, e.end_line))
            .collect();
        removed.retain(|&b, &mut index| {
            let d = &base.defs[b].def;
            let broken = new_line_of(&self.file.hunks, d.start_line)
                .is_some_and(|l| unparsed.iter().any(|(lo, hi)| *lo <= l && l <= *hi));
            if !broken {
                return true;
            }
            let at: Vec<u32> = self.hunks[index]
                .removed
                .iter()
                .filter(|(o, _)| (d.start_line..=d.end_line).contains(o))
                .filter_map(|(_, anchor)| *anchor)
                .collect();
            if let (Some(&lo), Some(&hi)) = (at.iter().min(), at.iter().max()) {
                out.push(
                    AnnotationKind::SymbolModified,
                    Severity::Info,
                    clamp(self.hunks[index].new_range, lo, hi),
                    false,
                    Some(&d.name),
                    format!(
                        "{} `{}` modified (does not parse on head)",
                        d.kind.label(),
                        d.name
                    ),
                );
            }
            false
        });
        removed
    }

    /// `symbol_removed` for each outermost removed definition, and `api_changed` for the
    /// public items among them (or inside them): renamed when an added public item of the
    /// same kind, in the same container, has the same signature apart from its name;
    /// removed otherwise.
    fn report_removed(
        &self,
        removed: &BTreeMap<usize, usize>,
        added: &BTreeMap<usize, usize>,
        out: &mut FileAnnotations,
    ) {
        let Some(base) = &self.base else {
            return;
        };
        for (&b, &index) in removed {
            let d = &base.defs[b].def;
            out.push(
                AnnotationKind::SymbolRemoved,
                Severity::Info,
                clamp(self.hunks[index].old_range, d.start_line, d.end_line),
                true,
                Some(&d.name),
                format!("{} `{}` removed", d.kind.label(), d.name),
            );
        }
        fn parent_name(defs: &[Def], i: usize) -> Option<&str> {
            defs[i].parent.map(|p| defs[p].def.name.as_str())
        }
        // Added public items by what a rename keeps: kind and signature without the name.
        let mut candidates: HashMap<(DefKind, &str), Vec<(usize, usize)>> = HashMap::new();
        if let Some(head) = &self.head {
            for (&a, &index) in added {
                for item in public_roots(&head.defs, a) {
                    let d = &head.defs[item];
                    candidates
                        .entry((d.def.kind, d.rename_key.as_str()))
                        .or_default()
                        .push((item, index));
                }
            }
        }
        for (&r, &index) in removed {
            for item in public_roots(&base.defs, r) {
                let old = &base.defs[item];
                let label = old.def.kind.label();
                let rename = self.head.as_ref().and_then(|head| {
                    let same = candidates.get_mut(&(old.def.kind, old.rename_key.as_str()))?;
                    let at = same.iter().position(|(new, _)| {
                        parent_name(&head.defs, *new) == parent_name(&base.defs, item)
                    })?;
                    let (new, new_index) = same.remove(at);
                    Some((&head.defs[new].def, new_index))
                });
                match rename {
                    Some((new, new_index)) => out.push(
                        AnnotationKind::ApiChanged,
                        Severity::Risk,
                        clamp(
                            self.hunks[new_index].new_range,
                            new.start_line,
                            new.start_line,
                        ),
                        false,
                        Some(&new.name),
                        format!("public {label} renamed `{}` → `{}`", old.def.name, new.name),
                    ),
                    None => out.push(
                        AnnotationKind::ApiChanged,
                        Severity::Risk,
                        clamp(
                            self.hunks[index].old_range,
                            old.def.start_line,
                            old.def.start_line,
                        ),
                        true,
                        Some(&old.def.name),
                        format!("public {label} `{}` removed", old.def.name),
                    ),
                }
            }
        }
    }

    /// `syntax_error` for the errors head has and base had not.
    fn report_syntax(&self, head_errors: Vec<ErrorSite>, out: &mut FileAnnotations) {
        let Some(head) = &self.head else {
            return;
        };
        if head_errors.is_empty() {
            return;
        }
        let base_errors = self
            .base
            .as_ref()
            .map(Side::syntax_errors)
            .unwrap_or_default();
        let new = syntax::new_on_head(&base_errors, head_errors);
        syntax_annotations(out, head, &self.hunks, new);
    }
}

/// The API change between two versions of a definition, if it was public.
fn api_change(base: &Def, head: &Def) -> Option<String> {
    if !base.def.public {
        return None;
    }
    let label = head.def.kind.label();
    if !head.def.public {
        return Some(format!("{label} `{}` is no longer public", head.def.name));
    }
    if base.sig_key == head.sig_key {
        return None;
    }
    fn split(d: &Def) -> (&str, &str) {
        let s = &d.def.signature;
        (
            s.get(..d.head_len).unwrap_or(s),
            s.get(d.head_len..).unwrap_or("").trim(),
        )
    }
    let ((base_head, base_tail), (head_head, head_tail)) = (split(base), split(head));
    Some(if defs::key(base_head) == defs::key(head_head) {
        format!(
            "signature of `{}` changed: {} → {}",
            shorten(head_head),
            quoted(base_tail),
            quoted(head_tail)
        )
    } else {
        format!(
            "signature of public {label} `{}` changed: {} → {}",
            head.def.name,
            quoted(&base.def.signature),
            quoted(&head.def.signature)
        )
    })
}

fn shorten(s: &str) -> String {
    crate::model::shorten(s, SIGNATURE_CHARS)
}

fn quoted(s: &str) -> String {
    if s.is_empty() {
        "nothing".to_string()
    } else {
        format!("`{}`", shorten(s))
    }
}

/// `Some(comments changed)` when the hunk's removed and added lines hold the same code
/// tokens: only whitespace, layout, trailing commas or comments differ.
/// Whether the code of lines `removed` of base and `added` of head certainly differs, told
/// from their text (see [`Side::bare_code`]); false when only a walk of the trees can tell.
fn code_differs(base: &Side<'_>, removed: &[u32], head: &Side<'_>, added: &[u32]) -> bool {
    match (base.bare_code(removed), head.bare_code(added)) {
        (Some(old), Some(new)) => old != new,
        _ => false,
    }
}

fn formatting_only(
    base: Option<&Side<'_>>,
    head: Option<&Side<'_>>,
    hunk: &HunkLines,
) -> Option<bool> {
    let removed: Vec<u32> = hunk.removed.iter().map(|(o, _)| *o).collect();
    if let (Some(base), Some(head)) = (base, head)
        && code_differs(base, &removed, head, &hunk.added)
    {
        return None;
    }
    let old = match base {
        Some(side) => side.content(&removed),
        None if removed.is_empty() => Content::default(),
        None => return None,
    };
    let new = match head {
        Some(side) if side.same_code(&hunk.added, &old) => side.content(&hunk.added),
        None if hunk.added.is_empty() && old.code.is_empty() => Content::default(),
        Some(_) | None => return None,
    };
    Some(old.comments != new.comments)
}

fn formatting_annotation(
    out: &mut FileAnnotations,
    base: Option<&Side<'_>>,
    head: Option<&Side<'_>>,
    hunk: &HunkLines,
    comments: bool,
) {
    let what = if comments { "comments" } else { "formatting" };
    let message = format!("only {what} changed");
    let new_lines: Vec<u32> = hunk
        .added
        .iter()
        .copied()
        .chain(hunk.removed.iter().filter_map(|(_, a)| *a))
        .collect();
    if let (Some(&lo), Some(&hi)) = (new_lines.iter().min(), new_lines.iter().max()) {
        let symbol = head.and_then(|h| h.innermost(lo).map(|i| h.defs[i].def.name.clone()));
        out.push(
            AnnotationKind::FormattingOnly,
            Severity::Info,
            clamp(hunk.new_range, lo, hi),
            false,
            symbol.as_deref(),
            message,
        );
    } else if let (Some(lo), Some(hi)) = (
        hunk.removed.iter().map(|(o, _)| *o).min(),
        hunk.removed.iter().map(|(o, _)| *o).max(),
    ) {
        let symbol = base.and_then(|b| b.innermost(lo).map(|i| b.defs[i].def.name.clone()));
        out.push(
            AnnotationKind::FormattingOnly,
            Severity::Info,
            clamp(hunk.old_range, lo, hi),
            true,
            symbol.as_deref(),
            message,
        );
    }
}

/// The new-side lines a change wrote: added lines, and where removed lines were.
fn changed_lines(hunks: &[HunkLines]) -> BTreeSet<u32> {
    hunks
        .iter()
        .flat_map(|h| {
            h.added
                .iter()
                .copied()
                .chain(h.removed.iter().filter_map(|(_, at)| *at))
        })
        .collect()
}

/// One `syntax_error` per new error (up to [`MAX_SYNTAX_ANNOTATIONS`]), on a changed line:
/// the error's own when the change wrote it, else the first changed line inside the code
/// the parser gave up on, else the nearest changed line (a removed `}` can break a line far
/// below the change). The message keeps the real position.
fn syntax_annotations(
    out: &mut FileAnnotations,
    head: &Side<'_>,
    hunks: &[HunkLines],
    new: Vec<ErrorSite>,
) {
    let total = new.len();
    let changed = changed_lines(hunks);
    for (n, site) in new.into_iter().take(MAX_SYNTAX_ANNOTATIONS).enumerate() {
        let e = &site.error;
        let line = if changed.contains(&e.line) {
            Some(e.line)
        } else {
            changed
                .range(e.line..=site.end_line.max(e.line))
                .next()
                .copied()
                .or_else(|| changed.iter().copied().min_by_key(|l| l.abs_diff(e.line)))
        };
        let what = match (&site.reason, site.expected) {
            (Some(reason), _) => reason.clone(),
            (None, Some(token)) => format!("missing `{token}`"),
            (None, None) => "syntax error".to_string(),
        };
        let since = match line {
            Some(l) if l != e.line => format!(" (since the change at line {l})"),
            _ => String::new(),
        };
        let mut message = format!("{what} at {}:{}{since}: `{}`", e.line, e.column, e.snippet);
        if n + 1 == MAX_SYNTAX_ANNOTATIONS && total > MAX_SYNTAX_ANNOTATIONS {
            message.push_str(&format!(" (and {} more)", total - MAX_SYNTAX_ANNOTATIONS));
        }
        let symbol = head
            .innermost(e.line)
            .map(|i| head.defs[i].def.name.clone());
        out.push(
            AnnotationKind::SyntaxError,
            Severity::Risk,
            line.map(|l| (l, l)),
            false,
            symbol.as_deref(),
            message,
        );
    }
}

/// `syntax_error` annotations for errors another checker found on head (`new`, already told
/// from base's), placed and worded as the grammar's own are.
pub(super) fn reported_errors(file: &FileDiff, head: &str, new: Vec<ErrorSite>) -> Vec<Annotation> {
    let Some(side) = file
        .new_path
        .as_deref()
        .and_then(Language::for_path)
        .and_then(|lang| Side::new(lang, head, None))
    else {
        return Vec::new();
    };
    let hunks: Vec<HunkLines> = file.hunks.iter().map(HunkLines::new).collect();
    let mut out = FileAnnotations {
        path: file.path().to_string(),
        annotations: Vec::new(),
    };
    syntax_annotations(&mut out, &side, &hunks, new);
    out.annotations
}
