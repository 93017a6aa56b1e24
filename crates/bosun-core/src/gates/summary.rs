//! Test results read from what a test runner printed: which runner it was, how many tests
//! passed, failed and were skipped, and — where the output names them — which tests had
//! which outcome. The `test` gate scores a change by the counts and compares the named
//! outcomes with the base commit's run: only failures the change introduced count against
//! it, and a test that passed on the base but is skipped or gone on the head is a weakened
//! test.
//!
//! Supported: `cargo test`, `cargo nextest run`, pytest, Python's unittest, `go test` (plain,
//! `-v` and `-json`), jest and vitest, plus JUnit XML reports ([`junit_report`]). Colour
//! escapes are stripped and carriage returns treated as line breaks before anything is read,
//! so coloured or progress-bar output parses like plain output.
//!
//! When an output holds more than one runner's summary, [`report`] does not pick the one with
//! the most tests: it tries the runners in a fixed order — nextest, cargo test, pytest,
//! unittest, `go test -json`, `go test`, vitest, jest — and takes the first whose summary it
//! finds. The order matters because some formats embed others: nextest prints each failing
//! test's own `test result:` line inside its report, and `go test -json` carries the plain
//! `--- FAIL:` lines inside its JSON. unittest's summary (`Ran 7 tests in 0.001s`, then `OK`
//! or `FAILED (…)`) appears in no other runner's output, so its place only decides which
//! wins when one run quotes another: it comes after pytest so that a pytest run whose
//! captured output shows a unittest transcript is read as pytest.
//!
//! Tests are named the same way in [`TestReport::failed`], `passed` and `skipped`, so two
//! runs' lists can be compared. Per runner, the names and whether the output lists every
//! passing test ([`TestReport::lists_passing`]):
//! - cargo test: the test path (`tests::adds`; `calc/src/lib.rs - add (line 5)` for a
//!   doc-test), from the `test … ok` / `… ignored` lines (without libtest's
//!   ` - should panic` and ` - compile fail` marks) and, for failures, the
//!   `---- name stdout ----` sections and the closing `failures:` list. The default output
//!   lists every test; `--quiet` none.
//! - nextest: binary and test (`calc tests::adds`), by each test's last final status line,
//!   so a test that failed and then passed on a retry is passed. Passing tests are listed at
//!   the default status level; skipped ones only with `--status-level skip`.
//! - pytest: the node id (`tests/test_x.py::test_y[1]`), from the `-v` progress lines and the
//!   short summary (`FAILED`/`ERROR` by default, also `PASSED`, `XFAIL` and `XPASS` with
//!   `-rA`; its `SKIPPED` lines give a file and line, not a test). Without `-v` or `-rA`
//!   only failures are named.
//! - unittest: `module.Class.test_method`, from `test_method (module.Class.test_method)`
//!   (Python 3.11 and later) or `test_method (module.Class)` (earlier) in the `-v` progress
//!   lines and the `FAIL:`, `ERROR:` and `UNEXPECTED SUCCESS:` headers of the failure
//!   report, with subtest parameters dropped. A failing `setUpClass` is named
//!   `module.Class.setUpClass`, a test module that failed to import
//!   `unittest.loader._FailedTest.module`. `-v` lists every test; without it only failures
//!   are named. Counts are per test, not per unittest failure: a test whose subtests failed
//!   twice is one failed test, and a failing `setUpClass` is a failure that takes nothing
//!   from passed (unittest counts it as an error, but not among the tests run).
//! - go test: the test name, subtests included (`TestTable/wrong`); a package that failed
//!   without a failing test (build failure, panic) is named by its import path. `-v` and
//!   `-json` list every test; plain output names only failures.
//! - jest: `describe › test`. Failures come from the `●` headers of the failure details,
//!   which jest prints at every verbosity, and from `✕` lines only when there are none; the
//!   verbose list (also jest's default for a single test file) is read by indentation to
//!   prefix each test with its describe blocks. The default multi-file output names only
//!   failures.
//! - vitest: `file > describe > test`. Failures come from the `FAIL  file > test` lines of
//!   the failure report, and from `×` lines only when there are none. The default reporter
//!   lists the tests of a file with a failure, under the file, but folds a passing file into
//!   one line; `--reporter=verbose` lists every test.
//! - JUnit XML: `classname::name` for every `<testcase>`.
//!
//! `lists_passing` also needs the number of passing tests named to match the summary's
//! passed count, so output that interleaves test prints with the list does not claim to be
//! complete; it holds, too, when nothing passed. A name can sit in more than one list when two tests share it (two crates'
//! `tests::it_works`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

pub use crate::model::TestCounts;

/// The test runner whose summary was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// `cargo test`: one `test result:` line per test binary and per crate's doc-tests.
    Cargo,
    /// `cargo nextest run`: one final `Summary` line.
    Nextest,
    /// pytest, at any verbosity.
    Pytest,
    /// `python -m unittest` (and runners built on it): `Ran N tests`, then `OK` or `FAILED`.
    Unittest,
    /// `go test` or `go test -v`.
    GoTest,
    /// `go test -json`.
    GoTestJson,
    /// jest.
    Jest,
    /// vitest.
    Vitest,
}

impl fmt::Display for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cargo => "cargo test",
            Self::Nextest => "cargo nextest",
            Self::Pytest => "pytest",
            Self::Unittest => "unittest",
            Self::GoTest => "go test",
            Self::GoTestJson => "go test -json",
            Self::Jest => "jest",
            Self::Vitest => "vitest",
        })
    }
}

/// The order runners are tried in; see the module documentation for why.
const DETECTION_ORDER: [Runner; 8] = [
    Runner::Nextest,
    Runner::Cargo,
    Runner::Pytest,
    Runner::Unittest,
    Runner::GoTestJson,
    Runner::GoTest,
    Runner::Vitest,
    Runner::Jest,
];

/// Everything read from one test run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestReport {
    /// The runner whose summary was found; None for a JUnit report.
    pub runner: Option<Runner>,
    /// How many tests passed, failed and were skipped, from the runner's summary.
    pub counts: TestCounts,
    /// Tests that failed, errored or timed out: names, once each, in first-seen order.
    pub failed: Vec<String>,
    /// Tests that passed, where the output names them; see `lists_passing`.
    pub passed: Vec<String>,
    /// Tests that were skipped, ignored, xfailed or todo, where the output names them.
    pub skipped: Vec<String>,
    /// Whether the output names every passing test (so a test missing from `passed` did not pass).
    pub lists_passing: bool,
}

impl TestReport {
    fn push(&mut self, outcome: Outcome, name: String) {
        match outcome {
            Outcome::Passed => self.passed.push(name),
            Outcome::Failed => self.failed.push(name),
            Outcome::Skipped => self.skipped.push(name),
        }
    }

    /// Each list with repeated names dropped, keeping the first.
    fn deduplicated(mut self) -> Self {
        for names in [&mut self.failed, &mut self.passed, &mut self.skipped] {
            let mut seen = HashSet::new();
            names.retain(|name| seen.insert(name.clone()));
        }
        self
    }
}

/// One test's outcome as a runner printed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Skipped,
}

/// Reads a test command's output: the runner, its counts and the tests it names by outcome
/// (see the module documentation for what each runner names). None when no known summary is
/// found; a `cargo test` whose build failed prints none.
///
/// Runners are tried in the order nextest, cargo test, pytest, unittest, `go test -json`,
/// `go test`, vitest, jest, and the first whose summary appears wins.
pub fn report(output: &str) -> Option<TestReport> {
    let text = normalize(output);
    let (runner, report) = DETECTION_ORDER
        .into_iter()
        .find_map(|runner| read(runner, &text).map(|report| (runner, report)))?;
    Some(TestReport {
        runner: Some(runner),
        ..report.deduplicated()
    })
}

/// Detects the runner from the output and returns its counts; None when no known summary is
/// found. The runner and counts of [`report`].
pub fn parse(output: &str) -> Option<(Runner, TestCounts)> {
    let report = report(output)?;
    Some((report.runner?, report.counts))
}

/// Names of failing tests, once each, in the order they first appear: [`TestReport::failed`]
/// of [`report`], empty when no runner is detected. Used to tell new failures from old ones.
pub fn failing_tests(output: &str) -> Vec<String> {
    report(output)
        .map(|report| report.failed)
        .unwrap_or_default()
}

/// Test counts from a JUnit XML report: the counts of [`junit_report`].
pub fn parse_junit(xml: &str) -> Option<TestCounts> {
    junit_report(xml).map(|report| report.counts)
}

/// Reads a JUnit XML report. The counts are the `tests`, `failures`, `errors` and `skipped`
/// attributes of `<testsuites>`, each taken from the top-level `<testsuite>` elements summed
/// when `<testsuites>` does not carry it (vitest and jest-junit leave `skipped` off the
/// root); nested suites are not added twice, errors count as failures and passed is what
/// remains of `tests`. Each `<testcase>` is named `classname::name` (`name` alone without a
/// classname) and failed when it has a `<failure>` or `<error>` child, skipped when it has a
/// `<skipped>` one, else passed; a report names every test, so `lists_passing` is set.
/// None when the text holds neither `<testsuites>` nor `<testsuite>`.
pub fn junit_report(xml: &str) -> Option<TestReport> {
    let mut report = TestReport {
        lists_passing: true,
        ..TestReport::default()
    };
    let mut root: Option<SuiteAttrs> = None;
    let mut summed = SuiteAttrs::default();
    let mut suites = 0usize;
    let mut depth = 0usize;
    // The open `<testcase>`: its name (None without one) and the outcome its children gave.
    let mut case: Option<(Option<String>, Outcome)> = None;
    for tag in (Tags { rest: xml }) {
        match tag {
            Tag::Open {
                name: "testsuites",
                attrs,
                ..
            } if root.is_none() => {
                root = Some(SuiteAttrs::from_attrs(&attrs));
            }
            Tag::Open {
                name: "testsuite",
                attrs,
                self_closing,
            } => {
                if depth == 0 {
                    summed.add(SuiteAttrs::from_attrs(&attrs));
                    suites += 1;
                }
                if !self_closing {
                    depth += 1;
                }
            }
            Tag::Close("testsuite") => depth = depth.saturating_sub(1),
            Tag::Open {
                name: "testcase",
                attrs,
                self_closing,
            } => {
                let test = junit_test_name(&attrs);
                if self_closing {
                    report.passed.extend(test);
                } else {
                    case = Some((test, Outcome::Passed));
                }
            }
            Tag::Open {
                name: "failure" | "error",
                ..
            } => {
                if let Some((_, outcome)) = &mut case {
                    *outcome = Outcome::Failed;
                }
            }
            Tag::Open {
                name: "skipped", ..
            } => {
                if let Some((_, outcome)) = &mut case
                    && *outcome == Outcome::Passed
                {
                    *outcome = Outcome::Skipped;
                }
            }
            Tag::Close("testcase") => {
                if let Some((Some(test), outcome)) = case.take() {
                    report.push(outcome, test);
                }
            }
            Tag::Open { .. } | Tag::Close(_) => {}
        }
    }
    if root.is_none() && suites == 0 {
        return None;
    }
    let root = root.unwrap_or_default();
    let pick = |own: Option<u64>, sum: Option<u64>| own.or(sum).unwrap_or(0);
    let tests = pick(root.tests, summed.tests);
    let failures = pick(root.failures, summed.failures);
    let errors = pick(root.errors, summed.errors);
    let skipped = pick(root.skipped, summed.skipped);
    let failed = failures.saturating_add(errors);
    report.counts = TestCounts {
        passed: tests.saturating_sub(failed).saturating_sub(skipped),
        failed,
        skipped,
    };
    Some(report.deduplicated())
}

