//! One run's work, off the orchestrator's loop: make the worktree, run the agent, commit what
//! it left, diff. It reports milestones as `Update`s; the orchestrator owns the run's state,
//! persists each change and publishes it.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::executors::events::AgentEvent;
use crate::executors::{
    self, AgentOutcome, AgentRun, ExecutorError, ExitKind, OutputFormat, OutputLine,
};
use crate::gates::{self, GateContext, GateProgress};
use crate::git;
use crate::model::{Annotation, GateResult, RunId, Usage};
use bosun_api::Event;

/// Everything a worker needs, owned (it runs on its own task).
pub(crate) struct Job {
    pub run_id: RunId,
    pub task_id: String,
    /// The executor's name in `[executors]`.
    pub executor: String,
    pub attempt: u32,
    pub repo_root: PathBuf,
    pub worktree: PathBuf,
    pub branch: String,
    pub target: String,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub format: OutputFormat,
    pub timeout: Duration,
    pub log_path: PathBuf,
    pub prompt_path: PathBuf,
    /// Where gates keep results across runs (`.bosun/cache/gates`).
    pub gate_cache: PathBuf,
    pub max_log_bytes: u64,
    pub prompt: PromptSource,
    pub cancel: CancellationToken,
    pub task: crate::model::Task,
    /// `[project] commit_message`: the template of the run's commit message.
    pub commit_message: String,
    /// The agent's own bookkeeping files (git patterns), kept out of the change.
    pub scratch: Vec<String>,
    /// `[executors.NAME] prices`: the cost of a CLI that reports only tokens.
    pub prices: Option<crate::config::Prices>,
    pub gates: crate::config::GatesConfig,
    pub dod: crate::config::DodConfig,
    pub hooks: crate::config::HooksConfig,
    /// What the run's model calls (and an external agent's reported usage) are charged to.
    pub meter: crate::llm::Meter,
    /// What went wrong on the previous attempt, for the prompt.
    pub feedback: Option<String>,
    /// The model router, when `[llm]` has routes.
    pub chat: Option<std::sync::Arc<dyn crate::llm::Chat>>,
    /// `[llm] analyze_errors`: the route that summarizes the feedback.
    pub analyze_route: Option<String>,
    /// Set for bosun's built-in agent (`type = "llm"`), which runs in-process instead of `argv`.
    pub builtin: Option<executors::llm_agent::AgentSpec>,
    /// Where the built-in agent's transcript goes.
    pub transcript_path: PathBuf,
    /// The sandbox the agent and hooks run in.
    pub sandbox: executors::sandbox::Sandbox,
    /// The sandbox gate commands run in.
    pub gate_sandbox: executors::sandbox::Sandbox,
    /// `[store] min_free_mb`: the run log stops taking output below it.
    pub min_free_mb: u64,
    /// `[executors] quiet_notice`: silence after which the progress says so (None: never).
    pub quiet_notice: Option<Duration>,
}

/// How to make the prompt once the worktree exists (references are read from it), given the
/// feedback on the previous attempt as it will be shown.
pub(crate) type PromptSource =
    Box<dyn FnOnce(&std::path::Path, Option<&str>) -> String + Send + Sync>;

/// A milestone of a run, sent to the orchestrator.
#[derive(Debug)]
pub(crate) enum Update {
    /// The worktree exists.
    Prepared {
        run_id: RunId,
        worktree: PathBuf,
        base: String,
    },
    /// A process group started: the agent's, a hook's or a gate command's.
    Started { run_id: RunId, pgid: i32 },
    /// The agent said what it is doing.
    Progress { run_id: RunId, text: String },
    /// The agent finished; its change is being committed and diffed.
    Gating { run_id: RunId, usage: Option<Usage> },
    /// A gate started.
    GateStarted { run_id: RunId, gate: String },
    /// A gate finished.
    GateFinished { run_id: RunId, result: GateResult },
    /// A note for the run's history (e.g. a failing post hook).
    Note { run_id: RunId, text: String },
    /// The agent's closing message (its own account of what it did).
    Final { run_id: RunId, text: String },
    /// The semantic analysis of the change is done.
    Annotated {
        run_id: RunId,
        annotations: Vec<Annotation>,
    },
}

/// How a run's work ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A change to review, with its gate results.
    Change {
        head: String,
        diff: git::DiffSummary,
        usage: Option<Usage>,
        gates: Vec<GateResult>,
    },
    /// Nothing to approve, and why; `change` is set when a gate failed on a real change.
    Failed {
        error: String,
        usage: Option<Usage>,
        change: Option<(String, git::DiffSummary, Vec<GateResult>)>,
        /// `Run::reason` (e.g. `budget`).
        reason: Option<&'static str>,
    },
    /// Stopped on request.
    Cancelled,
    /// The kept hunks of a partial approval were checked ([`recheck`]): the required gates'
    /// results, or why they could not run.
    Checked(Result<Vec<GateResult>, String>),
}

