//! Risk rules: pure functions over the parsed diff — and, for one file, its two versions — that
//! point the operator at what must not slip through review. Each rule's exact decision is in
//! its module; in short:
//!
//! | kind | severity | fires when |
//! |---|---|---|
//! | `secret` | risk | an added line holds a credential ([`secret`](self#secrets)) |
//! | `unsafe_added` | risk | added Rust `unsafe`, Python `eval`/`exec`/unpickling/shell, JS `eval`/`new Function`, Go `unsafe` |
//! | `dependency_changed` | notice | a manifest's parsed dependency set differs (one per dependency) |
//! | `ci_changed` | risk | a CI configuration file is added, changed, renamed or deleted |
//! | `test_removed` | risk | a test function disappears, or a test file is deleted |
//! | `test_weakened` | risk | a skip/ignore/xfail/only marker is added, a hunk drops assertions and adds none, a coverage threshold goes down or a tolerance goes up |
//! | `todo_added` | info | a TODO/FIXME/XXX/HACK comment, or Rust `todo!()`/`unimplemented!()`, is added |
//! | `binary_file` | notice | git sees the file as binary |
//! | `large_change` | notice | added + removed lines (lockfiles aside) exceed the limit |
//! | `outside_scope` | notice | a changed file shares nothing with the task (see [`change_rules`]) |
//!
//! **Lines.** Every annotation that has a line points at a line of one of the file's hunks, on
//! the new side, or on the old side (`old_side`) for something removed; `end_line`, when set,
//! is in the same hunk and not before `line`. Annotations about a whole file (binary, CI, a
//! deleted test file) or the whole change have no line. No rule panics on any diff. Both are
//! property-tested below.
//!
//! **Edits are not additions.** Line rules look at each hunk as a whole: an added line whose
//! trimmed text equals a removed line of the same hunk was only moved or re-indented, and a hunk
//! that removes as many flagged lines as it adds edited them (an `unsafe` block reformatted, a
//! TODO reworded) — neither is reported. Only the surplus is.
//!
//! **Code and comments.** Code rules (`unsafe_added`, tests) read only the code part of a line
//! and `todo_added` only the comment part, as split by a small per-language lexer that follows
//! comments and strings across the whole file when its text is given, else across the hunk's
//! own lines (see `lex`). `secret` reads whole lines: a key in a comment is still leaked.
//!
//! <a name="secrets"></a>**Secrets.** Never stored or shown: messages carry [`mask`]ed text,
//! and everything a message quotes from the diff (dependency sources, test names) is redacted
//! first. The detectors, most specific first, one annotation per line:
//! private key blocks (`-----BEGIN … PRIVATE KEY-----`, through its `END` line when added in
//! the same hunk); AWS access key ids (`AKIA`/`ASIA` + 16); AWS secret keys (40 base64
//! characters on a line that mentions AWS or `secret_access_key`); GitHub (`ghp_`, `gho_`,
//! `ghu_`, `ghs_`, `ghr_`, `github_pat_`); GitLab (`glpat-`, `gldt-`, `glrt-`, `glptt-`); Slack
//! (`xox[baprs]-` tokens, webhook URLs); JWTs (three base64url parts whose header decodes to
//! JSON with `alg`, signature not empty); `Bearer` tokens; and assignments to a name ending in
//! `secret`, `token`, `password`/`passwd`/`pwd`, `credential(s)`, `apikey` or `<api, secret,
//! access, private, auth, client, signing, encryption, master>_key` whose quoted value (or
//! unquoted, in `.env`/shell/YAML/ini/TOML files) is at least 12 characters, mixes at least
//! two of lowercase, uppercase and digits, has at least 3.0 bits of Shannon entropy per
//! character, and is not a placeholder (`changeme`, `your-…`, `example`, `xxx`, `${…}`,
//! `{{…}}`, `<…>`, `$VAR`, …). Not reported: a line containing [`ALLOW_SECRET_PRAGMA`];
//! AWS's documentation keys (containing `EXAMPLE`); a secret whose text the base version
//! already contained (the change did not add it). Test files get no exemption: a real key in a
//! fixture is as leaked as anywhere else, and fixtures that need key-shaped strings carry the
//! pragma.

mod change;
mod code;
mod deps;
mod lex;
mod paths;
mod secret;
mod testing;

use std::collections::HashMap;

use crate::diff::{Diff, FileDiff, Hunk, Line, LineKind};
use crate::model::{Annotation, AnnotationKind, Severity, Task};

use lex::{Lang, Lexed, Lexer};

/// The allow-list pragma: a line containing it is never reported as a secret.
pub const ALLOW_SECRET_PRAGMA: &str = "bosun:allow-secret";

