//! `bosun gc`: forgets the details of old runs (their events, diff, annotations, log and prompt
//! files) and compacts the store. What a run decided — its status, decision, gates and score —
//! process memory and the audit trail are kept.

use std::path::Path;
use std::process::ExitCode;

use super::Context;
use super::runs::{open_store, rfc3339};
use crate::model::now_ms;
use crate::store::Store;

/// Arguments of `bosun gc`.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// Forget the details of runs that finished more than this many days ago (default:
    /// `[store] keep_days`, 90).
    #[arg(long, value_name = "DAYS")]
    pub keep_days: Option<u64>,
    /// Say what would be forgotten, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Bytes of the file or directory tree at `path` (0 when there is none).
fn size_of(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|d| d.filter_map(Result::ok).map(|e| size_of(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// `12.3 MB`.
fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// Runs `bosun gc`.
pub fn run(ctx: &Context, args: &GcArgs) -> anyhow::Result<ExitCode> {
    let days = args.keep_days.unwrap_or(ctx.config.store.keep_days);
    let cutoff = now_ms().saturating_sub(days.saturating_mul(86_400_000));
    let state = ctx.project.state_dir();
    let (mut runs_forgotten, mut store_bytes, mut file_bytes) = (0usize, 0u64, 0u64);
    {
        let store = open_store(ctx)?;
        for run in store.runs()? {
            let ended = run.finished_ms.unwrap_or(run.created_ms);
            if !run.status.is_final() || ended >= cutoff {
                continue;
            }
            let files = [
                crate::project::run_log_path(&state, &run.id),
                state.join("runs").join(&run.id.0),
            ];
            let on_disk: u64 = files.iter().map(|f| size_of(f)).sum();
            let details = if args.dry_run {
                store.details_bytes(&run.id)?
            } else {
                let removed = store.forget_details(&run.id)?;
                for f in &files {
                    let gone = if f.is_dir() {
                        std::fs::remove_dir_all(f)
                    } else {
                        std::fs::remove_file(f)
                    };
                    if let Err(e) = gone
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        anyhow::bail!("cannot remove {}: {e}", f.display());
                    }
                }
                removed
            };
            if details + on_disk > 0 {
                runs_forgotten += 1;
                store_bytes += details;
                file_bytes += on_disk;
            }
        }
        store.flush()?;
    }
    let verb = if args.dry_run {
        "would forget"
    } else {
        "forgot"
    };
    println!(
        "{verb} the details of {runs_forgotten} run(s) that finished before {}: {} of events, diffs and annotations, {} of log and prompt files",
        rfc3339(cutoff),
        mb(store_bytes),
        mb(file_bytes),
    );
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let (before, after) = Store::compact(&state)?;
    println!("store compacted: {} → {}", mb(before), mb(after));
    Ok(ExitCode::SUCCESS)
}
