//! The process runner against real child processes: the scripted agents in `tests/agents/`
//! (POSIX sh) stand in for agent CLIs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bosun::executors::command::{ENV_ALLOWLIST, process_group_alive};
use bosun::executors::{
    AgentEvent, AgentOutcome, AgentRun, ExecutorError, ExitKind, OutputFormat, OutputLine, Stream,
    run_agent,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod common;

fn agent(name: &str) -> String {
    format!("{}/tests/agents/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn fixture(path: &str) -> String {
    format!(
        "{}/tests/fixtures/agents/{path}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A worktree and a log directory in a fresh temp dir, and a run of `argv` in it.
fn setup(argv: &[&str]) -> (tempfile::TempDir, AgentRun) {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("wt");
    std::fs::create_dir(&cwd).unwrap();
    let run = AgentRun {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        env: vec![("BOSUN_TASK_ID".to_string(), "t-1".to_string())],
        cwd,
        timeout: Duration::from_secs(60),
        log_path: dir.path().join("logs/runs/r1.log"),
        max_log_bytes: 1024 * 1024,
        format: OutputFormat::Plain,
        sandbox: Default::default(),
        min_free_mb: 0,
    };
    (dir, run)
}

struct Ran {
    result: Result<AgentOutcome, ExecutorError>,
    lines: Vec<OutputLine>,
    events: Vec<AgentEvent>,
    pgid: Option<i32>,
}

impl Ran {
    fn outcome(&self) -> &AgentOutcome {
        match &self.result {
            Ok(outcome) => outcome,
            Err(e) => panic!("run failed: {e}"),
        }
    }

    fn texts(&self, stream: Stream) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.stream == stream)
            .map(|l| l.text.as_str())
            .collect()
    }

    fn progress(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Progress(p) => Some(p.as_str()),
                AgentEvent::Usage(_) | AgentEvent::Final { .. } => None,
            })
            .collect()
    }
}

/// Runs with roomy channels and collects what they received.
async fn go(run: &AgentRun) -> Ran {
    let (line_tx, mut line_rx) = mpsc::channel(4096);
    let (event_tx, mut event_rx) = mpsc::channel(4096);
    let mut pgid = None;
    let result = run_agent(
        run,
        |p| pgid = Some(p),
        line_tx,
        event_tx,
        CancellationToken::new(),
    )
    .await;
    let mut lines = Vec::new();
    while let Ok(line) = line_rx.try_recv() {
        lines.push(line);
    }
    let mut events = Vec::new();
    while let Ok(event) = event_rx.try_recv() {
        events.push(event);
    }
    Ran {
        result,
        lines,
        events,
        pgid,
    }
}

fn read_log(run: &AgentRun) -> String {
    std::fs::read_to_string(&run.log_path).unwrap()
}

#[tokio::test]
async fn a_well_behaved_agent_edits_talks_and_exits_0() {
    let (_dir, run) = setup(&[&agent("well_behaved.sh")]);
    let ran = go(&run).await;
    let outcome = ran.outcome();
    assert_eq!(outcome.exit, ExitKind::Exited(0));
    assert_eq!(
        std::fs::read_to_string(run.cwd.join("hello.txt")).unwrap(),
        "hi\n"
    );
    assert_eq!(
        ran.texts(Stream::Stdout),
        ["reading the task", "wrote hello.txt", "all done"]
    );
    assert_eq!(
        ran.texts(Stream::Stderr),
        ["careful: this goes to stderr", "done on stderr"]
    );
    // Plain output: stdout lines are the progress.
    assert_eq!(
        ran.progress(),
        ["reading the task", "wrote hello.txt", "all done"]
    );
    assert!(ran.pgid.is_some_and(|p| p > 1));

    let log = read_log(&run);
    for line in [
        "reading the task\n",
        "[stderr] careful: this goes to stderr\n",
        "wrote hello.txt\n",
        "[stderr] done on stderr\n",
    ] {
        assert!(log.contains(line), "{line:?} missing from log:\n{log}");
    }
    assert!(log.find("reading the task") < log.find("wrote hello.txt"));
    assert!(log.ends_with("[bosun] agent exited with code 0\n"), "{log}");
    assert_eq!(outcome.log_bytes, log.len() as u64);
    assert!(!outcome.log_truncated);
    assert_eq!(outcome.usage, None);
    assert_eq!(outcome.agent_error, None);
}

