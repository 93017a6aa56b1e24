//! Aider's text output (it has no event mode).
//!
//! Every line is progress except fenced code (the edits it shows) and the
//! `Tokens: 1.2k sent, 56 received. Cost: $0.0045 message, $0.0045 session.` line after each
//! model call, which carries the usage: tokens per message (summed here; "1.2k" is 1200) and
//! the session's running cost (taken as is). Without price data the `Cost:` part is missing.

use super::{AgentEvent, Context, clip};
use crate::model::Usage;

/// Whether we are inside a ``` fence.
#[derive(Debug, Default)]
pub(super) struct State {
    in_fence: bool,
}

pub(super) fn feed(state: &mut State, line: &str, cx: &mut Context, out: &mut Vec<AgentEvent>) {
    if line.starts_with("```") {
        state.in_fence = !state.in_fence;
        return;
    }
    if state.in_fence {
        return;
    }
    if let Some(report) = line.strip_prefix("Tokens:")
        && let Some(usage) = add_report(cx.usage.unwrap_or_default(), report)
    {
        cx.set_usage(usage, out);
        return;
    }
    if line.chars().any(char::is_alphanumeric) {
        out.push(AgentEvent::Progress(clip(line)));
    }
}

/// `before` plus one ` 1.2k sent, 56 received. Cost: $0.0045 message, $0.0045 session.`
/// report (the text after `Tokens:`); `None` if it is not one.
fn add_report(before: Usage, report: &str) -> Option<Usage> {
    let (tokens, cost) = match report.split_once("Cost:") {
        Some((tokens, cost)) => (tokens, Some(cost)),
        None => (report, None),
    };
    let mut sent = None;
    let mut received = None;
    for item in tokens.trim().trim_end_matches('.').split(',') {
        let mut words = item.split_whitespace();
        let (Some(number), Some(label)) = (words.next(), words.next()) else {
            continue;
        };
        // "cache write" / "cache hit" items are left out: "sent" is the prompt's size.
        match label {
            "sent" => sent = parse_count(number),
            "received" => received = parse_count(number),
            _ => {}
        }
    }
    let (sent, received) = (sent?, received?);
    let mut usage = Usage {
        input_tokens: before.input_tokens + sent,
        output_tokens: before.output_tokens + received,
        cost_usd: before.cost_usd,
        // Aider prints a cost only when it knows the model's prices.
        cost_unknown: cost.is_none(),
    };
    if let Some(cost) = cost {
        let amount = |suffix: &str| {
            cost.trim()
                .trim_end_matches('.')
                .split(',')
                .find_map(|item| {
                    let item = item.trim();
                    item.strip_suffix(suffix)?
                        .trim()
                        .strip_prefix('$')?
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        };
        if let Some(session) = amount("session") {
            usage.cost_usd = session;
        } else if let Some(message) = amount("message") {
            usage.cost_usd += message;
        }
    }
    Some(usage)
}

/// Aider's abbreviated counts: `724`, `1.2k`, `15k`, `1.1M`.
fn parse_count(text: &str) -> Option<u64> {
    let text = text.replace(',', "");
    let (number, scale) = if let Some(n) = text.strip_suffix(['k', 'K']) {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('M') {
        (n, 1e6)
    } else {
        (text.as_str(), 1.0)
    };
    let value = number.parse::<f64>().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    // Saturating float-to-int conversion; counts are far below u64::MAX.
    Some((value * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{EventParser, fixture};
    use super::*;
    use crate::executors::presets::OutputFormat;

    const FORMAT: OutputFormat = OutputFormat::AiderText;

    #[test]
    fn priced_run_reports_server_counts_and_session_cost() {
        let (events, parser) = replay(FORMAT, fixture!("aider/run2_stdout.txt"));
        assert_usage(parser.usage(), 1200, 56, Some(0.0045));
        let p = progress(&events);
        assert_eq!(
            p,
            [
                "Analytics have been permanently disabled.",
                "Creating empty file /home/dev/work/aider-repo2/hello.txt",
                "Aider v0.86.2",
                "Model: openai/test with whole edit format",
                "Git repo: .git with 1 files",
                "Repo-map: using 4096 tokens, auto refresh",
                "Added hello.txt to the chat.",
                "I will create the file.",
                "hello.txt",
                "Applied edit to hello.txt",
            ]
        );
        assert!(finals(&events).is_empty());
    }

    #[test]
    fn unpriced_run_reports_tokens_only() {
        let (events, parser) = replay(FORMAT, fixture!("aider/run1_stdout.txt"));
        assert_usage(parser.usage(), 724, 15, None);
        let p = progress(&events);
        assert!(p.contains(&"Applied edit to hello.txt"), "{p:?}");
        assert!(!p.iter().any(|l| l.starts_with("Tokens:")), "{p:?}");
        assert!(!p.iter().any(|l| l.starts_with('─')), "{p:?}");
    }

    #[test]
    fn reports_add_up_over_messages() {
        let mut parser = EventParser::new(FORMAT);
        parser.feed("Tokens: 1.2k sent, 56 received. Cost: $0.0045 message, $0.0045 session.");
        let events = parser.feed(
            "Tokens: 15k sent, 2.5k cache write, 1.1k received. Cost: $0.05 message, $0.0545 session.",
        );
        assert_usage(parser.usage(), 16_200, 1_156, Some(0.0545));
        assert!(matches!(events[..], [AgentEvent::Usage(_)]));
    }

    #[test]
    fn counts_parse_like_aider_prints_them() {
        assert_eq!(parse_count("724"), Some(724));
        assert_eq!(parse_count("1.2k"), Some(1200));
        assert_eq!(parse_count("15k"), Some(15_000));
        assert_eq!(parse_count("1.1M"), Some(1_100_000));
        assert_eq!(parse_count("1,234"), Some(1234));
        assert_eq!(parse_count("lots"), None);
        assert_eq!(parse_count("-1"), None);
        // A line that merely starts like a report is ordinary progress.
        let mut parser = EventParser::new(FORMAT);
        assert_eq!(
            parser.feed("Tokens: none today"),
            [AgentEvent::Progress("Tokens: none today".to_string())]
        );
        assert_eq!(parser.usage(), None);
    }
}
