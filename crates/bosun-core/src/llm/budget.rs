//! Spending limits (`[budget]`): what runs, tasks and the day have spent on models, checked
//! before each call and charged after it. The ledger is shared by every run of one bosun; the
//! orchestrator seeds it from the store at start so limits hold across restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::BudgetConfig;
use crate::model::Usage;

use super::LlmError;
use super::types::TokenUsage;

/// Spend so far, per run, per task and per UTC day.
#[derive(Debug, Default)]
pub struct Ledger {
    limits: BudgetConfig,
    spent: Mutex<Spent>,
}

#[derive(Debug, Default)]
struct Spent {
    /// Model calls charged through a [`Meter`], per run.
    runs: HashMap<String, Usage>,
    /// An external agent's own latest count, per run (replaced by each report).
    reported: HashMap<String, Usage>,
    tasks: HashMap<String, f64>,
    /// (day number since the epoch, dollars spent that day).
    day: (u64, f64),
}

impl Spent {
    /// Adds to today's spend (a new day starts from nothing).
    fn add_today(&mut self, cost_usd: f64) {
        let day = today();
        if self.day.0 != day {
            self.day = (day, 0.0);
        }
        self.day.1 += cost_usd;
    }

    fn run_total(&self, run: &str) -> Usage {
        let (a, b) = (
            self.runs.get(run).copied().unwrap_or_default(),
            self.reported.get(run).copied().unwrap_or_default(),
        );
        a.plus(b)
    }
}

/// Days since the Unix epoch, UTC.
fn today() -> u64 {
    crate::model::now_ms() / 86_400_000
}

impl Ledger {
    /// An empty ledger with these limits.
    pub fn new(limits: BudgetConfig) -> Arc<Self> {
        Arc::new(Self {
            limits,
            spent: Mutex::new(Spent::default()),
        })
    }

    fn spent(&self) -> std::sync::MutexGuard<'_, Spent> {
        // A poisoned lock only means a panic elsewhere mid-update of plain numbers.
        self.spent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any `[budget]` limit is set.
    pub fn limited(&self) -> bool {
        self.limits.limited()
    }

    /// Counts what earlier runs of `task` (stored before this start) spent toward it.
    pub fn seed_task(&self, task: &str, cost_usd: f64) {
        *self.spent().tasks.entry(task.to_string()).or_default() += cost_usd;
    }

    /// Counts what an earlier run spent toward today, when it finished today (`finished_ms`).
    pub fn seed_day(&self, cost_usd: f64, finished_ms: u64) {
        if finished_ms / 86_400_000 == today() {
            self.spent().add_today(cost_usd);
        }
    }

    /// `Err(Budget)` when spending `estimate_usd` more on run `run` of task `task` would pass
    /// a limit. The message names the limit, what was spent, and the setting to change.
    pub fn check(&self, run: &str, task: &str, estimate_usd: f64) -> Result<(), LlmError> {
        let s = self.spent();
        let run_spent = s.run_total(run).cost_usd;
        let task_spent = s.tasks.get(task).copied().unwrap_or(0.0);
        let day_spent = if s.day.0 == today() { s.day.1 } else { 0.0 };
        for (limit, spent, what, key) in [
            (
                self.limits.per_run_usd,
                run_spent,
                "this run",
                "per_run_usd",
            ),
            (
                self.limits.per_task_usd,
                task_spent,
                "this task",
                "per_task_usd",
            ),
            (self.limits.per_day_usd, day_spent, "today", "per_day_usd"),
        ] {
            if limit > 0.0 && spent + estimate_usd > limit {
                return Err(LlmError::Budget(format!(
                    "budget: {what} would pass its ${limit:.4} limit ([budget] {key}; spent so far ${spent:.4})"
                )));
            }
        }
        Ok(())
    }

    /// Records a call's tokens and cost against run `run` of task `task` and today.
    pub fn charge(&self, run: &str, task: &str, tokens: TokenUsage, cost_usd: f64) {
        let mut s = self.spent();
        let u = s.runs.entry(run.to_string()).or_default();
        u.input_tokens += tokens.input;
        u.output_tokens += tokens.output;
        u.cost_usd += cost_usd;
        *s.tasks.entry(task.to_string()).or_default() += cost_usd;
        s.add_today(cost_usd);
    }

    /// What run `run` has spent so far: its model calls plus its agent's own count.
    pub fn run_usage(&self, run: &str) -> Usage {
        self.spent().run_total(run)
    }

    /// Whether a run whose external agent reported `usage` (its own running total) is past
    /// its run, task or day limit; `Some(reason)` when it is. The report replaces the agent's
    /// earlier one; bosun's own model calls for the run (failure analysis, the judge) are
    /// counted beside it.
    pub fn report(&self, run: &str, task: &str, usage: Usage) -> Option<String> {
        {
            let mut s = self.spent();
            let old = s
                .reported
                .insert(run.to_string(), usage)
                .unwrap_or_default();
            let delta = usage.cost_usd - old.cost_usd;
            *s.tasks.entry(task.to_string()).or_default() += delta;
            s.add_today(delta);
        }
        self.check(run, task, 0.0).err().map(|e| e.to_string())
    }
}

