//! The languages the structural analysis understands: which files they cover, their
//! tree-sitter grammars and definition queries, and one parser per language per thread.

use std::cell::RefCell;
use std::sync::OnceLock;

use tree_sitter::{Parser, Query, Tree};

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

    fn grammar(self) -> tree_sitter::Language {
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

thread_local! {
    /// Creating a parser allocates; analysing a diff parses hundreds of files per thread.
    static PARSERS: RefCell<[Option<Parser>; 6]> = const { RefCell::new([None, None, None, None, None, None]) };
}

/// Parse `source` with this thread's parser for `lang`. None when the source is too large or
/// the grammar cannot be loaded (an ABI mismatch between tree-sitter and the grammar crate).
pub(super) fn parse(lang: Language, source: &str) -> Option<Tree> {
    if source.len() > MAX_SOURCE_BYTES {
        return None;
    }
    PARSERS.with(|cell| {
        let mut parsers = cell.try_borrow_mut().ok()?;
        let slot = &mut parsers[lang.index()];
        if slot.is_none() {
            let mut parser = Parser::new();
            if let Err(error) = parser.set_language(&lang.grammar()) {
                tracing::error!(language = lang.name(), %error, "cannot load grammar");
                return None;
            }
            *slot = Some(parser);
        }
        slot.as_mut()?.parse(source, None)
    })
}
