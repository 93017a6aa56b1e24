//! Parsers of agent output: each stdout line in, short progress texts, running token/cost
//! totals and the agent's final word out.
//!
//! One parser per [`OutputFormat`], built from the recorded runs in the shared
//! `fixtures/agents/` (each submodule's tests replay them). Parsers never fail: a line that is
//! not what the format promises is passed through as progress text, and a JSON event of an
//! unknown type is ignored, so a CLI upgrade degrades the display instead of the run.

mod aider;
mod claude;
mod codex;
mod gemini;
mod opencode;

use std::path::Path;

use serde_json::Value;

use super::presets::OutputFormat;
use crate::model::Usage;

/// Something worth telling the operator that an agent's output revealed.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// A short line of what the agent is doing ("Write hello.txt", "$ cargo test").
    Progress(String),
    /// The agent's token and cost totals so far (not an increment).
    Usage(Usage),
    /// The agent's final word: its closing message, or why it gave up.
    Final {
        /// The closing message, or the error.
        summary: String,
        /// Whether the agent reported failure (an API error, a budget stop, …).
        is_error: bool,
    },
}

/// State shared by every format: where relative paths start and the totals so far.
#[derive(Debug, Default)]
struct Context {
    /// The agent's working directory, to show `hello.txt` instead of an absolute path.
    root: Option<String>,
    usage: Option<Usage>,
}

impl Context {
    /// Records new totals and reports them.
    fn set_usage(&mut self, usage: Usage, out: &mut Vec<AgentEvent>) {
        self.usage = Some(usage);
        out.push(AgentEvent::Usage(usage));
    }

    /// `path` relative to the agent's working directory when it is inside it.
    fn rel(&self, path: &str) -> String {
        self.root
            .as_deref()
            .and_then(|root| Path::new(path).strip_prefix(root).ok())
            .filter(|rel| !rel.as_os_str().is_empty())
            .map_or_else(|| path.to_string(), |rel| rel.display().to_string())
    }

    /// "Tool argument": a tool call in a few words, e.g. `Write hello.txt`, `Bash cargo test`.
    fn describe_tool(&self, name: &str, input: Option<&Value>) -> String {
        const PATH_KEYS: [&str; 6] = [
            "file_path",
            "filePath",
            "path",
            "notebook_path",
            "absolute_path",
            "dir_path",
        ];
        const TEXT_KEYS: [&str; 5] = ["command", "pattern", "query", "url", "description"];
        let field = |key: &str| input.and_then(|i| i.get(key)).and_then(Value::as_str);
        let arg = PATH_KEYS
            .iter()
            .find_map(|k| field(k))
            .map(|p| self.rel(p))
            .or_else(|| TEXT_KEYS.iter().find_map(|k| field(k)).map(short));
        match arg {
            Some(arg) if !arg.is_empty() => short(&format!("{name} {arg}")),
            _ => name.to_string(),
        }
    }
}

#[derive(Debug)]
enum Format {
    Plain,
    Claude,
    Codex(codex::State),
    Gemini(gemini::State),
    Opencode(opencode::State),
    Aider(aider::State),
}

/// Reads one agent's stdout, line by line, in the agent's [`OutputFormat`].
#[derive(Debug)]
pub struct EventParser {
    format: Format,
    cx: Context,
}

impl EventParser {
    /// A parser for `format`, with no totals yet.
    pub fn new(format: OutputFormat) -> Self {
        let format = match format {
            OutputFormat::Plain => Format::Plain,
            OutputFormat::ClaudeStreamJson => Format::Claude,
            OutputFormat::CodexJson => Format::Codex(codex::State::default()),
            OutputFormat::GeminiStreamJson => Format::Gemini(gemini::State::default()),
            OutputFormat::OpencodeJson => Format::Opencode(opencode::State::default()),
            OutputFormat::AiderText => Format::Aider(aider::State::default()),
        };
        Self {
            format,
            cx: Context::default(),
        }
    }

    /// Shows paths under `root` (the agent's working directory) relative to it. Claude's
    /// own `init` event, when seen, takes precedence.
    pub fn with_root(mut self, root: &Path) -> Self {
        self.cx.root = Some(root.to_string_lossy().into_owned());
        self
    }

    /// The events one line of stdout (without its newline) carries.
    pub fn feed(&mut self, line: &str) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        let text = line.trim();
        if text.is_empty() {
            return out;
        }
        match &mut self.format {
            Format::Plain => {
                if text.chars().any(char::is_alphanumeric) {
                    // Output lines hold no newline: no need to look for one.
                    out.push(AgentEvent::Progress(clip(text)));
                }
            }
            Format::Aider(state) => aider::feed(state, text, &mut self.cx, &mut out),
            Format::Claude => feed_json(text, &mut out, |v, out| {
                claude::feed(v, &mut self.cx, out);
            }),
            Format::Codex(state) => feed_json(text, &mut out, |v, out| {
                codex::feed(state, v, &mut self.cx, out);
            }),
            Format::Gemini(state) => feed_json(text, &mut out, |v, out| {
                gemini::feed(state, v, &mut self.cx, out);
            }),
            Format::Opencode(state) => feed_json(text, &mut out, |v, out| {
                opencode::feed(state, v, &mut self.cx, out);
            }),
        }
        out
    }

    /// Events held back until the output ends (Gemini's streamed text before a crash).
    pub fn finish(&mut self) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        match &mut self.format {
            Format::Gemini(state) => state.flush(&mut out),
            Format::Aider(state) => state.flush(&mut out),
            Format::Plain | Format::Claude | Format::Codex(_) | Format::Opencode(_) => {}
        }
        out
    }

    /// Tokens and cost known so far (`None` until the agent reports any).
    pub fn usage(&self) -> Option<Usage> {
        self.cx.usage
    }
}

