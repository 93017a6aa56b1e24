//! What the console knows about the repository: its tasks, the recent runs, the agents' last
//! output lines. Filled at start from the task list and the store, then kept current by the
//! orchestrator's events. Screens read it; only [`Data::apply`] changes it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::api::Event;
use crate::model::{Run, RunId, RunStatus, Task, TaskId, TaskType};

/// The hasher of the console's maps by run and task id: seeded per process like std's, and
/// several times faster on short ids (SipHash was a tenth of placing 2,000 runs at start).
pub type Hasher = foldhash::fast::RandomState;

/// Lines of agent output kept per run for the board and the logs screen.
pub const OUTPUT_LINES: usize = 500;

/// Finished runs whose output stays in memory (the newest); older ones are read from their
/// log files when shown, so a long session's memory does not grow with every run.
pub const ENDED_OUTPUTS: usize = 16;

/// A board column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// Open tasks no run is working on, and queued runs.
    Queued,
    /// Runs preparing, running or being gated.
    Running,
    /// Runs waiting for the operator.
    Awaiting,
    /// Done tasks and merged runs.
    Done,
    /// Failed, rejected, cancelled or interrupted runs.
    Failed,
}

impl Column {
    /// Left to right.
    pub const ALL: [Column; 5] = [
        Self::Queued,
        Self::Running,
        Self::Awaiting,
        Self::Done,
        Self::Failed,
    ];

    /// The column's title.
    pub fn title(self) -> &'static str {
        match self {
            Self::Queued => "Queued",
            Self::Running => "Running",
            Self::Awaiting => "Awaiting approval",
            Self::Done => "Done",
            Self::Failed => "Failed",
        }
    }

    /// Where a run of this status goes.
    pub fn of(status: RunStatus) -> Column {
        match status {
            RunStatus::Queued => Self::Queued,
            RunStatus::Preparing | RunStatus::Running | RunStatus::Gating => Self::Running,
            RunStatus::AwaitingApproval => Self::Awaiting,
            // The operator's part is done; the card says the pull request is open.
            RunStatus::Delivered | RunStatus::Merged => Self::Done,
            RunStatus::Failed
            | RunStatus::Rejected
            | RunStatus::Cancelled
            | RunStatus::Interrupted => Self::Failed,
        }
    }
}

/// The console's model of the repository.
#[derive(Debug, Clone, Default)]
pub struct Data {
    /// The repository's directory name, for the header.
    pub repo: String,
    /// Set when agents run without a sandbox (by choice or for want of one): the header says
    /// so for as long as the console is open.
    pub sandbox_off: Option<String>,
    /// The branch runs start from and merge into.
    pub target: String,
    /// Every task of the task files, in file order (the orchestrator's list, shared).
    pub tasks: Arc<Vec<Task>>,
    /// `[forge]` is set up, and how approvals go by default (`None`: only merged here): the
    /// approval questions then offer both ways.
    pub forge: Option<crate::model::Delivery>,
    /// The runs the console has seen, by id.
    pub runs: HashMap<RunId, Run, Hasher>,
    /// Each task's newest run and the column it puts the task in (kept by [`Data::add_runs`]
    /// and [`Data::apply`], so placing a task on the board is one lookup).
    pub latest: HashMap<TaskId, Latest, Hasher>,
    /// The last output lines of each run that printed some.
    pub output: HashMap<RunId, VecDeque<String>, Hasher>,
    /// The last progress line of each running run.
    pub progress: HashMap<RunId, String, Hasher>,
    /// The gate each run is in, while gating.
    pub gating: HashMap<RunId, String, Hasher>,
    /// Scheduling is paused.
    pub paused: bool,
    /// The orchestrator has stopped (error or shutdown); new runs will not start.
    pub stopped: Option<String>,
    /// Why the orchestrator stopped on an error, shown on every screen.
    pub failed: Option<String>,
    /// Now, in Unix milliseconds (set by the frame timer, so rendering stays pure).
    pub now_ms: u64,
    /// How many runs the store holds in all (history may not be loaded).
    pub total_runs: usize,
    /// What the model providers have done in this session.
    pub providers: Vec<crate::model::ProviderStats>,
    /// Agent output lines the console skipped because it fell behind (they are in the runs'
    /// log files; run state is never skipped).
    pub skipped_lines: u64,
    /// The board's columns as last worked out (see [`Data::column_indices`]).
    pub placed: Placed,
}

