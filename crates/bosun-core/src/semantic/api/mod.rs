//! A library's public API as its users see it, compared between the two sides of a change.
//!
//! The file-by-file view (`structure`) sees a definition leave a file and calls it removed,
//! counts `pub` items inside private modules, and reads `-> Self` and `-> Config` as different
//! signatures: on real crates most of its API flags were such noise (issue 19). Here a whole
//! crate is read on each side, from its root through its module tree, and every item is
//! known by the **public paths** a user can name it by (`bytes::Buf::get_u8`), wherever it is
//! defined and however it is re-exported. Two sides' [`Surface`]s are then compared path by
//! path ([`compare`]): what a user loses is a [`Break`] (an `api_changed` risk), what they gain
//! an [`Addition`] (an `api_added` notice, kept apart from the risks).
//!
//! Only the crates a change touches are read ([`rust::crates_touched`]); a crate without a
//! library target has no API. The other languages by the same principle: a Python package
//! from its importable modules, `__all__` and re-exports ([`python`]), a Go package as one
//! namespace across its files ([`go`]), a JavaScript/TypeScript package from what its
//! `package.json` entry points export ([`ecmascript`]). Each replaces the file-by-file
//! guesses about its language's files.

pub mod ecmascript;
pub mod go;
pub mod python;
pub mod rust;

use std::collections::{BTreeMap, BTreeSet};

use crate::diff::Diff;
use crate::model::{Annotation, AnnotationKind, Severity};

use super::{Sources, both};

/// What kind of public item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKind {
    Function,
    Method,
    Struct,
    Enum,
    Union,
    Trait,
    TypeAlias,
    Const,
    Static,
    Macro,
    Module,
    /// An item of another crate re-exported (`pub use serde::Serialize`).
    ReExport,
    /// A Python class.
    Class,
    /// A Go interface.
    Interface,
    /// A Python module-level name bound by an assignment or an alias.
    Variable,
    /// A Python class attribute or property.
    Attribute,
}

impl ItemKind {
    /// A word for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Function => "function",
            Self::Method => "method",
            Self::Struct => "struct",
            Self::Enum => "enum",
            Self::Union => "union",
            Self::Trait => "trait",
            Self::TypeAlias => "type alias",
            Self::Const => "constant",
            Self::Static => "static",
            Self::Macro => "macro",
            Self::Module => "module",
            Self::ReExport => "re-export",
            Self::Class => "class",
            Self::Interface => "interface",
            Self::Variable => "name",
            Self::Attribute => "attribute",
        }
    }
}

/// What a user can rely on in an item beyond its signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Shape {
    #[default]
    Plain,
    /// Variants (name → normalized fields); `exhaustive`: no `#[non_exhaustive]`, so a
    /// `match` without a wildcard arm compiles, and a new variant breaks it.
    Enum {
        variants: BTreeMap<String, String>,
        exhaustive: bool,
    },
    /// Public fields (name → type); `constructible`: every field public and no
    /// `#[non_exhaustive]`, so users build it with a struct literal, and a new field breaks
    /// them.
    Struct {
        fields: BTreeMap<String, String>,
        constructible: bool,
    },
    /// Trait methods and associated items by name, and which of them must be implemented.
    Trait {
        required: BTreeSet<String>,
        provided: BTreeSet<String>,
    },
}

/// One public item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: ItemKind,
    /// Normalized: whitespace collapsed, no trailing commas, parameter names and binding
    /// modes dropped, `Self` for the impl's own type, bodies left out; a struct's, enum's or
    /// trait's is its header (its members are in its [`Shape`]).
    pub signature: String,
    pub shape: Shape,
    /// Where it is defined (for a re-export of another crate's item: the `pub use`).
    pub file: String,
    pub line: u32,
    /// The `pub use` (file, line) that makes this path public, when one does: a removed
    /// path is pointed at where it was exported, which is what the change took away.
    pub via: Option<(String, u32)>,
}

