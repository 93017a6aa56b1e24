//! Git access, through git2 only: finding the repository, keeping bosun's state out of it, and
//! the work the orchestrator does on a run's behalf — worktrees, commits, diffs and merges.
//!
//! Every function here blocks (the orchestrator calls them through `spawn_blocking`), opens the
//! repository afresh from a path, and never runs the `git` program.

mod checkout;
mod commit;
mod diff;
mod export;
mod merge;
mod partial;
mod push;
mod sides;
mod stat;
mod worktree;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use checkout::{current_branch, is_dirty};
pub use commit::{
    branch_at, candidate, commit_all, commit_file, commit_file_on, head, read_file, read_file_at,
    read_task_file_at, tip_of,
};
pub(crate) use diff::status_of;
pub(crate) use diff::tree_diff;
pub use diff::{ChangeStatus, DiffSummary, FileChange, diff};
pub use export::export_tree;
pub use merge::{
    LockFile, MergeMode, MergeOutcome, MergePlan, advance, clear_index_lock, clear_ref_lock,
    contains, merge, plan_merge, refollow,
};
pub use partial::{HunkRef, PartialError, PartialOutcome, kept_commit};
pub use push::{Pushed, check_push, push_commit, remote_url};
pub use sides::{FileSides, first_files};
pub use stat::StatCache;
pub use worktree::{
    Worktree, create_worktree, default_worktree_root, remove_worktree, stale_worktrees,
};

/// What went wrong talking to git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git2 reported an error (its message is the whole story, so it is not also a source).
    #[error("git: {0}")]
    Git(git2::Error),
    /// The repository has no working tree.
    #[error("{0} is a bare repository; bosun needs a working tree")]
    Bare(PathBuf),
    /// A file or directory (under `.git`, in a worktree or in a checkout) could not be read or
    /// written.
    #[error("cannot update {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The branch runs start from and merge into is missing.
    #[error("target branch `{0}` does not exist")]
    TargetMissing(String),
    /// A branch named by the caller (a run's branch, say) is missing.
    #[error("branch `{0}` does not exist")]
    BranchMissing(String),
    /// A run's branch cannot be made because one of that name is already there.
    #[error("branch `{0}` already exists; pick another name or delete it first")]
    BranchExists(String),
    /// A branch that was to be deleted is still checked out somewhere.
    #[error("branch `{branch}` is checked out at {}; it cannot be deleted", .path.display())]
    BranchCheckedOut {
        /// The branch.
        branch: String,
        /// The working tree that has it checked out.
        path: PathBuf,
    },
    /// A worktree cannot be made where something already lives.
    #[error("cannot create a worktree at {}: the path exists and is not an empty directory", .0.display())]
    PathNotEmpty(PathBuf),
    /// A path meant to name a file in the repository does not.
    #[error("`{}` is not a relative path inside the repository", .0.display())]
    InvalidPath(PathBuf),
    /// The target branch is checked out and the operator's uncommitted work is in the way.
    #[error(
        "the target branch `{branch}` is checked out at {} with uncommitted changes ({}); \
         commit or stash them, then approve again",
        .path.display(),
        path_list(.paths)
    )]
    Dirty {
        /// The branch that would have moved.
        branch: String,
        /// The working tree that has it checked out.
        path: PathBuf,
        /// The files in the way (tracked files with changes, or untracked files the new
        /// commit would overwrite), relative to `path`.
        paths: Vec<String>,
    },
    /// A run's checkout lost its `.git` (an agent deleted it): there is no workspace to review.
    #[error("the run's checkout at {} has no .git any more; the agent removed it", .0.display())]
    CheckoutGone(PathBuf),
    /// A run's branch no longer points at the commit that was reviewed; nothing was merged.
    #[error(
        "branch `{branch}` moved since its change was reviewed (reviewed {}, now {}); \
         nothing was merged — review the run again or reject it",
        short(.expected),
        short(.found)
    )]
    Moved {
        /// The run's branch.
        branch: String,
        /// The reviewed commit, as hex.
        expected: String,
        /// Where the branch points now, as hex.
        found: String,
    },
    /// The run's changes and the target branch's changes overlap; nothing was changed.
    #[error(
        "merging {source_branch} into {target} conflicts in {}; the run stays awaiting approval \
         — re-run the task or resolve by hand",
        path_list(.paths)
    )]
    Conflict {
        /// The branch being merged (the run's).
        source_branch: String,
        /// The branch merged into.
        target: String,
        /// The conflicting files.
        paths: Vec<String>,
    },
    /// The repository has no remote of that name.
    #[error("there is no git remote `{0}`; add it with `git remote add {0} <url>` or name another")]
    RemoteMissing(String),
    /// A commit named by the caller is not in the repository.
    #[error("commit `{0}` is not in the repository")]
    CommitMissing(String),
    /// A branch name that git does not accept.
    #[error("`{0}` is not a valid branch name")]
    InvalidBranchName(String),
    /// The remote's URL needs a transport this build of libgit2 lacks.
    #[error(
        "remote `{remote}` ({url}) needs {scheme}, which this build of bosun cannot speak; \
         use an http:// or file:// remote, or a bosun built with git2's {scheme} support"
    )]
    TransportUnsupported {
        /// The remote's name.
        remote: String,
        /// Its URL, without credentials.
        url: String,
        /// `HTTPS` or `SSH`.
        scheme: &'static str,
    },
    /// The remote asked for credentials and refused every one bosun could offer.
    #[error(
        "remote `{remote}` ({url}) refused the credentials bosun tried ({}); set up an SSH \
         agent (SSH remotes) or the token variable (HTTPS remotes)",
        tried_list(.tried)
    )]
    CredentialsRefused {
        /// The remote's name.
        remote: String,
        /// Its URL, without credentials.
        url: String,
        /// What was offered, in order (never the secret itself).
        tried: Vec<String>,
    },
    /// The remote (or libgit2, for a non-fast-forward) refused to update the branch.
    #[error("remote `{remote}` refused to update branch `{branch}`: {reason}")]
    PushRejected {
        /// The remote's name.
        remote: String,
        /// The branch on the remote.
        branch: String,
        /// The remote's reason and what it printed, secrets masked.
        reason: String,
    },
    /// Connecting to, or pushing to, the remote failed.
    #[error("cannot push to remote `{remote}` at {url}: {reason}")]
    RemoteFailed {
        /// The remote's name.
        remote: String,
        /// Its URL, without credentials.
        url: String,
        /// The transport's reason, secrets masked.
        reason: String,
    },
}

