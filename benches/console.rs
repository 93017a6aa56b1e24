//! The operator console against its budgets (DESIGN.md §11), in process on ratatui's
//! `TestBackend`, driven the way the event loop drives it (`App::update`, then
//! `app::render` inside `Terminal::draw`):
//!
//! - build + draw one frame of a board of 10,000 tasks at 200×60 (budget < 4 ms);
//! - a key on that board, then the redraw (budget < 16 ms);
//! - open a 100,000-line diff in Review until its first screen is drawn (budget < 50 ms),
//!   and move through it a page or a hunk at a time (budget < 16 ms a key);
//! - agent output: 100,000 `Event::Output` lines through `App::update`, a frame drawn for
//!   every 16 ms of output arriving at 100,000 lines/s (budget ≥ 100,000 lines/s);
//! - startup with 100,000 runs in the store until the first frame (budget < 150 ms).
//!
//! Idle CPU and RSS of the real binary are measured by `benches/idle_cpu.sh`, which asks this
//! bench to build its repository and store: `BOSUN_CONSOLE_SEED=DIR cargo bench --bench
//! console` seeds `DIR` and exits without measuring. `BOSUN_CONSOLE_MEMORY=DIR` (on a seeded
//! `DIR`) prints the resident memory after each step of start-up and of opening the large diff,
//! in a fresh process (`BOSUN_CONSOLE_MEMORY_STORE_ONLY=1`: without `Orchestrator::open`).

use std::cell::{OnceCell, RefCell};
use std::collections::VecDeque;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun::config::{Config, IntakeConfig};
use bosun::intake::TaskList;
use bosun::model::{
    Annotation, AnnotationCounts, AnnotationKind, GateResult, Run, RunId, RunStatus, Severity,
    Task, Usage, Verdict,
};
use bosun::orchestrator::{Event, Options, Orchestrator};
use bosun::project::Project;
use bosun::store::Store;
use bosun::tui::app::{self, JobContext, Tab};
use bosun::tui::data::{Data, OUTPUT_LINES};
use bosun::tui::review::{Loaded, ReviewState};
use bosun::tui::theme::Theme;
use bosun::tui::{App, Effect, Msg, Settings};
use criterion::{Criterion, Throughput};

mod common;
use common::{CHANGED, FILES, git, write_sources};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The terminal the budgets are for.
const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
/// Tasks on the board.
const BOARD_TASKS: usize = 10_000;
/// Runs in the store for the startup figures.
const HISTORY_RUNS: usize = 100_000;
/// Tasks in the seeded repository's task list (all done, so a real console has nothing to
/// start and stays idle).
const HISTORY_TASKS: usize = 200;
/// What `crates/bosun-console/src/lib.rs` loads for the board at start (its private `START_RUNS`).
const START_RUNS: usize = 2_000;
/// Output lines ingested per measurement.
const OUTPUT: usize = 100_000;
/// Lines arriving in one 16 ms frame at 100,000 lines/s.
const LINES_PER_FRAME: usize = 1_600;
/// The run whose change is reviewed: newer than every seeded run.
const REVIEW_RUN: &str = "01zzzzzzzzzzzzzzzzzzreview";

// ---------------------------------------------------------------------------------------
// Generated inputs

/// A task list of `n` tasks in priority sections and areas; every fifth is done, or all of
/// them with `all_done`.
fn task_list(n: usize, all_done: bool) -> String {
    const PRIORITIES: [&str; 4] = ["🔥 Critical", "🟡 High priority", "🟢 Medium", "🔵 Low"];
    let mut s = String::from("# Backlog\n\n");
    for i in 0..n {
        if i % 400 == 0 {
            s.push_str(&format!("\n## {}\n\n", PRIORITIES[(i / 400) % 4]));
        }
        if i % 40 == 0 {
            s.push_str(&format!("### Area {}\n\n", i / 40));
        }
        let done = all_done || i % 5 == 1;
        let mark = if done { "x" } else { " " };
        match i % 4 {
            0 => s.push_str(&format!(
                "- [{mark}] **Implement feature {i} in the export pipeline** - see docs/planning/task_{i}.md\n"
            )),
            1 => s.push_str(&format!(
                "- [{mark}] **Document option {i}** [type:docs] — explain the default and give an example\n"
            )),
            2 => s.push_str(&format!(
                "- [{mark}] Refactor handler {i}: split the request parsing from the response rendering\n"
            )),
            _ => s.push_str(&format!(
                "- [{mark}] Fix bug {i} in `parser.rs` where an empty line ends the block too early [priority:high]\n"
            )),
        }
    }
    s
}

