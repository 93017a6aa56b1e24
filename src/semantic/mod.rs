//! Semantic analysis of a change: what it does to the code's structure (definitions added,
//! removed or modified; public API changes; new syntax errors) and where the risk is (secrets,
//! unsafe code, dependency and CI changes, weakened tests, …), as [`Annotation`]s on files and
//! lines that the review view, the `syntax` and `semantic` gates, the risk card and the
//! approval policy read.
//!
//! - [`structure`]: tree-sitter parsing of both sides of each changed file (Rust, Python,
//!   JavaScript, TypeScript/TSX, Go).
//! - [`rules`]: risk rules, pure functions over the diff and the two versions of a file.

pub mod rules;
pub mod structure;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::diff::{Diff, FileDiff};
use crate::model::{Annotation, Task};

/// The two versions of the files a change touches.
pub trait Sources: Sync {
    /// The file at `path` before the change; None when it did not exist (or is not text).
    fn base(&self, path: &str) -> Option<String>;
    /// The file at `path` after the change; None when it does not exist (or is not text).
    fn head(&self, path: &str) -> Option<String>;
}

/// Sources held in memory: for tests, and for callers that already have both versions.
#[derive(Debug, Clone, Default)]
pub struct MapSources {
    /// Path → content before the change.
    pub base: HashMap<String, String>,
    /// Path → content after the change.
    pub head: HashMap<String, String>,
}

impl Sources for MapSources {
    fn base(&self, path: &str) -> Option<String> {
        self.base.get(path).cloned()
    }
    fn head(&self, path: &str) -> Option<String> {
        self.head.get(path).cloned()
    }
}

/// A run's sources: the base side from the repository's objects at the base commit, the head
/// side from the run's worktree (which holds the head commit).
#[derive(Debug, Clone)]
pub struct GitSources {
    /// The repository.
    pub repo_root: PathBuf,
    /// The base commit.
    pub base: String,
    /// The run's worktree.
    pub worktree: PathBuf,
}

impl Sources for GitSources {
    fn base(&self, path: &str) -> Option<String> {
        let bytes =
            crate::git::read_file_at(&self.repo_root, &self.base, Path::new(path)).ok()??;
        String::from_utf8(bytes).ok()
    }
    fn head(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.worktree.join(path)).ok()
    }
}

/// Annotations sorted for display: by path, then line, then kind.
pub fn sort(annotations: &mut [Annotation]) {
    annotations
        .sort_by(|a, b| (a.path.as_str(), a.line, a.kind).cmp(&(b.path.as_str(), b.line, b.kind)));
}

/// Everything the analysis says about one changed file: its structure (definitions, API,
/// syntax errors) and the per-file risk rules. Each side is read once.
pub fn analyze_file(file: &FileDiff, sources: &dyn Sources) -> Vec<Annotation> {
    let text = |path: Option<&str>, read: &dyn Fn(&str) -> Option<String>| {
        if file.binary {
            None
        } else {
            path.and_then(read)
        }
    };
    let base = text(file.old_path.as_deref(), &|p| sources.base(p));
    let head = text(file.new_path.as_deref(), &|p| sources.head(p));
    let mut out = structure::annotate_file(file, base.as_deref(), head.as_deref());
    out.extend(rules::file_rules(file, base.as_deref(), head.as_deref()));
    out
}

/// The whole analysis of a change, sorted by path and line: every file's, then the rules over
/// the whole change (size, scope).
pub fn analyze(
    diff: &Diff,
    sources: &dyn Sources,
    task: &Task,
    large_change_lines: usize,
) -> Vec<Annotation> {
    let mut out: Vec<Annotation> = diff
        .files
        .iter()
        .flat_map(|f| analyze_file(f, sources))
        .collect();
    out.extend(rules::change_rules(diff, task, large_change_lines));
    sort(&mut out);
    out
}
