//! Metrics for the console and for export: a [`MetricsCollector`] fed by the orchestrator's
//! events (and seeded from the store's runs) that keeps all-time totals — outcomes, gate pass
//! rates, tokens and cost per executor, attempts per merged task, approval latency — and a
//! sliding [`Timeline`] of buckets for trends (throughput, success rate, quality per task
//! type, queue depth). Pure: times come from the runs' own timestamps or from the caller, so
//! the same events always give the same numbers.
//!
//! A run is counted on its transitions, in lifecycle order: a repeated or older state of a
//! run (an event replayed after a seed, say) counts nothing, so seeding from the store and
//! then replaying the events that raced the seed does not count a run twice.

mod timeline;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

pub use timeline::{Bucket, Depth, Mean, Timeline, type_index};

use crate::Event;
use crate::model::{Run, RunId, RunStatus, TaskId, TaskType, Verdict};

/// The width of one time bucket: five minutes.
pub const BUCKET_MS: u64 = 5 * 60 * 1000;
/// How many buckets are kept: fourteen days.
pub const BUCKETS: usize = 14 * 24 * 12;
/// Approval latencies kept for the median and the 90th percentile.
const RECENT_LATENCIES: usize = 1_000;
/// Runs that ended recently, remembered so a later event about them counts nothing.
const RECENT_FINAL: usize = 4_096;
/// Events kept while a seed is being read (they are replayed onto it).
const MAX_REPLAY: usize = 20_000;

/// Runs counted by how they ended, all time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Runs whose agent and gates finished (awaiting approval, merged, rejected or failed).
    pub finished: u64,
    /// Merged.
    pub merged: u64,
    /// Rejected by the operator.
    pub rejected: u64,
    /// Failed.
    pub failed: u64,
    /// Cancelled or interrupted.
    pub stopped: u64,
}

impl Totals {
    /// Merged over merged, rejected and failed; `None` before any was decided.
    pub fn success_rate(&self) -> Option<f64> {
        let decided = self.merged + self.rejected + self.failed;
        (decided > 0).then(|| self.merged as f64 / decided as f64)
    }
}

/// One gate's verdicts, all time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GateTally {
    /// Passed.
    pub pass: u64,
    /// Failed.
    pub fail: u64,
    /// Warned.
    pub warn: u64,
    /// Skipped.
    pub skip: u64,
    /// How long it took when it ran, in milliseconds.
    pub duration_ms: Mean,
}

impl GateTally {
    /// Passes over the runs the gate checked (skips excluded); `None` when it never ran.
    pub fn pass_rate(&self) -> Option<f64> {
        let ran = self.pass + self.fail + self.warn;
        (ran > 0).then(|| self.pass as f64 / ran as f64)
    }
}

/// What one executor did and spent, all time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExecutorTally {
    /// Runs that reached an end (awaiting approval or a final state).
    pub runs: u64,
    /// Of those, merged.
    pub merged: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// US dollars (of the runs whose cost is known).
    pub cost_usd: f64,
    /// Runs whose agent reported no cost (`Usage::cost_unknown`).
    pub cost_unknown: u64,
}

impl ExecutorTally {
    /// The spend as the operator reads it: `$0.42`, `unknown` when no run's cost is known,
    /// `≥$0.42` when only some are.
    pub fn cost_text(&self) -> String {
        match self.cost_unknown {
            0 => format!("${:.2}", self.cost_usd),
            n if n >= self.runs && self.cost_usd == 0.0 => "unknown".to_string(),
            _ => format!("≥${:.2}", self.cost_usd),
        }
    }
}

/// Approval latency: from awaiting approval to the operator's decision.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    /// Decisions counted.
    pub count: u32,
    /// Mean, in milliseconds.
    pub mean_ms: Option<u64>,
    /// Median of the last 1,000 decisions.
    pub median_ms: Option<u64>,
    /// 90th percentile of the last 1,000 decisions.
    pub p90_ms: Option<u64>,
}

/// How many runs wait or work right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depths {
    /// Queued.
    pub queued: u32,
    /// Preparing, running or being gated.
    pub active: u32,
    /// Awaiting approval.
    pub awaiting: u32,
}

/// What the collector remembers about a run that has not ended.
#[derive(Debug, Clone, PartialEq)]
struct Tracked {
    status: RunStatus,
    awaiting_since: Option<u64>,
}

/// Whether a run is seen as it happens or read back from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Live,
    Stored,
}

