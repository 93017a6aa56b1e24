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
use common::llm_server::{Reply, ScriptedServer, reply};
use common::{agent, toml_str};

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
        self.ok_with(args, &[])
    }

    /// `bosun args…` with extra environment variables must succeed; returns its stdout.
    fn ok_with(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = clean(env!("CARGO_BIN_EXE_bosun"), &self.repo)
            .args(args)
            .envs(env.iter().copied())
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
fn approving_a_retry_closes_the_candidate_left_waiting_beside_the_rejected_one() {
    let p = Project::new("- [ ] Say hello\n", &best_of_config("supervised"));
    p.ok(&["run", "--headless"]);
    let runs = p.runs();
    let thorough = runs.iter().find(|r| r.executor == "thorough").unwrap();
    let quick = runs.iter().find(|r| r.executor == "quick").unwrap();
    p.ok(&[
        "reject",
        &thorough.id.0,
        "--reason",
        "not this one",
        "--retry",
    ]);
    p.ok(&["run", "--headless"]);
    let retry = p
        .runs()
        .into_iter()
        .find(|r| r.attempt == 2 && r.status == RunStatus::AwaitingApproval)
        .expect("the retry awaits approval");
    p.ok(&["approve", &retry.id.0]);
    let runs = p.runs();
    let old = runs.iter().find(|r| r.id == quick.id).unwrap();
    assert_eq!(old.status, RunStatus::Cancelled, "{runs:#?}");
    assert!(
        old.error
            .as_deref()
            .unwrap_or("")
            .contains("of the same task was approved"),
        "{:?}",
        old.error
    );
    assert_eq!(
        runs.iter()
            .filter(|r| r.status == RunStatus::AwaitingApproval)
            .count(),
        0
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

/// A config whose only executor replays the recorded Claude Code run (it reports $0.01514),
/// one run at a time, with `max_attempts` and the `[budget]` line `budget`.
fn replayed_claude(max_attempts: u32, budget: &str) -> String {
    let recording = format!(
        "{}/tests/fixtures/agents/claude/run1_stdout.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    format!(
        "[orchestrator]\nmax_parallel = 1\nmax_attempts = {max_attempts}\nrun_timeout = \"20s\"\n\n\
         [budget]\n{budget}\n\n\
         [executors.claude]\npreset = \"claude\"\ncommand = [{}, {}]\n",
        toml_str(&agent("claude_replay.sh")),
        toml_str(&recording)
    )
}

#[test]
fn an_external_agent_reporting_spend_past_the_run_budget_is_stopped() {
    // The recording reports $0.01514; the limit is a cent.
    let config = replayed_claude(3, "per_run_usd = 0.01");
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
    let listed = p.ok(&["runs"]);
    assert!(listed.contains("failed (budget)"), "{listed}");
}

/// `[budget] per_day_usd` counts what earlier runs spent today, also after a restart: the
/// second start reads the first run's spend from the store.
#[test]
fn a_daily_budget_counts_what_runs_before_a_restart_spent() {
    // Each run reports $0.01514: one fits in two cents a day, two do not.
    let config = replayed_claude(1, "per_day_usd = 0.02");
    let p = Project::new(
        "- [ ] Create hello.txt\n- [ ] Create hello.txt again\n",
        &config,
    );
    p.ok(&["run", "--headless", "--max-runs", "1"]);
    let first = p.runs();
    assert_eq!(first.len(), 1, "{first:#?}");
    assert_eq!(
        first[0].status,
        RunStatus::AwaitingApproval,
        "{:?}",
        first[0].error
    );
    p.ok(&["run", "--headless", "--max-runs", "1"]);
    let runs = p.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let second = runs.iter().find(|r| r.id != first[0].id).unwrap();
    assert_eq!(second.status, RunStatus::Failed);
    assert_eq!(second.reason.as_deref(), Some("budget"));
    let error = second.error.as_deref().unwrap_or("");
    assert!(error.contains("per_day_usd"), "{error}");
}

/// The API key the tests give bosun through the environment; it must never be written down.
const SECRET: &str = "sk-test-0123456789abcdef-never-stored";

/// `[llm]` with one provider on `server` (reading its key from `LLM_TEST_KEY`, priced so runs
/// cost something) and one route `name` over it.
fn llm_config(server: &ScriptedServer, name: &str) -> String {
    format!(
        "[llm.providers.{name}]\nbase_url = {}\nmodel = \"scripted\"\napi_key_env = \"LLM_TEST_KEY\"\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n\n\
         [llm.routes.{name}]\nchain = [\"{name}\"]\n\n",
        toml_str(&server.url())
    )
}

#[test]
fn the_built_in_agent_completes_a_task_through_the_gates_without_writing_its_key_down() {
    let server = ScriptedServer::start(vec![
        reply::tool_calls(&[(
            "c1",
            "write_file",
            r#"{"path": "hello.txt", "content": "hi\n"}"#,
        )]),
        reply::tool_calls(&[("c2", "run", r#"{"command": "cat hello.txt"}"#)]),
        reply::tool_calls(&[("c3", "finish", r#"{"summary": "Wrote hello.txt."}"#)]),
    ]);
    let config = format!(
        "[orchestrator]\nmax_parallel = 1\nmax_attempts = 1\nrun_timeout = \"30s\"\n\n{}\
         [gates.hello]\ncommand = \"grep -q hi hello.txt\"\n\n\
         [executors.builtin]\ntype = \"llm\"\nroute = \"coder\"\nallowed_commands = [\"cat\"]\n",
        llm_config(&server, "coder")
    );
    let p = Project::new("- [ ] Say hello\n", &config);
    p.ok_with(&["run", "--headless"], &[("LLM_TEST_KEY", SECRET)]);

    let runs = p.runs();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::AwaitingApproval, "{:?}", run.error);
    assert_eq!(run.executor, "builtin");
    assert!(
        run.gates
            .iter()
            .any(|g| g.name == "hello" && g.verdict == bosun::model::Verdict::Pass)
    );
    // Three model calls of 10 in + 5 out tokens at $1 / $2 per million.
    assert_eq!((run.usage.input_tokens, run.usage.output_tokens), (30, 15));
    assert!(
        (run.usage.cost_usd - 60e-6).abs() < 1e-12,
        "{:?}",
        run.usage
    );

    // The model saw the tool results, and every request carried the key.
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {SECRET}").as_str())
        );
        assert_eq!(r.body["model"], "scripted");
    }
    let last = requests[2].body["messages"].as_array().expect("messages");
    let tool_answer = last.last().expect("a tool answer");
    assert_eq!(tool_answer["role"], "tool");
    assert!(
        tool_answer["content"].as_str().unwrap_or("").contains("hi"),
        "{tool_answer}"
    );

    // The transcript is stored with the run; the log shows it; `show` names it.
    let transcript = p
        .repo
        .join(".bosun/runs")
        .join(&run.id.0)
        .join("transcript.jsonl");
    let entries = bosun::executors::llm_agent::read_transcript(&transcript).expect("transcript");
    assert!(entries.len() >= 8, "{entries:#?}");
    let log = std::fs::read_to_string(
        p.repo
            .join(".bosun/logs/runs")
            .join(format!("{}.log", run.id)),
    )
    .expect("run log");
    assert!(
        log.contains("write_file") && log.contains("finish"),
        "{log}"
    );
    let shown = p.ok(&["show", &run.id.0]);
    assert!(shown.contains("transcript .bosun/runs/"), "{shown}");
    assert!(shown.contains("+hi"), "{shown}");

    // The key is nowhere bosun writes: state dir (store, logs, transcript, prompt) and
    // the worktrees.
    let leaks = common::files_containing(p._tmp.path(), &[SECRET.to_string()]);
    assert!(leaks.is_empty(), "the API key was written to {leaks:?}");
}

#[test]
fn the_built_in_agent_is_stopped_by_its_run_budget() {
    // Each answer reports a million prompt tokens: $1 at the configured price.
    let expensive = |id: &str| {
        let Reply::Json(mut body) = reply::tool_calls(&[(id, "list_files", "{}")]) else {
            unreachable!("tool_calls builds JSON");
        };
        body["usage"]["prompt_tokens"] = 1_000_000.into();
        Reply::Json(body)
    };
    let server = ScriptedServer::start(vec![expensive("c1"), expensive("c2"), expensive("c3")]);
    let config = format!(
        "[orchestrator]\nmax_parallel = 1\nmax_attempts = 3\nrun_timeout = \"30s\"\n\n{}\
         [budget]\nper_run_usd = 1.5\n\n\
         [executors.builtin]\ntype = \"llm\"\nroute = \"coder\"\nmax_tokens = 100000000\n",
        llm_config(&server, "coder")
    );
    let p = Project::new("- [ ] Say hello\n", &config);
    p.ok_with(&["run", "--headless"], &[("LLM_TEST_KEY", SECRET)]);
    let runs = p.runs();
    assert_eq!(runs.len(), 1, "a budget stop is not retried: {runs:#?}");
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.reason.as_deref(), Some("budget"), "{:?}", run.error);
    // The first call spends $1; before the second, $1 plus the estimate of its input is
    // still under $1.50, so it is made and spends $2 in all; the third is refused.
    assert_eq!(server.hits(), 2);
    assert!(
        run.error.as_deref().unwrap_or("").contains("per_run_usd"),
        "{:?}",
        run.error
    );
    assert!(run.usage.cost_usd >= 1.0, "{:?}", run.usage);
}

/// A judge answer with every criterion at `score` (0–10).
fn verdict(score: u32) -> Reply {
    reply::text(
        &format!(
            r#"{{"correctness": {score}, "completeness": {score}, "scope": {score}, "code_quality": {score}, "tests": {score}, "rationale": "scored {score}"}}"#
        ),
        50,
        20,
    )
}

fn judged_config(server: &ScriptedServer, mode: &str) -> String {
    format!(
        "[orchestrator]\nmax_parallel = 1\nmax_attempts = 1\nrun_timeout = \"30s\"\n\n{}\
         [gates.judge]\nroute = \"judge\"\nsamples = 5\nmin_samples = 3\n\n\
         [policy]\nmode = \"{mode}\"\nrequire_operator_for = [\"judge_uncertain\"]\n\n\
         [executors.quick]\ncommand = [{}]\n",
        llm_config(server, "judge"),
        toml_str(&agent("well_behaved.sh"))
    )
}

#[test]
fn agreeing_judges_stop_early_and_the_run_is_auto_approved() {
    let server = ScriptedServer::start(vec![verdict(8), verdict(8), verdict(8)]);
    let p = Project::new("- [ ] Say hello\n", &judged_config(&server, "autonomous"));
    p.ok_with(&["run", "--headless"], &[("LLM_TEST_KEY", SECRET)]);
    let run = &p.runs()[0];
    assert_eq!(
        run.status,
        RunStatus::Merged,
        "{:?} {:?}",
        run.error,
        run.policy
    );
    let judge = run
        .gates
        .iter()
        .find(|g| g.name == "judge")
        .expect("judge ran");
    assert_eq!(
        server.hits(),
        3,
        "stops after min_samples when the answers agree"
    );
    assert!((judge.score - 0.8).abs() < 1e-9, "{judge:?}");
    let (lo, hi) = judge.interval.expect("an interval");
    assert!(
        (lo - 0.8).abs() < 1e-9 && (hi - 0.8).abs() < 1e-9,
        "{lo}..{hi}"
    );
    // The diff went to the judge between delimiters, as data.
    let prompt = server.requests()[0].body["messages"].to_string();
    assert!(
        prompt.contains("hello.txt") && prompt.contains("<<<DIFF"),
        "{prompt}"
    );
    assert!(
        run.usage.cost_usd > 0.0,
        "the judge's calls count in the run's usage"
    );
}

#[test]
fn disagreeing_judges_warn_and_hold_the_run_for_the_operator() {
    let server = ScriptedServer::start(vec![
        verdict(9),
        verdict(2),
        verdict(10),
        verdict(1),
        verdict(9),
    ]);
    let p = Project::new("- [ ] Say hello\n", &judged_config(&server, "autonomous"));
    p.ok_with(&["run", "--headless"], &[("LLM_TEST_KEY", SECRET)]);
    let run = &p.runs()[0];
    assert_eq!(run.status, RunStatus::AwaitingApproval, "{:?}", run.policy);
    assert!(
        run.policy
            .as_deref()
            .unwrap_or("")
            .contains("judge_uncertain"),
        "{:?}",
        run.policy
    );
    let judge = run
        .gates
        .iter()
        .find(|g| g.name == "judge")
        .expect("judge ran");
    assert_eq!(server.hits(), 5);
    assert_eq!(judge.verdict, bosun::model::Verdict::Warn, "{judge:?}");
    let (lo, hi) = judge.interval.expect("an interval");
    assert!(hi - lo > 0.3, "{lo}..{hi}");
}

#[test]
fn with_analyze_errors_a_model_summary_of_the_failure_leads_the_retry_prompt() {
    let server = ScriptedServer::start(vec![reply::text(
        "Create extra.txt: the `quality` gate checks that it exists.",
        40,
        12,
    )]);
    let config = format!(
        "[orchestrator]\nmax_parallel = 1\nmax_attempts = 2\nrun_timeout = \"30s\"\n\n{}\
         [llm]\nanalyze_errors = true\n\n\
         [gates.quality]\ncommand = \"test -f extra.txt || (echo 'error: extra.txt:1: missing' && exit 1)\"\n\n\
         [executors.quick]\ncommand = [{}]\n",
        llm_config(&server, "coder"),
        toml_str(&agent("well_behaved.sh"))
    );
    let p = Project::new("- [ ] Say hello\n", &config);
    p.ok_with(&["run", "--headless"], &[("LLM_TEST_KEY", SECRET)]);
    let runs = p.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let prompt = std::fs::read_to_string(
        p.repo
            .join(".bosun/runs")
            .join(&runs[1].id.0)
            .join("prompt.md"),
    )
    .expect("second prompt");
    assert!(
        prompt.contains("Create extra.txt: the `quality` gate"),
        "{prompt}"
    );
    assert!(prompt.contains("The checks' own report"), "{prompt}");
    assert!(prompt.contains("error: extra.txt:1: missing"), "{prompt}");
    // The report reached the model as delimited data.
    let asked = server.requests()[0].body["messages"].to_string();
    assert!(
        asked.contains("<<<REPORT>>>") && asked.contains("extra.txt:1"),
        "{asked}"
    );
}
