//! The parsed diff the review view, the semantic analysis and the risk rules work on: files
//! (paths, status, binary, mode change), their hunks, and every line with its old and new
//! line numbers. Built from git2 patches, never by running `git`: [`load`] for two commits of
//! a repository, [`from_texts`] for two versions of one file held in memory (tests, fuzzing).

use std::path::Path;

use crate::git::{ChangeStatus, GitError};

pub use crate::model::{Diff, FileDiff, Hunk, Line, LineKind};

/// The first files of the diff `base..head` — at most `max_files`, until `budget` bytes of
/// content are read — for a first screen that does not wait for a large change to be parsed
/// whole; and how many files the change has in all (more than `diff.files.len()` when cut).
pub fn first(
    repo_root: &Path,
    base: &str,
    head: &str,
    max_files: usize,
    budget: usize,
) -> Result<(Diff, usize), GitError> {
    let (sides, total) = crate::git::first_files(repo_root, base, head, max_files, budget)?;
    let mut files = Vec::with_capacity(sides.len());
    for f in &sides {
        files.push(from_texts(
            f.old_path.as_deref(),
            f.old.as_deref(),
            f.new_path.as_deref(),
            f.new.as_deref(),
        )?);
    }
    Ok((Diff { files }, total))
}

/// The diff from `base` to `head` (commit ids or branch names) of the repository at
/// `repo_root`, with renames detected, three lines of context.
pub fn load(repo_root: &Path, base: &str, head: &str) -> Result<Diff, GitError> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    load_on(repo_root, base, head, threads)
}

/// [`load`] on at most `threads` threads.
fn load_on(repo_root: &Path, base: &str, head: &str, threads: usize) -> Result<Diff, GitError> {
    let repo = git2::Repository::open(repo_root)?;
    // Named once: a branch that moves meanwhile (a merge into the target) must not give the
    // threads below two different changes to read.
    let base = repo.revparse_single(base)?.id().to_string();
    let head = repo.revparse_single(head)?.id().to_string();
    let (base, head) = (base.as_str(), head.as_str());
    let diff = crate::git::tree_diff(&repo, base, head)?;
    let count = diff.deltas().len();
    if count < PARALLEL_FILES || threads < 2 {
        let mut files = Vec::with_capacity(count);
        for idx in 0..count {
            files.extend(patch(&diff, idx)?);
        }
        return Ok(Diff { files });
    }
    // A large change: each file's patch (reading both blobs, diffing their lines) is
    // independent. Libgit2's diff cannot be shared between threads, so each helper opens the
    // repository and lists the same deltas (a cheap tree comparison) and they take the next
    // file in turn.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take = |diff: &git2::Diff<'_>| -> Result<Vec<(usize, FileDiff)>, GitError> {
        let mut mine = Vec::new();
        loop {
            let idx = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if idx >= count {
                return Ok(mine);
            }
            mine.extend(patch(diff, idx)?.map(|f| (idx, f)));
        }
    };
    let mut done: Vec<(usize, FileDiff)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads)
            .map(|_| {
                scope.spawn(|| {
                    let repo = git2::Repository::open(repo_root)?;
                    let diff = crate::git::tree_diff(&repo, base, head)?;
                    if diff.deltas().len() != count {
                        return Err(GitError::Git(git2::Error::from_str(
                            "the change's files differ between two reads of it",
                        )));
                    }
                    take(&diff)
                })
            })
            .collect();
        let mut all = take(&diff)?;
        for helper in helpers {
            let theirs = helper
                .join()
                .map_err(|_| GitError::Git(git2::Error::from_str("a diff reader failed")))??;
            all.extend(theirs);
        }
        Ok::<_, GitError>(all)
    })?;
    done.sort_unstable_by_key(|(idx, _)| *idx);
    Ok(Diff {
        files: done.into_iter().map(|(_, f)| f).collect(),
    })
}

/// Changes with at least this many files are read on every core ([`load`]); smaller ones
/// take less than the threads cost to start.
const PARALLEL_FILES: usize = 64;

/// The diff of the `idx`-th file of `diff` (None when libgit2 makes no patch of it).
fn patch(diff: &git2::Diff<'_>, idx: usize) -> Result<Option<FileDiff>, GitError> {
    git2::Patch::from_diff(diff, idx)?
        .map(|p| file_diff(&p))
        .transpose()
}

