use super::*;
use crate::semantic::rules::tests::{rows, sample};

/// (line, old_side, message) of the dependency annotations between two fixture versions.
fn changes(path: &str, old: &str, new: &str) -> Vec<(Option<u32>, bool, String)> {
    rows(
        &[AnnotationKind::DependencyChanged],
        Some((path, &sample(old))),
        Some((path, &sample(new))),
    )
    .into_iter()
    .map(|r| (r.1, r.3, r.5))
    .collect()
}

fn c(line: u32, old_side: bool, message: &str) -> (Option<u32>, bool, String) {
    (Some(line), old_side, message.to_string())
}

#[test]
fn cargo_dependencies_by_section() {
    assert_eq!(
        changes("Cargo.toml", "Cargo.base.toml", "Cargo.head.toml"),
        [
            c(7, false, "serde 1.0.190 → 1.0.228"),
            c(8, false, "regex 1: features changed"),
            c(9, true, "removed left-pad"),
            c(10, false, "added tokio 1.54"),
            c(14, false, "reqwest 0.12: default-features changed"),
            c(20, false, "libc 0.2.150 → 0.2.172 (target cfg(unix))"),
            c(24, false, "added mine path crates/mine (workspace)"),
        ]
    );
}

#[test]
fn npm_dependencies_by_section() {
    assert_eq!(
        changes("web/package.json", "package.base.json", "package.head.json"),
        [
            c(5, false, "react ^18.2.0 → ^18.3.1"),
            c(6, true, "removed left-pad"),
            c(6, false, "added lodash ^4.17.21"),
            c(9, false, "@types/node ^20.0.0 → ^22.0.0 (dev)"),
            c(13, false, "added react-dom >=18 (peer)"),
        ]
    );
}

#[test]
fn requirements_and_pyproject() {
    assert_eq!(
        changes(
            "requirements.txt",
            "requirements.base.txt",
            "requirements.head.txt"
        ),
        [
            c(2, false, "requests ==2.31.0 → ==2.32.3"),
            c(3, false, "django >=4.2,<5: markers changed"),
            c(5, false, "flask: extras changed"),
            c(6, true, "removed numpy"),
            c(6, false, "added httpx >=0.27"),
        ]
    );
    assert_eq!(
        changes(
            "pyproject.toml",
            "pyproject.base.toml",
            "pyproject.head.toml"
        ),
        [
            c(4, false, "httpx >=0.26 → >=0.27"),
            c(5, false, "Rich any → >=13"),
            c(9, false, "added ruff (optional dev)"),
            c(12, false, "python ^3.11 → ^3.12"),
        ]
    );
}

#[test]
fn go_mod_require_and_replace() {
    assert_eq!(
        changes("go.mod", "go.base.mod", "go.head.mod"),
        [
            c(
                7,
                false,
                "golang.org/x/sys v0.15.0 → v0.20.0, indirect changed"
            ),
            c(8, false, "added github.com/new/lib v1.2.0"),
            c(10, true, "removed github.com/old/thing"),
            c(
                11,
                false,
                "added github.com/pkg/errors => ../errors (replace)"
            ),
        ]
    );
}

#[test]
fn reformatting_and_other_keys_are_not_dependency_changes() {
    let old = "[package]\nversion = \"1.0.0\"\n\n[dependencies]\nserde=\"1\"\n";
    let new = "[package]\nversion = \"1.1.0\"\n\n[dependencies]\nserde = \"1\" # pinned later\n";
    assert_eq!(
        rows(
            &[AnnotationKind::DependencyChanged],
            Some(("Cargo.toml", old)),
            Some(("Cargo.toml", new))
        ),
        []
    );
    // Not a manifest: a TOML file with a [dependencies] table is just TOML.
    let new = "[dependencies]\nserde = \"2\"\n";
    assert_eq!(
        rows(
            &[AnnotationKind::DependencyChanged],
            Some(("config.toml", old)),
            Some(("config.toml", new))
        ),
        []
    );
}

#[test]
fn added_and_deleted_manifests_list_every_dependency() {
    let text = "{\"dependencies\": {\"a\": \"1\"},\n\"devDependencies\": {\"b\": \"2\"}}\n";
    let got = rows(
        &[AnnotationKind::DependencyChanged],
        None,
        Some(("package.json", text)),
    );
    let messages: Vec<&str> = got.iter().map(|r| r.5.as_str()).collect();
    assert_eq!(messages, ["added a 1", "added b 2 (dev)"]);
    assert_eq!(got[0].1, Some(1));
    let got = rows(
        &[AnnotationKind::DependencyChanged],
        Some(("package.json", text)),
        None,
    );
    let got: Vec<(Option<u32>, bool, &str)> =
        got.iter().map(|r| (r.1, r.3, r.5.as_str())).collect();
    assert_eq!(
        got,
        [
            (Some(1), true, "removed a"),
            (Some(2), true, "removed b (dev)")
        ]
    );
}

#[test]
fn unreadable_versions_get_one_notice() {
    let old = "[dependencies]\nserde = \"1\"\n";
    let broken = "[dependencies\nserde = \"2\"\n";
    let f = crate::diff::from_texts(
        Some("Cargo.toml"),
        Some(old.as_bytes()),
        Some("Cargo.toml"),
        Some(broken.as_bytes()),
    )
    .unwrap();
    let messages = |base, head| -> Vec<(Option<u32>, String)> {
        crate::semantic::rules::file_rules(&f, base, head)
            .into_iter()
            .map(|a| (a.line, a.message))
            .collect()
    };
    assert_eq!(
        messages(Some(old), Some(broken)),
        [(
            None,
            "dependencies not compared: the new version of Cargo.toml does not parse as TOML"
                .to_string()
        )]
    );
    assert_eq!(
        messages(None, Some(broken)),
        [(
            None,
            "dependencies not compared: the old version of Cargo.toml was not available"
                .to_string()
        )]
    );
}

#[test]
fn names_are_whole_tokens() {
    assert!(names("serde = \"1\"", "serde", false));
    assert!(names("[dependencies.serde]", "serde", false));
    assert!(names("serde.workspace = true", "serde", false));
    assert!(!names("serde_json = \"1\"", "serde", false));
    assert!(!names("\"react-dom\": \"18\"", "react", false));
    assert!(names("\"@types/node\": \"20\"", "@types/node", false));
    assert!(!names("github.com/a/bc v1", "github.com/a/b", false));
    assert!(names("Requests>=2", "requests", true));
    assert_eq!(normalise("Zope.Interface__x"), "zope-interface-x");
}
