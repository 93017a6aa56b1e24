//! Definitions in one version of a file: the language's query finds them (Rust's, a walk
//! that finds the same nodes faster); this module names them (qualified names), decides
//! which are public, and extracts their normalized signatures.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use tree_sitter::{Node, QueryCursor, StreamingIterator, Tree};

use super::language::Language;
use super::tokens::{self, Visited};
use super::{DefKind, Definition};

/// A definition with what comparing two versions needs beside its public fields.
#[derive(Debug, Clone)]
pub(super) struct Def {
    /// The public description.
    pub def: Definition,
    /// The innermost definition containing this one (an index into the same list).
    pub parent: Option<usize>,
    /// The signature with whitespace kept only between two word characters: signatures
    /// that differ only in layout have the same key.
    pub sig_key: String,
    /// `sig_key` with the definition's own name blanked out: a renamed item keeps it.
    pub rename_key: String,
    /// `def.signature[..head_len]` is the signature up to the end of the name
    /// (`pub fn load`), shown when only what follows the name changed.
    pub head_len: usize,
    /// The signature's last line (1-based).
    pub sig_end_line: u32,
}

/// One query match, before naming.
struct Found<'t> {
    node: Node<'t>,
    kind: DefKind,
    name: Node<'t>,
    body: Option<Node<'t>>,
    receiver: Option<Node<'t>>,
    pattern: usize,
}

/// Every definition in `tree` (parsed from `src`), outer before inner, in source order.
pub(super) fn extract(lang: Language, src: &str, tree: &Tree) -> Vec<Def> {
    if lang == Language::Rust {
        // Rust's definitions are one node kind each: a walk of the tree finds them in
        // a third of the query's time (the query finds the same, `rust_walk_matches_query`).
        return name_all(lang, src, rust_walk(src, tree), &HashSet::new());
    }
    let Some((found, exported)) = by_query(lang, src, tree) else {
        return Vec::new();
    };
    name_all(lang, src, found, &exported)
}

/// Where a Rust item's keyword (`fn`, `struct`, `impl`, …) starts in `src`, ascending: every
/// definition's node holds one, so a subtree holding none holds no definition (a word in a
/// string or comment only keeps a subtree in the walk).
fn rust_keywords(src: &str) -> Vec<usize> {
    const KEYWORDS: [&[u8]; 10] = [
        b"fn", b"struct", b"union", b"enum", b"type", b"trait", b"impl", b"mod", b"const",
        b"static",
    ];
    let bytes = src.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut at = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !word(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && word(bytes[i]) {
            i += 1;
        }
        if KEYWORDS.contains(&&bytes[start..i]) {
            at.push(start);
        }
    }
    at
}