fn tasks(text: &str) -> Vec<Task> {
    let rules = IntakeConfig::default().type_rules();
    TaskList::parse_str(text, Path::new("TODO.md"), &rules).tasks
}

/// A finished or live run of `task`, with what a gated run carries (gates, a score, an
/// annotation or two): about 1.3 KB of JSON in the store.
fn run(id: RunId, task: &Task, status: RunStatus, created_ms: u64) -> Run {
    let active = status.is_active() || status == RunStatus::Queued;
    let gated = matches!(
        status,
        RunStatus::AwaitingApproval | RunStatus::Merged | RunStatus::Rejected | RunStatus::Failed
    );
    let gates = if gated {
        vec![
            GateResult::new(
                "diff",
                Verdict::Pass,
                1.0,
                "3 files changed".into(),
                String::new(),
            ),
            GateResult::new(
                "build",
                Verdict::Pass,
                1.0,
                "cargo build passed".into(),
                String::new(),
            ),
            GateResult::new(
                "test",
                Verdict::Warn,
                0.67,
                "41 passed, 2 skipped".into(),
                String::new(),
            ),
            GateResult::new(
                "semantic",
                Verdict::Pass,
                0.9,
                "1 notice".into(),
                String::new(),
            ),
        ]
    } else {
        Vec::new()
    };
    let annotations = if gated {
        vec![Annotation {
            kind: AnnotationKind::ApiChanged,
            severity: if created_ms.is_multiple_of(3) {
                Severity::Risk
            } else {
                Severity::Notice
            },
            path: "src/export/pipeline.rs".into(),
            line: Some(42),
            end_line: Some(44),
            old_side: false,
            symbol: Some("fn export".into()),
            message: "public fn export changed its signature".into(),
        }]
    } else {
        Vec::new()
    };
    Run {
        task_id: task.id.clone(),
        task_title: task.title.clone(),
        attempt: 1,
        executor: "claude".into(),
        status,
        branch: format!("bosun/task-{}", id.short()),
        target: "main".into(),
        base: Some("4f1c2a9e0b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a".into()),
        head: gated.then(|| "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b".into()),
        created_ms,
        started_ms: (status != RunStatus::Queued).then_some(created_ms + 1_000),
        finished_ms: (!active).then_some(created_ms + 95_000),
        usage: Usage {
            input_tokens: 48_000,
            output_tokens: 6_500,
            cost_usd: 0.42,
            ..Default::default()
        },
        error: (status == RunStatus::Failed).then(|| "gate build failed: 2 errors".into()),
        diffstat: gated.then_some((3, 40, 12)),
        gates,
        score: gated.then_some(0.81),
        annotation_counts: AnnotationCounts::of(&annotations),
        id,
        ..Run::queued(bosun::model::TaskId(String::new()), "", 1, "main")
    }
}

/// The status of the run of the `k`-th open task on the board: runs in every column, a few
/// of them running (as many as a busy machine runs at once).
fn board_status(k: usize) -> Option<RunStatus> {
    match k % 8 {
        0 | 1 => None,
        2 => Some(RunStatus::Queued),
        3 if k % 500 == 3 => Some(RunStatus::Running),
        3 | 4 => Some(RunStatus::AwaitingApproval),
        5 => Some(RunStatus::Merged),
        6 => Some(RunStatus::Failed),
        _ => Some(RunStatus::Rejected),
    }
}

/// A console showing a board of 10,000 tasks, at 200×60.
fn board_app() -> App {
    let tasks = tasks(&task_list(BOARD_TASKS, false));
    assert_eq!(
        tasks.len(),
        BOARD_TASKS,
        "the generated list has every task"
    );
    let now = 1_760_000_000_000;
    let runs: Vec<Run> = tasks
        .iter()
        .filter(|t| !t.done)
        .enumerate()
        .filter_map(|(k, t)| {
            let status = board_status(k)?;
            Some(run(run_id(now - k as u64, k), t, status, now - 600_000))
        })
        .collect();
    let mut data = Data {
        repo: "bench".into(),
        target: "main".into(),
        tasks: tasks.into(),
        total_runs: runs.len(),
        now_ms: now,
        ..Data::default()
    };
    data.add_runs(runs);
    let mut app = App::new(data, Theme::default_theme(), 4);
    app.update(Msg::Resize(WIDTH, HEIGHT));
    app
}

/// A run id made at `ms` (lowercase ULIDs, as `RunId::new` makes them: sorting ids sorts
/// runs by creation).
fn run_id(ms: u64, n: usize) -> RunId {
    RunId(
        ulid::Ulid::from_parts(ms, n as u128)
            .to_string()
            .to_lowercase(),
    )
}

