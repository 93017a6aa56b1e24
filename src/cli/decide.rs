//! `bosun approve`, `bosun reject` and `bosun cancel`: one request to the orchestrator, which
//! does the git work and records the decision in the audit trail.

use std::process::ExitCode;

use tokio::sync::oneshot;

use super::Context;
use super::run::runtime;
use crate::model::Run;
use crate::orchestrator::{Command, Options, Orchestrator, OrchestratorError, operator};

/// Arguments of `bosun approve`.
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// Run id, or a unique prefix (or suffix) of one.
    pub run: String,
    /// A note for the audit trail.
    #[arg(long, default_value = "")]
    pub note: String,
}

/// Arguments of `bosun reject`.
#[derive(Debug, clap::Args)]
pub struct RejectArgs {
    /// Run id, or a unique prefix (or suffix) of one.
    pub run: String,
    /// Why: kept in the audit trail and, with --retry, given to the agent.
    #[arg(long)]
    pub reason: String,
    /// Queue another attempt with the reason in its prompt.
    #[arg(long)]
    pub retry: bool,
}

/// Arguments of `bosun cancel`.
#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// Run id, or a unique prefix (or suffix) of one.
    pub run: String,
}

/// Sends one request to a short-lived orchestrator and waits for its answer.
fn request(
    ctx: &Context,
    make: impl FnOnce(oneshot::Sender<Result<Run, OrchestratorError>>) -> Command,
) -> anyhow::Result<Run> {
    runtime()?.block_on(async {
        let orchestrator =
            Orchestrator::open(ctx.project.clone(), ctx.config.clone(), Options::default())?;
        let handle = orchestrator.spawn();
        let (tx, rx) = oneshot::channel();
        handle
            .commands
            .send(make(tx))
            .await
            .map_err(|_| OrchestratorError::Stopped)?;
        let answer = rx.await.map_err(|_| OrchestratorError::Stopped)?;
        let _ = handle.commands.send(Command::Shutdown).await;
        handle.done.await??;
        Ok(answer?)
    })
}

/// Runs `bosun approve`.
pub fn approve(ctx: &Context, args: &ApproveArgs) -> anyhow::Result<ExitCode> {
    let who = operator();
    let run = request(ctx, |reply| Command::Approve {
        run: args.run.clone(),
        who,
        note: args.note.clone(),
        keep: None,
        reply,
    })?;
    // Say only what happened: whether the checkbox is ticked is read back from the target.
    let tick = crate::orchestrator::tick_state(
        &ctx.project.root,
        &run.target,
        &ctx.config.project.task_files,
        &ctx.config.intake.type_rules(),
        &run.task_id.0,
    );
    let ticked = match tick {
        Ok(crate::orchestrator::TickState::Ticked) => format!("task {} ticked", run.task_id),
        Ok(crate::orchestrator::TickState::Open) => format!(
            "task {} NOT ticked (see `bosun show {}`)",
            run.task_id,
            run.id.short()
        ),
        Ok(crate::orchestrator::TickState::Gone) => format!(
            "task {} is no longer in the task list, nothing ticked",
            run.task_id
        ),
        Err(e) => format!("cannot tell whether task {} was ticked: {e}", run.task_id),
    };
    println!(
        "merged {} ({}) into {} at {}; {ticked}",
        run.id,
        run.task_title,
        run.target,
        run.head.as_deref().map_or("?", |h| &h[..h.len().min(10)]),
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun reject`.
pub fn reject(ctx: &Context, args: &RejectArgs) -> anyhow::Result<ExitCode> {
    if args.reason.trim().is_empty() {
        anyhow::bail!(
            "give a reason with --reason \"…\": it goes into the audit trail and the next prompt"
        );
    }
    let who = operator();
    let run = request(ctx, |reply| Command::Reject {
        run: args.run.clone(),
        who,
        reason: args.reason.clone(),
        retry: args.retry,
        prompt: None,
        reply,
    })?;
    if args.retry {
        println!(
            "rejected {} ({}); another attempt is queued with your reason — `bosun run --headless` starts it",
            run.id, run.task_title
        );
    } else {
        println!("rejected {} ({})", run.id, run.task_title);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun cancel`.
pub fn cancel(ctx: &Context, args: &CancelArgs) -> anyhow::Result<ExitCode> {
    let run = request(ctx, |reply| Command::Cancel {
        run: args.run.clone(),
        reply,
    })?;
    println!("cancelled {} ({})", run.id, run.task_title);
    Ok(ExitCode::SUCCESS)
}
