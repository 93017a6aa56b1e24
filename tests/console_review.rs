//! The review decision end to end: the orchestrator approving only some hunks of a real run
//! (the rest reversed on the run's branch, the task ticked) and rejecting with the operator's
//! own instructions for the next attempt.

use std::path::Path;

use bosun::config::{Config, ExecutorConfig};
use bosun::git::HunkRef;
use bosun::model::{Run, RunStatus};
use bosun::orchestrator::{Command, CommandError, Options, Orchestrator};
use bosun::project::Project;
use tokio::sync::oneshot;

mod common;

/// Lines `line 1` … `line n`, those in `changed` reading `line i changed`.
fn numbered(n: usize, changed: &[usize]) -> String {
    (1..=n)
        .map(|i| {
            if changed.contains(&i) {
                format!("line {i} changed\n")
            } else {
                format!("line {i}\n")
            }
        })
        .collect()
}

/// A repository with a task list and two files, and a config whose only agent changes
/// `a.rs` in two places and `b.rs` in one (three hunks in two files).
fn setup(dir: &Path) -> (Project, Config) {
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).unwrap();
    common::git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("TODO.md"), "- [ ] Touch two files\n").unwrap();
    std::fs::write(repo.join("a.rs"), numbered(40, &[])).unwrap();
    std::fs::write(repo.join("b.rs"), numbered(10, &[])).unwrap();
    common::git(&repo, &["add", "-A"]);
    common::git(&repo, &["commit", "-q", "-m", "init"]);
    let heads = dir.join("heads");
    std::fs::create_dir(&heads).unwrap();
    std::fs::write(heads.join("a.rs"), numbered(40, &[3, 30])).unwrap();
    std::fs::write(heads.join("b.rs"), numbered(10, &[5])).unwrap();
    let mut config = Config::default();
    config.project.worktree_root = dir.join("wt").display().to_string();
    config.orchestrator.run_timeout = "20s".into();
    let script = format!("cp {0}/a.rs a.rs && cp {0}/b.rs b.rs", heads.display());
    config.executors.agents.insert(
        "agent".into(),
        ExecutorConfig {
            command: vec!["sh".into(), "-c".into(), script],
            ..ExecutorConfig::default()
        },
    );
    (Project::locate(Some(&repo)).unwrap(), config)
}

