//! Merging an approved run's branch into its target branch, without touching the operator's
//! uncommitted work: the merge is made in memory, the branch moves only if nobody moved it
//! meanwhile, and a checkout of the target follows the branch only when it is clean.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::checkout::{checkout_of, tracked_changes};
use super::{GitError, branch_tip, open, signature};

pub use crate::config::values::MergeMode;

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
/// commit made, and returns the target's new tip: [`plan_merge`], then [`advance`].
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
    let plan = plan_merge(
        repo_root,
        target_branch,
        source_branch,
        None,
        mode,
        message,
        None,
    )?;
    if plan.commit != plan.old {
        advance(
            repo_root,
            target_branch,
            &plan.old,
            &plan.commit,
            &format!("bosun: merge {source_branch}"),
        )?;
    }
    Ok(MergeOutcome {
        commit: plan.commit,
        fast_forward: plan.fast_forward,
    })
}

/// A merge made in the object database only: the target's tip it starts from and the commit
/// the target is to point at ([`advance`] moves it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergePlan {
    /// The target's tip when the plan was made, as hex.
    pub old: String,
    /// The commit the target is to point at (`old` when there is nothing to merge).
    pub commit: String,
    /// No merge commit was made: `commit` is the source's tip (or `old`).
    pub fast_forward: bool,
}

/// Makes the merge of `source_branch` into `target_branch` as commits only, moving nothing:
/// checks that a checkout of the target is clean (no tracked changes, no untracked file where
/// the merge adds one) and that the changes do not overlap, as [`merge`] says. What merges is
/// `source_commit` when given (a commit made from the branch, such as the kept hunks of a
/// partial approval), else the branch's tip; `source_branch` names it in messages.
pub fn plan_merge(
    repo_root: &Path,
    target_branch: &str,
    source_branch: &str,
    source_commit: Option<&str>,
    mode: MergeMode,
    message: &str,
    rename: Option<&str>,
) -> Result<MergePlan, GitError> {
    let repo = open(repo_root)?;
    let ours = branch_tip(&repo, target_branch, GitError::TargetMissing)?;
    let theirs = match source_commit {
        Some(id) => repo.find_commit(git2::Oid::from_str(id)?)?,
        None => branch_tip(&repo, source_branch, GitError::BranchMissing)?,
    };
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
    let unchanged = MergePlan {
        old: ours.id().to_string(),
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
        MergeMode::FastForward if analysis.is_fast_forward() => match rename {
            // The reviewed commit again, under the operator's message: same tree, same
            // parents, same author.
            Some(message) => {
                let parents: Vec<git2::Commit<'_>> = theirs.parents().collect();
                let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
                let tree = theirs.tree()?;
                let id = repo.commit(None, &theirs.author(), &sig, message, &tree, &parents)?;
                (id, true)
            }
            None => (theirs.id(), true),
        },
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
        untracked_in_the_way(&checked_out, &dir, target_branch, ours.tree_id(), new_id)?;
    }
    Ok(MergePlan {
        old: ours.id().to_string(),
        commit: new_id.to_string(),
        fast_forward,
    })
}

