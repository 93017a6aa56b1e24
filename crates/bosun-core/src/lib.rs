//! bosun's core: intake of the task list, the orchestrator and its agents (executors), git
//! worktrees and merges, quality gates, semantic analysis, the LLM layer, process memory, the
//! store, metrics, and the control socket that front ends reach it through. It knows nothing
//! of the command line or the console (the `bosun` package and `bosun-console` are built on
//! it and on `bosun-api`, never the other way round).

pub use bosun_api as api;
pub use bosun_model as model;

pub mod config;
pub mod control;
pub mod diff;
pub mod executors;
pub mod faults;
pub mod forge;
pub mod gates;
pub mod git;
pub mod intake;
pub mod kv;
pub mod llm;
pub mod memory;
pub mod metrics;
pub mod orchestrator;
pub mod project;
pub mod semantic;
pub mod store;
pub mod telemetry;

/// A tokio runtime for commands that drive the orchestrator.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
