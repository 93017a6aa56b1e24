//! Gates end to end: `bosun run --headless` with configured gates on temporary repositories
//! and scripted agents; what `bosun runs --json` reports and how failures feed retries.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::agent;
use common::{clean, git};

/// A repository with `files` and a TODO.md committed, and `config` (plus a worktree root in
/// the temp dir) as bosun.toml.
fn repo(dir: &Path, todo: &str, files: &[(&str, &str)], config: &str) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("TODO.md"), todo).unwrap();
    for (name, content) in files {
        let p = repo.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let wt = dir.join("wt").display().to_string();
    // Agents leave prompts and traces for the tests in the temp dir, outside their checkout.
    let sandbox = format!(
        "\n[sandbox]\nwritable = [{:?}]\n",
        dir.display().to_string()
    );
    std::fs::write(
        repo.join("bosun.toml"),
        format!("[project]\nworktree_root = {wt:?}\n{config}{sandbox}"),
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    repo
}

fn bosun(repo: &Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = clean(env!("CARGO_BIN_EXE_bosun"), repo);
    cmd.args(args);
    common::outcome(cmd)
}

fn runs(repo: &Path) -> Vec<Value> {
    let (ok, out, err) = bosun(repo, &["runs", "--json"]);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn gate<'a>(run: &'a Value, name: &str) -> &'a Value {
    run["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no gate {name}: {run}"))
}

#[test]
fn passing_gates_are_scored_and_listed_on_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[executors.a]\ncommand = [{:?}]\n[gates.build]\ncommand = \"test -f TODO.md\"\n[gates.test]\ncommand = \"echo '===== 3 passed, 1 failed in 0.10s ====='\"\nweight = 2.0\n",
        agent("writes_note.sh")
    );
    let repo = repo(dir.path(), "- [ ] write a note\n", &[], &config);
    let (ok, out, err) = bosun(&repo, &["run", "--headless"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("gate build"), "progress shows gates: {out}");
    let r = &runs(&repo)[0];
    assert_eq!(r["status"], "awaiting_approval", "{r}");
    assert_eq!(gate(r, "diff")["verdict"], "pass");
    assert_eq!(gate(r, "build")["verdict"], "pass");
    assert_eq!(gate(r, "build")["summary"], "exit status 0");
    let t = gate(r, "test");
    assert_eq!(t["verdict"], "pass");
    assert_eq!(t["summary"], "3 passed, 1 failed, 0 skipped");
    assert_eq!(t["score"], 0.75);
    // Weighted mean: diff 1.0 ×1, semantic 1.0 ×1, build 1.0 ×1, test 0.75 ×2 (syntax is
    // skipped: notes.txt is not source code).
    assert_eq!(gate(r, "syntax")["verdict"], "skip");
    let score = r["score"].as_f64().unwrap();
    assert!((score - 4.5 / 5.0).abs() < 1e-9, "{score}");
}

#[test]
fn a_failing_build_is_retried_with_its_error_in_the_prompt_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = dir.path().join("prompt");
    let config = format!(
        "[orchestrator]\nmax_attempts = 2\n[executors.a]\ncommand = [{:?}]\nenv = {{ PROMPT_COPY = {:?} }}\n[gates.build]\ncommand = \"if [ -f notes.txt ]; then echo 'error[E0308]: mismatched types at src/lib.rs:3'; exit 1; fi\"\n[gates.test]\ncommand = \"true\"\n",
        agent("writes_note.sh"),
        prompts.display().to_string()
    );
    let repo = repo(dir.path(), "- [ ] write a note\n", &[], &config);
    let (ok, out, err) = bosun(&repo, &["run", "--headless"]);
    assert!(ok, "{out}{err}");
    let all = runs(&repo);
    assert_eq!(all.len(), 2, "two attempts: {all:?}");
    for r in &all {
        assert_eq!(r["status"], "failed");
        assert!(
            r["error"]
                .as_str()
                .unwrap()
                .starts_with("gate `build` failed"),
            "{r}"
        );
        assert_eq!(gate(r, "build")["verdict"], "fail");
        assert_eq!(
            gate(r, "test")["verdict"],
            "skip",
            "fail_fast skips the rest"
        );
    }
    let second = std::fs::read_to_string(format!("{}.2", prompts.display())).unwrap();
    assert!(
        second.contains("error[E0308]: mismatched types at src/lib.rs:3"),
        "{second}"
    );
    let first = std::fs::read_to_string(format!("{}.1", prompts.display())).unwrap();
    assert!(!first.contains("E0308"));
}

