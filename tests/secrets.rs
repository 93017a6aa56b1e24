//! Secrets: the corpus in `tests/fixtures/secrets/` (fake credentials of every kind the
//! redaction must catch, in many file types, and look-alikes it must leave alone; see its
//! README) through the one redaction every view and prompt uses, and through the `secret`
//! rule that flags a change as a risk.
//!
//! A corpus secret counts as caught when `redact_text` of its whole file no longer contains it
//! (for a URL or Basic credentials, the password; for a private key, every line of its body).
//! A look-alike counts as a false positive when its value no longer appears after redaction.

use serde_json::Value;

mod common;

fn corpus() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/secrets/manifest.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("manifest")).expect("JSON")
}

fn file(rel: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/secrets/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// What must not survive redaction for one corpus entry.
fn must_vanish(entry: &Value) -> Vec<String> {
    let value = entry["value"].as_str().expect("value");
    if let Some(password) = entry["password"].as_str() {
        return vec![password.to_string()];
    }
    if value.contains("PRIVATE KEY-----") && value.contains('\n') {
        // Every body line of the block.
        return value
            .lines()
            .filter(|l| !l.contains("-----"))
            .map(|l| l.trim().trim_matches('"').to_string())
            .filter(|l| l.len() >= 16)
            .collect();
    }
    if value.contains("PRIVATE KEY-----") {
        // JSON-escaped: the body between the markers.
        return value
            .split("\\n")
            .filter(|l| !l.contains("-----") && l.len() >= 16)
            .map(str::to_string)
            .collect();
    }
    vec![value.to_string()]
}

#[test]
fn the_corpus_is_caught_and_look_alikes_are_left_alone() {
    let corpus = corpus();
    let secrets = corpus["secrets"].as_array().expect("secrets");
    let lookalikes = corpus["lookalikes"].as_array().expect("lookalikes");
    let mut missed = Vec::new();
    for entry in secrets {
        let rel = entry["file"].as_str().unwrap();
        let redacted = bosun::semantic::rules::redact_text(&file(rel));
        let left: Vec<String> = must_vanish(entry)
            .into_iter()
            .filter(|v| redacted.contains(v.as_str()))
            .collect();
        if !left.is_empty() {
            missed.push(format!(
                "{} {rel}:{} ({}): {}",
                entry["kind"], entry["line"], entry["form"], left[0]
            ));
        }
    }
    let mut false_positives = Vec::new();
    for entry in lookalikes {
        let rel = entry["file"].as_str().unwrap();
        let value = entry["value"].as_str().unwrap();
        let redacted = bosun::semantic::rules::redact_text(&file(rel));
        let occurrences = |t: &str| t.matches(value).count();
        if occurrences(&redacted) < occurrences(&file(rel)) {
            false_positives.push(format!(
                "{rel}:{} {}: {value}",
                entry["line"], entry["what"]
            ));
        }
    }
    let caught = secrets.len() - missed.len();
    let recall = caught as f64 / secrets.len() as f64;
    eprintln!(
        "secrets corpus: {caught}/{} caught (recall {:.1} %), {} false positive(s) of {} look-alikes",
        secrets.len(),
        recall * 100.0,
        false_positives.len(),
        lookalikes.len()
    );
    for m in &missed {
        eprintln!("  missed: {m}");
    }
    for f in &false_positives {
        eprintln!("  false positive: {f}");
    }
    assert!(recall >= 0.95, "recall below 95 %: {missed:#?}");
    assert!(false_positives.len() <= 2, "{false_positives:#?}");
}

/// The same corpus added by an agent's change: the `secret` rule flags each credential's line
/// as a risk, and no look-alike's line.
#[test]
fn the_secret_rule_flags_the_corpus_as_risks() {
    use bosun::model::{AnnotationKind, Severity};
    let corpus = corpus();
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    common::git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "base\n").unwrap();
    common::git(&repo, &["add", "-A"]);
    common::git(&repo, &["commit", "-q", "-m", "base"]);
    let base = common::git(&repo, &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/secrets");
    for dir in ["files", "lookalikes"] {
        for entry in std::fs::read_dir(src.join(dir)).unwrap() {
            let entry = entry.unwrap();
            std::fs::create_dir_all(repo.join(dir)).unwrap();
            std::fs::copy(entry.path(), repo.join(dir).join(entry.file_name())).unwrap();
        }
    }
    common::git(&repo, &["add", "-A", "-f"]);
    common::git(&repo, &["commit", "-q", "-m", "agent"]);
    let head = common::git(&repo, &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    let sources = bosun::semantic::GitSources::new(repo.clone(), base.clone(), head.clone());
    let diff = bosun::diff::load(&repo, &base, &head).unwrap();
    let mut flagged: Vec<(String, u32, u32)> = Vec::new();
    for f in &diff.files {
        for a in bosun::semantic::analyze_file(f, &sources) {
            if a.kind == AnnotationKind::Secret {
                assert_eq!(a.severity, Severity::Risk);
                let first = a.line.unwrap_or(0);
                flagged.push((a.path.clone(), first, a.end_line.unwrap_or(first)));
            }
        }
    }
    let covers = |file: &str, line: u64| {
        flagged
            .iter()
            .any(|(p, a, b)| p == file && u64::from(*a) <= line && line <= u64::from(*b))
    };
    let secrets = corpus["secrets"].as_array().unwrap();
    let missed: Vec<String> = secrets
        .iter()
        .filter(|e| !covers(e["file"].as_str().unwrap(), e["line"].as_u64().unwrap()))
        .map(|e| format!("{} {}:{}", e["kind"], e["file"], e["line"]))
        .collect();
    let lookalikes = corpus["lookalikes"].as_array().unwrap();
    let false_positives: Vec<String> = lookalikes
        .iter()
        .filter(|e| covers(e["file"].as_str().unwrap(), e["line"].as_u64().unwrap()))
        .map(|e| format!("{} {}:{}", e["what"], e["file"], e["line"]))
        .collect();
    let recall = (secrets.len() - missed.len()) as f64 / secrets.len() as f64;
    eprintln!(
        "secret rule: {}/{} corpus lines flagged (recall {:.1} %), {} look-alike line(s) flagged",
        secrets.len() - missed.len(),
        secrets.len(),
        recall * 100.0,
        false_positives.len()
    );
    for m in &missed {
        eprintln!("  not flagged: {m}");
    }
    for f in &false_positives {
        eprintln!("  flagged look-alike: {f}");
    }
    assert!(recall >= 0.95, "{missed:#?}");
    assert!(false_positives.len() <= 2, "{false_positives:#?}");
}

/// Every corpus value the redaction catches, as it must never appear.
fn caught_values() -> Vec<String> {
    let corpus = corpus();
    corpus["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(must_vanish)
        .collect()
}

/// An agent writes the whole corpus into its change and prints it; a required gate prints
/// part of it and fails the first attempt, so the failure analysis (a model) reads the report,
/// and the second attempt is judged (a model). No corpus value reaches the model, the run logs,
/// the prompts, `bosun show` (text and JSON), `bosun runs --json` or the headless output.
#[test]
fn no_corpus_value_reaches_a_model_a_log_a_prompt_or_a_view() {
    use common::llm_server::{ScriptedServer, reply};
    let server = ScriptedServer::with_handler(|req| {
        let asked = req.body["messages"].to_string();
        if asked.contains("<<<REPORT>>>") {
            reply::text("Create .second, then the gate passes.", 30, 10)
        } else {
            reply::text(
                r#"{"correctness": 8, "completeness": 8, "scope": 8, "code_quality": 8, "tests": 8, "rationale": "fine"}"#,
                50,
                20,
            )
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    common::git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("TODO.md"), "- [ ] Configure the deployment\n").unwrap();
    let corpus_files =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/secrets/files");
    let config = format!(
        "[project]\nworktree_root = {wt}\n\n\
         [orchestrator]\nmax_parallel = 1\nmax_attempts = 2\nrun_timeout = \"60s\"\n\n\
         [llm]\nanalyze_errors = true\n\n\
         [llm.providers.m]\nbase_url = {url}\nmodel = \"scripted\"\napi_key_env = \"LLM_TEST_KEY\"\n\n\
         [llm.routes.m]\nchain = [\"m\"]\n\n\
         [gates.judge]\nroute = \"m\"\nsamples = 3\nmin_samples = 3\n\n\
         [gates.leakcheck]\ncommand = \"test -f .second || (cat leak/.env leak/config.py; exit 1)\"\n\n\
         [executors.leaky]\ncommand = [{agent}]\nenv = {{ CORPUS = {corpus} }}\n\n\
         [sandbox]\nwritable = []\n",
        wt = common::toml_str(&tmp.path().join("wt").display().to_string()),
        url = common::toml_str(&server.url()),
        agent = common::toml_str(&common::agent("leaks_secrets.sh")),
        corpus = common::toml_str(&corpus_files.display().to_string()),
    );
    std::fs::write(repo.join("bosun.toml"), config).unwrap();
    common::git(&repo, &["add", "-A"]);
    common::git(&repo, &["commit", "-q", "-m", "initial"]);

    let bosun = |args: &[&str]| {
        let mut cmd = common::clean(env!("CARGO_BIN_EXE_bosun"), &repo);
        cmd.args(args)
            .env("LLM_TEST_KEY", "test-key-not-a-secret")
            .stdin(std::process::Stdio::null());
        let (ok, out, err) = common::outcome(cmd);
        assert!(ok, "bosun {args:?}: {out}{err}");
        format!("{out}\n{err}")
    };
    let headless = bosun(&["run", "--headless"]);
    let runs: Vec<Value> = serde_json::from_str(
        &bosun(&["runs", "--json"])
            .lines()
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    assert_eq!(runs.len(), 2, "two attempts: {runs:#?}");
    assert!(
        runs.iter().any(|r| r["status"] == "awaiting_approval"),
        "the second attempt passed its gates: {runs:#?}"
    );
    let mut views = vec![("bosun run --headless".to_string(), headless)];
    views.push(("bosun runs --json".into(), bosun(&["runs", "--json"])));
    for r in &runs {
        let id = r["id"].as_str().unwrap();
        views.push((format!("bosun show {id}"), bosun(&["show", id])));
        views.push((
            format!("bosun show {id} --json"),
            bosun(&["show", id, "--json"]),
        ));
    }
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.body.to_string().contains("<<<REPORT>>>")),
        "the failure analysis asked the model"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.body.to_string().contains("<<<DIFF")),
        "the judge asked the model"
    );
    for (i, r) in requests.iter().enumerate() {
        views.push((format!("model request {i}"), r.body.to_string()));
    }
    let values = caught_values();
    let mut leaks: Vec<String> = Vec::new();
    for (what, text) in &views {
        for v in values.iter().filter(|v| text.contains(v.as_str())) {
            leaks.push(format!("{what}: {v}"));
        }
    }
    for (path, v) in common::files_containing(&repo.join(".bosun"), &values) {
        leaks.push(format!("{}: {v}", path.display()));
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    // The change itself holds them (the agent wrote them, git has them): the run is flagged.
    let shown = bosun(&["show", runs[0]["id"].as_str().unwrap(), "--json"]);
    assert!(shown.contains("\"secret\""), "flagged as a risk: {shown}");
}

/// bosun's built-in agent writes credentials into a file and reads it back: its transcript,
/// the run log and the store keep them masked. (The agent's own conversation with its model
/// carries the file as the agent wrote it: that is the agent's work, not bosun quoting it.)
#[test]
fn the_built_in_agents_transcript_and_log_hold_no_credential() {
    use common::llm_server::{ScriptedServer, reply};
    let corpus = corpus();
    let pick = |kind: &str| {
        corpus["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == kind)
            .and_then(|e| e["value"].as_str())
            .unwrap()
            .to_string()
    };
    let (aws, github, stripe) = (
        pick("aws-access-key-id"),
        pick("github-pat"),
        pick("stripe-secret-key"),
    );
    let content =
        format!("AWS_ACCESS_KEY_ID={aws}\nGITHUB_TOKEN={github}\nstripe.api_key = \"{stripe}\"\n");
    let args = serde_json::json!({"path": "deploy.env", "content": content}).to_string();
    let server = ScriptedServer::start(vec![
        reply::tool_calls(&[("c1", "write_file", &args)]),
        reply::tool_calls(&[("c2", "run", r#"{"command": "cat deploy.env"}"#)]),
        reply::tool_calls(&[("c3", "finish", r#"{"summary": "Wrote deploy.env."}"#)]),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    common::git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("TODO.md"), "- [ ] Configure the deployment\n").unwrap();
    let config = format!(
        "[project]\nworktree_root = {wt}\n\n\
         [orchestrator]\nmax_parallel = 1\nmax_attempts = 1\nrun_timeout = \"30s\"\n\n\
         [llm.providers.coder]\nbase_url = {url}\nmodel = \"scripted\"\napi_key_env = \"LLM_TEST_KEY\"\n\n\
         [llm.routes.coder]\nchain = [\"coder\"]\n\n\
         [executors.builtin]\ntype = \"llm\"\nroute = \"coder\"\nallowed_commands = [\"cat\"]\n",
        wt = common::toml_str(&tmp.path().join("wt").display().to_string()),
        url = common::toml_str(&server.url()),
    );
    std::fs::write(repo.join("bosun.toml"), config).unwrap();
    common::git(&repo, &["add", "-A"]);
    common::git(&repo, &["commit", "-q", "-m", "initial"]);
    let mut cmd = common::clean(env!("CARGO_BIN_EXE_bosun"), &repo);
    cmd.args(["run", "--headless"])
        .env("LLM_TEST_KEY", "test-key-not-a-secret")
        .stdin(std::process::Stdio::null());
    let (ok, out, err) = common::outcome(cmd);
    assert!(ok, "{out}{err}");
    assert_eq!(server.requests().len(), 3, "the agent ran its three steps");
    let transcripts = common::files_containing(&repo.join(".bosun"), &["write_file".to_string()]);
    assert!(
        transcripts
            .iter()
            .any(|(p, _)| p.ends_with("transcript.jsonl")),
        "a transcript was written: {transcripts:?}"
    );
    let values = vec![aws, github, stripe];
    let leaks = common::files_containing(&repo.join(".bosun"), &values);
    assert!(leaks.is_empty(), "{leaks:#?}");
    for v in &values {
        assert!(!out.contains(v.as_str()) && !err.contains(v.as_str()));
    }
}
