//! bosun's configuration: typed sections with built-in defaults, loaded from `bosun.toml`
//! and layered as defaults < file < `BOSUN_*` environment variables < command-line flags.

mod load;
pub mod policy;
pub mod values;

use std::collections::BTreeMap;
use std::path::PathBuf;

use std::marker::PhantomData;

use serde::de::MapAccess;
use serde::{Deserialize, Serialize};

use crate::model::TaskType;
pub use values::{MergeMode, Preset};

pub use load::{ConfigError, ENV_PREFIX, Loaded, load, parse_str};

/// The name of the config file looked for at the repository root.
pub const FILE_NAME: &str = "bosun.toml";

/// Every setting bosun reads. Sections mirror the tables of `bosun.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[project]`: where the tasks are.
    pub project: ProjectConfig,
    /// `[intake]`: how tasks are classified.
    pub intake: IntakeConfig,
    /// `[orchestrator]`: how many runs, how often, how long.
    pub orchestrator: OrchestratorConfig,
    /// `[executors]` and `[executors.NAME]`: the coding agents bosun can run.
    pub executors: ExecutorsConfig,
    /// `[routing]`: which executors work on which task types.
    pub routing: RoutingConfig,
    /// `[prompt]`: what the agent is told.
    pub prompt: PromptConfig,
    /// `[gates]`, `[gates.diff]` and `[gates.NAME]`: the checks every change goes through.
    pub gates: GatesConfig,
    /// `[dod]` and `[dod.TYPE]`: the Definition of Done of each task type.
    pub dod: DodConfig,
    /// `[policy]`: when a passing run is approved without the operator.
    pub policy: policy::PolicyConfig,
    /// `[hooks]`: shell commands around the agent and the gates.
    pub hooks: HooksConfig,
    /// `[memory]`: what bosun learns from decisions and feeds back into routing and prompts.
    pub memory: MemoryConfig,
    /// `[notify]`: how the console tells the operator a run needs them.
    pub notify: NotifyConfig,
    /// `[keys]`: extra keys for the console's actions.
    pub keys: KeysConfig,
    /// `[telemetry]`: the log file.
    pub telemetry: TelemetryConfig,
    /// `[llm]`, `[llm.providers.NAME]`, `[llm.routes.NAME]`: the model providers bosun's own
    /// agent and judge talk to.
    pub llm: LlmConfig,
    /// `[budget]`: the most money runs may spend on models.
    pub budget: BudgetConfig,
    /// `[sandbox]`: what agents, hooks and gate commands may write and reach.
    pub sandbox: SandboxConfig,
    /// `[store]`: bosun's state on disk.
    pub store: StoreConfig,
    /// `[server]`: what a running bosun serves besides its control socket.
    pub server: ServerConfig,
    /// `[mcp]`: what `bosun mcp` lets an MCP client do.
    pub mcp: McpConfig,
    /// `[forge]`: where approved runs go as pull requests (GitHub, GitLab, Gitea).
    pub forge: ForgeConfig,
}

pub use crate::model::Delivery;

/// Which forge `[forge]` talks to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// GitHub or GitHub Enterprise (REST v3).
    #[default]
    Github,
    /// GitLab (REST v4), gitlab.com or self-hosted.
    Gitlab,
    /// Gitea or Forgejo (REST v1).
    Gitea,
}

/// `[forge]`: delivering approved runs as pull (merge) requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForgeConfig {
    /// `github`, `gitlab` or `gitea`.
    pub kind: ForgeKind,
    /// How approvals are delivered unless the decision says otherwise: `merge` (locally, as
    /// without a forge) or `pr`.
    pub deliver: Delivery,
    /// The git remote pushed to (its URL also names the repository on the forge).
    pub remote: String,
    /// The repository on the forge, `owner/name` (GitLab: the project path, groups included);
    /// empty: read from the remote's URL.
    pub repository: String,
    /// The API's base URL; empty: `https://api.github.com`, `https://gitlab.com/api/v4`, or for
    /// Gitea the remote's host with `/api/v1`.
    pub api_url: String,
    /// The environment variable holding the API token (never written to bosun.toml, logs or
    /// the store); empty: `GITHUB_TOKEN`, `GITLAB_TOKEN` or `GITEA_TOKEN`.
    pub token_env: String,
    /// Open the pull request as a draft when the run carries a risk annotation.
    pub draft_on_risk: bool,
    /// Labels put on the pull request: `{type}` and `{priority}` are the task's.
    pub labels: Vec<String>,
    /// Seconds between two looks at each open pull request (conditional requests: an
    /// unchanged pull request costs no rate limit on GitHub).
    pub poll_secs: u64,
    /// When a reviewer requests changes, retry the task with the review's comments as the
    /// operator's feedback (else the run just says so and waits).
    pub retry_on_changes_requested: bool,
}

impl Default for ForgeConfig {
    fn default() -> Self {
        Self {
            kind: ForgeKind::default(),
            deliver: Delivery::default(),
            remote: "origin".into(),
            repository: String::new(),
            api_url: String::new(),
            token_env: String::new(),
            draft_on_risk: true,
            labels: vec![
                "bosun".into(),
                "{type}".into(),
                "priority: {priority}".into(),
            ],
            poll_secs: 60,
            retry_on_changes_requested: false,
        }
    }
}

impl ForgeConfig {
    /// Whether `[forge]` says anything (then doctor checks it, and the console offers both
    /// ways of delivering an approval).
    pub fn is_set_up(&self) -> bool {
        *self != Self::default()
    }

