//! A Python package's public API, read from its sources on one side of a change.
//!
//! A module is public when it is importable without a segment starting with `_`
//! (`packaging.version`, not `pluggy._hooks`) from a source root: the repository's top, a
//! `src/` directory, or a directory with `pyproject.toml`, `setup.py` or `setup.cfg`.
//! Packages are the directories with an `__init__.py` above the file; a module's `.pyi` stub,
//! when there is one, is what its users' type checkers read, so it is read instead. Tests
//! (`tests/`, `test_*.py`, `conftest.py`), docs, examples, benchmarks and `setup.py` are no
//! part of any API.
//!
//! A public module's API is the names in its `__all__` when that is a literal list, else its
//! top-level names without a leading underscore that it defines (functions, classes,
//! assignments and aliases, also inside top-level `if`/`try`/`with`, not under
//! `if TYPE_CHECKING:`) and, in a package's `__init__`, the names it imports from its own
//! package (`from ._impl import Client`): that is how a package re-exports. Other imports
//! (`import os`, `from typing import Any`) are implementation details (PEP 8). A re-exported
//! name is followed to its definition, so a class moved between private modules behind the
//! same re-export has the same path and signature. A public class's members are its public
//! methods and class attributes, and those of its bases found in the package.
//!
//! Signatures are parameter lists (`(self, path, *, timeout=…, **kw)`) compared for
//! compatibility rather than equality: a new parameter with a default, a new `*args` or
//! `**kwargs`, changed annotations or default values break no caller; a removed, renamed
//! or reordered parameter, a new required one or a lost default does.
//!
//! Only the modules a change touches (and the packages above them, which may re-export
//! from them) are read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tree_sitter::Node;

use super::{Item, ItemKind, Surface};
use crate::diff::Diff;
use crate::semantic::Sources;
use crate::semantic::structure::{Language, parse};

/// Directory names whose files are no part of a package's API.
const NOT_API_DIRS: [&str; 9] = [
    "tests",
    "test",
    "docs",
    "doc",
    "examples",
    "example",
    "benchmarks",
    "benches",
    "scripts",
];

/// Files that are never a module of the API.
const NOT_API_FILES: [&str; 5] = [
    "setup.py",
    "conftest.py",
    "noxfile.py",
    "fabfile.py",
    "__main__.py",
];

/// How deep re-exports and base classes are followed.
const MAX_DEPTH: usize = 8;

/// A module a change touches: its dotted name and the source root it is importable from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Module {
    /// The source root directory ("" at the top of the repository).
    pub root: String,
    /// `packaging.version`.
    pub name: String,
}

impl Module {
    fn public(&self) -> bool {
        !self.name.split('.').any(|s| s.starts_with('_'))
    }
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

fn is_python(path: &str) -> bool {
    path.ends_with(".py") || path.ends_with(".pyi")
}

/// Whether a path is test, doc, example or build code rather than a package's module.
fn not_api(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    let file = parts.pop().unwrap_or("");
    let stem = file.trim_end_matches(".pyi").trim_end_matches(".py");
    parts.iter().any(|d| NOT_API_DIRS.contains(d))
        || NOT_API_FILES.contains(&file)
        || stem.starts_with("test_")
        || stem.ends_with("_test")
}

/// The change's Python modules (and the packages above them) and all its Python files
/// (whose file-by-file API guesses the package view replaces: test files and scripts have
/// no API).
pub fn modules_touched(diff: &Diff, sources: &dyn Sources) -> (Vec<Module>, BTreeSet<String>) {
    let files: BTreeSet<String> = super::paths(diff)
        .filter(|p| is_python(p))
        .map(str::to_string)
        .collect();
    let exists = |path: &str| sources.head(path).is_some() || sources.base(path).is_some();
    (modules_of(&files, &exists), files)
}

/// The modules of Python files `paths` and the packages above them; `exists` tells whether
/// a file is there on either side.
pub fn modules_of<'p>(
    paths: impl IntoIterator<Item = &'p String>,
    exists: &dyn Fn(&str) -> bool,
) -> Vec<Module> {
    let mut modules = BTreeSet::new();
    let mut known: HashMap<String, bool> = HashMap::new();
    let mut there = |path: String| *known.entry(path.clone()).or_insert_with(|| exists(&path));
    for path in paths {
        if !is_python(path) || not_api(path) {
            continue;
        }
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
        let stem = file.trim_end_matches(".pyi").trim_end_matches(".py");
        // Climb the packages: every directory with an `__init__` on either side.
        let mut segments: Vec<String> = Vec::new();
        if stem != "__init__" {
            segments.push(stem.to_string());
        }
        let mut top = dir.to_string();
        let mut packaged = false;
        loop {
            let init = |ext: &str| join(&top, &format!("__init__.{ext}"));
            if top.is_empty() || !(there(init("py")) || there(init("pyi"))) {
                break;
            }
            packaged = true;
            let (up, name) = top.rsplit_once('/').unwrap_or(("", top.as_str()));
            segments.push(name.to_string());
            top = up.to_string();
        }
        if segments.is_empty() {
            continue;
        }
        segments.reverse();
        let manifest = ["pyproject.toml", "setup.py", "setup.cfg"]
            .iter()
            .any(|m| there(join(&top, m)));
        let source_root =
            manifest || top == "src" || top.ends_with("/src") || (top.is_empty() && packaged);
        if !source_root {
            continue;
        }
        for n in 1..=segments.len() {
            modules.insert(Module {
                root: top.clone(),
                name: segments[..n].join("."),
            });
        }
    }
    modules.into_iter().collect()
}

