//! What a run changed: the diff between two commits as patch text plus a per-file summary, as
//! `git diff --find-renames base head` would show it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{GitError, open};

pub use crate::model::ChangeStatus;

/// What git2's delta status means for a reviewer (a copy is a new file; a type change
/// is a modification).
pub(crate) fn status_of(delta: git2::Delta) -> ChangeStatus {
    match delta {
        git2::Delta::Added | git2::Delta::Copied | git2::Delta::Untracked => ChangeStatus::Added,
        git2::Delta::Deleted => ChangeStatus::Deleted,
        git2::Delta::Renamed => ChangeStatus::Renamed,
        git2::Delta::Modified
        | git2::Delta::Typechange
        | git2::Delta::Unmodified
        | git2::Delta::Ignored
        | git2::Delta::Unreadable
        | git2::Delta::Conflicted => ChangeStatus::Modified,
    }
}

/// One file in a [`DiffSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The file's path after the change (before it, for a deleted file).
    pub path: String,
    /// Where a renamed file came from.
    pub old_path: Option<String>,
    /// How it changed.
    pub status: ChangeStatus,
    /// Git sees the file as binary: no line counts, no hunks.
    pub binary: bool,
    /// Lines added.
    pub insertions: usize,
    /// Lines removed.
    pub deletions: usize,
}

/// Everything that changed between two commits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSummary {
    /// Unified diff text, as `git diff` prints it (binary files as "Binary files … differ").
    pub patch: String,
    /// The files, in path order.
    pub files: Vec<FileChange>,
    /// Lines added, over all files.
    pub insertions: usize,
    /// Lines removed, over all files.
    pub deletions: usize,
}

/// git2's diff from `base` to `head` (commit ids or branch names) as bosun reads every
/// change: three lines of context, the indent heuristic, renames detected. Both the stored
/// summary ([`diff`]) and the parsed model (`crate::diff::load`) start from it.
pub(crate) fn tree_diff<'r>(
    repo: &'r git2::Repository,
    base: &str,
    head: &str,
) -> Result<git2::Diff<'r>, GitError> {
    let old = repo.revparse_single(base)?.peel_to_tree()?;
    let new = repo.revparse_single(head)?.peel_to_tree()?;
    let mut opts = git2::DiffOptions::new();
    opts.context_lines(3).indent_heuristic(true);
    let mut diff = repo.diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))?;
    let mut find = git2::DiffFindOptions::new();
    find.renames(true);
    diff.find_similar(Some(&mut find))?;
    Ok(diff)
}

/// The diff from `base` to `head` (commit ids or branch names) with renames detected.
pub fn diff(repo_root: &Path, base: &str, head: &str) -> Result<DiffSummary, GitError> {
    let repo = open(repo_root)?;
    let diff = tree_diff(&repo, base, head)?;

    let mut summary = DiffSummary::default();
    for idx in 0..diff.deltas().len() {
        let Some(mut patch) = git2::Patch::from_diff(&diff, idx)? else {
            continue;
        };
        let delta = patch.delta();
        let status = status_of(delta.status());
        let name = |f: git2::DiffFile<'_>| {
            f.path_bytes()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        };
        let old_name = name(delta.old_file());
        let path = match status {
            ChangeStatus::Deleted => old_name.clone(),
            ChangeStatus::Added | ChangeStatus::Modified | ChangeStatus::Renamed => {
                name(delta.new_file()).or_else(|| old_name.clone())
            }
        }
        .unwrap_or_default();
        let binary = delta.flags().is_binary()
            || delta.old_file().is_binary()
            || delta.new_file().is_binary();
        let (_, insertions, deletions) = patch.line_stats()?;
        summary.files.push(FileChange {
            path,
            old_path: (status == ChangeStatus::Renamed)
                .then_some(old_name)
                .flatten(),
            status,
            binary,
            insertions,
            deletions,
        });
        summary.insertions += insertions;
        summary.deletions += deletions;
        summary
            .patch
            .push_str(&String::from_utf8_lossy(&patch.to_buf()?));
    }
    Ok(summary)
}