/// What one run's calls are charged to.
#[derive(Debug, Clone)]
pub struct Meter {
    /// The shared ledger.
    pub ledger: Arc<Ledger>,
    /// The run.
    pub run: String,
    /// The run's task.
    pub task: String,
}

impl Meter {
    /// A meter charging run `run` of task `task`.
    pub fn new(ledger: Arc<Ledger>, run: impl Into<String>, task: impl Into<String>) -> Self {
        Self {
            ledger,
            run: run.into(),
            task: task.into(),
        }
    }

    /// See [`Ledger::check`].
    pub fn check(&self, estimate_usd: f64) -> Result<(), LlmError> {
        self.ledger.check(&self.run, &self.task, estimate_usd)
    }

    /// See [`Ledger::charge`].
    pub fn charge(&self, tokens: TokenUsage, cost_usd: f64) {
        self.ledger.charge(&self.run, &self.task, tokens, cost_usd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(run: f64, task: f64, day: f64) -> BudgetConfig {
        BudgetConfig {
            per_run_usd: run,
            per_task_usd: task,
            per_day_usd: day,
        }
    }

    #[test]
    fn a_call_that_would_pass_the_run_limit_is_refused() {
        let l = Ledger::new(limits(0.10, 0.0, 0.0));
        l.check("r1", "t1", 0.05).unwrap();
        l.charge(
            "r1",
            "t1",
            TokenUsage {
                input: 10,
                output: 5,
            },
            0.08,
        );
        let err = l.check("r1", "t1", 0.05).unwrap_err();
        assert!(err.to_string().contains("per_run_usd"), "{err}");
        // Another run of the same task has its own run budget.
        l.check("r2", "t1", 0.05).unwrap();
        assert_eq!(l.run_usage("r1").input_tokens, 10);
    }

    #[test]
    fn task_and_day_limits_add_up_across_runs() {
        let l = Ledger::new(limits(0.0, 0.10, 0.15));
        l.charge("r1", "t1", TokenUsage::default(), 0.06);
        l.charge("r2", "t1", TokenUsage::default(), 0.03);
        assert!(
            l.check("r3", "t1", 0.02)
                .unwrap_err()
                .to_string()
                .contains("per_task_usd")
        );
        l.check("r4", "t2", 0.02).unwrap();
        l.charge("r4", "t2", TokenUsage::default(), 0.05);
        assert!(
            l.check("r5", "t3", 0.02)
                .unwrap_err()
                .to_string()
                .contains("per_day_usd")
        );
    }

    #[test]
    fn seeded_spend_counts_today_only() {
        let l = Ledger::new(limits(0.0, 0.0, 0.10));
        l.seed_day(0.50, 0); // 1970: not today
        l.check("r1", "t2", 0.05).unwrap();
        l.seed_day(0.08, crate::model::now_ms());
        assert!(l.check("r1", "t2", 0.05).is_err());
        let l = Ledger::new(limits(0.0, 0.10, 0.0));
        l.seed_task("t1", 0.08);
        assert!(l.check("r9", "t1", 0.05).is_err());
        l.check("r9", "t2", 0.05).unwrap();
    }

    #[test]
    fn an_external_agents_report_past_the_limit_stops_it() {
        let l = Ledger::new(limits(0.10, 0.0, 0.0));
        let usage = |c| Usage {
            input_tokens: 1,
            output_tokens: 1,
            cost_usd: c,
            ..Default::default()
        };
        assert_eq!(l.report("r1", "t1", usage(0.05)), None);
        // A later cumulative report replaces the earlier one rather than adding to it.
        assert_eq!(l.report("r1", "t1", usage(0.09)), None);
        assert!(
            l.report("r1", "t1", usage(0.11))
                .unwrap()
                .contains("per_run_usd")
        );
        // bosun's own calls for a run count beside its agent's report.
        let l = Ledger::new(limits(0.10, 0.0, 0.0));
        l.charge(
            "r1",
            "t1",
            TokenUsage {
                input: 5,
                output: 1,
            },
            0.04,
        );
        assert_eq!(l.report("r1", "t1", usage(0.05)), None);
        assert_eq!(
            l.report("r1", "t1", usage(0.05)),
            None,
            "the same report twice"
        );
        let total = l.run_usage("r1");
        assert_eq!((total.input_tokens, total.output_tokens), (6, 2));
        assert!((total.cost_usd - 0.09).abs() < 1e-12);
        assert!(
            l.report("r1", "t1", usage(0.07))
                .unwrap()
                .contains("per_run_usd")
        );
    }

    #[test]
    fn no_limits_means_no_refusal() {
        let l = Ledger::new(BudgetConfig::default());
        l.charge("r1", "t1", TokenUsage::default(), 1e6);
        l.check("r1", "t1", 1e6).unwrap();
    }
}