/// `secret` masked for display: its first characters (at most 4, and at most a quarter of
/// it), `…`, and its length in characters — e.g. `ghp_…(40 chars)`. Never the whole text.
pub fn mask(secret: &str) -> String {
    let len = secret.chars().count();
    let shown: String = secret.chars().take((len / 4).min(4)).collect();
    format!("{shown}…({len} chars)")
}

pub use secret::{Redactor, mask_diff, redact_text};

/// Rules that look at one file: secret, unsafe_added, dependency_changed, ci_changed,
/// test_removed, test_weakened, todo_added, binary_file. `base`/`head` are the file's two
/// versions when text (None for a side that does not exist or is not text); with them, code is
/// lexed in full and manifests are compared as parsed documents (a dependency's old and new
/// versions are named: "serde 1.0.190 → 1.0.228", "added tokio 1.54", "removed left-pad").
/// Without them the line rules fall back to the hunks' own lines, and a manifest whose
/// existing side is missing gets one notice saying its dependencies could not be compared.
/// A version that does not match the hunks' lines (a stale read) is ignored the same way.
/// Sorted by line, then kind.
pub fn file_rules(file: &FileDiff, base: Option<&str>, head: Option<&str>) -> Vec<Annotation> {
    let ctx = FileContext::new(file, base, head);
    let mut out = Vec::new();
    if file.binary {
        out.push(ctx.annotation(
            AnnotationKind::BinaryFile,
            Severity::Notice,
            None,
            false,
            format!(
                "binary file {}: its content is not reviewed here",
                ctx.verb()
            ),
        ));
    }
    let old_ci = file.old_path.as_deref().is_some_and(paths::is_ci);
    let new_ci = file.new_path.as_deref().is_some_and(paths::is_ci);
    if old_ci || new_ci {
        out.push(ctx.annotation(
            AnnotationKind::CiChanged,
            Severity::Risk,
            None,
            false,
            format!(
                "CI configuration {} (+{} −{}): check what it runs, with which secrets and permissions",
                ctx.verb(),
                file.insertions(),
                file.deletions()
            ),
        ));
    }
    out.extend(secret::rule(&ctx));
    out.extend(code::unsafe_added(&ctx));
    out.extend(code::todo_added(&ctx));
    out.extend(deps::rule(&ctx));
    out.extend(testing::rules(&ctx));
    super::sort(&mut out);
    out
}

/// Rules over the whole change: large_change and outside_scope. Their annotations have no
/// line; large_change's path is empty (it is about the whole change).
///
/// `large_change`: one annotation when added + removed lines, over all files except lockfiles
/// (generated, and huge after any dependency bump), exceed `large_change_lines`; it names the
/// count and the largest files. `0` turns the rule off.
///
/// `outside_scope`: a changed file is *in scope* when any of these holds, else it gets one
/// notice:
/// 1. its path is a file the task references, lies under a referenced directory, or is the
///    task list itself;
/// 2. a word of its path (directories and file stem, split at punctuation and camelCase, of
///    3+ letters, minus generic words like `src`, `lib`, `mod`, `index`, `test`) matches a
///    word of the task's title, description, body, subtasks or references — equal, or sharing
///    a prefix of 4+ letters that leaves at most 3 letters of the shorter word
///    (`parser` ~ `parsing`, `config` ~ `configuration`);
/// 3. it is a test file in the directory of, or sharing a stem word with, another changed
///    (non-test) file — the tests of a touched module;
/// 4. it is a module's glue — `mod.rs`, `lib.rs`, `main.rs`, `__init__.py`, `index.*`,
///    `<dir>.rs`, or a dependency manifest — for a directory holding a file in scope by 1–2;
/// 5. it is a lockfile next to a changed manifest;
/// 6. it is a changelog (`CHANGELOG*`, `CHANGES*`, `HISTORY*`);
/// 7. the task's type claims it: `docs` any documentation (`*.md`, `*.rst`, `*.adoc`, files
///    under `docs/` or `doc/`), `test` any test file, `devops` CI, Docker, Make and
///    YAML/TOML/shell/Nix files and manifests, `release` manifests, lockfiles and docs.
///
/// To stay conservative, the rule says nothing unless at least one changed file is in scope by
/// 1 or 2: when the task's words name none of the changed paths at all (a task written in
/// prose, in another language, or about behaviour), there is nothing to measure against.
/// Symbols are not considered, only paths.
pub fn change_rules(diff: &Diff, task: &Task, large_change_lines: usize) -> Vec<Annotation> {
    let mut out = change::large_change(diff, large_change_lines);
    out.extend(change::outside_scope(diff, task));
    super::sort(&mut out);
    out
}