/// The definitions `rust.scm` matches, by a walk: each node kind with the field the query
/// names it by and the part that is its body. Subtrees without an item keyword are not
/// entered: most of a file is function bodies, and few of them hold items.
fn rust_walk<'t>(src: &str, tree: &'t Tree) -> Vec<Found<'t>> {
    let keywords = rust_keywords(src);
    let holds_keyword = |node: Node<'_>| {
        let i = keywords.partition_point(|&k| k < node.start_byte());
        keywords.get(i).is_some_and(|&k| k < node.end_byte())
    };
    // Node kinds by number: a kind's name costs a length count and a UTF-8 check per node.
    static ITEMS: std::sync::OnceLock<Vec<u16>> = std::sync::OnceLock::new();
    let items = ITEMS.get_or_init(|| {
        let grammar = Language::Rust.grammar();
        [
            "function_item",
            "function_signature_item",
            "struct_item",
            "union_item",
            "enum_item",
            "type_item",
            "trait_item",
            "impl_item",
            "mod_item",
            "const_item",
            "static_item",
        ]
        .iter()
        .map(|k| grammar.id_for_node_kind(k, true))
        .collect()
    });
    let mut found = Vec::new();
    super::tokens::preorder(tree.root_node(), |node| {
        if !items.contains(&node.kind_id()) {
            return node.child_count() > 0 && holds_keyword(node);
        }
        let (kind, name_field, body_field) = match node.kind() {
            "function_item" => (Some(DefKind::Function), "name", Some("body")),
            "function_signature_item" => (Some(DefKind::Function), "name", None),
            "struct_item" | "union_item" => (Some(DefKind::Struct), "name", None),
            "enum_item" => (Some(DefKind::Enum), "name", None),
            "type_item" => (Some(DefKind::Type), "name", None),
            "trait_item" => (Some(DefKind::Trait), "name", Some("body")),
            "impl_item" => (Some(DefKind::Impl), "type", Some("body")),
            "mod_item" => (Some(DefKind::Module), "name", Some("body")),
            "const_item" | "static_item" => (Some(DefKind::Const), "name", Some("value")),
            _ => (None, "", None),
        };
        if let Some(kind) = kind
            && let Some(name) = node.child_by_field_name(name_field)
        {
            let body = body_field.and_then(|f| node.child_by_field_name(f));
            // The query's node types: a function's body is a block, a trait's and an
            // impl's a declaration list, and a nameable item's name an identifier.
            let shaped = match node.kind() {
                "function_item" => body.is_some_and(|b| b.kind() == "block"),
                "trait_item" => {
                    body.is_some_and(|b| b.kind() == "declaration_list")
                        && name.kind() == "type_identifier"
                }
                "impl_item" => body.is_some_and(|b| b.kind() == "declaration_list"),
                "mod_item" => {
                    body.is_none_or(|b| b.kind() == "declaration_list")
                        && name.kind() == "identifier"
                }
                "struct_item" | "union_item" | "enum_item" | "type_item" => {
                    name.kind() == "type_identifier"
                }
                "const_item" | "static_item" => name.kind() == "identifier",
                _ => true,
            };
            if shaped {
                found.push(Found {
                    node,
                    kind,
                    name,
                    body,
                    receiver: None,
                    pattern: 0,
                });
            }
        }
        true
    });
    found
}

/// The definitions the language's query matches, and the names listed as exported.
fn by_query<'t>(
    lang: Language,
    src: &str,
    tree: &'t Tree,
) -> Option<(Vec<Found<'t>>, HashSet<String>)> {
    let query = lang.query()?;
    let names = query.capture_names();
    let mut found: HashMap<usize, Found<'_>> = HashMap::new();
    let mut exported: HashSet<String> = HashSet::new();
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(query, tree.root_node(), src.as_bytes());
    while let Some(m) = matches.next() {
        let (mut def, mut name, mut body, mut receiver) = (None, None, None, None);
        for capture in m.captures {
            let capture_name = names.get(capture.index as usize).copied().unwrap_or("");
            match capture_name {
                "name" => name = Some(capture.node),
                "body" => body = Some(capture.node),
                "receiver" => receiver = Some(capture.node),
                "exported" => {
                    exported.insert(text(src, capture.node).to_string());
                }
                other => {
                    if let Some(kind) = other.strip_prefix("def.").and_then(DefKind::from_capture) {
                        def = Some((capture.node, kind));
                    }
                }
            }
        }
        let (Some((node, kind)), Some(name)) = (def, name) else {
            continue;
        };
        // Several patterns can match one node (an exported arrow function is a function
        // and a top-level constant): the earlier pattern is the more specific one.
        let candidate = Found {
            node,
            kind,
            name,
            body,
            receiver,
            pattern: m.pattern_index,
        };
        match found.entry(node.id()) {
            Entry::Vacant(slot) => {
                slot.insert(candidate);
            }
            Entry::Occupied(mut slot) => {
                if candidate.pattern < slot.get().pattern {
                    slot.insert(candidate);
                }
            }
        }
    }
    Some((found.into_values().collect(), exported))
}

