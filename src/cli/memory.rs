//! `bosun memory` and `bosun memory forget LESSON`: what process memory has learned — the
//! record of each executor per task type, and the lessons later prompts are given.

use std::process::ExitCode;

use serde::Serialize;

use super::Context;
use super::runs::rfc3339;
use super::table::{output_width, truncate};
use crate::memory::{Lesson, LessonSource, Strategy};
use crate::model::TaskType;

/// Arguments of `bosun memory`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MemoryArgs {
    /// Print `{"strategies": […], "lessons": […]}` instead of tables.
    #[arg(long)]
    pub json: bool,
    /// What to do instead of showing.
    #[command(subcommand)]
    pub command: Option<MemoryCommand>,
}

/// `bosun memory` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MemoryCommand {
    /// Delete a lesson, so later prompts no longer include it (it comes back only if the
    /// failure recurs on two more runs, or the reason is given again).
    Forget {
        /// Lesson id, or a unique prefix (or suffix) of one.
        lesson: String,
    },
}

/// A strategy as `bosun memory --json` prints it.
#[derive(Debug, Serialize)]
struct StrategyView {
    task_type: TaskType,
    executor: String,
    successes: u64,
    failures: u64,
    mean_score: Option<f64>,
    mean_duration_s: Option<f64>,
    mean_cost_usd: Option<f64>,
    pulls: u64,
    /// The posterior mean of the success probability, α / (α + β).
    expected_success: f64,
}

impl From<&Strategy> for StrategyView {
    fn from(s: &Strategy) -> Self {
        Self {
            task_type: s.task_type,
            executor: s.executor.clone(),
            successes: s.successes,
            failures: s.failures,
            mean_score: s.mean_score(),
            mean_duration_s: s.mean_duration_s(),
            mean_cost_usd: s.mean_cost_usd(),
            pulls: s.pulls,
            expected_success: s.expected_success(),
        }
    }
}

/// A lesson as `bosun memory --json` prints it.
#[derive(Debug, Serialize)]
struct LessonView {
    id: String,
    text: String,
    task_type: TaskType,
    uses: u64,
    created_at: String,
    source: LessonSource,
    keywords: Vec<String>,
}

impl From<&Lesson> for LessonView {
    fn from(l: &Lesson) -> Self {
        Self {
            id: l.id.clone(),
            text: l.text.clone(),
            task_type: l.task_type,
            uses: l.uses,
            created_at: rfc3339(l.created_ms),
            source: l.source,
            keywords: l.keywords.clone(),
        }
    }
}

/// What `bosun memory --json` prints.
#[derive(Debug, Serialize)]
struct MemoryView {
    strategies: Vec<StrategyView>,
    lessons: Vec<LessonView>,
}

/// Runs `bosun memory` (from the running bosun when one holds the repository).
pub fn run(ctx: &Context, args: &MemoryArgs) -> anyhow::Result<ExitCode> {
    let forget = args
        .command
        .as_ref()
        .map(|MemoryCommand::Forget { lesson }| lesson.clone());
    let (strategies, lessons) = match super::runs::open_store(ctx) {
        Ok(store) => {
            let memory = store.memory();
            match &forget {
                Some(lesson) => (Vec::new(), vec![memory.forget(lesson)?]),
                None => (memory.strategies()?, memory.lessons()?),
            }
        }
        Err(e) => {
            let request = match &forget {
                Some(lesson) => crate::api::Request::Forget {
                    lesson: lesson.clone(),
                },
                None => crate::api::Request::Memory,
            };
            let answer = super::runs::forwarded(ctx, e, request)?;
            (
                answer.strategies.unwrap_or_default(),
                answer.lessons.unwrap_or_default(),
            )
        }
    };
    if forget.is_some() {
        let gone = lessons
            .first()
            .ok_or_else(|| anyhow::anyhow!("the running bosun did not say which lesson went"))?;
        println!("Forgot lesson {}: {}", gone.id, gone.text);
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        let view = MemoryView {
            strategies: strategies.iter().map(StrategyView::from).collect(),
            lessons: lessons.iter().map(LessonView::from).collect(),
        };
        super::json::print(&view)?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = output_width().unwrap_or(usize::MAX);
    if !ctx.config.memory.enabled {
        println!("Process memory is off ([memory] enabled = false); this is what it kept.\n");
    }
    if strategies.is_empty() {
        println!("No strategies yet: each approved or rejected run adds to its executor's record.");
    } else {
        println!(
            "{:<9} {:<14} {:>5} {:>9} {:>8} {:>7} {:>6} {:>9} {:>8}",
            "TASK_TYPE",
            "EXECUTOR",
            "PULLS",
            "SUCCESSES",
            "FAILURES",
            "P(OK)",
            "SCORE",
            "DURATION",
            "COST"
        );
        for s in &strategies {
            let line = format!(
                "{:<9} {:<14} {:>5} {:>9} {:>8} {:>7.2} {:>6} {:>9} {:>8}",
                s.task_type.as_str(),
                truncate(&s.executor, 14),
                s.pulls,
                s.successes,
                s.failures,
                s.expected_success(),
                s.mean_score().map_or("-".into(), |v| format!("{v:.2}")),
                s.mean_duration_s()
                    .map_or("-".into(), |v| format!("{v:.1}s")),
                s.mean_cost_usd().map_or("-".into(), |v| format!("${v:.4}")),
            );
            println!("{}", truncate(&line, width));
        }
    }
    println!();
    if lessons.is_empty() {
        println!(
            "No lessons yet: rejection reasons and gate failures seen on two runs become lessons."
        );
    } else {
        println!(
            "{:<26}  {:<9} {:>4}  {:<20}  TEXT",
            "LESSON", "TASK_TYPE", "USES", "CREATED"
        );
        for l in &lessons {
            let line = format!(
                "{:<26}  {:<9} {:>4}  {:<20}  {}",
                l.id,
                l.task_type.as_str(),
                l.uses,
                rfc3339(l.created_ms),
                l.text.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            println!("{}", truncate(&line, width));
        }
        println!("\nForget a lesson with `bosun memory forget LESSON`.");
    }
    Ok(ExitCode::SUCCESS)
}
