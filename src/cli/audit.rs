//! `bosun audit` and `bosun audit verify`: the decisions bosun recorded (approvals,
//! rejections, retries, cancels, repairs), and a check that none was changed or lost.

use std::process::ExitCode;

use serde::Serialize;

use super::Context;
use super::runs::rfc3339;
use super::table::{output_width, truncate};
use crate::store::StoreError;

/// Arguments of `bosun audit`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    /// Print the entries as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// What to do instead of listing.
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
}

/// `bosun audit` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain: exit 0 when every entry is intact and none is missing, else 1
    /// with the first entry that does not check out.
    Verify,
}

#[derive(Debug, Serialize)]
struct EntryView<'a> {
    seq: u64,
    at: String,
    who: &'a str,
    action: &'a str,
    run_id: &'a str,
    task_id: &'a str,
    detail: &'a str,
    hash: &'a str,
}

/// Runs `bosun audit`.
pub fn run(ctx: &Context, args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let store = match super::runs::open_store(ctx) {
        Ok(store) => store,
        Err(e) => {
            // A running bosun holds the store: it answers instead.
            let verify = matches!(args.command, Some(AuditCommand::Verify));
            let request = if verify {
                crate::api::Request::VerifyAudit
            } else {
                crate::api::Request::Audit
            };
            let answer = super::runs::forwarded(ctx, e, request)?;
            let entries = answer.audit.unwrap_or_default();
            if let Some(n) = answer.verified {
                println!(
                    "audit trail verified: {n} entries{}",
                    newest(entries.last())
                );
                return Ok(ExitCode::SUCCESS);
            }
            return list(args, &entries);
        }
    };
    if let Some(AuditCommand::Verify) = args.command {
        return match store.verify_audit() {
            Ok(n) => {
                println!(
                    "audit trail verified: {n} entries{}",
                    newest(store.audit()?.last())
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e @ StoreError::AuditBroken { .. }) => {
                eprintln!("error: {e}");
                Ok(ExitCode::FAILURE)
            }
            Err(e) => Err(e.into()),
        };
    }
    list(args, &store.audit()?)
}

/// `, newest 7 (ab12cd34ef56)`, or empty.
fn newest(entry: Option<&crate::store::AuditEntry>) -> String {
    entry
        .map(|e| format!(", newest {} ({})", e.seq, &e.hash[..12.min(e.hash.len())]))
        .unwrap_or_default()
}

/// Prints `entries` as a table or JSON.
fn list(args: &AuditArgs, entries: &[crate::store::AuditEntry]) -> anyhow::Result<ExitCode> {
    if args.json {
        let views: Vec<EntryView<'_>> = entries
            .iter()
            .map(|e| EntryView {
                seq: e.seq,
                at: rfc3339(e.at_ms),
                who: &e.who,
                action: &e.action,
                run_id: &e.run_id,
                task_id: &e.task_id,
                detail: &e.detail,
                hash: &e.hash,
            })
            .collect();
        super::json::print(&views)?;
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!("No decisions recorded yet.");
        return Ok(ExitCode::SUCCESS);
    }
    let width = output_width().unwrap_or(usize::MAX);
    println!("SEQ  WHEN                  WHO       ACTION    RUN     DETAIL");
    for e in entries {
        let run = &e.run_id[e.run_id.len().saturating_sub(6)..];
        let line = format!(
            "{:<4} {:<21} {:<9} {:<9} {:<7} {}",
            e.seq,
            rfc3339(e.at_ms),
            truncate(&e.who, 9),
            e.action,
            run,
            e.detail.replace('\n', " ")
        );
        println!("{}", truncate(&line, width));
    }
    Ok(ExitCode::SUCCESS)
}
