//! The router: answers a request on a route (`[llm.routes.NAME]`) by trying the route's
//! providers in the order its strategy picks, and is the only retry loop of the LLM layer.
//!
//! Per provider, a transient failure (timeout, connection error, 5xx, 408, malformed or
//! truncated answer) is retried up to `retries` times with exponential backoff and jitter
//! from `backoff`; a 429 waits its `Retry-After` instead (at most [`MAX_RETRY_AFTER`]). A
//! provider whose calls fail `cooldown_after` times in a row is skipped for `cooldown`. Any
//! other failure (a missing key, a 4xx) moves on to the next provider at once. When every
//! provider of the chain is cooling down, the one whose cooldown ends first gets a single
//! attempt (a probe) rather than the call failing outright: a brief outage should not fail
//! every call for a whole cooldown, and a failed probe simply re-arms the cooldown.
//!
//! Every attempt runs in a `llm.attempt` tracing span and is counted in per-provider
//! [`ProviderStats`] (latency, tokens, cost, outcome).
//!
//! Caching (when a [`Cache`] is given): a temperature-0 request is keyed on the route's
//! providers and models (name, base URL and model of every provider in the chain) plus the
//! request, so any provider of the route may have produced a cached answer — the route
//! promises no more than that for a fresh call either — and editing a chain or a model
//! starts a fresh set of keys. Coalescing covers the whole route call, retries included.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use serde_json::{Value, json};
use tracing::Instrument;

use super::cache::Cache;
use super::client::{Provider, http_client};
use super::types::{ChatRequest, ChatResponse};
use super::{Chat, ChatFuture, LlmError, Meter};
use crate::config::{LlmConfig, ProviderConfig, RouteStrategy};

/// The longest `Retry-After` honoured; a provider asking for more is retried after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Successful latencies kept per provider for the percentiles.
const RECENT_LATENCIES: usize = 512;

/// Weight of the newest latency in the moving average used by `least_latency`.
const EWMA_WEIGHT: f64 = 0.3;

pub use crate::model::ProviderStats;

/// The retry and cooldown settings of `[llm]`.
#[derive(Debug, Clone, Copy)]
struct Policy {
    retries: u32,
    backoff: Duration,
    cooldown_after: u32,
    cooldown: Duration,
}

#[derive(Debug, Default)]
struct Health {
    /// Calls (each with its retries) failed in a row.
    streak: u32,
    cooling_until: Option<Instant>,
    ewma_ms: Option<f64>,
    recent: VecDeque<f64>,
    requests: u64,
    successes: u64,
    failures: u64,
    retries: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost_usd: f64,
}

#[derive(Debug)]
struct Slot {
    provider: Provider,
    health: Mutex<Health>,
}

impl Slot {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        // Plain counters: a panic mid-update cannot leave them unusable.
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cooling_until(&self, now: Instant) -> Option<Instant> {
        self.health().cooling_until.filter(|until| *until > now)
    }

    fn record(&self, result: &Result<ChatResponse, LlmError>, latency: Duration, retry: bool) {
        let mut h = self.health();
        h.requests += 1;
        if retry {
            h.retries += 1;
        }
        match result {
            Ok(r) => {
                let ms = latency.as_secs_f64() * 1000.0;
                h.successes += 1;
                h.ewma_ms = Some(match h.ewma_ms {
                    Some(old) => old + EWMA_WEIGHT * (ms - old),
                    None => ms,
                });
                if h.recent.len() == RECENT_LATENCIES {
                    h.recent.pop_front();
                }
                h.recent.push_back(ms);
                h.input_tokens += r.usage.input;
                h.output_tokens += r.usage.output;
                h.cost_usd += r.cost_usd;
            }
            Err(_) => h.failures += 1,
        }
    }

    fn call_succeeded(&self) {
        let mut h = self.health();
        h.streak = 0;
        h.cooling_until = None;
    }

