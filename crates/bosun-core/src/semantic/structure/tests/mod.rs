//! Fixture pairs per language with the exact annotations expected, plus the definitions,
//! signatures and qualified names behind them. Property tests are in `props.rs`.

use super::*;
use crate::diff;
use crate::model::AnnotationKind;

mod props;

/// One annotation as a line: `kind severity line[-end][ old] symbol: message`.
fn render(a: &Annotation) -> String {
    let lines = match (a.line, a.end_line) {
        (Some(l), Some(e)) => format!("{l}-{e}"),
        (Some(l), None) => l.to_string(),
        (None, _) => "-".to_string(),
    };
    let side = if a.old_side { " old" } else { "" };
    let symbol = a.symbol.as_deref().unwrap_or("-");
    format!(
        "{} {} {lines}{side} {symbol}: {}",
        a.kind, a.severity, a.message
    )
}

fn file(path: &str, base: &str, head: &str) -> FileDiff {
    diff::from_texts(
        Some(path),
        Some(base.as_bytes()),
        Some(path),
        Some(head.as_bytes()),
    )
    .expect("in-memory diff")
}

fn annotations(path: &str, base: &str, head: &str) -> Vec<String> {
    annotate_file(&file(path, base, head), Some(base), Some(head))
        .iter()
        .map(render)
        .collect()
}

/// Definitions as `kind name pub? [start-end] signature`.
fn defs(lang: Language, source: &str) -> Vec<String> {
    definitions(lang, source)
        .iter()
        .map(|d| {
            let public = if d.public { " pub" } else { "" };
            format!(
                "{:?} {}{public} [{}-{}] {}",
                d.kind, d.name, d.start_line, d.end_line, d.signature
            )
        })
        .collect()
}

#[test]
fn every_query_compiles() {
    for lang in Language::ALL {
        assert!(lang.query().is_some(), "{} query", lang.name());
    }
}

#[test]
fn languages_come_from_extensions() {
    let cases = [
        ("src/main.rs", Some(Language::Rust)),
        ("pkg/mod.py", Some(Language::Python)),
        ("types.pyi", Some(Language::Python)),
        ("web/app.js", Some(Language::JavaScript)),
        ("web/App.jsx", Some(Language::JavaScript)),
        ("lib/x.mjs", Some(Language::JavaScript)),
        ("src/api.ts", Some(Language::TypeScript)),
        ("src/Button.TSX", Some(Language::Tsx)),
        ("cmd/main.go", Some(Language::Go)),
        ("README.md", None),
        ("Makefile", None),
        ("dir.rs/file", None),
    ];
    for (path, lang) in cases {
        assert_eq!(Language::for_path(path), lang, "{path}");
    }
    assert_eq!(Language::Tsx.name(), "TSX");
}

// ---------------------------------------------------------------- Rust

const RUST_CONFIG: &str = "\
use std::path::Path;

pub struct Config {
    pub name: String,
    retries: u32,
}

impl Config {
    pub fn load(path: &Path) -> Config {
        let name = std::fs::read_to_string(path).unwrap_or_default();
        Config { name, retries: 3 }
    }
}
";

#[test]
fn rust_pub_method_signature_change_is_an_api_change() {
    let head = RUST_CONFIG.replace("load(path: &Path)", "load(path: &Path, strict: bool)");
    assert_eq!(
        annotations("src/config.rs", RUST_CONFIG, &head),
        [
            "symbol_modified info 9 impl Config::load: method `impl Config::load` modified (signature changed)",
            "api_changed risk 9 impl Config::load: signature of `pub fn load` changed: `(path: &Path) -> Config` → `(path: &Path, strict: bool) -> Config`",
        ]
    );
}

#[test]
fn rust_private_function_body_change_is_not_api() {
    let base = "fn helper(x: u32) -> u32 {\n    x + 1\n}\n";
    let head = "fn helper(x: u32) -> u32 {\n    x + 2\n}\n";
    assert_eq!(
        annotations("src/lib.rs", base, head),
        ["symbol_modified info 2 helper: function `helper` modified"]
    );
}

