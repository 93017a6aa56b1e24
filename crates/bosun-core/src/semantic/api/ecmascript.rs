//! A JavaScript or TypeScript package's public API: what its entry points export.
//!
//! A package is a directory with a `package.json`; its users import the entry points it
//! names — `exports` (`"."` and each `"./sub"` subpath, any condition), else `main`,
//! `module` and `types`, else `index.js` — and nothing else. An entry that names built
//! output (`dist/index.js`, `lib/index.d.ts`) is looked for among the sources too
//! (`src/index.ts`). From each entry, `export` declarations, `export { a as b }`,
//! `export … from`, `export * from` and CommonJS `module.exports`/`exports.x` are followed
//! through relative imports to the definitions, so a function moved between internal files
//! behind the same re-export is the same `pkg.name`, and a file no entry reaches (tests,
//! internal helpers) is no API. Items are named `package.name` (`pkg/sub.name` for a
//! subpath) and a class's public members `package.Class.member`; signatures are the
//! file-by-file analysis's, compared as written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use tree_sitter::Node;

use super::{Item, ItemKind, Shape, Surface};
use crate::diff::Diff;
use crate::semantic::Sources;
use crate::semantic::structure::{DefKind, Language, definitions, parse};

/// How deep re-exports are followed.
const MAX_DEPTH: usize = 8;

/// Extensions tried, in order, for an import without one (and for built output's sources).
const EXTENSIONS: [&str; 11] = [
    ".d.ts", ".d.mts", ".d.cts", ".ts", ".tsx", ".mts", ".cts", ".js", ".mjs", ".cjs", ".jsx",
];

/// Directories that usually hold built output, whose sources are under `src/`.
const BUILT: [&str; 6] = ["dist", "lib", "build", "out", "esm", "cjs"];

fn is_script(path: &str) -> bool {
    EXTENSIONS.iter().any(|e| path.ends_with(e))
}

fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for piece in rel.split('/') {
        match piece {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// A package a change touches: the directory of its `package.json`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    pub dir: String,
}

/// The packages whose script files the change touches, and every script file of the change
/// (whose file-by-file API guesses the package view replaces: outside a package, a script
/// has no importers).
pub fn packages_touched(diff: &Diff, sources: &dyn Sources) -> (Vec<Package>, BTreeSet<String>) {
    let files = super::paths(diff)
        .filter(|p| is_script(p))
        .map(str::to_string)
        .collect();
    let paths = super::paths(diff).filter(|p| {
        (is_script(p) || p.ends_with("package.json")) && !p.split('/').any(|d| d == "node_modules")
    });
    let packages = super::manifest_dirs(paths, "package.json", sources)
        .into_iter()
        .map(|dir| Package { dir })
        .collect();
    (packages, files)
}

/// A name a module binds.
#[derive(Debug, Clone)]
enum Binding {
    /// Defined here (its local name, to find its definition).
    Local(String),
    /// Imported: (file, name); name None for `import * as ns`.
    Imported(String, Option<String>),
}

/// One module read: what it exports and how.
#[derive(Debug, Default)]
struct Module {
    file: String,
    /// Exported name → (binding, line of the export).
    exports: BTreeMap<String, (Binding, u32)>,
    /// `export * from` targets (resolved files), with their line.
    stars: Vec<(String, u32)>,
    /// Import bindings: local name → (file, imported name).
    imports: HashMap<String, Binding>,
    /// Top-level definitions by qualified name (members as `Class.member`).
    defs: BTreeMap<String, crate::semantic::structure::Definition>,
    /// Call signatures of functions, methods and classes (their constructor) by qualified
    /// name: `(string, number=…, ...unknown[]): Node` ([`call_signature`]).
    calls: HashMap<String, String>,
    /// `export = name`.
    export_equals: Option<String>,
}

/// Reads one side.
struct Reader<'a> {
    read: &'a dyn Fn(&str) -> Option<String>,
    cache: HashMap<String, Option<Rc<Module>>>,
    /// Files read, or found missing: resolving an import tries many names.
    texts: HashMap<String, Option<Rc<str>>>,
}