    /// The environment variable holding the token.
    pub fn token_variable(&self) -> &str {
        if !self.token_env.is_empty() {
            return &self.token_env;
        }
        match self.kind {
            ForgeKind::Github => "GITHUB_TOKEN",
            ForgeKind::Gitlab => "GITLAB_TOKEN",
            ForgeKind::Gitea => "GITEA_TOKEN",
        }
    }
}

/// `[server]`: what a running bosun (the console, or `bosun run --headless`) serves besides
/// its control socket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// `HOST:PORT` for Prometheus: `GET /metrics` (OpenMetrics text: runs, gates, queue,
    /// models, cost) and `GET /healthz`; empty: not served.
    pub metrics_addr: String,
}

/// `[mcp]`: what `bosun mcp` (an MCP server over stdio) lets a client such as Claude Code or
/// Codex do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// Offer `approve`, `reject` and `retry` too; otherwise the client may read tasks and
    /// runs and add tasks, and a decision stays the operator's.
    pub allow_decisions: bool,
}

/// `[store]`: bosun's state on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Free space (MB) below which no new run starts, on the file systems of the state
    /// directory (`.bosun/`) and of the run checkouts; 0: no guard.
    pub min_free_mb: u64,
    /// `bosun gc` forgets the events, diff, log and prompt files of runs that finished more
    /// than this many days ago (their status, decision, gates, process memory and the audit
    /// trail are kept).
    pub keep_days: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            min_free_mb: 256,
            keep_days: 90,
        }
    }
}

/// `[sandbox]`: the OS sandbox of every agent, hook and gate command (see
/// `executors::sandbox`). Writes are limited to the run's checkout, a private temp dir and
/// `writable`; reads are not limited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// `auto` (Landlock, else bubblewrap, else off with a warning), `landlock`, `bwrap` or
    /// `off`.
    pub mode: SandboxMode,
    /// TCP for agents and hooks: `allow` (agents that call hosted models need it) or `deny`.
    pub network: NetworkAccess,
    /// TCP for gate commands; unset: as `network`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gates_network: Option<NetworkAccess>,
    /// More paths every command may write beneath (`~` is the home directory); paths that do
    /// not exist when a command starts are skipped.
    pub writable: Vec<String>,
    /// Most address space per process, e.g. `8G`; empty: no limit.
    pub max_memory: String,
    /// Most processes of the user while a command runs (`RLIMIT_NPROC`); 0: no limit.
    pub max_processes: u64,
    /// Largest file a command may write, e.g. `1G`; empty: no limit.
    pub max_file_size: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            mode: SandboxMode::Auto,
            network: NetworkAccess::Allow,
            gates_network: None,
            writable: [
                "~/.cargo/registry",
                "~/.cargo/git",
                "~/.cargo/.package-cache",
                "~/.rustup/tmp",
                "~/.npm",
                "~/.cache",
            ]
            .map(String::from)
            .to_vec(),
            max_memory: String::new(),
            max_processes: 0,
            max_file_size: String::new(),
        }
    }
}

/// `[sandbox] mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// Landlock where the kernel has it, else bubblewrap when installed, else off (warned).
    #[default]
    Auto,
    /// Landlock only (off, warned, where the kernel has none).
    Landlock,
    /// bubblewrap only (off, warned, where it is not installed).
    Bwrap,
    /// No sandbox.
    Off,
}

impl SandboxMode {
    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Landlock => "landlock",
            Self::Bwrap => "bwrap",
            Self::Off => "off",
        }
    }
}

/// `[sandbox] network` and `gates_network`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkAccess {
    /// TCP connects and binds are allowed.
    #[default]
    Allow,
    /// TCP connects and binds are refused (Landlock ABI 4+, or bubblewrap's own network).
    Deny,
}

/// `[llm]`: OpenAI-compatible model providers, grouped into routes. The router is the only
/// retry loop: transient errors and 5xx retry with backoff, 429 waits `Retry-After`, a
/// provider failing repeatedly cools down, then the next provider of the chain is tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// On a retry, have the model summarize the previous attempt's gate failures (else they
    /// are summarized mechanically: first errors with file:line).
    pub analyze_errors: bool,
    /// The route used by `analyze_errors` (empty: the first route by name).
    pub analyze_route: String,
    /// Answer identical requests at temperature 0 from the cache (`.bosun/` sled store).
    pub cache: bool,
    /// How long a cached answer is kept.
    pub cache_ttl: String,
    /// Retries per provider for transient errors, 5xx and 429, before the next provider.
    pub retries: u32,
    /// First backoff between retries (doubled each time, with jitter).
    pub backoff: String,
    /// Failures in a row after which a provider is skipped for `cooldown`.
    pub cooldown_after: u32,
    /// How long a failing provider is skipped.
    pub cooldown: String,
    /// `[llm.providers.NAME]`.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// `[llm.routes.NAME]`.
    pub routes: BTreeMap<String, RouteConfig>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            analyze_errors: false,
            analyze_route: String::new(),
            cache: true,
            cache_ttl: "24h".into(),
            retries: 2,
            backoff: "500ms".into(),
            cooldown_after: 3,
            cooldown: "60s".into(),
            providers: BTreeMap::new(),
            routes: BTreeMap::new(),
        }
    }
}

impl LlmConfig {
    /// `cache_ttl` as a duration (validated at load).
    pub fn cache_ttl(&self) -> std::time::Duration {
        duration(&self.cache_ttl).unwrap_or(std::time::Duration::from_secs(24 * 3600))
    }

    /// `backoff` as a duration (validated at load).
    pub fn backoff(&self) -> std::time::Duration {
        duration(&self.backoff).unwrap_or(std::time::Duration::from_millis(500))
    }

    /// `cooldown` as a duration (validated at load).
    pub fn cooldown(&self) -> std::time::Duration {
        duration(&self.cooldown).unwrap_or(std::time::Duration::from_secs(60))
    }
}

