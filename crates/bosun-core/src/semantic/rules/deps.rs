//! `dependency_changed` (notice): dependencies added, removed or changed in a manifest, found by
//! parsing both versions and comparing the documents — never by reading `+`/`-` lines — so each
//! annotation names the package and both versions. One annotation per dependency, at its
//! manifest line on the new side (the old side for a removal): the first changed line naming
//! the package, else the first changed line of its entry or table, else the entry's line when
//! it is in a hunk, else no line.
//!
//! Read: `Cargo.toml` (`[dependencies]`, `[dev-dependencies]`, `[build-dependencies]`, the same
//! under `[target.'…']`, `[workspace.dependencies]`, `[patch.*]`); `package.json`
//! (`dependencies`, `devDependencies`, `peerDependencies`, `optionalDependencies`);
//! `requirements*.txt` and `requirements/*.txt` (PEP 508 lines and `#egg=` URLs; `-r`, `-e`
//! and other options are skipped); `pyproject.toml` (`[project] dependencies`,
//! `[project.optional-dependencies]`, `[dependency-groups]`,
//! `[tool.poetry.dependencies]`, `[tool.poetry.dev-dependencies]`,
//! `[tool.poetry.group.*.dependencies]`); `go.mod` (`require` and `replace`, lines and blocks;
//! `// indirect` is an attribute). Lockfiles are not read: they follow their manifest.
//!
//! A dependency is its section and its name (Python names normalised per PEP 503); a change is
//! a different version requirement (or source: path, git, URL) or other attributes
//! (`features`, `optional`, extras, markers, `indirect`, …). A dependency moved between
//! sections shows as removed from one and added to the other. A side that exists but was not
//! given, or does not parse, gets one file-level notice instead of a comparison.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;

use super::paths::{self, Manifest};
use super::{FileContext, changed_kind, hunk_index, secret, side_no};
use crate::model::{Annotation, AnnotationKind, Severity};

/// One dependency as a manifest declares it.
#[derive(Debug, Clone, PartialEq)]
struct Dep {
    /// Shown after the change ("dev", "target cfg(unix)", …); empty for the main list.
    label: String,
    /// As written in the manifest.
    name: String,
    /// The version requirement or source as written; empty when none.
    spec: String,
    /// Other attributes, by key, as text.
    others: BTreeMap<String, String>,
}

/// Dependencies by (section, normalised name).
type Deps = BTreeMap<(String, String), Dep>;

static PEP508: LazyLock<Regex> = LazyLock::new(|| {
    // A constant pattern; the tests parse requirement lines with it.
    Regex::new(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._\-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$")
        .expect("the PEP 508 pattern is a valid regex")
});

fn insert(deps: &mut Deps, section: &str, key: String, dep: Dep) {
    deps.insert((section.to_string(), key), dep);
}

fn text_of(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A Cargo or Poetry entry: `"1.0"` or a table with `version`, else a path/git/url source.
fn toml_dep(label: &str, name: &str, value: &toml::Value) -> Dep {
    let (spec, others) = match value {
        toml::Value::Table(t) => {
            let mut others: BTreeMap<String, String> =
                t.iter().map(|(k, v)| (k.clone(), text_of(v))).collect();
            let spec = if let Some(v) = others.remove("version") {
                v
            } else if let Some(p) = others.remove("path") {
                format!("path {p}")
            } else if let Some(g) = others.remove("git") {
                let mut s = format!("git {g}");
                for pin in ["branch", "tag", "rev"] {
                    if let Some(v) = others.remove(pin) {
                        let _ = write!(s, " {pin} {v}");
                    }
                }
                s
            } else if let Some(u) = others.remove("url") {
                format!("url {u}")
            } else if others.get("workspace").is_some_and(|w| w == "true") {
                others.remove("workspace");
                "workspace".to_string()
            } else {
                String::new()
            };
            (spec, others)
        }
        other => (text_of(other), BTreeMap::new()),
    };
    Dep {
        label: label.to_string(),
        name: name.to_string(),
        spec,
        others,
    }
}

fn cargo(text: &str) -> Result<Deps, &'static str> {
    let doc: toml::Table = toml::from_str(text).map_err(|_| "TOML")?;
    let mut deps = Deps::new();
    let kinds = [
        ("dependencies", ""),
        ("dev-dependencies", "dev"),
        ("dev_dependencies", "dev"),
        ("build-dependencies", "build"),
        ("build_dependencies", "build"),
    ];
    let tables = |deps: &mut Deps, t: &toml::Table, prefix: &str| {
        for (key, kind) in kinds {
            if let Some(toml::Value::Table(list)) = t.get(key) {
                let label = [prefix, kind]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                for (name, v) in list {
                    insert(deps, &label, name.clone(), toml_dep(&label, name, v));
                }
            }
        }
    };
    tables(&mut deps, &doc, "");
    if let Some(toml::Value::Table(targets)) = doc.get("target") {
        for (cfg, t) in targets {
            if let toml::Value::Table(t) = t {
                tables(&mut deps, t, &format!("target {cfg}"));
            }
        }
    }
    if let Some(toml::Value::Table(ws)) = doc.get("workspace")
        && let Some(toml::Value::Table(list)) = ws.get("dependencies")
    {
        for (name, v) in list {
            insert(
                &mut deps,
                "workspace",
                name.clone(),
                toml_dep("workspace", name, v),
            );
        }
    }
    if let Some(toml::Value::Table(patch)) = doc.get("patch") {
        for (registry, list) in patch {
            if let toml::Value::Table(list) = list {
                let label = format!("patch {registry}");
                for (name, v) in list {
                    insert(&mut deps, &label, name.clone(), toml_dep(&label, name, v));
                }
            }
        }
    }
    Ok(deps)
}

fn npm(text: &str) -> Result<Deps, &'static str> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|_| "JSON")?;
    let mut deps = Deps::new();
    for (key, label) in [
        ("dependencies", ""),
        ("devDependencies", "dev"),
        ("peerDependencies", "peer"),
        ("optionalDependencies", "optional"),
    ] {
        if let Some(list) = doc.get(key).and_then(|v| v.as_object()) {
            for (name, v) in list {
                let spec = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                let dep = Dep {
                    label: label.to_string(),
                    name: name.clone(),
                    spec,
                    others: BTreeMap::new(),
                };
                insert(&mut deps, label, name.clone(), dep);
            }
        }
    }
    Ok(deps)
}