/// Aggregates runs into the console's metrics; see the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsCollector {
    timeline: Timeline,
    totals: Totals,
    quality: [Mean; 6],
    gates: BTreeMap<String, GateTally>,
    executors: BTreeMap<String, ExecutorTally>,
    attempts: [u64; 5],
    latency: Mean,
    latencies: VecDeque<u64>,
    live: HashMap<RunId, Tracked>,
    depths: Depths,
    ended: VecDeque<RunId>,
    ended_set: HashSet<RunId>,
    task_types: HashMap<TaskId, TaskType>,
    replay: Option<VecDeque<Run>>,
    newest_ms: u64,
}

impl Default for MetricsCollector {
    fn default() -> Self {
        Self::new(0)
    }
}

/// A run's lifecycle stage: later stages never go back.
fn stage(status: RunStatus) -> u8 {
    match status {
        RunStatus::Queued => 0,
        RunStatus::Preparing => 1,
        RunStatus::Running => 2,
        RunStatus::Gating => 3,
        RunStatus::AwaitingApproval => 4,
        RunStatus::Delivered
        | RunStatus::Merged
        | RunStatus::Rejected
        | RunStatus::Failed
        | RunStatus::Cancelled
        | RunStatus::Interrupted => 5,
    }
}

/// The agent and the gates are done with the run (whatever the operator does next).
fn finished(status: RunStatus) -> bool {
    matches!(
        status,
        RunStatus::AwaitingApproval
            | RunStatus::Delivered
            | RunStatus::Merged
            | RunStatus::Rejected
            | RunStatus::Failed
    )
}

/// How a run ended, as the collector counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Merged,
    Rejected,
    Failed,
    /// Cancelled or interrupted.
    Stopped,
}

/// How a run of `status` ended; `None` while it has not.
fn ending(status: RunStatus) -> Option<Ending> {
    match status {
        RunStatus::Merged => Some(Ending::Merged),
        RunStatus::Rejected => Some(Ending::Rejected),
        RunStatus::Failed => Some(Ending::Failed),
        RunStatus::Cancelled | RunStatus::Interrupted => Some(Ending::Stopped),
        RunStatus::Queued
        | RunStatus::Preparing
        | RunStatus::Running
        | RunStatus::Gating
        | RunStatus::AwaitingApproval
        | RunStatus::Delivered => None,
    }
}

/// The last time anything happened to `run`.
fn last_change_ms(run: &Run) -> u64 {
    [
        Some(run.created_ms),
        run.started_ms,
        run.finished_ms,
        run.decision.as_ref().map(|d| d.at_ms),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0)
}

/// The operator (not the policy) decided a run that had waited for approval.
fn operator_decided(run: &Run) -> bool {
    run.decision.as_ref().is_some_and(|d| d.by != "policy")
}

impl MetricsCollector {
    /// An empty collector whose timeline ends at `now_ms`.
    pub fn new(now_ms: u64) -> MetricsCollector {
        MetricsCollector {
            timeline: Timeline::new(BUCKET_MS, BUCKETS, now_ms),
            totals: Totals::default(),
            quality: [Mean::default(); 6],
            gates: BTreeMap::new(),
            executors: BTreeMap::new(),
            attempts: [0; 5],
            latency: Mean::default(),
            latencies: VecDeque::new(),
            live: HashMap::new(),
            depths: Depths::default(),
            ended: VecDeque::new(),
            ended_set: HashSet::new(),
            task_types: HashMap::new(),
            replay: None,
            newest_ms: now_ms,
        }
    }

    /// Tells the collector each task's type, for runs that do not carry it (a run records
    /// its type when it starts; a queued run does not have it yet).
    pub fn set_task_types(&mut self, types: impl IntoIterator<Item = (TaskId, TaskType)>) {
        self.task_types.extend(types);
    }

    /// Counts an orchestrator event that happened at `now_ms` (used when the run does not
    /// say when). Only run changes count; output lines cost one match.
    pub fn observe(&mut self, event: &Event, now_ms: u64) {
        if let Event::Run { run } = event {
            if let Some(replay) = &mut self.replay {
                if replay.len() == MAX_REPLAY {
                    replay.pop_front();
                }
                replay.push_back((**run).clone());
            }
            self.observe_run(run, now_ms, Source::Live);
        }
    }

    /// Starts keeping run events for [`adopt`](Self::adopt): call it when the job that reads
    /// the seed starts, so the events that race the read are replayed onto the seed.
    pub fn begin_seed(&mut self) {
        self.replay = Some(VecDeque::new());
    }

