//! `large_change` and `outside_scope` (notice): rules over the whole change. Their exact
//! decisions are documented on [`change_rules`](super::change_rules).

use super::{paths, words};
use crate::diff::{Diff, FileDiff};
use crate::model::{Annotation, AnnotationKind, Severity, Task, TaskType};

/// Path and task words too common to say what a change is about.
const GENERIC: &[&str] = &[
    "src", "lib", "mod", "main", "index", "init", "test", "tests", "spec", "specs", "app", "apps",
    "pkg", "cmd", "internal", "crates", "crate", "packages", "package", "util", "utils", "common",
    "shared", "the", "and", "for", "with",
];

/// The rule (documented on `change_rules`).
pub(crate) fn large_change(diff: &Diff, limit: usize) -> Vec<Annotation> {
    if limit == 0 {
        return Vec::new();
    }
    let mut counted: Vec<(&str, usize)> = Vec::new();
    let (mut added, mut removed, mut lockfiles) = (0, 0, false);
    for f in &diff.files {
        if paths::is_lockfile(f.path()) {
            lockfiles = true;
            continue;
        }
        let (a, r) = (f.insertions(), f.deletions());
        added += a;
        removed += r;
        counted.push((f.path(), a + r));
    }
    let total = added + removed;
    if total <= limit {
        return Vec::new();
    }
    counted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let largest: Vec<String> = counted
        .iter()
        .take(3)
        .filter(|(_, n)| *n > 0)
        .map(|(p, n)| format!("{p} ({n})"))
        .collect();
    let files = counted.iter().filter(|(_, n)| *n > 0).count();
    let plural = if files == 1 { "file" } else { "files" };
    let mut message = format!(
        "{total} lines changed (+{added} −{removed}) in {files} {plural}, over the {limit}-line limit; largest: {}",
        largest.join(", ")
    );
    if lockfiles {
        message.push_str(" (lockfiles not counted)");
    }
    vec![Annotation {
        kind: AnnotationKind::LargeChange,
        severity: Severity::Notice,
        path: String::new(),
        line: None,
        end_line: None,
        old_side: false,
        symbol: None,
        message,
    }]
}

/// The words of a text that can name a path: split like identifiers, 3+ characters, not
/// digits only, not generic, not a stop word.
fn text_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = words(text)
        .into_iter()
        .filter(|w| w.chars().count() >= 3 && w.chars().any(char::is_alphabetic))
        .filter(|w| !GENERIC.contains(&w.as_str()))
        .filter(|w| !crate::memory::keywords(w).is_empty())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The words of a path: every directory and the file name without its extension.
fn path_words(path: &str) -> Vec<String> {
    let name = paths::file_name(path);
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    };
    let dir = paths::dir(path);
    text_words(&format!("{dir}/{stem}"))
}

/// The same word, or one word with a different ending: a common prefix of 4+ characters that
/// leaves at most 3 characters of the shorter word.
fn similar(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let shorter = a.chars().count().min(b.chars().count());
    common >= 4 && common + 3 >= shorter
}

fn is_docs(path: &str) -> bool {
    let name = paths::file_name(path).to_ascii_lowercase();
    let first = path.split('/').next().unwrap_or("");
    name.ends_with(".md")
        || name.ends_with(".rst")
        || name.ends_with(".adoc")
        || name.starts_with("readme")
        || (path.contains('/') && matches!(first, "docs" | "doc"))
}

fn is_changelog(path: &str) -> bool {
    let name = paths::file_name(path).to_ascii_lowercase();
    ["changelog", "changes", "history", "news"]
        .iter()
        .any(|p| name.starts_with(p))
}

fn is_devops(path: &str) -> bool {
    let name = paths::file_name(path).to_ascii_lowercase();
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    paths::is_ci(path)
        || paths::manifest(path).is_some()
        || paths::is_lockfile(path)
        || name.starts_with("dockerfile")
        || name.starts_with("docker-compose")
        || name.starts_with("compose.")
        || matches!(name.as_str(), "makefile" | "justfile" | ".dockerignore")
        || matches!(ext, "yml" | "yaml" | "toml" | "sh" | "nix" | "tf" | "hcl")
        || path.starts_with(".github/")
        || path.starts_with("scripts/")
        || path.starts_with("deploy/")
}

