//! The console end to end, in a real terminal: the `bosun` binary runs with no subcommand
//! inside a private tmux server (so stdin and stdout are a terminal and the console opens) on
//! a temporary repository whose only agent is a script from `tests/agents/`. The test reads
//! the screen with `tmux capture-pane`, presses keys with `tmux send-keys`, and checks with
//! git and `bosun runs --json` what the operator's decision did.
//!
//! Without tmux these tests are skipped with a message — unless `CI` is set: CI installs
//! tmux, so there a missing tmux is a failure, not a silent pass.
//!
//! The console runs with colors (`NO_COLOR` unset, `TERM=xterm-256color`), as an operator
//! would see it; `capture-pane -p` returns the text without attributes either way.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{agent, toml_str};

/// Longest any one screen may take to appear (a run includes git, the agent and the gates;
/// CI machines are slow and shared).
const WAIT: Duration = Duration::from_secs(60);
/// How often the screen is read while waiting.
const POLL: Duration = Duration::from_millis(50);

/// Whether tmux can be run; `false` means the test is skipped (only outside CI).
fn tmux_available(test: &str) -> bool {
    common::tool_available("tmux", "-V", test)
}

/// A tmux server of our own (its own socket, no config file) with one session running the
/// console; the server is killed when this is dropped, also when the test fails.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `argv` in a new `width`×`height` session in `dir`, with the environment of
    /// [`common::clean`] (no `BOSUN_*`, `GIT_*`, `RUST_LOG`), colors on and
    /// `TERM=xterm-256color`. `argv` must outlive what the test reads: tmux may drop the last
    /// output of a pane whose program has exited, even with `remain-on-exit`.
    fn start(name: &str, dir: &Path, width: u16, height: u16, argv: &[&str]) -> Tmux {
        let socket = format!("bosun-e2e-{}-{name}", std::process::id());
        let tmux = Tmux { socket };
        let mut cmd = common::clean("tmux", dir);
        // The server inherits this environment, and the pane's program inherits the server's.
        cmd.env_remove("NO_COLOR")
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .args(["-L", &tmux.socket, "-f", "/dev/null", "new-session", "-d"])
            .args([
                "-s",
                "console",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg("-c")
            .arg(dir)
            // tmux sets TERM to its own terminal type; the console is told a common one.
            .args(["env", "TERM=xterm-256color"])
            .args(argv);
        let out = cmd.output().expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// Presses keys, in tmux's names (`l`, `Enter`, `Escape`).
    fn press(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "console"];
        args.extend(keys);
        let out = self.tmux(&args);
        assert!(out.status.success(), "send-keys {keys:?} failed");
    }

    /// Resizes the terminal the console runs in.
    fn resize(&self, width: u16, height: u16) {
        let (w, h) = (width.to_string(), height.to_string());
        let out = self.tmux(&["resize-window", "-t", "console", "-x", &w, "-y", &h]);
        assert!(
            out.status.success(),
            "resize-window failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        let out = self.tmux(&["send-keys", "-t", "console", "-l", text]);
        assert!(out.status.success(), "send-keys -l {text:?} failed");
    }

    /// The visible screen, as text.
    fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", "console"]);
        assert!(
            out.status.success(),
            "capture-pane failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Reads the screen until `ready` holds for it, and returns it; fails after [`WAIT`],
    /// showing the last screen and saying what was awaited.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {WAIT:?} waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// [`Tmux::wait_for`] a piece of text.
    fn wait_for_text(&self, text: &str) -> String {
        self.wait_for(&format!("{text:?}"), |s| s.contains(text))
    }

    /// The pid of the program the pane's shell runs (bosun, under [`bosun_in`]'s `sh -c`).
    fn program_pid(&self) -> i32 {
        let pane = self.tmux(&["list-panes", "-t", "console", "-F", "#{pane_pid}"]);
        let shell = String::from_utf8_lossy(&pane.stdout).trim().to_string();
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .expect("the pane's shell has a child");
        children
            .split_whitespace()
            .next()
            .expect("the pane's program")
            .parse()
            .expect("a pid")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Ends the console too (SIGHUP to the pane's processes).
        let _ = self.tmux(&["kill-server"]);
    }
}

/// A temporary repository on `main` with a task list and a `bosun.toml` whose only agent is
/// `tests/agents/<script>`; worktrees go to `wt/` beside it, files the agent writes for the
/// test to `aux/`.
struct Sandbox {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    aux: PathBuf,
}

impl Sandbox {
    /// `{aux}` in an `env` value stands for the `aux/` directory.
    fn new(todo: &str, script: &str, env: &[(&str, &str)]) -> Sandbox {
        let tmp = tempfile::tempdir().expect("temp dir");
        let repo = tmp.path().join("repo");
        let aux = tmp.path().join("aux");
        std::fs::create_dir_all(&repo).expect("mkdir repo");
        std::fs::create_dir_all(&aux).expect("mkdir aux");
        let env: Vec<String> = env
            .iter()
            .map(|(k, v)| {
                let v = v.replace("{aux}", &aux.display().to_string());
                format!("{k} = {}", toml_str(&v))
            })
            .collect();
        let config = format!(
            "[project]\nworktree_root = {}\n\n\
             [orchestrator]\nmax_parallel = 1\nmax_attempts = 3\nrun_timeout = \"30s\"\n\n\
             [executors.fake]\ncommand = [{}]\nenv = {{ {} }}\n\n\
             [sandbox]\nwritable = [{}]\n",
            toml_str(&tmp.path().join("wt").display().to_string()),
            toml_str(&agent(script)),
            env.join(", "),
            // The agent writes files for the test to read to `aux/`, outside its checkout.
            toml_str(&aux.display().to_string()),
        );
        std::fs::write(repo.join("TODO.md"), todo).expect("write TODO.md");
        std::fs::write(repo.join("notes.txt"), "original\n").expect("write notes.txt");
        std::fs::write(repo.join("bosun.toml"), config).expect("write bosun.toml");
        common::git(&repo, &["init", "-q", "-b", "main"]);
        common::git(&repo, &["add", "-A"]);
        common::git(&repo, &["commit", "-q", "-m", "initial"]);
        Sandbox {
            _tmp: tmp,
            repo,
            aux,
        }
    }

    fn git(&self, args: &[&str]) -> String {
        common::git(&self.repo, args)
    }

    /// Opens the console on this repository in tmux ([`console_in`]).
    fn console(&self, name: &str) -> Tmux {
        console_in(name, &self.repo)
    }

    /// `bosun runs --json`: every run, newest first.
    fn runs(&self) -> Vec<Value> {
        let out = common::clean(env!("CARGO_BIN_EXE_bosun"), &self.repo)
            .args(["runs", "--json"])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("bosun runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "bosun runs --json failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        match serde_json::from_str(&stdout) {
            Ok(Value::Array(runs)) => runs,
            other => panic!("not a JSON array ({other:?}): {stdout}"),
        }
    }
}

/// A console whose loop is stuck (as behind a terminal reader that spins when its terminal
/// is gone: crossterm issue 793; here a stall point after the first frame) still ends when
/// told to, SIGTERM or SIGHUP, within the watchdog's grace, with the status the signal would
/// have given; the log says why. Without the watchdog it never ended.
#[test]
fn a_stuck_console_still_ends_on_sigterm_and_sighup() {
    if !tmux_available("a_stuck_console_still_ends_on_sigterm_and_sighup") {
        return;
    }
    for (i, (signal, status)) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129)]
        .into_iter()
        .enumerate()
    {
        let s = Sandbox::new("# Tasks\n\n- [ ] Write the notes\n", "writes_note.sh", &[]);
        let script = "BOSUN_STALL_AT=console:drawn \"$0\"; echo EXIT:$?; exec sleep 300";
        let bosun = env!("CARGO_BIN_EXE_bosun");
        let tmux = Tmux::start(
            &format!("stuck{i}"),
            &s.repo,
            120,
            40,
            &["sh", "-c", script, bosun],
        );
        tmux.wait_for_text("Write the notes");
        let log = || {
            let dir = s.repo.join(".bosun/logs");
            let mut text = String::new();
            for entry in std::fs::read_dir(&dir)
                .expect("the log directory")
                .flatten()
            {
                if entry.file_name().to_string_lossy().ends_with(".log") {
                    text += &std::fs::read_to_string(entry.path()).unwrap_or_default();
                }
            }
            text
        };
        // The start-up figure the end-to-end bench reads.
        let deadline = Instant::now() + WAIT;
        while !log().contains("first frame drawn") {
            assert!(
                Instant::now() < deadline,
                "no 'first frame drawn' in the log:\n{}",
                log()
            );
            std::thread::sleep(POLL);
        }
        let pid = tmux.program_pid();
        let sent = Instant::now();
        // SAFETY: kill(2) on the console's pid, read from its parent's children.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        tmux.wait_for_text(&format!("EXIT:{status}"));
        let took = sent.elapsed();
        assert!(
            took >= Duration::from_secs(4),
            "signal {signal}: the stall point held the loop, so only the watchdog ended it \
             ({took:?})"
        );
        assert!(
            log().contains("the console did not end within 5s of"),
            "signal {signal}: the log says why the process ended:\n{}",
            log()
        );
    }
}

/// The console on the repository at `dir`, 120×40, in tmux: `sh -c 'bosun; echo EXIT:$?'`,
/// so the exit status is on screen once the console is gone (the shell then sleeps, so the
/// pane stays readable; the server's end stops it).
fn console_in(name: &str, dir: &Path) -> Tmux {
    bosun_in(name, dir, "")
}

/// `bosun ARGS` (one word or none) in tmux, 120×40, in `dir`, as [`console_in`].
fn bosun_in(name: &str, dir: &Path, args: &str) -> Tmux {
    let script = format!("\"$0\" {args}; echo EXIT:$?; exec sleep 300");
    Tmux::start(
        name,
        dir,
        120,
        40,
        &["sh", "-c", &script, env!("CARGO_BIN_EXE_bosun")],
    )
}

/// The header's count for a board column, e.g. `Awaiting approval 1`.
fn count(column: &str, n: usize) -> impl Fn(&str) -> bool {
    let text = format!("{column} {n} ");
    move |screen: &str| screen.lines().next().is_some_and(|l| l.contains(&text))
}

/// The review screen has the change loaded: its diff shows the added line `line`.
fn diff_shows(line: &str) -> impl Fn(&str) -> bool {
    let added = format!("+ {line}");
    move |screen: &str| screen.contains("awaiting_approval") && screen.contains(&added)
}

/// The console quits and the process exited 0 (the shell prints the status).
fn quit_cleanly(tmux: &Tmux) {
    tmux.press(&["q"]);
    let screen = tmux.wait_for("the console to exit", |s| s.contains("EXIT:"));
    assert!(
        screen.contains("EXIT:0"),
        "bosun exited non-zero:\n{screen}"
    );
}

#[test]
fn approve_in_the_console_merges_the_run_and_ticks_the_task() {
    if !tmux_available("approve_in_the_console_merges_the_run_and_ticks_the_task") {
        return;
    }
    let started = Instant::now();
    let s = Sandbox::new("# Tasks\n\n- [ ] Say hello\n", "well_behaved.sh", &[]);
    let before = s.git(&["rev-parse", "main"]);
    let tmux = s.console("approve");

    // The console starts the task on its own; the run ends up waiting for the operator.
    tmux.wait_for("a run awaiting approval", count("Awaiting approval", 1));
    // Board: two columns right is "Awaiting approval"; enter opens the run in Review.
    tmux.press(&["]", "Enter"]);
    let review = tmux.wait_for("the run's diff in Review", diff_shows("hi"));
    assert!(review.contains("hello.txt"), "{review}");

    // `a` asks first; `y` approves the whole change.
    tmux.press(&["a"]);
    tmux.wait_for_text("y / enter: approve");
    tmux.press(&["y"]);
    let done = tmux.wait_for("the approval's answer", |s| {
        s.contains("approved and merged") && count("Done", 1)(s)
    });
    assert!(!done.contains("error:"), "{done}");

    // The target branch has the agent's file and the ticked task, in the checkout too.
    assert_eq!(s.git(&["show", "main:hello.txt"]), "hi\n");
    let todo = s.git(&["show", "main:TODO.md"]);
    assert!(todo.contains("- [x] Say hello"), "{todo}");
    let on_disk = std::fs::read_to_string(s.repo.join("TODO.md")).expect("read TODO.md");
    assert!(on_disk.contains("- [x] Say hello"), "{on_disk}");
    assert_eq!(
        s.git(&["merge-base", "--is-ancestor", before.trim(), "main"]),
        ""
    );
    assert_ne!(s.git(&["rev-parse", "main"]), before, "main moved on");
    assert_eq!(
        s.git(&["status", "--porcelain"]),
        "",
        "the checkout is clean"
    );

    quit_cleanly(&tmux);
    let runs = s.runs();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["status"], "merged", "{:#}", runs[0]);
    assert_eq!(runs[0]["decision"]["verdict"], "approve", "{:#}", runs[0]);
    eprintln!("approve end to end took {:?}", started.elapsed());
}

#[test]
fn reject_with_retry_in_the_console_gives_the_reason_to_the_next_attempt() {
    if !tmux_available("reject_with_retry_in_the_console_gives_the_reason_to_the_next_attempt") {
        return;
    }
    let started = Instant::now();
    let s = Sandbox::new(
        "# Tasks\n\n- [ ] Write a note\n",
        "writes_note.sh",
        &[("PROMPT_COPY", "{aux}/prompt")],
    );
    let prompt = s.aux.join("prompt");
    let reason = "use snake_case please";
    let tmux = s.console("reject");

    tmux.wait_for("a run awaiting approval", count("Awaiting approval", 1));
    tmux.press(&["]", "Enter"]);
    tmux.wait_for("the run's diff in Review", diff_shows("note from"));

    // `r` asks for a reason; enter, then `y`: reject and queue another attempt.
    tmux.press(&["r"]);
    tmux.wait_for_text("Reject — why?");
    tmux.type_text(reason);
    tmux.wait_for_text(reason);
    tmux.press(&["Enter"]);
    let ask = tmux.wait_for_text("y reject and retry");
    assert!(ask.contains(&format!("Reason: {reason}")), "{ask}");
    tmux.press(&["y"]);
    let answer = tmux.wait_for_text("rejected; another attempt is queued");
    assert!(!answer.contains("error:"), "{answer}");

    // Back on the board the new attempt runs and waits for the operator in turn; the detail
    // pane follows the task's newest run.
    tmux.press(&["Escape"]);
    tmux.wait_for("the second attempt awaiting approval", |screen| {
        screen
            .lines()
            .any(|l| l.contains("awaiting_approval · attempt 2"))
    });
    quit_cleanly(&tmux);

    let runs = s.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let (second, first) = (&runs[0], &runs[1]);
    assert_eq!(first["status"], "rejected", "{first:#}");
    assert_eq!(first["attempt"], 1);
    assert_eq!(first["decision"]["verdict"], "reject", "{first:#}");
    assert_eq!(first["decision"]["reason"], reason, "{first:#}");
    assert_eq!(second["attempt"], 2, "{second:#}");
    assert_eq!(second["task_id"], first["task_id"]);
    assert_eq!(second["status"], "awaiting_approval", "{second:#}");
    let feedback = second["feedback"].as_str().unwrap_or_default();
    assert!(feedback.contains(reason), "{second:#}");
    let prompt2 = std::fs::read_to_string(prompt.with_extension("2")).expect("second prompt");
    assert!(prompt2.contains(reason), "{prompt2}");
    // Nothing reached the target branch.
    assert_eq!(s.git(&["show", "main:notes.txt"]), "original\n");
    eprintln!("reject end to end took {:?}", started.elapsed());
}

/// Agents running without a sandbox are never a silent state: the header says so for as long
/// as the console is open (here by choice, `[sandbox] mode = "off"`).
#[test]
fn the_header_says_when_agents_run_without_a_sandbox() {
    if !tmux_available("the_header_says_when_agents_run_without_a_sandbox") {
        return;
    }
    let s = Sandbox::new("# Tasks\n\n- [ ] Say hello\n", "well_behaved.sh", &[]);
    let config = std::fs::read_to_string(s.repo.join("bosun.toml")).expect("config");
    let config = config.replace("[sandbox]\n", "[sandbox]\nmode = \"off\"\n");
    std::fs::write(s.repo.join("bosun.toml"), config).expect("write config");
    s.git(&["commit", "-q", "-am", "no sandbox"]);
    let tmux = s.console("nosandbox");
    let screen = tmux.wait_for("the header", |screen| {
        screen
            .lines()
            .next()
            .is_some_and(|l| l.contains("NO SANDBOX"))
    });
    assert!(
        screen.lines().next().unwrap().contains("bosun repo → main"),
        "{screen}"
    );
    tmux.wait_for("a run awaiting approval", count("Awaiting approval", 1));
    quit_cleanly(&tmux);
}

/// The console killed (SIGKILL) while its runs are gated and auto-approved, at a different
/// point each time: started again, git and bosun agree and the rest of the backlog finishes.
#[test]
fn console_killed_during_auto_approvals_leaves_git_and_bosun_in_agreement() {
    if !tmux_available("console_killed_during_auto_approvals_leaves_git_and_bosun_in_agreement") {
        return;
    }
    const TASKS: usize = 5;
    for (i, done_before_kill) in [0usize, 1, 3].into_iter().enumerate() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = common::auto_approving_repository(tmp.path(), TASKS, 0);
        let tmux = console_in(&format!("chaos{i}"), &repo);
        tmux.wait_for("runs under way", |s| {
            let done = s
                .lines()
                .next()
                .and_then(|l| l.split("Done ").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<usize>().ok());
            done.is_some_and(|d| d >= done_before_kill)
                && (done_before_kill > 0
                    || s.lines().next().is_some_and(|l| !l.contains("Running 0")))
        });
        let bosun = tmux.program_pid();
        // SAFETY: kill(2) on the console's pid, read from its parent's children.
        assert_eq!(unsafe { libc::kill(bosun, libc::SIGKILL) }, 0);
        tmux.wait_for_text("EXIT:137");
        let what = format!("console killed with {done_before_kill} run(s) done");
        common::git_and_bosun_agree(&repo, &what);
        let (ok, out, err) = common::outcome({
            let mut cmd = common::clean(env!("CARGO_BIN_EXE_bosun"), &repo);
            cmd.args(["run", "--headless"])
                .stdin(std::process::Stdio::null());
            cmd
        });
        assert!(ok, "{what}: {out}{err}");
        assert_eq!(
            common::git_and_bosun_agree(&repo, &format!("{what}, run again")),
            TASKS,
            "{what}: every task merged in the end"
        );
    }
}

/// The console over a run whose agent wrote and printed the whole secrets corpus: the review
/// screen (paged through the change) and the Logs screen (the agent's output) never show a
/// corpus value the redaction catches.
#[test]
fn the_console_never_shows_a_corpus_secret() {
    if !tmux_available("the_console_never_shows_a_corpus_secret") {
        return;
    }
    let corpus_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/secrets");
    let s = Sandbox::new(
        "# Tasks\n\n- [ ] Configure the deployment\n",
        "leaks_secrets.sh",
        &[("CORPUS", &format!("{corpus_dir}/files"))],
    );
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{corpus_dir}/manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    // What must never be on screen: each secret's value, a URL's password, a key's body lines.
    let values: Vec<String> = manifest["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .flat_map(|e| {
            let v = e["value"].as_str().unwrap_or_default();
            if let Some(p) = e["password"].as_str() {
                vec![p.to_string()]
            } else if v.contains("PRIVATE KEY-----") {
                v.split(['\n', '"'])
                    .flat_map(|l| l.split("\\n"))
                    .filter(|l| !l.contains("-----") && l.trim().len() >= 16)
                    .map(|l| l.trim().to_string())
                    .collect()
            } else {
                vec![v.to_string()]
            }
        })
        .collect();
    let check = |what: &str, screen: &str| {
        // The screen is cut at its width: a value shows as far as its line does.
        let shown: Vec<&String> = values
            .iter()
            .filter(|v| screen.contains(&v[..v.len().min(24)]))
            .collect();
        assert!(shown.is_empty(), "{what} shows {shown:?}:\n{screen}");
    };
    let tmux = s.console("secrets");
    tmux.wait_for("a run awaiting approval", count("Awaiting approval", 1));
    tmux.press(&["]", "Enter"]);
    let first = tmux.wait_for("the change in Review", |s| s.contains("leak/"));
    check("the review", &first);
    for page in 0..40 {
        tmux.press(&["PageDown"]);
        std::thread::sleep(std::time::Duration::from_millis(60));
        check(&format!("the review, page {}", page + 2), &tmux.screen());
    }
    tmux.press(&["5"]);
    let logs = tmux.wait_for("the Logs screen", |s| s.contains("Logs"));
    check("the Logs screen", &logs);
    quit_cleanly(&tmux);
}