/// `[llm.providers.NAME]`: one OpenAI-compatible endpoint and model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    /// The API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`
    /// (`/chat/completions` is appended).
    pub base_url: String,
    /// The model name sent with each request.
    pub model: String,
    /// The environment variable holding the API key (never the key itself); empty: no key
    /// (local servers).
    pub api_key_env: String,
    /// Longest one request may take, streaming included.
    pub timeout: String,
    /// Requests in flight to this provider at once.
    pub max_concurrency: usize,
    /// US dollars per million input tokens.
    pub input_usd_per_mtok: f64,
    /// US dollars per million output tokens.
    pub output_usd_per_mtok: f64,
    /// The provider can return token log-probabilities (`logprobs`).
    pub logprobs: bool,
    /// Extra HTTP headers sent with each request.
    pub headers: BTreeMap<String, String>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            model: String::new(),
            api_key_env: String::new(),
            timeout: "120s".into(),
            max_concurrency: 4,
            input_usd_per_mtok: 0.0,
            output_usd_per_mtok: 0.0,
            logprobs: true,
            headers: BTreeMap::new(),
        }
    }
}

impl ProviderConfig {
    /// `timeout` as a duration (validated at load).
    pub fn timeout(&self) -> std::time::Duration {
        duration(&self.timeout).unwrap_or(std::time::Duration::from_secs(120))
    }

    /// What `usage` costs at this provider's prices.
    pub fn cost_usd(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_usd_per_mtok
            + output_tokens as f64 * self.output_usd_per_mtok)
            / 1_000_000.0
    }
}

/// `[llm.routes.NAME]`: providers tried for one purpose, and how to pick among them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    /// Provider names; `fallback` tries them in this order.
    pub chain: Vec<String>,
    /// `fallback`, `least_latency` or `round_robin` among the healthy providers of the chain.
    pub strategy: RouteStrategy,
}

/// How a route picks its first provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteStrategy {
    /// The chain's order.
    #[default]
    Fallback,
    /// The healthy provider with the lowest recent latency first.
    LeastLatency,
    /// Each request starts at the next provider.
    RoundRobin,
}

/// `[budget]`: spending limits in US dollars (0: no limit). A run that would exceed one is
/// stopped and fails with reason `budget`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Most one run may spend.
    pub per_run_usd: f64,
    /// Most all runs of one task may spend together.
    pub per_task_usd: f64,
    /// Most all runs may spend in one calendar day (UTC).
    pub per_day_usd: f64,
}

impl BudgetConfig {
    /// Whether any limit is set.
    pub fn limited(&self) -> bool {
        self.per_run_usd > 0.0 || self.per_task_usd > 0.0 || self.per_day_usd > 0.0
    }
}

/// `[memory]`: process memory. Decisions and gate results update, per task type and
/// executor, how often the executor's runs were accepted; the executor for a task is chosen by
/// Thompson sampling among those routed to its type, and prompts carry lessons (rejection
/// reasons, recurring gate failures) and accepted examples from similar tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Learn from decisions and choose executors by their record (off: the first routed
    /// executor always, and no lessons or examples in prompts).
    pub enabled: bool,
    /// Seed of the sampler; 0 draws a fresh seed each start (set one for repeatable choices).
    pub seed: u64,
    /// Most lessons included in one prompt.
    pub max_lessons: usize,
    /// Most accepted examples included in one prompt.
    pub max_examples: usize,
    /// How much cost counts against success when choosing an executor: a decided run's reward
    /// is success − cost_weight × its cost relative to the dearest run of that task type, so
    /// cheaper executors win when quality is equal (0: cost is ignored).
    pub cost_weight: f64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            seed: 0,
            max_lessons: 3,
            max_examples: 2,
            cost_weight: 0.2,
        }
    }
}

/// `[notify]`: when a run starts waiting for approval or fails, the console tells the
/// operator even when they look elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Ring the terminal bell and send a desktop notification (OSC 9).
    pub bell: bool,
    /// A shell command the running bosun (console or headless) runs once for each such
    /// event, with `BOSUN_NOTIFY_TEXT` in its environment (e.g. `notify-send bosun
    /// "$BOSUN_NOTIFY_TEXT"`); empty: none.
    pub command: String,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            bell: true,
            command: String::new(),
        }
    }
}

/// `[keys]`: extra keys for the console's actions, one character each; the default keys keep
/// working. Empty: no extra key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// Quit (default `q`).
    pub quit: String,
    /// The help (default `?`).
    pub help: String,
    /// Pause / resume (default `p`).
    pub pause: String,
    /// Next theme (default `t`).
    pub theme: String,
    /// New task (default `n`, on the Board).
    pub new_task: String,
    /// Retry a failed run (default `R`, on the Board).
    pub retry: String,
    /// Cancel a running run (default `c`, on the Board).
    pub cancel: String,
    /// Filter or search (default `/`).
    pub filter: String,
    /// Approve (default `a`, in Review).
    pub approve: String,
    /// Reject (default `r`, in Review).
    pub reject: String,
}

impl KeysConfig {
    /// Each configured key with the default key of its action, for the console to translate.
    pub fn extra(&self) -> Vec<(char, char)> {
        [
            (&self.quit, 'q'),
            (&self.help, '?'),
            (&self.pause, 'p'),
            (&self.theme, 't'),
            (&self.new_task, 'n'),
            (&self.retry, 'R'),
            (&self.cancel, 'c'),
            (&self.filter, '/'),
            (&self.approve, 'a'),
            (&self.reject, 'r'),
        ]
        .into_iter()
        .filter_map(|(key, default)| key.chars().next().map(|k| (k, default)))
        .collect()
    }

