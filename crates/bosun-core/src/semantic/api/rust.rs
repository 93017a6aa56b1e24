//! A Rust library crate's public API, read from its sources on one side of a change.
//!
//! From the library root (`src/lib.rs`, or `[lib] path`), `mod` declarations are followed into
//! files (`a.rs`, `a/mod.rs`, `#[path]`) and inline modules; items under `#[cfg(test)]` are
//! left out, items under `#[doc(hidden)]` are not public. Every module gets a namespace: its
//! items, its modules, its `use`s and its glob imports. The public API is what can be named
//! from the crate root through public namespace entries only — so an item in a private module
//! is public only where a `pub use` re-exports it, under that path, and an item moved to
//! another file keeps its path as long as a re-export does. Methods and associated items come
//! from inherent impls, attached to every public path of their type; trait impls and derives
//! are kept as the traits a type implements.
//!
//! Files under `tests/`, `benches/`, `examples/` and binaries are never reached from the
//! library root, so they are no part of the API.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use tree_sitter::Node;

use super::{Item, ItemKind, Shape, Surface};
use crate::diff::Diff;
use crate::semantic::Sources;
use crate::semantic::structure::{Language, parse};

/// A library crate a change touches: the directory of its `Cargo.toml` ("" at the top).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Crate {
    pub dir: String,
}

impl Crate {
    fn join(&self, rel: &str) -> String {
        if self.dir.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.dir)
        }
    }

    /// The change's Rust files inside this crate (its tests and examples too, which are no
    /// part of the API).
    pub fn files(&self, diff: &Diff) -> Vec<String> {
        let prefix = if self.dir.is_empty() {
            String::new()
        } else {
            format!("{}/", self.dir)
        };
        super::paths(diff)
            .filter(|p| p.ends_with(".rs") && p.starts_with(&prefix))
            .map(str::to_string)
            .collect()
    }
}

/// The crates whose Rust files the change touches: for each file, the nearest directory
/// above it with a `Cargo.toml` on either side.
pub fn crates_touched(diff: &Diff, sources: &dyn Sources) -> Vec<Crate> {
    let paths = super::paths(diff)
        .filter(|p| p.ends_with(".rs") || *p == "Cargo.toml" || p.ends_with("/Cargo.toml"));
    super::manifest_dirs(paths, "Cargo.toml", sources)
        .into_iter()
        .map(|dir| Crate { dir })
        .collect()
}

/// One side's API of `krate`, or None when that side has no library target (no manifest,
/// no `[package]`, no library root).
pub struct Read {
    pub name: String,
    pub surface: Surface,
}

/// Reads `krate`'s library on one side (`read` gives a file's text by repository path).
pub fn surface(krate: &Crate, read: &dyn Fn(&str) -> Option<String>) -> Option<Read> {
    let manifest_text = read(&krate.join("Cargo.toml"))?;
    let manifest: toml::Table = manifest_text.parse().ok()?;
    let package = manifest.get("package")?.as_table()?;
    let lib = manifest.get("lib").and_then(|l| l.as_table());
    let name = lib
        .and_then(|l| l.get("name"))
        .or_else(|| package.get("name"))?
        .as_str()?
        .replace('-', "_");
    let root = krate.join(
        lib.and_then(|l| l.get("path"))
            .and_then(|p| p.as_str())
            .unwrap_or("src/lib.rs"),
    );
    let text = read(&root)?;
    let mut walker = Walker {
        read,
        modules: vec![ModuleInfo::default()],
        defs: Vec::new(),
        files: HashSet::new(),
        impls: Vec::new(),
        memo: Default::default(),
        busy: Default::default(),
    };
    let dir = root.rsplit_once('/').map_or("", |(d, _)| d).to_string();
    walker.file(0, &root, &text, &dir);
    walker.modules[0].file = root.clone();
    walker.attach_impls();
    let mut surface = walker.surface(&name);
    surface.manifest = krate.join("Cargo.toml");
    surface.features = features(&manifest)
        .into_iter()
        .map(|f| {
            // The line that names it (the feature's, or the optional dependency's).
            let line = manifest_text
                .lines()
                .position(|l| {
                    let l = l.trim_start().trim_start_matches('"');
                    l.strip_prefix(f.as_str()).is_some_and(|rest| {
                        rest.trim_start_matches('"').trim_start().starts_with('=')
                    })
                })
                .map_or(1, |i| i as u32 + 1);
            (f, line)
        })
        .collect();
    Some(Read { surface, name })
}

/// A package's features: the `[features]` table's, and each optional dependency's implicit
/// one unless a feature names it `dep:NAME`.
fn features(manifest: &toml::Table) -> BTreeSet<String> {
    let table = manifest.get("features").and_then(|f| f.as_table());
    let mut out: BTreeSet<String> = table
        .map(|t| t.keys().filter(|k| *k != "default").cloned().collect())
        .unwrap_or_default();
    let hidden: BTreeSet<String> = table
        .into_iter()
        .flat_map(|t| t.values())
        .filter_map(|v| v.as_array())
        .flatten()
        .filter_map(|v| v.as_str()?.strip_prefix("dep:").map(str::to_string))
        .collect();
    let optional = manifest
        .get("dependencies")
        .and_then(|d| d.as_table())
        .into_iter()
        .flatten()
        .filter(|(_, spec)| {
            spec.get("optional")
                .and_then(|o| o.as_bool())
                .unwrap_or(false)
        })
        .map(|(name, _)| name.clone());
    out.extend(optional.filter(|n| !hidden.contains(n)));
    out
}