#[tokio::test]
async fn a_failing_agent_reports_its_code_and_last_words() {
    let (_dir, run) = setup(&[&agent("exit3.sh")]);
    let ran = go(&run).await;
    let outcome = ran.outcome();
    assert_eq!(outcome.exit, ExitKind::Exited(3));
    assert!(outcome.last_lines.contains(&"trying".to_string()));
    assert!(
        outcome
            .last_lines
            .contains(&"[stderr] fatal: cannot reach the model".to_string()),
        "{:?}",
        outcome.last_lines
    );
    assert!(read_log(&run).ends_with("[bosun] agent exited with code 3\n"));
}

#[tokio::test]
async fn a_missing_program_fails_at_once_without_a_log() {
    for program in ["bosun-no-such-agent-xyz", "./no-such-script.sh"] {
        let (_dir, run) = setup(&[program, "{prompt}"]);
        let ran = go(&run).await;
        match ran.result {
            Err(ExecutorError::MissingProgram { program: p }) => assert_eq!(p, program),
            other => panic!("expected MissingProgram, got {:?}", other.map(|o| o.exit)),
        }
        assert!(ran.pgid.is_none());
        assert!(!run.log_path.exists());
    }
    // A file without the executable bit is not a program either.
    let (_dir, run) = setup(&["./notes.txt"]);
    std::fs::write(run.cwd.join("notes.txt"), "echo hi\n").unwrap();
    assert!(matches!(
        go(&run).await.result,
        Err(ExecutorError::MissingProgram { .. })
    ));
}

#[tokio::test]
async fn a_hung_agent_times_out_and_its_whole_group_dies() {
    let (_dir, mut run) = setup(&[&agent("sleeper.sh")]);
    run.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let ran = go(&run).await;
    let outcome = ran.outcome();
    assert_eq!(outcome.exit, ExitKind::TimedOut);
    // The background `sleep 30` held the pipes; the run did not wait for it.
    assert!(started.elapsed() < Duration::from_secs(20));
    let pgid = ran.pgid.expect("on_start called");
    assert!(!process_group_alive(pgid), "group {pgid} survived");
    assert_eq!(ran.texts(Stream::Stdout), ["started"]);
    let log = read_log(&run);
    assert!(
        log.ends_with("[bosun] agent timed out after 300ms; its process group was killed\n"),
        "{log}"
    );
}

#[tokio::test]
async fn an_agent_ignoring_sigterm_is_killed_after_the_grace_period() {
    let (_dir, mut run) = setup(&[&agent("stubborn.sh")]);
    run.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let ran = go(&run).await;
    assert_eq!(ran.outcome().exit, ExitKind::TimedOut);
    // SIGTERM changed nothing; SIGKILL came 2 s later.
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(!process_group_alive(ran.pgid.unwrap()));
}

#[tokio::test]
async fn cancelling_mid_run_kills_the_group() {
    let (_dir, run) = setup(&[&agent("sleeper.sh")]);
    let cancel = CancellationToken::new();
    let (line_tx, mut line_rx) = mpsc::channel::<OutputLine>(64);
    let (event_tx, _event_rx) = mpsc::channel(64);
    let mut pgid = None;
    // Cancel once the agent has shown it is running.
    let canceller = async {
        while let Some(line) = line_rx.recv().await {
            if line.text == "started" {
                cancel.cancel();
                break;
            }
        }
    };
    let (result, ()) = tokio::join!(
        run_agent(&run, |p| pgid = Some(p), line_tx, event_tx, cancel.clone()),
        canceller
    );
    let outcome = result.unwrap();
    assert_eq!(outcome.exit, ExitKind::Cancelled);
    assert!(!process_group_alive(pgid.unwrap()));
    assert!(read_log(&run).ends_with("[bosun] agent cancelled; its process group was killed\n"));
}

