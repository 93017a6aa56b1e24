//! Command gates (`[gates.NAME] command = "…"`): run in the run's worktree with the agents'
//! sandboxed environment; exit status 0 passes; test counts in the output set the score.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;

use super::base::{self, Observed, Tests};
use super::{Gate, GateContext, GateFuture, summary};
use crate::config::CommandGateConfig;
use crate::executors::{AgentRun, ExitKind, OutputFormat, run_agent};
use crate::git;
use crate::model::{GateResult, Verdict};

/// Most output kept in memory for reading test counts (the full output is in the run's log).
const KEEP_BYTES: usize = 4 * 1024 * 1024;
/// Lines of output shown as a failure's details (and fed back to the agent on a retry).
const DETAIL_LINES: usize = 30;

/// A configured command gate.
pub struct CommandGate {
    name: String,
    config: CommandGateConfig,
    timeout: Duration,
}

impl CommandGate {
    /// A gate named `name` with its settings (validated at config load).
    pub fn new(name: &str, config: &CommandGateConfig) -> Self {
        Self {
            name: name.to_string(),
            timeout: crate::config::duration(&config.timeout).unwrap_or(Duration::from_secs(600)),
            config: config.clone(),
        }
    }
}

impl Gate for CommandGate {
    fn name(&self) -> &str {
        &self.name
    }
    fn required(&self) -> bool {
        self.config.required
    }
    fn weight(&self) -> f64 {
        self.config.weight
    }
    fn run<'a>(&'a self, cx: &'a GateContext<'a>) -> GateFuture<'a> {
        Box::pin(async move { self.execute(cx).await })
    }
}

/// Where and how a gate's command runs, whether on a run's change or on the base commit alone
/// (before any agent runs: [`CommandGate::on_base`]).
pub struct Place<'a> {
    /// The operator's repository.
    pub repo_root: &'a Path,
    /// The base commit.
    pub base: &'a str,
    /// Where base results are cached.
    pub cache_dir: &'a Path,
    /// Where the base commit is exported to run commands on it.
    pub base_dir: &'a Path,
    /// Environment for the command.
    pub env: &'a [(String, String)],
    /// The log its output is appended to.
    pub log_path: &'a Path,
    /// Most bytes of output kept in the log.
    pub max_log_bytes: u64,
    /// Stops the command.
    pub cancel: &'a tokio_util::sync::CancellationToken,
    /// Told the command's process group.
    pub on_start: &'a (dyn Fn(i32) + Send + Sync),
    /// The sandbox the command starts in.
    pub sandbox: &'a crate::executors::sandbox::Sandbox,
    /// `[store] min_free_mb`.
    pub min_free_mb: u64,
}

impl<'a> GateContext<'a> {
    /// Where this context's commands run (the base's side of it).
    fn place(&self) -> Place<'a> {
        Place {
            repo_root: self.repo_root,
            base: self.base,
            cache_dir: self.cache_dir,
            base_dir: self.base_dir,
            env: self.env,
            log_path: self.log_path,
            max_log_bytes: self.max_log_bytes,
            cancel: self.cancel,
            on_start: self.on_start,
            sandbox: self.sandbox,
            min_free_mb: self.min_free_mb,
        }
    }
}

/// One run of the command: how it ended and what it printed.
struct Ran {
    exit: ExitKind,
    lines: VecDeque<String>,
}

impl CommandGate {
    /// Runs the command in `dir` (the worktree, or the base export).
    async fn run_in(
        &self,
        cx: &Place<'_>,
        dir: &Path,
        env: Vec<(String, String)>,
    ) -> Result<Ran, String> {
        if !self.config.junit.is_empty() {
            // A report left by an earlier run must not be read as this one's.
            let _ = std::fs::remove_file(dir.join(&self.config.junit));
        }
        let run = AgentRun {
            argv: vec!["sh".into(), "-c".into(), self.config.command.clone()],
            env,
            cwd: dir.to_path_buf(),
            timeout: self.timeout,
            log_path: cx.log_path.to_path_buf(),
            max_log_bytes: cx.max_log_bytes,
            format: OutputFormat::Plain,
            sandbox: cx.sandbox.clone(),
            min_free_mb: cx.min_free_mb,
        };
        let (line_tx, mut line_rx) = mpsc::channel::<crate::executors::OutputLine>(4096);
        let (progress_tx, _progress_rx) = mpsc::channel(1);
        let collector = tokio::spawn(async move {
            let mut kept: VecDeque<String> = VecDeque::new();
            let mut bytes = 0usize;
            while let Some(line) = line_rx.recv().await {
                bytes += line.text.len() + 1;
                kept.push_back(line.text);
                while bytes > KEEP_BYTES {
                    match kept.pop_front() {
                        Some(old) => bytes -= old.len() + 1,
                        None => break,
                    }
                }
            }
            kept
        });
        let outcome = run_agent(
            &run,
            |pgid| (cx.on_start)(pgid),
            line_tx,
            progress_tx,
            cx.cancel.clone(),
        )
        .await;
        let lines = collector.await.unwrap_or_default();
        let outcome = outcome.map_err(|e| e.to_string())?;
        Ok(Ran {
            exit: outcome.exit,
            lines,
        })
    }