/// Checking the kept hunks of a partial approval: the run's required gates on the commit that
/// keeps only them, before it may merge.
pub(crate) struct Recheck {
    pub run_id: RunId,
    pub task: crate::model::Task,
    pub repo_root: PathBuf,
    /// The run's base commit.
    pub base: String,
    /// The commit with the kept hunks.
    pub commit: String,
    /// Where the commit is exported for the gate commands (kept between checks, so build
    /// output is reused).
    pub dir: PathBuf,
    /// Where base-relative gates find the base commit (as for the run's own gates).
    pub base_dir: PathBuf,
    pub gate_cache: PathBuf,
    pub gates: crate::config::GatesConfig,
    pub dod: crate::config::DodConfig,
    pub env: Vec<(String, String)>,
    pub log_path: PathBuf,
    pub max_log_bytes: u64,
    pub sandbox: executors::sandbox::Sandbox,
    pub min_free_mb: u64,
    pub chat: Option<std::sync::Arc<dyn crate::llm::Chat>>,
    pub meter: crate::llm::Meter,
    pub cancel: CancellationToken,
}

/// Runs the required gates of `job`'s task on its commit (exported to `job.dir`), reporting
/// each gate as the run's progress.
pub(crate) async fn recheck(
    job: Recheck,
    updates: mpsc::UnboundedSender<Update>,
    events: super::Bus,
) -> Outcome {
    let id = job.run_id.clone();
    log_note(
        &job.log_path,
        &format!(
            "checking the kept hunks of a partial approval (commit {}) with the required gates",
            &job.commit[..job.commit.len().min(10)]
        ),
    )
    .await;
    let (repo, commit, dir, base) = (
        job.repo_root.clone(),
        job.commit.clone(),
        job.dir.clone(),
        job.base.clone(),
    );
    let exported = tokio::task::spawn_blocking(move || {
        git::export_tree(&repo, &commit, &dir)?;
        git::diff(&repo, &base, &commit)
    })
    .await;
    let diff = match exported {
        Ok(Ok(diff)) => diff,
        Ok(Err(e)) => return Outcome::Checked(Err(format!("cannot export the kept hunks: {e}"))),
        Err(e) => return Outcome::Checked(Err(format!("the export stopped: {e}"))),
    };
    let annotations = analyze(
        &id,
        crate::semantic::GitSources::new(
            job.repo_root.clone(),
            job.base.clone(),
            job.commit.clone(),
        ),
        &job.task,
        job.gates.semantic.large_change_lines,
        &job.commit,
    )
    .await;
    let mut pipeline = match gates::for_task(&job.gates, &job.dod, job.task.task_type) {
        Ok(p) => p,
        Err(e) => return Outcome::Checked(Err(format!("cannot set up the gates: {e}"))),
    };
    // The required gates, and the `test` gate when `tests_added` (which reads it) is one.
    let reads_tests = pipeline
        .iter()
        .any(|g| g.required() && g.name() == "tests_added");
    pipeline.retain(|g| g.required() || (reads_tests && g.name() == "test"));
    let record_group = group_recorder(&updates, &id);
    let env: Vec<(String, String)> = job
        .env
        .iter()
        .cloned()
        .chain([("BOSUN_WORKTREE".to_string(), job.dir.display().to_string())])
        .collect();
    let cx = GateContext {
        task: &job.task,
        worktree: &job.dir,
        repo_root: &job.repo_root,
        base: &job.base,
        cache_dir: &job.gate_cache,
        base_dir: &job.base_dir,
        diff: &diff,
        env: &env,
        log_path: &job.log_path,
        max_log_bytes: job.max_log_bytes,
        cancel: &job.cancel,
        earlier: &[],
        annotations: &annotations,
        chat: job.chat.as_deref(),
        meter: Some(&job.meter),
        on_start: &record_group,
        sandbox: &job.sandbox,
        min_free_mb: job.min_free_mb,
    };
    let results = gates::run_pipeline(&pipeline, &cx, job.gates.fail_fast, |p| {
        if let GateProgress::Started(gate) = p {
            events.send(Event::Progress {
                run_id: id.clone(),
                text: format!("checking the kept hunks: {gate}…"),
            });
        }
    })
    .await;
    if job.cancel.is_cancelled() {
        return Outcome::Checked(Err("the check was stopped".into()));
    }
    Outcome::Checked(Ok(results))
}

