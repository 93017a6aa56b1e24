//! The design's walls, as the compiler keeps them: which of bosun's crates each crate may
//! depend on. A console that reached for the store, or a model that named the core, would
//! build — until this test says which wall it crossed.

use std::collections::BTreeSet;
use std::path::Path;

/// The bosun crates `manifest` depends on (normal and build dependencies; tests may use more).
fn bosun_dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).expect("a readable Cargo.toml");
    let doc: toml::Table = text.parse().expect("a valid Cargo.toml");
    ["dependencies", "build-dependencies"]
        .iter()
        .filter_map(|section| doc.get(*section).and_then(|d| d.as_table()))
        .flat_map(|deps| deps.keys())
        .filter(|name| name.starts_with("bosun"))
        .cloned()
        .collect()
}

#[test]
fn each_crate_depends_only_on_the_crates_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let crates = root.join("crates");
    let allowed: [(&str, &[&str]); 4] = [
        ("bosun-model", &[]),
        ("bosun-api", &["bosun-model"]),
        ("bosun-console", &["bosun-api", "bosun-model"]),
        ("bosun-core", &["bosun-api", "bosun-model"]),
    ];
    let mut members: Vec<String> = std::fs::read_dir(&crates)
        .expect("the crates folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    members.sort();
    assert_eq!(
        members,
        ["bosun-api", "bosun-console", "bosun-core", "bosun-model"],
        "a new crate needs its place in the walls"
    );
    for (name, may) in allowed {
        let found = bosun_dependencies(&crates.join(name).join("Cargo.toml"));
        let may: BTreeSet<String> = may.iter().map(|s| s.to_string()).collect();
        assert_eq!(found, may, "{name} depends on bosun crates it must not");
    }
    // The binary sits on top of everything.
    let top = bosun_dependencies(&root.join("Cargo.toml"));
    assert!(
        top.contains("bosun-core") && top.contains("bosun-console"),
        "{top:?}"
    );
}
