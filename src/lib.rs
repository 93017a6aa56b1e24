//! bosun: a terminal operator console for autonomous coding agents.
//!
//! It reads a repository's Markdown task list, runs coding agents on the tasks in isolated git
//! worktrees, scores each change with quality gates and puts it in front of an operator.
//! See `DESIGN.md` in the team's shared folder for the whole picture.
//!
//! This package is the command line ([`cli`]); the core, the console, the API they share and
//! the domain types are crates of their own, re-exported here under their module names.

pub use bosun_api as api;
pub use bosun_console as tui;
pub use bosun_core::{
    config, control, diff, executors, faults, forge, gates, git, intake, kv, llm, memory, metrics,
    orchestrator, project, runtime, semantic, store, telemetry,
};
pub use bosun_model as model;

pub mod cli;
