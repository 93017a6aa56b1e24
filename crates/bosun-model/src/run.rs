//! A run: one attempt by one executor at one task, from queued to merged (or not).

use std::fmt;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{TaskId, TaskType};

/// Time-ordered run id (a ULID, lowercase), so sorting ids sorts runs by creation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub String);

impl RunId {
    /// A new id, later than every id made before it by this process.
    pub fn new() -> Self {
        Self(ulid::Ulid::new().to_string().to_lowercase())
    }

    /// The last 6 characters: enough to tell runs apart in a branch name.
    pub fn short(&self) -> &str {
        &self.0[self.0.len().saturating_sub(6)..]
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for a worker.
    Queued,
    /// Its worktree is being made.
    Preparing,
    /// The agent is working.
    Running,
    /// Its change is being checked.
    Gating,
    /// Waiting for the operator's decision.
    AwaitingApproval,
    /// Approved and delivered as a pull request: pushed to the forge, waiting for it to be
    /// merged (then `merged`) or closed (then `rejected`) there.
    Delivered,
    /// Approved and merged into the target branch.
    Merged,
    /// Rejected by the operator.
    Rejected,
    /// The agent or the checks failed.
    Failed,
    /// Stopped on request.
    Cancelled,
    /// bosun stopped while the run was in progress.
    Interrupted,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 11] = [
        Self::Queued,
        Self::Preparing,
        Self::Running,
        Self::Gating,
        Self::AwaitingApproval,
        Self::Delivered,
        Self::Merged,
        Self::Rejected,
        Self::Failed,
        Self::Cancelled,
        Self::Interrupted,
    ];

    /// The snake_case name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Preparing => "preparing",
            Self::Running => "running",
            Self::Gating => "gating",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Delivered => "delivered",
            Self::Merged => "merged",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    /// A worker is busy with the run (it counts against `max_parallel`).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Preparing | Self::Running | Self::Gating)
    }

    /// Nothing more will happen to the run.
    pub fn is_final(self) -> bool {
        match self {
            Self::Merged | Self::Rejected | Self::Failed | Self::Cancelled | Self::Interrupted => {
                true
            }
            Self::Queued
            | Self::Preparing
            | Self::Running
            | Self::Gating
            | Self::AwaitingApproval
            | Self::Delivered => false,
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "unknown run status `{s}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// Tokens and money an agent spent, when it reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Input (prompt) tokens.
    pub input_tokens: u64,
    /// Output (completion) tokens.
    pub output_tokens: u64,
    /// Cost in US dollars (as far as known: see `cost_unknown`).
    pub cost_usd: f64,
    /// The agent counted tokens but reported no cost (codex, gemini, aider without prices)
    /// and no `[executors.NAME] prices` were set: `cost_usd` leaves this agent's spending
    /// out, it does not mean free.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cost_unknown: bool,
}

impl Usage {
    /// Whether anything was spent or counted (an agent that reports nothing leaves it so).
    pub fn is_known(&self) -> bool {
        self.input_tokens + self.output_tokens > 0 || self.cost_usd > 0.0
    }

    /// Both together (a cost stays unknown if either part's is).
    #[must_use]
    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
            cost_usd: self.cost_usd + other.cost_usd,
            cost_unknown: self.cost_unknown || other.cost_unknown,
        }
    }

    /// The cost as the operator reads it: `$0.0045`, `unknown` when the agent reported none,
    /// `≥ $0.0012` when only part of it is known (bosun's own model calls, say).
    pub fn cost_text(&self) -> String {
        match (self.cost_unknown, self.cost_usd > 0.0) {
            (false, _) => format!("${:.4}", self.cost_usd),
            (true, false) => "unknown".to_string(),
            (true, true) => format!("≥ ${:.4}", self.cost_usd),
        }
    }
}

/// The operator's decision on a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// `approve` or `reject`.
    pub verdict: String,
    /// Who decided (`$USER`, or `policy`).
    pub by: String,
    /// When, in Unix milliseconds.
    pub at_ms: u64,
    /// The reason or note given.
    pub reason: String,
}