/// Refuses with [`GitError::Dirty`] when a file the change from `old_tree` to commit `new_id`
/// adds already exists, untracked, in the checkout at `dir` (it would be overwritten).
fn untracked_in_the_way(
    checked_out: &git2::Repository,
    dir: &Path,
    branch: &str,
    old_tree: git2::Oid,
    new_id: git2::Oid,
) -> Result<(), GitError> {
    let old = checked_out.find_tree(old_tree)?;
    let new = checked_out.find_commit(new_id)?.tree()?;
    let diff = checked_out.diff_tree_to_tree(Some(&old), Some(&new), None)?;
    let blocked: Vec<String> = diff
        .deltas()
        .filter(|d| d.status() == git2::Delta::Added)
        .filter_map(|d| d.new_file().path().map(Path::to_path_buf))
        .filter(|p| std::fs::symlink_metadata(dir.join(p)).is_ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if blocked.is_empty() {
        Ok(())
    } else {
        Err(dirty(branch, dir, blocked))
    }
}

/// Moves branch `target` from `old` to `new` — only if it still points at `old` (the commit
/// point of a merge: one compare-and-swap of the ref) — then brings a checkout of it along:
/// each file the change touches is written to a temporary file beside it and renamed over it
/// (a crash leaves the old file or the new one, never a truncated one), deleted files are
/// removed, and the index is updated for exactly those paths.
pub fn advance(
    repo_root: &Path,
    target: &str,
    old: &str,
    new: &str,
    why: &str,
) -> Result<(), GitError> {
    let repo = open(repo_root)?;
    let (old, new) = (git2::Oid::from_str(old)?, git2::Oid::from_str(new)?);
    let checkout = checkout_of(&repo, target)?;
    repo.reference_matching(&format!("refs/heads/{target}"), new, true, old, why)?;
    crate::faults::crash_point("advance:moved");
    if let Some(dir) = checkout {
        let checked_out = open(&dir)?;
        write_changes(&checked_out, &dir, old, new, false)?;
    }
    Ok(())
}

/// Whether commit `commit` (hex) is on branch `branch`: its tip or an ancestor of it.
pub fn contains(repo_root: &Path, branch: &str, commit: &str) -> Result<bool, GitError> {
    let repo = open(repo_root)?;
    let tip = branch_tip(&repo, branch, GitError::TargetMissing)?.id();
    let commit = git2::Oid::from_str(commit)?;
    if repo.find_commit(commit).is_err() {
        return Ok(false);
    }
    Ok(tip == commit || repo.graph_descendant_of(tip, commit)?)
}

/// What [`clear_ref_lock`] and [`clear_index_lock`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockFile {
    /// No lock file there.
    None,
    /// One made since the approval began (bosun's, cut short): removed.
    Removed,
    /// One older than the approval: someone else's, left alone.
    Foreign,
}

/// Removes the lock file at `lock` when it was made at or after `since_ms` (Unix
/// milliseconds); an older one is reported and left alone.
fn clear_lock(lock: PathBuf, since_ms: u64) -> Result<LockFile, GitError> {
    let Ok(meta) = std::fs::symlink_metadata(&lock) else {
        return Ok(LockFile::None);
    };
    let made_ms = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    // File times can be a little behind the clock bosun read: a second of slack.
    if made_ms + 1_000 < since_ms {
        return Ok(LockFile::Foreign);
    }
    match std::fs::remove_file(&lock) {
        Ok(()) => Ok(LockFile::Removed),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LockFile::None),
        Err(error) => Err(GitError::Io { path: lock, error }),
    }
}

/// The lock file of branch `branch`'s ref, when made since `since_ms` (an approval that began
/// then was cut short while moving it): removed. See [`LockFile`].
pub fn clear_ref_lock(repo_root: &Path, branch: &str, since_ms: u64) -> Result<LockFile, GitError> {
    let repo = open(repo_root)?;
    let lock = repo
        .commondir()
        .join("refs")
        .join("heads")
        .join(format!("{branch}.lock"));
    clear_lock(lock, since_ms)
}

/// The lock file on the index of branch `branch`'s checkout, when made since `since_ms` (an
/// approval that began then was cut short while writing it): removed. See [`LockFile`].
pub fn clear_index_lock(
    repo_root: &Path,
    branch: &str,
    since_ms: u64,
) -> Result<LockFile, GitError> {
    let repo = open(repo_root)?;
    match checkout_of(&repo, branch)? {
        Some(dir) => clear_lock(open(&dir)?.path().join("index.lock"), since_ms),
        None => Ok(LockFile::None),
    }
}

