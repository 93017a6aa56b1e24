//! The false alarms and misses measured on real crates (issue 19), each as a small crate on
//! two sides.

use std::collections::HashMap;

use super::rust::{Crate, surface};
use super::*;

const MANIFEST: &str = "[package]\nname = \"demo-lib\"\nversion = \"0.1.0\"\n";

/// A crate from `(path, text)` pairs (the manifest added).
fn side(files: &[(&str, &str)]) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = files
        .iter()
        .map(|(p, t)| ((*p).to_string(), (*t).to_string()))
        .collect();
    map.insert("Cargo.toml".into(), MANIFEST.into());
    map
}

fn api(files: &[(&str, &str)]) -> Surface {
    let map = side(files);
    surface(&Crate { dir: String::new() }, &|p| map.get(p).cloned())
        .expect("a library")
        .surface
}

/// The breaks from `base` to `head`, as `kind path` lines.
fn breaks(base: &[(&str, &str)], head: &[(&str, &str)]) -> Vec<String> {
    let (breaks, _) = compare(&api(base), &api(head));
    breaks
        .iter()
        .map(|b| format!("{:?} {}", b.kind, b.path))
        .collect()
}

fn additions(base: &[(&str, &str)], head: &[(&str, &str)]) -> Vec<String> {
    let (_, additions) = compare(&api(base), &api(head));
    additions.into_iter().map(|a| a.path).collect()
}

#[test]
fn public_paths_follow_modules_and_re_exports() {
    let s = api(&[
        (
            "src/lib.rs",
            "pub mod net;\nmod util;\npub use util::helper as assist;\npub use inner::*;\nmod inner { pub fn glob_me() {} pub(crate) fn not_me() {} }\n#[macro_export]\nmacro_rules! shout { () => {} }\n",
        ),
        (
            "src/net.rs",
            "pub struct Conn { pub port: u16 }\nimpl Conn { pub fn open(port: u16) -> Self { Conn { port } } fn private(&self) {} }\npub(crate) fn internal() {}\npub mod tcp;\n",
        ),
        ("src/net/tcp.rs", "pub fn connect() {}\n"),
        (
            "src/util.rs",
            "pub fn helper() {}\npub fn unexported() {}\n",
        ),
    ]);
    let paths: Vec<&str> = s.items.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "demo_lib::assist",
            "demo_lib::glob_me",
            "demo_lib::net",
            "demo_lib::net::Conn",
            "demo_lib::net::Conn::open",
            "demo_lib::net::tcp",
            "demo_lib::net::tcp::connect",
            "demo_lib::shout",
        ]
    );
    assert_eq!(
        s.items["demo_lib::net::Conn::open"].signature,
        "fn(u16) -> Self"
    );
    assert_eq!(s.items["demo_lib::net::Conn::open"].file, "src/net.rs");
}

// ---- false alarms: none of these breaks anything

#[test]
fn an_item_moved_to_another_file_behind_the_same_re_export_is_no_change() {
    let base = [
        ("src/lib.rs", "mod a;\npub use a::Parser;\n"),
        (
            "src/a.rs",
            "pub struct Parser;\nimpl Parser { pub fn parse(&self, s: &str) -> bool { true } }\n",
        ),
    ];
    let head = [
        ("src/lib.rs", "mod a;\nmod b;\npub use b::Parser;\n"),
        ("src/a.rs", "\n"),
        (
            "src/b.rs",
            "/// Moved.\npub struct Parser;\nimpl Parser {\n    pub fn parse(&self, text: &str) -> bool {\n        !text.is_empty()\n    }\n}\n",
        ),
    ];
    assert_eq!(breaks(&base, &head), Vec::<String>::new());
}

#[test]
fn pub_items_in_private_modules_are_not_public() {
    let base = [(
        "src/lib.rs",
        "mod util { pub fn helper() {} }\npub fn api() {}\n",
    )];
    let head = [("src/lib.rs", "mod util {}\npub fn api() {}\n")];
    assert_eq!(breaks(&base, &head), Vec::<String>::new());
}

#[test]
fn spelling_that_does_not_change_a_signature_is_no_change() {
    let base = [(
        "src/lib.rs",
        "pub struct Config;\nimpl Config {\n    pub fn new(path: &str) -> Config { Config }\n    pub fn take(mut self, n: u32) -> Self { self }\n}\npub fn pick<T>(items: Vec<T>) -> Option<T>\nwhere\n    T: Clone,\n{ None }\n",
    )];
    let head = [(
        "src/lib.rs",
        "pub struct Config;\nimpl Config {\n    pub fn new(p: &str) -> Self { Self }\n    pub fn take(self, count: u32) -> Config { self }\n}\npub fn pick<T>(list: Vec<T>) -> Option<T> where T: Clone { None }\n",
    )];
    assert_eq!(breaks(&base, &head), Vec::<String>::new());
}