#[tokio::test]
async fn an_already_cancelled_run_never_starts() {
    let (_dir, run) = setup(&[&agent("well_behaved.sh")]);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let (line_tx, _l) = mpsc::channel(8);
    let (event_tx, _e) = mpsc::channel(8);
    let mut started = false;
    let outcome = run_agent(&run, |_| started = true, line_tx, event_tx, cancel)
        .await
        .unwrap();
    assert_eq!(outcome.exit, ExitKind::Cancelled);
    assert!(!started);
    assert!(!run.cwd.join("hello.txt").exists());
}

#[tokio::test]
async fn processes_left_behind_by_an_exited_agent_are_ended() {
    let (_dir, run) = setup(&[&agent("leaves_child.sh")]);
    let started = Instant::now();
    let ran = go(&run).await;
    assert_eq!(ran.outcome().exit, ExitKind::Exited(0));
    assert_eq!(ran.texts(Stream::Stdout), ["bye"]);
    // `sleep 1000 &` kept stdout open; it was killed instead of waited for.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(!process_group_alive(ran.pgid.unwrap()));
}

/// 1 GiB of output in 1 KiB lines, with a 1 MiB log cap and receivers that never read.
#[tokio::test]
async fn a_gigabyte_of_output_is_read_with_bounded_memory_and_log() {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    let (_dir, run) = setup(&[&agent("flood.sh"), &GIB.to_string()]);
    let (line_tx, _line_rx) = mpsc::channel(16);
    let (event_tx, _event_rx) = mpsc::channel(16);
    let started = Instant::now();
    let outcome = run_agent(&run, |_| {}, line_tx, event_tx, CancellationToken::new())
        .await
        .unwrap();
    eprintln!("1 GiB flood read in {:?}", started.elapsed());
    assert_eq!(outcome.exit, ExitKind::Exited(0));
    assert!(outcome.log_truncated);
    let log = std::fs::metadata(&run.log_path).unwrap().len();
    let note = "[bosun] log truncated at 1048576 bytes\n".len() as u64;
    assert!(log <= MIB + note, "log is {log} bytes");
    assert!(log > MIB - 2048, "log is {log} bytes");
    assert_eq!(outcome.log_bytes, log);
    let text = read_log(&run);
    assert!(
        text.ends_with(&format!(
            "[bosun] log truncated at {} bytes\n",
            log - (text.lines().last().unwrap().len() as u64 + 1)
        )),
        "{}",
        &text[text.len() - 200..]
    );
    // Reading went on to the end of the flood, past the log's cap.
    assert_eq!(outcome.last_lines.len(), 20);
    // Kept lines are cut to 1000 bytes.
    assert_eq!(outcome.last_lines[0], format!("{}…", "0".repeat(1000)));
    // Peak memory stayed far below the output's size.
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let peak_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        assert!(peak_kib < 256 * 1024, "peak RSS {peak_kib} KiB");
    }
}

#[tokio::test]
async fn an_endless_line_is_cut_not_buffered() {
    let (_dir, run) = setup(&[&agent("long_line.sh")]);
    let ran = go(&run).await;
    let out = ran.texts(Stream::Stdout);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], format!("{}…", "y".repeat(64 * 1024)));
    assert_eq!(out[1], "after");
}

#[tokio::test]
async fn gone_receivers_do_not_disturb_the_run() {
    let (_dir, run) = setup(&[&agent("well_behaved.sh")]);
    let (line_tx, line_rx) = mpsc::channel(1);
    let (event_tx, event_rx) = mpsc::channel(1);
    drop((line_rx, event_rx));
    let outcome = run_agent(&run, |_| {}, line_tx, event_tx, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome.exit, ExitKind::Exited(0));
    assert!(read_log(&run).contains("all done\n"));
}