    /// The actions by name with their configured key, for validation messages.
    pub fn entries(&self) -> [(&'static str, &str); 10] {
        [
            ("quit", &self.quit),
            ("help", &self.help),
            ("pause", &self.pause),
            ("theme", &self.theme),
            ("new_task", &self.new_task),
            ("retry", &self.retry),
            ("cancel", &self.cancel),
            ("filter", &self.filter),
            ("approve", &self.approve),
            ("reject", &self.reject),
        ]
    }
}

/// `[project]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectConfig {
    /// Markdown task lists, relative to the repository root.
    pub task_files: Vec<PathBuf>,
    /// Branch runs start from and merge into; empty: the branch checked out when bosun starts.
    pub target_branch: String,
    /// Where run worktrees are made; empty: `$XDG_DATA_HOME/bosun/worktrees/<repo>-<hash>`.
    pub worktree_root: String,
    /// How an approved run is merged: `ff`, `merge` or `squash`.
    pub merge: MergeMode,
    /// Delete a run's branch once it is merged or rejected.
    pub delete_branch: bool,
    /// The message of a run's commit (and of the merge or squash commit): `{title}`,
    /// `{type}`, `{task}`, `{run}`, `{attempt}`; the `Bosun-Task`/`Bosun-Run` trailers follow.
    pub commit_message: String,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        Self {
            task_files: vec![PathBuf::from("TODO.md")],
            target_branch: String::new(),
            worktree_root: String::new(),
            merge: MergeMode::default(),
            delete_branch: true,
            commit_message: "{title}".into(),
        }
    }
}

/// `[orchestrator]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrchestratorConfig {
    /// Runs at the same time.
    pub max_parallel: usize,
    /// Attempts per task before bosun stops retrying it on its own.
    pub max_attempts: u32,
    /// Longest an agent may work on one run (e.g. "30m"), unless its executor says otherwise.
    pub run_timeout: String,
    /// On shutdown, how long running agents get to finish before they are stopped.
    pub shutdown_grace: String,
    /// Candidates per task: with 2, two executors (or two models) work on the same task in
    /// parallel and the better-scoring change is presented, the other beside it.
    pub best_of: usize,
    /// `best_of` for particular task types, e.g. `{ code = 2 }`.
    pub best_of_per_type: BTreeMap<TaskType, usize>,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        Self {
            max_parallel: 2,
            max_attempts: 3,
            run_timeout: "30m".into(),
            shutdown_grace: "10s".into(),
            best_of: 1,
            best_of_per_type: BTreeMap::new(),
        }
    }
}

impl OrchestratorConfig {
    /// `run_timeout` as a duration (validated at load).
    pub fn run_timeout(&self) -> std::time::Duration {
        duration(&self.run_timeout).unwrap_or(std::time::Duration::from_secs(30 * 60))
    }

    /// How many candidates work on a task of this type at once (at least 1).
    pub fn best_of(&self, task_type: TaskType) -> usize {
        self.best_of_per_type
            .get(&task_type)
            .copied()
            .unwrap_or(self.best_of)
            .max(1)
    }

    /// `shutdown_grace` as a duration (validated at load).
    pub fn shutdown_grace(&self) -> std::time::Duration {
        duration(&self.shutdown_grace).unwrap_or(std::time::Duration::from_secs(10))
    }
}

/// Parses a human duration such as `90s`, `30m` or `1h 30m`.
pub fn duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write e.g. \"90s\", \"30m\" or \"1h\"")
    })
}

/// `[routing]`: executor names to use per task type; `default` for types not listed.
/// Empty everywhere: every configured executor, in name order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    /// Executors for types without a list of their own.
    pub default: Vec<String>,
    /// Executors for `code` tasks.
    pub code: Vec<String>,
    /// Executors for `docs` tasks.
    pub docs: Vec<String>,
    /// Executors for `refactor` tasks.
    pub refactor: Vec<String>,
    /// Executors for `test` tasks.
    pub test: Vec<String>,
    /// Executors for `release` tasks.
    pub release: Vec<String>,
    /// Executors for `devops` tasks.
    pub devops: Vec<String>,
}

impl RoutingConfig {
    /// The configured list for a task type (falling back to `default`).
    pub fn for_type(&self, t: TaskType) -> &[String] {
        let list = match t {
            TaskType::Code => &self.code,
            TaskType::Docs => &self.docs,
            TaskType::Refactor => &self.refactor,
            TaskType::Test => &self.test,
            TaskType::Release => &self.release,
            TaskType::Devops => &self.devops,
        };
        if list.is_empty() { &self.default } else { list }
    }
}

/// `[prompt]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptConfig {
    /// The prompt given to agents. Placeholders: {task_id}, {title}, {description}, {body},
    /// {subtasks}, {section}, {file}, {references}, {memory}, {feedback}, {attempt}.
    pub template: String,
    /// At most this many bytes of each referenced file go into the prompt.
    pub max_reference_bytes: usize,
}

/// The prompt bosun gives agents unless `[prompt] template` says otherwise.
pub const DEFAULT_PROMPT: &str =
    "You are working on one task from this repository's task list ({file}, section: {section}).

Task {task_id}: {title}
{description}
{body}
{subtasks}
{references}
{memory}
{feedback}
Make the change in this working tree and keep it focused on the task. Do not edit the task list
itself and do not push. When you are done, leave your changes in place: bosun commits them and
shows them to the operator for review.
";

impl Default for PromptConfig {
    fn default() -> Self {
        Self {
            template: DEFAULT_PROMPT.to_string(),
            max_reference_bytes: 16 * 1024,
        }
    }
}

/// `[intake]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeConfig {
    /// `[intake.types]`: keyword rules per task type.
    pub types: TypeKeywords,
}

