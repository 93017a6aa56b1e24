//! Executors: running a coding agent's CLI on a task in its worktree.
//!
//! [`presets`] knows the argv, environment and output format of the agent CLIs bosun has been
//! checked against (recordings in `tests/fixtures/agents/`); [`events`] turns their output
//! lines into progress, token usage and a final summary; [`command`] runs any argv as a child
//! process in its own process group, with a scrubbed environment, a timeout, cancellation and a
//! size-capped log.

pub mod command;
pub mod events;
pub mod llm_agent;
pub mod presets;
pub mod sandbox;
pub mod unavailable;

pub use command::{
    AgentOutcome, AgentRun, ENV_ALLOWLIST, ExecutorError, ExitKind, OutputLine, Stream,
    find_agent_program, find_program, kill_process_group, process_group_alive, run_agent,
};
pub use events::{AgentEvent, EventParser};
pub use presets::{OutputFormat, Placeholders, Preset, expand};
pub use unavailable::Unavailable;
