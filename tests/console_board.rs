//! The console's Board (the whole console, drawn on a `TestBackend`) and the flows that start
//! there, driven through `App::update` with keys, mouse clicks, resizes and orchestrator
//! events. The state is fixed — tasks parsed from a Markdown list, runs with fixed ids and
//! times in every column, a fixed "now" — so the snapshots hold no temporary paths, clocks or
//! fresh ULIDs.

use std::path::Path;

use bosun::intake::TaskList;
use bosun::model::{
    Annotation, AnnotationCounts, AnnotationKind, GateResult, Run, RunId, RunStatus, Severity,
    Task, Usage, Verdict,
};
use bosun::orchestrator::Event;
use bosun::tui::app::{App, Effect, Msg, Overlay, Tab};
use bosun::tui::board;
use bosun::tui::data::{Column, Data};
use bosun::tui::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// 2025-01-01T12:00:00Z: "now" in every test.
const NOW: u64 = 1_735_732_800_000;
const MIN: u64 = 60_000;

/// The task list on screen: every priority, several task types, one task already done.
const TODO: &str = "\
# Tasks

## P0
- [ ] Fix the crash on empty input
- [ ] Rotate the leaked API token

## P1
- [ ] Document the config file
  Every key of bosun.toml gets a line and an example.
- [ ] Cover the parser with tests
- [ ] Write the upgrade guide

## P2
- [ ] Refactor the store into modules
- [ ] Release 0.2.0 with a changelog
- [ ] Speed up startup
- [ ] Deploy the docs site
- [x] Add a --json flag to runs

## P3
- [ ] Tidy the README badges
";

fn tasks() -> Vec<Task> {
    let rules = bosun::config::Config::default().intake.type_rules();
    let list = TaskList::parse_str(TODO, Path::new("TODO.md"), &rules);
    assert!(list.warnings.is_empty(), "{:?}", list.warnings);
    list.tasks
}

fn find<'a>(tasks: &'a [Task], title: &str) -> &'a Task {
    tasks
        .iter()
        .find(|t| t.title == title)
        .unwrap_or_else(|| panic!("no task {title}"))
}

/// Run number `n` of `task`, made `age` minutes ago; ids sort like ULIDs (a higher `n` is
/// newer) and end in `run0{n}`, which the screens show as the run's short id.
fn run(n: u32, task: &Task, status: RunStatus, executor: &str, age: u64) -> Run {
    let created = NOW - age * MIN;
    let started = !matches!(status, RunStatus::Queued);
    let ended = !matches!(
        status,
        RunStatus::Queued | RunStatus::Preparing | RunStatus::Running | RunStatus::Gating
    );
    let awaited = matches!(
        status,
        RunStatus::AwaitingApproval | RunStatus::Merged | RunStatus::Rejected
    );
    Run {
        id: RunId(format!("01jgzz00000000000000run{n:03}")),
        task_id: task.id.clone(),
        task_title: task.title.clone(),
        attempt: 1,
        executor: executor.into(),
        status,
        branch: format!("bosun/run-{n:03}"),
        target: "main".into(),
        created_ms: created,
        started_ms: started.then_some(created + MIN),
        finished_ms: ended.then_some(created + 4 * MIN),
        usage: Usage {
            input_tokens: 10_000,
            output_tokens: 2_000,
            cost_usd: 0.25,
            ..Default::default()
        },
        error: (status == RunStatus::Failed).then(|| "test gate failed: 2 new failures".into()),
        diffstat: ended.then_some((2, 12, 3)),
        gates: if ended {
            vec![GateResult::new(
                "diff",
                Verdict::Pass,
                1.0,
                String::new(),
                String::new(),
            )]
        } else {
            Vec::new()
        },
        score: awaited.then_some(0.91),
        ..Run::queued(bosun::model::TaskId(String::new()), "", 1, "main")
    }
}

/// Runs putting cards in every column (Queued: a retry waiting, and a task never run).
fn runs(tasks: &[Task]) -> Vec<Run> {
    let t = |title| find(tasks, title);
    let mut token = run(
        3,
        t("Rotate the leaked API token"),
        RunStatus::AwaitingApproval,
        "codex",
        20,
    );
    token.score = Some(0.72);
    token.annotation_counts = AnnotationCounts::of(&[Annotation {
        kind: AnnotationKind::Secret,
        severity: Severity::Risk,
        path: "src/token.rs".into(),
        line: Some(2),
        end_line: Some(2),
        old_side: false,
        symbol: None,
        message: "looks like an API key".into(),
    }]);
    let mut retry = run(
        10,
        t("Write the upgrade guide"),
        RunStatus::Queued,
        "claude",
        1,
    );
    retry.attempt = 2;
    vec![
        run(
            1,
            t("Fix the crash on empty input"),
            RunStatus::Running,
            "claude",
            4,
        ),
        run(
            2,
            t("Cover the parser with tests"),
            RunStatus::Gating,
            "codex",
            9,
        ),
        token,
        run(
            4,
            t("Document the config file"),
            RunStatus::AwaitingApproval,
            "claude",
            30,
        ),
        run(
            5,
            t("Refactor the store into modules"),
            RunStatus::Failed,
            "aider",
            40,
        ),
        run(
            6,
            t("Release 0.2.0 with a changelog"),
            RunStatus::Rejected,
            "claude",
            50,
        ),
        run(7, t("Speed up startup"), RunStatus::Cancelled, "codex", 60),
        run(
            8,
            t("Deploy the docs site"),
            RunStatus::Merged,
            "claude",
            70,
        ),
        run(
            9,
            t("Write the upgrade guide"),
            RunStatus::Failed,
            "claude",
            80,
        ),
        retry,
    ]
}