#[test]
fn rust_struct_fields_private_and_public() {
    let private = RUST_CONFIG.replace(
        "    retries: u32,\n",
        "    retries: u32,\n    timeout: u32,\n",
    );
    assert_eq!(
        annotations("src/config.rs", RUST_CONFIG, &private),
        ["symbol_modified info 6 Config: struct `Config` modified"]
    );
    let public = RUST_CONFIG.replace(
        "    retries: u32,\n",
        "    retries: u32,\n    pub port: u16,\n",
    );
    assert_eq!(
        annotations("src/config.rs", RUST_CONFIG, &public),
        [
            "symbol_modified info 6 Config: struct `Config` modified (signature changed)",
            "api_changed risk 6 Config: signature of `pub struct Config` changed: `{ pub name: String }` → `{ pub name: String, pub port: u16 }`",
        ]
    );
}

#[test]
fn rust_trait_method_added() {
    let base = "pub trait Shape {\n    fn area(&self) -> f64;\n}\n";
    let head =
        "pub trait Shape {\n    fn area(&self) -> f64;\n    fn perimeter(&self) -> f64;\n}\n";
    assert_eq!(
        annotations("src/shape.rs", base, head),
        ["symbol_added info 3 Shape::perimeter: public method `Shape::perimeter` added"]
    );
}

#[test]
fn rust_syntax_error_new_on_head_is_reported_and_the_old_one_is_not() {
    let base = "\
fn broken() {
    let x = ;
}

fn fine() -> u32 {
    1
}
";
    // A new function above moves the old error down two lines; `fine` gets its own error.
    let head = "\
fn first() {}

fn broken() {
    let x = ;
}

fn fine() -> u32 {
    1 +
}
";
    assert_eq!(
        annotations("src/lib.rs", base, head),
        [
            "symbol_added info 1 first: function `first` added",
            "symbol_modified info 8 fine: function `fine` modified",
            "syntax_error risk 8 fine: missing `identifier` at 8:8: `1 +`",
        ]
    );
    let errors = new_syntax_errors(&file("src/lib.rs", base, head), Some(base), Some(head));
    assert_eq!(
        errors,
        Ok(vec![SyntaxError {
            line: 8,
            column: 8,
            missing: true,
            snippet: "1 +".to_string()
        }])
    );
    // Both errors are there on head; only one is new.
    assert_eq!(syntax_errors(Language::Rust, head).len(), 2);
}

/// Ten lines that do not change, to keep hunks apart.
const RUST_FILLER: &str = "\
fn f1() {}
fn f2() {}
fn f3() {}
fn f4() {}
fn f5() {}
fn f6() {}
fn f7() {}
fn f8() {}
fn f9() {}
fn f10() {}
";

#[test]
fn rust_comment_only_and_layout_only_hunks() {
    let base = format!(
        "\
/// Loads the file.
pub fn load(path: &str) -> String {{
    read(path, 2)
}}
{RUST_FILLER}
pub fn store(path: &str, text: &str) {{
    write(path, text, 3)
}}
"
    );
    let head = format!(
        "\
/// Loads the file, or an empty string.
pub fn load(path: &str) -> String {{
    read(path, 2)
}}
{RUST_FILLER}
pub fn store(
    path: &str,
    text: &str,
) {{
    write(
        path,
        text,
        3,
    )
}}
"
    );
    assert_eq!(
        annotations("src/io.rs", &base, &head),
        [
            "formatting_only info 1 -: only comments changed",
            "formatting_only info 16-24 store: only formatting changed",
        ]
    );
}

#[test]
fn rust_public_items_removed_and_renamed() {
    let base = "\
pub fn load(path: &str) -> String {
    read(path)
}

pub fn gone() {}

fn private_gone() {}
";
    let head = "\
pub fn read_file(path: &str) -> String {
    read(path)
}
";
    assert_eq!(
        annotations("src/lib.rs", base, head),
        [
            "symbol_added info 1-3 read_file: public function `read_file` added",
            "symbol_removed info 1-3 old load: function `load` removed",
            "api_changed risk 1 read_file: public function renamed `load` → `read_file`",
            "symbol_removed info 5 old gone: function `gone` removed",
            "api_changed risk 5 old gone: public function `gone` removed",
            "symbol_removed info 7 old private_gone: function `private_gone` removed",
        ]
    );
}

#[test]
fn rust_qualified_names_visibility_and_signatures() {
    let source = "\
#[derive(Debug)]
pub struct Point<T> {
    pub x: T,
    y: T, // hidden
}

impl<T: Copy> Point<T> {
    pub fn new(x: T, y: T) -> Self {
        Point { x, y }
    }
    pub(crate) fn y(&self) -> T {
        self.y
    }
}

impl std::fmt::Display for Point<f64> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, \"{}\", self.x)
    }
}

