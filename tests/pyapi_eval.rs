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

use std::path::{Path, PathBuf};

use bosun::semantic::api::{compare, python};

mod common;
use common::eval::{self, Agreement};

fn related(reported: &str, expected: &str) -> bool {
    reported == expected || expected.starts_with(&format!("{reported}."))
}

#[test]
fn python_api_breaks_agree_with_the_import_oracle_on_real_packages() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pyapi");
    let Some(dir) = eval::unpacked(&fixtures.join("packages.tar.xz")) else {
        return;
    };
    let mut agreement = Agreement::default();
    for (old, new) in eval::pairs(&fixtures) {
        let (old_root, new_root): (PathBuf, PathBuf) =
            (dir.path().join(&old), dir.path().join(&new));
        let mut paths = eval::files_under(&old_root);
        paths.extend(eval::files_under(&new_root));
        let exists = |p: &str| old_root.join(p).is_file() || new_root.join(p).is_file();
        let modules = python::modules_of(&paths, &exists);
        let read = |root: PathBuf| move |p: &str| std::fs::read_to_string(root.join(p)).ok();
        let base = python::surface(&modules, &read(old_root.clone()));
        let head = python::surface(&modules, &read(new_root.clone()));
        let (breaks, _) = compare(&base, &head);
        agreement.pair(&fixtures, (&old, &new), &breaks, related);
    }
    agreement.check();
}