fn id(n: u32) -> RunId {
    RunId(format!("01jgzz00000000000000run{n:03}"))
}

/// The console over the fixed state, on the Board, in an 80×24 terminal.
fn console() -> App {
    let tasks = tasks();
    let mut data = Data {
        repo: "demo".into(),
        target: "main".into(),
        total_runs: 10,
        now_ms: NOW,
        ..Data::default()
    };
    data.add_runs(runs(&tasks));
    data.tasks = tasks.into();
    data.progress.insert(id(1), "editing src/input.rs".into());
    data.gating.insert(id(2), "test".into());
    let mut app = App::new(data, Theme::default_theme(), 2);
    app.update(Msg::Resize(80, 24));
    app
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn keys(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars()
        .flat_map(|c| key(app, KeyCode::Char(c)))
        .collect()
}

fn click(app: &mut App, column: u16, row: u16) -> Vec<Effect> {
    app.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    }))
}

fn draw(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| bosun::tui::app::render(app, frame))
        .unwrap();
    format!("{}", terminal.backend())
}

/// Titles of a column's cards, top to bottom.
fn column(app: &App, column: Column) -> Vec<&str> {
    board::column_tasks(&app.data, column, &app.board.filter)
        .into_iter()
        .map(|t| t.title.as_str())
        .collect()
}

/// The title of the card with the cursor.
fn selected(app: &App) -> &str {
    let col = app.board.column;
    board::column_tasks(&app.data, Column::ALL[col], &app.board.filter)[app.board.selected[col]]
        .title
        .as_str()
}

#[test]
fn every_column_has_its_cards() {
    let app = console();
    assert_eq!(
        column(&app, Column::Queued),
        ["Write the upgrade guide", "Tidy the README badges"],
        "by priority: a retry waiting, then a task never run"
    );
    assert_eq!(
        column(&app, Column::Running),
        [
            "Fix the crash on empty input",
            "Cover the parser with tests"
        ]
    );
    assert_eq!(
        column(&app, Column::Awaiting),
        ["Rotate the leaked API token", "Document the config file"]
    );
    assert_eq!(
        column(&app, Column::Done),
        ["Deploy the docs site", "Add a --json flag to runs"]
    );
    assert_eq!(
        column(&app, Column::Failed),
        [
            "Refactor the store into modules",
            "Release 0.2.0 with a changelog",
            "Speed up startup"
        ]
    );
}

#[test]
fn the_board_at_80x24_120x40_and_60x20() {
    let mut app = console();
    let screen = draw(&app, 80, 24);
    // Narrow: one column at a time — the one with the run awaiting approval — named with the
    // others and their counts; the header counts every column (as letters when narrow).
    assert!(screen.contains("Q2 R2 A2 D2 F3"), "{screen}");
    assert!(screen.contains("Awaiting approval 2"), "{screen}");
    assert!(screen.contains("Rotate the leaked API token"), "{screen}");
    insta::assert_snapshot!("board_80x24", screen);

    // Wide, on Running: the spinner, executor and elapsed time on the card; the gate in the
    // detail.
    app.update(Msg::Resize(120, 40));
    key(&mut app, KeyCode::Char('h'));
    key(&mut app, KeyCode::Char('j'));
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("gate test"), "{screen}");
    insta::assert_snapshot!("board_120x40", screen);

    // Narrower still: the list, the selected card's task in full in the detail pane, and the
    // footer's first keys.
    let mut app = console();
    app.update(Msg::Resize(60, 20));
    key(&mut app, KeyCode::Char('l'));
    key(&mut app, KeyCode::Char('l'));
    let screen = draw(&app, 60, 20);
    assert!(screen.contains("Failed 3"), "{screen}");
    assert!(
        screen.contains("Refactor the store into modules"),
        "{screen}"
    );
    assert!(screen.contains("h/l column"), "{screen}");
    insta::assert_snapshot!("board_60x20", screen);
}

