//! A Go package's exported API, read from the files a change touches.
//!
//! A Go package is a directory, and its files share one namespace: a function moved from
//! `server.go` to `handler.go` is the same `Serve` to its importers. So the package is
//! compared whole — the union of the changed files of its directory on each side (its
//! other files are the same on both). Exported means a name starting with an upper-case
//! letter (a method also needs an exported receiver type), outside `internal/` directories
//! (importable only from inside the module), `testdata/`, `vendor/`, `_test.go` files and
//! `package main`. Items are named by import path (`example.com/app/server.Server.Start`,
//! the module path from `go.mod`). Parameter names are no part of a signature (renaming one
//! breaks no caller); adding a field to a struct is compatible, adding a method to an
//! interface breaks its implementations.

use std::collections::{BTreeMap, BTreeSet};

use tree_sitter::Node;

use super::{Item, ItemKind, Shape, Surface};
use crate::diff::Diff;
use crate::semantic::Sources;
use crate::semantic::structure::{Language, parse};

/// A package a change touches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// Its directory in the repository.
    pub dir: String,
    /// Its import path (the module's path and the directory below `go.mod`; the directory
    /// itself without a `go.mod`).
    pub import_path: String,
    /// The change's `.go` files in it (either side's paths).
    pub files: Vec<String>,
}

fn no_api(path: &str) -> bool {
    let dirs: Vec<&str> = path.split('/').collect();
    path.ends_with("_test.go")
        || dirs[..dirs.len().saturating_sub(1)]
            .iter()
            .any(|d| matches!(*d, "internal" | "testdata" | "vendor"))
}

/// The packages whose files the change touches, and every `.go` file of the change (whose
/// file-by-file API guesses the package view replaces).
pub fn packages_touched(diff: &Diff, sources: &dyn Sources) -> (Vec<Package>, BTreeSet<String>) {
    let files: BTreeSet<String> = super::paths(diff)
        .filter(|p| p.ends_with(".go"))
        .map(str::to_string)
        .collect();
    let read = |p: &str| sources.head(p).or_else(|| sources.base(p));
    (packages_of(&files, &read), files)
}

/// The packages of `.go` files `paths` (outside `internal/`, tests, `testdata/`, `vendor/`);
/// `read` gives a `go.mod` from either side.
pub fn packages_of<'p>(
    paths: impl IntoIterator<Item = &'p String>,
    read: &dyn Fn(&str) -> Option<String>,
) -> Vec<Package> {
    let mut by_dir: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in paths
        .into_iter()
        .filter(|p| p.ends_with(".go") && !no_api(p))
    {
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        by_dir
            .entry(dir.to_string())
            .or_default()
            .insert(path.clone());
    }
    by_dir
        .into_iter()
        .map(|(dir, files)| Package {
            import_path: import_path(&dir, read),
            dir,
            files: files.into_iter().collect(),
        })
        .collect()
}

/// The module path from the nearest `go.mod` above `dir`, joined with the rest of `dir`.
fn import_path(dir: &str, read: &dyn Fn(&str) -> Option<String>) -> String {
    let mut up = dir.to_string();
    loop {
        let manifest = if up.is_empty() {
            "go.mod".to_string()
        } else {
            format!("{up}/go.mod")
        };
        let module = read(&manifest).and_then(|text| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix("module "))
                .map(|m| m.trim().trim_matches('"').to_string())
        });
        if let Some(module) = module {
            let rest = dir[up.len()..].trim_start_matches('/');
            return if rest.is_empty() {
                module
            } else {
                format!("{module}/{rest}")
            };
        }
        if up.is_empty() {
            return dir.to_string();
        }
        up = up.rsplit_once('/').map_or("", |(d, _)| d).to_string();
    }
}