fn terminal() -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("a test terminal")
}

fn draw(terminal: &mut Terminal<TestBackend>, app: &App) {
    terminal
        .draw(|frame| app::render(app, frame))
        .expect("drawing on a test backend");
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// The seeded repository: 500 Rust files whose head commit changes 200 lines in each (a
/// 100,000-line diff), a task list of 200 done tasks, and a store of 100,000 runs of those
/// tasks plus the run that made the large change, awaiting approval and newest.
struct Seeded {
    root: PathBuf,
    base: String,
    head: String,
}

fn seed(root: &Path) -> Seeded {
    let t = Instant::now();
    std::fs::create_dir_all(root).expect("mkdir");
    git(root, &["init", "-q", "-b", "main"]);
    let list = task_list(HISTORY_TASKS, true);
    std::fs::write(root.join("TODO.md"), &list).expect("write TODO.md");
    write_sources(root, "");
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    let base = git(root, &["rev-parse", "HEAD"]);
    git(root, &["checkout", "-q", "-b", "bosun/big-change"]);
    write_sources(root, "+ 1");
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "head"]);
    let head = git(root, &["rev-parse", "HEAD"]);
    git(root, &["checkout", "-q", "main"]);
    std::fs::write(root.join(".git/info/exclude"), ".bosun/\n").expect("write exclude");

    // The store's layout and schema come from `Store::open`; the runs are then written
    // straight into its `runs` tree in one batch, encoded as the store encodes them (JSON, key =
    // run id): `Store::put_run` commits durably after every run, which would take minutes
    // here. `Store::open` below counts them (a store without a run count is counted once)
    // and checks that it reads them back.
    let state = root.join(".bosun");
    drop(Store::open(&state).expect("create the store"));
    let tasks = tasks(&list);
    let now = bosun::model::now_ms();
    let mut bytes = 0usize;
    {
        let db = bosun::store::kv::Db::open(&Store::file(&state)).expect("open the store's file");
        let runs = db.open_tree("runs").expect("runs tree");
        let mut batch = bosun::store::kv::Batch::default();
        for i in 0..HISTORY_RUNS {
            // One run a minute, oldest first, ending an hour ago; every status a run can end in.
            let created = now - 3_600_000 - (HISTORY_RUNS - i) as u64 * 60_000;
            let id = run_id(created, i);
            let status = match i % 10 {
                0..=5 => RunStatus::Merged,
                6 | 7 => RunStatus::Failed,
                8 => RunStatus::Rejected,
                _ => RunStatus::Cancelled,
            };
            let r = run(id, &tasks[i % tasks.len()], status, created);
            let value = serde_json::to_vec(&r).expect("encode a run");
            bytes += value.len();
            batch.insert(r.id.0.as_bytes(), value);
        }
        let mut review = run(
            RunId(REVIEW_RUN.into()),
            &tasks[0],
            RunStatus::AwaitingApproval,
            now - 60_000,
        );
        review.task_title = "Adjust every getter by one".into();
        review.branch = "bosun/big-change".into();
        review.base = Some(base.clone());
        review.head = Some(head.clone());
        review.diffstat = Some((FILES, FILES * CHANGED / 2, FILES * CHANGED / 2));
        batch.insert(
            review.id.0.as_bytes(),
            serde_json::to_vec(&review).expect("encode a run"),
        );
        runs.apply_batch(batch).expect("write the runs");
        db.flush().expect("flush the store");
    }
    let store = Store::open(&state).expect("reopen the store");
    assert_eq!(
        store.run_count(),
        HISTORY_RUNS + 1,
        "every seeded run is stored"
    );
    let newest = store.runs_page(None, 1).expect("read the newest run");
    assert_eq!(
        newest[0].id.0, REVIEW_RUN,
        "the run under review is the newest"
    );
    drop(store);
    eprintln!(
        "seeded {}: {FILES} files, a {}-line diff, {} runs ({} bytes of JSON each on average) in {:?}",
        root.display(),
        FILES * CHANGED,
        HISTORY_RUNS + 1,
        bytes / HISTORY_RUNS,
        t.elapsed()
    );
    Seeded {
        root: root.to_path_buf(),
        base,
        head,
    }
}

/// Waits until the store at `state` can be opened again (the previous handle lets go a moment
/// after it is dropped), so that wait is not counted in a startup figure.
fn settle_store(state: &Path) {
    drop(bosun::store::kv::Db::open(&Store::file(state)).expect("reopen the store's file"));
}

