//! `[policy]`: when a passing run is approved without the operator (the settings; the
//! decision itself is [`crate::gates::policy::decide`]).

use serde::{Deserialize, Serialize};

/// Operating modes: presets over the rules below.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every run waits for the operator (unless `auto_approve_min_score` is set).
    #[default]
    Supervised,
    /// Auto-approve when the required gates pass, the score clears the threshold (0.8 unless
    /// set) and nothing needs an operator.
    Gated,
    /// Auto-approve when the required gates pass and nothing needs an operator.
    Autonomous,
}

/// `[policy]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// The preset: supervised, gated or autonomous.
    pub mode: Mode,
    /// Auto-approve at or above this score (overrides the mode's threshold).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_approve_min_score: Option<f64>,
    /// Send a run back to the agent when its score is below this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_below_score: Option<f64>,
    /// Runs that always wait for the operator: task types (`code`), path globs
    /// (`Cargo.toml`, `migrations/**`) or annotation severities/kinds (`risk`).
    pub require_operator_for: Vec<String>,
}