/// A top-level name bound in a module.
#[derive(Debug, Clone)]
enum Binding {
    /// Defined here: the item, and for a class its members and base expressions.
    Def {
        item: Item,
        members: BTreeMap<String, Item>,
        bases: Vec<String>,
    },
    /// `from module import name` (name None: `import module`, a module itself).
    Import {
        module: String,
        name: Option<String>,
        line: u32,
    },
}

/// One module file read.
#[derive(Debug, Default)]
struct Parsed {
    file: String,
    package: bool,
    bindings: BTreeMap<String, Binding>,
    /// `__all__`, when it is a literal.
    all: Option<Vec<String>>,
    /// Modules imported with `*`, and the line.
    stars: Vec<(String, u32)>,
}

/// Reads one side's modules.
struct Reader<'a> {
    read: &'a dyn Fn(&str) -> Option<String>,
    root: String,
    cache: HashMap<String, Option<std::rc::Rc<Parsed>>>,
}

/// A name followed to what it is.
struct Resolved {
    item: Item,
    members: BTreeMap<String, Item>,
}

/// One side's API of `modules` (`read` gives a file's text by repository path).
pub fn surface(modules: &[Module], read: &dyn Fn(&str) -> Option<String>) -> Surface {
    let mut surface = Surface {
        language: super::ApiLanguage::Python,
        ..Surface::default()
    };
    let mut readers: HashMap<String, Reader<'_>> = HashMap::new();
    for module in modules.iter().filter(|m| m.public()) {
        let reader = readers
            .entry(module.root.clone())
            .or_insert_with(|| Reader {
                read,
                root: module.root.clone(),
                cache: HashMap::new(),
            });
        let Some(parsed) = reader.module(&module.name) else {
            continue;
        };
        surface.items.insert(
            module.name.clone(),
            Item::new(ItemKind::Module, String::new(), parsed.file.clone(), 1),
        );
        for (name, resolved) in reader.public_names(&module.name, &parsed) {
            let path = format!("{}.{name}", module.name);
            for (member, item) in resolved.members {
                surface.items.insert(format!("{path}.{member}"), item);
            }
            surface.items.insert(path, resolved.item);
        }
    }
    surface
}