/// Parses `text` as a JSON object and hands it to `handle`; anything else is progress text.
fn feed_json(
    text: &str,
    out: &mut Vec<AgentEvent>,
    handle: impl FnOnce(&Value, &mut Vec<AgentEvent>),
) {
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.is_object() => handle(&value, out),
        Ok(_) => {}
        Err(_) => out.push(AgentEvent::Progress(clip(text))),
    }
}

/// Longest progress text, in bytes (cut at a character boundary). Bytes, not characters,
/// so that cutting costs nothing however long the line: a flood of output is parsed too.
const MAX_PROGRESS_BYTES: usize = 240;

/// The first non-blank line of `text`, trimmed and cut to [`MAX_PROGRESS_BYTES`].
fn short(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    clip(line)
}

/// `line` cut to [`MAX_PROGRESS_BYTES`], with `…` when cut.
fn clip(line: &str) -> String {
    if line.len() <= MAX_PROGRESS_BYTES {
        return line.to_string();
    }
    let cut = line.floor_char_boundary(MAX_PROGRESS_BYTES);
    format!("{}…", &line[..cut])
}

/// A string field at `path` (`["error", "message"]`).
fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, key| v.get(key))?.as_str()
}

/// A token count field (missing or malformed counts as 0).
fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// A cost field (missing counts as 0).
fn dollars(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// Reads a recorded agent output from `tests/fixtures/agents/` at compile time.
#[cfg(test)]
macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/agents/",
            $path
        ))
    };
}
#[cfg(test)]
use fixture;

#[cfg(test)]
mod test_support {
    use super::*;

    /// Feeds every line of `text` and the end of output; returns the events and the parser.
    pub(super) fn replay(format: OutputFormat, text: &str) -> (Vec<AgentEvent>, EventParser) {
        let mut parser = EventParser::new(format);
        let mut events: Vec<AgentEvent> = text.lines().flat_map(|l| parser.feed(l)).collect();
        events.extend(parser.finish());
        (events, parser)
    }