/// What a name in a module's namespace stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Def(usize),
    Module(usize),
    /// A path outside the crate (`serde::Serialize`).
    External(String),
    /// A `use` not resolved yet: the module it is in, its path and its line.
    Use(usize, Vec<String>, u32),
}

#[derive(Debug, Default)]
struct ModuleInfo {
    parent: Option<usize>,
    /// name → what it stands for, and whether it is `pub` there.
    names: Vec<(String, Target, bool)>,
    /// `pub use path::*` (true) and private globs.
    globs: Vec<(Vec<String>, bool)>,
    /// Where the module is declared (its `mod` line), and the file its items are in.
    file: String,
    line: u32,
    own_file: String,
}

#[derive(Debug)]
struct Def {
    item: Item,
    /// A trait's items, and the methods and associated items of a type's inherent impls:
    /// name → item.
    members: BTreeMap<String, Item>,
    traits: BTreeSet<String>,
}

/// An impl block, kept until every module is read (its type may be defined anywhere).
struct PendingImpl {
    module: usize,
    type_name: String,
    trait_name: Option<String>,
    members: Vec<(String, Item)>,
}

/// A public name of a module: what it stands for and, for a re-export, its line.
type PublicName = (String, Target, u32);

struct Walker<'a> {
    read: &'a dyn Fn(&str) -> Option<String>,
    modules: Vec<ModuleInfo>,
    defs: Vec<Def>,
    files: HashSet<String>,
    impls: Vec<PendingImpl>,
    /// [`Walker::public_names`] per module, and the modules being worked out (a cycle of
    /// glob re-exports ends there).
    memo: std::cell::RefCell<HashMap<usize, std::rc::Rc<Vec<PublicName>>>>,
    busy: std::cell::RefCell<HashSet<usize>>,
}

/// The named children of `list` that are not attributes or comments, each with the outer
/// attributes written before it (`#[...]`, collapsed). One pass: a node's parent and
/// siblings are found in tree-sitter by walking down from the root, which over every item
/// of a crate was most of the analysis's time.
fn with_attributes<'t>(src: &str, list: Node<'t>) -> Vec<(Node<'t>, Vec<String>)> {
    let mut out = Vec::new();
    let mut pending = Vec::new();
    let mut cursor = list.walk();
    for child in list.named_children(&mut cursor) {
        match child.kind() {
            "attribute_item" => pending.push(collapse(text(src, child))),
            "line_comment" | "block_comment" => {}
            _ => out.push((child, std::mem::take(&mut pending))),
        }
    }
    out
}

fn text<'s>(src: &'s str, node: Node<'_>) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join("")
}

fn is_pub(node: Node<'_>, src: &str) -> bool {
    let mut cursor = node.walk();
    node.children(&mut cursor)
        .any(|c| c.kind() == "visibility_modifier" && collapse(text(src, c)) == "pub")
}

fn has(attrs: &[String], what: &str) -> bool {
    attrs.iter().any(|a| a.contains(what))
}

/// `#[cfg(test)]` (also `cfg(all(test, …))`): not compiled into the library users get.
/// Left out of the library users build: `#[cfg(test)]` (also inside `all(…)`), and a cfg
/// that is one custom name set only by a build script or for docs (`#[cfg(provide_any)]`,
/// `#[cfg(docsrs)]`, `#[cfg(doc)]`: nightly or documentation-only items). Features, targets
/// and `not(…)` are kept: they are API where they are on.
fn test_only(attrs: &[String]) -> bool {
    attrs.iter().any(|a| {
        let Some(cond) = a.strip_prefix("#[cfg(").and_then(|c| c.strip_suffix(")]")) else {
            return false;
        };
        let bare = cond.chars().all(|c| c.is_alphanumeric() || c == '_');
        let kept_bare = ["unix", "windows", "debug_assertions", "target_thread_local"];
        // `all(test, …)` is test-only; `any(feature = "std", test)` is not.
        let all_test = cond
            .strip_prefix("all(")
            .is_some_and(|inner| inner.trim_end_matches(')').split(',').any(|c| c == "test"));
        cond == "test" || all_test || (bare && !kept_bare.contains(&cond))
    })
}

/// What one file declares, in order, whatever module it is read as: kept per file content
/// (`digest_of`), so a file the two sides share, or that the per-file analysis has just parsed
/// ([`remember`]), is not parsed again. Items carry no file; it is set when they are placed.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    Mod {
        name: String,
        public: bool,
        line: u32,
        path_attr: Option<String>,
        body: Option<Vec<Entry>>,
    },
    Def {
        name: String,
        public: bool,
        item: Item,
        members: BTreeMap<String, Item>,
        traits: BTreeSet<String>,
    },
    Macro {
        name: String,
        exported: bool,
        line: u32,
    },
    Impl {
        type_name: String,
        trait_name: Option<String>,
        members: Vec<(String, Item)>,
    },
    Use {
        name: String,
        path: Vec<String>,
        public: bool,
        line: u32,
    },
    Glob {
        path: Vec<String>,
        public: bool,
    },
}

type Digests = std::sync::Mutex<HashMap<u64, std::sync::Arc<Vec<Entry>>>>;