fn claimed_by_type(task_type: TaskType, path: &str) -> bool {
    match task_type {
        TaskType::Docs => is_docs(path),
        TaskType::Test => paths::is_test_file(path),
        TaskType::Devops => is_devops(path),
        TaskType::Release => {
            paths::manifest(path).is_some()
                || paths::is_lockfile(path)
                || is_docs(path)
                || paths::file_name(path).eq_ignore_ascii_case("VERSION")
        }
        TaskType::Code | TaskType::Refactor => false,
    }
}

/// Module glue for a directory: the file that declares or re-exports what is in it.
fn glue_dir(path: &str) -> Option<String> {
    let name = paths::file_name(path);
    let dir = paths::dir(path);
    let stem = name.split('.').next().unwrap_or(name);
    match name {
        "mod.rs" | "lib.rs" | "main.rs" | "__init__.py" => Some(dir.to_string()),
        _ if stem == "index" && paths::is_test_file(path) => None,
        _ if stem == "index" => Some(dir.to_string()),
        _ if paths::manifest(path).is_some() => Some(dir.to_string()),
        // `src/semantic.rs` declares the module whose files live in `src/semantic/`.
        _ if name.ends_with(".rs") => Some(path.trim_end_matches(".rs").to_string()),
        _ => None,
    }
}

