//! The Python false alarms and misses measured on real packages (issue 19), and Go's
//! package view, each as a small package on two sides run through the API analysis of a
//! change.

use super::python::compatible;
use super::*;
use crate::diff::from_texts;
use crate::model::Diff;
use crate::semantic::MapSources;

/// The change from `base` to `head` (each `(path, text)`; `pyproject.toml` added to both)
/// as the annotations the package-level view gives: `kind symbol: message`.
fn change(base: &[(&str, &str)], head: &[(&str, &str)]) -> Vec<String> {
    change_with(
        ("pyproject.toml", "[project]\nname = \"demo\"\n"),
        base,
        head,
    )
}

/// The same with `manifest` on both sides.
fn change_with(
    manifest: (&str, &str),
    base: &[(&str, &str)],
    head: &[(&str, &str)],
) -> Vec<String> {
    let mut sources = MapSources::default();
    for (p, t) in base {
        sources.base.insert((*p).into(), (*t).into());
    }
    for (p, t) in head {
        sources.head.insert((*p).into(), (*t).into());
    }
    for side in [&mut sources.base, &mut sources.head] {
        side.insert(manifest.0.into(), manifest.1.into());
    }
    let mut paths: Vec<&String> = sources.base.keys().chain(sources.head.keys()).collect();
    paths.sort();
    paths.dedup();
    let files = paths
        .into_iter()
        .filter_map(|p| {
            let (b, h) = (sources.base.get(p), sources.head.get(p));
            if b == h {
                return None;
            }
            from_texts(
                b.map(|_| p.as_str()),
                b.map(|t| t.as_bytes()),
                h.map(|_| p.as_str()),
                h.map(|t| t.as_bytes()),
            )
            .ok()
        })
        .collect();
    let (annotations, _) = annotate(&Diff { files }, &sources);
    annotations
        .iter()
        .map(|a| {
            format!(
                "{} {}: {}",
                a.kind,
                a.symbol.as_deref().unwrap_or("-"),
                a.message
            )
        })
        .collect()
}

fn risks(base: &[(&str, &str)], head: &[(&str, &str)]) -> Vec<String> {
    change(base, head)
        .into_iter()
        .filter(|a| a.starts_with("api_changed"))
        .collect()
}

const INIT: &str = "from ._impl import Client, connect\n\n__version__ = \"1.0\"\n";
const IMPL: &str = "class Client:\n    def __init__(self, url, timeout=10):\n        self.url = url\n\n    def get(self, path):\n        pass\n\n    def _retry(self):\n        pass\n\n\ndef connect(url):\n    return Client(url)\n";

#[test]
fn tests_and_private_modules_are_no_api() {
    let base = [
        ("demo/__init__.py", INIT),
        ("demo/_impl.py", IMPL),
        ("demo/_helpers.py", "def merge(a, b):\n    pass\n"),
        ("tests/test_client.py", "def test_get():\n    pass\n"),
    ];
    let head = [
        ("demo/__init__.py", INIT),
        ("demo/_impl.py", IMPL),
        ("demo/_helpers.py", "def merge(a):\n    pass\n"),
        ("tests/test_client.py", "def test_get_twice(x):\n    pass\n"),
    ];
    assert_eq!(change(&base, &head), Vec::<String>::new());
}

#[test]
fn a_re_exported_name_is_followed_into_its_private_module() {
    let base = [("demo/__init__.py", INIT), ("demo/_impl.py", IMPL)];
    let renamed = IMPL.replace("def get(self, path)", "def get(self, route)");
    let head = [
        ("demo/__init__.py", INIT),
        ("demo/_impl.py", renamed.as_str()),
    ];
    assert_eq!(
        risks(&base, &head),
        [
            "api_changed demo.Client.get: `demo.Client.get`: parameter `path` renamed or removed ((self, path) → (self, route))"
        ]
    );
    // Moved to another private module behind the same re-export: nothing.
    let moved_init = INIT.replace(
        "from ._impl import Client, connect",
        "from ._impl import connect\nfrom ._client import Client",
    );
    let moved_impl = IMPL.replace(
        "class Client:",
        "from ._client import Client\n\n\nclass _Old:",
    );
    let head = [
        ("demo/__init__.py", moved_init.as_str()),
        ("demo/_impl.py", moved_impl.as_str()),
        (
            "demo/_client.py",
            IMPL.split("\n\n\ndef connect").next().unwrap(),
        ),
    ];
    assert_eq!(change(&base, &head), Vec::<String>::new());
}

