//! Test counts read from what a test runner printed: which runner it was, how many tests
//! passed, failed and were skipped, and which ones failed. The `test` gate scores a change by
//! these counts and compares the failing names with the base commit's so that only failures
//! the change introduced count against it.
//!
//! Supported: `cargo test`, `cargo nextest run`, pytest, `go test` (plain, `-v` and `-json`),
//! jest and vitest, plus JUnit XML reports ([`parse_junit`]). Colour escapes are stripped and
//! carriage returns treated as line breaks before anything is read, so coloured or
//! progress-bar output parses like plain output.
//!
//! When an output holds more than one runner's summary, [`parse`] does not pick the one with
//! the most tests: it tries the runners in a fixed order — nextest, cargo test, pytest,
//! `go test -json`, `go test`, vitest, jest — and takes the first whose summary it finds.
//! The order matters because some formats embed others: nextest prints each failing test's
//! own `test result:` line inside its report, and `go test -json` carries the plain
//! `--- FAIL:` lines inside its JSON.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// How many tests passed, failed and were skipped in one run of a test command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCounts {
    /// Tests that passed, including pytest's xpassed and nextest's flaky-then-passed tests.
    pub passed: u64,
    /// Tests that failed, errored or timed out.
    pub failed: u64,
    /// Tests that did not run: skipped, ignored, xfailed or todo.
    pub skipped: u64,
}

impl TestCounts {
    /// passed / (passed + failed); None when nothing ran.
    pub fn score(&self) -> Option<f64> {
        let ran = self.passed.saturating_add(self.failed);
        (ran > 0).then(|| self.passed as f64 / ran as f64)
    }

    fn add(&mut self, other: TestCounts) {
        self.passed = self.passed.saturating_add(other.passed);
        self.failed = self.failed.saturating_add(other.failed);
        self.skipped = self.skipped.saturating_add(other.skipped);
    }
}

/// The test runner whose summary was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// `cargo test`: one `test result:` line per test binary and per crate's doc-tests.
    Cargo,
    /// `cargo nextest run`: one final `Summary` line.
    Nextest,
    /// pytest, at any verbosity.
    Pytest,
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
            Self::GoTest => "go test",
            Self::GoTestJson => "go test -json",
            Self::Jest => "jest",
            Self::Vitest => "vitest",
        })
    }
}

/// The order runners are tried in; see the module documentation for why.
const DETECTION_ORDER: [Runner; 7] = [
    Runner::Nextest,
    Runner::Cargo,
    Runner::Pytest,
    Runner::GoTestJson,
    Runner::GoTest,
    Runner::Vitest,
    Runner::Jest,
];

/// Detects the runner from the output and returns its counts; None when no known summary is found.
///
/// Runners are tried in the order nextest, cargo test, pytest, `go test -json`, `go test`,
/// vitest, jest, and the first whose summary appears wins. A `cargo test` whose build failed
/// prints no `test result:` line and so gives None.
pub fn parse(output: &str) -> Option<(Runner, TestCounts)> {
    let text = normalize(output);
    detect(&text).map(|(runner, report)| (runner, report.counts))
}

