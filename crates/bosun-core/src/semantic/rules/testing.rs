//! `test_removed` and `test_weakened` (risk): tests that stop running or stop checking.
//!
//! **Tests** are found per language in the code part of each side (both whole files when their
//! text is given, else the hunks' lines): Rust `fn`s under a `#[test]`-like attribute
//! (`#[test]`, `#[tokio::test]`, any `#[…::test]`, `#[rstest]`, `#[test_case]`,
//! `#[quickcheck]`) in any `.rs` file; in test files only (by path, see `paths`) Python
//! `def test…` (methods too), JavaScript/TypeScript `it(…)`/`test(…)` calls named by their
//! first string argument (with `.only`, `.skip`, `.each(…)` variants), and Go
//! `func Test…`/`Benchmark…`/`Fuzz…`/`Example…` in `_test.go` files.
//!
//! **`test_removed`**: a test of the old side with no test of the same name left on the new
//! side (names are counted, so one of two same-named tests going is seen). A removed test and a
//! new one in the same hunk are a rename, not a removal. Reported on the old side at its `fn`
//! line, or at its attribute when only the attribute went ("no longer a test"). A deleted file
//! that is a test file or held tests gets one file-level annotation naming them instead.
//!
//! **`test_weakened`**, each once per hunk surplus (a marker only moved or edited is not new):
//! - a skip marker added: Rust `#[ignore]`; Python `@pytest.mark.skip`/`skipif`/`xfail`,
//!   `@unittest.skip…`/`@skip…`/`@expectedFailure`, `pytest.skip(`/`pytest.xfail(`,
//!   `self.skipTest(`; JS/TS `it|test|describe|context|suite` `.skip`/`.only`, and in test
//!   files `xit`/`xtest`/`xdescribe`/`xcontext`/`fit`/`fdescribe`/`fcontext`; Go
//!   `t.Skip(`/`Skipf(`/`SkipNow(` in `_test.go` files;
//! - a hunk of test code that removes assertion lines and adds none (Rust `…assert…!` macros;
//!   Python `assert`, `assert…(`, `pytest.raises(`; JS `expect(`, `assert(`, `assert.x(`,
//!   `.should`; Go `assert.`/`require.` calls and `t.Error`/`Errorf`/`Fatal`/`Fatalf`/`Fail`),
//!   one annotation spanning them on the old side — leaving out assertions in the same block of
//!   changed lines as a removed test (already `test_removed`). Test code is a test file, or in a Rust file the lines from its
//!   first `#[cfg(test)]` or test attribute on (or a hunk whose header is in `mod tests`);
//! - a coverage threshold lowered or removed: a key or flag with `fail_under`/`fail-under` or a
//!   word starting with `cov` (`--cov-fail-under`, `fail_under`, `min_coverage`,
//!   `coverageThreshold`), and jest/nyc/c8 `branches`/`functions`/`lines`/`statements` in a
//!   file that mentions coverage, whose number goes down (or the line goes) within a hunk;
//! - a tolerance raised in test code: a key whose last word is `tolerance`, `tol`, `rtol`,
//!   `atol`, `epsilon`, `eps` or `ulps` (or `max_relative`) whose number goes up within a hunk.
//!
//! Limits: tests are recognised line by line (a Rust test attribute and its `fn` within 12
//! lines; a JS test name that is not a string literal is not seen); assertions changed in place
//! (`assert_eq!(x, 3)` → `assert!(true)`) are not judged; tolerances written inline in an
//! assertion (`< 1e-9` → `< 1e-3`) are not compared; a removed test that moved to another file
//! is reported as removed (the other file's new test is not paired with it).

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::lex::Lang;
use super::{FileContext, SideView, block_of, net_added, paths, secret, side_no, words};
use crate::diff::LineKind;
use crate::model::{Annotation, AnnotationKind, Severity};

