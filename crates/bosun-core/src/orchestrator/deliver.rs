//! Delivering an approval as a pull request (`[forge] deliver = "pr"`, or `bosun approve
//! --deliver pr`), and following it on the forge until it is merged or closed there.
//!
//! What is pushed is the reviewed candidate commit (or the commit keeping the approved hunks)
//! with the task's checkbox ticked in one commit on top, so merging the pull request ticks the
//! task. The pull request carries the task, the gate table, the risk card, the judge's score with
//! its interval and the trailers; each gate is also a commit status. The run is `delivered`
//! until a look at the forge finds the pull request merged (then `merged`, the task done) or
//! closed (then `rejected`, with the closer's comment as the reason).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::{CommandError, Orchestrator, OrchestratorError, blocking, tick};
use crate::forge::{
    CheckStatus, Comment, Forge, ForgeError, Looked, NewPr, PrRef, PrState, ReviewVerdict,
    StatusState, Token,
};
use crate::git;
use crate::model::{
    Annotation, Decision, GateResult, PullRequest, Run, RunId, RunStatus, Severity, Task, Verdict,
    now_ms, with_trailers,
};

/// Looks at the forge in flight and when the next round is due.
#[derive(Debug)]
pub(super) struct Following {
    /// One round of looks at every delivered run.
    looks: JoinSet<Vec<Seen>>,
    /// When the next round starts; the first is at start.
    due: tokio::time::Instant,
}

impl Default for Following {
    fn default() -> Self {
        Self {
            looks: JoinSet::new(),
            due: tokio::time::Instant::now(),
        }
    }
}

/// What one look at one delivered run's pull request found.
#[derive(Debug)]
pub(super) struct Seen {
    run: RunId,
    looked: Result<Looked, ForgeError>,
    /// The reviews and comments, read when the pull request was closed or changes were
    /// requested (they are the reason).
    feedback: Vec<Comment>,
}

impl Following {
    /// When the orchestrator's loop should start the next round (never while one is out).
    pub(super) fn due(&self) -> Option<tokio::time::Instant> {
        self.looks.is_empty().then_some(self.due)
    }

    /// The round in flight, when one is.
    pub(super) async fn next(&mut self) -> Option<Vec<Seen>> {
        match self.looks.join_next().await {
            Some(Ok(seen)) => Some(seen),
            Some(Err(e)) => {
                tracing::error!(error = %e, "a look at the forge panicked");
                Some(Vec::new())
            }
            None => std::future::pending().await,
        }
    }

    /// Whether a round is in flight.
    pub(super) fn busy(&self) -> bool {
        !self.looks.is_empty()
    }
}

/// Deliveries whose push and forge calls are under way, and who waits for each.
#[derive(Debug, Default)]
pub(super) struct Deliveries {
    jobs: JoinSet<(RunId, Result<Shipped, ForgeFailure>)>,
    /// Which run each job is for (a job that panics says only its task id).
    job_runs: HashMap<tokio::task::Id, RunId>,
    pending: HashMap<RunId, Delivering>,
}

/// A delivery under way: what recording it needs once shipped.
#[derive(Debug)]
pub(super) struct Delivering {
    run: Run,
    who: String,
    note: String,
    partial_note: Option<String>,
    tick_note: Option<String>,
    /// Who waits for the answer (none for a decision no front end waits on).
    reply: Option<oneshot::Sender<Result<Run, CommandError>>>,
}

/// What the network part of a delivery did.
#[derive(Debug)]
pub(super) struct Shipped {
    pushed: git::Pushed,
    opened: PrRef,
    /// The pull request was already open for the branch (a delivery cut short).
    adopted: bool,
    forge: &'static str,
    repository: String,
    /// Gates that could not be posted as statuses.
    status_notes: Vec<String>,
}

/// Why the network part of a delivery failed.
#[derive(Debug)]
pub(super) enum ForgeFailure {
    /// The push (or reading the repository for it).
    Git(crate::git::GitError),
    /// The forge, after the push when `pushed` says so.
    Forge {
        error: ForgeError,
        pushed: Option<git::Pushed>,
    },
    /// The job itself did not finish.
    Stopped(String),
}

