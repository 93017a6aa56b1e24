//! How well the Go package API analysis agrees with `apidiff`, on real modules: version pairs
//! from the Go module proxy (`tests/fixtures/goapi/packages.tar.xz`: each version's `go.mod`
//! and Go files, tests and internal packages included). The expected breaks of each pair
//! (`expected/<old>.txt`) are apidiff's incompatible changes, by public path (see the
//! fixture's README).
//!
//! A break is right when an expected break names the same path or one inside it; an expected
//! break is found when a reported one is right for it. Precision and recall over all pairs
//! must stay at 0.9 or above.

use std::path::Path;

use bosun::semantic::api::{compare, go};

mod common;
use common::eval;

#[test]
fn go_api_breaks_agree_with_apidiff_on_real_modules() {
    eval::evaluate("goapi", "packages.tar.xz", eval::related("."), |pair| {
        // A module from before go.mod (pkg/errors 0.6) has its path only where it is
        // fetched from: the oracle's header names it, and it stands in for the manifest.
        let module = pair
            .expected
            .lines()
            .find_map(|l| l.split("module: ").nth(1))
            .map(|m| format!("module {}\n", m.trim()))
            .unwrap_or_default();
        let read = |root: &Path| {
            let (file, module) = (eval::reader(root), module.clone());
            move |p: &str| file(p).or_else(|| (p == "go.mod").then(|| module.clone()))
        };
        let paths = pair.paths();
        let mut breaks = Vec::new();
        for package in go::packages_of(&paths, &read(&pair.old_root)) {
            let base = go::surface(&package, &read(&pair.old_root));
            let head = go::surface(&package, &read(&pair.new_root));
            breaks.extend(compare(&base, &head).0);
        }
        breaks
    });
}
