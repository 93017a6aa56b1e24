//! The escape suite: hostile scripted agents (`tests/agents/escapes.sh`) run through the real
//! binary, each trying one way past its checkout — moving the operator's `main`, pushing to
//! the operator's repository, writing its hooks or config, writing outside the checkout by
//! relative or absolute path or into `$HOME`, a symlink a gate then writes through, deleting
//! its own checkout, a TCP connect with `network = "deny"`. After each, the operator's
//! repository is byte-identical where it matters (refs but the run's own branch, packed-refs,
//! HEAD, hooks, config, index, working tree) and no file appeared outside the allowed paths;
//! where the run has a change, approving it merges exactly the reviewed commit.
//!
//! The file-system checks need Landlock (Linux 5.13+); on a kernel without it these tests say
//! so and are skipped, except under CI, where they must run.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

mod common;
use common::{agent, clean, git, toml_str};

/// A temporary home, repository, worktree root and aux directory for one escape attempt.
struct Scene {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    repo: PathBuf,
    worktrees: PathBuf,
}

impl Scene {
    /// A repository with a task and `bosun.toml` (the escape agent with `HOW=how` and `env`,
    /// plus `extra` TOML), committed.
    fn new(how: &str, env: &[(&str, String)], extra: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let (home, repo, worktrees) = (base.join("home"), base.join("repo"), base.join("wt"));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join("TODO.md"), "- [ ] Do the work\n").unwrap();
        std::fs::write(repo.join("notes.txt"), "the operator's notes\n").unwrap();
        let config = format!(
            "[project]\nworktree_root = {}\n\n[orchestrator]\nmax_attempts = 1\nrun_timeout = \"20s\"\n\n\
             [executors.evil]\ncommand = [{}]\nenv = {{ HOW = {}{} }}\n{extra}",
            toml_str(&worktrees.display().to_string()),
            toml_str(&agent("escapes.sh")),
            toml_str(how),
            env.iter()
                .map(|(k, v)| format!(", {k} = {}", toml_str(v)))
                .collect::<String>(),
        );
        std::fs::write(repo.join("bosun.toml"), config).unwrap();
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "init"]);
        Self {
            _tmp: tmp,
            home,
            repo,
            worktrees,
        }
    }

    fn bosun(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = clean(env!("CARGO_BIN_EXE_bosun"), &self.repo);
        cmd.env("HOME", &self.home).args(args);
        common::outcome(cmd)
    }

    /// `bosun run --headless` to the end; the one run, and what the agent recorded in
    /// `tried.txt` of its checkout (`None` when it left no checkout).
    fn run_once(&self) -> (Value, Option<String>) {
        let (ok, out, err) = self.bosun(&["run", "--headless"]);
        assert!(ok, "{out}{err}");
        let run = self.only_run();
        let id = run["id"].as_str().unwrap();
        let tried = std::fs::read_to_string(self.worktrees.join(id).join("tried.txt"))
            .ok()
            .map(|t| t.trim().to_string());
        (run, tried)
    }

    fn only_run(&self) -> Value {
        let (ok, out, err) = self.bosun(&["runs", "--json"]);
        assert!(ok, "{err}");
        let runs: Vec<Value> = serde_json::from_str(&out).unwrap();
        assert_eq!(runs.len(), 1, "{runs:#?}");
        runs.into_iter().next().unwrap()
    }

    /// What must not change in the operator's repository, path → bytes: every ref but the
    /// runs' branches, packed-refs, HEAD, hooks, config, index, and the working tree (bosun's
    /// own `.bosun/` state aside).
    fn operator_state(&self) -> BTreeMap<String, Vec<u8>> {
        let mut state = BTreeMap::new();
        let refs = git(
            &self.repo,
            &["for-each-ref", "--format=%(refname) %(objectname)"],
        );
        let refs: String = refs
            .lines()
            .filter(|l| !l.starts_with("refs/heads/bosun/"))
            .map(|l| format!("{l}\n"))
            .collect();
        state.insert("refs".into(), refs.into_bytes());
        for name in ["packed-refs", "HEAD", "config", "index"] {
            if let Ok(bytes) = std::fs::read(self.repo.join(".git").join(name)) {
                state.insert(format!(".git/{name}"), bytes);
            }
        }
        walk(&self.repo.join(".git/hooks"), &self.repo, &mut state);
        for entry in std::fs::read_dir(&self.repo).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name != ".git" && name != ".bosun" {
                walk(&path, &self.repo, &mut state);
            }
        }
        state
    }
}