fn re(pattern: &str) -> Regex {
    // Patterns are constants of this file; the tests exercise every one.
    Regex::new(pattern).expect("test rule patterns are valid regexes")
}

static RUST_TEST_ATTR: LazyLock<Regex> =
    LazyLock::new(|| re(r"#\[\s*(?:(?:\w+::)*test|rstest|test_case|quickcheck)\b"));
static RUST_FN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?(?:(?:async|const|unsafe|extern\s+"[^"]*")\s+)*fn\s+(\w+)"#,
    )
});
static RUST_TEST_MOD: LazyLock<Regex> = LazyLock::new(|| re(r"#\[\s*cfg\s*\(\s*test\s*\)"));
static PY_TEST: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*(?:async\s+)?def\s+(test\w*)\s*\("));
static JS_TEST: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"^\s*(?:x|f)?(?:it|test)(?:\.(?:only|skip|concurrent|failing|each\s*\(.*?\)))*\s*\(\s*(['"`])"#,
    )
});
static GO_TEST: LazyLock<Regex> =
    LazyLock::new(|| re(r"^func\s+((?:Test|Benchmark|Fuzz|Example)\w*)\s*\("));

static RUST_IGNORE: LazyLock<Regex> = LazyLock::new(|| re(r"#\[\s*ignore\b"));
static PY_SKIP_MARK: LazyLock<Regex> =
    LazyLock::new(|| re(r"@pytest\.mark\.(skip|skipif|xfail)\b"));
static PY_UNITTEST_SKIP: LazyLock<Regex> =
    LazyLock::new(|| re(r"@(?:unittest\.)?(skip|skipIf|skipUnless|expectedFailure)\b"));
static PY_SKIP_CALL: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(pytest\.skip|pytest\.xfail|self\.skipTest)\s*\("));
static JS_SKIP: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(?:it|test|describe|context|suite)\.(skip|only)\b"));
static JS_X: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:^|[^.\w$])(xit|xtest|xdescribe|xcontext|fit|fdescribe|fcontext)\s*\(")
});
static GO_SKIP: LazyLock<Regex> = LazyLock::new(|| re(r"\b[tb]\.(Skip|Skipf|SkipNow)\s*\("));

static RUST_ASSERT: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:\w+_)?assert(?:_\w+)?!\s*[(\[{]"));
static PY_ASSERT: LazyLock<Regex> =
    LazyLock::new(|| re(r"^\s*assert\b|\bassert\w*\s*\(|\bpytest\.raises\s*\("));
static JS_ASSERT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bexpect\s*\(|\bassert(?:\.\w+)?\s*\(|\.should\b|\bexpectTypeOf\s*\("));
static GO_ASSERT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(?:assert|require)\.\w+\s*\(|\bt\.(?:Error|Errorf|Fatal|Fatalf|Fail|FailNow)\s*\(")
});

static SETTING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?P<key>--?[A-Za-z][\w-]*|[A-Za-z_][\w.\-]*)["']?\s*(?::\s*[A-Za-z_][\w<>]*\s*=|=|:|\s)\s*["']?(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"#,
    )
});

/// A test found on one side.
#[derive(Debug, Clone, PartialEq)]
struct TestDecl {
    name: String,
    /// The line that names it (`fn`, `def`, `it(`, `func`).
    line: u32,
    /// The attribute that makes it a test, when on another line (Rust).
    attr: Option<u32>,
}

/// Which languages have tests in this file (by path).
fn has_tests(lang: Lang, path: &str) -> bool {
    match lang {
        Lang::Rust => true,
        Lang::Python | Lang::JavaScript => paths::is_test_file(path),
        Lang::Go => path.ends_with("_test.go"),
        Lang::CLike | Lang::Hash | Lang::Plain => false,
    }
}

fn find_tests(lang: Lang, path: Option<&str>, view: &SideView<'_>) -> Vec<TestDecl> {
    if !path.is_some_and(|p| has_tests(lang, p)) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut pending: Option<u32> = None;
    let mut prev = 0;
    for n in view.numbers() {
        if n != prev + 1 || pending.is_some_and(|p| n > p + 12) {
            pending = None;
        }
        prev = n;
        let code = view.code(n);
        let found = match lang {
            Lang::Rust => {
                // Most lines hold no attribute, and a function matters only after one.
                if pending.is_none() && code.contains('#') && RUST_TEST_ATTR.is_match(code) {
                    pending = Some(n);
                }
                pending.and_then(|_| RUST_FN.captures(code)).and_then(|c| {
                    let attr = pending.take()?;
                    Some((c[1].to_string(), (attr != n).then_some(attr)))
                })
            }
            Lang::Python => PY_TEST.captures(code).map(|c| (c[1].to_string(), None)),
            Lang::JavaScript => JS_TEST.captures(code).and_then(|c| {
                let quote = c.get(1)?;
                let rest = view.raw(n).get(quote.end()..)?;
                let close = rest.find(quote.as_str())?;
                Some((secret::redact_text(&rest[..close]), None))
            }),
            Lang::Go => GO_TEST.captures(code).map(|c| (c[1].to_string(), None)),
            Lang::CLike | Lang::Hash | Lang::Plain => None,
        };
        if let Some((name, attr)) = found {
            out.push(TestDecl {
                name,
                line: n,
                attr,
            });
        }
    }
    out
}

/// Both rules.
pub(crate) fn rules(ctx: &FileContext<'_>) -> Vec<Annotation> {
    let file = ctx.file;
    let old_path = file.old_path.as_deref();
    let new_path = file.new_path.as_deref();
    let old_tests = find_tests(ctx.lang, old_path, &ctx.old);
    let new_tests = find_tests(ctx.lang, new_path, &ctx.new);
    let mut out = Vec::new();

    if new_path.is_none() {
        let is_test_file = old_path.is_some_and(paths::is_test_file);
        if is_test_file || !old_tests.is_empty() {
            let names: Vec<&str> = old_tests.iter().map(|t| t.name.as_str()).collect();
            let listed = match names.len() {
                0 => String::new(),
                n if n <= 3 => format!(": {}", names.join(", ")),
                n => format!(": {}, … ({} more)", names[..3].join(", "), n - 3),
            };
            let what = if is_test_file {
                "test file deleted"
            } else {
                "file with tests deleted"
            };
            out.push(ctx.annotation(
                AnnotationKind::TestRemoved,
                Severity::Risk,
                None,
                false,
                format!("{what} ({} tests{listed})", names.len()),
            ));
        }
        return out;
    }

    // Tests gone: count names on the new side, take the old ones not covered.
    let mut left: HashMap<&str, usize> = HashMap::new();
    for t in &new_tests {
        *left.entry(t.name.as_str()).or_default() += 1;
    }
    let mut missing: Vec<&TestDecl> = Vec::new();
    for t in &old_tests {
        match left.get_mut(t.name.as_str()) {
            Some(k) if *k > 0 => *k -= 1,
            _ => missing.push(t),
        }
    }
    let mut olds: HashMap<&str, usize> = HashMap::new();
    for t in &old_tests {
        *olds.entry(t.name.as_str()).or_default() += 1;
    }
    let mut fresh: Vec<&TestDecl> = Vec::new();
    for t in &new_tests {
        match olds.get_mut(t.name.as_str()) {
            Some(k) if *k > 0 => *k -= 1,
            _ => fresh.push(t),
        }
    }
    let mut removed_test_blocks = Vec::new();
    for t in missing {
        let block =
            block_of(file, t.line, true).or_else(|| t.attr.and_then(|a| block_of(file, a, true)));
        // A test gone and a new one in the same block of changed lines: renamed.
        if let Some(b) = block
            && let Some(i) = fresh
                .iter()
                .position(|f| block_of(file, f.line, false) == Some(b))
        {
            fresh.remove(i);
            continue;
        }
        if let Some(b) = block {
            removed_test_blocks.push(b);
        }
        let removed = |n: u32| {
            file.hunks
                .iter()
                .flat_map(|h| &h.lines)
                .any(|l| l.kind == LineKind::Removed && l.old_no == Some(n))
        };
        let (line, message) = if removed(t.line) {
            (Some(t.line), format!("test `{}` removed", t.name))
        } else if let Some(a) = t.attr.filter(|&a| removed(a)) {
            (
                Some(a),
                format!(
                    "test `{}` is no longer a test: its test attribute was removed",
                    t.name
                ),
            )
        } else {
            (Some(t.line), format!("test `{}` removed", t.name))
        };
        let mut a = ctx.annotation(
            AnnotationKind::TestRemoved,
            Severity::Risk,
            line.map(|n| (n, n)),
            true,
            message,
        );
        a.symbol = Some(t.name.clone());
        out.push(a);
    }

    out.extend(markers(ctx, &new_tests));
    out.extend(assertions(ctx, &old_tests, &removed_test_blocks));
    out.extend(thresholds(ctx));
    out
}

/// A skip/only/xfail marker on a line of one side: its description.
fn marker_in(ctx: &FileContext<'_>, view: &SideView<'_>, n: u32) -> Option<&'static str> {
    let code = view.code(n);
    let test_file = paths::is_test_file(ctx.path);
    match ctx.lang {
        Lang::Rust => RUST_IGNORE
            .is_match(code)
            .then_some("`#[ignore]` added: the test no longer runs"),
        Lang::Python => {
            if let Some(c) = PY_SKIP_MARK.captures(code) {
                Some(match &c[1] {
                    "xfail" => {
                        "`@pytest.mark.xfail` added: a failure of the test no longer fails the suite"
                    }
                    "skipif" => "`@pytest.mark.skipif` added: the test may no longer run",
                    _ => "`@pytest.mark.skip` added: the test no longer runs",
                })
            } else if let Some(c) = PY_UNITTEST_SKIP.captures(code) {
                Some(match &c[1] {
                    "expectedFailure" => {
                        "`@expectedFailure` added: a failure of the test no longer fails the suite"
                    }
                    _ => "`@unittest.skip` added: the test may no longer run",
                })
            } else if let Some(c) = PY_SKIP_CALL.captures(code) {
                Some(match &c[1] {
                    "pytest.xfail" => {
                        "`pytest.xfail()` added: the test stops and counts as an expected failure"
                    }
                    _ => "a skip call added: the test stops before its checks",
                })
            } else {
                None
            }
        }
        Lang::JavaScript => {
            if let Some(c) = JS_SKIP.captures(code) {
                Some(match &c[1] {
                    "only" => {
                        "`.only` added: only this runs, every other test in the file is skipped"
                    }
                    _ => "`.skip` added: the test no longer runs",
                })
            } else if test_file && let Some(c) = JS_X.captures(code) {
                Some(if c[1].starts_with('f') {
                    "focused test (`fit`/`fdescribe`) added: every other test in the file is skipped"
                } else {
                    "`xit`/`xdescribe` added: the test no longer runs"
                })
            } else {
                None
            }
        }
        Lang::Go if ctx.path.ends_with("_test.go") => GO_SKIP
            .is_match(code)
            .then_some("`t.Skip` added: the test stops before its checks"),
        Lang::Go | Lang::CLike | Lang::Hash | Lang::Plain => None,
    }
}