/// Names, publicity and signatures for the definitions found.
fn name_all(
    lang: Language,
    src: &str,
    mut found: Vec<Found<'_>>,
    exported: &HashSet<String>,
) -> Vec<Def> {
    found.sort_by_key(|f| {
        (
            f.node.start_byte(),
            std::cmp::Reverse(f.node.end_byte()),
            f.pattern,
        )
    });

    let mut defs: Vec<Def> = Vec::with_capacity(found.len());
    // Unprefixed paths (a Rust module's path has no `mod `), for children to extend.
    let mut paths: Vec<String> = Vec::with_capacity(found.len());
    let mut is_trait_impl: Vec<bool> = Vec::with_capacity(found.len());
    let mut open: Vec<bool> = Vec::with_capacity(found.len());
    let mut stack: Vec<usize> = Vec::new();
    for f in &found {
        while let Some(&top) = stack.last() {
            let outer = found[top].node;
            if outer.start_byte() <= f.node.start_byte() && f.node.end_byte() <= outer.end_byte() {
                break;
            }
            stack.pop();
        }
        let parent = stack.last().copied();
        let parent_def = parent.map(|p| &defs[p]);
        let kind = match (f.kind, parent_def.map(|p| p.def.kind)) {
            (
                DefKind::Function,
                Some(DefKind::Impl | DefKind::Trait | DefKind::Class | DefKind::Interface),
            ) => DefKind::Method,
            (kind, _) => kind,
        };
        let segment = segment(lang, src, f);
        let sep = if lang == Language::Rust { "::" } else { "." };
        let path = match (parent, f.receiver) {
            (Some(p), None) => format!("{}{sep}{segment}", paths[p]),
            _ => segment.clone(),
        };
        let name = if lang == Language::Rust && kind == DefKind::Module {
            format!("mod {path}")
        } else {
            path.clone()
        };
        let trait_impl = f.kind == DefKind::Impl && f.node.child_by_field_name("trait").is_some();
        let scope = Scope {
            parent: parent_def,
            open: parent.is_none_or(|p| open[p]),
            parent_is_trait_impl: parent.is_some_and(|p| is_trait_impl[p]),
        };
        let public = is_public(lang, src, f, &segment, &scope, exported);
        // Whether items declared directly inside can be public (Rust's module tree).
        let opens = match kind {
            DefKind::Module | DefKind::Trait | DefKind::Class | DefKind::Interface => public,
            DefKind::Impl => !trait_impl && scope.open,
            DefKind::Function
            | DefKind::Method
            | DefKind::Struct
            | DefKind::Enum
            | DefKind::Type
            | DefKind::Const => false,
        };
        let (outer, range_start) = extent(lang, src, f.node);
        let sig_start = if uses_outer_signature(lang) {
            outer.start_byte()
        } else {
            f.node.start_byte()
        };
        let sig_end = f.body.map_or(outer.end_byte(), |b| b.start_byte());
        let sig = signature(lang, src, outer, f, sig_start, sig_end);
        let start_line = range_start.row as u32 + 1;
        let end = outer.end_position().max(f.node.end_position());
        // A node that ends at the start of a line (a trailing newline) ends on the line before.
        let end_line = if end.column == 0 && end.row > range_start.row {
            end.row as u32
        } else {
            end.row as u32 + 1
        };
        let sig_end_line = f
            .body
            .map_or(end_line, |b| b.start_position().row as u32 + 1)
            .min(end_line);
        defs.push(Def {
            def: Definition {
                kind,
                name,
                public,
                signature: sig.text,
                start_line,
                end_line,
            },
            parent,
            sig_key: sig.key,
            rename_key: sig.rename_key,
            head_len: sig.head_len,
            sig_end_line,
        });
        paths.push(path);
        is_trait_impl.push(trait_impl);
        open.push(opens);
        stack.push(defs.len() - 1);
    }
    defs
}

impl DefKind {
    fn from_capture(name: &str) -> Option<DefKind> {
        Some(match name {
            "function" => Self::Function,
            "method" => Self::Method,
            "struct" => Self::Struct,
            "enum" => Self::Enum,
            "trait" => Self::Trait,
            "impl" => Self::Impl,
            "class" => Self::Class,
            "interface" => Self::Interface,
            "type" => Self::Type,
            "module" => Self::Module,
            "const" => Self::Const,
            _ => return None,
        })
    }
}

fn text<'s>(src: &'s str, node: Node<'_>) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

