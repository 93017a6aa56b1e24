//! Quality gates: checks that score every run's change before the operator sees it. The
//! built-in `diff` gate is a pure function of the diff; command gates run a shell command in
//! the run's worktree and read test counts from its output; the `judge` gate asks a model to
//! score the change. [`run_pipeline`] runs them in order (cheap first, the judge last) and
//! stops at a failing required gate when `fail_fast` is set.

pub mod base;
pub mod command;
pub mod diff;
pub mod dod;
pub mod judge;
pub mod policy;
pub mod semantic;
pub mod summary;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::config::{DodConfig, GatesConfig};
use crate::git::DiffSummary;
use crate::model::{Annotation, GateResult, Task, TaskType, Verdict};

pub use crate::config::values::{ALWAYS_ON, BUILT_IN_CHECKS, CONVENTIONAL};

/// What a gate looks at.
#[derive(Clone, Copy)]
pub struct GateContext<'a> {
    /// The task the run worked on.
    pub task: &'a Task,
    /// The run's worktree, at the run's head commit.
    pub worktree: &'a Path,
    /// The main repository (the worktree's parent), for reading the base commit.
    pub repo_root: &'a Path,
    /// The commit the run started from.
    pub base: &'a str,
    /// A directory gates may keep results in across runs (e.g. per base commit).
    pub cache_dir: &'a Path,
    /// Where the base commit is exported for running commands on it (kept between runs).
    pub base_dir: &'a Path,
    /// The change, base..head.
    pub diff: &'a DiffSummary,
    /// Environment for commands (the agents' extra variables and `BOSUN_*`).
    pub env: &'a [(String, String)],
    /// The run's log, where command output is appended.
    pub log_path: &'a Path,
    /// Most bytes of command output kept in the log.
    pub max_log_bytes: u64,
    /// Stops a running command.
    pub cancel: &'a CancellationToken,
    /// Results of the gates that ran before this one, in order.
    pub earlier: &'a [GateResult],
    /// What the semantic analysis found in the change.
    pub annotations: &'a [Annotation],
    /// The model router, for gates that ask a model (the judge); None when `[llm]` has no
    /// routes.
    pub chat: Option<&'a dyn crate::llm::Chat>,
    /// What the run's model calls are charged to.
    pub meter: Option<&'a crate::llm::Meter>,
    /// Told the process group of each command a gate starts, so it is recorded with the run
    /// and crash recovery can end it.
    pub on_start: &'a (dyn Fn(i32) + Send + Sync),
    /// The sandbox gate commands start in.
    pub sandbox: &'a crate::executors::sandbox::Sandbox,
    /// `[store] min_free_mb`: the run log stops taking a command's output below it.
    pub min_free_mb: u64,
}

/// A boxed gate future (gates are trait objects, so no `async fn` in the trait).
pub type GateFuture<'a> = Pin<Box<dyn Future<Output = GateResult> + Send + 'a>>;

/// A check on a run's change.
pub trait Gate: Send + Sync {
    /// The gate's name, as configured.
    fn name(&self) -> &str;
    /// Whether a failure fails the run (built-in checks: yes).
    fn required(&self) -> bool {
        true
    }
    /// Weight in the run's score (built-in checks: 1).
    fn weight(&self) -> f64 {
        1.0
    }
    /// Runs the gate.
    fn run<'a>(&'a self, cx: &'a GateContext<'a>) -> GateFuture<'a>;
}

/// The built-in diff gate as a [`Gate`].
pub struct DiffGate(pub crate::config::DiffGateConfig);

impl Gate for DiffGate {
    fn name(&self) -> &str {
        "diff"
    }
    fn run<'a>(&'a self, cx: &'a GateContext<'a>) -> GateFuture<'a> {
        Box::pin(async move { diff::check(cx.diff, &self.0) })
    }
}

/// The gates a task of type `task_type` goes through, in running order: `diff`; the built-in
/// checks its Definition of Done names; the command gates that apply to it, in name order;
/// `tests_added` (it reads the `test` gate's counts); `judge` last (the only one that costs
/// money, so a failing required gate before it spares the call).
///
/// A command gate, or the judge, applies when its `applies_to` lists the type; with no
/// `applies_to`, when the type's `[dod.TYPE]` names it or no Definition of Done names it at
/// all (a custom gate runs everywhere). A name the Definition of Done lists that is not
/// configured (`build` in a project without a build command, `judge` without a route) is left
/// out.
/// Whether a command gate is checked on the tip before any agent runs, and stops the queue
/// when it fails there: `preflight` (on for `build`), required, and not compared with the
/// base (`test` and `lint` count only what a change made worse).
pub fn blocks_when_broken(name: &str, gate: &crate::config::CommandGateConfig) -> bool {
    gate.preflights(name)
        && gate.required
        && !gate.compares_base(name)
        && !gate.command.trim().is_empty()
}