#[test]
fn deleting_a_test_fails_the_diff_gate() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        "[executors.a]\ncommand = [\"sh\", \"-c\", \"rm tests/test_api.py\"]\n".to_string();
    let repo = repo(
        dir.path(),
        "- [ ] tidy\n",
        &[("tests/test_api.py", "def test_x():\n    assert True\n")],
        &config,
    );
    let (ok, _, err) = bosun(&repo, &["run", "--headless"]);
    assert!(ok, "{err}");
    let r = &runs(&repo)[0];
    assert_eq!(r["status"], "failed");
    assert_eq!(
        gate(r, "diff")["summary"],
        "test file tests/test_api.py was deleted"
    );
    assert_eq!(r["score"], 0.0);
}

#[test]
fn gates_follow_the_task_types_definition_of_done_and_an_optional_failure_only_warns() {
    let dir = tempfile::tempdir().unwrap();
    // `lint` is in the code Definition of Done only; `spell` is in none, so it runs for every
    // type; `test` is limited to code tasks by `applies_to`.
    let config = format!(
        "[dod]\ndocs_paths = [\"*.txt\"]\n[executors.a]\ncommand = [{:?}]\n[gates.lint]\ncommand = \"exit 3\"\n[gates.spell]\ncommand = \"exit 3\"\nrequired = false\n[gates.test]\ncommand = \"exit 1\"\napplies_to = [\"code\"]\n",
        agent("writes_note.sh")
    );
    let repo = repo(
        dir.path(),
        "- [ ] Update the guide [type:docs]\n",
        &[],
        &config,
    );
    let (ok, _, err) = bosun(&repo, &["run", "--headless"]);
    assert!(ok, "{err}");
    let r = &runs(&repo)[0];
    assert_eq!(r["status"], "awaiting_approval", "{r}");
    let names: Vec<&str> = r["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["diff", "syntax", "semantic", "docs_only", "links", "spell"],
        "{r}"
    );
    assert_eq!(gate(r, "spell")["verdict"], "warn");
    // notes.txt is documentation here (docs_paths) and has no links to check.
    assert_eq!(gate(r, "docs_only")["verdict"], "pass");
    assert_eq!(gate(r, "links")["verdict"], "skip");
    // diff, semantic and docs_only 1.0 and spell 0.0 count; the skipped syntax and links
    // checks do not.
    assert_eq!(r["score"], 0.75);
}