fn collapsed(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The definition's own part of its qualified name.
fn segment(lang: Language, src: &str, f: &Found<'_>) -> String {
    if lang == Language::Rust && f.kind == DefKind::Impl {
        let ty = collapsed(text(src, f.name));
        return match f.node.child_by_field_name("trait") {
            Some(t) => format!("impl {} for {ty}", collapsed(text(src, t))),
            None => format!("impl {ty}"),
        };
    }
    let name = collapsed(text(src, f.name));
    let Some(receiver) = f.receiver.filter(|_| lang == Language::Go) else {
        return name;
    };
    let receiver = receiver
        .named_child(0)
        .and_then(|p| p.child_by_field_name("type"))
        .map(|t| text(src, t).split_whitespace().collect::<String>())
        .unwrap_or_default();
    if receiver.starts_with('*') {
        format!("({receiver}).{name}")
    } else if receiver.is_empty() {
        name
    } else {
        format!("{receiver}.{name}")
    }
}

/// Where a definition sits, for deciding whether it is public.
struct Scope<'d> {
    /// The innermost enclosing definition.
    parent: Option<&'d Def>,
    /// Items declared directly in the parent (or at the top of the file) can be public.
    open: bool,
    /// The parent is `impl Trait for Type`.
    parent_is_trait_impl: bool,
}

/// Whether the definition is part of the file's public interface (see the module docs of
/// `structure` for the rule per language).
fn is_public(
    lang: Language,
    src: &str,
    f: &Found<'_>,
    segment: &str,
    scope: &Scope<'_>,
    exported: &HashSet<String>,
) -> bool {
    let parent = scope.parent;
    match lang {
        Language::Rust => {
            let own = rust_pub(src, f.node);
            let trait_impl =
                f.kind == DefKind::Impl && f.node.child_by_field_name("trait").is_some();
            match parent.map(|p| p.def.kind) {
                // The top of a file stands for a module whose own visibility is declared
                // elsewhere: assume it is reachable. A trait impl is a promise to callers;
                // an inherent impl is public through its `pub` items only.
                None | Some(DefKind::Module) => scope.open && (own || trait_impl),
                // A trait impl's items are the trait's API, not separate items.
                Some(DefKind::Impl) => scope.open && own && !scope.parent_is_trait_impl,
                Some(DefKind::Trait) => scope.open,
                Some(
                    DefKind::Function
                    | DefKind::Method
                    | DefKind::Struct
                    | DefKind::Enum
                    | DefKind::Class
                    | DefKind::Interface
                    | DefKind::Type
                    | DefKind::Const,
                ) => false,
            }
        }
        Language::Python => {
            let own = !segment.starts_with('_')
                || (segment.len() > 4 && segment.starts_with("__") && segment.ends_with("__"));
            match parent.map(|p| (p.def.kind, p.def.public)) {
                None => own || exported.contains(segment),
                Some((DefKind::Class, class_public)) => own && class_public,
                Some((
                    DefKind::Function
                    | DefKind::Method
                    | DefKind::Struct
                    | DefKind::Enum
                    | DefKind::Trait
                    | DefKind::Impl
                    | DefKind::Interface
                    | DefKind::Type
                    | DefKind::Module
                    | DefKind::Const,
                    _,
                )) => false,
            }
        }
        Language::JavaScript | Language::TypeScript | Language::Tsx => {
            match parent.map(|p| (p.def.kind, p.def.public)) {
                None => export_statement(f.node).is_some() || exported.contains(segment),
                Some((DefKind::Class, class_public)) => {
                    let hidden = (0..f.node.child_count()).any(|i| {
                        f.node.child(i as u32).is_some_and(|c| {
                            c.kind() == "accessibility_modifier"
                                && matches!(text(src, c), "private" | "protected")
                        })
                    });
                    class_public && !segment.starts_with('#') && !hidden
                }
                Some((DefKind::Module, module_public)) => {
                    module_public && export_statement(f.node).is_some()
                }
                Some((
                    DefKind::Function
                    | DefKind::Method
                    | DefKind::Struct
                    | DefKind::Enum
                    | DefKind::Trait
                    | DefKind::Impl
                    | DefKind::Interface
                    | DefKind::Type
                    | DefKind::Const,
                    _,
                )) => false,
            }
        }
        Language::Go => {
            parent.is_none()
                && text(src, f.name)
                    .chars()
                    .next()
                    .is_some_and(char::is_uppercase)
        }
    }
}

/// A Rust item marked plain `pub` (`pub(crate)` and friends are not public API).
fn rust_pub(src: &str, node: Node<'_>) -> bool {
    let mut cursor = node.walk();
    node.children(&mut cursor).any(|c| {
        c.kind() == "visibility_modifier"
            && text(src, c).split_whitespace().collect::<String>() == "pub"
    })
}