/// One attempt at one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Time-ordered id.
    pub id: RunId,
    /// The task worked on.
    pub task_id: TaskId,
    /// The task's title when the run was made.
    pub task_title: String,
    /// 1 for the first attempt at the task, 2 for the next, …
    pub attempt: u32,
    /// The executor (agent) name from the config.
    pub executor: String,
    /// Where the run is.
    pub status: RunStatus,
    /// The run's branch, `bosun/<task-slug>-<short-id>`.
    pub branch: String,
    /// The target branch the run starts from and merges into.
    pub target: String,
    /// Commit the run started from.
    pub base: Option<String>,
    /// Commit the run ended at.
    pub head: Option<String>,
    /// The run's worktree, while it exists.
    pub worktree: Option<PathBuf>,
    /// Process group of what the run is running now — the agent, a hook or a gate command
    /// (to end it after a crash).
    pub pgid: Option<i32>,
    /// When the run was queued, started and finished (Unix milliseconds).
    pub created_ms: u64,
    /// When the agent started.
    pub started_ms: Option<u64>,
    /// When the run reached a final state or awaiting approval.
    pub finished_ms: Option<u64>,
    /// Tokens and cost, when known.
    pub usage: Usage,
    /// What went wrong, for failed, cancelled and interrupted runs.
    pub error: Option<String>,
    /// Feedback carried into this attempt's prompt (the previous failure, the operator's reason).
    pub feedback: Option<String>,
    /// The operator's decision.
    pub decision: Option<Decision>,
    /// Files changed, lines added and removed.
    pub diffstat: Option<(usize, usize, usize)>,
    /// Gate results, in the order the gates ran.
    #[serde(default)]
    pub gates: Vec<super::GateResult>,
    /// Weighted mean of the gate scores.
    #[serde(default)]
    pub score: Option<f64>,
    /// The policy rule that decided what happened after the gates.
    #[serde(default)]
    pub policy: Option<String>,
    /// The policy auto-approves this run and the approval is still to be made (set with the
    /// verdict, so a restart in between makes it rather than leaving the run waiting).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_approve: bool,
    /// How many annotations the semantic analysis made of the change, by kind and severity
    /// (the annotations themselves are stored apart: `Store::annotations`).
    #[serde(default, skip_serializing_if = "super::AnnotationCounts::is_empty")]
    pub annotation_counts: super::AnnotationCounts,
    /// How the executor was chosen (the candidates, their posteriors and sampled draws), so a
    /// choice can be audited; `None` until the run starts.
    #[serde(default)]
    pub routing: Option<RoutingChoice>,
    /// Ids of the process-memory lessons included in the run's prompt.
    #[serde(default)]
    pub lessons: Vec<String>,
    /// Ids of the accepted examples included in the run's prompt.
    #[serde(default)]
    pub examples: Vec<String>,
    /// The outcome process memory counted for this run: `Some(true)` a success, `Some(false)` a
    /// failure, `None` not counted (yet). It keeps a run from being counted twice, e.g. when a
    /// failed run is rejected afterwards.
    #[serde(default)]
    pub memory_outcome: Option<bool>,
    /// Why a failed run stopped, when front ends act on it: `budget` (a `[budget]` limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Best-of: the other candidate that worked on the same task at the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rival: Option<RunId>,
    /// The pull request the approval was delivered as (`[forge] deliver = "pr"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<PullRequest>,
}

/// How a run's executor was chosen among those `[routing]` allows for its task's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingChoice {
    /// The task's type when the run started (the strategies are kept per type).
    pub task_type: TaskType,
    /// What made the choice.
    pub by: ChosenBy,
    /// Every candidate, in routing order.
    pub candidates: Vec<CandidateDraw>,
    /// The executor chosen.
    pub chosen: String,
}

/// What chose a run's executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChosenBy {
    /// Thompson sampling: the candidate with the highest draw from its posterior.
    Sampling,
    /// Routing allows one executor only; nothing to choose.
    OnlyCandidate,
    /// Process memory is off: the first routed executor.
    FirstRouted,
}

/// One candidate executor of a routing choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateDraw {
    /// The executor's name.
    pub executor: String,
    /// Beta posterior α: 1 + the successes of (task type, executor) so far.
    pub alpha: f64,
    /// Beta posterior β: 1 + the failures so far.
    pub beta: f64,
    /// The success probability drawn from the posterior (`None` when nothing was sampled).
    pub sample: Option<f64>,
}

impl Run {
    /// A new queued run: attempt `attempt` at task `task` (titled `title`), starting from and
    /// merging into `target`, on branch `bosun/<title slug>-<short id>`, with nothing else yet.
    pub fn queued(task: TaskId, title: &str, attempt: u32, target: &str) -> Run {
        let id = RunId::new();
        Run {
            branch: format!("bosun/{}-{}", slug(title), id.short()),
            id,
            task_id: task,
            task_title: title.to_string(),
            attempt,
            executor: String::new(),
            status: RunStatus::Queued,
            target: target.to_string(),
            base: None,
            head: None,
            worktree: None,
            pgid: None,
            created_ms: now_ms(),
            started_ms: None,
            finished_ms: None,
            usage: Usage::default(),
            error: None,
            feedback: None,
            decision: None,
            diffstat: None,
            gates: Vec::new(),
            score: None,
            policy: None,
            auto_approve: false,
            annotation_counts: super::AnnotationCounts::default(),
            routing: None,
            lessons: Vec::new(),
            examples: Vec::new(),
            memory_outcome: None,
            reason: None,
            rival: None,
            delivery: None,
        }
    }
}