/// A Python name as PEP 503 compares it.
fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// A PEP 508 requirement: name, version spec (or `@ url`), extras and markers.
fn pep508(label: &str, line: &str) -> Option<Dep> {
    let c = PEP508.captures(line)?;
    let name = c.get(1)?.as_str().to_string();
    let rest = c.get(3).map_or("", |m| m.as_str());
    let (req, markers) = match rest.split_once(';') {
        Some((r, m)) => (r, Some(m.trim())),
        None => (rest, None),
    };
    let req = req.trim();
    let spec = if let Some(url) = req.strip_prefix('@') {
        format!("@ {}", url.trim())
    } else {
        req.chars().filter(|c| !c.is_whitespace()).collect()
    };
    if !spec.is_empty() && !spec.starts_with(['@', '<', '>', '=', '!', '~', '(']) {
        return None;
    }
    let mut others = BTreeMap::new();
    if let Some(extras) = c.get(2) {
        let extras: String = extras
            .as_str()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        others.insert("extras".to_string(), extras);
    }
    if let Some(m) = markers.filter(|m| !m.is_empty()) {
        others.insert("markers".to_string(), m.to_string());
    }
    Some(Dep {
        label: label.to_string(),
        name,
        spec,
        others,
    })
}

fn requirements(text: &str) -> Result<Deps, &'static str> {
    let mut deps = Deps::new();
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    for line in joined.lines() {
        let line = match line.find('#') {
            Some(0) => "",
            Some(i) if line[..i].ends_with(char::is_whitespace) => &line[..i],
            _ => line,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('-') {
            continue;
        }
        let dep = if line.contains("://") || line.starts_with("git+") {
            // A URL requirement names its package with `#egg=`.
            let Some((url, egg)) = line.split_once("#egg=") else {
                continue;
            };
            let name = egg.split(['&', ' ']).next().unwrap_or(egg).to_string();
            Dep {
                label: String::new(),
                name,
                spec: format!("@ {url}"),
                others: BTreeMap::new(),
            }
        } else {
            let Some(dep) = pep508("", line) else {
                continue;
            };
            dep
        };
        insert(&mut deps, "requirements", normalise(&dep.name), dep);
    }
    Ok(deps)
}