impl Deliveries {
    /// Whether a delivery is under way.
    pub(super) fn busy(&self) -> bool {
        !self.jobs.is_empty()
    }

    /// The next delivery whose network part is done.
    pub(super) async fn next(&mut self) -> (RunId, Result<Shipped, ForgeFailure>) {
        match self.jobs.join_next().await {
            Some(Ok(done)) => {
                self.job_runs.retain(|_, run| *run != done.0);
                done
            }
            Some(Err(e)) => {
                let id = self.job_runs.remove(&e.id()).unwrap_or_default();
                (
                    id,
                    Err(ForgeFailure::Stopped(format!("the delivery stopped: {e}"))),
                )
            }
            None => std::future::pending().await,
        }
    }

    /// The answer for run `id`'s delivery goes to `reply` when it is done.
    pub(super) fn answer_later(
        &mut self,
        id: &RunId,
        reply: oneshot::Sender<Result<Run, CommandError>>,
    ) {
        match self.pending.get_mut(id) {
            Some(d) => d.reply = Some(reply),
            None => {
                let _ = reply.send(Err(CommandError::Refused(format!(
                    "run {id}: the delivery is no longer under way"
                ))));
            }
        }
    }
}

/// The network part of a delivery, off the orchestrator's loop: push, open (or adopt) the
/// pull request, one status per gate.
async fn ship(
    forge: Forge,
    repo: std::path::PathBuf,
    remote: String,
    head: String,
    new_pr: NewPr,
    statuses: Vec<CheckStatus>,
    token: Option<Token>,
) -> Result<Shipped, ForgeFailure> {
    let branch = new_pr.head.clone();
    let pushed = tokio::task::spawn_blocking(move || {
        git::push_commit(
            &repo,
            &remote,
            &head,
            &branch,
            token.as_ref().map(Token::reveal),
        )
    })
    .await
    .map_err(|e| ForgeFailure::Stopped(format!("the push stopped: {e}")))?
    .map_err(ForgeFailure::Git)?;
    let mut adopted = false;
    let opened = match forge.open_pr(&new_pr).await {
        Ok(pr) => pr,
        // Refused as a duplicate: a delivery cut short after opening it (bosun stopped before
        // recording the run) left it open — the same branch, the same commit.
        Err(e @ ForgeError::Rejected { .. }) => match forge.find_open(&new_pr.head).await {
            Ok(Some(pr)) => {
                adopted = true;
                pr
            }
            _ => {
                return Err(ForgeFailure::Forge {
                    error: e,
                    pushed: Some(pushed),
                });
            }
        },
        Err(error) => {
            return Err(ForgeFailure::Forge {
                error,
                pushed: Some(pushed),
            });
        }
    };
    // A status that cannot be posted is said, not fatal: the pull request carries the table.
    let mut status_notes = Vec::new();
    for status in &statuses {
        if let Err(e) = forge.post_status(&pushed.commit, status).await {
            status_notes.push(format!(
                "could not post `{}` as a status: {e}",
                status.context
            ));
        }
    }
    Ok(Shipped {
        pushed,
        opened,
        adopted,
        forge: forge_name(forge.kind()),
        repository: forge.repository().to_string(),
        status_notes,
    })
}

impl Orchestrator {
    /// The forge `[forge]` names, with the token from its variable (none: requests go
    /// unauthenticated, and a forge that needs one says 401).
    fn forge(&self) -> Result<Forge, OrchestratorError> {
        let config = &self.config.forge;
        let url = git::remote_url(&self.project.root, &config.remote)?;
        let token = Token::from_env(config.token_variable());
        let http = crate::llm::client::http_client()
            .map_err(|e| OrchestratorError::Config(e.to_string()))?;
        Forge::from_config(config, &url, token, http).map_err(|e| self.forge_error(e))
    }

