//! What the orchestrator tells its front ends. Every state change is persisted before its
//! event is published, so a front end that reads the store after an event sees the change.

use serde::{Deserialize, Serialize};

use crate::model::{GateResult, Run, RunId};

/// A change the front ends may show.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A run was created or changed (the full, persisted state).
    Run {
        /// The run as stored.
        run: Box<Run>,
    },
    /// A line the agent printed (not persisted here: it is in the run's log file).
    Output {
        /// The run.
        run_id: RunId,
        /// The line.
        line: String,
    },
    /// A short description of what the agent is doing, parsed from its output.
    Progress {
        /// The run.
        run_id: RunId,
        /// What it does.
        text: String,
    },
    /// A gate started checking a run's change.
    GateStarted {
        /// The run.
        run_id: RunId,
        /// The gate.
        gate: String,
    },
    /// A gate finished (its result is also stored on the run).
    GateFinished {
        /// The run.
        run_id: RunId,
        /// The result (boxed: the largest variant sets the size of every slot the event bus
        /// keeps, 12,288 of them).
        result: Box<GateResult>,
    },
    /// Scheduling was paused or resumed.
    Paused {
        /// Whether it is paused now.
        paused: bool,
    },
    /// Something the operator should know that is not a run change.
    Notice {
        /// The message.
        text: String,
    },
    /// Nothing is running and nothing more can be scheduled.
    Idle,
    /// The task list was (re)read: at start, after a merge ticked a task, after a task was added.
    Tasks {
        /// Every task, in file order (shared: a 10 MB task list is 176,000 tasks, and every
        /// subscriber gets the event).
        tasks: std::sync::Arc<Vec<crate::model::Task>>,
    },
    /// The orchestrator stopped on an error (a `Stopped` follows).
    Failed {
        /// What went wrong.
        error: String,
    },
    /// The orchestrator has stopped.
    Stopped,
    /// What the model providers have done so far (after each run that used them).
    Models {
        /// Per provider: requests, failures, latency, tokens, cost, cooldown.
        providers: Vec<crate::model::ProviderStats>,
    },
}

#[cfg(test)]
mod size {
    /// The event bus keeps 12,288 slots of an `Event` each, written at start: a large variant
    /// costs them all (a `GateResult` inline made each slot ≈ 180 bytes, 2.3 MB in all).
    #[test]
    fn an_event_is_small() {
        assert!(
            std::mem::size_of::<super::Event>() <= 64,
            "{} bytes",
            std::mem::size_of::<super::Event>()
        );
    }
}
