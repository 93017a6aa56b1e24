//! Semantic analysis end to end: a scripted agent makes a real multi-file change in a temporary
//! Rust project, `bosun run --headless` analyses it, and `bosun show --json` / `bosun show`
//! report the annotations and the risk card; the policy holds a risky run.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::agent;
use common::git;

const SECRET: &str = "AKIAQYLPMN5HHHFPZAM2";

fn bosun(repo: &Path, args: &[&str]) -> String {
    common::bosun_ok(repo, args)
}

/// A small Rust crate with CI, a task list and `config` as bosun.toml.
fn project(dir: &Path, todo: &str, config: &str) -> PathBuf {
    let repo = dir.join("repo");
    let files: [(&str, &str); 5] = [
        (
            "Cargo.toml",
            "[package]\nname = \"calc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        (
            "src/lib.rs",
            "/// Adds two numbers.\npub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n",
        ),
        (
            ".github/workflows/ci.yml",
            "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo test\n",
        ),
        ("TODO.md", todo),
        (
            "bosun.toml",
            &format!(
                "[project]\nworktree_root = {:?}\n{config}",
                dir.join("wt").display().to_string()
            ),
        ),
    ];
    for (name, text) in files {
        let p = repo.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    repo
}

/// A project whose agent is the shell script `agent`, one attempt a task, one at a time,
/// autonomous but holding risky runs for the operator.
fn autonomous(dir: &Path, todo: &str, agent: &str) -> PathBuf {
    let config = format!(
        "[orchestrator]\nmax_attempts = 1\nmax_parallel = 1\n[executors.a]\ncommand = [\"sh\", \"-c\", {agent:?}]\n[policy]\nmode = \"autonomous\"\nrequire_operator_for = [\"risk\"]\n"
    );
    project(dir, todo, &config)
}

/// Runs the queue headless; every run, as `bosun runs --json` lists them.
fn run_headless(repo: &Path) -> Vec<Value> {
    bosun(repo, &["run", "--headless"]);
    serde_json::from_str(&bosun(repo, &["runs", "--json"])).unwrap()
}

/// The run of the task titled `title`.
fn titled<'a>(runs: &'a [Value], title: &str) -> &'a Value {
    runs.iter()
        .find(|r| r["task_title"] == title)
        .unwrap_or_else(|| panic!("{title}: {runs:#?}"))
}

/// A run's annotations, as `bosun show --json` gives them.
fn annotations_of(repo: &Path, run: &Value) -> Vec<Value> {
    let id = run["id"].as_str().unwrap();
    let shown: Value = serde_json::from_str(&bosun(repo, &["show", id, "--json"])).unwrap();
    shown["annotations"].as_array().unwrap().clone()
}

fn annotation<'a>(all: &'a [Value], kind: &str) -> &'a Value {
    all.iter()
        .find(|a| a["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} annotation in {all:#?}"))
}