    /// What a finished command showed: exit status, tests (from the JUnit report when one is
    /// configured, else from the output) and problem lines.
    fn observe(&self, ran: &Ran, dir: &Path) -> Observed {
        let tests = if self.config.junit.is_empty() {
            let output: String = ran.lines.iter().map(|l| format!("{l}\n")).collect();
            summary::report(&output).map(Tests::from)
        } else {
            super::read_untrusted(&dir.join(&self.config.junit))
                .ok()
                .flatten()
                .and_then(|xml| summary::junit_report(&String::from_utf8_lossy(&xml)))
                .map(Tests::from)
        };
        let lines: Vec<String> = ran.lines.iter().cloned().collect();
        Observed {
            passed: matches!(ran.exit, ExitKind::Exited(0)),
            exit: match ran.exit {
                ExitKind::Exited(code) => format!("exited with status {code}"),
                ExitKind::Signaled(sig) => format!("was killed by signal {sig}"),
                ExitKind::TimedOut => "timed out".into(),
                ExitKind::Cancelled => "was cancelled".into(),
            },
            tests,
            problems: base::problems(&lines),
            first_error: lines
                .iter()
                .find(|l| l.to_lowercase().contains("error"))
                .or_else(|| lines.iter().rev().find(|l| !l.trim().is_empty()))
                .map(|l| l.trim().chars().take(300).collect())
                .unwrap_or_default(),
        }
    }

    /// The command's result on the base commit, as [`CommandGate::base_result`] has it (and
    /// caches it): whether the gate can pass at all before any agent changes anything.
    pub async fn on_base(&self, place: &Place<'_>) -> Result<Observed, String> {
        // A cached failure is tried again: what broke it may have been fixed outside the
        // repository since (a toolchain installed, a service started) — a pass stays cached.
        self.base_result(place, true).await
    }