impl Reader<'_> {
    /// The module's file, its stub first.
    fn module(&mut self, name: &str) -> Option<std::rc::Rc<Parsed>> {
        if let Some(hit) = self.cache.get(name) {
            return hit.clone();
        }
        self.cache.insert(name.to_string(), None);
        let rel = name.replace('.', "/");
        let found = [
            (format!("{rel}.pyi"), false),
            (format!("{rel}.py"), false),
            (format!("{rel}/__init__.pyi"), true),
            (format!("{rel}/__init__.py"), true),
        ]
        .into_iter()
        .find_map(|(p, package)| {
            let path = join(&self.root, &p);
            (self.read)(&path).map(|text| (path, text, package))
        });
        let parsed = found.map(|(file, text, package)| {
            std::rc::Rc::new(read_module(&file, &text, name, package))
        });
        self.cache.insert(name.to_string(), parsed.clone());
        parsed
    }

    /// The public names of module `name` and what each is.
    fn public_names(&mut self, name: &str, parsed: &Parsed) -> Vec<(String, Resolved)> {
        let top = name.split('.').next().unwrap_or(name);
        let own = |module: &str| module == top || module.starts_with(&format!("{top}."));
        let mut names: Vec<String> = match &parsed.all {
            Some(all) => all.clone(),
            None => parsed
                .bindings
                .iter()
                .filter(|(n, b)| {
                    !n.starts_with('_')
                        && match b {
                            Binding::Def { .. } => true,
                            Binding::Import { module, .. } => parsed.package && own(module),
                        }
                })
                .map(|(n, _)| n.clone())
                .collect(),
        };
        if parsed.all.is_none() && parsed.package {
            for (star, _) in parsed.stars.iter().filter(|(m, _)| own(m)) {
                if let Some(target) = self.module(star) {
                    let exported: Vec<String> = match &target.all {
                        Some(all) => all.clone(),
                        None => target
                            .bindings
                            .iter()
                            .filter(|(n, b)| {
                                !n.starts_with('_') && matches!(b, Binding::Def { .. })
                            })
                            .map(|(n, _)| n.clone())
                            .collect(),
                    };
                    names.extend(exported);
                }
            }
        }
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter_map(|n| {
                let resolved = self.resolve(name, parsed, &n, 0)?;
                Some((n, resolved))
            })
            .collect()
    }

    /// What `name` is in module `module` (parsed): followed through imports and star
    /// imports; a name nothing binds statically (set by `globals()`, a module `__getattr__`)
    /// is a variable of unknown signature.
    fn resolve(
        &mut self,
        module: &str,
        parsed: &Parsed,
        name: &str,
        depth: usize,
    ) -> Option<Resolved> {
        if depth > MAX_DEPTH {
            return None;
        }
        match parsed.bindings.get(name) {
            Some(Binding::Def {
                item,
                members,
                bases,
            }) => {
                let mut members = members.clone();
                let mut item = item.clone();
                if item.kind == ItemKind::Class {
                    self.inherit(module, parsed, bases, &mut item, &mut members, depth);
                }
                Some(Resolved { item, members })
            }
            Some(Binding::Import {
                module: from,
                name: imported,
                line,
            }) => {
                let via = Some((parsed.file.clone(), *line));
                let found = match imported {
                    Some(n) => self.follow(from, n, depth).or_else(|| {
                        // `from . import sub`: a submodule.
                        let sub = format!("{from}.{n}");
                        self.module(&sub).map(|p| module_item(&p))
                    }),
                    None => self.module(from).map(|p| module_item(&p)),
                };
                let mut found = found.unwrap_or_else(|| unknown(&parsed.file, *line));
                found.item.via = via;
                Some(found)
            }
            None => {
                let mut opaque = parsed.bindings.contains_key("__getattr__");
                for (star, line) in parsed.stars.clone() {
                    if let Some(mut found) = self.follow(&star, name, depth) {
                        found.item.via = Some((parsed.file.clone(), line));
                        return Some(found);
                    }
                    opaque |= self.module(&star).is_none();
                }
                // Listed in `__all__` and bound where this reading cannot see (a module
                // `__getattr__`, a star import from outside the package): there, unknown.
                (opaque && parsed.all.as_ref()?.contains(&name.to_string()))
                    .then(|| unknown(&parsed.file, 1))
            }
        }
    }

    /// `name` as module `module` binds it, when the module is in the package.
    fn follow(&mut self, module: &str, name: &str, depth: usize) -> Option<Resolved> {
        let target = self.module(module)?;
        if !target.bindings.contains_key(name) && target.stars.is_empty() {
            return None;
        }
        let found = self.resolve(module, &target, name, depth + 1)?;
        Some(found)
    }

    /// Adds the members (and the constructor signature, when the class has none of its own)
    /// of the bases of a class that the package defines.
    fn inherit(
        &mut self,
        module: &str,
        parsed: &Parsed,
        bases: &[String],
        item: &mut Item,
        members: &mut BTreeMap<String, Item>,
        depth: usize,
    ) {
        for base in bases {
            let base_name = base.rsplit('.').next().unwrap_or(base);
            let found = if base.contains('.') {
                None
            } else {
                self.resolve(module, parsed, base_name, depth + 1)
            };
            let Some(found) = found.filter(|f| f.item.kind == ItemKind::Class) else {
                continue;
            };
            for (name, member) in found.members {
                members.entry(name).or_insert(member);
            }
            if item.signature == "?" || item.signature == CLASS_WITHOUT_INIT {
                item.signature = found.item.signature.clone();
            }
        }
        if item.signature == CLASS_WITHOUT_INIT {
            // No constructor of its own or from a base in the package: `object`'s takes
            // nothing, another base's is unknown.
            item.signature = if bases.is_empty() || bases.iter().all(|b| b == "object") {
                "()".to_string()
            } else {
                "?".to_string()
            };
        }
    }
}

