//! Built-in Definition-of-Done checks: the gates a task type can require beyond build and
//! tests (config `[dod.TYPE] gates = [...]`). Each looks at the run's change and decides
//! pass or fail, or skips when there is nothing for it to look at:
//!
//! - `docs_only`: every changed path (both sides of a rename) matches a docs glob.
//! - `links`: relative links and images in changed Markdown files point at files that exist
//!   in the worktree and, with a `#fragment`, at a heading of that Markdown file (GitHub's
//!   heading slugs). Links with a scheme (`https:`, `mailto:`) or `//` are not followed.
//! - `version_bump`: the project version, from the first root manifest that declares one
//!   (`Cargo.toml`, `package.json`, `pyproject.toml`, `VERSION`), is higher at head than at
//!   the base commit, by semver precedence.
//! - `changelog`: a root changelog gains at least one non-blank line, and names every new
//!   version a manifest declares.
//! - `parses`: changed JSON, TOML and YAML files parse.
//!
//! The head side is read from the run's worktree, the base side from git at the base commit.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use globset::{Glob, GlobSet, GlobSetBuilder};
use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use regex::Regex;

use super::{Gate, GateContext, GateFuture};
use crate::git::{ChangeStatus, FileChange};
use crate::model::{GateResult, Verdict};

/// A built-in Definition-of-Done check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Check {
    /// Every changed file is documentation.
    DocsOnly,
    /// Relative links in changed Markdown files resolve.
    Links,
    /// The project version increases.
    VersionBump,
    /// The changelog gains an entry.
    Changelog,
    /// Changed JSON, TOML and YAML files parse.
    Parses,
}

impl Check {
    /// Every check, in the order they are documented.
    pub const ALL: [Check; 5] = [
        Self::DocsOnly,
        Self::Links,
        Self::VersionBump,
        Self::Changelog,
        Self::Parses,
    ];

    /// The name used in config and as the gate's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::DocsOnly => "docs_only",
            Self::Links => "links",
            Self::VersionBump => "version_bump",
            Self::Changelog => "changelog",
            Self::Parses => "parses",
        }
    }

    /// The check called `name` (ASCII case and surrounding spaces ignored).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name.trim()))
    }

    /// What the check requires, in one line (for docs and config errors).
    pub fn describe(self) -> &'static str {
        match self {
            Self::DocsOnly => "every changed file is documentation (matches the docs paths)",
            Self::Links => {
                "relative links and images in changed Markdown files point at files and \
                 headings that exist"
            }
            Self::VersionBump => {
                "the project version (Cargo.toml, package.json, pyproject.toml or VERSION) \
                 increases"
            }
            Self::Changelog => {
                "the root changelog gains an entry, naming the new version when it changed"
            }
            Self::Parses => "changed JSON, TOML and YAML files parse",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Globs that count as documentation for `docs_only` when the config gives none. Globs match
/// as in `[gates.diff]` paths (`*` also crosses `/`). Plain `*.txt` is left out on purpose:
/// `requirements.txt` and `CMakeLists.txt` are build inputs, not prose.
pub const DEFAULT_DOCS_PATHS: &[&str] = &[
    "docs/**",
    "doc/**",
    "documentation/**",
    "**/*.md",
    "**/*.markdown",
    "**/*.mdx",
    "**/*.rst",
    "**/*.adoc",
    "**/*.asciidoc",
    "**/README*",
    "**/LICENSE*",
    "**/LICENCE*",
    "**/COPYING*",
    "**/NOTICE*",
    "**/AUTHORS*",
    "**/CHANGELOG*",
    "**/CHANGES*",
    "**/HISTORY*",
    "**/NEWS*",
    "**/CONTRIBUTING*",
    "**/CODE_OF_CONDUCT*",
    "**/SECURITY*",
    "mkdocs.yml",
    "mkdocs.yaml",
    "book.toml",
];

/// A DoD check as a gate: required, weight 1, applies to every task (the caller decides which
/// task types get it). Its name is the check's name.
///
/// `docs_only` is a pure function of the diff and runs inline; the other checks read files
/// and git objects, so they run on tokio's blocking pool (`spawn_blocking`).
pub struct DodGate {
    check: Check,
    docs: Arc<GlobSet>,
}

impl DodGate {
    /// A gate running `check`; `docs_paths` are the globs `docs_only` counts as documentation
    /// ([`DEFAULT_DOCS_PATHS`] when empty). The globs are compiled here, whichever the check,
    /// so a bad one is reported once at start-up as one sentence.
    pub fn new(check: Check, docs_paths: &[String]) -> Result<Self, String> {
        let docs = if docs_paths.is_empty() {
            compile_globs(DEFAULT_DOCS_PATHS.iter().copied())
        } else {
            compile_globs(docs_paths.iter().map(String::as_str))
        }?;
        Ok(Self {
            check,
            docs: Arc::new(docs),
        })
    }

    /// The check this gate runs.
    pub fn check(&self) -> Check {
        self.check
    }
}

fn compile_globs<'p>(patterns: impl IntoIterator<Item = &'p str>) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p)
            .map_err(|e| format!("docs path `{p}` is not a valid glob: {}", e.kind()))?;
        b.add(glob);
    }
    b.build()
        .map_err(|e| format!("the docs paths cannot be compiled: {e}"))
}

impl Gate for DodGate {
    fn name(&self) -> &str {
        self.check.name()
    }
    fn run<'a>(&'a self, cx: &'a GateContext<'a>) -> GateFuture<'a> {
        Box::pin(async move {
            let check = self.check;
            let outcome = match check {
                // Pure and cheap: globs over the changed paths.
                Check::DocsOnly => docs_only(&cx.diff.files, &self.docs),
                // These read the worktree and git objects: the blocking pool. On cancel the
                // gate returns at once; the job finishes on its own (it only reads).
                Check::Links | Check::VersionBump | Check::Changelog | Check::Parses => {
                    let job = CheckJob {
                        check,
                        worktree: cx.worktree.to_path_buf(),
                        repo_root: cx.repo_root.to_path_buf(),
                        base: cx.base.to_string(),
                        files: cx.diff.files.clone(),
                        docs: Arc::clone(&self.docs),
                    };
                    let handle = tokio::task::spawn_blocking(move || job.run());
                    tokio::select! {
                        joined = handle => joined.unwrap_or_else(|e| {
                            Outcome::Fail(format!("the {check} check stopped: {e}"), Vec::new())
                        }),
                        () = cx.cancel.cancelled() => Outcome::Skip("cancelled".into()),
                    }
                }
            };
            outcome.into_result(check)
        })
    }
}

/// What a check concluded, before it becomes a [`GateResult`].
#[derive(Debug)]
enum Outcome {
    /// Passed, with a one-line summary.
    Pass(String),
    /// Failed: a one-line summary and every problem.
    Fail(String, Vec<String>),
    /// Nothing to check, and why.
    Skip(String),
}

impl Outcome {
    /// Pass with `summary` when there are no problems, else fail summarised by the first.
    fn from_problems(problems: Vec<String>, summary: String) -> Self {
        match problems.as_slice() {
            [] => Self::Pass(summary),
            [one] => Self::Fail(one.clone(), problems),
            [first, rest @ ..] => Self::Fail(format!("{first} (+{} more)", rest.len()), problems),
        }
    }

