//! The orchestrator: one tokio task that owns all run state. It schedules tasks onto workers,
//! applies their milestones, persists every change before publishing it as an [`Event`], and
//! takes [`Command`]s from front ends (the headless runner, the CLI, later the console).

mod error;
pub(crate) use worker::beside;
mod deliver;
pub mod notify;
pub mod prompt;
pub mod schedule;
mod worker;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use bosun_api::{Bus, Command, CommandError, Event, Missed, NewTask, Subscription};
pub use error::OrchestratorError;

use crate::config::Config;
use crate::executors;
use crate::gates::policy;
use crate::git;
use crate::intake::{IntakeError, TaskList};
use crate::memory::{self, Learning, Observation, Outcome as Decided, Recall, Sampler};
use crate::model::{
    Decision, RoutingChoice, Run, RunId, RunStatus, Task, TaskId, TaskType, now_ms,
};
use crate::project::Project;
use crate::store::{Approval, RunEvent, Store, StoreError};
use worker::{Job, Outcome, Update};

/// How the orchestrator should behave for this front end.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Start runs at all (false for one-off commands like `approve`).
    pub schedule: bool,
    /// Only these tasks (ids or unique id prefixes).
    pub only: Vec<String>,
    /// Start at most this many runs.
    pub max_runs: Option<usize>,
    /// Stop once nothing runs and nothing more can start.
    pub exit_when_idle: bool,
}

/// A running orchestrator's handles.
pub struct Handle {
    /// Send requests here.
    pub commands: mpsc::Sender<Command>,
    /// Subscribe here for events.
    pub events: Bus,
    /// Resolves when the orchestrator has stopped.
    pub done: tokio::task::JoinHandle<Result<(), OrchestratorError>>,
}

/// A run a worker is busy with.
struct Active {
    cancel: CancellationToken,
}

/// Owns the runs of one repository.
pub struct Orchestrator {
    project: Project,
    config: Config,
    store: Arc<Store>,
    events: Bus,
    target: String,
    worktree_root: PathBuf,
    options: Options,
    only: Option<HashSet<TaskId>>,
    /// Failed attempts forgiven per named task that had used up its attempts.
    forgiven: HashMap<TaskId, u32>,
    /// The gates being checked on the base before any agent runs ([`gates::preflight`]):
    /// their answer, and the token that stops them.
    preflight: Option<(tokio::sync::oneshot::Receiver<Preflight>, CancellationToken)>,
    /// The last check on the base found a gate that fails there (resuming checks again).
    preflight_broken: bool,
    /// Executors resting after they could not reach their model: until when (`None`: until
    /// bosun starts again), and why.
    cooling: HashMap<String, Resting>,
    tasks: Arc<Vec<Task>>,
    /// The runs this orchestrator acts on: those not finished when it opened, and those it
    /// made or touched since (whole runs; finished ones are read from the store on demand).
    runs: HashMap<RunId, Run>,
    /// The history of each task scheduling has looked at (summaries, from the store's
    /// `task_runs`), kept up to date with every save.
    history: schedule::History,
    active: HashMap<RunId, Active>,
    workers: JoinSet<(RunId, Outcome)>,
    updates_tx: mpsc::UnboundedSender<Update>,
    updates_rx: mpsc::UnboundedReceiver<Update>,
    started: usize,
    paused: bool,
    /// Why no new run may start for want of disk space (`[store] min_free_mb`), if so.
    low_space: Option<String>,
    stopping: bool,
    announced_idle: bool,
    /// Draws executors from their posteriors (seeded by `[memory] seed`).
    sampler: Sampler,
    /// What runs, tasks and today have spent on models, against `[budget]`.
    ledger: Arc<crate::llm::Ledger>,
    /// Best-of candidates the policy would auto-approve, held until their rival is done.
    pending_auto: HashSet<RunId>,
    /// The model router, when `[llm]` has routes.
    chat: Option<Arc<dyn crate::llm::Chat>>,
    /// Pull requests of delivered runs being looked at on the forge.
    following: deliver::Following,
    /// Approvals being delivered as pull requests (push and forge calls off the loop).
    deliveries: deliver::Deliveries,
    /// The partial approval whose kept hunks the gates are checking, if any (one at a time:
    /// they share an export directory, so its build output is reused).
    checking: Option<Checking>,
}

/// An executor resting after it could not reach its model.
#[derive(Debug, Clone, Copy)]
struct Resting {
    /// Until when (`None`: until bosun starts again).
    until: Option<tokio::time::Instant>,
    /// Its runs in a row that could not reach the model.
    tries: u32,
}

/// Unavailable runs in a row after which `bosun run --headless` stops waiting for an
/// executor (the console keeps trying).
const HEADLESS_TRIES: u32 = 3;

/// Each gate checked on the base before any agent runs, and why it fails there.
type Preflight = Vec<(String, Result<(), String>)>;

/// A partial approval waiting for its kept hunks to pass the required gates.
struct Checking {
    run: RunId,
    who: String,
    note: String,
    /// The operator's commit message for the merge, if they wrote one.
    message: Option<String>,
    /// How the approval is delivered, if the decision said.
    deliver: Option<crate::model::Delivery>,
    kept: git::PartialOutcome,
    /// Who asked, for the answer (none for a decision made without a front end waiting).
    reply: Option<tokio::sync::oneshot::Sender<Result<Run, CommandError>>>,
}

/// How an approval went on: merged, or its kept hunks are being checked first, or it is
/// being delivered as a pull request (answered when the forge has it).
enum Approving {
    Merged(Box<Run>),
    Checking,
    Delivering(RunId),
}

/// What [`Orchestrator::merge_approved`] did: merged here, or started a delivery.
enum Approved {
    Merged(Box<Run>),
    Delivering(RunId),
}

impl From<Approved> for Approving {
    fn from(a: Approved) -> Self {
        match a {
            Approved::Merged(run) => Self::Merged(run),
            Approved::Delivering(id) => Self::Delivering(id),
        }
    }
}

pub use crate::gates::policy::JUDGE_UNCERTAIN;

/// Most characters of an agent's summary kept in a pattern.
const SUMMARY_CHARS: usize = 300;

/// A decided run's contribution to its strategy.
fn outcome_of(run: &Run, success: bool) -> Decided {
    let reported = run.usage.is_known();
    Decided {
        success,
        score: run.score,
        duration_ms: run
            .started_ms
            .zip(run.finished_ms)
            .map(|(start, end)| end.saturating_sub(start)),
        // An unknown cost is not a cheap run.
        cost_usd: (reported && !run.usage.cost_unknown).then_some(run.usage.cost_usd),
    }
}

/// The model router for `[llm]` (answers cached in the store when `[llm] cache` is on), or
/// None when no route is configured.
fn router(
    config: &Config,
    store: &Store,
) -> Result<Option<Arc<dyn crate::llm::Chat>>, OrchestratorError> {
    let llm = &config.llm;
    if llm.routes.is_empty() {
        return Ok(None);
    }
    let cache = if llm.cache {
        let cache = crate::llm::Cache::new(store.llm_cache()?, llm.cache_ttl());
        let pruned = cache.prune();
        if pruned > 0 {
            tracing::debug!(pruned, "expired model answers removed from the cache");
        }
        Some(cache)
    } else {
        None
    };
    let router = crate::llm::Router::new(llm, cache)
        .map_err(|e| OrchestratorError::Config(format!("[llm]: {e}")))?;
    Ok(Some(Arc::new(router)))
}

/// Ends the process group a crashed bosun recorded with a run, if it still runs.
fn end_group(pgid: Option<i32>) {
    if let Some(pgid) = pgid
        && executors::process_group_alive(pgid)
    {
        executors::kill_process_group(pgid);
    }
}

/// Runs blocking work `f` (git, files) on the blocking pool, off the orchestrator's loop.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, OrchestratorError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OrchestratorError::Config(format!("a git task failed: {e}")))
}

pub use crate::api::operator;

