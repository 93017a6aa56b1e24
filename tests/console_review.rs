//! The review decision end to end: the orchestrator approving only some hunks of a real run
//! (the rest reversed on the run's branch, the task ticked) and rejecting with the operator's
//! own instructions for the next attempt.

use std::path::Path;

use bosun::config::{Config, ExecutorConfig};
use bosun::git::HunkRef;
use bosun::model::{Run, RunStatus};
use bosun::orchestrator::{Command, Options, Orchestrator, OrchestratorError};
use bosun::project::Project;
use tokio::sync::oneshot;

mod common;

/// Lines `line 1` … `line n`, those in `changed` reading `line i changed`.
fn numbered(n: usize, changed: &[usize]) -> String {
    (1..=n)
        .map(|i| {
            if changed.contains(&i) {
                format!("line {i} changed\n")
            } else {
                format!("line {i}\n")
            }
        })
        .collect()
}

/// A repository with a task list and two files, and a config whose only agent changes
/// `a.rs` in two places and `b.rs` in one (three hunks in two files).
fn setup(dir: &Path) -> (Project, Config) {
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).unwrap();
    common::git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("TODO.md"), "- [ ] Touch two files\n").unwrap();
    std::fs::write(repo.join("a.rs"), numbered(40, &[])).unwrap();
    std::fs::write(repo.join("b.rs"), numbered(10, &[])).unwrap();
    common::git(&repo, &["add", "-A"]);
    common::git(&repo, &["commit", "-q", "-m", "init"]);
    let heads = dir.join("heads");
    std::fs::create_dir(&heads).unwrap();
    std::fs::write(heads.join("a.rs"), numbered(40, &[3, 30])).unwrap();
    std::fs::write(heads.join("b.rs"), numbered(10, &[5])).unwrap();
    let mut config = Config::default();
    config.project.worktree_root = dir.join("wt").display().to_string();
    config.orchestrator.run_timeout = "20s".into();
    let script = format!("cp {0}/a.rs a.rs && cp {0}/b.rs b.rs", heads.display());
    config.executors.agents.insert(
        "agent".into(),
        ExecutorConfig {
            command: vec!["sh".into(), "-c".into(), script],
            ..ExecutorConfig::default()
        },
    );
    (Project::locate(Some(&repo)).unwrap(), config)
}

/// Runs the task once, up to awaiting approval; returns the run.
async fn awaiting(project: &Project, config: &Config) -> Run {
    let options = Options {
        schedule: true,
        exit_when_idle: true,
        ..Options::default()
    };
    let orchestrator = Orchestrator::open(project.clone(), config.clone(), options).unwrap();
    let store = orchestrator.store();
    orchestrator.spawn().done.await.unwrap().unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, RunStatus::AwaitingApproval, "{runs:?}");
    runs[0].clone()
}

