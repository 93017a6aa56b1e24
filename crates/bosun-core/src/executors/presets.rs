//! Presets: the argv, environment and output format of the agent CLIs bosun knows, and the
//! placeholder expansion that turns an argv template into the argv of one run.
//!
//! Every flag here was checked against the recordings in `tests/fixtures/agents/`
//! (help texts, `command.sh`, and runs against a local model server); the doc comment of
//! [`Preset::argv`] names the evidence for each. Cursor's agent has no recording and is marked
//! unverified.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::config::values::Preset;

impl Preset {
    /// Every preset, in the order they are documented.
    pub const ALL: [Preset; 6] = [
        Self::Claude,
        Self::Codex,
        Self::Aider,
        Self::Gemini,
        Self::Cursor,
        Self::Opencode,
    ];

    /// The lowercase name used in `bosun.toml` (`preset = "claude"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Claude => "claude",
            Self::Codex => "codex",
            Self::Aider => "aider",
            Self::Gemini => "gemini",
            Self::Cursor => "cursor",
            Self::Opencode => "opencode",
        }
    }

    /// The program the preset runs (looked up on PATH).
    pub fn program(self) -> &'static str {
        match self {
            Self::Claude => "claude",
            Self::Codex => "codex",
            Self::Aider => "aider",
            Self::Gemini => "gemini",
            Self::Cursor => "cursor-agent",
            Self::Opencode => "opencode",
        }
    }

    /// The default argv template (placeholders expanded by [`expand`]). Each runs one prompt
    /// non-interactively, lets the agent edit files in the worktree without asking, and asks
    /// for machine-readable events where the CLI has them:
    ///
    /// - Claude: `-p` (print mode), `--output-format stream-json --verbose` (stream-json is
    ///   rejected without `--verbose`: run9), `--permission-mode acceptEdits` (the safest mode
    ///   that still writes files: run1; `default` refuses the write in `-p` mode: run4).
    /// - Codex: `exec --json` (JSONL events), `--sandbox workspace-write` (exec never asks;
    ///   this is the narrowest sandbox that still edits: run1–3; inside bosun's own sandbox it
    ///   becomes `danger-full-access`, see [`Preset::within_sandbox`]), `--skip-git-repo-check`
    ///   (run1), `-C {worktree}` (run7), the prompt as the positional argument.
    /// - Aider: `--message` (one message, then exit), `--yes-always`, `--no-auto-commits` and
    ///   `--no-dirty-commits` (bosun makes the commit), `--no-gitignore` (else aider appends
    ///   `.aider*` to `.gitignore`: run1), `--no-pretty`, `--no-stream` (token counts then come
    ///   from the server instead of aider's estimate: run2), `--no-check-update`,
    ///   `--no-show-release-notes`, `--no-show-model-warnings` (for a model it has no
    ///   metadata for, the warning asks to open its documentation, which `--yes-always`
    ///   answers yes: the matrix's run3), `--no-analytics` (per run; `--analytics-disable`
    ///   would write a permanent setting) with `--analytics-log /dev/stdout`: the events are
    ///   still logged, and their `message_send` has the exact token counts the text rounds
    ///   ("1.2k"; NOTES).
    /// - Gemini: `-p` (a positional query starts interactive mode), `--output-format
    ///   stream-json`, `--approval-mode auto_edit` (edit tools only), `--skip-trust` (else an
    ///   untrusted folder forces the approval mode back to `default`: run0).
    /// - Cursor: `-p --output-format stream-json`, from Cursor's documentation only — there is
    ///   no recording, so this template is UNVERIFIED. The docs say print mode edits files in
    ///   the workspace without `--force` and that stream-json mirrors Claude Code's events.
    /// - OpenCode: `run --format json` (JSONL events), `--dir {worktree}` (run2); the default
    ///   permissions let it edit (run1), and `--auto` is not used because it approves everything.
    pub fn argv(self) -> Vec<String> {
        let words: &[&str] = match self {
            Self::Claude => &[
                "claude",
                "-p",
                "{prompt}",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "acceptEdits",
            ],
            Self::Codex => &[
                "codex",
                "exec",
                "--json",
                "--sandbox",
                "workspace-write",
                "--skip-git-repo-check",
                "-C",
                "{worktree}",
                "{prompt}",
            ],
            Self::Aider => &[
                "aider",
                "--message",
                "{prompt}",
                "--yes-always",
                "--no-auto-commits",
                "--no-dirty-commits",
                "--no-gitignore",
                "--no-pretty",
                "--no-stream",
                "--no-check-update",
                "--no-show-release-notes",
                "--no-show-model-warnings",
                "--no-analytics",
                "--analytics-log",
                "/dev/stdout",
            ],
            Self::Gemini => &[
                "gemini",
                "-p",
                "{prompt}",
                "--output-format",
                "stream-json",
                "--approval-mode",
                "auto_edit",
                "--skip-trust",
            ],
            Self::Cursor => &[
                "cursor-agent",
                "-p",
                "{prompt}",
                "--output-format",
                "stream-json",
            ],
            Self::Opencode => &[
                "opencode",
                "run",
                "--format",
                "json",
                "--dir",
                "{worktree}",
                "{prompt}",
            ],
        };
        words.iter().map(|w| (*w).to_string()).collect()
    }

    /// How the preset's stdout is parsed.
    pub fn output_format(self) -> OutputFormat {
        match self {
            // Cursor documents its stream-json as Claude Code's event shapes (unverified).
            Self::Claude | Self::Cursor => OutputFormat::ClaudeStreamJson,
            Self::Codex => OutputFormat::CodexJson,
            Self::Aider => OutputFormat::AiderText,
            Self::Gemini => OutputFormat::GeminiStreamJson,
            Self::Opencode => OutputFormat::OpencodeJson,
        }
    }

    /// Environment the preset needs on top of the scrubbed environment:
    ///
    /// - Claude: `CLAUDE_CODE_MAX_RETRIES=2` — by default it retries even a 401 ten times with
    ///   backoff up to ~38 s (run5 was still retrying after 120 s); bosun retries runs itself.
    ///   `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1` as in every recorded run (no extra
    ///   requests beyond the work itself).
    /// - Aider: `LITELLM_LOCAL_MODEL_COST_MAP=True` — without it every run first tries to
    ///   download litellm's price list (run1 printed the failed download); `COLUMNS=4096` —
    ///   writing to a pipe it wraps at 80 columns, which split its error and progress lines
    ///   in two (run3; the matrix's run with a wide `COLUMNS` printed them whole).
    /// - OpenCode: `OPENCODE_DISABLE_AUTOUPDATE=1`, as in the recorded runs: no self-update in
    ///   the middle of unattended work. Its private `TMPDIR` is made by the runner.
    pub fn env(self) -> Vec<(String, String)> {
        let pairs: &[(&str, &str)] = match self {
            Self::Claude => &[
                ("CLAUDE_CODE_MAX_RETRIES", "2"),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ],
            Self::Aider => &[
                ("LITELLM_LOCAL_MODEL_COST_MAP", "True"),
                ("COLUMNS", "4096"),
            ],
            Self::Opencode => &[("OPENCODE_DISABLE_AUTOUPDATE", "1")],
            Self::Codex | Self::Gemini | Self::Cursor => &[],
        };
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }
}