#[test]
fn h_l_move_between_columns_and_j_k_within_one() {
    let mut app = console();
    assert_eq!(
        app.board.column, 2,
        "focus starts on the runs awaiting approval"
    );
    keys(&mut app, "hh");
    assert_eq!(app.board.column, 0);
    key(&mut app, KeyCode::Char('h'));
    assert_eq!(app.board.column, 0, "stops at the first column");
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(selected(&app), "Tidy the README badges");
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(
        selected(&app),
        "Tidy the README badges",
        "stops at the last card"
    );
    for _ in 0..4 {
        key(&mut app, KeyCode::Char('l'));
    }
    assert_eq!(app.board.column, 4);
    key(&mut app, KeyCode::Char('l'));
    assert_eq!(app.board.column, 4, "stops at the last column");
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(selected(&app), "Speed up startup");
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(selected(&app), "Release 0.2.0 with a changelog");
    // Each column keeps its own place; arrows work as h/j/k/l do.
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    assert_eq!(selected(&app), "Rotate the leaked API token");
    key(&mut app, KeyCode::Down);
    assert_eq!(selected(&app), "Document the config file");
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Right);
    assert_eq!(selected(&app), "Release 0.2.0 with a changelog");
    // The detail pane follows the cursor.
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("run run006 rejected"), "{screen}");
}

#[test]
fn a_filter_narrows_every_column_and_esc_clears_it() {
    let mut app = console();
    assert!(keys(&mut app, "/type:docs").is_empty());
    assert!(app.board.filtering);
    assert_eq!(
        column(&app, Column::Queued),
        ["Write the upgrade guide", "Tidy the README badges"]
    );
    assert_eq!(column(&app, Column::Running), Vec::<&str>::new());
    assert_eq!(column(&app, Column::Awaiting), ["Document the config file"]);
    assert_eq!(column(&app, Column::Done), Vec::<&str>::new());
    assert_eq!(column(&app, Column::Failed), Vec::<&str>::new());
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("filter: type:docs▏"), "{screen}");
    insta::assert_snapshot!("board_filter_type_docs_80x24", screen);

    // enter keeps the filter and gives the keys back; more words narrow further.
    key(&mut app, KeyCode::Enter);
    assert!(!app.board.filtering);
    assert_eq!(app.board.filter, "type:docs");
    // While the filter is typed, keys are text: `q` and `1` neither quit nor switch.
    key(&mut app, KeyCode::Char('/'));
    keys(&mut app, " readme q1");
    assert_eq!(app.tab, Tab::Board);
    assert!(app.overlay.is_none());
    assert_eq!(column(&app, Column::Queued), Vec::<&str>::new());
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    assert_eq!(column(&app, Column::Queued), ["Tidy the README badges"]);

    // esc while typing drops the filter: every card is back.
    key(&mut app, KeyCode::Esc);
    assert!(!app.board.filtering);
    assert_eq!(app.board.filter, "");
    assert_eq!(column(&app, Column::Failed).len(), 3);
    assert!(!draw(&app, 80, 24).contains("filter:"));

    // A priority filter, kept, then esc on the board clears it too.
    keys(&mut app, "/p:critical");
    key(&mut app, KeyCode::Enter);
    assert_eq!(column(&app, Column::Queued), Vec::<&str>::new());
    assert_eq!(
        column(&app, Column::Running),
        ["Fix the crash on empty input"]
    );
    assert_eq!(
        column(&app, Column::Awaiting),
        ["Rotate the leaked API token"]
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(column(&app, Column::Awaiting).len(), 2);
}

#[test]
fn enter_on_an_awaiting_card_opens_its_run_in_review() {
    let mut app = console();
    // Focus starts on the first run awaiting approval: enter opens it.
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(app.tab, Tab::Review);
    assert_eq!(app.review.run, Some(id(3)));
    assert!(
        matches!(effects.as_slice(), [Effect::Load(_)]),
        "the change is loaded off the loop: {effects:?}"
    );
    // esc goes back to the board, where the cursor still is.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.tab, Tab::Board);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.review.run, Some(id(4)));

    // A task without a run has nothing to open.
    let mut app = console();
    keys(&mut app, "hhj");
    assert_eq!(selected(&app), "Tidy the README badges");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.tab, Tab::Board);
}

#[test]
fn c_asks_then_cancels_a_working_or_queued_run_only() {
    let mut app = console();
    // On a card awaiting approval, and on a task with no run: nothing to cancel.
    assert!(key(&mut app, KeyCode::Char('c')).is_empty());
    assert!(app.board.pending.is_none());
    keys(&mut app, "hhj");
    assert!(key(&mut app, KeyCode::Char('c')).is_empty());
    assert!(app.board.pending.is_none());
    // Running, and gating: `c` names the run and waits; `y` cancels it.
    keys(&mut app, "l");
    assert!(key(&mut app, KeyCode::Char('c')).is_empty());
    let screen = draw(&app, 80, 24);
    assert!(
        screen.contains("cancel run001 Fix the crash on empty input?  y: yes"),
        "{screen}"
    );
    assert_eq!(key(&mut app, KeyCode::Char('y')), [Effect::Cancel(id(1))]);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(key(&mut app, KeyCode::Enter), [Effect::Cancel(id(2))]);
    // Any other key lets it be (and does nothing else: `q` does not quit, `h` does not move).
    key(&mut app, KeyCode::Char('c'));
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert!(app.overlay.is_none());
    assert!(app.board.pending.is_none());
    assert!(
        key(&mut app, KeyCode::Char('y')).is_empty(),
        "the question is gone"
    );
    assert_eq!(app.board.column, 1);
    // A queued attempt can be cancelled too.
    keys(&mut app, "hkc");
    assert_eq!(key(&mut app, KeyCode::Char('y')), [Effect::Cancel(id(10))]);
}

