//! Walking the part of a syntax tree that overlaps a byte range: the leaves (tokens) and the
//! comments there, in source order. Iterative, so a deeply nested file cannot overflow the
//! stack, and it skips every subtree outside the range.

use std::ops::ControlFlow;

use tree_sitter::Node;

/// A comment (or another "extra" the grammar allows anywhere), or a Python docstring: not
/// code.
pub(super) fn is_comment(node: Node<'_>) -> bool {
    if node.is_extra() {
        return true;
    }
    let kind = node.kind();
    kind.ends_with("comment") || (kind == "string" && is_docstring(node))
}

/// A `string` that is the first statement of a Python module, class or function body (the
/// node kinds are Python's: JavaScript's `"use strict"` sits in a `program` or
/// `statement_block`, and it is code).
fn is_docstring(node: Node<'_>) -> bool {
    let Some(statement) = node.parent().filter(|p| p.kind() == "expression_statement") else {
        return false;
    };
    let Some(body) = statement.parent() else {
        return false;
    };
    statement.named_child_count() == 1
        && matches!(body.kind(), "block" | "module")
        && body.named_child(0) == Some(statement)
}

/// What [`visit`] hands over.
#[derive(Debug, Clone, Copy)]
pub(super) enum Visited<'t> {
    /// A code token, with its depth in the tree (a token that moves into or out of a block
    /// changes depth, which matters where indentation is syntax).
    Token(Node<'t>, usize),
    /// A whole comment.
    Comment(Node<'t>),
}

/// Visit the tokens and comments of the tree under `root` that overlap `lo..hi` (a
/// zero-width token counts when it sits inside the range), in source order, until `f`
/// breaks.
pub(super) fn visit<'t>(
    root: Node<'t>,
    lo: usize,
    hi: usize,
    mut f: impl FnMut(Visited<'t>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let overlaps = |node: Node<'_>| {
        let (start, end) = (node.start_byte(), node.end_byte());
        (start < hi && end > lo) || (start == end && start >= lo && start < hi)
    };
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        let mut descended = false;
        if node.start_byte() >= hi && node != root {
            // Siblings come in source order: nothing further along this level overlaps.
            if !cursor.goto_parent() {
                break;
            }
        } else if overlaps(node) {
            if is_comment(node) {
                f(Visited::Comment(node))?;
            } else if node.child_count() == 0 {
                f(Visited::Token(node, cursor.depth() as usize))?;
            } else {
                descended = cursor.goto_first_child_for_byte(lo).is_some();
            }
        }
        if !descended && !past(&mut cursor, root) {
            break;
        }
    }
    ControlFlow::Continue(())
}

/// Visits `root` and the nodes under it in source order (parents first); `f` says whether to
/// go into a node's children. Iterative, like [`visit`].
pub(super) fn preorder<'t>(root: Node<'t>, mut f: impl FnMut(Node<'t>) -> bool) {
    let mut cursor = root.walk();
    loop {
        if f(cursor.node()) && cursor.goto_first_child() {
            continue;
        }
        if !past(&mut cursor, root) {
            break;
        }
    }
}

/// Moves `cursor` to the next node in source order that is not under its current one (a
/// sibling, else an ancestor's sibling) without leaving `root`; false when there is none.
fn past(cursor: &mut tree_sitter::TreeCursor<'_>, root: Node<'_>) -> bool {
    loop {
        if cursor.node() == root {
            return false;
        }
        if cursor.goto_next_sibling() {
            return true;
        }
        if !cursor.goto_parent() {
            return false;
        }
    }
}