/// `[intake.types]`: for each type, the words that select it when they appear in a task's
/// title (or, failing that, its description). `word*` matches any word starting with `word`.
/// Setting a list replaces that type's default list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TypeKeywords {
    /// Keywords for `code` (the type used when nothing matches).
    pub code: Vec<String>,
    /// Keywords for `docs`.
    pub docs: Vec<String>,
    /// Keywords for `refactor`.
    pub refactor: Vec<String>,
    /// Keywords for `test`.
    pub test: Vec<String>,
    /// Keywords for `release`.
    pub release: Vec<String>,
    /// Keywords for `devops`.
    pub devops: Vec<String>,
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

impl Default for TypeKeywords {
    fn default() -> Self {
        Self {
            code: Vec::new(),
            docs: strings(&[
                "doc",
                "docs",
                "document*",
                "readme*",
                "guide",
                "tutorial*",
                "manual",
                "документ*",
                "руководств*",
                "инструкци*",
            ]),
            refactor: strings(&[
                "refactor*",
                "restructur*",
                "decompos*",
                "cleanup",
                "^rename*",
                "^extract*",
                "^inline",
                "^move",
                "^split",
                "^merge",
                "^переименов*",
                "^вынес*",
                "^перенес*",
                "рефактор*",
                "декомпозиц*",
                "переработ*",
                "реструктур*",
            ]),
            test: strings(&["test*", "coverage", "тест*", "покрыти*"]),
            release: strings(&["release*", "publish", "changelog", "релиз*", "выпуск*"]),
            devops: strings(&[
                "ci",
                "cd",
                "devops",
                "deploy*",
                "docker*",
                "kubernetes",
                "k8s",
                "pipeline*",
                "runner*",
                "infra*",
                "terraform",
                "деплой*",
                "развертыван*",
                "развёртыван*",
                "инфраструктур*",
            ]),
        }
    }
}

/// `[gates]`: whether a failing required gate stops the rest, the built-in `diff` gate, and
/// command gates (`build`, `test`, `lint`, or any name).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatesConfig {
    /// Stop at the first failing required gate (the rest are recorded as skipped).
    pub fail_fast: bool,
    /// `[gates.diff]`.
    pub diff: DiffGateConfig,
    /// `[gates.semantic]`.
    pub semantic: SemanticGateConfig,
    /// `[gates.judge]`.
    pub judge: JudgeGateConfig,
    /// `[gates.NAME]` command gates, run in name order after `diff`.
    #[serde(flatten)]
    pub commands: BTreeMap<String, CommandGateConfig>,
}

impl Default for GatesConfig {
    fn default() -> Self {
        Self {
            fail_fast: true,
            diff: DiffGateConfig::default(),
            semantic: SemanticGateConfig::default(),
            judge: JudgeGateConfig::default(),
            commands: BTreeMap::new(),
        }
    }
}

impl NamedTables for GatesConfig {
    type Entry = CommandGateConfig;
    const EXPECTING: &'static str =
        "`fail_fast`, `[gates.diff]`, `[gates.semantic]`, `[gates.judge]` or `[gates.NAME]` tables";

    fn fixed<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "fail_fast" => self.fail_fast = map.next_value()?,
            "diff" => self.diff = map.next_value()?,
            "semantic" => self.semantic = map.next_value()?,
            "judge" => self.judge = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn insert(&mut self, name: String, entry: CommandGateConfig) {
        self.commands.insert(name, entry);
    }
}

impl<'de> Deserialize<'de> for GatesConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(NamedTablesVisitor::<Self>(PhantomData))
    }
}

/// `[dod]`: the Definition of Done of each task type — which gates a task of that type must
/// pass. Names are built-in checks (`docs_only`, `links`, `version_bump`, `changelog`,
/// `parses`, `tests_added`) or `[gates.NAME]` command gates; the conventional `build`, `test`
/// and `lint` are skipped when not configured. `diff` always runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DodConfig {
    /// Globs that count as documentation for the `docs_only` check (empty: a built-in list).
    pub docs_paths: Vec<String>,
    /// `[dod.code]`.
    pub code: DodEntry,
    /// `[dod.docs]`.
    pub docs: DodEntry,
    /// `[dod.refactor]`.
    pub refactor: DodEntry,
    /// `[dod.test]`.
    pub test: DodEntry,
    /// `[dod.release]`.
    pub release: DodEntry,
    /// `[dod.devops]`.
    pub devops: DodEntry,
}

/// `[dod.TYPE]`: one task type's Definition of Done.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DodEntry {
    /// The gates a task of this type must pass, in addition to `diff`.
    pub gates: Vec<String>,
}

impl DodEntry {
    fn of(names: &[&str]) -> Self {
        Self {
            gates: names.iter().map(|n| (*n).to_string()).collect(),
        }
    }
}

impl Default for DodConfig {
    fn default() -> Self {
        Self {
            docs_paths: Vec::new(),
            code: DodEntry::of(&["diff", "build", "test", "lint"]),
            docs: DodEntry::of(&["diff", "docs_only", "links"]),
            refactor: DodEntry::of(&["diff", "build", "test", "lint", "api_unchanged"]),
            test: DodEntry::of(&["diff", "build", "test", "tests_added"]),
            release: DodEntry::of(&["diff", "version_bump", "changelog", "build", "test"]),
            devops: DodEntry::of(&["diff", "parses", "build"]),
        }
    }
}