/// The `export` statement around a JS/TS declaration, looking through the declaration
/// wrappers a declarator or a namespace sits in.
fn export_statement(node: Node<'_>) -> Option<Node<'_>> {
    let mut current = node.parent()?;
    for _ in 0..3 {
        match current.kind() {
            "export_statement" => return Some(current),
            "lexical_declaration" | "variable_declaration" | "expression_statement" => {
                current = current.parent()?;
            }
            _ => return None,
        }
    }
    None
}

/// Whether a language's signature starts at the outer node (JS/TS `export`, Go `type`,
/// `const`) rather than at the definition's node.
fn uses_outer_signature(lang: Language) -> bool {
    match lang {
        Language::JavaScript | Language::TypeScript | Language::Tsx | Language::Go => true,
        Language::Rust | Language::Python => false,
    }
}

/// The node that carries the definition's whole text (with `export`, the `const` keyword
/// of a single declarator, Go's `type` keyword), and where its line range starts (Rust
/// attributes and Python decorators above it belong to it).
fn extent<'t>(lang: Language, src: &str, node: Node<'t>) -> (Node<'t>, tree_sitter::Point) {
    match lang {
        Language::Rust => {
            let mut start = node.start_position();
            // Finding a previous sibling walks the parent's children: only look when the
            // text just above ends like an attribute (`]`).
            let above = src.get(..node.start_byte()).unwrap_or("").trim_end();
            if above.ends_with(']') {
                let mut prev = node.prev_sibling();
                while let Some(p) = prev.filter(|p| p.kind() == "attribute_item") {
                    start = p.start_position();
                    prev = p.prev_sibling();
                }
            }
            (node, start)
        }
        Language::Python => {
            let outer = node
                .parent()
                .filter(|p| p.kind() == "decorated_definition")
                .unwrap_or(node);
            (node, outer.start_position())
        }
        Language::JavaScript | Language::TypeScript | Language::Tsx => {
            let mut outer = node;
            if let Some(p) = node.parent() {
                let single = matches!(p.kind(), "lexical_declaration" | "variable_declaration")
                    && code_children(p) == 1;
                if single || p.kind() == "expression_statement" {
                    outer = p;
                }
            }
            if let Some(e) = export_statement(node) {
                outer = e;
            }
            (outer, outer.start_position())
        }
        Language::Go => {
            let outer = node
                .parent()
                .filter(|p| {
                    matches!(
                        p.kind(),
                        "type_declaration" | "const_declaration" | "var_declaration"
                    ) && code_children(*p) == 1
                })
                .unwrap_or(node);
            (outer, outer.start_position())
        }
    }
}

/// Named children that are code (not comments).
fn code_children(node: Node<'_>) -> usize {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|c| !tokens::is_comment(*c))
        .count()
}

/// A normalized signature and its comparison keys.
struct Signature {
    text: String,
    key: String,
    rename_key: String,
    head_len: usize,
}

/// The signature of `f`: the source from `start` to `end` (where the body begins) without
/// comments and private fields, whitespace collapsed, no space inside brackets, no trailing
/// separator before a closing bracket, no trailing `=`, `:` or `;`.
/// Whether `text` may hold a comment or another token the grammar allows anywhere (what
/// [`tokens::is_comment`] skips): every one of them starts with a byte below in Rust, Go
/// and Python; JavaScript's and TypeScript's HTML-style comments are not worth the list.
fn may_hold_extras(lang: Language, text: &str) -> bool {
    let bytes = text.as_bytes();
    match lang {
        Language::Rust | Language::Go => bytes.contains(&b'/'),
        Language::Python => bytes.iter().any(|b| matches!(b, b'#' | b'\\')),
        Language::JavaScript | Language::TypeScript | Language::Tsx => true,
    }
}

