//! The orchestrator through its library API, as the console will drive it: pause and resume,
//! cancelling a running agent, routing by task type, and a graceful stop on SIGTERM.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bosun::config::{Config, ExecutorConfig};
use bosun::model::{RunStatus, TaskType};
use bosun::orchestrator::{
    Command as OrchestratorCommand, Event, Missed, Options, Orchestrator, Subscription,
};
use bosun::project::Project;
use tokio::sync::oneshot;

mod common;

fn git(dir: &Path, args: &[&str]) {
    common::git(dir, args);
}

/// A repository with `todo` committed, and a config whose worktrees stay in the temp dir.
fn setup(dir: &Path, todo: &str) -> (Project, Config) {
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("TODO.md"), todo).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    let mut config = Config::default();
    config.project.worktree_root = dir.join("wt").display().to_string();
    config.orchestrator.run_timeout = "20s".into();
    // Agents leave pid files for the tests in the temp dir, outside their checkout.
    config.sandbox.writable = vec![dir.display().to_string()];
    (Project::locate(Some(&repo)).unwrap(), config)
}

fn shell(script: &str) -> ExecutorConfig {
    ExecutorConfig {
        command: vec!["sh".into(), "-c".into(), script.into()],
        ..ExecutorConfig::default()
    }
}

/// Waits (up to 20 s) for an event matching `want`.
async fn wait_for(events: &mut Subscription, want: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Ok(e)) if want(&e) => return e,
            Ok(Ok(_)) | Ok(Err(Missed::State(_) | Missed::Output(_))) => {}
            Ok(Err(Missed::Closed)) => panic!("event bus closed"),
            Err(_) => panic!("timed out waiting for an event"),
        }
    }
}