impl Item {
    /// A plain item (no shape) defined at `file`:`line`, public where it is defined.
    pub fn new(kind: ItemKind, signature: String, file: String, line: u32) -> Item {
        Item {
            kind,
            signature,
            shape: Shape::Plain,
            file,
            line,
            via: None,
        }
    }
}

impl ApiLanguage {
    /// For a callable whose signature changed, where this language compares calls rather
    /// than text: Err(why callers break) or Ok(what they gained, if anything). None where
    /// the signatures are equal, unknown or not call signatures.
    fn call_change(self, old: &Item, new: &Item) -> Option<Result<Option<String>, String>> {
        let (was, now) = (old.signature.as_str(), new.signature.as_str());
        if was == now || was.is_empty() || now.is_empty() {
            return None;
        }
        match self {
            Self::Python => Some(python::compatible(was, now).map(|gained| {
                let names: Vec<String> = gained.iter().map(|n| format!("`{n}`")).collect();
                (!names.is_empty()).then(|| format!("optional parameter(s) {}", names.join(", ")))
            })),
            Self::Script
                if old.kind == new.kind && was.starts_with('(') && now.starts_with('(') =>
            {
                Some(
                    ecmascript::compatible(was, now).map(|gained| {
                        (gained > 0).then(|| format!("{gained} optional parameter(s)"))
                    }),
                )
            }
            Self::Rust | Self::Script | Self::Go => None,
        }
    }

    /// Whether two signatures compared as written say the same to users (Go: but for the
    /// names of types the package does not export, [`go::compatible`]).
    fn same_signature(self, was: &str, now: &str) -> bool {
        was == now || (self == Self::Go && go::compatible(was, now))
    }

    /// Whether only the item's existence is compared: Python's (a function that became a
    /// class is still called the same way), and a JS/TS type's, interface's or value's
    /// (their text changes with every generic or member added; their uses are checked where
    /// they are signatures).
    fn existence_only(self, old: &Item, new: &Item) -> bool {
        match self {
            Self::Python => true,
            Self::Script => [old.kind, new.kind].iter().any(|k| {
                matches!(
                    k,
                    ItemKind::TypeAlias | ItemKind::Interface | ItemKind::Variable
                )
            }),
            Self::Rust | Self::Go => false,
        }
    }
}

/// A crate's public API: items by public path, and the traits each public type implements
/// (derived or by an `impl`), by the type's definition path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Surface {
    pub items: BTreeMap<String, Item>,
    /// Public path of a type → the traits it implements (last path segment: `Clone`).
    pub impls: BTreeMap<String, BTreeSet<String>>,
    /// The package's features (`[features]`, and optional dependencies not hidden behind
    /// `dep:`), and where its manifest is: a removed feature breaks whoever enables it.
    pub features: BTreeMap<String, u32>,
    pub manifest: String,
    /// The language: how signatures compare.
    pub language: ApiLanguage,
}

/// How a surface's signatures compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ApiLanguage {
    /// Normalized signatures must be equal; a change of kind is a break.
    #[default]
    Rust,
    /// Parameter lists must be call-compatible ([`python::compatible`]); a function that
    /// became a class (both callable) is no break.
    Python,
    /// JavaScript/TypeScript: call signatures by position must be call-compatible
    /// ([`ecmascript::compatible`]); other signatures compare as written.
    Script,
    /// Go: as written, except that a type the package does not export may be renamed
    /// ([`go::compatible`]).
    Go,
}

/// How a change breaks the users of an API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BreakKind {
    Removed,
    SignatureChanged,
    KindChanged,
    VariantAdded,
    VariantChanged,
    FieldAdded,
    FieldChanged,
    RequiredMethodAdded,
    TraitImplRemoved,
}

/// Something a user of the old API loses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub kind: BreakKind,
    /// The public path (`memchr::memchr_iter`).
    pub path: String,
    /// One line for the operator.
    pub message: String,
    /// Where to point: the file and line, and whether on the old side.
    pub file: String,
    pub line: u32,
    pub old_side: bool,
    /// The item's other public paths, which the same break takes from their users too
    /// (`click.termui.style` for `click.style`).
    pub also: Vec<String>,
}

