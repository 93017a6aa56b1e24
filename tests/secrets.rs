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
