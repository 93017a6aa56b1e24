//! How well the Go package API analysis agrees with `apidiff`, on real modules: version pairs
//! from the Go module proxy (`tests/fixtures/goapi/packages.tar.xz`: each version's `go.mod`
//! and Go files, tests and internal packages included). The expected breaks of each pair
//! (`expected/<old>.txt`) are apidiff's incompatible changes, by public path (see the
//! fixture's README).
//!
//! A break is right when an expected break names the same path or one inside it; an expected
//! break is found when a reported one is right for it. Precision and recall over all pairs
//! must stay at 0.9 or above.

use std::path::{Path, PathBuf};

use bosun::semantic::api::{compare, go};

mod common;
use common::eval::{self, Agreement};

fn related(reported: &str, expected: &str) -> bool {
    reported == expected || expected.starts_with(&format!("{reported}."))
}

#[test]
fn go_api_breaks_agree_with_apidiff_on_real_modules() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/goapi");
    let Some(dir) = eval::unpacked(&fixtures.join("packages.tar.xz")) else {
        return;
    };
    let mut agreement = Agreement::default();
    for (old, new) in eval::pairs(&fixtures) {
        let (old_root, new_root): (PathBuf, PathBuf) =
            (dir.path().join(&old), dir.path().join(&new));
        let mut paths = eval::files_under(&old_root);
        paths.extend(eval::files_under(&new_root));
        // A module from before go.mod (pkg/errors 0.6) has its path only where it is
        // fetched from: the oracle's header names it, and it stands in for the manifest.
        let header = std::fs::read_to_string(fixtures.join("expected").join(format!("{old}.txt")))
            .unwrap_or_default();
        let module = header
            .lines()
            .find_map(|l| l.split("module: ").nth(1))
            .map(|m| format!("module {}\n", m.trim()))
            .unwrap_or_default();
        let read = |root: PathBuf| {
            let module = module.clone();
            move |p: &str| {
                std::fs::read_to_string(root.join(p))
                    .ok()
                    .or_else(|| (p == "go.mod").then(|| module.clone()))
            }
        };
        let packages = go::packages_of(&paths, &read(old_root.clone()));
        let mut breaks = Vec::new();
        for package in &packages {
            let base = go::surface(package, &read(old_root.clone()));
            let head = go::surface(package, &read(new_root.clone()));
            breaks.extend(compare(&base, &head).0);
        }
        agreement.pair(&fixtures, (&old, &new), &breaks, related);
    }
    agreement.check();
}
