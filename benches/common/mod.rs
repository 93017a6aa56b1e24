//! Inputs the benches share: git through its command line, and the generated Rust project
//! whose change is the 100,000-line diff (500 files × 200 changed lines).
// Each bench uses only some of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Files in the generated project.
pub const FILES: usize = 500;
/// Changed lines per file between [`write_sources`] with `""` and with `"+ 1"`:
/// 100 functions × one line removed and one added.
pub const CHANGED: usize = 200;

/// Runs git in `dir` with a bench identity; asserts it succeeded; returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=bench", "-c", "user.email=bench@localhost"])
        .args(args)
        .env_remove("GIT_DIR")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// One Rust source file: `functions` small public functions in an impl and free functions,
/// each body ending in `variant`.
pub fn source(i: usize, functions: usize, variant: &str) -> String {
    let mut s =
        format!("//! Module {i}.\n\npub struct S{i} {{\n    value: u32,\n}}\n\nimpl S{i} {{\n");
    for f in 0..functions / 2 {
        s.push_str(&format!(
            "    pub fn get_{f}(&self, x: u32) -> u32 {{\n        self.value + x * {f} {variant}\n    }}\n\n"
        ));
    }
    s.push_str("}\n\n");
    for f in 0..functions / 2 {
        s.push_str(&format!(
            "fn helper_{f}(a: u32) -> u32 {{\n    let b = a + {f};\n    b * 2 {variant}\n}}\n\n"
        ));
    }
    s
}

/// Writes the project's [`FILES`] files under `root/src/m*/` with bodies ending in `variant`
/// (`""` for the base, `"+ 1"` for the head).
pub fn write_sources(root: &Path, variant: &str) {
    for i in 0..FILES {
        let sub = root.join(format!("src/m{}", i % 25));
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::write(sub.join(format!("f{i}.rs")), source(i, 100, variant)).expect("write");
    }
}