/// Runs the command gates `pick` chooses on `base` alone (exported beside the run
/// worktrees, results cached per base as the runs' comparisons cache them): each gate's
/// result there, or why it could not run.
pub async fn on_base(
    config: &crate::config::Config,
    repo_root: &std::path::Path,
    state_dir: &std::path::Path,
    base: &str,
    pick: impl Fn(&str, &crate::config::CommandGateConfig) -> bool,
    cancel: &CancellationToken,
    on_start: &(dyn Fn(i32) + Send + Sync),
) -> Vec<(String, Result<base::Observed, String>)> {
    let worktree_root = if config.project.worktree_root.is_empty() {
        crate::git::default_worktree_root(repo_root)
    } else {
        std::path::PathBuf::from(&config.project.worktree_root)
    };
    let base_dir = crate::orchestrator::beside(&worktree_root, ".base");
    let env = vec![("BOSUN_WORKTREE".to_string(), base_dir.display().to_string())];
    let sandbox = crate::executors::sandbox::Sandbox::for_gates(&config.sandbox);
    let place = command::Place {
        repo_root,
        base,
        cache_dir: &state_dir.join("cache").join("gates"),
        base_dir: &base_dir,
        env: &env,
        log_path: &state_dir.join("logs").join("preflight.log"),
        max_log_bytes: config.executors.max_log_bytes,
        cancel,
        on_start,
        sandbox: &sandbox,
        min_free_mb: config.store.min_free_mb,
    };
    let mut out = Vec::new();
    for (name, gate) in &config.gates.commands {
        if pick(name, gate) && !gate.command.trim().is_empty() {
            let result = command::CommandGate::new(name, gate).on_base(&place).await;
            out.push((name.clone(), result));
        }
    }
    out
}

/// Why a gate's result on the base says it fails, in a line: `None` when it passed.
pub fn failure(result: &Result<base::Observed, String>) -> Option<String> {
    match result {
        Ok(observed) if observed.passed => None,
        Ok(observed) if observed.first_error.is_empty() => Some(observed.exit.clone()),
        Ok(observed) => Some(format!("{}: {}", observed.exit, observed.first_error)),
        Err(e) => Some(e.clone()),
    }
}

pub fn for_task(
    gates: &GatesConfig,
    dod: &DodConfig,
    task_type: TaskType,
) -> Result<Vec<Box<dyn Gate>>, String> {
    let wanted = dod.for_type(task_type);
    let mut pipeline: Vec<Box<dyn Gate>> = vec![
        Box::new(DiffGate(gates.diff.clone())),
        Box::new(semantic::SyntaxGate),
        Box::new(semantic::SemanticGate),
    ];
    let mut last: Vec<Box<dyn Gate>> = Vec::new();
    let applies = |name: &str, applies_to: &[TaskType]| {
        if applies_to.is_empty() {
            wanted.iter().any(|w| w == name) || !dod.mentions(name)
        } else {
            applies_to.contains(&task_type)
        }
    };
    for name in wanted {
        match name.as_str() {
            "tests_added" => last.push(Box::new(TestsAdded)),
            "api_unchanged" => pipeline.push(Box::new(semantic::ApiUnchanged)),
            // Placed after the command gates below.
            judge::NAME => {}
            other => {
                if let Some(gate) = built_in(other, &dod.docs_paths)? {
                    pipeline.push(gate);
                }
            }
        }
    }
    for (name, gate) in &gates.commands {
        if applies(name, &gate.applies_to) {
            pipeline.push(Box::new(command::CommandGate::new(name, gate)));
        }
    }
    pipeline.extend(last);
    if !gates.judge.route.trim().is_empty() && applies(judge::NAME, &gates.judge.applies_to) {
        pipeline.push(Box::new(judge::JudgeGate::new(&gates.judge)));
    }
    Ok(pipeline)
}

/// A built-in Definition-of-Done check by name; None for names that are not built in.
fn built_in(name: &str, docs_paths: &[String]) -> Result<Option<Box<dyn Gate>>, String> {
    match dod::Check::from_name(name) {
        Some(check) => Ok(Some(Box::new(dod::DodGate::new(check, docs_paths)?))),
        None => Ok(None),
    }
}

/// `tests_added`: the change adds tests, and they all pass — read from the `test` gate's
/// comparison with the base commit.
struct TestsAdded;

impl Gate for TestsAdded {
    fn name(&self) -> &str {
        "tests_added"
    }
    fn run<'a>(&'a self, cx: &'a GateContext<'a>) -> GateFuture<'a> {
        Box::pin(async move { tests_added(cx.earlier) })
    }
}

