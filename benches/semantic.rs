//! Semantic analysis of a large change (DESIGN.md §11 and the semantic issue): a generated
//! diff of 100,000 changed lines across 500 Rust files — parse it from git, then annotate
//! every file (budget: < 1 s together), and annotate the first file alone (budget: < 50 ms,
//! so the review view never waits for the whole diff).

use std::path::Path;
use std::time::Duration;

use bosun::model::{Priority, Task, TaskId, TaskType};
use bosun::semantic::{self, GitSources};
use criterion::{Criterion, criterion_group, criterion_main};

mod common;
use common::{CHANGED, FILES, git, write_sources};

/// A repository whose head changes 200 lines in each of 500 files; returns (base, head).
fn repo(dir: &Path) -> (String, String) {
    git(dir, &["init", "-q", "-b", "main"]);
    write_sources(dir, "");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "base"]);
    let base = git(dir, &["rev-parse", "HEAD"]);
    write_sources(dir, "+ 1");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "head"]);
    (base, git(dir, &["rev-parse", "HEAD"]))
}

fn task() -> Task {
    Task {
        id: TaskId("t-bench0".into()),
        title: "Adjust every getter by one".into(),
        description: String::new(),
        body: String::new(),
        task_type: TaskType::Code,
        type_rule: "".into(),
        priority: Priority::Medium,
        priority_rule: "".into(),
        section: Vec::new().into(),
        subtasks: Vec::new(),
        refs: Vec::new(),
        file: "TODO.md".into(),
        line: 1,
        done: false,
        depends_on: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().to_path_buf();
    let (base, head) = repo(&root);
    let sources = GitSources::new(root.clone(), base.clone(), head.clone());
    let diff = bosun::diff::load(&root, &base, &head).expect("diff");
    let lines = diff.insertions() + diff.deletions();
    assert_eq!(diff.files.len(), FILES);
    assert_eq!(
        lines,
        FILES * CHANGED,
        "the generated diff has the intended size"
    );
    let task = task();

    let mut group = c.benchmark_group("semantic_100k_lines_500_files");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("parse_diff", |b| {
        b.iter(|| bosun::diff::load(&root, &base, &head).expect("diff"))
    });
    group.bench_function("parse_and_annotate_all", |b| {
        b.iter(|| {
            let diff = bosun::diff::load(&root, &base, &head).expect("diff");
            semantic::analyze(&diff, &sources, &task, 500)
        })
    });
    group.bench_function("annotate_first_file", |b| {
        b.iter(|| semantic::analyze_file(&diff.files[0], &sources))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