#[tokio::test]
async fn the_agent_sees_only_allow_listed_and_run_variables() {
    // Variables cargo gives this test process that no agent should see.
    let withheld: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| !ENV_ALLOWLIST.contains(&k.as_str()))
        .collect();
    assert!(
        withheld.iter().any(|k| k == "CARGO_MANIFEST_DIR"),
        "expected cargo's variables in the test environment"
    );
    let (_dir, run) = setup(&[&agent("print_env.sh")]);
    let ran = go(&run).await;
    let seen: Vec<(&str, &str)> = ran
        .texts(Stream::Stdout)
        .into_iter()
        .filter_map(|l| l.split_once('='))
        .collect();
    let value = |name: &str| seen.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    for name in &withheld {
        // The shell sets a few of its own (PWD, SHLVL); a leak is our value showing up.
        let ours = std::env::var(name).ok();
        assert!(
            value(name).is_none() || value(name) != ours.as_deref(),
            "{name} leaked to the agent"
        );
    }
    assert_eq!(value("CARGO_MANIFEST_DIR"), None);
    assert_eq!(value("PATH"), std::env::var("PATH").ok().as_deref());
    assert_eq!(value("BOSUN_TASK_ID"), Some("t-1"));
}

#[tokio::test]
async fn every_command_gets_a_private_tmpdir_beside_its_checkout_removed_afterwards() {
    let (_dir, mut run) = setup(&[&agent("print_env.sh")]);
    run.format = OutputFormat::OpencodeJson;
    let ran = go(&run).await;
    let tmpdir = ran
        .texts(Stream::Stdout)
        .into_iter()
        .find_map(|l| l.strip_prefix("TMPDIR="))
        .map(PathBuf::from)
        .expect("TMPDIR set");
    assert_eq!(tmpdir.parent(), run.cwd.parent());
    let name = tmpdir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(".wt.tmp-"), "{name}");
    assert!(!tmpdir.exists(), "{} left behind", tmpdir.display());
    // Not only OpenCode's.
    run.format = OutputFormat::Plain;
    let ran = go(&run).await;
    assert!(
        ran.texts(Stream::Stdout)
            .iter()
            .any(|l| l.starts_with(&format!(
                "TMPDIR={}/.wt.tmp-",
                run.cwd.parent().unwrap().display()
            ))),
        "{:?}",
        ran.texts(Stream::Stdout)
    );
}

