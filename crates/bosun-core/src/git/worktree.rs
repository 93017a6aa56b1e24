//! Run checkouts ("worktrees"): where they live, making one on a fresh branch, removing it, and
//! finding the ones a crash left behind. Each is a private repository borrowing the operator's
//! objects read-only, not a linked worktree of the operator's repository: an agent working in
//! it cannot move the operator's refs or write its hooks or config through git.
//!
//! Worktrees live outside the repository: one nested inside it makes cargo, npm and friends
//! find the parent project's manifest instead of the worktree's own.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StatCache;
use super::checkout::checkout_of;
use super::{GitError, branch_tip, open, worktree_names};

/// A run's worktree as made by [`create_worktree`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worktree {
    /// The worktree's directory (absolute).
    pub path: PathBuf,
    /// The run's branch, checked out in the worktree.
    pub branch: String,
    /// The commit the branch started at (the target branch's tip), as hex.
    pub base: String,
    /// The checkout's stat data before the agent started (see [`StatCache`]).
    #[serde(skip)]
    pub stat: StatCache,
}

/// Where bosun puts the worktrees of the repository at `repo_root`:
/// `$XDG_DATA_HOME/bosun/worktrees/<repo-dir-name>-<8 hex>` (`~/.local/share` when
/// `XDG_DATA_HOME` is unset), the hex being a hash of the canonical repository path so two
/// checkouts with the same name do not share a directory. Never inside the repository: when
/// the data directory is, the system temporary directory is used instead.
pub fn default_worktree_root(repo_root: &Path) -> PathBuf {
    let repo = canonical(repo_root);
    let name = repo
        .file_name()
        .map_or_else(|| "repo".to_string(), |n| n.to_string_lossy().into_owned());
    let digest = Sha256::digest(repo.as_os_str().as_encoded_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let leaf = format!("{name}-{hash}");
    let bases = [data_home(), Some(std::env::temp_dir())];
    for base in bases.into_iter().flatten() {
        if !canonical(&base).starts_with(&repo) {
            return base.join("bosun").join("worktrees").join(&leaf);
        }
    }
    // Both the data and the temporary directory are inside the repository: use its sibling.
    let parent = repo.parent().unwrap_or_else(|| Path::new("/"));
    parent.join(format!(".bosun-worktrees-{leaf}"))
}

/// `$XDG_DATA_HOME`, or `$HOME/.local/share`; relative values are ignored, as the XDG spec says.
fn data_home() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os("XDG_DATA_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".local").join("share"))
        })
}

