//! What is checked out where: the branch a working tree is on, whether it has uncommitted work,
//! and which working tree (if any) has a given branch checked out.

use std::path::{Path, PathBuf};

use super::{GitError, open, worktree_names};

/// The branch checked out in the working tree at `repo_root`; `None` when HEAD is detached.
/// A branch with no commits yet counts.
pub fn current_branch(repo_root: &Path) -> Result<Option<String>, GitError> {
    let repo = open(repo_root)?;
    head_branch(&repo)
}

/// Tracked files with uncommitted changes (staged or not) in the working tree at `repo_root`,
/// sorted. Untracked and ignored files do not count.
pub fn is_dirty(repo_root: &Path) -> Result<Vec<String>, GitError> {
    let repo = open(repo_root)?;
    tracked_changes(&repo)
}

/// The branch `repo`'s HEAD points at, if it points at one.
pub(super) fn head_branch(repo: &git2::Repository) -> Result<Option<String>, GitError> {
    let head = repo.find_reference("HEAD")?;
    Ok(head
        .symbolic_target()?
        .and_then(|t| t.strip_prefix("refs/heads/"))
        .map(str::to_string))
}

/// Tracked files in `repo`'s working tree that differ from HEAD in the index or on disk.
pub(super) fn tracked_changes(repo: &git2::Repository) -> Result<Vec<String>, GitError> {
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(false)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo.statuses(Some(&mut opts))?;
    let mut paths: Vec<String> = statuses
        .iter()
        .filter(|e| {
            let s = e.status();
            !s.is_empty() && !s.intersects(git2::Status::IGNORED | git2::Status::WT_NEW)
        })
        .map(|e| String::from_utf8_lossy(e.path_bytes()).into_owned())
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// The working tree that has local branch `branch` checked out: `repo`'s own first, then the
/// main one (when `repo` is a linked worktree), then every linked worktree.
pub(super) fn checkout_of(
    repo: &git2::Repository,
    branch: &str,
) -> Result<Option<PathBuf>, GitError> {
    let on_branch = |r: &git2::Repository| -> Result<Option<PathBuf>, GitError> {
        match r.workdir() {
            Some(dir) if head_branch(r)?.as_deref() == Some(branch) => Ok(Some(dir.to_path_buf())),
            _ => Ok(None),
        }
    };
    if let Some(dir) = on_branch(repo)? {
        return Ok(Some(dir));
    }
    if repo.is_worktree()
        && let Ok(main) = git2::Repository::open(repo.commondir())
        && let Some(dir) = on_branch(&main)?
    {
        return Ok(Some(dir));
    }
    for name in worktree_names(repo)? {
        // A worktree whose directory is gone has no checkout to protect.
        let Ok(wt) = repo.find_worktree(&name) else {
            continue;
        };
        if wt.validate().is_err() {
            continue;
        }
        let Ok(linked) = git2::Repository::open_from_worktree(&wt) else {
            continue;
        };
        if let Some(dir) = on_branch(&linked)? {
            return Ok(Some(dir));
        }
    }
    Ok(None)
}