/// Every file under `path` (or `path` itself), keyed by its path relative to `root`.
fn walk(path: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let key = path.strip_prefix(root).unwrap().display().to_string();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            walk(&entry.unwrap().path(), root, out);
        }
    } else if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).unwrap();
        out.insert(key, target.display().to_string().into_bytes());
    } else {
        out.insert(key, std::fs::read(path).unwrap());
    }
}

/// Landlock is here (the kernel answers with an ABI version); outside CI its absence skips
/// the file-system checks with a message.
fn landlock_available(test: &str) -> bool {
    bosun::executors::sandbox::landlock_abi().is_some()
        || common::skip(test, "this kernel has no Landlock")
}

/// Runs one escape attempt to the end and returns the scene, the run and what the agent
/// recorded in `tried.txt` of its checkout (`None` when it left no checkout).
fn attempt(how: &str, extra: &str) -> (Scene, Value, Option<String>) {
    let scene = Scene::new(how, &[], extra);
    let before = scene.operator_state();
    let (run, tried) = scene.run_once();
    assert_eq!(
        scene.operator_state(),
        before,
        "{how}: the operator's repository changed"
    );
    (scene, run, tried)
}

/// Approves the run and checks that `main` received exactly the reviewed commit, under the
/// tick.
fn approve_exactly_the_reviewed_commit(scene: &Scene, run: &Value, how: &str) {
    assert_eq!(run["status"], "awaiting_approval", "{how}: {run:#}");
    let reviewed = run["head"].as_str().unwrap();
    let (ok, out, err) = scene.bosun(&["approve", run["id"].as_str().unwrap()]);
    assert!(ok, "{how}: {out}{err}");
    let parent = git(&scene.repo, &["rev-parse", "main^"]);
    assert_eq!(parent.trim(), reviewed, "{how}: merged what was reviewed");
    assert_eq!(
        git(&scene.repo, &["show", "main:done.txt"]),
        "done\n",
        "{how}"
    );
}

#[test]
fn git_escapes_into_the_operators_repository_are_refused() {
    if !landlock_available("git_escapes_into_the_operators_repository_are_refused") {
        return;
    }
    for how in ["update-ref", "push", "hook", "fsmonitor"] {
        let (scene, run, tried) = attempt(how, "");
        assert_eq!(tried.as_deref(), Some("refused"), "{how}: {run:#}");
        assert!(!scene.repo.join(".git/hooks/pre-commit").exists(), "{how}");
        approve_exactly_the_reviewed_commit(&scene, &run, how);
    }
}

#[test]
fn writes_outside_the_checkout_are_refused() {
    if !landlock_available("writes_outside_the_checkout_are_refused") {
        return;
    }
    for how in ["relative", "absolute", "home"] {
        let (scene, run, tried) = attempt(how, "");
        assert_eq!(tried.as_deref(), Some("refused"), "{how}: {run:#}");
        let base = scene.repo.parent().unwrap();
        for escaped in [
            base.join("escape.txt"),
            scene.repo.join("escape.txt"),
            scene.home.join("escape.txt"),
        ] {
            assert!(
                !escaped.exists(),
                "{how}: {} was written",
                escaped.display()
            );
        }
        approve_exactly_the_reviewed_commit(&scene, &run, how);
    }
}