/// Something new a user can use (a compatible addition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addition {
    pub path: String,
    pub message: String,
    pub file: String,
    pub line: u32,
}

/// What changed between two surfaces of one crate.
pub fn compare(base: &Surface, head: &Surface) -> (Vec<Break>, Vec<Addition>) {
    let mut breaks = Vec::new();
    let mut additions = Vec::new();
    let broke = |kind, path: &str, message: String, at: &Item, old_side| Break {
        kind,
        path: path.to_string(),
        message,
        file: at.file.clone(),
        line: at.line,
        old_side,
        also: Vec::new(),
    };
    for (path, old) in &base.items {
        let label = old.kind.label();
        let Some(new) = head.items.get(path) else {
            // Inside a removed parent (or one that is now something else) only the parent
            // is said.
            let parent_gone = parent(path).is_some_and(|p| {
                base.items
                    .get(p)
                    .is_some_and(|was| head.items.get(p).is_none_or(|now| now.kind != was.kind))
            });
            if !parent_gone {
                // Said at the definition, so that the item's paths are told as one (below);
                // then pointed at the export that went.
                breaks.push(broke(
                    BreakKind::Removed,
                    path,
                    format!("public {label} `{path}` removed"),
                    old,
                    true,
                ));
            }
            continue;
        };
        if let Some(verdict) = base.language.call_change(old, new) {
            match verdict {
                Err(why) => breaks.push(broke(
                    BreakKind::SignatureChanged,
                    path,
                    format!("`{path}`: {why} ({} → {})", old.signature, new.signature),
                    new,
                    false,
                )),
                Ok(Some(gained)) => additions.push(Addition {
                    path: path.clone(),
                    message: format!("`{path}` gained {gained}"),
                    file: new.file.clone(),
                    line: new.line,
                }),
                Ok(None) => {}
            }
            continue;
        }
        if base.language.existence_only(old, new) {
            continue;
        }
        if old.kind != new.kind {
            breaks.push(broke(
                BreakKind::KindChanged,
                path,
                format!("`{path}` is now a {} (was a {label})", new.kind.label()),
                new,
                false,
            ));
            continue;
        }
        compare_shapes(path, old, new, &mut breaks, &mut additions);
        if let Some(message) = const_only(&old.signature, &new.signature) {
            if !message.is_empty() {
                breaks.push(broke(
                    BreakKind::SignatureChanged,
                    path,
                    format!("`{path}` {message}"),
                    new,
                    false,
                ));
            }
        } else if !base.language.same_signature(&old.signature, &new.signature) {
            breaks.push(broke(
                BreakKind::SignatureChanged,
                path,
                format!(
                    "signature of public {label} `{path}` changed: {} → {}",
                    old.signature, new.signature
                ),
                new,
                false,
            ));
        }
    }
    for (path, new) in &head.items {
        if base.items.contains_key(path) {
            continue;
        }
        let parent_new =
            parent(path).is_some_and(|p| head.items.contains_key(p) && !base.items.contains_key(p));
        if !parent_new {
            additions.push(Addition {
                path: path.clone(),
                message: format!("public {} `{path}` added", new.kind.label()),
                file: new.file.clone(),
                line: new.line,
            });
        }
    }
    for (feature, line) in base
        .features
        .iter()
        .filter(|(f, _)| !head.features.contains_key(*f))
    {
        breaks.push(Break {
            kind: BreakKind::Removed,
            path: format!("feature `{feature}`"),
            message: format!(
                "feature `{feature}` removed from {}: builds that enable it fail",
                base.manifest
            ),
            file: base.manifest.clone(),
            line: *line,
            old_side: true,
            also: Vec::new(),
        });
    }
    for (ty, traits) in &base.impls {
        let Some(now) = head.impls.get(ty) else {
            continue;
        };
        let Some(item) = head.items.get(ty) else {
            continue;
        };
        for lost in traits.difference(now) {
            breaks.push(broke(
                BreakKind::TraitImplRemoved,
                ty,
                format!("`{ty}` no longer implements `{lost}`"),
                item,
                false,
            ));
        }
    }
    let mut breaks = once_per_item(breaks);
    for b in breaks
        .iter_mut()
        .filter(|b| b.kind == BreakKind::Removed && !head.items.contains_key(&b.path))
    {
        if let Some((file, line)) = base.items.get(&b.path).and_then(|i| i.via.clone()) {
            (b.file, b.line) = (file, line);
        }
    }
    (breaks, additions)
}

