//! OpenCode `run --format json`.
//!
//! Events: `step_start`, `tool_use` (a finished tool call, `state.status` `completed` or
//! `error`), `text`, `step_finish` (one model call's tokens and cost — not cumulative, so they
//! are summed) and `error` (an API error that ends the run).

use serde_json::Value;

use super::{AgentEvent, Context, count, dollars, short, str_at};
use crate::model::Usage;

/// The last text the agent wrote: the summary when it stops.
#[derive(Debug, Default)]
pub(super) struct State {
    last_text: String,
}

pub(super) fn feed(state: &mut State, v: &Value, cx: &mut Context, out: &mut Vec<AgentEvent>) {
    let part = v.get("part").filter(|p| p.is_object());
    match (v.get("type").and_then(Value::as_str), part) {
        (Some("tool_use"), Some(part)) => {
            let tool = part.get("tool").and_then(Value::as_str).unwrap_or("tool");
            let call = cx.describe_tool(tool, part.get("state").and_then(|s| s.get("input")));
            match str_at(part, &["state", "status"]) {
                Some("completed") => out.push(AgentEvent::Progress(call)),
                // A refused permission ends the run with exit 0 (run5): make it visible.
                Some("error") => {
                    let why = str_at(part, &["state", "error"]).unwrap_or("failed");
                    out.push(AgentEvent::Progress(format!(
                        "error: {call}: {}",
                        short(why)
                    )));
                }
                _ => {}
            }
        }
        (Some("text"), Some(part)) => {
            let text = part.get("text").and_then(Value::as_str).unwrap_or("");
            if !text.trim().is_empty() {
                out.push(AgentEvent::Progress(short(text)));
                state.last_text = text.trim().to_string();
            }
        }
        (Some("step_finish"), Some(part)) => {
            // OpenCode splits tokens: `input` excludes cache reads/writes and `output` excludes
            // reasoning, so those are added back (all zero in the recordings).
            let tokens = part.get("tokens").filter(|t| t.is_object());
            let cache = tokens.and_then(|t| t.get("cache"));
            let field = |v: Option<&Value>, key: &str| v.map_or(0, |v| count(v, key));
            let before = cx.usage.unwrap_or_default();
            let usage = Usage {
                input_tokens: before.input_tokens
                    + field(tokens, "input")
                    + field(cache, "read")
                    + field(cache, "write"),
                output_tokens: before.output_tokens
                    + field(tokens, "output")
                    + field(tokens, "reasoning"),
                cost_usd: before.cost_usd + dollars(part, "cost"),
                cost_unknown: before.cost_unknown || part.get("cost").is_none(),
            };
            cx.set_usage(usage, out);
            if part.get("reason").and_then(Value::as_str) == Some("stop") {
                out.push(AgentEvent::Final {
                    summary: state.last_text.clone(),
                    is_error: false,
                });
            }
        }
        (Some("error"), _) => {
            let error = v.get("error");
            let message = error
                .and_then(|e| str_at(e, &["data", "message"]))
                .or_else(|| error.and_then(|e| e.get("name")).and_then(Value::as_str))
                .unwrap_or("unknown error");
            let status = error
                .and_then(|e| e.get("data"))
                .and_then(|d| d.get("statusCode"))
                .and_then(Value::as_u64);
            let summary = match status {
                Some(code) => format!("{message} (HTTP {code})"),
                None => message.to_string(),
            };
            out.push(AgentEvent::Final {
                summary,
                is_error: true,
            });
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{EventParser, fixture};
    use crate::executors::presets::OutputFormat;

    const FORMAT: OutputFormat = OutputFormat::OpencodeJson;

    #[test]
    fn steps_are_summed_without_cost_when_none_is_configured() {
        let (events, parser) = replay(FORMAT, fixture!("opencode/run1_stdout.jsonl"));
        assert_eq!(
            progress(&events),
            [
                "write /home/dev/work/opencode-repo1/hello.txt",
                "Done: created hello.txt containing hi."
            ]
        );
        assert_usage(parser.usage(), 2468, 112, Some(0.0));
        assert_eq!(
            finals(&events),
            [("Done: created hello.txt containing hi.", false)]
        );
    }

    #[test]
    fn costs_are_summed_over_steps() {
        let mut parser = EventParser::new(FORMAT)
            .with_root(std::path::Path::new("/home/dev/work/opencode-repo2"));
        let events: Vec<_> = fixture!("opencode/run2_cost_dir_stdout.jsonl")
            .lines()
            .flat_map(|l| parser.feed(l))
            .collect();
        assert_eq!(progress(&events)[0], "write hello.txt");
        assert_usage(parser.usage(), 2468, 112, Some(0.009084));
    }

    #[test]
    fn api_errors_end_the_run_with_their_status() {
        let (events, parser) = replay(FORMAT, fixture!("opencode/run3_http401_stdout.jsonl"));
        assert_eq!(
            finals(&events),
            [("fake server: invalid api key (HTTP 401)", true)]
        );
        assert_eq!(parser.usage(), None);
        let (events, _) = replay(FORMAT, fixture!("opencode/run4_http500_stdout.jsonl"));
        assert_eq!(
            finals(&events),
            [("fake server: internal error (HTTP 500)", true)]
        );
    }

    #[test]
    fn a_refused_edit_is_shown_though_the_run_exits_0() {
        let (events, parser) = replay(FORMAT, fixture!("opencode/run5_edit_ask_stdout.jsonl"));
        assert_eq!(
            progress(&events),
            [
                "error: write /home/dev/work/opencode-repo5/hello.txt: The user rejected permission to use this specific tool call."
            ]
        );
        assert_usage(parser.usage(), 1234, 56, Some(0.004542));
        // It stopped after the tool step, never saying it was done.
        assert!(finals(&events).is_empty());
    }

    #[test]
    fn approved_edit_reads_like_a_normal_run() {
        let (events, parser) = replay(
            FORMAT,
            fixture!("opencode/run6_edit_ask_with_auto_stdout.jsonl"),
        );
        assert_eq!(progress(&events).len(), 2);
        assert_usage(parser.usage(), 2468, 112, Some(0.009084));
        assert_eq!(finals(&events).len(), 1);
    }
}