/// Does the run's work, reporting milestones on `updates` and agent output on `events`.
pub(crate) async fn work(
    mut job: Job,
    updates: mpsc::UnboundedSender<Update>,
    events: super::Bus,
) -> Outcome {
    let id = job.run_id.clone();
    let worktree = match prepare(&job, &updates).await {
        Ok(w) => w,
        Err(outcome) => return outcome,
    };
    let make_prompt = std::mem::replace(&mut job.prompt, Box::new(|_, _| String::new()));
    let prompt = match write_prompt(&job, make_prompt, &worktree.path, &updates).await {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let run = agent_run(&job, &worktree.path, &prompt);
    // The run's log says first what confines it (and loudly when nothing does).
    let line = if job.sandbox.degraded() {
        format!("WARNING: no sandbox: {}", job.sandbox.describe())
    } else {
        format!("sandbox: {}", job.sandbox.describe())
    };
    log_note(&job.log_path, &line).await;

    // Hooks and gates run in process groups of their own, recorded with the run like the
    // agent's, so crash recovery ends whatever is running when bosun dies.
    let record_group = group_recorder(&updates, &id);
    if let Err(e) = hook(
        &job.cancel,
        "pre_run",
        &job.hooks.pre_run,
        &run,
        &record_group,
    )
    .await
    {
        return failed(e, None);
    }

    let usage = match drive_agent(&job, &run, &worktree.path, &prompt, &updates, &events).await {
        Ok(usage) => usage,
        Err(outcome) => return outcome,
    };
    if let Err(e) = hook(
        &job.cancel,
        "post_run",
        &job.hooks.post_run,
        &run,
        &record_group,
    )
    .await
    {
        let _ = updates.send(Update::Note {
            run_id: id.clone(),
            text: e,
        });
    }
    let _ = updates.send(Update::Gating {
        run_id: id.clone(),
        usage,
    });
    commit_and_gate(&job, &run, &worktree, usage, &updates, &record_group).await
}

/// Makes the run's checkout and tells the orchestrator where it is.
async fn prepare(
    job: &Job,
    updates: &mpsc::UnboundedSender<Update>,
) -> Result<git::Worktree, Outcome> {
    let id = job.run_id.clone();
    let (repo, wt, branch, target, ignored) = (
        job.repo_root.clone(),
        job.worktree.clone(),
        job.branch.clone(),
        job.target.clone(),
        job.scratch.clone(),
    );
    let created = tokio::task::spawn_blocking(move || {
        git::create_worktree(&repo, &wt, &branch, &target, &ignored)
    })
    .await;
    let worktree = match created {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => return Err(failed(format!("cannot make the run's worktree: {e}"), None)),
        Err(e) => return Err(failed(format!("worktree task failed: {e}"), None)),
    };
    let _ = updates.send(Update::Prepared {
        run_id: id,
        worktree: worktree.path.clone(),
        base: worktree.base.clone(),
    });

    Ok(worktree)
}

/// The prompt, with the previous attempt's feedback (analysed by a model when `[llm]
/// analyze_errors` asks), written to the run's prompt file.
async fn write_prompt(
    job: &Job,
    make_prompt: PromptSource,
    worktree: &std::path::Path,
    updates: &mpsc::UnboundedSender<Update>,
) -> Result<String, Outcome> {
    let feedback = match (&job.feedback, &job.analyze_route, &job.chat) {
        (Some(report), Some(route), Some(chat)) => {
            match super::prompt::analyze_failures(chat.as_ref(), route, &job.meter, report).await {
                Ok(analysis) => Some(analysis),
                Err(e) => {
                    let _ = updates.send(Update::Note {
                        run_id: job.run_id.clone(),
                        text: format!("the failure analysis was skipped: {e}"),
                    });
                    Some(report.clone())
                }
            }
        }
        _ => job.feedback.clone(),
    };
    let prompt = make_prompt(worktree, feedback.as_deref());
    if let Some(dir) = job.prompt_path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return Err(failed(
            format!(
                "cannot write the prompt file {}: {e}",
                job.prompt_path.display()
            ),
            None,
        ));
    }
    if let Err(e) = std::fs::write(&job.prompt_path, &prompt) {
        return Err(failed(
            format!(
                "cannot write the prompt file {}: {e}",
                job.prompt_path.display()
            ),
            None,
        ));
    }
    Ok(prompt)
}