fn markers(ctx: &FileContext<'_>, new_tests: &[TestDecl]) -> Vec<Annotation> {
    let mut out = Vec::new();
    for hunk in &ctx.file.hunks {
        let hits = net_added(
            hunk,
            |l| marker_in(ctx, &ctx.new, l.new_no?),
            |l| marker_in(ctx, &ctx.old, l.old_no?),
        );
        for (n, message) in hits {
            // The test it marks: the next one within a few lines (attributes, decorators,
            // `it.skip(`), else the one it is inside (skip calls).
            let symbol = new_tests
                .iter()
                .find(|t| t.line >= n && t.line <= n + 5)
                .or_else(|| new_tests.iter().rev().find(|t| t.line < n))
                .map(|t| t.name.clone());
            let mut a = ctx.annotation(
                AnnotationKind::TestWeakened,
                Severity::Risk,
                Some((n, n)),
                false,
                message.to_string(),
            );
            a.symbol = symbol;
            out.push(a);
        }
    }
    out
}

fn is_assertion(lang: Lang, code: &str) -> bool {
    match lang {
        Lang::Rust => RUST_ASSERT.is_match(code),
        Lang::Python => PY_ASSERT.is_match(code),
        Lang::JavaScript => JS_ASSERT.is_match(code),
        Lang::Go => GO_ASSERT.is_match(code),
        Lang::CLike | Lang::Hash | Lang::Plain => false,
    }
}

