//! Process memory end to end: the real `bosun` binary on temporary git repositories with
//! scripted agents (`tests/agents/*.sh`). Routing converges on the agent whose changes pass,
//! a rejection reason reaches the next similar task's prompt, accepted changes become
//! examples, and `bosun memory` shows and forgets what was learned.
//!
//! What the binary does not print (a run's routing draws, the lessons in its prompt) is read
//! from the store itself with the library, after the binary has exited and released it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use bosun::model::{ChosenBy, Run, RunStatus};
use bosun::store::Store;
use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::clean;
use common::{agent, toml_str};

/// A temporary repository on `main`, bosun's worktree root and a directory for agents' files.
struct Project {
    _tmp: TempDir,
    repo: PathBuf,
    worktrees: PathBuf,
    aux: PathBuf,
}

/// What a finished command printed.
struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Project {
    /// Writes `TODO.md` and `bosun.toml` (the common part, then `extra`, where `{aux}` is the
    /// agents' directory) and commits them.
    fn new(todo: &str, extra: &str) -> Self {
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
        std::fs::write(p.repo.join("TODO.md"), todo).expect("write TODO.md");
        // Agents leave prompts for the tests in `aux/`, outside their checkout.
        let config = format!(
            "[project]\nworktree_root = {}\n\n[orchestrator]\nmax_parallel = 1\nmax_attempts = 1\nrun_timeout = \"10s\"\n\n[sandbox]\nwritable = [{}]\n\n{}",
            toml_str(&p.worktrees.display().to_string()),
            toml_str(&p.aux.display().to_string()),
            extra.replace("{aux}", &p.aux.display().to_string())
        );
        std::fs::write(p.repo.join("bosun.toml"), config).expect("write bosun.toml");
        p.git(&["add", "-A"]);
        p.git(&["commit", "-q", "-m", "initial"]);
        p
    }

    fn git(&self, args: &[&str]) -> String {
        common::git(&self.repo, args)
    }

    fn bosun(&self, args: &[&str]) -> Output {
        let out = clean(env!("CARGO_BIN_EXE_bosun"), &self.repo)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("bosun runs");
        Output {
            success: out.status.success(),
            stdout: String::from_utf8(out.stdout).expect("UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("UTF-8"),
        }
    }

    /// `bosun args…` must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.bosun(args);
        assert!(
            out.success,
            "bosun {args:?} failed:\n{}\n{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// `bosun args…` must fail with one `error: ` line, which it returns.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.bosun(args);
        assert!(!out.success, "bosun {args:?} should fail: {}", out.stdout);
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
        out.stderr
    }

    /// `bosun memory --json`.
    fn memory(&self) -> Value {
        serde_json::from_str(&self.ok(&["memory", "--json"])).expect("memory prints JSON")
    }

    /// Every run, oldest first, as stored (routing and lessons included).
    fn stored_runs(&self) -> Vec<Run> {
        let store = Store::open(&self.repo.join(".bosun")).expect("store opens");
        let mut runs = store.runs().expect("runs");
        runs.reverse();
        runs
    }

    /// The prompt bosun wrote for a run.
    fn prompt(&self, run: &Run) -> String {
        let path = self
            .repo
            .join(".bosun/runs")
            .join(&run.id.0)
            .join("prompt.md");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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

/// An `[executors.NAME]` table running a script from `tests/agents/`.
fn executor(name: &str, script: &str) -> String {
    format!(
        "[executors.{name}]\ncommand = [{}]\n\n",
        toml_str(&agent(script))
    )
}

/// Runs through the binary in the convergence test: all 50 take about 3 s here (debug
/// build, 2 cores), so none is simulated.
const TASKS: usize = 50;

#[test]
fn routing_converges_on_the_agent_whose_changes_pass() {
    let todo: String = std::iter::once("# Tasks\n\n".to_string())
        .chain((1..=TASKS).map(|i| format!("- [ ] Write status file number {i}\n")))
        .collect();
    let mut extra = String::new();
    extra.push_str(&executor("bad", "writes_forbidden_file.sh"));
    extra.push_str(&executor("good", "writes_task_file.sh"));
    extra.push_str(
        "[routing]\ndefault = [\"bad\", \"good\"]\n\n\
         [gates.check]\ncommand = \"if [ -e bad.txt ]; then echo 'error: bad.txt must not be committed'; exit 1; fi\"\n\n\
         [policy]\nmode = \"autonomous\"\n\n\
         [memory]\nseed = 20240601\n",
    );
    let p = Project::new(&todo, &extra);

    let started = Instant::now();
    p.ok(&["run", "--headless"]);
    let took = started.elapsed();
    eprintln!("{TASKS} runs through the binary took {took:.1?}");

    let runs = p.stored_runs();
    assert_eq!(runs.len(), TASKS, "one attempt per task");
    let mut good = 0;
    for (i, run) in runs.iter().enumerate() {
        let routing = run
            .routing
            .as_ref()
            .unwrap_or_else(|| panic!("run {i} has no routing"));
        assert_eq!(routing.by, ChosenBy::Sampling, "run {i}");
        assert_eq!(routing.chosen, run.executor, "run {i}");
        let names: Vec<&str> = routing
            .candidates
            .iter()
            .map(|c| c.executor.as_str())
            .collect();
        assert_eq!(names, ["bad", "good"], "run {i}");
        let mut best = (f64::MIN, "");
        for c in &routing.candidates {
            let p = c
                .sample
                .unwrap_or_else(|| panic!("run {i}: {} was not sampled", c.executor));
            assert!((0.0..=1.0).contains(&p), "run {i}: {p}");
            assert!(c.alpha >= 1.0 && c.beta >= 1.0, "run {i}: {c:?}");
            if p > best.0 {
                best = (p, &c.executor);
            }
        }
        assert_eq!(best.1, routing.chosen, "run {i}: the highest draw wins");
        let want = if run.executor == "good" {
            good += 1;
            RunStatus::Merged
        } else {
            RunStatus::Failed
        };
        assert_eq!(
            run.status, want,
            "run {i} by {}: {:?}",
            run.executor, run.error
        );
    }
    // The posteriors recorded on each run are the record so far: the last run's are the
    // counts of all runs before it.
    let last = &runs[TASKS - 1]
        .routing
        .as_ref()
        .expect("routing")
        .candidates;
    let bad = TASKS - good;
    let bad_before = bad - usize::from(runs[TASKS - 1].executor == "bad");
    let good_before = good - usize::from(runs[TASKS - 1].executor == "good");
    assert_eq!(
        (last[0].alpha, last[0].beta),
        (1.0, 1.0 + bad_before as f64)
    );
    assert_eq!(
        (last[1].alpha, last[1].beta),
        (1.0 + good_before as f64, 1.0)
    );

    // Operators audit the choice with `bosun runs --json` and `bosun show`.
    let listed: Vec<Value> =
        serde_json::from_str(&p.ok(&["runs", "--json"])).expect("runs prints JSON");
    let newest = &listed[0];
    assert_eq!(newest["id"], runs[TASKS - 1].id.0.as_str());
    assert_eq!(newest["routing"]["by"], "sampling");
    assert_eq!(newest["routing"]["candidates"][1]["alpha"], last[1].alpha);
    let shown = p.ok(&["show", &runs[TASKS - 1].id.0]);
    let line = shown
        .lines()
        .find(|l| l.starts_with("routing   sampled: bad "))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(
        line.contains(&format!(
            "good {:.2} (Beta {},1)",
            last[1].sample.unwrap(),
            last[1].alpha
        )),
        "{line}"
    );

    let late_good = runs[TASKS - 20..]
        .iter()
        .filter(|r| r.executor == "good")
        .count();
    assert!(
        late_good >= 16,
        "good chosen for {late_good} of the last 20 runs (bad {bad} times in all)"
    );
    eprintln!(
        "choices: {}",
        runs.iter()
            .map(|r| if r.executor == "good" { "g" } else { "B" })
            .collect::<String>()
    );
    assert!(bad >= 1, "the bad agent was tried at least once");

    let memory = p.memory();
    let strategies = memory["strategies"].as_array().expect("strategies");
    assert_eq!(strategies.len(), 2, "{memory:#}");
    let find = |name: &str| {
        strategies
            .iter()
            .find(|s| s["executor"] == name)
            .unwrap_or_else(|| panic!("no {name}: {memory:#}"))
    };
    let (b, g) = (find("bad"), find("good"));
    assert_eq!(g["task_type"], "code");
    assert_eq!(g["successes"], good);
    assert_eq!(g["failures"], 0);
    assert_eq!(g["pulls"], good);
    assert_eq!(b["successes"], 0);
    assert_eq!(b["failures"], bad);
    assert_eq!(b["pulls"], bad);
    let score = |s: &Value| s["mean_score"].as_f64().expect("a mean score");
    assert!(score(g) > score(b), "{memory:#}");
    assert!(g["mean_duration_s"].as_f64().expect("a duration") > 0.0);

    // The bad agent's gate failure, seen on two runs or more, is one lesson.
    let lessons = memory["lessons"].as_array().expect("lessons");
    if bad >= 2 {
        assert_eq!(lessons.len(), 1, "{memory:#}");
        let text = lessons[0]["text"].as_str().expect("text");
        assert!(
            text.starts_with("gate `check` keeps failing with: ")
                && text.contains("error: bad.txt must not be committed"),
            "{text}"
        );
    }
    // Every task's file is on main, and nothing of the bad agent's.
    let tree = p.git(&["ls-tree", "--name-only", "main"]);
    assert_eq!(
        tree.lines().filter(|l| l.starts_with("done-")).count(),
        good
    );
    assert!(!tree.lines().any(|l| l == "bad.txt"), "{tree}");
}

const SIMILAR: &str = "\
# Tasks

- [ ] Document the parser options
- [ ] Document the parser errors
- [ ] Document the parser limits
- [ ] Bump the release version
";

#[test]
fn a_rejection_reason_reaches_the_next_similar_prompt_and_an_approval_becomes_an_example() {
    let extra = format!(
        // The agent writes done-<task>.txt, which these docs tasks' Definition of Done must
        // accept as documentation.
        "{}[executors.fake.env]\nPROMPT_COPY = \"{{aux}}/prompt\"\n\n[memory]\nseed = 3\n\n[dod]\ndocs_paths = [\"done-*.txt\"]\n",
        executor("fake", "writes_task_file.sh"),
    );
    let p = Project::new(SIMILAR, &extra);
    let copy = p.aux.join("prompt");
    let reason = "Put the options table in docs/parser.md, not in the README";

    // First task alone; the operator rejects its change.
    let options = p.task_id("Document the parser options");
    p.ok(&["run", "--headless", "--task", &options]);
    let first = p.stored_runs().pop().expect("a run");
    assert_eq!(
        first.status,
        RunStatus::AwaitingApproval,
        "{:?}",
        first.error
    );
    assert!(
        !p.prompt(&first).contains("## Lessons"),
        "nothing learned yet"
    );
    p.ok(&["reject", &first.id.0, "--reason", reason]);

    let memory = p.memory();
    let lessons = memory["lessons"].as_array().expect("lessons").clone();
    assert_eq!(lessons.len(), 1, "{memory:#}");
    let lesson_id = lessons[0]["id"].as_str().expect("id").to_string();
    assert!(lessons[0]["text"].as_str().expect("text").contains(reason));
    assert_eq!(lessons[0]["uses"], 0);
    assert_eq!(memory["strategies"][0]["failures"], 1, "{memory:#}");

    // The next similar task's prompt carries the lesson, and its run records it.
    let errors = p.task_id("Document the parser errors");
    p.ok(&["run", "--headless", "--task", &errors]);
    let second = p.stored_runs().pop().expect("a run");
    assert_ne!(second.id, first.id);
    let prompt = p.prompt(&second);
    let section = prompt
        .find("## Lessons from earlier runs")
        .unwrap_or_else(|| panic!("no lessons in:\n{prompt}"));
    assert!(prompt[section..].contains(reason), "{prompt}");
    assert_eq!(second.lessons, vec![lesson_id.clone()]);
    assert!(second.examples.is_empty());
    // The agent saw the same prompt bosun kept.
    let seen = std::fs::read_to_string(copy.with_extension(&second.id.0)).expect("agent's copy");
    assert_eq!(seen, prompt);
    assert_eq!(p.memory()["lessons"][0]["uses"], 1);

    // Approved: its change becomes the example the third similar task is shown.
    p.ok(&["approve", &second.id.0]);
    let limits = p.task_id("Document the parser limits");
    p.ok(&["run", "--headless", "--task", &limits]);
    let third = p.stored_runs().pop().expect("a run");
    let prompt = p.prompt(&third);
    let examples = prompt
        .find("## Accepted changes for similar tasks")
        .unwrap_or_else(|| panic!("no examples in:\n{prompt}"));
    let listed = &prompt[examples..];
    assert!(
        listed.contains(&format!(
            "- “Document the parser errors” (docs task, by fake): changed done-{errors}.txt. The agent's summary: wrote done-{errors}.txt"
        )),
        "{prompt}"
    );
    assert_eq!(third.examples.len(), 1, "{third:?}");
    assert_eq!(third.lessons, vec![lesson_id.clone()]);

    // A task of another type with nothing in common is told nothing.
    let release = p.task_id("Bump the release version");
    p.ok(&["run", "--headless", "--task", &release]);
    let fourth = p.stored_runs().pop().expect("a run");
    let prompt = p.prompt(&fourth);
    assert!(
        !prompt.contains("## Lessons") && !prompt.contains("## Accepted"),
        "{prompt}"
    );
    assert!(fourth.lessons.is_empty() && fourth.examples.is_empty());

    let memory = p.memory();
    let docs = memory["strategies"]
        .as_array()
        .expect("strategies")
        .iter()
        .find(|s| s["task_type"] == "docs")
        .cloned()
        .unwrap_or_else(|| panic!("{memory:#}"));
    assert_eq!(
        (&docs["successes"], &docs["failures"], &docs["pulls"]),
        (&Value::from(1), &Value::from(1), &Value::from(3)),
        "{memory:#}"
    );
}

#[test]
fn memory_json_shape_table_and_forget() {
    let p = Project::new(
        "# Tasks\n\n- [ ] Fix the parser crash\n- [ ] Fix the lexer crash\n",
        &executor("fake", "writes_task_file.sh"),
    );
    let empty = p.memory();
    assert_eq!(empty, serde_json::json!({"strategies": [], "lessons": []}));
    assert!(p.ok(&["memory"]).contains("No lessons yet"));

    p.ok(&["run", "--headless"]);
    let runs = p.stored_runs();
    assert_eq!(runs.len(), 2);
    for (run, reason) in runs
        .iter()
        .zip(["keep the old API", "add a regression test"])
    {
        p.ok(&["reject", &run.id.0, "--reason", reason]);
    }

    let memory = p.memory();
    let object = memory.as_object().expect("an object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["lessons", "strategies"]);
    let s = &memory["strategies"][0];
    for key in [
        "task_type",
        "executor",
        "successes",
        "failures",
        "mean_score",
        "mean_duration_s",
        "pulls",
    ] {
        assert!(s.get(key).is_some(), "strategy has {key}: {s:#}");
    }
    assert_eq!(
        (
            &s["task_type"],
            &s["executor"],
            &s["successes"],
            &s["failures"],
            &s["pulls"]
        ),
        (
            &Value::from("code"),
            &Value::from("fake"),
            &Value::from(0),
            &Value::from(2),
            &Value::from(2)
        )
    );
    let lessons = memory["lessons"].as_array().expect("lessons");
    assert_eq!(lessons.len(), 2, "{memory:#}");
    for l in lessons {
        for key in ["id", "text", "task_type", "uses", "created_at"] {
            assert!(l.get(key).is_some(), "lesson has {key}: {l:#}");
        }
        assert!(
            l["created_at"].as_str().expect("a time").ends_with('Z'),
            "{l:#}"
        );
    }
    let (first, second) = (
        lessons[0]["id"].as_str().expect("id").to_string(),
        lessons[1]["id"].as_str().expect("id").to_string(),
    );
    assert!(
        lessons[0]["text"]
            .as_str()
            .expect("text")
            .contains("keep the old API")
    );

    let table = p.ok(&["memory"]);
    for word in [
        "TASK_TYPE",
        "EXECUTOR",
        "SUCCESSES",
        "FAILURES",
        "PULLS",
        "LESSON",
        "USES",
    ] {
        assert!(table.contains(word), "{word} in:\n{table}");
    }
    assert!(
        table.contains(&first) && table.contains("add a regression test"),
        "{table}"
    );

    // Ids made in the same millisecond share a prefix: too short a one is ambiguous.
    let shared: String = first
        .chars()
        .zip(second.chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    if !shared.is_empty() {
        let err = p.fails(&["memory", "forget", &shared]);
        assert!(
            err.contains("matches 2 lessons; give more of the id"),
            "{err}"
        );
    }
    let err = p.fails(&["memory", "forget", "zzzzzz"]);
    assert!(err.contains("no lesson matches `zzzzzz`"), "{err}");

    let out = p.ok(&["memory", "forget", &first[..shared.len() + 1]]);
    assert!(
        out.contains(&first) && out.contains("keep the old API"),
        "{out}"
    );
    let after = p.memory();
    let ids: Vec<&str> = after["lessons"]
        .as_array()
        .expect("lessons")
        .iter()
        .map(|l| l["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [second.as_str()]);
    // Forgetting a lesson is not forgetting the record.
    assert_eq!(after["strategies"], memory["strategies"]);
    let err = p.fails(&["memory", "forget", &first]);
    assert!(err.contains("no lesson matches"), "{err}");
}

#[test]
fn with_memory_off_the_first_routed_executor_always_runs_and_nothing_is_learned() {
    let mut extra = String::new();
    extra.push_str(&executor("bad", "writes_forbidden_file.sh"));
    extra.push_str(&executor("good", "writes_task_file.sh"));
    extra.push_str(
        "[routing]\ndefault = [\"bad\", \"good\"]\n\n\
         [gates.check]\ncommand = \"if [ -e bad.txt ]; then echo 'error: bad.txt'; exit 1; fi\"\n\n\
         [memory]\nenabled = false\n",
    );
    let todo: String = (1..=3).map(|i| format!("- [ ] Write file {i}\n")).collect();
    let p = Project::new(&todo, &extra);
    p.ok(&["run", "--headless"]);

    let runs = p.stored_runs();
    assert_eq!(runs.len(), 3);
    for run in &runs {
        assert_eq!(run.executor, "bad");
        assert_eq!(run.status, RunStatus::Failed);
        let routing = run.routing.as_ref().expect("routing is recorded");
        assert_eq!(routing.by, ChosenBy::FirstRouted);
        assert!(routing.candidates.iter().all(|c| c.sample.is_none()));
        assert!(run.lessons.is_empty() && run.examples.is_empty());
        assert!(!p.prompt(run).contains("## Lessons"));
    }
    assert_eq!(
        p.memory(),
        serde_json::json!({"strategies": [], "lessons": []})
    );
    assert!(p.ok(&["memory"]).starts_with("Process memory is off"));
}

#[test]
fn an_approved_run_is_remembered_with_the_agents_own_summary() {
    let recording = format!(
        "{}/tests/fixtures/agents/claude/run1_stdout.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let extra = format!(
        "[executors.claude]\npreset = \"claude\"\ncommand = [{}, {}]\n\n",
        toml_str(&agent("claude_replay.sh")),
        toml_str(&recording)
    );
    let p = Project::new("- [ ] Create hello.txt\n", &extra);
    p.ok(&["run", "--headless"]);
    let run = p.stored_runs().pop().expect("a run");
    assert_eq!(run.status, RunStatus::AwaitingApproval, "{:?}", run.error);
    // The recording's closing message is in the run's history…
    let shown: Value =
        serde_json::from_str(&p.ok(&["show", &run.id.0, "--json"])).expect("show prints JSON");
    let finals: Vec<&Value> = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "final")
        .collect();
    assert_eq!(finals.len(), 1, "{shown:#}");
    assert_eq!(finals[0]["text"], "Done: created hello.txt containing hi.");
    // …and becomes the accepted example's summary once the operator approves.
    p.ok(&["approve", &run.id.0]);
    let store = Store::open(&p.repo.join(".bosun")).expect("store opens");
    let patterns = store.memory().patterns().expect("patterns");
    assert_eq!(patterns.len(), 1, "{patterns:?}");
    assert_eq!(
        patterns[0].summary.as_deref(),
        Some("Done: created hello.txt containing hi.")
    );
    assert_eq!(patterns[0].files, ["hello.txt"]);
    assert_eq!(patterns[0].executor, "claude");
}