    fn into_result(self, check: Check) -> GateResult {
        let (verdict, score, summary, problems) = match self {
            Self::Pass(summary) => (Verdict::Pass, 1.0, summary, Vec::new()),
            Self::Fail(summary, problems) => (Verdict::Fail, 0.0, summary, problems),
            Self::Skip(why) => return GateResult::skipped(check.name(), &why, true, 1.0),
        };
        GateResult::new(check.name(), verdict, score, summary, problems.join("\n"))
    }
}

/// The inputs of a check that does blocking work, owned so it can move to the blocking pool.
struct CheckJob {
    check: Check,
    worktree: PathBuf,
    repo_root: PathBuf,
    base: String,
    files: Vec<FileChange>,
    docs: Arc<GlobSet>,
}

impl CheckJob {
    fn run(&self) -> Outcome {
        match self.check {
            Check::DocsOnly => docs_only(&self.files, &self.docs),
            Check::Links => links(&self.worktree, &self.files),
            Check::VersionBump => version_bump(&self.worktree, &self.repo_root, &self.base),
            Check::Changelog => changelog(&self.worktree, &self.repo_root, &self.base, &self.files),
            Check::Parses => parses(&self.worktree, &self.files),
        }
    }
}

/// Every path a file change touches: its path, and where a rename came from.
fn touched_paths(f: &FileChange) -> impl Iterator<Item = &str> {
    std::iter::once(f.path.as_str()).chain(f.old_path.as_deref())
}

/// Changed files that still exist at head.
fn present(files: &[FileChange]) -> impl Iterator<Item = &FileChange> {
    files.iter().filter(|f| match f.status {
        ChangeStatus::Added | ChangeStatus::Modified | ChangeStatus::Renamed => true,
        ChangeStatus::Deleted => false,
    })
}

/// `rel`'s content in the worktree; `None` when there is no such file.
fn read_worktree(worktree: &Path, rel: &str) -> Result<Option<Vec<u8>>, String> {
    super::read_untrusted(&worktree.join(rel)).map_err(|e| {
        // Name the file by its path in the change, not the checkout's absolute path.
        e.replace(&worktree.join(rel).display().to_string(), rel)
    })
}

/// A changed file's text (invalid UTF-8 replaced), or None with the reason added to `problems`.
fn read_changed(worktree: &Path, rel: &str, problems: &mut Vec<String>) -> Option<String> {
    match read_worktree(worktree, rel) {
        Ok(Some(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Ok(None) => {
            problems.push(format!("{rel} is missing from the worktree"));
            None
        }
        Err(e) => {
            problems.push(e);
            None
        }
    }
}

/// `rel`'s content at the base commit; `None` when it was not there.
fn read_base(repo_root: &Path, base: &str, rel: &str) -> Result<Option<Vec<u8>>, String> {
    crate::git::read_file_at(repo_root, base, Path::new(rel))
        .map_err(|e| format!("cannot read {rel} at the base commit: {e}"))
}

/// The extension of `path`, lowercased.
fn extension(path: &str) -> Option<String> {
    Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Up to three items, comma-separated, then how many more.
fn short_list(items: &[&str]) -> String {
    const SHOWN: usize = 3;
    let mut out = items
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        out.push_str(&format!(", … ({} more)", items.len() - SHOWN));
    }
    out
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

// ---------------------------------------------------------------------------------------------
// docs_only

fn docs_only(files: &[FileChange], docs: &GlobSet) -> Outcome {
    if files.is_empty() {
        return Outcome::Skip("the change is empty".into());
    }
    let mut code: Vec<&str> = Vec::new();
    for p in files.iter().flat_map(touched_paths) {
        if !docs.is_match(p) && !code.contains(&p) {
            code.push(p);
        }
    }
    if code.is_empty() {
        return Outcome::Pass(format!(
            "{} file(s) changed, all documentation",
            files.len()
        ));
    }
    let problems = code
        .iter()
        .map(|p| format!("{p} is not documentation"))
        .collect();
    Outcome::Fail(format!("edits code: {}", short_list(&code)), problems)
}

// ---------------------------------------------------------------------------------------------
// links

/// Markdown extensions whose links are checked (and whose headings are anchors).
fn is_markdown(path: &str) -> bool {
    matches!(extension(path).as_deref(), Some("md" | "markdown" | "mdx"))
}

/// `id="…"` or `name="…"` in raw HTML: explicit anchors a heading slug does not cover.
static HTML_ANCHOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:id|name)\s*=\s*["']([^"']+)["']"#)
        .expect("the HTML anchor pattern is a valid regex")
});

/// What links and anchors a Markdown document has.
struct MarkdownDoc {
    /// (1-based line, destination) of every link and image, autolinks left out.
    links: Vec<(usize, String)>,
    /// Heading slugs and explicit HTML anchors.
    anchors: HashSet<String>,
}

/// GitHub's slug of one heading's text: lowercase, punctuation and symbols dropped except `-`
/// and `_`, each space a `-`. Letters of every script are kept.
fn github_slug(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// Heading slugs made unique the way GitHub does: the second `foo` is `foo-1`, then `foo-2`.
#[derive(Default)]
struct Slugger {
    seen: HashMap<String, usize>,
}

impl Slugger {
    fn slug(&mut self, heading: &str) -> String {
        let base = github_slug(heading);
        let mut slug = base.clone();
        while self.seen.contains_key(&slug) {
            let n = self.seen.entry(base.clone()).or_insert(0);
            *n += 1;
            slug = format!("{base}-{n}");
        }
        self.seen.insert(slug.clone(), 0);
        slug
    }
}

fn parse_markdown(text: &str) -> MarkdownDoc {
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |offset: usize| line_starts.partition_point(|&s| s <= offset);
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
    let mut doc = MarkdownDoc {
        links: Vec::new(),
        anchors: HashSet::new(),
    };
    let mut slugger = Slugger::default();
    let mut heading: Option<String> = None;
    // An image's alt text is not part of its heading's text on GitHub.
    let mut image_depth = 0usize;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = heading.take() {
                    doc.anchors.insert(slugger.slug(&h));
                }
            }
            // `<https://…>` and `<a@b.c>` are never files (the latter has no scheme to skip).
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) if !matches!(link_type, LinkType::Autolink | LinkType::Email) => {
                doc.links
                    .push((line_of(range.start), dest_url.into_string()));
            }
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                ..
            }) => {
                image_depth += 1;
                if !matches!(link_type, LinkType::Autolink | LinkType::Email) {
                    doc.links
                        .push((line_of(range.start), dest_url.into_string()));
                }
            }
            Event::End(TagEnd::Image) => image_depth = image_depth.saturating_sub(1),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut().filter(|_| image_depth == 0) {
                    h.push_str(&t);
                }
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                for cap in HTML_ANCHOR.captures_iter(&html) {
                    doc.anchors.insert(cap[1].to_string());
                }
            }
            _ => {}
        }
    }
    doc
}

