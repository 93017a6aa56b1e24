//! Python's own parser for what tree-sitter's accepts: an inconsistent dedent (a line that
//! returns to no enclosing indentation level) or tabs and spaces mixed ambiguously parse
//! fine with the grammar, and fail on import. When a Python interpreter is on `PATH`, the
//! changed Python files of a change are given to it in one process (`ast.parse`: parsed,
//! never run or compiled to bytecode; `-I -S`: no site, no environment, no current
//! directory on its path), and its `IndentationError`s and `TabError`s that the base side
//! did not have become `syntax_error`s. Only those: a newer Python grammar than the
//! interpreter's (a `match` statement on an old Python) must not read as an error. Without
//! an interpreter, or when it does not answer within [`TIMEOUT`], nothing is added.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::syntax::{self, ErrorSite};
use super::{Language, annotate};
use crate::diff::FileDiff;
use crate::model::Annotation;

/// How long the interpreter may take for one change.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Reads a JSON list of sources on stdin, prints for each null or
/// `[class, message, line, column]` of its indentation error.
const SCRIPT: &str = r#"
import ast, json, sys
out = []
for src in json.load(sys.stdin):
    try:
        ast.parse(src)
        out.append(None)
    except IndentationError as e:
        out.append([type(e).__name__, str(e.msg), e.lineno or 1, e.offset or 1])
    except BaseException:
        out.append(None)
json.dump(out, sys.stdout)
"#;

/// An indentation error: the interpreter's message, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndentError {
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// The interpreter to use: `python3`, else `python`, found once.
fn interpreter() -> Option<&'static str> {
    static FOUND: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        ["python3", "python"].into_iter().find(|name| {
            Command::new(name)
                .args(["-I", "-S", "-c", "import ast"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    })
}

/// Each source's indentation error, in order; None when there is no interpreter or it
/// failed, ran out of time or answered something else.
pub fn indentation_errors(sources: &[&str]) -> Option<Vec<Option<IndentError>>> {
    if sources.is_empty() {
        return Some(Vec::new());
    }
    let python = interpreter()?;
    let input = serde_json::to_vec(sources).ok()?;
    let mut child = Command::new(python)
        .args(["-I", "-S", "-B", "-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    // Written from a thread: a large input fills the pipe before the child reads it all,
    // and the answer is read here meanwhile.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).map(|_| out)
    });
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let _ = writer.join();
    let out = reader.join().ok()?.ok()?;
    let answers: Vec<Option<(String, String, u32, u32)>> = serde_json::from_slice(&out).ok()?;
    if answers.len() != sources.len() {
        return None;
    }
    Some(
        answers
            .into_iter()
            .map(|a| {
                a.map(|(_, message, line, column)| IndentError {
                    message,
                    line,
                    column,
                })
            })
            .collect(),
    )
}

/// The `syntax_error` annotations for indentation errors new on head in the change's Python
/// files; `files` gives each file with its base and head text. One interpreter run for all.
pub fn new_indentation_errors(
    files: &[(&FileDiff, Option<&str>, Option<&str>)],
) -> Vec<Annotation> {
    let python: Vec<&(&FileDiff, Option<&str>, Option<&str>)> = files
        .iter()
        .filter(|(f, _, head)| {
            head.is_some()
                && f.new_path.as_deref().and_then(Language::for_path) == Some(Language::Python)
        })
        .collect();
    let mut texts = Vec::new();
    for (_, base, head) in &python {
        texts.extend(head.iter().copied());
        texts.extend(base.iter().copied());
    }
    let Some(mut answers) = indentation_errors(&texts).map(Vec::into_iter) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (file, base, head) in python {
        let Some(head) = *head else { continue };
        let on_head = answers.next().flatten();
        let on_base = base.and_then(|_| answers.next().flatten());
        let Some(e) = on_head else { continue };
        // The interpreter puts the column at the line's end; an indentation error is where
        // the line's code starts.
        let site = |src: &str, e: &IndentError| {
            let text = src
                .lines()
                .nth(e.line.saturating_sub(1) as usize)
                .unwrap_or("");
            let indent = text.chars().take_while(|c| c.is_whitespace()).count() as u32;
            ErrorSite::reported(src, e.line, indent + 1, &e.message)
        };
        let head_sites = vec![site(head, &e)];
        let base_sites: Vec<ErrorSite> = match (base, &on_base) {
            (Some(src), Some(b)) => vec![site(src, b)],
            _ => Vec::new(),
        };
        let new = syntax::new_on_head(&base_sites, head_sites);
        out.extend(annotate::reported_errors(file, head, new));
    }
    out
}