#[test]
fn gated_policy_auto_approves_a_passing_docs_change_and_holds_a_manifest_change() {
    let dir = tempfile::tempdir().unwrap();
    let docs_agent = "mkdir -p docs && echo 'How to use it.' > docs/guide.md";
    let code_agent = "echo '[package]' > Cargo.toml && echo 'fn x() {}' > lib.rs";
    let config = format!(
        "[policy]\nmode = \"gated\"\nrequire_operator_for = [\"Cargo.toml\"]\n[routing]\ndocs = [\"writer\"]\ndefault = [\"coder\"]\n[executors.writer]\ncommand = [\"sh\", \"-c\", {docs_agent:?}]\n[executors.coder]\ncommand = [\"sh\", \"-c\", {code_agent:?}]\n"
    );
    let repo = repo(
        dir.path(),
        "- [ ] Write the guide [type:docs]\n- [ ] Add the crate manifest\n",
        &[],
        &config,
    );
    let (ok, out, err) = bosun(&repo, &["run", "--headless"]);
    assert!(ok, "{out}{err}");
    let all = runs(&repo);
    let by_title = |t: &str| {
        all.iter()
            .find(|r| r["task_title"] == t)
            .unwrap_or_else(|| panic!("{t}: {all:?}"))
    };
    let docs = by_title("Write the guide");
    assert_eq!(docs["status"], "merged", "{docs}");
    assert_eq!(docs["decision"]["by"], "policy");
    let guide = git(&repo, &["show", "main:docs/guide.md"]);
    assert_eq!(guide, "How to use it.\n");
    assert!(git(&repo, &["show", "main:TODO.md"]).contains("- [x] Write the guide"));
    let code = by_title("Add the crate manifest");
    assert_eq!(code["status"], "awaiting_approval", "{code}");
    let (_, shown, _) = bosun(&repo, &["show", code["id"].as_str().unwrap(), "--json"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    let policy = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "policy")
        .unwrap();
    assert_eq!(
        policy["text"],
        "awaiting approval: touches Cargo.toml (require_operator_for `Cargo.toml`)"
    );

    // The same repository in supervised mode (the default), for one run: everything waits.
    let (ok, _, err) = bosun(
        &repo,
        &[
            "reject",
            code["id"].as_str().unwrap(),
            "--reason",
            "again",
            "--retry",
        ],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = bosun(&repo, &["run", "--headless", "--mode", "supervised"]);
    assert!(ok, "{err}");
    let again = runs(&repo)
        .into_iter()
        .find(|r| r["task_title"] == "Add the crate manifest" && r["attempt"] == 2)
        .unwrap();
    assert_eq!(again["status"], "awaiting_approval");
}

#[test]
fn hooks_run_around_the_agent_and_gates_and_a_failing_pre_hook_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.txt");
    let t = trace.display().to_string();
    let config = format!(
        "[executors.a]\ncommand = [{:?}]\n[hooks]\npre_run = \"echo pre_run $BOSUN_TASK_ID >> {t}\"\npost_run = \"echo post_run >> {t}\"\npre_gates = \"echo pre_gates >> {t}\"\npost_gates = \"echo post_gates >> {t}; exit 4\"\n",
        agent("writes_note.sh")
    );
    let traced = repo(dir.path(), "- [ ] write a note\n", &[], &config);
    let (ok, _, err) = bosun(&traced, &["run", "--headless"]);
    assert!(ok, "{err}");
    let r = &runs(&traced)[0];
    assert_eq!(
        r["status"], "awaiting_approval",
        "a failing post hook does not fail the run: {r}"
    );
    let order: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        order,
        [
            format!("pre_run {}", r["task_id"].as_str().unwrap()),
            "post_run".into(),
            "pre_gates".into(),
            "post_gates".into()
        ]
    );
    let (_, shown, _) = bosun(&traced, &["show", r["id"].as_str().unwrap(), "--json"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert!(
        shown["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "note"
                && e["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("[hooks] post_gates")),
        "{shown}"
    );

    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[executors.a]\ncommand = [{:?}]\n[hooks]\npre_run = \"echo 'node_modules missing'; exit 2\"\n",
        agent("writes_note.sh")
    );
    let failing = repo(dir.path(), "- [ ] write a note\n", &[], &config);
    let (ok, _, err) = bosun(&failing, &["run", "--headless"]);
    assert!(ok, "{err}");
    let r = &runs(&failing)[0];
    assert_eq!(r["status"], "failed");
    let error = r["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "[hooks] pre_run `echo 'node_modules missing'; exit 2` exited with status 2"
        ),
        "{error}"
    );
    assert!(error.contains("node_modules missing"), "{error}");
}

/// A Python project whose suite already has one failing test (`test_sub`: `sub` is wrong).
const CALC: &str = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a + b\n";
const TEST_CALC: &str = "import unittest\n\nimport calc\n\n\nclass TestCalc(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(calc.add(2, 3), 5)\n\n    def test_sub(self):\n        self.assertEqual(calc.sub(5, 3), 2)\n\n\nif __name__ == \"__main__\":\n    unittest.main()\n";

fn python_repo(dir: &Path, todo: &str) -> PathBuf {
    let config = format!(
        "[orchestrator]\nmax_attempts = 1\nmax_parallel = 1\n[executors.a]\ncommand = [{:?}]\n[gates.test]\ncommand = \"python3 -m unittest -v\"\n",
        agent("python_tests.sh")
    );
    repo(
        dir,
        todo,
        &[("calc.py", CALC), ("test_calc.py", TEST_CALC)],
        &config,
    )
}

fn by_title<'a>(all: &'a [Value], title: &str) -> &'a Value {
    all.iter()
        .find(|r| r["task_title"] == title)
        .unwrap_or_else(|| panic!("{title}: {all:?}"))
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect()
}