pub mod net {
    pub fn connect(
        addr: &str, // host:port
        retries: u32,
    ) -> bool {
        true
    }
    mod tcp {
        pub fn open() {}
    }
}

pub const MAX: usize = 10;
pub enum Mode { Fast, Slow }
";
    assert_eq!(
        defs(Language::Rust, source),
        [
            "Struct Point pub [1-5] pub struct Point<T> { pub x: T }",
            "Impl impl Point<T> [7-14] impl<T: Copy> Point<T>",
            "Method impl Point<T>::new pub [8-10] pub fn new(x: T, y: T) -> Self",
            "Method impl Point<T>::y [11-13] pub(crate) fn y(&self) -> T",
            "Impl impl std::fmt::Display for Point<f64> pub [16-20] impl std::fmt::Display for Point<f64>",
            "Method impl std::fmt::Display for Point<f64>::fmt [17-19] fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result",
            "Module mod net pub [22-32] pub mod net",
            "Function net::connect pub [23-28] pub fn connect(addr: &str, retries: u32) -> bool",
            "Module mod net::tcp [29-31] mod tcp",
            "Function net::tcp::open [30-30] pub fn open()",
            "Const MAX pub [34-34] pub const MAX: usize",
            "Enum Mode pub [35-35] pub enum Mode { Fast, Slow }",
        ]
    );
}

#[test]
fn rust_reformatted_signature_is_not_an_api_change() {
    let base = "pub fn connect(addr: &str, retries: u32) -> bool {\n    true\n}\n";
    let head = "pub fn connect(\n    addr: &str,\n    retries: u32,\n) -> bool {\n    true\n}\n";
    assert_eq!(
        annotations("src/net.rs", base, head),
        ["formatting_only info 1-4 connect: only formatting changed"]
    );
}

/// The text-only shortcut (`code_differs`) must not call these code changes: a trailing comma
/// whose bracket stays on a context line, and a comment (which the shortcut leaves to the
/// walk); a real change beside them still is one.
#[test]
fn text_shortcut_keeps_layout_and_comment_changes_apart_from_code() {
    let base = "pub fn call() -> u32 {\n    let v = vec![\n        1,\n        2,\n    ];\n    v.len() as u32\n}\n";
    let head = "pub fn call() -> u32 {\n    let v = vec![\n        1,\n        2\n    ];\n    v.len() as u32\n}\n";
    assert_eq!(
        annotations("src/a.rs", base, head),
        ["formatting_only info 4 call: only formatting changed"]
    );
    let head = "pub fn call() -> u32 {\n    let v = vec![\n        1,\n        // two\n        2,\n    ];\n    v.len() as u32\n}\n";
    assert_eq!(
        annotations("src/a.rs", base, head),
        ["formatting_only info 4 call: only comments changed"]
    );
    let head = "pub fn call() -> u32 {\n    let v = vec![\n        1,\n        3,\n    ];\n    v.len() as u32\n}\n";
    assert_eq!(
        annotations("src/a.rs", base, head),
        ["symbol_modified info 4 call: function `call` modified"]
    );
}

#[test]
fn a_definition_swallowed_by_a_parse_error_is_modified_not_removed() {
    let base =
        format!("pub fn a(x: bool) {{\n    if x {{\n        y();\n    }}\n}}\n{RUST_FILLER}");
    // Without the inner `}` the parser gives up on `a` altogether.
    let head = base.replacen("        y();\n    }\n", "        y();\n", 1);
    assert_eq!(
        annotations("src/lib.rs", &base, &head),
        [
            "symbol_modified info 4 a: function `a` modified (does not parse on head)",
            "syntax_error risk 4 -: syntax error at 1:1 (since the change at line 4): `pub fn a(x: bool) {`",
        ]
    );
}

