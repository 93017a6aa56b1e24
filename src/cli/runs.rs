//! `bosun runs` and `bosun show RUN`: the run history from the store.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use super::Context;
use super::table::{output_width, truncate};
use crate::model::{Run, RunStatus};
use crate::orchestrator::{Options, Orchestrator};
use crate::store::{RunEvent, Store};

/// Arguments of `bosun runs`.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// Only runs with this status (queued, running, awaiting_approval, merged, rejected, failed, …).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<RunStatus>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `bosun show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Run id, or a unique prefix (or suffix) of one.
    pub run: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Print the diff and history exactly as stored, control characters included (by default
    /// they are shown as text, e.g. ESC as `^[`, so an agent's escape sequences cannot hide
    /// lines or reach the terminal).
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,
    /// List every change by definition (symbols added, removed, modified; formatting-only
    /// hunks) instead of counts and the first ones.
    #[arg(long, conflicts_with = "json")]
    pub definitions: bool,
}

/// A run as front ends print it.
#[derive(Debug, Serialize)]
pub struct RunView {
    id: String,
    task_id: String,
    task_title: String,
    attempt: u32,
    status: RunStatus,
    executor: String,
    branch: String,
    target: String,
    base: Option<String>,
    head: Option<String>,
    score: Option<f64>,
    policy: Option<String>,
    gates: Vec<crate::model::GateResult>,
    /// Every annotation: in `bosun show --json` only (a large change has tens of thousands).
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<Vec<crate::model::Annotation>>,
    /// How many annotations of each kind, and of each severity: what a list shows.
    annotation_counts: crate::model::AnnotationCounts,
    created_at: Option<String>,
    started_at: Option<String>,
    finished_at: Option<String>,
    files_changed: Option<usize>,
    insertions: Option<usize>,
    deletions: Option<usize>,
    input_tokens: u64,
    output_tokens: u64,
    /// null when the agent reported no cost (and no `prices` are set): unknown, not free.
    cost_usd: Option<f64>,
    feedback: Option<String>,
    decision: Option<crate::model::Decision>,
    /// The pull request an approval was delivered as (`delivered`, then `merged` or
    /// `rejected` when the forge says so).
    delivery: Option<crate::model::PullRequest>,
    error: Option<String>,
    /// Why a failed run stopped, when it is a category (`budget`).
    reason: Option<String>,
    /// Best-of: the other candidate for the same task.
    rival: Option<String>,
    /// How the executor was chosen: candidates, their posteriors and sampled probabilities.
    routing: Option<crate::model::RoutingChoice>,
    /// Ids of the lessons the prompt included (`bosun memory`).
    lessons: Vec<String>,
    /// Ids of the accepted examples the prompt included.
    examples: Vec<String>,
}

impl RunView {
    /// The view `bosun show --json` prints: with every annotation.
    fn whole(run: &Run, annotations: &[crate::model::Annotation]) -> Self {
        let mut view = Self::from(run);
        view.annotations = Some(annotations.to_vec());
        view
    }
}

/// RFC 3339 (UTC, seconds) for Unix milliseconds.
pub fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

impl From<&Run> for RunView {
    fn from(r: &Run) -> Self {
        Self {
            id: r.id.0.clone(),
            task_id: r.task_id.0.clone(),
            task_title: r.task_title.clone(),
            attempt: r.attempt,
            status: r.status,
            executor: r.executor.clone(),
            branch: r.branch.clone(),
            target: r.target.clone(),
            base: r.base.clone(),
            head: r.head.clone(),
            score: r.score,
            policy: r.policy.clone(),
            gates: r.gates.clone(),
            annotations: None,
            annotation_counts: r.annotation_counts.clone(),
            created_at: Some(rfc3339(r.created_ms)),
            started_at: r.started_ms.map(rfc3339),
            finished_at: r.finished_ms.map(rfc3339),
            reason: r.reason.clone(),
            rival: r.rival.as_ref().map(|id| id.0.clone()),
            files_changed: r.diffstat.map(|d| d.0),
            insertions: r.diffstat.map(|d| d.1),
            deletions: r.diffstat.map(|d| d.2),
            input_tokens: r.usage.input_tokens,
            output_tokens: r.usage.output_tokens,
            cost_usd: (!r.usage.cost_unknown).then_some(r.usage.cost_usd),
            routing: r.routing.clone(),
            lessons: r.lessons.clone(),
            examples: r.examples.clone(),
            // Text an agent or a gate wrote: credentials in it are masked.
            feedback: r
                .feedback
                .as_deref()
                .map(crate::semantic::rules::redact_text),
            decision: r.decision.clone(),
            delivery: r.delivery.clone(),
            error: r.error.as_deref().map(crate::semantic::rules::redact_text),
        }
    }
}

