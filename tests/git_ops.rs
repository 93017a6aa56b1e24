//! The git layer against real repositories built in temp directories: worktrees, commits,
//! diffs, merges, one-file commits and cleanup. Fixtures are made with the git CLI (isolated
//! from the developer's configuration); bosun's side goes through `bosun::git` only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

use bosun::git::{self, ChangeStatus, GitError, MergeMode};

/// Keeps libgit2 (in this process) from reading the developer's global and system git config,
/// so identities and settings come from the test repositories only.
fn isolate_libgit2() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let empty = std::env::temp_dir().join("bosun-git-ops-no-config");
        std::fs::create_dir_all(&empty).unwrap();
        for level in [
            git2::ConfigLevel::System,
            git2::ConfigLevel::Global,
            git2::ConfigLevel::XDG,
            git2::ConfigLevel::ProgramData,
        ] {
            // SAFETY: runs once, before any test in this binary touches libgit2 (every test
            // calls `fixture()` or this function first, and `Once` orders the calls).
            unsafe { git2::opts::set_search_path(level, &empty).unwrap() };
        }
    });
}

/// The git CLI with no inherited `GIT_*` variables and no global or system config.
fn git_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@example.com")
        .env("GIT_COMMITTER_NAME", "Fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@example.com");
    cmd
}

/// Runs git and returns its stdout; fails the test when git fails.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir, args).output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn write(path: &Path, contents: impl AsRef<[u8]>) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, contents).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn rev(dir: &Path, spec: &str) -> String {
    git(dir, &["rev-parse", spec]).trim().to_string()
}

fn status(dir: &Path) -> String {
    git(dir, &["status", "--porcelain"])
}

fn canon(p: &Path) -> PathBuf {
    p.canonicalize().unwrap()
}

/// A repository on `main` with a couple of committed files, and a separate directory to put
/// worktrees in (outside the repository, as bosun does).
struct Fixture {
    dir: tempfile::TempDir,
    repo: PathBuf,
    worktrees: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        isolate_libgit2();
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("project");
        let worktrees = dir.path().join("data/bosun/worktrees/project-0123abcd");
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        write(&repo.join("README.md"), "# project\n");
        write(&repo.join("src/a.rs"), "fn a() {}\nfn b() {}\nfn c() {}\n");
        write(&repo.join("TASKS.md"), "- [ ] fix a\n- [ ] fix b\n");
        write(&repo.join(".gitignore"), "target/\n");
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "initial"]);
        Self {
            dir,
            repo,
            worktrees,
        }
    }

    /// A linked worktree of the repository at `path` on a new branch `branch` (as the operator,
    /// or a bosun from before private checkouts, makes them), with the git CLI.
    fn linked_worktree(&self, path: &Path, branch: &str) {
        let path = path.to_str().expect("UTF-8 path");
        git(&self.repo, &["worktree", "add", "-q", "-b", branch, path]);
    }

    /// A run worktree on `branch` from `main`.
    fn worktree(&self, name: &str, branch: &str) -> git::Worktree {
        git::create_worktree(&self.repo, &self.worktrees.join(name), branch, "main", &[]).unwrap()
    }

    /// A run worktree on `branch` from `main` with `path` set to `contents`, published as the
    /// run's candidate commit.
    fn run_branch(&self, name: &str, branch: &str, path: &str, contents: &str) -> git::Worktree {
        let wt = self.worktree(name, branch);
        write(&wt.path.join(path), contents);
        self.commit(&wt, &format!("change {path}"));
        wt
    }

    /// Everything in `wt` as the run's candidate commit, published to the repository.
    fn commit(&self, wt: &git::Worktree, message: &str) -> String {
        git::candidate(&self.repo, wt, message, &[], &[])
            .unwrap()
            .expect("the worktree has changes")
    }

    fn commit_on_main(&self, path: &str, contents: &str) -> String {
        write(&self.repo.join(path), contents);
        git(&self.repo, &["add", "-A"]);
        git(
            &self.repo,
            &["commit", "-q", "-m", &format!("main: {path}")],
        );
        rev(&self.repo, "main")
    }
}