/// The board's columns as last worked out, for one state of the tasks and runs and one
/// filter: an output line or a clock tick redraws without placing 10,000 tasks again.
#[derive(Debug, Clone, Default)]
pub struct Placed {
    /// Counts changes to the tasks and runs (what places cards on the board).
    version: u64,
    columns: std::cell::RefCell<Option<Columns>>,
    /// The header's figures for one state: (key, tasks per column, queued work in ms).
    summary: std::cell::RefCell<Option<Summary>>,
}

/// The header's figures for one state of the tasks and runs.
#[derive(Debug, Clone)]
struct Summary {
    key: (u64, usize, usize),
    counts: HashMap<Column, usize>,
    /// The queued and running tasks' expected work in ms (None: no run finished yet).
    work_ms: Option<u64>,
}

/// The board's columns for one state of the data and one filter: indices into
/// [`Data::tasks`], per column.
#[derive(Debug, Clone)]
struct Columns {
    key: (u64, usize, usize),
    filter: String,
    columns: [std::sync::Arc<[usize]>; 5],
}

/// A task's newest run, as [`Data::latest`] keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    /// The run.
    pub run: RunId,
    /// Where the run's status puts its task.
    pub column: Column,
}

/// Something the operator should hear about even when looking elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// A run is waiting for approval.
    Awaiting { run: RunId, title: String },
    /// A run failed.
    Failed { run: RunId, title: String },
}

impl Data {
    /// Adds runs read from the store (newest first), keeping the newest per task.
    pub fn add_runs(&mut self, runs: impl IntoIterator<Item = Run>) {
        let runs = runs.into_iter();
        // Room for them at once: 2,000 runs at start otherwise move their records on every
        // growth of the map.
        self.runs.reserve(runs.size_hint().0);
        self.latest.reserve(runs.size_hint().0);
        for run in runs {
            self.put(run);
        }
    }

    /// The tasks of `column` under `filter` (indices into [`Data::tasks`]), worked out by
    /// `place` (all five columns at once) only when the tasks, the runs or the filter changed
    /// since the last call.
    pub fn column_indices(
        &self,
        column: Column,
        filter: &str,
        place: impl FnOnce(&Data) -> [Vec<usize>; 5],
    ) -> std::sync::Arc<[usize]> {
        let key = (self.placed.version, self.tasks.len(), self.runs.len());
        let index = Column::ALL
            .iter()
            .position(|c| *c == column)
            .unwrap_or_default();
        if let Some(memo) = self.placed.columns.borrow().as_ref()
            && memo.key == key
            && memo.filter == filter
        {
            return std::sync::Arc::clone(&memo.columns[index]);
        }
        let columns = place(self).map(std::sync::Arc::from);
        let answer = std::sync::Arc::clone(&columns[index]);
        *self.placed.columns.borrow_mut() = Some(Columns {
            key,
            filter: filter.to_string(),
            columns,
        });
        answer
    }

    fn put(&mut self, run: Run) {
        self.placed.version += 1;
        let newer = match self.latest.get(&run.task_id) {
            None => true,
            // Best-of: the board shows the candidate to present (see `Run::outranks`).
            Some(l) if run.rival.as_ref() == Some(&l.run) && l.run != run.id => self
                .runs
                .get(&l.run)
                .is_none_or(|current| run.outranks(current)),
            Some(l) => l.run.0 <= run.id.0,
        };
        if newer {
            let latest = Latest {
                run: run.id.clone(),
                column: Column::of(run.status),
            };
            self.latest.insert(run.task_id.clone(), latest);
        }
        self.runs.insert(run.id.clone(), run);
    }