/// Digests by a hash of the file's text (keyed per process, so an agent cannot aim a
/// collision), the last few thousand files.
fn digests() -> &'static (Digests, std::collections::hash_map::RandomState) {
    static CACHE: std::sync::OnceLock<(Digests, std::collections::hash_map::RandomState)> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

const KEEP_DIGESTS: usize = 4096;

/// Forgets every digest (benchmarks measure a first reading with it).
pub fn forget_digests() {
    digests()
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
}

fn digest_key(src: &str) -> u64 {
    use std::hash::BuildHasher;
    digests().1.hash_one(src)
}

fn keep(key: u64, digest: std::sync::Arc<Vec<Entry>>) {
    let mut cache = digests().0.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= KEEP_DIGESTS {
        cache.clear();
    }
    cache.insert(key, digest);
}

/// The digest of a Rust file's text: from the cache, else parsed now.
fn digest_of(src: &str) -> Option<std::sync::Arc<Vec<Entry>>> {
    let key = digest_key(src);
    if let Some(hit) = digests()
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
    {
        return Some(std::sync::Arc::clone(hit));
    }
    let tree = parse(Language::Rust, src).ok()?;
    let digest = std::sync::Arc::new(digest(src, tree.root_node()));
    keep(key, std::sync::Arc::clone(&digest));
    Some(digest)
}

/// Keeps the digest of a Rust file the per-file analysis has parsed (`tree` is `src`'s), for
/// the crate-level reading that follows.
pub(crate) fn remember(src: &str, tree: &tree_sitter::Tree) {
    let key = digest_key(src);
    if digests()
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains_key(&key)
    {
        return;
    }
    keep(key, std::sync::Arc::new(digest(src, tree.root_node())));
}

/// The declarations of an item list (a file, an inline module's body, an `extern` block).
fn digest(src: &str, list: Node<'_>) -> Vec<Entry> {
    let mut out = Vec::new();
    for (node, attrs) in with_attributes(src, list) {
        if test_only(&attrs) || has(&attrs, "#[test]") {
            continue;
        }
        let public = is_pub(node, src) && !has(&attrs, "doc(hidden)");
        let line = node.start_position().row as u32 + 1;
        let name = node
            .child_by_field_name("name")
            .map(|n| text(src, n).to_string());
        match node.kind() {
            "mod_item" => {
                let Some(name) = name else { continue };
                let path_attr = attrs.iter().find_map(|a| {
                    let rest = a.strip_prefix("#[path=")?;
                    Some(rest.trim_end_matches(']').trim_matches('"').to_string())
                });
                let body = node.child_by_field_name("body").map(|b| digest(src, b));
                out.push(Entry::Mod {
                    name,
                    public,
                    line,
                    path_attr,
                    body,
                });
            }
            "function_item" | "struct_item" | "enum_item" | "union_item" | "trait_item"
            | "type_item" | "const_item" | "static_item" => {
                let Some(name) = name else { continue };
                let members = if node.kind() == "trait_item" {
                    trait_members(src, node, "", &name)
                } else {
                    BTreeMap::new()
                };
                out.push(Entry::Def {
                    item: item_of(src, node, "", &attrs, None),
                    traits: derives(&attrs),
                    members,
                    name,
                    public,
                });
            }
            "macro_definition" => {
                let Some(name) = name else { continue };
                // `#[macro_export]` puts it at the crate root, whatever module it is in.
                let exported = has(&attrs, "macro_export") && !has(&attrs, "doc(hidden)");
                out.push(Entry::Macro {
                    name,
                    exported,
                    line,
                });
            }
            "impl_item" => {
                if let Some(entry) = impl_entry(src, node) {
                    out.push(entry);
                }
            }
            "use_declaration" => {
                if let Some(arg) = node.child_by_field_name("argument") {
                    uses(src, arg, Vec::new(), public, line, &mut out);
                }
            }
            "foreign_mod_item" => {
                if let Some(body) = node.child_by_field_name("body") {
                    out.extend(digest(src, body));
                }
            }
            _ => {}
        }
    }
    out
}

/// One `use` tree: its leaves are names (or globs).
fn uses(
    src: &str,
    node: Node<'_>,
    prefix: Vec<String>,
    public: bool,
    line: u32,
    out: &mut Vec<Entry>,
) {
    let segments = |n: Node<'_>| -> Vec<String> {
        text(src, n)
            .split("::")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let mut path = prefix;
    match node.kind() {
        "use_as_clause" => {
            let (Some(p), Some(alias)) = (
                node.child_by_field_name("path"),
                node.child_by_field_name("alias"),
            ) else {
                return;
            };
            path.extend(segments(p));
            let alias = text(src, alias).to_string();
            if alias != "_" {
                out.push(Entry::Use {
                    name: alias,
                    path,
                    public,
                    line,
                });
            }
        }
        "scoped_use_list" => {
            if let Some(p) = node.child_by_field_name("path") {
                path.extend(segments(p));
            }
            if let Some(list) = node.child_by_field_name("list") {
                uses(src, list, path, public, line, out);
            }
        }
        "use_list" => {
            let mut cursor = node.walk();
            let items: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
            for item in items {
                uses(src, item, path.clone(), public, line, out);
            }
        }
        "use_wildcard" => {
            let inner = text(src, node).trim_end_matches('*').trim_end_matches("::");
            path.extend(
                inner
                    .split("::")
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
            );
            out.push(Entry::Glob { path, public });
        }
        _ => {
            path.extend(segments(node));
            let Some(last) = path.last().cloned() else {
                return;
            };
            // `use a::b::{self}` names the module `b`.
            let name = if last == "self" {
                path.pop();
                match path.last() {
                    Some(n) => n.clone(),
                    None => return,
                }
            } else {
                last
            };
            out.push(Entry::Use {
                name,
                path,
                public,
                line,
            });
        }
    }
}