    /// Whether a seed is being read.
    pub fn seeding(&self) -> bool {
        self.replay.is_some()
    }

    /// Takes `seed` (built from the store) as the collector's state, replaying onto it the
    /// events seen since [`begin_seed`](Self::begin_seed); events the seed already counted
    /// count nothing.
    pub fn adopt(&mut self, mut seed: MetricsCollector) {
        let replay = self.replay.take().unwrap_or_default();
        let now = self.newest_ms.max(seed.newest_ms);
        for run in &replay {
            seed.observe_run(run, now, Source::Live);
        }
        let mut types = std::mem::take(&mut self.task_types);
        types.extend(std::mem::take(&mut seed.task_types));
        seed.task_types = types;
        *self = seed;
    }

    /// A collector built from stored runs (any order), as of `now_ms`. Runs that ended at
    /// `since_ms` or later are remembered, so an event about them that raced the read (see
    /// [`adopt`](Self::adopt)) counts nothing. The queue and approval depths of past buckets
    /// are rebuilt from the runs' timestamps.
    pub fn seeded(
        runs: impl IntoIterator<Item = Run>,
        types: HashMap<TaskId, TaskType>,
        since_ms: u64,
        now_ms: u64,
    ) -> MetricsCollector {
        let mut seed = MetricsCollector::new(now_ms);
        seed.task_types = types;
        let mut queued = Vec::new();
        let mut awaiting = Vec::new();
        for run in runs {
            seed.add_stored(&run, since_ms, now_ms, &mut queued, &mut awaiting);
        }
        let now = seed.timeline.index(now_ms);
        seed.timeline.set_depths(&queued, &awaiting, now);
        if let Some(b) = seed.timeline.at(now_ms) {
            b.sample_depth(seed.depths.queued, seed.depths.awaiting);
        }
        seed
    }

    /// Counts one stored run into a seed; `queued` and `awaiting` collect depth changes.
    fn add_stored(
        &mut self,
        run: &Run,
        since_ms: u64,
        now_ms: u64,
        queued: &mut Vec<(u64, i64)>,
        awaiting: &mut Vec<(u64, i64)>,
    ) {
        let index = |ms: u64| ms / BUCKET_MS;
        // In the queue from creation until it started (or ended without starting).
        let left_queue = run.started_ms.or_else(|| {
            run.status
                .is_final()
                .then(|| run.finished_ms.unwrap_or(run.created_ms))
        });
        if left_queue.is_none_or(|left| index(left) > index(run.created_ms)) {
            queued.push((index(run.created_ms), 1));
            if let Some(left) = left_queue {
                queued.push((index(left), -1));
            }
        }
        // Awaiting approval from the end of the gates until the decision.
        let waited = run.status == RunStatus::AwaitingApproval
            || (run.status == RunStatus::Merged && operator_decided(run))
            || (run.status == RunStatus::Rejected && run.error.is_none());
        if waited && let Some(from) = run.finished_ms {
            let until = run.decision.as_ref().map(|d| d.at_ms);
            if until.is_none_or(|u| index(u) > index(from)) {
                awaiting.push((index(from), 1));
                if let Some(u) = until {
                    awaiting.push((index(u), -1));
                }
            }
        }
        self.observe_run(run, now_ms, Source::Stored);
        if run.status.is_final() && last_change_ms(run) >= since_ms {
            self.remember_ended(&run.id);
        }
    }

    fn remember_ended(&mut self, id: &RunId) {
        if self.ended_set.insert(id.clone()) {
            self.ended.push_back(id.clone());
            if self.ended.len() > RECENT_FINAL
                && let Some(old) = self.ended.pop_front()
            {
                self.ended_set.remove(&old);
            }
        }
    }

    fn task_type(&self, run: &Run) -> Option<TaskType> {
        run.routing
            .as_ref()
            .map(|r| r.task_type)
            .or_else(|| self.task_types.get(&run.task_id).copied())
    }

    fn depth_slot(&mut self, status: RunStatus) -> Option<&mut u32> {
        match status {
            RunStatus::Queued => Some(&mut self.depths.queued),
            RunStatus::Preparing | RunStatus::Running | RunStatus::Gating => {
                Some(&mut self.depths.active)
            }
            RunStatus::AwaitingApproval => Some(&mut self.depths.awaiting),
            RunStatus::Delivered
            | RunStatus::Merged
            | RunStatus::Rejected
            | RunStatus::Failed
            | RunStatus::Cancelled
            | RunStatus::Interrupted => None,
        }
    }