#[test]
fn a_new_parameter_with_a_default_is_a_compatible_addition() {
    let base = [("demo/__init__.py", INIT), ("demo/_impl.py", IMPL)];
    let optional = IMPL.replace(
        "def connect(url):",
        "def connect(url, retries=3, *, proxy=None):",
    );
    let head = [
        ("demo/__init__.py", INIT),
        ("demo/_impl.py", optional.as_str()),
    ];
    assert_eq!(
        change(&base, &head),
        ["api_added demo.connect: `demo.connect` gained optional parameter(s) `retries`, `proxy`"]
    );
    // A required one, a lost default, a keyword made positional-only are breaks.
    for (new, why) in [
        (
            "def connect(url, retries):",
            "new required parameter `retries`",
        ),
        (
            "def connect(url, /):",
            "parameter `url` can no longer be passed by name",
        ),
    ] {
        let changed = IMPL.replace("def connect(url):", new);
        let head = [
            ("demo/__init__.py", INIT),
            ("demo/_impl.py", changed.as_str()),
        ];
        let found = risks(&base, &head);
        assert_eq!(found.len(), 1, "{new}: {found:?}");
        assert!(found[0].contains(why), "{new}: {found:?}");
    }
    let lost = IMPL.replace("url, timeout=10", "url, timeout");
    let head = [("demo/__init__.py", INIT), ("demo/_impl.py", lost.as_str())];
    assert_eq!(
        risks(&base, &head),
        [
            "api_changed demo.Client: `demo.Client`: parameter `timeout` lost its default ((url, timeout=…) → (url, timeout))"
        ]
    );
}

#[test]
fn module_level_names_and_aliases_count_and_all_decides() {
    let base = [(
        "src/demo/consts.py",
        "import os\nfrom typing import Any\n\nDEFAULT_PORT = 80\nPath = os.PathLike\n_cache = {}\n",
    )];
    let head = [(
        "src/demo/consts.py",
        "import os\nfrom typing import Any\n\n_cache = {}\n",
    )];
    let mut init = vec![("src/demo/__init__.py", "")];
    init.extend(base);
    let mut init_head = vec![("src/demo/__init__.py", "")];
    init_head.extend(head);
    assert_eq!(
        risks(&init, &init_head),
        [
            "api_changed demo.consts.DEFAULT_PORT: public name `demo.consts.DEFAULT_PORT` removed",
            "api_changed demo.consts.Path: public name `demo.consts.Path` removed",
        ]
    );
    // With `__all__`, only what it lists is public.
    let listed = |text: &str| format!("__all__ = [\"Path\"]\n{text}");
    let (b, h) = (listed(base[0].1), listed(head[0].1));
    assert_eq!(
        risks(
            &[("src/demo/__init__.py", ""), ("src/demo/consts.py", &b)],
            &[("src/demo/__init__.py", ""), ("src/demo/consts.py", &h)]
        ),
        ["api_changed demo.consts.Path: public name `demo.consts.Path` removed"]
    );
}

#[test]
fn a_stub_is_what_users_see() {
    let base = [
        ("demo/__init__.py", ""),
        ("demo/fast.py", "def run(*args, **kwargs):\n    pass\n"),
        (
            "demo/fast.pyi",
            "def run(data: bytes, limit: int = ...) -> int: ...\n",
        ),
    ];
    let head = [
        ("demo/__init__.py", ""),
        ("demo/fast.py", "def run(*args, **kwargs):\n    pass\n"),
        ("demo/fast.pyi", "def run(data: bytes) -> int: ...\n"),
    ];
    assert_eq!(
        risks(&base, &head),
        [
            "api_changed demo.fast.run: `demo.fast.run`: parameter `limit` removed ((data, limit=…) → (data))"
        ]
    );
}

#[test]
fn a_removed_re_export_is_pointed_at_its_import() {
    let base = [("demo/__init__.py", INIT), ("demo/_impl.py", IMPL)];
    let head = [
        (
            "demo/__init__.py",
            "from ._impl import Client\n\n__version__ = \"1.0\"\n",
        ),
        ("demo/_impl.py", IMPL),
    ];
    let (annotations, _) = {
        let out = change(&base, &head);
        (out, ())
    };
    assert_eq!(
        annotations,
        ["api_changed demo.connect: public function `demo.connect` removed"]
    );
}