/// An impl block: the type it is for, the trait when it implements one, and (for an
/// inherent impl) its public methods, constants and types.
fn impl_entry(src: &str, node: Node<'_>) -> Option<Entry> {
    let ty = node.child_by_field_name("type")?;
    let type_name = type_name(src, ty);
    let trait_name = node
        .child_by_field_name("trait")
        .map(|t| type_name_of(text(src, t)));
    let mut members = Vec::new();
    if trait_name.is_none()
        && let Some(body) = node.child_by_field_name("body")
    {
        for (m, attrs) in with_attributes(src, body) {
            if !is_pub(m, src) || test_only(&attrs) || has(&attrs, "doc(hidden)") {
                continue;
            }
            if !matches!(m.kind(), "function_item" | "const_item" | "type_item") {
                continue;
            }
            let Some(name) = m.child_by_field_name("name") else {
                continue;
            };
            let mut item = item_of(src, m, "", &attrs, Some(&type_name));
            if item.kind == ItemKind::Function {
                item.kind = ItemKind::Method;
            }
            members.push((text(src, name).to_string(), item));
        }
    }
    Some(Entry::Impl {
        type_name,
        trait_name,
        members,
    })
}

/// `item` placed in `file`.
fn placed(item: &Item, file: &str) -> Item {
    Item {
        file: file.to_string(),
        ..item.clone()
    }
}