/// Serializes changes to the repository's worktree administration (`.git/worktrees`) within
/// this process: runs start and end concurrently, and libgit2 does not lock it. Only old
/// linked worktrees (made by bosun before runs got private repositories) are still removed
/// through it.
static WORKTREE_ADMIN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Makes a run's checkout at `path` (its parent directories are created; `path` itself must be
/// missing or an empty directory): a **private repository** of its own, on a new branch
/// `branch` at the tip of `target_branch`, with the files of that commit checked out.
///
/// It shares nothing with the operator's repository that the agent could change: its own refs,
/// config, hooks and index; the operator's objects are borrowed read-only through
/// `objects/info/alternates` (new objects go to the private repository's own store), so
/// `git log`, `git diff` and `git commit` work as in any clone. Only `user.name`/`user.email`
/// of the repository's own config and its `info/exclude` are copied over. The operator's
/// repository is not written: the run's branch appears there only when bosun publishes the
/// run's candidate commit ([`super::candidate`]).
pub fn create_worktree(
    repo_root: &Path,
    path: &Path,
    branch: &str,
    target_branch: &str,
    ignored: &[String],
) -> Result<Worktree, GitError> {
    let repo = open(repo_root)?;
    let tip = branch_tip(&repo, target_branch, GitError::TargetMissing)?;
    let refname = format!("refs/heads/{branch}");
    if !git2::Reference::is_valid_name(&refname) {
        return Err(GitError::Git(git2::Error::from_str(&format!(
            "`{branch}` is not a valid branch name"
        ))));
    }
    match repo.find_branch(branch, git2::BranchType::Local) {
        Ok(_) => return Err(GitError::BranchExists(branch.to_string())),
        Err(e) if e.code() == git2::ErrorCode::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let path = std::path::absolute(path).map_err(|error| GitError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let io = |error| GitError::Io {
        path: path.clone(),
        error,
    };
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_dir() => {
            if std::fs::read_dir(&path).map_err(io)?.next().is_some() {
                return Err(GitError::PathNotEmpty(path));
            }
        }
        Ok(_) => return Err(GitError::PathNotEmpty(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&path).map_err(io)?;
        }
        Err(e) => return Err(io(e)),
    }
    let made = private_checkout(&repo, &path, &refname, tip.id(), ignored);
    if made.is_err() {
        // Nothing else was made: the directory was missing or empty.
        let _ = std::fs::remove_dir_all(&path);
    }
    Ok(Worktree {
        stat: made?,
        path,
        branch: branch.to_string(),
        base: tip.id().to_string(),
    })
}

/// Makes the private repository at `dir` (an existing empty directory) with `refname` at
/// `tip` (an object of `operator`'s) checked out, ignoring `ignored` (git patterns) besides
/// what the operator's repository ignores. Returns the checkout's stat data.
fn private_checkout(
    operator: &git2::Repository,
    dir: &Path,
    refname: &str,
    tip: git2::Oid,
    ignored: &[String],
) -> Result<StatCache, GitError> {
    let mut opts = git2::RepositoryInitOptions::new();
    opts.no_reinit(true)
        .mkdir(false)
        .external_template(false)
        .initial_head(refname);
    let private = git2::Repository::init_opts(dir, &opts)?;
    let git_dir = private.path().to_path_buf();
    let write = |rel: &str, text: &str| -> Result<(), GitError> {
        let file = git_dir.join(rel);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|error| GitError::Io {
                path: parent.to_path_buf(),
                error,
            })?;
        }
        std::fs::write(&file, text).map_err(|error| GitError::Io { path: file, error })
    };
    let objects = canonical(&operator.commondir().join("objects"));
    write(
        "objects/info/alternates",
        &format!("{}\n", objects.display()),
    )?;
    {
        // The operator's ignores, and the agent's own bookkeeping files.
        let mut exclude =
            std::fs::read_to_string(operator.commondir().join("info").join("exclude"))
                .unwrap_or_default();
        if !ignored.is_empty() {
            if !exclude.is_empty() && !exclude.ends_with('\n') {
                exclude.push('\n');
            }
            exclude.push_str("# the agent's own files (bosun)\n");
            for pattern in ignored {
                exclude.push_str(pattern);
                exclude.push('\n');
            }
        }
        if !exclude.is_empty() {
            write("info/exclude", &exclude)?;
        }
    }
    {
        let mut config = private.config()?.open_level(git2::ConfigLevel::Local)?;
        if let Ok(local) = operator.config()?.open_level(git2::ConfigLevel::Local) {
            for key in ["user.name", "user.email"] {
                if let Ok(value) = local.get_string(key) {
                    config.set_str(key, &value)?;
                }
            }
        }
    }
    drop(private);
    // Opened again so the object database reads the alternates written above.
    let private = git2::Repository::open(dir)?;
    let commit = private.find_commit(tip)?;
    private.reference(refname, tip, false, "bosun: the run's base")?;
    private.set_head(refname)?;
    let mut checkout = git2::build::CheckoutBuilder::new();
    checkout.force();
    private.checkout_tree(commit.as_object(), Some(&mut checkout))?;
    Ok(StatCache::after_checkout(&private))
}