struct World {
    _dir: tempfile::TempDir,
    seeded: Seeded,
}

fn make_world() -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let seeded = seed(&dir.path().join("repo"));
    World { _dir: dir, seeded }
}

// ---------------------------------------------------------------------------------------
// The board

fn bench_board(c: &mut Criterion) {
    let mut app = board_app();
    let mut term = terminal();
    let counts = app.data.counts();
    eprintln!(
        "board: {} tasks, {} runs; per column {:?}",
        app.data.tasks.len(),
        app.data.runs.len(),
        counts
    );

    let mut group = c.benchmark_group("console_board_10k_tasks_200x60");
    group.sample_size(50);
    group.bench_function("frame_build_and_draw", |b| {
        b.iter(|| draw(&mut term, black_box(&app)))
    });
    // Down and up in turn, so the cursor stays near the top and every frame differs.
    group.bench_function("key_j_k_then_redraw", |b| {
        let mut down = true;
        b.iter(|| {
            let code = if down {
                KeyCode::Char('j')
            } else {
                KeyCode::Char('k')
            };
            down = !down;
            black_box(app.update(key(code)));
            draw(&mut term, &app);
        })
    });
    group.bench_function("key_l_h_column_then_redraw", |b| {
        let mut right = true;
        b.iter(|| {
            let code = if right {
                KeyCode::Char('l')
            } else {
                KeyCode::Char('h')
            };
            right = !right;
            black_box(app.update(key(code)));
            draw(&mut term, &app);
        })
    });
    // The same through crossterm's backend into a sink: the changed cells written as escape
    // sequences, as to the real terminal (minus the terminal's own work).
    // A fixed viewport: the bench has no terminal to ask for its size.
    let mut ansi = Terminal::with_options(
        ratatui::backend::CrosstermBackend::new(std::io::sink()),
        ratatui::TerminalOptions {
            viewport: ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, WIDTH, HEIGHT)),
        },
    )
    .expect("a crossterm terminal");
    group.bench_function("key_j_k_then_redraw_crossterm_ansi", |b| {
        let mut down = true;
        b.iter(|| {
            let code = if down {
                KeyCode::Char('j')
            } else {
                KeyCode::Char('k')
            };
            down = !down;
            black_box(app.update(key(code)));
            ansi.draw(|frame| app::render(&app, frame))
                .expect("drawing into a sink");
        })
    });
    // Typing into the filter: every key refilters all 10,000 tasks.
    app.update(key(KeyCode::Char('/')));
    group.bench_function("key_filter_char_then_redraw", |b| {
        let mut typed = false;
        b.iter(|| {
            let msg = if typed {
                key(KeyCode::Backspace)
            } else {
                key(KeyCode::Char('e'))
            };
            typed = !typed;
            black_box(app.update(msg));
            draw(&mut term, &app);
        })
    });
    app.update(key(KeyCode::Esc));
    group.finish();
}

// ---------------------------------------------------------------------------------------
// Agent output

/// 100,000 output lines from four running runs, in turn.
fn output_events(app: &App) -> Vec<Msg> {
    let running: Vec<RunId> = app
        .data
        .runs
        .values()
        .filter(|r| r.status == RunStatus::Running)
        .map(|r| r.id.clone())
        .take(4)
        .collect();
    assert_eq!(running.len(), 4, "the board has running runs");
    (0..OUTPUT)
        .map(|i| {
            Msg::Orchestrator(Event::Output {
                run_id: running[i % running.len()].clone(),
                line: format!(
                    "   Compiling export-pipeline v0.{i}.0 (/work/target/debug/build/export-{i:08x}) [{i}/100000]"
                ),
            })
        })
        .collect()
}

/// Applies every message as the event loop does (`App::update`, then the loop's own check for
/// active runs), drawing a frame every [`LINES_PER_FRAME`] lines (16 ms of output at 100,000
/// lines/s, the event loop's frame rate); returns the slowest frame.
fn ingest(app: &mut App, term: &mut Terminal<TestBackend>, msgs: Vec<Msg>) -> Duration {
    let mut slowest = Duration::ZERO;
    for (i, msg) in msgs.into_iter().enumerate() {
        black_box(app.update(msg));
        // What `event_loop` in crates/bosun-console/src/lib.rs does on every turn, to pick its clock.
        black_box(app.data.runs.values().any(|r| r.status.is_active()));
        if (i + 1) % LINES_PER_FRAME == 0 {
            let t = Instant::now();
            draw(term, app);
            app.dirty = false;
            slowest = slowest.max(t.elapsed());
        }
    }
    slowest
}