impl Walker<'_> {
    fn file(&mut self, module: usize, path: &str, src: &str, mod_dir: &str) {
        if !self.files.insert(path.to_string()) {
            return;
        }
        let Some(digest) = digest_of(src) else {
            return;
        };
        self.modules[module].own_file = path.to_string();
        self.apply(module, path, &digest, mod_dir);
    }

    fn add(&mut self, module: usize, name: String, target: Target, public: bool) {
        self.modules[module].names.push((name, target, public));
    }

    /// Places a file's (or inline module's) declarations in `module`.
    fn apply(&mut self, module: usize, file: &str, entries: &[Entry], mod_dir: &str) {
        for entry in entries {
            match entry {
                Entry::Mod {
                    name,
                    public,
                    line,
                    path_attr,
                    body,
                } => {
                    let child = self.modules.len();
                    self.modules.push(ModuleInfo {
                        parent: Some(module),
                        file: file.to_string(),
                        line: *line,
                        own_file: file.to_string(),
                        ..ModuleInfo::default()
                    });
                    self.add(module, name.clone(), Target::Module(child), *public);
                    let sub_dir = format!("{mod_dir}/{name}");
                    let sub_dir = sub_dir.trim_start_matches('/');
                    if let Some(body) = body {
                        self.apply(child, file, body, sub_dir);
                        continue;
                    }
                    let file_dir = file.rsplit_once('/').map_or("", |(d, _)| d);
                    let candidates: Vec<String> = match path_attr {
                        Some(p) if file_dir.is_empty() => vec![p.clone()],
                        Some(p) => vec![format!("{file_dir}/{p}")],
                        None => vec![
                            join(
                                sub_dir.rsplit_once('/').map_or("", |(d, _)| d),
                                &format!("{name}.rs"),
                            ),
                            format!("{sub_dir}/mod.rs"),
                        ],
                    };
                    for candidate in candidates {
                        if let Some(text) = (self.read)(&candidate) {
                            let dir = if candidate.ends_with("/mod.rs") {
                                candidate
                                    .rsplit_once('/')
                                    .map_or("", |(d, _)| d)
                                    .to_string()
                            } else {
                                candidate.trim_end_matches(".rs").to_string()
                            };
                            self.file(child, &candidate, &text, &dir);
                            self.modules[child].line = *line;
                            self.modules[child].file = file.to_string();
                            break;
                        }
                    }
                }
                Entry::Def {
                    name,
                    public,
                    item,
                    members,
                    traits,
                } => {
                    let def = self.defs.len();
                    self.defs.push(Def {
                        item: placed(item, file),
                        members: members
                            .iter()
                            .map(|(n, i)| (n.clone(), placed(i, file)))
                            .collect(),
                        traits: traits.clone(),
                    });
                    self.add(module, name.clone(), Target::Def(def), *public);
                }
                Entry::Macro {
                    name,
                    exported,
                    line,
                } => {
                    let def = self.defs.len();
                    self.defs.push(Def {
                        item: Item {
                            kind: ItemKind::Macro,
                            signature: format!("macro_rules! {name}"),
                            shape: Shape::Plain,
                            file: file.to_string(),
                            line: *line,
                            via: None,
                        },
                        members: BTreeMap::new(),
                        traits: BTreeSet::new(),
                    });
                    self.add(0, name.clone(), Target::Def(def), *exported);
                }
                Entry::Impl {
                    type_name,
                    trait_name,
                    members,
                } => self.impls.push(PendingImpl {
                    module,
                    type_name: type_name.clone(),
                    trait_name: trait_name.clone(),
                    members: members
                        .iter()
                        .map(|(n, i)| (n.clone(), placed(i, file)))
                        .collect(),
                }),
                Entry::Use {
                    name,
                    path,
                    public,
                    line,
                } => self.add(
                    module,
                    name.clone(),
                    Target::Use(module, path.clone(), *line),
                    *public,
                ),
                Entry::Glob { path, public } => {
                    self.modules[module].globs.push((path.clone(), *public));
                }
            }
        }
    }

    /// Every impl block's methods and traits, on the type it is for.
    fn attach_impls(&mut self) {
        for pending in std::mem::take(&mut self.impls) {
            let Some(def) = self.find_type(pending.module, &pending.type_name) else {
                continue;
            };
            let def = &mut self.defs[def];
            if let Some(t) = pending.trait_name {
                def.traits.insert(t);
            }
            for (name, item) in pending.members {
                def.members.insert(name, item);
            }
        }
    }

    /// The struct, enum, union or trait `name` an impl in `module` is for: in the module or
    /// one of its ancestors, else the only one of that name in the crate.
    fn find_type(&self, module: usize, name: &str) -> Option<usize> {
        let is_type = |d: usize| {
            matches!(
                self.defs[d].item.kind,
                ItemKind::Struct
                    | ItemKind::Enum
                    | ItemKind::Union
                    | ItemKind::Trait
                    | ItemKind::TypeAlias
            )
        };
        // As the impl's module sees the name (its `use`s resolved), else an ancestor's.
        let mut at = Some(module);
        while let Some(m) = at {
            if let Some(d) = self.lookup(m, name, 0).into_iter().find_map(|t| match t {
                Target::Def(d) if is_type(d) => Some(d),
                _ => None,
            }) {
                return Some(d);
            }
            at = self.modules[m].parent;
        }
        let mut all = self
            .modules
            .iter()
            .flat_map(|m| &m.names)
            .filter_map(|(n, t, _)| match t {
                Target::Def(d) if n == name && is_type(*d) => Some(*d),
                _ => None,
            });
        let first = all.next()?;
        all.next().is_none().then_some(first)
    }

    /// Resolves `path`, written in `module`, to what it names (every namespace: a module and
    /// a function may share a name).
    fn resolve(&self, module: usize, path: &[String], depth: u32) -> Vec<Target> {
        if depth > 16 || path.is_empty() {
            return Vec::new();
        }
        let (mut at, mut rest) = match path[0].as_str() {
            "crate" | "$crate" => (0, &path[1..]),
            "self" => (module, &path[1..]),
            "super" => {
                let mut m = module;
                let mut rest = path;
                while rest.first().is_some_and(|s| s == "super") {
                    m = self.modules[m].parent.unwrap_or(0);
                    rest = &rest[1..];
                }
                (m, rest)
            }
            "::" => return vec![Target::External(path[1..].join("::"))],
            first => {
                let local = self.lookup(module, first, depth);
                if local.is_empty() {
                    // 2015-style paths from the root, else another crate.
                    if !self.lookup(0, first, depth).is_empty() {
                        (0, path)
                    } else {
                        return vec![Target::External(path.join("::"))];
                    }
                } else {
                    (module, path)
                }
            }
        };
        if rest.is_empty() {
            return vec![Target::Module(at)];
        }
        while rest.len() > 1 {
            let next = self
                .lookup(at, &rest[0], depth)
                .into_iter()
                .find_map(|t| match t {
                    Target::Module(m) => Some(m),
                    _ => None,
                });
            match next {
                Some(m) => {
                    at = m;
                    rest = &rest[1..];
                }
                None => {
                    // Through a type (an enum's variants, a type's associated items) or out
                    // of the crate: nothing of ours to follow.
                    return Vec::new();
                }
            }
        }
        self.lookup(at, &rest[0], depth)
    }

    /// Everything `name` stands for in `module`, `use`s resolved, glob imports included.
    fn lookup(&self, module: usize, name: &str, depth: u32) -> Vec<Target> {
        if depth > 16 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (n, target, _) in &self.modules[module].names {
            if n != name {
                continue;
            }
            match target {
                Target::Use(m, path, _) => out.extend(self.resolve(*m, path, depth + 1)),
                other => out.push(other.clone()),
            }
        }
        if out.is_empty() {
            for (glob, _) in &self.modules[module].globs {
                for t in self.resolve(module, glob, depth + 1) {
                    if let Target::Module(m) = t
                        && m != module
                    {
                        out.extend(
                            self.public_names(m)
                                .iter()
                                .filter(|(n, _, _)| n == name)
                                .map(|(_, t, _)| t.clone()),
                        );
                    }
                }
            }
        }
        out
    }

    /// The names `module` makes public: its `pub` items, modules and `use`s (resolved), and
    /// what its `pub use …::*` globs bring. Worked out once per module; a cycle of glob
    /// re-exports contributes nothing more on its second turn.
    fn public_names(&self, module: usize) -> std::rc::Rc<Vec<PublicName>> {
        if let Some(known) = self.memo.borrow().get(&module) {
            return std::rc::Rc::clone(known);
        }
        if !self.busy.borrow_mut().insert(module) {
            return std::rc::Rc::new(Vec::new());
        }
        let mut out: Vec<PublicName> = Vec::new();
        let info = &self.modules[module];
        for (name, target, public) in &info.names {
            if !public {
                continue;
            }
            match target {
                Target::Use(m, path, line) => {
                    let resolved = self.resolve(*m, path, 1);
                    if resolved.is_empty() {
                        // A path into this crate that names nothing found here (an item a
                        // macro defines): known by its name only, however the path is spelled.
                        let local = self.modules[*m].names.iter().any(|(n, _, _)| *n == path[0])
                            || matches!(path[0].as_str(), "crate" | "self" | "super");
                        let from = if local {
                            format!("(this crate)::{}", path.last().map_or("", String::as_str))
                        } else {
                            path.join("::")
                        };
                        out.push((name.clone(), Target::External(from), *line));
                    }
                    out.extend(resolved.into_iter().map(|t| (name.clone(), t, *line)));
                }
                other => out.push((name.clone(), other.clone(), 0)),
            }
        }
        for (glob, public) in &info.globs {
            if !public {
                continue;
            }
            for t in self.resolve(module, glob, 1) {
                if let Target::Module(m) = t
                    && m != module
                {
                    for (n, t, line) in self.public_names(m).iter() {
                        // A name of the module's own shadows the glob's.
                        if !info.names.iter().any(|(own, _, _)| own == n) {
                            out.push((n.clone(), t.clone(), *line));
                        }
                    }
                }
            }
        }
        self.busy.borrow_mut().remove(&module);
        let out = std::rc::Rc::new(out);
        self.memo
            .borrow_mut()
            .insert(module, std::rc::Rc::clone(&out));
        out
    }

    /// Every public path from the crate root.
    fn surface(&self, krate: &str) -> Surface {
        let mut surface = Surface::default();
        let mut stack = vec![(0usize, krate.to_string(), 0u32)];
        let mut seen: HashSet<(usize, String)> = HashSet::new();
        while let Some((module, prefix, depth)) = stack.pop() {
            if depth > 12 || !seen.insert((module, prefix.clone())) {
                continue;
            }
            for (name, target, line) in self.public_names(module).iter() {
                let path = format!("{prefix}::{name}");
                match target {
                    Target::Def(d) => {
                        let def = &self.defs[*d];
                        let via =
                            (*line != 0).then(|| (self.modules[module].own_file.clone(), *line));
                        let exported = |item: &Item| Item {
                            via: via.clone(),
                            ..item.clone()
                        };
                        for (member, item) in &def.members {
                            surface
                                .items
                                .insert(format!("{path}::{member}"), exported(item));
                        }
                        if !def.traits.is_empty() {
                            surface.impls.insert(path.clone(), def.traits.clone());
                        }
                        surface.items.insert(path, exported(&def.item));
                    }
                    Target::Module(m) => {
                        let info = &self.modules[*m];
                        surface.items.insert(
                            path.clone(),
                            Item {
                                kind: ItemKind::Module,
                                signature: "mod".to_string(),
                                shape: Shape::Plain,
                                file: info.file.clone(),
                                line: info.line,
                                via: None,
                            },
                        );
                        stack.push((*m, path, depth + 1));
                    }
                    Target::External(from) => {
                        surface.items.insert(
                            path,
                            Item {
                                kind: ItemKind::ReExport,
                                signature: format!("use {from}"),
                                shape: Shape::Plain,
                                file: self.modules[module].own_file.clone(),
                                line: *line,
                                via: None,
                            },
                        );
                    }
                    Target::Use(..) => {}
                }
            }
        }
        surface
    }
}

