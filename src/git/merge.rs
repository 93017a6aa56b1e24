//! Merging an approved run's branch into its target branch, without touching the operator's
//! uncommitted work: the merge is made in memory, the branch moves only if nobody moved it
//! meanwhile, and a checkout of the target follows the branch only when it is clean.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::checkout::{checkout_of, tracked_changes};
use super::{GitError, branch_tip, open, signature};

/// How an approved run is merged into its target branch (`merge` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMode {
    /// `ff`: fast-forward when the target has not moved since the run started, else a merge
    /// commit.
    #[default]
    #[serde(rename = "ff")]
    FastForward,
    /// `merge`: always a merge commit (`git merge --no-ff`).
    Merge,
    /// `squash`: one commit on top of the target with all of the run's changes.
    Squash,
}

impl MergeMode {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FastForward => "ff",
            Self::Merge => "merge",
            Self::Squash => "squash",
        }
    }
}

/// What [`merge`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeOutcome {
    /// The target branch's new tip, as hex (its old tip when there was nothing to merge).
    pub commit: String,
    /// No new commit was made: the target branch now points at the source's tip (or already
    /// contained it).
    pub fast_forward: bool,
}

/// Merges branch `source_branch` into `target_branch` as `mode` says, with `message` for any
/// commit made, and returns the target's new tip.
///
/// When the target is checked out (in the main working tree or a linked one) that checkout must
/// be clean: tracked files with changes, or untracked files the merge would overwrite, give
/// [`GitError::Dirty`]; otherwise its index and files follow the branch. Overlapping changes
/// give [`GitError::Conflict`]. Either way nothing was changed.
pub fn merge(
    repo_root: &Path,
    target_branch: &str,
    source_branch: &str,
    mode: MergeMode,
    message: &str,
) -> Result<MergeOutcome, GitError> {
    let repo = open(repo_root)?;
    let ours = branch_tip(&repo, target_branch, GitError::TargetMissing)?;
    let theirs = branch_tip(&repo, source_branch, GitError::BranchMissing)?;
    let refname = format!("refs/heads/{target_branch}");

    let checkout = match checkout_of(&repo, target_branch)? {
        Some(dir) => {
            let checked_out = open(&dir)?;
            let dirty = tracked_changes(&checked_out)?;
            if !dirty.is_empty() {
                return Err(GitError::Dirty {
                    branch: target_branch.to_string(),
                    path: dir,
                    paths: dirty,
                });
            }
            Some((dir, checked_out))
        }
        None => None,
    };

    let (analysis, _) = {
        let target_ref = repo.find_reference(&refname)?;
        let theirs_annotated = repo.find_annotated_commit(theirs.id())?;
        repo.merge_analysis_for_ref(&target_ref, &[&theirs_annotated])?
    };
    let unchanged = MergeOutcome {
        commit: ours.id().to_string(),
        fast_forward: true,
    };
    if analysis.is_up_to_date() {
        return Ok(unchanged);
    }

    let merged_tree = || -> Result<git2::Oid, GitError> {
        let mut opts = git2::MergeOptions::new();
        opts.find_renames(true);
        let mut index = repo.merge_commits(&ours, &theirs, Some(&opts))?;
        if index.has_conflicts() {
            return Err(GitError::Conflict {
                source_branch: source_branch.to_string(),
                target: target_branch.to_string(),
                paths: conflicted_paths(&index)?,
            });
        }
        Ok(index.write_tree_to(&repo)?)
    };
    let sig = signature(&repo)?;
    let (new_id, fast_forward) = match mode {
        MergeMode::FastForward if analysis.is_fast_forward() => (theirs.id(), true),
        MergeMode::FastForward | MergeMode::Merge => {
            let tree = repo.find_tree(merged_tree()?)?;
            let id = repo.commit(None, &sig, &sig, message, &tree, &[&ours, &theirs])?;
            (id, false)
        }
        MergeMode::Squash => {
            let tree_id = if analysis.is_fast_forward() {
                theirs.tree_id()
            } else {
                merged_tree()?
            };
            if tree_id == ours.tree_id() {
                // The target already has every change the run made.
                return Ok(unchanged);
            }
            let tree = repo.find_tree(tree_id)?;
            let id = repo.commit(None, &sig, &sig, message, &tree, &[&ours])?;
            (id, false)
        }
    };

    if let Some((dir, checked_out)) = checkout {
        follow(&checked_out, &dir, target_branch, new_id)?;
    }
    let what = if fast_forward {
        "fast-forward"
    } else {
        mode.as_str()
    };
    // Only move the branch if nobody else did meanwhile.
    repo.reference_matching(
        &refname,
        new_id,
        true,
        ours.id(),
        &format!("bosun: merge {source_branch} ({what})"),
    )?;
    Ok(MergeOutcome {
        commit: new_id.to_string(),
        fast_forward,
    })
}

/// Brings the clean checkout at `dir` (whose HEAD is the target branch, not yet moved) to
/// commit `new_id`: index and files. Untracked files in the way make it refuse; libgit2 finds
/// every such conflict before it writes anything, so a refusal changes nothing.
pub(super) fn follow(
    checked_out: &git2::Repository,
    dir: &Path,
    branch: &str,
    new_id: git2::Oid,
) -> Result<(), GitError> {
    let tree = checked_out.find_commit(new_id)?.tree()?;
    let mut blocked = Vec::new();
    let result = {
        let mut opts = git2::build::CheckoutBuilder::new();
        opts.safe()
            .notify_on(git2::CheckoutNotificationType::CONFLICT)
            .notify(|_, path, _, _, _| {
                if let Some(p) = path {
                    blocked.push(p.to_string_lossy().into_owned());
                }
                true
            });
        checked_out.checkout_tree(tree.as_object(), Some(&mut opts))
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.code() == git2::ErrorCode::Conflict && !blocked.is_empty() => {
            Err(dirty(branch, dir, blocked))
        }
        Err(e) => Err(e.into()),
    }
}

fn dirty(branch: &str, dir: &Path, mut paths: Vec<String>) -> GitError {
    paths.sort();
    paths.dedup();
    GitError::Dirty {
        branch: branch.to_string(),
        path: PathBuf::from(dir),
        paths,
    }
}

/// The files an in-memory merge left conflicted, sorted.
fn conflicted_paths(index: &git2::Index) -> Result<Vec<String>, GitError> {
    let mut paths = Vec::new();
    for conflict in index.conflicts()? {
        let conflict = conflict?;
        if let Some(entry) = conflict.our.or(conflict.their).or(conflict.ancestor) {
            paths.push(String::from_utf8_lossy(&entry.path).into_owned());
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}
