//! `bosun events`: follow a running bosun (the console, or `bosun run --headless`) from
//! another terminal — one line per thing that happens, or one JSON object per line for
//! scripts (`bosun events --json | jq …`) — until it stops.

use std::collections::HashMap;
use std::process::ExitCode;

use super::Context;
use crate::api::{ControlError, Heard, Streamed};

/// Arguments of `bosun events`.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// One JSON object per line (the events as the orchestrator publishes them; `lagged` and
    /// `skipped` objects where this reader fell behind).
    #[arg(long)]
    pub json: bool,
    /// Agent output lines too (sampled when they come faster than they are read).
    #[arg(long)]
    pub output: bool,
}

/// Runs `bosun events`.
pub fn run(ctx: &Context, args: &EventsArgs) -> anyhow::Result<ExitCode> {
    let state_dir = ctx.project.state_dir();
    let mut seen = HashMap::new();
    let followed: Result<(), ControlError> = super::run::runtime()?.block_on(async {
        let mut stream = crate::api::Stream::open(&state_dir, args.output).await?;
        print_heard(&Heard::Note(Streamed::Subscribed), args, &mut seen);
        while let Some(heard) = stream.next().await {
            print_heard(&heard?, args, &mut seen);
        }
        Ok(())
    });
    match followed {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(ControlError::Unreachable(..)) => anyhow::bail!(
            "no bosun is running on {}: start one (`bosun` or `bosun run --headless`), then `bosun events` follows it",
            ctx.project.root.display()
        ),
        Err(e) => Err(e.into()),
    }
}

fn print_heard(
    heard: &Heard,
    args: &EventsArgs,
    seen: &mut HashMap<crate::model::RunId, crate::model::RunStatus>,
) {
    let now = super::runs::rfc3339(crate::model::now_ms());
    match heard {
        Heard::Note(note) if args.json => {
            let _ = super::json::line(note);
        }
        Heard::Note(Streamed::Subscribed) => {
            eprintln!("following bosun; Ctrl-C stops following (bosun goes on)");
        }
        Heard::Note(Streamed::Lagged { run_changes }) => {
            println!("{now}  ({run_changes} run changes not shown: `bosun runs` has them all)");
        }
        Heard::Note(Streamed::Skipped { lines }) => {
            println!("{now}  ({lines} output lines skipped: they are in the runs' log files)");
        }
        Heard::Event(event) if args.json => {
            let _ = super::json::line(event);
        }
        Heard::Event(event) => {
            if let Some(line) = super::run::describe(event, args.output, seen) {
                println!("{now}  {line}");
            }
        }
    }
}
