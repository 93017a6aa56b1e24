//! Codex `exec --json`.
//!
//! Events: `thread.started`, `turn.started`, `item.started` / `item.completed` (items
//! `agent_message`, `reasoning`, `command_execution`, `file_change`, `error`),
//! `turn.completed` (with the turn's token usage, summed over its model calls; no cost),
//! `turn.failed` and `error` (also the endless "Reconnecting..." of a refused connection).

use serde_json::Value;

use super::{AgentEvent, Context, count, short, str_at};
use crate::model::Usage;

/// What a Codex run has said so far.
#[derive(Debug, Default)]
pub(super) struct State {
    /// The last `agent_message`: the summary when the turn completes.
    last_message: Option<String>,
}

pub(super) fn feed(state: &mut State, v: &Value, cx: &mut Context, out: &mut Vec<AgentEvent>) {
    match v.get("type").and_then(Value::as_str) {
        Some("item.completed") => {
            if let Some(item) = v.get("item") {
                item_completed(state, item, cx, out);
            }
        }
        Some("turn.completed") => {
            if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                // `input_tokens` already includes `cached_input_tokens`, and
                // `output_tokens` includes `reasoning_output_tokens` (OpenAI's convention).
                let before = cx.usage.unwrap_or_default();
                let total = Usage {
                    input_tokens: before.input_tokens + count(u, "input_tokens"),
                    output_tokens: before.output_tokens + count(u, "output_tokens"),
                    cost_usd: before.cost_usd,
                    // Codex reports tokens only.
                    cost_unknown: true,
                };
                cx.set_usage(total, out);
            }
            out.push(AgentEvent::Final {
                summary: state.last_message.clone().unwrap_or_default(),
                is_error: false,
            });
        }
        Some("turn.failed") => {
            let summary = str_at(v, &["error", "message"])
                .unwrap_or("the turn failed")
                .to_string();
            out.push(AgentEvent::Final {
                summary,
                is_error: true,
            });
        }
        Some("error") => {
            let message = v.get("message").and_then(Value::as_str).unwrap_or("");
            out.push(AgentEvent::Progress(format!("error: {}", short(message))));
        }
        _ => {}
    }
}

fn item_completed(state: &mut State, item: &Value, cx: &Context, out: &mut Vec<AgentEvent>) {
    let text = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or("");
    let progress = match item.get("type").and_then(Value::as_str) {
        Some("agent_message") => {
            state.last_message = Some(text("text").trim().to_string());
            short(text("text"))
        }
        Some("reasoning") => short(&text("text").replace("**", "")),
        Some("command_execution") => {
            let command = short(&unwrap_shell(text("command")));
            match item.get("exit_code").and_then(Value::as_i64) {
                Some(code) if code != 0 => format!("$ {command} (exit {code})"),
                _ => format!("$ {command}"),
            }
        }
        Some("file_change") => {
            let paths: Vec<String> = item
                .get("changes")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .filter_map(|c| c.get("path").and_then(Value::as_str))
                .map(|p| cx.rel(p))
                .collect();
            short(&format!("edited {}", paths.join(", ")))
        }
        Some("error") => format!("error: {}", short(text("message"))),
        _ => String::new(),
    };
    if !progress.is_empty() {
        out.push(AgentEvent::Progress(progress));
    }
}

