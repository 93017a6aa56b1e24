//! Git access, through git2 only: finding the repository and keeping bosun's state out of it.
//! (Worktrees, commits, diffs and merges arrive with the orchestrator.)

use std::io::Write;
use std::path::{Path, PathBuf};

/// What went wrong talking to git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git2 reported an error (its message is the whole story, so it is not also a source).
    #[error("git: {0}")]
    Git(git2::Error),
    /// The repository has no working tree.
    #[error("{0} is a bare repository; bosun needs a working tree")]
    Bare(PathBuf),
    /// A file under `.git` could not be read or written.
    #[error("cannot update {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
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
}
