//! Claude Code `--output-format stream-json --verbose` (and Cursor's agent, whose stream-json
//! is documented as the same shapes).
//!
//! Events: `system` (`init`, `api_retry`, `status`), `assistant`, `user`, `stream_event`
//! (partial messages, ignored) and one closing `result`. Totals come from `result` only: the
//! `usage` inside each `assistant` message is a snapshot taken at the start of the message
//! (`output_tokens: 1`), so summing those under-counts output.

use serde_json::Value;

use super::{AgentEvent, Context, count, dollars, short, str_at};
use crate::model::Usage;

pub(super) fn feed(v: &Value, cx: &mut Context, out: &mut Vec<AgentEvent>) {
    match v.get("type").and_then(Value::as_str) {
        Some("system") => system(v, cx, out),
        Some("assistant") => assistant(v, cx, out),
        Some("user") => user(v, out),
        Some("result") => result(v, cx, out),
        Some("tool_call") => cursor_tool_call(v, cx, out),
        _ => {}
    }
}

fn system(v: &Value, cx: &mut Context, out: &mut Vec<AgentEvent>) {
    match v.get("subtype").and_then(Value::as_str) {
        Some("init") => {
            if let Some(cwd) = v.get("cwd").and_then(Value::as_str) {
                cx.root = Some(cwd.to_string());
            }
        }
        Some("api_retry") => {
            let attempt = count(v, "attempt");
            let max = count(v, "max_retries");
            let error = v.get("error").and_then(Value::as_str).unwrap_or("unknown");
            out.push(AgentEvent::Progress(format!(
                "retrying API call (attempt {attempt}/{max}): {error}"
            )));
        }
        _ => {}
    }
}

fn content(v: &Value) -> &[Value] {
    v.get("message")
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn assistant(v: &Value, cx: &Context, out: &mut Vec<AgentEvent>) {
    // API failures arrive as a synthetic assistant message with a top-level `error`.
    let failed = v.get("error").is_some();
    for item in content(v) {
        match item.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = short(item.get("text").and_then(Value::as_str).unwrap_or(""));
                if text.is_empty() {
                    continue;
                }
                out.push(AgentEvent::Progress(if failed {
                    format!("error: {text}")
                } else {
                    text
                }));
            }
            Some("tool_use") => {
                let name = item.get("name").and_then(Value::as_str).unwrap_or("tool");
                out.push(AgentEvent::Progress(
                    cx.describe_tool(name, item.get("input")),
                ));
            }
            _ => {}
        }
    }
}

/// Tool results are only news when they failed (a refused permission, a bad edit).
fn user(v: &Value, out: &mut Vec<AgentEvent>) {
    for item in content(v) {
        let is_failed_result = item.get("type").and_then(Value::as_str) == Some("tool_result")
            && item.get("is_error").and_then(Value::as_bool) == Some(true);
        if !is_failed_result {
            continue;
        }
        let text = match item.get("content") {
            Some(Value::String(s)) => short(s),
            Some(Value::Array(parts)) => parts
                .iter()
                .find_map(|p| p.get("text").and_then(Value::as_str))
                .map(short)
                .unwrap_or_default(),
            _ => String::new(),
        };
        out.push(AgentEvent::Progress(format!("error: {text}")));
    }
}

fn result(v: &Value, cx: &mut Context, out: &mut Vec<AgentEvent>) {
    if let Some(usage) = result_usage(v) {
        cx.set_usage(usage, out);
    }
    for denial in v
        .get("permission_denials")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let tool = denial
            .get("tool_name")
            .and_then(Value::as_str)
            .unwrap_or("tool");
        let call = cx.describe_tool(tool, denial.get("tool_input"));
        out.push(AgentEvent::Progress(format!("permission denied: {call}")));
    }
    // `subtype` says "success" even for API errors; `is_error` is the truth (NOTES).
    let is_error = v.get("is_error").and_then(Value::as_bool).unwrap_or(false);
    let text = v.get("result").and_then(Value::as_str).unwrap_or("").trim();
    let summary = if is_error && text.is_empty() {
        let errors: Vec<&str> = v
            .get("errors")
            .and_then(Value::as_array)
            .map(|e| e.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if errors.is_empty() {
            v.get("subtype")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_string()
        } else {
            errors.join("; ")
        }
    } else {
        text.to_string()
    };
    out.push(AgentEvent::Final { summary, is_error });
}