#[test]
fn test_code_and_hidden_items_are_not_api() {
    let base = [
        (
            "src/lib.rs",
            "pub fn api() {}\n#[doc(hidden)]\npub fn __private_for_macros() {}\n#[cfg(test)]\npub mod tests { pub fn fixture() {} }\n",
        ),
        ("tests/it.rs", "pub fn shared_helper() {}\n"),
    ];
    let head = [("src/lib.rs", "pub fn api() {}\n"), ("tests/it.rs", "\n")];
    assert_eq!(breaks(&base, &head), Vec::<String>::new());
}

// ---- misses: each of these breaks users

#[test]
fn a_removed_re_export_breaks_though_the_item_is_unchanged() {
    let base = [("src/lib.rs", "mod a { pub struct Buf; }\npub use a::Buf;\n")];
    let head = [("src/lib.rs", "mod a { pub struct Buf; }\n")];
    assert_eq!(breaks(&base, &head), ["Removed demo_lib::Buf"]);
}

#[test]
fn a_removed_derive_breaks() {
    let base = [(
        "src/lib.rs",
        "#[derive(Debug, Clone, PartialEq)]\npub struct Id(pub u32);\n",
    )];
    let head = [(
        "src/lib.rs",
        "#[derive(Debug, PartialEq)]\npub struct Id(pub u32);\n",
    )];
    assert_eq!(breaks(&base, &head), ["TraitImplRemoved demo_lib::Id"]);
    // A manual impl in place of the derive keeps the promise.
    let manual = [(
        "src/lib.rs",
        "#[derive(Debug, PartialEq)]\npub struct Id(pub u32);\nimpl Clone for Id { fn clone(&self) -> Self { Id(self.0) } }\n",
    )];
    assert_eq!(breaks(&base, &manual), Vec::<String>::new());
}

#[test]
fn a_trait_that_gains_a_required_method_breaks_a_provided_one_does_not() {
    let base = [("src/lib.rs", "pub trait Shape { fn area(&self) -> f64; }\n")];
    let required = [(
        "src/lib.rs",
        "pub trait Shape { fn area(&self) -> f64; fn name(&self) -> String; }\n",
    )];
    let provided = [(
        "src/lib.rs",
        "pub trait Shape { fn area(&self) -> f64; fn name(&self) -> String { String::new() } }\n",
    )];
    assert_eq!(
        breaks(&base, &required),
        ["RequiredMethodAdded demo_lib::Shape"]
    );
    assert_eq!(breaks(&base, &provided), Vec::<String>::new());
    assert_eq!(additions(&base, &provided), ["demo_lib::Shape::name"]);
}

#[test]
fn a_variant_added_to_an_exhaustive_enum_breaks_a_non_exhaustive_one_does_not() {
    let base = [(
        "src/lib.rs",
        "pub enum Mode { Fast, Slow }\n#[non_exhaustive]\npub enum Level { Low }\n",
    )];
    let head = [(
        "src/lib.rs",
        "pub enum Mode { Fast, Slow, Auto }\n#[non_exhaustive]\npub enum Level { Low, High }\n",
    )];
    assert_eq!(breaks(&base, &head), ["VariantAdded demo_lib::Mode"]);
    assert_eq!(additions(&base, &head), ["demo_lib::Level::High"]);
}

#[test]
fn a_field_added_to_a_struct_users_build_breaks_them() {
    let base = [(
        "src/lib.rs",
        "pub struct Options { pub depth: u32 }\npub struct Sealed { pub depth: u32, cache: bool }\n",
    )];
    let head = [(
        "src/lib.rs",
        "pub struct Options { pub depth: u32, pub color: bool }\npub struct Sealed { pub depth: u32, pub color: bool, cache: bool }\n",
    )];
    assert_eq!(breaks(&base, &head), ["FieldAdded demo_lib::Options"]);
}

#[test]
fn a_removed_exported_macro_and_a_changed_signature_break() {
    let base = [(
        "src/lib.rs",
        "#[macro_export]\nmacro_rules! ensure { ($e:expr) => {} }\npub fn get_u8(buf: &[u8]) -> u8 { buf[0] }\n",
    )];
    let head = [(
        "src/lib.rs",
        "pub fn get_u8(buf: &[u8], at: usize) -> u8 { buf[at] }\n",
    )];
    assert_eq!(
        breaks(&base, &head),
        [
            "Removed demo_lib::ensure",
            "SignatureChanged demo_lib::get_u8"
        ]
    );
}