fn bench_output(c: &mut Criterion) {
    let mut group = c.benchmark_group("console_agent_output_100k_lines");
    group.sample_size(10);
    group.throughput(Throughput::Elements(OUTPUT as u64));
    for (name, tab) in [("board", Tab::Board), ("logs_agent_pane", Tab::Logs)] {
        let mut app = board_app();
        app.switch(tab);
        if tab == Tab::Logs {
            app.update(key(KeyCode::Char('o')));
        }
        let mut term = terminal();
        let mut slowest = Duration::ZERO;
        group.bench_function(format!("{name}_update_and_frame_every_1600_lines"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let msgs = output_events(&app);
                    let t = Instant::now();
                    slowest = slowest.max(ingest(&mut app, &mut term, msgs));
                    total += t.elapsed();
                }
                total
            })
        });
        if slowest.is_zero() {
            continue;
        }
        let kept: usize = app.data.output.values().map(VecDeque::len).sum();
        assert!(
            app.data.output.values().all(|o| o.len() <= OUTPUT_LINES),
            "output kept per run is bounded"
        );
        eprintln!(
            "{name}: slowest frame during ingestion {slowest:?}; lines kept {kept} for {} runs",
            app.data.output.len()
        );
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------
// Startup with 100,000 runs

/// What `crates/bosun-console/src/lib.rs` does before its first frame, after the store is open: its private
/// `initial_data` (the task list, the run count, the newest `START_RUNS` runs), the theme,
/// `App::new`, the terminal size, the first frame.
fn first_frame(root: &Path, store: &Store, config: &Config, term: &mut Terminal<TestBackend>) {
    let tasks = TaskList::load(
        root,
        &config.project.task_files,
        &config.intake.type_rules(),
    )
    .map(|l| l.tasks)
    .unwrap_or_default();
    let mut data = Data {
        repo: "repo".into(),
        target: "main".into(),
        tasks: tasks.into(),
        total_runs: store.run_count(),
        now_ms: bosun::model::now_ms(),
        ..Data::default()
    };
    data.add_runs(store.runs_page(None, START_RUNS).expect("a page of runs"));
    let theme = Theme::load("dark", root, false).unwrap_or_else(|_| Theme::default_theme());
    let mut app = App::new(data, theme, 4);
    app.update(Msg::Resize(WIDTH, HEIGHT));
    draw(term, &app);
    black_box(app);
}

/// This process's resident memory, in MB (`VmRSS` of /proc/self/status).
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Where the memory goes with 100,000 runs in the store and the 100,000-line diff open:
/// resident memory after each step of what `bosun` does, in a fresh process
/// (`BOSUN_CONSOLE_MEMORY=DIR` on a repository seeded with `BOSUN_CONSOLE_SEED=DIR`).
fn memory_breakdown(root: &Path) {
    let mut last = rss_mb();
    let mut step = |name: &str| {
        let now = rss_mb();
        eprintln!(
            "memory step: {name}: {now:.1} MB resident ({:+.1} MB)",
            now - last
        );
        last = now;
    };
    step("start");
    eprintln!(
        "a Run is {} bytes before what it points to",
        std::mem::size_of::<Run>()
    );
    let config = Config::default();
    let theme = Theme::load("dark", root, false).unwrap_or_else(|_| Theme::default_theme());
    step("theme (syntect's syntaxes and themes)");
    let project = Project::locate(Some(root)).expect("the repository");
    let options = Options {
        schedule: true,
        ..Options::default()
    };
    // `BOSUN_CONSOLE_MEMORY_STORE_ONLY=1`: the store alone, as if the orchestrator did not read
    // every run (what the memory budget would see without its map).
    let (orchestrator, store) = if std::env::var_os("BOSUN_CONSOLE_MEMORY_STORE_ONLY").is_some() {
        drop(project);
        let store = Arc::new(Store::open(&root.join(".bosun")).expect("open the store"));
        step("Store::open alone");
        (None, store)
    } else {
        let orchestrator = Orchestrator::open(project, config.clone(), options).expect("open");
        step("Orchestrator::open (the store, and every run read into the orchestrator's map)");
        let store = orchestrator.store();
        (Some(orchestrator), store)
    };
    let tasks = TaskList::load(
        root,
        &config.project.task_files,
        &config.intake.type_rules(),
    )
    .map(|l| l.tasks)
    .unwrap_or_default();
    let mut data = Data {
        tasks: tasks.into(),
        total_runs: store.run_count(),
        ..Data::default()
    };
    data.add_runs(store.runs_page(None, START_RUNS).expect("a page"));
    let mut app = App::new(data, theme, 4);
    app.update(Msg::Resize(WIDTH, HEIGHT));
    let mut term = terminal();
    draw(&mut term, &app);
    step("the console's data (2,000 runs) and first frame");
    let local = bosun::control::Local::shared(store, root.to_path_buf(), &config);
    let cx = JobContext::new(local, root.to_path_buf(), Settings::default());
    let effects = app.open_review(RunId(REVIEW_RUN.into()));
    let mut queue = VecDeque::from(effects);
    while let Some(effect) = queue.pop_front() {
        if let Effect::Load(job) = effect {
            let msg = (job.0)(&cx);
            queue.extend(app.update(msg));
        }
    }
    draw(&mut term, &app);
    step("the 100,000-line diff open in Review (whole change, first screen highlighted)");
    drop(orchestrator);
    step("the orchestrator dropped, if there was one (its map of runs freed)");
}

