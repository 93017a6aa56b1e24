//! A plain copy of a commit's files outside the repository, kept up to date from one commit to
//! the next: gates that compare a change with its base run their command there. Files the
//! command made that git does not track (build output such as `target/`, caches) are left in
//! place, so a second base is usually an incremental build rather than a cold one.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{GitError, open};

/// The file in the export that names the commit it holds.
const MARKER: &str = ".bosun-export";

/// Makes `dest` hold exactly the tracked files of commit `rev` (a commit id or branch name) of
/// the repository at `repo_root`: files of the previous export that `rev` does not have are
/// removed, the others are written. Nothing in the repository (its index, its checkout) changes.
/// `dest` has no `.git`: commands run there see a plain directory tree.
pub fn export_tree(repo_root: &Path, rev: &str, dest: &Path) -> Result<(), GitError> {
    let repo = open(repo_root)?;
    let commit = repo.revparse_single(rev)?.peel_to_commit()?;
    let tree = commit.tree()?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| GitError::Io { path, error }
    };
    let marker = dest.join(MARKER);
    let previous = std::fs::read_to_string(&marker)
        .ok()
        .and_then(|id| git2::Oid::from_str(id.trim()).ok())
        .and_then(|id| repo.find_commit(id).ok());
    match previous {
        Some(prev) if prev.id() == commit.id() => {}
        Some(prev) => {
            // Remove what the new commit no longer has; the checkout below writes the rest.
            let diff = repo.diff_tree_to_tree(Some(&prev.tree()?), Some(&tree), None)?;
            for delta in diff.deltas() {
                if delta.status() == git2::Delta::Deleted
                    && let Some(old) = delta.old_file().path()
                {
                    let path = dest.join(old);
                    // Only inside the export: a directory of it that a command replaced with a
                    // symlink is not followed.
                    if !plain_dirs(dest, old) {
                        continue;
                    }
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io(&path)(e)),
                    }
                }
            }
        }
        None if dest.exists() => {
            // Not an export we know the state of: start over.
            std::fs::remove_dir_all(dest).map_err(io(dest))?;
        }
        None => {}
    }
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    // The marker goes first: a crash mid-checkout leaves an export that is redone from scratch.
    std::fs::remove_file(&marker)
        .or_else(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(io(&marker))?;
    // Written by hand rather than with a libgit2 checkout: with a target directory, a
    // checkout compares against the repository's own HEAD and skips files it believes
    // current, which in an export they need not be.
    let mut failure: Option<GitError> = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        let name = std::ffi::OsStr::from_bytes(entry.name_bytes());
        let path = dest.join(dir).join(name);
        let written = match entry.kind() {
            Some(git2::ObjectType::Blob) => make_dirs(dest, Path::new(dir))
                .map_err(|error| GitError::Io {
                    path: dest.join(dir),
                    error,
                })
                .and_then(|()| repo.find_blob(entry.id()).map_err(GitError::from))
                .and_then(|blob| write_entry(&path, blob.content(), entry.filemode())),
            _ => Ok(()),
        };
        match written {
            Ok(()) => git2::TreeWalkResult::Ok,
            Err(e) => {
                failure = Some(e);
                git2::TreeWalkResult::Abort
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    std::fs::write(&marker, commit.id().to_string()).map_err(io(&marker))?;
    Ok(())
}

/// Whether every directory between `dest` and the file `rel` is a real directory (no symlink).
fn plain_dirs(dest: &Path, rel: &Path) -> bool {
    let mut at = dest.to_path_buf();
    let parents: Vec<_> = rel
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    parents.into_iter().all(|c| {
        at.push(c);
        std::fs::symlink_metadata(&at).is_ok_and(|m| m.is_dir())
    })
}

/// Makes the directories `rel` under `dest` real directories: whatever is in the way — a file,
/// or a symlink a command run in the export put there to redirect bosun's writes — is removed
/// first, so the export never writes outside `dest`.
fn make_dirs(dest: &Path, rel: &Path) -> std::io::Result<()> {
    let mut at = dest.to_path_buf();
    for c in rel.components() {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                remove(&at)?;
                std::fs::create_dir(&at)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&at)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes `path` hold `content` with git's file mode `mode` (a symlink for 0o120000, executable
/// for 0o100755), writing only when it differs.
fn write_entry(path: &Path, content: &[u8], mode: i32) -> Result<(), GitError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |error| GitError::Io {
        path: path.to_path_buf(),
        error,
    };
    let meta = std::fs::symlink_metadata(path).ok();
    if mode == 0o120_000 {
        let target = Path::new(std::ffi::OsStr::from_bytes(content));
        if std::fs::read_link(path).is_ok_and(|t| t == target) {
            return Ok(());
        }
        if meta.is_some() {
            remove(path).map_err(io)?;
        }
        return std::os::unix::fs::symlink(target, path).map_err(io);
    }
    let executable = mode == 0o100_755;
    match &meta {
        Some(m) if m.is_file() => {
            let same = std::fs::read(path).is_ok_and(|old| old == content);
            if !same {
                std::fs::write(path, content).map_err(io)?;
            }
        }
        Some(_) => {
            remove(path).map_err(io)?;
            std::fs::write(path, content).map_err(io)?;
        }
        None => std::fs::write(path, content).map_err(io)?,
    }
    let perms = std::fs::metadata(path).map_err(io)?.permissions();
    let want = if executable { 0o755 } else { 0o644 };
    if perms.mode() & 0o777 != want {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(want)).map_err(io)?;
    }
    Ok(())
}

/// Removes a file, symlink or directory.
fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
