//! Base-relative results: what a command gate saw on the change compared with what the same
//! command saw on the base commit, so that a change is judged by what it made worse. A test
//! that already failed before the change is reported but not held against it; a test that
//! passed before and is skipped or gone afterwards is *weakened* and is held against it.
//!
//! The base side runs in a plain export of the base commit (see [`crate::git::export_tree`])
//! that is kept between runs, and its result is cached per base commit, gate and command, so
//! a base is run once however many runs start from it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::summary::{TestCounts, TestReport};
use crate::model::TestDelta;

/// What one run of a gate's command showed, on either side.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// The command exited with status 0.
    pub passed: bool,
    /// How it ended, in words ("exit status 0", "exited with status 1").
    pub exit: String,
    /// The tests it ran, when its output (or JUnit report) says.
    pub tests: Option<Tests>,
    /// Diagnostic lines (errors, warnings, `file:line:` lines) with numbers blanked, for
    /// commands that are not test runners (linters).
    pub problems: Vec<String>,
    /// The first line of its output that says "error" (else its last line), as printed: what
    /// to show when it fails.
    #[serde(default)]
    pub first_error: String,
}

/// Test outcomes by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tests {
    /// Counts.
    pub counts: TestCounts,
    /// Failing tests.
    pub failed: Vec<String>,
    /// Passing tests, when the output lists them.
    pub passed: Vec<String>,
    /// Skipped tests, when the output lists them.
    pub skipped: Vec<String>,
    /// The output lists every passing test (so one missing from `passed` did not pass).
    pub lists_passing: bool,
}

impl From<TestReport> for Tests {
    fn from(r: TestReport) -> Self {
        Self {
            counts: r.counts,
            failed: r.failed,
            passed: r.passed,
            skipped: r.skipped,
            lists_passing: r.lists_passing,
        }
    }
}

pub use crate::model::mask_digits;

/// Lines of a linter's (or compiler's) output that report a problem, with digit runs masked
/// ([`mask_digits`]) so that a problem moved by an edit elsewhere in the file is still the same problem.
pub fn problems(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| {
            let lower = l.to_lowercase();
            lower.contains("error") || lower.contains("warning") || looks_located(l)
        })
        .map(mask_digits)
        .collect()
}

/// `path:12:` or `path:12:3:` at the start of a line, as compilers and linters print.
fn looks_located(line: &str) -> bool {
    let mut parts = line.splitn(3, ':');
    let (Some(path), Some(num)) = (parts.next(), parts.next()) else {
        return false;
    };
    !path.is_empty()
        && !path.contains(' ')
        && !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
        && parts.next().is_some()
}

/// How the change's result compares with the base's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// Tests failing now that did not fail before.
    pub new_failures: Vec<String>,
    /// Tests failing before that no longer fail.
    pub fixed: Vec<String>,
    /// Tests failing on both sides.
    pub pre_existing: Vec<String>,
    /// Tests that passed before and are now skipped or gone.
    pub weakened: Vec<String>,
    /// Problem lines the change added (for commands without test output).
    pub new_problems: Vec<String>,
    /// Whether the change is no worse than the base.
    pub no_worse: bool,
    /// One line: "2 new failures, 1 fixed, 3 failing before too".
    pub summary: String,
}

/// `tests` with names that do not move when lines are added above a test: a cargo doc-test
/// is named by its line (`src/lib.rs - add (line 12)`), so a change above it would make it
/// look gone; it becomes `src/lib.rs - add #1` (its place among the doc-tests of that item,
/// in line order).
fn stable(tests: &Tests) -> Tests {
    use std::collections::{BTreeMap, HashMap};
    static LINE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let line =
        LINE.get_or_init(|| regex::Regex::new(r"^(.*) \(line (\d+)\)$").expect("a valid pattern"));
    let mut by_item: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
    for name in tests
        .failed
        .iter()
        .chain(&tests.passed)
        .chain(&tests.skipped)
    {
        if let Some(c) = line.captures(name) {
            let item = c.get(1).map_or("", |m| m.as_str());
            let at = c.get(2).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
            by_item.entry(item).or_default().push((at, name.as_str()));
        }
    }
    let mut renamed: HashMap<&str, String> = HashMap::new();
    for (item, mut places) in by_item {
        places.sort_unstable();
        places.dedup();
        for (n, (_, name)) in places.into_iter().enumerate() {
            renamed.insert(name, format!("{item} #{}", n + 1));
        }
    }
    let rename = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .map(|n| {
                renamed
                    .get(n.as_str())
                    .cloned()
                    .unwrap_or_else(|| n.clone())
            })
            .collect()
    };
    Tests {
        counts: tests.counts,
        failed: rename(&tests.failed),
        passed: rename(&tests.passed),
        skipped: rename(&tests.skipped),
        lists_passing: tests.lists_passing,
    }
}