/// The first old-side line from which a Rust file is test code (its `#[cfg(test)]` or first
/// test attribute); None when not known.
fn rust_tests_from(ctx: &FileContext<'_>, old_tests: &[TestDecl]) -> Option<u32> {
    let module = ctx
        .old
        .numbers()
        .into_iter()
        .find(|&n| RUST_TEST_MOD.is_match(ctx.old.code(n)));
    let first_test = old_tests.iter().map(|t| t.attr.unwrap_or(t.line)).min();
    match (module, first_test) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn assertions(
    ctx: &FileContext<'_>,
    old_tests: &[TestDecl],
    removed_test_blocks: &[(usize, usize)],
) -> Vec<Annotation> {
    let lang = ctx.lang;
    let test_file = paths::is_test_file(ctx.path)
        || ctx
            .file
            .old_path
            .as_deref()
            .is_some_and(paths::is_test_file);
    let tests_from = (lang == Lang::Rust)
        .then(|| rust_tests_from(ctx, old_tests))
        .flatten();
    let mut out = Vec::new();
    for hunk in &ctx.file.hunks {
        let in_tests = |n: u32| {
            test_file
                || (lang == Lang::Rust
                    && (tests_from.is_some_and(|from| n >= from)
                        || hunk.header.contains("mod tests")))
        };
        let added: Vec<&str> = hunk
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Added)
            .map(|l| l.text.trim())
            .collect();
        let any_added = hunk.lines.iter().any(|l| {
            l.kind == LineKind::Added
                && l.new_no
                    .is_some_and(|n| is_assertion(lang, ctx.new.code(n)))
        });
        if any_added {
            continue;
        }
        let removed: Vec<u32> = hunk
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Removed && !added.contains(&l.text.trim()))
            .filter_map(|l| l.old_no)
            .filter(|&n| in_tests(n) && is_assertion(lang, ctx.old.code(n)))
            .filter(|&n| {
                block_of(ctx.file, n, true).is_none_or(|b| !removed_test_blocks.contains(&b))
            })
            .collect();
        let (Some(&first), Some(&last)) = (removed.first(), removed.last()) else {
            continue;
        };
        let count = removed.len();
        let plural = if count == 1 { "line" } else { "lines" };
        let mut a = ctx.annotation(
            AnnotationKind::TestWeakened,
            Severity::Risk,
            Some((first, last)),
            true,
            format!("{count} assertion {plural} removed and none added: the test checks less"),
        );
        a.symbol = old_tests
            .iter()
            .rev()
            .find(|t| t.line <= first)
            .map(|t| t.name.clone());
        out.push(a);
    }
    out
}

