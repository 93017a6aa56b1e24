//! A strategy: one executor on one task type, with its record of decided runs and the Beta
//! posterior of its success probability.

use serde::{Deserialize, Serialize};

use crate::TaskType;

/// What one decided run contributes to its strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Approved and merged (`true`); rejected, or failed after all attempts (`false`).
    pub success: bool,
    /// The run's gate score, when gates ran.
    pub score: Option<f64>,
    /// From the agent's start to the run's end, when both are known.
    pub duration_ms: Option<u64>,
    /// What the agent spent, when it reported usage.
    pub cost_usd: Option<f64>,
}

/// The record of one executor on one task type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Strategy {
    /// The task type.
    pub task_type: TaskType,
    /// The executor's name.
    pub executor: String,
    /// Runs approved and merged.
    pub successes: u64,
    /// Runs rejected, or failed after all attempts.
    pub failures: u64,
    /// Runs started with this executor for this type (every attempt, decided or not).
    pub pulls: u64,
    #[serde(default)]
    score_sum: f64,
    #[serde(default)]
    scored: u64,
    #[serde(default)]
    duration_ms_sum: u64,
    #[serde(default)]
    timed: u64,
    #[serde(default)]
    cost_usd_sum: f64,
    #[serde(default)]
    costed: u64,
}

/// The store key of a strategy: type and executor, NUL-separated (names never hold NUL).
pub fn strategy_key(task_type: TaskType, executor: &str) -> Vec<u8> {
    format!("{task_type}\0{executor}").into_bytes()
}

/// The Beta(1, 1) prior every strategy starts from: no opinion.
pub const PRIOR: (f64, f64) = (1.0, 1.0);

impl Strategy {
    /// A strategy with no runs yet.
    pub fn new(task_type: TaskType, executor: &str) -> Self {
        Self {
            task_type,
            executor: executor.to_string(),
            successes: 0,
            failures: 0,
            pulls: 0,
            score_sum: 0.0,
            scored: 0,
            duration_ms_sum: 0,
            timed: 0,
            cost_usd_sum: 0.0,
            costed: 0,
        }
    }

    /// Counts a decided run.
    pub fn record(&mut self, outcome: &Outcome) {
        if outcome.success {
            self.successes += 1;
        } else {
            self.failures += 1;
        }
        if let Some(score) = outcome.score.filter(|s| s.is_finite()) {
            self.score_sum += score;
            self.scored += 1;
        }
        if let Some(ms) = outcome.duration_ms {
            self.duration_ms_sum = self.duration_ms_sum.saturating_add(ms);
            self.timed += 1;
        }
        if let Some(cost) = outcome.cost_usd.filter(|c| c.is_finite()) {
            self.cost_usd_sum += cost;
            self.costed += 1;
        }
    }

    /// The Beta posterior (α, β) of the success probability: the prior plus successes and
    /// failures.
    pub fn posterior(&self) -> (f64, f64) {
        (
            PRIOR.0 + self.successes as f64,
            PRIOR.1 + self.failures as f64,
        )
    }

    /// The posterior mean α / (α + β).
    pub fn expected_success(&self) -> f64 {
        let (a, b) = self.posterior();
        a / (a + b)
    }

    /// Mean gate score of the decided runs that had one.
    pub fn mean_score(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.score_sum / self.scored as f64)
    }

    /// Mean duration in seconds of the decided runs.
    pub fn mean_duration_s(&self) -> Option<f64> {
        (self.timed > 0).then(|| self.duration_ms_sum as f64 / 1000.0 / self.timed as f64)
    }

    /// Mean cost in US dollars of the decided runs whose agent reported usage.
    pub fn mean_cost_usd(&self) -> Option<f64> {
        (self.costed > 0).then(|| self.cost_usd_sum / self.costed as f64)
    }
}