#[test]
fn an_item_gone_from_a_glob_re_exported_module_breaks() {
    let base = [(
        "src/lib.rs",
        "mod imp { pub fn one() {} pub fn two() {} }\npub use imp::*;\n",
    )];
    let head = [(
        "src/lib.rs",
        "mod imp { pub fn one() {} }\npub use imp::*;\n",
    )];
    assert_eq!(breaks(&base, &head), ["Removed demo_lib::two"]);
}

#[test]
fn a_removed_module_is_one_break_not_one_per_item() {
    let base = [(
        "src/lib.rs",
        "pub mod io { pub fn read() {} pub fn write() {} }\n",
    )];
    let head = [("src/lib.rs", "\n")];
    assert_eq!(breaks(&base, &head), ["Removed demo_lib::io"]);
}

#[test]
fn re_exports_of_other_crates_are_part_of_the_api() {
    let base = [("src/lib.rs", "pub use bytes::Bytes;\npub use serde;\n")];
    let head = [("src/lib.rs", "pub use serde;\n")];
    assert_eq!(breaks(&base, &head), ["Removed demo_lib::Bytes"]);
}

/// Through the whole analysis: a crate's per-file guesses about a moved item are replaced by
/// the crate-level view, and what was added is a notice, not a risk.
#[test]
fn the_analysis_of_a_change_uses_the_crate_level_view() {
    use crate::semantic::{MapSources, analyze};
    let base = side(&[
        ("src/lib.rs", "mod a;\npub use a::Parser;\n"),
        ("src/a.rs", "pub struct Parser;\n"),
    ]);
    let head = side(&[
        (
            "src/lib.rs",
            "mod b;\npub use b::Parser;\npub fn added() {}\n",
        ),
        ("src/b.rs", "pub struct Parser;\n"),
    ]);
    let mut files = Vec::new();
    for path in ["src/lib.rs", "src/a.rs", "src/b.rs"] {
        let (old, new) = (base.get(path), head.get(path));
        files.push(
            crate::diff::from_texts(
                old.map(|_| path),
                old.map(|t| t.as_bytes()),
                new.map(|_| path),
                new.map(|t| t.as_bytes()),
            )
            .expect("a diff"),
        );
    }
    let diff = crate::diff::Diff { files };
    let sources = MapSources { base, head };
    let task = crate::semantic::rules::tests::task("Move the parser");
    let out = analyze(&diff, &sources, &task, 10_000);
    let api: Vec<(AnnotationKind, Option<&str>)> = out
        .iter()
        .filter(|a| {
            matches!(
                a.kind,
                AnnotationKind::ApiChanged | AnnotationKind::ApiAdded
            )
        })
        .map(|a| (a.kind, a.symbol.as_deref()))
        .collect();
    assert_eq!(api, [(AnnotationKind::ApiAdded, Some("demo_lib::added"))]);
}

#[test]
fn a_removed_feature_breaks_whoever_enables_it() {
    let manifest = |features: &str| {
        format!(
            "[package]\nname = \"demo-lib\"\nversion = \"0.1.0\"\n\n[features]\ndefault = []\n{features}\n[dependencies]\nserde = {{ version = \"1\", optional = true }}\nrayon = {{ version = \"1\", optional = true }}\n"
        )
    };
    let read = |text: String| {
        move |p: &str| match p {
            "Cargo.toml" => Some(text.clone()),
            "src/lib.rs" => Some("pub fn api() {}\n".to_string()),
            _ => None,
        }
    };
    let krate = Crate { dir: String::new() };
    let base = surface(
        &krate,
        &read(manifest("std = []\nfast = [\"dep:rayon\"]\n")),
    )
    .unwrap();
    let head = surface(&krate, &read(manifest("fast = [\"dep:rayon\"]\n"))).unwrap();
    // `serde` is an implicit feature (optional, never named `dep:serde`); `rayon` is not.
    assert_eq!(
        base.surface.features.keys().collect::<Vec<_>>(),
        ["fast", "serde", "std"]
    );
    let (breaks, _) = compare(&base.surface, &head.surface);
    let said: Vec<(&str, &str, u32)> = breaks
        .iter()
        .map(|b| (b.path.as_str(), b.file.as_str(), b.line))
        .collect();
    assert_eq!(said, [("feature `std`", "Cargo.toml", 7)]);
}