/// A class with no `__init__`/`__new__` of its own (its constructor is its bases').
const CLASS_WITHOUT_INIT: &str = "(inherited)";

fn unknown(file: &str, line: u32) -> Resolved {
    Resolved {
        item: Item::new(ItemKind::Variable, String::new(), file.to_string(), line),
        members: BTreeMap::new(),
    }
}

fn module_item(parsed: &Parsed) -> Resolved {
    Resolved {
        item: Item::new(ItemKind::Module, String::new(), parsed.file.clone(), 1),
        members: BTreeMap::new(),
    }
}

fn text<'s>(src: &'s str, node: Node<'_>) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

fn line(node: Node<'_>) -> u32 {
    node.start_position().row as u32 + 1
}

/// Reads a module's top-level bindings.
fn read_module(file: &str, src: &str, name: &str, package: bool) -> Parsed {
    let mut parsed = Parsed {
        file: file.to_string(),
        package,
        ..Parsed::default()
    };
    let Ok(tree) = parse(Language::Python, src) else {
        return parsed;
    };
    // Where relative imports start: the package itself for an `__init__`, else its parent.
    let here: Vec<&str> = name.split('.').collect();
    let anchor = if package {
        here.clone()
    } else {
        here[..here.len().saturating_sub(1)].to_vec()
    };
    let mut block = Block {
        src,
        file,
        anchor: &anchor,
        parsed: &mut parsed,
    };
    block.statements(tree.root_node());
    parsed
}

struct Block<'a> {
    src: &'a str,
    file: &'a str,
    anchor: &'a [&'a str],
    parsed: &'a mut Parsed,
}