/// The run's totals from a `result` event. `modelUsage` (per model) is preferred: when a
/// budget stop ends the run, `usage` is all zeros while `modelUsage` still has the tokens the
/// reported cost was computed from (run8). Input counts cache reads and writes too, so it
/// means "prompt tokens processed" as it does for the other agents.
fn result_usage(v: &Value) -> Option<Usage> {
    let cost = v.get("total_cost_usd").and_then(Value::as_f64);
    let per_model = v
        .get("modelUsage")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty());
    let (input_tokens, output_tokens) = if let Some(models) = per_model {
        models.values().fold((0, 0), |(i, o), m| {
            (
                i + count(m, "inputTokens")
                    + count(m, "cacheReadInputTokens")
                    + count(m, "cacheCreationInputTokens"),
                o + count(m, "outputTokens"),
            )
        })
    } else if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        (
            count(u, "input_tokens")
                + count(u, "cache_read_input_tokens")
                + count(u, "cache_creation_input_tokens"),
            count(u, "output_tokens"),
        )
    } else if cost.is_some() {
        (0, 0)
    } else {
        return None;
    };
    let model_cost = per_model.filter(|m| m.values().any(|m| m.get("costUSD").is_some()));
    let cost_usd = cost.unwrap_or_else(|| {
        model_cost.map_or(0.0, |m| m.values().map(|m| dollars(m, "costUSD")).sum())
    });
    Some(Usage {
        input_tokens,
        output_tokens,
        cost_usd,
        cost_unknown: cost.is_none() && model_cost.is_none(),
    })
}