/// Where startup's time goes: each step timed alone, the fastest of three rounds (printed
/// once, before the figures).
fn startup_breakdown(root: &Path, config: &Config) {
    let state = root.join(".bosun");
    let mut best: Vec<(&str, Duration)> = Vec::new();
    let mut keep =
        |name: &'static str, took: Duration| match best.iter_mut().find(|(n, _)| *n == name) {
            Some((_, b)) => *b = (*b).min(took),
            None => best.push((name, took)),
        };
    for _ in 0..3 {
        settle_store(&state);
        let t = Instant::now();
        let store = Store::open(&state).expect("open the store");
        keep("Store::open", t.elapsed());
        let t = Instant::now();
        let total_runs = store.run_count();
        keep("Store::run_count", t.elapsed());
        let t = Instant::now();
        let page = store.runs_page(None, START_RUNS).expect("a page");
        keep("Store::runs_page(None, 2000)", t.elapsed());
        let t = Instant::now();
        let tasks = TaskList::load(
            root,
            &config.project.task_files,
            &config.intake.type_rules(),
        )
        .map(|l| l.tasks)
        .unwrap_or_default();
        keep("TaskList::load (200 tasks)", t.elapsed());
        let t = Instant::now();
        let mut data = Data {
            tasks: tasks.into(),
            total_runs,
            ..Data::default()
        };
        data.add_runs(page);
        keep("Data::add_runs", t.elapsed());
        let t = Instant::now();
        let theme = Theme::load("dark", root, false).unwrap_or_else(|_| Theme::default_theme());
        let mut app = App::new(data, theme, 4);
        app.update(Msg::Resize(WIDTH, HEIGHT));
        keep("Theme::load + App::new", t.elapsed());
        let mut term = terminal();
        let t = Instant::now();
        draw(&mut term, &app);
        keep("first frame", t.elapsed());
        let t = Instant::now();
        let all = store.runs().expect("every run");
        keep(
            "Store::runs (all 100,001: what Orchestrator::open read before schema 3)",
            t.elapsed(),
        );
        let t = Instant::now();
        let open = store.open_runs().expect("open runs");
        keep(
            "Store::open_runs (what Orchestrator::open reads)",
            t.elapsed(),
        );
        black_box(open);
        // The history's 200 tasks are ticked, so bosun reads none of their runs; the worst
        // case is timed here instead: every task still open, all 100,001 summaries read.
        let tasks: Vec<Task> = app
            .data
            .tasks
            .iter()
            .map(|t| Task {
                done: false,
                ..t.clone()
            })
            .collect();
        let t = Instant::now();
        let mut history = bosun::orchestrator::schedule::History::new();
        for task in &tasks {
            history.insert(
                task.id.clone(),
                store.task_runs(&task.id).expect("task runs"),
            );
        }
        keep(
            "worst case, every task open: Store::task_runs of all 200 tasks (once, when scheduling starts)",
            t.elapsed(),
        );
        assert_eq!(
            history.values().map(Vec::len).sum::<usize>(),
            HISTORY_RUNS + 1
        );
        let t = Instant::now();
        let next = bosun::orchestrator::schedule::candidates(
            &tasks,
            &history,
            &bosun::orchestrator::schedule::Scope {
                max_attempts: config.orchestrator.max_attempts,
                only: None,
                forgiven: None,
            },
        );
        black_box(next);
        keep(
            "worst case: schedule::candidates over 100,001 run summaries (each orchestrator loop turn)",
            t.elapsed(),
        );
        drop(history);
        let t = Instant::now();
        drop(all);
        keep("freeing the 100,001 runs", t.elapsed());
        drop(app);
        drop(store);
    }
    for (name, took) in best {
        eprintln!("startup step: {name}: {took:?}");
    }
}