#[test]
fn a_syntax_error_outside_the_change_points_at_the_nearest_changed_line() {
    // The diff shows a change on line 1; the error is on line 13, which no hunk shows (as
    // when a change breaks parsing far below it).
    let base = format!("fn zero() {{}}\n{RUST_FILLER}fn last() {{\n    ok();\n}}\n");
    let shown = base.replace("fn zero() {}", "fn one() {}");
    let head = shown.replace("    ok();", "    ok(;");
    let f = file("src/lib.rs", &base, &shown);
    let found: Vec<String> = annotate_file(&f, Some(&base), Some(&head))
        .iter()
        .filter(|a| a.kind == AnnotationKind::SyntaxError)
        .map(render)
        .collect();
    assert_eq!(
        found,
        ["syntax_error risk 1 last: syntax error at 13:7 (since the change at line 1): `ok(;`"]
    );
}

#[test]
fn an_unchanged_broken_file_has_no_new_errors() {
    // Re-parsing a tree with errors once gave errors a fresh parse does not: head is parsed
    // afresh whenever either side has errors.
    let source = "export function load(path) {\nclass Widget {\n  onClick = () => {\n`template ${\n}\nclass Widget {";
    let renamed = diff::from_texts(
        Some("a.js"),
        Some(source.as_bytes()),
        Some("b.js"),
        Some(source.as_bytes()),
    )
    .unwrap();
    assert!(annotate_file(&renamed, Some(source), Some(source)).is_empty());
    assert_eq!(
        new_syntax_errors(&renamed, Some(source), Some(source)),
        Ok(vec![])
    );
}

#[test]
fn overloads_and_cfg_twins_pair_in_order() {
    let base = "\
export function parse(a: string): number;
export function parse(a: number): number;
export function parse(a: any): number {
  return 0;
}
";
    let head = base.replace(
        "parse(a: number): number;",
        "parse(a: number, radix: number): number;",
    );
    assert_eq!(
        annotations("src/parse.ts", base, &head),
        [
            "symbol_modified info 2 parse: function `parse` modified (signature changed)",
            "api_changed risk 2 parse: signature of `export function parse` changed: `(a: number): number` → `(a: number, radix: number): number`",
        ]
    );
}

// ---------------------------------------------------------------- Python

const PY_PARSER: &str = "\
__all__ = [\"Parser\", \"_internal\"]


def _internal(x):
    return x


def _private(y):
    return y


def load(path, strict=False):
    return open(path).read()


class Parser:
    def __init__(self, text):
        self.text = text

    def parse(self):
        return self.text.split()
";

#[test]
fn python_method_modified() {
    let head = PY_PARSER.replace(
        "return self.text.split()",
        "return [w for w in self.text.split() if w]",
    );
    assert_eq!(
        annotations("pkg/parser.py", PY_PARSER, &head),
        ["symbol_modified info 21 Parser.parse: method `Parser.parse` modified"]
    );
}

#[test]
fn python_private_removed_is_not_api_but_all_listed_is() {
    let head = PY_PARSER.replace("def _private(y):\n    return y\n\n\n", "");
    assert_eq!(
        annotations("pkg/parser.py", PY_PARSER, &head),
        ["symbol_removed info 8-9 old _private: function `_private` removed"]
    );
    let head = PY_PARSER.replace("def _internal(x):\n    return x\n\n\n", "");
    assert_eq!(
        annotations("pkg/parser.py", PY_PARSER, &head),
        [
            "symbol_removed info 4-5 old _internal: function `_internal` removed",
            "api_changed risk 4 old _internal: public function `_internal` removed",
        ]
    );
}

#[test]
fn python_public_function_renamed() {
    let head = PY_PARSER.replace("def load(path", "def read(path");
    assert_eq!(
        annotations("pkg/parser.py", PY_PARSER, &head),
        [
            "symbol_added info 12-13 read: public function `read` added",
            "symbol_removed info 12-13 old load: function `load` removed",
            "api_changed risk 12 read: public function renamed `load` → `read`",
        ]
    );
}

#[test]
fn python_new_class_is_one_addition_and_reindenting_is_a_change() {
    let head = format!("{PY_PARSER}\n\nclass Lexer:\n    def lex(self):\n        return []\n");
    assert_eq!(
        annotations("pkg/parser.py", PY_PARSER, &head),
        ["symbol_added info 24-26 Lexer: public class `Lexer` added"]
    );
    let base = "def run(x):\n    if x:\n        a()\n    b()\n";
    let head = "def run(x):\n    if x:\n        a()\n        b()\n";
    assert_eq!(
        annotations("job.py", base, head),
        ["symbol_modified info 4 run: function `run` modified"]
    );
}

