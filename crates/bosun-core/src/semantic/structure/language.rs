//! The languages the structural analysis understands: which files they cover, their
//! tree-sitter grammars and definition queries, and one parser per language per thread.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tree_sitter::{ParseOptions, ParseState, Parser, Query, Tree};

/// A language with a tree-sitter grammar and a definition query. Adding one takes a grammar
/// crate, a query file under `src/semantic/queries/` and a line in each `match` below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// `.rs`
    Rust,
    /// `.py`, `.pyi`
    Python,
    /// `.js`, `.mjs`, `.cjs`, `.jsx`
    JavaScript,
    /// `.ts`, `.mts`, `.cts`
    TypeScript,
    /// `.tsx`
    Tsx,
    /// `.go`
    Go,
}

/// Larger sources are not parsed: a generated or vendored file of this size is not something
/// an operator reviews symbol by symbol, and parsing it would eat the analysis budget.
pub(super) const MAX_SOURCE_BYTES: usize = 4 << 20;

/// Longer parses are abandoned: the whole 500-file diff has a one-second budget, and no
/// reviewable source takes this long.
pub(super) const PARSE_BUDGET: Duration = Duration::from_secs(2);

const ECMASCRIPT_QUERY: &str = include_str!("../queries/ecmascript.scm");

impl Language {
    /// Every supported language.
    pub const ALL: [Language; 6] = [
        Self::Rust,
        Self::Python,
        Self::JavaScript,
        Self::TypeScript,
        Self::Tsx,
        Self::Go,
    ];

    /// The language of a file, from its extension; None when it is not supported.
    pub fn for_path(path: &str) -> Option<Language> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let (_, ext) = name.rsplit_once('.')?;
        let ext = ext.to_ascii_lowercase();
        Some(match ext.as_str() {
            "rs" => Self::Rust,
            "py" | "pyi" => Self::Python,
            "js" | "mjs" | "cjs" | "jsx" => Self::JavaScript,
            "ts" | "mts" | "cts" => Self::TypeScript,
            "tsx" => Self::Tsx,
            "go" => Self::Go,
            _ => return None,
        })
    }

    /// The language's display name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rust => "Rust",
            Self::Python => "Python",
            Self::JavaScript => "JavaScript",
            Self::TypeScript => "TypeScript",
            Self::Tsx => "TSX",
            Self::Go => "Go",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Rust => 0,
            Self::Python => 1,
            Self::JavaScript => 2,
            Self::TypeScript => 3,
            Self::Tsx => 4,
            Self::Go => 5,
        }
    }

    pub(super) fn grammar(self) -> tree_sitter::Language {
        // Every parser and query is made from a grammar: the allocator is set before any.
        use_mimalloc();
        match self {
            Self::Rust => tree_sitter_rust::LANGUAGE.into(),
            Self::Python => tree_sitter_python::LANGUAGE.into(),
            Self::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Self::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Self::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Self::Go => tree_sitter_go::LANGUAGE.into(),
        }
    }

    /// The text of the language's definition query.
    pub(super) fn query_source(self) -> String {
        match self {
            Self::Rust => include_str!("../queries/rust.scm").to_string(),
            Self::Python => include_str!("../queries/python.scm").to_string(),
            Self::JavaScript => {
                format!(
                    "{ECMASCRIPT_QUERY}\n{}",
                    include_str!("../queries/javascript.scm")
                )
            }
            Self::TypeScript | Self::Tsx => {
                format!(
                    "{ECMASCRIPT_QUERY}\n{}",
                    include_str!("../queries/typescript.scm")
                )
            }
            Self::Go => include_str!("../queries/go.scm").to_string(),
        }
    }

    /// The compiled definition query, built once per process. None only if the query does
    /// not compile against the grammar, which the `every_query_compiles` test rules out.
    pub(super) fn query(self) -> Option<&'static Query> {
        static QUERIES: [OnceLock<Option<Query>>; 6] = [const { OnceLock::new() }; 6];
        QUERIES[self.index()]
            .get_or_init(|| match Query::new(&self.grammar(), &self.query_source()) {
                Ok(query) => Some(query),
                Err(error) => {
                    tracing::error!(language = self.name(), %error, "definition query does not compile");
                    None
                }
            })
            .as_ref()
    }
}