    /// Applies an orchestrator event; returns an alert when the operator should be told.
    pub fn apply(&mut self, event: &Event) -> Option<Alert> {
        match event {
            Event::Run { run } => {
                let before = self.runs.get(&run.id).map(|r| r.status);
                let now = run.status;
                let alert = (before != Some(now))
                    .then(|| match now {
                        RunStatus::AwaitingApproval => Some(Alert::Awaiting {
                            run: run.id.clone(),
                            title: run.task_title.clone(),
                        }),
                        RunStatus::Failed => Some(Alert::Failed {
                            run: run.id.clone(),
                            title: run.task_title.clone(),
                        }),
                        _ => None,
                    })
                    .flatten();
                if !now.is_active() {
                    self.gating.remove(&run.id);
                    self.progress.remove(&run.id);
                }
                if before.is_none() {
                    self.total_runs += 1;
                }
                let ended = now.is_final() && before != Some(now);
                self.put((**run).clone());
                if ended {
                    self.forget_ended_output();
                }
                alert
            }
            Event::Output { run_id, line } => {
                let lines = self.output.entry(run_id.clone()).or_default();
                if lines.len() == OUTPUT_LINES {
                    lines.pop_front();
                }
                lines.push_back(line.clone());
                None
            }
            Event::Progress { run_id, text } => {
                self.progress.insert(run_id.clone(), text.clone());
                None
            }
            Event::GateStarted { run_id, gate } => {
                self.gating.insert(run_id.clone(), gate.clone());
                None
            }
            Event::GateFinished { run_id, .. } => {
                self.gating.remove(run_id);
                None
            }
            Event::Paused { paused } => {
                self.paused = *paused;
                None
            }
            Event::Failed { error } => {
                self.stopped = Some(error.clone());
                self.failed = Some(error.clone());
                None
            }
            Event::Stopped => {
                self.stopped.get_or_insert_with(|| "stopped".to_string());
                None
            }
            Event::Tasks { tasks } => {
                self.placed.version += 1;
                self.tasks = Arc::clone(tasks);
                None
            }
            Event::Models { providers } => {
                self.providers = providers.clone();
                None
            }
            Event::Notice { .. } | Event::Idle => None,
        }
    }

    /// Keeps the output of at most [`ENDED_OUTPUTS`] finished runs, the newest.
    fn forget_ended_output(&mut self) {
        let mut ended: Vec<RunId> = self
            .output
            .keys()
            .filter(|id| self.runs.get(*id).is_some_and(|r| r.status.is_final()))
            .cloned()
            .collect();
        if ended.len() <= ENDED_OUTPUTS {
            return;
        }
        ended.sort();
        for id in &ended[..ended.len() - ENDED_OUTPUTS] {
            self.output.remove(id);
        }
    }

    /// A task's newest run.
    pub fn latest_run(&self, task: &TaskId) -> Option<&Run> {
        self.latest.get(task).and_then(|l| self.runs.get(&l.run))
    }

    /// Where a task goes on the board: its newest run's column; done tasks are Done; open
    /// tasks without a run are Queued.
    pub fn column(&self, task: &Task) -> Column {
        if task.done {
            return Column::Done;
        }
        self.latest
            .get(&task.id)
            .map_or(Column::Queued, |l| l.column)
    }

    /// Runs per status group, for the header.
    pub fn counts(&self) -> HashMap<Column, usize> {
        self.summary().counts
    }

    /// The header's figures, worked out again only when the tasks or runs changed.
    fn summary(&self) -> Summary {
        let key = (self.placed.version, self.tasks.len(), self.runs.len());
        if let Some(summary) = self.placed.summary.borrow().as_ref()
            && summary.key == key
        {
            return summary.clone();
        }
        let mut counts = HashMap::new();
        for task in self.tasks.iter() {
            *counts.entry(self.column(task)).or_default() += 1;
        }
        let means = self.mean_duration_ms();
        let work_ms = (!means.is_empty()).then(|| {
            let overall = means.values().sum::<u64>() / means.len() as u64;
            self.tasks
                .iter()
                .filter(|t| matches!(self.column(t), Column::Queued | Column::Running))
                .map(|t| means.get(&t.task_type).copied().unwrap_or(overall))
                .sum()
        });
        let summary = Summary {
            key,
            counts,
            work_ms,
        };
        *self.placed.summary.borrow_mut() = Some(summary.clone());
        summary
    }

    /// Money spent on every run the console knows, and whether some run's cost is unknown
    /// (its agent reports tokens only), which makes the sum a lower bound.
    pub fn spend(&self) -> (f64, bool) {
        // A fold from +0.0: an empty f64 sum is -0.0, which prints as "$-0.00".
        self.runs.values().fold((0.0, false), |(sum, unknown), r| {
            (sum + r.usage.cost_usd, unknown || r.usage.cost_unknown)
        })
    }

    /// Mean run duration per task type (finished runs with both timestamps), in ms.
    pub fn mean_duration_ms(&self) -> HashMap<TaskType, u64> {
        let mut sums: HashMap<TaskType, (u64, u64)> = HashMap::new();
        let type_of: HashMap<&TaskId, TaskType> =
            self.tasks.iter().map(|t| (&t.id, t.task_type)).collect();
        for run in self.runs.values() {
            if let (Some(s), Some(f), Some(t)) =
                (run.started_ms, run.finished_ms, type_of.get(&run.task_id))
            {
                let e = sums.entry(*t).or_default();
                e.0 += f.saturating_sub(s);
                e.1 += 1;
            }
        }
        sums.into_iter().map(|(t, (sum, n))| (t, sum / n)).collect()
    }