/// Compares a change's result with the base's. The change is no worse when it adds no
/// failing test, weakens none and, for commands without test output, adds no problem line
/// (and a command that passed on the base still passes).
pub fn compare(base: &Observed, head: &Observed) -> Comparison {
    let mut c = Comparison::default();
    let (base_tests, head_tests) = (
        base.tests.as_ref().map(stable),
        head.tests.as_ref().map(stable),
    );
    match (&base_tests, &head_tests) {
        (Some(b), Some(h)) => {
            let before: HashSet<&str> = b.failed.iter().map(String::as_str).collect();
            let now: HashSet<&str> = h.failed.iter().map(String::as_str).collect();
            c.new_failures = h
                .failed
                .iter()
                .filter(|t| !before.contains(t.as_str()))
                .cloned()
                .collect();
            c.pre_existing = h
                .failed
                .iter()
                .filter(|t| before.contains(t.as_str()))
                .cloned()
                .collect();
            c.fixed = b
                .failed
                .iter()
                .filter(|t| !now.contains(t.as_str()))
                .cloned()
                .collect();
            if b.lists_passing {
                let skipped: HashSet<&str> = h.skipped.iter().map(String::as_str).collect();
                let passed: HashSet<&str> = h.passed.iter().map(String::as_str).collect();
                c.weakened = b
                    .passed
                    .iter()
                    .filter(|t| {
                        skipped.contains(t.as_str())
                            || (h.lists_passing
                                && !passed.contains(t.as_str())
                                && !now.contains(t.as_str()))
                    })
                    .cloned()
                    .collect();
            }
            // A runner that counts failures without naming them: compare the counts.
            let unnamed_new = h.failed.is_empty() && h.counts.failed > b.counts.failed;
            c.no_worse = c.new_failures.is_empty() && c.weakened.is_empty() && !unnamed_new;
            let mut parts = Vec::new();
            if unnamed_new {
                parts.push(format!(
                    "{} failing, {} before",
                    h.counts.failed, b.counts.failed
                ));
            }
            if !c.new_failures.is_empty() {
                parts.push(plural(c.new_failures.len(), "new failure", "new failures"));
            }
            if !c.weakened.is_empty() {
                parts.push(plural(
                    c.weakened.len(),
                    "test weakened (passed before, now skipped or gone)",
                    "tests weakened (passed before, now skipped or gone)",
                ));
            }
            if !c.fixed.is_empty() {
                parts.push(format!("{} fixed", c.fixed.len()));
            }
            if !c.pre_existing.is_empty() {
                parts.push(format!("{} failing before too", c.pre_existing.len()));
            }
            c.summary = parts.join(", ");
        }
        (None, Some(h)) => {
            // The base printed no test results (it did not build, say): every failure is new.
            c.new_failures = h.failed.clone();
            c.no_worse = h.counts.failed == 0;
            if !c.no_worse {
                c.summary = format!(
                    "{} failing; the base commit ran no tests to compare with",
                    h.counts.failed
                );
            }
        }
        (_, None) => {
            let mut before: HashMap<&str, usize> = HashMap::new();
            for p in &base.problems {
                *before.entry(p.as_str()).or_default() += 1;
            }
            for p in &head.problems {
                match before.get_mut(p.as_str()) {
                    Some(n) if *n > 0 => *n -= 1,
                    _ => c.new_problems.push(p.clone()),
                }
            }
            c.no_worse = head.passed || (!base.passed && c.new_problems.is_empty());
            if !head.passed {
                c.summary = if c.no_worse {
                    "failing before too, with no new problems".to_string()
                } else if base.passed {
                    "passed on the base commit".to_string()
                } else {
                    plural(c.new_problems.len(), "new problem", "new problems")
                };
            }
        }
    }
    if base.passed && !head.passed && base.tests.is_some() == head.tests.is_some() {
        // Green before, red now: worse, whatever the names say.
        c.no_worse = false;
    }
    c
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The record kept on the gate's result.
pub fn delta(
    base: Option<&Observed>,
    head: &Observed,
    c: Option<&Comparison>,
) -> Option<Box<TestDelta>> {
    let tests = head.tests.as_ref()?;
    Some(Box::new(TestDelta {
        head: tests.counts,
        base: base.and_then(|b| b.tests.as_ref()).map(|t| t.counts),
        new_failures: c.map(|c| c.new_failures.clone()).unwrap_or_default(),
        fixed: c.map(|c| c.fixed.clone()).unwrap_or_default(),
        pre_existing: c.map(|c| c.pre_existing.clone()).unwrap_or_default(),
        weakened: c.map(|c| c.weakened.clone()).unwrap_or_default(),
    }))
}

/// Where the result of `command` (gate `gate`, JUnit file `junit`) on commit `base` is cached.
pub fn cache_file(cache_dir: &Path, base: &str, gate: &str, command: &str, junit: &str) -> PathBuf {
    let mut hash = Sha256::new();
    for part in [gate, command, junit] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest: String = hash.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    cache_dir.join(base).join(format!("{gate}-{digest}.json"))
}

/// A cached base result; None when there is none (or it cannot be read).
pub fn load(file: &Path) -> Option<Observed> {
    let bytes = std::fs::read(file).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Caches a base result (written to a temporary file and renamed, so a reader never sees half).
pub fn save(file: &Path, observed: &Observed) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = file.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(observed).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, file)
}