/// tree-sitter's allocations go to mimalloc: parsing allocates and frees a node at a time,
/// and on the 500-file semantic bench glibc's malloc and free took about a fifth of the
/// analysis. Set once, before tree-sitter allocates anything: before the first parser, and
/// in [`Language::grammar`], which every query needs first.
fn use_mimalloc() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use libmimalloc_sys::{mi_free, mi_malloc, mi_realloc, mi_zalloc};
        unsafe extern "C" fn malloc(size: usize) -> *mut std::ffi::c_void {
            // SAFETY: mimalloc's malloc, with the C contract tree-sitter expects.
            unsafe { mi_malloc(size) }
        }
        unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut std::ffi::c_void {
            match n.checked_mul(size) {
                // SAFETY: as above; mimalloc's zeroed allocation.
                Some(bytes) => unsafe { mi_zalloc(bytes) },
                None => std::ptr::null_mut(),
            }
        }
        unsafe extern "C" fn realloc(
            p: *mut std::ffi::c_void,
            size: usize,
        ) -> *mut std::ffi::c_void {
            // SAFETY: `p` came from the functions above (tree-sitter allocates nothing
            // before this runs).
            unsafe { mi_realloc(p, size) }
        }
        unsafe extern "C" fn free(p: *mut std::ffi::c_void) {
            // SAFETY: as above.
            unsafe { mi_free(p) }
        }
        // SAFETY: called once, before any parser, query or tree exists (see above), so no
        // block is freed by an allocator other than the one that made it.
        unsafe {
            tree_sitter::set_allocator(Some(malloc), Some(calloc), Some(realloc), Some(free))
        };
    });
}

thread_local! {
    /// Creating a parser allocates; analysing a diff parses hundreds of files per thread.
    static PARSERS: RefCell<[Option<Parser>; 6]> = const { RefCell::new([None, None, None, None, None, None]) };
}

/// Why a source was not parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unparsed {
    /// Larger than [`MAX_SOURCE_BYTES`].
    TooLarge,
    /// Parsing took longer than [`PARSE_BUDGET`] (tree-sitter's error recovery can be slow
    /// on some garbage).
    TimedOut,
    /// The grammar cannot be loaded (an ABI mismatch between tree-sitter and the grammar).
    NoGrammar,
}

impl std::fmt::Display for Unparsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TooLarge => "larger than 4 MiB",
            Self::TimedOut => "parsing took too long",
            Self::NoGrammar => "the grammar could not be loaded",
        })
    }
}

/// Parse `source` with this thread's parser for `lang`, within [`PARSE_BUDGET`].
pub(crate) fn parse(lang: Language, source: &str) -> Result<Tree, Unparsed> {
    reparse(lang, source, None)
}

/// Parse `source`, reusing what did not change from `old`: a tree of the previous version,
/// already edited (`Tree::edit`) to match `source`.
pub(super) fn reparse(lang: Language, source: &str, old: Option<&Tree>) -> Result<Tree, Unparsed> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(Unparsed::TooLarge);
    }
    PARSERS.with(|cell| {
        // Only re-entered if a callback below parsed again, which none does.
        let mut parsers = cell.try_borrow_mut().map_err(|_| Unparsed::NoGrammar)?;
        let slot = &mut parsers[lang.index()];
        if slot.is_none() {
            use_mimalloc();
            let mut parser = Parser::new();
            if let Err(error) = parser.set_language(&lang.grammar()) {
                tracing::error!(language = lang.name(), %error, "cannot load grammar");
                return Err(Unparsed::NoGrammar);
            }
            *slot = Some(parser);
        }
        let parser = slot.as_mut().ok_or(Unparsed::NoGrammar)?;
        let deadline = Instant::now() + PARSE_BUDGET;
        let mut progress = |_: &ParseState| {
            if Instant::now() > deadline {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let bytes = source.as_bytes();
        let tree = parser.parse_with_options(
            &mut |at, _| bytes.get(at..).unwrap_or_default(),
            old,
            Some(ParseOptions::new().progress_callback(&mut progress)),
        );
        if tree.is_none() {
            // A cancelled parse would otherwise resume with the next call.
            parser.reset();
        }
        tree.ok_or(Unparsed::TimedOut)
    })
}