/// `[dod]` as written: what is left out keeps its default, per type (an empty `[dod.code]`
/// table, as `bosun init` writes with its settings commented out, is the default code DoD).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DodWritten {
    docs_paths: Option<Vec<String>>,
    code: Option<DodEntryWritten>,
    docs: Option<DodEntryWritten>,
    refactor: Option<DodEntryWritten>,
    test: Option<DodEntryWritten>,
    release: Option<DodEntryWritten>,
    devops: Option<DodEntryWritten>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DodEntryWritten {
    gates: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for DodConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let written = DodWritten::deserialize(deserializer)?;
        let mut out = Self::default();
        if let Some(paths) = written.docs_paths {
            out.docs_paths = paths;
        }
        for (entry, given) in [
            (&mut out.code, written.code),
            (&mut out.docs, written.docs),
            (&mut out.refactor, written.refactor),
            (&mut out.test, written.test),
            (&mut out.release, written.release),
            (&mut out.devops, written.devops),
        ] {
            if let Some(gates) = given.and_then(|g| g.gates) {
                entry.gates = gates;
            }
        }
        Ok(out)
    }
}

impl DodConfig {
    /// The gate names of a task type's Definition of Done.
    pub fn for_type(&self, task_type: TaskType) -> &[String] {
        let entry = match task_type {
            TaskType::Code => &self.code,
            TaskType::Docs => &self.docs,
            TaskType::Refactor => &self.refactor,
            TaskType::Test => &self.test,
            TaskType::Release => &self.release,
            TaskType::Devops => &self.devops,
        };
        &entry.gates
    }

    /// Whether any type's Definition of Done names the gate.
    pub fn mentions(&self, gate: &str) -> bool {
        TaskType::ALL
            .iter()
            .any(|t| self.for_type(*t).iter().any(|g| g == gate))
    }
}

/// `[gates.diff]`: the always-on check that the agent did real work where it may.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiffGateConfig {
    /// Globs every changed path must match (empty: everything is allowed).
    pub allowed_paths: Vec<String>,
    /// Globs no changed path may match.
    pub denied_paths: Vec<String>,
    /// Most lines a change may add plus remove.
    pub max_changed_lines: usize,
}

impl Default for DiffGateConfig {
    fn default() -> Self {
        Self {
            allowed_paths: Vec::new(),
            denied_paths: Vec::new(),
            max_changed_lines: 5_000,
        }
    }
}

/// `[gates.semantic]`: the analysis of what a change does to the code (definitions, public
/// API, syntax errors) and where its risks are (secrets, unsafe code, dependencies, CI, tests).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SemanticGateConfig {
    /// A change adding plus removing more lines than this gets a `large_change` notice.
    pub large_change_lines: usize,
}

impl Default for SemanticGateConfig {
    fn default() -> Self {
        Self {
            large_change_lines: 500,
        }
    }
}

/// `[gates.judge]`: an LLM scores the change against the task with a rubric, several times;
/// the gate reports the mean and its 95% interval, and warns when the interval is wide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JudgeGateConfig {
    /// The `[llm.routes.NAME]` that judges; empty: no judge.
    pub route: String,
    /// Most samples (answers) per change.
    pub samples: usize,
    /// Fewest samples before stopping early.
    pub min_samples: usize,
    /// Stop sampling once the 95% interval is narrower than this (scores are 0–1).
    pub target_width: f64,
    /// Warn (and let the policy hold the run) when the interval is wider than this.
    pub warn_width: f64,
    /// A mean below this fails the gate.
    pub pass_score: f64,
    /// Sampling temperature of the judge.
    pub temperature: f64,
    /// A failure fails the run (else it only lowers the score).
    pub required: bool,
    /// Weight in the run's score.
    pub weight: f64,
    /// Task types judged (empty: every type).
    pub applies_to: Vec<TaskType>,
    /// Most bytes of the diff shown to the judge (the rest is cut, and the judge told).
    pub max_diff_bytes: usize,
}

impl Default for JudgeGateConfig {
    fn default() -> Self {
        Self {
            route: String::new(),
            samples: 5,
            min_samples: 3,
            target_width: 0.1,
            warn_width: 0.3,
            pass_score: 0.5,
            temperature: 0.7,
            required: false,
            weight: 1.0,
            applies_to: Vec::new(),
            max_diff_bytes: 60_000,
        }
    }
}

/// `[gates.NAME]`: a shell command run in the run's worktree; exit status 0 passes. When its
/// output has a test runner's summary (cargo, nextest, pytest, go, jest, vitest), the score is
/// passed / (passed + failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommandGateConfig {
    /// The command, run with `sh -c` in the worktree with the agents' scrubbed environment.
    pub command: String,
    /// A failure fails the run (else it only lowers the score, as a warning).
    pub required: bool,
    /// Weight in the run's score.
    pub weight: f64,
    /// Longest the command may take.
    pub timeout: String,
    /// Task types the gate applies to. Empty: the types whose `[dod.TYPE]` names the gate,
    /// or every type when no Definition of Done names it.
    pub applies_to: Vec<TaskType>,
    /// A JUnit XML report the command writes (relative to the worktree), read for the test
    /// counts instead of the output. Empty: none.
    pub junit: String,
    /// Also run the command on the base commit and count only what the change made worse (new
    /// failures, weakened tests, new problems). Unset: on for gates named `test` and `lint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare_base: Option<bool>,
    /// Run the command on the target's tip when bosun starts, before any agent: if it fails
    /// there, every run would fail it, so the queue stops until it is fixed. Unset: on for the
    /// gate named `build` (a gate that checks what the task adds fails on the tip by design).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preflight: Option<bool>,
}

impl CommandGateConfig {
    /// Whether the gate compares with the base commit (see `compare_base`).
    pub fn compares_base(&self, name: &str) -> bool {
        self.compare_base.unwrap_or(matches!(name, "test" | "lint"))
    }

