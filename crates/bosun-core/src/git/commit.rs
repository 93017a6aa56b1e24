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

/// Most of the agent's own commit subjects kept in a candidate's message.
const MAX_AGENT_SUBJECTS: usize = 20;

/// Snapshots everything in the run's checkout at `worktree` (new, changed, deleted and renamed
/// files; ignored files stay out) into one commit whose only parent is `base` — whatever branch,
/// HEAD, index or commits the agent left — made in the operator's repository at `repo_root`,
/// where `branch` then points at it. The message is `message`, the subjects of the commits the
/// agent made on top of `base` (when its HEAD still descends from it), then `trailers`.
/// Returns the candidate's id, or `None` when the files are those of `base` (the agent changed
/// nothing; nothing is written).
///
/// bosun makes this commit, not the agent, and trusts nothing of the checkout's git state to
/// make it: the index is a fresh one in memory, built from the base commit and the files, in a
/// handle on the operator's repository pointed at the checkout — so an agent that replaced its
/// `.git` (with a link to the operator's, say) cannot steer bosun's writes. The checkout's own
/// repository is then set to the candidate too (branch, HEAD, index) so gates see a clean
/// checkout, but only when its `.git` is a plain directory with no symlinked parts. What the
/// operator reviews and what approve merges is this id, pinned on the run.
pub fn candidate(
    repo_root: &Path,
    checkout: &super::Worktree,
    message: &str,
    trailers: &[(&str, &str)],
    ignored: &[String],
) -> Result<Option<String>, GitError> {
    let (worktree, branch, base) = (
        checkout.path.as_path(),
        checkout.branch.as_str(),
        checkout.base.as_str(),
    );
    let meta = std::fs::symlink_metadata(worktree).map_err(|error| GitError::Io {
        path: worktree.to_path_buf(),
        error,
    })?;
    if !meta.is_dir() {
        return Err(GitError::InvalidPath(worktree.to_path_buf()));
    }
    if std::fs::symlink_metadata(worktree.join(".git")).is_err() {
        return Err(GitError::CheckoutGone(worktree.to_path_buf()));
    }
    let operator = open(repo_root)?;
    let scratch = git2::Repository::open(operator.path())?;
    scratch.set_workdir(worktree, false)?;
    // The agent's own bookkeeping files (the preset's), on this handle only.
    if !ignored.is_empty() {
        scratch.add_ignore_rule(&ignored.join("\n"))?;
    }
    let base_commit = scratch.find_commit(git2::Oid::from_str(base)?)?;
    let base_tree = base_commit.tree()?;
    let mut index = git2::Index::new()?;
    scratch.set_index(&mut index)?;
    index.read_tree(&base_tree)?;
    // Only files changed since bosun's checkout are read and hashed.
    checkout.stat.seed(&mut index)?;
    index.update_all(["*"], None)?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    let tree_id = index.write_tree_to(&scratch)?;
    if tree_id == base_tree.id() {
        return Ok(None);
    }

    let mut text = message.trim_end().to_string();
    let subjects = private_repo(worktree)
        .map(|repo| agent_subjects(&repo, base_commit.id()))
        .unwrap_or_default();
    if !subjects.is_empty() {
        text.push_str("\n\nThe agent's commits:\n");
        for subject in &subjects {
            text.push_str(&format!("- {subject}\n"));
        }
    }
    let tree = scratch.find_tree(tree_id)?;
    let sig = signature(&operator)?;
    let id = scratch.commit(
        None,
        &sig,
        &sig,
        &with_trailers(&text, trailers),
        &tree,
        &[&base_commit],
    )?;
    let refname = format!("refs/heads/{branch}");
    super::write_branch(&operator, &refname, id, "bosun: the run's candidate commit")?;

    // The checkout's repository follows, when it is still the plain one bosun made.
    if let Some(private) = private_repo(worktree)
        && let Err(e) = point_at(&private, &refname, id)
    {
        tracing::warn!(worktree = %worktree.display(), error = %e, "cannot set the checkout to the candidate");
    }
    Ok(Some(id.to_string()))
}