/// The credentials bosun offered, or a note that it had none.
fn tried_list(tried: &[String]) -> String {
    if tried.is_empty() {
        "none: no token was given".to_string()
    } else {
        tried.join(", ")
    }
}

/// The first 12 hex digits of a commit id.
fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The first few paths, comma-separated, with `…` when there are more.
fn path_list(paths: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut out = paths
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        out.push_str(", …");
    }
    out
}

impl From<git2::Error> for GitError {
    fn from(e: git2::Error) -> Self {
        Self::Git(e)
    }
}

/// A repository bosun works on.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The working tree's root.
    pub root: PathBuf,
    /// The common `.git` directory (shared by all worktrees).
    pub common_dir: PathBuf,
    /// The checked-out branch, if HEAD is on one.
    pub branch: Option<String>,
}

/// Finds the repository containing `start`; `Ok(None)` when `start` is not inside one.
pub fn discover(start: &Path) -> Result<Option<Repo>, GitError> {
    let repo = match git2::Repository::discover(start) {
        Ok(r) => r,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let root = repo
        .workdir()
        .ok_or_else(|| GitError::Bare(repo.path().to_path_buf()))?
        .to_path_buf();
    let branch = repo
        .head()
        .ok()
        .filter(git2::Reference::is_branch)
        .and_then(|h| h.shorthand().ok().map(str::to_string))
        .or_else(|| unborn_branch(&repo));
    Ok(Some(Repo {
        root: strip_trailing_separator(root),
        common_dir: repo.commondir().to_path_buf(),
        branch,
    }))
}

/// The branch HEAD points at in a repository with no commits yet.
fn unborn_branch(repo: &git2::Repository) -> Option<String> {
    let head = repo.find_reference("HEAD").ok()?;
    let target = head.symbolic_target().ok()??;
    target.strip_prefix("refs/heads/").map(str::to_string)
}

fn strip_trailing_separator(path: PathBuf) -> PathBuf {
    path.components().collect()
}

/// Opens the repository whose working tree (main or linked) is `root`.
fn open(root: &Path) -> Result<git2::Repository, GitError> {
    let repo = git2::Repository::open(root)?;
    if repo.is_bare() {
        return Err(GitError::Bare(repo.path().to_path_buf()));
    }
    Ok(repo)
}

/// A repository-relative path as git spells it (`/`-separated); rejects absolute paths and
/// `..`, which would name something outside the tree.
fn repo_path(rel: &Path) -> Result<String, GitError> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            // git2 panics on a NUL inside a path, so it is refused here.
            std::path::Component::Normal(p) => match p.to_str() {
                Some(p) if !p.contains('\0') => parts.push(p),
                _ => return Err(GitError::InvalidPath(rel.to_path_buf())),
            },
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir
            | std::path::Component::RootDir
            | std::path::Component::Prefix(_) => {
                return Err(GitError::InvalidPath(rel.to_path_buf()));
            }
        }
    }
    if parts.is_empty() {
        return Err(GitError::InvalidPath(rel.to_path_buf()));
    }
    Ok(parts.join("/"))
}