/// Base results are computed one at a time in a process: they share the export directory.
pub static BASE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[cfg(test)]
mod tests {
    use super::*;

    fn tests(failed: &[&str], passed: &[&str], skipped: &[&str], lists: bool) -> Option<Tests> {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Some(Tests {
            counts: TestCounts {
                passed: passed.len() as u64,
                failed: failed.len() as u64,
                skipped: skipped.len() as u64,
            },
            failed: v(failed),
            passed: v(passed),
            skipped: v(skipped),
            lists_passing: lists,
        })
    }

    fn obs(passed: bool, t: Option<Tests>) -> Observed {
        Observed {
            passed,
            tests: t,
            ..Observed::default()
        }
    }

    #[test]
    fn only_new_failures_count_and_old_ones_are_reported() {
        let base = obs(false, tests(&["a", "b", "c", "f"], &["d", "e"], &[], true));
        let head = obs(
            false,
            tests(&["a", "b", "c", "x", "y"], &["d", "e", "f"], &[], true),
        );
        let c = compare(&base, &head);
        assert_eq!(c.new_failures, ["x", "y"]);
        assert_eq!(c.fixed, ["f"]);
        assert_eq!(c.pre_existing, ["a", "b", "c"]);
        assert!(!c.no_worse);
        assert_eq!(c.summary, "2 new failures, 1 fixed, 3 failing before too");

        let head = obs(false, tests(&["a"], &["b", "c", "d", "e", "f"], &[], true));
        let c = compare(&base, &head);
        assert!(c.no_worse, "{c:?}");
        assert_eq!(c.summary, "3 fixed, 1 failing before too");
    }

    /// Bug: a correct change that added lines above a cargo doc-test failed with "tests
    /// weakened": the doc-test's name has its line number.
    #[test]
    fn doc_tests_moved_by_lines_above_them_are_the_same_tests() {
        let base = obs(
            true,
            tests(
                &[],
                &[
                    "src/lib.rs - add (line 10)",
                    "src/lib.rs - add (line 20)",
                    "t::x",
                ],
                &[],
                true,
            ),
        );
        let moved = obs(
            true,
            tests(
                &[],
                &[
                    "src/lib.rs - add (line 14)",
                    "src/lib.rs - add (line 24)",
                    "t::x",
                ],
                &[],
                true,
            ),
        );
        let c = compare(&base, &moved);
        assert!(c.no_worse, "{c:?}");
        assert!(c.weakened.is_empty());
        // One of them gone is still seen.
        let fewer = obs(
            true,
            tests(&[], &["src/lib.rs - add (line 14)", "t::x"], &[], true),
        );
        assert_eq!(compare(&base, &fewer).weakened, ["src/lib.rs - add #2"]);
        // A doc-test that now fails is a new failure under its stable name.
        let failing = obs(
            false,
            tests(
                &["src/lib.rs - add (line 24)"],
                &["src/lib.rs - add (line 14)", "t::x"],
                &[],
                true,
            ),
        );
        assert_eq!(
            compare(&base, &failing).new_failures,
            ["src/lib.rs - add #2"]
        );
    }

