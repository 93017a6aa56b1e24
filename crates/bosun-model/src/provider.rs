//! What a model provider has done for bosun (the core's LLM router counts it; front ends
//! show it).

use serde::{Deserialize, Serialize};

/// What one provider has done since the router started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderStats {
    /// Its `[llm.providers.NAME]` name.
    pub name: String,
    /// Its model.
    pub model: String,
    /// HTTP requests made (attempts, retries included).
    pub requests: u64,
    /// Attempts that returned an answer.
    pub successes: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// Attempts that were retries of a failed one.
    pub retries: u64,
    /// Moving average of successful latencies, in milliseconds.
    pub latency_ewma_ms: Option<f64>,
    /// Median of recent successful latencies, in milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile of recent successful latencies, in milliseconds.
    pub latency_p99_ms: Option<f64>,
    /// Prompt tokens of its answers.
    pub input_tokens: u64,
    /// Completion tokens of its answers.
    pub output_tokens: u64,
    /// What its answers cost.
    pub cost_usd: f64,
    /// Skipped now, after failing `cooldown_after` calls in a row.
    pub cooling_down: bool,
}