fn signature(
    lang: Language,
    src: &str,
    outer: Node<'_>,
    f: &Found<'_>,
    start: usize,
    end: usize,
) -> Signature {
    let mut skip: Vec<(usize, usize)> = Vec::new();
    let walk_root = if outer.start_byte() <= start && end <= outer.end_byte() {
        outer
    } else {
        f.node
    };
    if may_hold_extras(lang, src.get(start..end).unwrap_or("")) {
        let _ = tokens::visit(walk_root, start, end, |v| {
            if let Visited::Comment(c) = v {
                skip.push((c.start_byte(), c.end_byte()));
            }
            ControlFlow::Continue(())
        });
    }
    hidden_fields(lang, src, f.node, &mut skip);
    skip.sort_unstable();

    let (name_start, name_end) = (f.name.start_byte(), f.name.end_byte());
    let mut out = Normalizer::default();
    let push = |out: &mut Normalizer, lo: usize, hi: usize| {
        let mut at = lo;
        for &(s, e) in &skip {
            if e <= at || s >= hi {
                continue;
            }
            if s > at {
                out.push(src.get(at..s).unwrap_or(""));
            }
            out.pending_space = true;
            at = at.max(e);
        }
        if at < hi {
            out.push(src.get(at..hi).unwrap_or(""));
        }
    };
    let name_inside = start <= name_start && name_end <= end;
    let (mut head_start, mut head_end) = (0, 0);
    if name_inside {
        push(&mut out, start, name_start);
        let name = src.get(name_start..name_end).unwrap_or("");
        if let Some(first) = name.chars().find(|c| !c.is_whitespace()) {
            out.space_before(first);
        }
        head_start = out.text.len();
        push(&mut out, name_start, name_end);
        head_end = out.text.len();
        push(&mut out, name_end, end);
    } else {
        push(&mut out, start, end);
    }
    let mut text = out.text;
    while text.ends_with(|c: char| matches!(c, '=' | ':' | ';') || c.is_whitespace())
        && text.len() > head_end
    {
        text.pop();
    }
    let head_end = head_end.min(text.len());
    let head_start = head_start.min(head_end);
    let sig_key = key(&text);
    let rename_key = if name_inside {
        key(&format!(
            "{}\u{1}{}",
            text.get(..head_start).unwrap_or(""),
            text.get(head_end..).unwrap_or("")
        ))
    } else {
        sig_key.clone()
    };
    Signature {
        text,
        key: sig_key,
        rename_key,
        head_len: head_end,
    }
}

/// Byte ranges of fields that are not part of a type's public shape: Rust fields not
/// marked `pub` (with their attributes and comma), unexported Go struct fields.
fn hidden_fields(lang: Language, src: &str, node: Node<'_>, skip: &mut Vec<(usize, usize)>) {
    let list = match lang {
        Language::Rust if node.kind() == "struct_item" || node.kind() == "union_item" => node
            .child_by_field_name("body")
            .filter(|b| b.kind() == "field_declaration_list"),
        Language::Go if node.kind() == "type_spec" => node
            .child_by_field_name("type")
            .filter(|t| t.kind() == "struct_type")
            .and_then(|t| t.named_child(0))
            .filter(|l| l.kind() == "field_declaration_list"),
        Language::Rust
        | Language::Go
        | Language::Python
        | Language::JavaScript
        | Language::TypeScript
        | Language::Tsx => None,
    };
    let Some(list) = list else {
        return;
    };
    let mut cursor = list.walk();
    let mut attributes: Vec<(usize, usize)> = Vec::new();
    for child in list.named_children(&mut cursor) {
        match child.kind() {
            "attribute_item" => attributes.push((child.start_byte(), child.end_byte())),
            "field_declaration" => {
                let hidden = if lang == Language::Rust {
                    !rust_pub(src, child)
                } else {
                    let mut names = child.walk();
                    let names: Vec<_> = child.children_by_field_name("name", &mut names).collect();
                    !names.is_empty()
                        && names
                            .iter()
                            .all(|n| !text(src, *n).chars().next().is_some_and(char::is_uppercase))
                };
                if hidden {
                    skip.append(&mut attributes);
                    let end = child
                        .next_sibling()
                        .filter(|n| n.kind() == ",")
                        .map_or(child.end_byte(), |n| n.end_byte());
                    skip.push((child.start_byte(), end));
                }
                attributes.clear();
            }
            _ => attributes.clear(),
        }
    }
}

/// Collapses whitespace as text streams in.
#[derive(Default)]
struct Normalizer {
    text: String,
    pending_space: bool,
}