/// Names of failing tests, when the runner lists them (cargo: `---- name stdout ----` / the
/// `failures:` list; pytest: `FAILED path::name`; go: `--- FAIL: Name`; jest: `● name`
/// headers, else `✕ name` lines; vitest: `FAIL  file > name` lines, else `× name` lines) —
/// used to tell new failures from old ones.
///
/// The runner is detected as in [`parse`]; nothing is returned when none is. Names are given
/// once each, in the order they first appear. Per runner:
/// - cargo test: the test path (`tests::adds`, or `src/lib.rs - add (line 5)` for a doc-test).
/// - nextest: binary and test, as nextest prints them (`calc tests::adds`); a test that
///   failed and then passed on a retry is not listed.
/// - pytest: the node id of each `FAILED` and `ERROR` line (`tests/test_x.py::test_y[1]`).
/// - go test: the test name, subtests included (`TestTable/wrong`); a package that failed
///   without a failing test (build failure, panic) is listed by its import path.
/// - jest: the `● describe › test` headers of the failure details, which jest prints at
///   every verbosity; `✕ name` lines only when there are no such headers.
/// - vitest: the `FAIL  file > describe > test` lines of the failure details, which name the
///   file; `× name` lines only when there are none.
pub fn failing_tests(output: &str) -> Vec<String> {
    let text = normalize(output);
    let Some((_, report)) = detect(&text) else {
        return Vec::new();
    };
    let mut seen = HashSet::new();
    report
        .failing
        .into_iter()
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

/// Test counts from a JUnit XML report: the `tests`, `failures`, `errors` and `skipped`
/// attributes of `<testsuites>`, each taken from the top-level `<testsuite>` elements summed
/// when `<testsuites>` does not carry it (vitest and jest-junit leave `skipped` off the
/// root). Nested suites are not added twice. Errors count as failures; passed is what remains
/// of `tests`. None when the text holds neither element.
pub fn parse_junit(xml: &str) -> Option<TestCounts> {
    let mut root: Option<SuiteAttrs> = None;
    let mut summed = SuiteAttrs::default();
    let mut suites = 0usize;
    let mut depth = 0usize;
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
    Some(TestCounts {
        passed: tests.saturating_sub(failed).saturating_sub(skipped),
        failed,
        skipped,
    })
}

/// What one runner's parser found: the counts and the failing tests it names.
#[derive(Debug, Default)]
struct Report {
    counts: TestCounts,
    failing: Vec<String>,
}

/// The first runner, in [`DETECTION_ORDER`], whose summary `text` holds.
fn detect(text: &str) -> Option<(Runner, Report)> {
    DETECTION_ORDER
        .into_iter()
        .find_map(|runner| read(runner, text).map(|report| (runner, report)))
}

fn read(runner: Runner, text: &str) -> Option<Report> {
    match runner {
        Runner::Cargo => read_cargo(text),
        Runner::Nextest => read_nextest(text),
        Runner::Pytest => read_pytest(text),
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

// ---- cargo test ----

static CARGO_RESULT: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored;")
});
static CARGO_FAILURE_OUTPUT: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^---- (.+) std(?:out|err) ----$"));

/// Sums every `test result:` line: a workspace prints one per test binary and one per crate's
/// doc-tests. Only lines that start with `test result:` count, so the indented copies inside
/// other tools' reports do not.
fn read_cargo(text: &str) -> Option<Report> {
    let mut report = Report::default();
    let mut found = false;
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
        } else if let Some(c) = CARGO_FAILURE_OUTPUT.captures(line) {
            report.failing.push(c[1].to_string());
        } else if line == "failures:" {
            // The closing list: one indented name per line right after the heading. The
            // first `failures:` heading is followed by a blank line and takes nothing.
            while let Some(name) = lines.next_if(|l| l.starts_with("    ") && !l.trim().is_empty())
            {
                report.failing.push(name.trim().to_string());
            }
        }
    }
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
fn read_nextest(text: &str) -> Option<Report> {
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
    Some(Report {
        counts,
        failing: nextest_failing(text),
    })
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

/// Tests whose last final status line (`FAIL`, `TMT`, `SIGSEGV`, … as opposed to `PASS`,
/// `FLAKY`, `LEAK`, `SKIP`) is a failure; in-progress lines (`SLOW`, `TRMNTG`, `START`) are
/// passed over, and a retry that passed clears earlier failures.
fn nextest_failing(text: &str) -> Vec<String> {
    let mut order: Vec<&str> = Vec::new();
    let mut last_failed: HashMap<&str, bool> = HashMap::new();
    for c in text.lines().filter_map(|l| NEXTEST_STATUS.captures(l)) {
        let (Some(status), Some(name)) = (c.get(1), c.get(2)) else {
            continue;
        };
        let failed = match status.as_str().trim() {
            "SLOW" | "TRMNTG" | "START" | "RETRY" | "DELAY" | "SETUP" => continue,
            "PASS" | "FLAKY" | "LEAK" | "SKIP" => false,
            _ => true,
        };
        let name = name.as_str();
        if last_failed.insert(name, failed).is_none() {
            order.push(name);
        }
    }
    order
        .into_iter()
        .filter(|name| last_failed.get(name).copied().unwrap_or(false))
        .map(str::to_string)
        .collect()
}

// ---- pytest ----

static PYTEST_SUMMARY: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"^((?:\d+ [a-z]+|no tests ran)(?:, \d+ [a-z]+)*) in \d+(?:\.\d+)?s(?: \([\d:.]+\))?$")
});
static PYTEST_FAILED: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^(?:FAILED|ERROR) (\S.*?)(?: - .*)?$"));

