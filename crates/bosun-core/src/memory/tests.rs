//! Process memory on a real store in a temporary directory.

use std::sync::Arc;

use super::*;
use crate::model::{Run, RunId, RunStatus, TaskId};
use crate::store::{Store, StoreError};

fn run(title: &str) -> Run {
    Run {
        id: RunId::new(),
        task_id: TaskId("t-abc123".into()),
        task_title: title.into(),
        attempt: 1,
        executor: "fake".into(),
        status: RunStatus::Merged,
        branch: "bosun/x-abcdef".into(),
        target: "main".into(),
        created_ms: 1,
        ..Run::queued(TaskId(String::new()), "", 1, "main")
    }
}

fn learning(run: &Run, task_type: TaskType, executor: &str, obs: Vec<Observation>) -> Learning {
    Learning {
        run_id: run.id.0.clone(),
        task_type,
        task_title: run.task_title.clone(),
        keywords: keywords(&run.task_title),
        executor: executor.into(),
        observations: obs,
    }
}

fn decided(success: bool) -> Observation {
    Observation::Decided(Outcome {
        success,
        score: Some(if success { 1.0 } else { 0.0 }),
        duration_ms: Some(2_000),
        cost_usd: None,
    })
}

fn gate_failed(line: &str) -> Observation {
    Observation::GateFailed {
        gate: "test".into(),
        line: line.into(),
    }
}

#[test]
fn decisions_update_the_posterior_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        for success in [true, true, false] {
            let r = run("Fix the parser");
            store
                .put_run_and_learn(
                    &r,
                    &learning(&r, TaskType::Code, "a", vec![decided(success)]),
                )
                .unwrap();
        }
        let r = run("Write the guide");
        store
            .put_run_and_learn(&r, &learning(&r, TaskType::Docs, "a", vec![decided(false)]))
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let m = store.memory();
    let code = m.strategy(TaskType::Code, "a").unwrap().unwrap();
    assert_eq!((code.successes, code.failures), (2, 1));
    assert_eq!(m.posterior(TaskType::Code, "a").unwrap(), (3.0, 2.0));
    assert_eq!(code.mean_score(), Some(2.0 / 3.0));
    assert_eq!(code.mean_duration_s(), Some(2.0));
    assert_eq!(m.posterior(TaskType::Docs, "a").unwrap(), (1.0, 2.0));
    assert_eq!(m.posterior(TaskType::Code, "nobody").unwrap(), PRIOR);
    assert_eq!(
        store.runs().unwrap().len(),
        4,
        "every run was written with its outcome"
    );
    let names: Vec<(TaskType, String)> = m
        .strategies()
        .unwrap()
        .into_iter()
        .map(|s| (s.task_type, s.executor))
        .collect();
    assert_eq!(
        names,
        vec![(TaskType::Code, "a".into()), (TaskType::Docs, "a".into())]
    );
}

#[test]
fn a_learning_that_cannot_apply_leaves_the_run_unwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // A strategy record this build cannot read: the transaction must abort as a whole.
    let db = db_of(&store);
    db.open_tree("memory_stats")
        .unwrap()
        .insert(strategy_key(TaskType::Code, "a"), b"not json")
        .unwrap();
    let mut r = run("Fix the parser");
    r.status = RunStatus::Rejected;
    let err = store
        .put_run_and_learn(&r, &learning(&r, TaskType::Code, "a", vec![decided(false)]))
        .expect_err("a corrupt strategy aborts");
    assert!(
        matches!(err, StoreError::Memory(MemoryError::Codec { .. })),
        "{err}"
    );
    assert_eq!(
        store.run(&r.id).unwrap(),
        None,
        "the run's write was rolled back"
    );
    // Another executor's strategy is fine, and so is its run.
    store
        .put_run_and_learn(&r, &learning(&r, TaskType::Code, "b", vec![decided(false)]))
        .unwrap();
    assert_eq!(
        store.run(&r.id).unwrap().unwrap().status,
        RunStatus::Rejected
    );
}

/// The store's database, reopened by path would conflict with the lock; tests reach in.
fn db_of(store: &Store) -> crate::kv::Db {
    store.db_for_tests()
}

#[test]
fn concurrent_decisions_on_one_strategy_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let r = run("Fix the parser");
                    let success = (t + i) % 2 == 0;
                    store
                        .put_run_and_learn(
                            &r,
                            &learning(&r, TaskType::Code, "a", vec![decided(success)]),
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = store
        .memory()
        .strategy(TaskType::Code, "a")
        .unwrap()
        .unwrap();
    assert_eq!(s.successes + s.failures, 100);
    assert_eq!(s.successes, 50);
    assert_eq!(store.runs().unwrap().len(), 100);
}

