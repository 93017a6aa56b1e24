//! Agreement of the API analysis with an oracle on real package version pairs: the
//! fixtures' unpacking, and precision and recall over the pairs.

use std::path::{Path, PathBuf};

use bosun::semantic::api::Break;

/// `archive` (a `.tar.xz` of version trees) unpacked in a temp dir, or None (with a note)
/// where xz is missing outside CI.
pub fn unpacked(archive: &Path) -> Option<tempfile::TempDir> {
    let xz = std::process::Command::new("xz")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !xz && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("skipped: xz is not installed (the fixtures are a .tar.xz)");
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let untar = std::process::Command::new("tar")
        .arg("-xJf")
        .arg(archive)
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("tar runs (with xz)");
    assert!(untar.success(), "{} unpacks", archive.display());
    Some(dir)
}

/// Every file below `root`, as paths relative to it.
pub fn files_under(root: &Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
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

/// The version pairs of `pairs.txt` in `fixtures`: (old, new) directory names.
pub fn pairs(fixtures: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(fixtures.join("pairs.txt"))
        .expect("pairs.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (old, new) = l.split_once(' ').expect("OLD NEW");
            (old.to_string(), new.to_string())
        })
        .collect()
}

/// One version pair of an evaluation set: its two trees, unpacked.
pub struct Pair {
    pub old: String,
    pub new: String,
    pub old_root: PathBuf,
    pub new_root: PathBuf,
    /// The oracle's expected breaks (`expected/<old>.txt`), with its `#` header lines.
    pub expected: String,
}

impl Pair {
    /// Every file of both versions, as paths relative to their tree.
    pub fn paths(&self) -> std::collections::BTreeSet<String> {
        let mut paths = files_under(&self.old_root);
        paths.extend(files_under(&self.new_root));
        paths
    }
}

/// A version's file by relative path (what the analysis reads one side through).
pub fn reader(root: &Path) -> impl Fn(&str) -> Option<String> + use<> {
    let root = root.to_path_buf();
    move |p: &str| std::fs::read_to_string(root.join(p)).ok()
}

/// `reported` names `expected` or an item inside it, in a language whose paths are joined
/// with `sep` (`::` in Rust, `.` elsewhere).
pub fn related(sep: &str) -> impl Fn(&str, &str) -> bool {
    move |reported, expected| {
        reported == expected || expected.starts_with(&format!("{reported}{sep}"))
    }
}

/// Runs the analysis (`breaks`) on every pair of `tests/fixtures/<set>` (`archive` holds the
/// trees) and checks its agreement with the oracle: at least 0.9 precision and recall. None
/// (skipped, with a note) where xz is missing outside CI.
pub fn evaluate(
    set: &str,
    archive: &str,
    related: impl Fn(&str, &str) -> bool,
    mut breaks: impl FnMut(&Pair) -> Vec<Break>,
) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(set);
    let Some(dir) = unpacked(&fixtures.join(archive)) else {
        return;
    };
    let mut agreement = Agreement::default();
    for (old, new) in pairs(&fixtures) {
        let expected = fixtures.join("expected").join(format!("{old}.txt"));
        let pair = Pair {
            old_root: dir.path().join(&old),
            new_root: dir.path().join(&new),
            expected: std::fs::read_to_string(expected).unwrap_or_default(),
            old,
            new,
        };
        let found = breaks(&pair);
        agreement.pair(&pair, &found, &related);
    }
    agreement.check();
}

/// Precision and recall of reported breaks against the expected ones, pair by pair.
#[derive(Default)]
struct Agreement {
    right: usize,
    reported: usize,
    found: usize,
    expected: usize,
    table: String,
}

impl Agreement {
    /// One pair's breaks against its expected ones (a public path first on each line; `#`
    /// lines are comments). A break is right when one of its paths is related to an
    /// expected one (`related(reported, expected)`: the same, or the expected one inside
    /// it); an expected break is found when a reported one is right for it.
    fn pair(&mut self, pair: &Pair, breaks: &[Break], related: &impl Fn(&str, &str) -> bool) {
        let (old, new) = (&pair.old, &pair.new);
        let expected: Vec<&str> = pair
            .expected
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split('\t').next().unwrap_or(l))
            .collect();
        // A break said once for an item public under several paths stands for all of them.
        let matches = |b: &Break, e: &str| {
            std::iter::once(&b.path)
                .chain(&b.also)
                .any(|p| related(p, e))
        };
        let wrong: Vec<&str> = breaks
            .iter()
            .filter(|b| !expected.iter().any(|e| matches(b, e)))
            .map(|b| b.path.as_str())
            .collect();
        let missed: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|e| !breaks.iter().any(|b| matches(b, e)))
            .collect();
        self.reported += breaks.len();
        self.right += breaks.len() - wrong.len();
        self.expected += expected.len();
        self.found += expected.len() - missed.len();
        self.table.push_str(&format!(
            "{old:>24} → {new:<24} reported {:>2}, expected {:>2}; wrong {wrong:?}; missed {missed:?}\n",
            breaks.len(),
            expected.len()
        ));
    }

    /// Prints the table and the totals; fails below 0.9 precision or recall.
    fn check(&self) {
        let precision = self.right as f64 / self.reported.max(1) as f64;
        let recall = self.found as f64 / self.expected.max(1) as f64;
        println!(
            "{}precision {precision:.2} ({}/{}), recall {recall:.2} ({}/{})",
            self.table, self.right, self.reported, self.found, self.expected
        );
        assert!(
            precision >= 0.9 && recall >= 0.9,
            "precision {precision:.2}, recall {recall:.2}:\n{}",
            self.table
        );
    }
}