impl Normalizer {
    fn push(&mut self, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() {
                self.pending_space = true;
                continue;
            }
            if matches!(c, ')' | ']' | '}') {
                let trimmed = self.text.trim_end().len();
                let separators: &[char] = if c == '}' { &[',', ';'] } else { &[','] };
                if self.text[..trimmed].ends_with(separators) {
                    self.text.truncate(trimmed - 1);
                    let kept = self.text.trim_end().len();
                    if kept < self.text.len() {
                        self.text.truncate(kept);
                        self.pending_space = true;
                    }
                }
            }
            self.space_before(c);
            self.text.push(c);
        }
    }

    /// Emit the pending space if it belongs before `next`.
    fn space_before(&mut self, next: char) {
        if !self.pending_space {
            return;
        }
        self.pending_space = false;
        let Some(last) = self.text.chars().next_back() else {
            return;
        };
        if !matches!(last, '(' | '[') && !matches!(next, ')' | ']' | ',' | ';') {
            self.text.push(' ');
        }
    }
}

/// The comparison key of a normalized signature: spaces kept only between word characters.
pub(super) fn key(signature: &str) -> String {
    let chars: Vec<char> = signature.chars().collect();
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '$');
    let mut out = String::with_capacity(signature.len());
    for (i, c) in chars.iter().enumerate() {
        if c.is_whitespace() {
            if word(i.checked_sub(1).and_then(|j| chars.get(j))) && word(chars.get(i + 1)) {
                out.push(' ');
            }
        } else {
            out.push(*c);
        }
    }
    out
}

#[cfg(test)]
mod walk_tests {
    use super::*;

    /// The walk finds what the query finds, on `src`.
    pub(crate) fn same_as_query(src: &str) {
        let tree = super::super::language::parse(Language::Rust, src).expect("parses");
        let (found, exported) = by_query(Language::Rust, src, &tree).expect("a query");
        let by_query = name_all(Language::Rust, src, found, &exported);
        let walked = extract(Language::Rust, src, &tree);
        let show = |defs: &[Def]| -> Vec<String> {
            defs.iter()
                .map(|d| format!("{:?} {:?} {:?}", d.def, d.parent, d.sig_key))
                .collect()
        };
        assert_eq!(show(&walked), show(&by_query), "{src}");
    }

    #[test]
    fn rust_walk_matches_query() {
        same_as_query(
            "//! m\nmod a { pub mod b; pub fn f() {} }\nmod c;\npub struct S<T> { pub x: T }\nunion U { a: u8 }\npub enum E { A, B(u8) }\ntype T = u8;\npub trait Tr { fn req(&self); fn prov(&self) {} const C: u8; }\nimpl<T> Tr for S<T> { fn req(&self) { fn inner() {} } const C: u8 = 1; }\nimpl S<u8> { pub const fn new() -> Self { todo!() } }\nconst K: u8 = 1;\nstatic mut G: u8 = 0;\nextern \"C\" { fn ext(x: i32); static EXT: i32; }\nmacro_rules! m { () => {} }\nfn broken( {\n",
        );
        for text in [
            "pub fn a() {}\n",
            "fn unclosed() {\n    let x = ;\n",
            "impl<T: Clone> From<T> for W<T> where T: Copy { fn from(t: T) -> Self { W(t) } }\n",
            "impl X {}",
            "fn f() -> impl Fn() { || {} }\nmod m {}\n",
            "pub(crate) mod x { pub(super) fn y() {} }\n",
        ] {
            same_as_query(text);
        }
    }

    /// Every file of the 44 published crate versions in the semver fixtures (when xz is
    /// there to unpack them; CI has it).
    #[test]
    fn rust_walk_matches_query_on_published_crates() {
        let archive = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/semver/crates.tar.xz"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let untar = std::process::Command::new("tar")
            .arg("-xJf")
            .arg(archive)
            .arg("-C")
            .arg(dir.path())
            .status();
        if !untar.is_ok_and(|s| s.success()) {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "tar with xz");
            eprintln!("skipped: the crates do not unpack here (xz missing?)");
            return;
        }
        let mut stack = vec![dir.path().to_path_buf()];
        let mut files = 0;
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("dir").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    same_as_query(&std::fs::read_to_string(&path).expect("utf-8"));
                    files += 1;
                }
            }
        }
        assert!(files > 500, "{files} files");
    }
}