#[test]
fn a_multi_file_change_is_annotated_and_its_risks_hold_it_for_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[executors.a]\ncommand = [{:?}]\n[policy]\nmode = \"autonomous\"\nrequire_operator_for = [\"risk\"]\n",
        agent("risky_change.sh")
    );
    let repo = project(dir.path(), "- [ ] Add a third operand to add\n", &config);
    let runs = run_headless(&repo);
    let run = &runs[0];
    let id = run["id"].as_str().unwrap();
    assert_eq!(run["status"], "awaiting_approval", "{run:#}");

    let shown: Value = serde_json::from_str(&bosun(&repo, &["show", id, "--json"])).unwrap();
    let all = shown["annotations"].as_array().unwrap().clone();
    for a in &all {
        for key in ["kind", "severity", "path", "line", "symbol", "message"] {
            assert!(a.get(key).is_some(), "{key} missing from {a}");
        }
    }
    let api = annotation(&all, "api_changed");
    assert_eq!(api["severity"], "risk");
    assert_eq!(api["path"], "src/lib.rs");
    assert_eq!(api["line"], 2);
    assert!(
        api["message"].as_str().unwrap().contains("signature"),
        "{api}"
    );
    let added = annotation(&all, "symbol_added");
    assert_eq!(added["severity"], "info");
    assert!(
        added["symbol"].as_str().unwrap().contains("helper"),
        "{added}"
    );
    let dep = annotation(&all, "dependency_changed");
    assert_eq!(dep["path"], "Cargo.toml");
    assert!(dep["message"].as_str().unwrap().contains("serde"), "{dep}");
    assert_eq!(
        annotation(&all, "ci_changed")["path"],
        ".github/workflows/ci.yml"
    );
    assert_eq!(annotation(&all, "todo_added")["path"], "src/lib.rs");
    let secret = annotation(&all, "secret");
    assert_eq!(secret["path"], "deploy.env");
    assert_eq!(secret["line"], 1);

    // The secret itself is never shown, in JSON or as text.
    let text = bosun(&repo, &["show", id]);
    let json = shown.to_string();
    for out in [&text, &json] {
        assert!(!out.contains(SECRET), "the secret leaked: {out}");
    }
    // The risk card groups what needs a human, with file:line.
    assert!(text.contains("Risk card:"), "{text}");
    assert!(text.contains("API changes (1)"), "{text}");
    assert!(text.contains("src/lib.rs:2"), "{text}");
    assert!(text.contains("Secrets (1)"), "{text}");
    assert!(text.contains("CI edits (1)"), "{text}");
    // The policy names the rule that held the run.
    let policy = run["policy"].as_str().unwrap();
    assert!(
        policy.contains("`risk` annotation"),
        "autonomous mode still waits on a risk: {policy}"
    );
    // The gates saw it: syntax passes, semantic warns with a lowered score.
    let gate = |name: &str| {
        run["gates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("no {name} gate: {run:#}"))
            .clone()
    };
    assert_eq!(gate("syntax")["verdict"], "pass");
    assert_eq!(gate("semantic")["verdict"], "warn");
    assert!(gate("semantic")["score"].as_f64().unwrap() < 0.5);
}

#[test]
fn a_syntax_error_the_change_introduces_fails_the_run_and_a_clean_change_is_approved() {
    let dir = tempfile::tempdir().unwrap();
    // One task breaks the syntax of src/lib.rs; one writes a Python script with a dedent
    // the grammar accepts and Python does not; the other adds a private function cleanly.
    let agent = "case \"$(cat \"$BOSUN_PROMPT_FILE\")\" in *Break*) printf 'pub fn add(a: u32 {\\n' > src/lib.rs ;; *script*) printf 'def f(x):\\n    if x:\\n        return 1\\n      return 2\\n' > tool.py ;; *) printf '\\nfn double(x: u32) -> u32 {\\n    x * 2\\n}\\n' >> src/lib.rs ;; esac";
    let repo = autonomous(
        dir.path(),
        "- [ ] Break the parser on purpose\n- [ ] Add a script\n- [ ] Add a doubling helper\n",
        agent,
    );
    let runs = run_headless(&repo);
    let by = |title: &str| titled(&runs, title);
    let broken = by("Break the parser on purpose");
    assert_eq!(broken["status"], "failed", "{broken:#}");
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .starts_with("gate `syntax` failed: new syntax error"),
        "{broken:#}"
    );
    let script = by("Add a script");
    assert_eq!(script["status"], "failed", "{script:#}");
    assert!(
        script["error"].as_str().unwrap().starts_with(
            "gate `syntax` failed: new syntax error: tool.py:4: unindent does not match any outer indentation level at 4:7: `return 2`"
        ),
        "{script:#}"
    );
    let clean = by("Add a doubling helper");
    assert_eq!(clean["status"], "merged", "{clean:#}");
    assert!(git(&repo, &["show", "main:src/lib.rs"]).contains("fn double"));
}

/// Issue 19: a refactor a maintainer would call compatible — the function moved into a private
/// module behind a re-export, its parameters renamed — is not an API change and does not hold
/// an autonomous run; a removed re-export is, named by its public path, and holds it.
#[test]
fn the_public_api_is_judged_crate_wide_by_public_path() {
    let dir = tempfile::tempdir().unwrap();
    // (The second task's prompt recalls the first, accepted, as an example: it is matched
    // first.)
    let agent = "case \"$(cat \"$BOSUN_PROMPT_FILE\")\" in \
        *Stop*) printf 'mod ops;\\n\\n/// Subtracts.\\npub fn sub(a: u32, b: u32) -> u32 {\\n    a - b\\n}\\n' > src/lib.rs ;; \
        *) mkdir -p src && printf 'pub fn add(x: u32, y: u32) -> u32 {\\n    x + y\\n}\\n' > src/ops.rs && printf 'mod ops;\\npub use ops::add;\\n\\n/// Subtracts.\\npub fn sub(a: u32, b: u32) -> u32 {\\n    a - b\\n}\\n' > src/lib.rs ;; esac";
    let repo = autonomous(
        dir.path(),
        "- [ ] Move add into its own module\n- [ ] Stop exporting add\n",
        agent,
    );
    let runs = run_headless(&repo);
    let by = |title: &str| titled(&runs, title);
    let annotations = |run: &Value| annotations_of(&repo, run);
    let moved = by("Move add into its own module");
    assert_eq!(moved["status"], "merged", "{moved:#}");
    let all = annotations(moved);
    assert!(
        !all.iter().any(|a| a["kind"] == "api_changed"),
        "a move behind a re-export is no API change: {all:#?}"
    );
    let added = annotation(&all, "api_added");
    assert_eq!(added["severity"], "info");
    assert_eq!(added["symbol"], "calc::sub");

    // The second task starts from main with the move merged: dropping the re-export breaks
    // `calc::add`, though the function itself is unchanged in src/ops.rs.
    let dropped = by("Stop exporting add");
    assert_eq!(dropped["status"], "awaiting_approval", "{dropped:#}");
    let all = annotations(dropped);
    let api = annotation(&all, "api_changed");
    assert_eq!(api["severity"], "risk");
    assert_eq!(api["symbol"], "calc::add");
    // Pointed at what the change took away: the `pub use` line, before the change.
    assert_eq!(api["path"], "src/lib.rs");
    assert_eq!(api["line"], 2);
    assert_eq!(api["old_side"], true);
    assert_eq!(api["message"], "public function `calc::add` removed");
}