/// The store, after crash recovery: holding the lock means no other bosun is running, so a
/// run still marked active was cut short and is marked interrupted (and queued again) first.
pub(super) fn open_store(ctx: &Context) -> anyhow::Result<Arc<Store>> {
    let orchestrator =
        Orchestrator::open(ctx.project.clone(), ctx.config.clone(), Options::default())?;
    // This process holds the repository now: a socket file left is a dead bosun's.
    crate::control::remove_stale(&ctx.project.state_dir())?;
    Ok(orchestrator.store())
}

/// `+12 −3 in 2 files`, or empty.
pub fn change_summary(run: &Run) -> String {
    match run.diffstat {
        Some((files, ins, del)) => {
            let s = if files == 1 { "" } else { "s" };
            format!("+{ins} −{del} in {files} file{s}")
        }
        None => String::new(),
    }
}

/// Every run, newest first (from the running bosun when one holds the repository), or only
/// those with `status`.
pub(super) fn load_runs(ctx: &Context, status: Option<RunStatus>) -> anyhow::Result<Vec<Run>> {
    let all = match open_store(ctx) {
        Ok(store) => store.runs()?,
        Err(e) => forwarded(ctx, e, crate::api::Request::Runs)?.runs()?,
    };
    Ok(all
        .into_iter()
        .filter(|r| status.is_none_or(|s| r.status == s))
        .collect())
}

/// One run as `bosun show` shows it: its history and diff with credentials masked.
pub(super) struct Shown {
    pub run: Run,
    /// The run's annotations.
    pub annotations: Vec<crate::model::Annotation>,
    pub diff: Option<String>,
    pub events: Vec<RunEvent>,
    pub rival: Option<Run>,
}

/// Reads the run `prefix` names (from the running bosun when one holds the repository).
pub(super) fn load_show(ctx: &Context, prefix: &str) -> anyhow::Result<Shown> {
    let (run, annotations, stored_diff, stored_events, rival) = match open_store(ctx) {
        Ok(store) => {
            let run = store.find_run(prefix)?;
            let annotations = store.annotations(&run.id)?;
            let diff = store.diff(&run.id)?;
            let events = store.events(&run.id)?;
            let rival = run
                .rival
                .as_ref()
                .and_then(|id| store.run(id).ok().flatten());
            (run, annotations, diff, events, rival)
        }
        Err(e) => {
            let show = crate::api::Request::Show {
                run: prefix.to_string(),
            };
            let mut answer = forwarded(ctx, e, show)?;
            let run = answer.take_run()?;
            let rival = answer.rival.map(|r| *r);
            let annotations = answer.annotations.unwrap_or_default();
            let events = answer.events.unwrap_or_default();
            (run, annotations, answer.diff, events, rival)
        }
    };
    // Credentials an agent wrote are masked wherever the change is shown: by value, so a
    // private key's every line and a value repeated elsewhere (in the history) are masked too.
    let mut redactor = crate::semantic::rules::Redactor::new();
    let diff = stored_diff.map(|d| redactor.text(&d));
    let events = stored_events
        .into_iter()
        .map(|mut e| {
            e.text = redactor.text(&e.text);
            e
        })
        .collect();
    Ok(Shown {
        run,
        annotations,
        diff,
        events,
        rival,
    })
}

/// The run's log file.
pub(super) fn log_path(ctx: &Context, run: &Run) -> std::path::PathBuf {
    crate::project::run_log_path(&ctx.project.state_dir(), &run.id)
}

/// What `bosun show --json` prints for `shown`.
pub(super) fn show_view<'a>(ctx: &Context, shown: &'a Shown) -> ShowView<'a> {
    ShowView {
        run: RunView::whole(&shown.run, &shown.annotations),
        diff: shown.diff.as_deref(),
        log_path: log_path(ctx, &shown.run).display().to_string(),
        events: &shown.events,
    }
}

/// What `bosun runs --json` prints for `runs`.
pub(super) fn runs_view(runs: &[Run]) -> Vec<RunView> {
    runs.iter().map(RunView::from).collect()
}

