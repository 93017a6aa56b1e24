//! `[notify] command`: the core tells the operator when a run starts waiting for them or
//! fails, by running their command (e.g. `notify-send`) — once per event, however many
//! consoles are attached, and with no console at all (`bosun run --headless`). Consoles only
//! ring their own terminal's bell.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{Bus, Event, Missed};
use crate::model::{RunId, RunStatus};

/// What the operator is told about a run that moved to `status`, if anything.
pub fn message(status: RunStatus, title: &str) -> Option<String> {
    match status {
        RunStatus::AwaitingApproval => Some(format!("awaiting approval: {title}")),
        RunStatus::Failed => Some(format!("run failed: {title}")),
        _ => None,
    }
}

/// Runs `command` (through `sh -c`, in `dir`, `BOSUN_NOTIFY_TEXT` in its environment) for
/// every run that starts awaiting approval or fails from now on; nothing when `command` is
/// empty. Its output goes nowhere; the commands are not waited for. The task ends when the
/// orchestrator stops.
pub fn spawn(events: &Bus, command: &str, dir: PathBuf) -> Option<tokio::task::JoinHandle<()>> {
    let command = command.trim().to_string();
    if command.is_empty() {
        return None;
    }
    let mut subscription = events.subscribe().without_output();
    Some(tokio::spawn(async move {
        let mut seen: HashMap<RunId, RunStatus> = HashMap::new();
        loop {
            match subscription.recv().await {
                Ok(Event::Run { run }) => {
                    let before = seen.insert(run.id.clone(), run.status);
                    if before == Some(run.status) {
                        continue;
                    }
                    if let Some(text) = message(run.status, &run.task_title) {
                        run_command(&command, &dir, &text);
                    }
                }
                Ok(Event::Stopped) | Err(Missed::Closed) => return,
                Ok(_) | Err(Missed::State(_) | Missed::Output(_)) => {}
            }
        }
    }))
}

fn run_command(command: &str, dir: &std::path::Path, text: &str) {
    let spawned = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("BOSUN_NOTIFY_TEXT", text)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(false)
        .spawn();
    match spawned {
        Ok(mut child) => {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(e) => tracing::warn!("[notify] command could not start: {e}"),
    }
}
