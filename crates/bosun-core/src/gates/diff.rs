//! The `diff` gate: did the agent do real work, inside the paths it may touch, without
//! deleting tests? A pure function of the diff, so it is tested without git.

use std::sync::LazyLock;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::config::DiffGateConfig;
use crate::git::{ChangeStatus, DiffSummary};
use crate::model::{GateResult, Verdict};

/// Paths that hold tests, by convention of the common ecosystems.
const TEST_PATTERNS: &[&str] = &[
    "tests/**",
    "**/tests/**",
    "test/**",
    "**/test/**",
    "**/__tests__/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/*_test.go",
    "**/*_test.rs",
    "**/*.test.*",
    "**/*.spec.*",
    "spec/**",
    "**/spec/**",
];

fn globs(patterns: &[String]) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).map_err(|e| format!("bad glob `{p}`: {e}"))?);
    }
    b.build().map_err(|e| e.to_string())
}

/// [`TEST_PATTERNS`], compiled once.
static TEST_GLOBS: LazyLock<GlobSet> = LazyLock::new(|| {
    let patterns: Vec<String> = TEST_PATTERNS.iter().map(|s| s.to_string()).collect();
    globs(&patterns).expect("the built-in test patterns are valid globs")
});

/// Whether a path is a test file.
pub fn is_test_path(path: &str) -> bool {
    TEST_GLOBS.is_match(path)
}

/// Comment markers that start a line in common languages.
const COMMENT_STARTS: &[&str] = &["//", "#", "/*", "*", "--", "<!--", ";", "%"];

/// The changed lines of a unified patch: (added, removed), without the `+`/`-`.
fn changed_lines(patch: &str) -> (Vec<&str>, Vec<&str>) {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for line in patch.lines() {
        if line.starts_with("+++") || line.starts_with("---") {
            continue;
        }
        if let Some(l) = line.strip_prefix('+') {
            added.push(l);
        } else if let Some(l) = line.strip_prefix('-') {
            removed.push(l);
        }
    }
    (added, removed)
}

/// Whether the text change is only whitespace: the same characters, spaced differently.
fn whitespace_only(added: &[&str], removed: &[&str]) -> bool {
    let squash = |lines: &[&str]| -> String {
        lines
            .iter()
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect()
    };
    squash(added) == squash(removed)
}

/// Whether every changed non-blank line is a comment.
fn comments_only(added: &[&str], removed: &[&str]) -> bool {
    added
        .iter()
        .chain(removed)
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .all(|l| COMMENT_STARTS.iter().any(|c| l.starts_with(c)))
}