/// One break per item and kind: an item public under two paths (`indexmap::IndexMap` and
/// `indexmap::map::IndexMap`) changed once, said at its shortest path.
fn once_per_item(mut breaks: Vec<Break>) -> Vec<Break> {
    breaks.sort_by_key(|b| (b.path.len(), b.path.clone()));
    let mut first: std::collections::HashMap<_, usize> = std::collections::HashMap::new();
    let mut kept: Vec<Break> = Vec::new();
    for b in breaks {
        let key = (
            b.kind,
            b.file.clone(),
            b.line,
            b.old_side,
            leaf(&b.path).to_string(),
        );
        match first.get(&key) {
            Some(&i) => kept[i].also.push(b.path),
            None => {
                first.insert(key, kept.len());
                kept.push(b);
            }
        }
    }
    let mut breaks = kept;
    breaks.sort_by(|a, b| a.path.cmp(&b.path).then(a.kind.cmp(&b.kind)));
    breaks
}

/// When two signatures differ only in `const`: `Some("")` when it was added (compatible),
/// `Some(why)` when it was taken away (callers in const contexts break); None otherwise.
fn const_only(old: &str, new: &str) -> Option<String> {
    let strip = |s: &str| s.replacen("const fn", "fn", 1);
    if old == new || strip(old) != strip(new) {
        return None;
    }
    Some(if old.contains("const fn") && !new.contains("const fn") {
        "is no longer a const fn: calls in const contexts stop compiling".to_string()
    } else {
        String::new()
    })
}

/// The path one segment up (`a::B::c` → `a::B`, Python's `a.B.c` → `a.B`).
fn parent(path: &str) -> Option<&str> {
    path.rsplit_once("::")
        .or_else(|| path.rsplit_once('.'))
        .map(|(p, _)| p)
}

/// The path's last segment.
fn leaf(path: &str) -> &str {
    path.rsplit_once("::")
        .or_else(|| path.rsplit_once('.'))
        .map_or(path, |(_, l)| l)
}

