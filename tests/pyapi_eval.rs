//! How well the package-level Python API analysis agrees with what users can import, on real
//! packages: 8 version pairs from PyPI (`tests/fixtures/pyapi/packages.tar.xz`: each sdist's
//! Python files and manifests, tests and docs included), compatible updates, major releases
//! and a reshuffle of modules into private files among them. The expected breaks of each
//! pair (`expected/<old>.txt`) come from `oracle.py`, which imports both versions' wheels and
//! compares what `inspect` sees (see the fixture's README for its rules).
//!
//! A break the analysis reports is right when an expected break names the same dotted path,
//! or one inside it (a removed module covers its removed names); an expected break is found
//! when a reported one is right for it. Precision and recall over all pairs must stay at 0.9
//! or above.

use bosun::semantic::api::{compare, python};

mod common;
use common::eval;

#[test]
fn python_api_breaks_agree_with_the_import_oracle_on_real_packages() {
    eval::evaluate("pyapi", "packages.tar.xz", eval::related("."), |pair| {
        let paths = pair.paths();
        let exists = |p: &str| pair.old_root.join(p).is_file() || pair.new_root.join(p).is_file();
        let modules = python::modules_of(&paths, &exists);
        let base = python::surface(&modules, &eval::reader(&pair.old_root));
        let head = python::surface(&modules, &eval::reader(&pair.new_root));
        compare(&base, &head).0
    });
}
