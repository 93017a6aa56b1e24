//! Aider's text output (it has no event mode).
//!
//! Every line is progress except fenced code (the edits it shows) and the
//! `Tokens: 1.2k sent, 56 received. Cost: $0.0045 message, $0.0045 session.` line after each
//! model call, which carries the usage: tokens per message (summed here; "1.2k" is 1200) and
//! the session's running cost (taken as is). Without price data the `Cost:` part is missing.
//!
//! With `--analytics-log /dev/stdout` (the preset's) aider also writes its analytics events
//! as JSON lines: each `message_send` has the call's exact token counts and the session's
//! cost, which replace the rounded ones of the matching `Tokens:` line (whichever comes
//! first); the other events are not shown.
//!
//! Aider exits 0 even when its model never answered (a refused key, a server error after its
//! retries: run3, run4): a `litellm.…Error: …` line that no answered call (`Tokens:`) follows
//! is the run's error, reported when the output ends.

use serde_json::Value;

use super::{AgentEvent, Context, clip, count, dollars, short};
use crate::model::Usage;

#[derive(Debug, Default)]
pub(super) struct State {
    /// Whether we are inside a ``` fence.
    in_fence: bool,
    /// The model error no answered call has followed yet.
    error: Option<String>,
    /// The last line was that error's (a line wrapped at 80 columns goes on in the next).
    just_errored: bool,
    /// Totals from the `Tokens:` lines, and each line's (sent, received).
    text: Usage,
    text_calls: Vec<(u64, u64)>,
    /// Each `message_send` event's exact (prompt, completion) tokens, and the session cost
    /// the latest one said.
    exact_calls: Vec<(u64, u64)>,
    exact_cost: f64,
}

impl State {
    /// The totals: exact counts for the calls an event reported, the rounded ones for the
    /// rest.
    fn usage(&self) -> Usage {
        let rest = self
            .text_calls
            .get(self.exact_calls.len()..)
            .unwrap_or_default();
        let (input_tokens, output_tokens) = self
            .exact_calls
            .iter()
            .chain(rest)
            .fold((0, 0), |(i, o), (ci, co)| (i + ci, o + co));
        // Only the text says whether aider knew the prices (the events say 0 either way).
        let cost_unknown = self.text_calls.is_empty() || self.text.cost_unknown;
        let cost_usd = if !cost_unknown && self.exact_cost > 0.0 {
            self.exact_cost
        } else {
            self.text.cost_usd
        };
        Usage {
            input_tokens,
            output_tokens,
            cost_usd,
            cost_unknown,
        }
    }

    /// The model error the run ended on, as its final word.
    pub(super) fn flush(&mut self, out: &mut Vec<AgentEvent>) {
        if let Some(summary) = self.error.take() {
            out.push(AgentEvent::Final {
                summary,
                is_error: true,
            });
        }
    }
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
        && let Some(text) = add_report(state.text, report)
    {
        // The model answered: an earlier error was got over.
        state.error = None;
        state.text_calls.push((
            text.input_tokens - state.text.input_tokens,
            text.output_tokens - state.text.output_tokens,
        ));
        state.text = text;
        cx.set_usage(state.usage(), out);
        return;
    }
    if line.starts_with("{\"event\"")
        && let Ok(event) = serde_json::from_str::<Value>(line)
    {
        if event["event"] == "message_send" {
            let p = &event["properties"];
            state
                .exact_calls
                .push((count(p, "prompt_tokens"), count(p, "completion_tokens")));
            state.exact_cost = dollars(p, "total_cost");
            cx.set_usage(state.usage(), out);
        }
        return;
    }
    let continued = std::mem::take(&mut state.just_errored);
    if let Some(error) = model_error(line) {
        out.push(AgentEvent::Progress(format!("error: {}", short(&error))));
        state.error = Some(error);
        state.just_errored = true;
        return;
    }
    if let Some(error) = &mut state.error {
        if continued && !line.starts_with("The API provider") && !line.starts_with("Retrying in ") {
            // The rest of a wrapped error line (`COLUMNS` narrower than the preset's).
            *error = match error.rsplit_once(" (") {
                Some((message, class)) => format!("{message} {line} ({class}"),
                None => format!("{error} {line}"),
            };
            return;
        }
        // Aider's advice under an error ("The API provider is not able to authenticate you")
        // is left out; its retry is said with the error it retries, so that errors in a row
        // read as such.
        if line.starts_with("The API provider") {
            return;
        }
        if let Some(wait) = line.strip_prefix("Retrying in ") {
            let wait = wait.trim_end_matches('.').trim_end_matches(" seconds");
            out.push(AgentEvent::Progress(format!(
                "error: {} (retrying in {wait} s)",
                short(error)
            )));
            return;
        }
    }
    if line.chars().any(char::is_alphanumeric) {
        out.push(AgentEvent::Progress(clip(line)));
    }
}

