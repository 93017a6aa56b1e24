//! A change as bosun reviews it: files, hunks and lines with their numbers (built from git
//! by the core's `diff` module), and how one hunk is named.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a file changed between two commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeStatus {
    /// The file is new.
    Added,
    /// The file's content (or mode, or type) changed.
    Modified,
    /// The file is gone.
    Deleted,
    /// The file moved (perhaps with changes); `old_path` says from where.
    Renamed,
}

/// Every file a change touches, in path order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// The files.
    pub files: Vec<FileDiff>,
}

/// One file's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileDiff {
    /// Path before the change (None for an added file).
    pub old_path: Option<String>,
    /// Path after the change (None for a deleted file).
    pub new_path: Option<String>,
    /// Added, modified, deleted or renamed.
    pub status: ChangeStatus,
    /// Git sees the file as binary: no hunks.
    pub binary: bool,
    /// File mode before and after, when it changed (e.g. 0o100644 → 0o100755).
    pub mode_change: Option<(u32, u32)>,
    /// The hunks, in order.
    pub hunks: Vec<Hunk>,
}

/// A run of changed lines with their context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hunk {
    /// First line of the hunk on the old side (1-based; 0 when the old side is empty).
    pub old_start: u32,
    /// Lines of the hunk on the old side.
    pub old_lines: u32,
    /// First line on the new side (1-based; 0 when the new side is empty).
    pub new_start: u32,
    /// Lines on the new side.
    pub new_lines: u32,
    /// The text after the second `@@` (git's guess at the enclosing function), trimmed.
    pub header: String,
    /// The lines.
    pub lines: Vec<Line>,
}

/// What a diff line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    /// Unchanged, shown for context.
    Context,
    /// Added on the new side.
    Added,
    /// Removed from the old side.
    Removed,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// Context, added or removed.
    pub kind: LineKind,
    /// Line number on the old side (context and removed lines).
    pub old_no: Option<u32>,
    /// Line number on the new side (context and added lines).
    pub new_no: Option<u32>,
    /// The text, without its line ending (a `\r` before the `\n` is kept: CRLF files show
    /// as such, and a change of line endings is a real change).
    pub text: String,
    /// The line has no newline at its end (the last line of a file that lacks one).
    pub no_newline: bool,
}

impl FileDiff {
    /// The path to show: the new one, or the old one for a deleted file.
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or_default()
    }

    /// Lines added.
    pub fn insertions(&self) -> usize {
        self.count(LineKind::Added)
    }

    /// Lines removed.
    pub fn deletions(&self) -> usize {
        self.count(LineKind::Removed)
    }

    fn count(&self, kind: LineKind) -> usize {
        self.hunks
            .iter()
            .flat_map(|h| &h.lines)
            .filter(|l| l.kind == kind)
            .count()
    }
}

impl Diff {
    /// Lines added, over all files.
    pub fn insertions(&self) -> usize {
        self.files.iter().map(FileDiff::insertions).sum()
    }

    /// Lines removed, over all files.
    pub fn deletions(&self) -> usize {
        self.files.iter().map(FileDiff::deletions).sum()
    }
}

/// One hunk of a run's change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HunkRef {
    /// The file: its new path, or its old one when it was deleted (as `FileDiff::path`).
    pub path: String,
    /// The hunk's index in the file, from 0 (0 also for a file without text hunks).
    pub hunk: usize,
}

impl HunkRef {
    /// Hunk `hunk` of `path`.
    pub fn new(path: impl Into<String>, hunk: usize) -> Self {
        Self {
            path: path.into(),
            hunk,
        }
    }
}

impl fmt::Display for HunkRef {
    /// `src/a.rs#2`: hunks are counted from 1 for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.path, self.hunk + 1)
    }
}