/// The script inside Codex's `/bin/bash -lc "…"` wrapper, unquoted.
fn unwrap_shell(command: &str) -> String {
    const WRAPPERS: [&str; 6] = [
        "/bin/bash -lc ",
        "/bin/bash -c ",
        "bash -lc ",
        "bash -c ",
        "/bin/sh -c ",
        "sh -c ",
    ];
    let Some(script) = WRAPPERS.iter().find_map(|w| command.strip_prefix(w)) else {
        return command.to_string();
    };
    if let Some(inner) = script.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('\\' | '"' | '$' | '`')) => out.push(e),
                    Some(other) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => out.push('\\'),
                },
                _ => out.push(c),
            }
        }
        out
    } else if let Some(inner) = script.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        inner.replace("'\\''", "'")
    } else {
        script.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{EventParser, fixture};
    use super::*;
    use crate::executors::presets::OutputFormat;

    const FORMAT: OutputFormat = OutputFormat::CodexJson;

    #[test]
    fn command_run_shows_the_unwrapped_command_and_turn_totals() {
        let (events, parser) = replay(FORMAT, fixture!("codex/run1_stdout.jsonl"));
        assert_eq!(
            progress(&events),
            [
                "error: Model metadata for `test-model` not found. Defaulting to fallback metadata; this can degrade performance and cause issues.",
                "$ printf 'hi\\n' > hello.txt",
                "Done: created hello.txt containing hi.",
            ]
        );
        // No cost anywhere in Codex's events.
        assert_usage(parser.usage(), 2468, 112, None);
        assert_eq!(
            finals(&events),
            [("Done: created hello.txt containing hi.", false)]
        );
    }

    #[test]
    fn patch_run_shows_edited_files() {
        let (events, parser) = replay(FORMAT, fixture!("codex/run2_stdout.jsonl"));
        let root = "/home/dev/work/codex-repo2";
        assert_eq!(
            progress(&events),
            [
                format!("edited {root}/hello.txt").as_str(),
                "Done: created hello.txt containing hi."
            ]
        );
        assert_usage(parser.usage(), 2468, 112, None);

        let mut parser = EventParser::new(FORMAT).with_root(std::path::Path::new(root));
        let events: Vec<_> = fixture!("codex/run2_stdout.jsonl")
            .lines()
            .flat_map(|l| parser.feed(l))
            .collect();
        assert_eq!(progress(&events)[0], "edited hello.txt");
    }

    #[test]
    fn reasoning_is_shown_without_markdown() {
        let (events, _) = replay(FORMAT, fixture!("codex/run3_reasoning_stdout.jsonl"));
        assert_eq!(progress(&events)[0], "Planning file creation");
    }

    #[test]
    fn http_500_fails_the_turn() {
        let (events, parser) = replay(FORMAT, fixture!("codex/run4_http500_stdout.jsonl"));
        let message = "We’re currently experiencing high demand, which may cause temporary errors.";
        assert_eq!(progress(&events)[1], format!("error: {message}"));
        assert_eq!(finals(&events), [(message, true)]);
        assert_eq!(parser.usage(), None);
    }

    #[test]
    fn failed_response_fails_the_turn() {
        let (events, _) = replay(FORMAT, fixture!("codex/run5_responsefailed_stdout.jsonl"));
        assert_eq!(
            finals(&events),
            [(
                "stream disconnected before completion: fake server: the model failed",
                true
            )]
        );
    }

    #[test]
    fn refused_connection_only_reconnects() {
        let (events, parser) = replay(FORMAT, fixture!("codex/run6_connrefused_stdout.jsonl"));
        let p = progress(&events);
        assert_eq!(p.len(), 5);
        assert!(
            p.iter()
                .all(|l| l.starts_with("error: Reconnecting... waiting for network"))
        );
        assert!(finals(&events).is_empty());
        assert_eq!(parser.usage(), None);
    }

    #[test]
    fn websocket_fallback_then_success() {
        let (events, parser) = replay(
            FORMAT,
            fixture!("codex/run9_openai_base_url_config_stdout.jsonl"),
        );
        let p = progress(&events);
        assert!(p[0].starts_with("error: Reconnecting... 2/5"), "{p:?}");
        assert!(p.contains(&"Planning file creation"));
        assert_usage(parser.usage(), 2468, 112, None);
        assert_eq!(
            finals(&events),
            [("Done: created hello.txt containing hi.", false)]
        );
    }

    #[test]
    fn turns_add_up() {
        let turn = r#"{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":40,"output_tokens":7}}"#;
        let mut parser = EventParser::new(FORMAT);
        parser.feed(turn);
        let events = parser.feed(turn);
        assert_usage(parser.usage(), 200, 14, None);
        assert!(matches!(events[0], AgentEvent::Usage(u) if u.input_tokens == 200));
    }

    #[test]
    fn shell_wrappers_are_removed() {
        assert_eq!(
            unwrap_shell(r#"/bin/bash -lc "echo \"a\" \$HOME \\n""#),
            r#"echo "a" $HOME \n"#
        );
        assert_eq!(unwrap_shell("bash -lc 'it'\\''s'"), "it's");
        assert_eq!(unwrap_shell("bash -lc ls"), "ls");
        assert_eq!(unwrap_shell("cargo test"), "cargo test");
    }
}