#[test]
fn a_gate_failure_becomes_a_lesson_on_its_second_run_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let m = store.memory();
    let first = run("Fix the parser");
    let line = |n: u32| format!("`cargo test` exited with status 101: {n} passed, 1 failed");
    // The same run reporting the failure twice (a retried write) is still one run.
    for _ in 0..2 {
        let learned = store
            .put_run_and_learn(
                &first,
                &learning(&first, TaskType::Code, "a", vec![gate_failed(&line(3))]),
            )
            .unwrap();
        assert!(learned.new_lessons.is_empty());
    }
    assert!(
        m.lessons().unwrap().is_empty(),
        "one run is not a pattern yet"
    );
    // Another failure on another run is not the same failure.
    let other = run("Fix the lexer");
    store
        .put_run_and_learn(
            &other,
            &learning(
                &other,
                TaskType::Code,
                "a",
                vec![gate_failed("error: cannot find `x`")],
            ),
        )
        .unwrap();
    assert!(m.lessons().unwrap().is_empty());

    let second = run("Parser crash on empty input");
    let learned = store
        .put_run_and_learn(
            &second,
            &learning(&second, TaskType::Code, "b", vec![gate_failed(&line(4))]),
        )
        .unwrap();
    assert_eq!(learned.new_lessons.len(), 1);
    let lessons = m.lessons().unwrap();
    assert_eq!(lessons.len(), 1);
    let lesson = &lessons[0];
    assert_eq!(lesson.source, LessonSource::GateFailure);
    assert_eq!(
        lesson.text,
        "gate `test` keeps failing with: `cargo test` exited with status 101: 4 passed, 1 failed"
    );
    assert_eq!(lesson.runs, vec![first.id.0.clone(), second.id.0.clone()]);
    for k in ["fix", "parser", "crash", "empty", "input"] {
        assert!(
            lesson.keywords.iter().any(|w| w == k),
            "{k} in {:?}",
            lesson.keywords
        );
    }

    // A third run failing the same way joins the lesson instead of making another.
    let third = run("Parser again");
    let learned = store
        .put_run_and_learn(
            &third,
            &learning(&third, TaskType::Code, "a", vec![gate_failed(&line(9))]),
        )
        .unwrap();
    assert!(learned.new_lessons.is_empty());
    let lessons = m.lessons().unwrap();
    assert_eq!(lessons.len(), 1);
    assert_eq!(lessons[0].runs.len(), 3);
}

#[test]
fn rejection_reasons_are_lessons_once_per_type_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let reject = |title: &str, t: TaskType, reason: &str| {
        let r = run(title);
        store
            .put_run_and_learn(
                &r,
                &learning(
                    &r,
                    t,
                    "a",
                    vec![
                        decided(false),
                        Observation::Rejected {
                            reason: reason.into(),
                        },
                    ],
                ),
            )
            .unwrap()
    };
    let made = reject("Add a note", TaskType::Docs, "use snake_case please");
    assert_eq!(made.new_lessons.len(), 1);
    assert_eq!(
        made.new_lessons[0].text,
        "The operator rejected a change for “Add a note”: use snake_case please"
    );
    assert!(
        reject("Add another note", TaskType::Docs, "Use snake_case  please")
            .new_lessons
            .is_empty()
    );
    assert_eq!(
        reject("Add code", TaskType::Code, "use snake_case please")
            .new_lessons
            .len(),
        1
    );
    assert!(reject("Blank", TaskType::Code, "  ").new_lessons.is_empty());
    assert_eq!(store.memory().lessons().unwrap().len(), 2);
    let docs = store
        .memory()
        .strategy(TaskType::Docs, "a")
        .unwrap()
        .unwrap();
    assert_eq!(
        docs.failures, 2,
        "each rejection counts, repeated reason or not"
    );
}

