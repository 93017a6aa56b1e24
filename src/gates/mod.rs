//! Quality gates: checks that score every run's change before the operator sees it. The
//! built-in `diff` gate is a pure function of the diff; command gates run a shell command in
//! the run's worktree and read test counts from its output. [`run_pipeline`] runs them in
//! order (cheap first) and stops at a failing required gate when `fail_fast` is set.

pub mod command;
pub mod diff;
pub mod dod;
pub mod policy;
pub mod summary;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::config::GatesConfig;
use crate::git::DiffSummary;
use crate::model::{GateResult, Task, Verdict};

/// What a gate looks at.
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
    /// The change, base..head.
    pub diff: &'a DiffSummary,
    /// Environment for commands (the agents' extra variables and `BOSUN_*`).
    pub env: &'a [(String, String)],
    /// The run's log, where command output is appended.
    pub log_path: &'a Path,
    /// Most bytes of command output kept in the log.
    pub max_log_bytes: u64,
    /// Stops a running command.
    pub cancel: CancellationToken,
}

/// A boxed gate future (gates are trait objects, so no `async fn` in the trait).
pub type GateFuture<'a> = Pin<Box<dyn Future<Output = GateResult> + Send + 'a>>;

/// A check on a run's change.
pub trait Gate: Send + Sync {
    /// The gate's name, as configured.
    fn name(&self) -> &str;
    /// Whether a failure fails the run.
    fn required(&self) -> bool;
    /// Weight in the run's score.
    fn weight(&self) -> f64;
    /// Whether the gate applies to this task.
    fn applies_to(&self, task: &Task) -> bool;
    /// Runs the gate.
    fn run<'a>(&'a self, cx: &'a GateContext<'a>) -> GateFuture<'a>;
}

/// The built-in diff gate as a [`Gate`].
pub struct DiffGate(pub crate::config::DiffGateConfig);

impl Gate for DiffGate {
    fn name(&self) -> &str {
        "diff"
    }
    fn required(&self) -> bool {
        true
    }
    fn weight(&self) -> f64 {
        1.0
    }
    fn applies_to(&self, _task: &Task) -> bool {
        true
    }
    fn run<'a>(&'a self, cx: &'a GateContext<'a>) -> GateFuture<'a> {
        Box::pin(async move { diff::check(cx.diff, &self.0) })
    }
}

/// The gates a configuration describes, in running order: `diff`, then command gates by name.
pub fn from_config(config: &GatesConfig) -> Vec<Box<dyn Gate>> {
    let mut gates: Vec<Box<dyn Gate>> = vec![Box::new(DiffGate(config.diff.clone()))];
    for (name, gate) in &config.commands {
        gates.push(Box::new(command::CommandGate::new(name, gate)));
    }
    gates
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
    let mut results = Vec::with_capacity(gates.len());
    let mut stopped = false;
    for gate in gates {
        let result = if !gate.applies_to(cx.task) {
            GateResult::skipped(
                gate.name(),
                &format!("does not apply to {} tasks", cx.task.task_type),
                gate.required(),
                gate.weight(),
            )
        } else if stopped {
            GateResult::skipped(
                gate.name(),
                "skipped: an earlier required gate failed",
                gate.required(),
                gate.weight(),
            )
        } else {
            progress(GateProgress::Started(gate.name()));
            let start = Instant::now();
            let mut r = gate.run(cx).await;
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

/// The first required gate that failed, if any.
pub fn first_failure(results: &[GateResult]) -> Option<&GateResult> {
    results
        .iter()
        .find(|r| r.required && r.verdict == Verdict::Fail)
}