#[test]
fn inherited_methods_stay_available() {
    // `get` moved from the class into its base in the package: still there.
    let base = [("demo/__init__.py", INIT), ("demo/_impl.py", IMPL)];
    let split = IMPL.replace(
        "class Client:\n    def __init__",
        "class _Base:\n    def get(self, path):\n        pass\n\n\nclass Client(_Base):\n    def __init__",
    )
    .replace("    def get(self, path):\n        pass\n\n    def _retry", "    def _retry");
    let head = [
        ("demo/__init__.py", INIT),
        ("demo/_impl.py", split.as_str()),
    ];
    assert_eq!(change(&base, &head), Vec::<String>::new());
}

#[test]
fn signatures_are_compared_for_calls() {
    assert_eq!(
        compatible("(a, b)", "(a, b, c=…)"),
        Ok(vec!["c".to_string()])
    );
    assert_eq!(compatible("(a, b)", "(a, b, *args, **kw)"), Ok(vec![]));
    assert!(compatible("(a, b)", "(b, a)").is_err());
    assert!(
        compatible("(a, /, b)", "(x, /, b)").is_ok(),
        "positional-only names are free"
    );
    assert!(
        compatible("(a, *, b=…)", "(a, b=…)").is_ok(),
        "keyword-only may become positional"
    );
    assert!(compatible("(a, b=…)", "(a, *, b=…)").is_err());
    assert!(compatible("(*args)", "(a)").is_err());
    assert!(compatible("(a, **kw)", "(a, *, x=…)").is_err());
    assert!(compatible("?", "(a)").is_ok(), "unknown is never a break");
}

fn go_change(base: &[(&str, &str)], head: &[(&str, &str)]) -> Vec<String> {
    change_with(
        ("go.mod", "module example.com/app\n\ngo 1.22\n"),
        base,
        head,
    )
}

const SERVER: &str = "package server\n\nimport \"net/http\"\n\ntype Server struct {\n\tAddr string\n\tmux  *http.ServeMux\n}\n\ntype Handler interface {\n\tServe(w http.ResponseWriter) error\n}\n\nfunc (s *Server) Start(addr string, opts ...Option) error {\n\treturn nil\n}\n\nfunc New(addr string) *Server {\n\treturn &Server{Addr: addr}\n}\n\nfunc helper() {}\n";

#[test]
fn a_go_package_is_one_namespace_across_its_files() {
    let base = [
        ("server/server.go", SERVER),
        ("server/extra.go", "package server\n\ntype Option int\n"),
    ];
    // `New` moves to another file of the package, parameters renamed: nothing.
    let without_new = SERVER.replace(
        "func New(addr string) *Server {\n\treturn &Server{Addr: addr}\n}\n",
        "",
    );
    let head = [
        ("server/server.go", without_new.as_str()),
        (
            "server/extra.go",
            "package server\n\ntype Option int\n\nfunc New(address string) *Server {\n\treturn &Server{Addr: address}\n}\n",
        ),
    ];
    assert_eq!(go_change(&base, &head), Vec::<String>::new());
    // A field added is compatible (an addition); a parameter's type changed and a method
    // added to an interface are breaks, named by import path.
    let changed = SERVER
        .replace("\tAddr string\n", "\tAddr string\n\tTLS  bool\n")
        .replace("func New(addr string)", "func New(addr int)")
        .replace(
            "\tServe(w http.ResponseWriter) error\n",
            "\tServe(w http.ResponseWriter) error\n\tClose() error\n",
        );
    let head = [("server/server.go", changed.as_str()), base[1]];
    assert_eq!(
        go_change(&base, &head),
        [
            "api_changed example.com/app/server.Handler: interface `example.com/app/server.Handler` gained required item `Close() error`: every implementor must add it",
            "api_changed example.com/app/server.New: signature of public function `example.com/app/server.New` changed: func(string) *Server → func(int) *Server",
        ]
    );
}

#[test]
fn go_tests_internal_packages_and_main_are_no_api() {
    let base = [
        (
            "internal/db/db.go",
            "package db\n\nfunc Open(dsn string) error { return nil }\n",
        ),
        (
            "server/server_test.go",
            "package server\n\nfunc TestStart(t *testing.T) {}\n",
        ),
        ("cmd/app/main.go", "package main\n\nfunc Run() {}\n"),
    ];
    let head = [
        (
            "internal/db/db.go",
            "package db\n\nfunc Open(dsn string, retries int) error { return nil }\n",
        ),
        (
            "server/server_test.go",
            "package server\n\nfunc TestStop(t *testing.T) {}\n",
        ),
        (
            "cmd/app/main.go",
            "package main\n\nfunc Run(args []string) {}\n",
        ),
    ];
    assert_eq!(go_change(&base, &head), Vec::<String>::new());
}