/// The diff of one file between two versions held in memory (`None`: the file does not
/// exist on that side). Nothing touches a repository.
pub fn from_texts(
    old_path: Option<&str>,
    old: Option<&[u8]>,
    new_path: Option<&str>,
    new: Option<&[u8]>,
) -> Result<FileDiff, GitError> {
    let mut opts = git2::DiffOptions::new();
    opts.context_lines(3).indent_heuristic(true);
    let patch = git2::Patch::from_buffers(
        old.unwrap_or_default(),
        old_path.map(Path::new),
        new.unwrap_or_default(),
        new_path.map(Path::new),
        Some(&mut opts),
    )?;
    let mut file = file_diff(&patch)?;
    // Buffers have no "missing" state: say which side is absent ourselves.
    file.status = match (old, new) {
        (None, Some(_)) => ChangeStatus::Added,
        (Some(_), None) => ChangeStatus::Deleted,
        _ if old_path != new_path => ChangeStatus::Renamed,
        _ => ChangeStatus::Modified,
    };
    if old.is_none() {
        file.old_path = None;
    }
    if new.is_none() {
        file.new_path = None;
    }
    Ok(file)
}

fn file_diff(patch: &git2::Patch<'_>) -> Result<FileDiff, GitError> {
    let delta = patch.delta();
    let status = crate::git::status_of(delta.status());
    let name = |f: &git2::DiffFile<'_>| {
        f.path_bytes()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    };
    let (old_file, new_file) = (delta.old_file(), delta.new_file());
    let old_path = (status != ChangeStatus::Added)
        .then(|| name(&old_file))
        .flatten();
    let new_path = (status != ChangeStatus::Deleted)
        .then(|| name(&new_file))
        .flatten();
    let binary = delta.flags().is_binary() || old_file.is_binary() || new_file.is_binary();
    let (old_mode, new_mode) = (u32::from(old_file.mode()), u32::from(new_file.mode()));
    let mode_change = (status == ChangeStatus::Modified || status == ChangeStatus::Renamed)
        .then_some((old_mode, new_mode))
        .filter(|(a, b)| a != b && *a != 0 && *b != 0);
    let mut hunks = Vec::with_capacity(patch.num_hunks());
    if !binary {
        for h in 0..patch.num_hunks() {
            let (hunk, count) = patch.hunk(h)?;
            let header = String::from_utf8_lossy(hunk.header());
            let header = header
                .splitn(3, "@@")
                .nth(2)
                .unwrap_or_default()
                .trim()
                .to_string();
            let mut lines: Vec<Line> = Vec::with_capacity(count);
            for l in 0..count {
                let line = patch.line_in_hunk(h, l)?;
                let kind = match line.origin() {
                    '+' => LineKind::Added,
                    '-' => LineKind::Removed,
                    ' ' => LineKind::Context,
                    // '=', '>', '<': "no newline at end of file" markers for the line before.
                    _ => {
                        if let Some(last) = lines.last_mut() {
                            last.no_newline = true;
                        }
                        continue;
                    }
                };
                let mut text = String::from_utf8_lossy(line.content()).into_owned();
                if text.ends_with('\n') {
                    text.pop();
                }
                lines.push(Line {
                    kind,
                    old_no: line.old_lineno(),
                    new_no: line.new_lineno(),
                    text,
                    no_newline: false,
                });
            }
            hunks.push(Hunk {
                old_start: hunk.old_start(),
                old_lines: hunk.old_lines(),
                new_start: hunk.new_start(),
                new_lines: hunk.new_lines(),
                header,
                lines,
            });
        }
    }
    Ok(FileDiff {
        old_path,
        new_path,
        status,
        binary,
        mode_change,
        hunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kind, old number, new number, text, no newline at end.
    type Row<'a> = (LineKind, Option<u32>, Option<u32>, &'a str, bool);

    fn lines(f: &FileDiff) -> Vec<Row<'_>> {
        f.hunks
            .iter()
            .flat_map(|h| &h.lines)
            .map(|l| (l.kind, l.old_no, l.new_no, l.text.as_str(), l.no_newline))
            .collect()
    }

    /// A large change read on three threads is the same diff, in the same order, as read on
    /// one: modified, added, deleted, renamed and binary files.
    #[test]
    fn a_large_change_reads_the_same_on_several_threads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .current_dir(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
                .args(args)
                .output()
                .expect("git runs");
            assert!(ok.status.success(), "git {args:?}");
            String::from_utf8_lossy(&ok.stdout).trim().to_string()
        };
        git(&["init", "-q", "-b", "main"]);
        let body = |i: usize, v: &str| -> String {
            (0..40).map(|l| format!("line {l} of {i}{v}\n")).collect()
        };
        for i in 0..PARALLEL_FILES + 20 {
            std::fs::write(dir.path().join(format!("f{i}.txt")), body(i, "")).expect("write");
        }
        std::fs::write(dir.path().join("gone.txt"), body(1000, "")).expect("write");
        std::fs::write(dir.path().join("old-name.txt"), body(1001, "")).expect("write");
        std::fs::write(dir.path().join("blob.bin"), [0u8, 1, 2, 0, 3]).expect("write");
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "base"]);
        let base = git(&["rev-parse", "HEAD"]);
        for i in 0..PARALLEL_FILES + 20 {
            std::fs::write(dir.path().join(format!("f{i}.txt")), body(i, " changed"))
                .expect("write");
        }
        std::fs::remove_file(dir.path().join("gone.txt")).expect("rm");
        std::fs::rename(
            dir.path().join("old-name.txt"),
            dir.path().join("new-name.txt"),
        )
        .expect("mv");
        std::fs::write(dir.path().join("added.txt"), "new\n").expect("write");
        std::fs::write(dir.path().join("blob.bin"), [0u8, 9, 9, 0]).expect("write");
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "head"]);
        let head = git(&["rev-parse", "HEAD"]);

        let one = load_on(dir.path(), &base, &head, 1).expect("one thread");
        let three = load_on(dir.path(), &base, &head, 3).expect("three threads");
        assert!(one.files.len() > PARALLEL_FILES, "{}", one.files.len());
        assert_eq!(one, three);
        let status = |p: &str| {
            one.files
                .iter()
                .find(|f| f.path() == p)
                .map(|f| (f.status, f.binary))
        };
        assert_eq!(status("new-name.txt"), Some((ChangeStatus::Renamed, false)));
        assert_eq!(status("gone.txt"), Some((ChangeStatus::Deleted, false)));
        assert_eq!(status("blob.bin"), Some((ChangeStatus::Modified, true)));
    }

    #[test]
    fn lines_carry_both_numbers_and_the_missing_final_newline() {
        let f = from_texts(
            Some("a.rs"),
            Some(b"one\ntwo\nthree"),
            Some("a.rs"),
            Some(b"one\n2\nthree\nfour"),
        )
        .unwrap();
        assert_eq!(f.status, ChangeStatus::Modified);
        use LineKind::*;
        assert_eq!(
            lines(&f),
            [
                (Context, Some(1), Some(1), "one", false),
                (Removed, Some(2), None, "two", false),
                (Removed, Some(3), None, "three", true),
                (Added, None, Some(2), "2", false),
                (Added, None, Some(3), "three", false),
                (Added, None, Some(4), "four", true),
            ]
        );
        assert_eq!((f.insertions(), f.deletions()), (3, 2));
        let h = &f.hunks[0];
        assert_eq!(
            (h.old_start, h.old_lines, h.new_start, h.new_lines),
            (1, 3, 1, 4)
        );
    }

    #[test]
    fn crlf_is_kept_and_added_and_deleted_files_have_one_side() {
        let f = from_texts(None, None, Some("w.bat"), Some(b"echo\r\nexit\r\n")).unwrap();
        assert_eq!(f.status, ChangeStatus::Added);
        assert_eq!((f.old_path.as_deref(), f.path()), (None, "w.bat"));
        assert_eq!(lines(&f)[0].3, "echo\r");
        assert_eq!(f.hunks[0].old_start, 0);
        let f = from_texts(Some("x"), Some(b"gone\n"), None, None).unwrap();
        assert_eq!(f.status, ChangeStatus::Deleted);
        assert_eq!(f.path(), "x");
        assert_eq!(f.deletions(), 1);
    }

    #[test]
    fn hunk_header_keeps_gits_function_context() {
        let old: String = (1..=20).map(|i| format!("    line {i}\n")).collect();
        let old = format!("fn main() {{\n{old}}}\n");
        let new = old.replace("line 15", "line fifteen");
        let f = from_texts(
            Some("m.rs"),
            Some(old.as_bytes()),
            Some("m.rs"),
            Some(new.as_bytes()),
        )
        .unwrap();
        assert_eq!(f.hunks.len(), 1);
        assert_eq!(f.hunks[0].header, "fn main() {");
    }
}