impl Block<'_> {
    fn bind(&mut self, name: &str, binding: Binding) {
        // The first binding stays (`try: from x import y` / `except: y = None`), except that
        // the module's own definition takes over from an import of the name.
        match self.parsed.bindings.get(name) {
            Some(Binding::Import { .. }) if matches!(binding, Binding::Def { .. }) => {}
            Some(_) => return,
            None => {}
        }
        self.parsed.bindings.insert(name.to_string(), binding);
    }

    fn statements(&mut self, list: Node<'_>) {
        let mut cursor = list.walk();
        for node in list.named_children(&mut cursor) {
            self.statement(node);
        }
    }

    fn statement(&mut self, node: Node<'_>) {
        let src = self.src;
        match node.kind() {
            "function_definition" | "class_definition" | "decorated_definition" => {
                if let Some((name, binding)) = definition(src, self.file, node) {
                    self.bind(&name, binding);
                }
            }
            "expression_statement" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    match child.kind() {
                        "assignment" => self.assignment(child),
                        "augmented_assignment" => self.extend_all(child),
                        "call" => self.all_call(child),
                        _ => {}
                    }
                }
            }
            "type_alias_statement" => {
                if let Some(left) = node.child_by_field_name("left") {
                    let name = text(src, left).to_string();
                    self.bind(&name, variable(self.file, line(node)));
                }
            }
            "import_from_statement" => self.import_from(node),
            "import_statement" => {
                let mut cursor = node.walk();
                for child in node.children_by_field_name("name", &mut cursor) {
                    let (module, alias) = match child.kind() {
                        "aliased_import" => (
                            child.child_by_field_name("name").map(|n| text(src, n)),
                            child.child_by_field_name("alias").map(|n| text(src, n)),
                        ),
                        _ => (Some(text(src, child)), None),
                    };
                    let Some(module) = module else { continue };
                    // `import a.b` binds `a`; `import a.b as c` binds `c` to `a.b`.
                    let (bound, target) = match alias {
                        Some(alias) => (alias.to_string(), module.to_string()),
                        None => {
                            let first = module.split('.').next().unwrap_or(module);
                            (first.to_string(), first.to_string())
                        }
                    };
                    self.bind(
                        &bound,
                        Binding::Import {
                            module: target,
                            name: None,
                            line: line(node),
                        },
                    );
                }
            }
            "if_statement" => {
                let condition = node
                    .child_by_field_name("condition")
                    .map(|c| text(src, c))
                    .unwrap_or("");
                let type_checking = condition.ends_with("TYPE_CHECKING");
                if let Some(body) = node.child_by_field_name("consequence")
                    && !type_checking
                {
                    self.statements(body);
                }
                let mut cursor = node.walk();
                for alternative in node.children_by_field_name("alternative", &mut cursor) {
                    let body = alternative
                        .child_by_field_name("consequence")
                        .or_else(|| alternative.child_by_field_name("body"));
                    if let Some(body) = body {
                        self.statements(body);
                    }
                }
            }
            "try_statement" | "with_statement" | "except_clause" | "else_clause"
            | "finally_clause" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    match child.kind() {
                        "block" => self.statements(child),
                        "except_clause" | "else_clause" | "finally_clause" => self.statement(child),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn assignment(&mut self, node: Node<'_>) {
        let src = self.src;
        let Some(left) = node.child_by_field_name("left") else {
            return;
        };
        let names: Vec<&str> = match left.kind() {
            "identifier" => vec![text(src, left)],
            "pattern_list" | "tuple_pattern" => {
                let mut cursor = left.walk();
                left.named_children(&mut cursor)
                    .filter(|n| n.kind() == "identifier")
                    .map(|n| text(src, n))
                    .collect()
            }
            _ => Vec::new(),
        };
        if names == ["__all__"] {
            let right = node.child_by_field_name("right");
            self.parsed.all = right.and_then(|r| strings(src, r));
            return;
        }
        for name in names {
            self.bind(name, variable(self.file, line(node)));
        }
        // `a = b = 1`
        if let Some(right) = node.child_by_field_name("right")
            && right.kind() == "assignment"
        {
            self.assignment(right);
        }
    }

    /// `__all__ += [...]`.
    fn extend_all(&mut self, node: Node<'_>) {
        let src = self.src;
        let is_all = node
            .child_by_field_name("left")
            .is_some_and(|l| text(src, l) == "__all__");
        if !is_all {
            return;
        }
        let more = node
            .child_by_field_name("right")
            .and_then(|r| strings(src, r));
        if let (Some(all), Some(more)) = (self.parsed.all.as_mut(), more) {
            all.extend(more);
        } else {
            // Extended with something computed: not a literal any more.
            self.parsed.all = None;
        }
    }

    /// `__all__.extend([...])`, `__all__.append("x")`.
    fn all_call(&mut self, node: Node<'_>) {
        let src = self.src;
        let Some(function) = node.child_by_field_name("function") else {
            return;
        };
        let called = text(src, function);
        if called != "__all__.extend" && called != "__all__.append" {
            return;
        }
        let Some(args) = node.child_by_field_name("arguments") else {
            return;
        };
        let more = if called.ends_with("append") {
            strings(src, args)
        } else {
            args.named_child(0).and_then(|a| strings(src, a))
        };
        match (self.parsed.all.as_mut(), more) {
            (Some(all), Some(more)) => all.extend(more),
            _ => self.parsed.all = None,
        }
    }

    fn import_from(&mut self, node: Node<'_>) {
        let src = self.src;
        let Some(from) = node.child_by_field_name("module_name") else {
            return;
        };
        let module = if from.kind() == "relative_import" {
            let raw = text(src, from);
            let dots = raw.chars().take_while(|c| *c == '.').count();
            let rest = raw[dots..].trim();
            let keep = self.anchor.len().saturating_sub(dots.saturating_sub(1));
            let mut parts: Vec<&str> = self.anchor[..keep].to_vec();
            if !rest.is_empty() {
                parts.push(rest);
            }
            parts.join(".")
        } else {
            text(src, from).to_string()
        };
        let mut cursor = node.walk();
        let mut any = false;
        for child in node.children_by_field_name("name", &mut cursor) {
            any = true;
            let (name, alias) = match child.kind() {
                "aliased_import" => (
                    child.child_by_field_name("name").map(|n| text(src, n)),
                    child.child_by_field_name("alias").map(|n| text(src, n)),
                ),
                _ => (Some(text(src, child)), None),
            };
            let Some(name) = name else { continue };
            self.bind(
                alias.unwrap_or(name),
                Binding::Import {
                    module: module.clone(),
                    name: Some(name.to_string()),
                    line: line(node),
                },
            );
        }
        let mut cursor = node.walk();
        let star = node
            .named_children(&mut cursor)
            .any(|c| c.kind() == "wildcard_import");
        if star || !any {
            self.parsed.stars.push((module, line(node)));
        }
    }
}