impl Preset {
    /// Whether the CLI's output says what a run cost (the recordings: codex and gemini give
    /// tokens only; aider gives a cost when it knows the model's prices, claude and opencode
    /// always). Cursor is unrecorded and documented as Claude Code's format.
    pub fn reports_cost(self) -> bool {
        !matches!(self, Self::Codex | Self::Gemini)
    }

    /// Files the CLI leaves in the checkout that are its own bookkeeping, not the work (git
    /// patterns): ignored in the run's private repository, so they never reach the change —
    /// nor make a run that changed nothing look like one that did. From the recordings'
    /// NOTES (aider: `.aider.chat.history.md`, `.aider.input.history`,
    /// `.aider.tags.cache.v4/`).
    pub fn scratch(self) -> &'static [&'static str] {
        match self {
            Self::Aider => &[".aider*"],
            _ => &[],
        }
    }

    /// Where the CLI keeps its own state (sessions, settings, caches), which the sandbox lets
    /// it write besides the run's checkout (`~` is the home directory). From where the
    /// recorded runs (`tests/fixtures/agents/*/command.sh`, `NOTES.md`) kept theirs.
    pub fn writable(self) -> Vec<String> {
        let paths: &[&str] = match self {
            Self::Claude => &["~/.claude", "~/.claude.json", "~/.claude.json.backup"],
            Self::Codex => &["~/.codex"],
            Self::Gemini => &["~/.gemini"],
            // It also installs its provider packages: into ~/.cache/opencode, through
            // npm's cache (the matrix, with a fresh HOME).
            Self::Opencode => &[
                "~/.local/share/opencode",
                "~/.local/state/opencode",
                "~/.config/opencode",
                "~/.cache/opencode",
                "~/.npm",
            ],
            Self::Aider => &["~/.aider"],
            Self::Cursor => &["~/.cursor"],
        };
        paths.iter().map(|p| (*p).to_string()).collect()
    }
}

