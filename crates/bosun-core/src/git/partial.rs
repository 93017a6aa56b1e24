//! Approving part of a run: the reverse of the hunks the operator deselected is committed on
//! top of the reviewed commit, so that merging that commit brings in only the hunks that were
//! kept. The commit is made without moving anything: the gates check it first.
//!
//! Hunks are numbered as [`crate::diff::load`] numbers them (same diff options, same file
//! order): a file's hunks in order from 0. A file with no text hunks — binary, or only renamed
//! or re-moded — is one unit, number 0. A file none of whose units is kept goes back to what it
//! was at the base commit (an added file disappears, a deleted or renamed one comes back under
//! its old path); a file with some hunks kept gets the base text with just those hunks applied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{GitError, branch_tip, open, signature};

pub use crate::model::HunkRef;

/// Why part of a change could not be approved.
#[derive(Debug, thiserror::Error)]
pub enum PartialError {
    /// Git failed, or the run's worktree has uncommitted changes in the way.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The run's branch is no longer at the commit the operator reviewed.
    #[error(
        "branch `{branch}` moved since the review (it is at {found}, the review showed {reviewed}); \
         open the run again and choose the hunks again"
    )]
    Moved {
        /// The run's branch.
        branch: String,
        /// The commit that was reviewed.
        reviewed: String,
        /// Where the branch is now.
        found: String,
    },
    /// A selected hunk is not part of the change.
    #[error("the change has no hunk {0}; open the run again and choose the hunks again")]
    UnknownHunk(HunkRef),
    /// Nothing was selected.
    #[error("no hunk is selected; select at least one, or reject the run")]
    NothingKept,
}

impl From<git2::Error> for PartialError {
    fn from(e: git2::Error) -> Self {
        Self::Git(e.into())
    }
}

/// What [`drop_hunks`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialOutcome {
    /// The run branch's tip before (the reviewed head), as hex.
    pub previous: String,
    /// Its tip now: the commit that reverses the dropped hunks, or `previous` when every hunk
    /// was kept.
    pub commit: String,
    /// Hunks (units) in the change.
    pub total: usize,
    /// The hunks reversed, in file and hunk order.
    pub dropped: Vec<HunkRef>,
}

impl PartialOutcome {
    /// `approved 3 of 5 hunks; dropped: src/a.rs#2, src/b.rs#1`, or `approved all 5 hunks`.
    pub fn describe(&self) -> String {
        if self.dropped.is_empty() {
            return format!("approved all {} hunks", self.total);
        }
        let dropped: Vec<String> = self.dropped.iter().map(ToString::to_string).collect();
        format!(
            "approved {} of {} hunks; dropped: {}",
            self.total - self.dropped.len(),
            self.total,
            dropped.join(", ")
        )
    }
}

/// The diff of a run as [`crate::diff::load`] makes it (three lines of context, indent
/// heuristic, renames found): hunk numbers must mean the same thing on both sides.
pub(super) fn change<'r>(
    repo: &'r git2::Repository,
    base: &git2::Tree<'_>,
    head: &git2::Tree<'_>,
) -> Result<git2::Diff<'r>, git2::Error> {
    let mut opts = git2::DiffOptions::new();
    opts.context_lines(3).indent_heuristic(true);
    let mut diff = repo.diff_tree_to_tree(Some(base), Some(head), Some(&mut opts))?;
    let mut find = git2::DiffFindOptions::new();
    find.renames(true);
    diff.find_similar(Some(&mut find))?;
    Ok(diff)
}

/// A tree entry to write (`None`: remove the path).
type Entry = Option<(git2::Oid, i32)>;

