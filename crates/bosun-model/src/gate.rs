//! The outcome of one quality gate on one run.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a gate concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The change meets the gate.
    Pass,
    /// The change does not meet the gate.
    Fail,
    /// Worth a look, but not a failure.
    Warn,
    /// The gate did not run (not applicable, or stopped by an earlier failure).
    Skip,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Skip => "skip",
        })
    }
}

/// One gate's result, kept with the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate's name (`diff`, `build`, `test`, or a custom name).
    pub name: String,
    /// What it concluded.
    pub verdict: Verdict,
    /// 0 (worst) to 1 (best).
    pub score: f64,
    /// A 95% interval around the score, for gates that sample (the LLM judge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<(f64, f64)>,
    /// One line for lists.
    pub summary: String,
    /// More, for the review screen (first errors, offending paths, …).
    #[serde(default)]
    pub details: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// A failure stops the run (and, with `fail_fast`, the remaining gates).
    pub required: bool,
    /// Weight in the run's score.
    pub weight: f64,
    /// Test counts and how they differ from the base commit, for gates that ran tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<Box<TestDelta>>,
}

/// What a test gate counted on the change, and what changed since the base commit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestDelta {
    /// Counts on the change.
    pub head: TestCounts,
    /// Counts on the base commit, when the gate compared with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<TestCounts>,
    /// Tests failing on the change that did not fail on the base.
    #[serde(default)]
    pub new_failures: Vec<String>,
    /// Tests failing on the base that no longer fail.
    #[serde(default)]
    pub fixed: Vec<String>,
    /// Tests failing on both.
    #[serde(default)]
    pub pre_existing: Vec<String>,
    /// Tests that passed on the base and are skipped or gone on the change.
    #[serde(default)]
    pub weakened: Vec<String>,
}

impl GateResult {
    /// A required gate's result with weight 1 (the pipeline sets the configured `required` and
    /// `weight`, and the duration).
    pub fn new(name: &str, verdict: Verdict, score: f64, summary: String, details: String) -> Self {
        Self {
            name: name.to_string(),
            verdict,
            score,
            interval: None,
            summary,
            details,
            duration_ms: 0,
            required: true,
            weight: 1.0,
            tests: None,
        }
    }

    /// A skipped gate: it takes no part in the score.
    pub fn skipped(name: &str, why: &str, required: bool, weight: f64) -> Self {
        Self {
            required,
            weight,
            ..Self::new(name, Verdict::Skip, 0.0, why.to_string(), String::new())
        }
    }
}

/// The weighted mean of the scores of the gates that ran; `None` when none did.
pub fn weighted_score(results: &[GateResult]) -> Option<f64> {
    let (sum, weights) = results
        .iter()
        .filter(|r| r.verdict != Verdict::Skip && r.weight > 0.0)
        .fold((0.0, 0.0), |(s, w), r| {
            (s + r.score * r.weight, w + r.weight)
        });
    (weights > 0.0).then(|| sum / weights)
}

/// `text` with every run of ASCII digits replaced by one `#`: counts, line numbers and exit
/// codes vary between runs of the same problem; words and paths do not.
pub fn mask_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(score: f64, weight: f64, verdict: Verdict) -> GateResult {
        GateResult {
            verdict,
            score,
            weight,
            ..GateResult::skipped("g", "", true, weight)
        }
    }

    #[test]
    fn score_is_the_weighted_mean_of_gates_that_ran() {
        let rs = [
            result(1.0, 1.0, Verdict::Pass),
            result(0.5, 3.0, Verdict::Fail),
            result(0.0, 5.0, Verdict::Skip),
        ];
        assert_eq!(weighted_score(&rs), Some((1.0 + 1.5) / 4.0));
        assert_eq!(weighted_score(&rs[2..]), None);
    }
}

/// How many tests passed, failed and were skipped in one run of a test command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCounts {
    /// Tests that passed, including pytest's xpassed and nextest's flaky-then-passed tests.
    pub passed: u64,
    /// Tests that failed, errored or timed out, including unittest's unexpected successes.
    pub failed: u64,
    /// Tests that did not run: skipped, ignored, xfailed (unittest: expected failures) or
    /// todo.
    pub skipped: u64,
}

impl TestCounts {
    /// passed / (passed + failed); None when nothing ran.
    pub fn score(&self) -> Option<f64> {
        let ran = self.passed.saturating_add(self.failed);
        (ran > 0).then(|| self.passed as f64 / ran as f64)
    }

    /// Adds `other`'s counts to these (saturating).
    pub fn add(&mut self, other: TestCounts) {
        self.passed = self.passed.saturating_add(other.passed);
        self.failed = self.failed.saturating_add(other.failed);
        self.skipped = self.skipped.saturating_add(other.skipped);
    }
}