    /// A forge's error in the operator's words: a refused token names its variable.
    fn forge_error(&self, e: ForgeError) -> OrchestratorError {
        let text = match &e {
            ForgeError::Unauthorized { .. } => format!(
                "{e} — check the token in ${} ([forge] token_env)",
                self.config.forge.token_variable()
            ),
            _ => e.to_string(),
        };
        OrchestratorError::Forge(text)
    }

    /// Starts delivering an approved run as a pull request: the reviewed commit (or
    /// `partial`'s) with the task ticked on top is made here; pushing it to `bosun/<slug>-<id>`
    /// on the remote, opening the pull request against the target and posting a status per
    /// gate run off the orchestrator's loop, and [`finish_delivery`](Self::finish_delivery)
    /// records the run as delivered. Anything that fails before the pull request exists leaves
    /// the run awaiting approval.
    pub(super) async fn deliver_pr(
        &mut self,
        run: Run,
        who: &str,
        note: &str,
        partial: Option<git::PartialOutcome>,
    ) -> Result<RunId, OrchestratorError> {
        let Some(reviewed) = run.head.clone() else {
            return Err(OrchestratorError::WrongState {
                run: run.id.0.clone(),
                status: run.status.to_string(),
                what: "the run has no recorded change to deliver".into(),
            });
        };
        self.not_delivering(&run)?;
        let forge = match self.forge() {
            Ok(f) => f,
            Err(e) => return Err(self.approval_failed(&run, e)),
        };
        let config = self.config.forge.clone();
        let source = partial
            .as_ref()
            .map_or_else(|| reviewed.clone(), |p| p.commit.clone());
        let (repo, branch) = (self.project.root.clone(), run.branch.clone());
        let files = self.config.project.task_files.clone();
        let rules = self.config.intake.type_rules();
        let (task_id, title) = (run.task_id.0.clone(), run.task_title.clone());
        // What is pushed is exactly the reviewed commit (refused if the branch moved), with the
        // tick on top.
        let ticked = blocking(move || {
            git::branch_at(&repo, &branch, &reviewed)?;
            tick(&repo, &source, &files, &rules, &task_id, &title)
        })
        .await?;
        let (head, tick_note) = match ticked {
            Ok(v) => v,
            Err(e) => return Err(self.approval_failed(&run, e)),
        };
        let task = self.task_of(&run)?;
        let risks: Vec<Annotation> = self
            .store
            .annotations_on(&run.id, &[])?
            .into_iter()
            .filter(|a| a.severity == Severity::Risk)
            .collect();
        let partial_note = partial
            .as_ref()
            .filter(|p| !p.dropped.is_empty())
            .map(|p| p.describe());
        let new_pr = NewPr {
            head: run.branch.clone(),
            base: run.target.clone(),
            title: run.task_title.clone(),
            body: pr_body(
                &run,
                task.as_ref(),
                &risks,
                who,
                note,
                partial_note.as_deref(),
            ),
            draft: config.draft_on_risk && !risks.is_empty(),
            labels: labels(&config.labels, task.as_ref()),
        };
        let statuses: Vec<CheckStatus> = run.gates.iter().map(gate_status).collect();
        let token = Token::from_env(config.token_variable());
        let (repo, remote) = (self.project.root.clone(), config.remote.clone());
        let id = run.id.clone();
        let job = self.deliveries.jobs.spawn(async move {
            let shipped = ship(forge, repo, remote, head, new_pr, statuses, token).await;
            (id, shipped)
        });
        self.deliveries.job_runs.insert(job.id(), run.id.clone());
        self.history(
            &run.id,
            "note",
            "approved: pushing and opening the pull request…".into(),
        );
        let id = run.id.clone();
        self.deliveries.pending.insert(
            id.clone(),
            Delivering {
                run,
                who: who.to_string(),
                note: note.to_string(),
                partial_note,
                tick_note,
                reply: None,
            },
        );
        Ok(id)
    }

    /// Refuses a decision on a run whose delivery is under way.
    pub(super) fn not_delivering(&self, run: &Run) -> Result<(), OrchestratorError> {
        if self.deliveries.pending.contains_key(&run.id) {
            return Err(OrchestratorError::WrongState {
                run: run.id.0.clone(),
                status: run.status.to_string(),
                what: "it is being delivered as a pull request; wait for the result".into(),
            });
        }
        Ok(())
    }

