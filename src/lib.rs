//! bosun: a terminal operator console for autonomous coding agents.
//!
//! It reads a repository's Markdown task list, runs coding agents on the tasks in isolated git
//! worktrees, scores each change with quality gates and puts it in front of an operator.
//! See `DESIGN.md` in the team's shared folder for the whole picture.

pub use bosun_api as api;
pub mod cli;
pub mod config;
pub mod control;
pub mod diff;
pub mod executors;
pub mod faults;
pub mod gates;
pub mod git;
pub mod intake;
pub mod kv;
pub mod llm;
pub mod memory;
pub mod metrics;
pub use bosun_model as model;
pub mod orchestrator;
pub mod project;
pub mod semantic;
pub mod store;
pub mod telemetry;
pub use bosun_console as tui;

/// A tokio runtime for commands that drive the orchestrator.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
