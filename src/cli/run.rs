//! `bosun run --headless`: the orchestrator without the console, printing progress lines (or
//! one JSON object per event) until nothing more can run.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Instant;

use super::Context;
use super::runs::change_summary;
use crate::config::Config;
use crate::model::{Run, RunId, RunStatus};
use crate::orchestrator::{Command, Event, Missed, Options, Orchestrator};
use crate::project::Project;

/// Arguments of `bosun run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run without the console (`bosun` with no command opens it); `bosun run` always runs
    /// headless, and `bosun attach` opens a console on it.
    #[arg(long)]
    pub headless: bool,
    /// Only this task (id or unique id prefix); repeatable. Named tasks run even if rejected
    /// before, and a task that used up its attempts gets `max_attempts` more.
    #[arg(long = "task", value_name = "ID")]
    pub tasks: Vec<String>,
    /// Start at most this many runs.
    #[arg(long, value_name = "N")]
    pub max_runs: Option<usize>,
    /// Print one JSON object per event instead of progress lines.
    #[arg(long)]
    pub json: bool,
    /// Approval policy preset for this run (overrides `[policy] mode`).
    #[arg(long, value_enum)]
    pub mode: Option<crate::gates::policy::Mode>,
}

pub use crate::runtime;

/// Runs `bosun run`.
pub fn run(ctx: &Context, args: &RunArgs, verbose: bool) -> anyhow::Result<ExitCode> {
    if !args.headless && !args.json {
        eprintln!(
            "note: `bosun run` works without the console (`bosun` opens one, `bosun attach` opens one on a running bosun)"
        );
    }
    let options = Options {
        schedule: true,
        only: args.tasks.clone(),
        max_runs: args.max_runs,
        exit_when_idle: true,
    };
    let rt = runtime()?;
    let mut config = ctx.config.clone();
    if let Some(mode) = args.mode {
        config.policy.mode = mode;
    }
    rt.block_on(drive(&ctx.project, &config, options, args.json, verbose))
}