/// Whether `dest` starts with a URL scheme (`https:`, `mailto:`, …).
fn has_scheme(dest: &str) -> bool {
    let Some((scheme, _)) = dest.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `%XX` sequences decoded; anything else (including a stray `%`) kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `target` resolved against the directory of `from` (or the root, for a leading `/`) as a
/// repository-relative path; `None` when it climbs out of the repository.
fn resolve(from: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut dir: Vec<&str> = from.split('/').collect();
        dir.pop();
        dir
    };
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Anchors of the Markdown files links point into, read once each.
type AnchorCache = HashMap<String, Option<HashSet<String>>>;

/// Checks one link of `from`; `Ok(false)` for a link that is not followed (external),
/// `Err(why)` for a broken one.
fn check_link(
    worktree: &Path,
    from: &str,
    dest: &str,
    anchors: &mut AnchorCache,
) -> Result<bool, String> {
    let dest = dest.trim();
    if dest.is_empty() || dest.starts_with("//") || has_scheme(dest) {
        return Ok(false);
    }
    let (path, fragment) = match dest.split_once('#') {
        Some((p, f)) => (p, Some(percent_decode(f))),
        None => (dest, None),
    };
    let path = percent_decode(path.split_once('?').map_or(path, |(p, _)| p));
    let target = if path.is_empty() {
        from.to_string()
    } else {
        let target = resolve(from, &path).ok_or("outside the repository")?;
        if !worktree.join(&target).exists() {
            return Err("no such file".into());
        }
        target
    };
    let Some(fragment) = fragment.filter(|f| !f.is_empty()) else {
        return Ok(true);
    };
    if !is_markdown(&target) || !worktree.join(&target).is_file() {
        // Anchors into other files (`#L10` in source, say) are not ours to judge.
        return Ok(true);
    }
    let known = anchors.entry(target.clone()).or_insert_with(|| {
        read_worktree(worktree, &target)
            .ok()
            .flatten()
            .map(|bytes| parse_markdown(&String::from_utf8_lossy(&bytes)).anchors)
    });
    match known {
        Some(set) if !set.contains(&fragment) && !set.contains(&fragment.to_lowercase()) => {
            Err(format!("no heading #{fragment} in {target}"))
        }
        Some(_) | None => Ok(true),
    }
}

fn links(worktree: &Path, files: &[FileChange]) -> Outcome {
    let markdown: Vec<&str> = present(files)
        .map(|f| f.path.as_str())
        .filter(|p| is_markdown(p))
        .collect();
    if markdown.is_empty() {
        return Outcome::Skip("no Markdown file changed".into());
    }
    let mut anchors = AnchorCache::new();
    let mut problems = Vec::new();
    let mut followed = 0usize;
    for &path in &markdown {
        let Some(text) = read_changed(worktree, path, &mut problems) else {
            continue;
        };
        let doc = parse_markdown(&text);
        anchors.insert(path.to_string(), Some(doc.anchors));
        for (line, dest) in &doc.links {
            match check_link(worktree, path, dest, &mut anchors) {
                Ok(true) => followed += 1,
                Ok(false) => {}
                Err(why) => problems.push(format!("{path}:{line}: broken link `{dest}` ({why})")),
            }
        }
    }
    Outcome::from_problems(
        problems,
        format!(
            "{followed} relative link(s) in {} Markdown file(s) resolve",
            markdown.len()
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// versions

/// A pre-release identifier: numeric ones sort below alphanumeric ones (semver §11).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PreId {
    Num(u64),
    Alpha(String),
}

/// A version reduced to what semver precedence compares (build metadata dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    /// `1.2.3` → `[1, 2, 3]`; missing trailing components count as 0.
    core: Vec<u64>,
    /// `-rc.1` → `[rc, 1]`; empty for a release.
    pre: Vec<PreId>,
}

impl Version {
    /// Parses `1.2.3`, `v1.2`, `1.0.0-rc.1+build`, and PEP 440 pre-releases written as
    /// `1.0rc1` / `1.0.0a2`; `None` for anything else.
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text
            .strip_prefix(['v', 'V'])
            .unwrap_or(text)
            .split('+')
            .next()?;
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, Self::semver_pre(pre)?),
            None => match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
                Some(i) => {
                    let (core, pre) = text.split_at(i);
                    (
                        core.strip_suffix('.').unwrap_or(core),
                        Self::pep440_pre(pre)?,
                    )
                }
                None => (text, Vec::new()),
            },
        };
        let core = core
            .split('.')
            .map(|n| {
                (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| n.parse().ok())
                    .flatten()
            })
            .collect::<Option<Vec<u64>>>()?;
        Some(Self { core, pre })
    }

    fn semver_pre(pre: &str) -> Option<Vec<PreId>> {
        pre.split('.')
            .map(|id| {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    None
                } else if id.bytes().all(|b| b.is_ascii_digit()) {
                    id.parse().ok().map(PreId::Num)
                } else {
                    Some(PreId::Alpha(id.to_string()))
                }
            })
            .collect()
    }

    /// `rc1` → `[rc, 1]`, so `rc10` sorts above `rc9`. Only PEP 440's `a`, `b` and `rc`
    /// (and their spellings `alpha`, `beta`, `c`, `pre`, `preview`) are understood: `.devN`
    /// sorts below `a` and `.postN` above the release, which semver order cannot say.
    fn pep440_pre(pre: &str) -> Option<Vec<PreId>> {
        let digits = pre.find(|c: char| c.is_ascii_digit()).unwrap_or(pre.len());
        let (tag, num) = pre.split_at(digits);
        let tag = match tag.to_ascii_lowercase().as_str() {
            "a" | "alpha" => "a",
            "b" | "beta" => "b",
            "rc" | "c" | "pre" | "preview" => "rc",
            _ => return None,
        };
        let mut ids = vec![PreId::Alpha(tag.to_string())];
        if !num.is_empty() {
            ids.push(PreId::Num(num.parse().ok()?));
        }
        Some(ids)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.core.len().max(other.core.len());
        let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
        (0..len)
            .map(|i| at(&self.core, i).cmp(&at(&other.core, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A root file that declares the project's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Manifest {
    Cargo,
    PackageJson,
    Pyproject,
    VersionFile,
}

impl Manifest {
    /// In the order the project version is looked for.
    const ALL: [Manifest; 4] = [
        Self::Cargo,
        Self::PackageJson,
        Self::Pyproject,
        Self::VersionFile,
    ];

    fn file_name(self) -> &'static str {
        match self {
            Self::Cargo => "Cargo.toml",
            Self::PackageJson => "package.json",
            Self::Pyproject => "pyproject.toml",
            Self::VersionFile => "VERSION",
        }
    }

    /// The version `text` declares; `Ok(None)` when it declares none, `Err` when it does not
    /// parse or the version is not a string.
    fn declared_version(self, text: &str) -> Result<Option<String>, String> {
        let name = self.file_name();
        match self {
            Self::Cargo => {
                let doc = parse_toml_table(text).map_err(|e| e.located(name))?;
                let workspace = doc
                    .get("workspace")
                    .and_then(|w| w.get("package"))
                    .and_then(|p| p.get("version"));
                match doc.get("package").and_then(|p| p.get("version")) {
                    Some(toml::Value::String(v)) => Ok(Some(v.clone())),
                    Some(toml::Value::Table(t))
                        if t.get("workspace") == Some(&toml::Value::Boolean(true)) =>
                    {
                        match workspace {
                            Some(toml::Value::String(v)) => Ok(Some(v.clone())),
                            _ => Err(format!(
                                "{name}: `version.workspace = true` but [workspace.package] has \
                                 no version"
                            )),
                        }
                    }
                    Some(_) => Err(format!("{name}: [package] version is not a string")),
                    None => match workspace {
                        Some(toml::Value::String(v)) => Ok(Some(v.clone())),
                        Some(_) => Err(format!(
                            "{name}: [workspace.package] version is not a string"
                        )),
                        None => Ok(None),
                    },
                }
            }
            Self::PackageJson => {
                let doc = parse_json(text).map_err(|e| e.located(name))?;
                match doc.get("version") {
                    Some(serde_json::Value::String(v)) => Ok(Some(v.clone())),
                    Some(_) => Err(format!("{name}: `version` is not a string")),
                    None => Ok(None),
                }
            }
            Self::Pyproject => {
                let doc = parse_toml_table(text).map_err(|e| e.located(name))?;
                let project = doc.get("project").and_then(|p| p.get("version"));
                let poetry = doc
                    .get("tool")
                    .and_then(|t| t.get("poetry"))
                    .and_then(|p| p.get("version"));
                match project.or(poetry) {
                    Some(toml::Value::String(v)) => Ok(Some(v.clone())),
                    Some(_) => Err(format!("{name}: the version is not a string")),
                    None => Ok(None),
                }
            }
            Self::VersionFile => Ok(text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)),
        }
    }

    /// The version declared at head (the worktree); `Ok(None)` when the file is absent or
    /// declares none.
    fn head_version(self, worktree: &Path) -> Result<Option<String>, String> {
        match read_worktree(worktree, self.file_name())? {
            Some(bytes) => self.declared_version(&String::from_utf8_lossy(&bytes)),
            None => Ok(None),
        }
    }

    /// The version declared at the base commit.
    fn base_version(self, repo_root: &Path, base: &str) -> Result<Option<String>, String> {
        match read_base(repo_root, base, self.file_name())? {
            Some(bytes) => self
                .declared_version(&String::from_utf8_lossy(&bytes))
                .map_err(|e| format!("at the base commit, {e}")),
            None => Ok(None),
        }
    }
}

/// Why a data file does not parse, and where (1-based line and column) when known.
#[derive(Debug)]
struct ParseError {
    at: Option<(usize, usize)>,
    message: String,
}

impl ParseError {
    /// `path:line:col: message`, or `path: message` when the place is unknown.
    fn located(&self, path: &str) -> String {
        match self.at {
            Some((line, col)) => format!("{path}:{line}:{col}: {}", self.message),
            None => format!("{path}: {}", self.message),
        }
    }
}

/// `text` as JSON.
fn parse_json(text: &str) -> Result<serde_json::Value, ParseError> {
    serde_json::from_str(text).map_err(|e| ParseError {
        at: Some((e.line(), e.column())),
        message: json_message(&e),
    })
}

/// `text` as a TOML table.
fn parse_toml_table(text: &str) -> Result<toml::Table, ParseError> {
    toml::from_str::<toml::Table>(text).map_err(|e| ParseError {
        at: e.span().map(|span| line_col(text, span.start)),
        message: e.message().trim().to_string(),
    })
}

/// serde_json's message without its ` at line L column C` tail.
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let tail = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&tail).unwrap_or(&full).to_string()
}

