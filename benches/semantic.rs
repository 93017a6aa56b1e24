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

/// A repository whose head changes 200 lines in each of 500 files; returns (base, head). The
/// files are a library crate's modules (`Cargo.toml`, `src/lib.rs` declaring `pub mod mK`,
/// each `src/mK.rs` its files), so the crate-level API analysis reads the whole crate on
/// both sides, as it would in a real project.
fn repo(dir: &Path) -> (String, String) {
    git(dir, &["init", "-q", "-b", "main"]);
    write_sources(dir, "");
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"bench-lib\"\nversion = \"0.1.0\"\n",
    )
    .expect("manifest");
    let mut lib = String::new();
    for m in 0..25 {
        lib.push_str(&format!("pub mod m{m};\n"));
        let files: String = (0..FILES)
            .filter(|i| i % 25 == m)
            .map(|i| format!("pub mod f{i};\n"))
            .collect();
        std::fs::write(dir.join(format!("src/m{m}.rs")), files).expect("module");
    }
    std::fs::write(dir.join("src/lib.rs"), lib).expect("lib.rs");
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
    // As the first analysis after bosun starts: the crate-level API reading has kept nothing
    // (no base crate read, no file digests).
    group.bench_function("parse_and_annotate_all_cold", |b| {
        b.iter(|| {
            semantic::api::forget_caches();
            let diff = bosun::diff::load(&root, &base, &head).expect("diff");
            semantic::analyze(&diff, &sources, &task, 500)
        })
    });
    group.bench_function("annotate_first_file", |b| {
        b.iter(|| semantic::analyze_file(&diff.files[0], &sources))
    });
    // The redaction every view and the store apply to a change: the whole patch at once.
    let patch = bosun::git::diff(&root, &base, &head).expect("patch").patch;
    group.bench_function("redact_whole_patch", |b| {
        b.iter(|| bosun::semantic::rules::redact_text(&patch))
    });
    group.finish();

    // An agent's output as the runner masks it line by line: 100,000 lines of a stream-json
    // agent (every line names its tokens, so the keyword prefilter lets all of them through).
    let lines: Vec<String> = (0..100_000)
        .map(|i| {
            format!(
                r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":"step {i}: edited src/lib.rs"}}],"usage":{{"input_tokens":{i},"output_tokens":12}}}}}}"#
            )
        })
        .collect();
    let mut output = c.benchmark_group("secrets_agent_output_100k_lines");
    output.sample_size(10);
    output.bench_function("redactor_line_and_values", |b| {
        b.iter(|| {
            let mut r = bosun::semantic::rules::Redactor::new();
            for l in &lines {
                let masked = r.line(l);
                std::hint::black_box(r.mask_values(&masked));
            }
        })
    });
    output.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