fn variable(file: &str, line: u32) -> Binding {
    Binding::Def {
        item: Item::new(ItemKind::Variable, String::new(), file.to_string(), line),
        members: BTreeMap::new(),
        bases: Vec::new(),
    }
}

/// The strings of a literal list or tuple (None when anything else is in it).
fn strings(src: &str, node: Node<'_>) -> Option<Vec<String>> {
    let items: Vec<Node<'_>> = match node.kind() {
        "list" | "tuple" | "argument_list" | "parenthesized_expression" => {
            let mut cursor = node.walk();
            node.named_children(&mut cursor)
                .filter(|n| n.kind() != "comment")
                .collect()
        }
        "string" => vec![node],
        _ => return None,
    };
    items
        .into_iter()
        .map(|n| {
            if n.kind() != "string" {
                return None;
            }
            let raw = text(src, n);
            let inner = raw.trim_start_matches(['r', 'u', 'b', 'R', 'U', 'B']);
            let quote = inner.chars().next()?;
            Some(inner.trim_matches(quote).to_string())
        })
        .collect()
}

/// A function's or class's binding from its definition (decorators included).
fn definition(src: &str, file: &str, node: Node<'_>) -> Option<(String, Binding)> {
    let (def, decorators) = unwrap_decorated(src, node);
    let name = text(src, def.child_by_field_name("name")?).to_string();
    let at = line(node);
    if def.kind() == "function_definition" {
        let item = Item::new(
            ItemKind::Function,
            parameters(src, def, false),
            file.to_string(),
            at,
        );
        return Some((
            name,
            Binding::Def {
                item,
                members: BTreeMap::new(),
                bases: Vec::new(),
            },
        ));
    }
    let bases: Vec<String> = def
        .child_by_field_name("superclasses")
        .map(|list| {
            let mut cursor = list.walk();
            list.named_children(&mut cursor)
                .filter(|n| n.kind() != "keyword_argument")
                .map(|n| text(src, n).to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut members = BTreeMap::new();
    let mut init = None;
    if let Some(body) = def.child_by_field_name("body") {
        class_members(src, file, body, "", &mut members, &mut init);
    }
    // A generated constructor (dataclass, attrs) is not in the source.
    let generated = decorators
        .iter()
        .any(|d| d.contains("dataclass") || d.starts_with("attr") || d.contains(".define"));
    let signature = match init {
        _ if generated => "?".to_string(),
        Some(sig) => sig,
        None => CLASS_WITHOUT_INIT.to_string(),
    };
    let item = Item::new(ItemKind::Class, signature, file.to_string(), at);
    Some((
        name,
        Binding::Def {
            item,
            members,
            bases,
        },
    ))
}

/// The definition inside a decorated one, and the decorators' text (without `@`).
fn unwrap_decorated<'t>(src: &str, node: Node<'t>) -> (Node<'t>, Vec<String>) {
    if node.kind() != "decorated_definition" {
        return (node, Vec::new());
    }
    let mut cursor = node.walk();
    let decorators = node
        .named_children(&mut cursor)
        .filter(|n| n.kind() == "decorator")
        .map(|n| text(src, n).trim_start_matches('@').trim().to_string())
        .collect();
    (
        node.child_by_field_name("definition").unwrap_or(node),
        decorators,
    )
}

/// A class body's public members (prefixed with `prefix` for nested classes), and its
/// constructor's signature (from `__init__`, else `__new__`, without the first parameter).
fn class_members(
    src: &str,
    file: &str,
    body: Node<'_>,
    prefix: &str,
    members: &mut BTreeMap<String, Item>,
    init: &mut Option<String>,
) {
    let mut cursor = body.walk();
    for node in body.named_children(&mut cursor) {
        match node.kind() {
            "function_definition" | "decorated_definition" | "class_definition" => {
                let (def, decorators) = unwrap_decorated(src, node);
                let Some(name) = def.child_by_field_name("name").map(|n| text(src, n)) else {
                    continue;
                };
                if def.kind() == "class_definition" {
                    if name.starts_with('_') {
                        continue;
                    }
                    let path = format!("{prefix}{name}");
                    members.insert(
                        path.clone(),
                        Item::new(
                            ItemKind::Class,
                            "?".to_string(),
                            file.to_string(),
                            line(node),
                        ),
                    );
                    if let Some(inner) = def.child_by_field_name("body") {
                        let mut ignored = None;
                        class_members(src, file, inner, &format!("{path}."), members, &mut ignored);
                    }
                    continue;
                }
                let has = |what: &str| {
                    decorators
                        .iter()
                        .any(|d| d == what || d.ends_with(&format!(".{what}")))
                };
                if name == "__init__" || (name == "__new__" && init.is_none()) {
                    if prefix.is_empty() {
                        *init = Some(parameters(src, def, true));
                    }
                    continue;
                }
                if name.starts_with('_') {
                    continue;
                }
                let property = has("property")
                    || has("cached_property")
                    || decorators
                        .iter()
                        .any(|d| d.ends_with(".setter") || d.ends_with(".getter"));
                let item = if property {
                    Item::new(
                        ItemKind::Attribute,
                        String::new(),
                        file.to_string(),
                        line(node),
                    )
                } else {
                    let overloaded = has("overload");
                    Item {
                        kind: ItemKind::Method,
                        // A classmethod is called on the class: its `cls` is bound.
                        signature: if overloaded {
                            "?".to_string()
                        } else {
                            parameters(src, def, has("classmethod"))
                        },
                        shape: super::Shape::Plain,
                        file: file.to_string(),
                        line: line(node),
                        via: None,
                    }
                };
                // Overloads: several definitions of one name; any of them makes it "?".
                match members.get_mut(&format!("{prefix}{name}")) {
                    Some(existing) if existing.kind == ItemKind::Method && !property => {
                        existing.signature = "?".to_string();
                    }
                    Some(_) => {}
                    None => {
                        members.insert(format!("{prefix}{name}"), item);
                    }
                }
            }
            "expression_statement" => {
                let mut inner = node.walk();
                for child in node.named_children(&mut inner) {
                    let Some(left) = (child.kind() == "assignment")
                        .then(|| child.child_by_field_name("left"))
                        .flatten()
                    else {
                        continue;
                    };
                    let name = text(src, left);
                    // `name: str` without a value declares an instance attribute: the class
                    // has no such attribute (a stub's declarations are what it has).
                    let declared_only =
                        child.child_by_field_name("right").is_none() && !file.ends_with(".pyi");
                    if left.kind() == "identifier" && !name.starts_with('_') && !declared_only {
                        members.entry(format!("{prefix}{name}")).or_insert_with(|| {
                            Item::new(
                                ItemKind::Attribute,
                                String::new(),
                                file.to_string(),
                                line(node),
                            )
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

/// A function's parameters, normalised: `(a, b=…, *args, c, d=…, **kw)` with `/` after
/// positional-only ones and `*` before keyword-only ones when there is no `*args`;
/// annotations and default values left out. `bound`: drop the first (`self`, `cls`).
fn parameters(src: &str, def: Node<'_>, bound: bool) -> String {
    let Some(list) = def.child_by_field_name("parameters") else {
        return "?".to_string();
    };
    let mut out: Vec<String> = Vec::new();
    let mut cursor = list.walk();
    for p in list.named_children(&mut cursor) {
        let name_of = |n: Node<'_>| -> String {
            n.child_by_field_name("name")
                .map(|x| text(src, x))
                .unwrap_or_else(|| text(src, n))
                .to_string()
        };
        let piece = match p.kind() {
            "identifier" => text(src, p).to_string(),
            "default_parameter" | "typed_default_parameter" => format!("{}=…", name_of(p)),
            "typed_parameter" => {
                let mut inner = p.walk();
                let first = p.named_children(&mut inner).next();
                match first {
                    Some(f)
                        if f.kind() == "list_splat_pattern"
                            || f.kind() == "dictionary_splat_pattern" =>
                    {
                        text(src, f).to_string()
                    }
                    Some(f) => text(src, f).to_string(),
                    None => continue,
                }
            }
            "list_splat_pattern" | "dictionary_splat_pattern" => text(src, p).to_string(),
            "keyword_separator" => "*".to_string(),
            "positional_separator" => "/".to_string(),
            _ => continue,
        };
        out.push(piece.split_whitespace().collect::<Vec<_>>().join(""));
    }
    if bound && !out.is_empty() && !out[0].starts_with('*') && out[0] != "/" {
        out.remove(0);
        if out.first().is_some_and(|f| f == "/") {
            out.remove(0);
        }
    }
    format!("({})", out.join(", "))
}

/// One parameter of a normalised list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Param {
    name: String,
    positional: bool,
    keyword: bool,
    default: bool,
}

/// A normalised parameter list read back: the named parameters, and whether `*args` and
/// `**kwargs` are taken. None for an unknown signature.
fn read_params(sig: &str) -> Option<(Vec<Param>, bool, bool)> {
    let inner = sig.strip_prefix('(')?.strip_suffix(')')?;
    let pieces: Vec<&str> = inner.split(", ").filter(|p| !p.is_empty()).collect();
    let positional_only = pieces.iter().position(|p| *p == "/");
    let mut params = Vec::new();
    let (mut var_args, mut var_kw, mut keyword_only) = (false, false, false);
    for (i, piece) in pieces.iter().enumerate() {
        if *piece == "/" {
            continue;
        }
        if *piece == "*" {
            keyword_only = true;
            continue;
        }
        if piece.starts_with("**") {
            var_kw = true;
            continue;
        }
        if piece.starts_with('*') {
            var_args = true;
            keyword_only = true;
            continue;
        }
        let default = piece.ends_with("=…");
        let name = piece.trim_end_matches("=…").to_string();
        let only_positional = positional_only.is_some_and(|slash| i < slash);
        params.push(Param {
            name,
            positional: !keyword_only,
            keyword: !only_positional,
            default,
        });
    }
    Some((params, var_args, var_kw))
}

/// Whether calls written against `old` still work against `new`: Err(why not), or Ok(the
/// optional parameters it gained).
pub fn compatible(old: &str, new: &str) -> Result<Vec<String>, String> {
    let (Some((was, was_args, was_kw)), Some((now, args, kw))) =
        (read_params(old), read_params(new))
    else {
        return Ok(Vec::new());
    };
    let old_positional: Vec<&Param> = was.iter().filter(|p| p.positional).collect();
    let new_positional: Vec<&Param> = now.iter().filter(|p| p.positional).collect();
    for (i, p) in old_positional.iter().enumerate() {
        match new_positional.get(i) {
            None if !args => {
                return Err(if now.iter().any(|n| n.name == p.name) {
                    format!("parameter `{}` can no longer be passed by position", p.name)
                } else {
                    format!("parameter `{}` removed", p.name)
                });
            }
            Some(n) if p.keyword && n.name != p.name => {
                return Err(if now.iter().any(|q| q.name == p.name) {
                    format!("parameter `{}` moved from position {}", p.name, i + 1)
                } else {
                    format!("parameter `{}` renamed or removed", p.name)
                });
            }
            _ => {}
        }
    }
    for p in was.iter().filter(|p| p.keyword) {
        match now.iter().find(|n| n.name == p.name) {
            Some(n) if !n.keyword => {
                return Err(format!(
                    "parameter `{}` can no longer be passed by name",
                    p.name
                ));
            }
            None if !kw => return Err(format!("parameter `{}` removed", p.name)),
            _ => {}
        }
    }
    for p in was.iter().filter(|p| p.default) {
        if now.iter().any(|n| n.name == p.name && !n.default) {
            return Err(format!("parameter `{}` lost its default", p.name));
        }
    }
    if was_args && !args {
        return Err("no longer takes `*args`".to_string());
    }
    if was_kw && !kw {
        return Err("no longer takes `**kwargs`".to_string());
    }
    let mut gained = Vec::new();
    for (i, n) in now.iter().enumerate() {
        // A positional-only parameter is matched by its place, any other by its name.
        let by_place = !n.keyword && i < old_positional.len();
        if by_place || was.iter().any(|p| p.name == n.name) {
            continue;
        }
        if !n.default {
            return Err(format!("new required parameter `{}`", n.name));
        }
        gained.push(n.name.clone());
    }
    Ok(gained)
}
