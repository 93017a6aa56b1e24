//! Approval policy as code: one pure function decides whether a run whose required gates
//! passed is approved automatically, waits for the operator, or goes back to the agent — and
//! records which rule decided.

use globset::Glob;

use crate::model::TaskType;

/// The policy marker of a run whose judge samples disagreed (interval wider than `warn_width`).
pub const JUDGE_UNCERTAIN: &str = "judge_uncertain";

pub use crate::config::policy::{Mode, PolicyConfig};

/// What the policy looks at.
pub struct PolicyInput<'a> {
    /// The task's type.
    pub task_type: TaskType,
    /// The run's score (weighted mean of its gates).
    pub score: Option<f64>,
    /// Paths the change touches.
    pub paths: &'a [String],
    /// Annotation kinds and severities on the change (from the semantic gate, when present).
    pub annotations: &'a [String],
}

/// What the policy decided, and the rule that fired.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Merge without asking.
    AutoApprove(String),
    /// Wait for the operator.
    AwaitOperator(String),
    /// Send the run back to the agent.
    Retry(String),
}

const ANNOTATION_WORDS: &[&str] = &["risk", "notice", "info", JUDGE_UNCERTAIN];

/// Decides for a run whose required gates all passed.
pub fn decide(config: &PolicyConfig, input: &PolicyInput<'_>) -> Verdict {
    let score = input.score.unwrap_or(1.0);
    if let Some(floor) = config.retry_below_score
        && score < floor
    {
        return Verdict::Retry(format!(
            "score {score:.2} is below retry_below_score {floor:.2}"
        ));
    }
    for rule in &config.require_operator_for {
        if let Ok(t) = rule.parse::<TaskType>()
            && t == input.task_type
        {
            return Verdict::AwaitOperator(format!(
                "awaiting approval: {t} tasks need the operator (require_operator_for)"
            ));
        }
        let is_annotation = ANNOTATION_WORDS.contains(&rule.as_str())
            || input.annotations.iter().any(|a| a == rule);
        if is_annotation {
            if input.annotations.iter().any(|a| a == rule) {
                return Verdict::AwaitOperator(format!(
                    "awaiting approval: the change has a `{rule}` annotation (require_operator_for)"
                ));
            }
            continue;
        }
        if rule.parse::<TaskType>().is_err()
            && let Ok(glob) = Glob::new(rule)
        {
            let m = glob.compile_matcher();
            if let Some(p) = input
                .paths
                .iter()
                .find(|p| m.is_match(p.as_str()) || p.starts_with(rule.trim_end_matches('/')))
            {
                return Verdict::AwaitOperator(format!(
                    "awaiting approval: touches {p} (require_operator_for `{rule}`)"
                ));
            }
        }
    }
    let threshold = config.auto_approve_min_score.or(match config.mode {
        Mode::Supervised => None,
        Mode::Gated => Some(0.8),
        Mode::Autonomous => Some(0.0),
    });
    match threshold {
        None => Verdict::AwaitOperator(
            "awaiting approval: supervised mode (every run waits for the operator)".into(),
        ),
        Some(t) if score >= t => Verdict::AutoApprove(format!(
            "auto-approved: required gates pass, score {score:.2} ≥ {t:.2}, nothing needs the operator ({} mode)",
            mode_name(config.mode)
        )),
        Some(t) => Verdict::AwaitOperator(format!(
            "awaiting approval: score {score:.2} is below the auto-approve threshold {t:.2}"
        )),
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Supervised => "supervised",
        Mode::Gated => "gated",
        Mode::Autonomous => "autonomous",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(mode: Mode, min: Option<f64>, retry: Option<f64>, require: &[&str]) -> PolicyConfig {
        PolicyConfig {
            mode,
            auto_approve_min_score: min,
            retry_below_score: retry,
            require_operator_for: require.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn rules_table() {
        let docs = ["docs/guide.md".to_string()];
        let manifest = ["Cargo.toml".to_string(), "src/lib.rs".to_string()];
        let migration = ["db/migrations/001.sql".to_string()];
        let none: [String; 0] = [];
        let risk = ["risk".to_string()];
        type Case<'a> = (
            PolicyConfig,
            TaskType,
            Option<f64>,
            &'a [String],
            &'a [String],
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                cfg(Mode::Supervised, None, None, &[]),
                TaskType::Docs,
                Some(1.0),
                &docs,
                &none,
                "await: supervised mode",
            ),
            (
                cfg(Mode::Supervised, Some(0.9), None, &[]),
                TaskType::Docs,
                Some(0.95),
                &docs,
                &none,
                "auto",
            ),
            (
                cfg(Mode::Gated, None, None, &[]),
                TaskType::Docs,
                Some(0.85),
                &docs,
                &none,
                "auto",
            ),
            (
                cfg(Mode::Gated, None, None, &[]),
                TaskType::Docs,
                Some(0.7),
                &docs,
                &none,
                "await: score 0.70 is below the auto-approve threshold 0.80",
            ),
            (
                cfg(Mode::Gated, Some(0.5), None, &[]),
                TaskType::Code,
                Some(0.7),
                &docs,
                &none,
                "auto",
            ),
            (
                cfg(Mode::Autonomous, None, None, &[]),
                TaskType::Code,
                Some(0.1),
                &docs,
                &none,
                "auto",
            ),
            (
                cfg(Mode::Gated, None, None, &["Cargo.toml"]),
                TaskType::Code,
                Some(1.0),
                &manifest,
                &none,
                "await: touches Cargo.toml (require_operator_for `Cargo.toml`)",
            ),
            (
                cfg(Mode::Autonomous, None, None, &["migrations/"]),
                TaskType::Code,
                Some(1.0),
                &migration,
                &none,
                "auto",
            ),
            (
                cfg(Mode::Autonomous, None, None, &["**/migrations/**"]),
                TaskType::Code,
                Some(1.0),
                &migration,
                &none,
                "await: touches db/migrations/001.sql (require_operator_for `**/migrations/**`)",
            ),
            (
                cfg(Mode::Autonomous, None, None, &["code"]),
                TaskType::Code,
                Some(1.0),
                &docs,
                &none,
                "await: code tasks need the operator (require_operator_for)",
            ),
            (
                cfg(Mode::Autonomous, None, None, &["code"]),
                TaskType::Docs,
                Some(1.0),
                &docs,
                &none,
                "auto",
            ),
            (
                cfg(Mode::Autonomous, None, None, &["risk"]),
                TaskType::Code,
                Some(1.0),
                &docs,
                &risk,
                "await: the change has a `risk` annotation (require_operator_for)",
            ),
            (
                cfg(Mode::Autonomous, None, None, &["risk"]),
                TaskType::Code,
                Some(1.0),
                &docs,
                &none,
                "auto",
            ),
            (
                cfg(Mode::Autonomous, None, Some(0.5), &[]),
                TaskType::Code,
                Some(0.4),
                &docs,
                &none,
                "retry: score 0.40 is below retry_below_score 0.50",
            ),
            (
                cfg(Mode::Supervised, None, Some(0.5), &[]),
                TaskType::Code,
                None,
                &docs,
                &none,
                "await: supervised mode",
            ),
        ];
        for (i, (config, t, score, paths, annotations, want)) in cases.into_iter().enumerate() {
            let got = decide(
                &config,
                &PolicyInput {
                    task_type: t,
                    score,
                    paths,
                    annotations,
                },
            );
            let text = match &got {
                Verdict::AutoApprove(_) => "auto".to_string(),
                Verdict::AwaitOperator(r) => {
                    format!("await: {}", r.trim_start_matches("awaiting approval: "))
                }
                Verdict::Retry(r) => format!("retry: {r}"),
            };
            assert!(
                text.starts_with(want),
                "case {i}: want {want:?}, got {got:?}"
            );
        }
    }
}