/// How the agent is started: its command line with the placeholders filled, its
/// environment, its checkout, limits and sandbox.
fn agent_run(job: &Job, worktree: &std::path::Path, prompt: &str) -> AgentRun {
    let vars = executors::presets::Placeholders {
        prompt: prompt.to_string(),
        prompt_file: job.prompt_path.clone(),
        worktree: worktree.to_path_buf(),
        task_id: job.task_id.clone(),
        run_id: job.run_id.0.clone(),
    };
    let mut env = job.env.clone();
    env.extend([
        ("BOSUN_TASK_ID".to_string(), job.task_id.clone()),
        ("BOSUN_RUN_ID".to_string(), job.run_id.0.clone()),
        (
            "BOSUN_PROMPT_FILE".to_string(),
            job.prompt_path.display().to_string(),
        ),
        ("BOSUN_WORKTREE".to_string(), worktree.display().to_string()),
        ("BOSUN_ATTEMPT".to_string(), job.attempt.to_string()),
    ]);
    AgentRun {
        argv: executors::presets::expand(&job.argv, &vars),
        env,
        cwd: worktree.to_path_buf(),
        timeout: job.timeout,
        log_path: job.log_path.clone(),
        max_log_bytes: job.max_log_bytes,
        format: job.format,
        sandbox: job.sandbox.clone(),
        min_free_mb: job.min_free_mb,
    }
}