#[test]
fn p_pauses_and_resumes_as_the_orchestrator_says() {
    let mut app = console();
    assert!(draw(&app, 80, 24).contains(" p pause "));
    assert_eq!(key(&mut app, KeyCode::Char('p')), [Effect::Pause(true)]);
    // Nothing changes until the orchestrator confirms it.
    assert!(!app.data.paused);
    assert_eq!(key(&mut app, KeyCode::Char('p')), [Effect::Pause(true)]);
    app.update(Msg::Orchestrator(Event::Paused { paused: true }));
    let screen = draw(&app, 120, 40);
    assert!(
        screen.lines().next().unwrap().contains("paused"),
        "{screen}"
    );
    assert!(screen.contains(" p resume "), "{screen}");
    assert_eq!(key(&mut app, KeyCode::Char('p')), [Effect::Pause(false)]);
}

#[test]
fn q_with_runs_working_asks_first() {
    let mut app = console();
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert!(matches!(app.overlay, Some(Overlay::ConfirmQuit)));
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("2 run(s) are still working"), "{screen}");
    insta::assert_snapshot!("board_confirm_quit_80x24", screen);
    // Any other key stays (and does nothing else: `l` does not move).
    assert!(key(&mut app, KeyCode::Char('l')).is_empty());
    assert!(app.overlay.is_none());
    assert_eq!(app.board.column, 2);
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(key(&mut app, KeyCode::Char('y')), [Effect::Quit]);
    // ctrl-c asks the same way.
    let mut app = console();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(app.update(Msg::Key(ctrl_c)).is_empty());
    assert!(matches!(app.overlay, Some(Overlay::ConfirmQuit)));
}

#[test]
fn q_with_nothing_working_quits_at_once() {
    let mut app = console();
    for n in [1, 2] {
        let mut done = app.data.runs[&id(n)].clone();
        done.status = RunStatus::Cancelled;
        app.update(Msg::Orchestrator(Event::Run {
            run: Box::new(done),
        }));
    }
    assert_eq!(key(&mut app, KeyCode::Char('q')), [Effect::Quit]);
}

#[test]
fn a_click_selects_the_card_under_the_mouse() {
    let mut app = console();
    app.update(Msg::Resize(120, 40));
    // 120×40: the body starts on row 2; columns are 24 wide, their cards three rows each from
    // row 3.
    click(&mut app, 100, 4);
    assert_eq!(app.board.column, 4);
    assert_eq!(selected(&app), "Refactor the store into modules");
    click(&mut app, 100, 7);
    assert_eq!(selected(&app), "Release 0.2.0 with a changelog");
    click(&mut app, 50, 8);
    assert_eq!(app.board.column, 2);
    assert_eq!(selected(&app), "Document the config file");
    // Below a column's last card: the column is focused, the selection kept.
    click(&mut app, 50, 20);
    assert_eq!(selected(&app), "Document the config file");
    // The detail pane says which card it is.
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("Every key of bosun.toml"), "{screen}");
    // The header and the detail pane are not columns.
    click(&mut app, 5, 0);
    click(&mut app, 5, 36);
    assert_eq!(app.board.column, 2);
    // In the narrow list a click picks a card of the column shown.
    app.update(Msg::Resize(80, 24));
    keys(&mut app, "ll");
    click(&mut app, 5, 4);
    assert_eq!(app.board.column, 4);
    assert_eq!(selected(&app), "Release 0.2.0 with a changelog");
}

#[test]
fn a_resize_lays_the_board_out_again() {
    let mut app = console();
    // At 80 columns x = 100 is off the screen: a click there does nothing.
    click(&mut app, 100, 3);
    assert_eq!(app.board.column, 2);
    app.update(Msg::Resize(120, 40));
    assert_eq!(app.size, (120, 40));
    assert!(app.dirty);
    assert!(!app.board.list);
    // At 120 columns each board column is 24 wide: x = 100 is the fifth.
    click(&mut app, 100, 7);
    assert_eq!(app.board.column, 4);
    assert_eq!(selected(&app), "Release 0.2.0 with a changelog");
    // At 60×20 the board is a list of the focused column.
    app.update(Msg::Resize(60, 20));
    assert!(app.board.list);
    click(&mut app, 30, 3);
    assert_eq!(app.board.column, 4);
    assert_eq!(selected(&app), "Refactor the store into modules");
}

