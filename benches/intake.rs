//! Intake speed: parsing a generated 10 MB task list (DESIGN.md §11 budget: < 100 ms),
//! beside bare pulldown-cmark event iteration over the same text as the floor.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use bosun::config::IntakeConfig;
use bosun::intake::TaskList;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pulldown_cmark::{Options, Parser};

/// A task list of about `target` bytes: priority sections, subsections, bold titles with
/// descriptions and references, nested subtasks, tags, done items. At 10 MB it has about
/// 126,000 list items, the size DESIGN.md §11 budgets for.
fn generate(target: usize) -> String {
    const PRIORITIES: [&str; 4] = ["🔥 Critical", "🟡 High priority", "🟢 Medium", "🔵 Low"];
    let mut s = String::with_capacity(target + 1024);
    s.push_str("# Backlog\n\n");
    let mut n = 0usize;
    while s.len() < target {
        if n.is_multiple_of(400) {
            s.push_str(&format!("\n## {}\n\n", PRIORITIES[(n / 400) % 4]));
        }
        if n.is_multiple_of(40) {
            s.push_str(&format!("### Area {}\n\n", n / 40));
        }
        match n % 5 {
            0 => s.push_str(&format!(
                "- [ ] **Implement feature {n} in the export pipeline** - see docs/planning/task_{n}.md\n  - [ ] write the code and its tests\n  - [x] agree on the design\n"
            )),
            1 => s.push_str(&format!("- [x] Add tests for module {n} covering the error paths of the parser\n")),
            2 => s.push_str(&format!(
                "- [ ] **Document option {n}** [type:docs] — explain the default and give an example in the user guide\n"
            )),
            3 => s.push_str(&format!("- [ ] Refactor handler {n}: split the request parsing from the response rendering\n")),
            _ => s.push_str(&format!(
                "- [ ] Fix bug {n} in `parser.rs` where an empty line ends the block too early [priority:high]\n"
            )),
        }
        n += 1;
    }
    s
}

fn bench_parse(c: &mut Criterion) {
    let text = generate(10 * 1024 * 1024);
    let rules = IntakeConfig::default().type_rules();
    let tasks = TaskList::parse_str(&text, Path::new("TODO.md"), &rules).tasks;
    let items = tasks.len() + tasks.iter().map(|t| t.subtasks.len()).sum::<usize>();
    eprintln!(
        "generated {} bytes: {} tasks, {items} list items",
        text.len(),
        tasks.len()
    );
    drop(tasks);

    let mut group = c.benchmark_group("intake_10mb");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("pulldown_cmark_events_only", |b| {
        b.iter(|| {
            Parser::new_ext(black_box(&text), Options::ENABLE_TASKLISTS)
                .into_offset_iter()
                .count()
        })
    });
    group.bench_function("parse_task_list", |b| {
        b.iter(|| {
            TaskList::parse_str(black_box(&text), Path::new("TODO.md"), &rules)
                .tasks
                .len()
        })
    });
    group.finish();
}

/// A real task list (`tests/fixtures/todos/seed-ru.md`, 18 tasks, 8 KB): what bosun
/// does on every `bosun tasks` and every board refresh.
fn bench_seed(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/todos/seed-ru.md");
    let text = std::fs::read_to_string(path)
        .expect("tests/fixtures/todos/seed-ru.md is in the repository");
    let rules = IntakeConfig::default().type_rules();
    c.bench_function("intake_seed_ru", |b| {
        b.iter(|| {
            TaskList::parse_str(black_box(&text), Path::new("TODO.md"), &rules)
                .tasks
                .len()
        })
    });
}

criterion_group!(benches, bench_parse, bench_seed);
criterion_main!(benches);