#[test]
fn default_worktree_root_is_outside_the_repo_and_per_repository() {
    isolate_libgit2();
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one/project");
    let two = dir.path().join("two/project");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();

    let root_one = git::default_worktree_root(&one);
    let root_two = git::default_worktree_root(&two);
    assert!(!root_one.starts_with(canon(&one)), "{}", root_one.display());
    assert!(root_one.is_absolute());
    assert!(root_one.parent().unwrap().ends_with("bosun/worktrees"));
    let leaf = root_one.file_name().unwrap().to_str().unwrap();
    let hash = leaf.strip_prefix("project-").unwrap();
    assert_eq!(hash.len(), 8, "{leaf}");
    assert!(
        hash.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    // Same name, different repositories: different directories; same repository: stable.
    assert_ne!(root_one, root_two);
    assert_eq!(root_one, git::default_worktree_root(&one.join(".")));
}

#[test]
fn worktree_starts_from_the_target_tip_outside_the_repo() {
    let fx = Fixture::new();
    let tip = fx.commit_on_main("src/a.rs", "fn a() {}\nfn b() {}\nfn c() { todo!() }\n");
    // HEAD on another, older branch: the worktree must still start from `main`'s tip.
    git(&fx.repo, &["switch", "-q", "-c", "other", "HEAD~1"]);

    let wt = fx.worktree("fix-a-1a2b3c", "bosun/fix-a-1a2b3c");
    assert_eq!(wt.branch, "bosun/fix-a-1a2b3c");
    assert_eq!(wt.base, tip);
    assert!(!canon(&wt.path).starts_with(canon(&fx.repo)));
    assert_eq!(rev(&wt.path, "HEAD"), tip);
    assert_eq!(
        git(&wt.path, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "bosun/fix-a-1a2b3c"
    );
    assert_eq!(
        read(&wt.path.join("src/a.rs")),
        "fn a() {}\nfn b() {}\nfn c() { todo!() }\n"
    );
    assert_eq!(status(&wt.path), "");
    assert_eq!(git::head(&wt.path).unwrap(), tip);
    // A private repository, not a linked worktree: the operator's repository gained no
    // worktree and no branch, and the checkout's git directory is its own.
    let list = git(&fx.repo, &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 1, "{list}");
    assert_eq!(git(&fx.repo, &["branch", "--list", "bosun/*"]), "");
    assert_eq!(
        canon(Path::new(
            git(&wt.path, &["rev-parse", "--absolute-git-dir"]).trim()
        )),
        canon(&wt.path.join(".git"))
    );

    // An empty directory at the path is fine; a non-empty one, a missing target or a taken
    // branch name are refused with a sentence naming the problem.
    let empty = fx.worktrees.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    git::create_worktree(&fx.repo, &empty, "bosun/empty", "main", &[]).unwrap();
    let full = fx.worktrees.join("full");
    write(&full.join("keep.txt"), "mine");
    let err = git::create_worktree(&fx.repo, &full, "bosun/full", "main", &[]).unwrap_err();
    assert!(matches!(err, GitError::PathNotEmpty(_)), "{err}");
    assert_eq!(read(&full.join("keep.txt")), "mine");
    let err = git::create_worktree(&fx.repo, &fx.worktrees.join("x"), "bosun/x", "trunk", &[])
        .unwrap_err();
    assert_eq!(err.to_string(), "target branch `trunk` does not exist");
    // A run branch already in the repository (a published candidate) is not taken again.
    git(&fx.repo, &["branch", "bosun/fix-a-1a2b3c", "main"]);
    let err = git::create_worktree(
        &fx.repo,
        &fx.worktrees.join("y"),
        "bosun/fix-a-1a2b3c",
        "main",
        &[],
    )
    .unwrap_err();
    assert!(matches!(err, GitError::BranchExists(_)), "{err}");
    assert!(!fx.worktrees.join("y").exists());
}

/// Everything under `.git` of `repo`, path and bytes, for byte-for-byte comparisons (the
/// index and logs included).
fn git_dir_snapshot(repo: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo.join(".git"), repo, &mut out);
    out.sort();
    out
}

/// What an agent does with git inside its checkout stays there: moving `main`, writing a hook,
/// setting `core.fsmonitor`, committing. The operator's `.git` is byte-identical until bosun
/// publishes the candidate, which then adds only the run's branch and its objects.
#[test]
fn an_agents_git_writes_stay_in_its_private_checkout() {
    let fx = Fixture::new();
    let before = git_dir_snapshot(&fx.repo);
    let wt = fx.worktree("evil", "bosun/evil");
    write(&wt.path.join("evil.txt"), "mine\n");
    git(&wt.path, &["add", "-A"]);
    git(&wt.path, &["commit", "-q", "-m", "agent"]);
    let agent_commit = rev(&wt.path, "HEAD");
    git(&wt.path, &["update-ref", "refs/heads/main", &agent_commit]);
    write(
        &wt.path.join(".git/hooks/pre-commit"),
        "#!/bin/sh\ntouch /tmp/pwned\n",
    );
    git(
        &wt.path,
        &["config", "core.fsmonitor", "touch /tmp/pwned-fsmonitor"],
    );
    assert_eq!(rev(&wt.path, "main"), agent_commit, "inside, main moved");

    assert_eq!(
        git_dir_snapshot(&fx.repo),
        before,
        "the operator's .git is untouched"
    );
    assert_ne!(rev(&fx.repo, "main"), agent_commit);

    let id = fx.commit(&wt, "candidate");
    assert_eq!(rev(&fx.repo, "bosun/evil"), id);
    assert_eq!(rev(&fx.repo, &format!("{id}^")), wt.base);
    assert_eq!(
        git(&fx.repo, &["show", &format!("{id}:evil.txt")]),
        "mine\n"
    );
    assert!(!fx.repo.join(".git/hooks/pre-commit").exists());
    let config = read(&fx.repo.join(".git/config"));
    assert!(!config.contains("fsmonitor"), "{config}");
    // The agent's own commit was not published, only bosun's candidate.
    let out = git_cmd(&fx.repo, &["cat-file", "-e", &agent_commit])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the agent's commit is not in the operator's store"
    );
}

