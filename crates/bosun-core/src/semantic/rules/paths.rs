//! What a path is, by name alone: CI configuration, a dependency manifest or lockfile, a test
//! file, a configuration file where secrets are written without quotes.

use std::sync::LazyLock;

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Where CI systems read their configuration (`ci_changed`). Matched against the whole
/// repository-relative path; `**/` patterns match at any depth.
pub(crate) const CI_GLOBS: &[&str] = &[
    ".github/workflows/**",
    ".github/actions/**",
    ".gitlab-ci.yml",
    ".gitlab-ci.yaml",
    ".gitlab/ci/**",
    ".ci/**",
    ".circleci/**",
    "**/Jenkinsfile",
    "azure-pipelines.yml",
    "azure-pipelines.yaml",
    ".azure-pipelines/**",
    ".buildkite/**",
    ".travis.yml",
    "bitbucket-pipelines.yml",
    ".drone.yml",
    ".woodpecker.yml",
    ".woodpecker/**",
];

static CI: LazyLock<GlobSet> = LazyLock::new(|| {
    let mut set = GlobSetBuilder::new();
    for pattern in CI_GLOBS {
        // The patterns are constants above; a bad one is a bug caught by the tests.
        set.add(Glob::new(pattern).expect("CI_GLOBS are valid globs"));
    }
    set.build().expect("CI_GLOBS build into a glob set")
});

/// The path is CI configuration.
pub(crate) fn is_ci(path: &str) -> bool {
    CI.is_match(path)
}

/// The file name: the last path component.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The directory part of `path` (`""` at the root).
pub(crate) fn dir(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

/// Lockfiles: generated from a manifest, never reviewed line by line.
pub(crate) fn is_lockfile(path: &str) -> bool {
    matches!(
        file_name(path),
        "Cargo.lock"
            | "package-lock.json"
            | "npm-shrinkwrap.json"
            | "yarn.lock"
            | "pnpm-lock.yaml"
            | "bun.lockb"
            | "bun.lock"
            | "poetry.lock"
            | "uv.lock"
            | "Pipfile.lock"
            | "pdm.lock"
            | "go.sum"
            | "Gemfile.lock"
            | "composer.lock"
    )
}

/// A dependency manifest format `dependency_changed` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Manifest {
    /// `Cargo.toml`.
    Cargo,
    /// `package.json`.
    Npm,
    /// `requirements*.txt`, or any `.txt` under a `requirements/` directory.
    Requirements,
    /// `pyproject.toml`.
    PyProject,
    /// `go.mod`.
    GoMod,
}

/// The manifest format of `path`, if it is one.
pub(crate) fn manifest(path: &str) -> Option<Manifest> {
    let name = file_name(path);
    match name {
        "Cargo.toml" => Some(Manifest::Cargo),
        "package.json" => Some(Manifest::Npm),
        "pyproject.toml" => Some(Manifest::PyProject),
        "go.mod" => Some(Manifest::GoMod),
        _ if name.ends_with(".txt")
            && (name.starts_with("requirements") || file_name(dir(path)) == "requirements") =>
        {
            Some(Manifest::Requirements)
        }
        _ => None,
    }
}

/// Source extensions a test can be written in.
fn is_code(name: &str) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    matches!(
        ext,
        "rs" | "py"
            | "js"
            | "jsx"
            | "mjs"
            | "cjs"
            | "ts"
            | "tsx"
            | "mts"
            | "cts"
            | "go"
            | "java"
            | "kt"
            | "rb"
            | "c"
            | "cc"
            | "cpp"
            | "cs"
            | "swift"
    )
}

/// A file that holds tests, by its path: source code under a `tests/`, `test/`, `__tests__/`
/// or `spec/` directory, or named `test_*.py`, `*_test.*`, `*_tests.*`, `*.test.*`,
/// `*.spec.*`, `*Test.java`-style, `tests.rs`, `conftest.py`.
pub(crate) fn is_test_file(path: &str) -> bool {
    let name = file_name(path);
    if !is_code(name) {
        return false;
    }
    let in_test_dir = path
        .split('/')
        .rev()
        .skip(1)
        .any(|d| matches!(d, "tests" | "test" | "__tests__" | "spec" | "testing"));
    let stem = name.split('.').next().unwrap_or(name);
    in_test_dir
        || stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem.ends_with("_tests")
        || stem == "tests"
        || stem == "conftest"
        || name.contains(".test.")
        || name.contains(".spec.")
        || ((stem.ends_with("Test") || stem.ends_with("Tests")) && stem.len() > 5)
}

/// Files where a secret is often written without quotes (`KEY=value`, `key: value`):
/// `.env*`, shell, YAML, ini/cfg/conf/properties, TOML.
pub(crate) fn unquoted_values(path: &str) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    name.starts_with(".env")
        || matches!(
            ext,
            "env"
                | "sh"
                | "bash"
                | "zsh"
                | "yaml"
                | "yml"
                | "ini"
                | "cfg"
                | "conf"
                | "properties"
                | "toml"
        )
}

/// A Markdown task list (`TODO.md`, `todo.txt`): its TODOs are the point, not a smell.
pub(crate) fn is_task_list(path: &str) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    name.starts_with("todo") && (name.ends_with(".md") || name.ends_with(".txt"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_paths() {
        for path in [
            ".github/workflows/ci.yml",
            ".github/workflows/nested/x.yaml",
            ".gitlab-ci.yml",
            ".ci/build.sh",
            ".circleci/config.yml",
            "Jenkinsfile",
            "deploy/Jenkinsfile",
            "azure-pipelines.yml",
            ".buildkite/pipeline.yml",
        ] {
            assert!(is_ci(path), "{path}");
        }
        for path in [
            "src/ci.rs",
            "docs/.github/workflows.md",
            "x/.gitlab-ci.yml",
            "github/workflows/ci.yml",
        ] {
            assert!(!is_ci(path), "{path}");
        }
    }

    #[test]
    fn manifests_and_lockfiles() {
        assert_eq!(manifest("Cargo.toml"), Some(Manifest::Cargo));
        assert_eq!(manifest("crates/x/Cargo.toml"), Some(Manifest::Cargo));
        assert_eq!(
            manifest("requirements-dev.txt"),
            Some(Manifest::Requirements)
        );
        assert_eq!(
            manifest("requirements/base.txt"),
            Some(Manifest::Requirements)
        );
        assert_eq!(manifest("web/package.json"), Some(Manifest::Npm));
        assert_eq!(manifest("notes.txt"), None);
        assert_eq!(manifest("Cargo.lock"), None);
        assert!(is_lockfile("Cargo.lock") && is_lockfile("web/yarn.lock"));
        assert!(!is_lockfile("Cargo.toml"));
    }

    #[test]
    fn test_files() {
        for path in [
            "tests/cli.rs",
            "src/parser/tests.rs",
            "pkg/a_test.go",
            "test_app.py",
            "app/tests/views.py",
            "web/button.test.tsx",
            "web/button.spec.js",
            "src/__tests__/a.js",
            "src/main/java/FooTest.java",
            "conftest.py",
        ] {
            assert!(is_test_file(path), "{path}");
        }
        for path in [
            "src/lib.rs",
            "tests/samples/out.txt",
            "src/testing_utils.md",
            "contest.py",
            "src/Test.java",
        ] {
            assert!(!is_test_file(path), "{path}");
        }
    }
}
