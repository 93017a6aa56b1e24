//! Whole-module tests: the masking guarantee and the property tests (no panics, lines inside
//! hunks), plus helpers the rule modules' tests share.

use proptest::prelude::*;

use super::*;
use crate::diff::from_texts;
use crate::model::{Priority, TaskId, TaskType};

/// A fixture under `tests/samples/rules/`.
pub(crate) fn sample(name: &str) -> String {
    let path = format!(
        "{}/../../tests/samples/rules/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The file rules on two versions (None: the side does not exist), as
/// (kind, line, end_line, old_side, symbol, message) for comparison.
pub(crate) type Row = (
    AnnotationKind,
    Option<u32>,
    Option<u32>,
    bool,
    Option<String>,
    String,
);

/// Run the file rules on two versions of a file and keep the annotations of `kinds`.
pub(crate) fn rows(
    kinds: &[AnnotationKind],
    old: Option<(&str, &str)>,
    new: Option<(&str, &str)>,
) -> Vec<Row> {
    let f = from_texts(
        old.map(|o| o.0),
        old.map(|o| o.1.as_bytes()),
        new.map(|n| n.0),
        new.map(|n| n.1.as_bytes()),
    )
    .unwrap();
    let got = file_rules(&f, old.map(|o| o.1), new.map(|n| n.1));
    for a in &got {
        assert!(inside_hunks(&f, a), "{a:?} is not inside a hunk of {f:#?}");
    }
    got.into_iter()
        .filter(|a| kinds.contains(&a.kind))
        .map(|a| (a.kind, a.line, a.end_line, a.old_side, a.symbol, a.message))
        .collect()
}

/// The line invariant: no line, or `line..=end_line` inside one hunk on the side named.
pub(crate) fn inside_hunks(file: &FileDiff, a: &Annotation) -> bool {
    let Some(line) = a.line else {
        return a.end_line.is_none() && !a.old_side;
    };
    let end = a.end_line.unwrap_or(line);
    line <= end
        && file.hunks.iter().any(|h| {
            let has = |n| h.lines.iter().any(|l| side_no(l, a.old_side) == Some(n));
            has(line) && has(end)
        })
}

pub(crate) fn task(title: &str) -> Task {
    Task {
        id: TaskId("t-props1".into()),
        title: title.into(),
        description: String::new(),
        body: String::new(),
        priority: Priority::Medium,
        priority_rule: "default".into(),
        task_type: TaskType::Code,
        type_rule: "default".into(),
        done: false,
        section: Vec::<String>::new().into(),
        file: "TODO.md".into(),
        line: 1,
        subtasks: Vec::new(),
        refs: Vec::new(),
        depends_on: Vec::new(),
    }
}

#[test]
fn masks_show_a_prefix_and_the_length_only() {
    assert_eq!(mask("ghp_0123456789abcdef"), "ghp_…(20 chars)");
    assert_eq!(mask("hunter22"), "hu…(8 chars)");
    assert_eq!(mask("abc"), "…(3 chars)");
    assert_eq!(mask(""), "…(0 chars)");
    assert_eq!(mask("пароль-пароль"), "пар…(13 chars)");
}

#[test]
fn no_secret_text_reaches_any_field_of_any_annotation() {
    use super::secret::tests::{aws_id, aws_secret, github, gitlab, jwt, slack};
    let generic = "Zx4Vt7Rb1Nm5Hc3F".to_string();
    let secrets = [
        github(),
        aws_id(),
        aws_secret(),
        gitlab(),
        slack(),
        jwt(),
        generic.clone(),
    ];
    // Secrets in code, comments, TODOs, test names, manifests' git URLs and versions.
    let files = [
        (
            "src/config.rs",
            format!(
                "const A: &str = \"{}\";\n// TODO rotate {}\nlet aws_secret_access_key = \"{}\";\nlet b = \"{}\";\nlet c = \"{}\";\nlet api_key = \"{generic}\";\n#[test]\nfn t_{}() {{}}\n",
                github(),
                aws_id(),
                aws_secret(),
                gitlab(),
                slack(),
                "x"
            ),
        ),
        (
            "web/login.test.ts",
            format!(
                "it(\"logs in with {}\", () => {{}});\nconst t = \"{}\";\n",
                jwt(),
                jwt()
            ),
        ),
        (
            "Cargo.toml",
            format!(
                "[dependencies]\nprivate = {{ git = \"https://bot:{}@github.com/x/y\" }}\nother = \"{}\"\n",
                github(),
                aws_id()
            ),
        ),
        (
            "requirements.txt",
            format!("pkg @ https://x.io/p.whl?token={generic}\n"),
        ),
    ];
    let mut seen = 0;
    for (path, text) in &files {
        let f = from_texts(None, None, Some(path), Some(text.as_bytes())).unwrap();
        for a in file_rules(&f, None, Some(text)) {
            seen += 1;
            let all = serde_json::to_string(&a).unwrap();
            for s in &secrets {
                assert!(!all.contains(s.as_str()), "{s} leaked in {all}");
            }
        }
    }
    // Deleted, the same files expose their test names and dependencies on the old side.
    for (path, text) in &files {
        let f = from_texts(Some(path), Some(text.as_bytes()), None, None).unwrap();
        for a in file_rules(&f, Some(text), None) {
            let all = serde_json::to_string(&a).unwrap();
            for s in &secrets {
                assert!(!all.contains(s.as_str()), "{s} leaked in {all}");
            }
        }
    }
    assert!(
        seen >= 10,
        "the fixture should trigger many annotations, got {seen}"
    );
}

/// Lines likely to trigger rules, mixed with arbitrary text.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "\\PC{0,30}",
        1 => "[ \t]{0,4}[a-z_\"'#/*{}()\\[\\]=:.!@-]{0,20}",
        4 => prop::sample::select(vec![
            "unsafe { *p }", "    unsafe fn f() {}", "#![forbid(unsafe_code)]", "x = eval(y)",
            "import \"unsafe\"", "// TODO: later", "/* FIXME", "*/", "\"\"\"", "`", "'", "\"",
            "#[test]", "#[tokio::test]", "#[ignore]", "fn t() {", "}", "    assert_eq!(a, b);",
            "def test_x():", "    assert x", "@pytest.mark.skip", "it('a', () => {",
            "it.only('a', () => {", "xit('b', () => {", "expect(a).toBe(1);", "func TestA(t *testing.T) {",
            "t.Skip()", "fail_under = 90", "fail_under = 10", "--cov-fail-under=80", "rtol = 1e-3",
            "branches: 80,", "[dependencies]", "[dev-dependencies]", "serde = \"1.0\"",
            "serde = { version = \"1.1\", features = [\"derive\"] }", "[dependencies.tokio]",
            "version = \"1\"", "{", "\"dependencies\": {", "\"left-pad\": \"^1.0.0\"",
            "requests>=2.31", "django==4.2 ; python_version < '3.12'", "-r base.txt",
            "require (", "\tgolang.org/x/sys v0.1.0 // indirect", ")", "require a.b/c v1.2.3",
            "-----BEGIN RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA", "-----END RSA PRIVATE KEY-----",
            "api_key = \"Zx4Vt7Rb1Nm5Hc3F\"", "token: q8Rk2Lm9Qz4Tv7Wb1Nc5",
            "password = \"Zx4Vt7Rb1Nm5Hc3F\" # bosun:allow-secret",
            "[project]", "dependencies = [", "  \"httpx>=0.27\",", "]",
        ]).prop_map(str::to_string),
    ]
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(
        0.85,
        (prop::collection::vec(line(), 0..24), any::<bool>()).prop_map(|(lines, end)| {
            let mut t = lines.join("\n");
            if end {
                t.push('\n');
            }
            t
        }),
    )
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "src/lib.rs", "Cargo.toml", "package.json", "requirements-dev.txt", "pyproject.toml",
            "go.mod", "tests/test_app.py", "pkg/a_test.go", "web/a.test.ts", "web/a.js",
            ".github/workflows/ci.yml", "README.md", "TODO.md", ".env", "Cargo.lock", "x.py",
        ]).prop_map(str::to_string),
        1 => "[a-zA-Z0-9_./-]{1,24}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Real diffs of arbitrary versions: no panic, every line inside a hunk, with the versions,
    /// without them, and with versions that do not match the diff.
    #[test]
    fn file_rules_keep_lines_inside_hunks(
        old_path in path(), new_path in path(), renamed in any::<bool>(),
        old in text(), new in text(),
    ) {
        let new_path = if renamed { new_path } else { old_path.clone() };
        let Ok(f) = from_texts(
            Some(&old_path), old.as_deref().map(str::as_bytes),
            Some(&new_path), new.as_deref().map(str::as_bytes),
        ) else {
            return Ok(());
        };
        for (base, head) in [
            (old.as_deref(), new.as_deref()),
            (None, None),
            (new.as_deref(), old.as_deref()),
        ] {
            for a in file_rules(&f, base, head) {
                prop_assert!(inside_hunks(&f, &a), "{a:?} outside the hunks of {f:?}");
                prop_assert_eq!(&a.path, f.path());
            }
        }
    }

    /// Diffs that no git would produce (numbers out of order, missing, kinds mixed): still no
    /// panic and no line outside the hunks.
    #[test]
    fn file_rules_survive_arbitrary_hunks(
        path in path(),
        hunks in prop::collection::vec(
            prop::collection::vec(
                (0..3u8, prop::option::of(0..40u32), prop::option::of(0..40u32), line()),
                0..12,
            ),
            0..4,
        ),
        binary in any::<bool>(),
        base in text(), head in text(),
    ) {
        let hunks: Vec<Hunk> = hunks
            .into_iter()
            .map(|lines| Hunk {
                old_start: 1,
                old_lines: 0,
                new_start: 1,
                new_lines: 0,
                header: String::new(),
                lines: lines
                    .into_iter()
                    .map(|(kind, old_no, new_no, text)| Line {
                        kind: match kind {
                            0 => LineKind::Context,
                            1 => LineKind::Added,
                            _ => LineKind::Removed,
                        },
                        old_no,
                        new_no,
                        text,
                        no_newline: false,
                    })
                    .collect(),
            })
            .collect();
        let f = FileDiff {
            old_path: Some(path.clone()),
            new_path: Some(path),
            status: crate::git::ChangeStatus::Modified,
            binary,
            mode_change: None,
            hunks,
        };
        for a in file_rules(&f, base.as_deref(), head.as_deref()) {
            prop_assert!(inside_hunks(&f, &a), "{a:?} outside the hunks of {f:?}");
        }
    }

    /// The change rules on several files and any task text: no panic, no lines.
    #[test]
    fn change_rules_never_panic(
        files in prop::collection::vec((path(), text(), text()), 0..6),
        title in "\\PC{0,40}",
        limit in 0..60usize,
    ) {
        let diff = Diff {
            files: files
                .iter()
                .filter_map(|(p, old, new)| {
                    from_texts(
                        old.as_ref().map(|_| p.as_str()),
                        old.as_deref().map(str::as_bytes),
                        new.as_ref().map(|_| p.as_str()),
                        new.as_deref().map(str::as_bytes),
                    )
                    .ok()
                })
                .collect(),
        };
        for a in change_rules(&diff, &task(&title), limit) {
            prop_assert_eq!(a.line, None);
            prop_assert!(matches!(a.kind, AnnotationKind::LargeChange | AnnotationKind::OutsideScope));
        }
    }

    /// A mask never spells out the secret it stands for.
    #[test]
    fn masks_never_show_the_whole(secret in "[A-Za-z0-9_+/=-]{8,80}") {
        prop_assert!(!mask(&secret).contains(&secret));
    }
}