/// Sends one command to a non-scheduling orchestrator (as the CLI does) and returns its
/// answer and the store's view afterwards.
async fn decide(
    project: &Project,
    config: &Config,
    make: impl FnOnce(oneshot::Sender<Result<Run, OrchestratorError>>) -> Command,
) -> (
    Result<Run, OrchestratorError>,
    Vec<Run>,
    Vec<String>,
    Vec<String>,
) {
    let orchestrator =
        Orchestrator::open(project.clone(), config.clone(), Options::default()).unwrap();
    let store = orchestrator.store();
    let handle = orchestrator.spawn();
    let (tx, rx) = oneshot::channel();
    handle.commands.send(make(tx)).await.unwrap();
    let answer = rx.await.unwrap();
    handle.commands.send(Command::Shutdown).await.unwrap();
    handle.done.await.unwrap().unwrap();
    let runs = store.runs().unwrap();
    let notes = runs
        .iter()
        .flat_map(|r| store.events(&r.id).unwrap())
        .filter(|e| e.kind == "note")
        .map(|e| e.text)
        .collect();
    let audit = store
        .audit()
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.action, e.detail))
        .collect();
    (answer, runs, notes, audit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_approval_merges_only_the_kept_hunk_and_ticks_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let (project, config) = setup(dir.path());
    let run = awaiting(&project, &config).await;
    let repo = project.root.clone();

    let keep = vec![HunkRef::new("a.rs", 1)];
    let (answer, runs, notes, audit) = decide(&project, &config, |reply| Command::Approve {
        run: run.id.0.clone(),
        who: "tester".into(),
        note: String::new(),
        keep: Some(keep),
        reply,
    })
    .await;
    let merged = answer.unwrap();
    assert_eq!(merged.status, RunStatus::Merged);
    let show = |path: &str| common::git(&repo, &["show", &format!("main:{path}")]);
    assert_eq!(
        show("a.rs"),
        numbered(40, &[30]),
        "only the second hunk of a.rs"
    );
    assert_eq!(show("b.rs"), numbered(10, &[]), "b.rs's hunk was dropped");
    assert_eq!(
        show("TODO.md"),
        "- [x] Touch two files\n",
        "the task is ticked"
    );
    // The checkout of main followed and is clean.
    assert_eq!(
        std::fs::read_to_string(repo.join("a.rs")).unwrap(),
        numbered(40, &[30])
    );
    assert!(common::git(&repo, &["status", "--porcelain"]).is_empty());

    let what = "approved 1 of 3 hunks; dropped: a.rs#1, b.rs#1";
    let decision = runs[0].decision.clone().unwrap();
    assert_eq!(
        (decision.verdict.as_str(), decision.reason.as_str()),
        ("approve", what)
    );
    assert!(notes.iter().any(|n| n == what), "{notes:?}");
    assert!(
        audit
            .iter()
            .any(|a| a.starts_with("approve ") && a.ends_with(what)),
        "{audit:?}"
    );
    // The reversal is a commit of its own on the way, saying what it dropped.
    let log = common::git(&repo, &["log", "--format=%s", "main"]);
    assert!(
        log.contains("bosun: drop the hunks the operator did not approve"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_hunk_choice_is_refused_and_the_run_stays_awaiting() {
    let dir = tempfile::tempdir().unwrap();
    let (project, config) = setup(dir.path());
    let run = awaiting(&project, &config).await;
    let (answer, runs, _, _) = decide(&project, &config, |reply| Command::Approve {
        run: run.id.0.clone(),
        who: "tester".into(),
        note: String::new(),
        keep: Some(vec![HunkRef::new("c.rs", 0)]),
        reply,
    })
    .await;
    let e = answer.unwrap_err();
    assert!(e.to_string().contains("no hunk c.rs#1"), "{e}");
    assert_eq!(runs[0].status, RunStatus::AwaitingApproval);
    let main = common::git(&project.root, &["show", "main:a.rs"]);
    assert_eq!(main, numbered(40, &[]), "nothing merged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_with_written_instructions_gives_them_to_the_next_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (project, config) = setup(dir.path());
    let run = awaiting(&project, &config).await;
    let instructions = "Only touch a.rs; keep b.rs as it is.";
    let (answer, runs, notes, audit) = decide(&project, &config, |reply| Command::Reject {
        run: run.id.0.clone(),
        who: "tester".into(),
        reason: "b.rs must not change".into(),
        retry: true,
        prompt: Some(format!("  {instructions}\n")),
        reply,
    })
    .await;
    assert_eq!(answer.unwrap().status, RunStatus::Rejected);
    let next = runs
        .iter()
        .find(|r| r.attempt == 2)
        .expect("another attempt is queued");
    assert_eq!(next.status, RunStatus::Queued);
    assert_eq!(next.feedback.as_deref(), Some(instructions));
    assert!(
        notes.iter().any(|n| n.contains("instructions")),
        "{notes:?}"
    );
    assert!(
        audit
            .iter()
            .any(|a| a.starts_with("reject+retry b.rs must not change;")),
        "{audit:?}"
    );
}
