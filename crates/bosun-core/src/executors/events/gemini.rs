//! Gemini CLI `--output-format stream-json`.
//!
//! Events: `init`, `message` (the user's prompt, then the assistant's text in `delta` chunks),
//! `tool_use`, `tool_result`, `error` (documented as non-fatal) and a closing `result` whose
//! `stats` hold the run's token totals (router call included; no cost). The streamed chunks
//! are joined and shown as one line when something else happens.

use serde_json::Value;

use super::{AgentEvent, Context, count, short, str_at};
use crate::model::Usage;

/// Text being streamed, and the last complete assistant message.
#[derive(Debug, Default)]
pub(super) struct State {
    pending: String,
    last_text: String,
}

impl State {
    /// Ends the assistant message being streamed, showing its first line.
    pub(super) fn flush(&mut self, out: &mut Vec<AgentEvent>) {
        if self.pending.trim().is_empty() {
            self.pending.clear();
            return;
        }
        out.push(AgentEvent::Progress(short(&self.pending)));
        self.last_text = std::mem::take(&mut self.pending).trim().to_string();
    }
}

pub(super) fn feed(state: &mut State, v: &Value, cx: &mut Context, out: &mut Vec<AgentEvent>) {
    let kind = v.get("type").and_then(Value::as_str);
    if kind == Some("message") {
        if v.get("role").and_then(Value::as_str) == Some("assistant") {
            let text = v.get("content").and_then(Value::as_str).unwrap_or("");
            state.pending.push_str(text);
            if v.get("delta").and_then(Value::as_bool) != Some(true) {
                state.flush(out);
            }
        }
        return;
    }
    state.flush(out);
    match kind {
        Some("tool_use") => {
            let name = v.get("tool_name").and_then(Value::as_str).unwrap_or("tool");
            out.push(AgentEvent::Progress(
                cx.describe_tool(name, v.get("parameters")),
            ));
        }
        Some("tool_result") if v.get("status").and_then(Value::as_str) == Some("error") => {
            let why = str_at(v, &["error", "message"]).unwrap_or("tool failed");
            out.push(AgentEvent::Progress(format!("error: {}", short(why))));
        }
        Some("error") => {
            let why = v
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| str_at(v, &["error", "message"]))
                .unwrap_or("unknown error");
            out.push(AgentEvent::Progress(format!("error: {}", short(why))));
        }
        Some("result") => {
            if let Some(stats) = v.get("stats").filter(|s| s.is_object()) {
                let usage = Usage {
                    input_tokens: count(stats, "input_tokens"),
                    output_tokens: count(stats, "output_tokens"),
                    cost_usd: 0.0,
                    // Gemini's stats carry tokens only.
                    cost_unknown: true,
                };
                cx.set_usage(usage, out);
            }
            let is_error = v.get("status").and_then(Value::as_str) != Some("success");
            let summary = if is_error {
                readable(str_at(v, &["error", "message"]).unwrap_or("the run failed"))
            } else {
                state.last_text.clone()
            };
            out.push(AgentEvent::Final { summary, is_error });
        }
        _ => {}
    }
}

/// Gemini's API errors quote the API's JSON: `[API Error: {"error":{"code":401,"message":"API
/// key not valid. …","status":"UNAUTHENTICATED"}}]` reads `API key not valid. … (HTTP 401
/// UNAUTHENTICATED)` — the status still said, for telling an unavailable agent. Anything else
/// is kept as it is.
fn readable(message: &str) -> String {
    let quoted = message
        .strip_prefix("[API Error: ")
        .and_then(|m| m.strip_suffix(']'))
        .and_then(|m| serde_json::from_str::<Value>(m).ok());
    let Some(error) = quoted.as_ref().map(|q| &q["error"]) else {
        return message.to_string();
    };
    match (
        error["message"].as_str(),
        error["status"].as_str(),
        error["code"].as_u64(),
    ) {
        (Some(text), Some(status), Some(code)) => format!("{text} (HTTP {code} {status})"),
        (Some(text), _, Some(code)) => format!("{text} (HTTP {code})"),
        (Some(text), _, None) => text.to_string(),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::super::test_support::*;
    use crate::executors::presets::OutputFormat;

    const FORMAT: OutputFormat = OutputFormat::GeminiStreamJson;

    #[test]
    fn successful_run_reports_stats_and_the_streamed_text() {
        for (recording, repo) in [
            (fixture!("gemini/run1_stdout.jsonl"), "gemini-repo1"),
            (fixture!("gemini/run2_stdout.jsonl"), "gemini-repo2"),
        ] {
            let (events, parser) = replay(FORMAT, recording);
            let write = format!("write_file /home/dev/work/{repo}/hello.txt");
            assert_eq!(
                progress(&events),
                [write.as_str(), "Done: created hello.txt containing hi."]
            );
            assert_usage(parser.usage(), 3702, 168, None);
            assert_eq!(
                finals(&events),
                [("Done: created hello.txt containing hi.", false)]
            );
        }
    }

    #[test]
    fn http_400_is_an_error_result() {
        let (events, parser) = replay(FORMAT, fixture!("gemini/run4_http400_stdout.jsonl"));
        assert!(progress(&events).is_empty());
        assert_usage(parser.usage(), 0, 0, None);
        assert_eq!(
            finals(&events),
            [(
                "fake server: API key not valid (HTTP 400 INVALID_ARGUMENT)",
                true
            )]
        );
        // Bug: the run's reason quoted the JSON (the matrix's 401).
        assert_eq!(
            super::readable(
                r#"[API Error: {"error":{"code":401,"message":"API key not valid. Please pass a valid API key.","status":"UNAUTHENTICATED"}}]"#
            ),
            "API key not valid. Please pass a valid API key. (HTTP 401 UNAUTHENTICATED)"
        );
        assert_eq!(
            super::readable("[API Error: not json]"),
            "[API Error: not json]"
        );
    }

    #[test]
    fn endless_retries_leave_nothing_to_report() {
        let (events, parser) = replay(FORMAT, fixture!("gemini/run5_http500_stdout.jsonl"));
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(parser.usage(), None);
    }

    #[test]
    fn streamed_chunks_join_into_one_line_even_without_a_result() {
        let (events, _) = replay(
            FORMAT,
            concat!(
                r#"{"type":"message","role":"assistant","content":"Hel","delta":true}"#,
                "\n",
                r#"{"type":"message","role":"assistant","content":"lo\nmore","delta":true}"#,
                "\n",
                r#"{"type":"tool_result","tool_id":"x","status":"error","error":{"type":"t","message":"no such file"}}"#,
                "\n",
                r#"{"type":"message","role":"assistant","content":"cut off","delta":true}"#,
            ),
        );
        assert_eq!(
            progress(&events),
            ["Hello", "error: no such file", "cut off"]
        );
    }
}