fn tests_added(earlier: &[GateResult]) -> GateResult {
    let result = |verdict, score, summary: String| {
        GateResult::new("tests_added", verdict, score, summary, String::new())
    };
    let Some(test) = earlier.iter().find(|r| r.name == "test") else {
        return result(
            Verdict::Skip,
            0.0,
            "no `test` gate ran to count tests; configure [gates.test]".into(),
        );
    };
    let Some(delta) = &test.tests else {
        return result(
            Verdict::Skip,
            0.0,
            "the `test` gate printed no test counts".into(),
        );
    };
    let Some(base) = delta.base else {
        return result(
            Verdict::Skip,
            0.0,
            "the `test` gate did not run on the base commit (compare_base = false)".into(),
        );
    };
    let total = |c: summary::TestCounts| c.passed + c.failed + c.skipped;
    let (before, after) = (total(base), total(delta.head));
    if test.verdict == Verdict::Fail {
        // New failures or weakened tests; failures the base had too are not the change's.
        return result(
            Verdict::Fail,
            0.0,
            "the `test` gate failed: the new tests must pass".into(),
        );
    }
    if after > before {
        result(
            Verdict::Pass,
            1.0,
            format!("{before} → {after} tests, none newly failing"),
        )
    } else {
        result(
            Verdict::Fail,
            0.0,
            format!("no tests added: {before} before, {after} now"),
        )
    }
}

