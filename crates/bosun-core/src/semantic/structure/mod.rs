//! Structure with tree-sitter: what a change does to the definitions of a file, and whether
//! it breaks the file's syntax. Rust, Python, JavaScript, TypeScript/TSX and Go; another
//! language takes a grammar crate and a query file (see [`Language`]).
//!
//! The language's query (`src/semantic/queries/`) finds each side's [`Definition`]s (Rust
//! attributes, Python decorators and JS/TS `export` belong to the definition's lines;
//! `macro_rules!` is not a definition). Then every hunk is mapped to the definitions it
//! touches:
//!
//! - **modified**: a changed line (added on head, removed on base) falls in a definition that
//!   exists on both sides (paired by qualified name; the n-th of a repeated name with the
//!   n-th). The innermost definition is reported — a changed line in a method annotates the
//!   method, not its impl or class — once per hunk, on the hunk's changed lines (new side).
//! - **added** / **removed**: the definition exists on one side only. The outermost such
//!   definition is reported, once: a new class with its methods is one `symbol_added` for
//!   the class (its methods are new by construction). Added on the new side; removed on the
//!   old side (`old_side`). Lines are the definition's, clamped to the hunk where it shows.
//! - **formatting only**: a hunk whose removed and added lines hold the same code tokens
//!   (compared with their depth in the tree, so re-indenting Python is a real change; a
//!   trailing comma before a closing bracket does not count; comments are the grammar's,
//!   plus Python docstrings) is one `formatting_only` annotation, "only comments changed"
//!   or "only formatting changed", and nothing else. In a hunk that also changes code, a
//!   definition whose own lines changed only that way is not reported as modified.
//! - **API**: a public item removed, no longer public, renamed (an added public item of the
//!   same kind in the same container has the same signature apart from its name), or with a
//!   changed signature (normalized signatures compared with whitespace ignored between
//!   symbols). New public items are only `symbol_added`.
//! - **syntax**: ERROR and MISSING nodes of head that base does not have. Lines move, so an
//!   error is recognised by its kind (ERROR, or which token is MISSING) and the text of the
//!   line it starts on, whitespace collapsed, counted as a multiset (`syntax.rs`). A
//!   definition that base has and head has only inside an ERROR node (an unbalanced brace
//!   swallowed it) is modified, "does not parse on head", not removed. Errors inside Rust
//!   macro token trees are not the code's (a macro may take tokens the grammar lacks, `~`).
//!   Python's own parser adds the indentation errors the grammar accepts (`interpreter.rs`).
//!
//! Each side is parsed once. Head is parsed by re-parsing base's tree edited with the hunks
//! when the text outside the hunks is the same on both sides and neither side has syntax
//! errors (a head that comes out with errors is parsed afresh, so errors are always compared
//! between fresh parses). Sources over 4 MiB, or taking over 2 s to parse, are skipped.
//!
//! Every annotation's lines lie inside one of the file's hunks on its side: a definition
//! that starts above a hunk is pointed at inside the hunk, and a syntax error at a line the
//! change wrote: its own, else the first changed line inside the code the parser gave up on,
//! else the nearest (its message keeps the real position).
//!
//! # Qualified names
//!
//! - Rust: the path of containers joined with `::`. An impl is named `impl Type` or
//!   `impl Trait for Type` (as written, whitespace collapsed, without the impl's own
//!   generics), so a method is `impl Config::load`; a trait method `Shape::area`; an item in
//!   an inline module `net::connect`; a module itself carries `mod ` (`mod net::tcp`), since
//!   a module and a function may share a name. `impl` blocks inside an inline module keep the
//!   module in front: `net::impl Config::load`.
//! - Python: dotted, `Parser.parse`, `outer.inner` for a nested function.
//! - JavaScript / TypeScript: dotted, `Parser.parse`, `Shapes.area` inside a namespace,
//!   `Widget.onClick` for a class field holding a function, `handler` for
//!   `const handler = () => …`.
//! - Go: `Start` for a function, `Server` for a type, `(*Server).Start` for a method with a
//!   pointer receiver and `Server.Start` with a value receiver (Go's own symbol names).
//!
//! # Public
//!
//! - Rust: plain `pub` (not `pub(crate)`), inside modules that are themselves `pub` (the
//!   file's own module is assumed reachable); a trait's items are public with the trait; a
//!   trait impl is public (it is a promise callers rely on) but its items are the trait's;
//!   fields not marked `pub` are left out of a struct's signature.
//! - Python: names not starting with `_` (dunders like `__init__` count as public), or listed
//!   in the module's `__all__`; methods of public classes; nothing nested in a function.
//! - JavaScript / TypeScript: top-level items under `export` (or named in `export { … }`,
//!   `export default name`, and in JavaScript CommonJS's `module.exports = { name }`,
//!   `module.exports.x = name`, `exports.x = name`); members of a public class not
//!   `#private`, `private` or `protected`; exported members of a public namespace.
//! - Go: top-level names starting with an upper-case letter; unexported struct fields are
//!   left out of a struct's signature.
//!
//! # Signatures
//!
//! The definition's text without its body, comments and private fields, whitespace
//! collapsed, no space inside `(…)` and `[…]`, no trailing separator before a closing
//! bracket, no trailing `=`, `:` or `;`. Functions: modifiers, name, generics, parameters, return
//! type, where clause (`pub fn load(path: &Path) -> Config`). Data types (structs, enums,
//! interfaces, type aliases) keep their members, which are their shape; classes, traits,
//! impls and modules are their header (their members are definitions of their own);
//! constants keep their type, not their value. JS/TS and Go signatures include `export`,
//! `const`, `type`.