    /// Counts what `run` did since the collector last saw it.
    fn observe_run(&mut self, run: &Run, now_ms: u64, source: Source) {
        self.newest_ms = self.newest_ms.max(now_ms);
        if self.ended_set.contains(&run.id) {
            return;
        }
        let before = self.live.get(&run.id).cloned();
        if let Some(b) = &before
            && stage(run.status) <= stage(b.status)
        {
            return;
        }
        // A failed run rejected afterwards (the one change from an end to another end) was
        // counted when it failed.
        if before.is_none()
            && source == Source::Live
            && run.status == RunStatus::Rejected
            && run.error.is_some()
        {
            return;
        }
        if let Some(slot) = before.as_ref().and_then(|b| self.depth_slot(b.status)) {
            *slot = slot.saturating_sub(1);
        }
        let was_at_end = before.as_ref().is_some_and(|b| stage(b.status) >= 4);
        if stage(run.status) >= 4 && !was_at_end {
            self.count_end(run, now_ms);
        }
        if run.status.is_final() {
            self.count_outcome(run, before.as_ref(), now_ms);
            self.live.remove(&run.id);
            if source == Source::Live {
                self.remember_ended(&run.id);
            }
        } else {
            let awaiting_since = match (run.status, &before) {
                (RunStatus::AwaitingApproval, _) => Some(run.finished_ms.unwrap_or(now_ms)),
                (_, Some(b)) => b.awaiting_since,
                (_, None) => None,
            };
            self.live.insert(
                run.id.clone(),
                Tracked {
                    status: run.status,
                    awaiting_since,
                },
            );
            if let Some(slot) = self.depth_slot(run.status) {
                *slot += 1;
            }
        }
        if source == Source::Live {
            let (q, a) = (self.depths.queued, self.depths.awaiting);
            if let Some(b) = self.timeline.at(now_ms) {
                b.sample_depth(q, a);
            }
        }
    }

    /// The run's agent and gates are done: throughput, quality, gates, spend.
    fn count_end(&mut self, run: &Run, now_ms: u64) {
        let at = run.finished_ms.unwrap_or(now_ms);
        let task_type = self.task_type(run);
        let done = finished(run.status);
        let tokens = run.usage.input_tokens + run.usage.output_tokens;
        if let Some(b) = self.timeline.at(at) {
            b.tokens += tokens;
            b.cost_usd += run.usage.cost_usd;
            if done {
                b.finished += 1;
                if let Some(score) = run.score {
                    b.score.add(score);
                    if let Some(t) = task_type {
                        b.score_by_type[type_index(t)].add(score);
                    }
                }
            }
        }
        if done {
            self.totals.finished += 1;
            if let (Some(score), Some(t)) = (run.score, task_type) {
                self.quality[type_index(t)].add(score);
            }
        }
        for gate in &run.gates {
            let tally = self.gates.entry(gate.name.clone()).or_default();
            match gate.verdict {
                Verdict::Pass => tally.pass += 1,
                Verdict::Fail => tally.fail += 1,
                Verdict::Warn => tally.warn += 1,
                Verdict::Skip => tally.skip += 1,
            }
            if gate.verdict != Verdict::Skip {
                tally.duration_ms.add(gate.duration_ms as f64);
            }
        }
        if run.started_ms.is_some() || tokens > 0 {
            let e = self.executors.entry(run.executor.clone()).or_default();
            e.runs += 1;
            e.input_tokens += run.usage.input_tokens;
            e.output_tokens += run.usage.output_tokens;
            e.cost_usd += run.usage.cost_usd;
            e.cost_unknown += u64::from(run.usage.cost_unknown);
        }
    }