#[test]
fn a_run_reaching_awaiting_approval_moves_its_card_and_tells_the_operator() {
    let mut app = console();
    app.dirty = false;
    let mut waiting = app.data.runs[&id(1)].clone();
    waiting.status = RunStatus::AwaitingApproval;
    waiting.finished_ms = Some(NOW);
    waiting.score = Some(0.88);
    let event = Event::Run {
        run: Box::new(waiting.clone()),
    };
    assert_eq!(
        app.update(Msg::Orchestrator(event.clone())),
        [Effect::Notify(
            "awaiting approval: Fix the crash on empty input".into()
        )]
    );
    assert!(app.dirty);
    assert_eq!(
        column(&app, Column::Running),
        ["Cover the parser with tests"]
    );
    assert_eq!(
        column(&app, Column::Awaiting),
        [
            "Fix the crash on empty input",
            "Rotate the leaked API token",
            "Document the config file"
        ]
    );
    let screen = draw(&app, 80, 24);
    assert!(screen.contains(" A3 "), "{screen}");
    // The same state again (a re-publish) is not news.
    assert!(app.update(Msg::Orchestrator(event)).is_empty());
    // A failure is news too; other changes are not.
    let mut failed = app.data.runs[&id(2)].clone();
    failed.status = RunStatus::Failed;
    assert_eq!(
        app.update(Msg::Orchestrator(Event::Run {
            run: Box::new(failed)
        })),
        [Effect::Notify(
            "run failed: Cover the parser with tests".into()
        )]
    );
    let mut merged = waiting;
    merged.status = RunStatus::Merged;
    assert!(
        app.update(Msg::Orchestrator(Event::Run {
            run: Box::new(merged)
        }))
        .is_empty()
    );
    assert_eq!(
        column(&app, Column::Done)[0],
        "Fix the crash on empty input"
    );
}

#[test]
fn a_new_attempt_takes_its_tasks_card_over() {
    let mut app = console();
    // The rejected release gets a second attempt: the card follows the newest run.
    let t = app.data.tasks.clone();
    let mut again = run(
        11,
        find(&t, "Release 0.2.0 with a changelog"),
        RunStatus::Running,
        "codex",
        0,
    );
    again.attempt = 2;
    let effects = app.update(Msg::Orchestrator(Event::Run {
        run: Box::new(again),
    }));
    assert!(effects.is_empty());
    assert_eq!(app.data.total_runs, 11);
    assert!(column(&app, Column::Running).contains(&"Release 0.2.0 with a changelog"));
    assert!(!column(&app, Column::Failed).contains(&"Release 0.2.0 with a changelog"));
}

#[test]
fn a_tick_moves_elapsed_times_on() {
    let mut app = console();
    app.dirty = false;
    app.update(Msg::Tick(NOW + 1_000));
    assert!(app.dirty, "a running card's elapsed time changed");
    let screen = draw(&app, 120, 40);
    assert!(screen.contains("3m01"), "{screen}");
    // With nothing working, time passing changes nothing on screen.
    let mut idle = console();
    for n in [1, 2] {
        let mut done = idle.data.runs[&id(n)].clone();
        done.status = RunStatus::Cancelled;
        idle.update(Msg::Orchestrator(Event::Run {
            run: Box::new(done),
        }));
    }
    idle.dirty = false;
    idle.update(Msg::Tick(NOW + 5_000));
    assert!(!idle.dirty);
}

/// Bug: the spinner only moves when the second changes. `App::update` marks the frame dirty
/// on a tick only when `now_ms / 1000` changed, while the spinner's frame is
/// `now_ms / 100 % 10`: the first tick after each second redraws, always near the same frame,
/// so a quiet agent's spinner stands still.
#[test]
fn the_spinner_turns_between_seconds() {
    let mut app = console();
    let before = draw(&app, 120, 40);
    app.dirty = false;
    app.update(Msg::Tick(NOW + 300));
    assert!(app.dirty, "a tick that moves the spinner asks for a frame");
    assert_ne!(draw(&app, 120, 40), before);
}