/// Cursor's `tool_call` events (`{"subtype":"started","tool_call":{"writeToolCall":{"args":
/// {…}}}}`), from Cursor's documentation only: no recording exists, so this is unverified.
fn cursor_tool_call(v: &Value, cx: &Context, out: &mut Vec<AgentEvent>) {
    if str_at(v, &["subtype"]) != Some("started") {
        return;
    }
    let Some((key, call)) = v
        .get("tool_call")
        .and_then(Value::as_object)
        .and_then(|o| o.iter().next())
    else {
        return;
    };
    let name = key.strip_suffix("ToolCall").unwrap_or(key);
    out.push(AgentEvent::Progress(
        cx.describe_tool(name, call.get("args")),
    ));
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{EventParser, fixture};
    use crate::executors::presets::OutputFormat;

    const FORMAT: OutputFormat = OutputFormat::ClaudeStreamJson;

    #[test]
    fn successful_run_reports_the_result_totals_not_the_message_snapshots() {
        let (events, parser) = replay(FORMAT, fixture!("claude/run1_stdout.jsonl"));
        assert_eq!(
            progress(&events),
            ["Write hello.txt", "Done: created hello.txt containing hi."]
        );
        assert_usage(parser.usage(), 2468, 112, Some(0.01514));
        assert_eq!(
            finals(&events),
            [("Done: created hello.txt containing hi.", false)]
        );
    }

    #[test]
    fn partial_messages_add_nothing_but_the_same_progress() {
        let (events, parser) = replay(FORMAT, fixture!("claude/run2_partial_stdout.jsonl"));
        assert_eq!(
            progress(&events),
            ["Write hello.txt", "Done: created hello.txt containing hi."]
        );
        assert_usage(parser.usage(), 2468, 112, Some(0.01514));
        assert_eq!(finals(&events).len(), 1);
    }

    #[test]
    fn single_json_result_is_read_too() {
        let (events, parser) = replay(FORMAT, fixture!("claude/run3_json_stdout.json"));
        assert_usage(parser.usage(), 2468, 112, Some(0.01514));
        assert_eq!(
            finals(&events),
            [("Done: created hello.txt containing hi.", false)]
        );
    }

    #[test]
    fn refused_write_shows_as_error_and_denial() {
        let (events, _) = replay(
            FORMAT,
            fixture!("claude/run4_permission_denied_stdout.jsonl"),
        );
        let p = progress(&events);
        assert!(
            p.contains(&"error: Claude requested permissions to write to /home/dev/work/claude-repo4/hello.txt, but you haven't granted it yet."),
            "{p:?}"
        );
        assert!(p.contains(&"permission denied: Write hello.txt"), "{p:?}");
        // The agent itself claims success; the missing change is for the gates to notice.
        assert!(!finals(&events)[0].1);
    }

    #[test]
    fn retries_are_progress_and_a_killed_run_has_no_totals() {
        let (events, parser) = replay(
            FORMAT,
            fixture!("claude/run5_http401_default_retries_TIMEDOUT_stdout.jsonl"),
        );
        let p = progress(&events);
        assert_eq!(p.len(), 9);
        assert_eq!(
            p[0],
            "retrying API call (attempt 1/10): authentication_failed"
        );
        assert_eq!(
            p[8],
            "retrying API call (attempt 9/10): authentication_failed"
        );
        assert_eq!(parser.usage(), None);
        assert!(finals(&events).is_empty());
    }

    #[test]
    fn http_401_is_an_error_result() {
        let (events, parser) = replay(
            FORMAT,
            fixture!("claude/run5b_http401_noretry_stdout.jsonl"),
        );
        assert_eq!(
            progress(&events),
            ["error: Invalid API key · Fix external API key"]
        );
        assert_usage(parser.usage(), 0, 0, Some(0.0));
        assert_eq!(
            finals(&events),
            [("Invalid API key · Fix external API key", true)]
        );
    }

    #[test]
    fn http_500_is_an_error_result_after_a_retry() {
        let (events, _) = replay(FORMAT, fixture!("claude/run6_http500_stdout.jsonl"));
        let p = progress(&events);
        assert_eq!(p[0], "retrying API call (attempt 1/1): server_error");
        assert!(p[1].starts_with("error: API Error: 500 fake server: internal error."));
        let f = finals(&events);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].0
                .starts_with("API Error: 500 fake server: internal error.")
        );
        assert!(f[0].1);
    }

    #[test]
    fn refused_connection_is_an_error_result() {
        let (events, _) = replay(FORMAT, fixture!("claude/run7_connrefused_stdout.jsonl"));
        assert_eq!(
            progress(&events)[0],
            "retrying API call (attempt 1/1): unknown"
        );
        assert_eq!(
            finals(&events),
            [(
                "API Error: Unable to connect to API (ConnectionRefused)",
                true
            )]
        );
    }

    #[test]
    fn budget_stop_reports_its_errors_and_the_per_model_tokens() {
        let (events, parser) = replay(FORMAT, fixture!("claude/run8_max_budget_stdout.jsonl"));
        assert_usage(parser.usage(), 1234, 56, Some(0.00757));
        assert_eq!(finals(&events), [("Reached maximum budget ($0.001)", true)]);
    }

    #[test]
    fn bypass_mode_run_reads_like_any_other() {
        let (events, parser) = replay(
            FORMAT,
            fixture!("claude/run12_skip_permissions_root_IS_SANDBOX_stdout.jsonl"),
        );
        assert_eq!(progress(&events)[0], "Write hello.txt");
        assert_usage(parser.usage(), 2468, 112, Some(0.01514));
    }

    /// Cursor's documented (unrecorded) shapes: tool calls and a result without usage.
    #[test]
    fn cursor_events_are_understood() {
        let mut parser = EventParser::new(FORMAT).with_root(std::path::Path::new("/w"));
        let events: Vec<_> = [
            r#"{"type":"tool_call","subtype":"started","call_id":"c1","tool_call":{"writeToolCall":{"args":{"path":"/w/a.txt","fileText":"x"}}}}"#,
            r#"{"type":"tool_call","subtype":"completed","call_id":"c1","tool_call":{"writeToolCall":{"args":{"path":"/w/a.txt"},"result":{"success":{}}}}}"#,
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Wrote a.txt"}]}}"#,
            r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":10,"result":"Wrote a.txt","session_id":"s"}"#,
        ]
        .iter()
        .flat_map(|l| parser.feed(l))
        .collect();
        assert_eq!(progress(&events), ["write a.txt", "Wrote a.txt"]);
        assert_eq!(finals(&events), [("Wrote a.txt", false)]);
        assert_eq!(parser.usage(), None);
    }
}