/// `path` lies in `dir` or below it (everything lies under the root, `""`).
fn under(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn normalise(path: &str) -> &str {
    path.trim_start_matches("./").trim_end_matches('/')
}

/// The rule (documented on `change_rules`).
pub(crate) fn outside_scope(diff: &Diff, task: &Task) -> Vec<Annotation> {
    let mut text = format!("{}\n{}\n{}\n", task.title, task.description, task.body);
    for sub in &task.subtasks {
        text.push_str(&sub.text);
        text.push('\n');
    }
    for r in &task.refs {
        text.push_str(r);
        text.push('\n');
    }
    let task_words = text_words(&text);
    let refs: Vec<&str> = task.refs.iter().map(|r| normalise(r)).collect();
    let task_file = task.file.to_string_lossy();
    let task_file = normalise(&task_file);

    let files: Vec<(&FileDiff, Vec<&str>)> = diff
        .files
        .iter()
        .map(|f| {
            let mut both: Vec<&str> = [f.new_path.as_deref(), f.old_path.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            both.dedup();
            (f, both)
        })
        .collect();
    let direct: Vec<bool> = files
        .iter()
        .map(|(_, names)| {
            names.iter().any(|p| {
                let p = normalise(p);
                p == task_file
                    || refs
                        .iter()
                        .any(|r| !r.is_empty() && (p == *r || under(p, r)))
                    || path_words(p)
                        .iter()
                        .any(|w| task_words.iter().any(|t| similar(w, t)))
            })
        })
        .collect();
    if !direct.contains(&true) {
        return Vec::new();
    }
    let in_scope_paths: Vec<&str> = files
        .iter()
        .zip(&direct)
        .filter(|(_, d)| **d)
        .flat_map(|((_, names), _)| names.iter().copied())
        .collect();
    let manifest_dirs: Vec<&str> = files
        .iter()
        .flat_map(|(_, names)| names.iter().copied())
        .filter(|p| paths::manifest(p).is_some())
        .map(paths::dir)
        .collect();
    let sources: Vec<&str> = files
        .iter()
        .flat_map(|(_, names)| names.iter().copied())
        .filter(|p| !paths::is_test_file(p))
        .collect();

    let mut out = Vec::new();
    for ((file, names), direct) in files.iter().zip(&direct) {
        if *direct {
            continue;
        }
        let derived = names.iter().any(|&p| {
            let test_of_touched = paths::is_test_file(p)
                && sources.iter().any(|s| {
                    paths::dir(s) == paths::dir(p) || {
                        let stem = path_words(paths::file_name(s));
                        path_words(p)
                            .iter()
                            .any(|w| stem.iter().any(|s| similar(w, s)))
                    }
                });
            let glue = glue_dir(p).is_some_and(|dir| {
                in_scope_paths
                    .iter()
                    .any(|q| *q != p && (paths::dir(q) == dir || under(paths::dir(q), &dir)))
            });
            let lockfile = paths::is_lockfile(p) && manifest_dirs.contains(&paths::dir(p));
            test_of_touched
                || glue
                || lockfile
                || is_changelog(p)
                || claimed_by_type(task.task_type, p)
        });
        if derived {
            continue;
        }
        out.push(Annotation {
            kind: AnnotationKind::OutsideScope,
            severity: Severity::Notice,
            path: file.path().to_string(),
            line: None,
            end_line: None,
            old_side: false,
            symbol: None,
            message: "outside the task? no word of this path matches the task's text or references, and it is not a test, glue or lockfile of a file that does".to_string(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::from_texts;
    use crate::model::{Priority, Subtask, TaskId};

    fn task(title: &str, body: &str, task_type: TaskType, refs: &[&str]) -> Task {
        Task {
            id: TaskId("t-rules1".into()),
            title: title.into(),
            description: String::new(),
            body: body.into(),
            priority: Priority::Medium,
            priority_rule: "default".into(),
            task_type,
            type_rule: "default".into(),
            done: false,
            section: Vec::<String>::new().into(),
            file: "TODO.md".into(),
            line: 1,
            subtasks: vec![Subtask {
                text: "cover edge cases".into(),
                done: false,
            }],
            refs: refs.iter().map(|r| r.to_string()).collect(),
            depends_on: Vec::new(),
        }
    }

    fn diff(files: &[(&str, usize)]) -> Diff {
        Diff {
            files: files
                .iter()
                .map(|(path, lines)| {
                    let text: String = (0..*lines).map(|i| format!("line {i}\n")).collect();
                    from_texts(None, None, Some(path), Some(text.as_bytes())).unwrap()
                })
                .collect(),
        }
    }

    fn flagged(d: &Diff, t: &Task) -> Vec<String> {
        outside_scope(d, t).into_iter().map(|a| a.path).collect()
    }

    #[test]
    fn large_change_counts_lines_but_not_lockfiles() {
        let d = diff(&[("src/a.rs", 30), ("src/b.rs", 15), ("Cargo.lock", 500)]);
        assert_eq!(large_change(&d, 45), []);
        assert_eq!(large_change(&d, 0), []);
        let got = large_change(&d, 40);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (
                got[0].kind,
                got[0].severity,
                got[0].path.as_str(),
                got[0].line
            ),
            (AnnotationKind::LargeChange, Severity::Notice, "", None)
        );
        assert_eq!(
            got[0].message,
            "45 lines changed (+45 −0) in 2 files, over the 40-line limit; largest: src/a.rs (30), src/b.rs (15) (lockfiles not counted)"
        );
    }

    #[test]
    fn files_unrelated_to_the_task_are_flagged() {
        let d = diff(&[
            ("src/intake/parser.rs", 1),
            ("src/intake/mod.rs", 1),
            ("src/lib.rs", 1),
            ("tests/parser_props.rs", 1),
            ("src/intake/tests.rs", 1),
            ("Cargo.toml", 1),
            ("Cargo.lock", 1),
            ("CHANGELOG.md", 1),
            ("TODO.md", 1),
            ("src/tui/theme.rs", 1),
            ("README.md", 1),
            ("docs/planning/task_1.md", 1),
        ]);
        let t = task(
            "Parsing of nested task lists",
            "See the planning note.",
            TaskType::Code,
            &["docs/planning/task_1.md"],
        );
        assert_eq!(flagged(&d, &t), ["src/tui/theme.rs", "README.md"]);
        let docs = Task {
            task_type: TaskType::Docs,
            ..t.clone()
        };
        assert_eq!(flagged(&d, &docs), ["src/tui/theme.rs"]);
    }

    #[test]
    fn nothing_is_flagged_when_the_task_names_no_changed_path() {
        let d = diff(&[("src/tui/theme.rs", 1), ("src/tui/app.rs", 1)]);
        let t = task("Сделать интерфейс быстрее", "", TaskType::Code, &[]);
        assert_eq!(flagged(&d, &t), Vec::<String>::new());
        let t = task("Speed up startup", "", TaskType::Code, &[]);
        assert_eq!(flagged(&d, &t), Vec::<String>::new());
    }

    #[test]
    fn words_match_by_stem_and_camel_case() {
        assert!(similar("parser", "parsing") && similar("config", "configuration"));
        assert!(!similar("parse", "park") && !similar("rule", "rust"));
        assert_eq!(
            path_words("src/semanticRules/RiskCard.tsx"),
            ["card", "risk", "rules", "semantic"]
        );
    }
}