/// A trait's items (methods, associated types and constants) with their signatures.
fn trait_members(src: &str, node: Node<'_>, file: &str, name: &str) -> BTreeMap<String, Item> {
    let mut out = BTreeMap::new();
    let Some(body) = node.child_by_field_name("body") else {
        return out;
    };
    for (m, attrs) in with_attributes(src, body) {
        let Some(mname) = m.child_by_field_name("name") else {
            continue;
        };
        if !matches!(
            m.kind(),
            "function_signature_item" | "function_item" | "associated_type" | "const_item"
        ) {
            continue;
        }
        if test_only(&attrs) || has(&attrs, "doc(hidden)") {
            continue;
        }
        let mut item = item_of(src, m, file, &attrs, Some(name));
        if matches!(m.kind(), "function_signature_item" | "function_item") {
            item.kind = ItemKind::Method;
        }
        out.insert(text(src, mname).to_string(), item);
    }
    out
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

/// `Vec<T>` → `Vec`, `&'a mut foo::Bar<T>` → `Bar`.
fn type_name(src: &str, node: Node<'_>) -> String {
    type_name_of(text(src, node))
}

fn type_name_of(text: &str) -> String {
    let base = text.split('<').next().unwrap_or(text);
    let base = base.rsplit("::").next().unwrap_or(base);
    base.trim_start_matches(['&', '*'])
        .split_whitespace()
        .last()
        .unwrap_or("")
        .trim_start_matches("dyn")
        .trim()
        .to_string()
}

/// The traits `#[derive(…)]` attributes name.
fn derives(attrs: &[String]) -> BTreeSet<String> {
    attrs
        .iter()
        .filter_map(|a| a.strip_prefix("#[derive(")?.strip_suffix(")]"))
        .flat_map(|list| list.split(','))
        .map(type_name_of)
        .filter(|t| !t.is_empty())
        .collect()
}

/// Normalized tokens of `node`, leaving out the children whose kinds or field names are in
/// `skip`, with `self_type` written `Self`.
fn tokens<'s>(
    src: &'s str,
    node: Node<'_>,
    skip: &dyn Fn(Node<'_>) -> bool,
    self_type: Option<&str>,
) -> Vec<Cow<'s, str>> {
    let mut out = Vec::new();
    fn walk<'s>(
        src: &'s str,
        node: Node<'_>,
        skip: &dyn Fn(Node<'_>) -> bool,
        self_type: Option<&str>,
        in_path: bool,
        out: &mut Vec<Cow<'s, str>>,
    ) {
        if skip(node) {
            return;
        }
        // A kind's name costs a length count and a UTF-8 check per call.
        let kind = node.kind();
        if matches!(kind, "line_comment" | "block_comment" | "attribute_item") {
            return;
        }
        // Lifetimes other than 'static are left out: `fn f(&[u8]) -> Iter<'_>` and
        // `fn f<'h>(&'h [u8]) -> Iter<'h>` are the same function (elision), and renaming `'a`
        // to `'h` changes nothing for callers.
        if matches!(kind, "lifetime" | "lifetime_parameter") && text(src, node) != "'static" {
            return;
        }
        if kind == "where_predicate"
            && node
                .child_by_field_name("left")
                .is_some_and(|l| l.kind() == "lifetime")
        {
            return;
        }
        if kind == "parameter" {
            // Names and binding modes are no part of the signature: only the type.
            if let Some(ty) = node.child_by_field_name("type") {
                walk(src, ty, skip, self_type, false, out);
            }
            return;
        }
        if kind == "type_parameter" {
            // A type parameter's default (`S = RandomState`) added is compatible: only the
            // parameter and its bounds count.
            let default = node.child_by_field_name("default_type");
            let mut cursor = node.walk();
            let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
            for c in children {
                if Some(c) != default && c.kind() != "=" {
                    walk(src, c, skip, self_type, false, out);
                }
            }
            return;
        }
        if kind == "scoped_type_identifier" {
            // A type is known by its name, however its path is spelled (`sval::value::Value`
            // and `sval::Value`, `crate::Error` and `Error` are one type to callers).
            if let Some(name) = node.child_by_field_name("name") {
                walk(src, name, skip, self_type, true, out);
            }
            return;
        }
        if kind == "self_parameter" {
            // `mut self` binds mutably inside the function: callers see `self`.
            let t = text(src, node)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            out.push(Cow::Owned(t.strip_prefix("mut ").unwrap_or(&t).to_string()));
            return;
        }
        if node.child_count() == 0 {
            let t = text(src, node);
            // The type's bare name, not a segment of a longer path (`sval::value::Value`).
            if self_type == Some(t) && !in_path {
                out.push(Cow::Borrowed("Self"));
            } else if !t.is_empty() {
                out.push(Cow::Borrowed(t));
            }
            return;
        }
        let path = matches!(kind, "scoped_type_identifier" | "scoped_identifier");
        let mut cursor = node.walk();
        let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
        for c in children {
            walk(src, c, skip, self_type, path, out);
        }
    }
    walk(src, node, skip, self_type, false, &mut out);
    // No trailing separator before a closing bracket or at the end, and none left where a
    // lifetime was taken out (`<, T>`, `<>`, `T: + Clone`).
    let mut cleaned: Vec<Cow<'s, str>> = Vec::with_capacity(out.len());
    for t in out {
        if matches!(t.as_ref(), ")" | "]" | "}" | ">" | "{" | "," | "where")
            && cleaned.last().is_some_and(|l| l == "," || l == "+")
        {
            cleaned.pop();
        }
        if t.as_ref() == "," && cleaned.last().is_some_and(|l| l == "<" || l == "where") {
            continue;
        }
        if t.as_ref() == "+"
            && cleaned
                .last()
                .is_some_and(|l| l == ":" || l == "+" || l == "<")
        {
            continue;
        }
        if t.as_ref() == ">" && cleaned.last().is_some_and(|l| l == "<") {
            cleaned.pop();
            continue;
        }
        if (t.as_ref() == "," || t.as_ref() == ">" || t.as_ref() == "{")
            && cleaned.last().is_some_and(|l| l == ":")
        {
            // `T:` whose only bound was a lifetime.
            cleaned.pop();
        }
        cleaned.push(t);
    }
    if cleaned.last().is_some_and(|l| l == "where") {
        cleaned.pop();
    }
    while cleaned.last().is_some_and(|l| l == "," || l == ";") {
        cleaned.pop();
    }
    cleaned
}