/// Makes, in the object database only, the commit that keeps just the hunks of the change
/// `base..head` listed in `keep`: a child of `head` that reverses every other hunk, with
/// `message` (to which the list of dropped hunks is added). Branch `branch` must still be at
/// `head` (the commit the operator reviewed); nothing moves — no ref, no checkout — so the
/// commit can be checked by the gates before anything is merged. Nothing is made when every
/// hunk is kept (`commit` is then `head`).
pub fn kept_commit(
    repo_root: &Path,
    branch: &str,
    base: &str,
    head: &str,
    keep: &[HunkRef],
    message: &str,
) -> Result<PartialOutcome, PartialError> {
    if keep.is_empty() {
        return Err(PartialError::NothingKept);
    }
    let repo = open(repo_root)?;
    let tip = branch_tip(&repo, branch, GitError::BranchMissing)?;
    let reviewed = repo.revparse_single(head)?.peel_to_commit()?;
    if tip.id() != reviewed.id() {
        return Err(PartialError::Moved {
            branch: branch.to_string(),
            reviewed: reviewed.id().to_string(),
            found: tip.id().to_string(),
        });
    }
    let base_tree = repo.revparse_single(base)?.peel_to_tree()?;
    let head_tree = tip.tree()?;
    let diff = change(&repo, &base_tree, &head_tree)?;

    let keep: BTreeSet<(&str, usize)> = keep.iter().map(|h| (h.path.as_str(), h.hunk)).collect();
    let mut known: BTreeSet<(String, usize)> = BTreeSet::new();
    let mut total = 0;
    let mut dropped = Vec::new();
    // Path → what to write; a restore of a base file wins over a removal of the same path
    // (both mean "as at the base").
    let mut updates: BTreeMap<String, Entry> = BTreeMap::new();
    for idx in 0..diff.deltas().len() {
        let delta = diff.get_delta(idx).ok_or_else(|| {
            GitError::Git(git2::Error::from_str(
                "a diff delta vanished while reading it",
            ))
        })?;
        let name = |f: &git2::DiffFile<'_>| {
            f.path_bytes()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        };
        let old_path = (delta.status() != git2::Delta::Added)
            .then(|| name(&delta.old_file()))
            .flatten();
        let new_path = (delta.status() != git2::Delta::Deleted)
            .then(|| name(&delta.new_file()))
            .flatten();
        let Some(path) = new_path.clone().or_else(|| old_path.clone()) else {
            continue;
        };
        let patch = git2::Patch::from_diff(&diff, idx)?;
        let binary = delta.flags().is_binary();
        let hunks = match &patch {
            Some(p) if !binary => p.num_hunks(),
            _ => 0,
        };
        let units = hunks.max(1);
        total += units;
        let kept: Vec<bool> = (0..units)
            .map(|h| keep.contains(&(path.as_str(), h)))
            .collect();
        for (h, k) in kept.iter().enumerate() {
            known.insert((path.clone(), h));
            if !k {
                dropped.push(HunkRef::new(path.clone(), h));
            }
        }
        if kept.iter().all(|k| *k) {
            continue;
        }
        if kept.iter().all(|k| !*k) {
            // The whole file goes back to the base.
            if let Some(p) = &new_path {
                updates.entry(p.clone()).or_insert(None);
            }
            if let Some(p) = &old_path {
                let old = delta.old_file();
                updates.insert(p.clone(), Some((old.id(), i32::from(old.mode()))));
            }
            continue;
        }
        // Some hunks kept (so the file has text hunks on both sides of the choice).
        let Some(patch) = &patch else { continue };
        let old = match &old_path {
            Some(_) => repo.find_blob(delta.old_file().id())?.content().to_vec(),
            None => Vec::new(),
        };
        let text = apply(&old, patch, &kept)?;
        let blob = repo.blob(&text)?;
        let new = delta.new_file();
        if let Some(p) = &new_path {
            updates.insert(p.clone(), Some((blob, i32::from(new.mode()))));
        }
    }
    if let Some(unknown) = keep
        .iter()
        .find(|(p, h)| !known.contains(&(p.to_string(), *h)))
        .map(|(p, h)| HunkRef::new(*p, *h))
    {
        return Err(PartialError::UnknownHunk(unknown));
    }
    if dropped.is_empty() {
        return Ok(PartialOutcome {
            previous: tip.id().to_string(),
            commit: tip.id().to_string(),
            total,
            dropped,
        });
    }

    let mut builder = git2::build::TreeUpdateBuilder::new();
    for (path, entry) in &updates {
        match entry {
            Some((id, mode)) => {
                let mode = [
                    git2::FileMode::BlobExecutable,
                    git2::FileMode::Link,
                    git2::FileMode::Commit,
                ]
                .into_iter()
                .find(|m| i32::from(*m) == *mode)
                .unwrap_or(git2::FileMode::Blob);
                builder.upsert(path.as_str(), *id, mode);
            }
            None => {
                builder.remove(path.as_str());
            }
        }
    }
    let tree = repo.find_tree(builder.create_updated(&repo, &head_tree)?)?;
    let outcome = PartialOutcome {
        previous: tip.id().to_string(),
        commit: String::new(),
        total,
        dropped,
    };
    let text = format!(
        "{}\n\n{}\n",
        message.trim_end(),
        outcome
            .describe()
            .replacen("; dropped: ", "\n\nDropped hunks (reversed here): ", 1)
    );
    let sig = signature(&repo)?;
    let id = repo.commit(None, &sig, &sig, &text, &tree, &[&tip])?;
    Ok(PartialOutcome {
        commit: id.to_string(),
        ..outcome
    })
}

