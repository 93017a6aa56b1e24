//! Making commits: everything an agent left in its worktree, and a one-file change on a branch
//! (ticking a task's checkbox after a merge) without needing a checkout of it.

use std::path::Path;

use super::checkout::checkout_of;
use super::{GitError, branch_tip, open, repo_path, signature};

/// Stages everything in the worktree at `worktree` (new, changed, deleted and renamed files;
/// ignored files stay out) and commits it with `message` followed by `trailers`
/// (`Key: value` lines). Returns the new HEAD, or `None` when there was nothing left to commit
/// (an agent that committed its own work leaves nothing, or only the rest).
pub fn commit_all(
    worktree: &Path,
    message: &str,
    trailers: &[(&str, &str)],
) -> Result<Option<String>, GitError> {
    let repo = open(worktree)?;
    let mut index = repo.index()?;
    // `update_all` catches deletions of tracked files, `add_all` new and changed ones.
    index.update_all(["*"], None)?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    let tree_id = index.write_tree()?;
    index.write()?;

    let parent = match repo.head() {
        Ok(head) => Some(head.peel_to_commit()?),
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => None,
        Err(e) => return Err(e.into()),
    };
    if parent.as_ref().is_some_and(|p| p.tree_id() == tree_id) {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id)?;
    let sig = signature(&repo)?;
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let id = repo.commit(
        Some("HEAD"),
        &sig,
        &sig,
        &with_trailers(message, trailers),
        &tree,
        &parents,
    )?;
    Ok(Some(id.to_string()))
}

/// `message`, a blank line, then one `Key: value` line per trailer.
fn with_trailers(message: &str, trailers: &[(&str, &str)]) -> String {
    let mut text = message.trim_end().to_string();
    if !trailers.is_empty() {
        text.push_str("\n\n");
        for (key, value) in trailers {
            text.push_str(&format!("{key}: {value}\n"));
        }
    } else {
        text.push('\n');
    }
    text
}

/// The commit HEAD points at in the worktree (or checkout) at `worktree`, as hex.
pub fn head(worktree: &Path) -> Result<String, GitError> {
    let repo = open(worktree)?;
    Ok(repo.head()?.peel_to_commit()?.id().to_string())
}

/// The content of `rel_path` at the tip of `branch`; `None` when the file is not there.
pub fn read_file(
    repo_root: &Path,
    branch: &str,
    rel_path: &Path,
) -> Result<Option<Vec<u8>>, GitError> {
    let repo = open(repo_root)?;
    let rel = repo_path(rel_path)?;
    let tree = branch_tip(&repo, branch, GitError::BranchMissing)?.tree()?;
    blob_at(&repo, &tree, &rel)
}

/// The content of `rel_path` in the commit `rev` names (a commit id, or any revision git
/// understands, e.g. a branch); `None` when the file is not there. Gates read the base side of
/// a run with it, where the base commit may be behind every branch tip.
pub fn read_file_at(
    repo_root: &Path,
    rev: &str,
    rel_path: &Path,
) -> Result<Option<Vec<u8>>, GitError> {
    let repo = open(repo_root)?;
    let rel = repo_path(rel_path)?;
    let tree = repo.revparse_single(rev)?.peel_to_commit()?.tree()?;
    blob_at(&repo, &tree, &rel)
}

/// The content of the file at `rel` (git spelling) in `tree`; `None` when it is not there or
/// is not a file.
fn blob_at(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
    rel: &str,
) -> Result<Option<Vec<u8>>, GitError> {
    let entry = match tree.get_path(Path::new(rel)) {
        Ok(entry) => entry,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if entry.kind() != Some(git2::ObjectType::Blob) {
        return Ok(None);
    }
    Ok(Some(repo.find_blob(entry.id())?.content().to_vec()))
}

/// Commits `contents` as `rel_path` on top of `branch`, built from the branch's tree, and
/// returns the branch's new tip (its old one when the file already had that content). When
/// `branch` is checked out, the file on disk and the index follow, so the checkout stays
/// clean; if that file has local changes, nothing happens and [`GitError::Dirty`] says so.
pub fn commit_file(
    repo_root: &Path,
    branch: &str,
    rel_path: &Path,
    contents: &[u8],
    message: &str,
) -> Result<String, GitError> {
    let repo = open(repo_root)?;
    let rel = repo_path(rel_path)?;
    let tip = branch_tip(&repo, branch, GitError::BranchMissing)?;
    let tree = tip.tree()?;
    let mode = match tree.get_path(Path::new(&rel)) {
        Ok(entry) if entry.filemode() == i32::from(git2::FileMode::BlobExecutable) => {
            git2::FileMode::BlobExecutable
        }
        Ok(_) => git2::FileMode::Blob,
        Err(e) if e.code() == git2::ErrorCode::NotFound => git2::FileMode::Blob,
        Err(e) => return Err(e.into()),
    };

    let checkout = match checkout_of(&repo, branch)? {
        Some(dir) => {
            let checked_out = open(&dir)?;
            let status = match checked_out.status_file(Path::new(&rel)) {
                Ok(s) => s,
                Err(e) if e.code() == git2::ErrorCode::NotFound => git2::Status::CURRENT,
                Err(e) => return Err(e.into()),
            };
            let untouched = status.is_empty() || status.contains(git2::Status::IGNORED);
            if !untouched {
                return Err(GitError::Dirty {
                    branch: branch.to_string(),
                    path: dir,
                    paths: vec![rel],
                });
            }
            Some((dir, checked_out))
        }
        None => None,
    };

    let blob = repo.blob(contents)?;
    let new_tree_id = git2::build::TreeUpdateBuilder::new()
        .upsert(rel.as_str(), blob, mode)
        .create_updated(&repo, &tree)?;
    if new_tree_id == tree.id() {
        return Ok(tip.id().to_string());
    }
    let new_tree = repo.find_tree(new_tree_id)?;
    let sig = signature(&repo)?;
    let id = repo.commit(None, &sig, &sig, message, &new_tree, &[&tip])?;
    // Only move the branch if nobody else did meanwhile.
    repo.reference_matching(
        &format!("refs/heads/{branch}"),
        id,
        true,
        tip.id(),
        &format!("bosun: update {rel}"),
    )?;

    if let Some((dir, checked_out)) = checkout {
        let file = dir.join(&rel);
        let io = |error| GitError::Io {
            path: file.clone(),
            error,
        };
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&file, contents).map_err(io)?;
        let mut index = checked_out.index()?;
        index.add_path(Path::new(&rel))?;
        index.write()?;
    }
    Ok(id.to_string())
}