/// Bug: on a card with a spinner, score or status, the tail takes the whole width and the
/// title is cut to `…`, even at 120 columns: the operator cannot tell which task is running.
/// Bug: a card showed about 9 characters of its title at 120×40 and 6 at 80×24, so two
/// cards could read the same. Now a wide card gives its title two lines (at least 30
/// characters at 120 columns) and the narrow list a line (at least 20 at 80).
#[test]
fn every_card_shows_the_start_of_its_title() {
    let mut app = console();
    // Titles that need both lines.
    for task in std::sync::Arc::make_mut(&mut app.data.tasks).iter_mut() {
        task.title = format!("{} and keep going", task.title);
    }
    app.update(Msg::Resize(120, 40));
    let screen = draw(&app, 120, 40);
    let lines: Vec<&str> = screen.lines().collect();
    for task in app.data.tasks.iter() {
        let shown = board::wrap_title(&task.title, 22, 2);
        assert_eq!(shown.len(), 2, "{shown:?}");
        // The title's lines sit one under the other in one column.
        let found = lines.windows(2).any(|w| {
            w[0].find(&shown[0]).is_some_and(|at| {
                let x = w[0][..at].chars().count();
                w[1].chars()
                    .skip(x)
                    .collect::<String>()
                    .starts_with(&shown[1])
            })
        });
        assert!(found, "120x40: no card shows {shown:?}\n{screen}");
        let text = shown.join(" ");
        let prefix: String = task.title.chars().take(30).collect();
        assert!(
            text.starts_with(&prefix),
            "{text:?} is not 30 characters of {:?}",
            task.title
        );
    }
    app.update(Msg::Resize(80, 24));
    for column in Column::ALL {
        app.board.column = Column::ALL.iter().position(|c| *c == column).unwrap();
        let screen = draw(&app, 80, 24);
        for task in board::column_tasks(&app.data, column, "") {
            let start: String = task.title.chars().take(20).collect();
            assert!(
                screen.contains(&start),
                "80x24: no card shows {start:?}\n{screen}"
            );
        }
    }
}

/// A board of 30 queued tasks, `Task 00` … `Task 29`, with no runs.
fn long_column() -> App {
    let todo: String = (0..30).map(|i| format!("- [ ] Task {i:02}\n")).collect();
    let rules = bosun::config::Config::default().intake.type_rules();
    let data = Data {
        repo: "demo".into(),
        target: "main".into(),
        tasks: TaskList::parse_str(&todo, Path::new("TODO.md"), &rules)
            .tasks
            .into(),
        now_ms: NOW,
        ..Data::default()
    };
    let mut app = App::new(data, Theme::default_theme(), 2);
    app.update(Msg::Resize(80, 24));
    app
}

/// The first card drawn in the Queued column (row 3 of an 80×24 screen).
fn first_shown(app: &App) -> String {
    let screen = draw(app, 80, 24);
    let row = screen.lines().nth(3).unwrap_or_default().to_string();
    let at = row
        .find("Task ")
        .unwrap_or_else(|| panic!("no card on row 3: {screen}"));
    row[at..at + 7].to_string()
}

#[test]
fn a_long_column_scrolls_to_keep_the_cursor_in_view() {
    let mut app = long_column();
    assert_eq!(first_shown(&app), "Task 00");
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(selected(&app), "Task 29");
    // 12 rows fit at 80×24: the last twelve are shown.
    assert_eq!(first_shown(&app), "Task 18");
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("Task 29"), "{screen}");
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(first_shown(&app), "Task 00");
}

/// Bug: `BoardState::offset` is never written (only reset by the filter): `render` works out
/// a scroll position from offset 0 each frame and forgets it, so the view jumps as soon as
/// the cursor moves up from the bottom, and a click maps rows from offset 0, picking a card
/// that is not the one under the mouse.
#[test]
fn scrolling_stays_put_and_a_click_picks_the_card_under_the_mouse() {
    // A click on the first row shown picks the card drawn there.
    let mut app = long_column();
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(first_shown(&app), "Task 18");
    click(&mut app, 5, 3);
    assert_eq!(selected(&app), "Task 18", "the card under the mouse");

    // Moving up within the view does not scroll it.
    let mut app = long_column();
    key(&mut app, KeyCode::Char('G'));
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(selected(&app), "Task 28");
    assert_eq!(
        first_shown(&app),
        "Task 18",
        "the view moved as little as possible"
    );
}

/// Bug: when the selected card leaves its column (here: the run is merged), the column's
/// selection points past its end. The highlight is clamped when drawn, but `enter`, `c` and
/// the detail pane read the unclamped index: the card looks selected, the detail pane is
/// empty and enter does nothing.
#[test]
fn the_selection_stays_on_a_card_when_the_selected_one_leaves() {
    let mut app = console();
    keys(&mut app, "j");
    assert_eq!(selected(&app), "Document the config file");
    let mut merged = app.data.runs[&id(4)].clone();
    merged.status = RunStatus::Merged;
    app.update(Msg::Orchestrator(Event::Run {
        run: Box::new(merged),
    }));
    assert_eq!(
        column(&app, Column::Awaiting),
        ["Rotate the leaked API token"]
    );
    let screen = draw(&app, 80, 24);
    let detail: String = screen.lines().skip(16).collect::<Vec<_>>().join("\n");
    assert!(detail.contains("Rotate the leaked API token"), "{screen}");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.tab, Tab::Review);
    assert_eq!(app.review.run, Some(id(3)));
}