    /// The base commit's result: from the cache (a failing one only unless
    /// `recheck_failures`), else by running the command in the base export (one base at a
    /// time per process). Err says why there is none.
    async fn base_result(
        &self,
        cx: &Place<'_>,
        recheck_failures: bool,
    ) -> Result<Observed, String> {
        let file = base::cache_file(
            cx.cache_dir,
            cx.base,
            &self.name,
            &self.config.command,
            &self.config.junit,
        );
        let _one_at_a_time = base::BASE_LOCK.lock().await;
        if let Some(cached) = base::load(&file)
            && (cached.passed || !recheck_failures)
        {
            return Ok(cached);
        }
        let (repo, rev, dest) = (
            cx.repo_root.to_path_buf(),
            cx.base.to_string(),
            cx.base_dir.to_path_buf(),
        );
        tokio::task::spawn_blocking(move || git::export_tree(&repo, &rev, &dest))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot check out the base commit: {e}"))?;
        let env: Vec<(String, String)> = cx
            .env
            .iter()
            .map(|(k, v)| {
                if k == "BOSUN_WORKTREE" {
                    (k.clone(), cx.base_dir.display().to_string())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect();
        let ran = self.run_in(cx, cx.base_dir, env).await?;
        match ran.exit {
            ExitKind::Exited(_) => {}
            ExitKind::Cancelled => return Err("cancelled".into()),
            _ => {
                return Err(format!(
                    "on the base commit `{}` {}",
                    self.config.command,
                    self.observe(&ran, cx.base_dir).exit
                ));
            }
        }
        let observed = self.observe(&ran, cx.base_dir);
        if let Err(e) = base::save(&file, &observed) {
            tracing::warn!(file = %file.display(), "cannot cache a base result: {e}");
        }
        Ok(observed)
    }

    async fn execute(&self, cx: &GateContext<'_>) -> GateResult {
        let result = |verdict, score, summary: String, details: String| {
            GateResult::new(&self.name, verdict, score, summary, details)
        };
        let place = cx.place();
        let ran = match self.run_in(&place, cx.worktree, cx.env.to_vec()).await {
            Ok(r) => r,
            Err(e) => return result(Verdict::Fail, 0.0, e, String::new()),
        };
        let tail: Vec<&str> = ran
            .lines
            .iter()
            .rev()
            .take(DETAIL_LINES)
            .rev()
            .map(String::as_str)
            .collect();
        let details = tail.join("\n");
        match ran.exit {
            ExitKind::Exited(_) => {}
            ExitKind::Signaled(sig) => {
                return result(
                    Verdict::Fail,
                    0.0,
                    format!("was killed by signal {sig}"),
                    details,
                );
            }
            ExitKind::TimedOut => {
                return result(
                    Verdict::Fail,
                    0.0,
                    format!(
                        "did not finish within {}",
                        humantime::format_duration(self.timeout)
                    ),
                    details,
                );
            }
            ExitKind::Cancelled => return result(Verdict::Skip, 0.0, "cancelled".into(), details),
        }
        let head = self.observe(&ran, cx.worktree);
        let counts = head.tests.as_ref().map(|t| t.counts);
        let counted = counts.map(|c| {
            format!(
                "{} passed, {} failed, {} skipped",
                c.passed, c.failed, c.skipped
            )
        });
        let base = if self.config.compares_base(&self.name) {
            Some(self.base_result(&place, false).await)
        } else {
            None
        };
        if cx.cancel.is_cancelled() {
            return result(Verdict::Skip, 0.0, "cancelled".into(), details);
        }
        let (base, base_error) = match base {
            Some(Ok(b)) => (Some(b), None),
            Some(Err(e)) => (None, Some(e)),
            None => (None, None),
        };
        let comparison = base.as_ref().map(|b| base::compare(b, &head));
        let tests = base::delta(base.as_ref(), &head, comparison.as_ref());
        let mut r = match &comparison {
            Some(c) => {
                // The score is the share of tests passing, as without a base; the verdict
                // is what the base comparison changes.
                let score =
                    counts
                        .and_then(|n| n.score())
                        .unwrap_or(if c.no_worse { 1.0 } else { 0.0 });
                let mut line = counted.clone().unwrap_or_else(|| head.exit.clone());
                if !c.summary.is_empty() {
                    line = format!("{line}; {}", c.summary);
                }
                let mut more = Vec::new();
                for (what, names) in [
                    ("new failure", &c.new_failures),
                    ("weakened", &c.weakened),
                    ("new problem", &c.new_problems),
                ] {
                    more.extend(names.iter().take(20).map(|n| format!("{what}: {n}")));
                }
                let details = if more.is_empty() {
                    details.clone()
                } else {
                    format!("{}\n\n{details}", more.join("\n"))
                };
                if c.no_worse {
                    result(Verdict::Pass, score, line, details)
                } else if head.passed {
                    result(Verdict::Fail, score, line, details)
                } else {
                    result(
                        Verdict::Fail,
                        score,
                        format!("{}: {line}", head.exit),
                        details,
                    )
                }
            }
            None if head.passed => result(
                Verdict::Pass,
                counts.and_then(|c| c.score()).unwrap_or(1.0),
                counted.unwrap_or_else(|| "exit status 0".into()),
                details,
            ),
            None => {
                let summary = match counted.or_else(|| first_error(&ran.lines)) {
                    Some(what) => format!("{}: {what}", head.exit),
                    None => format!("{} and printed nothing", head.exit),
                };
                result(
                    Verdict::Fail,
                    counts.and_then(|c| c.score()).unwrap_or(0.0),
                    summary,
                    details,
                )
            }
        };
        if let Some(e) = base_error {
            r.summary = format!("{} (not compared with the base: {e})", r.summary);
        }
        r.tests = tests;
        r
    }
}

/// The first line that looks like an error (`error`, `Error:`, `FAILED`, `panicked`), for a
/// one-line summary.
fn first_error(lines: &VecDeque<String>) -> Option<String> {
    lines
        .iter()
        .find(|l| {
            let t = l.trim_start();
            t.starts_with("error")
                || t.contains("Error:")
                || t.contains("FAILED")
                || t.contains("panicked")
        })
        .or_else(|| lines.iter().rev().find(|l| !l.trim().is_empty()))
        .map(|l| l.trim().chars().take(200).collect())
}
