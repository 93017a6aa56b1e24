//! The collector's totals in Prometheus' text exposition format (version 0.0.4), for a
//! scrape endpoint or a file a node exporter picks up.

use std::fmt::Write as _;

use super::MetricsCollector;

/// A label value with `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Renders `m`.
pub fn render(m: &MetricsCollector) -> String {
    let mut out = String::new();
    let t = m.totals();
    header(
        &mut out,
        "bosun_runs_finished_total",
        "counter",
        "Runs whose agent and gates finished.",
    );
    let _ = writeln!(out, "bosun_runs_finished_total {}", t.finished);
    header(
        &mut out,
        "bosun_runs_ended_total",
        "counter",
        "Runs that ended, by outcome.",
    );
    for (outcome, n) in [
        ("merged", t.merged),
        ("rejected", t.rejected),
        ("failed", t.failed),
        ("stopped", t.stopped),
    ] {
        let _ = writeln!(out, "bosun_runs_ended_total{{outcome=\"{outcome}\"}} {n}");
    }
    let d = m.depths();
    header(
        &mut out,
        "bosun_runs",
        "gauge",
        "Runs waiting or working now, by state.",
    );
    for (state, n) in [
        ("queued", d.queued),
        ("active", d.active),
        ("awaiting_approval", d.awaiting),
    ] {
        let _ = writeln!(out, "bosun_runs{{state=\"{state}\"}} {n}");
    }
    header(
        &mut out,
        "bosun_gate_results_total",
        "counter",
        "Gate verdicts, by gate.",
    );
    for (gate, g) in m.gates() {
        let gate = label(gate);
        for (verdict, n) in [
            ("pass", g.pass),
            ("fail", g.fail),
            ("warn", g.warn),
            ("skip", g.skip),
        ] {
            let _ = writeln!(
                out,
                "bosun_gate_results_total{{gate=\"{gate}\",verdict=\"{verdict}\"}} {n}"
            );
        }
    }
    header(
        &mut out,
        "bosun_executor_tokens_total",
        "counter",
        "Tokens the agents reported, by executor and direction.",
    );
    for (name, e) in m.executors() {
        let name = label(name);
        let _ = writeln!(
            out,
            "bosun_executor_tokens_total{{executor=\"{name}\",direction=\"input\"}} {}",
            e.input_tokens
        );
        let _ = writeln!(
            out,
            "bosun_executor_tokens_total{{executor=\"{name}\",direction=\"output\"}} {}",
            e.output_tokens
        );
    }
    header(
        &mut out,
        "bosun_executor_cost_usd_total",
        "counter",
        "Money the agents reported spending, by executor.",
    );
    for (name, e) in m.executors() {
        let _ = writeln!(
            out,
            "bosun_executor_cost_usd_total{{executor=\"{}\"}} {}",
            label(name),
            e.cost_usd
        );
    }
    header(
        &mut out,
        "bosun_merged_runs_by_attempt_total",
        "counter",
        "Merged runs by the attempt that succeeded (5 means 5 or more).",
    );
    for (i, n) in m.attempts().iter().enumerate() {
        let _ = writeln!(
            out,
            "bosun_merged_runs_by_attempt_total{{attempt=\"{}\"}} {n}",
            i + 1
        );
    }
    let latency = m.latency_mean();
    header(
        &mut out,
        "bosun_approval_latency_seconds",
        "summary",
        "Time from awaiting approval to the operator's decision.",
    );
    let _ = writeln!(
        out,
        "bosun_approval_latency_seconds_sum {}",
        latency.sum / 1000.0
    );
    let _ = writeln!(
        out,
        "bosun_approval_latency_seconds_count {}",
        latency.count
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn an_empty_collector_exports_zeroes_with_types() {
        let text = render(&MetricsCollector::new(0));
        assert!(text.contains("# TYPE bosun_runs_finished_total counter\n"));
        assert!(text.contains("bosun_runs_ended_total{outcome=\"merged\"} 0\n"));
        assert!(text.contains("bosun_approval_latency_seconds_count 0\n"));
        // Every sample line is `name{labels} value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