/// Removes the worktree at `path`: its directory and its admin entry in the repository. Then
/// deletes `delete_branch` when given (refusing if it is checked out anywhere). Anything already
/// gone is fine, so a second call does nothing.
pub fn remove_worktree(
    repo_root: &Path,
    path: &Path,
    delete_branch: Option<&str>,
) -> Result<(), GitError> {
    let _serial = WORKTREE_ADMIN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let repo = open(repo_root)?;
    let wanted = canonical(path);
    let mut registered = None;
    for name in worktree_names(&repo)? {
        if let Ok(wt) = repo.find_worktree(&name)
            && canonical(wt.path()) == wanted
        {
            registered = Some(wt);
            break;
        }
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(GitError::Io {
                path: path.to_path_buf(),
                error,
            });
        }
    }
    if let Some(wt) = registered {
        let mut opts = git2::WorktreePruneOptions::new();
        opts.valid(true).working_tree(false);
        wt.prune(Some(&mut opts))?;
    }
    if let Some(branch) = delete_branch {
        match repo.find_branch(branch, git2::BranchType::Local) {
            Ok(mut b) => {
                if let Some(at) = checkout_of(&repo, branch)? {
                    return Err(GitError::BranchCheckedOut {
                        branch: branch.to_string(),
                        path: at,
                    });
                }
                b.delete()?;
            }
            Err(e) if e.code() == git2::ErrorCode::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Worktrees under `root` (bosun's worktree directory for this repository): the ones registered
/// in the repository, and directories directly under `root` that are no longer registered
/// (except ones that belong to another repository). Paths are spelled under `root` as given,
/// sorted. The caller removes those no live run owns.
pub fn stale_worktrees(repo_root: &Path, root: &Path) -> Result<Vec<PathBuf>, GitError> {
    let repo = open(repo_root)?;
    let root_canonical = canonical(root);
    let under_root = |p: &Path| -> Option<PathBuf> {
        let rest = p.strip_prefix(&root_canonical).ok()?;
        (!rest.as_os_str().is_empty()).then(|| root.join(rest))
    };

    let mut found = Vec::new();
    let mut registered = HashSet::new();
    for name in worktree_names(&repo)? {
        let Ok(wt) = repo.find_worktree(&name) else {
            continue;
        };
        let path = canonical(wt.path());
        if let Some(p) = under_root(&path) {
            found.push(p);
        }
        registered.insert(path);
    }

    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return finish(found),
        Err(error) => {
            return Err(GitError::Io {
                path: root.to_path_buf(),
                error,
            });
        }
    };
    let common = canonical(repo.commondir());
    for entry in entries {
        let entry = entry.map_err(|error| GitError::Io {
            path: root.to_path_buf(),
            error,
        })?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let path = entry.path();
        if is_dir && !registered.contains(&canonical(&path)) && !owned_elsewhere(&path, &common) {
            found.push(root.join(entry.file_name()));
        }
    }
    finish(found)
}

fn finish(mut paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, GitError> {
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// Whether `dir` is a live worktree of a repository other than the one at `common_dir` (its
/// `.git` file points at an admin directory that exists elsewhere), or a private run checkout
/// that borrows another repository's objects. Such a directory is not ours to remove, even
/// under our root.
fn owned_elsewhere(dir: &Path, common_dir: &Path) -> bool {
    let alternates = dir
        .join(".git")
        .join("objects")
        .join("info")
        .join("alternates");
    if let Ok(text) = std::fs::read_to_string(&alternates) {
        let ours = canonical(&common_dir.join("objects"));
        return text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .any(|l| {
                let theirs = Path::new(l);
                theirs.exists() && canonical(theirs) != ours
            });
    }
    let Ok(text) = std::fs::read_to_string(dir.join(".git")) else {
        return false;
    };
    let Some(gitdir) = text.trim().strip_prefix("gitdir:") else {
        return false;
    };
    let gitdir = dir.join(gitdir.trim());
    gitdir.exists() && !canonical(&gitdir).starts_with(common_dir)
}

/// `path` with symlinks resolved as far as it exists (its missing tail kept as written), so
/// paths can be compared whether or not the directory is still there.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut missing = Vec::new();
    let mut existing = absolute.as_path();
    while let Some(parent) = existing.parent() {
        if let Some(name) = existing.file_name() {
            missing.push(name.to_os_string());
        }
        existing = parent;
        if let Ok(mut p) = existing.canonicalize() {
            p.extend(missing.iter().rev());
            return p;
        }
    }
    absolute.components().collect()
}
