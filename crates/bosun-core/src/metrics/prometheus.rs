//! The collector's figures in the OpenMetrics text format, as `GET /metrics` serves them
//! ([`super::endpoint`]). Encoded by `prometheus-client` from a registry built afresh for each
//! scrape out of the collector's snapshot, so every series is consistent with the others and a
//! label that went away (a provider no longer configured) goes away.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::MetricsCollector;
use crate::model::ProviderStats;

/// The content type of what [`render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct State {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Verdict {
    gate: String,
    verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Executor {
    executor: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExecutorTokens {
    executor: String,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Attempt {
    attempt: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Provider {
    provider: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderTokens {
    provider: String,
    model: String,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Quantile {
    provider: String,
    model: String,
    quantile: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionQuantile {
    quantile: &'static str,
}

type FloatCounter = Counter<f64, AtomicU64>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// Registers a fresh family under `name` and returns it to be filled.
fn family<L, M>(registry: &mut Registry, name: &str, help: &str) -> Family<L, M>
where
    Family<L, M>: Default + Clone + prometheus_client::registry::Metric,
{
    let f: Family<L, M> = Family::default();
    registry.register(name, help, f.clone());
    f
}

/// Renders `m` and the model providers' figures `providers`.
pub fn render(m: &MetricsCollector, providers: &[ProviderStats]) -> String {
    let mut r = Registry::default();
    let t = m.totals();

    let finished = Counter::<u64>::default();
    finished.inc_by(t.finished);
    r.register(
        "bosun_runs_finished",
        "Runs whose agent and gates finished",
        finished,
    );
    let ended: Family<Outcome, Counter> =
        family(&mut r, "bosun_runs_ended", "Runs that ended, by outcome");
    for (outcome, n) in [
        ("merged", t.merged),
        ("rejected", t.rejected),
        ("failed", t.failed),
        ("stopped", t.stopped),
    ] {
        ended.get_or_create(&Outcome { outcome }).inc_by(n);
    }
    let d = m.depths();
    let depth: Family<State, Gauge> = family(
        &mut r,
        "bosun_runs",
        "Runs waiting or working now, by state (the queue and the approval backlog)",
    );
    for (state, n) in [
        ("queued", d.queued),
        ("active", d.active),
        ("awaiting_approval", d.awaiting),
    ] {
        depth.get_or_create(&State { state }).set(i64::from(n));
    }

    let gates: Family<Verdict, Counter> =
        family(&mut r, "bosun_gate_results", "Gate verdicts, by gate");
    for (gate, g) in m.gates() {
        for (verdict, n) in [
            ("pass", g.pass),
            ("fail", g.fail),
            ("warn", g.warn),
            ("skip", g.skip),
        ] {
            gates
                .get_or_create(&Verdict {
                    gate: gate.clone(),
                    verdict,
                })
                .inc_by(n);
        }
    }

    let tokens: Family<ExecutorTokens, Counter> = family(
        &mut r,
        "bosun_executor_tokens",
        "Tokens the agents reported, by executor and direction",
    );
    let cost: Family<Executor, FloatCounter> = family(
        &mut r,
        "bosun_executor_cost_usd",
        "Money the agents reported spending, by executor",
    );
    for (name, e) in m.executors() {
        for (direction, n) in [("input", e.input_tokens), ("output", e.output_tokens)] {
            tokens
                .get_or_create(&ExecutorTokens {
                    executor: name.clone(),
                    direction,
                })
                .inc_by(n);
        }
        cost.get_or_create(&Executor {
            executor: name.clone(),
        })
        .inc_by(e.cost_usd);
    }

    let attempts: Family<Attempt, Counter> = family(
        &mut r,
        "bosun_merged_runs_by_attempt",
        "Merged runs by the attempt that succeeded (5 means 5 or more)",
    );
    for (i, n) in m.attempts().iter().enumerate() {
        attempts
            .get_or_create(&Attempt {
                attempt: (i + 1).to_string(),
            })
            .inc_by(*n);
    }

    let latency = m.latency();
    let decisions = Counter::<u64>::default();
    decisions.inc_by(u64::from(latency.count));
    r.register(
        "bosun_decisions",
        "Operator decisions on runs awaiting approval",
        decisions,
    );
    let waited: Family<DecisionQuantile, FloatGauge> = family(
        &mut r,
        "bosun_approval_latency_seconds",
        "Time from awaiting approval to the operator's decision, over the last 1,000 decisions",
    );
    for (quantile, ms) in [("0.5", latency.median_ms), ("0.9", latency.p90_ms)] {
        if let Some(ms) = ms {
            waited
                .get_or_create(&DecisionQuantile { quantile })
                .set(ms as f64 / 1000.0);
        }
    }

    models(&mut r, providers);
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &r);
    out
}

/// The model providers' series (bosun's own agent, judge and analyses).
fn models(r: &mut Registry, providers: &[ProviderStats]) {
    let requests: Family<Provider, Counter> = family(
        r,
        "bosun_model_requests",
        "HTTP requests to model providers (retries included)",
    );
    let failures: Family<Provider, Counter> =
        family(r, "bosun_model_failures", "Model requests that failed");
    let retries: Family<Provider, Counter> = family(
        r,
        "bosun_model_retries",
        "Model requests that retried a failed one",
    );
    let tokens: Family<ProviderTokens, Counter> =
        family(r, "bosun_model_tokens", "Tokens of model answers");
    let cost: Family<Provider, FloatCounter> = family(
        r,
        "bosun_model_cost_usd",
        "What model answers cost, in US dollars",
    );
    let latency: Family<Quantile, FloatGauge> = family(
        r,
        "bosun_model_latency_seconds",
        "Latency of recent successful model requests",
    );
    let cooling: Family<Provider, Gauge> = family(
        r,
        "bosun_model_cooling_down",
        "1 while a provider is skipped after failing in a row",
    );
    for p in providers {
        let key = Provider {
            provider: p.name.clone(),
            model: p.model.clone(),
        };
        requests.get_or_create(&key).inc_by(p.requests);
        failures.get_or_create(&key).inc_by(p.failures);
        retries.get_or_create(&key).inc_by(p.retries);
        cost.get_or_create(&key).inc_by(p.cost_usd);
        cooling.get_or_create(&key).set(i64::from(p.cooling_down));
        for (direction, n) in [("input", p.input_tokens), ("output", p.output_tokens)] {
            tokens
                .get_or_create(&ProviderTokens {
                    provider: p.name.clone(),
                    model: p.model.clone(),
                    direction,
                })
                .inc_by(n);
        }
        for (quantile, ms) in [("0.5", p.latency_p50_ms), ("0.99", p.latency_p99_ms)] {
            if let Some(ms) = ms {
                latency
                    .get_or_create(&Quantile {
                        provider: p.name.clone(),
                        model: p.model.clone(),
                        quantile,
                    })
                    .set(ms / 1000.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_collector_exports_zeroes_with_types() {
        let text = render(&MetricsCollector::new(0), &[]);
        assert!(
            text.contains("# TYPE bosun_runs_finished counter\n"),
            "{text}"
        );
        assert!(text.contains("bosun_runs_ended_total{outcome=\"merged\"} 0\n"));
        assert!(text.contains("bosun_runs{state=\"queued\"} 0\n"));
        assert!(text.ends_with("# EOF\n"));
        // Every sample line is `name{labels} value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn a_run_approved_by_the_operator_is_in_the_export() {
        use crate::model::{Decision, GateResult, Run, RunStatus, TaskId, Usage, Verdict};
        const MIN: u64 = 60_000;
        let t0 = 1_735_689_600_000;
        let gate =
            |name: &str, verdict| GateResult::new(name, verdict, 0.0, String::new(), String::new());
        let mut run = Run {
            status: RunStatus::AwaitingApproval,
            executor: "claude".into(),
            created_ms: t0,
            started_ms: Some(t0 + MIN),
            finished_ms: Some(t0 + 10 * MIN),
            gates: vec![gate("diff", Verdict::Pass), gate("test", Verdict::Fail)],
            usage: Usage {
                input_tokens: 1_000,
                output_tokens: 200,
                cost_usd: 0.5,
                ..Default::default()
            },
            ..Run::queued(TaskId("t1".into()), "task", 1, "main")
        };
        let mut m = MetricsCollector::new(t0);
        let event = |run: &Run| crate::api::Event::Run {
            run: Box::new(run.clone()),
        };
        m.observe(&event(&run), t0 + 10 * MIN);
        run.status = RunStatus::Merged;
        run.decision = Some(Decision {
            verdict: "approve".into(),
            by: "ana".into(),
            at_ms: t0 + 30 * MIN,
            reason: String::new(),
        });
        m.observe(&event(&run), t0 + 30 * MIN);
        let text = render(&m, &[]);
        assert!(
            text.contains("bosun_runs_ended_total{outcome=\"merged\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("bosun_gate_results_total{gate=\"test\",verdict=\"fail\"} 1\n"));
        assert!(text.contains(
            "bosun_executor_tokens_total{executor=\"claude\",direction=\"input\"} 1000\n"
        ));
        assert!(text.contains("bosun_approval_latency_seconds{quantile=\"0.5\"} 1200"));
        assert!(text.contains("bosun_decisions_total 1\n"), "{text}");
    }

    #[test]
    fn label_values_are_escaped_and_providers_exported() {
        let stats = ProviderStats {
            name: "local \"x\"\nnext".into(),
            model: "m".into(),
            requests: 3,
            successes: 2,
            failures: 1,
            retries: 1,
            latency_ewma_ms: Some(12.0),
            latency_p50_ms: Some(10.0),
            latency_p99_ms: Some(40.0),
            input_tokens: 100,
            output_tokens: 20,
            cost_usd: 0.25,
            cooling_down: false,
        };
        let text = render(&MetricsCollector::new(0), &[stats]);
        assert!(
            text.contains(
                "bosun_model_requests_total{provider=\"local \\\"x\\\"\\nnext\",model=\"m\"} 3\n"
            ),
            "{text}"
        );
        assert!(text.contains("bosun_model_cost_usd_total{"), "{text}");
        assert!(text.contains("quantile=\"0.99\"} 0.04\n"), "{text}");
    }
}