/// Which way a numeric setting weakens the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// A coverage threshold: lower is weaker.
    Coverage,
    /// A tolerance: higher is weaker.
    Tolerance,
}

fn setting_kind(key: &str, coverage_file: bool, test_code: bool) -> Option<Direction> {
    let w = words(key);
    let has = |x: &str| w.iter().any(|v| v == x);
    let fail_under = w.windows(2).any(|p| p[0] == "fail" && p[1] == "under");
    if fail_under || w.iter().any(|v| v.starts_with("cov")) {
        return Some(Direction::Coverage);
    }
    if coverage_file
        && matches!(
            w.last().map(String::as_str),
            Some("branches" | "functions" | "lines" | "statements")
        )
    {
        return Some(Direction::Coverage);
    }
    let last = w.last().map(String::as_str);
    if test_code
        && (matches!(
            last,
            Some("tolerance" | "tol" | "rtol" | "atol" | "epsilon" | "eps" | "ulps")
        ) || (has("max") && has("relative")))
    {
        return Some(Direction::Tolerance);
    }
    None
}

/// Numeric settings on a line: (normalised key, key as written, value as written, value).
fn settings(line: &str) -> Vec<(String, String, String, f64)> {
    SETTING
        .captures_iter(line)
        .filter_map(|c| {
            let key = c.name("key")?.as_str();
            let value = c.name("value")?.as_str();
            let number: f64 = value.parse().ok()?;
            let norm: String = key
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect();
            number
                .is_finite()
                .then(|| (norm, key.to_string(), value.to_string(), number))
        })
        .collect()
}