/// Runs the agent to its end, forwarding its output and progress; the usage it reported, or
/// the outcome when it did not finish well (cancelled, timed out, failed, over budget).
async fn drive_agent(
    job: &Job,
    run: &AgentRun,
    worktree: &std::path::Path,
    prompt: &str,
    updates: &mpsc::UnboundedSender<Update>,
    events: &super::Bus,
) -> Result<Option<Usage>, Outcome> {
    let id = job.run_id.clone();
    let (line_tx, mut line_rx) = mpsc::channel::<OutputLine>(1024);
    let (progress_tx, mut progress_rx) = mpsc::channel::<AgentEvent>(256);
    let forward_id = id.clone();
    let forward_events = events.clone();
    let forward_updates = updates.clone();
    // An external agent's reported usage past a `[budget]` limit stops it.
    let external = job.builtin.is_none();
    let agent_cancel = job.cancel.child_token();
    let budget_stop: std::sync::Arc<std::sync::OnceLock<String>> = Default::default();
    let (forward_meter, forward_stop, forward_cancel) = (
        job.meter.clone(),
        std::sync::Arc::clone(&budget_stop),
        agent_cancel.clone(),
    );
    // An agent that keeps saying it cannot reach its model (codex reconnecting for ever) is
    // stopped instead of waited for until the run's timeout. Only formats whose errors are
    // parsed (aider's `litellm.…Error` lines among them): a plain agent's every line is
    // "progress", including what its own tests print.
    let unreachable_stop: std::sync::Arc<std::sync::OnceLock<String>> = Default::default();
    let forward_unreachable = std::sync::Arc::clone(&unreachable_stop);
    let watch_errors = !matches!(job.format, OutputFormat::Plain);
    let prices = job.prices;
    let forward_executor = job.executor.clone();
    let quiet_notice = job.quiet_notice;
    let priced = move |usage: Usage| prices.map_or(usage, |p| p.priced(usage));
    // Forwards output lines and progress until the runner has dropped both senders. Progress
    // is published and kept in the run's history at most every PROGRESS_EVERY (the latest
    // text wins, and the last one is always kept): a plain-text agent's every line is
    // progress, and 50,000 lines must not become 50,000 history entries.
    let forwarder = tokio::spawn(async move {
        let (mut lines_open, mut progress_open) = (true, true);
        let mut progress = Throttle::default();
        let mut unavailable_in_a_row = 0;
        let mut warned_unpriced = false;
        // A silent agent is said to be silent: retrying a failing model, gemini and opencode
        // print nothing for a minute and more.
        let mut quiet = Quiet::new(quiet_notice);
        let publish = |text: String| {
            forward_events.send(Event::Progress {
                run_id: forward_id.clone(),
                text: text.clone(),
            });
            let _ = forward_updates.send(Update::Progress {
                run_id: forward_id.clone(),
                text,
            });
        };
        while lines_open || progress_open {
            tokio::select! {
                line = line_rx.recv(), if lines_open => match line {
                    Some(l) => {
                        quiet.heard();
                        forward_events.send(Event::Output { run_id: forward_id.clone(), line: l.text });
                    }
                    None => lines_open = false,
                },
                () = quiet.due(), if lines_open && quiet.armed() => {
                    publish(quiet.notice());
                }
                () = progress.due(), if progress.waiting() => {
                    if let Some(text) = progress.take() {
                        publish(text);
                    }
                }
                ev = progress_rx.recv(), if progress_open => match ev {
                    Some(AgentEvent::Progress(text)) => {
                        let unavailable = watch_errors
                            && text.starts_with("error")
                            && executors::unavailable::classify(&text).is_some();
                        unavailable_in_a_row = if unavailable { unavailable_in_a_row + 1 } else { 0 };
                        if unavailable_in_a_row >= UNAVAILABLE_IN_A_ROW {
                            let _ = forward_unreachable.set(text.clone());
                            forward_cancel.cancel();
                        }
                        if let Some(text) = progress.offer(text) {
                            publish(text);
                        }
                    }
                    Some(AgentEvent::Usage(usage)) if external => {
                        let usage = priced(usage);
                        let m = &forward_meter;
                        if usage.cost_unknown && !warned_unpriced && m.ledger.limited() {
                            // Said once, where the operator looks: the limits cannot hold.
                            warned_unpriced = true;
                            publish(format!(
                                "cost unknown: {} reports tokens but no cost, so [budget] limits do not count this run (set [executors.{}] prices)",
                                forward_executor, forward_executor
                            ));
                        }
                        if let Some(reason) = m.ledger.report(&m.run, &m.task, usage) {
                            let _ = forward_stop.set(reason);
                            forward_cancel.cancel();
                        }
                    }
                    // The built-in agent's calls were charged as they were made.
                    Some(AgentEvent::Usage(_) | AgentEvent::Final { .. }) => {}
                    None => progress_open = false,
                },
            }
        }
        if let Some(text) = progress.take() {
            publish(text);
        }
    });
    let started_updates = updates.clone();
    let started_id = id.clone();
    let result = match (&job.builtin, &job.chat) {
        (Some(spec), Some(chat)) => {
            let io = executors::llm_agent::AgentIo {
                lines: line_tx,
                progress: progress_tx,
                log_path: job.log_path.clone(),
                max_log_bytes: job.max_log_bytes,
                transcript_path: job.transcript_path.clone(),
                cancel: agent_cancel,
            };
            executors::llm_agent::run(chat.as_ref(), &job.meter, spec, worktree, prompt, io).await
        }
        (Some(_), None) => {
            return Err(failed(
                "the built-in agent needs a model: add [llm.providers.NAME] and [llm.routes.NAME] to bosun.toml".into(),
                None,
            ));
        }
        (None, _) => {
            executors::run_agent(
                run,
                move |pgid| {
                    let _ = started_updates.send(Update::Started {
                        run_id: started_id,
                        pgid,
                    });
                },
                line_tx,
                progress_tx,
                agent_cancel,
            )
            .await
        }
    };
    let _ = forwarder.await;

    let outcome: AgentOutcome = match result {
        Ok(o) => o,
        Err(ExecutorError::MissingProgram { program }) => {
            return Err(failed(
                format!(
                    "agent program `{program}` was not found on PATH; install it or fix the executor's command in bosun.toml"
                ),
                None,
            ));
        }
        Err(e) => return Err(failed(e.to_string(), None)),
    };
    let usage = outcome.usage.map(priced);
    let m = &job.meter;
    let mut budget = budget_stop.get().cloned();
    if let Some(u) = usage
        && budget.is_none()
        && external
    {
        // The final count may be newer than the last event's.
        budget = m.ledger.report(&m.run, &m.task, u);
    }
    if let Some(reason) = budget {
        return Err(over_budget(format!("stopped: {reason}"), usage));
    }
    let usage = spent(m).or(usage);
    if let Some(text) = &outcome.summary {
        let _ = updates.send(Update::Final {
            run_id: id.clone(),
            text: text.clone(),
        });
    }
    if let Some(said) = unreachable_stop.get() {
        let said = shortened(said.trim_start_matches("error: "));
        let kind =
            executors::unavailable::classify(&said).unwrap_or(executors::Unavailable::Unreachable);
        return Err(Outcome::Failed {
            error: format!(
                "agent unavailable ({kind}): {said} (stopped after {UNAVAILABLE_IN_A_ROW} such errors in a row)"
            ),
            usage,
            change: None,
            reason: Some(super::schedule::UNAVAILABLE),
        });
    }
    match outcome.exit {
        ExitKind::Cancelled => return Err(Outcome::Cancelled),
        ExitKind::TimedOut => {
            return Err(failed(
                format!(
                    "the agent did not finish within {}",
                    humantime::format_duration(job.timeout)
                ),
                usage,
            ));
        }
        ExitKind::Signaled(sig) => {
            return Err(failed(
                format!("the agent was killed by signal {sig}{}", tail(&outcome)),
                usage,
            ));
        }
        ExitKind::Exited(_) => {}
    }
    if let Some(err) = &outcome.agent_error {
        // The built-in agent stops with the ledger's own `budget: …` message.
        if job.builtin.is_some() && err.starts_with("budget:") {
            return Err(over_budget(format!("stopped: {err}"), usage));
        }
    }
    // The agent's own account of its error (its parsed final event) reads better than its
    // last raw lines; either tells whether it could work at all.
    let code = match outcome.exit {
        ExitKind::Exited(code) => code,
        _ => 0,
    };
    if code == 0 && outcome.agent_error.is_none() {
        return Ok(usage);
    }
    let said = shortened(&outcome.agent_error.clone().unwrap_or_default());
    let raw = tail(&outcome);
    if let Some(kind) = crate::executors::unavailable::classify_output(&said, &raw) {
        let what = if said.is_empty() {
            shortened(raw.trim_start_matches(": "))
        } else {
            said
        };
        return Err(Outcome::Failed {
            error: format!("agent unavailable ({kind}): {what}"),
            usage,
            change: None,
            reason: Some(super::schedule::UNAVAILABLE),
        });
    }
    Err(failed(
        match (said.is_empty(), code) {
            (false, 0) => format!("the agent reported an error: {said}"),
            (false, code) => format!("the agent failed (exit status {code}): {said}"),
            (true, code) => format!("the agent exited with status {code}{}", shortened(&raw)),
        },
        usage,
    ))
}