/// What `runner`'s parser finds in `text`; None when its summary is not there.
fn read(runner: Runner, text: &str) -> Option<TestReport> {
    match runner {
        Runner::Cargo => read_cargo(text),
        Runner::Nextest => read_nextest(text),
        Runner::Pytest => read_pytest(text),
        Runner::Unittest => read_unittest(text),
        Runner::GoTest => read_go(text),
        Runner::GoTestJson => read_go_json(text),
        Runner::Jest => read_jest(text),
        Runner::Vitest => read_vitest(text),
    }
}

/// A regex that is a constant of this module; compiling it cannot fail.
fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the module's constant regexes are valid")
}

static ANSI: LazyLock<Regex> = LazyLock::new(|| {
    // CSI sequences (colours, cursor moves), OSC sequences (titles, hyperlinks) ended by BEL
    // or ST, charset selections and the remaining two-byte escapes.
    compile(
        r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[()#][0-9A-Za-z]|\x1b[@-Z\\-_]",
    )
});

/// `output` without colour escapes, with `\r\n` and lone `\r` (progress redraws) as `\n`.
fn normalize(output: &str) -> String {
    ANSI.replace_all(output, "")
        .replace("\r\n", "\n")
        .replace('\r', "\n")
}

fn num(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// How many names a list holds, as a test count.
fn count(names: &[String]) -> u64 {
    u64::try_from(names.len()).unwrap_or(u64::MAX)
}

/// How many different names a list holds, as a test count.
fn count_distinct(names: &[String]) -> u64 {
    let distinct: HashSet<&str> = names.iter().map(String::as_str).collect();
    u64::try_from(distinct.len()).unwrap_or(u64::MAX)
}

// ---- cargo test ----

static CARGO_RESULT: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored;")
});
static CARGO_TEST: LazyLock<Regex> = LazyLock::new(|| {
    // `test tests::panics - should panic ... ok`, `test src/lib.rs - f (line 5) - compile
    // fail ... ok`, `test tests::huge ... ignored, slow`: the marks are not part of the name
    // libtest uses elsewhere (`---- tests::panics stdout ----`).
    compile(
        r"^test (.+?)(?: - (?:should panic|compile fail|compile))? \.\.\. (ok|ignored)(?:, .*)?$",
    )
});
static CARGO_TEST_OUTPUT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^---- (.+) std(?:out|err) ----$"));

/// Sums every `test result:` line: a workspace prints one per test binary and one per crate's
/// doc-tests. Only lines that start with `test result:` count, so the indented copies inside
/// other tools' reports do not. The `---- name stdout ----` sections name failures, except
/// under `successes:`, where `--show-output` prints the passing tests' output.
fn read_cargo(text: &str) -> Option<TestReport> {
    let mut report = TestReport::default();
    let mut found = false;
    let mut in_successes = false;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(c) = CARGO_RESULT.captures(line) {
            if let (Some(passed), Some(failed), Some(skipped)) =
                (num(&c[1]), num(&c[2]), num(&c[3]))
            {
                report.counts.add(TestCounts {
                    passed,
                    failed,
                    skipped,
                });
                found = true;
            }
            in_successes = false;
        } else if let Some(c) = CARGO_TEST.captures(line) {
            let outcome = match &c[2] {
                "ok" => Outcome::Passed,
                _ => Outcome::Skipped,
            };
            report.push(outcome, c[1].to_string());
        } else if let Some(c) = CARGO_TEST_OUTPUT.captures(line) {
            if !in_successes {
                report.failed.push(c[1].to_string());
            }
        } else if line == "successes:" {
            in_successes = true;
        } else if line == "failures:" {
            in_successes = false;
            // The closing list: one indented name per line right after the heading. The
            // first `failures:` heading is followed by a blank line and takes nothing.
            while let Some(name) = lines.next_if(|l| l.starts_with("    ") && !l.trim().is_empty())
            {
                report.failed.push(name.trim().to_string());
            }
        }
    }
    // Each binary lists its own tests, so the lines add up to the summed count even when
    // two crates share a test name.
    report.lists_passing = count(&report.passed) == report.counts.passed;
    found.then_some(report)
}

// ---- cargo nextest ----

static NEXTEST_SUMMARY: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*Summary \[[^\]]*\] \d+(?:/\d+)? tests? run: (.*)$"));
static NEXTEST_STATUS: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^\s*(?:TRY \d+ )?([A-Z][A-Z+ -]*?)(?: \d+/\d+)? +\[[^\]]*\] +(?:\([^)]*\) +)?(\S.*?)\s*$",
    )
});

/// The last `Summary [ 0.1s] 6 tests run: 5 passed (1 slow, 1 flaky), 1 failed, 1 timed out,
/// 1 skipped` line. The parenthesised notes qualify the passed tests and are not counted
/// again; every category other than passed and skipped (failed, timed out, exec failed, and
/// any nextest adds later) counts as failed.
fn read_nextest(text: &str) -> Option<TestReport> {
    let rest = text
        .lines()
        .rev()
        .find_map(|l| NEXTEST_SUMMARY.captures(l))?
        .get(1)?
        .as_str();
    // `…, 1 skipped; cancelled due to interrupt`
    let rest = rest.split(';').next().unwrap_or_default();
    let mut counts = TestCounts::default();
    for part in without_parentheses(rest).split(',') {
        let Some((n, what)) = part.trim().split_once(' ') else {
            continue;
        };
        let Some(n) = num(n) else { continue };
        match what.trim() {
            "passed" => counts.passed = counts.passed.saturating_add(n),
            "skipped" => counts.skipped = counts.skipped.saturating_add(n),
            _ => counts.failed = counts.failed.saturating_add(n),
        }
    }
    let mut report = nextest_outcomes(text);
    report.counts = counts;
    report.lists_passing = count(&report.passed) == counts.passed;
    Some(report)
}

fn without_parentheses(s: &str) -> String {
    let mut depth = 0usize;
    s.chars()
        .filter(|&c| {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    return false;
                }
                _ => {}
            }
            depth == 0
        })
        .collect()
}

/// Each test by its last final status line: `PASS`, `FLAKY` and `LEAK` passed, `SKIP` was
/// skipped, anything else (`FAIL`, `TMT`, `SIGSEGV`, …) failed. In-progress lines (`SLOW`,
/// `TRMNTG`, `START`) are passed over, and a retry that passed clears earlier failures.
fn nextest_outcomes(text: &str) -> TestReport {
    let mut order: Vec<&str> = Vec::new();
    let mut last: HashMap<&str, Outcome> = HashMap::new();
    for c in text.lines().filter_map(|l| NEXTEST_STATUS.captures(l)) {
        let (Some(status), Some(name)) = (c.get(1), c.get(2)) else {
            continue;
        };
        let outcome = match status.as_str().trim() {
            "SLOW" | "TRMNTG" | "START" | "RETRY" | "DELAY" | "SETUP" => continue,
            "PASS" | "FLAKY" | "LEAK" => Outcome::Passed,
            "SKIP" => Outcome::Skipped,
            _ => Outcome::Failed,
        };
        let name = name.as_str();
        if last.insert(name, outcome).is_none() {
            order.push(name);
        }
    }
    let mut report = TestReport::default();
    for name in order {
        if let Some(&outcome) = last.get(name) {
            report.push(outcome, name.to_string());
        }
    }
    report
}

// ---- pytest ----

static PYTEST_SUMMARY: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^((?:\d+ [a-z]+|no tests ran)(?:, \d+ [a-z]+)*) in \d+(?:\.\d+)?s(?: \([\d:.]+\))?$")
});
/// A short test summary line: `FAILED tests/test_x.py::test_y - AssertionError`.
static PYTEST_SHORT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (\S.*?)(?: - .*)?$"));
/// A `-v` progress line: `tests/test_x.py::test_y SKIPPED (reason)   [ 70%]`.
static PYTEST_PROGRESS: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"^(\S+::.*?\S) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)(?: \(.*\))?(?: +\[ *\d+%\])?\s*$",
    )
});

/// The last `=== 3 passed, 1 failed, 2 skipped, 1 xfailed in 0.12s ===` line, with or
/// without the `=` rule (`-q`). Errors count as failed, xfailed as skipped, xpassed as
/// passed; warnings, deselected tests and reruns are not tests and are left out.
fn read_pytest(text: &str) -> Option<TestReport> {
    let mut counts = None;
    let mut report = TestReport::default();
    for line in text.lines() {
        // A short summary line puts the status first, a progress line the node id.
        let named = if let Some(c) = PYTEST_SHORT.captures(line) {
            c.get(1).zip(c.get(2))
        } else if let Some(c) = PYTEST_PROGRESS.captures(line) {
            c.get(2).zip(c.get(1))
        } else {
            None
        };
        if let Some((status, name)) = named {
            let outcome = match status.as_str() {
                "PASSED" | "XPASS" => Outcome::Passed,
                "SKIPPED" | "XFAIL" => Outcome::Skipped,
                _ => Outcome::Failed,
            };
            report.push(outcome, name.as_str().to_string());
            continue;
        }
        let inner = line.trim().trim_matches('=').trim();
        if let Some(found) = PYTEST_SUMMARY
            .captures(inner)
            .and_then(|c| pytest_counts(&c[1]))
        {
            counts = Some(found);
        }
    }
    report.counts = counts?;
    // Node ids are unique, and `-v -rA` names each passing test twice.
    report.lists_passing = count_distinct(&report.passed) == report.counts.passed;
    Some(report)
}

/// Counts from `2 failed, 4 passed, 1 error`; None unless some part is a pytest outcome.
fn pytest_counts(parts: &str) -> Option<TestCounts> {
    let mut counts = TestCounts::default();
    let mut known = false;
    for part in parts.split(", ") {
        if part == "no tests ran" {
            known = true;
            continue;
        }
        let (n, what) = part.split_once(' ')?;
        let n = num(n)?;
        let slot = match what {
            "passed" | "xpassed" => &mut counts.passed,
            "failed" | "error" | "errors" => &mut counts.failed,
            "skipped" | "xfailed" => &mut counts.skipped,
            // Outcomes that are not test results, but still mark a pytest summary: a run
            // that deselected every test ran nothing rather than printing no summary.
            "deselected" | "warning" | "warnings" | "rerun" | "reruns" => {
                known = true;
                continue;
            }
            // Outcomes added by plugins.
            _ => continue,
        };
        *slot = slot.saturating_add(n);
        known = true;
    }
    known.then_some(counts)
}