/// The commit at the tip of local branch `name`, or `missing(name)` when there is no such branch.
fn branch_tip<'r>(
    repo: &'r git2::Repository,
    name: &str,
    missing: fn(String) -> GitError,
) -> Result<git2::Commit<'r>, GitError> {
    match repo.find_branch(name, git2::BranchType::Local) {
        Ok(b) => Ok(b.get().peel_to_commit()?),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Err(missing(name.to_string())),
        Err(e) if e.code() == git2::ErrorCode::InvalidSpec => Err(missing(name.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// The names of `repo`'s linked worktrees (their admin entries, valid or not).
fn worktree_names(repo: &git2::Repository) -> Result<Vec<String>, GitError> {
    let names = repo.worktrees()?;
    Ok(names
        .iter_bytes()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect())
}

/// The author and committer of bosun's commits: the repository's `user.name`/`user.email`,
/// or `bosun <bosun@localhost>` when those are not set.
fn signature(repo: &git2::Repository) -> Result<git2::Signature<'static>, GitError> {
    match repo.signature() {
        Ok(sig) => Ok(sig),
        Err(_) => Ok(git2::Signature::now("bosun", "bosun@localhost")?),
    }
}

/// Adds `entry` (e.g. `/.bosun/`) to the repository's `info/exclude` unless a line already
/// says it. Returns whether the file was changed.
pub fn exclude(repo: &Repo, entry: &str) -> Result<bool, GitError> {
    let path = repo.common_dir.join("info").join("exclude");
    let io = |error| GitError::Io {
        path: path.clone(),
        error,
    };
    let existing = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(e)),
    };
    let bare = entry.trim_matches('/');
    if existing.lines().any(|l| l.trim().trim_matches('/') == bare) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io)?;
    let sep = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    write!(file, "{sep}# bosun's state (logs, store)\n{entry}\n").map_err(io)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_finds_root_and_branch_and_exclude_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("trunk");
        git2::Repository::init_opts(dir.path(), &opts).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let repo = discover(&dir.path().join("sub")).unwrap().unwrap();
        assert_eq!(
            repo.root.canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
        assert_eq!(repo.branch.as_deref(), Some("trunk"));
        assert!(exclude(&repo, "/.bosun/").unwrap());
        assert!(!exclude(&repo, "/.bosun/").unwrap());
        let text = std::fs::read_to_string(repo.common_dir.join("info/exclude")).unwrap();
        assert_eq!(text.matches("/.bosun/").count(), 1);

        let outside = tempfile::tempdir().unwrap();
        assert!(discover(outside.path()).unwrap().is_none());
    }

    #[test]
    fn path_lists_stay_short_and_repo_paths_stay_inside() {
        let paths: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        assert_eq!(path_list(&paths[..1]), "a");
        assert_eq!(path_list(&paths[..3]), "a, b, c");
        assert_eq!(path_list(&paths), "a, b, c, …");

        assert_eq!(
            repo_path(Path::new("./docs/TASKS.md")).unwrap(),
            "docs/TASKS.md"
        );
        for bad in ["../x", "/etc/passwd", "a/../../b", "", ".", "a\0b"] {
            assert!(
                matches!(repo_path(Path::new(bad)), Err(GitError::InvalidPath(_))),
                "{bad}"
            );
        }
    }
}

/// Points the branch ref `name` (`refs/heads/…`) at `id`, created or moved, retrying while
/// its directory vanishes under it: deleting the last branch under `refs/heads/bosun/` removes
/// that directory (libgit2 prunes empty ref directories), and a branch being created there at
/// that moment fails with "failed to create locked file … No such file or directory" (or, for
/// its reflog, "could not open … for writing"). Git itself retries the same way. A run's merge
/// deletes its branch while another run's candidate is committed, so bosun meets this race in
/// everyday use (the chaos test's kill-and-restart met it: a run failed for it).
pub(crate) fn write_branch<'r>(
    repo: &'r git2::Repository,
    name: &str,
    id: git2::Oid,
    log: &str,
) -> Result<git2::Reference<'r>, git2::Error> {
    let mut tries = 0;
    loop {
        match repo.reference(name, id, true, log) {
            // The ref's lock file or its reflog ("could not open … logs/refs/heads/bosun/x
            // for writing"): either way nothing was written, and writing again is safe.
            Err(e) if tries < 8 && e.class() == git2::ErrorClass::Os => {
                tries += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod race {
    use super::*;

    /// Two threads each create and delete a branch under `refs/heads/bosun/` over and over: each
    /// deletion may remove the directory the other is creating its ref in.
    fn churn(write: fn(&git2::Repository, &str, git2::Oid) -> Result<(), git2::Error>) -> usize {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo
            .find_tree(repo.index().unwrap().write_tree().unwrap())
            .unwrap();
        let id = repo.commit(None, &sig, &sig, "one", &tree, &[]).unwrap();
        let failures = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for who in ["a", "b"] {
                let (path, failures) = (dir.path(), &failures);
                s.spawn(move || {
                    let repo = git2::Repository::open(path).unwrap();
                    let name = format!("refs/heads/bosun/{who}");
                    for _ in 0..3000 {
                        match write(&repo, &name, id) {
                            Ok(()) => repo.find_reference(&name).unwrap().delete().unwrap(),
                            Err(_) => {
                                failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    }
                });
            }
        });
        failures.into_inner()
    }

    #[test]
    fn a_branch_is_written_while_another_branch_deletion_removes_its_directory() {
        let plain = churn(|repo, name, id| repo.reference(name, id, true, "t").map(drop));
        let retried = churn(|repo, name, id| write_branch(repo, name, id, "t").map(drop));
        eprintln!("failed writes: {plain} plain, {retried} retried");
        assert_eq!(retried, 0);
    }
}