/// bosun's commit of the agent's work, its semantic annotations and the gates; the run's
/// outcome.
async fn commit_and_gate(
    job: &Job,
    run: &AgentRun,
    checkout: &git::Worktree,
    usage: Option<Usage>,
    updates: &mpsc::UnboundedSender<Update>,
    record_group: &(impl Fn(i32) + Send + Sync + 'static),
) -> Outcome {
    let id = job.run_id.clone();
    let worktree = checkout.path.as_path();
    let base = checkout.base.clone();
    let wt = checkout.clone();
    let message = crate::model::commit_subject(
        &job.commit_message,
        &job.task.title,
        job.task.task_type,
        &job.task.id,
        &id.0,
        job.attempt,
    );
    let trailers = [
        ("Bosun-Task", job.task_id.clone()),
        ("Bosun-Run", id.0.clone()),
    ];
    let repo = job.repo_root.clone();
    let ignored = job.scratch.clone();
    // bosun, not the agent, makes the commit that is gated, reviewed and merged: the whole
    // checkout on top of the base, on the run's branch, whatever the agent did to HEAD.
    let committed = tokio::task::spawn_blocking(
        move || -> Result<(String, git::DiffSummary), git::GitError> {
            let pairs: Vec<(&str, &str)> = trailers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let head = git::candidate(&repo, &wt, &message, &pairs, &ignored)?
                .unwrap_or_else(|| wt.base.clone());
            let diff = git::diff(&repo, &wt.base, &head)?;
            Ok((head, diff))
        },
    )
    .await;
    match committed {
        Ok(Ok((head, diff))) => {
            if head == base || diff.files.is_empty() {
                return failed("the agent changed nothing".to_string(), usage);
            }
            if let Err(e) = hook(
                &job.cancel,
                "pre_gates",
                &job.hooks.pre_gates,
                run,
                record_group,
            )
            .await
            {
                return Outcome::Failed {
                    error: e,
                    usage,
                    change: None,
                    reason: None,
                };
            }
            let annotations = analyze(
                &job.run_id,
                crate::semantic::GitSources::new(job.repo_root.clone(), base.clone(), head.clone()),
                &job.task,
                job.gates.semantic.large_change_lines,
                &head,
            )
            .await;
            let _ = updates.send(Update::Annotated {
                run_id: id.clone(),
                annotations: annotations.clone(),
            });
            let pipeline = match gates::for_task(&job.gates, &job.dod, job.task.task_type) {
                Ok(p) => p,
                Err(e) => return failed(format!("cannot set up the gates: {e}"), usage),
            };
            let base_dir = base_export_dir(&job.worktree);
            let cx = GateContext {
                task: &job.task,
                worktree,
                repo_root: &job.repo_root,
                base: &base,
                cache_dir: &job.gate_cache,
                base_dir: &base_dir,
                diff: &diff,
                env: &run.env,
                log_path: &job.log_path,
                max_log_bytes: job.max_log_bytes,
                cancel: &job.cancel,
                earlier: &[],
                annotations: &annotations,
                chat: job.chat.as_deref(),
                meter: Some(&job.meter),
                on_start: record_group,
                sandbox: &job.gate_sandbox,
                min_free_mb: job.min_free_mb,
            };
            let results = gates::run_pipeline(&pipeline, &cx, job.gates.fail_fast, |p| {
                let _ = updates.send(match p {
                    GateProgress::Started(gate) => Update::GateStarted {
                        run_id: id.clone(),
                        gate: gate.to_string(),
                    },
                    GateProgress::Finished(result) => Update::GateFinished {
                        run_id: id.clone(),
                        result: result.clone(),
                    },
                });
            })
            .await;
            if job.cancel.is_cancelled() {
                return Outcome::Cancelled;
            }
            if let Err(e) = hook(
                &job.cancel,
                "post_gates",
                &job.hooks.post_gates,
                run,
                record_group,
            )
            .await
            {
                let _ = updates.send(Update::Note {
                    run_id: id.clone(),
                    text: e,
                });
            }
            // The judge's calls are charged to the run too.
            let usage = spent(&job.meter).or(usage);
            match gates::first_failure(&results) {
                Some(f) => {
                    let details: String = f.details.lines().take(15).collect::<Vec<_>>().join("\n");
                    let error = if details.is_empty() {
                        format!("gate `{}` failed: {}", f.name, f.summary)
                    } else {
                        format!("gate `{}` failed: {}\n{details}", f.name, f.summary)
                    };
                    Outcome::Failed {
                        error,
                        usage,
                        change: Some((head, diff, results)),
                        reason: None,
                    }
                }
                None => Outcome::Change {
                    head,
                    diff,
                    usage,
                    gates: results,
                },
            }
        }
        Ok(Err(e)) => failed(format!("cannot commit the agent's changes: {e}"), usage),
        Err(e) => failed(format!("commit task failed: {e}"), usage),
    }
}

/// Runs a `[hooks]` command like an agent (worktree, environment, log, timeout); `Err` says
/// what failed, with the hook's last output lines.
async fn hook(
    cancel: &CancellationToken,
    name: &str,
    command: &str,
    agent: &AgentRun,
    on_start: impl FnOnce(i32),
) -> Result<(), String> {
    if command.trim().is_empty() {
        return Ok(());
    }
    let run = AgentRun {
        argv: vec!["sh".into(), "-c".into(), command.to_string()],
        format: OutputFormat::Plain,
        ..agent.clone()
    };
    let (lines, _lines_rx) = mpsc::channel(1);
    let (progress, _progress_rx) = mpsc::channel(1);
    match executors::run_agent(&run, on_start, lines, progress, cancel.clone()).await {
        Ok(o) if matches!(o.exit, ExitKind::Exited(0)) => Ok(()),
        Ok(o) => {
            let how = match o.exit {
                ExitKind::Exited(code) => format!("exited with status {code}"),
                ExitKind::Signaled(sig) => format!("was killed by signal {sig}"),
                ExitKind::TimedOut => "timed out".to_string(),
                ExitKind::Cancelled => "was cancelled".to_string(),
            };
            Err(format!("[hooks] {name} `{command}` {how}{}", tail(&o)))
        }
        Err(e) => Err(format!("[hooks] {name} `{command}` could not run: {e}")),
    }
}

/// The semantic analysis of the change (on the blocking pool: it parses every changed file
/// twice). A failure to read the diff leaves the change unannotated, with a warning in the log.
async fn analyze(
    run_id: &RunId,
    sources: crate::semantic::GitSources,
    task: &crate::model::Task,
    large: usize,
    head: &str,
) -> Vec<Annotation> {
    let (task, head) = (task.clone(), head.to_string());
    let analysed = tokio::task::spawn_blocking(move || {
        crate::diff::load(&sources.repo_root, &sources.base, &head)
            .map(|diff| crate::semantic::analyze(&diff, &sources, &task, large))
    })
    .await;
    match analysed {
        Ok(Ok(annotations)) => annotations,
        Ok(Err(e)) => {
            tracing::warn!(run = %run_id, "cannot analyse the change: {e}");
            Vec::new()
        }
        Err(e) => {
            tracing::warn!(run = %run_id, "the analysis stopped: {e}");
            Vec::new()
        }
    }
}

/// Where gates export the base commit: beside the directory that holds the run worktrees
/// (`…/worktrees/<repo>-<hash>.base`), outside the repository so that tools which look upward
/// for a workspace (cargo) do not find the repository's.
fn base_export_dir(run_worktree: &std::path::Path) -> PathBuf {
    beside(run_worktree.parent().unwrap_or(run_worktree), ".base")
}

/// `…/worktrees/<repo>-<hash><suffix>`: a directory beside the one holding the run worktrees
/// `root` (for exports gate commands run in).
pub(crate) fn beside(root: &std::path::Path, suffix: &str) -> PathBuf {
    let mut name = root.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    root.with_file_name(name)
}

/// Appends `[bosun] <text>` to the run's log (best effort: the log is a record, not the run).
async fn log_note(log_path: &std::path::Path, text: &str) {
    use tokio::io::AsyncWriteExt as _;
    if let Ok(mut log) = executors::command::open_append(log_path).await {
        let _ = log.write_all(format!("[bosun] {text}\n").as_bytes()).await;
    }
}

/// Tells the orchestrator the process group of each command started for run `id`, so it is
/// recorded with the run and crash recovery can end it.
fn group_recorder(
    updates: &mpsc::UnboundedSender<Update>,
    id: &RunId,
) -> impl Fn(i32) + Send + Sync + 'static {
    let (updates, run_id) = (updates.clone(), id.clone());
    move |pgid: i32| {
        let _ = updates.send(Update::Started {
            run_id: run_id.clone(),
            pgid,
        });
    }
}

