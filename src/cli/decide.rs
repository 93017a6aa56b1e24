//! `bosun approve`, `bosun reject` and `bosun cancel`: one request to the orchestrator, which
//! does the git work and records the decision in the audit trail.

use std::process::ExitCode;

use tokio::sync::oneshot;

use super::Context;
use super::run::runtime;
use crate::git::HunkRef;
use crate::model::Run;
use crate::orchestrator::{Command, CommandError, Options, Orchestrator, operator};

/// Arguments of `bosun approve`.
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// Run id, or a unique prefix (or suffix) of one.
    pub run: String,
    /// A note for the audit trail.
    #[arg(long, default_value = "")]
    pub note: String,
    /// Approve only these hunks: `PATH#N` (N counts a file's hunks from 1, as `--list-hunks`
    /// shows them) or `PATH` (all of that file's); repeat, or separate with commas. The run's
    /// required gates check what is kept, and it merges only if they pass.
    #[arg(long, value_delimiter = ',', value_name = "PATH#N")]
    pub hunks: Vec<String>,
    /// List the run's hunks as `--hunks` names them, and approve nothing.
    #[arg(long)]
    pub list_hunks: bool,
    /// The commit message it merges with (default: `[project] commit_message`); the
    /// `Bosun-Task`/`Bosun-Run` trailers are added.
    #[arg(long, short = 'm', value_name = "TEXT")]
    pub message: Option<String>,
    /// How it is delivered: `merge` into the target branch here, or `pr` — pushed to the
    /// forge as a pull request (`[forge]`); default: `[forge] deliver`.
    #[arg(long, value_name = "merge|pr")]
    pub deliver: Option<crate::model::Delivery>,
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

/// Sends one request to a short-lived orchestrator and waits for its answer; when another
/// bosun holds the repository (the console, a headless run), to that one, through its control
/// socket ([`crate::control`]).
pub(super) fn request(
    ctx: &Context,
    forwarded: crate::api::Request,
    make: impl FnOnce(oneshot::Sender<Result<Run, CommandError>>) -> Command,
) -> anyhow::Result<Run> {
    ask(ctx, forwarded, make, |mut answer| Ok(answer.take_run()?))
}

/// [`request`] for any answer: `make` builds the command for a short-lived orchestrator,
/// `take` reads the answer of a running one.
pub(super) fn ask<T>(
    ctx: &Context,
    forwarded: crate::api::Request,
    make: impl FnOnce(oneshot::Sender<Result<T, CommandError>>) -> Command,
    take: impl FnOnce(crate::api::Response) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    runtime()?.block_on(async {
        let orchestrator =
            match Orchestrator::open(ctx.project.clone(), ctx.config.clone(), Options::default()) {
                Ok(o) => o,
                Err(e) => return take(super::runs::forward(ctx, e.into(), &forwarded).await?),
            };
        crate::control::remove_stale(&ctx.project.state_dir())?;
        let handle = orchestrator.spawn();
        let (tx, rx) = oneshot::channel();
        handle
            .commands
            .send(make(tx))
            .await
            .map_err(|_| CommandError::Stopped)?;
        let answer = rx.await.map_err(|_| CommandError::Stopped)?;
        let _ = handle.commands.send(Command::Shutdown).await;
        handle.done.await??;
        Ok(answer?)
    })
}

/// The change of the run `prefix` names, as the console and `--hunks` number its hunks.
fn change_of(ctx: &Context, prefix: &str) -> anyhow::Result<(Run, crate::diff::Diff)> {
    let run = match super::runs::open_store(ctx) {
        Ok(store) => store.find_run(prefix)?,
        // A running bosun holds the store: it says which run this is.
        Err(e) => {
            let show = crate::api::Request::Show {
                run: prefix.to_string(),
            };
            super::runs::forwarded(ctx, e, show)?.take_run()?
        }
    };
    let (Some(base), Some(head)) = (&run.base, &run.head) else {
        anyhow::bail!("run {} has no recorded change to choose hunks from", run.id);
    };
    let diff = crate::diff::load(&ctx.project.root, base, head)?;
    Ok((run, diff))
}

/// `src/a.rs#2  @@ -10,4 +10,6 @@ fn main  (+2 −0)` for each hunk of `diff`.
fn hunk_lines(diff: &crate::diff::Diff) -> Vec<String> {
    let mut out = Vec::new();
    for f in &diff.files {
        if f.hunks.is_empty() {
            let what = if f.binary { "binary" } else { "no text change" };
            let status = format!("{:?}", f.status).to_lowercase();
            out.push(format!("{}#1  ({what}, {status})", f.path()));
            continue;
        }
        for (i, h) in f.hunks.iter().enumerate() {
            let count = |k| h.lines.iter().filter(|l| l.kind == k).count();
            let header = if h.header.is_empty() {
                String::new()
            } else {
                format!(" {}", h.header)
            };
            out.push(format!(
                "{}#{}  @@ -{},{} +{},{} @@{header}  (+{} −{})",
                f.path(),
                i + 1,
                h.old_start,
                h.old_lines,
                h.new_start,
                h.new_lines,
                count(crate::diff::LineKind::Added),
                count(crate::diff::LineKind::Removed),
            ));
        }
    }
    out
}