#[test]
fn cargo_in_a_worktree_resolves_the_worktrees_own_workspace() {
    let fx = Fixture::new();
    write(
        &fx.repo.join("Cargo.toml"),
        "[workspace]\nmembers = [\"crates/a\"]\nresolver = \"2\"\n",
    );
    write(
        &fx.repo.join("crates/a/Cargo.toml"),
        "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(&fx.repo.join("crates/a/src/lib.rs"), "");
    git(&fx.repo, &["add", "-A"]);
    git(&fx.repo, &["commit", "-q", "-m", "workspace"]);

    // Laid out like default_worktree_root: <data>/bosun/worktrees/<repo>-<hash>/<run>.
    let leaf = git::default_worktree_root(&fx.repo);
    let root = fx
        .worktrees
        .parent()
        .unwrap()
        .join(leaf.file_name().unwrap());
    let wt = git::create_worktree(&fx.repo, &root.join("ws-1"), "bosun/ws-1", "main", &[]).unwrap();

    let out = Command::new(env!("CARGO"))
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .current_dir(wt.path.join("crates/a"))
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert_eq!(canon(&manifest), canon(&wt.path.join("Cargo.toml")));
    assert!(!canon(&manifest).starts_with(canon(&fx.repo)));
}

#[test]
fn commit_all_stages_every_kind_of_change_with_trailers() {
    let fx = Fixture::new();
    git(&fx.repo, &["config", "user.name", "Repo Owner"]);
    git(&fx.repo, &["config", "user.email", "owner@example.com"]);
    write(
        &fx.repo.join("docs/guide.md"),
        "one\ntwo\nthree\nfour\nfive\n",
    );
    git(&fx.repo, &["add", "-A"]);
    git(&fx.repo, &["commit", "-q", "-m", "docs"]);
    let wt = fx.worktree("t-abc123", "bosun/t-abc123");

    // Nothing changed yet: nothing to commit.
    assert_eq!(git::commit_all(&wt.path, "nothing", &[]).unwrap(), None);

    write(&wt.path.join("src/new.rs"), "pub fn new() {}\n");
    write(
        &wt.path.join("src/a.rs"),
        "fn a() {}\nfn b() { 1 }\nfn c() {}\n",
    );
    std::fs::remove_file(wt.path.join("README.md")).unwrap();
    std::fs::create_dir_all(wt.path.join("book")).unwrap();
    std::fs::rename(wt.path.join("docs/guide.md"), wt.path.join("book/guide.md")).unwrap();
    write(
        &wt.path.join("logo.png"),
        [0x89u8, b'P', b'N', b'G', 0, 0, 1, 2, 0, 255],
    );
    write(&wt.path.join("target/debug/out"), "build output");

    let id = git::commit_all(
        &wt.path,
        "Fix b\n",
        &[
            ("Bosun-Task", "t-abc123"),
            ("Bosun-Run", "01j0000000000000000000abcd"),
        ],
    )
    .unwrap()
    .expect("there were changes");
    assert_eq!(id, rev(&wt.path, "HEAD"));
    let body = git(&wt.path, &["log", "-1", "--format=%B"]);
    assert!(body.starts_with("Fix b\n\n"), "{body:?}");
    assert!(body.contains("Bosun-Task: t-abc123\n"), "{body:?}");
    assert!(
        body.contains("Bosun-Run: 01j0000000000000000000abcd\n"),
        "{body:?}"
    );
    let trailers = git(
        &wt.path,
        &["log", "-1", "--format=%(trailers:key=Bosun-Task,valueonly)"],
    );
    assert_eq!(trailers.trim(), "t-abc123");
    assert_eq!(
        git(&wt.path, &["log", "-1", "--format=%an <%ae>"]).trim(),
        "Repo Owner <owner@example.com>"
    );
    let changes = git(
        &wt.path,
        &["show", "--format=", "--name-status", "-M", "HEAD"],
    );
    let mut lines: Vec<&str> = changes.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "A\tlogo.png",
            "A\tsrc/new.rs",
            "D\tREADME.md",
            "M\tsrc/a.rs",
            "R100\tdocs/guide.md\tbook/guide.md",
        ]
    );
    // Ignored files stay out and stay put; the worktree is clean.
    assert!(!git(&wt.path, &["ls-files"]).contains("target/"));
    assert!(wt.path.join("target/debug/out").exists());
    assert_eq!(status(&wt.path), "");
    assert_eq!(git::commit_all(&wt.path, "again", &[]).unwrap(), None);

    // The agent committed part of its work itself: only the rest is committed, on top.
    write(&wt.path.join("src/new.rs"), "pub fn new() -> u8 { 1 }\n");
    git(&wt.path, &["commit", "-q", "-am", "agent's own commit"]);
    let agent = rev(&wt.path, "HEAD");
    assert_eq!(git::commit_all(&wt.path, "leftovers", &[]).unwrap(), None);
    write(&wt.path.join("notes.txt"), "left behind\n");
    let id = git::commit_all(&wt.path, "leftovers", &[])
        .unwrap()
        .unwrap();
    assert_eq!(rev(&wt.path, "HEAD~1"), agent);
    assert_eq!(id, rev(&wt.path, "HEAD"));
    assert_eq!(
        git(&wt.path, &["show", "--format=", "--name-only", "HEAD"]).trim(),
        "notes.txt"
    );
}

/// The candidate commit reads only files whose stat data changed since bosun's checkout —
/// and every change still counts: same size with the modification time set back, a file
/// replaced by another of the same size and time, a mode change, a change made within
/// microseconds of the checkout, a file deleted and one added. (Checked against `git status`,
/// which reads the files themselves.)
#[test]
fn the_candidate_sees_every_change_an_agent_can_hide_from_stat_data() {
    let fx = Fixture::new();
    // Enough files that the checkout outlasts a clock tick: the first ones written are older
    // than the index written after them, so their stat data is kept.
    for i in 0..1500 {
        write(
            &fx.repo.join(format!("many/f{i:04}.txt")),
            format!("line {i:04}\n"),
        );
    }
    git(&fx.repo, &["add", "-A"]);
    git(&fx.repo, &["commit", "-q", "-m", "many"]);
    let wt = fx.worktree("stat", "bosun/stat");
    assert!(wt.stat.len() > 500, "kept {} of 1,504 files", wt.stat.len());
    // Within microseconds of the checkout: the last file checked out.
    write(
        &wt.path.join("src/a.rs"),
        "fn a() {}\nfn B() {}\nfn c() {}\n",
    );
    // Same size, its modification time set back to what the checkout gave it.
    let early = wt.path.join("many/f0000.txt");
    let old = std::fs::metadata(&early).unwrap().modified().unwrap();
    write(&early, "LINE 0000\n");
    let file = std::fs::File::options().write(true).open(&early).unwrap();
    file.set_modified(old).unwrap();
    drop(file);
    // Replaced by another file of the same size and time (a new inode).
    let replaced = wt.path.join("many/f0001.txt");
    let old = std::fs::metadata(&replaced).unwrap().modified().unwrap();
    let other = wt.path.join("many/tmp");
    write(&other, "line 9999\n");
    std::fs::File::options()
        .write(true)
        .open(&other)
        .unwrap()
        .set_modified(old)
        .unwrap();
    std::fs::rename(&other, &replaced).unwrap();
    // Made executable.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = wt.path.join("many/f0002.txt");
    std::fs::set_permissions(&mode, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_file(wt.path.join("many/f0003.txt")).unwrap();
    write(&wt.path.join("many/new.txt"), "new\n");

    let id = fx.commit(&wt, "hidden changes");
    let changed = git(&fx.repo, &["diff", "--name-status", &wt.base, &id]);
    let mut lines: Vec<&str> = changed.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "A\tmany/new.txt",
            "D\tmany/f0003.txt",
            "M\tmany/f0000.txt",
            "M\tmany/f0001.txt",
            "M\tmany/f0002.txt",
            "M\tsrc/a.rs",
        ]
    );
    // The checkout, now at the candidate, is clean as git itself reads it.
    assert_eq!(status(&wt.path), "");
}

#[test]
fn commit_all_falls_back_to_bosuns_identity() {
    let fx = Fixture::new();
    let wt = fx.worktree("ident", "bosun/ident");
    write(&wt.path.join("x.txt"), "x\n");
    git::commit_all(&wt.path, "x", &[]).unwrap().unwrap();
    assert_eq!(
        git(&wt.path, &["log", "-1", "--format=%an <%ae>|%cn <%ce>"]).trim(),
        "bosun <bosun@localhost>|bosun <bosun@localhost>"
    );
}