fn failed(error: String, usage: Option<Usage>) -> Outcome {
    Outcome::Failed {
        error,
        usage,
        change: None,
        reason: None,
    }
}

/// What the run has spent by the ledger (its agent's reports and bosun's own model calls),
/// or None when nothing was recorded.
fn spent(meter: &crate::llm::Meter) -> Option<Usage> {
    let u = meter.ledger.run_usage(&meter.run);
    u.is_known().then_some(u)
}

/// A run stopped by a `[budget]` limit.
fn over_budget(error: String, usage: Option<Usage>) -> Outcome {
    Outcome::Failed {
        error,
        usage,
        change: None,
        reason: Some(super::schedule::BUDGET),
    }
}

/// Progress errors in a row saying the agent cannot reach its model after which it is
/// stopped as unavailable.
const UNAVAILABLE_IN_A_ROW: usize = 3;

/// Longest agent text quoted in a run's reason, in characters.
const REASON_CHARS: usize = 400;

/// `text` cut to [`REASON_CHARS`] characters (`…` when cut): a reason is read, not scrolled.
fn shortened(text: &str) -> String {
    crate::model::shorten(text, REASON_CHARS)
}

/// The agent's last output lines, for an error message.
fn tail(outcome: &AgentOutcome) -> String {
    let lines: Vec<&str> = outcome
        .last_lines
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(String::as_str)
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!(": {}", lines.join(" ⏎ "))
    }
}