fn pyproject(text: &str) -> Result<Deps, &'static str> {
    let doc: toml::Table = toml::from_str(text).map_err(|_| "TOML")?;
    let mut deps = Deps::new();
    let strings = |deps: &mut Deps, section: &str, label: &str, list: Option<&toml::Value>| {
        for item in list.and_then(|l| l.as_array()).into_iter().flatten() {
            if let Some(dep) = item.as_str().and_then(|s| pep508(label, s)) {
                insert(deps, section, normalise(&dep.name), dep);
            }
        }
    };
    let project = doc.get("project").and_then(|p| p.as_table());
    if let Some(project) = project {
        strings(&mut deps, "project", "", project.get("dependencies"));
        if let Some(groups) = project
            .get("optional-dependencies")
            .and_then(|g| g.as_table())
        {
            for (group, list) in groups {
                let label = format!("optional {group}");
                strings(&mut deps, &label, &label, Some(list));
            }
        }
    }
    if let Some(groups) = doc.get("dependency-groups").and_then(|g| g.as_table()) {
        for (group, list) in groups {
            let label = format!("group {group}");
            strings(&mut deps, &label, &label, Some(list));
        }
    }
    let poetry = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.as_table());
    if let Some(poetry) = poetry {
        let mut tables = vec![
            (
                "poetry".to_string(),
                String::new(),
                poetry.get("dependencies"),
            ),
            (
                "poetry dev".to_string(),
                "dev".to_string(),
                poetry.get("dev-dependencies"),
            ),
        ];
        if let Some(groups) = poetry.get("group").and_then(|g| g.as_table()) {
            for (group, t) in groups {
                tables.push((
                    format!("poetry group {group}"),
                    format!("group {group}"),
                    t.get("dependencies"),
                ));
            }
        }
        for (section, label, list) in tables {
            for (name, v) in list.and_then(|l| l.as_table()).into_iter().flatten() {
                insert(
                    &mut deps,
                    &section,
                    normalise(name),
                    toml_dep(&label, name, v),
                );
            }
        }
    }
    Ok(deps)
}

fn go_mod(text: &str) -> Result<Deps, &'static str> {
    #[derive(PartialEq)]
    enum Block {
        None,
        Require,
        Replace,
        Other,
    }
    let mut deps = Deps::new();
    let mut block = Block::None;
    for line in text.lines() {
        let (code, comment) = match line.split_once("//") {
            Some((c, m)) => (c.trim(), m.trim()),
            None => (line.trim(), ""),
        };
        if code == ")" {
            block = Block::None;
            continue;
        }
        let mut words: Vec<&str> = code.split_whitespace().collect();
        let opened = words.last() == Some(&"(");
        let entry = match (block == Block::None, words.first().copied()) {
            (true, Some("require")) if opened => {
                block = Block::Require;
                continue;
            }
            (true, Some("replace")) if opened => {
                block = Block::Replace;
                continue;
            }
            (true, Some(_)) if opened => {
                block = Block::Other;
                continue;
            }
            (true, Some("require")) => {
                words.remove(0);
                Block::Require
            }
            (true, Some("replace")) => {
                words.remove(0);
                Block::Replace
            }
            (true, _) => continue,
            (false, _) => match block {
                Block::Require => Block::Require,
                Block::Replace => Block::Replace,
                Block::None | Block::Other => continue,
            },
        };
        match entry {
            Block::Require => {
                let [path, version, ..] = words.as_slice() else {
                    continue;
                };
                let mut others = BTreeMap::new();
                if comment.split(';').any(|c| c.trim() == "indirect") {
                    others.insert("indirect".to_string(), "true".to_string());
                }
                let dep = Dep {
                    label: String::new(),
                    name: path.to_string(),
                    spec: version.to_string(),
                    others,
                };
                insert(&mut deps, "require", path.to_string(), dep);
            }
            Block::Replace => {
                let Some(arrow) = words.iter().position(|w| *w == "=>") else {
                    continue;
                };
                let name = words[..arrow].join(" ");
                let dep = Dep {
                    label: "replace".to_string(),
                    name: name.clone(),
                    spec: format!("=> {}", words[arrow + 1..].join(" ")),
                    others: BTreeMap::new(),
                };
                insert(&mut deps, "replace", name, dep);
            }
            Block::None | Block::Other => {}
        }
    }
    Ok(deps)
}

fn parse(kind: Manifest, text: &str) -> Result<Deps, &'static str> {
    match kind {
        Manifest::Cargo => cargo(text),
        Manifest::Npm => npm(text),
        Manifest::Requirements => requirements(text),
        Manifest::PyProject => pyproject(text),
        Manifest::GoMod => go_mod(text),
    }
}

/// `needle` occurs in `hay` as a whole name: not inside a longer identifier or path.
fn names(hay: &str, needle: &str, fold: bool) -> bool {
    if needle.is_empty() {
        return false;
    }
    let (hay, needle) = if fold {
        (hay.to_ascii_lowercase(), needle.to_ascii_lowercase())
    } else {
        (hay.to_string(), needle.to_string())
    };
    let inner = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '@');
    hay.match_indices(&needle).any(|(i, m)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + m.len()..].chars().next();
        !before.is_some_and(inner) && !after.is_some_and(|c| inner(c) && c != '@')
    })
}

