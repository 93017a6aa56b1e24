//! Property tests: annotating never panics, whatever the two versions hold, and every
//! annotation points inside a hunk of its side.

use proptest::prelude::*;

use super::super::*;
use crate::diff::{self, FileDiff};

/// `line..=end_line` lies inside one hunk on the annotation's side.
fn inside_a_hunk(file: &FileDiff, a: &Annotation) -> bool {
    let Some(line) = a.line else {
        return true;
    };
    let end = a.end_line.unwrap_or(line);
    file.hunks.iter().any(|h| {
        let (start, len) = if a.old_side {
            (h.old_start, h.old_lines)
        } else {
            (h.new_start, h.new_lines)
        };
        len > 0 && start <= line && line <= end && end < start + len
    })
}

fn check(path: &str, base: &str, head: &str) -> Result<(), TestCaseError> {
    let file = diff::from_texts(
        Some(path),
        Some(base.as_bytes()),
        Some(path),
        Some(head.as_bytes()),
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for a in annotate_file(&file, Some(base), Some(head)) {
        prop_assert!(
            inside_a_hunk(&file, &a),
            "{a:?} outside the hunks of\n{base}\n---\n{head}"
        );
    }
    // Added and deleted files too.
    let added = diff::from_texts(None, None, Some(path), Some(head.as_bytes()))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for a in annotate_file(&added, None, Some(head)) {
        prop_assert!(
            inside_a_hunk(&added, &a),
            "{a:?} outside the hunks of an added file"
        );
    }
    let deleted = diff::from_texts(Some(path), Some(base.as_bytes()), None, None)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for a in annotate_file(&deleted, Some(base), None) {
        prop_assert!(
            inside_a_hunk(&deleted, &a),
            "{a:?} outside the hunks of a deleted file"
        );
    }
    let _ = new_syntax_errors(&file, Some(base), Some(head));
    Ok(())
}

/// Lines that look like code of each language, to assemble into files that parse partly.
fn fragments(lang: Language) -> &'static [&'static str] {
    match lang {
        Language::Rust => &[
            "pub fn load(path: &Path) -> Config {",
            "fn helper(x: u32) -> u32 {",
            "    x + 1",
            "}",
            "impl Config {",
            "impl Display for Config {",
            "pub struct Config {",
            "    pub name: String,",
            "    retries: u32,",
            "pub trait Shape {",
            "    fn area(&self) -> f64;",
            "pub mod net {",
            "mod tcp;",
            "#[derive(Debug)]",
            "/// docs",
            "// comment",
            "/* block",
            "*/",
            "let x = ;",
            "    \"a string",
            "const MAX: usize = 3;",
            "pub enum Mode { A, B }",
            "",
        ],
        Language::Python => &[
            "def load(path, strict=False):",
            "    return path",
            "class Parser:",
            "    def parse(self):",
            "        pass",
            "    @property",
            "    def _size(self):",
            "__all__ = [\"load\", \"_size\"]",
            "# comment",
            "\"\"\"doc",
            "if x:",
            "  y = (1,",
            "",
            "\tdef inner():",
        ],
        Language::JavaScript | Language::TypeScript | Language::Tsx => &[
            "export function load(path) {",
            "function helper(x) {",
            "  return x + 1;",
            "}",
            "export const handler = async (req, res) => {",
            "};",
            "class Widget {",
            "  onClick = () => {",
            "  render() { return <div>{this.x}</div>; }",
            "export interface Props {",
            "  label: string;",
            "export type Size = \"s\" | \"m\";",
            "namespace Shapes {",
            "export { helper as help };",
            "export default helper;",
            "// comment",
            "/* block",
            "*/",
            "`template ${",
            "",
        ],
        Language::Go => &[
            "package server",
            "func New(addr string) *Server {",
            "func (s *Server) Start() error {",
            "\treturn nil",
            "}",
            "type Server struct {",
            "\tAddr string",
            "\tconn net.Conn",
            "type Handler interface {",
            "const Version = \"1.0\"",
            "var (",
            ")",
            "// comment",
            "/* block",
            "*/",
            "",
        ],
    }
}

fn ext(lang: Language) -> &'static str {
    match lang {
        Language::Rust => "rs",
        Language::Python => "py",
        Language::JavaScript => "js",
        Language::TypeScript => "ts",
        Language::Tsx => "tsx",
        Language::Go => "go",
    }
}

/// A base made of fragments, and a head that drops, repeats, inserts and re-indents lines.
fn code_pair() -> impl Strategy<Value = (Language, String, String)> {
    prop::sample::select(Language::ALL.to_vec()).prop_flat_map(|lang| {
        let lines = fragments(lang);
        let line = prop::sample::select(lines.to_vec());
        (
            Just(lang),
            prop::collection::vec(line.clone(), 0..40),
            prop::collection::vec((0u8..6, line), 0..40),
        )
            .prop_map(|(lang, base, edits)| {
                let mut head: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                for (i, (op, text)) in edits.into_iter().enumerate() {
                    let at = if head.is_empty() {
                        0
                    } else {
                        i * 7 % head.len()
                    };
                    match op {
                        0 if !head.is_empty() => {
                            head.remove(at);
                        }
                        1 => head.insert(at, text.to_string()),
                        2 if !head.is_empty() => head[at] = format!("    {}", head[at]),
                        3 if !head.is_empty() => head[at] = head[at].trim_start().to_string(),
                        4 if !head.is_empty() => head[at] = text.to_string(),
                        _ => {}
                    }
                }
                (lang, base.join("\n"), head.join("\n"))
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn code_like_pairs_annotate_inside_hunks((lang, base, head) in code_pair()) {
        check(&format!("src/sample.{}", ext(lang)), &base, &head)?;
    }

    #[test]
    fn arbitrary_text_annotates_inside_hunks(
        lang in prop::sample::select(Language::ALL.to_vec()),
        base in "\\PC{0,400}",
        head in "[\\PC\n\r\t]{0,400}",
    ) {
        check(&format!("x.{}", ext(lang)), &base, &head)?;
    }

    #[test]
    fn arbitrary_bytes_annotate_inside_hunks(
        lang in prop::sample::select(Language::ALL.to_vec()),
        base in prop::collection::vec(any::<u8>(), 0..300),
        head in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let (base, head) = (String::from_utf8_lossy(&base), String::from_utf8_lossy(&head));
        check(&format!("x.{}", ext(lang)), &base, &head)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A diff that does not belong to the sources (a caller's bug) still gives annotations
    /// inside its hunks, and no panic.
    #[test]
    fn mismatched_diff_and_sources_stay_inside_hunks(
        (lang, a, b) in code_pair(),
        (_, c, d) in code_pair(),
    ) {
        let path = format!("m.{}", ext(lang));
        let file = diff::from_texts(Some(&path), Some(a.as_bytes()), Some(&path), Some(b.as_bytes()))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for x in annotate_file(&file, Some(&c), Some(&d)) {
            prop_assert!(inside_a_hunk(&file, &x), "{x:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Re-parsing base's edited tree finds what a fresh parse of head finds.
    #[test]
    fn incremental_parse_agrees_with_a_fresh_one((lang, base, head) in code_pair()) {
        let path = format!("src/sample.{}", ext(lang));
        let file = diff::from_texts(Some(&path), Some(base.as_bytes()), Some(&path), Some(head.as_bytes()))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            super::super::annotate::annotate(&file, Some(&base), Some(&head), true),
            super::super::annotate::annotate(&file, Some(&base), Some(&head), false)
        );
    }
}
