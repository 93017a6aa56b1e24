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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bosun::semantic::api::{compare, python};

fn related(reported: &str, expected: &str) -> bool {
    reported == expected || expected.starts_with(&format!("{reported}."))
}

fn files_under(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.insert(rel.to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[test]
fn python_api_breaks_agree_with_the_import_oracle_on_real_packages() {
    let xz = std::process::Command::new("xz")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !xz && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("skipped: xz is not installed (the packages are a .tar.xz)");
        return;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pyapi");
    let dir = tempfile::tempdir().expect("temp dir");
    let untar = std::process::Command::new("tar")
        .arg("-xJf")
        .arg(fixtures.join("packages.tar.xz"))
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("tar runs (with xz)");
    assert!(untar.success(), "the packages unpack");
    let pairs = std::fs::read_to_string(fixtures.join("pairs.txt")).expect("pairs");
    let (mut right, mut reported, mut found, mut expected_total) = (0, 0, 0, 0);
    let mut table = String::new();
    for line in pairs.lines().filter(|l| !l.trim().is_empty()) {
        let (old, new) = line.split_once(' ').expect("OLD NEW");
        let (old_root, new_root): (PathBuf, PathBuf) = (dir.path().join(old), dir.path().join(new));
        let mut paths = files_under(&old_root);
        paths.extend(files_under(&new_root));
        let exists = |p: &str| old_root.join(p).is_file() || new_root.join(p).is_file();
        let modules = python::modules_of(&paths, &exists);
        let read = |root: PathBuf| move |p: &str| std::fs::read_to_string(root.join(p)).ok();
        let base = python::surface(&modules, &read(old_root.clone()));
        let head = python::surface(&modules, &read(new_root.clone()));
        let (breaks, _) = compare(&base, &head);
        let expected_text =
            std::fs::read_to_string(fixtures.join("expected").join(format!("{old}.txt")))
                .unwrap_or_default();
        let expected: Vec<&str> = expected_text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split('\t').next().unwrap_or(l))
            .collect();
        // A break said once for an item public under several paths stands for all of them.
        let paths = |b: &bosun::semantic::api::Break| {
            std::iter::once(b.path.clone())
                .chain(b.also.iter().cloned())
                .collect::<Vec<String>>()
        };
        let wrong: Vec<&str> = breaks
            .iter()
            .filter(|b| {
                !paths(b)
                    .iter()
                    .any(|p| expected.iter().any(|e| related(p, e)))
            })
            .map(|b| b.path.as_str())
            .collect();
        let missed: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|e| {
                !breaks
                    .iter()
                    .any(|b| paths(b).iter().any(|p| related(p, e)))
            })
            .collect();
        reported += breaks.len();
        right += breaks.len() - wrong.len();
        expected_total += expected.len();
        found += expected.len() - missed.len();
        table.push_str(&format!(
            "{old:>24} → {new:<24} paths {:>4}, reported {:>2}, expected {:>2}; wrong {wrong:?}; missed {missed:?}\n",
            base.items.len(),
            breaks.len(),
            expected.len()
        ));
    }
    let precision = right as f64 / reported.max(1) as f64;
    let recall = found as f64 / expected_total.max(1) as f64;
    println!(
        "{table}precision {precision:.2} ({right}/{reported}), recall {recall:.2} ({found}/{expected_total})"
    );
    assert!(
        precision >= 0.9 && recall >= 0.9,
        "precision {precision:.2}, recall {recall:.2}:\n{table}"
    );
}
