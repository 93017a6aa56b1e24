//! Intake against the fixtures in `tests/fixtures/todos`: real task lists of the kind bosun consumes.

use std::path::{Path, PathBuf};

use bosun::config::IntakeConfig;
use bosun::intake::{IntakeError, Misreading, TaskList, TypeRules};
use bosun::model::{Priority, TaskType};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/todos")
}

fn rules() -> TypeRules {
    IntakeConfig::default().type_rules()
}

fn load(name: &str) -> Result<TaskList, IntakeError> {
    TaskList::load(&fixtures(), &[PathBuf::from(name)], &rules())
}

#[test]
fn every_fixture_parses_or_is_reported_as_double_encoded() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures()).expect("tests/fixtures/todos is present") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        match load(&name) {
            Ok(list) => assert!(!list.tasks.is_empty(), "{name} has tasks"),
            Err(IntakeError::DoubleEncoded { .. }) => assert_eq!(name, "seed-mojibake.md"),
            Err(e) => panic!("{name}: {e}"),
        }
        seen += 1;
    }
    assert!(seen >= 3);
}

#[test]
fn seed_ru_yields_its_eighteen_open_tasks() {
    let list = load("seed-ru.md").unwrap();
    let open: Vec<_> = list.tasks.iter().filter(|t| !t.done).collect();
    assert_eq!(open.len(), 18);
    let count = |p| open.iter().filter(|t| t.priority == p).count();
    assert_eq!(
        [
            Priority::Critical,
            Priority::High,
            Priority::Medium,
            Priority::Low
        ]
        .map(count),
        [4, 4, 4, 6]
    );
    let by_title = |prefix: &str| {
        open.iter()
            .find(|t| t.title.starts_with(prefix))
            .unwrap_or_else(|| panic!("no task titled {prefix}…"))
    };
    let t = by_title("Декомпозиция монолитного server.py");
    assert_eq!(t.task_type, TaskType::Refactor);
    assert_eq!(t.title, "Декомпозиция монолитного server.py (4500+ строк)");
    assert_eq!(t.description, "см. docs/planning/task_1_20260122_224954.md");
    assert_eq!(
        *t.section,
        [
            "Текущие задачи проекта",
            "🔥 Критический приоритет",
            "Архитектурная трансформация ядра"
        ]
    );
    assert_eq!(t.subtasks.len(), 6);
    assert_eq!(
        t.subtasks[0].text,
        "Создать `src/core/` с разделением ответственности"
    );
    assert_eq!(t.line, 10);
    assert_eq!(
        by_title("Тестовая инфраструктура нового поколения").task_type,
        TaskType::Test
    );
    assert_eq!(
        by_title("CI/CD и DevOps automation").task_type,
        TaskType::Devops
    );
    assert_eq!(
        by_title("Интеллектуальная система документации").task_type,
        TaskType::Docs
    );
    assert_eq!(
        by_title("Интеллектуальная система документации").priority,
        Priority::Low
    );
    assert_eq!(
        by_title("Архитектурная переработка LLM Manager").priority,
        Priority::High
    );

    let refs: Vec<&String> = open.iter().flat_map(|t| &t.refs).collect();
    assert_eq!(refs.len(), 4, "{refs:?}");
    assert!(refs.iter().all(|r| r.starts_with("docs/planning/task_")));
    let mut ids: Vec<_> = list.tasks.iter().map(|t| &t.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), list.tasks.len());
}

#[test]
fn release_checklist_reads_tags_done_items_and_skips_the_fence() {
    let list = load("release-checklist.md").unwrap();
    let titles: Vec<&str> = list.tasks.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Fix panic when the config file is empty",
            "Bump MSRV to 1.85",
            "Document the new `--json` flag",
            "Add integration tests for `export --json`",
            "Refactor the exporter into one module per format",
            "Cut the 3.2.0 release",
            "Move CI from the old runner images to the new ones",
            "colour the diff summary",
        ]
    );
    let t = &list.tasks;
    assert!(t[1].done && !t[0].done);
    assert_eq!(
        t[0].subtasks.iter().map(|s| s.done).collect::<Vec<_>>(),
        [true, false]
    );
    assert_eq!(t[0].priority, Priority::Critical);
    assert_eq!(
        (t[2].task_type, &*t[2].type_rule),
        (TaskType::Docs, "tag [type:docs]")
    );
    assert_eq!(t[2].priority, Priority::High);
    assert_eq!(t[3].task_type, TaskType::Test);
    assert_eq!(t[4].task_type, TaskType::Refactor);
    assert_eq!(t[5].task_type, TaskType::Release);
    assert_eq!(t[5].priority, Priority::Medium);
    assert_eq!(t[6].task_type, TaskType::Devops);
    assert_eq!(t[7].priority, Priority::Low);
}

#[test]
fn mojibake_is_detected_and_repairs_to_the_original_bytes() {
    let err = load("seed-mojibake.md").unwrap_err();
    match &err {
        IntakeError::DoubleEncoded {
            misreading,
            preview,
            ..
        } => {
            assert_eq!(*misreading, Misreading::MacRoman);
            assert!(preview.starts_with("# Текущие задачи проекта"), "{preview}");
        }
        other => panic!("expected double encoding, got {other}"),
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("seed-mojibake.md"),
        dir.path().join("TODO.md"),
    )
    .unwrap();
    let fixed = bosun::intake::repair_encoding(dir.path(), Path::new("TODO.md")).unwrap();
    assert_eq!(fixed, Some(Misreading::MacRoman));
    assert_eq!(
        std::fs::read(dir.path().join("TODO.md")).unwrap(),
        std::fs::read(fixtures().join("seed-ru.md")).unwrap()
    );
    assert_eq!(
        std::fs::read(dir.path().join("TODO.md.bak")).unwrap(),
        std::fs::read(fixtures().join("seed-mojibake.md")).unwrap()
    );
    // A clean file is left alone.
    assert_eq!(
        bosun::intake::repair_encoding(dir.path(), Path::new("TODO.md")).unwrap(),
        None
    );
}