fn version_bump(worktree: &Path, repo_root: &Path, base: &str) -> Outcome {
    let mut without = Vec::new();
    for manifest in Manifest::ALL {
        let name = manifest.file_name();
        let head = match manifest.head_version(worktree) {
            Ok(Some(v)) => v,
            Ok(None) => {
                if worktree.join(name).is_file() {
                    without.push(format!("{name} declares no version"));
                }
                continue;
            }
            Err(e) => return Outcome::Fail(e.clone(), vec![e]),
        };
        let old = match manifest.base_version(repo_root, base) {
            Ok(Some(v)) => v,
            Ok(None) => return Outcome::Pass(format!("version {head} is new ({name})")),
            Err(e) => return Outcome::Fail(e.clone(), vec![e]),
        };
        let problem = match (Version::parse(&old), Version::parse(&head)) {
            (_, None) => format!("version `{head}` in {name} is not a semantic version"),
            (None, Some(_)) => {
                format!("version `{old}` in {name} at the base commit is not a semantic version")
            }
            (Some(a), Some(b)) => match a.cmp(&b) {
                Ordering::Less => return Outcome::Pass(format!("version {old} → {head} ({name})")),
                Ordering::Equal if old == head => format!("version {head} unchanged ({name})"),
                Ordering::Equal => format!("version {old} → {head} does not increase ({name})"),
                Ordering::Greater => format!("version lowered {old} → {head} ({name})"),
            },
        };
        return Outcome::Fail(problem.clone(), vec![problem]);
    }
    let looked: Vec<&str> = Manifest::ALL.iter().map(|m| m.file_name()).collect();
    let summary = format!("no version found (looked in {})", looked.join(", "));
    let mut problems = vec![summary.clone()];
    problems.extend(without);
    Outcome::Fail(summary, problems)
}

// ---------------------------------------------------------------------------------------------
// changelog

/// Changelog names at the root, matched case-insensitively.
const CHANGELOG_NAMES: &[&str] = &[
    "CHANGELOG.md",
    "CHANGELOG",
    "CHANGES.md",
    "HISTORY.md",
    "NEWS.md",
    "CHANGELOG.rst",
    "CHANGES.rst",
];

fn is_changelog(path: &str) -> bool {
    !path.contains('/') && CHANGELOG_NAMES.iter().any(|n| n.eq_ignore_ascii_case(path))
}

/// Lines of `head` that `base` does not have (a multiset difference: a line moved within the
/// file is not added; one repeated more often is).
fn added_lines<'t>(base: &str, head: &'t str) -> Vec<&'t str> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for line in base.lines() {
        *counts.entry(line.trim_end()).or_insert(0) += 1;
    }
    head.lines()
        .map(str::trim_end)
        .filter(|line| match counts.get_mut(line) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            Some(_) | None => true,
        })
        .collect()
}

/// Whether `text` names `version` as a whole token (`0.4.0` in `## [0.4.0]` or `v0.4.0`,
/// not in `10.4.0` or `0.4.0-rc1`).
fn mentions_version(text: &str, version: &str) -> bool {
    let version = version.trim();
    let version = version.strip_prefix(['v', 'V']).unwrap_or(version);
    if version.is_empty() {
        return false;
    }
    text.match_indices(version).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let mut after = text[i + version.len()..].chars();
        let next = after.next();
        let before_ok = match before {
            None => true,
            Some('v' | 'V') => true,
            Some(c) => !(c.is_alphanumeric() || c == '.' || c == '-'),
        };
        let after_ok = match next {
            None => true,
            Some('.' | '-') => !after.next().is_some_and(char::is_alphanumeric),
            Some(c) => !c.is_alphanumeric(),
        };
        before_ok && after_ok
    })
}

/// Versions a manifest declares at head that differ from the base (head versions only).
fn new_versions(worktree: &Path, repo_root: &Path, base: &str) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for m in Manifest::ALL {
        // Unreadable or unparsable manifests are `version_bump`'s to report.
        let Ok(Some(head)) = m.head_version(worktree) else {
            continue;
        };
        let old = m.base_version(repo_root, base).ok().flatten();
        if old.as_deref().map(str::trim) != Some(head.trim())
            && !out.iter().any(|(v, _)| *v == head)
        {
            out.push((head, m.file_name()));
        }
    }
    out
}

