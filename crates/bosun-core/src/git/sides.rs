//! The top of a large change, fast: the files of `base..head` in the order the parsed diff
//! lists them, with both sides' contents for the first few — enough for the review view to
//! draw its first screen while the whole change is still being parsed.

use std::path::Path;

use super::partial::change;
use super::{GitError, open};

/// One changed file with the content of each side (`None` where the file does not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSides {
    /// Path before the change (None for an added file).
    pub old_path: Option<String>,
    /// Path after the change (None for a deleted file).
    pub new_path: Option<String>,
    /// Content before.
    pub old: Option<Vec<u8>>,
    /// Content after.
    pub new: Option<Vec<u8>>,
}

/// The first files of the change `base..head` (renames found, as `diff::load` orders them),
/// read until `budget` bytes of content are read or `max_files` files; and how many files
/// the change has in all.
pub fn first_files(
    repo_root: &Path,
    base: &str,
    head: &str,
    max_files: usize,
    budget: usize,
) -> Result<(Vec<FileSides>, usize), GitError> {
    let repo = open(repo_root)?;
    let old = repo.revparse_single(base)?.peel_to_tree()?;
    let new = repo.revparse_single(head)?.peel_to_tree()?;
    let diff = change(&repo, &old, &new)?;
    let total = diff.deltas().len();
    let mut out = Vec::new();
    let mut read = 0usize;
    for delta in diff.deltas() {
        if out.len() >= max_files || read >= budget {
            break;
        }
        let name = |f: &git2::DiffFile<'_>| {
            f.path_bytes()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        };
        let blob = |f: &git2::DiffFile<'_>| -> Result<Option<Vec<u8>>, GitError> {
            if f.id().is_zero() || !f.exists() {
                return Ok(None);
            }
            Ok(Some(repo.find_blob(f.id())?.content().to_vec()))
        };
        let (old_file, new_file) = (delta.old_file(), delta.new_file());
        let sides = FileSides {
            old_path: (delta.status() != git2::Delta::Added)
                .then(|| name(&old_file))
                .flatten(),
            new_path: (delta.status() != git2::Delta::Deleted)
                .then(|| name(&new_file))
                .flatten(),
            old: blob(&old_file)?,
            new: blob(&new_file)?,
        };
        read += sides.old.as_ref().map_or(0, Vec::len) + sides.new.as_ref().map_or(0, Vec::len);
        out.push(sides);
    }
    Ok((out, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_files_come_in_diff_order_with_both_sides() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        let repo = git2::Repository::init_opts(dir.path(), &opts).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let commit = |files: &[(&str, &[u8])], parent: Option<git2::Oid>| {
            let mut b = repo.treebuilder(None).unwrap();
            for (p, bytes) in files {
                b.insert(p, repo.blob(bytes).unwrap(), 0o100644).unwrap();
            }
            let tree = repo.find_tree(b.write().unwrap()).unwrap();
            let parents: Vec<git2::Commit<'_>> = parent
                .iter()
                .map(|p| repo.find_commit(*p).unwrap())
                .collect();
            let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
            repo.commit(None, &sig, &sig, "m", &tree, &refs).unwrap()
        };
        let base = commit(&[("a", b"1\n"), ("b", b"2\n"), ("c", b"3\n")], None);
        let head = commit(&[("a", b"one\n"), ("c", b"3\n"), ("d", b"4\n")], Some(base));
        let (base, head) = (base.to_string(), head.to_string());
        let (files, total) = first_files(dir.path(), &base, &head, 10, 1 << 20).unwrap();
        assert_eq!(total, 3);
        /// Old path, new path, old content, new content.
        type Seen<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a [u8]>,
            Option<&'a [u8]>,
        );
        let seen: Vec<Seen<'_>> = files
            .iter()
            .map(|f| {
                (
                    f.old_path.as_deref(),
                    f.new_path.as_deref(),
                    f.old.as_deref(),
                    f.new.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (Some("a"), Some("a"), Some(&b"1\n"[..]), Some(&b"one\n"[..])),
                (Some("b"), None, Some(&b"2\n"[..]), None),
                (None, Some("d"), None, Some(&b"4\n"[..])),
            ]
        );
        let (files, total) = first_files(dir.path(), &base, &head, 1, 1 << 20).unwrap();
        assert_eq!((files.len(), total), (1, 3));
    }
}