#[test]
fn diff_lists_each_file_with_status_binary_flag_and_counts() {
    let fx = Fixture::new();
    write(
        &fx.repo.join("docs/guide.md"),
        "one\ntwo\nthree\nfour\nfive\nsix\n",
    );
    write(&fx.repo.join("old.bin"), [0u8, 1, 2, 3, 0, 4]);
    git(&fx.repo, &["add", "-A"]);
    git(&fx.repo, &["commit", "-q", "-m", "more"]);
    let base = rev(&fx.repo, "main");
    let wt = fx.worktree("d", "bosun/d");
    write(
        &wt.path.join("src/a.rs"),
        "fn a() {}\nfn b() { 2 }\nfn c() {}\nfn d() {}\n",
    );
    write(
        &wt.path.join("src/new.rs"),
        "pub fn new() {}\npub fn newer() {}\n",
    );
    std::fs::remove_file(wt.path.join("README.md")).unwrap();
    std::fs::create_dir_all(wt.path.join("book")).unwrap();
    write(
        &wt.path.join("book/guide.md"),
        "one\ntwo\nthree\nfour\nfive\nsix!\n",
    );
    std::fs::remove_file(wt.path.join("docs/guide.md")).unwrap();
    write(&wt.path.join("old.bin"), [0u8, 9, 9, 9, 0, 4]);
    let head = fx.commit(&wt, "work");

    let summary = git::diff(&fx.repo, &base, &head).unwrap();
    let by_path = |p: &str| {
        summary
            .files
            .iter()
            .find(|f| f.path == p)
            .unwrap_or_else(|| panic!("{p} missing from {:?}", summary.files))
    };
    assert_eq!(summary.files.len(), 5, "{:?}", summary.files);

    let a = by_path("src/a.rs");
    assert_eq!(
        (a.status, a.binary, a.insertions, a.deletions),
        (ChangeStatus::Modified, false, 2, 1)
    );
    let new = by_path("src/new.rs");
    assert_eq!(
        (new.status, new.insertions, new.deletions),
        (ChangeStatus::Added, 2, 0)
    );
    let readme = by_path("README.md");
    assert_eq!(
        (readme.status, readme.insertions, readme.deletions),
        (ChangeStatus::Deleted, 0, 1)
    );
    let guide = by_path("book/guide.md");
    assert_eq!(guide.status, ChangeStatus::Renamed);
    assert_eq!(guide.old_path.as_deref(), Some("docs/guide.md"));
    assert_eq!((guide.insertions, guide.deletions), (1, 1));
    let bin = by_path("old.bin");
    assert_eq!(
        (bin.status, bin.binary, bin.insertions, bin.deletions),
        (ChangeStatus::Modified, true, 0, 0)
    );
    assert!(
        summary
            .files
            .iter()
            .filter(|f| f.path != "book/guide.md")
            .all(|f| f.old_path.is_none())
    );

    // The counts agree with git's own.
    let numstat = git(&fx.repo, &["diff", "--numstat", "-M", &base, &head]);
    let (mut ins, mut del) = (0, 0);
    for line in numstat.lines() {
        let mut cols = line.split('\t');
        let (i, d) = (cols.next().unwrap(), cols.next().unwrap());
        if i != "-" {
            ins += i.parse::<usize>().unwrap();
            del += d.parse::<usize>().unwrap();
        }
    }
    assert_eq!((summary.insertions, summary.deletions), (ins, del));
    assert_eq!((ins, del), (5, 3));

    let patch = &summary.patch;
    assert!(
        patch.contains("diff --git a/src/a.rs b/src/a.rs\n"),
        "{patch}"
    );
    assert!(patch.contains("@@ -1,3 +1,4 @@"), "{patch}");
    assert!(patch.contains("-fn b() {}\n+fn b() { 2 }\n"), "{patch}");
    assert!(patch.contains("+pub fn newer() {}\n"), "{patch}");
    assert!(
        patch.contains("rename from docs/guide.md\nrename to book/guide.md\n"),
        "{patch}"
    );
    assert!(patch.contains("-six\n+six!\n"), "{patch}");
    assert!(patch.contains("deleted file mode 100644"), "{patch}");
    assert!(
        patch.contains("Binary files a/old.bin and b/old.bin differ"),
        "{patch}"
    );
    // The patch applies: git agrees it is the change from base to head.
    let check = fx.repo.join("check.patch");
    write(&check, patch);
    git(&fx.repo, &["checkout", "-q", &base]);
    let applied = git_cmd(
        &fx.repo,
        &["apply", "--check", "--exclude=old.bin", "check.patch"],
    )
    .output()
    .unwrap();
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );

    // Branch names work as well as ids; a diff with itself is empty.
    let same = git::diff(&fx.repo, "bosun/d", &head).unwrap();
    assert!(same.files.is_empty() && same.patch.is_empty());
}

#[test]
fn fast_forward_moves_the_checked_out_target_and_its_files() {
    let fx = Fixture::new();
    git::exclude(&git::discover(&fx.repo).unwrap().unwrap(), "/.bosun/").unwrap();
    write(&fx.repo.join(".bosun/store/db"), "state");
    write(&fx.repo.join("scratch.txt"), "operator's untracked notes");
    let wt = fx.run_branch("ff", "bosun/ff", "src/a.rs", "fn a() { 1 }\n");
    write(&wt.path.join("src/b.rs"), "fn b() {}\n");
    let run_tip = fx.commit(&wt, "b");

    let out = git::merge(
        &fx.repo,
        "main",
        "bosun/ff",
        MergeMode::FastForward,
        "merge ff",
    )
    .unwrap();
    assert!(out.fast_forward);
    assert_eq!(out.commit, run_tip);
    assert_eq!(rev(&fx.repo, "main"), run_tip);
    assert_eq!(read(&fx.repo.join("src/a.rs")), "fn a() { 1 }\n");
    assert_eq!(read(&fx.repo.join("src/b.rs")), "fn b() {}\n");
    assert_eq!(status(&fx.repo), "?? scratch.txt\n");
    assert_eq!(read(&fx.repo.join(".bosun/store/db")), "state");
    assert_eq!(
        git::current_branch(&fx.repo).unwrap().as_deref(),
        Some("main")
    );

    // Merging again: nothing to do.
    let again = git::merge(
        &fx.repo,
        "main",
        "bosun/ff",
        MergeMode::FastForward,
        "again",
    )
    .unwrap();
    assert_eq!(again.commit, run_tip);
}