/// Texts longer than this are not lexed whole (rules fall back to the hunks' lines): bounds the
/// work on a generated or minified file.
const MAX_LEXED_BYTES: usize = 4 << 20;

/// The number of `line` on one side (`old_side`: the old file's), if it has one there.
pub(crate) fn side_no(line: &Line, old_side: bool) -> Option<u32> {
    if old_side { line.old_no } else { line.new_no }
}

/// The line kind that means "changed" on a side: removed on the old, added on the new.
pub(crate) fn changed_kind(old_side: bool) -> LineKind {
    if old_side {
        LineKind::Removed
    } else {
        LineKind::Added
    }
}

/// The hunk a line number of one side belongs to (a line the hunk lists, not merely in its
/// range).
pub(crate) fn hunk_index(file: &FileDiff, n: u32, old_side: bool) -> Option<usize> {
    file.hunks
        .iter()
        .position(|h| h.lines.iter().any(|l| side_no(l, old_side) == Some(n)))
}

/// The change block a line of one side belongs to: (hunk, run) where a run is a stretch of
/// consecutive added/removed lines between context lines. Context lines have no block.
pub(crate) fn block_of(file: &FileDiff, n: u32, old_side: bool) -> Option<(usize, usize)> {
    for (h, hunk) in file.hunks.iter().enumerate() {
        let mut run = 0;
        let mut in_run = false;
        for line in &hunk.lines {
            let changed = line.kind != LineKind::Context;
            if changed && !in_run {
                run += 1;
            }
            in_run = changed;
            if changed && side_no(line, old_side) == Some(n) {
                return Some((h, run));
            }
        }
    }
    None
}

/// One side of a file, lexed: from its whole text when given (and consistent with the hunks),
/// else from the hunks' own lines.
pub(crate) struct SideView<'a> {
    full: Option<(Vec<&'a str>, Vec<Lexed>)>,
    partial: HashMap<u32, (&'a str, Lexed)>,
}

impl<'a> SideView<'a> {
    fn new(file: &'a FileDiff, lang: Lang, text: Option<&'a str>, old_side: bool) -> Self {
        if let Some(text) = text.filter(|t| t.len() <= MAX_LEXED_BYTES) {
            let lines: Vec<&str> = text.split('\n').collect();
            let consistent = file.hunks.iter().flat_map(|h| &h.lines).all(|l| {
                side_no(l, old_side).is_none_or(|n| {
                    n.checked_sub(1)
                        .and_then(|i| lines.get(i as usize))
                        .is_some_and(|t| *t == l.text)
                })
            });
            if consistent {
                let mut lexer = Lexer::new(lang);
                let lexed = lines.iter().map(|l| lexer.line(l)).collect();
                return Self {
                    full: Some((lines, lexed)),
                    partial: HashMap::new(),
                };
            }
        }
        let mut partial = HashMap::new();
        let mut lexer = Lexer::new(lang);
        for hunk in &file.hunks {
            lexer.reset();
            for line in &hunk.lines {
                if let Some(n) = side_no(line, old_side) {
                    partial.insert(n, (line.text.as_str(), lexer.line(&line.text)));
                }
            }
        }
        Self {
            full: None,
            partial,
        }
    }

    /// Line `n` (1-based): its text and its lexed parts.
    pub(crate) fn get(&self, n: u32) -> Option<(&'a str, &Lexed)> {
        match &self.full {
            Some((raw, lexed)) => {
                let i = n.checked_sub(1)? as usize;
                Some((*raw.get(i)?, lexed.get(i)?))
            }
            None => self.partial.get(&n).map(|(raw, lexed)| (*raw, lexed)),
        }
    }

    /// The text of line `n` (empty when unknown).
    pub(crate) fn raw(&self, n: u32) -> &'a str {
        self.get(n).map_or("", |(raw, _)| raw)
    }

    /// The code part of line `n` (empty when unknown).
    pub(crate) fn code(&self, n: u32) -> &str {
        self.get(n).map_or("", |(_, l)| l.code.as_str())
    }

    /// The comment part of line `n` (empty when unknown).
    pub(crate) fn comment(&self, n: u32) -> &str {
        self.get(n).map_or("", |(_, l)| l.comment.as_str())
    }

    /// The text of line `n` without a trailing line comment.
    pub(crate) fn uncommented(&self, n: u32) -> &'a str {
        let raw = self.raw(n);
        let comment = self.comment(n);
        match raw.strip_suffix(comment) {
            Some(code) if !comment.is_empty() && comment != raw => code,
            _ => raw,
        }
    }

    /// The numbers of every known line, in order.
    pub(crate) fn numbers(&self) -> Vec<u32> {
        match &self.full {
            Some((raw, _)) => (1..=raw.len() as u32).collect(),
            None => {
                let mut numbers: Vec<u32> = self.partial.keys().copied().collect();
                numbers.sort_unstable();
                numbers
            }
        }
    }
}