/// Ticks task `task_id` in the task list as it is in commit `merged` (the planned merge), as a
/// commit on top of it in the object database; returns the commit the target is to point at
/// and a note when there was nothing to tick (the task is gone, or ticked already). When the
/// tick commit cannot be made (a full disk, say) the approval fails before anything moves:
/// a merge never lands without its tick.
fn tick(
    repo: &std::path::Path,
    merged: &str,
    files: &[PathBuf],
    rules: &crate::intake::TypeRules,
    task_id: &str,
    title: &str,
) -> Result<(String, Option<String>), OrchestratorError> {
    let sources = task_sources(repo, merged, files)?;
    match crate::intake::tick_sources(&sources, rules, task_id) {
        Ok((_, Some((i, bytes)))) => {
            let commit = git::commit_file_on(
                repo,
                merged,
                &sources[i].0,
                &bytes,
                &format!("bosun: done {task_id} {title}"),
            )
            .map_err(|e| {
                OrchestratorError::Config(format!(
                    "cannot tick task {task_id} ({e}); nothing was merged"
                ))
            })?;
            Ok((commit, None))
        }
        Ok((_, None)) => Ok((
            merged.to_string(),
            Some("the task was already ticked".into()),
        )),
        Err(IntakeError::TaskNotFound { .. }) => Ok((
            merged.to_string(),
            Some("the task is no longer in the task list; nothing to tick".into()),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The task files as they are at `rev`, a branch or a commit id (those that exist there).
fn task_sources(
    repo: &std::path::Path,
    rev: &str,
    files: &[PathBuf],
) -> Result<Vec<(PathBuf, Vec<u8>)>, OrchestratorError> {
    let mut sources = Vec::new();
    for f in files {
        // A task file that is a symlink is read, and ticked, where it points (inside the
        // repository; one pointing outside is refused with an error naming it).
        match git::read_task_file_at(repo, rev, f) {
            Ok(Some((path, bytes))) => sources.push((path, bytes)),
            Ok(None) => {}
            Err(git::GitError::InvalidPath(target)) => {
                return Err(OrchestratorError::Config(format!(
                    "task file {} is a symlink to {}, outside the repository; bosun ticks only files inside it",
                    f.display(),
                    target.display()
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(sources)
}

/// Where a task's checkbox stands on a branch, read from git (the truth), for saying only
/// what happened after an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickState {
    /// The task is there, ticked.
    Ticked,
    /// The task is there, not ticked.
    Open,
    /// No task file on the branch has the task.
    Gone,
}

/// Whether task `task_id` is ticked in `files` at the tip of `branch`.
pub fn tick_state(
    repo: &std::path::Path,
    branch: &str,
    files: &[PathBuf],
    rules: &crate::intake::TypeRules,
    task_id: &str,
) -> Result<TickState, OrchestratorError> {
    let sources = task_sources(repo, branch, files)?;
    match crate::intake::tick_sources(&sources, rules, task_id) {
        Ok((_, None)) => Ok(TickState::Ticked),
        Ok((_, Some(_))) => Ok(TickState::Open),
        Err(IntakeError::TaskNotFound { .. }) => Ok(TickState::Gone),
        Err(e) => Err(e.into()),
    }
}

impl Orchestrator {
    /// Opens the store (taking the repository lock), recovers from an earlier crash, and
    /// returns an orchestrator ready to [`spawn`](Self::spawn).
    pub fn open(
        project: Project,
        config: Config,
        options: Options,
    ) -> Result<Self, OrchestratorError> {
        let repo = project.repo.clone().ok_or_else(|| {
            OrchestratorError::Config(format!(
                "{} is not inside a git repository; run `git init` there first",
                project.root.display()
            ))
        })?;
        let target = if config.project.target_branch.is_empty() {
            repo.branch.clone().ok_or_else(|| {
                OrchestratorError::Config("HEAD is detached; check out a branch or set [project] target_branch in bosun.toml".into())
            })?
        } else {
            config.project.target_branch.clone()
        };
        let worktree_root = if config.project.worktree_root.is_empty() {
            git::default_worktree_root(&project.root)
        } else {
            PathBuf::from(&config.project.worktree_root)
        };
        let state_dir = project
            .ensure_state_subdir("")
            .map_err(|e| OrchestratorError::Config(format!("{e:#}")))?;
        let store = Arc::new(Store::open(&state_dir)?);
        let chat = router(&config, &store)?;
        let events = Bus::new();
        let (updates_tx, updates_rx) = mpsc::unbounded_channel();
        let sampler = Sampler::new(config.memory.seed);
        let config_budget = config.budget.clone();
        let mut me = Self {
            project,
            config,
            store,
            events,
            target,
            worktree_root,
            options,
            only: None,
            forgiven: HashMap::new(),
            cooling: HashMap::new(),
            preflight: None,
            preflight_broken: false,
            tasks: Arc::default(),
            runs: HashMap::new(),
            history: schedule::History::new(),
            active: HashMap::new(),
            workers: JoinSet::new(),
            updates_tx,
            updates_rx,
            started: 0,
            paused: false,
            low_space: None,
            stopping: false,
            announced_idle: false,
            sampler,
            ledger: crate::llm::Ledger::new(config_budget),
            pending_auto: HashSet::new(),
            chat,
            following: deliver::Following::default(),
            deliveries: deliver::Deliveries::default(),
            checking: None,
        };
        // Only unfinished runs are read whole; a task's history is read when it is needed.
        for run in me.store.open_runs()? {
            me.runs.insert(run.id.clone(), run);
        }
        let open_tasks: HashSet<TaskId> = me.runs.values().map(|r| r.task_id.clone()).collect();
        for task in &open_tasks {
            me.load_history(task)?;
        }
        // The run itself is the truth: a crash between writing a summary and its run leaves
        // the summary ahead.
        for run in me.runs.values() {
            schedule::record(&mut me.history, &run.task_id, run.into());
        }
        // Today's spend, for a daily limit: runs that finished today were made today or
        // yesterday (without a limit, nothing reads it: a start does not read two days of
        // runs for nothing).
        if me.config.budget.per_day_usd > 0.0 {
            let day_start = now_ms() / 86_400_000 * 86_400_000;
            for (cost_usd, ended_ms) in
                me.store.spent_since(day_start.saturating_sub(86_400_000))?
            {
                me.ledger.seed_day(cost_usd, ended_ms);
            }
        }
        me.recover()?;
        Ok(me)
    }

    /// The route that summarizes a retry's feedback (`[llm] analyze_errors`): the configured
    /// one, else the first route by name; None when off or no route exists.
    fn analyze_route(&self) -> Option<String> {
        let llm = &self.config.llm;
        if !llm.analyze_errors {
            return None;
        }
        if llm.analyze_route.is_empty() {
            llm.routes.keys().next().cloned()
        } else {
            Some(llm.analyze_route.clone())
        }
    }

    /// Reads `task`'s history from the store once (its runs' summaries), counting what they
    /// spent toward the task's budget.
    fn load_history(&mut self, task: &TaskId) -> Result<(), OrchestratorError> {
        if self.history.contains_key(task) {
            return Ok(());
        }
        let runs = self.store.task_runs(task)?;
        let spent: f64 = runs.iter().map(|r| r.cost_usd).sum();
        if spent > 0.0 {
            self.ledger.seed_task(&task.0, spent);
        }
        self.history.insert(task.clone(), runs);
        Ok(())
    }

    /// A run: as this orchestrator holds it, else as stored.
    fn run_by_id(&self, id: &RunId) -> Result<Option<Run>, OrchestratorError> {
        match self.runs.get(id) {
            Some(run) => Ok(Some(run.clone())),
            None => Ok(self.store.run(id)?),
        }
    }

    /// The store (for front ends that read history).
    pub fn store(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }

    /// The branch runs merge into.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A receiver for events. Subscribe before [`spawn`](Self::spawn) to see every event, even
    /// those of an orchestrator that stops at once (a receiver made later misses them).
    pub fn subscribe(&self) -> Subscription {
        self.events.subscribe()
    }

    /// Starts the orchestrator on its own tokio task.
    pub fn spawn(self) -> Handle {
        self.spawn_after(std::future::ready(true))
    }

    /// As [`spawn`](Self::spawn), but the orchestrator begins its start (reading the task
    /// list, the task histories, the executors) only when `go` completes: the console lets
    /// it begin once the first board is on the screen, so that the start does not take the
    /// CPU the first frame needs. Commands sent meanwhile wait in the channel. When `go` says
    /// false (the console ended before its first frame), the orchestrator ends without
    /// starting.
    pub fn spawn_after(self, go: impl Future<Output = bool> + Send + 'static) -> Handle {
        let (commands, rx) = mpsc::channel(64);
        let events = self.events.clone();
        let done = tokio::spawn(async move { if go.await { self.run(rx).await } else { Ok(()) } });
        Handle {
            commands,
            events,
            done,
        }
    }

    /// Runs found mid-flight after a crash are marked interrupted (their agents stopped, their
    /// worktrees removed) and queued again; worktrees no run owns are removed.
    fn recover(&mut self) -> Result<(), OrchestratorError> {
        self.reconcile_approvals()?;
        let stale: Vec<Run> = self
            .runs
            .values()
            .filter(|r| r.status.is_active())
            .cloned()
            .collect();
        // A partial approval whose kept hunks were being checked: its gate commands are
        // ended; nothing was merged (the merge comes only after the check).
        let checked: Vec<Run> = self
            .runs
            .values()
            .filter(|r| r.status == RunStatus::AwaitingApproval && r.pgid.is_some())
            .cloned()
            .collect();
        for run in checked {
            end_group(run.pgid);
            self.update(&run.id, |r| r.pgid = None)?;
            self.history(
                &run.id,
                "note",
                "bosun stopped while the gates checked the kept hunks of a partial approval: nothing was merged; the run still awaits approval as reviewed".into(),
            );
        }
        for mut run in stale {
            end_group(run.pgid);
            self.remove_worktree(&run);
            run.status = RunStatus::Interrupted;
            run.error = Some("bosun stopped while this run was in progress".into());
            run.finished_ms = Some(now_ms());
            run.worktree = None;
            self.save(run.clone())?;
            let mut again = self.new_run(
                &run.task_id,
                &run.task_title,
                run.attempt + 1,
                run.feedback.clone(),
            );
            again.executor = run.executor.clone();
            self.save(again)?;
        }
        let owned: HashSet<PathBuf> = self
            .runs
            .values()
            .filter(|r| r.status == RunStatus::AwaitingApproval)
            .filter_map(|r| r.worktree.clone())
            .collect();
        if let Ok(stale) = git::stale_worktrees(&self.project.root, &self.worktree_root) {
            for path in stale.into_iter().filter(|p| !owned.contains(p)) {
                tracing::info!(path = %path.display(), "removing stale worktree");
                if let Err(e) = git::remove_worktree(&self.project.root, &path, None) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove stale worktree");
                }
            }
        }
        Ok(())
    }

    fn new_run(&self, task: &TaskId, title: &str, attempt: u32, feedback: Option<String>) -> Run {
        Run {
            feedback,
            ..Run::queued(task.clone(), title, attempt, &self.target)
        }
    }

    /// Persists a run, then publishes it. A status change is also kept in the run's history.
    fn save(&mut self, run: Run) -> Result<(), OrchestratorError> {
        self.save_learning(run, None)
    }

    /// [`save`](Self::save), with what the run teaches process memory written in the same
    /// transaction as the run itself.
    fn save_learning(
        &mut self,
        run: Run,
        learning: Option<Learning>,
    ) -> Result<(), OrchestratorError> {
        let learned = match &learning {
            Some(l) => self.store.put_run_and_learn(&run, l)?,
            None => {
                self.store.put_run(&run)?;
                memory::Learned::default()
            }
        };
        self.publish(run, &learned)
    }

    /// What follows a run's write to the store: the lessons it taught and its status change
    /// noted in its history, the scheduler's record of it, and its event for front ends.
    fn publish(&mut self, run: Run, learned: &memory::Learned) -> Result<(), OrchestratorError> {
        for lesson in &learned.new_lessons {
            let text = format!("lesson learned ({}): {}", lesson.id, lesson.text);
            let _ = self.store.append_event(
                &run.id,
                &RunEvent {
                    at_ms: now_ms(),
                    kind: "note".into(),
                    text: text.clone(),
                },
            );
            self.events.send(Event::Notice {
                text: format!("run {}: {text}", run.id),
            });
        }
        let changed = self
            .runs
            .get(&run.id)
            .is_none_or(|old| old.status != run.status);
        if changed {
            // History is best-effort: the run itself is already stored.
            let _ = self.store.append_event(
                &run.id,
                &RunEvent {
                    at_ms: now_ms(),
                    kind: "status".into(),
                    text: match &run.error {
                        Some(e) if run.status.is_final() => format!("{}: {e}", run.status),
                        _ => run.status.to_string(),
                    },
                },
            );
        }
        self.load_history(&run.task_id)?;
        schedule::record(&mut self.history, &run.task_id, (&run).into());
        self.runs.insert(run.id.clone(), run.clone());
        self.events.send(Event::Run { run: Box::new(run) });
        Ok(())
    }

    /// Applies a change to a stored run and persists it.
    fn update(
        &mut self,
        id: &RunId,
        change: impl FnOnce(&mut Run),
    ) -> Result<Option<Run>, OrchestratorError> {
        self.update_and_learn(id, change, |_, _| Vec::new())
    }

    /// [`update`](Self::update), with what `observe` sees in the changed run written to process
    /// memory in the same transaction (a decided outcome also marks the run as counted).
    fn update_and_learn(
        &mut self,
        id: &RunId,
        change: impl FnOnce(&mut Run),
        observe: impl FnOnce(&Self, &Run) -> Vec<Observation>,
    ) -> Result<Option<Run>, OrchestratorError> {
        let Some(mut run) = self.run_by_id(id)? else {
            return Ok(None);
        };
        change(&mut run);
        let observations = if self.config.memory.enabled {
            observe(self, &run)
        } else {
            Vec::new()
        };
        let learning = self.learning(&mut run, observations)?;
        self.save_learning(run.clone(), learning)?;
        Ok(Some(run))
    }

    /// The task a run works on: the loaded task list, else the snapshot stored when it was
    /// last read (a one-off `approve` or `reject` does not read the task list).
    fn task_of(&self, run: &Run) -> Result<Option<Task>, OrchestratorError> {
        if let Some(t) = self.tasks.iter().find(|t| t.id == run.task_id) {
            return Ok(Some(t.clone()));
        }
        Ok(self.store.task(&run.task_id.0)?)
    }

    /// What `observations` of `run` teach, with the run's task type and keywords; `None`
    /// when there is nothing to learn. A decided outcome marks the run as counted.
    fn learning(
        &self,
        run: &mut Run,
        observations: Vec<Observation>,
    ) -> Result<Option<Learning>, OrchestratorError> {
        if observations.is_empty() {
            return Ok(None);
        }
        for o in &observations {
            if let Observation::Decided(d) = o {
                run.memory_outcome = Some(d.success);
            }
        }
        let task = self.task_of(run)?;
        let task_type = run
            .routing
            .as_ref()
            .map(|r| r.task_type)
            .or(task.as_ref().map(|t| t.task_type))
            .unwrap_or(TaskType::Code);
        let keywords = memory::keywords(&task.as_ref().map_or_else(
            || run.task_title.clone(),
            |t| format!("{}\n{}\n{}", t.title, t.description, t.body),
        ));
        Ok(Some(Learning {
            run_id: run.id.0.clone(),
            task_type,
            task_title: run.task_title.clone(),
            keywords,
            executor: run.executor.clone(),
            observations,
        }))
    }

    /// Required gates that failed on `run`, each as an observation.
    fn gate_failures(run: &Run) -> Vec<Observation> {
        run.gates
            .iter()
            .filter_map(|g| {
                memory::gate_failure_line(g, run.worktree.as_deref()).map(|line| {
                    Observation::GateFailed {
                        gate: g.name.clone(),
                        line,
                    }
                })
            })
            .collect()
    }

    /// A failed run is its task's final failure when its task has used up its attempts
    /// (the scheduler's rule), and it was not counted yet: counted once per task, not per try.
    fn final_failure(&self, run: &Run) -> Option<Observation> {
        if run.status != RunStatus::Failed || run.memory_outcome.is_some() {
            return None;
        }
        let this = crate::model::RunSummary::from(run);
        let failures = schedule::failed_attempts(
            self.history
                .get(&run.task_id)
                .into_iter()
                .flatten()
                .filter(|r| r.id != run.id)
                .chain(std::iter::once(&this)),
        );
        (failures >= self.config.orchestrator.max_attempts)
            .then(|| Observation::Decided(outcome_of(run, false)))
    }

    fn reload_tasks(&mut self) -> Result<(), OrchestratorError> {
        let rules = self.config.intake.type_rules();
        let list = TaskList::load(&self.project.root, &self.config.project.task_files, &rules)?;
        self.store.put_tasks(&list.tasks)?;
        let naming = self.only.is_none() && !self.options.only.is_empty();
        if naming {
            let mut only = HashSet::new();
            for wanted in &self.options.only {
                let task = list.find(wanted).ok_or_else(|| {
                    OrchestratorError::Config(format!(
                        "no task `{wanted}` in the task list (see `bosun tasks`)"
                    ))
                })?;
                only.insert(task.id.clone());
            }
            self.only = Some(only);
        }
        let tasks = Arc::new(list.tasks);
        self.events.send(Event::Tasks {
            tasks: Arc::clone(&tasks),
        });
        for task in tasks.iter().filter(|t| !t.done) {
            self.load_history(&task.id)?;
        }
        if naming {
            self.forgive_named(&tasks);
        }
        self.tasks = tasks;
        Ok(())
    }

    /// A task named with `--task` that has used up its attempts gets `max_attempts` more,
    /// and the operator is told so (it is not skipped in silence).
    fn forgive_named(&mut self, tasks: &[Task]) {
        let max = self.config.orchestrator.max_attempts;
        for task in tasks.iter().filter(|t| !t.done) {
            if !self.only.as_ref().is_some_and(|o| o.contains(&task.id)) {
                continue;
            }
            let runs = self
                .history
                .get(&task.id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let failed = schedule::failed_attempts(runs.iter());
            if failed < max {
                continue;
            }
            let next = runs.iter().map(|r| r.attempt).max().unwrap_or(0) + 1;
            self.forgiven.insert(task.id.clone(), failed);
            self.events.send(Event::Notice {
                text: format!(
                    "{} {} used its {failed} attempts; named with --task, it gets {max} more, starting with attempt {next}",
                    task.id, task.title
                ),
            });
        }
    }

    /// Starts checking, on the target's tip, the required gates that do not compare with the
    /// base (`build`, …): a gate that fails there would fail every run, so no agent starts
    /// until the answer is in ([`Orchestrator::preflighted`]).
    fn start_preflight(&mut self) {
        let wanted = self
            .config
            .gates
            .commands
            .iter()
            .any(|(name, g)| crate::gates::blocks_when_broken(name, g));
        if !wanted {
            return;
        }
        let base = match git::tip_of(&self.project.root, &self.target) {
            Ok(base) => base,
            Err(e) => {
                tracing::warn!("cannot check the gates on {}: {e}", self.target);
                return;
            }
        };
        self.events.send(Event::Notice {
            text: format!(
                "checking the gates on {} ({}) before any agent runs",
                self.target,
                &base[..base.len().min(10)]
            ),
        });
        let (config, root, state) = (
            self.config.clone(),
            self.project.root.clone(),
            self.project.state_dir(),
        );
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A gate command left running by a bosun that crashed while checking is ended; this
        // one's process group is recorded (one line, replaced) until the check is over.
        let record = state.join("preflight.pgid");
        if let Some(pgid) = std::fs::read_to_string(&record)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            end_group(Some(pgid));
        }
        tokio::spawn(async move {
            let recorded = record.clone();
            let on_start = move |pgid: i32| {
                if let Err(e) = std::fs::write(&recorded, format!("{pgid}\n")) {
                    tracing::warn!(file = %recorded.display(), "cannot record a gate's process group: {e}");
                }
            };
            let results = crate::gates::on_base(
                &config,
                &root,
                &state,
                &base,
                crate::gates::blocks_when_broken,
                &stop,
                &on_start,
            )
            .await;
            let _ = std::fs::remove_file(&record);
            let checked = results
                .iter()
                .map(|(gate, r)| (gate.clone(), crate::gates::failure(r).map_or(Ok(()), Err)))
                .collect();
            let _ = tx.send(checked);
        });
        self.preflight = Some((rx, cancel));
    }

    /// The gates' answer on the base: a gate that cannot pass there stops the queue (paused,
    /// with why and what to do) before any agent spends an attempt on it.
    fn preflighted(&mut self, checked: Preflight) {
        let broken: Vec<String> = checked
            .iter()
            .filter_map(|(gate, r)| r.as_ref().err().map(|why| (gate, why)))
            .map(|(gate, why)| format!("gate `{gate}` fails on {} itself ({why})", self.target))
            .collect();
        self.preflight_broken = !broken.is_empty();
        if broken.is_empty() {
            return;
        }
        self.paused = true;
        self.events.send(Event::Paused { paused: true });
        for line in &broken {
            let text = format!(
                "{line}: no agent is started, as no change could pass it. Fix {} or the gate's command in bosun.toml, then resume (`p` in the console, or start bosun again)",
                self.target
            );
            tracing::warn!("{text}");
            self.events.send(Event::Notice { text });
        }
    }

    /// Every executor that routing can pick must exist before any run starts: a missing agent
    /// program is a clear error now, not a string of failed runs.
    fn check_executors(&self) -> Result<(), OrchestratorError> {
        for (name, executor) in &self.config.executors.agents {
            if executor.kind == crate::config::ExecutorKind::Llm {
                continue;
            }
            let argv = executor.argv();
            let Some(program) = argv.first() else {
                continue;
            };
            if executors::find_agent_program(program, &self.project.root, &executor.env).is_none() {
                return Err(OrchestratorError::Config(format!(
                    "agent program `{program}` of [executors.{name}] was not found on PATH; install it or fix its command in bosun.toml (`bosun doctor` checks this)"
                )));
            }
        }
        Ok(())
    }

    /// Runs until stopped; `Stopped` is published however it ends, so front ends never wait
    /// on an orchestrator that failed.
    async fn run(self, commands: mpsc::Receiver<Command>) -> Result<(), OrchestratorError> {
        let events = self.events.clone();
        let result = self.run_loop(commands).await;
        if let Err(e) = &result {
            tracing::error!("the orchestrator stopped: {e}");
            events.send(Event::Failed {
                error: e.to_string(),
            });
        }
        events.send(Event::Stopped);
        result
    }

    async fn run_loop(
        mut self,
        mut commands: mpsc::Receiver<Command>,
    ) -> Result<(), OrchestratorError> {
        if self.options.schedule {
            self.reload_tasks()?;
            self.check_executors()?;
            self.start_preflight();
        }
        self.resume_auto_approvals().await?;
        // Pull requests delivered before this start: looked at once now (a headless run waits
        // for that round before it may end), then every `[forge] poll_secs`.
        if self.options.schedule {
            self.start_looks();
        }
        let mut grace: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            let checking = self.preflight.is_some();
            if self.options.schedule
                && !self.stopping
                && !self.paused
                && !checking
                && self.enough_space()
            {
                self.schedule()?;
            }
            if self.workers.is_empty() {
                if self.stopping {
                    break;
                }
                let can_start = self.options.schedule
                    && !self.paused
                    && self.low_space.is_none()
                    && self.has_candidates();
                // Not idle while an executor rests for a while (work resumes when it is back)
                // or while the gates are checked on the base.
                if !can_start
                    && self.next_rested().is_none()
                    && !checking
                    && !self.following.busy()
                    && !self.deliveries.busy()
                {
                    if !self.announced_idle {
                        self.announced_idle = true;
                        self.events.send(Event::Idle);
                    }
                    if self.options.exit_when_idle {
                        break;
                    }
                }
            }
            let rest_until = self.next_rested();
            tokio::select! {
                // The gates checked on the base: agents may start, or the queue stops.
                checked = async {
                    match self.preflight.as_mut() {
                        Some((rx, _)) => rx.await.ok(),
                        None => std::future::pending().await,
                    }
                } => {
                    self.preflight = None;
                    self.preflighted(checked.unwrap_or_default());
                }
                // A resting executor may work again: schedule.
                () = tokio::time::sleep_until(rest_until.unwrap_or_else(tokio::time::Instant::now)), if rest_until.is_some() => {}
                // While short of space, look again now and then: scheduling resumes by itself.
                () = tokio::time::sleep(std::time::Duration::from_secs(5)), if self.low_space.is_some() => {}
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.handle_command(cmd).await,
                    None => { self.begin_stop(); }
                },
                Some(update) = self.updates_rx.recv() => self.handle_update(update)?,
                // Delivered runs' pull requests: looked at now and then, off this loop.
                () = tokio::time::sleep_until(self.following.due().unwrap_or_else(tokio::time::Instant::now)), if self.following.due().is_some() && self.options.schedule => {
                    self.start_looks();
                }
                Some(seen) = self.following.next(), if self.following.busy() => self.handle_looks(seen)?,
                (id, shipped) = self.deliveries.next(), if self.deliveries.busy() => self.finish_delivery(id, shipped)?,
                Some(joined) = self.workers.join_next(), if !self.workers.is_empty() => {
                    match joined {
                        Ok((id, outcome)) => self.handle_outcome(id, outcome).await?,
                        Err(e) => tracing::error!(error = %e, "a worker panicked"),
                    }
                }
                _ = async { if let Some(g) = grace.as_mut() { g.await } else { std::future::pending().await } } => {
                    for a in self.active.values() { a.cancel.cancel(); }
                    grace = None;
                }
            }
            if self.stopping
                && grace.is_none()
                && !self.active.is_empty()
                && self.active.values().all(|a| !a.cancel.is_cancelled())
            {
                grace = Some(Box::pin(tokio::time::sleep(
                    self.config.orchestrator.shutdown_grace(),
                )));
            }
        }
        // Drain milestone updates that raced with the end of the workers.
        while let Ok(update) = self.updates_rx.try_recv() {
            self.handle_update(update)?;
        }
        self.store.flush()?;
        Ok(())
    }

    fn begin_stop(&mut self) {
        if !self.stopping {
            self.stopping = true;
            if let Some((_, cancel)) = &self.preflight {
                cancel.cancel();
            }
            if !self.active.is_empty() {
                self.events.send(Event::Notice {
                    text: format!(
                        "stopping: {} run(s) get {} to finish",
                        self.active.len(),
                        humantime::format_duration(self.config.orchestrator.shutdown_grace())
                    ),
                });
            }
        }
    }

    fn has_candidates(&self) -> bool {
        let unroutable = self.unroutable();
        let routable = |next: &schedule::Next| match next {
            schedule::Next::Queued(id) => self
                .runs
                .get(id)
                .is_none_or(|r| !unroutable.contains(&r.task_id)),
            schedule::Next::Task { task, .. } => !unroutable.contains(task),
        };
        self.candidates().iter().any(routable)
            && self.options.max_runs.is_none_or(|m| self.started < m)
    }

    fn candidates(&self) -> Vec<schedule::Next> {
        schedule::candidates(
            &self.tasks,
            &self.history,
            &schedule::Scope {
                max_attempts: self.config.orchestrator.max_attempts,
                only: self.only.as_ref(),
                forgiven: Some(&self.forgiven),
            },
        )
    }

    /// Whether the state directory's and the checkouts' file systems have `[store]
    /// min_free_mb` free; says so once (a notice) when that changes either way.
    fn enough_space(&mut self) -> bool {
        let min = self.config.store.min_free_mb;
        let problem = if min == 0 {
            None
        } else {
            [self.project.state_dir(), self.worktree_root.clone()]
                .iter()
                .find_map(|dir| {
                    let free = crate::kv::free_mb(dir)?;
                    (free < min).then(|| {
                        format!(
                            "only {free} MB free on the file system of {} ([store] min_free_mb = {min}): no new run starts until space is freed",
                            dir.display()
                        )
                    })
                })
        };
        if problem != self.low_space {
            let text = match &problem {
                Some(p) => p.clone(),
                None => "disk space is back above [store] min_free_mb: runs start again".into(),
            };
            tracing::warn!("{text}");
            self.events.send(Event::Notice { text });
            self.low_space = problem;
        }
        self.low_space.is_none()
    }

    fn schedule(&mut self) -> Result<(), OrchestratorError> {
        let free = self
            .config
            .orchestrator
            .max_parallel
            .saturating_sub(self.active.len());
        if free == 0 {
            return Ok(());
        }
        let mut free = free;
        let unroutable = self.unroutable();
        for next in self.candidates() {
            if free == 0 || self.options.max_runs.is_some_and(|m| self.started >= m) {
                break;
            }
            let runs = match next {
                schedule::Next::Queued(id) => match self.runs.get(&id) {
                    // A best-of candidate may have been started with its rival already; a
                    // run whose executors all rest waits.
                    Some(r)
                        if r.status == RunStatus::Queued && !unroutable.contains(&r.task_id) =>
                    {
                        vec![r.clone()]
                    }
                    _ => continue,
                },
                schedule::Next::Task {
                    task,
                    attempt,
                    after,
                } => {
                    let Some(found) = self.tasks.iter().find(|t| t.id == task) else {
                        continue;
                    };
                    if unroutable.contains(&task) {
                        continue;
                    }
                    let feedback = match after {
                        Some(id) => self.run_by_id(&id)?.and_then(|r| schedule::feedback(&r)),
                        None => None,
                    };
                    let (title, task_type) = (found.title.clone(), found.task_type);
                    let mut runs = vec![self.new_run(&task, &title, attempt, feedback.clone())];
                    if self.config.orchestrator.best_of(task_type) > 1 {
                        let mut rival = self.new_run(&task, &title, attempt, feedback);
                        rival.rival = Some(runs[0].id.clone());
                        runs[0].rival = Some(rival.id.clone());
                        runs.push(rival);
                    }
                    for r in &runs {
                        self.save(r.clone())?;
                    }
                    runs
                }
            };
            for run in runs {
                if free == 0 || self.options.max_runs.is_some_and(|m| self.started >= m) {
                    break;
                }
                self.start(run)?;
                free -= 1;
            }
        }
        Ok(())
    }

    /// The executor for a task, among the candidates `[routing]` lists for its type (else
    /// every configured executor, in name order): drawn by Thompson sampling on their records
    /// for that type, or the first candidate with process memory off. The choice says how.
    fn executor_for(
        &mut self,
        task: &Task,
        rival: Option<&str>,
    ) -> Result<(String, crate::config::ExecutorConfig, RoutingChoice), OrchestratorError> {
        let mut names = self.routed(task.task_type);
        // An executor resting after it could not reach its model is passed over.
        if names.iter().any(|n| self.rested(n)) {
            names.retain(|n| self.rested(n));
        }
        let agents = &self.config.executors.agents;
        // Best-of: the second candidate is another executor when there is one.
        if let Some(taken) = rival
            && names.len() > 1
        {
            names.retain(|n| n != taken);
        }
        if names.is_empty() {
            return Err(OrchestratorError::Config(
                "no coding agent is configured; add an [executors.NAME] section to bosun.toml"
                    .into(),
            ));
        }
        if let Some(name) = names.iter().find(|n| !agents.contains_key(*n)) {
            return Err(OrchestratorError::Config(format!(
                "[routing] names `{name}`, which is not in [executors]"
            )));
        }
        let choice = if self.config.memory.enabled {
            let mut records = Vec::with_capacity(names.len());
            for name in names {
                let record = self
                    .store
                    .memory()
                    .strategy(task.task_type, &name)
                    .map_err(StoreError::from)?;
                records.push((name, record));
            }
            let candidates = memory::cost_adjusted(&records, self.config.memory.cost_weight);
            self.sampler.choose(task.task_type, &candidates)
        } else {
            let candidates: Vec<(String, (f64, f64))> =
                names.into_iter().map(|n| (n, memory::PRIOR)).collect();
            memory::first_routed(task.task_type, &candidates)
        }
        .ok_or_else(|| OrchestratorError::Config("no executor to choose from".into()))?;
        let executor = agents.get(&choice.chosen).cloned().ok_or_else(|| {
            OrchestratorError::Config(format!(
                "[routing] names `{}`, which is not in [executors]",
                choice.chosen
            ))
        })?;
        Ok((choice.chosen.clone(), executor, choice))
    }

    /// The lessons and accepted examples most relevant to `task` (none with memory off).
    fn recall(&self, task: &Task) -> Result<Recall, OrchestratorError> {
        let m = &self.config.memory;
        if !m.enabled {
            return Ok(Recall::default());
        }
        let keywords = memory::keywords(&format!(
            "{}\n{}\n{}",
            task.title, task.description, task.body
        ));
        let recall = self
            .store
            .memory()
            .recall(task.task_type, &keywords, m.max_lessons, m.max_examples)
            .map_err(StoreError::from)?;
        Ok(recall)
    }

    fn start(&mut self, mut run: Run) -> Result<(), OrchestratorError> {
        let Some(task) = self.tasks.iter().find(|t| t.id == run.task_id).cloned() else {
            return self
                .update(&run.id, |r| {
                    r.status = RunStatus::Cancelled;
                    r.error = Some("the task is no longer in the task list".into());
                    r.finished_ms = Some(now_ms());
                })
                .map(|_| ());
        };
        let rival_executor = run
            .rival
            .as_ref()
            .and_then(|r| self.runs.get(r))
            .map(|r| r.executor.clone())
            .filter(|e| !e.is_empty());
        let (name, executor, routing) = self.executor_for(&task, rival_executor.as_deref())?;
        let recall = self.recall(&task)?;
        let timeout = executor
            .timeout
            .as_deref()
            .and_then(|t| crate::config::duration(t).ok())
            .unwrap_or_else(|| self.config.orchestrator.run_timeout());
        run.executor = name;
        run.routing = Some(routing);
        run.lessons = recall.lessons.iter().map(|l| l.id.clone()).collect();
        run.examples = recall.examples.iter().map(|p| p.id.clone()).collect();
        run.status = RunStatus::Preparing;
        run.started_ms = Some(now_ms());
        let started = vec![Observation::Started {
            lessons: run.lessons.clone(),
            examples: run.examples.clone(),
        }];
        let learning = if self.config.memory.enabled {
            self.learning(&mut run, started)?
        } else {
            None
        };
        self.save_learning(run.clone(), learning)?;
        self.started += 1;
        self.announced_idle = false;

        let cancel = CancellationToken::new();
        self.active.insert(
            run.id.clone(),
            Active {
                cancel: cancel.clone(),
            },
        );
        let state = self.project.state_dir();
        let template = self.config.prompt.template.clone();
        let max_ref = self.config.prompt.max_reference_bytes;
        let feedback = run.feedback.clone();
        let attempt = run.attempt;
        let prompt_task = task.clone();
        let executor_env = executor.all_env();
        for dir in executor.preset.map(|p| p.state_dirs()).unwrap_or_default() {
            let dir = executors::sandbox::expand_home(&dir);
            if let Err(e) = std::fs::create_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), "cannot make the agent's state directory: {e}");
            }
        }
        let sandbox = executors::sandbox::Sandbox::from_config(
            &self.config.sandbox,
            &executor.all_writable(),
        );
        let job = Job {
            run_id: run.id.clone(),
            task_id: task.id.0.clone(),
            attempt,
            executor: run.executor.clone(),
            repo_root: self.project.root.clone(),
            worktree: self.worktree_root.join(&run.id.0),
            branch: run.branch.clone(),
            target: self.target.clone(),
            argv: match executor.preset {
                Some(preset) if sandbox.confinement != executors::sandbox::Confinement::Off => {
                    preset.within_sandbox(executor.argv())
                }
                _ => executor.argv(),
            },
            env: executor_env.clone(),
            format: executor
                .preset
                .map_or(executors::OutputFormat::Plain, |p| p.output_format()),
            timeout,
            log_path: crate::project::run_log_path(&state, &run.id),
            prompt_path: state.join("runs").join(&run.id.0).join("prompt.md"),
            gate_cache: state.join("cache").join("gates"),
            max_log_bytes: self.config.executors.max_log_bytes,
            prompt: Box::new(move |root, feedback| {
                prompt::build(
                    &template,
                    &prompt_task,
                    root,
                    max_ref,
                    feedback,
                    attempt,
                    &recall,
                )
            }),
            feedback,
            chat: self.chat.clone(),
            analyze_route: self.analyze_route(),
            builtin: (executor.kind == crate::config::ExecutorKind::Llm).then(|| {
                executors::llm_agent::AgentSpec {
                    sandbox: sandbox.clone(),
                    ..executors::llm_agent::AgentSpec::from_config(&executor, executor_env.clone())
                }
            }),
            sandbox,
            gate_sandbox: executors::sandbox::Sandbox::for_gates(&self.config.sandbox),
            min_free_mb: self.config.store.min_free_mb,
            quiet_notice: crate::config::duration(&self.config.executors.quiet_notice)
                .ok()
                .filter(|d| !d.is_zero()),
            transcript_path: state.join("runs").join(&run.id.0).join("transcript.jsonl"),
            cancel,
            task: task.clone(),
            commit_message: self.config.project.commit_message.clone(),
            scratch: executor
                .preset
                .map(|p| p.scratch().iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
            prices: executor.prices,
            gates: self.config.gates.clone(),
            dod: self.config.dod.clone(),
            hooks: self.config.hooks.clone(),
            meter: crate::llm::Meter::new(
                Arc::clone(&self.ledger),
                run.id.0.clone(),
                task.id.0.clone(),
            ),
        };
        let updates = self.updates_tx.clone();
        let events = self.events.clone();
        let id = run.id.clone();
        self.workers
            .spawn(async move { (id, worker::work(job, updates, events).await) });
        Ok(())
    }

    fn handle_update(&mut self, update: Update) -> Result<(), OrchestratorError> {
        match update {
            Update::Prepared {
                run_id,
                worktree,
                base,
            } => {
                self.update(&run_id, |r| {
                    r.worktree = Some(worktree);
                    r.base = Some(base);
                    r.status = RunStatus::Running;
                })?;
            }
            Update::Started { run_id, pgid } => {
                self.update(&run_id, |r| r.pgid = Some(pgid))?;
            }
            Update::Progress { run_id, text } => self.history(&run_id, "progress", text),
            Update::Note { run_id, text } => self.history(&run_id, "note", text),
            Update::Final { run_id, text } => self.history(&run_id, "final", text),
            Update::Annotated {
                run_id,
                annotations,
            } => {
                // The list is stored apart from the run (a large change has tens of
                // thousands), the run keeping their counts: both in one transaction, then
                // the run is published as after any change.
                if let Some(mut run) = self.run_by_id(&run_id)? {
                    self.store.put_run_annotated(&mut run, &annotations)?;
                    self.publish(run, &memory::Learned::default())?;
                }
            }
            Update::GateStarted { run_id, gate } => {
                self.events.send(Event::GateStarted { run_id, gate });
            }
            Update::GateFinished { run_id, result } => {
                // Each result is stored as it comes, so a crash mid-pipeline keeps what ran.
                let published = Box::new(result.clone());
                self.update(&run_id, |r| r.gates.push(result))?;
                self.events.send(Event::GateFinished {
                    run_id,
                    result: published,
                });
            }
            Update::Gating { run_id, usage } => {
                self.update(&run_id, |r| {
                    r.status = RunStatus::Gating;
                    r.pgid = None;
                    if let Some(u) = usage {
                        r.usage = u;
                    }
                })?;
            }
        }
        Ok(())
    }

    /// Whether `id`'s best-of rival is still queued or working.
    fn rival_working(&self, id: &RunId) -> bool {
        self.runs
            .get(id)
            .and_then(|r| r.rival.as_ref())
            .and_then(|r| self.runs.get(r))
            .is_some_and(|r| r.status == RunStatus::Queued || r.status.is_active())
    }

    /// Best-of: once both candidates are done, the better one is presented (noted on both)
    /// and, when the policy auto-approves it, approved — which closes the other.
    async fn settle_best_of(&mut self, id: &RunId) -> Result<(), OrchestratorError> {
        let Some(run) = self.runs.get(id).cloned() else {
            return Ok(());
        };
        let Some(rival) = run.rival.as_ref().and_then(|r| self.runs.get(r)).cloned() else {
            return Ok(());
        };
        if self.rival_working(id) || self.rival_working(&rival.id) {
            return Ok(());
        }
        let (winner, loser) = if run.outranks(&rival) {
            (run, rival)
        } else {
            (rival, run)
        };
        self.pending_auto.remove(&loser.id);
        if loser.auto_approve {
            // Only the better one is approved.
            self.update(&loser.id, |r| r.auto_approve = false)?;
        }
        if winner.status != RunStatus::AwaitingApproval {
            return Ok(());
        }
        let describe = |r: &Run| {
            let score = r
                .score
                .map_or("no score".to_string(), |s| format!("score {s:.2}"));
            let stat = r.diffstat.map_or(String::new(), |(f, i, d)| {
                format!(", +{i} −{d} in {f} file(s)")
            });
            format!(
                "run {} ({}, {score}{stat}, {})",
                r.id.short(),
                r.executor,
                r.status
            )
        };
        let text = format!(
            "best of 2: {} presented; {} beside it",
            describe(&winner),
            describe(&loser)
        );
        self.history(&winner.id, "note", text.clone());
        self.history(&loser.id, "note", text.clone());
        self.events.send(Event::Notice { text });
        if self.pending_auto.remove(&winner.id) {
            let rule = winner.policy.clone().unwrap_or_default();
            self.auto_approve(&winner.id, &rule).await?;
        }
        Ok(())
    }

    /// Makes the approval the policy decided for run `id` (`rule` says why). When it fails the
    /// run is left awaiting approval for the operator, with the error in its history.
    async fn auto_approve(&mut self, id: &RunId, rule: &str) -> Result<(), OrchestratorError> {
        if let Err(e) = self.approve(&id.0, "policy", rule, None, None, None).await {
            self.update(id, |r| r.auto_approve = false)?;
            self.history(id, "error", format!("auto-approve failed: {e}"));
            self.events.send(Event::Notice {
                text: format!("run {id}: auto-approve failed: {e}"),
            });
        }
        Ok(())
    }

    /// Approvals the policy decided before bosun stopped and that were not made (it stopped
    /// between the verdict and the approval): made now, or, for a best-of candidate whose
    /// rival is still working, when both are done.
    async fn resume_auto_approvals(&mut self) -> Result<(), OrchestratorError> {
        let mut due: Vec<(RunId, String)> = self
            .runs
            .values()
            .filter(|r| r.status == RunStatus::AwaitingApproval && r.auto_approve)
            .map(|r| (r.id.clone(), r.policy.clone().unwrap_or_default()))
            .collect();
        due.sort();
        for (id, rule) in due {
            if self.rival_working(&id) {
                self.pending_auto.insert(id);
                continue;
            }
            self.history(
                &id,
                "note",
                "bosun stopped after the policy decided to approve this run and before it did: approving it now".into(),
            );
            self.auto_approve(&id, &rule).await?;
        }
        Ok(())
    }

    /// After approving `run`, the task is done: its other open runs — a best-of rival, or a
    /// run queued again after a crash — are closed (cancelled with a note, worktrees removed,
    /// agents still working stopped).
    fn close_others(&mut self, run: &Run) -> Result<(), OrchestratorError> {
        self.load_history(&run.task_id)?;
        let ids: Vec<RunId> = self
            .history
            .get(&run.task_id)
            .into_iter()
            .flatten()
            .filter(|r| r.id != run.id)
            .filter(|r| {
                r.status.is_active()
                    || matches!(r.status, RunStatus::AwaitingApproval | RunStatus::Queued)
            })
            .map(|r| r.id.clone())
            .collect();
        for id in ids {
            let Some(other) = self.run_by_id(&id)? else {
                continue;
            };
            self.pending_auto.remove(&other.id);
            let why = if run.rival.as_ref() == Some(&other.id) {
                format!("the other candidate (run {}) was approved", run.id)
            } else {
                format!("run {} of the same task was approved", run.id)
            };
            if other.status.is_active() {
                if let Some(a) = self.active.get(&other.id) {
                    a.cancel.cancel();
                }
                self.history(&other.id, "note", why);
                continue;
            }
            let closed = self.update(&other.id, |r| {
                r.status = RunStatus::Cancelled;
                r.error = Some(why);
                r.finished_ms = Some(now_ms());
            })?;
            if let Some(closed) = closed {
                self.discard(&closed)?;
            }
        }
        Ok(())
    }

    async fn handle_outcome(
        &mut self,
        id: RunId,
        outcome: Outcome,
    ) -> Result<(), OrchestratorError> {
        self.active.remove(&id);
        // Milestones sent just before the worker ended must be applied first.
        while let Ok(update) = self.updates_rx.try_recv() {
            self.handle_update(update)?;
        }
        match outcome {
            // The kept hunks of a partial approval were checked (not a run's end).
            Outcome::Checked(checked) => return self.finish_check(id, checked).await,
            Outcome::Change {
                head,
                diff,
                usage,
                gates,
            } => self.changed(&id, head, diff, usage, gates).await?,
            Outcome::Failed {
                error,
                usage,
                change,
                reason,
            } => self.failed(&id, error, usage, change, reason)?,
            Outcome::Cancelled => self.cancelled(&id)?,
        }
        if let Some(chat) = &self.chat {
            let providers = chat.stats();
            if providers.iter().any(|p| p.requests > 0) {
                self.events.send(Event::Models { providers });
            }
        }
        self.settle_best_of(&id).await
    }

    /// A run whose agent made a change that went through the gates: stored with its score and
    /// the policy's verdict (await the operator, approve, or send back to the agent).
    async fn changed(
        &mut self,
        id: &RunId,
        head: String,
        diff: git::DiffSummary,
        usage: Option<crate::model::Usage>,
        gates: Vec<crate::model::GateResult>,
    ) -> Result<(), OrchestratorError> {
        let id = id.clone();
        if let Some(name) = self.runs.get(&id).map(|r| r.executor.clone()) {
            self.reached(&name);
        }
        self.store.put_diff(&id, &diff.patch)?;
        let stat = (diff.files.len(), diff.insertions, diff.deletions);
        let score = crate::model::weighted_score(&gates);
        let task_id = self.runs.get(&id).map(|r| r.task_id.clone());
        let task_type = self
            .tasks
            .iter()
            .find(|t| Some(&t.id) == task_id.as_ref())
            .map_or(crate::model::TaskType::Code, |t| t.task_type);
        let paths: Vec<String> = diff
            .files
            .iter()
            .flat_map(|f| std::iter::once(f.path.clone()).chain(f.old_path.clone()))
            .collect();
        // Kinds and severities, as `require_operator_for` names them.
        let mut annotations: Vec<String> = self
            .runs
            .get(&id)
            .map(|r| r.annotation_counts.names().map(String::from).collect())
            .unwrap_or_default();
        // Judges that disagree can hold the run: `require_operator_for = ["judge_uncertain"]`.
        if gates.iter().any(|g| {
            g.name == crate::gates::judge::NAME
                && crate::gates::judge::is_uncertain(g, self.config.gates.judge.warn_width)
        }) {
            annotations.push(JUDGE_UNCERTAIN.to_string());
        }
        let verdict = policy::decide(
            &self.config.policy,
            &policy::PolicyInput {
                task_type,
                score,
                paths: &paths,
                annotations: &annotations,
            },
        );
        let (status, rule, error) = match &verdict {
            policy::Verdict::Retry(rule) => (RunStatus::Failed, rule.clone(), Some(rule.clone())),
            policy::Verdict::AutoApprove(rule) | policy::Verdict::AwaitOperator(rule) => {
                (RunStatus::AwaitingApproval, rule.clone(), None)
            }
        };
        let run = self.update_and_learn(
            &id,
            |r| {
                r.status = status;
                r.score = score;
                r.gates = gates;
                r.head = Some(head);
                r.pgid = None;
                r.diffstat = Some(stat);
                r.finished_ms = Some(now_ms());
                r.policy = Some(rule.clone());
                r.auto_approve = matches!(verdict, policy::Verdict::AutoApprove(_));
                r.error = error;
                if let Some(u) = usage {
                    r.usage = u;
                }
            },
            Self::failure_observations,
        )?;
        let _ = self.store.append_event(
            &id,
            &RunEvent {
                at_ms: now_ms(),
                kind: "policy".into(),
                text: rule.clone(),
            },
        );
        crate::faults::crash_point("policy:decided");
        match verdict {
            policy::Verdict::Retry(_) => {
                if let Some(run) = run {
                    self.discard(&run)?;
                }
            }
            policy::Verdict::AutoApprove(_)
                if self.runs.get(&id).is_some_and(|r| r.rival.is_some()) =>
            {
                // The better of the two is approved once both are done.
                self.pending_auto.insert(id.clone());
            }
            policy::Verdict::AutoApprove(rule) => self.auto_approve(&id, &rule).await?,
            policy::Verdict::AwaitOperator(_) => {}
        }
        Ok(())
    }

    /// A run that failed (its agent, a hook, or a required gate), with what it changed if
    /// anything.
    fn failed(
        &mut self,
        id: &RunId,
        error: String,
        usage: Option<crate::model::Usage>,
        change: Option<(String, git::DiffSummary, Vec<crate::model::GateResult>)>,
        reason: Option<&'static str>,
    ) -> Result<(), OrchestratorError> {
        let id = id.clone();
        if let Some((_, diff, _)) = &change {
            self.store.put_diff(&id, &diff.patch)?;
        }
        let run = self.update_and_learn(
            &id,
            |r| {
                if let Some((head, diff, gates)) = change {
                    r.head = Some(head);
                    r.diffstat = Some((diff.files.len(), diff.insertions, diff.deletions));
                    r.score = crate::model::weighted_score(&gates);
                    r.gates = gates;
                }
                r.status = RunStatus::Failed;
                r.error = Some(error);
                r.reason = reason.map(str::to_string);
                r.pgid = None;
                r.finished_ms = Some(now_ms());
                if let Some(u) = usage {
                    r.usage = u;
                }
            },
            Self::failure_observations,
        )?;
        if let Some(run) = run {
            self.discard(&run)?;
            if run.reason.as_deref() == Some(schedule::UNAVAILABLE) {
                self.rest(&run);
            } else {
                self.reached(&run.executor);
            }
        }
        Ok(())
    }

    /// The executor of `run`, which could not reach its model, rests: for
    /// `[executors] unavailable_cooldown`, or until bosun starts again when its credentials
    /// were refused. The operator is told.
    fn rest(&mut self, run: &Run) {
        let error = run.error.clone().unwrap_or_default();
        let kind =
            executors::unavailable::classify(&error).unwrap_or(executors::Unavailable::Unreachable);
        let pause = crate::config::duration(&self.config.executors.unavailable_cooldown)
            .unwrap_or(std::time::Duration::from_secs(60));
        let until = kind
            .cooldown(pause)
            .map(|d| tokio::time::Instant::now() + d);
        let name = &run.executor;
        let tries = self.cooling.get(name).map_or(0, |r| r.tries) + 1;
        let gives_up = self.options.exit_when_idle && tries >= HEADLESS_TRIES;
        let text = match until {
            None => format!(
                "agent `{name}` is unavailable: {error}. Its tasks wait until its credentials are fixed and bosun starts again (`bosun doctor` checks the agent)."
            ),
            Some(_) if gives_up => format!(
                "agent `{name}` is unavailable: {error}. {tries} runs in a row could not reach its model; no attempt was used, and bosun stops waiting for it here (run again later)."
            ),
            Some(_) => format!(
                "agent `{name}` is unavailable: {error}. It is tried again in {}; no attempt was used.",
                humantime::format_duration(pause)
            ),
        };
        tracing::warn!(executor = %name, "{text}");
        self.events.send(Event::Notice { text });
        let until = if gives_up { None } else { until };
        self.cooling.insert(name.clone(), Resting { until, tries });
    }

    /// A run of executor `name` reached its model: it is no longer resting.
    fn reached(&mut self, name: &str) {
        self.cooling.remove(name);
    }

    /// Whether executor `name` may be given a run now (it is not resting).
    fn rested(&self, name: &str) -> bool {
        match self.cooling.get(name).map(|r| r.until) {
            None => true,
            Some(None) => false,
            Some(Some(until)) => until <= tokio::time::Instant::now(),
        }
    }

    /// When the next resting executor may work again, if one rests for a while.
    fn next_rested(&self) -> Option<tokio::time::Instant> {
        let now = tokio::time::Instant::now();
        self.cooling
            .values()
            .filter_map(|r| r.until)
            .filter(|until| *until > now)
            .min()
    }

    /// The executors `[routing]` lists for `task_type` (else every configured one).
    fn routed(&self, task_type: crate::model::TaskType) -> Vec<String> {
        let listed = self.config.routing.for_type(task_type);
        if listed.is_empty() {
            self.config.executors.agents.keys().cloned().collect()
        } else {
            listed.to_vec()
        }
    }

    /// The tasks none of whose executors may work now: empty, at no cost, while no executor
    /// rests; else worked out in one pass (the scheduler asks about every candidate).
    fn unroutable(&self) -> HashSet<TaskId> {
        if self.cooling.is_empty() {
            return HashSet::new();
        }
        let mut blocked: HashMap<crate::model::TaskType, bool> = HashMap::new();
        self.tasks
            .iter()
            .filter(|t| {
                *blocked
                    .entry(t.task_type)
                    .or_insert_with(|| !self.routed(t.task_type).iter().any(|n| self.rested(n)))
            })
            .map(|t| t.id.clone())
            .collect()
    }

    /// A run that was stopped: by the operator, because another run of its task was
    /// approved, or because bosun is stopping (then queued again for the next start).
    fn cancelled(&mut self, id: &RunId) -> Result<(), OrchestratorError> {
        let id = id.clone();
        let stopping = self.stopping;
        // A run stopped because another run of its task was approved.
        let (task, created) = self
            .runs
            .get(&id)
            .map(|r| (Some(r.task_id.clone()), r.created_ms))
            .unwrap_or_default();
        let rival_merged = task
            .and_then(|t| self.history.get(&t))
            .into_iter()
            .flatten()
            .find(|r| r.status == RunStatus::Merged && r.decided_ms.is_some_and(|at| at >= created))
            .map(|r| r.id.clone());
        let run = self.update(&id, |r| {
            if stopping {
                r.status = RunStatus::Interrupted;
                r.error = Some("bosun was stopped during the run".into());
            } else if let Some(other) = rival_merged {
                r.status = RunStatus::Cancelled;
                r.error = Some(format!("run {other} of the same task was approved"));
            } else {
                r.status = RunStatus::Cancelled;
                r.error = Some("cancelled by the operator".into());
            }
            r.pgid = None;
            r.finished_ms = Some(now_ms());
        })?;
        if let Some(run) = run {
            self.discard(&run)?;
            if stopping {
                // Queued again for the next start, like a crash would be.
                let again = self.new_run(
                    &run.task_id,
                    &run.task_title,
                    run.attempt + 1,
                    run.feedback.clone(),
                );
                self.save(again)?;
            }
        }
        Ok(())
    }

    /// What a run that ended after its gates teaches: its failing required gates, and, when
    /// it failed for the last time, its task's failure. An agent that could not reach its
    /// model teaches nothing.
    fn failure_observations(&self, run: &Run) -> Vec<Observation> {
        if run.status != RunStatus::Failed || run.reason.as_deref() == Some(schedule::UNAVAILABLE) {
            return Vec::new();
        }
        let mut seen = Self::gate_failures(run);
        seen.extend(self.final_failure(run));
        seen
    }

    /// What an approved run teaches: a success, and its pattern (the files it touched and
    /// the agent's last word).
    fn approval_observations(&self, run: &Run) -> Vec<Observation> {
        let mut seen = Vec::new();
        if run.memory_outcome.is_none() {
            seen.push(Observation::Decided(outcome_of(run, true)));
        }
        // Best-effort: a pattern without files or summary is still a pattern.
        let files = self
            .store
            .diff(&run.id)
            .ok()
            .flatten()
            .map(|patch| memory::files_in_patch(&patch))
            .unwrap_or_default();
        seen.push(Observation::Accepted {
            files,
            summary: self.agent_summary(&run.id),
        });
        seen
    }

    /// Adds a line to a run's history (best effort: the run's log has the same text).
    fn history(&self, run_id: &RunId, kind: &str, text: String) {
        let _ = self.store.append_event(
            run_id,
            &RunEvent {
                at_ms: now_ms(),
                kind: kind.into(),
                text,
            },
        );
    }

    /// The agent's own account of what it did: its final message when its output format has
    /// one (a `final` event), else its last progress line.
    fn agent_summary(&self, id: &RunId) -> Option<String> {
        let events = self.store.events(id).ok()?;
        let last = |kind: &str| {
            events
                .iter()
                .rev()
                .find(|e| e.kind == kind && !e.text.trim().is_empty())
        };
        // Kept in process memory and quoted in later prompts: no credential in it.
        last("final")
            .or_else(|| last("progress"))
            .map(|e| crate::semantic::rules::redact_text(&e.text))
            .map(|text| text.chars().take(SUMMARY_CHARS).collect())
    }

    /// Removes a run's worktree (and, per config, its branch) and forgets the path.
    fn discard(&mut self, run: &Run) -> Result<(), OrchestratorError> {
        self.remove_worktree(run);
        if run.worktree.is_some() {
            self.update(&run.id, |r| r.worktree = None)?;
        }
        Ok(())
    }

    fn remove_worktree(&self, run: &Run) {
        let path = run
            .worktree
            .clone()
            .unwrap_or_else(|| self.worktree_root.join(&run.id.0));
        let branch = self
            .config
            .project
            .delete_branch
            .then_some(run.branch.as_str());
        if let Err(e) = git::remove_worktree(&self.project.root, &path, branch) {
            tracing::warn!(run = %run.id, error = %e, "cannot remove the run's worktree");
        }
    }

    async fn handle_command(&mut self, cmd: Command) {
        // An approval left half-recorded (the store failed after the target moved, say) is
        // settled from git before another decision, so none is taken on a stale state.
        if matches!(
            cmd,
            Command::Approve { .. } | Command::Reject { .. } | Command::Retry { .. }
        ) && let Err(e) = self.reconcile_approvals()
        {
            tracing::warn!(error = %e, "cannot settle the approval journal");
        }
        match cmd {
            Command::Approve {
                run,
                who,
                note,
                keep,
                message,
                deliver,
                reply,
            } => match self
                .approve(&run, &who, &note, keep, message, deliver)
                .await
            {
                Ok(Approving::Merged(run)) => {
                    let _ = reply.send(Ok(*run));
                }
                // Answered when the kept hunks have been checked.
                Ok(Approving::Delivering(id)) => self.deliveries.answer_later(&id, reply),
                Ok(Approving::Checking) => {
                    if let Some(c) = self.checking.as_mut() {
                        c.reply = Some(reply);
                    }
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Reject {
                run,
                who,
                reason,
                retry,
                prompt,
                reply,
            } => {
                let result = self.reject(&run, &who, &reason, retry, prompt);
                let _ = reply.send(result.map_err(Into::into));
            }
            Command::Instruct {
                run,
                who,
                prompt,
                reply,
            } => {
                let result = self.instruct(&run, &who, &prompt);
                let _ = reply.send(result.map_err(Into::into));
            }
            Command::Cancel { run, reply } => {
                let result = self.cancel(&run);
                let _ = reply.send(result.map_err(Into::into));
            }
            Command::Retry { run, who, reply } => {
                let _ = reply.send(self.retry(&run, &who).map_err(Into::into));
            }
            Command::AddTask { task, who, reply } => {
                let item = crate::intake::task_item(&task);
                let _ = reply.send(self.add_task(&item, &who).await.map_err(Into::into));
            }
            Command::Pause => {
                self.paused = true;
                self.events.send(Event::Paused { paused: true });
            }
            Command::Resume => {
                self.paused = false;
                // The operator says the broken gate is fixed: checked again before agents.
                if self.preflight_broken && self.preflight.is_none() {
                    self.start_preflight();
                }
                self.announced_idle = false;
                self.events.send(Event::Paused { paused: false });
            }
            Command::Shutdown => self.begin_stop(),
        }
    }

    /// The run `prefix` names, with its task's history loaded (decisions look at the task's
    /// other runs).
    fn find(&mut self, prefix: &str) -> Result<Run, OrchestratorError> {
        let found = self.store.find_run(prefix)?;
        self.load_history(&found.task_id)?;
        Ok(self.runs.get(&found.id).cloned().unwrap_or(found))
    }

    /// Approves run `prefix`: the whole change, or with `keep` only those hunks — then a
    /// commit keeping just them is made and the run's required gates check it before it may
    /// merge ([`Approving::Checking`]; the answer comes when they are done).
    async fn approve(
        &mut self,
        prefix: &str,
        who: &str,
        note: &str,
        keep: Option<Vec<git::HunkRef>>,
        message: Option<String>,
        deliver: Option<crate::model::Delivery>,
    ) -> Result<Approving, OrchestratorError> {
        let run = self.find(prefix)?;
        if run.status != RunStatus::AwaitingApproval {
            return Err(OrchestratorError::WrongState {
                run: run.id.0.clone(),
                status: run.status.to_string(),
                what: "only a run awaiting approval can be approved".into(),
            });
        }
        self.not_checking(&run)?;
        self.not_delivering(&run)?;
        let Some(keep) = keep else {
            return self
                .merge_approved(run, who, note, None, message, deliver)
                .await
                .map(Approving::from);
        };
        let (Some(base), Some(head)) = (run.base.clone(), run.head.clone()) else {
            return Err(OrchestratorError::WrongState {
                run: run.id.0.clone(),
                status: run.status.to_string(),
                what: "the run has no recorded change to choose hunks from".into(),
            });
        };
        if let Some(other) = &self.checking {
            return Err(OrchestratorError::Config(format!(
                "the kept hunks of run {} are being checked; approve part of run {} when that is done",
                other.run,
                run.id.short()
            )));
        }
        let kept_message = crate::model::with_trailers(
            "bosun: keep only the hunks the operator approved",
            &run.task_id,
            &run.id.0,
        );
        let (repo, branch) = (self.project.root.clone(), run.branch.clone());
        let kept = blocking(move || {
            git::branch_at(&repo, &branch, &head)?;
            Ok::<_, OrchestratorError>(git::kept_commit(
                &repo,
                &branch,
                &base,
                &head,
                &keep,
                &kept_message,
            )?)
        })
        .await?;
        let kept = match kept {
            Ok(k) => k,
            Err(e) => return Err(self.approval_failed(&run, e)),
        };
        if kept.dropped.is_empty() {
            // Every hunk kept: the reviewed commit itself, which the gates have seen.
            return self
                .merge_approved(run, who, note, None, message, deliver)
                .await
                .map(Approving::from);
        }
        self.start_check(run, who, note, kept, message, deliver)?;
        Ok(Approving::Checking)
    }

    /// Refuses a decision on a run whose kept hunks are being checked.
    fn not_checking(&self, run: &Run) -> Result<(), OrchestratorError> {
        match &self.checking {
            Some(c) if c.run == run.id => Err(OrchestratorError::WrongState {
                run: run.id.0.clone(),
                status: run.status.to_string(),
                what:
                    "its kept hunks are being checked; wait for the result (or `bosun cancel` it)"
                        .into(),
            }),
            _ => Ok(()),
        }
    }

    /// Starts the required gates on the commit `kept` made for a partial approval of `run`.
    fn start_check(
        &mut self,
        run: Run,
        who: &str,
        note: &str,
        kept: git::PartialOutcome,
        message: Option<String>,
        deliver: Option<crate::model::Delivery>,
    ) -> Result<(), OrchestratorError> {
        let task = self.task_of(&run)?.ok_or_else(|| {
            OrchestratorError::Config(format!(
                "task {} is no longer in the task list; its gates cannot check the kept hunks",
                run.task_id
            ))
        })?;
        let base = run.base.clone().unwrap_or_default();
        let env: Vec<(String, String)> = self
            .config
            .executors
            .agents
            .get(&run.executor)
            .map(|e| e.all_env())
            .unwrap_or_default()
            .into_iter()
            .chain([
                ("BOSUN_TASK_ID".to_string(), run.task_id.0.clone()),
                ("BOSUN_RUN_ID".to_string(), run.id.0.clone()),
                ("BOSUN_ATTEMPT".to_string(), run.attempt.to_string()),
            ])
            .collect();
        let state = self.project.state_dir();
        let cancel = CancellationToken::new();
        let job = worker::Recheck {
            run_id: run.id.clone(),
            task,
            repo_root: self.project.root.clone(),
            base,
            commit: kept.commit.clone(),
            dir: worker::beside(&self.worktree_root, ".kept"),
            base_dir: worker::beside(&self.worktree_root, ".base"),
            gate_cache: state.join("cache").join("gates"),
            gates: self.config.gates.clone(),
            dod: self.config.dod.clone(),
            env,
            log_path: crate::project::run_log_path(&state, &run.id),
            max_log_bytes: self.config.executors.max_log_bytes,
            sandbox: executors::sandbox::Sandbox::for_gates(&self.config.sandbox),
            min_free_mb: self.config.store.min_free_mb,
            chat: self.chat.clone(),
            meter: crate::llm::Meter::new(
                Arc::clone(&self.ledger),
                run.id.0.clone(),
                run.task_id.0.clone(),
            ),
            cancel: cancel.clone(),
        };
        self.history(
            &run.id,
            "note",
            format!(
                "checking the kept hunks with the required gates before merging ({})",
                kept.describe()
            ),
        );
        self.events.send(Event::Progress {
            run_id: run.id.clone(),
            text: "checking the kept hunks…".into(),
        });
        self.active.insert(run.id.clone(), Active { cancel });
        self.checking = Some(Checking {
            run: run.id.clone(),
            who: who.to_string(),
            note: note.to_string(),
            message,
            deliver,
            kept,
            reply: None,
        });
        let (updates, events, id) = (self.updates_tx.clone(), self.events.clone(), run.id);
        self.workers
            .spawn(async move { (id, worker::recheck(job, updates, events).await) });
        Ok(())
    }

    /// The gates have checked the kept hunks of the partial approval in `self.checking`:
    /// merged when every required gate passed, else the run stays awaiting approval with the
    /// results in its history; the waiting front end gets the answer.
    async fn finish_check(
        &mut self,
        id: RunId,
        checked: Result<Vec<crate::model::GateResult>, String>,
    ) -> Result<(), OrchestratorError> {
        let Some(mut checking) = self.checking.take().filter(|c| c.run == id) else {
            return Ok(());
        };
        self.update(&id, |r| r.pgid = None)?;
        let reply = checking.reply.take();
        let answer = match checked {
            Err(why) => {
                let text = format!("the kept hunks were not checked ({why}): nothing was merged");
                self.history(&id, "note", text.clone());
                Err(OrchestratorError::NotMerged(text))
            }
            Ok(results) => {
                let table = results
                    .iter()
                    .map(|g| format!("{} {}: {}", g.name, g.verdict, g.summary))
                    .collect::<Vec<_>>()
                    .join("\n");
                match crate::gates::first_failure(&results) {
                    Some(failed) => {
                        let text = format!(
                            "the kept hunks fail gate `{}` ({}): nothing was merged; the run still awaits approval as reviewed\n{table}",
                            failed.name, failed.summary
                        );
                        self.history(&id, "note", text.clone());
                        let first = text.lines().next().unwrap_or_default().to_string();
                        Err(OrchestratorError::NotMerged(format!(
                            "run {}: {first}",
                            id.short()
                        )))
                    }
                    None => {
                        self.history(
                            &id,
                            "note",
                            format!("the kept hunks pass the required gates\n{table}"),
                        );
                        match self.find(&id.0) {
                            Ok(run) if run.status == RunStatus::AwaitingApproval => {
                                self.merge_approved(
                                    run,
                                    &checking.who,
                                    &checking.note,
                                    Some(checking.kept),
                                    checking.message,
                                    checking.deliver,
                                )
                                .await
                            }
                            Ok(run) => Err(OrchestratorError::WrongState {
                                run: run.id.0.clone(),
                                status: run.status.to_string(),
                                what: "it was decided while its kept hunks were checked".into(),
                            }),
                            Err(e) => Err(e),
                        }
                    }
                }
            }
        };
        let answer = match answer {
            Ok(Approved::Merged(run)) => Ok(*run),
            // Answered when the forge has the pull request.
            Ok(Approved::Delivering(id)) => {
                if let Some(reply) = reply {
                    self.deliveries.answer_later(&id, reply);
                }
                return Ok(());
            }
            Err(e) => Err(e),
        };
        match reply {
            Some(reply) => {
                let _ = reply.send(answer.map_err(Into::into));
            }
            None => {
                if let Err(e) = answer {
                    self.events.send(Event::Notice {
                        text: e.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Merges `run` as reviewed — or, with `partial`, the commit keeping only the approved
    /// hunks — and ticks its task, as one journaled step: everything up to the commit point is
    /// made in the object database; the target ref then moves once (compare-and-swap); the
    /// store records the decision.
    async fn merge_approved(
        &mut self,
        run: Run,
        who: &str,
        note: &str,
        partial: Option<git::PartialOutcome>,
        message: Option<String>,
        deliver: Option<crate::model::Delivery>,
    ) -> Result<Approved, OrchestratorError> {
        if deliver.unwrap_or(self.config.forge.deliver) == crate::model::Delivery::Pr {
            return self
                .deliver_pr(run, who, note, partial)
                .await
                .map(Approved::Delivering);
        }
        let repo = self.project.root.clone();
        let target = run.target.clone();
        let branch = run.branch.clone();
        let mode = self.config.project.merge;
        let files = self.config.project.task_files.clone();
        let rules = self.config.intake.type_rules();
        let task_id = run.task_id.0.clone();
        let title = run.task_title.clone();
        // The operator's message, else the template's; for a merge commit, "Merge …: ".
        let written = message.filter(|m| !m.trim().is_empty());
        let subject = written.clone().unwrap_or_else(|| {
            let task_type = self.task_of(&run).ok().flatten().map(|t| t.task_type);
            crate::model::commit_subject(
                &self.config.project.commit_message,
                &title,
                task_type.unwrap_or(crate::model::TaskType::Code),
                &run.task_id,
                &run.id.0,
                run.attempt,
            )
        });
        let subject = match mode {
            git::MergeMode::Merge => format!("Merge {branch}: {subject}"),
            _ => subject,
        };
        let message = crate::model::with_trailers(&subject, &run.task_id, &run.id.0);
        // A fast-forward merges the reviewed commit itself: with a message of the operator's,
        // it is made again with that message (the same tree, the same parent).
        let rename = written.map(|w| crate::model::with_trailers(&w, &run.task_id, &run.id.0));
        let reviewed = run.head.clone();
        let source = partial.as_ref().map(|p| p.commit.clone());
        let (repo2, target2) = (repo.clone(), target.clone());
        let planned = blocking(move || {
            // What merges is exactly the commit that was reviewed (or made from it for the
            // kept hunks): refuse if the branch moved.
            if let Some(reviewed) = &reviewed {
                git::branch_at(&repo, &branch, reviewed)?;
            }
            let plan = git::plan_merge(
                &repo,
                &target,
                &branch,
                source.as_deref(),
                mode,
                &message,
                rename.as_deref(),
            )?;
            let (new, note) = tick(&repo, &plan.commit, &files, &rules, &task_id, &title)?;
            Ok::<_, OrchestratorError>((plan.old, new, note))
        })
        .await?;
        let (old, new, note_from_tick) = match planned {
            Ok(v) => v,
            Err(e) => return Err(self.approval_failed(&run, e)),
        };
        // The journal first, then the one move of the target ref (the commit point), then the
        // store. A crash anywhere in between is settled from git at the next open.
        self.store.put_approval(&Approval {
            run_id: run.id.0.clone(),
            who: who.to_string(),
            note: note.to_string(),
            target: target2.clone(),
            old: old.clone(),
            new: new.clone(),
            at_ms: now_ms(),
        })?;
        crate::faults::crash_point("approve:journaled");
        let mut notes: Vec<String> = Vec::new();
        let mut keep_journal = false;
        if old != new {
            let (o, n, t) = (old.clone(), new.clone(), target2.clone());
            let moved =
                blocking(move || git::advance(&repo2, &t, &o, &n, "bosun: approve")).await?;
            if let Err(e) = moved {
                let root = &self.project.root;
                if !git::contains(root, &target2, &new).unwrap_or(false) {
                    // Nothing moved: the journal entry goes, the run stays awaiting approval.
                    self.store.remove_approval(&run.id.0)?;
                    return Err(self.approval_failed(&run, e.into()));
                }
                // The target moved (the commit point) but its checkout was not brought along
                // (out of space, say): the approval stands; the checkout follows now, or at
                // the next start while the journal entry stays.
                keep_journal = git::refollow(root, &target2, &old, &new).is_err();
                notes.push(format!(
                    "the merge reached `{target2}`, but its checkout could not be brought along ({e}); {}",
                    if keep_journal {
                        "bosun brings it along at its next start"
                    } else {
                        "a second try did"
                    }
                ));
            }
        }
        // "approved 3 of 5 hunks; dropped: src/a.rs#2, …" when part of the change was left out.
        let partial_note = partial
            .filter(|d| !d.dropped.is_empty())
            .map(|d| d.describe());
        crate::faults::crash_point("approve:followed");
        notes.splice(0..0, partial_note.iter().cloned().chain(note_from_tick));
        self.finish_approval(
            run,
            who,
            note,
            partial_note.as_deref(),
            &new,
            notes,
            keep_journal,
        )
        .map(|run| Approved::Merged(Box::new(run)))
    }

    /// Settles approvals a crash left in the journal, from git, which is the truth: when the
    /// journaled commit is on the target, the run is recorded as merged (its checkout brought
    /// along, an audit entry saying it was completed after a restart); when it is not, nothing
    /// was merged and the run stays awaiting approval. A ref lock file on the target that the
    /// interrupted approval left is removed. Each repair is noted in the run's history.
    fn reconcile_approvals(&mut self) -> Result<(), OrchestratorError> {
        for a in self.store.approvals()? {
            let id = RunId(a.run_id.clone());
            let Some(run) = self.store.run(&id)? else {
                self.store.remove_approval(&a.run_id)?;
                continue;
            };
            let repo = self.project.root.clone();
            let locks = [
                ("ref", git::clear_ref_lock(&repo, &a.target, a.at_ms)?),
                ("index", git::clear_index_lock(&repo, &a.target, a.at_ms)?),
            ];
            for (what, found) in locks {
                let text = match found {
                    git::LockFile::Removed => format!(
                        "removed the {what} lock file an interrupted approval left on `{}`",
                        a.target
                    ),
                    git::LockFile::Foreign => format!(
                        "`{}` has a {what} lock file older than this approval (not bosun's): left alone; bosun finishes once it is gone",
                        a.target
                    ),
                    git::LockFile::None => continue,
                };
                self.history(&id, "note", text);
            }
            if run.status == RunStatus::Merged {
                // Left to do: perhaps bringing the checkout along (it could not be then), the
                // audit entry, the journal entry.
                let audited = self
                    .store
                    .audit()?
                    .iter()
                    .any(|e| e.run_id == a.run_id && e.action == "approve");
                if !audited {
                    self.store.append_audit(
                        &a.who,
                        "approve",
                        &a.run_id,
                        &run.task_id.0,
                        &format!(
                            "merged into {} at {} (completed after restart)",
                            a.target, a.new
                        ),
                    )?;
                }
                if let Err(e) = git::refollow(&repo, &a.target, &a.old, &a.new) {
                    // Tried again at the next start.
                    tracing::warn!(run = %id, error = %e, "cannot bring the checkout along");
                    continue;
                }
                self.store.remove_approval(&a.run_id)?;
                continue;
            }
            if run.status == RunStatus::AwaitingApproval && git::contains(&repo, &a.target, &a.new)?
            {
                let mut notes = vec!["bosun stopped during this approval; the merge had reached the target, so the approval was completed at the next start".to_string()];
                // When the checkout cannot follow now, the journal entry stays and the next
                // start tries again.
                let pending = git::refollow(&repo, &a.target, &a.old, &a.new).err();
                if let Some(e) = &pending {
                    notes.push(format!(
                        "the checkout of `{}` could not be brought along yet ({e}); bosun tries again at its next start",
                        a.target
                    ));
                }
                self.load_history(&run.task_id)?;
                let note = format!("{} (completed after restart)", a.note.trim())
                    .trim_start()
                    .to_string();
                self.finish_approval(run, &a.who, &note, None, &a.new, notes, pending.is_some())?;
            } else {
                self.history(
                    &id,
                    "note",
                    "bosun stopped during an approval, before the merge reached the target: nothing was merged".into(),
                );
                self.store.remove_approval(&a.run_id)?;
            }
        }
        Ok(())
    }

    /// An approval that failed before the commit point: noted in the run's history.
    fn approval_failed(&self, run: &Run, e: OrchestratorError) -> OrchestratorError {
        let _ = self.store.append_event(
            &run.id,
            &RunEvent {
                at_ms: now_ms(),
                kind: "error".into(),
                text: e.to_string(),
            },
        );
        e
    }

    /// Records a run whose approval reached the target at `head`: merged, with the decision,
    /// `notes` in its history, one audit entry, its checkout removed, its rivals closed; then
    /// the journal entry goes (unless `keep_journal`: the target's checkout is still to be
    /// brought along at the next start).
    #[allow(clippy::too_many_arguments)]
    fn finish_approval(
        &mut self,
        run: Run,
        who: &str,
        note: &str,
        partial_note: Option<&str>,
        head: &str,
        notes: Vec<String>,
        keep_journal: bool,
    ) -> Result<Run, OrchestratorError> {
        let reason = match (partial_note, note.trim()) {
            (Some(p), "") => p.to_string(),
            (Some(p), n) => format!("{n} ({p})"),
            (None, n) => n.to_string(),
        };
        let decision = Decision {
            verdict: "approve".into(),
            by: who.to_string(),
            at_ms: now_ms(),
            reason,
        };
        let id = run.id.clone();
        let updated = self
            .update_and_learn(
                &id,
                |r| {
                    r.status = RunStatus::Merged;
                    r.decision = Some(decision);
                    r.head = Some(head.to_string());
                },
                Self::approval_observations,
            )?
            .unwrap_or(run);
        crate::faults::crash_point("approve:recorded");
        for n in notes {
            self.history(&updated.id, "note", n);
        }
        let mut detail = format!("merged into {} at {head}; {note}", updated.target);
        if let Some(p) = partial_note {
            detail.push_str(&format!("; {p}"));
        }
        self.store
            .append_audit(who, "approve", &updated.id.0, &updated.task_id.0, &detail)?;
        crate::faults::crash_point("approve:audited");
        if !keep_journal {
            self.store.remove_approval(&updated.id.0)?;
        }
        self.discard(&updated)?;
        self.close_others(&updated)?;
        if self.options.schedule {
            self.reload_tasks()?;
        }
        Ok(self.runs.get(&updated.id).cloned().unwrap_or(updated))
    }

    fn reject(
        &mut self,
        prefix: &str,
        who: &str,
        reason: &str,
        retry: bool,
        prompt: Option<String>,
    ) -> Result<Run, OrchestratorError> {
        let run = self.find(prefix)?;
        if !matches!(run.status, RunStatus::AwaitingApproval | RunStatus::Failed) {
            return Err(OrchestratorError::WrongState {
                run: run.id.0.clone(),
                status: run.status.to_string(),
                what: "only a run awaiting approval (or a failed one) can be rejected".into(),
            });
        }
        self.not_checking(&run)?;
        self.not_delivering(&run)?;
        let decision = Decision {
            verdict: "reject".into(),
            by: who.to_string(),
            at_ms: now_ms(),
            reason: reason.to_string(),
        };
        let updated = self
            .update_and_learn(
                &run.id,
                |r| {
                    r.status = RunStatus::Rejected;
                    r.decision = Some(decision);
                    if r.finished_ms.is_none() {
                        r.finished_ms = Some(now_ms());
                    }
                },
                |_, r| {
                    // A rejection is a failure whether or not another attempt follows; a failed
                    // run already counted as its task's failure is not counted twice.
                    let mut seen = Vec::new();
                    if r.memory_outcome.is_none() {
                        seen.push(Observation::Decided(outcome_of(r, false)));
                    }
                    seen.push(Observation::Rejected {
                        reason: reason.to_string(),
                    });
                    seen
                },
            )?
            .unwrap_or(run);
        // The operator's own instructions for the next attempt replace the usual feedback.
        let instructions = prompt
            .filter(|p| retry && !p.trim().is_empty())
            .map(|p| p.trim().to_string());
        let mut detail = reason.to_string();
        if instructions.is_some() {
            detail.push_str("; the next attempt's instructions were written by the operator");
            self.history(
                &updated.id,
                "note",
                "the operator wrote the next attempt's instructions".into(),
            );
        }
        self.store.append_audit(
            who,
            if retry { "reject+retry" } else { "reject" },
            &updated.id.0,
            &updated.task_id.0,
            &detail,
        )?;
        self.discard(&updated)?;
        if retry {
            let feedback = instructions
                .unwrap_or_else(|| format!("The operator rejected the previous attempt: {reason}"));
            let again = self.new_run(
                &updated.task_id,
                &updated.task_title,
                updated.attempt + 1,
                Some(feedback),
            );
            self.save(again)?;
            self.announced_idle = false;
        }
        Ok(self.runs.get(&updated.id).cloned().unwrap_or(updated))
    }

    /// Gives a queued run the operator's own instructions as its feedback.
    fn retry(&mut self, prefix: &str, who: &str) -> Result<Run, OrchestratorError> {
        let run = self.find(prefix)?;
        let retryable = matches!(
            run.status,
            RunStatus::Failed | RunStatus::Rejected | RunStatus::Cancelled | RunStatus::Interrupted
        );
        let newer = self
            .history
            .get(&run.task_id)
            .is_some_and(|list| list.iter().any(|r| r.id.0 > run.id.0));
        if !retryable || newer {
            return Err(OrchestratorError::WrongState {
                run: run.id.0.clone(),
                status: run.status.to_string(),
                what: "only the newest run of a task that failed, was rejected or was cancelled can be retried".into(),
            });
        }
        if !self.tasks.iter().any(|t| t.id == run.task_id && !t.done) {
            return Err(OrchestratorError::Config(format!(
                "task {} is no longer open in the task list",
                run.task_id
            )));
        }
        let feedback = run
            .error
            .as_ref()
            .map(|e| format!("The previous attempt failed: {e}"))
            .or_else(|| run.feedback.clone());
        let next = self.new_run(&run.task_id, &run.task_title, run.attempt + 1, feedback);
        self.save(next.clone())?;
        self.store
            .append_audit(who, "retry", &run.id.0, &run.task_id.0, "")?;
        self.announced_idle = false;
        Ok(next)
    }

    async fn add_task(&mut self, item: &str, who: &str) -> Result<Task, OrchestratorError> {
        let file = self
            .config
            .project
            .task_files
            .first()
            .cloned()
            .ok_or_else(|| OrchestratorError::Config("no task file is configured".into()))?;
        let (repo, target) = (self.project.root.clone(), self.target.clone());
        let item = item.trim_end().to_string();
        let rel = file.clone();
        let first = item.lines().next().unwrap_or_default();
        let title = first.strip_prefix("- [ ] ").unwrap_or(first).to_string();
        tokio::task::spawn_blocking(move || -> Result<(), OrchestratorError> {
            let mut text = git::read_file(&repo, &target, &rel)?.unwrap_or_default();
            if !text.is_empty() && !text.ends_with(b"\n") {
                text.push(b'\n');
            }
            text.extend_from_slice(item.as_bytes());
            text.push(b'\n');
            git::commit_file(
                &repo,
                &target,
                &rel,
                &text,
                &format!("bosun: new task {title}"),
            )?;
            Ok(())
        })
        .await
        .map_err(|e| OrchestratorError::Config(format!("adding the task stopped: {e}")))??;
        let before: HashSet<TaskId> = self.tasks.iter().map(|t| t.id.clone()).collect();
        self.reload_tasks()?;
        let added = self
            .tasks
            .iter()
            .rev()
            .find(|t| !before.contains(&t.id))
            .cloned()
            .ok_or_else(|| {
                OrchestratorError::Config(format!(
                    "the task was written to {} but is not read back as a new task (a task with the same title already exists?)",
                    file.display()
                ))
            })?;
        self.store
            .append_audit(who, "add_task", "", &added.id.0, &added.title)?;
        self.announced_idle = false;
        Ok(added)
    }

    fn instruct(
        &mut self,
        prefix: &str,
        who: &str,
        prompt: &str,
    ) -> Result<Run, OrchestratorError> {
        let run = self.find(prefix)?;
        if run.status != RunStatus::Queued || self.active.contains_key(&run.id) {
            return Err(OrchestratorError::WrongState {
                run: run.id.0.clone(),
                status: run.status.to_string(),
                what: "only a queued run's instructions can be rewritten".into(),
            });
        }
        let prompt = prompt.trim().to_string();
        if prompt.is_empty() {
            return Err(OrchestratorError::Config(
                "the instructions are empty; write what the next attempt should do".into(),
            ));
        }
        let updated = self
            .update(&run.id, |r| r.feedback = Some(prompt))?
            .unwrap_or(run);
        self.history(
            &updated.id,
            "note",
            "the operator wrote this attempt's instructions".into(),
        );
        self.store
            .append_audit(who, "instruct", &updated.id.0, &updated.task_id.0, "")?;
        Ok(updated)
    }

    fn cancel(&mut self, prefix: &str) -> Result<Run, OrchestratorError> {
        let run = self.find(prefix)?;
        if let Some(active) = self.active.get(&run.id) {
            active.cancel.cancel();
            return Ok(run);
        }
        if run.status == RunStatus::Queued {
            let updated = self.update(&run.id, |r| {
                r.status = RunStatus::Cancelled;
                r.error = Some("cancelled by the operator".into());
                r.finished_ms = Some(now_ms());
            })?;
            self.store
                .append_audit(&operator(), "cancel", &run.id.0, &run.task_id.0, "")?;
            return Ok(updated.unwrap_or(run));
        }
        Err(OrchestratorError::WrongState {
            run: run.id.0.clone(),
            status: run.status.to_string(),
            what: "only a queued or running run can be cancelled".into(),
        })
    }
}