    /// A delivery's network part is done: the run is recorded as delivered (or the error
    /// said, the run still awaiting approval), and whoever asked gets the answer.
    pub(super) fn finish_delivery(
        &mut self,
        id: RunId,
        shipped: Result<Shipped, ForgeFailure>,
    ) -> Result<(), OrchestratorError> {
        let Some(delivering) = self.deliveries.pending.remove(&id) else {
            return Ok(());
        };
        let Delivering {
            run,
            who,
            note,
            partial_note,
            tick_note,
            reply,
        } = delivering;
        let answer = match shipped {
            Err(failure) => {
                let e = match failure {
                    ForgeFailure::Git(e) => OrchestratorError::Git(e),
                    ForgeFailure::Forge { error, pushed } => {
                        let e = self.forge_error(error);
                        match pushed {
                            Some(p) => OrchestratorError::Forge(format!(
                                "{e}; branch `{}` was pushed to `{}` but no pull request was opened",
                                p.branch, self.config.forge.remote
                            )),
                            None => e,
                        }
                    }
                    ForgeFailure::Stopped(why) => OrchestratorError::Forge(why),
                };
                Err(self.approval_failed(&run, e))
            }
            Ok(shipped) => self.record_delivery(
                run,
                &who,
                &note,
                partial_note.as_deref(),
                tick_note,
                shipped,
            ),
        };
        match reply {
            Some(reply) => {
                let _ = reply.send(answer.map_err(Into::into));
            }
            None => {
                if let Err(e) = answer {
                    self.events.send(crate::api::Event::Notice {
                        text: e.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Records a shipped delivery: the run delivered, its notes, the audit entry.
    fn record_delivery(
        &mut self,
        run: Run,
        who: &str,
        note: &str,
        partial_note: Option<&str>,
        tick_note: Option<String>,
        shipped: Shipped,
    ) -> Result<Run, OrchestratorError> {
        let Shipped {
            pushed,
            opened,
            adopted,
            forge,
            repository,
            status_notes,
        } = shipped;
        let mut notes: Vec<String> = tick_note.into_iter().collect();
        notes.push(format!(
            "pushed {} to `{}` on {} ({})",
            short(&pushed.commit),
            pushed.branch,
            self.config.forge.remote,
            pushed.remote_url
        ));
        notes.extend(status_notes);
        notes.push(if adopted {
            format!(
                "delivered as pull request #{} {} (already open for this branch: a delivery cut short had opened it)",
                opened.number, opened.url
            )
        } else {
            format!("delivered as pull request #{} {}", opened.number, opened.url)
        });
        let decision = Decision {
            verdict: "approve".into(),
            by: who.to_string(),
            at_ms: now_ms(),
            reason: match (partial_note, note.trim()) {
                (Some(p), "") => p.to_string(),
                (Some(p), n) => format!("{n} ({p})"),
                (None, n) => n.to_string(),
            },
        };
        let delivery = PullRequest {
            forge: forge.into(),
            repository,
            number: opened.number,
            url: opened.url.clone(),
            branch: pushed.branch.clone(),
            commit: pushed.commit.clone(),
            opened_ms: now_ms(),
            etag: None,
            state: "open".into(),
        };
        let updated = self
            .update(&run.id, |r| {
                r.status = RunStatus::Delivered;
                r.decision = Some(decision);
                r.delivery = Some(delivery);
            })?
            .unwrap_or(run);
        for n in notes {
            self.history(&updated.id, "note", n);
        }
        self.store.append_audit(
            who,
            "deliver",
            &updated.id.0,
            &updated.task_id.0,
            &format!(
                "pull request #{} {} at {} on `{}`; {note}",
                opened.number, opened.url, pushed.commit, pushed.branch
            ),
        )?;
        self.discard(&updated)?;
        self.close_others(&updated)?;
        // Looked at again after one interval, not at once.
        self.following.due = tokio::time::Instant::now() + self.poll_interval();
        Ok(self.runs.get(&updated.id).cloned().unwrap_or(updated))
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.config.forge.poll_secs.max(1))
    }

    /// Starts a round of looks at every delivered run's pull request (none when no run is
    /// delivered, or `[forge]` cannot be reached: said once per round in the log).
    pub(super) fn start_looks(&mut self) {
        self.following.due = tokio::time::Instant::now() + self.poll_interval();
        // Delivered runs are not final: the store's index of open runs holds them (reading
        // every run at each start would cost a large history its start-up time).
        let delivered: Vec<(RunId, PrRef, Option<String>)> = match self.store.open_runs() {
            Ok(runs) => runs
                .into_iter()
                .filter(|r| r.status == RunStatus::Delivered)
                .filter_map(|r| {
                    let pr = r.delivery?;
                    let look = PrRef {
                        number: pr.number,
                        url: pr.url,
                    };
                    Some((r.id, look, pr.etag))
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the delivered runs");
                return;
            }
        };
        if delivered.is_empty() {
            return;
        }
        let forge = match self.forge() {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look at the delivered pull requests");
                return;
            }
        };
        self.following.looks.spawn(async move {
            let mut seen = Vec::new();
            for (run, pr, etag) in delivered {
                let looked = forge.look(&pr, etag.as_deref()).await;
                let wants_feedback = matches!(
                    &looked,
                    Ok(Looked::Changed {
                        state: PrState::Closed { .. }
                            | PrState::Open {
                                changes_requested: true
                            },
                        ..
                    })
                );
                let feedback = if wants_feedback {
                    forge.feedback(&pr).await.unwrap_or_default()
                } else {
                    Vec::new()
                };
                seen.push(Seen {
                    run,
                    looked,
                    feedback,
                });
            }
            seen
        });
    }

    /// Applies what a round of looks found: merged upstream → merged (the task done), closed
    /// → rejected with the closer's words, changes requested → said, and retried when
    /// `[forge] retry_on_changes_requested`.
    pub(super) fn handle_looks(&mut self, seen: Vec<Seen>) -> Result<(), OrchestratorError> {
        for s in seen {
            let Some(run) = self.store.run(&s.run)? else {
                continue;
            };
            if run.status != RunStatus::Delivered {
                continue;
            }
            let Some(pr) = run.delivery.clone() else {
                continue;
            };
            let (state, etag) = match s.looked {
                Ok(Looked::Unchanged) => continue,
                Ok(Looked::Changed { state, etag }) => (state, etag),
                Err(e) => {
                    tracing::warn!(run = %run.id, pr = pr.number, error = %e, "cannot look at the pull request");
                    continue;
                }
            };
            match state {
                PrState::Merged { by, commit } => {
                    let by = by.unwrap_or_else(|| "the forge".into());
                    self.update_and_learn(
                        &run.id,
                        |r| {
                            r.status = RunStatus::Merged;
                            if let Some(d) = r.delivery.as_mut() {
                                d.state = "merged".into();
                                d.etag = etag;
                            }
                        },
                        Self::approval_observations,
                    )?;
                    let at = commit.as_deref().map(short).unwrap_or("?").to_string();
                    self.history(
                        &run.id,
                        "note",
                        format!("pull request #{} merged by {by} ({at})", pr.number),
                    );
                    self.store.append_audit(
                        &by,
                        "merged upstream",
                        &run.id.0,
                        &run.task_id.0,
                        &format!("pull request #{} {} merged at {at}", pr.number, pr.url),
                    )?;
                }
                PrState::Closed { by } => {
                    let by = by.unwrap_or_else(|| "the forge".into());
                    let reason = closing_words(&s.feedback).unwrap_or_else(|| {
                        format!("pull request #{} was closed without merging", pr.number)
                    });
                    self.record_rejected(&run.id, &by, &reason, Some(("closed", etag)))?;
                    self.history(
                        &run.id,
                        "note",
                        format!("pull request #{} closed by {by}: {reason}", pr.number),
                    );
                    self.store.append_audit(
                        &by,
                        "closed upstream",
                        &run.id.0,
                        &run.task_id.0,
                        &format!("pull request #{} {}: {reason}", pr.number, pr.url),
                    )?;
                }
                PrState::Open { changes_requested } => {
                    let was = pr.state.clone();
                    let now = if changes_requested {
                        "changes_requested"
                    } else {
                        "open"
                    };
                    self.update(&run.id, |r| {
                        if let Some(d) = r.delivery.as_mut() {
                            d.state = now.into();
                            d.etag = etag;
                        }
                    })?;
                    if changes_requested && was != "changes_requested" {
                        let words = review_words(&s.feedback);
                        self.history(
                            &run.id,
                            "note",
                            format!("changes requested on pull request #{}: {words}", pr.number),
                        );
                        if self.config.forge.retry_on_changes_requested {
                            self.retry_with_review(&run, &words)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Records a delivered run as rejected upstream by `by` for `reason` (process memory learns
    /// it as a failure), with the pull request's last `state` and `ETag` when given.
    fn record_rejected(
        &mut self,
        id: &RunId,
        by: &str,
        reason: &str,
        state: Option<(&str, Option<String>)>,
    ) -> Result<(), OrchestratorError> {
        let decision = Decision {
            verdict: "reject".into(),
            by: by.to_string(),
            at_ms: now_ms(),
            reason: reason.to_string(),
        };
        self.update_and_learn(
            id,
            |r| {
                r.status = RunStatus::Rejected;
                r.decision = Some(decision);
                r.feedback = Some(reason.to_string());
                if let (Some((state, etag)), Some(d)) = (state, r.delivery.as_mut()) {
                    d.state = state.into();
                    d.etag = etag;
                }
            },
            |_, r| rejection_observations(r, reason),
        )?;
        Ok(())
    }

    /// Queues another attempt at `run`'s task with the reviewers' words as the operator's
    /// feedback; the delivered run is rejected by the review (its pull request stays open for
    /// the reviewers to close).
    fn retry_with_review(&mut self, run: &Run, words: &str) -> Result<(), OrchestratorError> {
        let reason = format!("changes requested on the pull request: {words}");
        self.record_rejected(&run.id, "review", &reason, None)?;
        let again = self.new_run(
            &run.task_id,
            &run.task_title,
            run.attempt + 1,
            Some(format!(
                "The reviewers of the pull request asked for changes:\n{words}"
            )),
        );
        self.save(again)?;
        self.announced_idle = false;
        Ok(())
    }
}

/// What process memory learns from a pull request closed or sent back: a failure of the
/// run's approach (once), and the reason as a lesson.
fn rejection_observations(run: &Run, reason: &str) -> Vec<crate::memory::Observation> {
    let mut seen = Vec::new();
    if run.memory_outcome.is_none() {
        seen.push(crate::memory::Observation::Decided(super::outcome_of(
            run, false,
        )));
    }
    seen.push(crate::memory::Observation::Rejected {
        reason: reason.to_string(),
    });
    seen
}

/// The forge's name as `[forge] kind` spells it.
fn forge_name(kind: crate::config::ForgeKind) -> &'static str {
    match kind {
        crate::config::ForgeKind::Github => "github",
        crate::config::ForgeKind::Gitlab => "gitlab",
        crate::config::ForgeKind::Gitea => "gitea",
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

/// `[forge] labels` with the task's `{type}` and `{priority}`; empty ones dropped.
fn labels(templates: &[String], task: Option<&Task>) -> Vec<String> {
    let (kind, priority) = task.map_or(("", ""), |t| (t.task_type.as_str(), t.priority.as_str()));
    templates
        .iter()
        .map(|l| l.replace("{type}", kind).replace("{priority}", priority))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.ends_with(':'))
        .collect()
}

/// A gate as a commit status: `bosun/<gate>`, its verdict and its one-line summary.
fn gate_status(gate: &GateResult) -> CheckStatus {
    let state = match gate.verdict {
        Verdict::Pass | Verdict::Skip => StatusState::Success,
        Verdict::Warn if !gate.required => StatusState::Success,
        Verdict::Warn | Verdict::Fail => StatusState::Failure,
    };
    CheckStatus {
        context: format!("bosun/{}", gate.name),
        state,
        description: format!("{} · {:.2} · {}", gate.verdict, gate.score, gate.summary),
        target_url: None,
    }
}

/// The words of whoever closed the pull request: the last comment, else the last review.
fn closing_words(feedback: &[Comment]) -> Option<String> {
    feedback
        .iter()
        .rev()
        .find(|c| !c.body.trim().is_empty())
        .map(|c| format!("{} ({})", c.body.trim(), c.author))
}

/// The reviewers' requests for changes, oldest first, with the comments after them.
fn review_words(feedback: &[Comment]) -> String {
    let first = feedback
        .iter()
        .position(|c| matches!(c.review, Some(ReviewVerdict::ChangesRequested)))
        .unwrap_or(0);
    let words: Vec<String> = feedback[first..]
        .iter()
        .filter(|c| !c.body.trim().is_empty())
        .map(|c| format!("{}: {}", c.author, c.body.trim()))
        .collect();
    if words.is_empty() {
        "(no comment)".into()
    } else {
        words.join("\n")
    }
}

/// The pull request's description: the task, the gate table, the risk card, the judge, the
/// decision and bosun's trailers.
pub(crate) fn pr_body(
    run: &Run,
    task: Option<&Task>,
    risks: &[Annotation],
    who: &str,
    note: &str,
    partial: Option<&str>,
) -> String {
    let mut out = String::new();
    if let Some(t) = task {
        if !t.description.trim().is_empty() {
            out.push_str(t.description.trim());
            out.push_str("\n\n");
        }
        if !t.body.trim().is_empty() {
            out.push_str(t.body.trim());
            out.push_str("\n\n");
        }
        out.push_str(&format!(
            "Task `{}` ({}, {} priority) from `{}` line {}.\n\n",
            t.id,
            t.task_type,
            t.priority,
            t.file.display(),
            t.line
        ));
    }
    if !run.gates.is_empty() {
        out.push_str("### Gates\n\n| gate | verdict | score | |\n|---|---|---|---|\n");
        for g in &run.gates {
            let score = match g.interval {
                Some((lo, hi)) => format!("{:.2} ({lo:.2}–{hi:.2})", g.score),
                None => format!("{:.2}", g.score),
            };
            let mut summary = g.summary.replace('|', "\\|").replace('\n', " ");
            if let Some(t) = &g.tests {
                let mut said = Vec::new();
                if !t.new_failures.is_empty() {
                    said.push(format!("{} new failures", t.new_failures.len()));
                }
                if !t.fixed.is_empty() {
                    said.push(format!("{} fixed", t.fixed.len()));
                }
                if !said.is_empty() {
                    summary = format!("{summary} ({})", said.join(", "));
                }
            }
            let required = if g.required { " (required)" } else { "" };
            out.push_str(&format!(
                "| {}{required} | {} | {score} | {summary} |\n",
                g.name, g.verdict
            ));
        }
        if let Some(score) = run.score {
            out.push_str(&format!("\nOverall score {score:.2}.\n"));
        }
        out.push('\n');
    }
    if !risks.is_empty() {
        out.push_str(&format!("### Risks ({})\n\n", risks.len()));
        for a in risks.iter().take(30) {
            out.push_str(&format!("- `{}` {}\n", a.location(), a.message));
        }
        if risks.len() > 30 {
            out.push_str(&format!("- … and {} more\n", risks.len() - 30));
        }
        out.push('\n');
    }
    let mut decided = format!("Approved by {who} in bosun");
    if !note.trim().is_empty() {
        decided.push_str(&format!(": {}", note.trim()));
    }
    if let Some(p) = partial {
        decided.push_str(&format!(" ({p})"));
    }
    out.push_str(&decided);
    out.push_str(&format!(
        "; the agent was `{}`, attempt {}.",
        run.executor, run.attempt
    ));
    with_trailers(&out, &run.task_id, &run.id.0)
}
