//! Chaos: `bosun approve` killed with SIGKILL at moments spread over its whole run, then bosun
//! started again (`bosun runs`, which reconciles). After each kill every invariant holds: the
//! target branch contains the reviewed commit iff the run is `merged`; a merged run's task is
//! ticked in the same history; the operator's checkout is clean (no half-written, truncated or
//! temporary files); there is one audit entry per decision and the chain verifies; an
//! approval cut short before the merge can simply be given again.
//!
//! The same holds when `bosun run --headless` is killed while its runs are being gated and
//! auto-approved; started again, it finishes the rest.
//!
//! `BOSUN_CHAOS_ITERATIONS` sets how many kills (default 10, what CI runs); the long run
//! recorded in RELIABILITY.md is `BOSUN_CHAOS_ITERATIONS=100 cargo test --test chaos -- --nocapture`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

mod common;
use common::{agent, clean, git, toml_str};

const TODO: &str = "# Tasks\n\n- [ ] Add a note from the agent\n- [ ] Something else\n";

struct Repo {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

impl Repo {
    /// A repository whose only task's run is awaiting approval.
    fn with_a_run_awaiting() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("repo");
        std::fs::create_dir_all(&path).unwrap();
        git(&path, &["init", "-q", "-b", "main"]);
        std::fs::write(path.join("TODO.md"), TODO).unwrap();
        std::fs::write(path.join("notes.txt"), "original\n").unwrap();
        let config = format!(
            "[project]\nworktree_root = {}\n\n[orchestrator]\nmax_attempts = 1\nmax_parallel = 1\n\n\
             [executors.a]\ncommand = [{}]\n",
            toml_str(&tmp.path().join("wt").display().to_string()),
            toml_str(&agent("writes_note.sh")),
        );
        std::fs::write(path.join("bosun.toml"), config).unwrap();
        git(&path, &["add", "-A"]);
        git(&path, &["commit", "-q", "-m", "init"]);
        let repo = Self { _tmp: tmp, path };
        let (ok, out, err) = repo.bosun(&["run", "--headless", "--max-runs", "1"]);
        assert!(ok, "{out}{err}");
        repo
    }

    fn bosun_command(&self, args: &[&str]) -> Command {
        let mut cmd = clean(env!("CARGO_BIN_EXE_bosun"), &self.path);
        cmd.args(args).stdin(Stdio::null());
        cmd
    }

    /// `bosun approve ID` made to die at crash point `point` (`BOSUN_CRASH_AT`).
    fn approve_crashing_at(&self, id: &str, point: &str) -> std::process::ExitStatus {
        self.bosun_command(&["approve", id])
            .env("BOSUN_CRASH_AT", point)
            .status()
            .unwrap()
    }

    fn bosun(&self, args: &[&str]) -> (bool, String, String) {
        common::outcome(self.bosun_command(args))
    }

    fn runs(&self) -> Vec<Value> {
        let (ok, out, err) = self.bosun(&["runs", "--json"]);
        assert!(ok, "{err}");
        serde_json::from_str(&out).unwrap()
    }

    fn on_main(&self, commit: &str) -> bool {
        clean("git", &self.path)
            .args(["merge-base", "--is-ancestor", commit, "main"])
            .status()
            .unwrap()
            .success()
    }
}

fn awaiting(runs: &[Value]) -> &Value {
    runs.iter()
        .find(|r| r["status"] == "awaiting_approval")
        .unwrap_or_else(|| panic!("no run awaiting approval: {runs:#?}"))
}

