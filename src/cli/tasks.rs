//! `bosun tasks`: list the tasks bosun reads from the task files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use super::table::{output_width, tasks_table};
use crate::intake::{self, IntakeError, TaskList};
use crate::model::{Priority, Task};

/// Arguments of `bosun tasks`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TasksArgs {
    /// What to do instead of listing.
    #[command(subcommand)]
    pub command: Option<TasksCommand>,
    /// Task file to read instead of `[project] task_files` (repeatable).
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Include done tasks.
    #[arg(long)]
    pub all: bool,
    /// Print a JSON array of tasks instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Rewrite double-encoded task files as proper UTF-8 (keeping `<file>.bak`).
    #[arg(long)]
    pub repair_encoding: bool,
}

/// `bosun tasks` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TasksCommand {
    /// Append a task to the first task file, committed on the target branch (through the
    /// running bosun when one is open, which schedules it like any open task).
    Add(AddArgs),
}

/// Arguments of `bosun tasks add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The task's title (one line).
    pub title: String,
    /// What the agent should know beyond the title (Markdown; indented under the item).
    #[arg(long, default_value = "")]
    pub body: String,
    /// The task's type (code, test, docs, refactor, devops, …); read from the title when
    /// not given.
    #[arg(long = "type", value_name = "TYPE")]
    pub task_type: Option<crate::model::TaskType>,
    /// critical, high, medium or low (default: as the task file's heading says, else medium).
    #[arg(long, value_parser = priority)]
    pub priority: Option<Priority>,
}

pub(super) fn priority(s: &str) -> Result<Priority, String> {
    Priority::ALL
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("{s:?} is not one of critical, high, medium, low"))
}

/// Appends the task `args` describes (through the running bosun when one is open); the task
/// as parsed back.
pub(super) fn add_task(ctx: &Context, args: &AddArgs) -> anyhow::Result<Task> {
    if args.title.trim().is_empty() {
        anyhow::bail!("give the task a title: bosun tasks add \"Fix the login timeout\"");
    }
    let task = crate::api::NewTask {
        title: args.title.clone(),
        body: args.body.clone(),
        task_type: args.task_type,
        priority: args.priority,
    };
    let who = crate::orchestrator::operator();
    let forwarded = crate::api::Request::AddTask {
        task: task.clone(),
        who: who.clone(),
    };
    super::decide::ask(
        ctx,
        forwarded,
        |reply| crate::orchestrator::Command::AddTask { task, who, reply },
        |answer| {
            answer
                .task
                .ok_or_else(|| anyhow::anyhow!("the running bosun did not say which task it added"))
        },
    )
}

/// Runs `bosun tasks add`.
fn add(ctx: &Context, args: &AddArgs) -> anyhow::Result<ExitCode> {
    let task = add_task(ctx, args)?;
    println!(
        "added {} {} [{}, {}] to {}",
        task.id,
        task.title,
        task.task_type,
        task.priority.as_str(),
        task.file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Loads the task files, explaining a missing file in terms of the configuration.
pub fn load(ctx: &Context, files: &[PathBuf]) -> anyhow::Result<TaskList> {
    let rules = ctx.config.intake.type_rules();
    TaskList::load(&ctx.project.root, files, &rules).map_err(|e| explain(ctx, e))
}

/// Words an intake error for the person running bosun: a missing file is a configuration
/// matter, so say where bosun looked and how to point it elsewhere.
fn explain(ctx: &Context, e: IntakeError) -> anyhow::Error {
    match e {
        IntakeError::Read { path, error } if error.kind() == std::io::ErrorKind::NotFound => {
            anyhow::anyhow!(
                "there is no task file {} in {}: create it, or name your task list in bosun.toml under [project] task_files",
                path.display(),
                ctx.project.root.display()
            )
        }
        other => other.into(),
    }
}

/// Runs `bosun tasks`.
pub fn run(ctx: &Context, args: &TasksArgs) -> anyhow::Result<ExitCode> {
    if let Some(TasksCommand::Add(add_args)) = &args.command {
        return add(ctx, add_args);
    }
    let files = ctx.project.task_files(&ctx.config, &args.files)?;
    if args.repair_encoding {
        for file in &files {
            match intake::repair_encoding(&ctx.project.root, file).map_err(|e| explain(ctx, e))? {
                Some(m) => eprintln!(
                    "repaired {} (its UTF-8 had been read as {m}); the original is kept as {}.bak",
                    file.display(),
                    file.display()
                ),
                None => tracing::debug!(file = %file.display(), "encoding is fine"),
            }
        }
    }
    let list = load(ctx, &files)?;
    for warning in &list.warnings {
        eprintln!("warning: {warning}");
    }
    let shown: Vec<&Task> = list.tasks.iter().filter(|t| args.all || !t.done).collect();
    if args.json {
        super::json::print_list(&shown).context("cannot encode tasks as JSON")?;
        // The process ends now: freeing a long list task by task would only delay it.
        std::mem::forget(list);
        return Ok(ExitCode::SUCCESS);
    }
    print!(
        "{}",
        render(&list, &shown, &files, args.all, output_width())
    );
    Ok(ExitCode::SUCCESS)
}

/// The table and a summary line.
pub fn render(
    list: &TaskList,
    shown: &[&Task],
    files: &[PathBuf],
    all: bool,
    width: Option<usize>,
) -> String {
    let open: Vec<&Task> = list.tasks.iter().filter(|t| !t.done).collect();
    let done = list.tasks.len() - open.len();
    let names = files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = String::new();
    if shown.is_empty() {
        out.push_str("No open tasks.\n");
    } else {
        out.push_str(&tasks_table(shown, width));
    }
    let counts: Vec<String> = Priority::ALL
        .into_iter()
        .filter_map(|p| {
            let n = open.iter().filter(|t| t.priority == p).count();
            (n > 0).then(|| format!("{n} {p}"))
        })
        .collect();
    let counts = if counts.is_empty() {
        String::new()
    } else {
        format!(" ({})", counts.join(", "))
    };
    let hint = if done > 0 && !all {
        " — --all lists them"
    } else {
        ""
    };
    out.push_str(&format!(
        "\n{} open{counts}, {done} done{hint} · {names}\n",
        open.len()
    ));
    out
}