/// Progress of a pipeline, for live display.
#[derive(Debug, Clone)]
pub enum GateProgress<'a> {
    /// A gate started.
    Started(&'a str),
    /// A gate finished (or was skipped).
    Finished(&'a GateResult),
}

/// Runs `gates` for a change, reporting each start and result through `progress`.
/// With `fail_fast`, a failing required gate makes the remaining ones `skip`.
pub async fn run_pipeline(
    gates: &[Box<dyn Gate>],
    cx: &GateContext<'_>,
    fail_fast: bool,
    mut progress: impl FnMut(GateProgress<'_>),
) -> Vec<GateResult> {
    let mut results: Vec<GateResult> = Vec::with_capacity(gates.len());
    let mut stopped = false;
    for gate in gates {
        let result = if stopped {
            GateResult::skipped(
                gate.name(),
                "skipped: an earlier required gate failed",
                gate.required(),
                gate.weight(),
            )
        } else {
            progress(GateProgress::Started(gate.name()));
            let start = Instant::now();
            let here = GateContext {
                earlier: &results,
                ..*cx
            };
            let mut r = gate.run(&here).await;
            r.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            r.required = gate.required();
            r.weight = gate.weight();
            if !r.required && r.verdict == Verdict::Fail {
                r.verdict = Verdict::Warn;
            }
            r
        };
        if fail_fast && result.required && result.verdict == Verdict::Fail {
            stopped = true;
        }
        progress(GateProgress::Finished(&result));
        results.push(result);
    }
    results
}

/// Most bytes bosun reads of one file an agent or a gate command left (a changed file a
/// Definition of Done parses, a JUnit report).
pub const MAX_READ: u64 = 64 * 1024 * 1024;

/// Reads a file an agent or a command controls without trusting it: a symlink is not
/// followed (an error says so: it could point at a secret or at `/dev/zero`), nor is
/// anything but a regular file read, and a file over [`MAX_READ`] bytes is an error. `None`
/// when there is no such file.
pub fn read_untrusted(path: &Path) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let shown = path.display();
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(format!("{shown} is a symlink; bosun does not follow it"));
        }
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    if meta.len() > MAX_READ {
        return Err(format!("{shown} is larger than {MAX_READ} bytes"));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_READ + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    Ok(Some(bytes))
}

/// The first required gate that failed, if any.
pub fn first_failure(results: &[GateResult]) -> Option<&GateResult> {
    results
        .iter()
        .find(|r| r.required && r.verdict == Verdict::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_files_are_read_without_following_links_or_devices() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.yaml");
        std::fs::write(&plain, "k: v\n").unwrap();
        assert_eq!(read_untrusted(&plain).unwrap(), Some(b"k: v\n".to_vec()));
        assert_eq!(read_untrusted(&dir.path().join("missing")).unwrap(), None);
        let zero = dir.path().join("zero.yaml");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let err = read_untrusted(&zero).unwrap_err();
        assert!(err.contains("is a symlink"), "{err}");
        let err = read_untrusted(Path::new("/dev/zero")).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
    }
    use crate::config::{CommandGateConfig, Config};
    use crate::model::TestDelta;

    fn names(gates: &[Box<dyn Gate>]) -> Vec<&str> {
        gates.iter().map(|g| g.name()).collect()
    }

    fn command(applies_to: &[TaskType]) -> CommandGateConfig {
        CommandGateConfig {
            command: "true".into(),
            applies_to: applies_to.to_vec(),
            ..CommandGateConfig::default()
        }
    }

    #[test]
    fn the_definition_of_done_picks_the_gates_of_each_task_type() {
        let mut config = Config::default();
        for name in ["build", "test", "audit"] {
            config.gates.commands.insert(name.into(), command(&[]));
        }
        config
            .gates
            .commands
            .insert("e2e".into(), command(&[TaskType::Docs]));
        let pick =
            |config: &Config, t| names(&for_task(&config.gates, &config.dod, t).unwrap()).join(" ");
        // Unconfigured `lint` is left out; `audit`, named by no DoD, runs everywhere; `e2e`
        // runs where its applies_to says.
        assert_eq!(
            pick(&config, TaskType::Code),
            "diff syntax semantic audit build test"
        );
        assert_eq!(
            pick(&config, TaskType::Test),
            "diff syntax semantic audit build test tests_added"
        );
        assert_eq!(
            pick(&config, TaskType::Devops),
            "diff syntax semantic parses audit build"
        );
        assert_eq!(
            pick(&config, TaskType::Docs),
            "diff syntax semantic docs_only links audit e2e"
        );
        assert_eq!(
            pick(&config, TaskType::Release),
            "diff syntax semantic version_bump changelog audit build test"
        );
        config.dod.code.gates = vec!["diff".into(), "test".into()];
        assert_eq!(
            pick(&config, TaskType::Code),
            "diff syntax semantic audit test"
        );
    }

    #[test]
    fn the_judge_runs_last_where_it_applies_and_only_with_a_route() {
        let mut config = Config::default();
        config.gates.commands.insert("test".into(), command(&[]));
        let pick =
            |config: &Config, t| names(&for_task(&config.gates, &config.dod, t).unwrap()).join(" ");
        assert!(
            !pick(&config, TaskType::Code).contains("judge"),
            "no route, no judge"
        );
        config.dod.code.gates.push("judge".into());
        assert!(
            !pick(&config, TaskType::Code).contains("judge"),
            "no route, no judge"
        );

        config.gates.judge.route = "judge".into();
        // Named by the code DoD only: judged there, not elsewhere.
        assert_eq!(
            pick(&config, TaskType::Code),
            "diff syntax semantic test judge"
        );
        assert_eq!(
            pick(&config, TaskType::Test),
            "diff syntax semantic test tests_added"
        );
        // Named by no DoD: every type is judged, after tests_added.
        config.dod.code = Config::default().dod.code;
        assert_eq!(
            pick(&config, TaskType::Test),
            "diff syntax semantic test tests_added judge"
        );
        // applies_to decides when given.
        config.gates.judge.applies_to = vec![TaskType::Docs];
        assert!(!pick(&config, TaskType::Code).contains("judge"));
        assert!(pick(&config, TaskType::Docs).ends_with(" judge"));
        let judge = for_task(&config.gates, &config.dod, TaskType::Docs).unwrap();
        let judge = judge.last().unwrap();
        assert_eq!((judge.required(), judge.weight()), (false, 1.0));
    }

    fn test_gate(verdict: Verdict, base: Option<(u64, u64)>, head: (u64, u64)) -> GateResult {
        let counts = |(passed, failed): (u64, u64)| summary::TestCounts {
            passed,
            failed,
            skipped: 0,
        };
        GateResult {
            verdict,
            tests: Some(Box::new(TestDelta {
                head: counts(head),
                base: base.map(counts),
                ..TestDelta::default()
            })),
            ..GateResult::skipped("test", "", true, 1.0)
        }
    }

    #[test]
    fn built_in_names_are_the_dod_checks_and_tests_added() {
        let mut names: Vec<&str> = dod::Check::ALL.iter().map(|c| c.name()).collect();
        names.extend(["tests_added", "api_unchanged", "judge"]);
        assert_eq!(names, BUILT_IN_CHECKS);
    }

    #[test]
    fn tests_added_needs_more_tests_than_the_base_and_no_new_failure() {
        let check = |earlier: &[GateResult]| {
            let r = tests_added(earlier);
            (r.verdict, r.summary)
        };
        assert_eq!(
            check(&[test_gate(Verdict::Pass, Some((3, 1)), (4, 1))]),
            (Verdict::Pass, "4 → 5 tests, none newly failing".to_string())
        );
        assert_eq!(
            check(&[test_gate(Verdict::Pass, Some((3, 0)), (3, 0))]).0,
            Verdict::Fail
        );
        assert_eq!(
            check(&[test_gate(Verdict::Fail, Some((3, 0)), (3, 1))]).0,
            Verdict::Fail
        );
        assert_eq!(
            check(&[test_gate(Verdict::Pass, None, (3, 0))]).0,
            Verdict::Skip
        );
        assert_eq!(check(&[]).0, Verdict::Skip);
    }
}