/// Runs the diff gate over a run's change.
pub fn check(diff: &DiffSummary, config: &DiffGateConfig) -> GateResult {
    let mut problems: Vec<String> = Vec::new();
    if diff.files.is_empty() {
        problems.push("the change is empty".into());
    } else {
        let binary_or_renamed = diff
            .files
            .iter()
            .any(|f| f.binary || f.status != ChangeStatus::Modified);
        let (added, removed) = changed_lines(&diff.patch);
        if !binary_or_renamed && whitespace_only(&added, &removed) {
            problems.push("the change only touches whitespace".into());
        } else if !binary_or_renamed && comments_only(&added, &removed) {
            problems.push("the change only touches comments".into());
        }
    }
    match (globs(&config.allowed_paths), globs(&config.denied_paths)) {
        (Ok(allowed), Ok(denied)) => {
            for f in &diff.files {
                let paths = std::iter::once(f.path.as_str()).chain(f.old_path.as_deref());
                for p in paths {
                    if !config.allowed_paths.is_empty() && !allowed.is_match(p) {
                        problems.push(format!("{p} is outside [gates.diff] allowed_paths"));
                    }
                    if denied.is_match(p) {
                        problems.push(format!("{p} is in [gates.diff] denied_paths"));
                    }
                }
            }
        }
        (Err(e), _) | (_, Err(e)) => problems.push(format!("[gates.diff]: {e}")),
    }
    for f in diff
        .files
        .iter()
        .filter(|f| f.status == ChangeStatus::Deleted)
    {
        if is_test_path(&f.path) {
            problems.push(format!("test file {} was deleted", f.path));
        }
    }
    let changed = diff.insertions + diff.deletions;
    if changed > config.max_changed_lines {
        problems.push(format!(
            "{changed} changed lines, more than [gates.diff] max_changed_lines = {}",
            config.max_changed_lines
        ));
    }
    let stat = format!(
        "{} file(s), +{} −{}",
        diff.files.len(),
        diff.insertions,
        diff.deletions
    );
    let (verdict, score, summary) = match problems.first() {
        None => (Verdict::Pass, 1.0, stat),
        Some(first) => (Verdict::Fail, 0.0, first.clone()),
    };
    GateResult::new("diff", verdict, score, summary, problems.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::FileChange;

    fn file(path: &str, status: ChangeStatus) -> FileChange {
        FileChange {
            path: path.into(),
            old_path: None,
            status,
            binary: false,
            insertions: 1,
            deletions: 1,
        }
    }

    fn diff(files: Vec<FileChange>, patch: &str) -> DiffSummary {
        let insertions = patch
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .count();
        let deletions = patch
            .lines()
            .filter(|l| l.starts_with('-') && !l.starts_with("---"))
            .count();
        DiffSummary {
            patch: patch.into(),
            files,
            insertions,
            deletions,
        }
    }

    const REAL: &str = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-fn a() -> u32 { 1 }\n+fn a() -> u32 { 2 }\n";

    #[test]
    fn real_work_passes_and_empty_whitespace_or_comment_changes_fail() {
        let c = DiffGateConfig::default();
        let ok = check(
            &diff(vec![file("src/lib.rs", ChangeStatus::Modified)], REAL),
            &c,
        );
        assert_eq!(ok.verdict, Verdict::Pass, "{}", ok.details);
        assert_eq!(check(&diff(vec![], ""), &c).summary, "the change is empty");
        let ws = "--- a/x.rs\n+++ b/x.rs\n@@ -1 +1 @@\n-fn a(){1}\n+fn a() { 1 }\n";
        assert_eq!(
            check(&diff(vec![file("x.rs", ChangeStatus::Modified)], ws), &c).summary,
            "the change only touches whitespace"
        );
        let cm = "--- a/x.rs\n+++ b/x.rs\n@@ -1 +1,2 @@\n-// old note\n+// new note\n+   \n";
        assert_eq!(
            check(&diff(vec![file("x.rs", ChangeStatus::Modified)], cm), &c).summary,
            "the change only touches comments"
        );
    }

    #[test]
    fn paths_tests_and_size_are_enforced() {
        let c = DiffGateConfig {
            allowed_paths: vec!["docs/**".into(), "*.md".into()],
            denied_paths: vec!["docs/secret/**".into()],
            max_changed_lines: 1,
        };
        let r = check(
            &diff(vec![file("src/lib.rs", ChangeStatus::Modified)], REAL),
            &c,
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(
            r.details
                .contains("src/lib.rs is outside [gates.diff] allowed_paths"),
            "{}",
            r.details
        );
        assert!(
            r.details
                .contains("2 changed lines, more than [gates.diff] max_changed_lines = 1"),
            "{}",
            r.details
        );
        let r = check(
            &diff(vec![file("docs/secret/k.md", ChangeStatus::Modified)], REAL),
            &c,
        );
        assert!(
            r.details
                .contains("docs/secret/k.md is in [gates.diff] denied_paths"),
            "{}",
            r.details
        );

        let d = DiffGateConfig::default();
        let gone = "--- a/tests/api.rs\n+++ /dev/null\n@@ -1 +0,0 @@\n-#[test] fn t() {}\n";
        let r = check(
            &diff(vec![file("tests/api.rs", ChangeStatus::Deleted)], gone),
            &d,
        );
        assert_eq!(r.summary, "test file tests/api.rs was deleted");
        for p in [
            "pkg/x_test.go",
            "app/test_views.py",
            "web/a.spec.ts",
            "src/__tests__/a.js",
        ] {
            assert!(is_test_path(p), "{p}");
        }
        assert!(!is_test_path("src/testing_utils.rs"));
    }
}