#[test]
fn a_run_under_review_that_finishes_working_is_loaded_then() {
    let mut app = console();
    // Open the running run (id 1) in Review: nothing to show yet.
    app.review.run = Some(id(1));
    let mut done = app.data.runs[&id(1)].clone();
    done.status = RunStatus::Gating;
    let effects = app.update(Msg::Orchestrator(Event::Run {
        run: Box::new(done.clone()),
    }));
    assert!(effects.is_empty(), "still working: {effects:?}");
    done.status = RunStatus::AwaitingApproval;
    let effects = app.update(Msg::Orchestrator(Event::Run {
        run: Box::new(done),
    }));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Load(_))),
        "the change is loaded once the run waits for approval: {effects:?}"
    );
}

#[test]
fn focus_follows_the_most_urgent_run_until_the_operator_moves() {
    // Nothing awaiting: the running runs are the most urgent.
    let tasks = tasks();
    let mut data = Data {
        now_ms: NOW,
        ..Data::default()
    };
    data.add_runs(
        runs(&tasks)
            .into_iter()
            .filter(|r| r.status != RunStatus::AwaitingApproval)
            .collect::<Vec<_>>(),
    );
    data.tasks = tasks.into();
    let mut app = App::new(data, Theme::default_theme(), 2);
    app.update(Msg::Resize(120, 40));
    assert_eq!(app.board.column, 1);
    // A run reaches awaiting approval: focus goes to it.
    let mut waiting = app.data.runs[&id(2)].clone();
    waiting.status = RunStatus::AwaitingApproval;
    app.update(Msg::Orchestrator(Event::Run {
        run: Box::new(waiting),
    }));
    assert_eq!(app.board.column, 2);
    assert_eq!(selected(&app), "Cover the parser with tests");
    // Once the operator has moved, focus stays where they put it.
    keys(&mut app, "hh");
    let mut waiting = app.data.runs[&id(1)].clone();
    waiting.status = RunStatus::AwaitingApproval;
    app.update(Msg::Orchestrator(Event::Run {
        run: Box::new(waiting),
    }));
    assert_eq!(app.board.column, 0);
}

#[test]
fn brackets_jump_between_runs_awaiting_approval() {
    let mut app = console();
    keys(&mut app, "hh");
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(app.board.column, 2);
    assert_eq!(selected(&app), "Rotate the leaked API token");
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(selected(&app), "Document the config file");
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(selected(&app), "Rotate the leaked API token", "round again");
    key(&mut app, KeyCode::Char('['));
    assert_eq!(selected(&app), "Document the config file");
}

#[test]
fn with_a_forge_the_approval_question_offers_a_pull_request_and_a_merge_here() {
    use bosun::model::Delivery;
    let mut app = console();
    app.data.forge = Some(Delivery::Pr);
    assert!(key(&mut app, KeyCode::Char('a')).is_empty());
    let screen = draw(&app, 160, 40);
    assert!(
        screen.contains("approve as a pull request run003")
            && screen.contains("p: as a pull request · M: merge here"),
        "{screen}"
    );
    for (pressed, deliver) in [
        ('y', None),
        ('p', Some(Delivery::Pr)),
        ('M', Some(Delivery::Merge)),
    ] {
        if app.board.pending.is_none() {
            assert!(key(&mut app, KeyCode::Char('a')).is_empty());
        }
        assert_eq!(
            key(&mut app, KeyCode::Char(pressed)),
            [Effect::Approve {
                run: id(3),
                keep: None,
                message: None,
                deliver,
            }],
            "{pressed}"
        );
    }
    // Without a forge, `p` is no answer.
    app.data.forge = None;
    key(&mut app, KeyCode::Char('a'));
    assert!(key(&mut app, KeyCode::Char('p')).is_empty());
}

#[test]
fn a_decision_takes_two_keys_from_the_board() {
    // Approve: `a` names the run, `y` approves the whole change.
    let mut app = console();
    assert!(key(&mut app, KeyCode::Char('a')).is_empty());
    let screen = draw(&app, 120, 40);
    assert!(
        screen.contains("approve and merge run003 Rotate the leaked API token?"),
        "{screen}"
    );
    insta::assert_snapshot!("board_confirm_approve_120x40", screen);
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        [Effect::Approve {
            run: id(3),
            keep: None,
            message: None,
            deliver: None,
        }]
    );
    // `a` on a run that is not awaiting approval asks nothing.
    keys(&mut app, "h");
    assert!(key(&mut app, KeyCode::Char('a')).is_empty());
    assert!(app.board.pending.is_none());

    // Reject: `r` opens the run in Review with its reason being asked.
    let mut app = console();
    key(&mut app, KeyCode::Char('r'));
    assert_eq!(app.tab, Tab::Review);
    assert_eq!(app.review.run, Some(id(3)));
    assert!(matches!(
        app.review.mode,
        bosun::tui::review::Mode::Reason { .. }
    ));

    // Retry a failed run: `R`, then `y`.
    let mut app = console();
    keys(&mut app, "ll");
    key(&mut app, KeyCode::Char('R'));
    assert_eq!(key(&mut app, KeyCode::Char('y')), [Effect::Retry(id(5))]);
}