/// What the file rules share about one file.
pub(crate) struct FileContext<'a> {
    pub(crate) file: &'a FileDiff,
    pub(crate) path: &'a str,
    pub(crate) lang: Lang,
    /// The old version, when it exists and was given.
    pub(crate) base: Option<&'a str>,
    /// The new version, when it exists and was given.
    pub(crate) head: Option<&'a str>,
    pub(crate) old: SideView<'a>,
    pub(crate) new: SideView<'a>,
}

impl<'a> FileContext<'a> {
    fn new(file: &'a FileDiff, base: Option<&'a str>, head: Option<&'a str>) -> Self {
        let path = file.path();
        let lang = Lang::of(path);
        let base = base.filter(|_| file.old_path.is_some());
        let head = head.filter(|_| file.new_path.is_some());
        Self {
            file,
            path,
            lang,
            base,
            head,
            old: SideView::new(file, lang, base, true),
            new: SideView::new(file, lang, head, false),
        }
    }

    /// The view of one side.
    pub(crate) fn view(&self, old_side: bool) -> &SideView<'a> {
        if old_side { &self.old } else { &self.new }
    }

    /// "added", "changed", "deleted" or "renamed", for messages.
    pub(crate) fn verb(&self) -> &'static str {
        match self.file.status {
            crate::git::ChangeStatus::Added => "added",
            crate::git::ChangeStatus::Modified => "changed",
            crate::git::ChangeStatus::Deleted => "deleted",
            crate::git::ChangeStatus::Renamed => "renamed",
        }
    }

    /// An annotation on this file. `lines` is checked against the hunks: a range that is not
    /// inside one hunk on that side becomes a file-level annotation (the line invariant).
    pub(crate) fn annotation(
        &self,
        kind: AnnotationKind,
        severity: Severity,
        lines: Option<(u32, u32)>,
        old_side: bool,
        message: String,
    ) -> Annotation {
        let lines = lines.filter(|&(start, end)| {
            start <= end
                && hunk_index(self.file, start, old_side).is_some_and(|h| {
                    self.file.hunks[h]
                        .lines
                        .iter()
                        .any(|l| side_no(l, old_side) == Some(end))
                })
        });
        Annotation {
            kind,
            severity,
            path: self.path.to_string(),
            line: lines.map(|(s, _)| s),
            end_line: lines.and_then(|(s, e)| (e != s).then_some(e)),
            old_side: old_side && lines.is_some(),
            symbol: None,
            message,
        }
    }
}

/// The added lines of `hunk` that `added` flags and that are not edits of a line `removed`
/// flags in the same hunk: exact moves (same trimmed text) are dropped first, then added hits
/// equal to a remaining removed hit (the same finding, reworded), then as many of the rest as
/// there are removed hits left (edited in place). What remains is new, in order.
pub(crate) fn net_added<T: PartialEq>(
    hunk: &Hunk,
    mut added: impl FnMut(&Line) -> Option<T>,
    mut removed: impl FnMut(&Line) -> Option<T>,
) -> Vec<(u32, T)> {
    let mut gone: Vec<(&str, T)> = hunk
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Removed)
        .filter_map(|l| removed(l).map(|hit| (l.text.trim(), hit)))
        .collect();
    let mut fresh = Vec::new();
    for line in hunk.lines.iter().filter(|l| l.kind == LineKind::Added) {
        let (Some(n), Some(hit)) = (line.new_no, added(line)) else {
            continue;
        };
        if let Some(i) = gone.iter().position(|(g, _)| *g == line.text.trim()) {
            gone.remove(i);
            continue;
        }
        fresh.push((n, hit));
    }
    gone.retain(|(_, hit)| match fresh.iter().position(|(_, f)| f == hit) {
        Some(i) => {
            fresh.remove(i);
            false
        }
        None => true,
    });
    let edited = gone.len().min(fresh.len());
    fresh.drain(..edited);
    fresh
}

/// Words of an identifier or path segment: split at anything not alphanumeric and at
/// lowercase→uppercase steps, lowercased (`apiKey` → `api`, `key`; `fail_under` → `fail`,
/// `under`).
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split(|c: char| !c.is_alphanumeric()) {
        let mut word = String::new();
        let mut prev_lower = false;
        for c in part.chars() {
            if c.is_uppercase() && prev_lower && !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            word.extend(c.to_lowercase());
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