#[test]
fn python_docstring_edit_is_a_comment_change() {
    let base = "def load(path):\n    \"\"\"Read a file.\"\"\"\n    return open(path).read()\n";
    let head =
        "def load(path):\n    \"\"\"Read a file, whole.\"\"\"\n    return open(path).read()\n";
    assert_eq!(
        annotations("io.py", base, head),
        ["formatting_only info 2 load: only comments changed"]
    );
    // A string that is not the first statement is code.
    let base = "def load(path):\n    x = 1\n    \"note\"\n";
    let head = "def load(path):\n    x = 1\n    \"other\"\n";
    assert_eq!(
        annotations("io.py", base, head),
        ["symbol_modified info 3 load: function `load` modified"]
    );
}

#[test]
fn python_names_and_visibility() {
    let source = "\
class Parser(Base):
    @property
    def size(self) -> int:
        return 1

    def __eq__(self, other):
        def inner():
            pass
        return inner()

    def _hidden(self):
        pass


class _Private:
    def method(self):
        pass
";
    assert_eq!(
        defs(Language::Python, source),
        [
            "Class Parser pub [1-12] class Parser(Base)",
            "Method Parser.size pub [2-4] def size(self) -> int",
            "Method Parser.__eq__ pub [6-9] def __eq__(self, other)",
            "Function Parser.__eq__.inner [7-8] def inner()",
            "Method Parser._hidden [11-12] def _hidden(self)",
            "Class _Private [15-17] class _Private",
            "Method _Private.method [16-17] def method(self)",
        ]
    );
}

// ---------------------------------------------------------------- JavaScript

const JS_API: &str = "\
import fs from \"fs\";

export function fetchUser(id) {
  return fs.readFileSync(id);
}

export const handler = async (req, res) => {
  res.send(await fetchUser(req.id));
};

const local = (x) => x * 2;
";

#[test]
fn javascript_export_function_removed() {
    let head = JS_API.replace(
        "export function fetchUser(id) {\n  return fs.readFileSync(id);\n}\n\n",
        "",
    );
    assert_eq!(
        annotations("web/api.js", JS_API, &head),
        [
            "symbol_removed info 3-5 old fetchUser: function `fetchUser` removed",
            "api_changed risk 3 old fetchUser: public function `fetchUser` removed",
        ]
    );
}

#[test]
fn javascript_exported_arrow_function() {
    let head = JS_API.replace("async (req, res) =>", "async (req, res, next) =>");
    assert_eq!(
        annotations("web/api.js", JS_API, &head),
        [
            "symbol_modified info 7 handler: function `handler` modified (signature changed)",
            "api_changed risk 7 handler: signature of `export const handler` changed: `= async (req, res) =>` → `= async (req, res, next) =>`",
        ]
    );
    // The body alone is not the API; an unexported arrow function is not API at all.
    let head = JS_API
        .replace("res.send(", "res.json(")
        .replace("(x) => x * 2", "(x, y) => x * y");
    assert_eq!(
        annotations("web/api.js", JS_API, &head),
        [
            "symbol_modified info 8 handler: function `handler` modified",
            "symbol_modified info 11 local: function `local` modified (signature changed)",
        ]
    );
}

#[test]
fn javascript_names_and_exports() {
    let source = "\
export const VERSION = \"1.0\";
class Widget {
  #secret() {}
  onClick = () => {
    this.count++;
  };
  render() {
    return `w`;
  }
}
function helper() {}
function internal() {}
export { Widget, helper as help };
";
    assert_eq!(
        defs(Language::JavaScript, source),
        [
            "Const VERSION pub [1-1] export const VERSION",
            "Class Widget pub [2-10] class Widget",
            "Method Widget.#secret [3-3] #secret()",
            "Method Widget.onClick pub [4-6] onClick = () =>",
            "Method Widget.render pub [7-9] render()",
            "Function helper pub [11-11] function helper()",
            "Function internal [12-12] function internal()",
        ]
    );
}

#[test]
fn javascript_commonjs_exports_are_public() {
    let source = "\
function load() {}
function save() {}
function check() {}
function hidden() {}
module.exports = { load };
module.exports.save = save;
exports.check = check;
";
    let public: Vec<String> = definitions(Language::JavaScript, source)
        .into_iter()
        .filter(|d| d.public)
        .map(|d| d.name)
        .collect();
    assert_eq!(public, ["load", "save", "check"]);
}