impl Run {
    /// Best-of: whether this run is the one to present rather than its rival `other` — a run
    /// awaiting approval over one that is not, then the higher score, then the older run.
    pub fn outranks(&self, other: &Run) -> bool {
        let awaiting = |r: &Run| r.status == RunStatus::AwaitingApproval;
        match (awaiting(self), awaiting(other)) {
            (true, false) => true,
            (false, true) => false,
            _ => {
                let (a, b) = (self.score.unwrap_or(-1.0), other.score.unwrap_or(-1.0));
                a > b || (a == b && self.id < other.id)
            }
        }
    }
}

/// What scheduling and budgets need of a run, kept by the store per task (`task_runs`) so that
/// bosun starts without reading every run: a task's history is a list of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run.
    pub id: RunId,
    /// Its status.
    pub status: RunStatus,
    /// Its attempt number.
    pub attempt: u32,
    /// `Run::reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What it spent, in US dollars.
    #[serde(default)]
    pub cost_usd: f64,
    /// When it was approved or rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_ms: Option<u64>,
}

impl From<&Run> for RunSummary {
    fn from(run: &Run) -> Self {
        Self {
            id: run.id.clone(),
            status: run.status,
            attempt: run.attempt,
            reason: run.reason.clone(),
            cost_usd: run.usage.cost_usd,
            decided_ms: run.decision.as_ref().map(|d| d.at_ms),
        }
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A branch-safe slug of a title: lowercase ASCII letters and digits joined by `-`, at most
/// 40 characters (non-ASCII titles fall back to `task`).
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for word in title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if out.len() + word.len() + 1 > 40 {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&word.to_ascii_lowercase());
    }
    if out.is_empty() {
        "task".to_string()
    } else {
        out
    }
}

/// Something that happened to a run, kept with it (status changes, agent progress, notes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEvent {
    /// When, in Unix milliseconds.
    pub at_ms: u64,
    /// `status`, `progress`, `error`, `note`, …
    pub kind: String,
    /// What happened.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_statuses_round_trip() {
        let a = RunId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = RunId::new();
        assert!(a < b);
        assert_eq!(b.short().len(), 6);
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("done".parse::<RunStatus>().is_err());
    }

    #[test]
    fn an_unknown_cost_reads_as_unknown_and_stays_so_when_added_up() {
        let known = Usage {
            input_tokens: 10,
            output_tokens: 2,
            cost_usd: 0.0012,
            cost_unknown: false,
        };
        let tokens_only = Usage {
            input_tokens: 100,
            output_tokens: 20,
            cost_unknown: true,
            ..Usage::default()
        };
        assert_eq!(known.cost_text(), "$0.0012");
        assert_eq!(Usage::default().cost_text(), "$0.0000");
        assert_eq!(tokens_only.cost_text(), "unknown");
        let both = known.plus(tokens_only);
        assert_eq!((both.input_tokens, both.output_tokens), (110, 22));
        assert_eq!(both.cost_text(), "≥ $0.0012");
        // Stored runs from before the field read as known; a known cost writes no flag.
        let old: Usage =
            serde_json::from_str(r#"{"input_tokens":1,"output_tokens":2,"cost_usd":0.5}"#).unwrap();
        assert!(!old.cost_unknown);
        assert!(
            !serde_json::to_string(&known)
                .unwrap()
                .contains("cost_unknown")
        );
        assert!(
            serde_json::to_string(&tokens_only)
                .unwrap()
                .contains("\"cost_unknown\":true")
        );
    }

    #[test]
    fn slugs_are_branch_safe() {
        assert_eq!(slug("Fix crash on empty input"), "fix-crash-on-empty-input");
        assert_eq!(
            slug("Add a `--json` output flag!"),
            "add-a-json-output-flag"
        );
        assert_eq!(slug("Декомпозиция server.py"), "server-py");
        assert_eq!(slug("Тесты"), "task");
        assert!(slug(&"word ".repeat(30)).len() <= 40);
    }
}

/// A run delivered as a pull (merge) request: where it went and what was pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// `github`, `gitlab` or `gitea`.
    pub forge: String,
    /// The repository on the forge (`owner/name`).
    pub repository: String,
    /// The pull request's number (GitLab: the merge request's iid).
    pub number: u64,
    /// Its web page.
    pub url: String,
    /// The branch pushed to the remote.
    pub branch: String,
    /// The commit pushed: the reviewed candidate with the task's checkbox ticked on top.
    pub commit: String,
    /// When it was opened (ms since the epoch).
    pub opened_ms: u64,
    /// The forge's `ETag` of the last look, so an unchanged pull request costs nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The last state bosun saw: `open`, `changes_requested`, `merged` or `closed`.
    #[serde(default)]
    pub state: String,
}

/// How an approved run reaches the target branch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// bosun merges into the target branch here (`[project] merge`) and ticks the task.
    #[default]
    Merge,
    /// bosun pushes the candidate commit (with the task ticked) to the forge and opens a pull
    /// request; the run is merged when the pull request is.
    Pr,
}

impl std::str::FromStr for Delivery {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "merge" => Ok(Self::Merge),
            "pr" => Ok(Self::Pr),
            other => Err(format!("unknown delivery `{other}`: `merge` or `pr`")),
        }
    }
}