/// The checkout's own repository, when its `.git` is a plain directory inside it whose HEAD,
/// index, refs, objects, packed-refs and config are not symlinks (an agent can replace any of
/// them; then bosun leaves the checkout's git state alone).
fn private_repo(worktree: &Path) -> Option<git2::Repository> {
    let git = worktree.join(".git");
    let plain =
        |p: &Path| std::fs::symlink_metadata(p).map_or(true, |m| !m.file_type().is_symlink());
    let dir = std::fs::symlink_metadata(&git).ok()?;
    let parts = [
        "HEAD",
        "index",
        "refs",
        "refs/heads",
        "objects",
        "packed-refs",
        "config",
    ];
    if !dir.is_dir() || !parts.iter().all(|p| plain(&git.join(p))) {
        return None;
    }
    let repo = git2::Repository::open(worktree).ok()?;
    (repo.path().canonicalize().ok()? == git.canonicalize().ok()?).then_some(repo)
}

/// Points `refname` of `repo` at `id` (an object its alternates reach), checks it out as HEAD
/// and writes the matching index.
fn point_at(repo: &git2::Repository, refname: &str, id: git2::Oid) -> Result<(), GitError> {
    repo.reference(refname, id, true, "bosun: the run's candidate commit")?;
    repo.set_head(refname)?;
    let tree = repo.find_commit(id)?.tree()?;
    let mut index = repo.index()?;
    index.read_tree(&tree)?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    Ok(())
}

/// The subjects of the commits between `base` and the checkout's HEAD, oldest first, when HEAD
/// descends from `base` (at most [`MAX_AGENT_SUBJECTS`]; control characters dropped).
fn agent_subjects(repo: &git2::Repository, base: git2::Oid) -> Vec<String> {
    let Ok(head) = repo.head().and_then(|h| h.peel_to_commit()) else {
        return Vec::new();
    };
    if head.id() == base || !repo.graph_descendant_of(head.id(), base).unwrap_or(false) {
        return Vec::new();
    }
    let Ok(mut walk) = repo.revwalk() else {
        return Vec::new();
    };
    let walked = walk
        .push(head.id())
        .and_then(|()| walk.hide(base))
        .and_then(|()| walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE));
    if walked.is_err() {
        return Vec::new();
    }
    walk.filter_map(Result::ok)
        .filter_map(|id| repo.find_commit(id).ok())
        .filter_map(|c| {
            let subject = String::from_utf8_lossy(c.summary_bytes()?);
            Some(subject.chars().filter(|c| !c.is_control()).collect())
        })
        .filter(|s: &String| !s.trim().is_empty())
        .take(MAX_AGENT_SUBJECTS)
        .collect()
}

/// The commit `branch` points at.
pub fn tip_of(repo_root: &Path, branch: &str) -> Result<String, GitError> {
    let repo = open(repo_root)?;
    Ok(branch_tip(&repo, branch, GitError::BranchMissing)?
        .id()
        .to_string())
}

/// Checks that `branch` still points at `expected` (the commit the operator reviewed);
/// [`GitError::Moved`] when it does not.
pub fn branch_at(repo_root: &Path, branch: &str, expected: &str) -> Result<(), GitError> {
    let repo = open(repo_root)?;
    let tip = branch_tip(&repo, branch, GitError::BranchMissing)?;
    if tip.id().to_string() == expected {
        Ok(())
    } else {
        Err(GitError::Moved {
            branch: branch.to_string(),
            expected: expected.to_string(),
            found: tip.id().to_string(),
        })
    }
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

/// Most symlinks followed from a task file to the file it names.
const MAX_LINKS: usize = 8;

/// The task file `rel_path` as it is in commit `rev`, following symlinks that stay inside the
/// repository (a `TODO.md` that links to `docs/TODO.md` is read, and ticked, there): the path
/// of the file itself and its content; `None` when it is not there. A symlink that leaves the
/// repository, or a chain of more than 8, is an error that says so.
pub fn read_task_file_at(
    repo_root: &Path,
    rev: &str,
    rel_path: &Path,
) -> Result<Option<(std::path::PathBuf, Vec<u8>)>, GitError> {
    let repo = open(repo_root)?;
    let tree = repo.revparse_single(rev)?.peel_to_commit()?.tree()?;
    let mut rel = repo_path(rel_path)?;
    for _ in 0..=MAX_LINKS {
        let entry = match tree.get_path(Path::new(&rel)) {
            Ok(entry) => entry,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return Ok(None);
        }
        let content = repo.find_blob(entry.id())?.content().to_vec();
        if entry.filemode() != i32::from(git2::FileMode::Link) {
            return Ok(Some((std::path::PathBuf::from(rel), content)));
        }
        // A link's target, relative to the link's directory, resolved without the file system.
        let target = String::from_utf8_lossy(&content).into_owned();
        let mut parts: Vec<&str> = if target.starts_with('/') {
            Vec::new()
        } else {
            rel.split('/').collect()
        };
        parts.pop();
        let outside = || GitError::InvalidPath(std::path::PathBuf::from(&target));
        if target.starts_with('/') {
            return Err(outside());
        }
        for part in target.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop().ok_or_else(outside)?;
                }
                p => parts.push(p),
            }
        }
        rel = parts.join("/");
    }
    Err(GitError::InvalidPath(rel_path.to_path_buf()))
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