    /// A call (with its retries) failed. A failure that says nothing about the provider's
    /// health (a 400 for this request, say) does not count toward cooldown.
    fn call_failed(&self, error: &LlmError, policy: &Policy, probe: bool) {
        let unhealthy = error.is_transient()
            || matches!(error, LlmError::MissingKey { .. })
            || matches!(error, LlmError::Status { status, .. } if matches!(status, 401 | 403 | 404));
        if !unhealthy {
            return;
        }
        let mut h = self.health();
        h.streak += 1;
        if probe || (policy.cooldown_after > 0 && h.streak >= policy.cooldown_after) {
            h.streak = 0;
            h.cooling_until = Some(Instant::now() + policy.cooldown);
            tracing::warn!(
                provider = self.provider.name(),
                cooldown = ?policy.cooldown,
                "llm provider cooling down after failing: {error}"
            );
        }
    }
}

#[derive(Debug)]
struct Route {
    chain: Vec<String>,
    strategy: RouteStrategy,
    /// Where the next round-robin call starts.
    turn: AtomicUsize,
    /// What besides the request a cached answer must match: the chain's providers.
    scope: Value,
}

/// One provider to try in a call: `probe` when it is cooling down and gets one attempt only.
struct Candidate<'a> {
    slot: &'a Slot,
    probe: bool,
}

/// Routes over providers; see the module documentation. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Router {
    routes: BTreeMap<String, Route>,
    slots: BTreeMap<String, Slot>,
    cache: Option<Cache>,
    policy: Policy,
}

impl Router {
    /// A router over `config`'s providers and routes, answering temperature-0 requests from
    /// `cache` when given. Fails when a route is empty or names a provider that is not
    /// configured, or the HTTP client cannot be built.
    pub fn new(config: &LlmConfig, cache: Option<Cache>) -> Result<Router, LlmError> {
        let http = http_client()?;
        let slots: BTreeMap<String, Slot> = config
            .providers
            .iter()
            .map(|(name, p)| {
                let slot = Slot {
                    provider: Provider::new(name.clone(), p.clone(), http.clone()),
                    health: Mutex::new(Health::default()),
                };
                (name.clone(), slot)
            })
            .collect();
        let mut routes = BTreeMap::new();
        for (name, route) in &config.routes {
            if route.chain.is_empty() {
                return Err(LlmError::Config(format!(
                    "[llm.routes.{name}] has an empty chain; list at least one provider"
                )));
            }
            let mut scope = Vec::new();
            for provider in &route.chain {
                let Some(slot) = slots.get(provider) else {
                    return Err(LlmError::Config(format!(
                        "[llm.routes.{name}] names provider `{provider}`, which has no [llm.providers.{provider}]; add it or fix the chain"
                    )));
                };
                let p = slot.provider.config();
                scope.push(json!([provider, p.base_url, p.model]));
            }
            routes.insert(
                name.clone(),
                Route {
                    chain: route.chain.clone(),
                    strategy: route.strategy,
                    turn: AtomicUsize::new(0),
                    scope: Value::Array(scope),
                },
            );
        }
        Ok(Router {
            routes,
            slots,
            cache,
            policy: Policy {
                retries: config.retries,
                backoff: config.backoff(),
                cooldown_after: config.cooldown_after,
                cooldown: config.cooldown(),
            },
        })
    }

