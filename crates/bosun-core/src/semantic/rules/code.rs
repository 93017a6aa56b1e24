//! `unsafe_added` (risk) and `todo_added` (info): added code that escapes the language's
//! safety checks, and added notes that the work is unfinished.
//!
//! `unsafe_added` reads the code part of added lines (comments and string contents blanked by
//! the lexer) and reports, per language:
//! - Rust: the `unsafe` keyword (blocks, `unsafe fn`, `unsafe impl`, `unsafe trait`,
//!   `unsafe extern`, `#[unsafe(…)]` attributes); `#![allow(unsafe_code)]` added; and, on the
//!   old side, a removed `forbid(unsafe_code)` / `deny(unsafe_code)`.
//! - Python: `eval(` / `exec(` (not as a method: `cursor.execute(` and `re.eval(` are fine),
//!   `pickle`/`marshal`/`dill` `.load(s)(`, `os.system(`, `shell=True`, and `yaml.load(` on a
//!   line that names no safe loader.
//! - JavaScript/TypeScript: `eval(` (not as a method), `new Function(`,
//!   `dangerouslySetInnerHTML`.
//! - Go: an `"unsafe"` import line, `unsafe.Pointer`/`Sizeof`/`Slice`/… uses, and
//!   `//go:linkname` directives.
//!
//! Limits: one line at a time, so `unsafe` split from its `{` by a line break is still found
//! (the keyword is enough) but a Python `eval` reached through an alias (`e = eval; e(x)`) is
//! not; a JavaScript regex literal containing `//` or quotes can hide code from the lexer;
//! C and C++ are not checked.
//!
//! `todo_added` reads the comment part of added lines (the whole line in files without a known
//! comment syntax, e.g. Markdown) for `TODO`, `FIXME`, `XXX` or `HACK` as upper-case words, and
//! the code part of Rust lines for `todo!(` / `unimplemented!(`. Task lists (`TODO.md`) are
//! skipped: their TODOs are the point.

use std::sync::LazyLock;

use regex::Regex;

use super::lex::Lang;
use super::{FileContext, SideView, net_added, paths};
use crate::model::{Annotation, AnnotationKind, Severity};

fn re(pattern: &str) -> Regex {
    // Patterns are constants of this file; the tests exercise every one.
    Regex::new(pattern).expect("code rule patterns are valid regexes")
}