    pub(super) fn progress(events: &[AgentEvent]) -> Vec<&str> {
        events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Progress(p) => Some(p.as_str()),
                AgentEvent::Usage(_) | AgentEvent::Final { .. } => None,
            })
            .collect()
    }

    pub(super) fn finals(events: &[AgentEvent]) -> Vec<(&str, bool)> {
        events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Final { summary, is_error } => Some((summary.as_str(), *is_error)),
                AgentEvent::Progress(_) | AgentEvent::Usage(_) => None,
            })
            .collect()
    }

    /// Asserts usage totals, comparing dollars to a cent's millionth; `cost` None: the agent
    /// reported none (unknown, not free).
    #[track_caller]
    pub(super) fn assert_usage(usage: Option<Usage>, input: u64, output: u64, cost: Option<f64>) {
        let u = usage.expect("usage reported");
        assert_eq!((u.input_tokens, u.output_tokens), (input, output), "{u:?}");
        assert_eq!(u.cost_unknown, cost.is_none(), "{u:?} vs {cost:?}");
        let cost = cost.unwrap_or(0.0);
        assert!((u.cost_usd - cost).abs() < 1e-9, "{u:?} vs ${cost}");
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    /// Each recorded model failure of the real CLIs reads as an unavailable agent, of the
    /// right kind, from what the parser extracts (else the CLI's last stderr lines, as the
    /// runner keeps them).
    #[test]
    fn recorded_model_failures_read_as_an_unavailable_agent() {
        use crate::executors::Unavailable::{self, *};
        let cases: [(OutputFormat, &str, &str, Unavailable); 12] = [
            (
                OutputFormat::ClaudeStreamJson,
                fixture!("claude/run5b_http401_noretry_stdout.jsonl"),
                fixture!("claude/run5b_http401_noretry_stderr.txt"),
                Auth,
            ),
            (
                OutputFormat::ClaudeStreamJson,
                fixture!("claude/run6_http500_stdout.jsonl"),
                fixture!("claude/run6_http500_stderr.txt"),
                Outage,
            ),
            (
                OutputFormat::ClaudeStreamJson,
                fixture!("claude/run7_connrefused_stdout.jsonl"),
                fixture!("claude/run7_connrefused_stderr.txt"),
                Unreachable,
            ),
            (
                OutputFormat::CodexJson,
                fixture!("codex/run4_http500_stdout.jsonl"),
                fixture!("codex/run4_http500_stderr.txt"),
                Limited,
            ),
            (
                OutputFormat::CodexJson,
                fixture!("codex/run5_responsefailed_stdout.jsonl"),
                fixture!("codex/run5_responsefailed_stderr.txt"),
                Unreachable,
            ),
            (
                OutputFormat::GeminiStreamJson,
                fixture!("gemini/run4_http400_stdout.jsonl"),
                fixture!("gemini/run4_http400_stderr.txt"),
                Auth,
            ),
            (
                OutputFormat::GeminiStreamJson,
                fixture!("gemini/run5_http500_stdout.jsonl"),
                fixture!("gemini/run5_http500_stderr.txt"),
                Outage,
            ),
            (
                OutputFormat::OpencodeJson,
                fixture!("opencode/run3_http401_stdout.jsonl"),
                fixture!("opencode/run3_http401_stderr.txt"),
                Auth,
            ),
            (
                OutputFormat::OpencodeJson,
                fixture!("opencode/run4_http500_stdout.jsonl"),
                fixture!("opencode/run4_http500_stderr.txt"),
                Outage,
            ),
            (
                OutputFormat::AiderText,
                fixture!("aider/run3_http401_stdout.txt"),
                fixture!("aider/run3_http401_stderr.txt"),
                Auth,
            ),
            (
                OutputFormat::AiderText,
                fixture!("aider/run4_http500_stdout.txt"),
                fixture!("aider/run4_http500_stderr.txt"),
                Outage,
            ),
            (
                OutputFormat::AiderText,
                fixture!("aider/run5_http429_stdout.txt"),
                fixture!("aider/run5_http429_stderr.txt"),
                Limited,
            ),
        ];
        for (i, (format, stdout, stderr, want)) in cases.into_iter().enumerate() {
            // As the runner reads them: what the output's end releases included.
            let (mut events, mut parser) = replay(format, stdout);
            events.extend(parser.finish());
            let said = finals(&events)
                .into_iter()
                .rev()
                .find(|(_, is_error)| *is_error)
                .map(|(s, _)| s.to_string())
                .unwrap_or_default();
            let last: Vec<&str> = stdout.lines().chain(stderr.lines()).rev().take(2).collect();
            assert_eq!(
                crate::executors::unavailable::classify_output(&said, &last.join("\n")),
                Some(want),
                "case {i}: {said:?}"
            );
        }
    }

    #[test]
    fn short_takes_the_first_line_and_caps_it() {
        assert_eq!(short("\n  first  \nsecond"), "first");
        let long = "é".repeat(300);
        let cut = short(&long);
        assert_eq!(cut, format!("{}…", "é".repeat(MAX_PROGRESS_BYTES / 2)));
        let odd = format!("x{long}");
        assert_eq!(
            clip(&odd),
            format!("x{}…", "é".repeat(MAX_PROGRESS_BYTES / 2 - 1))
        );
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn plain_lines_are_progress_and_carry_no_usage() {
        let (events, parser) = replay(OutputFormat::Plain, "working…\n\n  ----  \n done \n");
        assert_eq!(progress(&events), ["working…", "done"]);
        assert_eq!(parser.usage(), None);
    }

    /// Garbage in a JSON format never panics: non-JSON text is progress, other JSON ignored.
    #[test]
    fn json_formats_survive_anything() {
        let junk = "not json at all\n[1,2]\n\"str\"\n{\"type\":42}\n{\"type\":\"result\"}\n{\"type\":\"turn.completed\",\"usage\":null}\n{\"type\":\"item.completed\"}\n{\"type\":\"step_finish\",\"part\":7}\n{\"type\":\"tool_use\"}\n{\"type\":\"message\",\"role\":\"assistant\",\"content\":5}\n{truncated";
        for format in [
            OutputFormat::ClaudeStreamJson,
            OutputFormat::CodexJson,
            OutputFormat::GeminiStreamJson,
            OutputFormat::OpencodeJson,
            OutputFormat::AiderText,
        ] {
            let (events, _) = replay(format, junk);
            let p = progress(&events);
            assert_eq!(p.first(), Some(&"not json at all"), "{format:?}");
            assert!(p.contains(&"{truncated"), "{format:?}: {p:?}");
        }
    }

    #[test]
    fn tools_are_described_relative_to_the_root() {
        let cx = Context {
            root: Some("/w/repo".to_string()),
            usage: None,
        };
        let input = serde_json::json!({"file_path": "/w/repo/src/main.rs"});
        assert_eq!(cx.describe_tool("Edit", Some(&input)), "Edit src/main.rs");
        let input = serde_json::json!({"file_path": "/elsewhere/x"});
        assert_eq!(cx.describe_tool("Read", Some(&input)), "Read /elsewhere/x");
        let input = serde_json::json!({"command": "cargo test\n--all"});
        assert_eq!(cx.describe_tool("Bash", Some(&input)), "Bash cargo test");
        assert_eq!(cx.describe_tool("TodoWrite", None), "TodoWrite");
    }
}