#[test]
fn test_gate_counts_only_what_the_change_made_worse_than_its_base() {
    if !common::tool_available(
        "python3",
        "--version",
        "test_gate_counts_only_what_the_change_made_worse_than_its_base",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = python_repo(
        dir.path(),
        "- [ ] Add a failing test for mul\n- [ ] Add multiply\n- [ ] Skip the add test\n- [ ] Let me break add\n",
    );
    let (ok, out, err) = bosun(&repo, &["run", "--headless"]);
    assert!(ok, "{out}{err}");
    let all = runs(&repo);
    assert_eq!(all.len(), 4, "{all:?}");

    // A new failing test on a suite with a failing test: only the new one counts.
    let r = by_title(&all, "Add a failing test for mul");
    let t = gate(r, "test");
    assert_eq!(t["verdict"], "fail", "{r}");
    assert_eq!(names(&t["tests"]["new_failures"]).len(), 1, "{t}");
    assert!(
        names(&t["tests"]["new_failures"])[0].contains("test_mul"),
        "{t}"
    );
    assert_eq!(names(&t["tests"]["pre_existing"]).len(), 1, "{t}");
    assert!(
        names(&t["tests"]["pre_existing"])[0].contains("test_sub"),
        "{t}"
    );
    let summary = t["summary"].as_str().unwrap();
    assert!(
        summary.contains("1 new failure") && summary.contains("1 failing before too"),
        "{summary}"
    );
    assert_eq!(t["tests"]["base"]["failed"], 1, "{t}");
    assert_eq!(t["tests"]["head"]["failed"], 2, "{t}");

    // A new passing test, with the old failure still there: the gate passes and says so.
    let r = by_title(&all, "Add multiply");
    let t = gate(r, "test");
    assert_eq!(t["verdict"], "pass", "{r}");
    assert_eq!(r["status"], "awaiting_approval", "{r}");
    assert!(
        t["summary"]
            .as_str()
            .unwrap()
            .ends_with("; 1 failing before too"),
        "{t}"
    );
    assert_eq!(t["tests"]["head"]["passed"], 2, "{t}");
    // Score stays the share of passing tests.
    let score = t["score"].as_f64().unwrap();
    assert!((score - 2.0 / 3.0).abs() < 1e-9, "{score}");

    // Skipping a test that passed on the base weakens the suite.
    let r = by_title(&all, "Skip the add test");
    let t = gate(r, "test");
    assert_eq!(t["verdict"], "fail", "{r}");
    assert_eq!(names(&t["tests"]["weakened"]).len(), 1, "{t}");
    assert!(
        names(&t["tests"]["weakened"])[0].contains("test_add"),
        "{t}"
    );

    // Breaking a passing test is a new failure even though the suite failed before.
    let r = by_title(&all, "Let me break add");
    let t = gate(r, "test");
    assert_eq!(t["verdict"], "fail", "{r}");
    assert!(
        names(&t["tests"]["new_failures"])[0].contains("test_add"),
        "{t}"
    );

    // The base ran once for the four runs, from the cache after the first.
    let cached: Vec<_> = std::fs::read_dir(repo.join(".bosun/cache/gates"))
        .unwrap()
        .collect();
    assert_eq!(cached.len(), 1, "one base commit");
    let log = std::fs::read_dir(repo.join(".bosun/logs/runs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert_eq!(
        log.matches("Ran 2 tests").count(),
        1 + 2,
        "the base suite ran once; two heads also ran two tests: {log}"
    );
}

#[test]
fn a_junit_report_gives_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let sample = format!(
        "{}/tests/samples/test_output/pytest_junit.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let config = format!(
        "[executors.a]\ncommand = [{:?}]\n[gates.test]\ncommand = \"cp {sample} report.xml; echo 'no summary here'\"\njunit = \"report.xml\"\ncompare_base = false\n",
        agent("writes_note.sh")
    );
    let repo = repo(dir.path(), "- [ ] write a note\n", &[], &config);
    let (ok, out, err) = bosun(&repo, &["run", "--headless"]);
    assert!(ok, "{out}{err}");
    let r = &runs(&repo)[0];
    let t = gate(r, "test");
    let xml = std::fs::read_to_string(&sample).unwrap();
    let counts = bosun::gates::summary::parse_junit(&xml).unwrap();
    assert!(counts.passed > 0 && counts.failed > 0, "{counts:?}");
    assert_eq!(
        t["summary"],
        format!(
            "{} passed, {} failed, {} skipped",
            counts.passed, counts.failed, counts.skipped
        ),
        "{t}"
    );
    assert_eq!(t["tests"]["head"]["passed"], counts.passed);
}

#[test]
fn docs_tasks_must_change_only_docs_and_keep_their_links_working() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[orchestrator]\nmax_attempts = 1\n[executors.a]\ncommand = [{:?}]\n",
        agent("docs_writer.sh")
    );
    let repo = repo(
        dir.path(),
        "- [ ] Document the API [type:docs]\n- [ ] Write the guide [type:docs]\n- [ ] Write the index [type:docs]\n",
        &[("README.md", "# Demo\n\n## Usage\n\nRun it.\n")],
        &config,
    );
    let (ok, out, err) = bosun(&repo, &["run", "--headless"]);
    assert!(ok, "{out}{err}");
    let all = runs(&repo);

    let r = by_title(&all, "Document the API");
    assert_eq!(r["status"], "failed", "{r}");
    let d = gate(r, "docs_only");
    assert_eq!(d["verdict"], "fail");
    assert!(d["summary"].as_str().unwrap().contains("src/lib.rs"), "{d}");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .starts_with("gate `docs_only` failed"),
        "{r}"
    );

    let r = by_title(&all, "Write the guide");
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(gate(r, "docs_only")["verdict"], "pass");
    let l = gate(r, "links");
    assert_eq!(l["verdict"], "fail");
    assert!(
        l["summary"]
            .as_str()
            .unwrap()
            .starts_with("docs/guide.md:3: broken link `setup.md`"),
        "{l}"
    );

    let r = by_title(&all, "Write the index");
    assert_eq!(r["status"], "awaiting_approval", "{r}");
    assert_eq!(gate(r, "links")["verdict"], "pass", "{r}");
}

