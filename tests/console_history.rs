//! The console's History over a real store, through the core's reads: paging, filters that
//! stop a stale query, and the startup cost with 100,000 runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bosun::model::{Run, RunId, RunStatus, TaskId, Usage};
use bosun::store::Store;
use bosun::tui::app::{App, Effect, JobContext, Msg, Tab};
use bosun::tui::data::Data;
use bosun::tui::history::{Filter, PAGE, read_newer, read_older};
use bosun::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn run(i: usize, status: RunStatus, executor: &str) -> Run {
    Run {
        // Sortable like ULIDs: a higher number is a newer run.
        id: RunId(format!("{i:026}")),
        task_id: TaskId(format!("t-{}", i % 7)),
        task_title: format!("Task number {i}"),
        attempt: 1,
        executor: executor.into(),
        status,
        branch: String::new(),
        target: "main".into(),
        created_ms: 1_700_000_000_000 + i as u64 * 1_000,
        usage: Usage::default(),
        diffstat: Some((1, 10, 2)),
        score: Some(0.5),
        ..Run::queued(TaskId(String::new()), "", 1, "main")
    }
}

/// Writes `n` runs straight into the store's tree in one batch (put_run flushes each).
fn plant(store: &Store, n: usize, make: impl Fn(usize) -> Run) {
    let tree = store.db_for_tests().open_tree("runs").unwrap();
    let mut batch = bosun::store::kv::Batch::default();
    for i in 0..n {
        let r = make(i);
        batch.insert(r.id.0.as_bytes(), serde_json::to_vec(&r).unwrap());
    }
    tree.apply_batch(batch).unwrap();
}

#[test]
fn pages_read_only_what_they_need_and_a_stale_query_stops() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
    plant(&store, 1_000, |i| {
        let status = if i % 10 == 0 {
            RunStatus::Failed
        } else {
            RunStatus::Merged
        };
        run(i, status, "claude")
    });
    let local = bosun::control::Local::shared(
        store.clone(),
        dir.path().to_path_buf(),
        &bosun::config::Config::default(),
    );
    let local: &dyn bosun::api::Core = &*local;
    let current = AtomicU64::new(1);
    let types = HashMap::new();
    let all = Filter::default();
    let first = read_older(local, 1, &current, &all, &types, None);
    assert_eq!(first.rows.len(), PAGE);
    assert_eq!(first.scanned, PAGE);
    assert_eq!(first.rows[0].id.0, format!("{:026}", 999));
    assert!(!first.done);
    let second = read_older(local, 1, &current, &all, &types, first.cursor.clone());
    assert_eq!(second.rows[0].id.0, format!("{:026}", 799));

    // A tenth of the runs failed: 100 of them, all found, with every run read once.
    let failed = Filter::parse("status:failed");
    let page = read_older(local, 1, &current, &failed, &types, None);
    assert_eq!(page.rows.len(), 100);
    assert!(page.done);
    assert_eq!(page.scanned, 1_000);
    assert!(page.rows.iter().all(|r| r.status == RunStatus::Failed));

    // A query that is no longer current reads nothing more.
    current.store(2, Ordering::SeqCst);
    let stale = read_older(local, 1, &current, &failed, &types, None);
    assert_eq!(stale.scanned, 0);

    // Newer runs than a known one: only those.
    let newer = read_newer(
        local,
        2,
        &current,
        &all,
        &types,
        Some(RunId(format!("{:026}", 995))),
    );
    assert!(newer.done);
    assert_eq!(newer.rows.len(), 4);
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The startup budget (DESIGN §11): with 100,000 runs in the store, opening the console and
/// drawing History's first page reads one page, not the history. Wall-clock times are printed
/// (`--nocapture`), not asserted: this machine is shared.
#[test]
fn startup_with_100k_runs_reads_one_page() {
    const RUNS: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let t = Instant::now();
        plant(&store, RUNS, |i| run(i, RunStatus::Merged, "claude"));
        store.flush().unwrap();
        eprintln!("planting {RUNS} runs: {:?}", t.elapsed());
    }
    let rss_before = rss_kib();
    let start = Instant::now();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let opened = start.elapsed();
    // What `tui::initial_data` does: the board's newest runs.
    let mut data = Data {
        total_runs: store.run_count(),
        now_ms: 1_700_000_000_000 + RUNS as u64 * 1_000,
        ..Data::default()
    };
    data.add_runs(store.runs_page(None, 2_000).unwrap());
    let board_loaded = start.elapsed();
    let mut app = App::new(data, Theme::default_theme(), 2);
    app.update(Msg::Resize(120, 40));
    let config = bosun::config::Config::default();
    let cx = JobContext::new(
        bosun::control::Local::shared(store.clone(), dir.path().to_path_buf(), &config),
        dir.path().to_path_buf(),
        bosun::tui::Settings::default(),
    );
    let effects = app.switch(Tab::History);
    let mut pages = 0;
    for effect in effects {
        if let Effect::Load(job) = effect {
            let msg = (job.0)(&cx);
            if let Msg::History(page) = &msg {
                assert_eq!(page.scanned, PAGE, "the first page reads one page");
                assert_eq!(page.total, RUNS);
                pages += 1;
            }
            app.update(msg);
        }
    }
    assert_eq!(pages, 1);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal
        .draw(|frame| bosun::tui::app::render(&app, frame))
        .unwrap();
    let first_frame = start.elapsed();
    assert_eq!(app.history.rows.len(), PAGE);
    assert_eq!(app.history.scanned, PAGE);
    let screen = format!("{}", terminal.backend());
    assert!(screen.contains("200 of 100,000 runs"), "{screen}");
    let rss_after = rss_kib();
    eprintln!(
        "100,000 runs: store open {opened:?}, board's 2,000 runs {:?}, console + History's first page + first frame {:?} (total {first_frame:?}); RSS {:?} KiB -> {:?} KiB",
        board_loaded - opened,
        first_frame - board_loaded,
        rss_before,
        rss_after
    );
}