fn js_change(manifest: &str, base: &[(&str, &str)], head: &[(&str, &str)]) -> Vec<String> {
    change_with(("package.json", manifest), base, head)
}

const TS_PACKAGE: &str =
    r#"{"name": "@demo/kit", "main": "dist/index.js", "types": "dist/index.d.ts"}"#;

#[test]
fn a_typescript_package_is_what_its_entry_exports() {
    let index = "export { parse } from './parser';\nexport * from './format';\n";
    let parser = "import { helper } from './internal';\n\nexport function parse(text: string): Node {\n  return helper(text);\n}\n";
    let internal = "export function helper(text: string): Node {\n  return text as any;\n}\n";
    let format = "export function format(node: Node): string {\n  return '';\n}\n";
    let base = [
        ("src/index.ts", index),
        ("src/parser.ts", parser),
        ("src/internal.ts", internal),
        ("src/format.ts", format),
        ("src/parser.test.ts", "test('parses', () => {});\n"),
    ];
    // Internal code and tests changed, `parse` moved to another file behind the same
    // re-export: nothing a user of @demo/kit can see.
    let head = [
        (
            "src/index.ts",
            "export { parse } from './core/parse';\nexport * from './format';\n",
        ),
        (
            "src/core/parse.ts",
            "import { helper } from '../internal';\n\nexport function parse(text: string): Node {\n  return helper(text);\n}\n",
        ),
        (
            "src/internal.ts",
            "export function helper(text: string, strict: boolean): Node {\n  return text as any;\n}\n",
        ),
        ("src/format.ts", format),
        ("src/parser.test.ts", "test('parses twice', () => {});\n"),
    ];
    assert_eq!(js_change(TS_PACKAGE, &base, &head), Vec::<String>::new());
    // A name the star re-export no longer carries, and a changed signature, are breaks.
    let head = [
        ("src/index.ts", index),
        (
            "src/parser.ts",
            &parser.replace(
                "parse(text: string)",
                "parse(text: string, strict: boolean)",
            ),
        ),
        ("src/internal.ts", internal),
        (
            "src/format.ts",
            "export function render(node: Node): string {\n  return '';\n}\n",
        ),
    ];
    let found = js_change(TS_PACKAGE, &base, &head);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(
        found[0],
        "api_changed @demo/kit.format: public function `@demo/kit.format` removed"
    );
    assert_eq!(
        found[1],
        "api_changed @demo/kit.parse: `@demo/kit.parse`: new required parameter 2 ((string): Node → (string, boolean): Node)"
    );
    assert_eq!(
        found[2],
        "api_added @demo/kit.render: public function `@demo/kit.render` added"
    );
}

#[test]
fn commonjs_exports_and_subpaths_count() {
    let manifest =
        r#"{"name": "tool", "exports": {".": "./index.js", "./extra": {"require": "./extra.js"}}}"#;
    let base = [
        (
            "index.js",
            "function run(args) {}\nfunction stop() {}\nmodule.exports = { run, stop };\n",
        ),
        ("extra.js", "exports.tune = function tune(x) {};\n"),
        (
            "scripts/build.js",
            "function build() {}\nmodule.exports = { build };\n",
        ),
    ];
    let head = [
        (
            "index.js",
            "function run(args) {}\nmodule.exports = { run };\n",
        ),
        ("extra.js", "exports.tuned = function tune(x) {};\n"),
        ("scripts/build.js", "module.exports = {};\n"),
    ];
    assert_eq!(
        js_change(manifest, &base, &head)
            .into_iter()
            .filter(|a| a.starts_with("api_changed"))
            .collect::<Vec<_>>(),
        [
            "api_changed tool.stop: public function `tool.stop` removed",
            "api_changed tool/extra.tune: public name `tool/extra.tune` removed",
        ]
    );
}