// ---- unittest ----

static UNITTEST_RAN: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^Ran (\d+) tests? in \d+(?:\.\d+)?s$"));
static UNITTEST_RESULT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(?:OK|FAILED|NO TESTS RAN)(?: \(([^)]*)\))?$"));
static UNITTEST_HEADER: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(?:FAIL|ERROR|UNEXPECTED SUCCESS): (.+)$"));
/// A test's description: `test_x (mod.Class.test_x)`, maybe followed by a subtest's
/// `(a=1)` or `[message]`.
static UNITTEST_TEST: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*(\S+) \(([^()\s]+)\)(?:\s.*)?$"));

/// The class and module fixtures whose failures unittest reports as errors of their own
/// (`ERROR: setUpClass (mod.Class)`) without counting them in `Ran N tests`.
const UNITTEST_FIXTURES: [&str; 4] = [
    "setUpClass",
    "tearDownClass",
    "setUpModule",
    "tearDownModule",
];

/// One unittest run's failure report so far.
#[derive(Default)]
struct UnittestRun {
    /// Every `FAIL:`/`ERROR:`/`UNEXPECTED SUCCESS:` header's test, repeats included (one
    /// per failing subtest).
    failures: Vec<String>,
    /// Fixtures among them.
    fixtures: HashSet<String>,
    /// `ok` progress lines (`-v`).
    listed_passing: u64,
}

/// Each `Ran 7 tests in 0.001s` line with the `OK` / `FAILED (failures=1, errors=2,
/// skipped=3, expected failures=1, unexpected successes=1)` / `NO TESTS RAN` line after it,
/// summed over every run in the output. Failures, errors and unexpected successes (which
/// make unittest exit non-zero) count as failed, skipped tests and expected failures as
/// skipped, and passed is what remains of the tests run.
///
/// The failure report sharpens that: a test whose subtests failed three times is one failed
/// test, not three, and a failing `setUpClass` is a failure that `Ran` does not count, so it
/// takes nothing from passed. Where the `-v` list names more passing tests than that leaves
/// (Python 3.12.1 left decorator-skipped tests out of `Ran`), the list wins.
fn read_unittest(text: &str) -> Option<TestReport> {
    let mut report = TestReport::default();
    let mut found = false;
    let mut run = UnittestRun::default();
    let mut ran: Option<u64> = None;
    // The test whose `-v` outcome is still to come: after its description when a docstring
    // line or printed output follows, or while its subtests report.
    let mut pending: Option<String> = None;
    let mut after_rule = false;
    for line in text.lines() {
        let rule = line.len() >= 10
            && (line.bytes().all(|b| b == b'=') || line.bytes().all(|b| b == b'-'));
        if rule {
            pending = None;
        } else if let Some(c) = UNITTEST_HEADER.captures(line).filter(|_| after_rule) {
            let description = c.get(1).map_or("", |m| m.as_str());
            let (name, method) = match unittest_test(description) {
                Some((name, method, _)) => (name, method),
                None => (description.trim().to_string(), ""),
            };
            if UNITTEST_FIXTURES.contains(&method) {
                run.fixtures.insert(name.clone());
            }
            run.failures.push(name.clone());
            report.failed.push(name);
        } else if let Some(c) = UNITTEST_RAN.captures(line) {
            ran = num(&c[1]);
            pending = None;
        } else if let Some(tests) = ran
            && let Some(c) = UNITTEST_RESULT.captures(line)
        {
            let details = c.get(1).map_or("", |m| m.as_str());
            report.counts.add(unittest_counts(tests, details, &run));
            found = true;
            ran = None;
            run = UnittestRun::default();
        } else if let Some((outcome, name)) = unittest_progress(line, &mut pending) {
            if outcome == Outcome::Passed {
                run.listed_passing = run.listed_passing.saturating_add(1);
            }
            report.push(outcome, name);
        }
        after_rule = rule && line.starts_with('=');
    }
    report.lists_passing = count(&report.passed) == report.counts.passed;
    found.then_some(report)
}

/// One run's counts from its `Ran` count, the parenthesised details of its result line and
/// its failure report; see [`read_unittest`].
fn unittest_counts(ran: u64, details: &str, run: &UnittestRun) -> TestCounts {
    let mut failed = 0u64;
    let mut skipped = 0u64;
    for part in details.split(',') {
        let Some((what, n)) = part.split_once('=') else {
            continue;
        };
        let Some(n) = num(n.trim()) else { continue };
        let slot = match what.trim() {
            "failures" | "errors" | "unexpected successes" => &mut failed,
            "skipped" | "expected failures" => &mut skipped,
            _ => continue,
        };
        *slot = slot.saturating_add(n);
    }
    let distinct = count_distinct(&run.failures);
    let repeats = count(&run.failures).saturating_sub(distinct);
    let failed = failed.saturating_sub(repeats);
    let fixtures = u64::try_from(run.fixtures.len()).unwrap_or(u64::MAX);
    let passed = ran
        .saturating_sub(failed.saturating_sub(fixtures))
        .saturating_sub(skipped)
        .max(run.listed_passing);
    TestCounts {
        passed,
        failed,
        skipped,
    }
}

/// The test a description names, as `module.Class.method`, with its method and what the
/// parentheses hold: Python 3.11 and later print `method (module.Class.method)`, earlier
/// versions `method (module.Class)`, and class and module fixtures `setUpClass
/// (module.Class)`. Subtest parameters after it are dropped.
fn unittest_test(description: &str) -> Option<(String, &str, &str)> {
    let c = UNITTEST_TEST.captures(description)?;
    let method = c.get(1)?.as_str();
    let within = c.get(2)?.as_str();
    let qualified = match within.strip_suffix(method) {
        Some(parent) if parent.ends_with('.') => within.to_string(),
        _ => format!("{within}.{method}"),
    };
    Some((qualified, method, within))
}

/// The test a `-v` description names. Its parentheses hold a dotted path, which tells it
/// from a docstring's first line such as `Adds (checked) numbers`.
fn unittest_listed(description: &str) -> Option<String> {
    unittest_test(description)
        .filter(|&(_, _, within)| within.contains('.'))
        .map(|(name, _, _)| name)
}

/// A `-v` result: `ok`, `FAIL`, `ERROR`, `skipped 'reason'`, `expected failure` or
/// `unexpected success`.
fn unittest_outcome(s: &str) -> Option<Outcome> {
    match s.trim() {
        "ok" => Some(Outcome::Passed),
        "FAIL" | "ERROR" | "unexpected success" => Some(Outcome::Failed),
        "expected failure" => Some(Outcome::Skipped),
        s if s == "skipped" || s.starts_with("skipped '") || s.starts_with("skipped \"") => {
            Some(Outcome::Skipped)
        }
        _ => None,
    }
}

/// The outcome a `-v` progress line gives and the test it belongs to. unittest writes
/// `description ... ` when a test starts and the result when it ends, so the two can be
/// split: a docstring's first line comes between them (`test_x (m.C.test_x)` / `Checks x.
/// ... ok`), and so does whatever the test printed; a failing subtest repeats the
/// description with its parameters (`  test_x (m.C.test_x) (a=1) ... FAIL`); and before
/// Python 3.11 the next test's description could follow on the same line
/// (`test_x (m.C) ... test_y (m.C) ... ERROR`).
fn unittest_progress(line: &str, pending: &mut Option<String>) -> Option<(Outcome, String)> {
    let mut name: Option<String> = None;
    let mut rest = line;
    loop {
        let Some((head, tail)) = rest.split_once(" ... ") else {
            if let Some(outcome) = unittest_outcome(rest) {
                let test = name.or_else(|| pending.take());
                *pending = None;
                return test.map(|test| (outcome, test));
            }
            if let Some(test) = unittest_listed(rest) {
                name = Some(test);
            }
            if name.is_some() {
                *pending = name;
            }
            return None;
        };
        match unittest_listed(head) {
            Some(test) => name = Some(test),
            None if name.is_none() => name = pending.take(),
            None => {}
        }
        if let Some(outcome) = unittest_outcome(tail) {
            *pending = None;
            return name.map(|test| (outcome, test));
        }
        rest = tail;
    }
}

// ---- go test ----

static GO_TEST_LINE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*--- (PASS|FAIL|SKIP): (\S+)"));
/// `ok  \tpkg\t0.01s`, `FAIL\tpkg\t0.01s`, `FAIL\tpkg [build failed]`; not the bare `FAIL`.
static GO_PACKAGE_LINE: LazyLock<Regex> = LazyLock::new(|| compile(r"^(ok  |FAIL)\t(\S+)(.*)$"));

/// Counts `--- PASS:`, `--- FAIL:` and `--- SKIP:` lines. Top-level tests and subtests both
/// count, so a table test with one failing case counts two failures (`TestTable` and
/// `TestTable/wrong`), as go itself reports them.
///
/// Without `-v`, go prints no lines for passing tests, so the package lines are the
/// fallback: a package whose output listed no tests counts as one passed (`ok`) or failed
/// (`FAIL`) unit, and a `FAIL` package with no failing test listed (a build failure, a panic)
/// adds one failure. Run `go test -v` or `-json` for exact counts. Only `-v` output (told by
/// its `=== RUN` lines) lists every passing test.
fn read_go(text: &str) -> Option<TestReport> {
    let mut report = TestReport::default();
    let mut package = TestCounts::default();
    let mut listed = false;
    let mut found = false;
    let mut verbose = false;
    for line in text.lines() {
        if let Some(c) = GO_TEST_LINE.captures(line) {
            found = true;
            listed = true;
            let name = c[2].to_string();
            match &c[1] {
                "PASS" => {
                    package.passed += 1;
                    report.passed.push(name);
                }
                "FAIL" => {
                    package.failed += 1;
                    report.failed.push(name);
                }
                _ => {
                    package.skipped += 1;
                    report.skipped.push(name);
                }
            }
        } else if let Some(c) = GO_PACKAGE_LINE.captures(line) {
            found = true;
            let ok = c[1].starts_with("ok");
            if ok && !listed && !c[3].contains("[no tests to run]") {
                package.passed += 1;
            } else if !ok && package.failed == 0 {
                package.failed += 1;
                report.failed.push(c[2].to_string());
            }
            report.counts.add(package);
            package = TestCounts::default();
            listed = false;
        } else if line.starts_with("=== RUN") {
            verbose = true;
        }
    }
    report.counts.add(package);
    report.lists_passing = verbose && count(&report.passed) == report.counts.passed;
    found.then_some(report)
}

/// One `go test -json` event; other fields are not needed.
#[derive(Deserialize)]
struct GoEvent {
    #[serde(rename = "Action")]
    action: String,
    #[serde(rename = "Package", default)]
    package: String,
    #[serde(rename = "Test", default)]
    test: String,
}

