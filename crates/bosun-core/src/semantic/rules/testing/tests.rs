use super::*;
use crate::semantic::rules::tests::{Row, rows, sample};

use AnnotationKind::{TestRemoved, TestWeakened};

fn pair(old: &str, new: &str, path: &str) -> Vec<Row> {
    rows(
        &[TestRemoved, TestWeakened],
        Some((path, &sample(old))),
        Some((path, &sample(new))),
    )
}

fn row(
    kind: AnnotationKind,
    line: u32,
    end: Option<u32>,
    old_side: bool,
    symbol: Option<&str>,
    message: &str,
) -> Row {
    (
        kind,
        Some(line),
        end,
        old_side,
        symbol.map(str::to_string),
        message.to_string(),
    )
}

#[test]
fn rust_tests_removed_ignored_and_emptied() {
    assert_eq!(
        pair("tests.base.rs", "tests.head.rs", "src/calc.rs"),
        [
            row(
                TestWeakened,
                11,
                Some(12),
                true,
                Some("adds_small"),
                "2 assertion lines removed and none added: the test checks less"
            ),
            row(
                TestWeakened,
                15,
                None,
                false,
                Some("adds_negative"),
                "`#[ignore]` added: the test no longer runs"
            ),
            row(
                TestRemoved,
                21,
                None,
                true,
                Some("adds_async"),
                "test `adds_async` removed"
            ),
            row(
                TestRemoved,
                30,
                None,
                true,
                Some("overflow"),
                "test `overflow` is no longer a test: its test attribute was removed"
            ),
        ]
    );
}

#[test]
fn python_tests_skipped_removed_and_emptied() {
    assert_eq!(
        pair("test_app.base.py", "test_app.head.py", "tests/test_app.py"),
        [
            row(
                TestWeakened,
                4,
                None,
                false,
                Some("test_login"),
                "`@pytest.mark.xfail` added: a failure of the test no longer fails the suite"
            ),
            row(
                TestRemoved,
                8,
                None,
                true,
                Some("test_logout"),
                "test `test_logout` removed"
            ),
            row(
                TestWeakened,
                10,
                None,
                false,
                Some("test_add"),
                "`@pytest.mark.skip` added: the test no longer runs"
            ),
            row(
                TestWeakened,
                17,
                None,
                true,
                Some("test_remove"),
                "1 assertion line removed and none added: the test checks less"
            ),
        ]
    );
    // The same edits outside a test file are not about tests.
    assert_eq!(
        pair("test_app.base.py", "test_app.head.py", "app/session.py"),
        [
            row(
                TestWeakened,
                4,
                None,
                false,
                None,
                "`@pytest.mark.xfail` added: a failure of the test no longer fails the suite"
            ),
            row(
                TestWeakened,
                10,
                None,
                false,
                None,
                "`@pytest.mark.skip` added: the test no longer runs"
            )
        ]
    );
}

#[test]
fn javascript_focus_skip_and_removal() {
    assert_eq!(
        pair(
            "button.base.test.ts",
            "button.head.test.ts",
            "web/button.test.ts"
        ),
        [
            row(
                TestWeakened,
                4,
                None,
                false,
                Some("renders"),
                "`.only` added: only this runs, every other test in the file is skipped"
            ),
            row(
                TestWeakened,
                8,
                None,
                false,
                Some("clicks"),
                "`xit`/`xdescribe` added: the test no longer runs"
            ),
            row(
                TestRemoved,
                12,
                None,
                true,
                Some("disables"),
                "test `disables` removed"
            ),
        ]
    );
}

#[test]
fn go_skip_and_removal() {
    assert_eq!(
        pair(
            "calc_test.base.go",
            "calc_test.head.go",
            "calc/calc_test.go"
        ),
        [
            row(
                TestWeakened,
                6,
                None,
                false,
                Some("TestAdd"),
                "`t.Skip` added: the test stops before its checks"
            ),
            row(
                TestRemoved,
                11,
                None,
                true,
                Some("TestSub"),
                "test `TestSub` removed"
            ),
        ]
    );
    // Not a test file: `func TestX` is an ordinary function there.
    assert_eq!(
        pair("calc_test.base.go", "calc_test.head.go", "calc/calc.go"),
        []
    );
}

