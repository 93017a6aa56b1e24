//! How well the crate-level API analysis agrees with a maintainer, on real crates: 22 version
//! pairs from crates.io (`tests/fixtures/semver/crates.tar.xz`: each version's `Cargo.toml`
//! and `src/`, as published), compatible updates and major rewrites among them. The expected
//! breaks of each pair (`expected/<old version>.txt`) are cargo-semver-checks 0.51's findings
//! (`check-release --release-type minor`, all features, or the default ones where all do not
//! build) plus the real breaks it has no lint for, each checked by reading both versions and
//! marked `manual:` with what changed.
//!
//! A break the analysis reports is right when an expected break names the same public path,
//! or an item inside it (a removed module covers its removed functions); an expected break is
//! found when a reported one is right for it. Precision and recall over all pairs must stay at
//! 0.9 or above. Known misses: auto traits lost through a field's type (memchr's iterators are
//! no longer Send/Sync) and items a macro generates (bitflags' example `Flags`).

use std::path::Path;

use bosun::semantic::api::{compare, rust};

mod common;
use bosun::semantic::structure::{Language, syntax_errors};
use common::eval;

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/semver")
}

fn unpacked() -> Option<tempfile::TempDir> {
    eval::unpacked(&fixtures().join("crates.tar.xz"))
}

#[test]
fn public_api_breaks_agree_with_the_oracle_on_real_crates() {
    eval::evaluate("semver", "crates.tar.xz", eval::related("::"), |pair| {
        let krate = rust::Crate { dir: String::new() };
        let base = rust::surface(&krate, &eval::reader(&pair.old_root)).expect("old version");
        let head = rust::surface(&krate, &eval::reader(&pair.new_root)).expect("new version");
        compare(&base.surface, &head.surface).0
    });
}

/// Every file of 44 published crate versions compiles, so the syntax check must find nothing
/// in any of them (a `~` inside a `macro_rules!` once gave 57 errors on one crate update).
#[test]
fn published_crates_have_no_syntax_errors() {
    let Some(dir) = unpacked() else {
        return;
    };
    let mut files = 0;
    let mut errors = Vec::new();
    for path in eval::files_under(dir.path())
        .into_iter()
        .filter(|p| p.ends_with(".rs"))
    {
        let text = std::fs::read_to_string(dir.path().join(&path)).expect("utf-8 source");
        files += 1;
        for e in syntax_errors(Language::Rust, &text) {
            errors.push(format!("{path}:{}: {}", e.line, e.snippet));
        }
    }
    println!("{files} files, {} syntax errors", errors.len());
    assert!(files > 500, "the crates were read ({files} files)");
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