fn compare_shapes(
    path: &str,
    old: &Item,
    new: &Item,
    breaks: &mut Vec<Break>,
    additions: &mut Vec<Addition>,
) {
    let at = |kind, message: String| Break {
        kind,
        path: path.to_string(),
        message,
        file: new.file.clone(),
        line: new.line,
        old_side: false,
        also: Vec::new(),
    };
    match (&old.shape, &new.shape) {
        (
            Shape::Enum {
                variants: was,
                exhaustive,
            },
            Shape::Enum { variants: now, .. },
        ) => {
            for (name, fields) in was {
                match now.get(name) {
                    None => breaks.push(at(
                        BreakKind::Removed,
                        format!("variant `{path}::{name}` removed"),
                    )),
                    Some(f) if f != fields => breaks.push(at(
                        BreakKind::VariantChanged,
                        format!("variant `{path}::{name}` changed: {fields} → {f}"),
                    )),
                    Some(_) => {}
                }
            }
            let added: Vec<&String> = now.keys().filter(|n| !was.contains_key(*n)).collect();
            if *exhaustive && !added.is_empty() {
                let names: Vec<String> = added.iter().map(|n| format!("`{n}`")).collect();
                breaks.push(at(
                    BreakKind::VariantAdded,
                    format!(
                        "exhaustive enum `{path}` gained variant(s) {}: a `match` on it without `_` stops compiling",
                        names.join(", ")
                    ),
                ));
            } else {
                for name in added {
                    additions.push(Addition {
                        path: format!("{path}::{name}"),
                        message: format!(
                            "variant `{path}::{name}` added (the enum is non-exhaustive)"
                        ),
                        file: new.file.clone(),
                        line: new.line,
                    });
                }
            }
            if let Shape::Enum {
                exhaustive: false, ..
            } = new.shape
                && *exhaustive
            {
                breaks.push(at(
                    BreakKind::SignatureChanged,
                    format!("enum `{path}` became #[non_exhaustive]: a `match` on it needs `_`"),
                ));
            }
        }
        (
            Shape::Struct {
                fields: was,
                constructible,
            },
            Shape::Struct {
                fields: now,
                constructible: still,
            },
        ) => {
            for (name, ty) in was {
                match now.get(name) {
                    None => breaks.push(at(
                        BreakKind::Removed,
                        format!("public field `{path}.{name}` removed"),
                    )),
                    Some(t) if t != ty => breaks.push(at(
                        BreakKind::FieldChanged,
                        format!("public field `{path}.{name}` changed type: {ty} → {t}"),
                    )),
                    Some(_) => {}
                }
            }
            let added: Vec<&String> = now.keys().filter(|n| !was.contains_key(*n)).collect();
            if *constructible && (!added.is_empty() || !still) {
                let what = if added.is_empty() {
                    "gained a private field or #[non_exhaustive]".to_string()
                } else {
                    let names: Vec<String> = added.iter().map(|n| format!("`{n}`")).collect();
                    format!("gained field(s) {}", names.join(", "))
                };
                breaks.push(at(
                    BreakKind::FieldAdded,
                    format!("struct `{path}`, which users build with a struct literal, {what}"),
                ));
            }
        }
        (
            Shape::Trait {
                required: was_required,
                provided: was_provided,
            },
            Shape::Trait { required, provided },
        ) => {
            for name in required.difference(was_required) {
                if was_provided.contains(name) {
                    breaks.push(at(
                        BreakKind::RequiredMethodAdded,
                        format!(
                            "`{path}::{name}` lost its default: implementors must now write it"
                        ),
                    ));
                } else {
                    breaks.push(at(
                        BreakKind::RequiredMethodAdded,
                        format!(
                            "{} `{path}` gained required item `{name}`: every implementor must add it",
                            old.kind.label()
                        ),
                    ));
                }
            }
            let _ = provided;
        }
        _ => {}
    }
}

/// Every path a change names, on either side (a renamed file's two).
fn paths(diff: &Diff) -> impl Iterator<Item = &str> {
    diff.files
        .iter()
        .flat_map(|f| [f.new_path.as_deref(), f.old_path.as_deref()])
        .flatten()
}

/// For each of `paths`, the nearest directory above it ("" at the top) with a file named
/// `manifest` on either side; a path that is such a manifest counts for its own directory.
fn manifest_dirs<'p>(
    paths: impl Iterator<Item = &'p str>,
    manifest: &str,
    sources: &dyn Sources,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut known: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    for path in paths {
        let mut dir = match path.strip_suffix(manifest) {
            // Climb as if from a file beside it.
            Some(d) if d.is_empty() || d.ends_with('/') => format!("{d}x"),
            _ => path.to_string(),
        };
        loop {
            dir = dir.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            let file = if dir.is_empty() {
                manifest.to_string()
            } else {
                format!("{dir}/{manifest}")
            };
            let there = *known
                .entry(file.clone())
                .or_insert_with(|| sources.head(&file).is_some() || sources.base(&file).is_some());
            if there {
                found.insert(dir);
                break;
            }
            if dir.is_empty() {
                break;
            }
        }
    }
    found
}

type BaseCache = std::sync::Mutex<Vec<((String, String), std::sync::Arc<Option<rust::Read>>)>>;
static BASE_CACHE: std::sync::OnceLock<BaseCache> = std::sync::OnceLock::new();