mod annotate;
mod defs;
pub mod interpreter;
mod language;
mod syntax;
mod tokens;

#[cfg(test)]
mod tests;

pub use language::Language;
pub(crate) use language::parse;

use crate::diff::FileDiff;
use crate::model::Annotation;

/// A definition found in one version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// What it is.
    pub kind: DefKind,
    /// Qualified name (see the module docs for the convention per language).
    pub name: String,
    /// Part of the file's public interface (see the module docs).
    pub public: bool,
    /// Normalized signature: whitespace collapsed, comments and body dropped.
    pub signature: String,
    /// First line (1-based), including attributes, decorators and `export`.
    pub start_line: u32,
    /// Last line (1-based, inclusive).
    pub end_line: u32,
}

/// What kind of definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefKind {
    /// A free function (also a function-valued `const` in JS/TS).
    Function,
    /// A function in an impl, trait, class or interface, or a Go method.
    Method,
    /// A struct or union (Go: `type T struct`).
    Struct,
    /// An enum.
    Enum,
    /// A Rust trait.
    Trait,
    /// A Rust impl block.
    Impl,
    /// A Python, JavaScript or TypeScript class.
    Class,
    /// A TypeScript or Go interface.
    Interface,
    /// A type alias or another named type.
    Type,
    /// A Rust module, a TypeScript namespace or ambient module.
    Module,
    /// A constant, static or top-level variable.
    Const,
}

impl DefKind {
    /// The word used in messages (`function`, `struct`, …).
    pub fn label(self) -> &'static str {
        match self {
            Self::Function => "function",
            Self::Method => "method",
            Self::Struct => "struct",
            Self::Enum => "enum",
            Self::Trait => "trait",
            Self::Impl => "impl",
            Self::Class => "class",
            Self::Interface => "interface",
            Self::Type => "type",
            Self::Module => "module",
            Self::Const => "const",
        }
    }
}

/// A syntax error in one version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Line (1-based).
    pub line: u32,
    /// Column (1-based, in characters).
    pub column: u32,
    /// A token the parser expected is missing (else: text it could not parse).
    pub missing: bool,
    /// The line the error starts on, whitespace collapsed, cut at 80 characters.
    pub snippet: String,
}

/// Every definition in `source`, outer before inner, in source order. Empty when the source
/// cannot be parsed (larger than 4 MiB, or parsing takes over 2 s).
pub fn definitions(lang: Language, source: &str) -> Vec<Definition> {
    language::parse(lang, source)
        .map(|tree| {
            defs::extract(lang, source, &tree)
                .into_iter()
                .map(|d| d.def)
                .collect()
        })
        .unwrap_or_default()
}

/// Every syntax error in `source` (outermost ERROR nodes and MISSING tokens), in order.
pub fn syntax_errors(lang: Language, source: &str) -> Vec<SyntaxError> {
    language::parse(lang, source)
        .map(|tree| {
            syntax::collect(source, &tree)
                .into_iter()
                .map(|s| s.error)
                .collect()
        })
        .unwrap_or_default()
}

/// Everything structural about one changed file: `symbol_added`, `symbol_removed`,
/// `symbol_modified`, `formatting_only` (info), `api_changed` and `syntax_error` for errors
/// new on head (risk), sorted by line. `base` and `head` are the file's two versions (None
/// where it does not exist). Files in languages not supported, binary files and sources
/// that cannot be parsed (over 4 MiB, over 2 s) give an empty Vec. Never panics.
pub fn annotate_file(file: &FileDiff, base: Option<&str>, head: Option<&str>) -> Vec<Annotation> {
    annotate::annotate(file, base, head, true)
}

/// The syntax check alone for one file (the `syntax` gate uses it): Ok(the errors head has
/// and base had not) or Err(a note saying why the file was not checked: a language without
/// a grammar, too large, too slow to parse).
pub fn new_syntax_errors(
    file: &FileDiff,
    base: Option<&str>,
    head: Option<&str>,
) -> Result<Vec<SyntaxError>, String> {
    let path = file.path();
    let lang = file
        .new_path
        .as_deref()
        .or(file.old_path.as_deref())
        .and_then(Language::for_path)
        .ok_or_else(|| {
            let names: Vec<&str> = Language::ALL.iter().map(|l| l.name()).collect();
            format!(
                "{path}: not checked, no grammar for this file type (syntax is checked for {})",
                names.join(", ")
            )
        })?;
    let Some(head) = head else {
        return Ok(Vec::new());
    };
    let head_tree =
        language::parse(lang, head).map_err(|why| format!("{path}: not checked, {why}"))?;
    let head_errors = syntax::collect(head, &head_tree);
    if head_errors.is_empty() {
        return Ok(Vec::new());
    }
    let base_lang = file
        .old_path
        .as_deref()
        .and_then(Language::for_path)
        .unwrap_or(lang);
    let base_errors = base
        .and_then(|src| {
            language::parse(base_lang, src)
                .ok()
                .map(|tree| syntax::collect(src, &tree))
        })
        .unwrap_or_default();
    Ok(syntax::new_on_head(&base_errors, head_errors)
        .into_iter()
        .map(|s| s.error)
        .collect())
}