/// A symlink the agent left pointing into the operator's checkout does not let a gate write
/// there: the gate runs in the sandbox too.
#[test]
fn a_gate_cannot_write_through_a_symlink_the_agent_left() {
    if !landlock_available("a_gate_cannot_write_through_a_symlink_the_agent_left") {
        return;
    }
    let gate = "\n[gates.writer]\ncommand = \"echo written > link.txt\"\nrequired = false\n";
    let (scene, run, tried) = attempt("symlink", gate);
    assert_eq!(tried.as_deref(), Some("ok"));
    assert!(!scene.repo.join("through-link.txt").exists());
    let writer = run["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "writer")
        .unwrap_or_else(|| panic!("{run:#}"));
    assert_ne!(writer["verdict"], "pass", "the write was refused: {writer}");
}

/// An agent that replaces its `.git` with a link to the operator's `.git` does not steer
/// bosun: the candidate is still made from the files alone, the operator's HEAD, index and
/// refs stay as they were, and approve merges exactly the reviewed commit.
#[test]
fn a_git_dir_swapped_for_the_operators_does_not_steer_bosun() {
    let (scene, run, tried) = attempt("gitlink", "");
    assert_eq!(tried.as_deref(), Some("ok"));
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");
    approve_exactly_the_reviewed_commit(&scene, &run, "gitlink");
}

/// Source files an agent leaves as symlinks — to `/dev/zero`, to a secret in `$HOME` — are not
/// followed by bosun's analysis (it reads both sides from git's objects): the run finishes and
/// the secret appears nowhere in what bosun shows.
#[test]
fn symlinked_sources_are_not_followed_by_the_analysis() {
    let scene = Scene::new("links", &[], "");
    std::fs::write(scene.home.join("secret.txt"), "TOP-SECRET-7731\n").unwrap();
    let (run, tried) = scene.run_once();
    assert_eq!(tried.as_deref(), Some("ok"));
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");
    let (ok, shown, err) = scene.bosun(&["show", run["id"].as_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    assert!(!shown.contains("TOP-SECRET-7731"), "{shown}");
}

#[test]
fn an_agent_that_deletes_its_checkout_fails_cleanly() {
    let (scene, run, _) = attempt("delete", "");
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(
        git(&scene.repo, &["branch", "--list", "bosun/*"]),
        "",
        "nothing was published"
    );
}

#[test]
fn tcp_is_refused_with_network_deny_and_allowed_otherwise() {
    if !landlock_available("tcp_is_refused_with_network_deny_and_allowed_otherwise")
        || !common::tool_available(
            "python3",
            "--version",
            "tcp_is_refused_with_network_deny_and_allowed_otherwise",
        )
    {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    for (network, expected) in [("deny", "refused"), ("allow", "ok")] {
        let scene = Scene::new(
            "tcp",
            &[("PORT", port.to_string())],
            &format!("\n[sandbox]\nnetwork = \"{network}\"\n"),
        );
        let (run, tried) = scene.run_once();
        assert_eq!(
            tried.as_deref(),
            Some(expected),
            "network = {network}: {run:#}"
        );
        // Drain what reached the listener.
        std::thread::sleep(Duration::from_millis(50));
        while listener.accept().is_ok() {}
    }
}

/// With `mode = "bwrap"`, bubblewrap confines the same writes (a read-only `/` with the run's
/// checkout and temp dir bound writable) and `network = "deny"` gives the command a network of
/// its own.
#[test]
fn bubblewrap_confines_writes_and_network_where_asked() {
    let test = "bubblewrap_confines_writes_and_network_where_asked";
    if !common::tool_available("bwrap", "--version", test)
        || !common::tool_available("python3", "--version", test)
    {
        return;
    }
    let bwrap = "\n[sandbox]\nmode = \"bwrap\"\n";
    for how in ["absolute", "home", "update-ref"] {
        let (scene, run, tried) = attempt(how, bwrap);
        assert_eq!(tried.as_deref(), Some("refused"), "{how}: {run:#}");
        assert!(!scene.home.join("escape.txt").exists());
        approve_exactly_the_reviewed_commit(&scene, &run, how);
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let scene = Scene::new(
        "tcp",
        &[("PORT", port.to_string())],
        "\n[sandbox]\nmode = \"bwrap\"\nnetwork = \"deny\"\n",
    );
    let (run, tried) = scene.run_once();
    assert_eq!(tried.as_deref(), Some("refused"), "{run:#}");
    let (_, out, _) = scene.bosun(&["doctor"]);
    assert!(out.contains("sandbox: bubblewrap"), "{out}");
}

/// `bosun doctor` names the sandbox in force.
#[test]
fn doctor_says_which_sandbox_is_active() {
    let scene = Scene::new("relative", &[], "");
    let (_, out, _) = scene.bosun(&["doctor"]);
    let line = out
        .lines()
        .find(|l| l.contains("sandbox: "))
        .unwrap_or_else(|| panic!("no sandbox line: {out}"));
    if bosun::executors::sandbox::landlock_abi().is_some() {
        assert!(line.contains("landlock (ABI "), "{line}");
    }
    std::fs::write(
        scene.repo.join("bosun.toml"),
        std::fs::read_to_string(scene.repo.join("bosun.toml")).unwrap()
            + "\n[sandbox]\nmode = \"off\"\n",
    )
    .unwrap();
    let (_, out, _) = scene.bosun(&["doctor"]);
    assert!(
        out.contains("sandbox: OFF — [sandbox] mode = \"off\""),
        "{out}"
    );
}