#[test]
fn coverage_thresholds_lowered_or_removed() {
    assert_eq!(
        pair("coverage.base.toml", "coverage.head.toml", "pyproject.toml"),
        [row(
            TestWeakened,
            2,
            None,
            false,
            None,
            "coverage threshold `fail_under` lowered from 90 to 80.5"
        )]
    );
    assert_eq!(
        pair(
            "jest.config.base.js",
            "jest.config.head.js",
            "jest.config.js"
        ),
        [
            row(
                TestWeakened,
                4,
                None,
                false,
                None,
                "coverage threshold `branches` lowered from 80 to 70"
            ),
            row(
                TestWeakened,
                6,
                None,
                true,
                None,
                "coverage threshold removed: lines"
            ),
        ]
    );
}

#[test]
fn tolerances_raised_in_test_code() {
    let old = "def test_close():\n    assert np.allclose(a, b, rtol=1e-9)\n";
    let new = "def test_close():\n    assert np.allclose(a, b, rtol=1e-3)\n";
    assert_eq!(
        rows(
            &[TestWeakened],
            Some(("tests/test_num.py", old)),
            Some(("tests/test_num.py", new))
        ),
        [row(
            TestWeakened,
            2,
            None,
            false,
            None,
            "tolerance `rtol` raised from 1e-9 to 1e-3"
        )]
    );
    // Tightened, or outside test code: nothing.
    assert_eq!(
        rows(
            &[TestWeakened],
            Some(("tests/test_num.py", new)),
            Some(("tests/test_num.py", old))
        ),
        []
    );
    assert_eq!(
        rows(
            &[TestWeakened],
            Some(("app/num.py", old)),
            Some(("app/num.py", new))
        ),
        []
    );
}

#[test]
fn deleted_test_files_are_one_annotation() {
    let base = sample("test_app.base.py");
    let got = rows(
        &[TestRemoved, TestWeakened],
        Some(("tests/test_app.py", &base)),
        None,
    );
    assert_eq!(
        got,
        [(
            TestRemoved,
            None,
            None,
            false,
            None,
            "test file deleted (4 tests: test_login, test_logout, test_add, … (1 more))"
                .to_string()
        )]
    );
    let base = sample("tests.base.rs");
    let got = rows(&[TestRemoved], Some(("src/calc.rs", &base)), None);
    assert_eq!(
        got[0].5,
        "file with tests deleted (5 tests: adds_small, adds_negative, adds_async, … (2 more))"
    );
    // A deleted source file without tests is not a test removal.
    assert_eq!(
        rows(
            &[TestRemoved],
            Some(("src/x.py", "def f():\n    pass\n")),
            None
        ),
        []
    );
}

#[test]
fn moved_or_edited_markers_and_assertions_are_not_new() {
    let old = "#[test]\n#[ignore]\nfn a() {\n    assert_eq!(x(), 1);\n}\n";
    let new = "#[test]\n#[ignore = \"slow\"]\nfn a() {\n    assert_eq!(x(), 2);\n}\n";
    assert_eq!(
        rows(
            &[TestRemoved, TestWeakened],
            Some(("src/a.rs", old)),
            Some(("src/a.rs", new))
        ),
        []
    );
    // Assertions in production code are not tests.
    let old = "fn f(x: u8) {\n    assert!(x > 0);\n    g(x);\n}\n";
    let new = "fn f(x: u8) {\n    g(x);\n}\n";
    assert_eq!(
        rows(
            &[TestWeakened],
            Some(("src/a.rs", old)),
            Some(("src/a.rs", new))
        ),
        []
    );
}