const GO_ACTIONS: [&str; 11] = [
    "start",
    "run",
    "pause",
    "cont",
    "pass",
    "bench",
    "fail",
    "output",
    "skip",
    "build-output",
    "build-fail",
];

/// A package seen in `go test -json` output.
struct GoPackage {
    name: String,
    failed: bool,
    failed_tests: u64,
}

/// Counts `pass`, `fail` and `skip` events that name a test (subtests included, as in
/// [`read_go`]); every test has such an event, so every passing test is listed. A package
/// that failed with no failing test adds one failure, whether go reported it as a package
/// `fail` event or, before Go 1.24, as a plain `FAIL\tpkg [build failed]` line among the
/// JSON.
fn read_go_json(text: &str) -> Option<TestReport> {
    fn package<'p>(packages: &'p mut Vec<GoPackage>, name: &str) -> &'p mut GoPackage {
        let i = match packages.iter().position(|p| p.name == name) {
            Some(i) => i,
            None => {
                packages.push(GoPackage {
                    name: name.to_string(),
                    failed: false,
                    failed_tests: 0,
                });
                packages.len() - 1
            }
        };
        &mut packages[i]
    }

    let mut report = TestReport {
        lists_passing: true,
        ..TestReport::default()
    };
    let mut packages: Vec<GoPackage> = Vec::new();
    let mut found = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('{') {
            let Ok(event) = serde_json::from_str::<GoEvent>(trimmed) else {
                continue;
            };
            if !GO_ACTIONS.contains(&event.action.as_str()) {
                continue;
            }
            found = true;
            match (event.action.as_str(), event.test.is_empty()) {
                ("pass", false) => {
                    report.counts.passed += 1;
                    report.passed.push(event.test);
                }
                ("skip", false) => {
                    report.counts.skipped += 1;
                    report.skipped.push(event.test);
                }
                ("fail", false) => {
                    report.counts.failed += 1;
                    package(&mut packages, &event.package).failed_tests += 1;
                    report.failed.push(event.test);
                }
                ("fail", true) => package(&mut packages, &event.package).failed = true,
                _ => {}
            }
        } else if let Some(c) = GO_PACKAGE_LINE.captures(line)
            && c[1].starts_with("FAIL")
        {
            package(&mut packages, &c[2]).failed = true;
        }
    }
    for p in packages {
        if p.failed && p.failed_tests == 0 {
            report.counts.failed += 1;
            report.failed.push(p.name);
        }
    }
    found.then_some(report)
}

// ---- vitest and jest ----

static VITEST_SUMMARY: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*Tests\s+(.+?)\s+\(\d+\)\s*$"));
static VITEST_FAIL: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*FAIL\s+(\S.*?)\s*$"));
/// A line of vitest's test list: a file (`❯ vt/math.test.mjs (6 tests | 1 failed) 6ms`) or
/// a test (`✓ add > adds 1ms`, `× add > rounds 4ms`, `↓ add > later`).
static VITEST_LINE: LazyLock<Regex> = LazyLock::new(|| compile(r"^(\s*)([✓√×✕✗↓❯]) (.+?)\s*$"));
static VITEST_FILE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(.+?) \(\d+ tests?(?: \|[^)]*)?\)(?: \d+(?:\.\d+)?m?s)?$"));
static VITEST_DURATION: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(.+?)(?: \d+(?:\.\d+)?m?s)?$"));
static JEST_SUMMARY: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*Tests:\s+(.+\d+ total)\s*$"));
static JEST_HEADER: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*● (.+?)\s*$"));
static JEST_FILE: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*(?:PASS|FAIL)\s+\S"));
/// A line of jest's verbose list: `✓ adds (1 ms)`, `✕ rounds`, `○ skipped later`,
/// `✎ todo someday`.
static JEST_TEST: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(\s*)([✓√✕×✗○✎]) (.+?)(?: \(\d+(?:\.\d+)? m?s\))?\s*$"));

/// The last `Tests  2 failed | 5 passed | 1 skipped | 1 todo (9)` line; todo counts as
/// skipped.
fn read_vitest(text: &str) -> Option<TestReport> {
    let counts = text
        .lines()
        .rev()
        .filter_map(|l| VITEST_SUMMARY.captures(l))
        .find_map(|c| js_counts(&c[1], '|'))?;
    let mut report = TestReport {
        counts,
        ..TestReport::default()
    };
    let mut crossed = Vec::new();
    for (outcome, name) in vitest_tests(text) {
        match outcome {
            Outcome::Failed => crossed.push(name),
            Outcome::Passed | Outcome::Skipped => report.push(outcome, name),
        }
    }
    report.failed = captured(text, &VITEST_FAIL);
    if report.failed.is_empty() {
        report.failed = crossed;
    }
    report.lists_passing = count(&report.passed) == counts.passed;
    Some(report)
}

/// The tests of vitest's list, named `file > describe > test`. The default reporter lists a
/// file's tests indented under its line and without the file; the verbose reporter lists
/// every test at the file's level, file included.
fn vitest_tests(text: &str) -> Vec<(Outcome, String)> {
    let mut tests = Vec::new();
    // The file whose tests follow, and its line's indentation.
    let mut file: Option<(usize, &str)> = None;
    for c in text.lines().filter_map(|l| VITEST_LINE.captures(l)) {
        let (Some(indent), Some(mark), Some(title)) = (c.get(1), c.get(2), c.get(3)) else {
            continue;
        };
        let indent = indent.len();
        if let Some(path) = VITEST_FILE.captures(title.as_str()).and_then(|f| f.get(1)) {
            file = Some((indent, path.as_str()));
            continue;
        }
        let outcome = match mark.as_str() {
            "✓" | "√" => Outcome::Passed,
            "↓" => Outcome::Skipped,
            // `❯ vt/greet.test.mjs:9:38`: a stack frame of the failure report.
            "❯" => continue,
            _ => Outcome::Failed,
        };
        // Skipped tests have no duration to strip, and a title may end in one (`waits 5s`).
        let title = match outcome {
            Outcome::Skipped => title.as_str(),
            Outcome::Passed | Outcome::Failed => VITEST_DURATION
                .captures(title.as_str())
                .and_then(|d| d.get(1))
                .map_or(title.as_str(), |d| d.as_str()),
        };
        let name = match file {
            Some((level, path)) if indent > level => format!("{path} > {title}"),
            _ => title.to_string(),
        };
        tests.push((outcome, name));
    }
    tests
}

/// The last `Tests:       2 failed, 1 skipped, 1 todo, 5 passed, 9 total` line; todo counts
/// as skipped.
fn read_jest(text: &str) -> Option<TestReport> {
    let counts = text
        .lines()
        .rev()
        .filter_map(|l| JEST_SUMMARY.captures(l))
        .find_map(|c| js_counts(&c[1], ','))?;
    let mut report = TestReport {
        counts,
        ..TestReport::default()
    };
    let mut crossed = Vec::new();
    for (outcome, name) in jest_tests(text) {
        match outcome {
            Outcome::Failed => crossed.push(name),
            Outcome::Passed | Outcome::Skipped => report.push(outcome, name),
        }
    }
    report.failed = captured(text, &JEST_HEADER)
        .into_iter()
        .filter(|name| name != "Console" && name != "Test suite failed to run")
        .collect();
    if report.failed.is_empty() {
        report.failed = crossed;
    }
    report.lists_passing = count(&report.passed) == counts.passed;
    Some(report)
}

/// The tests of jest's verbose list, named `describe › test` as its `●` failure headers name
/// them. Jest prints each file's line, then the list, with each describe block on a line of
/// its own and its tests indented under it; the failure details (`● describe › test`) end
/// the list. Logged output (`console.log` blocks, under `● Console` in some versions) comes
/// before or after the file's line and is left behind by the indentation of the list.
fn jest_tests(text: &str) -> Vec<(Outcome, String)> {
    let mut tests = Vec::new();
    // The open describe blocks and their indentation, outermost first.
    let mut describes: Vec<(usize, &str)> = Vec::new();
    let mut in_list = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if JEST_FILE.is_match(line) {
            describes.clear();
            in_list = true;
            continue;
        }
        if let Some(title) = trimmed.strip_prefix("● ") {
            describes.clear();
            in_list = title.trim() == "Console";
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        describes.retain(|&(level, _)| level < indent);
        if let Some(c) = JEST_TEST.captures(line) {
            let (Some(mark), Some(title)) = (c.get(2), c.get(3)) else {
                continue;
            };
            let title = title.as_str();
            let (outcome, title) = match mark.as_str() {
                "✓" | "√" => (Outcome::Passed, title),
                "○" => (
                    Outcome::Skipped,
                    title.strip_prefix("skipped ").unwrap_or(title),
                ),
                "✎" => (
                    Outcome::Skipped,
                    title.strip_prefix("todo ").unwrap_or(title),
                ),
                _ => (Outcome::Failed, title),
            };
            let name = describes
                .iter()
                .map(|&(_, describe)| describe)
                .chain([title])
                .collect::<Vec<_>>()
                .join(" › ");
            tests.push((outcome, name));
        } else if in_list {
            describes.push((indent, trimmed));
        }
    }
    tests
}

/// Counts from `2 failed | 5 passed | 1 todo` (vitest) or `2 failed, 5 passed, 7 total`
/// (jest); None when a part is not `N word`.
fn js_counts(parts: &str, separator: char) -> Option<TestCounts> {
    let mut counts = TestCounts::default();
    for part in parts.split(separator) {
        let (n, what) = part.trim().split_once(' ')?;
        let n = num(n)?;
        let slot = match what {
            "passed" => &mut counts.passed,
            "failed" => &mut counts.failed,
            "skipped" | "todo" | "pending" => &mut counts.skipped,
            _ => continue,
        };
        *slot = slot.saturating_add(n);
    }
    Some(counts)
}

/// The first capture group of every line `re` matches.
fn captured(text: &str, re: &Regex) -> Vec<String> {
    text.lines()
        .filter_map(|l| re.captures(l))
        .map(|c| c[1].to_string())
        .collect()
}

// ---- JUnit XML ----

/// The value of an element's attribute, still escaped.
fn attr<'a>(attrs: &[(&str, &'a str)], key: &str) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// A `<testcase>`'s name: `classname::name`, or `name` without a classname; None without a
/// name.
fn junit_test_name(attrs: &[(&str, &str)]) -> Option<String> {
    let name = unescape(attr(attrs, "name")?);
    Some(match attr(attrs, "classname").filter(|c| !c.is_empty()) {
        Some(class) => format!("{}::{name}", unescape(class)),
        None => name,
    })
}