fn status_is(status: RunStatus) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::Run { run } if run.status == status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_new_runs_and_resume_starts_them() {
    let dir = tempfile::tempdir().unwrap();
    let (project, mut config) = setup(dir.path(), "- [ ] one\n- [ ] two\n");
    config.orchestrator.max_parallel = 1;
    config
        .executors
        .agents
        .insert("a".into(), shell("echo x > \"$BOSUN_RUN_ID.txt\""));
    let options = Options {
        schedule: true,
        exit_when_idle: false,
        ..Options::default()
    };
    let orchestrator = Orchestrator::open(project, config, options).unwrap();
    let store = orchestrator.store();
    let mut events = orchestrator.subscribe();
    let handle = orchestrator.spawn();
    handle
        .commands
        .send(OrchestratorCommand::Pause)
        .await
        .unwrap();
    // The first run may already have started; after it, nothing more while paused.
    wait_for(&mut events, |e| matches!(e, Event::Paused { paused: true })).await;
    let settled = |s: RunStatus| s == RunStatus::AwaitingApproval || s == RunStatus::Failed;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = store.runs().unwrap();
    assert!(before.len() <= 1, "no run starts while paused: {before:?}");
    assert!(before.iter().all(|r| settled(r.status)), "{before:?}");

    handle
        .commands
        .send(OrchestratorCommand::Resume)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while store
        .runs()
        .unwrap()
        .iter()
        .filter(|r| r.status == RunStatus::AwaitingApproval)
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "both tasks run after resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    handle
        .commands
        .send(OrchestratorCommand::Shutdown)
        .await
        .unwrap();
    handle.done.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_run_stops_its_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("sleeper.pid");
    let (project, mut config) = setup(dir.path(), "- [ ] slow\n");
    config.executors.agents.insert(
        "a".into(),
        shell(&format!(
            "sleep 60 & echo $! > {}; wait",
            pid_file.display()
        )),
    );
    let options = Options {
        schedule: true,
        exit_when_idle: true,
        ..Options::default()
    };
    let orchestrator = Orchestrator::open(project, config, options).unwrap();
    let mut events = orchestrator.subscribe();
    let handle = orchestrator.spawn();
    let running = wait_for(
        &mut events,
        |e| matches!(e, Event::Run { run } if run.pgid.is_some()),
    )
    .await;
    let Event::Run { run } = running else {
        unreachable!()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pid_file.exists()
        || std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .is_empty()
    {
        assert!(Instant::now() < deadline, "the agent wrote its child's pid");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let child: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let (tx, rx) = oneshot::channel();
    handle
        .commands
        .send(OrchestratorCommand::Cancel {
            run: run.id.0.clone(),
            reply: tx,
        })
        .await
        .unwrap();
    rx.await.unwrap().unwrap();
    let Event::Run { run: cancelled } =
        wait_for(&mut events, status_is(RunStatus::Cancelled)).await
    else {
        unreachable!()
    };
    assert_eq!(cancelled.id, run.id);
    handle.done.await.unwrap().unwrap();
    // The agent's background child is gone too (or a zombie awaiting its reaper).
    let state = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains(") Z "),
        "child {child} still runs: {state}"
    );
    assert!(
        !dir.path().join("wt").join(&run.id.0).exists(),
        "worktree removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_sends_each_task_type_to_its_executor() {
    let dir = tempfile::tempdir().unwrap();
    let (project, mut config) = setup(
        dir.path(),
        "- [ ] Write the user guide [type:docs]\n- [ ] Fix the parser\n",
    );
    config
        .executors
        .agents
        .insert("coder".into(), shell("echo code > c.txt"));
    config
        .executors
        .agents
        .insert("writer".into(), shell("echo docs > d.md"));
    config.routing.default = vec!["coder".into()];
    config.routing.docs = vec!["writer".into()];
    assert_eq!(
        config.routing.for_type(TaskType::Docs),
        ["writer".to_string()]
    );
    let options = Options {
        schedule: true,
        exit_when_idle: true,
        ..Options::default()
    };
    let orchestrator = Orchestrator::open(project, config, options).unwrap();
    let store = orchestrator.store();
    orchestrator.spawn().done.await.unwrap().unwrap();
    let runs = store.runs().unwrap();
    let by_title = |t: &str| {
        runs.iter()
            .find(|r| r.task_title == t)
            .unwrap()
            .executor
            .clone()
    };
    assert_eq!(by_title("Write the user guide"), "writer");
    assert_eq!(by_title("Fix the parser"), "coder");
    assert!(
        runs.iter().all(|r| r.status == RunStatus::AwaitingApproval),
        "{runs:?}"
    );
}

#[test]
fn sigterm_stops_gracefully_and_the_cut_short_run_is_queued_again() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("agent.pid");
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("TODO.md"), "- [ ] slow\n").unwrap();
    std::fs::write(
        repo.join("bosun.toml"),
        format!(
            "[project]\nworktree_root = {:?}\n[orchestrator]\nshutdown_grace = \"1s\"\n[executors.a]\ncommand = [\"sh\", \"-c\", \"echo $$ > {}; exec sleep 60\"]\n[sandbox]\nwritable = [{:?}]\n",
            dir.path().join("wt").display().to_string(),
            pid_file.display(),
            dir.path().display().to_string()
        ),
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    let bosun = env!("CARGO_BIN_EXE_bosun");
    let mut child = Command::new(bosun)
        .current_dir(&repo)
        .args(["run", "--headless", "--json"])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the agent's process group is recorded (its pid is in a run event).
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let started = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("\"pgid\":") && !l.contains("\"pgid\":null"));
        (started, lines.map_while(Result::ok).collect::<Vec<_>>())
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "the agent started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let agent: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM) };
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "bosun stops after its grace period"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let (saw_start, rest) = reader.join().unwrap();
    assert!(saw_start);
    assert!(
        status.success(),
        "a requested stop is not an error: {status:?}"
    );
    assert!(
        rest.iter()
            .any(|l| l.contains("\"status\":\"interrupted\"")),
        "{rest:?}"
    );
    let state = std::fs::read_to_string(format!("/proc/{agent}/stat")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains(") Z "),
        "agent {agent} still runs: {state}"
    );

    let out = Command::new(bosun)
        .current_dir(&repo)
        .args(["runs", "--json"])
        .output()
        .unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["queued", "interrupted"], "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_task_is_committed_read_back_and_run_and_a_failed_run_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (project, mut config) = setup(dir.path(), "# Tasks\n\n- [ ] first\n");
    let repo = project.root.clone();
    config.orchestrator.max_attempts = 1;
    // Fails on its first attempt at a task, succeeds once its prompt carries feedback.
    config.executors.agents.insert(
        "a".into(),
        shell("if grep -q 'previous attempt failed' \"$BOSUN_PROMPT_FILE\"; then echo ok > \"$BOSUN_TASK_ID.txt\"; else echo 'cannot' >&2; exit 1; fi"),
    );
    let options = Options {
        schedule: true,
        ..Options::default()
    };
    let orchestrator = Orchestrator::open(project, config, options).unwrap();
    let store = orchestrator.store();
    let mut events = orchestrator.subscribe();
    let handle = orchestrator.spawn();
    let failed = wait_for(&mut events, status_is(RunStatus::Failed)).await;
    let Event::Run { run: failed } = failed else {
        unreachable!()
    };

    // A new task from the console: committed on main, published, scheduled.
    let new = bosun::api::NewTask {
        title: "Write the guide".into(),
        body: "Cover setup.".into(),
        task_type: Some(TaskType::Docs),
        priority: Some(bosun::model::Priority::High),
    };
    let (reply, answer) = oneshot::channel();
    handle
        .commands
        .send(OrchestratorCommand::AddTask {
            task: new,
            who: "test".into(),
            reply,
        })
        .await
        .unwrap();
    let task = answer.await.unwrap().unwrap();
    assert_eq!(task.title, "Write the guide");
    assert_eq!(task.task_type, TaskType::Docs);
    let todo = common::git(&repo, &["show", "main:TODO.md"]);
    assert_eq!(
        todo,
        "# Tasks\n\n- [ ] first\n- [ ] Write the guide [type:docs] [priority:high]\n  Cover setup.\n"
    );
    assert!(
        common::git(&repo, &["log", "-1", "--format=%s", "main"])
            .starts_with("bosun: new task Write the guide")
    );
    wait_for(
        &mut events,
        |e| matches!(e, Event::Tasks { tasks } if tasks.iter().any(|t| t.id == task.id)),
    )
    .await;
    wait_for(&mut events, |e| {
        matches!(e, Event::Run { run } if run.task_id == task.id && run.status == RunStatus::Failed)
    })
    .await;

    // Retry the first task's failed run: attempt 2 carries the failure and succeeds.
    let (reply, answer) = oneshot::channel();
    handle
        .commands
        .send(OrchestratorCommand::Retry {
            run: failed.id.0.clone(),
            who: "test".into(),
            reply,
        })
        .await
        .unwrap();
    let retried = answer.await.unwrap().unwrap();
    assert_eq!(retried.attempt, 2);
    assert!(
        retried
            .feedback
            .as_deref()
            .unwrap()
            .starts_with("The previous attempt failed: the agent exited with status 1"),
        "{retried:?}"
    );
    wait_for(&mut events, |e| {
        matches!(e, Event::Run { run } if run.id == retried.id && run.status == RunStatus::AwaitingApproval)
    })
    .await;
    // The same run cannot be retried twice.
    let (reply, answer) = oneshot::channel();
    handle
        .commands
        .send(OrchestratorCommand::Retry {
            run: failed.id.0.clone(),
            who: "test".into(),
            reply,
        })
        .await
        .unwrap();
    let refused = answer.await.unwrap().unwrap_err().to_string();
    assert!(refused.contains("only the newest run"), "{refused}");
    assert_eq!(store.runs().unwrap().len(), 3);
    handle
        .commands
        .send(OrchestratorCommand::Shutdown)
        .await
        .unwrap();
    handle.done.await.unwrap().unwrap();
}
