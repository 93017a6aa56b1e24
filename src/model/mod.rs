//! Domain types shared by every layer: tasks now, runs and gate results as they arrive.
//! Nothing in here depends on another module of the crate.

mod task;

pub use task::{Priority, Subtask, Task, TaskId, TaskType};