    /// Whether the gate is checked on the tip before any agent runs (see `preflight`).
    pub fn preflights(&self, name: &str) -> bool {
        self.preflight.unwrap_or(name == "build")
    }
}

impl Default for CommandGateConfig {
    fn default() -> Self {
        Self {
            command: String::new(),
            required: true,
            weight: 1.0,
            timeout: "10m".into(),
            applies_to: Vec::new(),
            junit: String::new(),
            compare_base: None,
            preflight: None,
        }
    }
}

/// `[hooks]`: shell commands run with `sh -c` in the run's worktree, with the agents'
/// environment and `BOSUN_*` variables. Empty: no hook. A failing `pre_*` hook fails the run
/// with its output; a failing `post_*` hook is noted in the run's history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HooksConfig {
    /// Before the agent starts.
    pub pre_run: String,
    /// After the agent exits successfully, before its changes are committed.
    pub post_run: String,
    /// Before the gates run.
    pub pre_gates: String,
    /// After the gates ran.
    pub post_gates: String,
}

/// `[executors]`: settings for all agents, and one `[executors.NAME]` table per agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutorsConfig {
    /// Bytes of an agent's output kept in its run log before a truncation note.
    pub max_log_bytes: u64,
    /// How long an agent that could not reach its model (rate limit, server error, no
    /// connection) rests before it is tried again, e.g. `"60s"`.
    pub unavailable_cooldown: String,
    /// After this long without a line of output from an agent, its progress says so (and
    /// again each time as long again passes), e.g. `"30s"`; `"0s"`: never.
    pub quiet_notice: String,
    /// The agents, by name.
    #[serde(flatten)]
    pub agents: BTreeMap<String, ExecutorConfig>,
}

impl Default for ExecutorsConfig {
    fn default() -> Self {
        Self {
            max_log_bytes: 64 * 1024 * 1024,
            unavailable_cooldown: "60s".into(),
            quiet_notice: "30s".into(),
            agents: BTreeMap::new(),
        }
    }
}

impl ExecutorsConfig {
    /// Whether no agent is configured.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }
}

impl NamedTables for ExecutorsConfig {
    type Entry = ExecutorConfig;
    const EXPECTING: &'static str =
        "`max_log_bytes`, `unavailable_cooldown`, `quiet_notice` or `[executors.NAME]` tables";

    fn fixed<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "max_log_bytes" => self.max_log_bytes = map.next_value()?,
            "unavailable_cooldown" => self.unavailable_cooldown = map.next_value()?,
            "quiet_notice" => self.quiet_notice = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn insert(&mut self, name: String, entry: ExecutorConfig) {
        self.agents.insert(name, entry);
    }
}

impl<'de> Deserialize<'de> for ExecutorsConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(NamedTablesVisitor::<Self>(PhantomData))
    }
}

/// A section whose fixed keys sit beside `[SECTION.NAME]` tables (`[executors]`, `[gates]`).
/// Read by hand rather than with serde's `flatten`, which would lose the file position of an
/// error inside a named table.
trait NamedTables: Default {
    /// What each named table holds.
    type Entry;
    /// What the section may contain, for error messages.
    const EXPECTING: &'static str;
    /// Reads `key` if it is a fixed key; `false` when it names a table.
    fn fixed<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
    /// Keeps a named table.
    fn insert(&mut self, name: String, entry: Self::Entry);
}

struct NamedTablesVisitor<T>(PhantomData<T>);

impl<'de, T> serde::de::Visitor<'de> for NamedTablesVisitor<T>
where
    T: NamedTables,
    T::Entry: Deserialize<'de>,
{
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        while let Some(key) = map.next_key::<String>()? {
            if !out.fixed(&key, &mut map)? {
                let entry: T::Entry = map.next_value()?;
                out.insert(key, entry);
            }
        }
        Ok(out)
    }
}

/// `[executors.NAME]`: one coding agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorConfig {
    /// `command` (an agent CLI run as a process) or `llm` (bosun's built-in agent).
    #[serde(rename = "type")]
    pub kind: ExecutorKind,
    /// A known agent CLI whose flags bosun knows: claude, codex, aider, gemini, cursor, opencode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// The agent's argv (replaces the preset's). Placeholders: {prompt}, {prompt_file},
    /// {worktree}, {task_id}, {run_id}.
    pub command: Vec<String>,
    /// Extra environment variables for the agent.
    pub env: BTreeMap<String, String>,
    /// Longest this agent may work on one run (default: `[orchestrator] run_timeout`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// `type = "llm"`: the `[llm.routes.NAME]` the agent thinks with.
    pub route: String,
    /// `type = "llm"`: command lines the agent's `run` tool may start (a command is allowed
    /// when it equals one of these or starts with one followed by a space).
    pub allowed_commands: Vec<String>,
    /// `type = "llm"`: most model turns per run.
    pub max_turns: u32,
    /// `type = "llm"`: most tokens (in + out) per run.
    pub max_tokens: u64,
    /// `type = "llm"`: longest one `run` command may take.
    pub command_timeout: String,
    /// `type = "llm"`: most bytes of a tool's output shown to the model.
    pub max_tool_output: usize,
    /// Paths this agent may write beneath besides `[sandbox] writable` (its own state, e.g.
    /// `~/.claude`); a preset adds its CLI's.
    pub writable: Vec<String>,
    /// The model a preset's CLI is told to use (`--model`, which every preset's CLI takes);
    /// empty: the CLI's own default.
    pub model: String,
    /// Dollars per million tokens, for an agent CLI that reports tokens but no cost (codex,
    /// gemini): its cost is worked out from its tokens, so budgets count it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
}

/// `[executors.NAME] prices`: dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// Per million input tokens.
    pub input: f64,
    /// Per million output tokens.
    pub output: f64,
}