// ---------------------------------------------------------------- TypeScript / TSX

const TS_BUTTON: &str = "\
import React from \"react\";

export interface ButtonProps {
  label: string;
  onClick?: () => void;
}

export function Button({ label, onClick }: ButtonProps) {
  return <button onClick={onClick}>{label}</button>;
}
";

#[test]
fn typescript_exported_interface_changed() {
    let head = TS_BUTTON.replace(
        "  onClick?: () => void;\n",
        "  onClick?: () => void;\n  size: \"s\" | \"m\";\n",
    );
    let expected = [
        "symbol_modified info 6 ButtonProps: interface `ButtonProps` modified (signature changed)",
        "api_changed risk 6 ButtonProps: signature of `export interface ButtonProps` changed: `{ label: string; onClick?: () => void }` → `{ label: string; onClick?: () => void; size: \"s\" | \"m\" }`",
    ];
    assert_eq!(annotations("ui/Button.tsx", TS_BUTTON, &head), expected);
    let (base, head) = (
        TS_BUTTON
            .replace("return <button", "return (<button")
            .replace("</button>;", "</button>);"),
        head.replace("return <button", "return (<button")
            .replace("</button>;", "</button>);"),
    );
    // Without JSX the same file is TypeScript.
    let strip = |s: &str| s.replace("(<button onClick={onClick}>{label}</button>)", "null");
    assert_eq!(
        annotations("ui/props.ts", &strip(&base), &strip(&head)),
        expected
    );
}

#[test]
fn tsx_component_body_change() {
    let head = TS_BUTTON.replace(
        "<button onClick={onClick}>{label}</button>",
        "<button className=\"primary\" onClick={onClick}>\n    {label}\n  </button>",
    );
    assert_eq!(
        annotations("ui/Button.tsx", TS_BUTTON, &head),
        ["symbol_modified info 9-11 Button: function `Button` modified"]
    );
}

#[test]
fn typescript_names_and_visibility() {
    let source = "\
export type Size = \"s\" | \"m\";
export enum Color { Red, Blue }
namespace Internal {
  export function tweak(): void {}
}
export abstract class Base {
  private secret(): void {}
  protected shared(): void {}
  abstract draw(): void;
  public show(): void {}
}
export const Icon = ({ name }: { name: string }): JSX.Element => <i className={name} />;
";
    assert_eq!(
        defs(Language::Tsx, source),
        [
            "Type Size pub [1-1] export type Size = \"s\" | \"m\"",
            "Enum Color pub [2-2] export enum Color { Red, Blue }",
            "Module Internal [3-5] namespace Internal",
            "Function Internal.tweak [4-4] export function tweak(): void",
            "Class Base pub [6-11] export abstract class Base",
            "Method Base.secret [7-7] private secret(): void",
            "Method Base.shared [8-8] protected shared(): void",
            "Method Base.draw pub [9-9] abstract draw(): void",
            "Method Base.show pub [10-10] public show(): void",
            "Function Icon pub [12-12] export const Icon = ({ name }: { name: string }): JSX.Element =>",
        ]
    );
}

// ---------------------------------------------------------------- Go

const GO_SERVER: &str = "\
package server

type Server struct {
\tAddr string
\tconn net.Conn
}

func New(addr string) *Server {
\treturn &Server{Addr: addr}
}

func helper(x int) int {
\treturn x
}

func (s *Server) Start() error {
\treturn nil
}
";

#[test]
fn go_exported_function_signature_change() {
    let head = GO_SERVER.replace("func New(addr string)", "func New(addr string, port int)");
    assert_eq!(
        annotations("server/server.go", GO_SERVER, &head),
        [
            "symbol_modified info 8 New: function `New` modified (signature changed)",
            "api_changed risk 8 New: signature of `func New` changed: `(addr string) *Server` → `(addr string, port int) *Server`",
        ]
    );
}

#[test]
fn go_lowercase_is_not_api() {
    let head = GO_SERVER
        .replace("func helper(x int) int", "func helper(x, y int) int")
        .replace("\tconn net.Conn\n", "\tconn net.Conn\n\tretries int\n");
    assert_eq!(
        annotations("server/server.go", GO_SERVER, &head),
        [
            "symbol_modified info 6 Server: struct `Server` modified",
            "symbol_modified info 13 helper: function `helper` modified (signature changed)",
        ]
    );
}