/// Runs `bosun runs`.
pub fn run_list(ctx: &Context, args: &RunsArgs) -> anyhow::Result<ExitCode> {
    let runs = load_runs(ctx, args.status)?;
    if args.json {
        super::json::print(&runs_view(&runs))?;
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        println!("No runs yet. Start some with `bosun run --headless`.");
        return Ok(ExitCode::SUCCESS);
    }
    let width = output_width().unwrap_or(usize::MAX);
    println!(
        "{:<26}  {:<8}  {:>3}  {:<17}  {:<10}  {:<18}  TASK",
        "RUN", "TASK ID", "ATT", "STATUS", "EXECUTOR", "CHANGE"
    );
    for r in &runs {
        let line = format!(
            "{:<26}  {:<8}  {:>3}  {:<17}  {:<10}  {:<18}  {}",
            r.id.0,
            r.task_id.0,
            r.attempt,
            match (&r.reason, &r.delivery) {
                (Some(reason), _) => format!("{} ({reason})", r.status),
                (None, Some(pr)) if r.status == RunStatus::Delivered => {
                    format!("{} (PR #{})", r.status, pr.number)
                }
                (None, _) => r.status.to_string(),
            },
            truncate(&r.executor, 10),
            change_summary(r),
            r.task_title
        );
        println!("{}", truncate(&line, width));
    }
    let awaiting = runs
        .iter()
        .filter(|r| r.status == RunStatus::AwaitingApproval)
        .count();
    if awaiting > 0 {
        println!(
            "\n{awaiting} awaiting approval: `bosun show RUN`, then `bosun approve RUN` or `bosun reject RUN --reason \"…\"`."
        );
    }
    // Delivered runs wait on their pull requests: where the reviewers are.
    let delivered: Vec<&crate::model::PullRequest> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Delivered)
        .filter_map(|r| r.delivery.as_ref())
        .collect();
    if !delivered.is_empty() {
        println!("\n{} delivered, waiting on the forge:", delivered.len());
        for pr in delivered {
            println!("  PR #{} {} ({})", pr.number, pr.url, pr.state);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `bosun show --json` prints.
#[derive(Serialize)]
pub(super) struct ShowView<'a> {
    #[serde(flatten)]
    run: RunView,
    diff: Option<&'a str>,
    log_path: String,
    events: &'a [RunEvent],
}

/// When another bosun holds the repository (`error` says the store is locked), asks it through
/// its control socket instead; any other error is returned as it is.
pub(super) async fn forward(
    ctx: &Context,
    error: anyhow::Error,
    request: &crate::api::Request,
) -> anyhow::Result<crate::api::Response> {
    let locked = matches!(
        error.downcast_ref::<crate::orchestrator::OrchestratorError>(),
        Some(crate::orchestrator::OrchestratorError::Store(
            crate::store::StoreError::Locked { .. }
        ))
    );
    if !locked {
        return Err(error);
    }
    match crate::api::exchange(&ctx.project.state_dir(), request).await {
        Ok(response) => Ok(response),
        Err(crate::api::ControlError::Unreachable(_, why)) => Err(anyhow::anyhow!(
            "{error} (its control socket does not answer: {why})"
        )),
        Err(e) => Err(e.into()),
    }
}

/// [`forward`], for commands that are not async.
pub(super) fn forwarded(
    ctx: &Context,
    error: anyhow::Error,
    request: crate::api::Request,
) -> anyhow::Result<crate::api::Response> {
    super::run::runtime()?.block_on(forward(ctx, error, &request))
}

/// `bosun show` lists this many changes by definition unless asked for all (a large change
/// has tens of thousands, which pushed its diff out of reach of a pager's first screens).
const DEFINITIONS_SHOWN: usize = 20;

/// Runs `bosun show RUN`.
pub fn show(ctx: &Context, args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let shown = load_show(ctx, &args.run)?;
    if args.json {
        super::json::print(&show_view(ctx, &shown))?;
        return Ok(ExitCode::SUCCESS);
    }
    let Shown {
        run,
        annotations,
        diff,
        events,
        rival,
    } = shown;
    let log_path = log_path(ctx, &run);
    // One buffer for the whole text: a large change's diff is hundreds of thousands of lines
    // (stdout alone writes a line at a time).
    use std::io::Write as _;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    say!(w, "run       {}", run.id);
    say!(w, "task      {} {}", run.task_id, run.task_title);
    say!(w, "status    {}", run.status);
    say!(
        w,
        "attempt   {} · executor {}",
        run.attempt,
        if run.executor.is_empty() {
            "-"
        } else {
            &run.executor
        }
    );
    if let Some(line) = routing_line(&run) {
        say!(w, "routing   {line}");
    }
    if !run.lessons.is_empty() || !run.examples.is_empty() {
        say!(
            w,
            "memory    prompt had {} lesson(s), {} accepted example(s)",
            run.lessons.len(),
            run.examples.len()
        );
    }
    say!(w, "branch    {} → {}", run.branch, run.target);
    if let (Some(b), Some(h)) = (&run.base, &run.head) {
        say!(w, "commits   {}..{}", short(b), short(h));
    }
    if run.diffstat.is_some() {
        say!(w, "change    {}", change_summary(&run));
    }
    if run.usage.is_known() {
        say!(
            w,
            "usage     {} in / {} out tokens · cost {}",
            run.usage.input_tokens,
            run.usage.output_tokens,
            run.usage.cost_text()
        );
    }
    if let Some(score) = run.score {
        say!(w, "score     {score:.2}");
    }
    for g in &run.gates {
        say!(
            w,
            "gate      {:<10} {:<4} {:.2}  {}",
            g.name,
            g.verdict,
            g.score,
            g.summary
        );
    }
    if let Some(p) = &run.policy {
        say!(w, "policy    {p}");
    }
    let card = crate::model::risk_card(&annotations);
    if !card.is_empty() {
        say!(w, "\nRisk card:");
        for line in card {
            say!(w, "  {line}");
        }
    }
    let structure: Vec<&crate::model::Annotation> = annotations
        .iter()
        .filter(|a| a.severity == crate::model::Severity::Info)
        .collect();
    if !structure.is_empty() {
        say!(w, "\nChanges by definition:");
        let shown = if args.definitions {
            structure.len()
        } else {
            DEFINITIONS_SHOWN
        };
        for a in structure.iter().take(shown) {
            say!(w, "  {:<16} {:<28} {}", a.kind, a.location(), a.message);
        }
        if structure.len() > shown {
            let counts: Vec<String> = crate::model::AnnotationCounts::of(structure.iter().copied())
                .by_kind
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            say!(
                w,
                "  … {} more ({} in all: {}; every one: bosun show {} --definitions)",
                structure.len() - shown,
                structure.len(),
                counts.join(", "),
                run.id.short()
            );
        }
    }
    if let Some(f) = &run.feedback {
        say!(w, "feedback  {f}");
    }
    if let Some(d) = &run.decision {
        say!(
            w,
            "decision  {} by {} at {}{}",
            d.verdict,
            d.by,
            rfc3339(d.at_ms),
            if d.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", d.reason)
            }
        );
    }
    if let Some(pr) = &run.delivery {
        say!(
            w,
            "delivered pull request #{} {} ({}; branch {} at {})",
            pr.number,
            pr.url,
            pr.state,
            pr.branch,
            &pr.commit[..pr.commit.len().min(10)]
        );
    }
    if let Some(e) = &run.error {
        match &run.reason {
            Some(reason) => say!(w, "error     [{reason}] {e}"),
            None => say!(w, "error     {e}"),
        }
    }
    if let Some(rival) = rival {
        let score = rival.score.map_or("-".to_string(), |s| format!("{s:.2}"));
        say!(
            w,
            "rival     {} ({}, {}, score {score}{})",
            rival.id,
            rival.executor,
            rival.status,
            if rival.diffstat.is_some() {
                format!(", {}", change_summary(&rival))
            } else {
                String::new()
            }
        );
    }
    let transcript = ctx
        .project
        .state_dir()
        .join("runs")
        .join(&run.id.0)
        .join("transcript.jsonl");
    if transcript.exists() {
        say!(
            w,
            "transcript {}",
            ctx.project.display_path(&transcript).display()
        );
    }
    say!(
        w,
        "log       {}",
        ctx.project.display_path(&log_path).display()
    );
    if !events.is_empty() {
        say!(w, "\nHistory:");
        for e in &events {
            let line = format!("  {}  {:<8}  {}", rfc3339(e.at_ms), e.kind, e.text);
            if args.raw {
                let _ = writeln!(w, "{line}");
            } else {
                say!(w, "{line}");
            }
        }
    }
    match diff {
        Some(d) if !d.is_empty() && args.raw => {
            let _ = writeln!(w, "\n{d}");
        }
        Some(d) if !d.is_empty() => say!(w, "\n{d}"),
        _ => say!(w, "\n(no diff)"),
    }
    // A reader that went away (`| head`) is not an error of bosun's.
    let _ = w.flush();
    Ok(ExitCode::SUCCESS)
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

/// How the run's executor was chosen, for `bosun show`: "sampled: codex 0.71 (Beta 3,1),
/// claude 0.42 (Beta 1,2)".
fn routing_line(run: &Run) -> Option<String> {
    use crate::model::ChosenBy;
    let r = run.routing.as_ref()?;
    Some(match r.by {
        ChosenBy::OnlyCandidate => format!(
            "{} is the only executor routed to {} tasks",
            r.chosen, r.task_type
        ),
        ChosenBy::FirstRouted => format!("{} (first routed; process memory is off)", r.chosen),
        ChosenBy::Sampling => {
            let draws: Vec<String> = r
                .candidates
                .iter()
                .map(|c| {
                    let sample = c.sample.map_or("-".to_string(), |s| format!("{s:.2}"));
                    format!("{} {sample} (Beta {},{})", c.executor, c.alpha, c.beta)
                })
                .collect();
            format!("sampled: {}", draws.join(", "))
        }
    })
}