#[test]
fn a_rust_change_that_does_not_compile_is_retried_with_the_compiler_error_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = dir.path().join("prompt");
    // The agent adds a function whose body has the wrong type, as agents sometimes do.
    let broken = "printf 'pub fn answer() -> u32 {\\n    \"forty-two\"\\n}\\n' >> src/lib.rs";
    let copy = format!(
        "cp \"$BOSUN_PROMPT_FILE\" \"{}.$BOSUN_ATTEMPT\"",
        prompts.display()
    );
    let config = format!(
        "[orchestrator]\nmax_attempts = 2\n[executors.a]\ncommand = [\"sh\", \"-c\", {:?}]\n[gates.build]\ncommand = \"cargo build --offline --quiet\"\n",
        format!("{copy} && {broken}")
    );
    let repo = repo(
        dir.path(),
        "- [ ] Add an answer function\n",
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            (
                "src/lib.rs",
                "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n",
            ),
            (".gitignore", "/target\n"),
        ],
        &config,
    );
    let (ok, out, err) = bosun(&repo, &["run", "--headless"]);
    assert!(ok, "{out}{err}");
    let all = runs(&repo);
    assert_eq!(all.len(), 2, "two attempts, then the task stops: {all:?}");
    for r in &all {
        assert_eq!(r["status"], "failed", "{r}");
        let b = gate(r, "build");
        assert_eq!(b["verdict"], "fail");
        assert!(
            b["summary"]
                .as_str()
                .unwrap()
                .starts_with("exited with status 101: "),
            "{b}"
        );
        assert!(
            b["details"]
                .as_str()
                .unwrap()
                .contains("error[E0308]: mismatched types"),
            "{b}"
        );
    }
    // The second attempt's prompt carries the compiler's error.
    let second = std::fs::read_to_string(format!("{}.2", prompts.display())).unwrap();
    assert!(
        second.contains("- gate `build`: exited with status 101"),
        "{second}"
    );
    // The failure's location, relative to the worktree.
    assert!(second.contains("--> src/lib.rs:5:5"), "{second}");
    assert!(
        second.contains("error[E0308]: mismatched types"),
        "{second}"
    );
    let first = std::fs::read_to_string(format!("{}.1", prompts.display())).unwrap();
    assert!(!first.contains("error[E0308]"), "{first}");
}
