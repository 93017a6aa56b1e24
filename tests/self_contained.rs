//! The repository carries everything its code, tests and benches read: a fresh clone builds
//! and passes its tests with nothing beside it. This test reads every file of the checkout
//! (except `target/` and `.git/`) and fails on a reference to a folder outside it — the team's
//! reference shelf that once sat beside the checkout, or a path climbing out of the manifest
//! directory — so test data copied in stays copied in. `.ci/run` also builds the tests in a
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

#[test]
fn no_path_climbs_out_of_the_manifest_directory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = ["CARGO_MANIFEST_", "DIR"].concat();
    // `concat!(env!(…), "/../x")` or `.join("../x")` right after the manifest directory.
    let found = offending(root, |line| {
        line.find(&manifest).is_some_and(|at| {
            let rest = &line[at..];
            rest.contains("\"/../") || rest.contains("(\"../") || rest.contains("(\"..\")")
        })
    });
    assert!(found.is_empty(), "{}", found.join("\n"));
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
