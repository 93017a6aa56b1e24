//! A task read from a Markdown task list, with its priority and type.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Stable short identifier of a task, e.g. `t-3fk9a2`, derived from its section path and title.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub String);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How urgent a task is. Ordered from most to least urgent, so sorting puts critical first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Blocks everything else (🔥 🔴, P0, "critical", "критический").
    Critical,
    /// Next in line (🟡 🟠, P1, "high", "высокий").
    High,
    /// The default (🟢, P2, "medium", "средний").
    Medium,
    /// When there is time (🔵, P3, "low", "nice to have", "низкий").
    Low,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 4] = [Self::Critical, Self::High, Self::Medium, Self::Low];

    /// The lowercase name used in config, tags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of work a task asks for; it selects the Definition of Done and the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskType {
    /// Changes to program code (the default).
    Code,
    /// Documentation.
    Docs,
    /// Restructuring without changing behaviour.
    Refactor,
    /// Tests and test infrastructure.
    Test,
    /// Cutting a release: version, changelog, tag.
    Release,
    /// CI, deployment and infrastructure.
    Devops,
}

impl TaskType {
    /// Every type, in the order used for display and for breaking ties between rules.
    pub const ALL: [TaskType; 6] = [
        Self::Code,
        Self::Docs,
        Self::Refactor,
        Self::Test,
        Self::Release,
        Self::Devops,
    ];

    /// The lowercase name used in config, tags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Docs => "docs",
            Self::Refactor => "refactor",
            Self::Test => "test",
            Self::Release => "release",
            Self::Devops => "devops",
        }
    }
}

impl fmt::Display for TaskType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown task type `{s}` (expected one of code, docs, refactor, test, release, devops)"))
    }
}

/// An item nested under a task: a checkbox or a plain bullet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subtask {
    /// The item's text (its first paragraph, inline markup reduced to plain text).
    pub text: String,
    /// Whether the item is a ticked checkbox.
    pub done: bool,
}

/// One task from a task list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Task {
    /// Stable id (see [`TaskId`]).
    pub id: TaskId,
    /// The bold span the item starts with, else its first line up to a separator.
    pub title: String,
    /// The text after the title on the item's first paragraph.
    pub description: String,
    /// Following paragraphs and nested lines, as Markdown, dedented.
    pub body: String,
    /// How urgent the task is.
    pub priority: Priority,
    /// Which heading or tag set the priority, e.g. `heading "🔥 Критический приоритет"`.
    pub priority_rule: Arc<str>,
    /// The kind of work.
    #[serde(rename = "type")]
    pub task_type: TaskType,
    /// Which tag or keyword rule chose the type, e.g. `keyword "тест*" in title`.
    pub type_rule: Arc<str>,
    /// Whether the checkbox is ticked.
    pub done: bool,
    /// The headings above the item, outermost first (shared by the tasks of a section).
    pub section: Arc<[String]>,
    /// The task file, as configured (relative to the repository root when it is inside it).
    pub file: PathBuf,
    /// 1-based line of the item's checkbox.
    pub line: usize,
    /// Items nested under the task.
    pub subtasks: Vec<Subtask>,
    /// Relative paths the task refers to (`see docs/x.md`, `см. …`, relative links).
    pub refs: Vec<String>,
    /// Ids of tasks that must be done first (unresolved references are kept verbatim).
    pub depends_on: Vec<String>,
}

/// The placeholders a commit message template (`[project] commit_message`) may use.
pub const COMMIT_PLACEHOLDERS: [&str; 5] = ["{title}", "{type}", "{task}", "{run}", "{attempt}"];

/// A run's commit message (before its trailers, [`with_trailers`]) from `template`:
/// `{title}` the task's title, `{type}` its type, `{task}` its id, `{run}` the run's id,
/// `{attempt}` the attempt number. An empty result falls back to the title.
pub fn commit_subject(
    template: &str,
    title: &str,
    task_type: TaskType,
    task: &TaskId,
    run: &str,
    attempt: u32,
) -> String {
    let subject = template
        .replace("{title}", title)
        .replace("{type}", task_type.as_str())
        .replace("{task}", &task.0)
        .replace("{run}", run)
        .replace("{attempt}", &attempt.to_string());
    if subject.trim().is_empty() {
        title.to_string()
    } else {
        subject.trim_end().to_string()
    }
}

/// `message` (trimmed) with bosun's trailers (`Bosun-Task`, `Bosun-Run`) after a blank line.
pub fn with_trailers(message: &str, task: &TaskId, run: &str) -> String {
    format!(
        "{}\n\nBosun-Task: {}\nBosun-Run: {run}",
        message.trim_end(),
        task.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_messages_fill_the_template_and_carry_the_trailers() {
        let task = TaskId("t-abc123".into());
        let subject = commit_subject(
            "{type}({task}): {title} [{attempt}]",
            "Add a flag",
            TaskType::Code,
            &task,
            "01RUN",
            2,
        );
        assert_eq!(subject, "code(t-abc123): Add a flag [2]");
        assert_eq!(
            commit_subject("  ", "Add a flag", TaskType::Docs, &task, "01RUN", 1),
            "Add a flag",
            "an empty template falls back to the title"
        );
        assert_eq!(
            with_trailers("Add a flag\n\nBecause.\n", &task, "01RUN"),
            "Add a flag\n\nBecause.\n\nBosun-Task: t-abc123\nBosun-Run: 01RUN"
        );
    }
}