/// The posteriors (α, β) Thompson sampling draws from when cost counts: each success's reward
/// is 1 − `cost_weight` × the executor's mean cost relative to the dearest candidate with a
/// known cost (clamped to 0–1), and the rest of that success moves to β; failures count as
/// before. So of two executors with the same record, the cheaper one draws higher; with
/// `cost_weight` 0, or no costs known, these are the plain posteriors. An executor whose
/// agent never reports cost is not penalized (its cost is unknown, not zero).
pub fn cost_adjusted(
    records: &[(String, Option<Strategy>)],
    cost_weight: f64,
) -> Vec<(String, (f64, f64))> {
    let dearest = records
        .iter()
        .filter_map(|(_, s)| s.as_ref().and_then(Strategy::mean_cost_usd))
        .fold(0.0_f64, f64::max);
    records
        .iter()
        .map(|(name, record)| {
            let Some(s) = record else {
                return (name.clone(), PRIOR);
            };
            let penalty = match s.mean_cost_usd() {
                Some(cost) if dearest > 0.0 => (cost_weight * cost / dearest).clamp(0.0, 1.0),
                _ => 0.0,
            };
            let moved = s.successes as f64 * penalty;
            let (a, b) = s.posterior();
            (name.clone(), (a - moved, b + moved))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(successes: u64, failures: u64, cost: Option<f64>) -> Strategy {
        let mut s = Strategy::new(TaskType::Code, "x");
        for i in 0..successes + failures {
            s.record(&Outcome {
                success: i < successes,
                score: None,
                duration_ms: None,
                cost_usd: cost,
            });
        }
        s
    }

    #[test]
    fn cost_moves_success_mass_so_the_cheaper_equal_executor_ranks_higher() {
        let records = vec![
            ("dear".to_string(), Some(record(8, 2, Some(1.0)))),
            ("cheap".to_string(), Some(record(8, 2, Some(0.1)))),
            ("unknown".to_string(), Some(record(8, 2, None))),
            ("new".to_string(), None),
        ];
        let plain = cost_adjusted(&records, 0.0);
        assert_eq!(plain[0].1, (9.0, 3.0));
        assert_eq!(plain[1].1, (9.0, 3.0));
        let adjusted = cost_adjusted(&records, 0.5);
        let mean = |(a, b): (f64, f64)| a / (a + b);
        // The dearest pays the full weight: 8 successes × 0.5 move to β.
        assert_eq!(adjusted[0].1, (5.0, 7.0));
        assert!(mean(adjusted[1].1) > mean(adjusted[0].1));
        assert!((adjusted[1].1.0 - (9.0 - 8.0 * 0.05)).abs() < 1e-9);
        assert_eq!(adjusted[2].1, (9.0, 3.0), "unknown cost is not penalized");
        assert_eq!(adjusted[3].1, PRIOR);
        // Totals are kept: only the split between α and β changes.
        for ((_, (a, b)), (_, (pa, pb))) in adjusted.iter().zip(&plain) {
            assert!((a + b - pa - pb).abs() < 1e-9);
        }
    }

    #[test]
    fn posterior_starts_flat_and_counts_outcomes() {
        let mut s = Strategy::new(TaskType::Code, "claude");
        assert_eq!(s.posterior(), (1.0, 1.0));
        assert_eq!(s.expected_success(), 0.5);
        assert_eq!(s.mean_score(), None);
        s.record(&Outcome {
            success: true,
            score: Some(1.0),
            duration_ms: Some(3_000),
            cost_usd: Some(0.25),
        });
        s.record(&Outcome {
            success: true,
            score: Some(0.5),
            duration_ms: Some(1_000),
            cost_usd: None,
        });
        s.record(&Outcome {
            success: false,
            score: None,
            duration_ms: None,
            cost_usd: None,
        });
        assert_eq!((s.successes, s.failures), (2, 1));
        assert_eq!(s.posterior(), (3.0, 2.0));
        assert!((s.expected_success() - 0.6).abs() < 1e-12);
        assert_eq!(s.mean_score(), Some(0.75));
        assert_eq!(s.mean_duration_s(), Some(2.0));
        assert_eq!(s.mean_cost_usd(), Some(0.25));
    }

    #[test]
    fn keys_separate_type_and_executor() {
        assert_eq!(
            strategy_key(TaskType::Docs, "codex"),
            b"docs\0codex".to_vec()
        );
        assert_ne!(
            strategy_key(TaskType::Code, "x"),
            strategy_key(TaskType::Docs, "x")
        );
    }
}