/// Forgets every crate read and file digest kept: the next analysis reads as the first one
/// after a start does (for benchmarks).
pub fn forget_caches() {
    if let Some(cache) = BASE_CACHE.get() {
        cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
    rust::forget_digests();
}

/// `krate`'s API on the base side: read once per base commit and crate (the runs of a queue
/// share their base), kept for the last few.
fn base_surface(krate: &rust::Crate, sources: &dyn Sources) -> std::sync::Arc<Option<rust::Read>> {
    const KEEP: usize = 16;
    let read = || std::sync::Arc::new(rust::surface(krate, &|p| sources.base(p)));
    let Some(commit) = sources.base_commit() else {
        return read();
    };
    let key = (commit.to_string(), krate.dir.clone());
    let cache = BASE_CACHE.get_or_init(Default::default);
    if let Some((_, hit)) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(k, _)| *k == key)
    {
        return std::sync::Arc::clone(hit);
    }
    let surface = read();
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= KEEP {
        cache.remove(0);
    }
    cache.push((key, std::sync::Arc::clone(&surface)));
    surface
}

/// The crate-level API annotations of a change: for each library crate it touches, its
/// breaks (`api_changed`, a risk) and additions (`api_added`, a notice), and the paths of the
/// crate's files whose per-file API annotations these replace.
pub fn annotate(diff: &Diff, sources: &dyn Sources) -> (Vec<Annotation>, BTreeSet<String>) {
    let mut out = Vec::new();
    let mut covered = BTreeSet::new();
    for krate in rust::crates_touched(diff, sources) {
        let (base, head) = both(
            || base_surface(&krate, sources),
            || rust::surface(&krate, &|p| sources.head(p)),
        );
        let (Some(base), Some(head)) = (base.as_ref(), head) else {
            continue;
        };
        covered.extend(krate.files(diff));
        let (breaks, additions) = compare(&base.surface, &head.surface);
        push(&mut out, breaks, additions);
    }
    let (packages, files) = ecmascript::packages_touched(diff, sources);
    covered.extend(files);
    for package in packages {
        let (base, head) = sides(sources, |read| ecmascript::surface(&package, read));
        let (breaks, additions) = compare(&base, &head);
        push(&mut out, breaks, additions);
    }
    let (packages, files) = go::packages_touched(diff, sources);
    covered.extend(files);
    for package in packages {
        let (base, head) = sides(sources, |read| go::surface(&package, read));
        let (breaks, additions) = compare(&base, &head);
        push(&mut out, breaks, additions);
    }
    let (modules, files) = python::modules_touched(diff, sources);
    covered.extend(files);
    if !modules.is_empty() {
        let (base, head) = sides(sources, |read| python::surface(&modules, read));
        let (breaks, additions) = compare(&base, &head);
        push(&mut out, breaks, additions);
    }
    (out, covered)
}

/// `surface` of each side, read through `sources`: base's and head's at once (see
/// [`super::both`]).
fn sides<T: Send>(
    sources: &dyn Sources,
    surface: impl Fn(&dyn Fn(&str) -> Option<String>) -> T + Sync,
) -> (T, T) {
    both(
        || surface(&|p| sources.base(p)),
        || surface(&|p| sources.head(p)),
    )
}

fn push(out: &mut Vec<Annotation>, breaks: Vec<Break>, additions: Vec<Addition>) {
    for b in breaks {
        let mut message = b.message;
        if !b.also.is_empty() {
            let shown: Vec<String> = b.also.iter().take(3).map(|p| format!("`{p}`")).collect();
            let more = b.also.len().saturating_sub(3);
            message.push_str(&format!(" (also public as {}", shown.join(", ")));
            if more > 0 {
                message.push_str(&format!(" and {more} more"));
            }
            message.push(')');
        }
        out.push(Annotation {
            kind: AnnotationKind::ApiChanged,
            severity: Severity::Risk,
            path: b.file,
            line: Some(b.line),
            end_line: None,
            old_side: b.old_side,
            symbol: Some(b.path),
            message,
        });
    }
    for a in additions {
        out.push(Annotation {
            kind: AnnotationKind::ApiAdded,
            severity: Severity::Info,
            path: a.file,
            line: Some(a.line),
            end_line: None,
            old_side: false,
            symbol: Some(a.path),
            message: a.message,
        });
    }
}

#[cfg(test)]
mod lang_tests;
#[cfg(test)]
mod tests;