mod file_level {
    use super::*;
    use crate::semantic::rules::secret::tests::{aws_id, github};

    fn kinds_lines(rows: &[Row]) -> Vec<(AnnotationKind, Option<u32>, Option<u32>)> {
        rows.iter().map(|r| (r.0, r.1, r.2)).collect()
    }

    #[test]
    fn secrets_only_on_added_lines_without_the_pragma_and_not_already_there() {
        use AnnotationKind::Secret;
        let key = github();
        let old = format!("a = 1\nold = \"{key}\"\n");
        // Removed: not reported. The same key kept elsewhere: it was already in the base.
        let new = format!("a = 2\nmoved = \"{key}\"\n");
        assert_eq!(
            rows(&[Secret], Some(("x.py", &old)), Some(("x.py", &new))),
            []
        );
        let new = "a = 1\n".to_string();
        assert_eq!(
            rows(&[Secret], Some(("x.py", &old)), Some(("x.py", &new))),
            []
        );
        // Added: reported, masked; the pragma silences it.
        let id = aws_id();
        let new = format!("a = 1\nid = \"{id}\"\nfixture = \"{id}\"  # {ALLOW_SECRET_PRAGMA}\n");
        let got = rows(&[Secret], Some(("x.py", "a = 1\n")), Some(("x.py", &new)));
        assert_eq!(
            got,
            [(
                Secret,
                Some(2),
                None,
                false,
                None,
                format!(
                    "possible AWS access key id added ({}): remove it and rotate it if it is real, or mark the line `bosun:allow-secret` if it is a fixture",
                    mask(&id)
                )
            )]
        );
    }