#[test]
fn go_method_with_pointer_receiver() {
    let head = GO_SERVER.replace("Start() error", "Start(ctx context.Context) error");
    assert_eq!(
        annotations("server/server.go", GO_SERVER, &head),
        [
            "symbol_modified info 16 (*Server).Start: method `(*Server).Start` modified (signature changed)",
            "api_changed risk 16 (*Server).Start: signature of `func (s *Server) Start` changed: `() error` → `(ctx context.Context) error`",
        ]
    );
}

#[test]
fn go_names() {
    let source = "\
package p

const (
\tA = iota
\tb
)

type ID int

type Reader interface {
\tRead(p []byte) (int, error)
}

func (l List[T]) Len() int { return 0 }
";
    assert_eq!(
        defs(Language::Go, source),
        [
            "Const A pub [4-4] A",
            "Const b [5-5] b",
            "Type ID pub [8-8] type ID int",
            "Interface Reader pub [10-12] type Reader interface { Read(p []byte) (int, error) }",
            "Method List[T].Len pub [14-14] func (l List[T]) Len() int",
        ]
    );
}

#[test]
fn head_is_reparsed_from_base_only_when_the_diff_accounts_for_every_difference() {
    let (base, head) = (bench_like(1, ""), bench_like(1, "+ 1"));
    let f = file("src/m.rs", &base, &head);
    let starts = annotate::line_starts(&base);
    let edits = annotate::edits(&f.hunks, &base, &starts, &head).expect("the diff fits");
    // One edit per changed line, not one per hunk: the context lines are reused.
    assert_eq!((f.hunks.len(), edits.len()), (1, 100));
    let mut tree = language::parse(Language::Rust, &base).unwrap();
    for edit in &edits {
        tree.edit(edit);
    }
    let reparsed = language::reparse(Language::Rust, &head, Some(&tree)).unwrap();
    let fresh = language::parse(Language::Rust, &head).unwrap();
    assert_eq!(reparsed.root_node().to_sexp(), fresh.root_node().to_sexp());
    // The same hunks over other sources do not fit.
    let other = head.replace("S1", "S2");
    assert!(annotate::edits(&f.hunks, &base, &starts, &other).is_none());
}

// ---------------------------------------------------------------- edges

#[test]
fn unsupported_and_one_sided_files() {
    let f = file("README.md", "a\n", "b\n");
    assert!(annotate_file(&f, Some("a\n"), Some("b\n")).is_empty());
    let note = new_syntax_errors(&f, Some("a\n"), Some("b\n")).unwrap_err();
    assert!(note.starts_with("README.md: not checked"), "{note}");

    let deleted = diff::from_texts(Some("old.rs"), Some(b"pub fn x() {}\n"), None, None).unwrap();
    assert_eq!(
        new_syntax_errors(&deleted, Some("pub fn x() {}\n"), None),
        Ok(vec![])
    );
    assert_eq!(
        annotate_file(&deleted, Some("pub fn x() {}\n"), None)
            .iter()
            .map(render)
            .collect::<Vec<_>>(),
        [
            "symbol_removed info 1 old x: function `x` removed",
            "api_changed risk 1 old x: public function `x` removed",
        ]
    );

    let added =
        diff::from_texts(None, None, Some("new.go"), Some(b"package p\nfunc F( {\n")).unwrap();
    let errors = new_syntax_errors(&added, None, Some("package p\nfunc F( {\n")).unwrap();
    assert!(!errors.is_empty());
}

/// A Rust file of `fns` methods in impl blocks of ten, about 20 lines per method.
fn generated_rust(fns: usize, changed: impl Fn(usize) -> bool) -> String {
    let mut out = String::from("use std::collections::HashMap;\n\n");
    for i in 0..fns {
        if i % 10 == 0 {
            out.push_str(&format!(
                "pub struct S{i} {{\n    pub a: u32,\n}}\n\nimpl S{i} {{\n"
            ));
        }
        let extra = if changed(i) { ", extra: bool" } else { "" };
        out.push_str(&format!(
            "    /// Method {i}.\n    pub fn m{i}(&self, x: u32{extra}) -> u32 {{\n"
        ));
        for j in 0..16 {
            let v = if changed(i) && j % 4 == 0 { j + 100 } else { j };
            out.push_str(&format!("        let v{j} = x + {v};\n"));
        }
        out.push_str("        x\n    }\n");
        if i % 10 == 9 || i + 1 == fns {
            out.push_str("}\n\n");
        }
    }
    out
}

