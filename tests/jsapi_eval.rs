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

use bosun::semantic::api::{compare, ecmascript};

mod common;
use common::eval;

#[test]
fn script_api_breaks_agree_with_the_typescript_compiler_on_real_packages() {
    eval::evaluate("jsapi", "packages.tar.xz", eval::related("."), |pair| {
        let package = ecmascript::Package { dir: String::new() };
        let base = ecmascript::surface(&package, &eval::reader(&pair.old_root));
        let head = ecmascript::surface(&package, &eval::reader(&pair.new_root));
        compare(&base, &head).0
    });
}