    /// The run ended: its outcome, its attempts if merged, the operator's latency.
    fn count_outcome(&mut self, run: &Run, before: Option<&Tracked>, now_ms: u64) {
        let Some(end) = ending(run.status) else {
            return;
        };
        let decided_at = run.decision.as_ref().map(|d| d.at_ms);
        let at = match end {
            Ending::Merged | Ending::Rejected => decided_at.or(run.finished_ms),
            Ending::Failed | Ending::Stopped => run.finished_ms,
        }
        .unwrap_or(now_ms);
        // Did it wait for the operator? Seen live, we know; read back, a merge the operator
        // made or a rejection of a run that had not failed must have.
        let waited_since = match before {
            Some(b) => b.awaiting_since,
            None => {
                let waited = (run.status == RunStatus::Merged)
                    || (run.status == RunStatus::Rejected && run.error.is_none());
                if waited { run.finished_ms } else { None }
            }
        };
        let latency = match (waited_since, decided_at) {
            (Some(from), Some(to)) if operator_decided(run) => Some(to.saturating_sub(from)),
            _ => None,
        };
        if let Some(b) = self.timeline.at(at) {
            match end {
                Ending::Merged => b.merged += 1,
                Ending::Rejected => b.rejected += 1,
                Ending::Failed => b.failed += 1,
                Ending::Stopped => b.stopped += 1,
            }
            if let Some(ms) = latency {
                b.latency_ms.add(ms as f64);
            }
        }
        match end {
            Ending::Merged => {
                self.totals.merged += 1;
                let i = (run.attempt.max(1) as usize).min(self.attempts.len()) - 1;
                self.attempts[i] += 1;
                self.executors
                    .entry(run.executor.clone())
                    .or_default()
                    .merged += 1;
            }
            Ending::Rejected => self.totals.rejected += 1,
            Ending::Failed => self.totals.failed += 1,
            Ending::Stopped => self.totals.stopped += 1,
        }
        if let Some(ms) = latency {
            self.latency.add(ms as f64);
            if self.latencies.len() == RECENT_LATENCIES {
                self.latencies.pop_front();
            }
            self.latencies.push_back(ms);
        }
    }

    /// All-time outcome counts.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Runs waiting and working now.
    pub fn depths(&self) -> Depths {
        self.depths
    }

    /// Mean gate score per task type, all time (in [`TaskType::ALL`] order).
    pub fn quality(&self) -> [Mean; 6] {
        self.quality
    }

    /// Verdicts per gate, by gate name.
    pub fn gates(&self) -> &BTreeMap<String, GateTally> {
        &self.gates
    }

    /// Runs, tokens and cost per executor, by executor name.
    pub fn executors(&self) -> &BTreeMap<String, ExecutorTally> {
        &self.executors
    }

    /// Merged runs by attempt number: 1, 2, 3, 4, 5 or more.
    pub fn attempts(&self) -> [u64; 5] {
        self.attempts
    }

    /// Mean attempts per merged task (5 counts for "5 or more").
    pub fn mean_attempts(&self) -> Option<f64> {
        let merged: u64 = self.attempts.iter().sum();
        let weighted: u64 = self
            .attempts
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u64 + 1) * n)
            .sum();
        (merged > 0).then(|| weighted as f64 / merged as f64)
    }

    /// Approval latency.
    pub fn latency(&self) -> Latency {
        let mut recent: Vec<u64> = self.latencies.iter().copied().collect();
        recent.sort_unstable();
        let pick = |q: f64| -> Option<u64> {
            let last = recent.len().checked_sub(1)?;
            recent.get(((last as f64) * q).round() as usize).copied()
        };
        Latency {
            count: self.latency.count,
            mean_ms: self.latency.value().map(|v| v.round() as u64),
            median_ms: pick(0.5),
            p90_ms: pick(0.9),
        }
    }

    /// The trend: `columns` buckets of `per_column` × [`BUCKET_MS`] each, oldest first, the
    /// last one holding `end_ms` (see [`Timeline::series`]).
    pub fn series(&self, end_ms: u64, columns: usize, per_column: usize) -> Vec<Bucket> {
        self.timeline.series(end_ms, columns, per_column)
    }

    /// Approval latency as a sum and a count, in milliseconds.
    pub fn latency_mean(&self) -> Mean {
        self.latency
    }

    /// The bucket timeline.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }
}

/// How far before a seed's read the runs it remembers go back (see
/// [`MetricsCollector::seeded`]): runs that ended from then on count nothing when their
/// events are replayed onto the seed (clocks are read a moment apart).
pub fn seed_since(now_ms: u64) -> u64 {
    now_ms.saturating_sub(60_000)
}

/// Runs decoded per page read by [`paged_runs`].
pub const SEED_STEP: usize = 1_000;

/// Every run `page` gives, newest first, [`SEED_STEP`] at a time (`page(before, n)`: the `n`
/// runs older than `before`); a short page ends the walk.
pub fn paged_runs<'a>(
    mut page: impl FnMut(Option<&RunId>, usize) -> Vec<Run> + 'a,
) -> impl Iterator<Item = Run> + 'a {
    let mut cursor: Option<RunId> = None;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let batch = page(cursor.as_ref(), SEED_STEP);
        done = batch.len() < SEED_STEP;
        cursor = batch.last().map(|r| r.id.clone());
        Some(batch)
    })
    .flatten()
}

#[cfg(test)]
mod tests;