static RUST_UNSAFE: LazyLock<Regex> = LazyLock::new(|| re(r"(?:^|[^\w#])unsafe\b(.*)"));
static RUST_FN: LazyLock<Regex> = LazyLock::new(|| re(r#"^\s+(?:extern\s+"[^"]*"\s+)?fn\s+(\w+)"#));
static RUST_ALLOW_UNSAFE: LazyLock<Regex> =
    LazyLock::new(|| re(r"#!?\[\s*allow\s*\([^)]*\bunsafe_code\b"));
static RUST_FORBID_UNSAFE: LazyLock<Regex> =
    LazyLock::new(|| re(r"#!?\[\s*(?:forbid|deny)\s*\([^)]*\bunsafe_code\b"));
static PY_EVAL: LazyLock<Regex> = LazyLock::new(|| re(r"(?:^|[^.\w])(eval|exec)\s*\("));
static PY_PICKLE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(pickle|cPickle|marshal|dill)\.loads?\s*\("));
static PY_SYSTEM: LazyLock<Regex> = LazyLock::new(|| re(r"\bos\.(system|popen)\s*\("));
static PY_SHELL: LazyLock<Regex> = LazyLock::new(|| re(r"\bshell\s*=\s*True\b"));
static PY_YAML: LazyLock<Regex> = LazyLock::new(|| re(r"\byaml\.load\s*\("));
static JS_EVAL: LazyLock<Regex> = LazyLock::new(|| re(r"(?:^|[^.\w$])eval\s*\("));
static JS_FUNCTION: LazyLock<Regex> = LazyLock::new(|| re(r"\bnew\s+Function\s*\("));
static JS_HTML: LazyLock<Regex> = LazyLock::new(|| re(r"\bdangerouslySetInnerHTML\b"));
static GO_IMPORT: LazyLock<Regex> =
    LazyLock::new(|| re(r#"^\s*(?:import\s+)?(?:_\s+)?"unsafe"\s*\)?\s*(?://.*)?$"#));
static GO_USE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\bunsafe\.(Pointer|Sizeof|Offsetof|Alignof|Add|Slice|SliceData|String|StringData)\b")
});
static GO_LINKNAME: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*//go:linkname\b"));
static TODO: LazyLock<Regex> = LazyLock::new(|| re(r"\b(TODO|FIXME|XXX|HACK)\b"));
static RUST_TODO: LazyLock<Regex> = LazyLock::new(|| re(r"\b(todo|unimplemented)!\s*\("));

/// What unsafe thing a line adds, and the item it names if any (`unsafe fn name`).
fn unsafe_in(lang: Lang, code: &str, raw: &str) -> Option<(String, Option<String>)> {
    match lang {
        Lang::Rust => {
            if let Some(c) = RUST_UNSAFE.captures(code) {
                let after = c.get(1).map_or("", |m| m.as_str());
                let next = after.trim_start();
                let word = next
                    .split(|ch: char| !ch.is_alphanumeric() && ch != '_')
                    .next()
                    .unwrap_or("");
                let (what, symbol) = match word {
                    "fn" | "extern" if RUST_FN.is_match(after) || word == "fn" => {
                        let name = RUST_FN
                            .captures(after)
                            .and_then(|c| c.get(1))
                            .map(|m| m.as_str().to_string());
                        ("unsafe fn", name)
                    }
                    "extern" => ("unsafe extern block", None),
                    "impl" => {
                        let head = next.split('{').next().unwrap_or(next).trim();
                        ("unsafe impl", Some(head.to_string()))
                    }
                    "trait" => ("unsafe trait", None),
                    _ if next.starts_with('(') => ("unsafe attribute", None),
                    _ => ("unsafe block", None),
                };
                return Some((what.to_string(), symbol));
            }
            RUST_ALLOW_UNSAFE
                .is_match(code)
                .then(|| ("`allow(unsafe_code)`".to_string(), None))
        }
        Lang::Python => {
            let what = if let Some(c) = PY_EVAL.captures(code) {
                format!("`{}()` call", &c[1])
            } else if let Some(c) = PY_PICKLE.captures(code) {
                format!("unpickling with `{}`", &c[1])
            } else if let Some(c) = PY_SYSTEM.captures(code) {
                format!("`os.{}()` call", &c[1])
            } else if PY_SHELL.is_match(code) {
                "subprocess with `shell=True`".to_string()
            } else if PY_YAML.is_match(code)
                && !raw.contains("SafeLoader")
                && !raw.contains("BaseLoader")
            {
                "`yaml.load` without a safe loader".to_string()
            } else {
                return None;
            };
            Some((what, None))
        }
        Lang::JavaScript => {
            let what = if JS_EVAL.is_match(code) {
                "`eval()` call"
            } else if JS_FUNCTION.is_match(code) {
                "`new Function()`"
            } else if JS_HTML.is_match(code) {
                "`dangerouslySetInnerHTML`"
            } else {
                return None;
            };
            Some((what.to_string(), None))
        }
        Lang::Go => {
            let what = if GO_IMPORT.is_match(raw) && code.trim_start().starts_with(['i', '"', '_'])
            {
                "`unsafe` import".to_string()
            } else if let Some(c) = GO_USE.captures(code) {
                format!("`unsafe.{}`", &c[1])
            } else if GO_LINKNAME.is_match(raw) {
                "`//go:linkname` directive".to_string()
            } else {
                return None;
            };
            Some((what, None))
        }
        Lang::CLike | Lang::Hash | Lang::Plain => None,
    }
}

/// The rule (see the module docs).
pub(crate) fn unsafe_added(ctx: &FileContext<'_>) -> Vec<Annotation> {
    let mut out = Vec::new();
    for hunk in &ctx.file.hunks {
        let hits = net_added(
            hunk,
            |l| unsafe_in(ctx.lang, ctx.new.code(l.new_no?), &l.text),
            |l| unsafe_in(ctx.lang, ctx.old.code(l.old_no?), &l.text),
        );
        for (n, (what, symbol)) in hits {
            let mut a = ctx.annotation(
                AnnotationKind::UnsafeAdded,
                Severity::Risk,
                Some((n, n)),
                false,
                format!(
                    "{what} added: the compiler and runtime no longer check this; review it by hand"
                ),
            );
            a.symbol = symbol;
            out.push(a);
        }
        if ctx.lang == Lang::Rust {
            // A removed `forbid(unsafe_code)` lets unsafe code in later: report it on the old
            // side, unless the hunk puts it back.
            let forbids = |view: &SideView<'_>, n: Option<u32>| {
                n.is_some_and(|n| RUST_FORBID_UNSAFE.is_match(view.code(n)))
            };
            let added = hunk
                .lines
                .iter()
                .filter(|l| forbids(&ctx.new, l.new_no) && l.old_no.is_none())
                .count();
            let removed: Vec<u32> = hunk
                .lines
                .iter()
                .filter(|l| l.new_no.is_none() && forbids(&ctx.old, l.old_no))
                .filter_map(|l| l.old_no)
                .collect();
            for &n in removed.iter().skip(added) {
                out.push(ctx.annotation(
                    AnnotationKind::UnsafeAdded,
                    Severity::Risk,
                    Some((n, n)),
                    true,
                    "`forbid(unsafe_code)` removed: unsafe code is no longer rejected by the compiler".to_string(),
                ));
            }
        }
    }
    out
}

/// What unfinished-work marker line `n` of a side holds.
fn todo_in(lang: Lang, view: &SideView<'_>, n: u32) -> Option<String> {
    if let Some(c) = TODO.captures(view.comment(n)) {
        return Some(format!("{} comment", &c[1]));
    }
    if lang == Lang::Rust
        && let Some(c) = RUST_TODO.captures(view.code(n))
    {
        return Some(format!("`{}!()`", &c[1]));
    }
    None
}

/// The rule (see the module docs).
pub(crate) fn todo_added(ctx: &FileContext<'_>) -> Vec<Annotation> {
    if paths::is_task_list(ctx.path) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for hunk in &ctx.file.hunks {
        let hits = net_added(
            hunk,
            |l| todo_in(ctx.lang, &ctx.new, l.new_no?),
            |l| todo_in(ctx.lang, &ctx.old, l.old_no?),
        );
        for (n, what) in hits {
            out.push(ctx.annotation(
                AnnotationKind::TodoAdded,
                Severity::Info,
                Some((n, n)),
                false,
                format!("{what} added: work left unfinished"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::from_texts;
    use crate::semantic::rules::file_rules;

    /// (kind, line, old_side, symbol, message start) of the rules' annotations of one kind.
    fn run(
        kind: AnnotationKind,
        path: &str,
        old: &str,
        new: &str,
    ) -> Vec<(Option<u32>, bool, Option<String>, String)> {
        let f = from_texts(
            Some(path),
            Some(old.as_bytes()),
            Some(path),
            Some(new.as_bytes()),
        )
        .unwrap();
        file_rules(&f, Some(old), Some(new))
            .into_iter()
            .filter(|a| a.kind == kind)
            .map(|a| {
                let what = a.message.split(" added").next().unwrap_or("").to_string();
                (a.line, a.old_side, a.symbol, what)
            })
            .collect()
    }

    fn fixture(name: &str) -> &'static str {
        match name {
            "unsafe.base.rs" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/samples/rules/unsafe.base.rs"
            )),
            "unsafe.head.rs" => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/samples/rules/unsafe.head.rs"
            )),
            _ => unreachable!("unknown fixture {name}"),
        }
    }

    #[test]
    fn rust_unsafe_in_code_not_in_comments_or_strings() {
        let got = run(
            AnnotationKind::UnsafeAdded,
            "src/ffi.rs",
            fixture("unsafe.base.rs"),
            fixture("unsafe.head.rs"),
        );
        let s = |x: &str| x.to_string();
        assert_eq!(
            got,
            [
                (
                    Some(1),
                    true,
                    None,
                    s(
                        "`forbid(unsafe_code)` removed: unsafe code is no longer rejected by the compiler"
                    )
                ),
                (Some(5), false, Some(s("read_raw")), s("unsafe fn")),
                (Some(6), false, None, s("unsafe block")),
                (
                    Some(15),
                    false,
                    Some(s("impl Send for Handle")),
                    s("unsafe impl")
                ),
                (Some(17), false, None, s("unsafe extern block")),
                (Some(21), false, None, s("unsafe attribute")),
            ]
        );
    }

    #[test]
    fn an_edited_unsafe_line_is_not_new() {
        let old = "fn f(p: *const u8) -> u8 {\n    unsafe { *p }\n}\n";
        let new = "fn f(p: *const u8) -> u8 {\n    unsafe { p.read() }\n}\n";
        assert_eq!(run(AnnotationKind::UnsafeAdded, "a.rs", old, new), []);
        let reindented = "fn f(p: *const u8) -> u8 {\n        unsafe { *p }\n}\n";
        assert_eq!(
            run(AnnotationKind::UnsafeAdded, "a.rs", old, reindented),
            []
        );
    }

    #[test]
    fn python_javascript_and_go_sinks() {
        let s = |x: &str| x.to_string();
        let py_new = "import pickle, os, yaml\nx = eval(src)\ncursor.execute(q)\nobj = pickle.loads(b)\nos.system(cmd)\nrun(c, shell=True)\nyaml.load(f)\nyaml.load(f, Loader=yaml.SafeLoader)\n# eval(x)\ns = 'exec(x)'\n";
        assert_eq!(
            run(AnnotationKind::UnsafeAdded, "app/x.py", "", py_new),
            [
                (Some(2), false, None, s("`eval()` call")),
                (Some(4), false, None, s("unpickling with `pickle`")),
                (Some(5), false, None, s("`os.system()` call")),
                (Some(6), false, None, s("subprocess with `shell=True`")),
                (Some(7), false, None, s("`yaml.load` without a safe loader")),
            ]
        );
        let js_new = "const f = eval(code);\nconst g = new Function('a', body);\nobj.eval(x);\n// eval(x)\n<div dangerouslySetInnerHTML={{ __html: h }} />\n";
        assert_eq!(
            run(AnnotationKind::UnsafeAdded, "web/a.tsx", "", js_new),
            [
                (Some(1), false, None, s("`eval()` call")),
                (Some(2), false, None, s("`new Function()`")),
                (Some(5), false, None, s("`dangerouslySetInnerHTML`")),
            ]
        );
        let go_new = "package p\n\nimport (\n\t\"fmt\"\n\t\"unsafe\"\n)\n\nvar s = \"unsafe\"\n//go:linkname now runtime.nanotime\nfunc f(p *int) uintptr { return uintptr(unsafe.Pointer(p)) }\n";
        assert_eq!(
            run(AnnotationKind::UnsafeAdded, "p/a.go", "", go_new),
            [
                (Some(5), false, None, s("`unsafe` import")),
                (Some(9), false, None, s("`//go:linkname` directive")),
                (Some(10), false, None, s("`unsafe.Pointer`")),
            ]
        );
    }

    #[test]
    fn todos_in_comments_only_and_not_in_task_lists() {
        let s = |x: &str| x.to_string();
        let old = "fn a() {}\n// TODO: old one\n";
        let new = "fn a() {\n    todo!()\n}\n// TODO: old one, reworded\nlet s = \"TODO\";\n/* FIXME later */\n// todo lowercase\n// XXXL size\n";
        assert_eq!(
            run(AnnotationKind::TodoAdded, "src/a.rs", old, new),
            [
                (Some(2), false, None, s("`todo!()`")),
                (Some(6), false, None, s("FIXME comment")),
            ]
        );
        assert_eq!(
            run(
                AnnotationKind::TodoAdded,
                "docs/guide.md",
                "",
                "# Guide\n\nTODO: write\n"
            ),
            [(Some(3), false, None, s("TODO comment"))]
        );
        assert_eq!(
            run(AnnotationKind::TodoAdded, "TODO.md", "", "- [ ] TODO: x\n"),
            []
        );
    }
}