    #[test]
    fn test_files_get_no_exemption_but_the_pragma_works_there_too() {
        use AnnotationKind::Secret;
        let id = aws_id();
        let new = format!("KEY = \"{id}\"\n");
        let got = rows(&[Secret], None, Some(("tests/auth_test.py", &new)));
        assert_eq!(kinds_lines(&got), [(Secret, Some(1), None)]);
        let new =
            format!("KEY = \"{id}\"  # {ALLOW_SECRET_PRAGMA}: fake key for the parser test\n");
        assert_eq!(
            rows(&[Secret], None, Some(("tests/auth_test.py", &new))),
            []
        );
    }

    #[test]
    fn private_keys_span_their_block_and_env_files_need_no_quotes() {
        use AnnotationKind::Secret;
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAuN7k2\nq9Zx4Vt7Rb1Nm5Hc3F\n-----END RSA PRIVATE KEY-----\n";
        let got = rows(&[Secret], None, Some(("deploy/id_rsa", pem)));
        assert_eq!(kinds_lines(&got), [(Secret, Some(1), Some(4))]);
        assert!(
            got[0].5.starts_with("private key block (RSA) added"),
            "{}",
            got[0].5
        );
        let env = "DEBUG=1\nSTRIPE_SECRET=Zx4Vt7Rb1Nm5Hc3Fg6Wp\n";
        let got = rows(&[Secret], None, Some((".env.production", env)));
        assert_eq!(kinds_lines(&got), [(Secret, Some(2), None)]);
        // The same line in code is an expression, not a literal.
        let got = rows(&[Secret], None, Some(("src/a.py", env)));
        assert_eq!(got, []);
    }