/// One side's API of `package` (`read` gives a file's text by repository path).
pub fn surface(package: &Package, read: &dyn Fn(&str) -> Option<String>) -> Surface {
    let mut surface = Surface {
        language: super::ApiLanguage::Script,
        ..Surface::default()
    };
    let Some(manifest) = read(&join(&package.dir, "package.json"))
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    else {
        return surface;
    };
    let name = manifest
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or(if package.dir.is_empty() {
            "package"
        } else {
            &package.dir
        })
        .to_string();
    let mut reader = Reader {
        read,
        cache: HashMap::new(),
        texts: HashMap::new(),
    };
    for (subpath, candidates) in entries(&manifest) {
        let public = match subpath.trim_start_matches('.').trim_start_matches('/') {
            "" => name.clone(),
            sub => format!("{name}/{sub}"),
        };
        // A declaration file named is that file (not a script of the same stem).
        let Some(file) = candidates.iter().find_map(|c| {
            let path = join(&package.dir, c);
            if is_declaration(&path) {
                reader.text(&path).map(|_| path)
            } else {
                reader.locate(&path)
            }
        }) else {
            continue;
        };
        let Some(module) = reader.module(&file) else {
            continue;
        };
        surface.items.insert(
            public.clone(),
            Item::new(ItemKind::Module, String::new(), file.clone(), 1),
        );
        for exported in reader.exported_names(&module, 0) {
            let Some((item, members)) = reader.resolve(&module, &exported, 0) else {
                continue;
            };
            let path = format!("{public}.{exported}");
            for (member, m) in members {
                surface.items.insert(format!("{path}.{member}"), m);
            }
            surface.items.insert(path, item);
        }
    }
    surface
}

/// The package's entry points: subpath → the files it may name, in the order a type checker
/// looks (a `types` condition, then the other conditions with `browser` last; for `.` also
/// the `types` field). Subpaths that name no module (`./package.json`, a bare declaration
/// file) and patterns are left out.
fn entries(manifest: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            serde_json::Value::Object(o) => {
                let rank = |k: &str| match k {
                    "types" => 0,
                    "import" => 1,
                    "default" => 2,
                    "browser" => 4,
                    _ => 3,
                };
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort_by_key(|k| rank(k));
                for k in keys {
                    strings(&o[k.as_str()], out);
                }
            }
            _ => {}
        }
    }
    let top_types: Vec<String> = ["types", "typings"]
        .iter()
        .filter_map(|k| manifest.get(*k).and_then(|v| v.as_str()))
        .map(str::to_string)
        .collect();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    match manifest.get("exports") {
        Some(serde_json::Value::Object(map)) if map.keys().any(|k| k.starts_with('.')) => {
            for (key, value) in map
                .iter()
                .filter(|(k, _)| !k.contains('*') && !k.ends_with(".json") && !is_declaration(k))
            {
                let mut found = Vec::new();
                strings(value, &mut found);
                out.insert(key.clone(), found);
            }
        }
        Some(value) => {
            let mut found = Vec::new();
            strings(value, &mut found);
            out.insert(".".to_string(), found);
        }
        None => {
            let found: Vec<String> = ["module", "main"]
                .iter()
                .filter_map(|k| manifest.get(*k).and_then(|v| v.as_str()))
                .map(str::to_string)
                .chain(["index.js".to_string()])
                .collect();
            out.insert(".".to_string(), found);
        }
    }
    // Declarations first, as a type checker reads them: those named, those beside a named
    // script (`index.js` → `index.d.ts`), then for `.` the `types` field; the scripts last.
    for (key, candidates) in out.iter_mut() {
        let mut declarations = Vec::new();
        let mut scripts = Vec::new();
        for c in candidates.iter() {
            if is_declaration(c) {
                declarations.push(c.clone());
                continue;
            }
            for (script, declaration) in [(".js", ".d.ts"), (".mjs", ".d.mts"), (".cjs", ".d.cts")]
            {
                if let Some(stem) = c.strip_suffix(script) {
                    declarations.push(format!("{stem}{declaration}"));
                }
            }
            scripts.push(c.clone());
        }
        if key == "." {
            declarations.extend(top_types.iter().cloned());
        }
        declarations.extend(scripts);
        *candidates = declarations;
    }
    out.into_iter().collect()
}

fn is_declaration(path: &str) -> bool {
    [".d.ts", ".d.mts", ".d.cts"]
        .iter()
        .any(|e| path.ends_with(e))
}