fn thresholds(ctx: &FileContext<'_>) -> Vec<Annotation> {
    let mentions = |t: Option<&str>| t.is_some_and(|t| t.to_ascii_lowercase().contains("coverage"));
    let coverage_file = mentions(ctx.base)
        || mentions(ctx.head)
        || ctx
            .file
            .hunks
            .iter()
            .flat_map(|h| &h.lines)
            .any(|l| l.text.to_ascii_lowercase().contains("coverage"));
    let test_code = paths::is_test_file(ctx.path) || ctx.lang == Lang::Rust;
    let mut out = Vec::new();
    for hunk in &ctx.file.hunks {
        let side = |kind: LineKind, old_side: bool| {
            let view = ctx.view(old_side);
            hunk.lines
                .iter()
                .filter(move |l| l.kind == kind)
                .filter_map(move |l| side_no(l, old_side))
                .flat_map(move |n| {
                    settings(view.uncommented(n)).into_iter().filter_map(
                        move |(norm, key, raw, v)| {
                            setting_kind(&key, coverage_file, test_code)
                                .map(|d| (n, norm, key, raw, v, d))
                        },
                    )
                })
                .collect::<Vec<_>>()
        };
        let mut added = side(LineKind::Added, false);
        let removed = side(LineKind::Removed, true);
        let mut gone = Vec::new();
        for (old_n, norm, key, old_raw, old_v, dir) in removed {
            let Some(i) = added.iter().position(|a| a.1 == norm) else {
                if dir == Direction::Coverage {
                    gone.push((old_n, key));
                }
                continue;
            };
            let (n, _, _, new_raw, new_v, _) = added.remove(i);
            let (weaker, what, verb) = match dir {
                Direction::Coverage => (new_v < old_v, "coverage threshold", "lowered"),
                Direction::Tolerance => (new_v.abs() > old_v.abs(), "tolerance", "raised"),
            };
            if weaker {
                out.push(ctx.annotation(
                    AnnotationKind::TestWeakened,
                    Severity::Risk,
                    Some((n, n)),
                    false,
                    format!("{what} `{key}` {verb} from {old_raw} to {new_raw}"),
                ));
            }
        }
        if let (Some(first), Some(last)) = (gone.first(), gone.last()) {
            let keys: Vec<&str> = gone.iter().map(|(_, k)| k.as_str()).collect();
            out.push(ctx.annotation(
                AnnotationKind::TestWeakened,
                Severity::Risk,
                Some((first.0, last.0)),
                true,
                format!("coverage threshold removed: {}", keys.join(", ")),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