/// Least time between two progress lines published for one run.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// When an agent has said nothing for a while: notices at each `every` of silence.
struct Quiet {
    every: Option<Duration>,
    since: tokio::time::Instant,
    next: tokio::time::Instant,
}

impl Quiet {
    fn new(every: Option<Duration>) -> Self {
        let now = tokio::time::Instant::now();
        Self {
            every,
            since: now,
            next: now + every.unwrap_or_default(),
        }
    }

    /// Whether notices are on.
    fn armed(&self) -> bool {
        self.every.is_some()
    }

    /// The agent printed a line: the silence starts again.
    fn heard(&mut self) {
        if let Some(every) = self.every {
            self.since = tokio::time::Instant::now();
            self.next = self.since + every;
        }
    }

    /// Resolves when the next notice is due.
    async fn due(&self) {
        tokio::time::sleep_until(self.next).await;
    }

    /// The notice for the silence so far; the next one is due a period later.
    fn notice(&mut self) -> String {
        self.next += self.every.unwrap_or_default();
        let secs = self.since.elapsed().as_secs();
        format!(
            "quiet for {secs} s: no output from the agent (it may be waiting on its model, or retrying it)"
        )
    }
}

/// Lets a progress line through at most every [`PROGRESS_EVERY`], holding the newest one
/// that came sooner until its turn.
#[derive(Default)]
struct Throttle {
    last: Option<tokio::time::Instant>,
    held: Option<String>,
}

impl Throttle {
    /// `text` to publish now, or None (it is held: see [`Throttle::due`]).
    fn offer(&mut self, text: String) -> Option<String> {
        let now = tokio::time::Instant::now();
        if self.last.is_some_and(|last| now < last + PROGRESS_EVERY) {
            self.held = Some(text);
            return None;
        }
        self.last = Some(now);
        Some(text)
    }

    /// Whether a line is held.
    fn waiting(&self) -> bool {
        self.held.is_some()
    }

    /// Resolves when the held line may go.
    async fn due(&self) {
        if let Some(last) = self.last {
            tokio::time::sleep_until(last + PROGRESS_EVERY).await;
        }
    }

    /// The held line, now published.
    fn take(&mut self) -> Option<String> {
        let text = self.held.take()?;
        self.last = Some(tokio::time::Instant::now());
        Some(text)
    }
}

#[cfg(test)]
mod throttle_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn progress_goes_at_most_every_quarter_second_and_the_last_is_kept() {
        let mut t = Throttle::default();
        assert_eq!(t.offer("a".into()).as_deref(), Some("a"));
        assert_eq!(t.offer("b".into()), None);
        assert_eq!(t.offer("c".into()), None, "held: the newest wins");
        assert!(t.waiting());
        t.due().await;
        assert_eq!(t.take().as_deref(), Some("c"));
        assert!(!t.waiting());
        tokio::time::advance(PROGRESS_EVERY).await;
        assert_eq!(t.offer("d".into()).as_deref(), Some("d"));
    }
}