#[test]
fn fast_forward_mode_makes_a_merge_commit_when_the_target_moved() {
    let fx = Fixture::new();
    let wt = fx.run_branch("diverged", "bosun/diverged", "src/new.rs", "new\n");
    let main_tip = fx.commit_on_main("README.md", "# project, moved on\n");

    let out = git::merge(
        &fx.repo,
        "main",
        "bosun/diverged",
        MergeMode::FastForward,
        "Merge run",
    )
    .unwrap();
    assert!(!out.fast_forward);
    assert_eq!(rev(&fx.repo, "main"), out.commit);
    let parents = git(&fx.repo, &["rev-list", "--parents", "-n1", "main"]);
    assert_eq!(
        parents.split_whitespace().collect::<Vec<_>>(),
        [
            out.commit.as_str(),
            main_tip.as_str(),
            rev(&wt.path, "HEAD").as_str()
        ]
    );
    assert_eq!(
        git(&fx.repo, &["log", "-1", "--format=%s"]).trim(),
        "Merge run"
    );
    assert_eq!(read(&fx.repo.join("src/new.rs")), "new\n");
    assert_eq!(read(&fx.repo.join("README.md")), "# project, moved on\n");
    assert_eq!(status(&fx.repo), "");
}

#[test]
fn merge_mode_always_makes_a_merge_commit() {
    let fx = Fixture::new();
    let before = rev(&fx.repo, "main");
    let wt = fx.run_branch("noff", "bosun/noff", "src/a.rs", "fn a() { 2 }\n");

    let out = git::merge(
        &fx.repo,
        "main",
        "bosun/noff",
        MergeMode::Merge,
        "Merge bosun/noff",
    )
    .unwrap();
    assert!(!out.fast_forward);
    let parents = git(&fx.repo, &["rev-list", "--parents", "-n1", "main"]);
    assert_eq!(
        parents.split_whitespace().collect::<Vec<_>>(),
        [
            out.commit.as_str(),
            before.as_str(),
            rev(&wt.path, "HEAD").as_str()
        ]
    );
    assert_eq!(read(&fx.repo.join("src/a.rs")), "fn a() { 2 }\n");
    assert_eq!(status(&fx.repo), "");
}

#[test]
fn squash_makes_one_commit_with_the_runs_changes() {
    let fx = Fixture::new();
    let wt = fx.run_branch("sq", "bosun/sq", "src/a.rs", "fn a() { 3 }\n");
    write(&wt.path.join("src/c.rs"), "fn c() {}\n");
    fx.commit(&wt, "second");
    let main_tip = fx.commit_on_main("README.md", "# moved\n");

    let out = git::merge(
        &fx.repo,
        "main",
        "bosun/sq",
        MergeMode::Squash,
        "Fix a (squashed)",
    )
    .unwrap();
    assert!(!out.fast_forward);
    assert_eq!(rev(&fx.repo, "main"), out.commit);
    let parents = git(&fx.repo, &["rev-list", "--parents", "-n1", "main"]);
    assert_eq!(
        parents.split_whitespace().collect::<Vec<_>>(),
        [out.commit.as_str(), main_tip.as_str()]
    );
    assert_eq!(
        git(&fx.repo, &["log", "-1", "--format=%s"]).trim(),
        "Fix a (squashed)"
    );
    let files = git(&fx.repo, &["show", "--format=", "--name-only", "main"]);
    assert_eq!(files.lines().collect::<Vec<_>>(), ["src/a.rs", "src/c.rs"]);
    assert_eq!(read(&fx.repo.join("src/c.rs")), "fn c() {}\n");
    assert_eq!(read(&fx.repo.join("README.md")), "# moved\n");
    assert_eq!(status(&fx.repo), "");
}

#[test]
fn merging_into_a_branch_that_is_not_checked_out_leaves_the_working_tree_alone() {
    let fx = Fixture::new();
    let wt = fx.run_branch("away", "bosun/away", "src/new.rs", "new\n");
    let main_tip = fx.commit_on_main("README.md", "# main moved\n");
    git(&fx.repo, &["switch", "-q", "-c", "feature", "main~1"]);
    write(&fx.repo.join("src/a.rs"), "operator's unstaged edit\n");

    let out = git::merge(
        &fx.repo,
        "main",
        "bosun/away",
        MergeMode::FastForward,
        "Merge away",
    )
    .unwrap();
    assert!(!out.fast_forward);
    let parents = git(&fx.repo, &["rev-list", "--parents", "-n1", "main"]);
    assert_eq!(
        parents.split_whitespace().collect::<Vec<_>>(),
        [
            out.commit.as_str(),
            main_tip.as_str(),
            rev(&wt.path, "HEAD").as_str()
        ]
    );
    assert_eq!(git(&fx.repo, &["show", "main:src/new.rs"]), "new\n");
    // The checkout (another branch, with the operator's edit) is as it was.
    assert_eq!(
        git::current_branch(&fx.repo).unwrap().as_deref(),
        Some("feature")
    );
    assert!(!fx.repo.join("src/new.rs").exists());
    assert_eq!(read(&fx.repo.join("README.md")), "# project\n");
    assert_eq!(status(&fx.repo), " M src/a.rs\n");
}