    /// The settings of provider `name`.
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.slots.get(name).map(|s| s.provider.config())
    }

    /// What every provider has done so far, by name.
    pub fn stats(&self) -> Vec<ProviderStats> {
        let now = Instant::now();
        self.slots
            .iter()
            .map(|(name, slot)| {
                let h = slot.health();
                let mut sorted: Vec<f64> = h.recent.iter().copied().collect();
                sorted.sort_by(f64::total_cmp);
                ProviderStats {
                    name: name.clone(),
                    model: slot.provider.config().model.clone(),
                    requests: h.requests,
                    successes: h.successes,
                    failures: h.failures,
                    retries: h.retries,
                    latency_ewma_ms: h.ewma_ms,
                    latency_p50_ms: percentile(&sorted, 0.50),
                    latency_p99_ms: percentile(&sorted, 0.99),
                    input_tokens: h.input_tokens,
                    output_tokens: h.output_tokens,
                    cost_usd: h.cost_usd,
                    cooling_down: h.cooling_until.is_some_and(|until| until > now),
                }
            })
            .collect()
    }

    /// The providers to try for one call, in order: the healthy ones as the strategy ranks
    /// them, or, when all are cooling down, the one whose cooldown ends first as a probe.
    fn candidates<'a>(&'a self, route: &Route) -> Vec<Candidate<'a>> {
        let now = Instant::now();
        let mut healthy = Vec::new();
        let mut cooling = Vec::new();
        for name in &route.chain {
            // Every chain name was checked against the providers in `new`.
            let Some(slot) = self.slots.get(name) else {
                continue;
            };
            match slot.cooling_until(now) {
                None => healthy.push(slot),
                Some(until) => cooling.push((until, slot)),
            }
        }
        if healthy.is_empty() {
            return cooling
                .into_iter()
                .min_by_key(|(until, _)| *until)
                .map(|(_, slot)| Candidate { slot, probe: true })
                .into_iter()
                .collect();
        }
        match route.strategy {
            RouteStrategy::Fallback => {}
            RouteStrategy::LeastLatency => {
                // Unknown latency sorts first, so every provider gets measured once.
                healthy.sort_by(|a, b| {
                    let (a, b) = (a.health().ewma_ms, b.health().ewma_ms);
                    match (a, b) {
                        (None, None) => std::cmp::Ordering::Equal,
                        (None, Some(_)) => std::cmp::Ordering::Less,
                        (Some(_), None) => std::cmp::Ordering::Greater,
                        (Some(a), Some(b)) => a.total_cmp(&b),
                    }
                });
            }
            RouteStrategy::RoundRobin => {
                let start = route.turn.fetch_add(1, Ordering::Relaxed) % healthy.len();
                healthy.rotate_left(start);
            }
        }
        healthy
            .into_iter()
            .map(|slot| Candidate { slot, probe: false })
            .collect()
    }

    async fn ask(
        &self,
        route_name: &str,
        request: &ChatRequest,
        meter: Option<&Meter>,
    ) -> Result<ChatResponse, LlmError> {
        let route = self
            .routes
            .get(route_name)
            .ok_or_else(|| LlmError::UnknownRoute(route_name.to_string()))?;
        let candidates = self.candidates(route);
        if let (Some(meter), Some(first)) = (meter, candidates.first()) {
            meter.check(estimate_input_usd(request, first.slot.provider.config()))?;
        }
        let upstream = || self.upstream(route_name, &candidates, request);
        let cached = self
            .cache
            .as_ref()
            .and_then(|cache| Cache::key(&route.scope, request).map(|key| (cache, key)));
        let response = match cached {
            Some((cache, key)) => cache.get_or_fetch(key, upstream).await?,
            None => upstream().await?,
        };
        if let Some(meter) = meter
            && !response.cached
        {
            meter.charge(response.usage, response.cost_usd);
        }
        Ok(response)
    }

    /// Tries the candidates in order until one answers.
    async fn upstream(
        &self,
        route: &str,
        candidates: &[Candidate<'_>],
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        let mut last = None;
        for candidate in candidates {
            match self.call(candidate, request).await {
                Ok(response) => return Ok(response),
                Err(e) => {
                    tracing::warn!(
                        route,
                        provider = candidate.slot.provider.name(),
                        "llm provider failed, trying the next: {e}"
                    );
                    last = Some(e);
                }
            }
        }
        Err(LlmError::Exhausted {
            route: route.to_string(),
            last: Box::new(last.unwrap_or_else(|| {
                LlmError::Config(format!("[llm.routes.{route}] has no provider to try"))
            })),
        })
    }

    /// One provider, with its retries.
    async fn call(
        &self,
        candidate: &Candidate<'_>,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        let slot = candidate.slot;
        let retries = if candidate.probe {
            0
        } else {
            self.policy.retries
        };
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(self.policy.backoff)
            .with_max_delay(self.policy.backoff.saturating_mul(64))
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(retries as usize)
            .build();
        let model = &slot.provider.config().model;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let span = tracing::info_span!(
                "llm.attempt",
                provider = slot.provider.name(),
                model = model.as_str(),
                attempt,
                outcome = tracing::field::Empty,
                latency_ms = tracing::field::Empty,
                input_tokens = tracing::field::Empty,
                output_tokens = tracing::field::Empty,
                cost_usd = tracing::field::Empty,
            );
            let started = Instant::now();
            let result = slot
                .provider
                .complete(request)
                .instrument(span.clone())
                .await;
            let latency = started.elapsed();
            slot.record(&result, latency, attempt > 1);
            span.record("latency_ms", latency.as_millis() as u64);
            match &result {
                Ok(r) => {
                    span.record("outcome", "ok");
                    span.record("input_tokens", r.usage.input);
                    span.record("output_tokens", r.usage.output);
                    span.record("cost_usd", r.cost_usd);
                    tracing::debug!(parent: &span, "llm attempt answered");
                }
                Err(e) => {
                    span.record("outcome", outcome_name(e));
                    tracing::info!(parent: &span, "llm attempt failed: {e}");
                }
            }
            let error = match result {
                Ok(response) => {
                    slot.call_succeeded();
                    return Ok(response);
                }
                Err(e) => e,
            };
            let delay = if error.is_transient() {
                delays.next()
            } else {
                None
            };
            let Some(delay) = delay else {
                slot.call_failed(&error, &self.policy, candidate.probe);
                return Err(error);
            };
            let wait = match &error {
                LlmError::Status {
                    status: 429,
                    retry_after: Some(after),
                    ..
                } => (*after).min(MAX_RETRY_AFTER),
                _ => delay,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl Chat for Router {
    fn chat<'a>(
        &'a self,
        route: &'a str,
        request: &'a ChatRequest,
        meter: Option<&'a Meter>,
    ) -> ChatFuture<'a> {
        Box::pin(self.ask(route, request, meter))
    }

    fn has_route(&self, route: &str) -> bool {
        self.routes.contains_key(route)
    }

    fn stats(&self) -> Vec<ProviderStats> {
        Router::stats(self)
    }
}

/// A short name for the tracing `outcome` field.
fn outcome_name(e: &LlmError) -> &'static str {
    match e {
        LlmError::Status { .. } => "status",
        LlmError::Transport { .. } => "transport",
        LlmError::Malformed { .. } => "malformed",
        LlmError::MissingKey { .. } => "missing_key",
        LlmError::UnknownRoute(_)
        | LlmError::Config(_)
        | LlmError::Exhausted { .. }
        | LlmError::Budget(_)
        | LlmError::Cancelled => "error",
    }
}

