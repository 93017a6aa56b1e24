//! Syntax errors in one version of a file, and which of the head's are new.
//!
//! Line numbers move when a change adds or removes lines above an error, so an error is
//! matched by what it looks like instead: whether it is an ERROR node or a MISSING token
//! (and which token), and the text of the line it starts on with whitespace collapsed. An
//! error on head is new unless base has an error with the same key that is not already
//! matched (a multiset: two identical broken lines on head against one on base leave one
//! new).

use std::collections::HashMap;

use tree_sitter::{Node, Tree};

use super::SyntaxError;

/// Snippets longer than this are cut (with `…`).
const SNIPPET_CHARS: usize = 80;

/// A syntax error with what telling old from new needs.
#[derive(Debug, Clone)]
pub(super) struct ErrorSite {
    /// The public description.
    pub error: SyntaxError,
    /// For a MISSING node: the token the parser expected (`;`, `)`, `identifier`).
    pub expected: Option<&'static str>,
    /// What another checker said the error is (the Python interpreter's
    /// `unindent does not match any outer indentation level`).
    pub reason: Option<String>,
    /// Last line of an ERROR node (text the parser skipped); the line of a MISSING one.
    pub end_line: u32,
    /// What identifies the error across versions.
    key: String,
}

/// Rust nodes holding macro input: token trees that only the macro gives a meaning to.
const MACRO_TOKENS: [&str; 3] = ["token_tree", "token_tree_pattern", "macro_rule"];

/// Every syntax error in `tree`: the outermost ERROR nodes and the MISSING tokens outside
/// them (and outside macro token trees), in source order.
pub(super) fn collect(src: &str, tree: &Tree) -> Vec<ErrorSite> {
    let root = tree.root_node();
    let mut out = Vec::new();
    if !root.has_error() {
        return out;
    }
    super::tokens::preorder(root, |node| {
        if MACRO_TOKENS.contains(&node.kind()) {
            // Not Rust syntax until the macro is expanded: the grammar's token list lacks
            // tokens rustc accepts there (`~`), so its errors inside are not the code's.
            false
        } else if node.is_error() || node.is_missing() {
            out.push(site(src, node));
            false
        } else {
            node.has_error()
        }
    });
    out
}

fn site(src: &str, node: Node<'_>) -> ErrorSite {
    let start = node.start_byte().min(src.len());
    let line_start = src[..src.floor_char_boundary(start)]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line_end = src[line_start..]
        .find('\n')
        .map_or(src.len(), |i| line_start + i);
    let line_text = collapse(src.get(line_start..line_end).unwrap_or(""));
    // An error that begins at the end of a line says nothing there: show its own text.
    let context = if line_text.is_empty() {
        src.get(node.byte_range())
            .and_then(|t| t.lines().map(collapse).find(|l| !l.is_empty()))
            .unwrap_or_default()
    } else {
        line_text
    };
    let column = src
        .get(line_start..src.floor_char_boundary(start))
        .map_or(0, |t| t.chars().count()) as u32
        + 1;
    let missing = node.is_missing();
    let expected = missing.then(|| node.kind());
    let key = match expected {
        Some(kind) => format!("MISSING {kind}\u{0}{context}"),
        None => format!("ERROR\u{0}{context}"),
    };
    ErrorSite {
        error: SyntaxError {
            line: node.start_position().row as u32 + 1,
            column,
            missing,
            snippet: cut(&context),
        },
        expected,
        reason: None,
        end_line: node.end_position().row as u32 + 1,
        key,
    }
}

impl ErrorSite {
    /// An error another checker found at `line`:`column` of `src`, for `reason`.
    pub(super) fn reported(src: &str, line: u32, column: u32, reason: &str) -> ErrorSite {
        let text = src
            .lines()
            .nth(line.saturating_sub(1) as usize)
            .unwrap_or("");
        let context = collapse(text);
        ErrorSite {
            error: SyntaxError {
                line,
                column: column.max(1),
                missing: false,
                snippet: cut(&context),
            },
            expected: None,
            reason: Some(reason.to_string()),
            end_line: line,
            key: format!("{reason}\u{0}{context}"),
        }
    }
}

/// The errors of `head` that `base` does not have (see the module docs).
pub(super) fn new_on_head(base: &[ErrorSite], head: Vec<ErrorSite>) -> Vec<ErrorSite> {
    let mut old: HashMap<&str, usize> = HashMap::new();
    for site in base {
        *old.entry(site.key.as_str()).or_default() += 1;
    }
    head.into_iter()
        .filter(|site| match old.get_mut(site.key.as_str()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cut(s: &str) -> String {
    crate::model::shorten(s, SNIPPET_CHARS)
}