/// `open`, tried again for a moment while the store is locked by this very process: another
/// test's child, forked between our close of the lock file and its own exec, can hold the lock
/// for that long (the lock belongs to the open file, which the child shares until exec). The
/// same goes for the engine's own lock on its database file.
fn reopen<T, E: std::fmt::Display>(mut open: impl FnMut() -> Result<T, E>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match open() {
            Ok(v) => return v,
            Err(e)
                if (e.to_string().contains(&std::process::id().to_string())
                    || e.to_string().contains("could not acquire lock"))
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Runs the task once, up to awaiting approval; returns the run.
async fn awaiting(project: &Project, config: &Config) -> Run {
    let options = Options {
        schedule: true,
        exit_when_idle: true,
        ..Options::default()
    };
    let orchestrator = Orchestrator::open(project.clone(), config.clone(), options).unwrap();
    let store = orchestrator.store();
    orchestrator.spawn().done.await.unwrap().unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, RunStatus::AwaitingApproval, "{runs:?}");
    runs[0].clone()
}

/// Sends one command to a non-scheduling orchestrator (as the CLI does) and returns its
/// answer and the store's view afterwards.
async fn decide(
    project: &Project,
    config: &Config,
    make: impl FnOnce(oneshot::Sender<Result<Run, CommandError>>) -> Command,
) -> (
    Result<Run, CommandError>,
    Vec<Run>,
    Vec<String>,
    Vec<String>,
) {
    let orchestrator =
        reopen(|| Orchestrator::open(project.clone(), config.clone(), Options::default()));
    let store = orchestrator.store();
    let handle = orchestrator.spawn();
    let (tx, rx) = oneshot::channel();
    handle.commands.send(make(tx)).await.unwrap();
    let answer = rx.await.unwrap();
    handle.commands.send(Command::Shutdown).await.unwrap();
    handle.done.await.unwrap().unwrap();
    let runs = store.runs().unwrap();
    let notes = runs
        .iter()
        .flat_map(|r| store.events(&r.id).unwrap())
        .filter(|e| e.kind == "note")
        .map(|e| e.text)
        .collect();
    let audit = store
        .audit()
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.action, e.detail))
        .collect();
    (answer, runs, notes, audit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_approval_merges_only_the_kept_hunk_and_ticks_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let (project, config) = setup(dir.path());
    let run = awaiting(&project, &config).await;
    let repo = project.root.clone();

    let keep = vec![HunkRef::new("a.rs", 1)];
    let (answer, runs, notes, audit) = decide(&project, &config, |reply| Command::Approve {
        run: run.id.0.clone(),
        who: "tester".into(),
        note: String::new(),
        keep: Some(keep),
        message: None,
        deliver: None,
        reply,
    })
    .await;
    let merged = answer.unwrap();
    assert_eq!(merged.status, RunStatus::Merged);
    let show = |path: &str| common::git(&repo, &["show", &format!("main:{path}")]);
    assert_eq!(
        show("a.rs"),
        numbered(40, &[30]),
        "only the second hunk of a.rs"
    );
    assert_eq!(show("b.rs"), numbered(10, &[]), "b.rs's hunk was dropped");
    assert_eq!(
        show("TODO.md"),
        "- [x] Touch two files\n",
        "the task is ticked"
    );
    // The checkout of main followed and is clean.
    assert_eq!(
        std::fs::read_to_string(repo.join("a.rs")).unwrap(),
        numbered(40, &[30])
    );
    assert!(common::git(&repo, &["status", "--porcelain"]).is_empty());

    let what = "approved 1 of 3 hunks; dropped: a.rs#1, b.rs#1";
    let decision = runs[0].decision.clone().unwrap();
    assert_eq!(
        (decision.verdict.as_str(), decision.reason.as_str()),
        ("approve", what)
    );
    assert!(notes.iter().any(|n| n == what), "{notes:?}");
    assert!(
        audit
            .iter()
            .any(|a| a.starts_with("approve ") && a.ends_with(what)),
        "{audit:?}"
    );
    // The reversal is a commit of its own on the way, saying what it dropped; the gates
    // checked it before the merge.
    let log = common::git(&repo, &["log", "--format=%s", "main"]);
    assert!(
        log.contains("bosun: keep only the hunks the operator approved"),
        "{log}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("the kept hunks pass the required gates\ndiff pass")),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_hunk_choice_is_refused_and_the_run_stays_awaiting() {
    let dir = tempfile::tempdir().unwrap();
    let (project, config) = setup(dir.path());
    let run = awaiting(&project, &config).await;
    let (answer, runs, _, _) = decide(&project, &config, |reply| Command::Approve {
        run: run.id.0.clone(),
        who: "tester".into(),
        note: String::new(),
        keep: Some(vec![HunkRef::new("c.rs", 0)]),
        message: None,
        deliver: None,
        reply,
    })
    .await;
    let e = answer.unwrap_err();
    assert!(e.to_string().contains("no hunk c.rs#1"), "{e}");
    assert_eq!(runs[0].status, RunStatus::AwaitingApproval);
    let main = common::git(&project.root, &["show", "main:a.rs"]);
    assert_eq!(main, numbered(40, &[]), "nothing merged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_with_written_instructions_gives_them_to_the_next_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (project, config) = setup(dir.path());
    let run = awaiting(&project, &config).await;
    let instructions = "Only touch a.rs; keep b.rs as it is.";
    let (answer, runs, notes, audit) = decide(&project, &config, |reply| Command::Reject {
        run: run.id.0.clone(),
        who: "tester".into(),
        reason: "b.rs must not change".into(),
        retry: true,
        prompt: Some(format!("  {instructions}\n")),
        reply,
    })
    .await;
    assert_eq!(answer.unwrap().status, RunStatus::Rejected);
    let next = runs
        .iter()
        .find(|r| r.attempt == 2)
        .expect("another attempt is queued");
    assert_eq!(next.status, RunStatus::Queued);
    assert_eq!(next.feedback.as_deref(), Some(instructions));
    assert!(
        notes.iter().any(|n| n.contains("instructions")),
        "{notes:?}"
    );
    assert!(
        audit
            .iter()
            .any(|a| a.starts_with("reject+retry b.rs must not change;")),
        "{audit:?}"
    );

    // The queued attempt's instructions can be rewritten until it starts; a decided run's not.
    let rewritten = "Touch a.rs only, and add a test.";
    let (answer, runs, _, audit) = decide(&project, &config, |reply| Command::Instruct {
        run: next.id.0.clone(),
        who: "tester".into(),
        prompt: rewritten.into(),
        reply,
    })
    .await;
    assert_eq!(answer.unwrap().feedback.as_deref(), Some(rewritten));
    let stored = runs.iter().find(|r| r.id == next.id).unwrap();
    assert_eq!(stored.feedback.as_deref(), Some(rewritten));
    assert!(audit.iter().any(|a| a.starts_with("instruct")), "{audit:?}");
    let (answer, _, _, _) = decide(&project, &config, |reply| Command::Instruct {
        run: run.id.0.clone(),
        who: "tester".into(),
        prompt: rewritten.into(),
        reply,
    })
    .await;
    let e = answer.unwrap_err();
    assert!(e.to_string().contains("only a queued run"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// The review screen, driven like the console drives it: keys into `App::update`, background
// jobs run in place, on a real repository and a real store.

mod screen {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use bosun::config::Config;
    use bosun::git::HunkRef;
    use bosun::model::{
        Annotation, AnnotationCounts, AnnotationKind, GateResult, Run, RunId, RunStatus, Severity,
        TaskId, Verdict,
    };
    use bosun::store::Store;
    use bosun::tui::app::{JobContext, Tab};
    use bosun::tui::data::Data;
    use bosun::tui::review::Mode;
    use bosun::tui::theme::Theme;
    use bosun::tui::{App, Effect, Msg};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::style::Modifier;

    use super::common;

    /// The run every screen test reviews (its short id, `review`, shows on screen).
    pub const RUN: &str = "01j0000000000000000000review";

    fn config_rs(changed: bool) -> String {
        (1..=40)
            .map(|i| match (i, changed) {
                (5, true) => "fn f5() -> u32 { 5 } // TODO: cache this\n".to_string(),
                (30, true) => "pub fn load(path: &str) -> u32 { path.len() as u32 }\n".to_string(),
                _ => format!("fn f{i}() -> u32 {{ {i} }}\n"),
            })
            .collect()
    }

    fn annotation(
        kind: AnnotationKind,
        severity: Severity,
        path: &str,
        line: Option<u32>,
        symbol: Option<&str>,
        message: &str,
    ) -> Annotation {
        Annotation {
            kind,
            severity,
            path: path.into(),
            line,
            end_line: line,
            old_side: false,
            symbol: symbol.map(String::from),
            message: message.into(),
        }
    }

    fn gate(name: &str, verdict: Verdict, score: f64, summary: &str) -> GateResult {
        GateResult::new(name, verdict, score, summary.into(), String::new())
    }

    /// A run awaiting approval for `base..head`, with annotations and gate results.
    pub fn run(id: &str, base: &str, head: &str) -> Run {
        let mut judge = gate(
            "judge",
            Verdict::Pass,
            0.78,
            "meets the task; minor style issues",
        );
        judge.interval = Some((0.71, 0.85));
        Run {
            id: RunId(id.into()),
            task_id: TaskId("t-config".into()),
            task_title: "Load the config from a path".into(),
            attempt: 1,
            executor: "agent".into(),
            status: RunStatus::AwaitingApproval,
            branch: "bosun/load-the-config-review".into(),
            target: "main".into(),
            base: Some(base.into()),
            head: Some(head.into()),
            created_ms: 0,
            started_ms: Some(0),
            finished_ms: Some(0),
            usage: Default::default(),
            diffstat: Some((4, 5, 4)),
            gates: vec![
                gate("diff", Verdict::Pass, 1.0, "4 files changed"),
                gate("build", Verdict::Pass, 1.0, "cargo build passed"),
                gate("test", Verdict::Warn, 0.67, "41 passed, 2 skipped"),
                gate("semantic", Verdict::Warn, 0.5, "2 risks, 1 notice"),
                judge,
            ],
            score: Some(0.79),
            annotation_counts: AnnotationCounts::of(&annotations()),
            ..Run::queued(bosun::model::TaskId(String::new()), "", 1, "main")
        }
    }

    /// The annotations of [`run`]'s change.
    pub fn annotations() -> Vec<Annotation> {
        vec![
            annotation(
                AnnotationKind::ApiChanged,
                Severity::Risk,
                "src/config.rs",
                Some(30),
                Some("fn load"),
                "public fn load changed its signature",
            ),
            annotation(
                AnnotationKind::Secret,
                Severity::Risk,
                "src/token.rs",
                Some(2),
                None,
                "looks like an API key",
            ),
            annotation(
                AnnotationKind::TodoAdded,
                Severity::Info,
                "src/config.rs",
                Some(5),
                None,
                "TODO added",
            ),
            annotation(
                AnnotationKind::BinaryFile,
                Severity::Notice,
                "logo.png",
                None,
                None,
                "binary file changed",
            ),
        ]
    }

    /// A repository whose `main` is the base and whose branch `work` changes five units in
    /// four files: two hunks in `src/config.rs`, an added `src/token.rs`, a deleted
    /// `docs/old.md`, a changed binary `logo.png`. Returns (base, head).
    pub fn repository(root: &Path) -> (String, String) {
        common::git(root, &["init", "-q", "-b", "main"]);
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("src/config.rs"), config_rs(false)).unwrap();
        std::fs::write(root.join("docs/old.md"), "old\ndocs\n").unwrap();
        std::fs::write(root.join("logo.png"), b"\x89PNG\x00\x01old").unwrap();
        common::git(root, &["add", "-A"]);
        common::git(root, &["commit", "-q", "-m", "base"]);
        let base = common::git(root, &["rev-parse", "HEAD"]).trim().to_string();
        common::git(root, &["checkout", "-q", "-b", "work"]);
        std::fs::write(root.join("src/config.rs"), config_rs(true)).unwrap();
        std::fs::write(
            root.join("src/token.rs"),
            "pub const NAME: &str = \"svc\";\npub const KEY: &str = \"sk-live-0000\";\n\tpub const TABBED: u8 = 1;\n",
        )
        .unwrap();
        std::fs::remove_file(root.join("docs/old.md")).unwrap();
        std::fs::write(root.join("logo.png"), b"\x89PNG\x00\x02new").unwrap();
        common::git(root, &["add", "-A"]);
        common::git(root, &["commit", "-q", "-m", "work"]);
        let head = common::git(root, &["rev-parse", "HEAD"]).trim().to_string();
        common::git(root, &["checkout", "-q", "main"]);
        (base, head)
    }

    /// A console over a repository and a store holding `runs`.
    pub struct Fixture {
        pub _dir: tempfile::TempDir,
        /// The store the jobs read (tests write runs into it).
        pub store: Arc<Store>,
        pub cx: JobContext,
        pub app: App,
        pub base: String,
        pub head: String,
    }

    impl Fixture {
        pub fn new(width: u16, height: u16) -> Fixture {
            Fixture::with(width, height, repository)
        }

        /// A console over the repository `make` builds (it returns base and head).
        pub fn with(
            width: u16,
            height: u16,
            make: impl FnOnce(&Path) -> (String, String),
        ) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("repo");
            std::fs::create_dir(&root).unwrap();
            let (base, head) = make(&root);
            let store = Arc::new(Store::open(&root.join(".bosun")).unwrap());
            let mut run = run(RUN, &base, &head);
            store.put_run_annotated(&mut run, &annotations()).unwrap();
            Fixture::over(dir, root, store, vec![run], width, height, base, head)
        }

        #[allow(clippy::too_many_arguments)]
        pub fn over(
            dir: tempfile::TempDir,
            root: PathBuf,
            store: Arc<Store>,
            runs: Vec<Run>,
            width: u16,
            height: u16,
            base: String,
            head: String,
        ) -> Fixture {
            let mut data = Data {
                repo: "demo".into(),
                target: "main".into(),
                ..Data::default()
            };
            data.add_runs(runs);
            let mut app = App::new(data, Theme::default_theme(), 1);
            app.update(Msg::Resize(width, height));
            let local =
                bosun::control::Local::shared(store.clone(), root.clone(), &Config::default());
            let cx = JobContext::new(local, root.clone(), bosun::tui::Settings::default());
            Fixture {
                _dir: dir,
                store,
                cx,
                app,
                base,
                head,
            }
        }

        /// Carries out effects as the event loop would, running background jobs in place;
        /// returns the others (orchestrator commands).
        pub fn settle(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
            let mut queue = std::collections::VecDeque::from(effects);
            let mut out = Vec::new();
            while let Some(effect) = queue.pop_front() {
                match effect {
                    Effect::Load(job) => {
                        let msg = (job.0)(&self.cx);
                        queue.extend(self.app.update(msg));
                    }
                    other => out.push(other),
                }
            }
            out
        }

        pub fn open(&mut self, run: &str) {
            let effects = self.app.open_review(RunId(run.into()));
            assert!(self.settle(effects).is_empty());
            assert_eq!(self.app.tab, Tab::Review);
        }

        pub fn key_with(&mut self, code: KeyCode, modifiers: KeyModifiers) -> Vec<Effect> {
            let effects = self.app.update(Msg::Key(KeyEvent::new(code, modifiers)));
            self.settle(effects)
        }

        pub fn key(&mut self, code: KeyCode) -> Vec<Effect> {
            self.key_with(code, KeyModifiers::NONE)
        }

        pub fn keys(&mut self, text: &str) -> Vec<Effect> {
            text.chars()
                .flat_map(|c| self.key(KeyCode::Char(c)))
                .collect()
        }

        pub fn terminal(&self) -> Terminal<TestBackend> {
            let (w, h) = self.app.size;
            let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
            terminal
                .draw(|f| bosun::tui::app::render(&self.app, f))
                .unwrap();
            terminal
        }

        /// The screen as text, one line per row, trailing blanks trimmed.
        pub fn screen(&self) -> String {
            let terminal = self.terminal();
            let buffer = terminal.backend().buffer();
            let mut out = String::new();
            for y in 0..buffer.area.height {
                let mut line = String::new();
                for x in 0..buffer.area.width {
                    line.push_str(buffer[(x, y)].symbol());
                }
                out.push_str(line.trim_end());
                out.push('\n');
            }
            out
        }
    }

    #[test]
    fn the_review_screen_at_80x24_120x40_and_60x20() {
        for (w, h) in [(80, 24), (120, 40), (60, 20)] {
            let mut f = Fixture::new(w, h);
            f.open(RUN);
            insta::assert_snapshot!(format!("review_{w}x{h}"), f.screen());
        }
    }

    /// The run the board's focus lands on, awaiting approval, is read ahead after the first
    /// frame: its first screen only (no colours, not the rest, while the board shows); opening
    /// it then reads nothing again and asks for what was held back.
    #[test]
    fn the_focused_run_is_read_ahead_and_opens_without_reading_it_again() {
        let mut f = Fixture::new(120, 40);
        let mut task = bosun::intake::TaskList::parse_str(
            "- [ ] Load the config from a path\n",
            Path::new("TODO.md"),
            &Config::default().intake.type_rules(),
        )
        .tasks
        .remove(0);
        task.id = bosun::model::TaskId("t-config".into());
        f.app.data.tasks = Arc::new(vec![task]);
        f.app.board.column = 2;
        assert_eq!(
            bosun::tui::board::selected_run(&f.app.board, &f.app.data),
            Some(RunId(RUN.into()))
        );

        let ahead = f.app.prefetch();
        assert_eq!(ahead.len(), 1, "one job: the first screen");
        assert!(f.settle(ahead).is_empty());
        assert_eq!(f.app.tab, Tab::Board);
        assert!(f.app.review.prefetched);
        assert!(f.app.review.change.is_some());
        assert!(
            !f.app.review.highlights.in_flight,
            "no colours asked for on the board"
        );
        // A second look ahead (another frame) does nothing.
        assert!(f.app.prefetch().is_empty());

        let generation = f.app.review.generation;
        let opened = f.app.open_review(RunId(RUN.into()));
        assert!(!opened.is_empty(), "the colours are asked for now");
        assert_eq!(f.app.review.generation, generation, "not read again");
        assert!(!f.app.review.prefetched);
        assert!(f.settle(opened).is_empty());
        assert_eq!(f.app.tab, Tab::Review);
        assert!(f.screen().contains("src/config.rs"), "{}", f.screen());
        // Opening it again changes nothing.
        assert!(f.app.open_review(RunId(RUN.into())).is_empty());
    }

    #[test]
    fn slash_searches_the_diff_and_n_goes_through_the_matches() {
        let mut f = Fixture::new(120, 40);
        f.open(RUN);
        f.key(KeyCode::Char('/'));
        f.keys("LOAD");
        assert!(f.screen().contains("search: LOAD"), "{}", f.screen());
        f.key(KeyCode::Enter);
        let search = f.app.review.search.clone().expect("a search");
        assert!(search.rows.len() >= 2, "{search:?}");
        assert_eq!(f.app.review.cursor, search.rows[0]);
        let screen = f.screen();
        assert!(
            screen.contains(&format!("{} lines have \"LOAD\"", search.rows.len())),
            "{screen}"
        );
        f.key(KeyCode::Char('n'));
        assert_eq!(f.app.review.cursor, search.rows[1]);
        assert!(f.screen().contains("match 2 of"), "{}", f.screen());
        f.key(KeyCode::Char('N'));
        assert_eq!(f.app.review.cursor, search.rows[0]);
        // esc ends the search (n is the next hunk again), then goes back to the board.
        f.key(KeyCode::Esc);
        assert!(f.app.review.search.is_none());
        assert_eq!(f.app.tab, Tab::Review);
        f.key(KeyCode::Esc);
        assert_eq!(f.app.tab, Tab::Board);
        // Nothing found says so.
        f.open(RUN);
        f.key(KeyCode::Char('/'));
        f.keys("no such text");
        f.key(KeyCode::Enter);
        assert!(f.app.review.search.is_none());
        assert!(f.screen().contains("no line has \"no such text\""));
    }

    #[test]
    fn long_lines_scroll_sideways_and_changed_words_stand_out() {
        let mut f = Fixture::new(120, 40);
        f.open(RUN);
        // The added line 5 of src/config.rs gained a comment: its words are emphasised.
        let screen = f.terminal();
        let buffer = screen.backend().buffer().clone();
        let text = f.screen();
        let (y, row) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("+ fn f5() -> u32 { 5 } // TODO"))
            .unwrap_or_else(|| panic!("no added line 5:\n{text}"));
        let x = row.find("TODO").map(|b| row[..b].chars().count()).unwrap();
        let cell = &buffer[(x as u16, y as u16)];
        assert!(
            cell.modifier
                .contains(Modifier::BOLD | Modifier::UNDERLINED),
            "{cell:?}"
        );
        let x = row.find("f5()").map(|b| row[..b].chars().count()).unwrap();
        assert!(
            !buffer[(x as u16, y as u16)]
                .modifier
                .contains(Modifier::UNDERLINED)
        );
        // → scrolls the code by 8 columns, ← back.
        f.key(KeyCode::Right);
        assert_eq!(f.app.review.hscroll, 8);
        let scrolled = f.screen();
        assert!(scrolled.contains("+ -> u32 { 5 } // TODO"), "{scrolled}");
        f.key(KeyCode::Left);
        assert!(f.screen().contains("+ fn f5() -> u32 { 5 } // TODO"));
    }

    #[test]
    fn m_writes_the_commit_message_the_approval_merges_with() {
        let mut f = Fixture::new(120, 40);
        f.app.commit_message = "{type}: {title}".into();
        f.open(RUN);
        f.key(KeyCode::Char('m'));
        let screen = f.screen();
        assert!(
            screen.contains("Commit message of the approval"),
            "{screen}"
        );
        // The template's message, ready to be edited.
        assert!(
            screen.contains("code: Load the config from a path"),
            "{screen}"
        );
        f.key_with(KeyCode::Char('a'), KeyModifiers::CONTROL);
        f.key_with(KeyCode::Char('k'), KeyModifiers::CONTROL);
        f.keys("Read the config from a path");
        f.key_with(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(
            f.app.review.message.as_deref(),
            Some("Read the config from a path")
        );
        assert!(
            f.screen()
                .contains("the approval merges as: Read the config from a path")
        );
        f.key(KeyCode::Char('a'));
        assert!(
            f.screen()
                .contains("merging as: Read the config from a path")
        );
        let effects = f.key(KeyCode::Char('y'));
        assert_eq!(
            effects,
            [Effect::Approve {
                run: RunId(RUN.into()),
                keep: None,
                message: Some("Read the config from a path".into()),
                deliver: None,
            }]
        );
    }

    #[test]
    fn hunks_are_kept_or_dropped_and_the_approval_carries_the_kept_ones() {
        let mut f = Fixture::new(120, 40);
        f.open(RUN);
        // Files in path order: docs/old.md, logo.png, src/config.rs (2 hunks), src/token.rs.
        f.key(KeyCode::Char('n')); // docs/old.md's hunk
        f.key(KeyCode::Char(' '));
        f.keys("nnn"); // logo.png, config.rs#1, config.rs#2
        f.key(KeyCode::Char(' '));
        assert_eq!(f.app.review.kept(), (3, 5));
        let before = f.key(KeyCode::Char('a'));
        assert!(before.is_empty());
        assert!(matches!(f.app.review.mode, Mode::ConfirmApprove));
        insta::assert_snapshot!("review_confirm_partial_approval", f.screen());
        let effects = f.key(KeyCode::Char('y'));
        let keep = vec![
            HunkRef::new("logo.png", 0),
            HunkRef::new("src/config.rs", 0),
            HunkRef::new("src/token.rs", 0),
        ];
        assert_eq!(
            effects,
            [Effect::Approve {
                run: RunId(RUN.into()),
                keep: Some(keep),
                message: None,
                deliver: None,
            }]
        );
        assert!(f.screen().contains("approving 3 of 5 hunks…"));
        // What was sent is said until the run's status moves on.
        let mut moved = f.app.data.runs[&RunId(RUN.into())].clone();
        moved.status = RunStatus::Failed;
        f.app
            .update(Msg::Orchestrator(bosun::orchestrator::Event::Run {
                run: Box::new(moved.clone()),
            }));
        assert!(!f.screen().contains("approving"), "{}", f.screen());
        moved.status = RunStatus::AwaitingApproval;
        f.app
            .update(Msg::Orchestrator(bosun::orchestrator::Event::Run {
                run: Box::new(moved),
            }));
        // Any other key cancels a confirmation; all hunks kept approves the whole change.
        f.key(KeyCode::Char('g'));
        f.key(KeyCode::Char('n'));
        f.key(KeyCode::Char(' '));
        f.keys("nnn");
        f.key(KeyCode::Char(' '));
        assert_eq!(f.app.review.kept(), (5, 5));
        f.key(KeyCode::Char('a'));
        assert!(f.key(KeyCode::Char('x')).is_empty());
        assert!(matches!(f.app.review.mode, Mode::Browse));
        f.key(KeyCode::Char('a'));
        assert_eq!(
            f.key(KeyCode::Enter),
            [Effect::Approve {
                run: RunId(RUN.into()),
                keep: None,
                message: None,
                deliver: None,
            }]
        );
    }

    #[test]
    fn a_file_header_toggles_the_whole_file_and_nothing_kept_cannot_be_approved() {
        let mut f = Fixture::new(80, 24);
        f.open(RUN);
        // To src/config.rs's header: ] moves file by file.
        f.keys("]]");
        f.key(KeyCode::Char(' '));
        assert_eq!(f.app.review.kept(), (3, 5));
        f.key(KeyCode::Char(' '));
        assert_eq!(f.app.review.kept(), (5, 5));
        f.key(KeyCode::Char('g'));
        // Drop everything, file by file.
        for _ in 0..4 {
            f.key(KeyCode::Char(' '));
            f.key(KeyCode::Char(']'));
        }
        assert_eq!(f.app.review.kept(), (0, 5));
        assert!(f.key(KeyCode::Char('a')).is_empty());
        assert!(matches!(f.app.review.mode, Mode::Browse));
        assert!(f.screen().contains("no hunk is kept"), "{}", f.screen());
    }

    #[test]
    fn reject_asks_for_a_reason_then_retry_or_drop() {
        let mut f = Fixture::new(80, 24);
        f.open(RUN);
        f.key(KeyCode::Char('r'));
        assert!(matches!(f.app.review.mode, Mode::Reason { .. }));
        // While the reason is typed every key is text: `q` does not quit, `2` does not switch.
        assert!(f.keys("needs tests q2").is_empty());
        insta::assert_snapshot!("review_reject_reason", f.screen());
        f.key(KeyCode::Enter);
        assert!(matches!(f.app.review.mode, Mode::AskRetry { .. }));
        insta::assert_snapshot!("review_reject_retry_question", f.screen());
        assert_eq!(
            f.key(KeyCode::Char('y')),
            [Effect::Reject {
                run: RunId(RUN.into()),
                reason: "needs tests q2".into(),
                retry: true,
                prompt: None,
            }]
        );
        // Again, dropping it this time; an empty reason is refused; esc cancels.
        f.key(KeyCode::Char('r'));
        f.key(KeyCode::Enter);
        assert!(matches!(f.app.review.mode, Mode::Reason { .. }));
        f.key(KeyCode::Esc);
        assert!(matches!(f.app.review.mode, Mode::Browse));
        assert_eq!(f.app.tab, Tab::Review, "esc closed the dialog only");
        f.key(KeyCode::Char('r'));
        f.keys("wrong file");
        f.key(KeyCode::Enter);
        assert_eq!(
            f.key(KeyCode::Char('n')),
            [Effect::Reject {
                run: RunId(RUN.into()),
                reason: "wrong file".into(),
                retry: false,
                prompt: None,
            }]
        );
        f.key(KeyCode::Esc);
        assert_eq!(f.app.tab, Tab::Board, "esc goes back to the board");
    }

    #[test]
    fn the_next_attempts_instructions_can_be_written_before_a_retry() {
        let mut f = Fixture::new(80, 24);
        f.open(RUN);
        f.key(KeyCode::Char('r'));
        f.keys("too broad");
        f.key(KeyCode::Enter);
        f.key(KeyCode::Char('e'));
        assert!(matches!(f.app.review.mode, Mode::Instructions { .. }));
        f.key(KeyCode::Enter);
        f.keys("Change only src/config.rs.");
        insta::assert_snapshot!("review_instructions", f.screen());
        let effects = f.key_with(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(
            effects,
            [Effect::Reject {
                run: RunId(RUN.into()),
                reason: "too broad".into(),
                retry: true,
                prompt: Some(
                    "The operator rejected the previous attempt: too broad\nChange only src/config.rs."
                        .into()
                ),
            }]
        );
        // `e` straight from the diff: the reason, then the instructions.
        f.key(KeyCode::Char('e'));
        f.keys("x");
        f.key(KeyCode::Enter);
        assert!(matches!(f.app.review.mode, Mode::Instructions { .. }));
    }

    #[test]
    fn a_queued_retrys_instructions_are_written_from_the_rejected_run() {
        let mut f = Fixture::new(80, 24);
        let mut rejected = f.app.data.runs[&RunId(RUN.into())].clone();
        rejected.status = RunStatus::Rejected;
        let mut next = run("01j0000000000000000000zretry", "", "");
        next.status = RunStatus::Queued;
        next.attempt = 2;
        next.base = None;
        next.head = None;
        next.feedback = Some("The operator rejected the previous attempt: too broad".into());
        f.app.data.add_runs([rejected, next.clone()]);
        f.open(RUN);
        f.key(KeyCode::Char('e'));
        let Mode::Instructions { queued, text, .. } = &f.app.review.mode else {
            panic!("the instructions editor opens")
        };
        assert_eq!(queued.as_ref(), Some(&next.id));
        assert_eq!(
            text.lines(),
            ["The operator rejected the previous attempt: too broad"]
        );
        f.key(KeyCode::Enter);
        f.keys("Only src/config.rs.");
        assert_eq!(
            f.key_with(KeyCode::Char('s'), KeyModifiers::CONTROL),
            [Effect::Instruct {
                run: next.id.clone(),
                prompt:
                    "The operator rejected the previous attempt: too broad\nOnly src/config.rs."
                        .into()
            }]
        );
        // Approving or rejecting it again is not possible.
        assert!(f.key(KeyCode::Char('a')).is_empty());
        assert!(f.key(KeyCode::Char('r')).is_empty());
        assert!(matches!(f.app.review.mode, Mode::Browse));
    }

    #[test]
    fn decided_runs_are_read_only() {
        let mut f = Fixture::new(80, 24);
        let mut merged = f.app.data.runs[&RunId(RUN.into())].clone();
        merged.status = RunStatus::Merged;
        f.app
            .update(Msg::Orchestrator(bosun::orchestrator::Event::Run {
                run: Box::new(merged),
            }));
        f.open(RUN);
        for c in ['a', 'r', 'e'] {
            assert!(f.key(KeyCode::Char(c)).is_empty());
            assert!(matches!(f.app.review.mode, Mode::Browse));
        }
        assert!(
            f.screen()
                .contains("this run is merged: decided runs are read-only"),
            "{}",
            f.screen()
        );
    }

    #[test]
    fn best_of_shows_the_other_candidate_and_o_switches_to_it() {
        let mut f = Fixture::new(120, 40);
        let rival_id = "01j0000000000000000000rival0";
        let mut rival = run(rival_id, &f.base, &f.head);
        rival.score = Some(0.5);
        rival.diffstat = Some((2, 7, 1));
        rival.rival = Some(RunId(RUN.into()));
        let mut main = f.app.data.runs[&RunId(RUN.into())].clone();
        main.rival = Some(RunId(rival_id.into()));
        for r in [&main, &rival] {
            f.store.put_run(r).unwrap();
        }
        f.app.data.add_runs([main, rival]);
        f.open(RUN);
        let screen = f.screen();
        assert!(screen.contains("vs rival0 0.50 +7 −1/2 (o)"), "{screen}");
        f.key(KeyCode::Char('o'));
        assert_eq!(f.app.review.run, Some(RunId(rival_id.into())));
        assert!(
            f.screen()
                .contains(&format!("vs {} ", &RUN[RUN.len() - 6..]))
        );
        // The board shows the candidate that outranks the other (here the higher score).
        let task = f.app.data.runs[&RunId(RUN.into())].task_id.clone();
        assert_eq!(
            f.app.data.latest_run(&task).map(|r| r.id.0.as_str()),
            Some(RUN)
        );
    }

    #[test]
    fn a_late_load_for_another_run_is_dropped() {
        let mut f = Fixture::new(80, 24);
        let other = run("01j0000000000000000000other0", &f.base, &f.head);
        f.store.put_run(&other).unwrap();
        f.app.data.add_runs([other.clone()]);
        let first = f.app.open_review(RunId(RUN.into()));
        let second = f.app.open_review(other.id.clone());
        // The first answer arrives after the second request: it is dropped.
        let mut rest = Vec::new();
        for effect in first {
            let Effect::Load(job) = effect else { panic!() };
            rest.extend(f.app.update((job.0)(&f.cx)));
        }
        assert!(f.app.review.change.is_none());
        assert!(rest.is_empty());
        f.settle(second);
        let shown = f.app.review.change.as_ref().unwrap();
        assert_eq!(shown.run.id, other.id);
    }

    /// Bug: a failed run's review said only "is failed: it has no change to review yet";
    /// gate summaries were cut mid-word and their lines ran together.
    #[test]
    fn a_failed_run_shows_why_with_its_gates_and_the_end_of_its_log() {
        let mut f = Fixture::new(120, 40);
        let mut failed = run("01j0000000000000000000failed", "", "");
        failed.status = RunStatus::Failed;
        failed.base = None;
        failed.head = None;
        failed.error = Some(
            "the build gate failed on every attempt: no version found (looked in Cargo.toml and VERSION)"
                .into(),
        );
        failed.gates = vec![gate(
            "build",
            Verdict::Fail,
            0.0,
            "error[E0425]: cannot find value `x` in this scope\nsrc/lib.rs:3:5\nsrc/lib.rs:9:1",
        )];
        f.store.put_run(&failed).unwrap();
        let log = bosun::project::run_log_path(
            &f.cx.repo_root.join(bosun::project::STATE_DIR),
            &failed.id,
        );
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        let lines: String = (1..=300).map(|i| format!("agent line {i}\n")).collect();
        std::fs::write(&log, lines).unwrap();
        f.open(&failed.id.0);
        let screen = f.screen();
        assert!(screen.contains("Why it ended without a change"), "{screen}");
        // Wrapped at a word, not cut.
        assert!(
            screen.contains("no version found (looked in Cargo.toml and\n"),
            "{screen}"
        );
        assert!(screen.contains("│VERSION)\n"), "{screen}");
        assert!(
            screen.contains("│ agent line 300"),
            "the log's last line:\n{screen}"
        );
        assert!(!screen.contains("│ agent line 1\n"), "{screen}");
        assert!(screen.contains("its last"), "{screen}");
        // The gate's summary, line by line.
        assert!(screen.contains("src/lib.rs:3:5"), "{screen}");
        assert!(screen.contains("src/lib.rs:9:1"), "{screen}");
        assert!(!screen.contains("src/lib.rs:3:5src"), "{screen}");
        insta::assert_snapshot!("review_failed_run_120x40", screen);
    }

    #[test]
    fn a_run_without_a_change_says_why() {
        let mut f = Fixture::new(80, 24);
        let mut queued = run("01j0000000000000000000queued", "", "");
        queued.status = RunStatus::Queued;
        queued.base = None;
        queued.head = None;
        f.store.put_run(&queued).unwrap();
        f.open(&queued.id.0);
        assert!(
            f.screen()
                .contains("is queued: it has no change to review yet"),
            "{}",
            f.screen()
        );
    }

    #[test]
    fn code_is_highlighted_once_the_job_answers_and_moving_is_smooth() {
        let mut f = Fixture::new(120, 40);
        f.open(RUN);
        assert!(!f.app.review.highlights.chunks.is_empty());
        assert!(!f.app.review.highlights.in_flight);
        // A `fn` keyword of src/config.rs is drawn in a syntax color (not the plain text one).
        let terminal = f.terminal();
        let buffer = terminal.backend().buffer();
        let theme = Theme::default_theme();
        let colored = (0..buffer.area.height).any(|y| {
            (0..buffer.area.width.saturating_sub(2)).any(|x| {
                let cell = &buffer[(x, y)];
                cell.symbol() == "f"
                    && buffer[(x + 1, y)].symbol() == "n"
                    && cell.fg != theme.text
                    && cell.fg != theme.added
                    && cell.fg != theme.removed
                    && matches!(cell.fg, ratatui::style::Color::Rgb(..))
            })
        });
        assert!(colored, "{}", f.screen());
        // Scrolling within cached rows asks for nothing more.
        assert!(
            f.app
                .update(Msg::Key(KeyEvent::new(
                    KeyCode::Char('j'),
                    KeyModifiers::NONE
                )))
                .is_empty()
        );
    }

    /// A repository whose change rewrites 60 files (more than the first screen's load takes):
    /// (base, head).
    fn sixty_files(root: &std::path::Path) -> (String, String) {
        common::git(root, &["init", "-q", "-b", "main"]);
        let write = |tag: &str| {
            for i in 0..60 {
                std::fs::write(root.join(format!("f{i:02}.txt")), format!("{tag} {i}\n")).unwrap();
            }
            common::git(root, &["add", "-A"]);
            common::git(root, &["commit", "-q", "-m", tag]);
            common::git(root, &["rev-parse", "HEAD"]).trim().to_string()
        };
        (write("old"), write("new"))
    }

    #[test]
    fn a_large_change_shows_its_first_files_first_and_keeps_choices_when_the_rest_arrives() {
        let mut f = Fixture::with(80, 24, sixty_files);
        // Notes on a file shown first and on one that comes later, and a risk on the last.
        let noted = [
            ("f01.txt", Severity::Info),
            ("f55.txt", Severity::Info),
            ("f59.txt", Severity::Risk),
        ];
        let noted: Vec<Annotation> = noted
            .into_iter()
            .map(|(path, severity)| Annotation {
                kind: AnnotationKind::OutsideScope,
                severity,
                path: path.into(),
                line: Some(1),
                end_line: None,
                old_side: false,
                symbol: None,
                message: format!("note on {path}"),
            })
            .collect();
        let mut run = f.store.run(&RunId(RUN.into())).unwrap().unwrap();
        f.store.put_run_annotated(&mut run, &noted).unwrap();
        let mut effects = f.app.open_review(RunId(RUN.into()));
        let Some(Effect::Load(job)) = effects.pop() else {
            panic!("a load job")
        };
        let mut rest = f.app.update((job.0)(&f.cx));
        {
            let change = f
                .app
                .review
                .change
                .as_ref()
                .expect("the first files are shown");
            assert_eq!((change.diff.files.len(), change.pending), (20, 40));
            // The first files' notes and every risk (the card's) are read; not the rest.
            let paths: Vec<&str> = change.annotations.iter().map(|a| a.path.as_str()).collect();
            assert_eq!(paths, ["f59.txt", "f01.txt"]);
            assert!(
                change.card.join("\n").contains("note on f59.txt"),
                "{:?}",
                change.card
            );
        }
        assert!(
            f.screen().contains("loading 40 more files"),
            "{}",
            f.screen()
        );
        rest.extend(f.key(KeyCode::Char('n')));
        f.key(KeyCode::Char(' '));
        assert!(f.key(KeyCode::Char('a')).is_empty());
        assert!(
            matches!(f.app.review.mode, Mode::Browse),
            "no approval while loading"
        );
        // The rest arrives (with the highlighting asked for meanwhile).
        f.settle(rest);
        let change = f.app.review.change.as_ref().unwrap();
        assert_eq!((change.diff.files.len(), change.pending), (60, 0));
        assert_eq!(change.annotations, noted);
        assert_eq!(f.app.review.kept(), (59, 60), "the choice survived");
        f.key(KeyCode::Char('a'));
        let effects = f.key(KeyCode::Char('y'));
        let [
            Effect::Approve {
                keep: Some(keep), ..
            },
        ] = &effects[..]
        else {
            panic!("{effects:?}")
        };
        assert_eq!(keep.len(), 59);
        assert!(!keep.contains(&HunkRef::new("f00.txt", 0)));
    }

    /// `G` pressed while only the first files are here goes to the end of the whole change
    /// once it arrives (it stopped at the end of the first files); moving away meanwhile
    /// keeps the cursor where the operator put it.
    #[test]
    fn end_pressed_while_loading_reaches_the_end_of_the_whole_change() {
        for moved_away in [false, true] {
            let mut f = Fixture::with(80, 24, sixty_files);
            let mut effects = f.app.open_review(RunId(RUN.into()));
            let Some(Effect::Load(job)) = effects.pop() else {
                panic!("a load job")
            };
            let mut rest = f.app.update((job.0)(&f.cx));
            rest.extend(f.key(KeyCode::Char('G')));
            let first_end = f.app.review.cursor;
            assert!(
                f.screen().contains("40 more files are loading"),
                "{}",
                f.screen()
            );
            if moved_away {
                rest.extend(f.key(KeyCode::Char('k')));
            }
            f.settle(rest);
            let change = f.app.review.change.as_ref().unwrap();
            assert_eq!(change.pending, 0);
            let cursor = f.app.review.cursor;
            if moved_away {
                assert_eq!(cursor, first_end - 1, "left where the operator moved it");
            } else {
                assert_eq!(cursor, change.rows.len() - 1, "the end of all 60 files");
                assert!(f.screen().contains("f59.txt"), "{}", f.screen());
            }
        }
    }

    #[test]
    fn colors_made_with_the_old_theme_are_dropped_and_asked_again() {
        let mut f = Fixture::new(80, 24);
        let effects = f.app.open_review(RunId(RUN.into()));
        let mut queue = Vec::new();
        for e in effects {
            let Effect::Load(job) = e else { panic!() };
            queue.extend(f.app.update((job.0)(&f.cx)));
        }
        let (Some(Effect::Load(stale)), true) = (queue.pop(), queue.is_empty()) else {
            panic!("one highlight job")
        };
        // The theme changes while the job runs: nothing more is asked yet (one job at a time).
        assert!(f.key(KeyCode::Char('t')).is_empty());
        let again = f.app.update((stale.0)(&f.cx));
        assert!(
            f.app.review.highlights.chunks.is_empty(),
            "the old colors are dropped"
        );
        assert_eq!(again.len(), 1, "and asked again with the new theme");
        f.settle(again);
        assert!(!f.app.review.highlights.chunks.is_empty());
        assert_eq!(f.app.review.highlights.theme, f.app.theme.syntax);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hunks_chosen_on_screen_are_the_hunks_merged() {
        let dir = tempfile::tempdir().unwrap();
        let (project, config) = super::setup(dir.path());
        let run = super::awaiting(&project, &config).await;
        // The console reads the store the orchestrator left.
        let keep = {
            let store = Arc::new(super::reopen(|| Store::open(&project.root.join(".bosun"))));
            let mut f = Fixture::over(
                tempfile::tempdir().unwrap(),
                project.root.clone(),
                store,
                vec![run.clone()],
                80,
                24,
                String::new(),
                String::new(),
            );
            f.open(&run.id.0);
            // a.rs has two hunks, b.rs one: drop a.rs's first and b.rs's.
            f.keys("n n");
            f.keys("n ");
            f.key(KeyCode::Char('a'));
            let effects = f.key(KeyCode::Char('y'));
            let [Effect::Approve { keep, .. }] = &effects[..] else {
                panic!("{effects:?}")
            };
            keep.clone()
        };
        assert_eq!(keep, Some(vec![HunkRef::new("a.rs", 1)]));
        let (answer, _, _, _) = super::decide(&project, &config, |reply| {
            bosun::orchestrator::Command::Approve {
                run: run.id.0.clone(),
                who: "tester".into(),
                note: String::new(),
                keep,
                message: None,
                deliver: None,
                reply,
            }
        })
        .await;
        answer.unwrap();
        let main = common::git(&project.root, &["show", "main:a.rs"]);
        assert_eq!(main, super::numbered(40, &[30]));
    }
}

/// Timings of the review screen on the 100,000-changed-line diff of `benches/semantic.rs`
/// (500 Rust files, 200 changed lines each): `cargo test --release --test console_review
/// -- --ignored --nocapture large_diff`. Not a benchmark run by default: it prints numbers.
#[test]
#[ignore]
fn large_diff_timings() {
    use std::time::Instant;

    use bosun::tui::review::Change;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn source(i: usize, functions: usize, variant: &str) -> String {
        let mut s =
            format!("//! Module {i}.\n\npub struct S{i} {{\n    value: u32,\n}}\n\nimpl S{i} {{\n");
        for f in 0..functions / 2 {
            s.push_str(&format!(
                "    pub fn get_{f}(&self, x: u32) -> u32 {{\n        self.value + x * {f} {variant}\n    }}\n\n"
            ));
        }
        s.push_str("}\n\n");
        for f in 0..functions / 2 {
            s.push_str(&format!(
                "fn helper_{f}(a: u32) -> u32 {{\n    let b = a + {f};\n    b * 2 {variant}\n}}\n\n"
            ));
        }
        s
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::git(root, &["init", "-q", "-b", "main"]);
    for i in 0..500 {
        let sub = root.join(format!("src/m{}", i % 25));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}.rs")), source(i, 100, "")).unwrap();
    }
    common::git(root, &["add", "-A"]);
    common::git(root, &["commit", "-q", "-m", "base"]);
    let base = common::git(root, &["rev-parse", "HEAD"]).trim().to_string();
    for i in 0..500 {
        let path = root.join(format!("src/m{}/f{i}.rs", i % 25));
        std::fs::write(path, source(i, 100, "+ 1")).unwrap();
    }
    common::git(root, &["add", "-A"]);
    common::git(root, &["commit", "-q", "-m", "head"]);
    let head = common::git(root, &["rev-parse", "HEAD"]).trim().to_string();

    let store = std::sync::Arc::new(bosun::store::Store::open(&root.join(".bosun")).unwrap());
    let run = screen::run(screen::RUN, &base, &head);
    store.put_run(&run).unwrap();
    let mut f = screen::Fixture::over(
        tempfile::tempdir().unwrap(),
        root.to_path_buf(),
        store,
        vec![run],
        120,
        40,
        base.clone(),
        head.clone(),
    );
    let t = Instant::now();
    let diff = bosun::diff::load(root, &base, &head).unwrap();
    let parse = t.elapsed();
    let t = Instant::now();
    let run = f.app.data.runs.values().next().unwrap().clone();
    let change = Change::new(run, Vec::new(), diff);
    let index = t.elapsed();
    println!(
        "{} files, {} changed lines, {} rows: diff::load {parse:?}, row index {index:?}",
        change.diff.files.len(),
        change.diff.insertions() + change.diff.deletions(),
        change.rows.len()
    );

    // Open: the load job (store + git + index), then the message applied and the first frame.
    let t = Instant::now();
    let mut effects = f.app.open_review(bosun::model::RunId(screen::RUN.into()));
    let bosun::tui::Effect::Load(job) = effects.remove(0) else {
        panic!("opening a run starts a load job")
    };
    let msg = (job.0)(&f.cx);
    let job_time = t.elapsed();
    let t = Instant::now();
    let effects = f.app.update(msg);
    let mut terminal = f.terminal();
    let first_frame = t.elapsed();
    println!(
        "open: first files' job {job_time:?}; update + first frame (plain) {first_frame:?}; \
         total {:?}",
        job_time + first_frame
    );
    for effect in effects {
        let bosun::tui::Effect::Load(job) = effect else {
            panic!("only jobs")
        };
        let t = Instant::now();
        let msg = (job.0)(&f.cx);
        let took = t.elapsed();
        let what = match &msg {
            bosun::tui::Msg::Review(loaded) => match **loaded {
                bosun::tui::review::Loaded::Change { .. } => "the whole change",
                bosun::tui::review::Loaded::Highlight { .. } => "highlighting the first screen",
            },
            _ => "?",
        };
        let t = Instant::now();
        let more = f.app.update(msg);
        println!("{what}: job {took:?}, update {:?}", t.elapsed());
        f.settle(more);
    }
    assert!(matches!(
        f.app.review.change.as_ref().map(|c| c.rows.len()),
        Some(n) if n > 100_000
    ));

    // Keys: update + redraw, highlighting jobs excluded (they run off the loop).
    for (name, code) in [
        ("j", KeyCode::Char('j')),
        ("PgDn", KeyCode::PageDown),
        ("n", KeyCode::Char('n')),
        ("]", KeyCode::Char(']')),
        ("G", KeyCode::Char('G')),
        ("space", KeyCode::Char(' ')),
    ] {
        let t = Instant::now();
        let effects = f.app.update(bosun::tui::Msg::Key(KeyEvent::new(
            code,
            KeyModifiers::NONE,
        )));
        terminal
            .draw(|frame| bosun::tui::app::render(&f.app, frame))
            .unwrap();
        let key = t.elapsed();
        let t = Instant::now();
        f.settle(effects);
        println!(
            "key {name}: update + frame {key:?} (highlight job after it {:?})",
            t.elapsed()
        );
    }
}

/// The review's rows place each annotation's gutter mark and note by line number: checked
/// against the plain reading of the rule (every annotation tried on every line) on random
/// files, hunks and annotations, on both sides.
mod placement {
    use bosun::model::{
        Annotation, AnnotationKind, Diff, FileDiff, Hunk, Line, LineKind, Severity,
    };
    use bosun::tui::review::{Change, Row};
    use proptest::prelude::*;

    /// A file whose hunks are `shapes` (old lines removed, new lines added, context around),
    /// in order, with gaps between them.
    fn file(path: &str, shapes: &[(u32, u32, u32)]) -> FileDiff {
        let (mut old_no, mut new_no) = (1u32, 1u32);
        let mut hunks = Vec::new();
        for &(gap, removed, added) in shapes {
            old_no += gap;
            new_no += gap;
            let (old_start, new_start) = (old_no, new_no);
            let mut lines = Vec::new();
            let mut push = |kind, old: Option<u32>, new: Option<u32>| {
                lines.push(Line {
                    kind,
                    old_no: old,
                    new_no: new,
                    text: "x".into(),
                    no_newline: false,
                })
            };
            push(LineKind::Context, Some(old_no), Some(new_no));
            (old_no, new_no) = (old_no + 1, new_no + 1);
            for _ in 0..removed {
                push(LineKind::Removed, Some(old_no), None);
                old_no += 1;
            }
            for _ in 0..added {
                push(LineKind::Added, None, Some(new_no));
                new_no += 1;
            }
            push(LineKind::Context, Some(old_no), Some(new_no));
            (old_no, new_no) = (old_no + 1, new_no + 1);
            hunks.push(Hunk {
                old_start,
                old_lines: old_no - old_start,
                new_start,
                new_lines: new_no - new_start,
                header: String::new(),
                lines,
            });
        }
        FileDiff {
            old_path: Some(path.into()),
            new_path: Some(path.into()),
            status: bosun::model::ChangeStatus::Modified,
            binary: false,
            mode_change: None,
            hunks,
        }
    }

    /// The rows of one file's lines and notes as the rule reads: a line's mark is the worst
    /// annotation covering it on its side; a note goes under the first line carrying its first
    /// line number on its side, else after the file (under its header when no hunk's range
    /// holds it).
    fn expected(file: &FileDiff, annotations: &[Annotation]) -> Vec<Row> {
        let side = |a: &Annotation, l: &Line| if a.old_side { l.old_no } else { l.new_no };
        let in_some_hunk = |a: &Annotation| {
            a.line.is_some_and(|n| {
                file.hunks.iter().any(|h| {
                    let (start, len) = if a.old_side {
                        (h.old_start, h.old_lines)
                    } else {
                        (h.new_start, h.new_lines)
                    };
                    n >= start && n < start + len.max(1)
                })
            })
        };
        let mut rows = vec![Row::File { file: 0 }];
        let mut shown: Vec<bool> = annotations.iter().map(|a| !in_some_hunk(a)).collect();
        for (i, _) in annotations.iter().enumerate().filter(|(i, _)| shown[*i]) {
            rows.push(Row::Note {
                file: 0,
                hunk: None,
                annotation: i as u32,
            });
        }
        for (h, hunk) in file.hunks.iter().enumerate() {
            rows.push(Row::Hunk {
                file: 0,
                hunk: h as u32,
            });
            for (li, line) in hunk.lines.iter().enumerate() {
                let mark = annotations
                    .iter()
                    .filter(|a| {
                        let last = a.end_line.or(a.line);
                        matches!((side(a, line), a.line, last), (Some(n), Some(f), Some(l)) if n >= f && n <= l)
                    })
                    .map(|a| a.severity)
                    .max();
                rows.push(Row::Line {
                    file: 0,
                    hunk: h as u32,
                    line: li as u32,
                    mark,
                });
                for (i, a) in annotations.iter().enumerate() {
                    if !shown[i] && side(a, line).is_some() && side(a, line) == a.line {
                        shown[i] = true;
                        rows.push(Row::Note {
                            file: 0,
                            hunk: Some(h as u32),
                            annotation: i as u32,
                        });
                    }
                }
            }
        }
        for (i, _) in annotations.iter().enumerate().filter(|(i, _)| !shown[*i]) {
            rows.push(Row::Note {
                file: 0,
                hunk: None,
                annotation: i as u32,
            });
        }
        rows
    }

    fn severity() -> impl Strategy<Value = Severity> {
        prop_oneof![
            Just(Severity::Info),
            Just(Severity::Notice),
            Just(Severity::Risk)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn marks_and_notes_sit_where_the_rule_puts_them(
            shapes in prop::collection::vec((0u32..6, 0u32..4, 0u32..4), 1..4),
            spans in prop::collection::vec(
                (any::<bool>(), prop::option::of(0u32..30), 0u32..4, any::<bool>(), severity()),
                0..12,
            ),
        ) {
            let f = file("a.rs", &shapes);
            let annotations: Vec<Annotation> = spans
                .into_iter()
                .map(|(old_side, line, len, ranged, severity)| Annotation {
                    kind: AnnotationKind::SymbolModified,
                    severity,
                    path: "a.rs".into(),
                    line,
                    end_line: if ranged { line.map(|l| l + len) } else { None },
                    old_side,
                    symbol: None,
                    message: "m".into(),
                })
                .collect();
            let want = expected(&f, &annotations);
            let run: bosun::model::Run = serde_json::from_value(serde_json::json!({
                "id": "r", "task_id": "t", "task_title": "", "attempt": 1, "executor": "",
                "status": "awaiting_approval", "branch": "", "target": "", "base": null,
                "head": null, "worktree": null, "pgid": null, "created_ms": 0,
                "started_ms": null, "finished_ms": null,
                "usage": {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0},
                "error": null, "feedback": null, "decision": null, "diffstat": null
            }))
            .unwrap();
            let change = Change::new(run, annotations, Diff { files: vec![f] });
            prop_assert_eq!(change.rows, want);
        }
    }
}

/// The console in this process lets the orchestrator begin its start only once the first
/// board is drawn: until then nothing of the start happens, and a command sent meanwhile is
/// not lost — it is carried out once the orchestrator runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_spawned_after_a_signal_starts_then_and_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let (project, config) = setup(dir.path());
    let options = Options {
        schedule: true,
        ..Options::default()
    };
    let orchestrator = Orchestrator::open(project, config, options).unwrap();
    let mut events = orchestrator.subscribe();
    let (go, signal) = oneshot::channel::<()>();
    let handle = orchestrator.spawn_after(async move { signal.await.is_ok() });
    handle.commands.send(Command::Pause).await.unwrap();
    let early = tokio::time::timeout(std::time::Duration::from_millis(300), events.recv()).await;
    assert!(
        early.is_err(),
        "the start began before the signal: {early:?}"
    );
    go.send(()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (mut tasks, mut paused) = (false, false);
    while !(tasks && paused) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let event = tokio::time::timeout(left, events.recv())
            .await
            .expect("the orchestrator started and took the pause")
            .unwrap();
        match event {
            bosun::api::Event::Tasks { .. } => tasks = true,
            bosun::api::Event::Paused { paused: true } => paused = true,
            _ => {}
        }
    }
    handle.commands.send(Command::Shutdown).await.unwrap();
    let _ = handle.done.await;
}