/// `s` with XML's character references replaced (`&gt;` → `>`, `&#233;` → `é`); a malformed
/// one is kept as written.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let reference = &rest[at..];
        let decoded = reference
            .find(';')
            .filter(|&end| end <= 12)
            .and_then(|end| {
                let c = match &reference[1..end] {
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "amp" => Some('&'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    numeric => numeric
                        .strip_prefix("#x")
                        .or_else(|| numeric.strip_prefix("#X"))
                        .map(|hex| u32::from_str_radix(hex, 16))
                        .or_else(|| numeric.strip_prefix('#').map(str::parse))
                        .and_then(Result::ok)
                        .and_then(char::from_u32),
                };
                c.map(|c| (c, end + 1))
            });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &reference[len..];
            }
            None => {
                out.push('&');
                rest = &reference[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The counting attributes of a `<testsuites>` or `<testsuite>` element.
#[derive(Debug, Default, Clone, Copy)]
struct SuiteAttrs {
    tests: Option<u64>,
    failures: Option<u64>,
    errors: Option<u64>,
    skipped: Option<u64>,
}

impl SuiteAttrs {
    fn from_attrs(attrs: &[(&str, &str)]) -> Self {
        let get = |key: &str| attr(attrs, key).and_then(|v| num(v.trim()));
        Self {
            tests: get("tests"),
            failures: get("failures"),
            errors: get("errors"),
            skipped: get("skipped"),
        }
    }

    fn add(&mut self, other: SuiteAttrs) {
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
        self.tests = sum(self.tests, other.tests);
        self.failures = sum(self.failures, other.failures);
        self.errors = sum(self.errors, other.errors);
        self.skipped = sum(self.skipped, other.skipped);
    }
}

/// An element tag found by [`Tags`].
enum Tag<'a> {
    Open {
        name: &'a str,
        attrs: Vec<(&'a str, &'a str)>,
        self_closing: bool,
    },
    Close(&'a str),
}

/// The element tags of an XML text, in order. Comments, CDATA sections, processing
/// instructions and declarations are stepped over whole, so a failure message quoting
/// `<testsuite …>` is not taken for one. Scanning stops at the first malformed tag.
struct Tags<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Tags<'a> {
    type Item = Tag<'a>;

    fn next(&mut self) -> Option<Tag<'a>> {
        const SKIPPED: [(&str, &str); 4] = [
            ("<!--", "-->"),
            ("<![CDATA[", "]]>"),
            ("<?", "?>"),
            ("<!", ">"),
        ];
        'scan: loop {
            let start = self.rest.find('<')?;
            let at = &self.rest[start..];
            for (open, close) in SKIPPED {
                if let Some(inside) = at.strip_prefix(open) {
                    let end = inside.find(close).map(|end| end + close.len());
                    self.rest = end.map_or("", |end| &inside[end..]);
                    continue 'scan;
                }
            }
            if at[1..].starts_with(|c: char| c.is_whitespace() || c == '>') || at.len() == 1 {
                // A stray `<` in text: not a tag.
                self.rest = &at[1..];
                continue;
            }
            let parsed = match at.strip_prefix("</") {
                Some(after) => after
                    .find('>')
                    .map(|end| (Tag::Close(after[..end].trim()), &after[end + 1..])),
                None => open_tag(&at[1..]),
            };
            let Some((tag, rest)) = parsed else {
                // Malformed: stop rather than guess where the next tag starts.
                self.rest = "";
                return None;
            };
            self.rest = rest;
            return Some(tag);
        }
    }
}

