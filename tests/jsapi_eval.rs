//! How well the JavaScript/TypeScript package API analysis agrees with the TypeScript
//! compiler, on real packages: 7 version pairs from npm (`tests/fixtures/jsapi/
//! packages.tar.xz`: each tarball's scripts, declarations and `package.json`), compatible
//! updates, majors and declarations moved between files among them. The expected breaks of
//! each pair (`expected/<old>.txt`) come from `oracle.mjs`, which asks the TypeScript
//! compiler what each entry point exports and compares call signatures by position (see the
//! fixture's README for its rules).
//!
//! A break is right when an expected break names the same path or one inside it; an expected
//! break is found when a reported one is right for it. Precision and recall over all pairs
//! must stay at 0.9 or above.

use std::path::{Path, PathBuf};

use bosun::semantic::api::{compare, ecmascript};

mod common;
use common::eval::{self, Agreement};

fn related(reported: &str, expected: &str) -> bool {
    reported == expected || expected.starts_with(&format!("{reported}."))
}

#[test]
fn script_api_breaks_agree_with_the_typescript_compiler_on_real_packages() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jsapi");
    let Some(dir) = eval::unpacked(&fixtures.join("packages.tar.xz")) else {
        return;
    };
    let mut agreement = Agreement::default();
    for (old, new) in eval::pairs(&fixtures) {
        let read = |root: PathBuf| move |p: &str| std::fs::read_to_string(root.join(p)).ok();
        let package = ecmascript::Package { dir: String::new() };
        let base = ecmascript::surface(&package, &read(dir.path().join(&old)));
        let head = ecmascript::surface(&package, &read(dir.path().join(&new)));
        let (breaks, _) = compare(&base, &head);
        agreement.pair(&fixtures, (&old, &new), &breaks, related);
    }
    agreement.check();
}