/// One side's exported API of `package` (its changed files only).
pub fn surface(package: &Package, read: &dyn Fn(&str) -> Option<String>) -> Surface {
    let mut surface = Surface {
        language: super::ApiLanguage::Go,
        ..Surface::default()
    };
    // Every struct's field types, exported or not: whether `==` works on a struct.
    let mut struct_fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &package.files {
        let Some(src) = read(file) else { continue };
        let Ok(tree) = parse(Language::Go, &src) else {
            continue;
        };
        let root = tree.root_node();
        let mut cursor = root.walk();
        let nodes: Vec<Node<'_>> = root.named_children(&mut cursor).collect();
        let package_name = nodes
            .iter()
            .find(|n| n.kind() == "package_clause")
            .map(|n| {
                text(&src, *n)
                    .trim_start_matches("package")
                    .trim()
                    .to_string()
            });
        if package_name
            .as_deref()
            .is_none_or(|p| p == "main" || p.ends_with("_test"))
        {
            continue;
        }
        let mut put = |name: &str, kind, signature: String, shape, node: Node<'_>| {
            surface.items.insert(
                format!("{}.{name}", package.import_path),
                Item {
                    kind,
                    signature,
                    shape,
                    file: file.clone(),
                    line: node.start_position().row as u32 + 1,
                    via: None,
                },
            );
        };
        for node in nodes {
            match node.kind() {
                "function_declaration" => {
                    let Some(name) = field(&src, node, "name").filter(|n| exported(n)) else {
                        continue;
                    };
                    put(
                        name,
                        ItemKind::Function,
                        func_signature(&src, node),
                        Shape::Plain,
                        node,
                    );
                }
                "method_declaration" => {
                    let Some(name) = field(&src, node, "name").filter(|n| exported(n)) else {
                        continue;
                    };
                    let receiver = node
                        .child_by_field_name("receiver")
                        .map(|r| receiver_type(&src, r))
                        .unwrap_or_default();
                    if !exported(&receiver) {
                        continue;
                    }
                    put(
                        &format!("{receiver}.{name}"),
                        ItemKind::Method,
                        func_signature(&src, node),
                        Shape::Plain,
                        node,
                    );
                }
                "type_declaration" => {
                    let mut inner = node.walk();
                    for spec in node.named_children(&mut inner) {
                        if let (Some(name), Some(ty)) =
                            (field(&src, spec, "name"), spec.child_by_field_name("type"))
                            && ty.kind() == "struct_type"
                        {
                            struct_fields.insert(name.to_string(), field_types(&src, ty));
                        }
                        let Some(name) = field(&src, spec, "name").filter(|n| exported(n)) else {
                            continue;
                        };
                        let (kind, signature, shape) = type_item(&src, spec);
                        put(name, kind, signature, shape, spec);
                    }
                }
                "const_declaration" | "var_declaration" => {
                    let mut specs = Vec::new();
                    collect_specs(node, &mut specs);
                    for spec in specs {
                        let kind = if node.kind() == "const_declaration" {
                            ItemKind::Const
                        } else {
                            ItemKind::Static
                        };
                        let ty = field(&src, spec, "type").map(collapse).unwrap_or_default();
                        let mut names = spec.walk();
                        for name in spec.children_by_field_name("name", &mut names) {
                            let name = text(&src, name);
                            if exported(name) {
                                put(name, kind, ty.clone(), Shape::Plain, spec);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    // `==` on a struct needs every field comparable: a slice, map or func field (also in a
    // struct it holds) takes that away, and breaks whoever compares its values.
    let mut not_comparable: BTreeSet<String> = BTreeSet::new();
    loop {
        let before = not_comparable.len();
        for (name, types) in &struct_fields {
            let bad = types.iter().any(|t| {
                t.starts_with("[]")
                    || t.starts_with("map[")
                    || t.starts_with("func")
                    || not_comparable.contains(t.as_str())
            });
            if bad {
                not_comparable.insert(name.clone());
            }
        }
        if not_comparable.len() == before {
            break;
        }
    }
    let prefix = format!("{}.", package.import_path);
    for (path, item) in surface.items.iter_mut() {
        if item.kind == ItemKind::Struct
            && path
                .strip_prefix(&prefix)
                .is_some_and(|name| not_comparable.contains(name))
        {
            item.signature.push_str(NOT_COMPARABLE);
        }
    }
    surface
}

/// Said of a struct whose values `==` cannot compare.
const NOT_COMPARABLE: &str = " (not comparable)";

/// A struct type's field types.
fn field_types(src: &str, ty: Node<'_>) -> Vec<String> {
    field_declarations(ty)
        .into_iter()
        .filter_map(|f| field(src, f, "type").map(collapse))
        .collect()
}

/// A struct type's field declarations.
fn field_declarations(ty: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![ty];
    while let Some(n) = stack.pop() {
        let mut cursor = n.walk();
        for child in n.named_children(&mut cursor) {
            match child.kind() {
                "field_declaration_list" => stack.push(child),
                "field_declaration" => out.push(child),
                _ => {}
            }
        }
    }
    out
}

fn collect_specs<'t>(node: Node<'t>, out: &mut Vec<Node<'t>>) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "const_spec" | "var_spec" => out.push(child),
            "var_spec_list" => collect_specs(child, out),
            _ => {}
        }
    }
}

fn exported(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

fn text<'s>(src: &'s str, node: Node<'_>) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

fn field<'s>(src: &'s str, node: Node<'_>, name: &str) -> Option<&'s str> {
    node.child_by_field_name(name).map(|n| text(src, n))
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The receiver's type name, without `*` or type parameters: `(s *Server[T])` → `Server`.
fn receiver_type(src: &str, list: Node<'_>) -> String {
    let mut cursor = list.walk();
    let ty = list
        .named_children(&mut cursor)
        .find_map(|p| p.child_by_field_name("type"))
        .map(|t| text(src, t))
        .unwrap_or("");
    ty.trim_start_matches('*')
        .split('[')
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// A parameter list's types only (`(a, b int, opts ...Option)` → `(int, int, ...Option)`).
fn types_of(src: &str, list: Node<'_>) -> String {
    let mut out = Vec::new();
    let mut cursor = list.walk();
    for p in list.named_children(&mut cursor) {
        let Some(ty) = p
            .child_by_field_name("type")
            .map(|t| collapse(text(src, t)))
        else {
            continue;
        };
        let ty = if p.kind() == "variadic_parameter_declaration" {
            format!("...{ty}")
        } else {
            ty
        };
        let mut names = p.walk();
        let count = p.children_by_field_name("name", &mut names).count().max(1);
        out.extend(std::iter::repeat_n(ty, count));
    }
    format!("({})", out.join(", "))
}

/// A function's or method's signature without parameter names or its body.
fn func_signature(src: &str, node: Node<'_>) -> String {
    let generics = field(src, node, "type_parameters")
        .map(collapse)
        .unwrap_or_default();
    let params = node
        .child_by_field_name("parameters")
        .map(|p| types_of(src, p))
        .unwrap_or_default();
    let result = match node.child_by_field_name("result") {
        Some(r) if r.kind() == "parameter_list" => format!(" {}", types_of(src, r)),
        Some(r) => format!(" {}", collapse(text(src, r))),
        None => String::new(),
    };
    format!("func{generics}{params}{result}")
}

/// A type's kind, signature and shape: a struct's exported fields, an interface's methods
/// (each one an implementation must have), another type's definition.
fn type_item(src: &str, spec: Node<'_>) -> (ItemKind, String, Shape) {
    let alias = spec.kind() == "type_alias";
    let generics = field(src, spec, "type_parameters")
        .map(collapse)
        .unwrap_or_default();
    let Some(ty) = spec.child_by_field_name("type") else {
        return (ItemKind::TypeAlias, String::new(), Shape::Plain);
    };
    match ty.kind() {
        "struct_type" if !alias => {
            let mut fields = BTreeMap::new();
            for declaration in field_declarations(ty) {
                let ty = field(src, declaration, "type")
                    .map(collapse)
                    .unwrap_or_default();
                let mut names = declaration.walk();
                let named: Vec<&str> = declaration
                    .children_by_field_name("name", &mut names)
                    .map(|n| text(src, n))
                    .collect();
                if named.is_empty() {
                    // Embedded: its name is the type's last segment.
                    let embedded = ty.trim_start_matches('*');
                    let name = embedded.rsplit('.').next().unwrap_or(embedded);
                    if exported(name) {
                        fields.insert(name.to_string(), ty.clone());
                    }
                }
                for name in named.into_iter().filter(|n| exported(n)) {
                    fields.insert(name.to_string(), ty.clone());
                }
            }
            (
                ItemKind::Struct,
                format!("type{generics} struct"),
                Shape::Struct {
                    fields,
                    constructible: false,
                },
            )
        }
        "interface_type" if !alias => {
            let mut required = BTreeSet::new();
            let mut cursor = ty.walk();
            for elem in ty.named_children(&mut cursor) {
                let member = if elem.kind() == "method_elem" {
                    let name = field(src, elem, "name").unwrap_or("");
                    format!("{name}{}", &func_signature(src, elem)["func".len()..])
                } else {
                    collapse(text(src, elem))
                };
                required.insert(member);
            }
            (
                ItemKind::Interface,
                format!("type{generics} interface"),
                Shape::Trait {
                    required,
                    provided: BTreeSet::new(),
                },
            )
        }
        _ => (
            ItemKind::TypeAlias,
            format!(
                "type{generics}{} {}",
                if alias { " =" } else { "" },
                collapse(text(src, ty))
            ),
            Shape::Plain,
        ),
    }
}

/// Go's predeclared type names: the only lower-case names a user can write.
const PREDECLARED: [&str; 22] = [
    "bool",
    "byte",
    "complex64",
    "complex128",
    "error",
    "float32",
    "float64",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "rune",
    "string",
    "uint",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "uintptr",
    "any",
    "comparable",
];

/// Whether `new` keeps every use of `old`: the same text but where `old` names a type of
/// the package that is not exported (users cannot write its name, so renaming it — even
/// exporting it, `marshalOrder` → `MarshalOrder` — breaks nobody).
pub fn compatible(old: &str, new: &str) -> bool {
    // A struct that became comparable breaks nobody.
    if let Some(was) = old.strip_suffix(NOT_COMPARABLE)
        && !new.ends_with(NOT_COMPARABLE)
    {
        return compatible(was, new);
    }
    let words = |s: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut word = String::new();
        for c in s.chars() {
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
            } else {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                if !c.is_whitespace() {
                    out.push(c.to_string());
                }
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
        out
    };
    let (was, now) = (words(old), words(new));
    was.len() == now.len()
        && was.iter().zip(&now).enumerate().all(|(i, (a, b))| {
            a == b
                || (a.starts_with(|c: char| c.is_lowercase())
                    && !PREDECLARED.contains(&a.as_str())
                    && !matches!(a.as_str(), "func" | "chan" | "map" | "struct" | "interface" | "type")
                    // A package's name before `.` is not a type.
                    && was.get(i + 1).is_none_or(|n| n != "."))
        })
}