/// What the request's input may cost at `provider`'s price: about four characters a token
/// (a budget check before the call, not an invoice).
fn estimate_input_usd(request: &ChatRequest, provider: &ProviderConfig) -> f64 {
    let mut chars = 0usize;
    for m in &request.messages {
        chars += m.content.as_deref().map_or(0, str::len);
        chars += m
            .tool_calls
            .iter()
            .map(|c| c.name.len() + c.arguments.len())
            .sum::<usize>();
    }
    for t in &request.tools {
        chars += t.name.len() + t.description.len() + t.parameters.to_string().len();
    }
    provider.cost_usd((chars / 4) as u64, 0)
}

/// The `q` quantile of sorted values (nearest rank).
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RouteConfig;

    fn config(chain: &[&str]) -> LlmConfig {
        let mut c = LlmConfig::default();
        c.providers.insert(
            "a".into(),
            ProviderConfig {
                base_url: "http://127.0.0.1:9/v1".into(),
                model: "m".into(),
                input_usd_per_mtok: 1_000_000.0,
                ..ProviderConfig::default()
            },
        );
        c.routes.insert(
            "r".into(),
            RouteConfig {
                chain: chain.iter().map(|s| s.to_string()).collect(),
                strategy: RouteStrategy::Fallback,
            },
        );
        c
    }

    #[test]
    fn a_route_naming_a_missing_provider_is_refused() {
        let err = Router::new(&config(&["a", "b"]), None).unwrap_err();
        assert!(err.to_string().contains("`b`"), "{err}");
        assert!(Router::new(&config(&[]), None).is_err());
        let router = Router::new(&config(&["a"]), None).unwrap();
        assert!(router.has_route("r") && !router.has_route("x"));
    }

    #[test]
    fn the_input_estimate_is_about_four_characters_a_token() {
        let request = ChatRequest {
            messages: vec![crate::llm::Message::user("x".repeat(400))],
            ..ChatRequest::default()
        };
        let c = config(&["a"]);
        // 100 tokens at $1 a token.
        assert_eq!(estimate_input_usd(&request, &c.providers["a"]), 100.0);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