/// `litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key
/// provided` → `Incorrect API key provided (AuthenticationError)`; None for any other line.
fn model_error(line: &str) -> Option<String> {
    let rest = line.strip_prefix("litellm.")?;
    let (class, message) = rest.split_once(": ")?;
    if !class.ends_with("Error") || !class.chars().all(char::is_alphanumeric) {
        return None;
    }
    // The class is said again, then the provider's exception name: keep the message.
    let message = message
        .strip_prefix(class)
        .map_or(message, |m| m.trim_start_matches(':').trim_start());
    let message = message
        .split_once(" - ")
        .filter(|(provider, _)| provider.ends_with("Exception"))
        .map_or(message, |(_, m)| m)
        .trim();
    Some(if message.is_empty() {
        class.to_string()
    } else {
        format!("{message} ({class})")
    })
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

    /// Bug: aider exits 0 after its model refused the key (run3, run8) or failed until it gave
    /// up retrying (run4, run5), and such runs reached awaiting approval. The last model error,
    /// with no answered call after it, is the run's error.
    #[test]
    fn a_model_error_aider_exits_0_after_is_the_runs_error() {
        for (file, want) in [
            (
                fixture!("aider/run3_http401_stdout.txt"),
                "Incorrect API key provided (AuthenticationError)",
            ),
            (
                fixture!("aider/run8_http401_columns1000_stdout.txt"),
                "Incorrect API key provided (AuthenticationError)",
            ),
            (
                fixture!("aider/run4_http500_stdout.txt"),
                "The server had an error while processing your request (InternalServerError)",
            ),
            (
                fixture!("aider/run5_http429_stdout.txt"),
                "Rate limit reached, please try again in 1s (RateLimitError)",
            ),
        ] {
            let (mut events, mut parser) = replay(FORMAT, file);
            events.extend(parser.finish());
            assert_eq!(finals(&events), [(want, true)], "{file}");
            let p = progress(&events);
            assert!(
                !p.iter().any(|l| l.starts_with("The API provider")),
                "advice is left out: {p:?}"
            );
        }
        // Retries read as the error they retry, so that errors in a row are seen as such.
        let (events, _) = replay(FORMAT, fixture!("aider/run4_http500_stdout.txt"));
        let p = progress(&events);
        assert!(
            p.contains(&"error: The server had an error while processing your request (InternalServerError) (retrying in 0.2 s)"),
            "{p:?}"
        );
        // An error that a later answered call got over is not the run's.
        let mut parser = EventParser::new(FORMAT);
        parser.feed("litellm.RateLimitError: RateLimitError: OpenAIException - slow down");
        parser.feed("Retrying in 0.2 seconds...");
        parser.feed("Tokens: 1.2k sent, 56 received.");
        parser.feed("Applied edit to hello.txt");
        assert!(finals(&parser.finish()).is_empty());
        // Lines that only look like one are progress.
        for line in ["litellm.completion: ok", "litellm.Some Error: x"] {
            let mut parser = EventParser::new(FORMAT);
            assert_eq!(parser.feed(line), [AgentEvent::Progress(line.to_string())]);
        }
    }

    /// Bug: aider's text rounds tokens ("1.2k") and cost ("$0.0045"). The analytics events
    /// the preset sends to stdout carry the exact figures; they are not shown as progress.
    #[test]
    fn analytics_events_give_the_exact_counts() {
        let (events, parser) = replay(FORMAT, fixture!("aider/run9_analytics_log_stdout.txt"));
        assert_usage(parser.usage(), 1234, 56, None);
        let p = progress(&events);
        assert!(p.contains(&"Applied edit to hello.txt"), "{p:?}");
        assert!(!p.iter().any(|l| l.contains("\"event\"")), "{p:?}");
        let (_, parser) = replay(
            FORMAT,
            fixture!("aider/run10_analytics_log_priced_stdout.txt"),
        );
        assert_usage(parser.usage(), 1234, 56, Some(0.004542));
        // Whichever comes first, each call counts once.
        let mut parser = EventParser::new(FORMAT);
        parser.feed(r#"{"event": "message_send", "properties": {"prompt_tokens": 1234, "completion_tokens": 56, "total_cost": 0.0}}"#);
        parser.feed("Tokens: 1.2k sent, 56 received.");
        parser.feed("Tokens: 2.5k sent, 100 received.");
        assert_usage(parser.usage(), 1234 + 2500, 156, None);
        parser.feed(r#"{"event": "message_send", "properties": {"prompt_tokens": 2468, "completion_tokens": 100, "total_cost": 0.0}}"#);
        assert_usage(parser.usage(), 1234 + 2468, 156, None);
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