/// An opening or self-closing tag from `s`, the text just after its `<`, and the text after
/// its `>`; None when it is malformed.
fn open_tag(s: &str) -> Option<(Tag<'_>, &str)> {
    let name_end = s
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(s.len());
    let name = &s[..name_end];
    let mut s = &s[name_end..];
    let mut attrs = Vec::new();
    loop {
        s = s.trim_start();
        for (end, self_closing) in [("/>", true), (">", false)] {
            if let Some(rest) = s.strip_prefix(end) {
                let tag = Tag::Open {
                    name,
                    attrs,
                    self_closing,
                };
                return Some((tag, rest));
            }
        }
        let key_end = s.find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')?;
        if key_end == 0 {
            return None;
        }
        let key = &s[..key_end];
        s = s[key_end..].trim_start().strip_prefix('=')?.trim_start();
        let quote = s.chars().next().filter(|&q| q == '"' || q == '\'')?;
        let value_end = s[1..].find(quote)?;
        attrs.push((key, &s[1..1 + value_end]));
        s = &s[1 + value_end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! sample {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/samples/test_output/",
                $name
            ))
        };
    }

    fn counts(passed: u64, failed: u64, skipped: u64) -> TestCounts {
        TestCounts {
            passed,
            failed,
            skipped,
        }
    }

    #[track_caller]
    fn check(output: &str, runner: Runner, expected: TestCounts, failing: &[&str]) {
        assert_eq!(parse(output), Some((runner, expected)));
        assert_eq!(failing_tests(output), failing);
    }

    /// Checks the passing and skipped tests `output` names, and whether it lists every
    /// passing test (then their number is the passed count).
    #[track_caller]
    fn check_names(output: &str, passed: &[&str], skipped: &[&str], lists_passing: bool) {
        let report = report(output).expect("a runner's summary");
        assert_eq!(report.passed, passed, "passed");
        assert_eq!(report.skipped, skipped, "skipped");
        assert_eq!(report.lists_passing, lists_passing, "lists_passing");
        if lists_passing {
            assert_eq!(report.passed.len() as u64, report.counts.passed);
        }
    }

    /// The names as a set, to compare two runs that list them in different orders.
    fn set(names: &[String]) -> HashSet<&str> {
        names.iter().map(String::as_str).collect()
    }

    // ---- real samples ----

    #[test]
    fn cargo_workspace_sums_every_binary_and_doc_tests() {
        // calc unit tests 3/1/1, greet unit tests 2, a doc-test in each crate.
        check(
            sample!("cargo_workspace_failing.txt"),
            Runner::Cargo,
            counts(7, 1, 1),
            &["tests::subtracts"],
        );
        check_names(
            sample!("cargo_workspace_failing.txt"),
            &[
                "tests::adds_negatives",
                "tests::adds_small_numbers",
                "tests::adds_zero",
                "tests::greets_by_name",
                "tests::greets_empty",
                "calc/src/lib.rs - add (line 5)",
                "greet/src/lib.rs - greet (line 5)",
            ],
            &["tests::huge_sum"],
            true,
        );
    }

    #[test]
    fn cargo_passing_counts_ignored_as_skipped() {
        check(
            sample!("cargo_passing.txt"),
            Runner::Cargo,
            counts(8, 0, 1),
            &[],
        );
        // `tests::greets_*` come from the second binary, the last two from the doc-tests.
        check_names(
            sample!("cargo_passing.txt"),
            &[
                "tests::adds_small_numbers",
                "tests::adds_zero",
                "tests::adds_negatives",
                "tests::subtracts",
                "tests::greets_empty",
                "tests::greets_by_name",
                "calc/src/lib.rs - add (line 5)",
                "greet/src/lib.rs - greet (line 5)",
            ],
            &["tests::huge_sum"],
            true,
        );
    }

    #[test]
    fn cargo_stopping_at_the_first_failing_binary_counts_what_ran() {
        check(
            sample!("cargo_fail_fast.txt"),
            Runner::Cargo,
            counts(3, 1, 1),
            &["tests::subtracts"],
        );
        check_names(
            sample!("cargo_fail_fast.txt"),
            &[
                "tests::adds_small_numbers",
                "tests::adds_negatives",
                "tests::adds_zero",
            ],
            &["tests::huge_sum"],
            true,
        );
    }

    #[test]
    fn cargo_build_failure_has_no_counts() {
        let out = sample!("cargo_compile_error.txt");
        assert_eq!(parse(out), None);
        assert!(failing_tests(out).is_empty());
    }

    #[test]
    fn cargo_show_output_successes_are_not_failures_and_test_marks_are_dropped() {
        // `--show-output` prints `---- tests::panics stdout ----` under `successes:`;
        // libtest marks `test tests::panics - should panic ... ok` but names the failing
        // `tests::does_not_panic - should panic` without the mark elsewhere.
        let out = sample!("cargo_show_output_should_panic.txt");
        check(
            out,
            Runner::Cargo,
            counts(6, 1, 0),
            &["tests::does_not_panic"],
        );
        check_names(
            out,
            &[
                "tests::plain",
                "tests::panics",
                "src/lib.rs - one (line 1)",
                "src/lib.rs - one (line 5)",
                "src/lib.rs - one (line 9)",
                "src/lib.rs - one (line 13)",
            ],
            &[],
            true,
        );
    }

    #[test]
    fn cargo_quiet_lists_no_passing_tests() {
        let out = "\
running 3 tests
i.F
failures:

---- tests::b stdout ----
boom

failures:
    tests::b

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s
";
        check(out, Runner::Cargo, counts(1, 1, 1), &["tests::b"]);
        check_names(out, &[], &[], false);
    }

    #[test]
    fn nextest_wins_over_the_cargo_lines_it_embeds() {
        // The report quotes `test result: FAILED. 0 passed; 1 failed` for the failing test.
        check(
            sample!("nextest_failing.txt"),
            Runner::Nextest,
            counts(5, 1, 1),
            &["calc tests::subtracts"],
        );
        // The skipped test is only counted: nextest names skipped tests at `--status-level
        // skip`.
        check_names(
            sample!("nextest_failing.txt"),
            &[
                "calc tests::adds_small_numbers",
                "calc tests::adds_negatives",
                "calc tests::adds_zero",
                "greet tests::greets_by_name",
                "greet tests::greets_empty",
            ],
            &[],
            true,
        );
    }

    #[test]
    fn nextest_in_colour() {
        let out = sample!("nextest_failing_color.txt");
        assert!(out.contains('\x1b'), "the sample keeps nextest's colours");
        check(
            out,
            Runner::Nextest,
            counts(5, 1, 1),
            &["calc tests::subtracts"],
        );
        assert_eq!(
            set(&report(out).expect("nextest").passed),
            set(&report(sample!("nextest_failing.txt"))
                .expect("nextest")
                .passed),
        );
    }

    #[test]
    fn nextest_flaky_passes_timed_out_fails_and_slow_is_not_counted_twice() {
        // `3 passed (1 slow, 1 flaky), 1 failed, 1 timed out, 1 skipped`
        check(
            sample!("nextest_flaky_timeout.txt"),
            Runner::Nextest,
            counts(3, 2, 1),
            &["flaky tests::always_fails", "flaky tests::hangs"],
        );
        // Failed twice, then passed: passed, and not failed.
        check_names(
            sample!("nextest_flaky_timeout.txt"),
            &[
                "flaky tests::flaky_first_time",
                "flaky tests::a_bit_slow",
                "flaky tests::quick",
            ],
            &[],
            true,
        );
    }

    #[test]
    fn pytest_default_verbosity() {
        // 2 failed + 1 error, 4 passed + 1 xpassed, 1 skipped + 1 xfailed.
        check(
            sample!("pytest_failing.txt"),
            Runner::Pytest,
            counts(5, 3, 2),
            &[
                "tests/test_calc.py::test_add_param[2-2-5]",
                "tests/test_calc.py::test_divide_by_zero",
                "tests/test_calc.py::test_uses_database",
            ],
        );
        check_names(sample!("pytest_failing.txt"), &[], &[], false);
    }

    #[test]
    fn pytest_quiet_in_colour() {
        let out = sample!("pytest_quiet_failing_color.txt");
        assert!(out.contains('\x1b'));
        assert_eq!(parse(out), Some((Runner::Pytest, counts(5, 3, 2))));
        assert_eq!(
            failing_tests(out),
            failing_tests(sample!("pytest_failing.txt"))
        );
        check_names(out, &[], &[], false);
    }

    #[test]
    fn pytest_quiet_passing() {
        check(
            sample!("pytest_quiet_passing.txt"),
            Runner::Pytest,
            counts(5, 0, 0),
            &[],
        );
        check_names(sample!("pytest_quiet_passing.txt"), &[], &[], false);
    }

    #[test]
    fn pytest_collection_error_is_a_failure() {
        check(
            sample!("pytest_collection_error.txt"),
            Runner::Pytest,
            counts(0, 1, 0),
            &["tests/test_broken_import.py"],
        );
        // Nothing passed, so every test that passed elsewhere is missing here.
        check_names(sample!("pytest_collection_error.txt"), &[], &[], true);
    }

    #[test]
    fn pytest_junit_matches_its_terminal_summary() {
        assert_eq!(
            parse_junit(sample!("pytest_junit.xml")),
            Some(counts(5, 3, 2))
        );
    }

    #[test]
    fn vitest_junit_takes_skipped_from_the_suites() {
        // The root has tests="9" failures="2" but no skipped; the suites have skipped="2".
        assert_eq!(
            parse_junit(sample!("vitest_junit.xml")),
            Some(counts(5, 2, 2))
        );
    }

    #[test]
    fn go_plain_counts_failures_and_passing_packages() {
        // Without -v, passing tests are not listed: `ok greet` counts as one unit.
        check(
            sample!("go_failing.txt"),
            Runner::GoTest,
            counts(1, 3, 0),
            &["TestSub", "TestTable", "TestTable/wrong"],
        );
        check_names(sample!("go_failing.txt"), &[], &[], false);
    }

    #[test]
    fn go_verbose_counts_tests_and_subtests() {
        check(
            sample!("go_verbose_failing.txt"),
            Runner::GoTest,
            counts(5, 3, 1),
            &["TestSub", "TestTable", "TestTable/wrong"],
        );
        check_names(
            sample!("go_verbose_failing.txt"),
            &[
                "TestAdd",
                "TestTable/small",
                "TestTable/negative",
                "TestGreet",
                "TestGreetEmpty",
            ],
            &["TestSlow"],
            true,
        );
    }

    #[test]
    fn go_verbose_build_failure_counts_the_package() {
        check(
            sample!("go_verbose_build_failed.txt"),
            Runner::GoTest,
            counts(4, 4, 0),
            &[
                "TestSub",
                "TestTable",
                "TestTable/wrong",
                "example.com/sample/greet",
            ],
        );
    }

    #[test]
    fn go_json_counts_test_events() {
        check(
            sample!("go_json_failing.txt"),
            Runner::GoTestJson,
            counts(5, 3, 1),
            &["TestSub", "TestTable/wrong", "TestTable"],
        );
        check_names(
            sample!("go_json_failing.txt"),
            &[
                "TestAdd",
                "TestTable/small",
                "TestTable/negative",
                "TestGreet",
                "TestGreetEmpty",
            ],
            &["TestSlow"],
            true,
        );
        let verbose = report(sample!("go_verbose_failing.txt")).expect("go test -v");
        let json = report(sample!("go_json_failing.txt")).expect("go test -json");
        assert_eq!(set(&verbose.failed), set(&json.failed));
        assert_eq!(set(&verbose.passed), set(&json.passed));
    }

    #[test]
    fn go_json_build_failure_line_counts_the_package() {
        check(
            sample!("go_json_build_failed.txt"),
            Runner::GoTestJson,
            counts(4, 4, 0),
            &[
                "TestSub",
                "TestTable/wrong",
                "TestTable",
                "example.com/sample/greet",
            ],
        );
    }

    #[test]
    fn jest_default_names_failures_by_their_headers() {
        check(
            sample!("jest_failing.txt"),
            Runner::Jest,
            counts(5, 2, 2),
            &["add › rounds floats", "greets loudly"],
        );
        // Several files and no `--verbose`: no list.
        check_names(sample!("jest_failing.txt"), &[], &[], false);
    }

    #[test]
    fn jest_verbose_in_colour() {
        let out = sample!("jest_verbose_failing_color.txt");
        assert!(out.contains('\x1b'));
        check(
            out,
            Runner::Jest,
            counts(5, 2, 2),
            &["add › rounds floats", "greets loudly"],
        );
        check_names(
            out,
            &[
                "add › adds two numbers",
                "add › adds negatives",
                "add › is commutative",
                "greets by name",
                "truthy",
            ],
            &["add › handles bigints", "add › handles strings"],
            true,
        );
    }

    #[test]
    fn jest_passing() {
        check(
            sample!("jest_passing.txt"),
            Runner::Jest,
            counts(1, 0, 0),
            &[],
        );
        // A single test file: jest lists its tests without `--verbose`.
        check_names(sample!("jest_passing.txt"), &["truthy"], &[], true);
    }

    #[test]
    fn vitest_failing() {
        check(
            sample!("vitest_failing.txt"),
            Runner::Vitest,
            counts(5, 2, 2),
            &[
                "vt/greet.test.mjs > greets loudly",
                "vt/math.test.mjs > add > rounds floats",
            ],
        );
        // The passing file is folded into `✓ vt/ok.test.mjs (1 test)`, so `truthy` is
        // missing and the list is not complete.
        check_names(
            sample!("vitest_failing.txt"),
            &[
                "vt/math.test.mjs > add > adds two numbers",
                "vt/math.test.mjs > add > adds negatives",
                "vt/math.test.mjs > add > is commutative",
                "vt/greet.test.mjs > greets by name",
            ],
            &[
                "vt/math.test.mjs > add > handles bigints",
                "vt/math.test.mjs > add > handles strings",
            ],
            false,
        );
    }

    #[test]
    fn vitest_in_colour() {
        let out = sample!("vitest_failing_color.txt");
        assert!(out.contains('\x1b'));
        check(
            out,
            Runner::Vitest,
            counts(5, 2, 2),
            &[
                "vt/greet.test.mjs > greets loudly",
                "vt/math.test.mjs > add > rounds floats",
            ],
        );
    }

    #[test]
    fn vitest_passing() {
        check(
            sample!("vitest_passing.txt"),
            Runner::Vitest,
            counts(1, 0, 0),
            &[],
        );
        check_names(sample!("vitest_passing.txt"), &[], &[], false);
    }

    #[test]
    fn pytest_verbose_lists_every_test_by_node_id() {
        let out = sample!("pytest_verbose_failing.txt");
        check(
            out,
            Runner::Pytest,
            counts(5, 3, 2),
            &[
                "tests/test_calc.py::test_add_param[2-2-5]",
                "tests/test_calc.py::test_divide_by_zero",
                "tests/test_calc.py::test_uses_database",
            ],
        );
        // xpassed counts as passed and xfailed as skipped, here as in the counts.
        check_names(
            out,
            &[
                "tests/test_calc.py::test_add",
                "tests/test_calc.py::test_add_negative",
                "tests/test_calc.py::test_add_param[1-1-2]",
                "tests/test_calc.py::test_add_param[2-3-5]",
                "tests/test_calc.py::test_unexpectedly_fine",
            ],
            &[
                "tests/test_calc.py::test_multiply",
                "tests/test_calc.py::test_float_rounding",
            ],
            true,
        );
    }

    #[test]
    fn pytest_report_all_names_passing_tests_but_not_skipped_ones() {
        // `-rA` prints `SKIPPED [1] tests/test_calc.py:25: reason`: a place, not a test.
        let out = sample!("pytest_report_all.txt");
        assert_eq!(parse(out), Some((Runner::Pytest, counts(5, 3, 2))));
        let all = report(out).expect("pytest");
        let verbose = report(sample!("pytest_verbose_failing.txt")).expect("pytest");
        assert_eq!(set(&all.failed), set(&verbose.failed));
        assert_eq!(all.passed, verbose.passed);
        assert_eq!(all.skipped, ["tests/test_calc.py::test_float_rounding"]);
        assert!(all.lists_passing);
    }

    #[test]
    fn unittest_passing() {
        check(
            sample!("unittest_passing.txt"),
            Runner::Unittest,
            counts(5, 0, 0),
            &[],
        );
        check_names(sample!("unittest_passing.txt"), &[], &[], false);
    }

    #[test]
    fn unittest_verbose_passing_reads_results_after_docstrings() {
        // `test_adds_zero (…)` / `Adding zero changes nothing. ... ok`: the docstring's
        // first line sits between the test and its result.
        let out = sample!("unittest_passing_verbose.txt");
        check(out, Runner::Unittest, counts(5, 0, 0), &[]);
        check_names(
            out,
            &[
                "test_calc.TestAdd.test_adds",
                "test_calc.TestAdd.test_adds_negatives",
                "test_calc.TestAdd.test_adds_zero",
                "test_calc.TestAdd.test_table",
                "test_calc.TestGreet.test_greets",
            ],
            &[],
            true,
        );
    }

    #[test]
    fn unittest_failing_counts_tests_not_subtest_failures_or_fixtures() {
        // `Ran 7 tests`, `FAILED (failures=4, errors=3)`: `test_table` failed two subtests
        // (one failed test, two failures) and `setUpClass` failed (an error outside the 7,
        // whose two tests never ran), so 6 failed and the 2 others passed.
        check(
            sample!("unittest_failing.txt"),
            Runner::Unittest,
            counts(2, 6, 0),
            &[
                "test_calc.TestCalc.test_divides",
                "test_calc.TestDatabase.test_query",
                "test_calc.TestServer.setUpClass",
                "test_calc.TestCalc.test_subtracts",
                "test_calc.TestCalc.test_table",
                "test_greet.TestGreet.test_loudly",
            ],
        );
        check_names(sample!("unittest_failing.txt"), &[], &[], false);
    }

    #[test]
    fn unittest_verbose_failing_names_tests_in_run_order() {
        let out = sample!("unittest_failing_verbose.txt");
        check(
            out,
            Runner::Unittest,
            counts(2, 6, 0),
            &[
                "test_calc.TestCalc.test_divides",
                "test_calc.TestCalc.test_subtracts",
                "test_calc.TestCalc.test_table",
                "test_calc.TestDatabase.test_query",
                "test_calc.TestServer.setUpClass",
                "test_greet.TestGreet.test_loudly",
            ],
        );
        check_names(
            out,
            &[
                "test_calc.TestCalc.test_adds",
                "test_greet.TestGreet.test_greets",
            ],
            &[],
            true,
        );
        assert_eq!(
            set(&failing_tests(out)),
            set(&failing_tests(sample!("unittest_failing.txt")))
        );
    }

    #[test]
    fn unittest_before_python_3_11_names_tests_the_same_way() {
        // Python 3.10 prints `test_adds (test_calc.TestCalc)`, prints nothing for a failing
        // subtest, and runs the next test's description onto the same line:
        // `test_table (test_calc.TestCalc) ... test_query (test_calc.TestDatabase) ... ERROR`.
        let old = sample!("unittest_py310_failing_verbose.txt");
        let new = sample!("unittest_failing_verbose.txt");
        assert_eq!(parse(old), parse(new));
        let (old, new) = (report(old).expect("3.10"), report(new).expect("3.11"));
        assert_eq!(set(&old.failed), set(&new.failed));
        assert_eq!(old.passed, new.passed);
        assert!(old.lists_passing);
    }

    #[test]
    fn unittest_skips_expected_failures_and_unexpected_successes() {
        // `Ran 9 tests`, `FAILED (failures=1, errors=1, skipped=4, expected failures=1,
        // unexpected successes=1)`; an unexpected success fails the run (exit status 1).
        check(
            sample!("unittest_skips.txt"),
            Runner::Unittest,
            counts(1, 3, 5),
            &[
                "test_calc.TestCalc.test_errors",
                "test_calc.TestCalc.test_subtracts",
                "test_calc.TestCalc.test_fixed_bug",
            ],
        );
        let out = sample!("unittest_skips_verbose.txt");
        check(
            out,
            Runner::Unittest,
            counts(1, 3, 5),
            &[
                "test_calc.TestCalc.test_errors",
                "test_calc.TestCalc.test_fixed_bug",
                "test_calc.TestCalc.test_subtracts",
            ],
        );
        check_names(
            out,
            &["test_calc.TestCalc.test_adds"],
            &[
                "test_calc.TestCalc.test_gpu",
                "test_calc.TestCalc.test_huge",
                "test_calc.TestCalc.test_known_bug",
                "test_calc.TestCalc.test_skip_inside",
                "test_calc.TestLegacy.test_old",
            ],
            true,
        );
    }

    #[test]
    fn unittest_3_12_1_leaves_skipped_tests_out_of_ran() {
        // Python 3.12.1 printed `Ran 6 tests` for the 9 above and dropped one skipped
        // test's description; the `ok` lines still show what passed.
        let out = sample!("unittest_py3121_skips_verbose.txt");
        assert!(out.contains("Ran 6 tests"));
        check(
            out,
            Runner::Unittest,
            counts(1, 3, 5),
            &[
                "test_calc.TestCalc.test_errors",
                "test_calc.TestCalc.test_fixed_bug",
                "test_calc.TestCalc.test_subtracts",
            ],
        );
        let report = report(out).expect("unittest");
        assert_eq!(report.passed, ["test_calc.TestCalc.test_adds"]);
        assert_eq!(report.skipped.len(), 4);
    }

    #[test]
    fn unittest_import_error_is_a_failing_test() {
        // A module that fails to import becomes a test of its own, counted in `Ran`.
        let broken = ["unittest.loader._FailedTest.test_broken"];
        check(
            sample!("unittest_import_error.txt"),
            Runner::Unittest,
            counts(2, 1, 0),
            &broken,
        );
        let out = sample!("unittest_import_error_verbose.txt");
        check(out, Runner::Unittest, counts(2, 1, 0), &broken);
        check_names(
            out,
            &[
                "test_fine.TestFine.test_also_fine",
                "test_fine.TestFine.test_fine",
            ],
            &[],
            true,
        );
    }

    #[test]
    fn unittest_runs_in_one_output_are_summed() {
        let out = format!(
            "{}\n{}",
            sample!("unittest_passing_verbose.txt"),
            sample!("unittest_skips_verbose.txt")
        );
        assert_eq!(parse(&out), Some((Runner::Unittest, counts(6, 3, 5))));
        let report = report(&out).expect("unittest");
        assert_eq!(report.passed.len(), 6);
        assert!(report.lists_passing);
    }

    #[test]
    fn unittest_edge_cases() {
        // No tests: `OK` before Python 3.12, `NO TESTS RAN` since.
        for out in [
            "\n---\nRan 0 tests in 0.000s\n\nOK\n",
            "\n---\nRan 0 tests in 0.000s\n\nNO TESTS RAN\n",
        ] {
            assert_eq!(
                parse(out),
                Some((Runner::Unittest, counts(0, 0, 0))),
                "{out}"
            );
        }
        // `OK (skipped=1)`; `Ran 1 test`.
        let out = "s\nRan 1 test in 0.001s\n\nOK (skipped=1)\n";
        assert_eq!(parse(out), Some((Runner::Unittest, counts(0, 0, 1))));
        // A `Ran` line without a result after it is not a summary.
        assert_eq!(parse("Ran 3 tests in 0.1s\n"), None);
        // `FAIL:` counts as a header only right under the `=` rule, not in a test's output;
        // the results of a test that printed come on a line of their own.
        let out = "\
test_a (m.C.test_a) ... printed this
FAIL: not a header
ok
test_b (m.C.test_b) ... FAIL
======================================================================
FAIL: test_b (m.C.test_b)
----------------------------------------------------------------------
AssertionError
FAIL: in the message

----------------------------------------------------------------------
Ran 2 tests in 0.001s

FAILED (failures=1)
";
        check(out, Runner::Unittest, counts(1, 1, 0), &["m.C.test_b"]);
        check_names(out, &["m.C.test_a"], &[], true);
    }

    #[test]
    fn jest_verbose_nested_describes_are_named_like_failure_headers() {
        // The file-level test is listed first, then `outer`'s tests, then `inner`'s; the
        // logged output comes before the file's line.
        let out = sample!("jest_verbose_nested.txt");
        check(
            out,
            Runner::Jest,
            counts(5, 1, 1),
            &["outer › inner › deep fail"],
        );
        check_names(
            out,
            &[
                "at file level",
                "outer › top level in outer",
                "outer › after inner",
                "outer › inner › deep pass",
                "truthy",
            ],
            &["outer › inner › deep skip"],
            true,
        );
    }

    #[test]
    fn jest_crosses_name_failures_when_there_are_no_headers() {
        let out = "\
PASS a.test.js
  console.log
    noise

  outer
    inner
      ✕ breaks (3 ms)
    ✓ works (1 ms)

Tests:       1 failed, 1 passed, 2 total
";
        check(
            out,
            Runner::Jest,
            counts(1, 1, 0),
            &["outer › inner › breaks"],
        );
        check_names(out, &["outer › works"], &[], true);
    }

    #[test]
    fn vitest_verbose_lists_every_test_with_its_file() {
        let out = sample!("vitest_verbose_failing.txt");
        let failing = [
            "vt/greet.test.mjs > greets loudly",
            "vt/math.test.mjs > add > rounds floats",
        ];
        check(out, Runner::Vitest, counts(5, 2, 2), &failing);
        check_names(
            out,
            &[
                "vt/math.test.mjs > add > adds two numbers",
                "vt/math.test.mjs > add > adds negatives",
                "vt/math.test.mjs > add > is commutative",
                "vt/greet.test.mjs > greets by name",
                "vt/ok.test.mjs > truthy",
            ],
            &[
                "vt/math.test.mjs > add > handles bigints",
                "vt/math.test.mjs > add > handles strings",
            ],
            true,
        );
        // The default reporter names the same tests the same way, as far as it lists them.
        let default = report(sample!("vitest_failing.txt")).expect("vitest");
        let verbose = report(out).expect("vitest");
        assert!(set(&default.passed).is_subset(&set(&verbose.passed)));
        assert_eq!(default.skipped, verbose.skipped);
    }

    #[test]
    fn vitest_crosses_name_failures_with_their_file_when_there_are_no_fail_lines() {
        let out = " ❯ a.test.ts (2 tests | 1 failed) 3ms\n   ✓ waits 5s 5003ms\n   × breaks 2ms\n      Tests  1 failed | 1 passed (2)\n";
        check(
            out,
            Runner::Vitest,
            counts(1, 1, 0),
            &["a.test.ts > breaks"],
        );
        check_names(out, &["a.test.ts > waits 5s"], &[], true);
    }

    #[test]
    fn junit_names_each_testcase() {
        let pytest = junit_report(sample!("pytest_junit.xml")).expect("junit");
        assert_eq!(pytest.runner, None);
        assert_eq!(pytest.counts, counts(5, 3, 2));
        assert_eq!(
            pytest.failed,
            [
                "tests.test_calc::test_add_param[2-2-5]",
                "tests.test_calc::test_divide_by_zero",
                // An error at setup.
                "tests.test_calc::test_uses_database",
            ]
        );
        assert_eq!(
            pytest.passed,
            [
                "tests.test_calc::test_add",
                "tests.test_calc::test_add_negative",
                "tests.test_calc::test_add_param[1-1-2]",
                "tests.test_calc::test_add_param[2-3-5]",
                "tests.test_calc::test_unexpectedly_fine",
            ]
        );
        assert_eq!(
            pytest.skipped,
            [
                "tests.test_calc::test_multiply",
                "tests.test_calc::test_float_rounding",
            ]
        );
        assert!(pytest.lists_passing);

        // Escaped names are read back: `name="add &gt; rounds floats"`.
        let vitest = junit_report(sample!("vitest_junit.xml")).expect("junit");
        assert_eq!(vitest.counts, counts(5, 2, 2));
        assert_eq!(
            vitest.failed,
            [
                "vt/greet.test.mjs::greets loudly",
                "vt/math.test.mjs::add > rounds floats",
            ]
        );
        assert_eq!(vitest.passed.len(), 5);
        assert_eq!(vitest.passed[4], "vt/ok.test.mjs::truthy");
        assert_eq!(
            vitest.skipped,
            [
                "vt/math.test.mjs::add > handles bigints",
                "vt/math.test.mjs::add > handles strings",
            ]
        );
    }

    #[test]
    fn junit_testcase_children_decide_the_outcome() {
        let xml = r#"<testsuite tests="6" failures="1" errors="1" skipped="1">
  <testcase name="plain"/>
  <testcase classname="" name="empty class"></testcase>
  <testcase classname="c" name="fails"><failure message="&lt;3 &amp; &#x41;&#66; &bogus; &"/></testcase>
  <testcase classname="c" name="errors"><system-out>&lt;failure&gt;</system-out><error/></testcase>
  <testcase classname="c" name="skipped"><skipped/></testcase>
  <testcase classname="c"><failure/></testcase>
  <testcase classname="c" name="x &lt; y &amp;&amp; &#233;"/>
</testsuite>"#;
        let report = junit_report(xml).expect("junit");
        assert_eq!(report.counts, counts(3, 2, 1));
        assert_eq!(report.failed, ["c::fails", "c::errors"]);
        assert_eq!(report.passed, ["plain", "empty class", "c::x < y && é"]);
        assert_eq!(report.skipped, ["c::skipped"]);
        assert_eq!(
            unescape("&bogus; & &#xZZ; &#1114112;"),
            "&bogus; & &#xZZ; &#1114112;"
        );
    }

    #[test]
    fn report_agrees_with_parse_and_failing_tests() {
        for out in [
            sample!("cargo_workspace_failing.txt"),
            sample!("nextest_flaky_timeout.txt"),
            sample!("pytest_verbose_failing.txt"),
            sample!("unittest_failing_verbose.txt"),
            sample!("go_json_build_failed.txt"),
            sample!("jest_verbose_nested.txt"),
            sample!("vitest_verbose_failing.txt"),
        ] {
            let report = report(out).expect("a summary");
            assert_eq!(parse(out), report.runner.map(|r| (r, report.counts)));
            assert_eq!(failing_tests(out), report.failed);
        }
    }

    #[test]
    fn garbage_never_panics_and_reads_nothing() {
        let garbage = [
            "\u{0}\u{1b}[\u{1b}]\r\r\n&&&;;<<>>",
            "Ran x tests in 0.1s\nFAILED (failures=, errors=-1, =3)\n",
            "Ran 18446744073709551616 tests in 0.1s\nOK\n",
            "test  ... ok\n---- ---- stdout ----\nfailures:\n    \n",
            "● \n✓ \n× \n❯ ( tests)\n○ skipped\n✎",
            " ... ... ... ok\n(.) ... FAIL\n",
            "<testcase name=\"&#xFFFFFFFFFF;&#;&#x;\"><failure><skipped></testcase>",
        ];
        for out in garbage {
            assert_eq!(report(out), None, "{out:?}");
            assert_eq!(junit_report(out), None, "{out:?}");
        }
        // Counts that overflow saturate rather than wrap.
        let out =
            "Ran 5 tests in 0.1s\nFAILED (failures=18446744073709551615, unexpected successes=9)\n";
        assert_eq!(parse(out), Some((Runner::Unittest, counts(0, u64::MAX, 0))));
    }

    // ---- edge cases ----

    #[test]
    fn no_summary_is_none() {
        for out in [
            "",
            "hello\nworld\n",
            "error: could not compile `x`\n",
            "FAIL\n",
            "ok\n",
        ] {
            assert_eq!(parse(out), None, "{out:?}");
            assert!(failing_tests(out).is_empty(), "{out:?}");
        }
    }

    #[test]
    fn score_is_the_passing_share_of_what_ran() {
        assert_eq!(counts(3, 1, 7).score(), Some(0.75));
        assert_eq!(counts(0, 2, 0).score(), Some(0.0));
        assert_eq!(counts(0, 0, 4).score(), None);
        assert_eq!(TestCounts::default().score(), None);
    }

    #[test]
    fn noise_between_and_around_summaries_is_ignored() {
        let out = "\
[INFO] starting services
test result: ok. 99 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.20s
log: test result: ok. 50 passed; 0 failed; 0 ignored; 0 measured
    test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured
random === 1 passed in 0.1s === chatter
test result: FAILED. 1 passed; 2 failed; 3 ignored; 0 measured; 0 filtered out; finished in 0.01s
[INFO] done
";
        // Only lines that start with `test result:` count; quoted or indented copies do not.
        assert_eq!(parse(out), Some((Runner::Cargo, counts(100, 2, 3))));
    }

    #[test]
    fn pytest_takes_the_last_summary_and_ignores_noise() {
        let out = "\
===== 1 passed in 0.01s =====
some log line: 3 passed
warning: 2 passed, 1 failed (not a summary: no duration)
=== 1 failed, 3 passed, 2 warnings, 1 deselected, 1 rerun in 12.50s (0:00:12) ===
trailing noise
";
        assert_eq!(parse(out), Some((Runner::Pytest, counts(3, 1, 0))));
        for nothing in ["no tests ran in 0.01s", "==== 4 deselected in 0.01s ===="] {
            assert_eq!(
                parse(nothing),
                Some((Runner::Pytest, TestCounts::default())),
                "{nothing}"
            );
        }
        assert_eq!(
            parse("3 frobnicated in 0.01s"),
            None,
            "not a pytest outcome"
        );
    }

    #[test]
    fn ansi_and_carriage_returns_are_stripped() {
        let out = "\x1b[1mTests:       \x1b[22m\x1b[1m\x1b[31m1 failed\x1b[39m\x1b[22m, \x1b[1m\x1b[32m4 passed\x1b[39m\x1b[22m, 5 total\r\n";
        assert_eq!(parse(out), Some((Runner::Jest, counts(4, 1, 0))));
        // A progress line redrawn with `\r` before the summary; an OSC 8 hyperlink.
        let out = "running 3/7\rrunning 7/7\r\x1b]8;;file:///x\x1b\\x\x1b]8;;\x1b\\\r      Tests  7 passed (7)\n";
        assert_eq!(parse(out), Some((Runner::Vitest, counts(7, 0, 0))));
    }

    #[test]
    fn detection_order_prefers_cargo_over_pytest_and_go() {
        let out = "\
=== 10 passed in 0.1s ===
--- PASS: TestX (0.00s)
test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out
";
        assert_eq!(parse(out).map(|(r, _)| r), Some(Runner::Cargo));
        let out = "--- PASS: TestX (0.00s)\nok  \tpkg\t0.01s\n=== 10 passed in 0.1s ===\n";
        assert_eq!(parse(out).map(|(r, _)| r), Some(Runner::Pytest));
        // A pytest run whose captured output shows a unittest run is read as pytest.
        let out = format!(
            "{}{}",
            sample!("unittest_failing.txt"),
            sample!("pytest_failing.txt")
        );
        assert_eq!(parse(&out).map(|(r, _)| r), Some(Runner::Pytest));
        // And unittest wins over the runners after it.
        let out = format!(
            "{}{}",
            sample!("go_verbose_failing.txt"),
            sample!("unittest_failing.txt")
        );
        assert_eq!(parse(&out).map(|(r, _)| r), Some(Runner::Unittest));
    }

    #[test]
    fn cargo_failures_list_without_output_sections() {
        let out = "\
running 2 tests
test a::b ... FAILED
test a::c ... FAILED

failures:
    a::b
    a::c

test result: FAILED. 0 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out
";
        assert_eq!(failing_tests(out), ["a::b", "a::c"]);
    }

    #[test]
    fn nextest_cancelled_run_counts_what_ran() {
        let out = "     Summary [  15.750s] 8/10 tests run: 5 passed (1 slow, 1 flaky, 1 leaky), 2 failed, 1 exec failed, 1 timed out, 2 skipped; cancelled due to interrupt\n";
        assert_eq!(parse(out), Some((Runner::Nextest, counts(5, 4, 2))));
        let out = "     Summary [   0.100s] 1 test run: 1 passed, 0 skipped\n";
        assert_eq!(parse(out), Some((Runner::Nextest, counts(1, 0, 0))));
    }

    #[test]
    fn go_only_package_lines_count_packages() {
        let out = "ok  \texample.com/a\t0.01s\nok  \texample.com/b\t(cached)\n?   \texample.com/c\t[no test files]\nok  \texample.com/d\t0.01s [no tests to run]\n";
        assert_eq!(parse(out), Some((Runner::GoTest, counts(2, 0, 0))));
    }

    #[test]
    fn go_panicking_package_counts_one_failure() {
        let out = "\
=== RUN   TestA
--- PASS: TestA (0.00s)
=== RUN   TestB
panic: boom [recovered]
FAIL\texample.com/p\t0.01s
FAIL
";
        check(out, Runner::GoTest, counts(1, 1, 0), &["example.com/p"]);
    }

    #[test]
    fn junit_without_a_root_sums_suites_and_skips_quoted_markup() {
        let xml = r#"<?xml version="1.0"?>
<!-- a > b, then <testsuite tests="1000"/> in a comment -->
<testsuite name="a" tests="4" failures="1" errors="0" skipped="1">
  <testcase name="x"><failure><![CDATA[3 > 2, yet </testsuite><testsuite tests="77" failures="77"/>]]></failure></testcase>
  <testsuite name="nested" tests="2" failures="1"/>
</testsuite>
<testsuite name='b' tests='3' failures='0' errors='1' skipped='0'></testsuite>
"#;
        assert_eq!(parse_junit(xml), Some(counts(4, 2, 1)));
    }

    #[test]
    fn junit_root_totals_win_over_suites() {
        let xml = r#"<testsuites tests="10" failures="1" errors="1" skipped="3"><testsuite tests="2"/></testsuites>"#;
        assert_eq!(parse_junit(xml), Some(counts(5, 2, 3)));
    }

    #[test]
    fn junit_without_suites_is_none() {
        assert_eq!(parse_junit(""), None);
        assert_eq!(parse_junit("not xml at all < > <"), None);
        assert_eq!(parse_junit("<report><testcase name=\"x\"/></report>"), None);
        assert_eq!(parse_junit("<testsuite tests=\"3\" broken"), None);
    }

    #[test]
    fn runner_names() {
        assert_eq!(Runner::GoTestJson.to_string(), "go test -json");
        assert_eq!(Runner::Nextest.to_string(), "cargo nextest");
        assert_eq!(Runner::Unittest.to_string(), "unittest");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "(?s).{0,400}") {
            let _ = parse(&s);
            let _ = failing_tests(&s);
            let _ = parse_junit(&s);
            let _ = report(&s);
            let _ = junit_report(&s);
        }

        #[test]
        fn cargo_lines_sum(lines in proptest::collection::vec((0u64..10_000, 0u64..10_000, 0u64..10_000), 1..6)) {
            let mut out = String::new();
            let mut want = TestCounts::default();
            for (p, f, i) in &lines {
                let status = if *f == 0 { "ok" } else { "FAILED" };
                out.push_str(&format!("\nrunning\ntest result: {status}. {p} passed; {f} failed; {i} ignored; 0 measured; 0 filtered out; finished in 0.00s\n"));
                want.add(counts(*p, *f, *i));
            }
            proptest::prop_assert_eq!(parse(&out), Some((Runner::Cargo, want)));
        }

        #[test]
        fn pytest_counts_in_any_order(p in 0u64..500, f in 0u64..500, s in 0u64..500, xf in 0u64..50, e in 0u64..50, rot in 0usize..5) {
            let mut parts = [
                format!("{f} failed"), format!("{p} passed"), format!("{s} skipped"),
                format!("{xf} xfailed"), format!("{e} errors"),
            ];
            parts.rotate_left(rot);
            let out = format!("==== {} in 1.23s ====\n", parts.join(", "));
            proptest::prop_assert_eq!(parse(&out), Some((Runner::Pytest, counts(p, f + e, s + xf))));
        }
    }
}
