//! Runs that involve models and money, end to end through the real `bosun` binary on temporary
//! git repositories: best-of-two, budget stops for external agents, and (with the scripted
//! OpenAI-compatible server on 127.0.0.1) the built-in agent and the judge gate.

use std::path::PathBuf;
use std::process::Stdio;

use bosun::model::{Run, RunStatus};
use bosun::store::Store;
use tempfile::TempDir;

mod common;
use common::clean;

fn agent(name: &str) -> String {
    format!("{}/tests/agents/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A TOML string literal.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A temporary repository on `main` with `TODO.md` and `bosun.toml`.
struct Project {
    _tmp: TempDir,
    repo: PathBuf,
}

impl Project {
    /// `config` follows a `[project]` table pointing worktrees into the temp dir.
    fn new(todo: &str, config: &str) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(&repo).expect("mkdir repo");
        let p = Self { repo, _tmp: tmp };
        common::git(&p.repo, &["init", "-q", "-b", "main"]);
        std::fs::write(p.repo.join("TODO.md"), todo).expect("write TODO.md");
        let full = format!(
            "[project]\nworktree_root = {}\n\n{config}",
            toml_str(&p._tmp.path().join("wt").display().to_string()),
        );
        std::fs::write(p.repo.join("bosun.toml"), full).expect("write bosun.toml");
        common::git(&p.repo, &["add", "-A"]);
        common::git(&p.repo, &["commit", "-q", "-m", "initial"]);
        p
    }

    /// `bosun args…` must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = clean(env!("CARGO_BIN_EXE_bosun"), &self.repo)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("bosun runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
        assert!(
            out.status.success(),
            "bosun {args:?} failed:\n{stdout}\n{stderr}"
        );
        stdout
    }

    /// Every run, oldest first, as stored.
    fn runs(&self) -> Vec<Run> {
        let store = Store::open(&self.repo.join(".bosun")).expect("store opens");
        let mut runs = store.runs().expect("runs");
        runs.reverse();
        runs
    }
}

/// Two executors for best-of: `thorough` passes the non-required `quality` gate, `quick`
/// does not, so the thorough change scores higher whichever starts first.
fn best_of_config(mode: &str) -> String {
    format!(
        "[orchestrator]\nmax_parallel = 2\nmax_attempts = 1\nrun_timeout = \"20s\"\nbest_of = 2\n\n\
         [policy]\nmode = \"{mode}\"\n\n\
         [gates.quality]\ncommand = \"test -f extra.txt\"\nrequired = false\n\n\
         [executors.quick]\ncommand = [{}]\n\n[executors.thorough]\ncommand = [{}]\n",
        toml_str(&agent("well_behaved.sh")),
        toml_str(&agent("thorough.sh"))
    )
}

#[test]
fn best_of_two_presents_the_better_change_and_approving_the_other_closes_it() {
    let p = Project::new("- [ ] Say hello\n", &best_of_config("supervised"));
    p.ok(&["run", "--headless"]);
    let runs = p.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let (a, b) = (&runs[0], &runs[1]);
    assert_eq!(a.rival.as_ref(), Some(&b.id));
    assert_eq!(b.rival.as_ref(), Some(&a.id));
    assert_eq!(a.attempt, b.attempt, "candidates share their attempt");
    let mut executors = [a.executor.as_str(), b.executor.as_str()];
    executors.sort_unstable();
    assert_eq!(executors, ["quick", "thorough"], "two different executors");
    for r in &runs {
        assert_eq!(r.status, RunStatus::AwaitingApproval, "{:?}", r.error);
    }
    let thorough = runs.iter().find(|r| r.executor == "thorough").unwrap();
    let quick = runs.iter().find(|r| r.executor == "quick").unwrap();
    assert!(
        thorough.score > quick.score,
        "{:?} vs {:?}",
        thorough.score,
        quick.score
    );
    assert!(thorough.outranks(quick));

    // Each run's history says which one is presented; `show` lists the rival beside it.
    let shown = p.ok(&["show", &quick.id.0]);
    assert!(
        shown.contains(&format!("best of 2: run {} (thorough", thorough.id.short())),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("rival     {} (thorough", thorough.id)),
        "{shown}"
    );

    // The operator switches to the lower-scoring one and approves it: the other is closed.
    p.ok(&["approve", &quick.id.0]);
    let runs = p.runs();
    let quick = runs.iter().find(|r| r.executor == "quick").unwrap();
    let thorough = runs.iter().find(|r| r.executor == "thorough").unwrap();
    assert_eq!(quick.status, RunStatus::Merged);
    assert_eq!(thorough.status, RunStatus::Cancelled);
    assert!(
        thorough
            .error
            .as_deref()
            .unwrap_or("")
            .contains("other candidate"),
        "{:?}",
        thorough.error
    );
    assert!(p.repo.join("hello.txt").exists());
    assert!(
        !p.repo.join("extra.txt").exists(),
        "only the approved change is merged"
    );
}

#[test]
fn best_of_two_auto_approves_only_the_better_change_once_both_are_done() {
    let p = Project::new("- [ ] Say hello\n", &best_of_config("autonomous"));
    p.ok(&["run", "--headless"]);
    let runs = p.runs();
    let thorough = runs.iter().find(|r| r.executor == "thorough").unwrap();
    let quick = runs.iter().find(|r| r.executor == "quick").unwrap();
    assert_eq!(thorough.status, RunStatus::Merged, "{:?}", thorough.error);
    assert_eq!(quick.status, RunStatus::Cancelled, "{:?}", quick.error);
    assert!(p.repo.join("extra.txt").exists());
    assert!(
        std::fs::read_to_string(p.repo.join("TODO.md"))
            .unwrap()
            .contains("- [x]")
    );
}

#[test]
fn an_external_agent_reporting_spend_past_the_run_budget_is_stopped() {
    let recording = format!(
        "{}/../shared/fixtures/agents/claude/run1_stdout.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    // The recording reports $0.01514; the limit is a cent.
    let config = format!(
        "[orchestrator]\nmax_parallel = 1\nmax_attempts = 3\nrun_timeout = \"20s\"\n\n\
         [budget]\nper_run_usd = 0.01\n\n\
         [executors.claude]\npreset = \"claude\"\ncommand = [{}, {}]\n",
        toml_str(&agent("claude_replay.sh")),
        toml_str(&recording)
    );
    let p = Project::new("- [ ] Create hello.txt\n", &config);
    p.ok(&["run", "--headless"]);
    let runs = p.runs();
    assert_eq!(runs.len(), 1, "a budget stop is not retried: {runs:#?}");
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.reason.as_deref(), Some("budget"));
    let error = run.error.as_deref().unwrap_or("");
    assert!(error.contains("per_run_usd"), "{error}");
    assert!(
        (run.usage.cost_usd - 0.01514).abs() < 1e-9,
        "{:?}",
        run.usage
    );
    let shown = p.ok(&["show", &run.id.0]);
    assert!(shown.contains("error     [budget]"), "{shown}");
}