/// Where to point for a dependency on one side (see the module docs).
fn locate(ctx: &FileContext<'_>, dep: &Dep, old_side: bool, fold: bool) -> Option<u32> {
    let needle = dep.name.split_whitespace().next().unwrap_or("");
    let kind = changed_kind(old_side);
    let changed: Vec<(u32, &str)> = ctx
        .file
        .hunks
        .iter()
        .flat_map(|h| &h.lines)
        .filter(|l| l.kind == kind)
        .filter_map(|l| Some((side_no(l, old_side)?, l.text.as_str())))
        .collect();
    if let Some(&(n, _)) = changed.iter().find(|(_, t)| names(t, needle, fold)) {
        return Some(n);
    }
    let view = ctx.view(old_side);
    let numbers = view.numbers();
    let decl = numbers
        .iter()
        .copied()
        .find(|&n| names(view.raw(n), needle, fold))?;
    let section_end = numbers
        .iter()
        .copied()
        .find(|&n| n > decl && view.raw(n).trim_start().starts_with('['))
        .unwrap_or(u32::MAX);
    changed
        .iter()
        .map(|&(n, _)| n)
        .find(|&n| n > decl && n < section_end)
        .or_else(|| hunk_index(ctx.file, decl, old_side).map(|_| decl))
}

fn describe(dep: &Dep) -> String {
    let spec = secret::redact_text(&dep.spec);
    let name = secret::redact_text(&dep.name);
    if spec.is_empty() {
        name
    } else {
        format!("{name} {spec}")
    }
}

fn label(dep: &Dep) -> String {
    if dep.label.is_empty() {
        String::new()
    } else {
        format!(" ({})", secret::redact_text(&dep.label))
    }
}

/// The rule (see the module docs).
pub(crate) fn rule(ctx: &FileContext<'_>) -> Vec<Annotation> {
    let Some(kind) = paths::manifest(ctx.path) else {
        return Vec::new();
    };
    if ctx.file.binary {
        return Vec::new();
    }
    let file_name = paths::file_name(ctx.path);
    let notice = |message: String| {
        vec![ctx.annotation(
            AnnotationKind::DependencyChanged,
            Severity::Notice,
            None,
            false,
            message,
        )]
    };
    let side = |exists: bool, text: Option<&str>, which: &str| -> Result<Deps, String> {
        if !exists {
            return Ok(Deps::new());
        }
        let Some(text) = text else {
            return Err(format!(
                "dependencies not compared: the {which} version of {file_name} was not available"
            ));
        };
        parse(kind, text).map_err(|format| {
            format!(
                "dependencies not compared: the {which} version of {file_name} does not parse as {format}"
            )
        })
    };
    let old = match side(ctx.file.old_path.is_some(), ctx.base, "old") {
        Ok(deps) => deps,
        Err(message) => return notice(message),
    };
    let new = match side(ctx.file.new_path.is_some(), ctx.head, "new") {
        Ok(deps) => deps,
        Err(message) => return notice(message),
    };
    let fold = matches!(kind, Manifest::Requirements | Manifest::PyProject);
    let mut out = Vec::new();
    let mut push = |dep: &Dep, old_side: bool, message: String| {
        let line = locate(ctx, dep, old_side, fold);
        out.push(ctx.annotation(
            AnnotationKind::DependencyChanged,
            Severity::Notice,
            line.map(|n| (n, n)),
            old_side,
            message,
        ));
    };
    for (key, before) in &old {
        match new.get(key) {
            None => push(
                before,
                true,
                format!(
                    "removed {}{}",
                    secret::redact_text(&before.name),
                    label(before)
                ),
            ),
            Some(after) if after != before => {
                let mut keys: Vec<&str> = before
                    .others
                    .keys()
                    .chain(after.others.keys())
                    .filter(|k| before.others.get(*k) != after.others.get(*k))
                    .map(String::as_str)
                    .collect();
                keys.sort_unstable();
                keys.dedup();
                let keys = keys.join(", ");
                let message = if before.spec != after.spec {
                    let shown = |spec: &str| match secret::redact_text(spec) {
                        s if s.is_empty() => "any".to_string(),
                        s => s,
                    };
                    let attrs = if keys.is_empty() {
                        String::new()
                    } else {
                        format!(", {keys} changed")
                    };
                    format!(
                        "{} {} → {}{attrs}{}",
                        secret::redact_text(&after.name),
                        shown(&before.spec),
                        shown(&after.spec),
                        label(after)
                    )
                } else {
                    format!("{}: {keys} changed{}", describe(after), label(after))
                };
                push(after, false, message);
            }
            Some(_) => {}
        }
    }
    for (key, after) in &new {
        if !old.contains_key(key) {
            push(
                after,
                false,
                format!("added {}{}", describe(after), label(after)),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests;