fn bench_startup(c: &mut Criterion, world: &OnceCell<World>) {
    let config = Config::default();
    let mut group = c.benchmark_group("console_startup_100k_runs");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    let mut explained = false;
    // The brief's reading: open the store, then the console's own steps.
    group.bench_function("store_open_initial_data_first_frame", |b| {
        let w = world.get_or_init(make_world);
        let root = &w.seeded.root;
        if !explained {
            startup_breakdown(root, &config);
            explained = true;
        }
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                settle_store(&root.join(".bosun"));
                let mut term = terminal();
                let t = Instant::now();
                let store = Store::open(&root.join(".bosun")).expect("open the store");
                first_frame(root, &store, &config, &mut term);
                total += t.elapsed();
                drop(store);
            }
            total
        })
    });
    // What `bosun` really does first: `Orchestrator::open` (which opens the store and reads
    // every run into its own map), then the same steps.
    group.bench_function("orchestrator_open_initial_data_first_frame", |b| {
        let w = world.get_or_init(make_world);
        let root = &w.seeded.root;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                settle_store(&root.join(".bosun"));
                let mut term = terminal();
                let t = Instant::now();
                let project = Project::locate(Some(root)).expect("the repository");
                let options = Options {
                    schedule: true,
                    ..Options::default()
                };
                let orchestrator =
                    Orchestrator::open(project, config.clone(), options).expect("open");
                first_frame(root, &orchestrator.store(), &config, &mut term);
                total += t.elapsed();
                drop(orchestrator);
            }
            total
        })
    });
    group.bench_function("orchestrator_open_only", |b| {
        let w = world.get_or_init(make_world);
        let root = &w.seeded.root;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                settle_store(&root.join(".bosun"));
                let t = Instant::now();
                let project = Project::locate(Some(root)).expect("the repository");
                let orchestrator =
                    Orchestrator::open(project, config.clone(), Options::default()).expect("open");
                total += t.elapsed();
                drop(orchestrator);
            }
            total
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------
// Review of a 100,000-line diff

/// A console on the seeded repository with the run under review known, as after start.
struct ReviewRig {
    cx: JobContext,
    app: App,
    term: Terminal<TestBackend>,
}

impl ReviewRig {
    fn new(seeded: &Seeded) -> ReviewRig {
        let state = seeded.root.join(".bosun");
        settle_store(&state);
        let store = Arc::new(Store::open(&state).expect("open the store"));
        let mut data = Data {
            repo: "repo".into(),
            target: "main".into(),
            total_runs: store.run_count(),
            ..Data::default()
        };
        data.add_runs(store.runs_page(None, START_RUNS).expect("runs"));
        let mut app = App::new(data, Theme::default_theme(), 4);
        app.update(Msg::Resize(WIDTH, HEIGHT));
        let local = bosun::control::Local::shared(store, seeded.root.clone(), &Config::default());
        let cx = JobContext::new(local, seeded.root.clone(), Settings::default());
        ReviewRig {
            cx,
            app,
            term: terminal(),
        }
    }

    /// Runs background jobs in place, as the event loop's blocking pool would.
    fn settle(&mut self, effects: Vec<Effect>) {
        let mut queue = VecDeque::from(effects);
        while let Some(effect) = queue.pop_front() {
            if let Effect::Load(job) = effect {
                let msg = (job.0)(&self.cx);
                queue.extend(self.app.update(msg));
            }
        }
    }

    /// Back to the board with nothing loaded (the old change freed here, not in a figure).
    fn close(&mut self) {
        self.app.review = ReviewState::default();
        self.app.tab = Tab::Board;
        draw(&mut self.term, &self.app);
    }

    /// `enter` on the run: the first files' job, its message, the first frame (plain text).
    /// Returns the jobs that follow (highlighting, the rest of the change).
    fn open(&mut self) -> Vec<Effect> {
        let mut effects = self.app.open_review(RunId(REVIEW_RUN.into()));
        assert_eq!(effects.len(), 1, "opening a run starts one load job");
        let Some(Effect::Load(job)) = effects.pop() else {
            panic!("opening a run starts a load job")
        };
        let msg = (job.0)(&self.cx);
        let effects = self.app.update(msg);
        draw(&mut self.term, &self.app);
        effects
    }
}

fn job_kind(msg: &Msg) -> &'static str {
    match msg {
        Msg::Review(loaded) => match **loaded {
            Loaded::Change { .. } => "change",
            Loaded::Highlight { .. } => "highlight",
        },
        _ => "other",
    }
}