impl Preset {
    /// `argv` (the preset's, or the operator's own command) as it must run inside bosun's
    /// sandbox: codex's own `--sandbox workspace-write` sets up bubblewrap, whose mounts a
    /// Landlock-confined process may not make (and nesting namespaces is refused too), so
    /// every write failed ("Failed to write file", exit 0, nothing changed: the real-CLI
    /// matrix). Inside bosun's sandbox, which already allows writes only to the checkout,
    /// codex is told not to make its own (`danger-full-access`); outside it, codex's stays.
    pub fn within_sandbox(self, mut argv: Vec<String>) -> Vec<String> {
        if self == Self::Codex
            && let Some(i) = argv.iter().position(|a| a == "--sandbox" || a == "-s")
            && let Some(mode) = argv.get_mut(i + 1)
            && mode == "workspace-write"
        {
            *mode = "danger-full-access".to_string();
        }
        argv
    }

    /// The CLI's state directories (its [`Preset::writable`] paths but its files): made
    /// before the run when missing, as the sandbox can let it write only beneath what exists
    /// — with a fresh HOME, opencode failed to `mkdir ~/.local` (the matrix).
    pub fn state_dirs(self) -> Vec<String> {
        self.writable()
            .into_iter()
            .filter(|p| !p.ends_with(".json") && !p.ends_with(".backup"))
            .collect()
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Preset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "unknown preset `{s}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// How an agent's stdout is read for progress, usage and a final summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// Plain text: every non-blank line is progress; no usage.
    #[default]
    Plain,
    /// Claude Code `--output-format stream-json --verbose` (also Cursor's agent).
    ClaudeStreamJson,
    /// Codex `exec --json`.
    CodexJson,
    /// Gemini CLI `--output-format stream-json`.
    GeminiStreamJson,
    /// OpenCode `run --format json`.
    OpencodeJson,
    /// Aider's text output, with its `Tokens: … Cost: …` lines.
    AiderText,
}

/// The values substituted into an argv template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placeholders {
    /// `{prompt}`: the whole prompt text.
    pub prompt: String,
    /// `{prompt_file}`: a file holding the prompt.
    pub prompt_file: PathBuf,
    /// `{worktree}`: the run's worktree.
    pub worktree: PathBuf,
    /// `{task_id}`: the task's id.
    pub task_id: String,
    /// `{run_id}`: the run's id.
    pub run_id: String,
}

impl Placeholders {
    fn value(&self, name: &str) -> Option<String> {
        match name {
            "prompt" => Some(self.prompt.clone()),
            "prompt_file" => Some(self.prompt_file.to_string_lossy().into_owned()),
            "worktree" => Some(self.worktree.to_string_lossy().into_owned()),
            "task_id" => Some(self.task_id.clone()),
            "run_id" => Some(self.run_id.clone()),
            _ => None,
        }
    }
}

/// Replaces `{prompt}`, `{prompt_file}`, `{worktree}`, `{task_id}` and `{run_id}` anywhere
/// inside each argument (`--dir={worktree}` works). Each argument stays one argument — no
/// shell is involved, so a prompt with spaces or quotes needs no escaping. The expansion is a
/// single pass: braces inside a substituted value (a prompt that mentions `{worktree}`) are
/// left alone, and unknown `{words}` are kept as written. Non-UTF-8 paths are converted lossily.
pub fn expand(argv: &[String], vars: &Placeholders) -> Vec<String> {
    argv.iter().map(|arg| expand_one(arg, vars)).collect()
}

