//! Property tests for intake: no input panics the parser, ticking changes exactly one byte,
//! and ids survive unrelated edits.

use std::path::{Path, PathBuf};

use bosun::config::IntakeConfig;
use bosun::intake::{IntakeError, TaskList, TypeRules, tick};
use proptest::prelude::*;

fn rules() -> TypeRules {
    IntakeConfig::default().type_rules()
}

#[derive(Debug, Clone)]
enum Block {
    Heading(usize, String),
    Task {
        done: bool,
        bold: bool,
        title: String,
        description: Option<String>,
        subtasks: Vec<(bool, String)>,
        trailing_space: bool,
    },
    Paragraph(String),
}

fn text() -> impl Strategy<Value = String> {
    "[A-Za-zА-Яа-я][A-Za-zА-Яа-я0-9 ]{0,24}".prop_map(|s| s.trim_end().to_string())
}

fn block() -> impl Strategy<Value = Block> {
    prop_oneof![
        (1usize..4, text()).prop_map(|(l, t)| Block::Heading(l, t)),
        (
            any::<bool>(),
            any::<bool>(),
            text(),
            proptest::option::of(text()),
            proptest::collection::vec((any::<bool>(), text()), 0..3),
            any::<bool>()
        )
            .prop_map(
                |(done, bold, title, description, subtasks, trailing_space)| Block::Task {
                    done,
                    bold,
                    title,
                    description,
                    subtasks,
                    trailing_space,
                }
            ),
        text().prop_map(Block::Paragraph),
    ]
}

/// Renders blocks as a task list with the given line ending, optionally with a BOM.
fn render(blocks: &[Block], crlf: bool, bom: bool) -> Vec<u8> {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut s = String::new();
    for b in blocks {
        match b {
            Block::Heading(level, t) => {
                s.push_str(&format!("{nl}{} {t}{nl}{nl}", "#".repeat(*level)))
            }
            Block::Paragraph(t) => s.push_str(&format!("{nl}{t}{nl}{nl}")),
            Block::Task {
                done,
                bold,
                title,
                description,
                subtasks,
                trailing_space,
            } => {
                let mark = if *done { "x" } else { " " };
                let title = if *bold {
                    format!("**{title}**")
                } else {
                    title.clone()
                };
                let desc = description
                    .as_ref()
                    .map(|d| format!(" — {d}"))
                    .unwrap_or_default();
                let space = if *trailing_space { "  " } else { "" };
                s.push_str(&format!("- [{mark}] {title}{desc}{space}{nl}"));
                for (d, t) in subtasks {
                    let m = if *d { "x" } else { " " };
                    s.push_str(&format!("  - [{m}] {t}{nl}"));
                }
            }
        }
    }
    let mut bytes = if bom {
        b"\xEF\xBB\xBF".to_vec()
    } else {
        Vec::new()
    };
    bytes.extend_from_slice(s.as_bytes());
    bytes
}

fn load(dir: &Path) -> TaskList {
    TaskList::load(dir, &[PathBuf::from("TODO.md")], &rules()).expect("generated list parses")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in "(\\PC|\n|\r| |-|\\*|\\+|1\\.|\\[|\\]|x|#|>|`|~|<|\\||:)*") {
        let list = TaskList::parse_str(&s, Path::new("TODO.md"), &rules());
        for t in &list.tasks {
            prop_assert!(t.line >= 1);
            prop_assert!(t.id.0.starts_with("t-"));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("TODO.md"), &bytes).unwrap();
        match TaskList::load(dir.path(), &[PathBuf::from("TODO.md")], &rules()) {
            Ok(_) | Err(IntakeError::NotUtf8 { .. }) | Err(IntakeError::DoubleEncoded { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    #[test]
    fn tick_changes_exactly_the_marker_byte(
        blocks in proptest::collection::vec(block(), 1..12),
        crlf in any::<bool>(),
        bom in any::<bool>(),
        pick in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let before = render(&blocks, crlf, bom);
        std::fs::write(dir.path().join("TODO.md"), &before).unwrap();
        let list = load(dir.path());
        let open: Vec<_> = list.tasks.iter().filter(|t| !t.done).collect();
        prop_assume!(!open.is_empty());
        let target = open[pick.index(open.len())].clone();

        tick(dir.path(), &[PathBuf::from("TODO.md")], &rules(), &target.id.0).unwrap();

        let after = std::fs::read(dir.path().join("TODO.md")).unwrap();
        prop_assert_eq!(after.len(), before.len());
        let changed: Vec<usize> = (0..after.len()).filter(|&i| after[i] != before[i]).collect();
        prop_assert_eq!(changed.len(), 1);
        prop_assert_eq!((before[changed[0]], after[changed[0]]), (b' ', b'x'));

        let again = load(dir.path());
        prop_assert_eq!(again.tasks.len(), list.tasks.len());
        for (old, new) in list.tasks.iter().zip(&again.tasks) {
            prop_assert_eq!(&old.id, &new.id);
            prop_assert_eq!(new.done, old.done || old.id == target.id);
        }
    }

    #[test]
    fn ids_survive_unrelated_insertions(
        blocks in proptest::collection::vec(block(), 1..12),
        at in any::<prop::sample::Index>(),
        inserted in prop_oneof![
            Just("Some unrelated note.".to_string()),
            Just("".to_string()),
            Just("- [ ] Inserted unrelated task zq".to_string()),
        ],
    ) {
        let text = String::from_utf8(render(&blocks, false, false)).unwrap();
        let list = TaskList::parse_str(&text, Path::new("TODO.md"), &rules());
        let mut lines: Vec<&str> = text.split('\n').collect();
        lines.insert(at.index(lines.len() + 1), &inserted);
        let edited = lines.join("\n");
        let again = TaskList::parse_str(&edited, Path::new("TODO.md"), &rules());
        for t in &list.tasks {
            let same = again.tasks.iter().find(|n| n.id == t.id);
            prop_assert!(same.is_some_and(|n| n.title == t.title), "task {} ({}) lost its id", t.id, t.title);
        }
    }
}

#[test]
fn tick_follows_edits_made_after_parsing_and_reports_a_vanished_task() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("TODO.md");
    std::fs::write(&file, "# Plan\r\n- [ ] first  \r\n- [ ] second\r\n").unwrap();
    let list = load(dir.path());
    let second = list.tasks[1].id.clone();
    // The operator edits the file after bosun read it.
    std::fs::write(
        &file,
        "# Plan\r\nIntro line.\r\n\r\n- [ ] first  \r\n- [ ] second\r\n",
    )
    .unwrap();
    tick(dir.path(), &[PathBuf::from("TODO.md")], &rules(), &second.0).unwrap();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "# Plan\r\nIntro line.\r\n\r\n- [ ] first  \r\n- [x] second\r\n"
    );
    std::fs::write(&file, "# Plan\r\n- [ ] first  \r\n").unwrap();
    let err = tick(dir.path(), &[PathBuf::from("TODO.md")], &rules(), &second.0).unwrap_err();
    assert!(matches!(err, IntakeError::TaskNotFound { .. }), "{err}");
    assert!(err.to_string().contains(&second.0), "{err}");
}

#[test]
fn tick_keeps_file_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("TODO.md");
    std::fs::write(&file, "- [ ] only\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let id = load(dir.path()).tasks[0].id.clone();
    tick(dir.path(), &[PathBuf::from("TODO.md")], &rules(), &id.0).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "- [x] only\n");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640
    );
}
