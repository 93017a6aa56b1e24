//! Helpers shared by the integration tests: commands with a clean environment and git.
// Each test crate uses only some of these.
#![allow(dead_code)]

pub mod eval;
pub mod forge_server;
pub mod llm_server;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

/// A command with no inherited git, bosun or logging settings (so a test run from a git hook
/// or with `BOSUN_*` set still works on its temporary repository only).
pub fn clean(program: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("BOSUN_") || name.starts_with("GIT_") {
            cmd.env_remove(&key);
        }
    }
    cmd
}

/// Runs git in `dir` with a test identity, asserts it succeeded, and returns its stdout.
pub fn git_output(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = clean("git", dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "status.showUntrackedFiles=all",
        ])
        .args(args)
        .output()
        .expect("git runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "git {args:?} failed: {stderr}");
    out.stdout
}

/// [`git_output`] as text.
pub fn git(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(git_output(dir, args)).expect("git prints UTF-8")
}

/// Runs `cmd` to the end: whether it succeeded, its stdout and its stderr (lossy UTF-8).
pub fn outcome(mut cmd: Command) -> (bool, String, String) {
    let out = cmd.output().expect("the command runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The path of a scripted agent in `tests/agents/`.
pub fn agent(name: &str) -> String {
    format!("{}/tests/agents/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A TOML string literal.
pub fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Whether `tool` (checked with `tool version_flag`) can be run; `false` means the calling
/// test should return early, skipped. That happens only outside CI and is said on stderr,
/// past the harness's capture, so a skip is seen rather than passing silently: `.ci/run`
/// installs every tool the tests need, so with `CI` set a missing tool fails the test.
pub fn tool_available(tool: &str, version_flag: &str, test: &str) -> bool {
    match Command::new(tool).arg(version_flag).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => panic!(
            "`{tool} {version_flag}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => skip(
            test,
            &format!("{tool} is not installed (install {tool} to run it; .ci/run does)"),
        ),
        Err(e) => panic!("cannot run {tool}: {e}"),
    }
}

/// Skips `test` for `why`: says so on stderr (past the harness's capture) and returns
/// `false`, or fails the test under `CI`, where everything a test needs is installed.
pub fn skip(test: &str, why: &str) -> bool {
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} must run in CI, but {why}"
    );
    let _ = writeln!(std::io::stderr(), "skipping {test}: {why}");
    false
}

/// A repository in `dir/repo` with `tasks` tasks, an agent that writes a 20 KB file per task,
/// two runs at a time, auto-approval (`autonomous`), run checkouts in `dir/wt` and
/// `[store] min_free_mb` as given.
pub fn auto_approving_repository(dir: &Path, tasks: usize, min_free_mb: u64) -> std::path::PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let mut todo = String::from("# Tasks\n\n");
    for i in 1..=tasks {
        todo.push_str(&format!("- [ ] Note number {i}\n"));
    }
    std::fs::write(repo.join("TODO.md"), todo).unwrap();
    let agent = repo.join("agent.sh");
    std::fs::write(
        &agent,
        "#!/bin/sh\nhead -c 15000 /dev/urandom | base64 > \"note-$BOSUN_TASK_ID.txt\"\necho wrote\n",
    )
    .unwrap();
    let chmod = Command::new("chmod")
        .arg("+x")
        .arg(&agent)
        .status()
        .unwrap();
    assert!(chmod.success());
    let config = format!(
        "[project]\nworktree_root = {}\n\n[orchestrator]\nmax_parallel = 2\nmax_attempts = 1\n\n\
         [executors.a]\ncommand = [{}]\n\n[policy]\nmode = \"autonomous\"\n\n[store]\nmin_free_mb = {min_free_mb}\n",
        toml_str(&dir.join("wt").display().to_string()),
        toml_str(&agent.display().to_string()),
    );
    std::fs::write(repo.join("bosun.toml"), config).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    repo
}

/// After bosun stopped however it stopped and was started again: every invariant between git
/// and bosun holds — a run is `merged` iff its commit is on `main`, each merged run's task is
/// ticked there, the checkout is clean with `TODO.md` as on `main`, there is one audit entry
/// per approval and the chain verifies. Returns how many runs are merged.
pub fn git_and_bosun_agree(repo: &Path, what: &str) -> usize {
    let bosun = |args: &[&str]| {
        let mut cmd = clean(env!("CARGO_BIN_EXE_bosun"), repo);
        cmd.args(args).stdin(std::process::Stdio::null());
        outcome(cmd)
    };
    let on_main = |commit: &str| {
        clean("git", repo)
            .args(["merge-base", "--is-ancestor", commit, "main"])
            .status()
            .unwrap()
            .success()
    };
    let (ok, out, err) = bosun(&["runs", "--json"]);
    assert!(ok, "{what}: the store does not open: {err}");
    let runs: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let todo = git(repo, &["show", "main:TODO.md"]);
    let mut merged = 0;
    for run in &runs {
        let is_merged = run["status"] == "merged";
        if let Some(head) = run["head"].as_str() {
            assert_eq!(
                on_main(head),
                is_merged,
                "{what}: main has the run's commit iff it is merged ({run:#})"
            );
        } else {
            assert!(
                !is_merged,
                "{what}: a merged run without a commit ({run:#})"
            );
        }
        if is_merged {
            merged += 1;
            let title = run["task_title"].as_str().unwrap();
            assert!(
                todo.contains(&format!("- [x] {title}\n")),
                "{what}: the merged run's task is ticked in the same history:\n{todo}"
            );
        }
    }
    assert_eq!(
        git(repo, &["status", "--porcelain"]),
        "",
        "{what}: the checkout is clean"
    );
    let on_disk = std::fs::read_to_string(repo.join("TODO.md")).unwrap();
    assert_eq!(on_disk, todo, "{what}: TODO.md on disk is main's");
    let (ok, out, err) = bosun(&["audit", "--json"]);
    assert!(ok, "{what}: {err}");
    let audit: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let approvals = audit.iter().filter(|e| e["action"] == "approve").count();
    assert_eq!(approvals, merged, "{what}: one audit entry per approval");
    let (ok, out, err) = bosun(&["audit", "verify"]);
    assert!(ok, "{what}: {out}{err}");
    merged
}

/// A number from environment variable `var` (a chaos test's iterations, say), or `default`.
pub fn env_number(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every file under `dir` (recursively) whose bytes contain one of `needles`: each (file,
/// needle) found.
pub fn files_containing(dir: &Path, needles: &[String]) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                for n in needles {
                    if !n.is_empty() && bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                        found.push((path.clone(), n.clone()));
                    }
                }
            }
        }
    }
    found
}

/// `bosun ARGS` in `repo` (stdin closed), which must succeed; its stdout.
pub fn bosun_ok(repo: &Path, args: &[&str]) -> String {
    let out = clean(env!("CARGO_BIN_EXE_bosun"), repo)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bosun runs");
    assert!(
        out.status.success(),
        "bosun {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("bosun prints UTF-8")
}