/// Starts the orchestrator and prints its events until it stops.
pub async fn drive(
    project: &Project,
    config: &Config,
    options: Options,
    json: bool,
    verbose: bool,
) -> anyhow::Result<ExitCode> {
    let orchestrator = Orchestrator::open(project.clone(), config.clone(), options)?;
    let target = orchestrator.target().to_string();
    let store = orchestrator.store();
    // Subscribed before the start, so even an orchestrator that fails at once is heard.
    let mut events = orchestrator.subscribe();
    let handle = orchestrator.spawn();
    // Decisions from other terminals reach this orchestrator through the control socket.
    let service = crate::control::Service {
        commands: handle.commands.clone(),
        events: handle.events.clone(),
        local: crate::control::Local::shared(store.clone(), project.root.clone(), config),
        target: target.clone(),
    };
    let served = crate::control::start(&project.state_dir(), &config.server, service).await;
    for problem in &served.problems {
        eprintln!("warning: {problem}");
    }
    if let Some(addr) = served.metrics {
        eprintln!("serving metrics on http://{addr}/metrics");
    }
    let commands = handle.commands.clone();
    tokio::spawn(async move {
        let mut interrupted = 0;
        loop {
            if shutdown_signal().await.is_err() {
                return;
            }
            interrupted += 1;
            if interrupted == 1 {
                eprintln!(
                    "stopping: no new runs; running agents get their grace period (Ctrl-C again to stop them now)"
                );
                let _ = commands.send(Command::Shutdown).await;
            } else {
                eprintln!("stopping now");
                std::process::exit(130);
            }
        }
    });
    if let Some(why) = crate::executors::sandbox::warning(&config.sandbox) {
        eprintln!("warning: agents run without a sandbox: {why}");
    }
    if !json {
        println!(
            "bosun: working through {} on branch {target}",
            config
                .project
                .task_files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let started = Instant::now();
    let mut seen = HashMap::new();
    loop {
        match events.recv().await {
            Ok(Event::Stopped) => break,
            Ok(event) => {
                if json {
                    if verbose || !matches!(event, Event::Output { .. }) {
                        super::json::line(&event)?;
                    }
                } else if let Some(line) = describe(&event, verbose, &mut seen) {
                    println!("{:>7.1}s  {line}", started.elapsed().as_secs_f64());
                }
            }
            Err(Missed::Output(n)) => {
                if !json && verbose {
                    println!(
                        "         ({n} output lines skipped; they are in the runs' log files)"
                    );
                }
            }
            Err(Missed::State(n)) => {
                if !json {
                    println!("         ({n} run changes not shown; `bosun runs` has them all)");
                }
            }
            Err(Missed::Closed) => break,
        }
    }
    handle.done.await??;
    served.finish().await;
    if !json {
        let runs = store.runs()?;
        print_summary(&runs);
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    Ok(())
}

/// One progress line for an event, or nothing for events not worth a line. `seen` holds each
/// run's last printed status, so a run's line appears once per status change.
pub fn describe(
    event: &Event,
    verbose: bool,
    seen: &mut HashMap<RunId, RunStatus>,
) -> Option<String> {
    match event {
        Event::Run { run } => {
            if seen.insert(run.id.clone(), run.status) == Some(run.status) {
                return None;
            }
            let what = match run.status {
                RunStatus::Queued => {
                    format!("queued       {} (attempt {})", run.task_title, run.attempt)
                }
                RunStatus::Preparing => format!(
                    "starting     {} with {} (attempt {})",
                    run.task_title, run.executor, run.attempt
                ),
                RunStatus::Running => format!(
                    "running      in {}",
                    run.worktree
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
                RunStatus::Gating => "committing   the agent's changes".to_string(),
                RunStatus::AwaitingApproval => {
                    format!("ready        awaiting approval: {}", change_summary(run))
                }
                RunStatus::Delivered => match &run.delivery {
                    Some(pr) => format!("delivered    as PR #{} {}", pr.number, pr.url),
                    None => "delivered".to_string(),
                },
                RunStatus::Merged => format!("merged       into {}", run.target),
                RunStatus::Rejected => "rejected".to_string(),
                RunStatus::Failed => format!("failed       {}", run.error.as_deref().unwrap_or("")),
                RunStatus::Cancelled => "cancelled".to_string(),
                RunStatus::Interrupted => {
                    format!("interrupted  {}", run.error.as_deref().unwrap_or(""))
                }
            };
            Some(format!("{}  {}  {what}", run.task_id, run.id.short()))
        }
        Event::Progress { run_id, text } => Some(format!("{:8}  {}  │ {text}", "", run_id.short())),
        Event::Output { run_id, line } if verbose => {
            Some(format!("{:8}  {}  > {line}", "", run_id.short()))
        }
        Event::Output { .. } => None,
        Event::GateStarted { .. } => None,
        Event::GateFinished { run_id, result } => Some(format!(
            "{:8}  {}  gate {:<8} {:<4} {:.2}  {}",
            "",
            run_id.short(),
            result.name,
            result.verdict,
            result.score,
            result.summary
        )),
        Event::Paused { paused } => Some(if *paused {
            "paused".into()
        } else {
            "resumed".into()
        }),
        Event::Notice { text } => Some(text.clone()),
        Event::Idle => Some("idle: nothing more can start now".into()),
        Event::Tasks { .. } | Event::Models { .. } => None,
        // Reported once, as the command's error.
        Event::Failed { .. } | Event::Stopped => None,
    }
}

fn print_summary(runs: &[Run]) {
    let count = |s: RunStatus| runs.iter().filter(|r| r.status == s).count();
    let awaiting = count(RunStatus::AwaitingApproval);
    let failed = count(RunStatus::Failed);
    println!(
        "\n{awaiting} awaiting approval, {} merged, {failed} failed, {} queued.",
        count(RunStatus::Merged),
        count(RunStatus::Queued)
    );
    if awaiting > 0 {
        println!(
            "Review with `bosun runs` and `bosun show RUN`; decide with `bosun approve RUN` or `bosun reject RUN --reason \"…\" [--retry]`."
        );
    }
}