/// The hunks `names` (`PATH#N` from 1, or `PATH` for all of a file's) of `diff`, or a
/// one-sentence error naming the first that is not there.
fn chosen_hunks(diff: &crate::diff::Diff, names: &[String]) -> anyhow::Result<Vec<HunkRef>> {
    let mut keep = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let (path, number) = match name.rsplit_once('#') {
            Some((p, n)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
                (p, Some(n.parse::<usize>()?))
            }
            _ => (name, None),
        };
        let Some(file) = diff.files.iter().find(|f| f.path() == path) else {
            anyhow::bail!(
                "the change has no file `{path}`; `bosun approve RUN --list-hunks` lists its hunks"
            );
        };
        let units = file.hunks.len().max(1);
        match number {
            Some(n) if n == 0 || n > units => anyhow::bail!(
                "`{path}` has {units} hunk{} (numbered from 1); there is no #{n}",
                if units == 1 { "" } else { "s" }
            ),
            Some(n) => keep.push(HunkRef::new(path, n - 1)),
            None => keep.extend((0..units).map(|h| HunkRef::new(path, h))),
        }
    }
    if keep.is_empty() {
        anyhow::bail!("--hunks names no hunk; name at least one, or reject the run");
    }
    keep.sort();
    keep.dedup();
    Ok(keep)
}

/// Runs `bosun approve`.
pub fn approve(ctx: &Context, args: &ApproveArgs) -> anyhow::Result<ExitCode> {
    let mut keep = None;
    if args.list_hunks || !args.hunks.is_empty() {
        let (run, diff) = change_of(ctx, &args.run)?;
        if args.list_hunks {
            println!(
                "run {} ({}): {}",
                run.id,
                run.task_title,
                super::runs::change_summary(&run)
            );
            for line in hunk_lines(&diff) {
                println!("  {line}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        let chosen = chosen_hunks(&diff, &args.hunks)?;
        let total: usize = diff.files.iter().map(|f| f.hunks.len().max(1)).sum();
        if chosen.len() < total {
            eprintln!(
                "checking the {} kept hunk{} (of {total}) with the run's required gates…",
                chosen.len(),
                if chosen.len() == 1 { "" } else { "s" }
            );
        }
        keep = Some(chosen);
    }
    let who = operator();
    let forwarded = crate::api::Request::Approve {
        run: args.run.clone(),
        who: who.clone(),
        note: args.note.clone(),
        keep: keep.clone(),
        message: args.message.clone(),
        deliver: args.deliver,
    };
    let run = request(ctx, forwarded, |reply| Command::Approve {
        run: args.run.clone(),
        who,
        note: args.note.clone(),
        keep,
        message: args.message.clone(),
        deliver: args.deliver,
        reply,
    })?;
    if let Some(pr) = &run.delivery {
        println!(
            "delivered {} ({}) as pull request #{} {} (branch {} at {}); the task is ticked in it and done when it merges",
            run.id,
            run.task_title,
            pr.number,
            pr.url,
            pr.branch,
            &pr.commit[..pr.commit.len().min(10)],
        );
        return Ok(ExitCode::SUCCESS);
    }
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
    let forwarded = crate::api::Request::Reject {
        run: args.run.clone(),
        who: who.clone(),
        reason: args.reason.clone(),
        retry: args.retry,
        prompt: None,
    };
    let run = request(ctx, forwarded, |reply| Command::Reject {
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
    let forwarded = crate::api::Request::Cancel {
        run: args.run.clone(),
    };
    let run = request(ctx, forwarded, |reply| Command::Cancel {
        run: args.run.clone(),
        reply,
    })?;
    println!("cancelled {} ({})", run.id, run.task_title);
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `bosun retry`.
#[derive(Debug, clap::Args)]
pub struct RetryArgs {
    /// A failed, rejected or cancelled run: id, or a unique prefix (or suffix) of one.
    pub run: String,
}

/// Runs `bosun retry`: another attempt at the run's task, with the run's error as feedback
/// (also past `max_attempts`: the operator asked for it).
pub fn retry(ctx: &Context, args: &RetryArgs) -> anyhow::Result<ExitCode> {
    let who = operator();
    let forwarded = crate::api::Request::Retry {
        run: args.run.clone(),
        who: who.clone(),
    };
    let run = request(ctx, forwarded, |reply| Command::Retry {
        run: args.run.clone(),
        who,
        reply,
    })?;
    println!(
        "queued {} ({}), attempt {} of task {}",
        run.id, run.task_title, run.attempt, run.task_id
    );
    Ok(ExitCode::SUCCESS)
}