impl Prices {
    /// `usage` with its cost worked out from its tokens when the agent reported none (or
    /// nothing but zero).
    pub fn priced(self, usage: crate::model::Usage) -> crate::model::Usage {
        if usage.cost_usd > 0.0 && !usage.cost_unknown {
            return usage;
        }
        crate::model::Usage {
            cost_usd: (usage.input_tokens as f64 * self.input
                + usage.output_tokens as f64 * self.output)
                / 1_000_000.0,
            cost_unknown: false,
            ..usage
        }
    }
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            kind: ExecutorKind::Command,
            preset: None,
            command: Vec::new(),
            env: BTreeMap::new(),
            timeout: None,
            route: String::new(),
            allowed_commands: Vec::new(),
            max_turns: 40,
            max_tokens: 400_000,
            command_timeout: "5m".into(),
            max_tool_output: 16 * 1024,
            writable: Vec::new(),
            model: String::new(),
            prices: None,
        }
    }
}

/// What kind of agent an executor is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// An agent CLI (`command` or `preset`).
    #[default]
    Command,
    /// bosun's built-in agent over `[llm]`.
    Llm,
}

impl ExecutorConfig {
    /// `command_timeout` as a duration (validated at load).
    pub fn command_timeout(&self) -> std::time::Duration {
        duration(&self.command_timeout).unwrap_or(std::time::Duration::from_secs(300))
    }

    /// The argv to run: `command`, else the preset's (with `--model` when `model` is set).
    pub fn argv(&self) -> Vec<String> {
        if !self.command.is_empty() {
            return self.command.clone();
        }
        let mut argv = self.preset.map(Preset::argv).unwrap_or_default();
        if !argv.is_empty() && !self.model.trim().is_empty() {
            argv.extend(["--model".to_string(), self.model.trim().to_string()]);
        }
        argv
    }

    /// The environment the agent gets on top of the scrubbed one: its preset's, then `env`.
    pub fn all_env(&self) -> Vec<(String, String)> {
        let preset = self.preset.map(Preset::env).unwrap_or_default();
        preset.into_iter().chain(self.env.clone()).collect()
    }

    /// Where the sandbox lets the agent write besides `[sandbox] writable`: its preset's state
    /// directories, then `writable`.
    pub fn all_writable(&self) -> Vec<String> {
        let preset = self.preset.map(Preset::writable).unwrap_or_default();
        preset.into_iter().chain(self.writable.clone()).collect()
    }
}

/// `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Level written to `.bosun/logs/bosun.YYYY-MM-DD.log` (error, warn, info, debug, trace).
    pub file_level: String,
    /// How many daily log files to keep.
    pub max_files: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            file_level: "info".to_string(),
            max_files: 14,
        }
    }
}

/// `config.example.toml`: every option, commented, at its default.
pub const EXAMPLE: &str = include_str!("../../../../config.example.toml");

/// The example with every setting commented out, for `bosun init`: the file documents all
/// options without pinning today's defaults. `task_files`, when given, is set for real.
pub fn commented_example(task_files: Option<&[PathBuf]>) -> String {
    let mut out = String::with_capacity(EXAMPLE.len() + 512);
    for line in EXAMPLE.lines() {
        let trimmed = line.trim_start();
        let is_setting =
            !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with('[');
        if is_setting
            && trimmed.starts_with("task_files")
            && let Some(files) = task_files
        {
            let list: Vec<String> = files
                .iter()
                .map(|f| format!("{:?}", f.display().to_string()))
                .collect();
            out.push_str(&format!("task_files = [{}]\n", list.join(", ")));
            continue;
        }
        if is_setting {
            out.push_str("# ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_states_exactly_the_defaults() {
        let parsed = parse_str(EXAMPLE, std::path::Path::new("config.example.toml")).unwrap();
        assert_eq!(parsed, Config::default());
    }

    /// Every key of the default configuration is documented in the example.
    #[test]
    fn example_mentions_every_option() {
        fn walk(prefix: &str, table: &toml::Table, keys: &mut Vec<String>) {
            for (k, v) in table {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match v {
                    toml::Value::Table(t) => walk(&path, t, keys),
                    _ => keys.push(path),
                }
            }
        }
        let mut config = Config::default();
        config
            .executors
            .agents
            .insert("x".into(), ExecutorConfig::default());
        config
            .llm
            .providers
            .insert("x".into(), ProviderConfig::default());
        config.llm.routes.insert("x".into(), RouteConfig::default());
        let table = toml::Table::try_from(&config).unwrap();
        let mut keys = Vec::new();
        walk("", &table, &mut keys);
        assert!(keys.len() >= 10, "{keys:?}");
        for key in keys {
            let leaf = key.rsplit('.').next().unwrap();
            let section = key
                .rsplit_once('.')
                .map(|(s, _)| s.replace(".x", ".NAME"))
                .unwrap_or_default();
            assert!(
                EXAMPLE.contains(&format!("[{section}]")),
                "section of {key} is documented"
            );
            assert!(
                EXAMPLE.contains(&format!("{leaf} = ")),
                "{key} is documented"
            );
        }
    }

    #[test]
    fn commented_example_parses_to_defaults_or_to_the_detected_files() {
        let text = commented_example(None);
        assert_eq!(
            parse_str(&text, std::path::Path::new("bosun.toml")).unwrap(),
            Config::default()
        );
        let files = [PathBuf::from("docs/TASKS.md")];
        let text = commented_example(Some(&files));
        let parsed = parse_str(&text, std::path::Path::new("bosun.toml")).unwrap();
        assert_eq!(parsed.project.task_files, files);
        assert_eq!(parsed.intake, IntakeConfig::default());
    }
}