    #[test]
    fn ci_and_binary_files_are_whole_file_annotations() {
        use AnnotationKind::{BinaryFile, CiChanged};
        let got = rows(
            &[CiChanged, BinaryFile],
            Some((".github/workflows/ci.yml", "on: push\n")),
            Some((".github/workflows/ci.yml", "on: [push, pull_request]\n")),
        );
        assert_eq!(
            got,
            [(
                CiChanged,
                None,
                None,
                false,
                None,
                "CI configuration changed (+1 −1): check what it runs, with which secrets and permissions"
                    .to_string()
            )]
        );
        let got = rows(&[CiChanged], Some(("Jenkinsfile", "a\n")), None);
        assert_eq!(kinds_lines(&got), [(CiChanged, None, None)]);
        assert_eq!(rows(&[CiChanged], None, Some(("src/ci.rs", "a\n"))), []);

        let f = from_texts(
            None,
            None,
            Some("logo.png"),
            Some(b"\x89PNG\r\n\x1a\n\0\0\0"),
        )
        .unwrap();
        assert!(f.binary);
        let got = file_rules(&f, None, None);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (
                got[0].kind,
                got[0].severity,
                got[0].line,
                got[0].message.as_str()
            ),
            (
                BinaryFile,
                Severity::Notice,
                None,
                "binary file added: its content is not reviewed here"
            )
        );
    }

    #[test]
    fn severities_follow_the_issue() {
        let new = format!(
            "unsafe {{ x() }}\n// TODO later\nlet token = \"{}\";\n#[test]\n#[ignore]\nfn t() {{}}\n",
            github()
        );
        let f = from_texts(None, None, Some("src/a.rs"), Some(new.as_bytes())).unwrap();
        let got: Vec<(AnnotationKind, Severity)> = file_rules(&f, None, Some(&new))
            .into_iter()
            .map(|a| (a.kind, a.severity))
            .collect();
        assert_eq!(
            got,
            [
                (AnnotationKind::UnsafeAdded, Severity::Risk),
                (AnnotationKind::TodoAdded, Severity::Info),
                (AnnotationKind::Secret, Severity::Risk),
                (AnnotationKind::TestWeakened, Severity::Risk),
            ]
        );
    }
}