/// Every invariant after a kill and a restart; `Some(true)` when the run ended merged.
fn check(repo: &Repo, id: &str, reviewed: &str, what: &str) -> bool {
    let runs = repo.runs();
    let run = runs
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{what}: run {id} is gone"));
    let merged = run["status"] == "merged";
    assert!(
        merged || run["status"] == "awaiting_approval",
        "{what}: status {}",
        run["status"]
    );
    assert_eq!(
        repo.on_main(reviewed),
        merged,
        "{what}: main has the reviewed commit iff the run is merged ({run:#})"
    );
    let todo = git(&repo.path, &["show", "main:TODO.md"]);
    assert_eq!(
        todo.contains("- [x] Add a note from the agent"),
        merged,
        "{what}: the tick is in the same history as the merge:\n{todo}"
    );
    assert_eq!(
        git(&repo.path, &["status", "--porcelain"]),
        "",
        "{what}: the checkout is clean"
    );
    let on_disk = std::fs::read_to_string(repo.path.join("TODO.md")).unwrap();
    assert_eq!(on_disk, todo, "{what}: TODO.md on disk is main's");
    let (ok, out, err) = repo.bosun(&["audit", "--json"]);
    assert!(ok, "{err}");
    let audit: Vec<Value> = serde_json::from_str(&out).unwrap();
    let approvals = audit
        .iter()
        .filter(|e| e["run_id"] == id && e["action"] == "approve")
        .count();
    assert_eq!(approvals, usize::from(merged), "{what}: audit {audit:#?}");
    let (ok, out, err) = repo.bosun(&["audit", "verify"]);
    assert!(ok, "{what}: {out}{err}");
    merged
}

/// Killed at each step of an approval in turn (`BOSUN_CRASH_AT`, a SIGKILL at that point):
/// before the target moved, nothing merged and approving again works; after, the next start
/// completes what was left — the checkout brought along, the run recorded, one audit entry.
#[test]
fn approve_killed_between_any_two_steps_is_settled_at_the_next_start() {
    for (point, merges) in [
        ("approve:journaled", false),
        ("advance:moved", true),
        ("approve:followed", true),
        ("approve:recorded", true),
        ("approve:audited", true),
    ] {
        let repo = Repo::with_a_run_awaiting();
        let runs = repo.runs();
        let run = awaiting(&runs);
        let id = run["id"].as_str().unwrap().to_string();
        let reviewed = run["head"].as_str().unwrap().to_string();
        let status = repo.approve_crashing_at(&id, point);
        assert!(!status.success(), "{point}: bosun should have died there");
        assert_eq!(check(&repo, &id, &reviewed, point), merges, "{point}");
        if !merges {
            let (ok, out, err) = repo.bosun(&["approve", &id]);
            assert!(ok, "{point}: approving again: {out}{err}");
            assert!(check(&repo, &id, &reviewed, point));
        }
        let (_, show, _) = repo.bosun(&["show", &id]);
        if matches!(point, "advance:moved" | "approve:followed") {
            assert!(
                show.contains("completed at the next start"),
                "{point}: {show}"
            );
        }
    }
}