fn changelog(worktree: &Path, repo_root: &Path, base: &str, files: &[FileChange]) -> Outcome {
    let changed: Vec<&FileChange> = present(files).filter(|f| is_changelog(&f.path)).collect();
    if changed.is_empty() {
        let s = format!(
            "no changelog updated (looked for {} at the root)",
            CHANGELOG_NAMES.join(", ")
        );
        return Outcome::Fail(s.clone(), vec![s]);
    }
    let versions = new_versions(worktree, repo_root, base);
    let mut problems = Vec::new();
    for f in changed {
        let path = f.path.as_str();
        let Some(head) = read_changed(worktree, path, &mut problems) else {
            continue;
        };
        let old_path = f.old_path.as_deref().unwrap_or(path);
        let old = match f.status {
            ChangeStatus::Added => String::new(),
            ChangeStatus::Modified | ChangeStatus::Renamed | ChangeStatus::Deleted => {
                match read_base(repo_root, base, old_path) {
                    Ok(bytes) => String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned(),
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                }
            }
        };
        let added: Vec<&str> = added_lines(&old, &head)
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect();
        if added.is_empty() {
            problems.push(format!("{path} changed but gains no text"));
            continue;
        }
        let text = added.join("\n");
        let missing: Vec<&(String, &str)> = versions
            .iter()
            .filter(|(v, _)| !mentions_version(&text, v))
            .collect();
        if missing.is_empty() {
            let named = versions
                .iter()
                .map(|(v, _)| v.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let summary = if named.is_empty() {
                format!("{path} gains {} line(s)", added.len())
            } else {
                format!(
                    "{path} gains {} line(s), with an entry for {named}",
                    added.len()
                )
            };
            // One good changelog is enough.
            return Outcome::Pass(summary);
        }
        for (v, manifest) in missing {
            problems.push(format!(
                "{path} has no entry for {v} (the new version in {manifest})"
            ));
        }
    }
    Outcome::from_problems(problems, String::new())
}

// ---------------------------------------------------------------------------------------------
// parses

/// A data format `parses` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataFormat {
    Json,
    Toml,
    Yaml,
}

fn data_format(path: &str) -> Option<DataFormat> {
    match extension(path)?.as_str() {
        "json" => Some(DataFormat::Json),
        "toml" => Some(DataFormat::Toml),
        "yaml" | "yml" => Some(DataFormat::Yaml),
        _ => None,
    }
}

/// JSON files whose tools accept comments and trailing commas (JSONC).
fn is_jsonc(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    (name.starts_with("tsconfig") || name.starts_with("jsconfig"))
        || name == "devcontainer.json"
        || name == ".devcontainer.json"
        || path
            .split('/')
            .any(|c| c == ".vscode" || c == ".devcontainer")
}

/// JSONC made JSON: comments, then trailing commas, become spaces, so lines and columns stay.
fn strip_jsonc(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    blank_json_comments(&mut chars);
    blank_trailing_commas(&mut chars);
    chars.into_iter().collect()
}

/// Whether `chars[i]` opens or closes a string, tracking `in_string`; skips escapes.
fn step_string(chars: &[char], i: &mut usize, in_string: &mut bool) -> bool {
    match chars[*i] {
        '\\' if *in_string => {
            *i += 2;
            true
        }
        '"' => {
            *in_string = !*in_string;
            *i += 1;
            true
        }
        _ if *in_string => {
            *i += 1;
            true
        }
        _ => false,
    }
}

fn blank_json_comments(chars: &mut [char]) {
    let (mut i, mut in_string) = (0, false);
    while i < chars.len() {
        if step_string(chars, &mut i, &mut in_string) {
            continue;
        }
        let end = match (chars[i], chars.get(i + 1)) {
            ('/', Some('/')) => chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |n| i + n),
            ('/', Some('*')) => chars[i + 2..]
                .windows(2)
                .position(|w| w == ['*', '/'])
                .map_or(chars.len(), |n| i + 2 + n + 2),
            _ => {
                i += 1;
                continue;
            }
        };
        for c in &mut chars[i..end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = end;
    }
}

fn blank_trailing_commas(chars: &mut [char]) {
    let (mut i, mut in_string) = (0, false);
    while i < chars.len() {
        if step_string(chars, &mut i, &mut in_string) {
            continue;
        }
        if chars[i] == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}' | ']')) {
                chars[i] = ' ';
            }
        }
        i += 1;
    }
}

/// A Helm chart template (`chart/templates/x.yaml` next to `chart/Chart.yaml`): Go template
/// text, not YAML.
fn is_helm_template(worktree: &Path, path: &str) -> bool {
    Path::new(path).ancestors().skip(1).any(|dir| {
        dir.file_name().is_some_and(|n| n == "templates")
            && dir
                .parent()
                .is_some_and(|chart| worktree.join(chart).join("Chart.yaml").is_file())
    })
}

/// Parses `text` as `format` (every document, for YAML).
fn parse_data(format: DataFormat, path: &str, text: &str) -> Result<(), ParseError> {
    match format {
        DataFormat::Json => {
            let text = if is_jsonc(path) {
                strip_jsonc(text)
            } else {
                text.to_string()
            };
            parse_json(&text).map(drop)
        }
        DataFormat::Toml => parse_toml_table(text).map(drop),
        DataFormat::Yaml => yaml_rust2::YamlLoader::load_from_str(text)
            .map(drop)
            .map_err(|e| ParseError {
                // The marker's column counts from 0 (its Display adds 1), its line from 1.
                at: Some((e.marker().line(), e.marker().col() + 1)),
                message: e.info().to_string(),
            }),
    }
}