#[test]
fn a_dirty_checked_out_target_is_refused_and_nothing_changes() {
    let fx = Fixture::new();
    let before = rev(&fx.repo, "main");
    fx.run_branch("dirty", "bosun/dirty", "src/a.rs", "fn a() { 4 }\n");

    // An unstaged edit to a tracked file.
    write(&fx.repo.join("README.md"), "# operator's edit\n");
    let err = git::merge(&fx.repo, "main", "bosun/dirty", MergeMode::FastForward, "m").unwrap_err();
    match &err {
        GitError::Dirty {
            branch,
            path,
            paths,
        } => {
            assert_eq!(branch, "main");
            assert_eq!(canon(path), canon(&fx.repo));
            assert_eq!(paths, &["README.md"]);
        }
        other => panic!("expected Dirty, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with("the target branch `main` is checked out at "),
        "{msg}"
    );
    assert!(
        msg.ends_with(
            "with uncommitted changes (README.md); commit or stash them, then approve again"
        ),
        "{msg}"
    );
    assert_eq!(rev(&fx.repo, "main"), before);
    assert_eq!(read(&fx.repo.join("README.md")), "# operator's edit\n");
    assert_eq!(
        read(&fx.repo.join("src/a.rs")),
        "fn a() {}\nfn b() {}\nfn c() {}\n"
    );
    assert_eq!(git::is_dirty(&fx.repo).unwrap(), ["README.md"]);

    // A staged one counts too.
    git(&fx.repo, &["add", "README.md"]);
    let err = git::merge(&fx.repo, "main", "bosun/dirty", MergeMode::Squash, "m").unwrap_err();
    assert!(matches!(err, GitError::Dirty { .. }), "{err}");
    assert_eq!(rev(&fx.repo, "main"), before);
    assert_eq!(status(&fx.repo), "M  README.md\n");
}

#[test]
fn untracked_files_the_merge_would_overwrite_are_refused() {
    let fx = Fixture::new();
    let before = rev(&fx.repo, "main");
    fx.run_branch(
        "untracked",
        "bosun/untracked",
        "src/new.rs",
        "from the run\n",
    );
    write(&fx.repo.join("src/new.rs"), "operator's own file\n");

    let err = git::merge(
        &fx.repo,
        "main",
        "bosun/untracked",
        MergeMode::FastForward,
        "m",
    )
    .unwrap_err();
    match &err {
        GitError::Dirty { paths, .. } => assert_eq!(paths, &["src/new.rs"]),
        other => panic!("expected Dirty, got {other:?}"),
    }
    assert_eq!(rev(&fx.repo, "main"), before);
    assert_eq!(read(&fx.repo.join("src/new.rs")), "operator's own file\n");
    assert_eq!(status(&fx.repo), "?? src/new.rs\n");
}

#[test]
fn a_conflicting_merge_errors_and_changes_nothing() {
    let fx = Fixture::new();
    fx.run_branch(
        "one",
        "bosun/one-1a2b3c",
        "src/a.rs",
        "fn a() {}\nfn b() { 1 }\nfn c() {}\n",
    );
    fx.run_branch(
        "two",
        "bosun/two-4d5e6f",
        "src/a.rs",
        "fn a() {}\nfn b() { 2 }\nfn c() {}\n",
    );

    git::merge(
        &fx.repo,
        "main",
        "bosun/one-1a2b3c",
        MergeMode::FastForward,
        "one",
    )
    .unwrap();
    let after_first = rev(&fx.repo, "main");
    let err = git::merge(
        &fx.repo,
        "main",
        "bosun/two-4d5e6f",
        MergeMode::FastForward,
        "two",
    )
    .unwrap_err();
    match &err {
        GitError::Conflict { paths, .. } => assert_eq!(paths, &["src/a.rs"]),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "merging bosun/two-4d5e6f into main conflicts in src/a.rs; the run stays awaiting \
         approval — re-run the task or resolve by hand"
    );
    assert_eq!(rev(&fx.repo, "main"), after_first);
    assert_eq!(
        read(&fx.repo.join("src/a.rs")),
        "fn a() {}\nfn b() { 1 }\nfn c() {}\n"
    );
    assert_eq!(status(&fx.repo), "");
    assert!(!fx.repo.join(".git/MERGE_HEAD").exists());
    // Squash and merge modes conflict the same way.
    for mode in [MergeMode::Merge, MergeMode::Squash] {
        let err = git::merge(&fx.repo, "main", "bosun/two-4d5e6f", mode, "two").unwrap_err();
        assert!(matches!(err, GitError::Conflict { .. }), "{err}");
    }
    assert_eq!(rev(&fx.repo, "main"), after_first);
}

#[test]
fn merge_mode_is_ff_merge_or_squash_in_config() {
    #[derive(serde::Deserialize)]
    struct Config {
        merge: MergeMode,
    }
    let parse = |s: &str| toml::from_str::<Config>(s).map(|c| c.merge);
    assert_eq!(parse("merge = \"ff\"").unwrap(), MergeMode::FastForward);
    assert_eq!(parse("merge = \"merge\"").unwrap(), MergeMode::Merge);
    assert_eq!(parse("merge = \"squash\"").unwrap(), MergeMode::Squash);
    assert!(parse("merge = \"fastforward\"").is_err());
    assert_eq!(MergeMode::default(), MergeMode::FastForward);
    assert_eq!(
        serde_json::to_string(&MergeMode::FastForward).unwrap(),
        "\"ff\""
    );
}

#[test]
fn commit_file_on_the_checked_out_branch_keeps_the_checkout_clean() {
    let fx = Fixture::new();
    let before = rev(&fx.repo, "main");
    let ticked = "- [x] fix a\n- [ ] fix b\n";
    let id = git::commit_file(
        &fx.repo,
        "main",
        Path::new("TASKS.md"),
        ticked.as_bytes(),
        "Tick fix a",
    )
    .unwrap();
    assert_eq!(rev(&fx.repo, "main"), id);
    assert_eq!(rev(&fx.repo, "main~1"), before);
    assert_eq!(
        git(&fx.repo, &["log", "-1", "--format=%s"]).trim(),
        "Tick fix a"
    );
    assert_eq!(read(&fx.repo.join("TASKS.md")), ticked);
    assert_eq!(status(&fx.repo), "");
    assert_eq!(
        git::read_file(&fx.repo, "main", Path::new("TASKS.md"))
            .unwrap()
            .as_deref(),
        Some(ticked.as_bytes())
    );
    assert_eq!(
        git::read_file(&fx.repo, "main", Path::new("nope.md")).unwrap(),
        None
    );

    // The same content again: no new commit.
    let same = git::commit_file(
        &fx.repo,
        "main",
        Path::new("TASKS.md"),
        ticked.as_bytes(),
        "again",
    )
    .unwrap();
    assert_eq!(same, id);

    // Local changes to that file: refused, nothing changes.
    write(&fx.repo.join("TASKS.md"), "- [ ] operator editing\n");
    let err = git::commit_file(
        &fx.repo,
        "main",
        Path::new("TASKS.md"),
        b"- [x] both\n",
        "tick",
    )
    .unwrap_err();
    match &err {
        GitError::Dirty { paths, .. } => assert_eq!(paths, &["TASKS.md"]),
        other => panic!("expected Dirty, got {other:?}"),
    }
    assert_eq!(rev(&fx.repo, "main"), id);
    assert_eq!(read(&fx.repo.join("TASKS.md")), "- [ ] operator editing\n");

    // Paths outside the repository are refused.
    let err = git::commit_file(&fx.repo, "main", Path::new("../evil"), b"x", "x").unwrap_err();
    assert!(matches!(err, GitError::InvalidPath(_)), "{err}");
}

#[test]
fn commit_file_on_a_branch_that_is_not_checked_out() {
    let fx = Fixture::new();
    git(&fx.repo, &["switch", "-q", "-c", "feature"]);
    write(&fx.repo.join("src/a.rs"), "operator's edit\n");
    let before = rev(&fx.repo, "main");

    let id = git::commit_file(
        &fx.repo,
        "main",
        Path::new("docs/TASKS.md"),
        b"- [x] nested\n",
        "Tick nested",
    )
    .unwrap();
    assert_eq!(rev(&fx.repo, "main"), id);
    assert_eq!(rev(&fx.repo, "main~1"), before);
    assert_eq!(
        git(&fx.repo, &["show", "main:docs/TASKS.md"]),
        "- [x] nested\n"
    );
    assert_eq!(
        git(&fx.repo, &["show", "main:TASKS.md"]),
        "- [ ] fix a\n- [ ] fix b\n"
    );
    assert!(!fx.repo.join("docs/TASKS.md").exists());
    assert_eq!(status(&fx.repo), " M src/a.rs\n");
    assert_eq!(
        git::current_branch(&fx.repo).unwrap().as_deref(),
        Some("feature")
    );
    let err = git::commit_file(&fx.repo, "trunk", Path::new("x"), b"x", "x").unwrap_err();
    assert_eq!(err.to_string(), "branch `trunk` does not exist");
}

#[test]
fn remove_worktree_removes_dir_entry_and_branch_and_is_idempotent() {
    let fx = Fixture::new();
    let wt = fx.run_branch("gone", "bosun/gone", "x.txt", "x\n");
    let kept = fx.worktree("kept", "bosun/kept");

    assert_eq!(
        git(&fx.repo, &["branch", "--list", "bosun/gone"]).trim(),
        "bosun/gone",
        "the candidate was published"
    );
    git::remove_worktree(&fx.repo, &wt.path, Some("bosun/gone")).unwrap();
    assert!(!wt.path.exists());
    assert!(kept.path.exists());
    assert_eq!(git(&fx.repo, &["branch", "--list", "bosun/gone"]), "");
    // Again: nothing left to do, no error.
    git::remove_worktree(&fx.repo, &wt.path, Some("bosun/gone")).unwrap();

    // Without deleting the branch, it stays.
    write(&kept.path.join("k.txt"), "k\n");
    fx.commit(&kept, "k");
    git::remove_worktree(&fx.repo, &kept.path, None).unwrap();
    assert!(!kept.path.exists());
    assert_eq!(
        git(&fx.repo, &["branch", "--list", "bosun/kept"]).trim(),
        "bosun/kept"
    );

    // A linked worktree that an older bosun made is removed with its admin entry.
    let old = fx.worktrees.join("old");
    fx.linked_worktree(&old, "bosun/old");
    git::remove_worktree(&fx.repo, &old, Some("bosun/old")).unwrap();
    assert!(!old.exists());
    assert!(!fx.repo.join(".git/worktrees/old").exists());
    assert_eq!(git(&fx.repo, &["branch", "--list", "bosun/old"]), "");

    // A branch still checked out is not deleted.
    let err = git::remove_worktree(&fx.repo, &fx.worktrees.join("none"), Some("main")).unwrap_err();
    assert!(matches!(err, GitError::BranchCheckedOut { .. }), "{err}");
    assert_eq!(rev(&fx.repo, "main"), rev(&fx.repo, "HEAD"));
}

#[test]
fn stale_worktrees_finds_registered_and_leftover_directories_under_the_root() {
    let fx = Fixture::new();
    let live = fx.worktree("live", "bosun/live");
    let crashed = fx.worktree("crashed", "bosun/crashed");
    std::fs::remove_dir_all(&crashed.path).unwrap();
    let leftover = fx.worktrees.join("leftover");
    write(&leftover.join("half-made.txt"), "x");
    write(&fx.worktrees.join("stray-file"), "not a directory");
    // A worktree of this repository elsewhere is not bosun's business.
    let elsewhere = fx.dir.path().join("operator-wt");
    fx.linked_worktree(&elsewhere, "operator");
    // A worktree of another repository that happens to be under the root is not ours.
    let other = Fixture::new();
    let foreign = fx.worktrees.join("foreign");
    git::create_worktree(&other.repo, &foreign, "bosun/foreign", "main", &[]).unwrap();

    // A linked worktree an older bosun left under the root is found too.
    let linked = fx.worktrees.join("linked");
    fx.linked_worktree(&linked, "bosun/linked");

    let stale = git::stale_worktrees(&fx.repo, &fx.worktrees).unwrap();
    assert_eq!(stale, [leftover.clone(), linked.clone(), live.path.clone()]);
    assert!(!crashed.path.exists());

    for path in &stale {
        git::remove_worktree(&fx.repo, path, None).unwrap();
    }
    assert!(
        git::stale_worktrees(&fx.repo, &fx.worktrees)
            .unwrap()
            .is_empty()
    );
    assert!(foreign.join("README.md").exists());
    assert!(elsewhere.join("README.md").exists());
    let list = git(&fx.repo, &["worktree", "list", "--porcelain"]);
    assert!(!list.contains("linked"), "{list}");
    // Missing root: nothing stale.
    assert!(
        git::stale_worktrees(&fx.repo, &fx.worktrees.join("nope"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn current_branch_and_dirty_files() {
    let fx = Fixture::new();
    assert_eq!(
        git::current_branch(&fx.repo).unwrap().as_deref(),
        Some("main")
    );
    assert!(git::is_dirty(&fx.repo).unwrap().is_empty());
    write(&fx.repo.join("untracked.txt"), "u");
    write(&fx.repo.join("target/ignored"), "i");
    assert!(git::is_dirty(&fx.repo).unwrap().is_empty());
    write(&fx.repo.join("src/a.rs"), "changed\n");
    write(&fx.repo.join("staged.txt"), "s");
    git(&fx.repo, &["add", "staged.txt"]);
    std::fs::remove_file(fx.repo.join("README.md")).unwrap();
    assert_eq!(
        git::is_dirty(&fx.repo).unwrap(),
        ["README.md", "src/a.rs", "staged.txt"]
    );
    git(&fx.repo, &["checkout", "-q", "--detach"]);
    assert_eq!(git::current_branch(&fx.repo).unwrap(), None);
}

#[test]
fn export_tree_follows_commits_keeps_untracked_output_and_leaves_the_repo_alone() {
    let fx = Fixture::new();
    let first = rev(&fx.repo, "main");
    let dest = fx
        .dir
        .path()
        .join("data/bosun/worktrees/project-0123abcd.base");
    git::export_tree(&fx.repo, &first, &dest).unwrap();
    assert_eq!(
        read(&dest.join("src/a.rs")),
        "fn a() {}\nfn b() {}\nfn c() {}\n"
    );
    assert!(!dest.join(".git").exists(), "an export is a plain tree");

    // A command run there builds something and scribbles on a tracked file.
    write(&dest.join("target/debug/out"), "built");
    write(&dest.join("README.md"), "scribbled\n");

    // The next base deletes one file, changes one and adds one.
    write(&fx.repo.join("src/b.rs"), "fn b2() {}\n");
    std::fs::remove_file(fx.repo.join("TASKS.md")).unwrap();
    let second = fx.commit_on_main("src/a.rs", "fn a() { 2 }\n");
    git::export_tree(&fx.repo, &second, &dest).unwrap();
    assert_eq!(read(&dest.join("src/a.rs")), "fn a() { 2 }\n");
    assert_eq!(read(&dest.join("src/b.rs")), "fn b2() {}\n");
    assert_eq!(read(&dest.join("README.md")), "# project\n");
    assert!(!dest.join("TASKS.md").exists(), "deleted on the new base");
    assert_eq!(read(&dest.join("target/debug/out")), "built");

    // Back to the first commit: the deleted file returns, the added one goes.
    git::export_tree(&fx.repo, &first, &dest).unwrap();
    assert_eq!(read(&dest.join("TASKS.md")), "- [ ] fix a\n- [ ] fix b\n");
    assert!(!dest.join("src/b.rs").exists());
    assert_eq!(
        status(&fx.repo),
        "",
        "the repository's index and checkout are untouched"
    );
}

/// A command run in the export (a gate on the base commit, sandboxed to the export) that
/// swaps a directory for a symlink to somewhere else cannot make the next export write or
/// delete there: the symlink is replaced by a real directory.
#[test]
fn export_tree_does_not_follow_a_symlink_planted_in_the_export() {
    let fx = Fixture::new();
    let with_b = fx.commit_on_main("src/b.rs", "fn b() {}\n");
    let dest = fx.dir.path().join("export.base");
    git::export_tree(&fx.repo, &with_b, &dest).unwrap();
    let elsewhere = fx.dir.path().join("elsewhere");
    write(&elsewhere.join("a.rs"), "precious\n");
    write(&elsewhere.join("b.rs"), "also precious\n");
    std::fs::remove_dir_all(dest.join("src")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dest.join("src")).unwrap();

    // The next base changes src/a.rs and deletes src/b.rs.
    std::fs::remove_file(fx.repo.join("src/b.rs")).unwrap();
    let third = fx.commit_on_main("src/a.rs", "fn a() { 3 }\n");
    git::export_tree(&fx.repo, &third, &dest).unwrap();
    assert_eq!(read(&elsewhere.join("a.rs")), "precious\n");
    assert_eq!(read(&elsewhere.join("b.rs")), "also precious\n");
    let meta = std::fs::symlink_metadata(dest.join("src")).unwrap();
    assert!(meta.is_dir() && !meta.file_type().is_symlink());
    assert_eq!(read(&dest.join("src/a.rs")), "fn a() { 3 }\n");
}

#[test]
fn parsed_diff_has_renames_binary_files_mode_changes_and_line_numbers() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new();
    write(
        &fx.repo.join("docs/guide.md"),
        "one\ntwo\nthree\nfour\nfive\nsix\n",
    );
    write(&fx.repo.join("logo.bin"), [0u8, 1, 2, 3, 0, 4]);
    write(&fx.repo.join("run.sh"), "echo hi\n");
    git(&fx.repo, &["add", "-A"]);
    git(&fx.repo, &["commit", "-q", "-m", "more"]);
    let base = rev(&fx.repo, "main");
    let wt = fx.worktree("p", "bosun/p");
    std::fs::create_dir_all(wt.path.join("book")).unwrap();
    std::fs::rename(wt.path.join("docs/guide.md"), wt.path.join("book/guide.md")).unwrap();
    write(
        &wt.path.join("book/guide.md"),
        "one\ntwo\nthree\nfour\nfive\nsix!\n",
    );
    write(&wt.path.join("logo.bin"), [0u8, 9, 9, 9, 0, 4]);
    std::fs::set_permissions(
        wt.path.join("run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    write(
        &wt.path.join("src/a.rs"),
        "fn a() {}\nfn b() { 2 }\nfn c() {}",
    );
    let head = fx.commit(&wt, "work");

    let diff = bosun::diff::load(&fx.repo, &base, &head).unwrap();
    let file = |p: &str| {
        diff.files
            .iter()
            .find(|f| f.path() == p)
            .unwrap_or_else(|| panic!("{p} missing from {:?}", diff.files))
    };
    assert_eq!(diff.files.len(), 4, "{:?}", diff.files);
    let guide = file("book/guide.md");
    assert_eq!(guide.status, ChangeStatus::Renamed);
    assert_eq!(guide.old_path.as_deref(), Some("docs/guide.md"));
    assert_eq!((guide.insertions(), guide.deletions()), (1, 1));
    let logo = file("logo.bin");
    assert!(logo.binary && logo.hunks.is_empty(), "{logo:?}");
    let run = file("run.sh");
    assert_eq!(run.mode_change, Some((0o100644, 0o100755)));
    assert!(run.hunks.is_empty());
    let a = file("src/a.rs");
    let removed: Vec<(Option<u32>, &str, bool)> = a.hunks[0]
        .lines
        .iter()
        .filter(|l| l.kind != bosun::diff::LineKind::Context)
        .map(|l| (l.old_no.or(l.new_no), l.text.as_str(), l.no_newline))
        .collect();
    assert_eq!(
        removed,
        [
            (Some(2), "fn b() {}", false),
            (Some(3), "fn c() {}", false),
            (Some(2), "fn b() { 2 }", false),
            (Some(3), "fn c() {}", true),
        ]
    );
}