/// Tokens joined for reading: no space inside brackets or before `,`, `:` and `;`.
fn readable(tokens: &[Cow<'_, str>]) -> String {
    let mut out = String::new();
    for (i, t) in tokens.iter().enumerate() {
        let prev = if i > 0 { tokens[i - 1].as_ref() } else { "" };
        let tight = matches!(
            t.as_ref(),
            "," | ")" | "]" | ">" | ";" | ":" | "?" | "::" | "(" | "<"
        ) || matches!(prev, "(" | "[" | "<" | "&" | "::" | "'" | "#")
            || (t.as_ref() == "[" && !prev.is_empty() && prev != "=");
        if !out.is_empty() && !tight {
            out.push(' ');
        }
        out.push_str(t);
    }
    out.replace("- >", "->").replace(": :", "::")
}

fn item_of(
    src: &str,
    node: Node<'_>,
    file: &str,
    attrs: &[String],
    self_type: Option<&str>,
) -> Item {
    let line = node.start_position().row as u32 + 1;
    // `Self` for the type inside a member's signature. The item's own name is left out: its
    // public path says it, and an item re-exported under another name (`pub use
    // imp::PrefilterConfig as Prefilter`) is the same item.
    let self_name = self_type;
    let own_name = node.child_by_field_name("name");
    let no_vis = |n: Node<'_>| n.kind() == "visibility_modifier" || Some(n) == own_name;
    let header = |skip_body: &dyn Fn(Node<'_>) -> bool| {
        readable(&tokens(
            src,
            node,
            &|n| no_vis(n) || skip_body(n),
            self_name,
        ))
    };
    let body = node.child_by_field_name("body");
    let is_body = |n: Node<'_>| {
        Some(n) == body
            && matches!(
                n.kind(),
                "block"
                    | "field_declaration_list"
                    | "ordered_field_declaration_list"
                    | "enum_variant_list"
                    | "declaration_list"
            )
    };
    let non_exhaustive = has(attrs, "non_exhaustive");
    let (kind, signature, shape) = match node.kind() {
        "function_item" => (ItemKind::Function, header(&is_body), Shape::Plain),
        "struct_item" | "union_item" => {
            let (fields, private) = fields(src, node, self_name);
            let kind = if node.kind() == "union_item" {
                ItemKind::Union
            } else {
                ItemKind::Struct
            };
            (
                kind,
                header(&is_body),
                Shape::Struct {
                    fields,
                    constructible: !private && !non_exhaustive && kind == ItemKind::Struct,
                },
            )
        }
        "enum_item" => {
            let mut variants = BTreeMap::new();
            if let Some(body) = node.child_by_field_name("body") {
                for (v, v_attrs) in with_attributes(src, body) {
                    if v.kind() != "enum_variant" || has(&v_attrs, "doc(hidden)") {
                        continue;
                    }
                    let Some(vname) = v.child_by_field_name("name") else {
                        continue;
                    };
                    let fields = v
                        .child_by_field_name("body")
                        .map(|b| readable(&tokens(src, b, &|_| false, self_name)))
                        .unwrap_or_default();
                    variants.insert(text(src, vname).to_string(), fields);
                }
            }
            (
                ItemKind::Enum,
                header(&is_body),
                Shape::Enum {
                    variants,
                    exhaustive: !non_exhaustive,
                },
            )
        }
        "trait_item" => {
            let mut required = BTreeSet::new();
            let mut provided = BTreeSet::new();
            if let Some(body) = node.child_by_field_name("body") {
                let mut cursor = body.walk();
                for m in body.named_children(&mut cursor) {
                    let Some(mname) = m.child_by_field_name("name") else {
                        continue;
                    };
                    let mname = text(src, mname).to_string();
                    let defaulted = match m.kind() {
                        "function_signature_item" => false,
                        "function_item" => true,
                        "associated_type" => m.child_by_field_name("default_type").is_some(),
                        "const_item" => m.child_by_field_name("value").is_some(),
                        _ => continue,
                    };
                    if defaulted {
                        provided.insert(mname);
                    } else {
                        required.insert(mname);
                    }
                }
            }
            (
                ItemKind::Trait,
                header(&is_body),
                Shape::Trait { required, provided },
            )
        }
        "type_item" => (ItemKind::TypeAlias, header(&|_| false), Shape::Plain),
        "const_item" | "static_item" => {
            let kind = if node.kind() == "const_item" {
                ItemKind::Const
            } else {
                ItemKind::Static
            };
            (
                kind,
                header(&|n: Node<'_>| node.child_by_field_name("value") == Some(n))
                    .trim_end_matches(" =")
                    .to_string(),
                Shape::Plain,
            )
        }
        _ => (ItemKind::Function, header(&is_body), Shape::Plain),
    };
    Item {
        kind,
        signature,
        shape,
        file: file.to_string(),
        line,
        via: None,
    }
}

/// A struct's public fields (name, or position for a tuple struct → type) and whether it
/// has others.
fn fields(src: &str, node: Node<'_>, self_name: Option<&str>) -> (BTreeMap<String, String>, bool) {
    let mut out = BTreeMap::new();
    let mut private = false;
    let Some(body) = node.child_by_field_name("body") else {
        // A unit struct: nothing private, nothing to add to a literal that has no fields.
        return (out, false);
    };
    let mut position = 0;
    // Tuple fields are a visibility_modifier (when any) followed by the type.
    let mut tuple_pub = false;
    let ty = |n: Node<'_>| readable(&tokens(src, n, &|_| false, self_name));
    for (f, attrs) in with_attributes(src, body) {
        match f.kind() {
            "field_declaration" => {
                if is_pub(f, src) && !has(&attrs, "doc(hidden)") {
                    if let (Some(name), Some(t)) =
                        (f.child_by_field_name("name"), f.child_by_field_name("type"))
                    {
                        out.insert(text(src, name).to_string(), ty(t));
                    }
                } else {
                    private = true;
                }
            }
            "visibility_modifier" => tuple_pub = collapse(text(src, f)) == "pub",
            _ if body.kind() == "ordered_field_declaration_list" => {
                if std::mem::take(&mut tuple_pub) && !has(&attrs, "doc(hidden)") {
                    out.insert(position.to_string(), ty(f));
                } else {
                    private = true;
                }
                position += 1;
            }
            _ => {}
        }
    }
    (out, private)
}