fn text<'s>(src: &'s str, node: Node<'_>) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

fn line(node: Node<'_>) -> u32 {
    node.start_position().row as u32 + 1
}

/// A string literal's content.
fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .to_string()
}

impl Reader<'_> {
    /// The file an import of `path` (a repository path without or with an extension, maybe
    /// built output) reads.
    /// A file's text, read once.
    fn text(&mut self, path: &str) -> Option<Rc<str>> {
        let read = self.read;
        self.texts
            .entry(path.to_string())
            .or_insert_with(|| read(path).map(Rc::from))
            .clone()
    }

    fn locate(&mut self, path: &str) -> Option<String> {
        let mut exists = |p: &str| self.text(p).is_some();
        if is_script(path) && exists(path) {
            return Some(path.to_string());
        }
        let stem = EXTENSIONS
            .iter()
            .find_map(|e| path.strip_suffix(e))
            .unwrap_or(path);
        let mut stems = vec![stem.to_string()];
        // Built output: its sources under src/.
        let segments: Vec<&str> = stem.split('/').collect();
        if let Some(i) = segments.iter().position(|s| BUILT.contains(s)) {
            let mut src = segments.clone();
            src[i] = "src";
            stems.push(src.join("/"));
            let mut without = segments.clone();
            without.remove(i);
            stems.push(without.join("/"));
        }
        for stem in stems {
            for candidate in EXTENSIONS
                .iter()
                .map(|e| format!("{stem}{e}"))
                .chain(EXTENSIONS.iter().map(|e| format!("{stem}/index{e}")))
            {
                if exists(&candidate) {
                    return Some(candidate);
                }
            }
        }
        None
    }

    fn module(&mut self, file: &str) -> Option<Rc<Module>> {
        if let Some(hit) = self.cache.get(file) {
            return hit.clone();
        }
        self.cache.insert(file.to_string(), None);
        let src = self.text(file)?;
        let lang = Language::for_path(file)?;
        let module = Rc::new(self.read_module(file, &src, lang));
        self.cache
            .insert(file.to_string(), Some(Rc::clone(&module)));
        Some(module)
    }

    /// The file a relative specifier in `from` names; None for a package import.
    fn specifier(&mut self, from: &str, spec: &str) -> Option<String> {
        if !spec.starts_with('.') {
            return None;
        }
        self.locate(&join(dir_of(from), spec))
    }

    fn read_module(&mut self, file: &str, src: &str, lang: Language) -> Module {
        let mut module = Module {
            file: file.to_string(),
            ..Module::default()
        };
        for d in definitions(lang, src) {
            module.defs.entry(d.name.clone()).or_insert(d);
        }
        let Ok(tree) = parse(lang, src) else {
            return module;
        };
        let root = tree.root_node();
        let mut cursor = root.walk();
        for node in root.named_children(&mut cursor) {
            match node.kind() {
                "import_statement" => self.import(file, src, node, &mut module),
                "export_statement" => {
                    self.export(file, src, node, &mut module);
                    if let Some(decl) = node.child_by_field_name("declaration") {
                        calls(src, decl, &mut module.calls);
                    }
                }
                "expression_statement" => commonjs(src, node, &mut module),
                _ => calls(src, node, &mut module.calls),
            }
        }
        normalise_types(src, root, &mut module.calls);
        if let Some(name) = module.export_equals.clone() {
            let mut cursor = root.walk();
            for node in root.named_children(&mut cursor) {
                namespace_members(src, node, &name, &mut module);
            }
        }
        module
    }

    fn import(&mut self, file: &str, src: &str, node: Node<'_>, module: &mut Module) {
        let Some(target) = node
            .child_by_field_name("source")
            .map(|s| unquote(text(src, s)))
            .and_then(|s| self.specifier(file, &s))
        else {
            return;
        };
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            let mut cursor = n.walk();
            for child in n.named_children(&mut cursor) {
                match child.kind() {
                    "import_clause" | "named_imports" => stack.push(child),
                    "identifier" => {
                        module.imports.insert(
                            text(src, child).to_string(),
                            Binding::Imported(target.clone(), Some("default".to_string())),
                        );
                    }
                    "namespace_import" => {
                        let mut inner = child.walk();
                        if let Some(id) = child.named_children(&mut inner).last() {
                            module.imports.insert(
                                text(src, id).to_string(),
                                Binding::Imported(target.clone(), None),
                            );
                        }
                    }
                    "import_specifier" => {
                        let name = child.child_by_field_name("name").map(|n| text(src, n));
                        let alias = child.child_by_field_name("alias").map(|n| text(src, n));
                        if let Some(name) = name {
                            module.imports.insert(
                                alias.unwrap_or(name).to_string(),
                                Binding::Imported(target.clone(), Some(name.to_string())),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn export(&mut self, file: &str, src: &str, node: Node<'_>, module: &mut Module) {
        let at = line(node);
        let source = node
            .child_by_field_name("source")
            .map(|s| unquote(text(src, s)));
        let target = source.as_deref().and_then(|s| self.specifier(file, s));
        let is_default = (0..node.child_count())
            .filter_map(|i| node.child(i as u32))
            .any(|c| c.kind() == "default");
        if let Some(decl) = node.child_by_field_name("declaration") {
            for name in declared_names(src, decl) {
                let exported = if is_default {
                    "default".to_string()
                } else {
                    name.clone()
                };
                module.exports.insert(exported, (Binding::Local(name), at));
            }
            return;
        }
        if let Some(value) = node.child_by_field_name("value") {
            let local = (value.kind() == "identifier").then(|| text(src, value).to_string());
            module.exports.insert(
                "default".to_string(),
                (Binding::Local(local.unwrap_or_default()), at),
            );
            return;
        }
        let mut cursor = node.walk();
        let children: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
        let mut tokens = node.walk();
        let assigns = node.children(&mut tokens).any(|c| c.kind() == "=");
        if let (true, Some(name)) = (
            assigns,
            children.first().filter(|c| c.kind() == "identifier"),
        ) {
            // `export = name`: the module is `name` (its default to an ES import), and the
            // members of a namespace of that name are its names.
            let name = text(src, *name).to_string();
            module
                .exports
                .insert("default".to_string(), (Binding::Local(name.clone()), at));
            module.export_equals = Some(name);
            return;
        }
        let mut clause = false;
        for child in &children {
            match child.kind() {
                "export_clause" => {
                    clause = true;
                    let mut inner = child.walk();
                    for spec in child.named_children(&mut inner) {
                        let name = spec
                            .child_by_field_name("name")
                            .map(|n| unquote(text(src, n)));
                        let alias = spec
                            .child_by_field_name("alias")
                            .map(|n| unquote(text(src, n)));
                        let Some(name) = name else { continue };
                        let binding = match &target {
                            Some(t) => Binding::Imported(t.clone(), Some(name.clone())),
                            None if source.is_some() => continue,
                            None => Binding::Local(name.clone()),
                        };
                        module.exports.insert(alias.unwrap_or(name), (binding, at));
                    }
                }
                "namespace_export" => {
                    clause = true;
                    let mut inner = child.walk();
                    if let (Some(id), Some(t)) = (child.named_children(&mut inner).last(), &target)
                    {
                        module.exports.insert(
                            unquote(text(src, id)),
                            (Binding::Imported(t.clone(), None), at),
                        );
                    }
                }
                _ => {}
            }
        }
        if !clause && let Some(t) = target {
            module.stars.push((t, at));
        }
    }

    /// Every name `module` exports, its star re-exports' included.
    fn exported_names(&mut self, module: &Module, depth: usize) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = module.exports.keys().cloned().collect();
        if depth < MAX_DEPTH {
            for (star, _) in &module.stars {
                if let Some(target) = self.module(star) {
                    names.extend(
                        self.exported_names(&target, depth + 1)
                            .into_iter()
                            .filter(|n| n != "default"),
                    );
                }
            }
        }
        names
    }

    /// What `name`, as `module` exports it, is: an item and (for a class) its members.
    fn resolve(
        &mut self,
        module: &Module,
        name: &str,
        depth: usize,
    ) -> Option<(Item, BTreeMap<String, Item>)> {
        if depth > MAX_DEPTH {
            return None;
        }
        if let Some((binding, at)) = module.exports.get(name) {
            let via = Some((module.file.clone(), *at));
            let mut found = self.binding(module, binding, *at, depth)?;
            if !matches!(binding, Binding::Local(_)) {
                found.0.via = via;
            }
            return Some(found);
        }
        for (star, at) in &module.stars {
            let Some(target) = self.module(star) else {
                continue;
            };
            if let Some(mut found) = self.resolve(&target, name, depth + 1) {
                found.0.via = Some((module.file.clone(), *at));
                return Some(found);
            }
        }
        None
    }

    fn binding(
        &mut self,
        module: &Module,
        binding: &Binding,
        at: u32,
        depth: usize,
    ) -> Option<(Item, BTreeMap<String, Item>)> {
        match binding {
            Binding::Local(local) => {
                if let Some(imported) = module.imports.get(local) {
                    let imported = imported.clone();
                    return self.binding(module, &imported, at, depth + 1);
                }
                Some(local_item(module, local, at))
            }
            Binding::Imported(file, None) => {
                let target = self.module(file)?;
                Some((
                    Item::new(ItemKind::Module, String::new(), target.file.clone(), 1),
                    BTreeMap::new(),
                ))
            }
            Binding::Imported(file, Some(name)) => {
                let target = self.module(file)?;
                self.resolve(&target, name, depth + 1)
            }
        }
    }
}

/// A definition of `module` by local name: its kind and signature, and a class's public
/// members; an exported name with no definition the file-by-file analysis knows (an
/// expression) is a plain variable.
fn local_item(module: &Module, local: &str, at: u32) -> (Item, BTreeMap<String, Item>) {
    let Some(def) = module.defs.get(local) else {
        if let Some(signature) = module.calls.get(local) {
            // Declared only (`export function f(): void;` in a declaration file).
            return (
                Item::new(
                    ItemKind::Function,
                    signature.clone(),
                    module.file.clone(),
                    at,
                ),
                BTreeMap::new(),
            );
        }
        return (
            Item::new(ItemKind::Variable, String::new(), module.file.clone(), at),
            BTreeMap::new(),
        );
    };
    let kind = match def.kind {
        // A function and a namespace of one name (`export = clsx`): it is called.
        DefKind::Module if module.calls.contains_key(local) => ItemKind::Function,
        DefKind::Function => ItemKind::Function,
        DefKind::Method => ItemKind::Method,
        DefKind::Class | DefKind::Struct => ItemKind::Class,
        DefKind::Interface => ItemKind::Interface,
        DefKind::Enum => ItemKind::Enum,
        DefKind::Type => ItemKind::TypeAlias,
        DefKind::Module => ItemKind::Module,
        DefKind::Const | DefKind::Trait | DefKind::Impl => ItemKind::Const,
    };
    let item = |d: &crate::semantic::structure::Definition, kind| Item {
        kind,
        signature: module
            .calls
            .get(&d.name)
            .cloned()
            .unwrap_or_else(|| d.signature.clone()),
        shape: Shape::Plain,
        file: module.file.clone(),
        line: d.start_line,
        via: None,
    };
    let prefix = format!("{local}.");
    let mut members: BTreeMap<String, Item> = module
        .defs
        .range(prefix.clone()..)
        .take_while(|(n, _)| n.starts_with(&prefix))
        .filter(|(n, d)| d.public && !n[prefix.len()..].contains('.'))
        .map(|(n, d)| (n[prefix.len()..].to_string(), item(d, ItemKind::Method)))
        .collect();
    // A declaration file's class declares its methods without bodies: they are only in
    // the call signatures.
    for (name, signature) in &module.calls {
        if let Some(member) = name.strip_prefix(&prefix).filter(|m| !m.contains('.')) {
            members.entry(member.to_string()).or_insert_with(|| {
                Item::new(
                    ItemKind::Method,
                    signature.clone(),
                    module.file.clone(),
                    def.start_line,
                )
            });
        }
    }
    (item(def, kind), members)
}

/// A `declare …` (in declaration files) is the declaration inside it.
fn unwrap_ambient(decl: Node<'_>) -> Node<'_> {
    if decl.kind() == "ambient_declaration" {
        decl.named_child(0).unwrap_or(decl)
    } else {
        decl
    }
}

/// The names a declaration after `export` binds.
fn declared_names(src: &str, decl: Node<'_>) -> Vec<String> {
    let decl = unwrap_ambient(decl);
    if let Some(name) = decl.child_by_field_name("name") {
        return vec![text(src, name).to_string()];
    }
    let mut out = Vec::new();
    let mut cursor = decl.walk();
    for child in decl.named_children(&mut cursor) {
        if child.kind() == "variable_declarator"
            && let Some(name) = child.child_by_field_name("name")
            && name.kind() == "identifier"
        {
            out.push(text(src, name).to_string());
        }
    }
    out
}

/// CommonJS exports: `module.exports = { a, b: c }`, `module.exports = f`,
/// `module.exports.x = …`, `exports.x = …`.
fn commonjs(src: &str, node: Node<'_>, module: &mut Module) {
    let Some(assignment) = node
        .named_child(0)
        .filter(|n| n.kind() == "assignment_expression")
    else {
        return;
    };
    let (Some(left), Some(right)) = (
        assignment.child_by_field_name("left"),
        assignment.child_by_field_name("right"),
    ) else {
        return;
    };
    let at = line(node);
    let target = text(src, left);
    let local = |n: Node<'_>| {
        Binding::Local(if n.kind() == "identifier" {
            text(src, n).to_string()
        } else {
            String::new()
        })
    };
    if target == "module.exports" {
        if right.kind() == "object" {
            let mut cursor = right.walk();
            for prop in right.named_children(&mut cursor) {
                match prop.kind() {
                    "shorthand_property_identifier" => {
                        let name = text(src, prop).to_string();
                        module
                            .exports
                            .insert(name.clone(), (Binding::Local(name), at));
                    }
                    "pair" => {
                        if let (Some(k), Some(v)) = (
                            prop.child_by_field_name("key"),
                            prop.child_by_field_name("value"),
                        ) {
                            module.exports.insert(unquote(text(src, k)), (local(v), at));
                        }
                    }
                    "method_definition" => {
                        if let Some(k) = prop.child_by_field_name("name") {
                            module.exports.insert(
                                text(src, k).to_string(),
                                (Binding::Local(String::new()), at),
                            );
                        }
                    }
                    _ => {}
                }
            }
        } else {
            module
                .exports
                .insert("default".to_string(), (local(right), at));
        }
    } else if let Some(name) = target
        .strip_prefix("module.exports.")
        .or_else(|| target.strip_prefix("exports."))
        .filter(|n| !n.contains('.'))
    {
        module.exports.insert(name.to_string(), (local(right), at));
    }
}

/// Records the call signatures a top-level declaration defines: a function, a function-valued
/// `const`, a class's constructor and public methods.
fn calls(src: &str, decl: Node<'_>, out: &mut HashMap<String, String>) {
    let decl = unwrap_ambient(decl);
    match decl.kind() {
        "function_declaration" | "generator_function_declaration" | "function_signature" => {
            if let Some(name) = decl.child_by_field_name("name") {
                let name = text(src, name).to_string();
                // Overloads: several signatures of one name, compared as written.
                let signature = call_signature(src, decl);
                match out.get(&name) {
                    Some(_) if decl.kind() == "function_signature" => {
                        out.insert(name, "overloaded".to_string());
                    }
                    Some(existing) if existing == "overloaded" => {}
                    _ => {
                        out.insert(name, signature);
                    }
                }
            }
        }
        "lexical_declaration" | "variable_declaration" => {
            let mut cursor = decl.walk();
            for declarator in decl.named_children(&mut cursor) {
                let (Some(name), Some(value)) = (
                    declarator.child_by_field_name("name"),
                    declarator.child_by_field_name("value"),
                ) else {
                    continue;
                };
                if matches!(
                    value.kind(),
                    "arrow_function" | "function_expression" | "function"
                ) {
                    out.insert(text(src, name).to_string(), call_signature(src, value));
                }
            }
        }
        "class_declaration" | "abstract_class_declaration" | "class" => {
            let (Some(name), Some(body)) = (
                decl.child_by_field_name("name"),
                decl.child_by_field_name("body"),
            ) else {
                return;
            };
            let class = text(src, name).to_string();
            let mut cursor = body.walk();
            for member in body.named_children(&mut cursor) {
                let hidden = {
                    let mut inner = member.walk();
                    member.children(&mut inner).any(|c| {
                        c.kind() == "accessibility_modifier"
                            && matches!(text(src, c), "private" | "protected")
                    })
                };
                if hidden || !matches!(member.kind(), "method_definition" | "method_signature") {
                    continue;
                }
                let Some(method) = member
                    .child_by_field_name("name")
                    .map(|n| text(src, n))
                    .filter(|n| !n.starts_with('#'))
                else {
                    continue;
                };
                let signature = call_signature(src, member);
                if method == "constructor" {
                    out.insert(class.clone(), signature);
                } else {
                    out.insert(format!("{class}.{method}"), signature);
                }
            }
        }
        _ => {}
    }
}

/// A callable's parameters by position — each its type (`_` untyped), `=…` when it may be
/// left out (`?`, a default), `...` for a rest parameter — and its return type: what callers
/// depend on. Parameter names are no part of it (JavaScript passes by position).
fn call_signature(src: &str, node: Node<'_>) -> String {
    let mut params = Vec::new();
    if let Some(list) = node.child_by_field_name("parameters") {
        let mut cursor = list.walk();
        for p in list.named_children(&mut cursor) {
            let ty = p
                .child_by_field_name("type")
                .map(|t| collapse(text(src, t).trim_start_matches(':')))
                .unwrap_or_else(|| "_".to_string());
            let pattern = p
                .child_by_field_name("pattern")
                .or_else(|| p.child_by_field_name("name"))
                .unwrap_or(p);
            let piece = if pattern.kind() == "rest_pattern" || p.kind() == "rest_pattern" {
                format!("...{ty}")
            } else if p.kind() == "optional_parameter"
                || p.kind() == "assignment_pattern"
                || p.child_by_field_name("value").is_some()
            {
                format!("{ty}=…")
            } else if p.kind() == "comment" {
                continue;
            } else {
                ty
            };
            params.push(piece);
        }
    } else if node.child_by_field_name("parameter").is_some() {
        // `x => …`
        params.push("_".to_string());
    }
    let returns = node
        .child_by_field_name("return_type")
        .map(|t| format!(": {}", collapse(text(src, t).trim_start_matches(':'))))
        .unwrap_or_default();
    format!("({}){returns}", params.join(", "))
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits a parameter list at its top-level `, ` (not inside `<>`, `()`, `[]`, `{}`).
fn split_params(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    let bytes = list.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'<' | b'(' | b'[' | b'{' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'=' => {}
            b'>' | b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                out.push(list[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = list[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// Whether calls written against call signature `old` still work against `new`: Err(why
/// not), or Ok(how many optional parameters it gained). Signatures of another form (not a
/// call signature) compare as written.
pub fn compatible(old: &str, new: &str) -> Result<usize, String> {
    let parts = |s: &str| -> Option<(Vec<String>, String)> {
        let rest = s.strip_prefix('(')?;
        let mut depth = 1i32;
        let end = rest.char_indices().find_map(|(i, c)| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(i)
        })?;
        let params = split_params(&rest[..end])
            .into_iter()
            .map(str::to_string)
            .collect();
        Some((params, rest[end + 1..].trim().to_string()))
    };
    let (Some((was, was_ret)), Some((now, ret))) = (parts(old), parts(new)) else {
        return if old == new {
            Ok(0)
        } else {
            Err(format!("{old} → {new}"))
        };
    };
    let optional = |p: &str| p.ends_with("=…") || p.starts_with("...");
    let bare = |p: &str| {
        p.trim_end_matches("=…")
            .trim_start_matches("...")
            .to_string()
    };
    for (i, p) in was.iter().enumerate() {
        match now.get(i) {
            None if now.last().is_some_and(|l| l.starts_with("...")) => {}
            None => return Err(format!("parameter {} removed", i + 1)),
            Some(n) => {
                if p.starts_with("...") != n.starts_with("...") && !n.starts_with("...") {
                    return Err(format!("rest parameter {} removed", i + 1));
                }
                if optional(p) && !optional(n) {
                    return Err(format!("parameter {} is no longer optional", i + 1));
                }
                if bare(p) != bare(n) {
                    return Err(format!(
                        "parameter {} changed type: {} → {}",
                        i + 1,
                        bare(p),
                        bare(n)
                    ));
                }
            }
        }
    }
    let gained = &now[was.len().min(now.len())..];
    if let Some(required) = gained.iter().position(|p| !optional(p)) {
        return Err(format!(
            "new required parameter {}",
            was.len() + required + 1
        ));
    }
    if was_ret != ret {
        return Err(format!(
            "return type changed: {} → {}",
            was_ret.trim_start_matches(": "),
            ret.trim_start_matches(": ")
        ));
    }
    Ok(gained.len())
}

/// The members of `declare namespace name { … }` (or `export namespace`, `namespace`) as
/// the module's exports, for a module that is `export = name`: in a declaration file every
/// declaration in a namespace is visible.
fn namespace_members(src: &str, node: Node<'_>, name: &str, module: &mut Module) {
    let node = unwrap_ambient(match node.kind() {
        "export_statement" => match node.child_by_field_name("declaration") {
            Some(d) => d,
            None => return,
        },
        _ => node,
    });
    let namespace = node.kind() == "internal_module" || node.kind() == "module";
    let named = node
        .child_by_field_name("name")
        .is_some_and(|n| text(src, n) == name);
    let Some(body) = node
        .child_by_field_name("body")
        .filter(|_| namespace && named)
    else {
        return;
    };
    let at = line(node);
    let mut cursor = body.walk();
    for member in body.named_children(&mut cursor) {
        let decl = if member.kind() == "export_statement" {
            match member.child_by_field_name("declaration") {
                Some(d) => d,
                None => continue,
            }
        } else {
            member
        };
        let mut signatures = HashMap::new();
        calls(src, decl, &mut signatures);
        for (local, signature) in signatures {
            module.calls.insert(format!("{name}.{local}"), signature);
        }
        for member_name in declared_names(src, decl) {
            module
                .exports
                .entry(member_name.clone())
                .or_insert((Binding::Local(format!("{name}.{member_name}")), at));
        }
    }
}

/// Spells the types of call signatures as the compiler prints them: a file's own aliases
/// of a primitive (`type Milliseconds = number`) by the primitive, `Array<T>` as `T[]`.
fn normalise_types(src: &str, root: Node<'_>, calls: &mut HashMap<String, String>) {
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut cursor = root.walk();
    for node in root.named_children(&mut cursor) {
        let node = unwrap_ambient(match node.kind() {
            "export_statement" => match node.child_by_field_name("declaration") {
                Some(d) => d,
                None => continue,
            },
            _ => node,
        });
        if node.kind() != "type_alias_declaration"
            || node.child_by_field_name("type_parameters").is_some()
        {
            continue;
        }
        if let (Some(name), Some(value)) = (
            node.child_by_field_name("name"),
            node.child_by_field_name("value"),
        ) && value.kind() == "predefined_type"
        {
            aliases.push((text(src, name).to_string(), text(src, value).to_string()));
        }
    }
    for signature in calls.values_mut() {
        let mut spelled = array_types(signature);
        for (alias, primitive) in &aliases {
            spelled = replace_word(&spelled, alias, primitive);
        }
        *signature = spelled;
    }
}

/// `Array<T>` → `T[]` (`(T)[]` when `T` has a top-level `|` or `&`), innermost first.
fn array_types(s: &str) -> String {
    let mut out = s.to_string();
    while let Some(start) = out.find("Array<").filter(|&i| {
        i == 0 || !out.as_bytes()[i - 1].is_ascii_alphanumeric() && out.as_bytes()[i - 1] != b'_'
    }) {
        let open = start + "Array<".len();
        let mut depth = 1i32;
        let Some(close) = out[open..].char_indices().find_map(|(i, c)| {
            match c {
                '<' | '(' | '[' | '{' => depth += 1,
                '>' | ')' | ']' | '}' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(open + i)
        }) else {
            break;
        };
        let inner = &out[open..close];
        let compound = inner.contains(" | ") || inner.contains(" & ");
        let element = if compound {
            format!("({inner})[]")
        } else {
            format!("{inner}[]")
        };
        out = format!("{}{element}{}", &out[..start], &out[close + 1..]);
    }
    out
}

/// `s` with every whole-word `word` replaced by `with`.
fn replace_word(s: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let boundary = |c: Option<char>| {
        c.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.'))
    };
    while let Some(i) = rest.find(word) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + word.len()..].chars().next();
        out.push_str(&rest[..i]);
        if boundary(before) && boundary(after) {
            out.push_str(with);
        } else {
            out.push_str(word);
        }
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}