/// After a crash between moving `target` from `old` to `new` and updating its checkout:
/// brings along every file the change touches that still has its `old` content (files the
/// operator changed since are left alone), and the index for those paths. Running it again
/// changes nothing.
pub fn refollow(repo_root: &Path, target: &str, old: &str, new: &str) -> Result<(), GitError> {
    let repo = open(repo_root)?;
    let (old, new) = (git2::Oid::from_str(old)?, git2::Oid::from_str(new)?);
    if let Some(dir) = checkout_of(&repo, target)? {
        let checked_out = open(&dir)?;
        write_changes(&checked_out, &dir, old, new, true)?;
    }
    Ok(())
}

/// Writes the change from commit `old` to commit `new` into the checkout at `dir` (temp file +
/// rename per file) and updates the index for those paths. With `only_old`, a path is written
/// only while its file still has the `old` content.
fn write_changes(
    checked_out: &git2::Repository,
    dir: &Path,
    old: git2::Oid,
    new: git2::Oid,
    only_old: bool,
) -> Result<(), GitError> {
    let old_tree = checked_out.find_commit(old)?.tree()?;
    let new_tree = checked_out.find_commit(new)?.tree()?;
    let diff = checked_out.diff_tree_to_tree(Some(&old_tree), Some(&new_tree), None)?;
    let mut index = checked_out.index()?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| GitError::Io { path, error }
    };
    for delta in diff.deltas() {
        let Some(rel) = delta.new_file().path().or(delta.old_file().path()) else {
            continue;
        };
        let file = dir.join(rel);
        let has = |side: git2::DiffFile<'_>| -> Result<bool, GitError> {
            let on_disk = std::fs::symlink_metadata(&file).is_ok();
            if side.id().is_zero() {
                return Ok(!on_disk);
            }
            if !on_disk {
                return Ok(false);
            }
            let blob = checked_out.find_blob(side.id())?;
            Ok(read_entry(&file).is_some_and(|bytes| bytes == blob.content()))
        };
        if only_old && !has(delta.old_file())? {
            if has(delta.new_file())? {
                stage(&mut index, rel, delta.new_file().id().is_zero())?;
            }
            continue;
        }
        let mode = delta.new_file().mode();
        match delta.status() {
            git2::Delta::Deleted => {
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&file)(e)),
                }
                stage(&mut index, rel, true)?;
            }
            _ if mode == git2::FileMode::Commit => {}
            _ => {
                let blob = checked_out.find_blob(delta.new_file().id())?;
                replace_file(&file, blob.content(), mode).map_err(io(&file))?;
                stage(&mut index, rel, false)?;
            }
        }
    }
    index.write()?;
    Ok(())
}

/// A file's bytes, or a symlink's target as bytes (as git stores it).
fn read_entry(file: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(file).ok()?;
    if meta.file_type().is_symlink() {
        use std::os::unix::ffi::OsStrExt;
        Some(
            std::fs::read_link(file)
                .ok()?
                .as_os_str()
                .as_bytes()
                .to_vec(),
        )
    } else {
        std::fs::read(file).ok()
    }
}

/// Records `rel` in the index as it is on disk, or removes it.
fn stage(index: &mut git2::Index, rel: &Path, removed: bool) -> Result<(), GitError> {
    if removed {
        match index.remove_path(rel) {
            Ok(()) => Ok(()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    } else {
        Ok(index.add_path(rel)?)
    }
}

/// Puts `content` at `file` by writing a temporary file beside it and renaming it over: a file
/// with mode `mode` (executable or not), or a symlink to `content`.
fn replace_file(file: &Path, content: &[u8], mode: git2::FileMode) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let parent = file.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = file
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    // Temporary files of an earlier, interrupted write of this file go first.
    let stale = format!(".{name}.bosun-");
    if let Ok(entries) = std::fs::read_dir(parent) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&stale) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let tmp = parent.join(format!("{stale}{}", std::process::id()));
    if mode == git2::FileMode::Link {
        std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(content), &tmp)?;
    } else {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content)?;
        let bits = if mode == git2::FileMode::BlobExecutable {
            0o755
        } else {
            0o644
        };
        f.set_permissions(std::fs::Permissions::from_mode(bits))?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
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
