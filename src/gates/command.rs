//! Command gates (`[gates.NAME] command = "…"`): run in the run's worktree with the agents'
//! sandboxed environment; exit status 0 passes; test counts in the output set the score.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Gate, GateContext, GateFuture, summary};
use crate::config::CommandGateConfig;
use crate::executors::{AgentRun, ExitKind, OutputFormat, run_agent};
use crate::model::{GateResult, Task, Verdict};

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
    fn applies_to(&self, task: &Task) -> bool {
        self.config.applies_to.is_empty() || self.config.applies_to.contains(&task.task_type)
    }
    fn run<'a>(&'a self, cx: &'a GateContext<'a>) -> GateFuture<'a> {
        Box::pin(async move { self.execute(cx).await })
    }
}

impl CommandGate {
    async fn execute(&self, cx: &GateContext<'_>) -> GateResult {
        let run = AgentRun {
            argv: vec!["sh".into(), "-c".into(), self.config.command.clone()],
            env: cx.env.to_vec(),
            cwd: PathBuf::from(cx.worktree),
            timeout: self.timeout,
            log_path: cx.log_path.to_path_buf(),
            max_log_bytes: cx.max_log_bytes,
            format: OutputFormat::Plain,
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
        let outcome = run_agent(&run, |_| {}, line_tx, progress_tx, cx.cancel.clone()).await;
        let lines = collector.await.unwrap_or_default();
        let output: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let tail: Vec<&str> = lines
            .iter()
            .rev()
            .take(DETAIL_LINES)
            .rev()
            .map(String::as_str)
            .collect();
        let details = tail.join("\n");
        let result = |verdict, score, summary: String| GateResult {
            name: self.name.clone(),
            verdict,
            score,
            interval: None,
            summary,
            details: details.clone(),
            duration_ms: 0,
            required: self.config.required,
            weight: self.config.weight,
        };
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => return result(Verdict::Fail, 0.0, e.to_string()),
        };
        let counts = summary::parse(&output).map(|(_, c)| c);
        let counted = counts.map(|c| {
            format!(
                "{} passed, {} failed, {} skipped",
                c.passed, c.failed, c.skipped
            )
        });
        match outcome.exit {
            ExitKind::Exited(0) => {
                let score = counts.and_then(|c| c.score()).unwrap_or(1.0);
                result(
                    Verdict::Pass,
                    score,
                    counted.unwrap_or_else(|| "exit status 0".into()),
                )
            }
            ExitKind::Exited(code) => {
                let score = counts.and_then(|c| c.score()).unwrap_or(0.0);
                let what = counted.unwrap_or_else(|| first_error(&lines).unwrap_or_default());
                result(
                    Verdict::Fail,
                    score,
                    format!(
                        "`{}` exited with status {code}: {what}",
                        self.config.command
                    ),
                )
            }
            ExitKind::Signaled(sig) => result(
                Verdict::Fail,
                0.0,
                format!("`{}` was killed by signal {sig}", self.config.command),
            ),
            ExitKind::TimedOut => result(
                Verdict::Fail,
                0.0,
                format!(
                    "`{}` did not finish within {}",
                    self.config.command,
                    humantime::format_duration(self.timeout)
                ),
            ),
            ExitKind::Cancelled => result(Verdict::Skip, 0.0, "cancelled".into()),
        }
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