#[test]
fn script_signatures_compare_by_position() {
    use super::ecmascript::compatible;
    assert_eq!(
        compatible("(string)", "(string, number=…)"),
        Ok(1),
        "optional added"
    );
    assert_eq!(
        compatible("(_, _)", "(_, _)"),
        Ok(0),
        "renamed JS parameters"
    );
    assert!(compatible("(string)", "(number)").is_err());
    assert!(compatible("(string=…)", "(string)").is_err());
    assert!(compatible("(string)", "(string, number)").is_err());
    assert!(compatible("(string, ...any[])", "(string)").is_err());
    assert_eq!(
        compatible("(string, number)", "(string, ...number[])"),
        Err("parameter 2 changed type: number → number[]".to_string())
    );
    assert!(
        compatible(
            "(Map<string, number>): void",
            "(Map<string, number>, _=…): void"
        )
        .is_ok()
    );
    assert!(compatible("(_): string", "(_): number").is_err());
}

#[test]
fn a_javascript_parameter_renamed_or_made_optional_is_no_break() {
    let manifest = r#"{"name": "lib", "main": "index.js"}"#;
    let base = [(
        "index.js",
        "export function pad(text, width) {\n  return text;\n}\n",
    )];
    let head = [(
        "index.js",
        "export function pad(value, width = 8, fill = ' ') {\n  return value;\n}\n",
    )];
    let found = js_change(manifest, &base, &head);
    assert!(
        !found.iter().any(|a| a.starts_with("api_changed")),
        "{found:#?}"
    );
    assert!(
        found.contains(&"api_added lib.pad: `lib.pad` gained 1 optional parameter(s)".to_string()),
        "{found:#?}"
    );
}

#[test]
fn a_declaration_file_is_read_like_the_sources() {
    let manifest = r#"{"name": "dts", "types": "index.d.ts", "main": "index.js"}"#;
    let base = [(
        "index.d.ts",
        "export declare function f(a: string, b?: number): void;\nexport declare class C {\n    constructor(x: number);\n    m(a: string): void;\n    private p;\n}\nexport declare const k: number;\n",
    )];
    let head = [(
        "index.d.ts",
        "export declare function f(text: string, b?: number, c?: boolean): void;\nexport declare class C {\n    constructor(x: number);\n    private p;\n}\n",
    )];
    let found = js_change(manifest, &base, &head);
    assert_eq!(
        found,
        [
            "api_changed dts.C.m: public method `dts.C.m` removed",
            "api_changed dts.k: public name `dts.k` removed",
            "api_added dts.f: `dts.f` gained 1 optional parameter(s)",
        ]
    );
}

#[test]
fn export_equals_and_its_namespace_are_the_module() {
    let manifest = r#"{"name": "cx", "types": "cx.d.ts"}"#;
    let base = [(
        "cx.d.ts",
        "declare namespace cx {\n\ttype Value = string;\n\ttype Dict = Record<string, any>;\n\tfunction cx(...inputs: Value[]): string;\n}\ndeclare function cx(...inputs: cx.Value[]): string;\nexport = cx;\n",
    )];
    let head = [(
        "cx.d.ts",
        "declare namespace cx {\n\ttype Value = string;\n\tfunction cx(...inputs: Value[]): string;\n}\ndeclare function cx(first: string, ...inputs: cx.Value[]): string;\nexport = cx;\n",
    )];
    let found: Vec<String> = js_change(manifest, &base, &head)
        .into_iter()
        .filter(|a| a.starts_with("api_changed"))
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(
        found[0],
        "api_changed cx.Dict: public type alias `cx.Dict` removed"
    );
    assert!(
        found[1].starts_with("api_changed cx.default: `cx.default`: "),
        "{found:#?}"
    );
}

#[test]
fn go_unexported_type_renames_are_free_and_comparability_counts() {
    use super::go::compatible;
    assert!(compatible(
        "func(marshalOrder) *Encoder",
        "func(MarshalOrder) *Encoder"
    ));
    assert!(
        !compatible("func(int) *Encoder", "func(MarshalOrder) *Encoder"),
        "int is writable"
    );
    assert!(!compatible("func(string)", "func(int)"));
    let base = [(
        "server/server.go",
        "package server\n\ntype Options struct {\n\tName string\n}\n",
    )];
    let head = [(
        "server/server.go",
        "package server\n\ntype Options struct {\n\tName  string\n\tstate visitor\n}\n\ntype visitor struct {\n\tseen map[string]bool\n}\n",
    )];
    assert_eq!(
        go_change(&base, &head),
        [
            "api_changed example.com/app/server.Options: signature of public struct `example.com/app/server.Options` changed: type struct → type struct (not comparable)"
        ]
    );
    assert_eq!(
        go_change(&head, &base),
        Vec::<String>::new(),
        "comparable again"
    );
}