/// An agent printing a line every 20 ms: the running card's elapsed time still advances (the
/// clock used to restart on every event and never tick under steady output).
#[test]
fn the_clock_keeps_ticking_while_an_agent_prints_steadily() {
    if !tmux_available("the_clock_keeps_ticking_while_an_agent_prints_steadily") {
        return;
    }
    let s = Sandbox::new("# Tasks\n\n- [ ] Say hello\n", "chatty.sh", &[]);
    let tmux = s.console("clock");
    tmux.wait_for("the run running", count("Running", 1));
    // The card's elapsed time reaches 2 s while the output goes on (it runs about 4 s).
    let screen = tmux.wait_for("the elapsed time to advance", |screen| {
        screen.contains(" 2s") || screen.contains(" 3s")
    });
    assert!(screen.contains("Running 1"), "still running: {screen}");
    tmux.wait_for("a run awaiting approval", count("Awaiting approval", 1));
    quit_cleanly(&tmux);
}

/// `bosun attach` in tmux, 120×40, in `dir` (as [`console_in`]).
fn attached_in(name: &str, dir: &Path) -> Tmux {
    bosun_in(name, dir, "attach")
}

/// Two consoles attached to one `bosun run --headless` show the same board; a decision in one
/// appears in the other; quitting one leaves bosun running, and an attached console follows
/// bosun to its stop.
#[test]
fn two_attached_consoles_share_one_bosun_and_its_decisions() {
    if !tmux_available("two_attached_consoles_share_one_bosun_and_its_decisions") {
        return;
    }
    let s = Sandbox::new(
        "# Tasks\n\n- [ ] First thing\n- [ ] Second thing\n",
        "first_then_hangs.sh",
        &[("PID_FILE", "{aux}/pids"), ("MARK", "{aux}/first-done")],
    );
    let nobody = common::outcome({
        let mut cmd = common::clean(env!("CARGO_BIN_EXE_bosun"), &s.repo);
        cmd.arg("attach").stdin(std::process::Stdio::null());
        cmd
    });
    assert!(
        !nobody.0 && nobody.2.contains("no bosun is running"),
        "{nobody:?}"
    );
    let mut headless = common::clean(env!("CARGO_BIN_EXE_bosun"), &s.repo)
        .args(["run", "--headless"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("bosun run --headless");
    let socket = s.repo.join(".bosun").join("bosun.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let one = attached_in("attach-one", &s.repo);
    let two = attached_in("attach-two", &s.repo);
    let both = |s: &str| count("Awaiting approval", 1)(s) && count("Running", 1)(s);
    let first = one.wait_for("one run awaiting approval, one running", both);
    two.wait_for("the same board in the second console", both);
    assert!(first.contains("(attached)"), "{first}");

    // Approve in the first console; the second sees the run done.
    one.press(&["]", "Enter"]);
    one.wait_for("the run's diff in Review", diff_shows("note from"));
    one.press(&["a"]);
    one.wait_for_text("y / enter: approve");
    one.press(&["y"]);
    one.wait_for("the approval's answer", |s| {
        s.contains("approved and merged") && count("Done", 1)(s)
    });
    two.wait_for("the approval in the other console", |s| {
        count("Done", 1)(s) && count("Awaiting approval", 0)(s)
    });
    let todo = s.git(&["show", "main:TODO.md"]);
    assert!(todo.contains("- [x] First thing"), "{todo}");

    // The second quits; bosun goes on.
    quit_cleanly(&two);
    assert!(
        headless.try_wait().expect("try_wait").is_none(),
        "bosun still runs"
    );
    // Cancel the hanging run from the first: nothing is left, bosun stops, the console says so.
    one.press(&["Escape", "1"]);
    let hanging = s
        .runs()
        .into_iter()
        .find(|r| r["status"] == "running")
        .and_then(|r| r["id"].as_str().map(String::from))
        .expect("the hanging run");
    let cancel = common::outcome({
        let mut cmd = common::clean(env!("CARGO_BIN_EXE_bosun"), &s.repo);
        cmd.args(["cancel", &hanging])
            .stdin(std::process::Stdio::null());
        cmd
    });
    assert!(cancel.0, "{cancel:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while headless.try_wait().expect("try_wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        headless.try_wait().expect("try_wait").is_some(),
        "bosun stopped"
    );
    one.wait_for("the console to see bosun stop", |s| s.contains("stopped"));
    quit_cleanly(&one);
}

/// The number after `column` in the console's header line.
fn header_count(screen: &str, column: &str) -> Option<usize> {
    let header = screen.lines().next()?;
    let rest = header.split(&format!("{column} ")).nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The elapsed seconds cards show after their spinner (`⠙ 3s`, or `⠙ claude 3s` where the
/// executor's name fits).
fn elapsed_shown(screen: &str) -> Vec<u64> {
    let seconds = |word: &str| -> Option<u64> {
        word.trim_end_matches('│').strip_suffix('s')?.parse().ok()
    };
    let mut out = Vec::new();
    for line in screen.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            let spinner = word.chars().count() == 1
                && word.chars().all(|c| ('\u{2800}'..='\u{28FF}').contains(&c));
            if !spinner {
                continue;
            }
            if let Some(n) = words[i + 1..].iter().take(2).find_map(|w| seconds(w)) {
                out.push(n);
            }
        }
    }
    out
}

/// CPU seconds (user + system) process `pid` has used.
fn cpu_seconds(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command name's closing parenthesis; utime and stime are the 12th and
    // 13th of them.
    let after = stat.rsplit_once(')').expect("comm").1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// The console's flood: 10,000 open tasks, one run at a time, each agent printing 50,000
/// lines over about 3 seconds. At every sample the header's counts agree with the store's
/// (runs awaiting approval between the store's count read just before and just after the
/// screen; never more than one running), the running card's clock advances, and the CPU the
/// console (with its orchestrator) uses is recorded and bounded.
#[test]
fn under_a_flood_of_output_the_console_keeps_run_state_and_its_clock() {
    if !tmux_available("under_a_flood_of_output_the_console_keeps_run_state_and_its_clock") {
        return;
    }
    let mut todo = String::from("# Tasks\n\n");
    for i in 0..10_000 {
        todo.push_str(&format!("- [ ] Task number {i}\n"));
    }
    let s = Sandbox::new(&todo, "floods_steadily.sh", &[]);
    let tmux = s.console("flood");
    tmux.wait_for("the first run running", count("Running", 1));
    let bosun = tmux.program_pid();

    let awaiting_in_store = || {
        s.runs()
            .iter()
            .filter(|r| r["status"] == "awaiting_approval")
            .count()
    };
    let (cpu_start, wall_start) = (cpu_seconds(bosun), Instant::now());
    let mut samples = 0;
    let mut clock = Vec::new();
    while wall_start.elapsed() < Duration::from_secs(12) {
        // The screen may be a frame behind the store, never wrong: it shows at least what
        // the store had just before (within a second) and no more than it has just after.
        let before = awaiting_in_store();
        let shows =
            |screen: &str| header_count(screen, "Awaiting approval").expect("the header's count");
        let caught_up = Instant::now() + Duration::from_secs(1);
        let mut screen = tmux.screen();
        while shows(&screen) < before && Instant::now() < caught_up {
            std::thread::sleep(Duration::from_millis(20));
            screen = tmux.screen();
        }
        let after = awaiting_in_store();
        let shown = shows(&screen);
        let running = header_count(&screen, "Running").expect("the header's count");
        assert!(
            (before..=after).contains(&shown),
            "the header says {shown} awaiting approval, the store {before}..{after}:\n{screen}"
        );
        assert!(running <= 1, "max_parallel is 1:\n{screen}");
        clock.extend(elapsed_shown(&screen));
        samples += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let (cpu, wall) = (
        cpu_seconds(bosun) - cpu_start,
        wall_start.elapsed().as_secs_f64(),
    );
    let runs = awaiting_in_store();
    eprintln!(
        "flood: {samples} samples over {wall:.1} s, {runs} runs reached approval; the console \
         with its orchestrator used {cpu:.2} s of CPU ({:.0}% of one core)",
        100.0 * cpu / wall
    );
    assert!(
        runs >= 2,
        "runs went on under the flood ({runs} awaiting approval)"
    );
    assert!(
        clock.iter().any(|&s| s >= 2),
        "the running card's clock advanced while the agent printed: {clock:?}"
    );
    assert!(
        cpu < 0.9 * wall,
        "{cpu:.2} s of CPU in {wall:.1} s: the console must not spin on output"
    );
    quit_cleanly_with_runs(&tmux);
}

/// Quits a console whose runs are still working: `q`, then `y` to the question.
fn quit_cleanly_with_runs(tmux: &Tmux) {
    tmux.press(&["q"]);
    let screen = tmux.wait_for("the quit question or the exit", |s| {
        s.contains("Quit anyway?") || s.contains("EXIT:")
    });
    if screen.contains("Quit anyway?") {
        tmux.press(&["y"]);
    }
    let screen = tmux.wait_for("the console to exit", |s| s.contains("EXIT:"));
    assert!(
        screen.contains("EXIT:0"),
        "bosun exited non-zero:\n{screen}"
    );
}

/// At 120×40 every card's title reads (two lines, ≥ 30 characters) and two titles that
/// start alike are told apart; focus is on the run awaiting approval, so `a` then `y` decides
/// it from the board; at 80×24 the list shows ≥ 20 characters of a title on one line.
#[test]
fn titles_read_at_120x40_and_80x24_and_the_board_decides_in_two_keys() {
    if !tmux_available("titles_read_at_120x40_and_80x24_and_the_board_decides_in_two_keys") {
        return;
    }
    let first = "Add a greeting to the startup banner of the server";
    let second = "Add a greeting to the command line help text";
    let todo = format!("# Tasks\n\n- [ ] {first}\n- [ ] {second}\n");
    let s = Sandbox::new(&todo, "well_behaved.sh", &[]);
    let tmux = s.console("titles");
    let board = tmux.wait_for("two runs awaiting approval", count("Awaiting approval", 2));
    for title in [first, second] {
        let lines = bosun::tui::board::wrap_title(title, 22, 2);
        let shown = lines.join(" ");
        assert!(shown.chars().count() >= 30, "{shown:?}");
        for line in &lines {
            assert!(
                board.contains(line.as_str()),
                "no {line:?} on the board:\n{board}"
            );
        }
    }
    // The detail pane is on the first run awaiting approval.
    assert!(board.contains("awaiting_approval · attempt 1"), "{board}");

    tmux.press(&["a"]);
    tmux.wait_for_text("y: yes · any other key: no");
    tmux.press(&["y"]);
    tmux.wait_for("the approval", |s| {
        s.contains("approved and merged") && count("Done", 1)(s)
    });
    let todo = s.git(&["show", "main:TODO.md"]);
    assert!(todo.contains(&format!("- [x] {first}")), "{todo}");

    tmux.resize(80, 24);
    // Waited for whole: a capture can catch the frame half drawn.
    let start: String = second.chars().take(40).collect();
    tmux.wait_for(
        "the narrow list with the title's first 40 characters",
        |s| s.contains("Awaiting approval 1 ·") && s.contains(&start),
    );
    quit_cleanly(&tmux);
}

/// Bug: in a repository without its task file the console said only "stopped" (the reason
/// appeared after quitting), and `n` then hung at "adding the task…" for ever (the failed
/// send kept the reply channel alive, so its answer never came).
#[test]
fn a_start_up_error_is_on_screen_and_commands_answer_after_it() {
    if !tmux_available("a_start_up_error_is_on_screen_and_commands_answer_after_it") {
        return;
    }
    let s = Sandbox::new("# Tasks\n\n- [ ] Say hello\n", "well_behaved.sh", &[]);
    s.git(&["rm", "-q", "TODO.md"]);
    s.git(&["commit", "-q", "-m", "no task file"]);
    let tmux = s.console("no-todo");
    let screen = tmux.wait_for_text("bosun stopped: cannot read task file TODO.md");
    assert!(screen.contains(" stopped "), "{screen}");
    tmux.press(&["n"]);
    tmux.wait_for_text("New task");
    tmux.type_text("Write the task file");
    tmux.press(&["C-s"]);
    tmux.wait_for_text("error: bosun's orchestrator has stopped");
    // The banner stays on every screen.
    tmux.press(&["3"]);
    tmux.wait_for_text("bosun stopped: cannot read task file TODO.md");
    // Quitting says it again and exits non-zero: bosun did not do its job.
    tmux.press(&["q"]);
    let screen = tmux.wait_for("the console to exit", |s| s.contains("EXIT:"));
    assert!(screen.contains("EXIT:1"), "{screen}");
    assert!(
        screen.contains("error: cannot read task file TODO.md"),
        "{screen}"
    );
}

/// `s` hands the terminal to `$SHELL` in the run's checkout and the console comes back when it
/// exits; `E` opens `$EDITOR` at the line under the cursor there.
#[test]
fn the_shell_and_editor_keys_run_in_the_runs_checkout_and_come_back() {
    if !tmux_available("the_shell_and_editor_keys_run_in_the_runs_checkout_and_come_back") {
        return;
    }
    let s = Sandbox::new("# Tasks\n\n- [ ] Say hello\n", "well_behaved.sh", &[]);
    let aux = s.repo.parent().unwrap().join("aux");
    // Stand-ins for a shell and an editor: they say where they ran, with what, and exit.
    let shell = aux.join("shell.sh");
    std::fs::write(
        &shell,
        format!("#!/bin/sh\npwd > {0}/shell.out\n", aux.display()),
    )
    .unwrap();
    let editor = aux.join("editor.sh");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\n{{ pwd; echo \"$@\"; }} > {0}/editor.out\n",
            aux.display()
        ),
    )
    .unwrap();
    for script in [&shell, &editor] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let script = "\"$0\"; echo EXIT:$?; exec sleep 300";
    let tmux = Tmux::start(
        "shell",
        &s.repo,
        120,
        40,
        &[
            "env",
            &format!("SHELL={}", shell.display()),
            &format!("EDITOR={}", editor.display()),
            "sh",
            "-c",
            script,
            env!("CARGO_BIN_EXE_bosun"),
        ],
    );
    tmux.wait_for("a run awaiting approval", count("Awaiting approval", 1));
    let run = s.runs().into_iter().next().expect("a run");
    // The run's checkout: `[project] worktree_root`/<run id>.
    let worktree = s
        .repo
        .parent()
        .unwrap()
        .join("wt")
        .join(run["id"].as_str().expect("an id"));
    assert!(worktree.is_dir(), "{}", worktree.display());

    tmux.press(&["s"]);
    tmux.wait_for("the console back from the shell", |screen| {
        screen.contains("back from") && count("Awaiting approval", 1)(screen)
    });
    let ran_in = std::fs::read_to_string(aux.join("shell.out")).expect("the shell ran");
    assert_eq!(
        std::path::Path::new(ran_in.trim()).canonicalize().unwrap(),
        worktree.canonicalize().unwrap()
    );

    // In Review, on the added line of hello.txt: the editor gets `+1 hello.txt`.
    tmux.press(&["Enter"]);
    tmux.wait_for("the run's diff in Review", diff_shows("hi"));
    tmux.press(&["n", "j", "E"]);
    tmux.wait_for_text("back from");
    let said = std::fs::read_to_string(aux.join("editor.out")).expect("the editor ran");
    let mut lines = said.lines();
    assert_eq!(
        std::path::Path::new(lines.next().unwrap())
            .canonicalize()
            .unwrap(),
        worktree.canonicalize().unwrap()
    );
    assert_eq!(lines.next(), Some("+1 hello.txt"), "{said}");
    quit_cleanly(&tmux);
}