    #[test]
    fn a_test_skipped_or_gone_after_passing_is_weakened() {
        let base = obs(true, tests(&[], &["a", "b", "c"], &[], true));
        let head = obs(true, tests(&[], &["a"], &["b"], true));
        let c = compare(&base, &head);
        assert_eq!(c.weakened, ["b", "c"]);
        assert!(!c.no_worse);
        assert_eq!(
            c.summary,
            "2 tests weakened (passed before, now skipped or gone)"
        );
        // An output that does not list passing tests cannot tell a missing one.
        let head = obs(true, tests(&[], &[], &[], false));
        assert!(compare(&base, &head).no_worse);
        // A base that does not list them cannot either.
        let base = obs(true, tests(&[], &[], &[], false));
        let head = obs(true, tests(&[], &["a"], &["b"], true));
        assert!(compare(&base, &head).no_worse);
    }

    #[test]
    fn unnamed_failures_are_compared_by_count() {
        let mut base = obs(false, tests(&[], &["a"], &[], false));
        base.tests.as_mut().unwrap().counts.failed = 1;
        let mut head = base.clone();
        assert!(compare(&base, &head).no_worse);
        head.tests.as_mut().unwrap().counts.failed = 2;
        let c = compare(&base, &head);
        assert!(!c.no_worse);
        assert_eq!(c.summary, "2 failing, 1 before");
    }

    #[test]
    fn a_base_without_tests_makes_every_failure_new() {
        let base = obs(false, None);
        let head = obs(false, tests(&["a"], &["b"], &[], true));
        let c = compare(&base, &head);
        assert!(!c.no_worse);
        assert_eq!(c.new_failures, ["a"]);
    }

    #[test]
    fn lint_problems_are_compared_as_a_multiset_with_numbers_blanked() {
        let lines = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let base_lines = lines(&[
            "src/a.py:10:5: E501 line too long",
            "src/a.py:20:1: W291 trailing whitespace",
            "Found 2 errors.",
            "checking 3 files",
        ]);
        let base = Observed {
            passed: false,
            problems: problems(&base_lines),
            ..Observed::default()
        };
        assert_eq!(base.problems.len(), 3, "{:?}", base.problems);
        // The same problems moved down by an edit, plus one more.
        let head_lines = lines(&[
            "src/a.py:12:5: E501 line too long",
            "src/a.py:22:1: W291 trailing whitespace",
            "src/b.py:1:1: F401 unused import",
            "Found 3 errors.",
        ]);
        let head = Observed {
            passed: false,
            problems: problems(&head_lines),
            ..Observed::default()
        };
        let c = compare(&base, &head);
        assert_eq!(c.new_problems, ["src/b.py:#:#: F# unused import"]);
        assert!(!c.no_worse);
        assert_eq!(c.summary, "1 new problem");
        // Only the moved problems: no worse.
        let head = Observed {
            passed: false,
            problems: problems(
                &head_lines[..2]
                    .iter()
                    .chain(&base_lines[2..3])
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
            ..Observed::default()
        };
        let c = compare(&base, &head);
        assert!(c.no_worse, "{c:?}");
        assert_eq!(c.summary, "failing before too, with no new problems");
    }

    #[test]
    fn green_before_red_now_is_worse() {
        let base = obs(true, None);
        let head = obs(false, None);
        let c = compare(&base, &head);
        assert!(!c.no_worse);
        assert_eq!(c.summary, "passed on the base commit");
    }

    #[test]
    fn cache_round_trips_per_base_and_command() {
        let dir = tempfile::tempdir().unwrap();
        let a = cache_file(dir.path(), "abc", "test", "cargo test", "");
        let b = cache_file(dir.path(), "abc", "test", "cargo test --all", "");
        assert_ne!(a, b);
        assert!(load(&a).is_none());
        let o = obs(false, tests(&["x"], &["y"], &[], true));
        save(&a, &o).unwrap();
        assert_eq!(load(&a), Some(o));
        assert!(load(&b).is_none());
    }
}
