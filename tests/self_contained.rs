//! The repository carries everything its code, tests and benches read: a fresh clone builds
//! and passes its tests with nothing beside it. This test reads every file of the checkout
//! (except `target/` and `.git/`) and fails on a reference to a folder outside it — the team's
//! reference shelf that once sat beside the checkout, or a path climbing out of the repository
//! from a package's manifest directory — so test data copied in stays copied in. `.ci/run` also builds the tests in a
//! clone with nothing beside it.

use std::path::{Path, PathBuf};

/// Every file under `dir`, skipping build output and git's own folder.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let entry = entry.expect("directory entry");
        let path = entry.path();
        let name = entry.file_name();
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            if name != "target" && name != ".git" {
                files(&path, out);
            }
        } else if kind.is_file() {
            out.push(path);
        }
    }
}

/// `(file, line number, line)` for each line of the tree that `bad` says refers outside it.
fn offending(root: &Path, bad: impl Fn(&str) -> bool) -> Vec<String> {
    let mut all = Vec::new();
    files(root, &mut all);
    let mut found = Vec::new();
    for path in all {
        let bytes = std::fs::read(&path).expect("readable file");
        let text = String::from_utf8_lossy(&bytes);
        for (i, line) in text.lines().enumerate() {
            if bad(line) {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                found.push(format!("{}:{}: {}", rel.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn nothing_in_the_repository_reads_the_shelf_beside_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Spelled in pieces so this file does not match itself.
    let shelf = ["..", "/shared"].concat();
    let fixtures = ["shared", "/fixtures"].concat();
    let found = offending(root, |line| {
        line.contains(&shelf) || line.contains(&fixtures)
    });
    assert!(
        found.is_empty(),
        "these lines refer to a folder outside the repository; copy what they need into \
         tests/fixtures/ (or assets/ for what the binary embeds) and point them there:\n{}",
        found.join("\n")
    );
}

/// The package directory holding `file`: its nearest ancestor with a `Cargo.toml`.
fn manifest_dir_of(file: &Path) -> &Path {
    file.ancestors()
        .skip(1)
        .find(|d| d.join("Cargo.toml").is_file())
        .expect("every source file is in a package")
}

/// `path` with `.` and `..` resolved without touching the file system.
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn no_path_climbs_out_of_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = ["CARGO_MANIFEST_", "DIR"].concat();
    let mut all = Vec::new();
    files(root, &mut all);
    let mut found = Vec::new();
    let mut climbing = 0;
    for path in all
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
    {
        let text = std::fs::read_to_string(path).expect("a readable source file");
        for (at, _) in text.match_indices(&manifest) {
            // The first string literal after the manifest directory (`concat!(env!(…), "/…")`,
            // `format!("{}/…", env!(…))` reads it before: both spellings are looked at).
            let after = &text[at..(at + 160).min(text.len())];
            let before = &text[at.saturating_sub(80)..at];
            let literal = after
                .split('"')
                .nth(2)
                .filter(|l| l.starts_with('/'))
                .or_else(|| {
                    before
                        .rsplit("\"{}")
                        .next()
                        .filter(|_| before.contains("\"{}"))
                        .and_then(|l| l.split('"').next())
                });
            let Some(literal) = literal.filter(|l| l.starts_with("/..")) else {
                continue;
            };
            climbing += 1;
            let target = normalized(&manifest_dir_of(path).join(literal.trim_start_matches('/')));
            if !target.starts_with(root) {
                let rel = path.strip_prefix(root).unwrap_or(path);
                found.push(format!("{}: {literal}", rel.display()));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    // The member crates read the repository's shared test data this way: the check sees them.
    assert!(
        climbing >= 4,
        "only {climbing} paths climbing out of a package were seen"
    );
}

#[test]
fn the_fixtures_the_tests_read_are_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for needed in [
        "todos/seed-ru.md",
        "todos/seed-mojibake.md",
        "todos/release-checklist.md",
        "agents/README.md",
        "agents/claude/run1_stdout.jsonl",
        "agents/codex/run1_stdout.jsonl",
    ] {
        assert!(
            root.join(needed).is_file(),
            "tests/fixtures/{needed} is missing"
        );
    }
    // Each recorded CLI keeps its provenance: the version it was recorded with and how.
    for cli in ["aider", "claude", "codex", "gemini", "opencode"] {
        for note in ["version.txt", "command.sh", "NOTES.md"] {
            let path = root.join("agents").join(cli).join(note);
            assert!(path.is_file(), "{} is missing", path.display());
        }
    }
}