/// Timing of one 2,000-line file with a 200-line diff, of 500 files with 50 changed lines
/// each, and of the bench's 500 files with 200 changed lines each. `cargo test --release
/// --lib semantic::structure::tests::timing -- --ignored --nocapture --test-threads=1`.
#[test]
#[ignore = "a measurement, not a check"]
fn timing() {
    let base = generated_rust(95, |_| false);
    let head = generated_rust(95, |i| i % 5 == 0);
    let f = file("src/big.rs", &base, &head);
    let changed = f.insertions() + f.deletions();
    annotate_file(&f, Some(&base), Some(&head));
    let runs = 20;
    let start = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..runs {
        n = annotate_file(&f, Some(&base), Some(&head)).len();
    }
    println!(
        "{} lines, {changed} changed lines, {n} annotations: {:?} per file",
        head.lines().count(),
        start.elapsed() / runs
    );

    let base = generated_rust(10, |_| false);
    let head = generated_rust(10, |i| i % 2 == 0);
    let files: Vec<FileDiff> = (0..500)
        .map(|i| file(&format!("src/f{i}.rs"), &base, &head))
        .collect();
    let start = std::time::Instant::now();
    let mut first = None;
    let mut total = 0;
    for f in &files {
        total += annotate_file(f, Some(&base), Some(&head)).len();
        first.get_or_insert(start.elapsed());
    }
    println!(
        "500 files of {} lines, {} changed lines each, {total} annotations: {:?} in all, first file {:?}",
        head.lines().count(),
        files[0].insertions() + files[0].deletions(),
        start.elapsed(),
        first.unwrap_or_default()
    );

    // The shape of benches/semantic.rs.
    let pairs: Vec<(String, String, FileDiff)> = (0..500)
        .map(|i| {
            let (b, h) = (bench_like(i, ""), bench_like(i, "+ 1"));
            let f = file(&format!("src/f{i}.rs"), &b, &h);
            (b, h, f)
        })
        .collect();
    let start = std::time::Instant::now();
    let mut total = 0;
    for (b, h, f) in &pairs {
        total += annotate_file(f, Some(b), Some(h)).len();
    }
    println!(
        "bench shape: 500 files of {} lines, {} changed lines each: {total} annotations in {:?}",
        pairs[0].1.lines().count(),
        pairs[0].2.insertions() + pairs[0].2.deletions(),
        start.elapsed()
    );
}

/// The shape of `benches/semantic.rs`: 100 small functions, every one changed on one line.
fn bench_like(i: usize, variant: &str) -> String {
    let mut s =
        format!("//! Module {i}.\n\npub struct S{i} {{\n    value: u32,\n}}\n\nimpl S{i} {{\n");
    for f in 0..50 {
        s.push_str(&format!(
            "    pub fn get_{f}(&self, x: u32) -> u32 {{\n        self.value + x * {f} {variant}\n    }}\n\n"
        ));
    }
    s.push_str("}\n\n");
    for f in 0..50 {
        s.push_str(&format!(
            "fn helper_{f}(a: u32) -> u32 {{\n    let b = a + {f};\n    b * 2 {variant}\n}}\n\n"
        ));
    }
    s
}

#[test]
fn tokens_inside_a_macro_are_not_syntax_errors() {
    // `~` is no token of the grammar, but a macro may take it (a real crate update once gave
    // 57 errors); a real error outside the macro is still found.
    let base = "pub fn f() -> u8 {\n    1\n}\n";
    let head = "macro_rules! neg {\n    (~ $e:expr) => { !$e };\n    ($a:tt ~ $b:tt) => { $a ^ $b };\n}\npub fn f() -> u8 {\n    neg!(~ 1)\n}\n";
    let errors = new_syntax_errors(&file("src/lib.rs", base, head), Some(base), Some(head));
    assert_eq!(errors, Ok(vec![]));
    let broken = head.replace("    neg!(~ 1)", "    let = neg!(~ 1);");
    let errors = new_syntax_errors(
        &file("src/lib.rs", base, &broken),
        Some(base),
        Some(&broken),
    )
    .expect("checked");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, 6);
}