/// The base text `old` with the kept hunks of `patch` applied: kept hunks contribute their
/// new side, dropped ones their old side, and the lines between hunks are copied. Byte-exact:
/// line endings and a missing final newline come from the patch's own lines.
fn apply(old: &[u8], patch: &git2::Patch<'_>, kept: &[bool]) -> Result<Vec<u8>, git2::Error> {
    let lines: Vec<&[u8]> = old.split_inclusive(|b| *b == b'\n').collect();
    let mut out = Vec::with_capacity(old.len());
    let mut next = 0usize; // the next old line (0-based) not yet copied or consumed
    for h in 0..patch.num_hunks() {
        let (hunk, count) = patch.hunk(h)?;
        let old_start = hunk.old_start() as usize;
        // `-3,0` inserts after old line 3; `-3,2` replaces from old line 3.
        let before = if hunk.old_lines() == 0 {
            old_start
        } else {
            old_start.saturating_sub(1)
        };
        for line in lines.iter().take(before).skip(next) {
            out.extend_from_slice(line);
        }
        next = next.max(before);
        let keep = kept.get(h).copied().unwrap_or(true);
        for l in 0..count {
            let line = patch.line_in_hunk(h, l)?;
            let wanted = match line.origin() {
                ' ' => true,
                '+' => keep,
                '-' => !keep,
                // '=', '>', '<': "no newline at end of file" markers, not content.
                _ => false,
            };
            if wanted {
                out.extend_from_slice(line.content());
            }
        }
        next += hunk.old_lines() as usize;
    }
    for line in lines.iter().skip(next) {
        out.extend_from_slice(line);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A repository whose `main` holds `files`; returns it and its path's guard.
    fn repo_with(files: &[(&str, &[u8])]) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        let repo = git2::Repository::init_opts(dir.path(), &opts).unwrap();
        let id = commit(&repo, None, files, &[], "base");
        (dir, id)
    }

    /// Commits on `main` the tree of its tip (or an empty one) with `files` written and
    /// `removed` gone; the working tree follows.
    fn commit(
        repo: &git2::Repository,
        parent: Option<&str>,
        files: &[(&str, &[u8])],
        removed: &[&str],
        message: &str,
    ) -> String {
        let parent = parent.map(|p| repo.find_commit(git2::Oid::from_str(p).unwrap()).unwrap());
        let mut b = git2::build::TreeUpdateBuilder::new();
        for (path, bytes) in files {
            let blob = repo.blob(bytes).unwrap();
            b.upsert(*path, blob, git2::FileMode::Blob);
        }
        for path in removed {
            b.remove(*path);
        }
        let base = match &parent {
            Some(p) => p.tree().unwrap(),
            None => repo
                .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
                .unwrap(),
        };
        let tree = repo
            .find_tree(b.create_updated(repo, &base).unwrap())
            .unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let id = repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap();
        let mut co = git2::build::CheckoutBuilder::new();
        co.force();
        repo.checkout_head(Some(&mut co)).unwrap();
        id.to_string()
    }

    fn numbered(n: usize, changed: &[usize]) -> Vec<u8> {
        (1..=n)
            .map(|i| {
                if changed.contains(&i) {
                    format!("line {i} changed\n")
                } else {
                    format!("line {i}\n")
                }
            })
            .collect::<String>()
            .into_bytes()
    }

    fn file_at(root: &Path, rev: &str, path: &str) -> Option<Vec<u8>> {
        crate::git::read_file_at(root, rev, Path::new(path)).unwrap()
    }

    #[test]
    fn keeping_one_of_three_hunks_across_two_files_leaves_only_it() {
        let (dir, base) = repo_with(&[("a.rs", &numbered(40, &[])), ("b.rs", &numbered(10, &[]))]);
        let root = dir.path();
        let repo = git2::Repository::open(root).unwrap();
        let head = commit(
            &repo,
            Some(&base),
            &[
                ("a.rs", &numbered(40, &[3, 30])),
                ("b.rs", &numbered(10, &[5])),
            ],
            &[],
            "agent",
        );
        let before = crate::diff::load(root, &base, &head).unwrap();
        let hunks: Vec<usize> = before.files.iter().map(|f| f.hunks.len()).collect();
        assert_eq!(hunks, [2, 1], "the fixture has 3 hunks in 2 files");

        let keep = [HunkRef::new("a.rs", 1)];
        let out = kept_commit(root, "main", &base, &head, &keep, "bosun: keep a.rs#2").unwrap();
        assert_eq!(out.total, 3);
        assert_eq!(
            out.dropped,
            [HunkRef::new("a.rs", 0), HunkRef::new("b.rs", 0)]
        );
        assert_eq!(
            out.describe(),
            "approved 1 of 3 hunks; dropped: a.rs#1, b.rs#1"
        );
        assert_eq!(out.previous, head);
        assert_eq!(
            file_at(root, &out.commit, "a.rs").unwrap(),
            numbered(40, &[30])
        );
        assert_eq!(
            file_at(root, &out.commit, "b.rs").unwrap(),
            numbered(10, &[])
        );
        // Nothing moved; the new commit is a child of the reviewed one and says what it dropped.
        assert_eq!(crate::git::head(root).unwrap(), head);
        let tip = repo
            .find_commit(git2::Oid::from_str(&out.commit).unwrap())
            .unwrap();
        assert_eq!(tip.parent_id(0).unwrap().to_string(), head);
        let message = tip.message().unwrap();
        assert!(message.starts_with("bosun: keep a.rs#2\n"), "{message}");
        assert!(message.contains("a.rs#1, b.rs#1"), "{message}");
        // What is left of the change is exactly the kept hunk.
        let after = crate::diff::load(root, &base, &out.commit).unwrap();
        assert_eq!(after.files.len(), 1);
        assert_eq!(after.files[0].hunks, [before.files[0].hunks[1].clone()]);
        // The checkout (main is checked out here) is left as it was.
        assert_eq!(
            std::fs::read(root.join("a.rs")).unwrap(),
            numbered(40, &[3, 30])
        );
        assert!(crate::git::is_dirty(root).unwrap().is_empty());
    }

    #[test]
    fn added_deleted_renamed_and_binary_files_go_back_to_the_base_when_dropped() {
        let binary: &[u8] = b"\x00\x01\x02 old";
        let long = numbered(30, &[]);
        let (dir, base) = repo_with(&[
            ("gone.txt", b"one\ntwo\n"),
            ("logo.bin", binary),
            ("old_name.rs", &long),
            ("keep.rs", b"a\nb\n"),
        ]);
        let root = dir.path();
        let repo = git2::Repository::open(root).unwrap();
        let head = commit(
            &repo,
            Some(&base),
            &[
                ("new.txt", b"fresh\n"),
                ("logo.bin", b"\x00\x09 new"),
                ("new_name.rs", &numbered(30, &[15])),
                ("keep.rs", b"a\nB\n"),
            ],
            &["gone.txt", "old_name.rs"],
            "agent",
        );
        let diff = crate::diff::load(root, &base, &head).unwrap();
        let paths: Vec<(&str, usize, bool)> = diff
            .files
            .iter()
            .map(|f| (f.path(), f.hunks.len(), f.binary))
            .collect();
        assert_eq!(
            paths,
            [
                ("gone.txt", 1, false),
                ("keep.rs", 1, false),
                ("logo.bin", 0, true),
                ("new.txt", 1, false),
                ("new_name.rs", 1, false),
            ]
        );
        let out = kept_commit(
            root,
            "main",
            &base,
            &head,
            &[HunkRef::new("keep.rs", 0)],
            "m",
        )
        .unwrap();
        assert_eq!(out.total, 5);
        assert_eq!(out.dropped.len(), 4);
        let at = |p: &str| file_at(root, &out.commit, p);
        assert_eq!(at("gone.txt").as_deref(), Some(&b"one\ntwo\n"[..]));
        assert_eq!(at("logo.bin").as_deref(), Some(binary));
        assert_eq!(at("old_name.rs"), Some(long));
        assert_eq!(at("new_name.rs"), None);
        assert_eq!(at("new.txt"), None);
        assert_eq!(at("keep.rs").as_deref(), Some(&b"a\nB\n"[..]));
        assert!(root.join("new.txt").exists(), "the checkout is not touched");
    }

    #[test]
    fn every_hunk_kept_commits_nothing_and_bad_choices_are_refused() {
        let (dir, base) = repo_with(&[("a.rs", &numbered(40, &[]))]);
        let root = dir.path();
        let repo = git2::Repository::open(root).unwrap();
        let head = commit(
            &repo,
            Some(&base),
            &[("a.rs", &numbered(40, &[2]))],
            &[],
            "x",
        );
        let all = [HunkRef::new("a.rs", 0)];
        let out = kept_commit(root, "main", &base, &head, &all, "m").unwrap();
        assert_eq!((out.commit.as_str(), out.dropped.len()), (head.as_str(), 0));
        assert_eq!(out.describe(), "approved all 1 hunks");

        let e = kept_commit(root, "main", &base, &head, &[], "m").unwrap_err();
        assert!(matches!(e, PartialError::NothingKept), "{e}");
        let e =
            kept_commit(root, "main", &base, &head, &[HunkRef::new("a.rs", 1)], "m").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the change has no hunk a.rs#2; open the run again and choose the hunks again"
        );
        let e = kept_commit(root, "nope", &base, &head, &all, "m").unwrap_err();
        assert!(
            matches!(e, PartialError::Git(GitError::BranchMissing(_))),
            "{e}"
        );
        // The branch moved on after the review.
        let later = commit(
            &repo,
            Some(&head),
            &[("a.rs", &numbered(40, &[2, 30]))],
            &[],
            "y",
        );
        let e = kept_commit(root, "main", &base, &head, &all, "m").unwrap_err();
        assert!(
            matches!(e, PartialError::Moved { ref found, .. } if *found == later),
            "{e}"
        );
    }

    fn text() -> impl Strategy<Value = Vec<u8>> {
        // Few distinct lines, so diffs have several hunks; CRLF and a missing final newline.
        let line = prop::sample::select(vec!["a\n", "b\n", "c\r\n", "d\n", "e\n", "fn x() {\n"]);
        (prop::collection::vec(line, 0..60), any::<bool>()).prop_map(|(lines, cut)| {
            let mut s = lines.concat().into_bytes();
            if cut && s.last() == Some(&b'\n') {
                s.pop();
            }
            s
        })
    }

    proptest! {
        #[test]
        fn applying_hunks_rebuilds_either_side_and_counts_lines(
            old in text(),
            new in text(),
            pick in prop::collection::vec(any::<bool>(), 64),
        ) {
            let mut opts = git2::DiffOptions::new();
            opts.context_lines(3).indent_heuristic(true);
            let patch = git2::Patch::from_buffers(&old, None, &new, None, Some(&mut opts)).unwrap();
            let n = patch.num_hunks();
            prop_assert_eq!(apply(&old, &patch, &vec![true; n]).unwrap(), new.clone());
            prop_assert_eq!(apply(&old, &patch, &vec![false; n]).unwrap(), old.clone());
            let kept = &pick[..n];
            let out = apply(&old, &patch, kept).unwrap();
            let lines = |b: &[u8]| b.split_inclusive(|c| *c == b'\n').count() as i64;
            let mut want = lines(&old);
            for (h, k) in kept.iter().enumerate() {
                if *k {
                    let (hunk, _) = patch.hunk(h).unwrap();
                    want += i64::from(hunk.new_lines()) - i64::from(hunk.old_lines());
                }
            }
            prop_assert_eq!(lines(&out), want);
        }
    }
}