#[test]
fn recall_ranks_caps_and_counts_uses() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let m = store.memory();
    let teach = |title: &str, t: TaskType, obs: Observation| {
        let r = run(title);
        store
            .put_run_and_learn(&r, &learning(&r, t, "a", vec![obs]))
            .unwrap();
    };
    let reason = |r: &str| Observation::Rejected { reason: r.into() };
    teach(
        "Parser crash on empty input",
        TaskType::Code,
        reason("add a regression test"),
    );
    teach(
        "Update the changelog",
        TaskType::Release,
        reason("wrong version"),
    );
    teach("Document the parser", TaskType::Docs, reason("too long"));
    teach("Tidy CI config", TaskType::Code, reason("keep the old job"));
    teach(
        "Parser handles unicode",
        TaskType::Code,
        Observation::Accepted {
            files: vec!["src/parser.rs".into()],
            summary: Some("handled NFC".into()),
        },
    );

    let task = keywords("Parser crash on a long input");
    let recall = m.recall(TaskType::Code, &task, 3, 2).unwrap();
    let texts: Vec<&str> = recall.lessons.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(texts[0].contains("add a regression test"), "{texts:?}");
    // Same type, no shared word, beats another type with one shared word.
    assert!(texts[1].contains("keep the old job"), "{texts:?}");
    assert!(texts[2].contains("too long"), "{texts:?}");
    assert!(
        !texts.iter().any(|t| t.contains("wrong version")),
        "{texts:?}"
    );
    assert_eq!(recall.examples.len(), 1);
    assert_eq!(recall.examples[0].files, vec!["src/parser.rs".to_string()]);

    let capped = m.recall(TaskType::Code, &task, 1, 0).unwrap();
    assert_eq!(capped.lessons.len(), 1);
    assert!(capped.examples.is_empty());
    assert!(
        m.recall(TaskType::Test, &keywords("unrelated words"), 3, 2)
            .unwrap()
            .is_empty()
    );

    let r = run("Parser crash on a long input");
    let ids: Vec<String> = recall.lessons.iter().map(|l| l.id.clone()).collect();
    let examples = vec![recall.examples[0].id.clone()];
    for _ in 0..2 {
        store
            .put_run_and_learn(
                &r,
                &learning(
                    &r,
                    TaskType::Code,
                    "a",
                    vec![Observation::Started {
                        lessons: ids.clone(),
                        examples: examples.clone(),
                    }],
                ),
            )
            .unwrap();
    }
    let used: Vec<u64> = m
        .lessons()
        .unwrap()
        .iter()
        .filter(|l| ids.contains(&l.id))
        .map(|l| l.uses)
        .collect();
    assert_eq!(used, vec![2, 2, 2]);
    assert_eq!(m.patterns().unwrap()[0].uses, 2);
    assert_eq!(m.strategy(TaskType::Code, "a").unwrap().unwrap().pulls, 2);
}

#[test]
fn forget_removes_a_lesson_by_unique_prefix_and_it_must_recur_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let m = store.memory();
    let fail = |title: &str| {
        let r = run(title);
        store
            .put_run_and_learn(
                &r,
                &learning(&r, TaskType::Code, "a", vec![gate_failed("boom")]),
            )
            .unwrap()
    };
    fail("one");
    assert_eq!(fail("two").new_lessons.len(), 1);
    let r = run("three");
    store
        .put_run_and_learn(
            &r,
            &learning(
                &r,
                TaskType::Code,
                "a",
                vec![Observation::Rejected {
                    reason: "no".into(),
                }],
            ),
        )
        .unwrap();
    let lessons = m.lessons().unwrap();
    assert_eq!(lessons.len(), 2);
    let id = lessons[0].id.clone();

    assert!(matches!(
        m.forget("zzzz"),
        Err(MemoryError::NoSuchLesson(_))
    ));
    // Two lessons made in the same millisecond share their first 10 characters.
    let common = lessons[0]
        .id
        .chars()
        .zip(lessons[1].id.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let shared: String = id.chars().take(common).collect();
    if !shared.is_empty() {
        assert!(matches!(
            m.forget(&shared),
            Err(MemoryError::AmbiguousLesson { count: 2, .. })
        ));
    }
    let forgotten = m.forget(&id[..common + 1]).unwrap();
    assert_eq!(forgotten.id, id);
    assert_eq!(m.lessons().unwrap().len(), 1);
    assert!(matches!(m.forget(&id), Err(MemoryError::NoSuchLesson(_))));

    // The failure's count starts over: one more run is not enough, two are.
    assert!(fail("four").new_lessons.is_empty());
    assert_eq!(fail("five").new_lessons.len(), 1);
    // By suffix, as with runs.
    let last = m.lessons().unwrap().pop().unwrap();
    assert_eq!(m.forget(&last.id[last.id.len() - 8..]).unwrap().id, last.id);
}

#[test]
fn recall_looks_only_at_the_newest_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let patterns = store.db_for_tests().open_tree("patterns").unwrap();
    let pattern = |i: usize, title: &str| Pattern {
        id: format!("{i:026}"),
        task_type: TaskType::Docs,
        task_title: title.into(),
        keywords: keywords(title),
        executor: "a".into(),
        files: Vec::new(),
        summary: None,
        run_id: String::new(),
        uses: 0,
        created_ms: i as u64,
    };
    let mut batch = crate::kv::Batch::default();
    // The oldest is the only one about the parser, and it is outside the window.
    for i in 0..=RECALL_WINDOW {
        let p = if i == 0 {
            pattern(i, "Fix the parser")
        } else {
            pattern(i, "Unrelated chore")
        };
        batch.insert(p.id.as_bytes(), serde_json::to_vec(&p).unwrap());
    }
    patterns.apply_batch(batch).unwrap();
    let recall = store
        .memory()
        .recall(TaskType::Code, &keywords("Fix the parser"), 3, 3)
        .unwrap();
    assert!(recall.examples.is_empty(), "{:?}", recall.examples);
    assert_eq!(store.memory().patterns().unwrap().len(), RECALL_WINDOW + 1);
}