fn parses(worktree: &Path, files: &[FileChange]) -> Outcome {
    let data: Vec<(&str, DataFormat)> = present(files)
        .filter_map(|f| data_format(&f.path).map(|fmt| (f.path.as_str(), fmt)))
        .collect();
    if data.is_empty() {
        return Outcome::Skip("no JSON, TOML or YAML file changed".into());
    }
    let mut problems = Vec::new();
    let mut checked = 0usize;
    let mut templates = 0usize;
    for (path, format) in data {
        if format == DataFormat::Yaml && is_helm_template(worktree, path) {
            templates += 1;
            continue;
        }
        let text = match read_worktree(worktree, path) {
            Ok(Some(bytes)) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => {
                    problems.push(format!("{path}: not UTF-8 text"));
                    continue;
                }
            },
            Ok(None) => {
                problems.push(format!("{path} is missing from the worktree"));
                continue;
            }
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        checked += 1;
        if let Err(e) = parse_data(format, path, &text) {
            problems.push(e.located(path));
        }
    }
    let mut summary = format!("{checked} changed data file(s) parse");
    if templates > 0 {
        summary.push_str(&format!(" ({templates} Helm template(s) not checked)"));
    }
    Outcome::from_problems(problems, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, Task, TaskId, TaskType};
    use tokio_util::sync::CancellationToken;

    fn task() -> Task {
        Task {
            id: TaskId("t-dod001".into()),
            title: "Release".into(),
            description: String::new(),
            body: String::new(),
            priority: Priority::Medium,
            priority_rule: "default".into(),
            task_type: TaskType::Release,
            type_rule: "default".into(),
            done: false,
            section: Vec::<String>::new().into(),
            file: "TODO.md".into(),
            line: 1,
            subtasks: Vec::new(),
            refs: Vec::new(),
            depends_on: Vec::new(),
        }
    }

    /// A real repository: a base commit, then a head made of the changes written after it.
    struct Fixture {
        dir: tempfile::TempDir,
        base: String,
    }

    impl Fixture {
        fn new(files: &[(&str, &str)]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            git2::Repository::init(dir.path()).unwrap();
            let fx = Self {
                dir,
                base: String::new(),
            };
            fx.write(files);
            let base = crate::git::commit_all(fx.root(), "base", &[])
                .unwrap()
                .unwrap();
            Self { base, ..fx }
        }

        fn root(&self) -> &Path {
            self.dir.path()
        }

        fn write(&self, files: &[(&str, &str)]) -> &Self {
            for (path, text) in files {
                let file = self.root().join(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, text).unwrap();
            }
            self
        }

        fn remove(&self, path: &str) -> &Self {
            std::fs::remove_file(self.root().join(path)).unwrap();
            self
        }

        /// Commits the working directory as head and runs `check` with the default docs paths.
        async fn run(&self, check: Check) -> GateResult {
            self.run_gate(&DodGate::new(check, &[]).unwrap()).await
        }

        async fn run_gate(&self, gate: &DodGate) -> GateResult {
            let head = crate::git::commit_all(self.root(), "head", &[])
                .unwrap()
                .expect("the test changed something after the base commit");
            let diff = crate::git::diff(self.root(), &self.base, &head).unwrap();
            let task = task();
            let cx = GateContext {
                task: &task,
                worktree: self.root(),
                repo_root: self.root(),
                base: &self.base,
                cache_dir: self.root(),
                base_dir: self.root(),
                diff: &diff,
                env: &[],
                log_path: &self.root().join("run.log"),
                max_log_bytes: 1 << 20,
                cancel: &CancellationToken::new(),
                earlier: &[],
                annotations: &[],
                chat: None,
                meter: None,
                on_start: &|_| {},
                sandbox: &crate::executors::sandbox::Sandbox::default(),
                min_free_mb: 0,
            };
            gate.run(&cx).await
        }
    }

    fn lines(r: &GateResult) -> Vec<&str> {
        r.details.lines().collect()
    }

    #[test]
    fn checks_round_trip_their_names() {
        for c in Check::ALL {
            assert_eq!(Check::from_name(c.name()), Some(c));
            assert!(!c.describe().is_empty());
        }
        assert_eq!(Check::from_name(" Version_Bump "), Some(Check::VersionBump));
        assert_eq!(Check::from_name("docs-only"), None);
        let err = DodGate::new(Check::DocsOnly, &["docs/[".into()])
            .err()
            .unwrap();
        assert!(
            err.starts_with("docs path `docs/[` is not a valid glob"),
            "{err}"
        );
    }

    // -- docs_only ------------------------------------------------------------------------

    #[tokio::test]
    async fn docs_only_passes_documentation_and_names_code() {
        let files = [("README.md", "# x\n"), ("src/lib.rs", "fn a() {}\n")];
        let fx = Fixture::new(&files);
        fx.write(&[
            ("README.md", "# x\n\nMore.\n"),
            ("docs/guide.rst", "Guide\n"),
            ("LICENSE", "MIT\n"),
        ]);
        let r = fx.run(Check::DocsOnly).await;
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.details);
        assert_eq!(r.summary, "3 file(s) changed, all documentation");
        assert_eq!(
            (r.name.as_str(), r.score, r.required),
            ("docs_only", 1.0, true)
        );

        let fx = Fixture::new(&files);
        fx.write(&[
            ("README.md", "# y\n"),
            ("src/lib.rs", "fn b() {}\n"),
            ("build.rs", "fn main() {}\n"),
        ]);
        let r = fx.run(Check::DocsOnly).await;
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.score, 0.0);
        assert_eq!(r.summary, "edits code: build.rs, src/lib.rs");
        assert_eq!(
            lines(&r),
            [
                "build.rs is not documentation",
                "src/lib.rs is not documentation"
            ]
        );
    }

    #[tokio::test]
    async fn docs_only_checks_both_sides_of_a_rename_and_custom_paths() {
        let notes = "Long notes that stay the same while the file moves.\n".repeat(5);
        let fx = Fixture::new(&[("src/notes.txt", &notes), ("x.md", "x\n")]);
        fx.remove("src/notes.txt")
            .write(&[("docs/notes.txt", &notes)]);
        let r = fx.run(Check::DocsOnly).await;
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(lines(&r), ["src/notes.txt is not documentation"]);

        let fx = Fixture::new(&[("README.md", "x\n")]);
        fx.write(&[("README.md", "y\n"), ("site/index.html", "<p>\n")]);
        let gate = DodGate::new(Check::DocsOnly, &["site/**".into()]).unwrap();
        let r = fx.run_gate(&gate).await;
        assert_eq!(r.summary, "edits code: README.md");
    }

    #[test]
    fn docs_only_counts_the_old_side_of_a_rename() {
        let gate = DodGate::new(Check::DocsOnly, &[]).unwrap();
        let moved = FileChange {
            path: "docs/design.md".into(),
            old_path: Some("src/design.rs".into()),
            status: ChangeStatus::Renamed,
            binary: false,
            insertions: 0,
            deletions: 0,
        };
        let Outcome::Fail(summary, problems) = docs_only(&[moved], &gate.docs) else {
            panic!("moving code into docs/ is not a docs-only change");
        };
        assert_eq!(summary, "edits code: src/design.rs");
        assert_eq!(problems, ["src/design.rs is not documentation"]);
        assert!(matches!(docs_only(&[], &gate.docs), Outcome::Skip(_)));
    }

    // -- links ----------------------------------------------------------------------------

    const OTHER: &str = "\
# Установка

## Usage

## Usage

## API `v2`!