#[test]
fn approve_killed_at_any_moment_leaves_git_and_bosun_in_agreement() {
    let iterations = common::env_number("BOSUN_CHAOS_ITERATIONS", 10);
    // How long one approval takes here, to spread the kills over it.
    let probe = Repo::with_a_run_awaiting();
    let runs = probe.runs();
    let id = awaiting(&runs)["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    let (ok, out, err) = probe.bosun(&["approve", &id]);
    assert!(ok, "{out}{err}");
    let span = started.elapsed();
    let (mut merged, mut completed, mut undone) = (0, 0, 0);
    for i in 0..iterations {
        let repo = Repo::with_a_run_awaiting();
        let runs = repo.runs();
        let run = awaiting(&runs);
        let id = run["id"].as_str().unwrap().to_string();
        let reviewed = run["head"].as_str().unwrap().to_string();
        // Kills spread evenly from the start to a little past the end of an approval.
        let delay = span.mul_f64((i as f64 + 0.5) / iterations as f64 * 1.2);
        let mut child = repo
            .bosun_command(&["approve", &id])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let what = format!("kill {i} after {delay:?} of {span:?}");
        if check(&repo, &id, &reviewed, &what) {
            merged += 1;
            // Killed after the target moved but before bosun recorded it: the restart did it.
            let (_, show, _) = repo.bosun(&["show", &id, "--json"]);
            if show.contains("completed at the next start") {
                completed += 1;
            }
        } else {
            undone += 1;
            // Cut short before the merge: the operator approves again, and it works.
            let (ok, out, err) = repo.bosun(&["approve", &id]);
            assert!(ok, "{what}: approving again: {out}{err}");
            assert!(
                check(&repo, &id, &reviewed, &what),
                "{what}: merged the second time"
            );
        }
    }
    eprintln!(
        "chaos: {iterations} kills of `bosun approve` over {span:?}: {merged} ended merged \
         ({completed} of them completed by the restart), {undone} before the merge (approved \
         again); every invariant held"
    );
}

/// Why the runs of `repo` that did not merge did not: each one's state, error and history.
fn not_merged(repo: &std::path::Path) -> String {
    let out = clean(env!("CARGO_BIN_EXE_bosun"), repo)
        .args(["runs", "--json"])
        .output()
        .unwrap();
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut why = String::new();
    for run in runs.iter().filter(|r| r["status"] != "merged") {
        let id = run["id"].as_str().unwrap_or_default();
        let show = clean(env!("CARGO_BIN_EXE_bosun"), repo)
            .args(["show", id])
            .output()
            .unwrap();
        why.push_str(&format!(
            "{} {} {}\n{}\n",
            run["status"],
            run["error"],
            run["reason"],
            String::from_utf8_lossy(&show.stdout)
        ));
    }
    why
}

/// Tasks in the headless chaos repository.
const HEADLESS_TASKS: usize = 6;

#[test]
fn headless_killed_during_auto_approvals_leaves_git_and_bosun_in_agreement() {
    let iterations = common::env_number("BOSUN_CHAOS_ITERATIONS", 10);
    let headless = |repo: &std::path::Path| {
        let mut cmd = clean(env!("CARGO_BIN_EXE_bosun"), repo);
        cmd.args(["run", "--headless"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    // How long the whole backlog takes, to spread the kills over it.
    let probe = tempfile::tempdir().unwrap();
    let repo = common::auto_approving_repository(probe.path(), HEADLESS_TASKS, 0);
    let started = Instant::now();
    assert!(headless(&repo).status().unwrap().success());
    let span = started.elapsed();
    let merged = common::git_and_bosun_agree(&repo, "probe");
    if merged != HEADLESS_TASKS {
        panic!(
            "{merged} of {HEADLESS_TASKS} merged without a kill:\n{}",
            not_merged(&repo)
        );
    }
    let mut merged_at_kill = Vec::new();
    for i in 0..iterations {
        let tmp = tempfile::tempdir().unwrap();
        let repo = common::auto_approving_repository(tmp.path(), HEADLESS_TASKS, 0);
        let delay = span.mul_f64((i as f64 + 0.5) / iterations as f64);
        let mut child = headless(&repo).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let what = format!("kill {i} after {delay:?} of {span:?}");
        merged_at_kill.push(common::git_and_bosun_agree(&repo, &what));
        // Started again, it finishes the backlog: nothing was left half-done.
        let status = headless(&repo).status().unwrap();
        assert!(status.success(), "{what}: the second run");
        let done = common::git_and_bosun_agree(&repo, &format!("{what}, run again"));
        assert_eq!(
            done,
            HEADLESS_TASKS,
            "{what}: every task merged in the end; the others:\n{}",
            not_merged(&repo)
        );
    }
    eprintln!(
        "chaos: {iterations} kills of `bosun run --headless` (auto-approving {HEADLESS_TASKS} tasks in {span:?}); \
         runs merged at the kill: {merged_at_kill:?}; every invariant held, and a second start finished the rest"
    );
}

/// Killed right after the policy decided to auto-approve a run, before it did: the next start
/// makes the approval (and says so in the run's history) instead of leaving it waiting.
#[test]
fn an_auto_approval_decided_before_a_crash_is_made_at_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = common::auto_approving_repository(tmp.path(), 1, 0);
    let status = clean(env!("CARGO_BIN_EXE_bosun"), &repo)
        .args(["run", "--headless"])
        .env("BOSUN_CRASH_AT", "policy:decided")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "bosun should have died there");
    assert_eq!(common::git_and_bosun_agree(&repo, "after the crash"), 0);
    let (ok, out, err) = common::outcome({
        let mut cmd = clean(env!("CARGO_BIN_EXE_bosun"), &repo);
        cmd.args(["run", "--headless"]).stdin(Stdio::null());
        cmd
    });
    assert!(ok, "{out}{err}");
    assert_eq!(common::git_and_bosun_agree(&repo, "restarted"), 1);
    let (_, runs, _) = common::outcome({
        let mut cmd = clean(env!("CARGO_BIN_EXE_bosun"), &repo);
        cmd.args(["runs", "--json"]);
        cmd
    });
    let runs: Vec<Value> = serde_json::from_str(&runs).unwrap();
    assert_eq!(runs.len(), 1, "no second attempt: {runs:#?}");
    let id = runs[0]["id"].as_str().unwrap();
    let (_, show, _) = common::outcome({
        let mut cmd = clean(env!("CARGO_BIN_EXE_bosun"), &repo);
        cmd.args(["show", id]);
        cmd
    });
    assert!(show.contains("approving it now"), "{show}");
}

/// Killed while writing the checkout's index, leaving `.git/index.lock` (reproduced: kill 66
/// of the long run): the next start removes that lock — made since the approval began, so
/// bosun's — and brings the checkout along. A lock older than the approval is someone else's:
/// left alone and noted, the journal entry kept, and the checkout follows at the start after
/// it is gone.
#[test]
fn an_index_lock_left_by_an_interrupted_approval_is_cleared_and_a_foreign_one_kept() {
    for foreign in [false, true] {
        let repo = Repo::with_a_run_awaiting();
        let runs = repo.runs();
        let run = awaiting(&runs);
        let id = run["id"].as_str().unwrap().to_string();
        let reviewed = run["head"].as_str().unwrap().to_string();
        let lock = repo.path.join(".git").join("index.lock");
        if foreign {
            std::fs::write(&lock, b"someone else's").unwrap();
            let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
            std::fs::File::options()
                .write(true)
                .open(&lock)
                .unwrap()
                .set_modified(hour_ago)
                .unwrap();
        }
        let status = repo.approve_crashing_at(&id, "advance:moved");
        assert!(!status.success());
        if !foreign {
            // As if the kill came while the index was being written.
            std::fs::write(&lock, b"half an index").unwrap();
        }
        let runs = repo.runs();
        let (_, show, _) = repo.bosun(&["show", &id]);
        if foreign {
            assert!(lock.exists(), "someone else's lock is left alone");
            assert!(show.contains("not bosun's): left alone"), "{show}");
            assert!(show.contains("tries again at its next start"), "{show}");
            assert!(
                runs.iter()
                    .any(|r| r["id"] == id && r["status"] == "merged")
            );
            std::fs::remove_file(&lock).unwrap();
            // The next start brings the checkout along.
            repo.runs();
        } else {
            assert!(!lock.exists(), "bosun's own lock is removed");
            assert!(show.contains("removed the index lock file"), "{show}");
        }
        assert!(check(
            &repo,
            &id,
            &reviewed,
            if foreign { "foreign lock" } else { "own lock" }
        ));
    }
}

/// Killed while moving the target's ref, leaving `refs/heads/main.lock` (the stale lock after
/// which a second approve used to print "ticked" with nothing ticked): the next start removes
/// it — made since the approval began — and the approval can be given again.
#[test]
fn a_ref_lock_left_by_an_interrupted_approval_is_cleared() {
    let repo = Repo::with_a_run_awaiting();
    let runs = repo.runs();
    let run = awaiting(&runs);
    let id = run["id"].as_str().unwrap().to_string();
    let reviewed = run["head"].as_str().unwrap().to_string();
    let status = repo.approve_crashing_at(&id, "approve:journaled");
    assert!(!status.success());
    let lock = repo
        .path
        .join(".git")
        .join("refs")
        .join("heads")
        .join("main.lock");
    std::fs::write(&lock, b"0000000000000000000000000000000000000000\n").unwrap();
    assert!(!check(&repo, &id, &reviewed, "after the kill"));
    assert!(!lock.exists(), "the lock is gone");
    let (_, show, _) = repo.bosun(&["show", &id]);
    assert!(show.contains("removed the ref lock file"), "{show}");
    let (ok, out, err) = repo.bosun(&["approve", &id]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("ticked") && !out.contains("NOT ticked"),
        "{out}"
    );
    assert!(check(&repo, &id, &reviewed, "approved again"));
}