    /// How long until the queued tasks are done, from the mean duration of their type's runs
    /// (all types' mean for a type never run) and the number of parallel runs; None when
    /// nothing has finished yet or nothing is queued.
    pub fn eta_ms(&self, max_parallel: usize) -> Option<u64> {
        let total = self.summary().work_ms?;
        (total > 0).then(|| total / max_parallel.max(1) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, title: &str, done: bool, line: usize) -> Task {
        Task {
            id: TaskId(id.into()),
            title: title.into(),
            description: String::new(),
            body: String::new(),
            priority: crate::model::Priority::Medium,
            priority_rule: "default".into(),
            task_type: crate::model::TaskType::Code,
            type_rule: "default".into(),
            done,
            section: Vec::new().into(),
            file: "TODO.md".into(),
            line,
            subtasks: Vec::new(),
            refs: Vec::new(),
            depends_on: Vec::new(),
        }
    }

    /// `- [ ] Open task` and `- [x] Done task`, as intake reads them.
    fn tasks() -> Vec<Task> {
        vec![
            task("t-open", "Open task", false, 1),
            task("t-done", "Done task", true, 2),
        ]
    }

    fn run(id: &str, task: &Task, status: RunStatus) -> Event {
        let run = Run {
            id: RunId(id.into()),
            task_id: task.id.clone(),
            task_title: task.title.clone(),
            attempt: 1,
            executor: "agent".into(),
            status,
            branch: String::new(),
            target: "main".into(),
            created_ms: 0,
            ..Run::queued(TaskId(String::new()), "", 1, "main")
        };
        Event::Run { run: Box::new(run) }
    }

    #[test]
    fn only_the_newest_finished_runs_keep_their_output_in_memory() {
        let mut data = Data {
            tasks: Arc::new(tasks()),
            ..Data::default()
        };
        let task = data.tasks[0].clone();
        let total = ENDED_OUTPUTS + 5;
        for i in 0..total {
            let id = format!("01{i:04}");
            data.apply(&run(&id, &task, RunStatus::Running));
            data.apply(&Event::Output {
                run_id: RunId(id.clone()),
                line: format!("line of {id}"),
            });
            data.apply(&run(&id, &task, RunStatus::Failed));
        }
        // A running run keeps its output whatever happens to the others.
        data.apply(&run("01zzzz", &task, RunStatus::Running));
        data.apply(&Event::Output {
            run_id: RunId("01zzzz".into()),
            line: "still going".into(),
        });
        data.apply(&run("01zzzy", &task, RunStatus::Failed));
        assert_eq!(data.output.len(), ENDED_OUTPUTS + 1);
        assert!(data.output.contains_key(&RunId("01zzzz".into())));
        assert!(
            !data.output.contains_key(&RunId("010000".into())),
            "the oldest went"
        );
        assert!(
            data.output
                .contains_key(&RunId(format!("01{:04}", total - 1)))
        );
    }

    #[test]
    fn a_task_sits_in_the_column_of_its_newest_run_as_runs_change() {
        let mut data = Data {
            tasks: Arc::new(tasks()),
            ..Data::default()
        };
        let (open, done) = (data.tasks[0].clone(), data.tasks[1].clone());
        assert_eq!(data.column(&open), Column::Queued, "no run yet");

        data.apply(&run("01a", &open, RunStatus::Running));
        assert_eq!(data.column(&open), Column::Running);
        data.apply(&run("01a", &open, RunStatus::AwaitingApproval));
        assert_eq!(data.column(&open), Column::Awaiting, "the run's new status");

        data.apply(&run("01b", &open, RunStatus::Failed));
        assert_eq!(data.column(&open), Column::Failed, "a newer run wins");
        data.apply(&run("01a", &open, RunStatus::Rejected));
        assert_eq!(
            data.column(&open),
            Column::Failed,
            "an older run's change does not"
        );
        assert_eq!(
            data.latest_run(&open.id).map(|r| r.id.0.as_str()),
            Some("01b")
        );

        data.add_runs([match run("01c", &open, RunStatus::Merged) {
            Event::Run { run } => *run,
            _ => unreachable!("run() makes run events"),
        }]);
        assert_eq!(
            data.column(&open),
            Column::Done,
            "runs read from the store count too"
        );

        data.apply(&run("01d", &done, RunStatus::Failed));
        assert_eq!(data.column(&done), Column::Done, "a done task stays done");
        let counts = data.counts();
        assert_eq!(counts.get(&Column::Done), Some(&2));
    }
}