#[tokio::test]
async fn a_claude_replay_yields_progress_usage_and_summary() {
    let (_dir, mut run) = setup(&[&agent("replay.sh"), &fixture("claude/run1_stdout.jsonl")]);
    run.format = OutputFormat::ClaudeStreamJson;
    let ran = go(&run).await;
    let outcome = ran.outcome();
    assert_eq!(outcome.exit, ExitKind::Exited(0));
    let usage = outcome.usage.expect("usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (2468, 112));
    assert!((usage.cost_usd - 0.01514).abs() < 1e-9);
    assert_eq!(
        outcome.summary.as_deref(),
        Some("Done: created hello.txt containing hi.")
    );
    assert_eq!(outcome.agent_error, None);
    assert_eq!(
        ran.progress(),
        ["Write hello.txt", "Done: created hello.txt containing hi."]
    );
    assert!(ran.events.contains(&AgentEvent::Usage(usage)));
    // The raw JSON lines still reach the log and the line channel.
    assert_eq!(ran.texts(Stream::Stdout).len(), 5);
}

#[tokio::test]
async fn an_api_error_is_reported_though_the_process_exits_0() {
    let (_dir, mut run) = setup(&[
        &agent("replay.sh"),
        &fixture("claude/run5b_http401_noretry_stdout.jsonl"),
    ]);
    run.format = OutputFormat::ClaudeStreamJson;
    let outcome = go(&run).await.result.unwrap();
    assert_eq!(outcome.exit, ExitKind::Exited(0));
    assert_eq!(
        outcome.agent_error.as_deref(),
        Some("Invalid API key · Fix external API key")
    );
    assert_eq!(outcome.summary, None);
}

#[tokio::test]
async fn a_missing_worktree_is_a_spawn_error() {
    let (_dir, mut run) = setup(&[&agent("well_behaved.sh")]);
    run.cwd = Path::new("/nonexistent/worktree").to_path_buf();
    let err = go(&run).await.result.unwrap_err();
    assert!(matches!(err, ExecutorError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/worktree"), "{err}");
}

/// The sandbox's resource limits reach the command: past `max_file_size` a write fails (the
/// kernel sends SIGXFSZ, which `sh` reports as a failed redirection or dies of), while a
/// smaller file is written.
#[tokio::test]
async fn the_sandbox_limits_the_size_of_a_file_the_command_writes() {
    let script = "head -c 1000 /dev/zero > small && head -c 100000 /dev/zero > big; echo status=$?";
    let (dir, mut run) = setup(&["sh", "-c", script]);
    run.sandbox = bosun::executors::sandbox::Sandbox {
        max_file_size: Some(4096),
        ..Default::default()
    };
    let ran = go(&run).await;
    let small = std::fs::metadata(dir.path().join("wt/small")).expect("small written");
    assert_eq!(small.len(), 1000);
    let big = std::fs::metadata(dir.path().join("wt/big")).map_or(0, |m| m.len());
    assert!(big <= 4096, "the file grew to {big} bytes past the limit");
    let said = ran.texts(Stream::Stdout).join("\n");
    assert!(!said.contains("status=0"), "{said}");
}

/// Under Landlock the command writes in its checkout and its `TMPDIR`, and nowhere else.
#[tokio::test]
async fn under_landlock_the_command_writes_only_in_its_checkout_and_tmpdir() {
    if bosun::executors::sandbox::landlock_abi().is_none() {
        common::skip(
            "under_landlock_the_command_writes_only_in_its_checkout_and_tmpdir",
            "this kernel has no Landlock",
        );
        return;
    }
    // `/dev/stderr` and `/dev/null` are written by many scripts: they stay writable.
    let script = "echo a > inside.txt && echo b > \"$TMPDIR/t.txt\" && echo e > /dev/stderr \
                  && echo n > /dev/null && echo ok-inside; \
                  echo c > ../outside.txt || echo refused-outside";
    let (dir, mut run) = setup(&["sh", "-c", script]);
    run.sandbox = bosun::executors::sandbox::Sandbox::from_config(
        &bosun::config::SandboxConfig {
            mode: bosun::config::SandboxMode::Landlock,
            ..Default::default()
        },
        &[],
    );
    let ran = go(&run).await;
    let said = ran.texts(Stream::Stdout);
    assert!(said.contains(&"ok-inside"), "{said:?}");
    assert!(said.contains(&"refused-outside"), "{said:?}");
    assert!(dir.path().join("wt/inside.txt").exists());
    assert!(!dir.path().join("outside.txt").exists());
}

/// Below `[store] min_free_mb` of free space the run log stops taking output with a note
/// saying why (the command itself runs on): a flood of output cannot fill the disk under the
/// store. Here the guard is larger than any disk.
#[tokio::test]
async fn the_log_stops_when_free_space_is_below_the_guard() {
    let (_dir, mut run) = setup(&["sh", "-c", "echo first; echo second; echo done > out.txt"]);
    run.min_free_mb = u64::MAX / (1024 * 1024);
    let ran = go(&run).await;
    assert_eq!(ran.outcome().exit, ExitKind::Exited(0));
    assert!(
        run.cwd.join("out.txt").exists(),
        "the command ran to the end"
    );
    let log = std::fs::read_to_string(&run.log_path).unwrap();
    assert!(log.starts_with("[bosun] log stopped: only "), "{log}");
    assert!(!log.contains("first"), "{log}");
    // With no guard the same lines are logged.
    run.min_free_mb = 0;
    std::fs::remove_file(&run.log_path).unwrap();
    go(&run).await;
    let log = std::fs::read_to_string(&run.log_path).unwrap();
    assert!(log.contains("first\nsecond\n"), "{log}");
}