<a name=\"legacy\"></a>
";

    fn link_fixture() -> Fixture {
        Fixture::new(&[
            ("README.md", "# Intro\n"),
            ("img.png", "png"),
            ("docs/other.md", OTHER),
            ("docs/my file.md", "# Spaced\n"),
            ("src/lib.rs", "fn a() {}\n"),
        ])
    }

    #[tokio::test]
    async fn links_that_resolve_pass() {
        let fx = link_fixture();
        let guide = "\
# Guide

See [other](other.md), [Cyrillic](other.md#установка), [encoded](other.md#%D1%83%D1%81%D1%82%D0%B0%D0%BD%D0%BE%D0%B2%D0%BA%D0%B0),
[second usage](other.md#usage-1), [code heading](other.md#api-v2), [html](other.md#legacy),
[self](#guide), [root](/README.md), [query](other.md?plain=1#usage), [space](my%20file.md),
[dir](../src), and ![image](../img.png).

Not followed: [web](https://example.com/missing.md), [mail](mailto:a@b.c), <https://x.y/z>, <a@b.c>,
[proto](//cdn.example.com/x.js), `[span](nope.md)`.

```
[block](nope.md)
```
";
        fx.write(&[("docs/guide.md", guide)]);
        let r = fx.run(Check::Links).await;
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.details);
        assert_eq!(
            r.summary,
            "12 relative link(s) in 1 Markdown file(s) resolve"
        );
    }

    #[tokio::test]
    async fn broken_links_are_reported_with_their_line() {
        let fx = link_fixture();
        let guide = "\
# Guide

[missing](nope.md) and [third usage](other.md#usage-2)
[anchor](other.md#nowhere)
[self](#nowhere)
[escape](../../outside.md)
![picture](pics/none.png)
[ref][r]

[r]: ./missing-ref.md
";
        fx.write(&[("docs/guide.md", guide)]);
        let r = fx.run(Check::Links).await;
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(
            lines(&r),
            [
                "docs/guide.md:3: broken link `nope.md` (no such file)",
                "docs/guide.md:3: broken link `other.md#usage-2` (no heading #usage-2 in docs/other.md)",
                "docs/guide.md:4: broken link `other.md#nowhere` (no heading #nowhere in docs/other.md)",
                "docs/guide.md:5: broken link `#nowhere` (no heading #nowhere in docs/guide.md)",
                "docs/guide.md:6: broken link `../../outside.md` (outside the repository)",
                "docs/guide.md:7: broken link `pics/none.png` (no such file)",
                "docs/guide.md:8: broken link `./missing-ref.md` (no such file)",
            ]
        );
        assert_eq!(
            r.summary,
            "docs/guide.md:3: broken link `nope.md` (no such file) (+6 more)"
        );
    }

    #[tokio::test]
    async fn links_skip_without_changed_markdown() {
        let fx = link_fixture();
        fx.write(&[("src/lib.rs", "fn b() {}\n")])
            .remove("docs/other.md");
        let r = fx.run(Check::Links).await;
        assert_eq!(r.verdict, Verdict::Skip);
        assert_eq!(r.summary, "no Markdown file changed");
    }

    #[test]
    fn slugs_follow_github() {
        let mut s = Slugger::default();
        assert_eq!(s.slug("API `v2`!"), "api-v2");
        assert_eq!(s.slug("Установка и Настройка"), "установка-и-настройка");
        assert_eq!(s.slug("🚀 Launch"), "-launch");
        assert_eq!(s.slug("Foo_Bar-baz (old)"), "foo_bar-baz-old");
        assert_eq!(s.slug("Usage"), "usage");
        assert_eq!(s.slug("Usage"), "usage-1");
        assert_eq!(s.slug("Usage"), "usage-2");
        assert_eq!(resolve("docs/a.md", "../b/./c.md"), Some("b/c.md".into()));
        assert_eq!(resolve("docs/a.md", "/x.md"), Some("x.md".into()));
        assert_eq!(resolve("a.md", "../x.md"), None);
        assert_eq!(percent_decode("a%20b%zz%"), "a b%zz%");
    }

    // -- version_bump ---------------------------------------------------------------------

    fn cargo_workspace(version: &str) -> String {
        format!(
            "[workspace]\nmembers = []\n\n[workspace.package]\nversion = \"{version}\"\n\n\
             [package]\nname = \"x\"\nversion.workspace = true\n"
        )
    }

    async fn bump(file: &str, old: &str, new: &str) -> GateResult {
        let fx = Fixture::new(&[(file, old)]);
        fx.write(&[(file, new)]);
        fx.run(Check::VersionBump).await
    }

    #[tokio::test]
    async fn version_bump_reads_each_manifest_kind() {
        let r = bump(
            "Cargo.toml",
            &cargo_workspace("0.3.1"),
            &cargo_workspace("0.4.0"),
        )
        .await;
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.details);
        assert_eq!(r.summary, "version 0.3.1 → 0.4.0 (Cargo.toml)");

        let pkg = |v: &str| format!("{{\n  \"name\": \"x\",\n  \"version\": \"{v}\"\n}}\n");
        let r = bump("package.json", &pkg("1.2.3"), &pkg("1.10.0")).await;
        assert_eq!(r.summary, "version 1.2.3 → 1.10.0 (package.json)");
        assert_eq!(r.verdict, Verdict::Pass);

        let poetry = |v: &str| format!("[tool.poetry]\nname = \"x\"\nversion = \"{v}\"\n");
        let r = bump("pyproject.toml", &poetry("1.0rc1"), &poetry("1.0")).await;
        assert_eq!(r.summary, "version 1.0rc1 → 1.0 (pyproject.toml)");
        assert_eq!(r.verdict, Verdict::Pass);

        // A Cargo.toml without a version defers to the next manifest.
        let fx = Fixture::new(&[("Cargo.toml", "[workspace]\n"), ("VERSION", "v2.0.0\n")]);
        fx.write(&[("VERSION", "v2.0.1\n")]);
        let r = fx.run(Check::VersionBump).await;
        assert_eq!(r.summary, "version v2.0.0 → v2.0.1 (VERSION)");

        let fx = Fixture::new(&[("README.md", "x\n")]);
        fx.write(&[("VERSION", "0.1.0\n")]);
        let r = fx.run(Check::VersionBump).await;
        assert_eq!(r.verdict, Verdict::Pass);
        assert_eq!(r.summary, "version 0.1.0 is new (VERSION)");
    }

    #[tokio::test]
    async fn version_bump_fails_unchanged_lowered_unparsable_or_missing() {
        let pkg = |v: &str| format!("{{\"version\": \"{v}\"}}");
        let r = bump("package.json", &pkg("1.2.3"), &format!("{} ", pkg("1.2.3"))).await;
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.summary, "version 1.2.3 unchanged (package.json)");

        let cargo = |v: &str| format!("[package]\nname = \"x\"\nversion = \"{v}\"\n");
        let r = bump("Cargo.toml", &cargo("0.4.0"), &cargo("0.3.9")).await;
        assert_eq!(r.summary, "version lowered 0.4.0 → 0.3.9 (Cargo.toml)");

        let r = bump("VERSION", "1.0.0\n", "1.0.0-rc.2\n").await;
        assert_eq!(r.summary, "version lowered 1.0.0 → 1.0.0-rc.2 (VERSION)");

        let r = bump("VERSION", "1.0.0\n", "banana\n").await;
        assert_eq!(
            r.summary,
            "version `banana` in VERSION is not a semantic version"
        );

        let r = bump("Cargo.toml", &cargo("0.1.0"), "[package\nname = 1\n").await;
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.summary.starts_with("Cargo.toml:1:"), "{}", r.summary);

        let r = bump("README.md", "a\n", "b\n").await;
        assert_eq!(
            r.summary,
            "no version found (looked in Cargo.toml, package.json, pyproject.toml, VERSION)"
        );
    }

    #[test]
    fn versions_order_by_semver_precedence() {
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1",
            "1.10.0",
            "2.0.0a1",
            "2.0.0b1",
            "2.0.0rc9",
            "2.0.0rc10",
            "v2.0.0",
        ];
        let parsed: Vec<Version> = chain.iter().map(|v| Version::parse(v).unwrap()).collect();
        for (pair, names) in parsed.windows(2).zip(chain.windows(2)) {
            assert!(pair[0] < pair[1], "{} < {}", names[0], names[1]);
        }
        let eq = |a: &str, b: &str| Version::parse(a).unwrap().cmp(&Version::parse(b).unwrap());
        assert_eq!(eq("1.2", "1.2.0"), Ordering::Equal);
        assert_eq!(eq("1.2.0+build.5", "1.2.0"), Ordering::Equal);
        for bad in [
            "",
            "x",
            "1..2",
            "1.0.0-",
            "1.0.post1",
            "1.0.dev1",
            "1.0-rc!",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    // -- changelog ------------------------------------------------------------------------

    const CHANGES: &str = "# Changelog\n\n## 0.3.1\n\n- Older fix.\n";

    fn cargo(v: &str) -> String {
        format!("[package]\nname = \"x\"\nversion = \"{v}\"\n")
    }

    #[tokio::test]
    async fn changelog_needs_an_entry_for_the_new_version() {
        let base = [
            ("Cargo.toml", cargo("0.3.1")),
            ("CHANGELOG.md", CHANGES.into()),
        ];
        let base: Vec<(&str, &str)> = base.iter().map(|(p, t)| (*p, t.as_str())).collect();

        let fx = Fixture::new(&base);
        let entry =
            "# Changelog\n\n## [v0.4.0] - 2025-01-01\n\n- New thing.\n\n## 0.3.1\n\n- Older fix.\n";
        fx.write(&[("Cargo.toml", &cargo("0.4.0")), ("CHANGELOG.md", entry)]);
        let r = fx.run(Check::Changelog).await;
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.details);
        assert_eq!(
            r.summary,
            "CHANGELOG.md gains 2 line(s), with an entry for 0.4.0"
        );

        let fx = Fixture::new(&base);
        let vague =
            "# Changelog\n\n- New thing in 10.4.0 and 0.4.0-rc1.\n\n## 0.3.1\n\n- Older fix.\n";
        fx.write(&[("Cargo.toml", &cargo("0.4.0")), ("CHANGELOG.md", vague)]);
        let r = fx.run(Check::Changelog).await;
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(
            r.summary,
            "CHANGELOG.md has no entry for 0.4.0 (the new version in Cargo.toml)"
        );

        // No version change: any added text will do.
        let fx = Fixture::new(&base);
        fx.write(&[("CHANGELOG.md", &format!("{CHANGES}- Typo fixed.\n"))]);
        let r = fx.run(Check::Changelog).await;
        assert_eq!(r.summary, "CHANGELOG.md gains 1 line(s)");
    }

    #[tokio::test]
    async fn changelog_fails_when_missing_or_blank() {
        let fx = Fixture::new(&[("src/lib.rs", "fn a() {}\n"), ("changes.md", CHANGES)]);
        fx.write(&[("src/lib.rs", "fn b() {}\n")]);
        let r = fx.run(Check::Changelog).await;
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(
            r.summary
                .starts_with("no changelog updated (looked for CHANGELOG.md"),
            "{}",
            r.summary
        );

        // Case-insensitive name; reordering and blank lines add nothing.
        let fx = Fixture::new(&[("changes.md", CHANGES)]);
        fx.write(&[(
            "changes.md",
            "# Changelog\n\n\n## 0.3.1\n\n- Older fix.\n   \n",
        )]);
        let r = fx.run(Check::Changelog).await;
        assert_eq!(r.summary, "changes.md changed but gains no text");

        // A changelog in a subdirectory is not the project's.
        let fx = Fixture::new(&[("README.md", "x\n")]);
        fx.write(&[("docs/CHANGELOG.md", "## 1.0.0\n")]);
        let r = fx.run(Check::Changelog).await;
        assert!(
            r.summary.starts_with("no changelog updated"),
            "{}",
            r.summary
        );
    }

    #[test]
    fn versions_are_mentioned_as_whole_tokens() {
        assert!(mentions_version("## [0.4.0] - 2025", "0.4.0"));
        assert!(mentions_version("Released v0.4.0.", "0.4.0"));
        assert!(mentions_version("## 0.4.0", "v0.4.0"));
        assert!(!mentions_version("## 10.4.0", "0.4.0"));
        assert!(!mentions_version("## 0.4.0-rc1", "0.4.0"));
        assert!(!mentions_version("## 0.4.0.1", "0.4.0"));
        assert_eq!(added_lines("a\nb\na\n", "b\na\na\na\nc\n"), ["a", "c"]);
    }

    // -- parses ---------------------------------------------------------------------------

    #[tokio::test]
    async fn parses_accepts_valid_data_files() {
        let fx = Fixture::new(&[("bad.yaml", "a: [1\n"), ("README.md", "x\n")]);
        fx.remove("bad.yaml").write(&[
            ("config/app.json", "{\"a\": [1, 2]}\n"),
            ("Cargo.toml", "[package]\nname = \"x\"\n"),
            ("ci.yml", "a: 1\n---\nb: [2, 3]\n"),
            (
                "tsconfig.json",
                "{\n  // comment, with \"quotes\"\n  \"a\": \"// not a comment\", /* x */\n}\n",
            ),
            ("chart/Chart.yaml", "name: x\n"),
            (
                "chart/templates/deploy.yaml",
                "{{- if .Values.x }}\na: {{ .Values.x }}\n",
            ),
        ]);
        let r = fx.run(Check::Parses).await;
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.details);
        assert_eq!(
            r.summary,
            "5 changed data file(s) parse (1 Helm template(s) not checked)"
        );
    }

    #[tokio::test]
    async fn parses_reports_where_each_file_breaks() {
        let fx = Fixture::new(&[("README.md", "x\n")]);
        fx.write(&[
            ("a.json", "{\n  \"a\": 1,\n}\n"),
            ("b.toml", "[x]\ny = \n"),
            ("c.yaml", "a: 1\nb: [1, 2\nc: 3\n"),
            ("d.yml", "a: 1\n---\nb: : :\n  - x\n"),
        ]);
        let r = fx.run(Check::Parses).await;
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(
            lines(&r),
            [
                "a.json:3:1: trailing comma",
                "b.toml:2:5: string values must be quoted, expected literal string",
                "c.yaml:3:2: illegal placement of ':' indicator",
                "d.yml:3:4: mapping values are not allowed in this context",
            ]
        );
        assert_eq!(r.summary, "a.json:3:1: trailing comma (+3 more)");

        let fx = Fixture::new(&[("README.md", "x\n")]);
        fx.write(&[("README.md", "y\n")]);
        let r = fx.run(Check::Parses).await;
        assert_eq!(r.verdict, Verdict::Skip);
    }

    #[tokio::test]
    async fn read_file_at_reads_the_base_commit() {
        let fx = Fixture::new(&[("docs/a.md", "old\n")]);
        let root = fx.root();
        fx.write(&[("docs/a.md", "new\n")]);
        let head = crate::git::commit_all(root, "head", &[]).unwrap().unwrap();
        let at = |rev: &str, p: &str| crate::git::read_file_at(root, rev, Path::new(p));
        assert_eq!(
            at(&fx.base, "docs/a.md").unwrap().as_deref(),
            Some(&b"old\n"[..])
        );
        assert_eq!(
            at(&head, "docs/a.md").unwrap().as_deref(),
            Some(&b"new\n"[..])
        );
        assert_eq!(at(&fx.base, "docs/b.md").unwrap(), None);
        assert_eq!(at(&fx.base, "docs").unwrap(), None);
        assert!(at("0000000000000000000000000000000000000000", "docs/a.md").is_err());
        assert!(at(&fx.base, "../x").is_err());
    }
}