fn bench_review(c: &mut Criterion, world: &OnceCell<World>) {
    // Made when the first review figure runs (not at all when a filter skips them).
    let cell = RefCell::new(None::<ReviewRig>);
    let rig = |cell: &RefCell<Option<ReviewRig>>| {
        if cell.borrow().is_none() {
            let w = world.get_or_init(make_world);
            *cell.borrow_mut() = Some(ReviewRig::new(&w.seeded));
        }
    };

    let mut group = c.benchmark_group("console_review_100k_line_diff_200x60");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("open_to_first_frame", |b| {
        rig(&cell);
        let mut guard = cell.borrow_mut();
        let r = guard.as_mut().expect("rig");
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                r.close();
                let t = Instant::now();
                let effects = r.open();
                total += t.elapsed();
                drop(effects);
            }
            total
        })
    });
    group.bench_function("open_to_first_highlighted_frame", |b| {
        rig(&cell);
        let mut guard = cell.borrow_mut();
        let r = guard.as_mut().expect("rig");
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                r.close();
                let t = Instant::now();
                let effects = r.open();
                for effect in effects {
                    let Effect::Load(job) = effect else { continue };
                    let msg = (job.0)(&r.cx);
                    if job_kind(&msg) == "highlight" {
                        drop(r.app.update(msg));
                        draw(&mut r.term, &r.app);
                        break;
                    }
                }
                total += t.elapsed();
            }
            total
        })
    });
    // The rest of the change, read in the background after the first screen: parse the whole
    // diff and index its rows (not a budget; the time until `G` reaches the last file).
    group.bench_function("whole_change_job_background", |b| {
        rig(&cell);
        let mut guard = cell.borrow_mut();
        let r = guard.as_mut().expect("rig");
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                r.close();
                let effects = r.open();
                for effect in effects {
                    let Effect::Load(job) = effect else { continue };
                    let t = Instant::now();
                    let msg = (job.0)(&r.cx);
                    let kind = job_kind(&msg);
                    if kind == "change" {
                        total += t.elapsed();
                    }
                    drop(msg);
                }
            }
            total
        })
    });

    // Moving through the whole change: the key and the redraw. Highlighting jobs run after
    // each key, outside the figure (the loop runs them off the event loop; until their
    // colors arrive the new lines show plain).
    let whole = |r: &mut ReviewRig| {
        if r.app.review.change.as_ref().is_some_and(|c| c.pending == 0) {
            return;
        }
        r.close();
        let effects = r.open();
        r.settle(effects);
        let rows = r.app.review.change.as_ref().map_or(0, |c| c.rows.len());
        assert!(
            rows > FILES * CHANGED,
            "the whole change is loaded ({rows} rows)"
        );
        eprintln!("review: {rows} rows in the whole change");
    };
    for (name, code) in [
        ("key_pgdn_then_redraw", KeyCode::PageDown),
        ("key_j_then_redraw", KeyCode::Char('j')),
        ("key_n_next_hunk_then_redraw", KeyCode::Char('n')),
        ("key_bracket_next_file_then_redraw", KeyCode::Char(']')),
    ] {
        group.bench_function(name, |b| {
            rig(&cell);
            let mut guard = cell.borrow_mut();
            let r = guard.as_mut().expect("rig");
            whole(r);
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let rows = r.app.review.change.as_ref().map_or(0, |c| c.rows.len());
                    if r.app.review.cursor + 2_000 >= rows {
                        let effects = r.app.update(key(KeyCode::Char('g')));
                        r.settle(effects);
                        draw(&mut r.term, &r.app);
                    }
                    let t = Instant::now();
                    let effects = r.app.update(key(code));
                    draw(&mut r.term, &r.app);
                    total += t.elapsed();
                    r.settle(effects);
                }
                total
            })
        });
    }
    group.finish();
}

fn main() {
    if let Some(dir) = std::env::var_os("BOSUN_CONSOLE_MEMORY") {
        memory_breakdown(Path::new(&dir));
        return;
    }
    if let Some(dir) = std::env::var_os("BOSUN_CONSOLE_SEED") {
        let seeded = seed(Path::new(&dir));
        println!("{} {} {}", seeded.root.display(), seeded.base, seeded.head);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let world: OnceCell<World> = OnceCell::new();
    bench_board(&mut c);
    bench_output(&mut c);
    bench_startup(&mut c, &world);
    bench_review(&mut c, &world);
    c.final_summary();
}
