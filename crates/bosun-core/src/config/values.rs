//! Kinds of value the configuration names (their behavior lives with the code that acts on
//! them: [`crate::executors`] for presets and sizes, [`crate::git`] for merge modes,
//! [`crate::gates`] for gate names).

use serde::{Deserialize, Serialize};

/// A known agent CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Claude Code (`claude`).
    Claude,
    /// OpenAI Codex CLI (`codex`).
    Codex,
    /// Aider (`aider`).
    Aider,
    /// Gemini CLI (`gemini`).
    Gemini,
    /// Cursor's agent CLI (`cursor-agent`); unverified, see [`Preset::argv`].
    Cursor,
    /// OpenCode (`opencode`).
    Opencode,
}

/// How an approved run is merged into its target branch (`merge` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMode {
    /// `ff`: fast-forward when the target has not moved since the run started, else a merge
    /// commit.
    #[default]
    #[serde(rename = "ff")]
    FastForward,
    /// `merge`: always a merge commit (`git merge --no-ff`).
    Merge,
    /// `squash`: one commit on top of the target with all of the run's changes.
    Squash,
}

/// Gates every change goes through, whatever its type.
pub const ALWAYS_ON: &[&str] = &["diff", "syntax", "semantic"];

/// Built-in Definition-of-Done checks a `[dod.TYPE]` list may name (besides `diff`). `judge`
/// is configured by the fixed `[gates.judge]` table and runs only when it names a route.
pub const BUILT_IN_CHECKS: &[&str] = &[
    "docs_only",
    "links",
    "version_bump",
    "changelog",
    "parses",
    "tests_added",
    "api_unchanged",
    "judge", // gates::judge::NAME (a test checks they agree)
];

/// Command gate names the default Definitions of Done use; when not configured they are left
/// out rather than being an error.
pub const CONVENTIONAL: &[&str] = &["build", "test", "lint"];

/// A size such as `512M`, `4G`, `1048576` (bytes; K, M, G and T are powers of 1024); empty or
/// `0` means no limit.
pub fn parse_size(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if t.is_empty() || t == "0" {
        return Ok(None);
    }
    let upper = t.to_ascii_uppercase();
    let digits = upper.trim_end_matches(['B', 'I']);
    let (number, unit) = match digits.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&digits[..i], c),
        _ => (digits, ' '),
    };
    let shift = match unit {
        ' ' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        _ => return Err(format!("`{text}` is not a size (e.g. 512M, 4G)")),
    };
    let n: u64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 512M, 4G)"))?;
    n.checked_shl(shift)
        .filter(|v| v >> shift == n)
        .map(Some)
        .ok_or_else(|| format!("`{text}` is too large"))
}