fn expand_one(arg: &str, vars: &Placeholders) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let substituted = after.find('}').and_then(|close| {
            vars.value(&after[..close])
                .map(|value| (value, &after[close + 1..]))
        });
        match substituted {
            Some((value, tail)) => {
                out.push_str(&value);
                rest = tail;
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Placeholders {
        Placeholders {
            prompt: "fix {worktree} \"quoted\" $HOME".to_string(),
            prompt_file: PathBuf::from("/runs/r1/prompt.md"),
            worktree: PathBuf::from("/wt/task-1"),
            task_id: "t-1".to_string(),
            run_id: "01abc".to_string(),
        }
    }

    /// Bug: a preset set no model (aider then used whatever it defaulted to). Every recorded
    /// CLI takes `--model` (their `--help` in `tests/fixtures/agents/`), so `model` adds it.
    #[test]
    fn a_model_is_passed_with_the_flag_every_recorded_cli_takes() {
        macro_rules! help {
            ($path:literal) => {
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../tests/fixtures/agents/",
                    $path
                ))
            };
        }
        let recorded = [
            (Preset::Claude, help!("claude/help_claude.txt")),
            (Preset::Codex, help!("codex/help_codex_exec.txt")),
            (Preset::Gemini, help!("gemini/help_gemini.txt")),
            (Preset::Aider, help!("aider/help_aider.txt")),
            (Preset::Opencode, help!("opencode/help_opencode_run.txt")),
        ];
        for (preset, help) in recorded {
            assert!(help.contains("--model"), "{}", preset.name());
            let config = crate::config::ExecutorConfig {
                preset: Some(preset),
                model: "m-1".into(),
                ..Default::default()
            };
            let argv = config.argv();
            let (flags, model) = argv.split_at(argv.len() - 2);
            assert_eq!(model, ["--model", "m-1"], "{}", preset.name());
            assert_eq!(flags, preset.argv().as_slice());
        }
        // No model: the preset's flags as they are; an own command is never changed.
        let plain = crate::config::ExecutorConfig {
            preset: Some(Preset::Aider),
            ..Default::default()
        };
        assert_eq!(plain.argv(), Preset::Aider.argv());
        let own = crate::config::ExecutorConfig {
            preset: Some(Preset::Aider),
            command: vec!["my-aider".into()],
            model: "m-1".into(),
            ..Default::default()
        };
        assert_eq!(own.argv(), ["my-aider"]);
    }

    #[test]
    fn expands_every_placeholder_inside_arguments_in_one_pass() {
        let argv: Vec<String> = [
            "agent",
            "{prompt}",
            "--dir={worktree}",
            "{task_id}/{run_id}",
            "@{prompt_file}",
            "{unknown}",
            "{",
            "}{run_id",
            "{{run_id}}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            expand(&argv, &vars()),
            [
                "agent",
                "fix {worktree} \"quoted\" $HOME",
                "--dir=/wt/task-1",
                "t-1/01abc",
                "@/runs/r1/prompt.md",
                "{unknown}",
                "{",
                "}{run_id",
                "{01abc}",
            ]
        );
    }

    #[test]
    fn every_preset_runs_its_program_and_takes_the_prompt() {
        for preset in Preset::ALL {
            let argv = preset.argv();
            assert_eq!(argv[0], preset.program(), "{preset}");
            assert_eq!(
                argv.iter().filter(|a| a.contains("{prompt}")).count(),
                1,
                "{preset}: {argv:?}"
            );
            assert_eq!(preset.name().parse::<Preset>(), Ok(preset));
            assert_eq!(
                serde_json::to_string(&preset).unwrap(),
                format!("\"{preset}\"")
            );
        }
        assert!("vim".parse::<Preset>().is_err());
    }

    /// The flags the recordings proved necessary are present.
    #[test]
    fn presets_carry_the_flags_the_recordings_needed() {
        let has = |p: Preset, words: &[&str]| {
            let argv = p.argv();
            argv.windows(words.len()).any(|w| w == words)
        };
        assert!(has(
            Preset::Claude,
            &["--output-format", "stream-json", "--verbose"]
        ));
        assert!(has(Preset::Claude, &["--permission-mode", "acceptEdits"]));
        assert!(has(Preset::Codex, &["exec", "--json"]));
        assert!(has(Preset::Codex, &["--sandbox", "workspace-write"]));
        assert!(has(Preset::Codex, &["-C", "{worktree}"]));
        assert!(has(Preset::Aider, &["--message", "{prompt}"]));
        assert!(has(Preset::Aider, &["--yes-always"]));
        assert!(has(Preset::Aider, &["--no-gitignore"]));
        assert!(has(Preset::Gemini, &["-p", "{prompt}"]));
        assert!(has(Preset::Gemini, &["--approval-mode", "auto_edit"]));
        assert!(has(Preset::Gemini, &["--skip-trust"]));
        assert!(has(Preset::Opencode, &["run", "--format", "json"]));
        assert!(!Preset::Opencode.argv().contains(&"--auto".to_string()));
        assert!(
            Preset::Claude
                .env()
                .contains(&("CLAUDE_CODE_MAX_RETRIES".to_string(), "2".to_string()))
        );
        assert_eq!(
            Preset::Cursor.output_format(),
            OutputFormat::ClaudeStreamJson
        );
    }

    #[test]
    fn codex_does_not_nest_its_sandbox_in_bosuns() {
        let inside = Preset::Codex.within_sandbox(Preset::Codex.argv());
        let at = inside.iter().position(|a| a == "--sandbox").unwrap();
        assert_eq!(inside[at + 1], "danger-full-access");
        assert_eq!(inside.len(), Preset::Codex.argv().len());
        // Another mode the operator chose, and the other CLIs, are left alone.
        let own: Vec<String> = ["codex", "exec", "-s", "read-only", "x"]
            .map(String::from)
            .into();
        assert_eq!(Preset::Codex.within_sandbox(own.clone()), own);
        assert_eq!(
            Preset::Claude.within_sandbox(Preset::Claude.argv()),
            Preset::Claude.argv()
        );
    }
}