/// The last `=== 3 passed, 1 failed, 2 skipped, 1 xfailed in 0.12s ===` line, with or
/// without the `=` rule (`-q`). Errors count as failed, xfailed as skipped, xpassed as
/// passed; warnings, deselected tests and reruns are not tests and are left out.
fn read_pytest(text: &str) -> Option<Report> {
    let mut counts = None;
    let mut failing = Vec::new();
    for line in text.lines() {
        if let Some(c) = PYTEST_FAILED.captures(line) {
            failing.push(c[1].to_string());
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
    counts.map(|counts| Report { counts, failing })
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
/// adds one failure. Run `go test -v` or `-json` for exact counts.
fn read_go(text: &str) -> Option<Report> {
    let mut report = Report::default();
    let mut package = TestCounts::default();
    let mut listed = false;
    let mut found = false;
    for line in text.lines() {
        if let Some(c) = GO_TEST_LINE.captures(line) {
            found = true;
            listed = true;
            match &c[1] {
                "PASS" => package.passed += 1,
                "FAIL" => {
                    package.failed += 1;
                    report.failing.push(c[2].to_string());
                }
                _ => package.skipped += 1,
            }
        } else if let Some(c) = GO_PACKAGE_LINE.captures(line) {
            found = true;
            let ok = c[1].starts_with("ok");
            if ok && !listed && !c[3].contains("[no tests to run]") {
                package.passed += 1;
            } else if !ok && package.failed == 0 {
                package.failed += 1;
                report.failing.push(c[2].to_string());
            }
            report.counts.add(package);
            package = TestCounts::default();
            listed = false;
        }
    }
    report.counts.add(package);
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
/// [`read_go`]). A package that failed with no failing test adds one failure, whether go
/// reported it as a package `fail` event or, before Go 1.24, as a plain
/// `FAIL\tpkg [build failed]` line among the JSON.
fn read_go_json(text: &str) -> Option<Report> {
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

    let mut report = Report::default();
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
                ("pass", false) => report.counts.passed += 1,
                ("skip", false) => report.counts.skipped += 1,
                ("fail", false) => {
                    report.counts.failed += 1;
                    package(&mut packages, &event.package).failed_tests += 1;
                    report.failing.push(event.test);
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
            report.failing.push(p.name);
        }
    }
    found.then_some(report)
}

// ---- vitest and jest ----

static VITEST_SUMMARY: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*Tests\s+(.+?)\s+\(\d+\)\s*$"));
static VITEST_FAIL: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*FAIL\s+(\S.*?)\s*$"));
static VITEST_CROSS: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*[×✕✗] (.+?)(?: \d+(?:\.\d+)?m?s)?\s*$"));
static JEST_SUMMARY: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*Tests:\s+(.+\d+ total)\s*$"));
static JEST_HEADER: LazyLock<Regex> = LazyLock::new(|| compile(r"^\s*● (.+?)\s*$"));
static JEST_CROSS: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^\s*[✕×✗] (.+?)(?: \(\d+(?:\.\d+)? m?s\))?\s*$"));

/// The last `Tests  2 failed | 5 passed | 1 skipped | 1 todo (9)` line; todo counts as
/// skipped.
fn read_vitest(text: &str) -> Option<Report> {
    let counts = text
        .lines()
        .rev()
        .filter_map(|l| VITEST_SUMMARY.captures(l))
        .find_map(|c| js_counts(&c[1], '|'))?;
    let mut failing = captured(text, &VITEST_FAIL);
    if failing.is_empty() {
        failing = captured(text, &VITEST_CROSS);
    }
    Some(Report { counts, failing })
}

/// The last `Tests:       2 failed, 1 skipped, 1 todo, 5 passed, 9 total` line; todo counts
/// as skipped.
fn read_jest(text: &str) -> Option<Report> {
    let counts = text
        .lines()
        .rev()
        .filter_map(|l| JEST_SUMMARY.captures(l))
        .find_map(|c| js_counts(&c[1], ','))?;
    let mut failing: Vec<String> = captured(text, &JEST_HEADER)
        .into_iter()
        .filter(|name| name != "Console" && name != "Test suite failed to run")
        .collect();
    if failing.is_empty() {
        failing = captured(text, &JEST_CROSS);
    }
    Some(Report { counts, failing })
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
        let get = |key: &str| {
            attrs
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| num(v.trim()))
        };
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
                "/tests/samples/test_output/",
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
    }

    #[test]
    fn cargo_passing_counts_ignored_as_skipped() {
        check(
            sample!("cargo_passing.txt"),
            Runner::Cargo,
            counts(8, 0, 1),
            &[],
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
    }

    #[test]
    fn cargo_build_failure_has_no_counts() {
        let out = sample!("cargo_compile_error.txt");
        assert_eq!(parse(out), None);
        assert!(failing_tests(out).is_empty());
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
    }

    #[test]
    fn pytest_quiet_passing() {
        check(
            sample!("pytest_quiet_passing.txt"),
            Runner::Pytest,
            counts(5, 0, 0),
            &[],
        );
    }

    #[test]
    fn pytest_collection_error_is_a_failure() {
        check(
            sample!("pytest_collection_error.txt"),
            Runner::Pytest,
            counts(0, 1, 0),
            &["tests/test_broken_import.py"],
        );
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
    }

    #[test]
    fn go_verbose_counts_tests_and_subtests() {
        check(
            sample!("go_verbose_failing.txt"),
            Runner::GoTest,
            counts(5, 3, 1),
            &["TestSub", "TestTable", "TestTable/wrong"],
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
    }

    #[test]
    fn jest_passing() {
        check(
            sample!("jest_passing.txt"),
            Runner::Jest,
            counts(1, 0, 0),
            &[],
        );
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
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "(?s).{0,400}") {
            let _ = parse(&s);
            let _ = failing_tests(&s);
            let _ = parse_junit(&s);
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

/// TEMPORARY shim until per-test outcomes land (replaced by the summary branch).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestReport {
    /// Runner.
    pub runner: Option<Runner>,
    /// Counts.
    pub counts: TestCounts,
    /// Failed.
    pub failed: Vec<String>,
    /// Passed.
    pub passed: Vec<String>,
    /// Skipped.
    pub skipped: Vec<String>,
    /// Lists passing.
    pub lists_passing: bool,
}

/// Shim.
pub fn report(output: &str) -> Option<TestReport> {
    let (runner, counts) = parse(output)?;
    Some(TestReport {
        runner: Some(runner),
        counts,
        failed: failing_tests(output),
        ..TestReport::default()
    })
}

/// Shim.
pub fn junit_report(xml: &str) -> Option<TestReport> {
    Some(TestReport {
        counts: parse_junit(xml)?,
        ..TestReport::default()
    })
}