/// Issue 19, Python: a package's API is what users import. A new optional parameter on a
/// re-exported function is a compatible addition and does not hold an autonomous run; a
/// removed re-export is a break named by its dotted path, pointed at the import that went.
#[test]
fn a_python_package_api_is_judged_by_what_users_import() {
    let dir = tempfile::tempdir().unwrap();
    let agent = "case \"$(cat \"$BOSUN_PROMPT_FILE\")\" in \
        *Stop*) printf '' > geo/__init__.py ;; \
        *scale*) printf 'def area(w, h, scale=1):\\n    return w * h * scale\\n' > geo/_impl.py ;; \
        *) mkdir -p geo tests && printf '[project]\\nname = \"geo\"\\n' > pyproject.toml && printf 'from ._impl import area\\n' > geo/__init__.py && printf 'def area(w, h):\\n    return w * h\\n' > geo/_impl.py && printf 'def test_area():\\n    pass\\n' > tests/test_geo.py ;; esac";
    let repo = autonomous(
        dir.path(),
        "- [ ] Start the Python package\n- [ ] Let area scale\n- [ ] Stop exporting area\n",
        agent,
    );
    let runs = run_headless(&repo);
    let by = |title: &str| titled(&runs, title);
    let annotations = |run: &Value| annotations_of(&repo, run);
    assert_eq!(by("Start the Python package")["status"], "merged");
    let scaled = by("Let area scale");
    assert_eq!(scaled["status"], "merged", "{scaled:#}");
    let all = annotations(scaled);
    assert!(
        !all.iter().any(|a| a["kind"] == "api_changed"),
        "a new parameter with a default breaks no caller: {all:#?}"
    );
    let added = annotation(&all, "api_added");
    assert_eq!(added["symbol"], "geo.area");
    assert_eq!(
        added["message"],
        "`geo.area` gained optional parameter(s) `scale`"
    );

    let dropped = by("Stop exporting area");
    assert_eq!(dropped["status"], "awaiting_approval", "{dropped:#}");
    let all = annotations(dropped);
    let api = annotation(&all, "api_changed");
    assert_eq!(api["symbol"], "geo.area");
    assert_eq!(api["path"], "geo/__init__.py");
    assert_eq!(api["line"], 1);
    assert_eq!(api["old_side"], true);
    assert_eq!(api["message"], "public function `geo.area` removed");
}

/// `bosun show` lists the first changes by definition and counts the rest (a large change has
/// tens of thousands, which pushed its diff far down); `--definitions` lists every one.
#[test]
fn show_summarises_a_long_list_of_changes_by_definition() {
    let dir = tempfile::tempdir().unwrap();
    let agent = "for i in $(seq 1 30); do printf '\\nfn helper_%s() {}\\n' $i >> src/lib.rs; done";
    let config = format!(
        "[orchestrator]\nmax_attempts = 1\n[executors.a]\ncommand = [\"sh\", \"-c\", {agent:?}]\n"
    );
    let repo = project(dir.path(), "- [ ] Add thirty helpers\n", &config);
    let runs = run_headless(&repo);
    let id = runs[0]["id"].as_str().unwrap();
    let listed = |text: &str| {
        text.lines()
            .filter(|l| l.trim_start().starts_with("symbol_added"))
            .count()
    };
    let shown = bosun(&repo, &["show", id]);
    assert_eq!(listed(&shown), 20, "{shown}");
    assert!(
        shown.contains("… 10 more (30 in all: 30 symbol_added; every one: bosun show"),
        "{shown}"
    );
    assert!(
        shown.find("… 10 more") < shown.find("diff --git"),
        "the diff follows: {shown}"
    );
    let all = bosun(&repo, &["show", id, "--definitions"]);
    assert_eq!(listed(&all), 30, "{all}");
    assert!(!all.contains("more (30 in all"), "{all}");

    // Lists carry counts, not every annotation; `show --json` has both.
    let counts = &runs[0]["annotation_counts"];
    assert_eq!(counts["by_kind"]["symbol_added"], 30, "{counts}");
    assert_eq!(counts["by_severity"]["info"], 30, "{counts}");
    assert!(runs[0].get("annotations").is_none(), "{:#}", runs[0]);
    assert_eq!(annotations_of(&repo, &runs[0]).len(), 30);
}