/// A commit on `parent` whose tree is `parent`'s with `rel` (git spelling) set to `contents`
/// (keeping its executable bit), in the object database only; `None` when the file already
/// has that content.
fn file_commit(
    repo: &git2::Repository,
    parent: &git2::Commit<'_>,
    rel: &str,
    contents: &[u8],
    message: &str,
) -> Result<Option<git2::Oid>, GitError> {
    let tree = parent.tree()?;
    let mode = match tree.get_path(Path::new(rel)) {
        Ok(entry) if entry.filemode() == i32::from(git2::FileMode::BlobExecutable) => {
            git2::FileMode::BlobExecutable
        }
        Ok(_) => git2::FileMode::Blob,
        Err(e) if e.code() == git2::ErrorCode::NotFound => git2::FileMode::Blob,
        Err(e) => return Err(e.into()),
    };
    let blob = repo.blob(contents)?;
    let new_tree_id = git2::build::TreeUpdateBuilder::new()
        .upsert(rel, blob, mode)
        .create_updated(repo, &tree)?;
    if new_tree_id == tree.id() {
        return Ok(None);
    }
    let new_tree = repo.find_tree(new_tree_id)?;
    // Dated as its parent: the same file on the same parent is the same commit, so a delivery
    // tried again (after the forge refused it, say) pushes what it pushed before instead of a
    // sibling the remote branch would refuse as a non-fast-forward.
    let who = signature(repo)?;
    let sig = git2::Signature::new(
        who.name().unwrap_or("bosun"),
        who.email().unwrap_or("bosun@localhost"),
        &parent.committer().when(),
    )?;
    Ok(Some(repo.commit(
        None,
        &sig,
        &sig,
        message,
        &new_tree,
        &[parent],
    )?))
}

/// [`commit_file`]'s commit made on commit `parent` (hex) and left in the object database: no
/// branch moves, no file is written. Returns the new commit, or `parent` when the file already
/// had that content.
pub fn commit_file_on(
    repo_root: &Path,
    parent: &str,
    rel_path: &Path,
    contents: &[u8],
    message: &str,
) -> Result<String, GitError> {
    let repo = open(repo_root)?;
    let rel = repo_path(rel_path)?;
    let tip = repo.find_commit(git2::Oid::from_str(parent)?)?;
    Ok(file_commit(&repo, &tip, &rel, contents, message)?
        .map_or_else(|| parent.to_string(), |id| id.to_string()))
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

    if let Some(dir) = checkout_of(&repo, branch)? {
        let status = match open(&dir)?.status_file(Path::new(&rel)) {
            Ok(s) => s,
            Err(e) if e.code() == git2::ErrorCode::NotFound => git2::Status::CURRENT,
            Err(e) => return Err(e.into()),
        };
        if !(status.is_empty() || status.contains(git2::Status::IGNORED)) {
            return Err(GitError::Dirty {
                branch: branch.to_string(),
                path: dir,
                paths: vec![rel],
            });
        }
    }
    let Some(id) = file_commit(&repo, &tip, &rel, contents, message)? else {
        return Ok(tip.id().to_string());
    };
    // The branch moves only if nobody else moved it meanwhile; a checkout of it follows with
    // the file replaced through a temporary file, never written in place.
    let why = format!("bosun: update {rel}");
    super::advance(
        repo_root,
        branch,
        &tip.id().to_string(),
        &id.to_string(),
        &why,
    )?;
    Ok(id.to_string())
}