/// Bug: `R` and `c` acted on a row of the board: when cards reordered between the frame the
/// operator read and the key, they hit another task's run.
#[test]
fn a_key_acts_on_the_run_it_was_pressed_on_though_the_board_moved() {
    let mut app = console();
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(selected(&app), "Document the config file");
    // A run ahead of it in the task file reaches awaiting approval: the cards move down, the
    // selection stays on its card.
    let mut waiting = app.data.runs[&id(1)].clone();
    waiting.status = RunStatus::AwaitingApproval;
    app.update(Msg::Orchestrator(Event::Run {
        run: Box::new(waiting.clone()),
    }));
    assert_eq!(
        column(&app, Column::Awaiting),
        [
            "Fix the crash on empty input",
            "Rotate the leaked API token",
            "Document the config file"
        ]
    );
    assert_eq!(selected(&app), "Document the config file");
    // `a` is pressed; the board moves again before `y`: `y` approves the run `a` named.
    key(&mut app, KeyCode::Char('a'));
    let mut back = waiting;
    back.status = RunStatus::Running;
    app.update(Msg::Orchestrator(Event::Run {
        run: Box::new(back),
    }));
    let mut merged = app.data.runs[&id(3)].clone();
    merged.status = RunStatus::Merged;
    app.update(Msg::Orchestrator(Event::Run {
        run: Box::new(merged),
    }));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        [Effect::Approve {
            run: id(4),
            keep: None,
            message: None,
            deliver: None,
        }]
    );
}

/// Bug: `t` cycled the built-in themes only, and a broken theme file was ignored in silence.
#[test]
fn t_cycles_the_repositorys_themes_too_and_says_which_file_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("themes")).unwrap();
    let light = bosun::tui::theme::BUILT_IN[1].1;
    std::fs::write(
        dir.path().join("themes/solar.toml"),
        light.replace("name = \"light\"", "name = \"solar\""),
    )
    .unwrap();
    std::fs::write(dir.path().join("themes/broken.toml"), "name = [\n").unwrap();
    let mut app = console();
    app.themes = Theme::catalogue(dir.path(), false);
    let mut seen = Vec::new();
    for _ in 0..4 {
        key(&mut app, KeyCode::Char('t'));
        seen.push((
            app.theme.name.clone(),
            app.flash.clone().unwrap_or_default(),
        ));
    }
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["light", "high-contrast", "solar", "dark"]);
    // Passing the broken file said where it is broken.
    let flash = &seen[2].1;
    assert!(flash.starts_with("themes/broken.toml:1: "), "{flash}");
    assert!(flash.ends_with("theme: solar"), "{flash}");
}

#[test]
fn f_follows_the_selected_runs_output_full_screen() {
    let mut app = console();
    keys(&mut app, "h");
    assert_eq!(selected(&app), "Fix the crash on empty input");
    key(&mut app, KeyCode::Char('f'));
    assert_eq!(app.tab, Tab::Logs);
    assert_eq!(app.logs.pane, bosun::tui::logs::Pane::Agent);
    assert_eq!(app.logs.run, Some(id(1)));
    assert!(app.logs.follow);
    // A task without a run has nothing to follow.
    let mut app = console();
    keys(&mut app, "hhj");
    key(&mut app, KeyCode::Char('f'));
    assert_eq!(app.tab, Tab::Board);
    assert!(
        app.flash
            .as_deref()
            .unwrap_or_default()
            .contains("no run here")
    );
}

#[test]
fn a_delivered_run_shows_its_pull_request_on_the_card_and_in_the_detail() {
    let mut app = console();
    let mut run = app.data.runs[&id(3)].clone();
    run.status = RunStatus::Delivered;
    run.delivery = Some(bosun::model::PullRequest {
        forge: "github".into(),
        repository: "acme/widgets".into(),
        number: 42,
        url: "https://github.com/acme/widgets/pull/42".into(),
        branch: run.branch.clone(),
        commit: "0123456789abcdef".into(),
        opened_ms: NOW,
        etag: None,
        state: "open".into(),
    });
    app.update(Msg::Orchestrator(bosun::api::Event::Run {
        run: Box::new(run),
    }));
    app.update(Msg::Resize(160, 40));
    let wide = draw(&app, 160, 40);
    assert!(wide.contains("PR #42 open"), "{wide}");
    // The narrow list shows the focused card's detail: the pull request's address.
    app.update(Msg::Resize(60, 24));
    app.board.column = 3;
    keys(&mut app, "kkkkkk");
    for _ in 0..8 {
        if selected(&app) == "Rotate the leaked API token" {
            break;
        }
        key(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(selected(&app), "Rotate the leaked API token");
    let narrow = draw(&app, 60, 24);
    assert!(narrow.contains("PR #42"), "{narrow}");
    assert!(
        narrow.contains("github.com/acme/widgets/pull/42"),
        "{narrow}"
    );
}
