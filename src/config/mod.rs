//! bosun's configuration: typed sections with built-in defaults, loaded from `bosun.toml`
//! and layered as defaults < file < `BOSUN_*` environment variables < command-line flags.

mod load;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::intake::TypeRules;
use crate::model::TaskType;

pub use load::{ConfigError, ENV_PREFIX, Loaded, load, parse_str};

/// The name of the config file looked for at the repository root.
pub const FILE_NAME: &str = "bosun.toml";

/// Every setting bosun reads. Sections mirror the tables of `bosun.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[project]`: where the tasks are.
    pub project: ProjectConfig,
    /// `[intake]`: how tasks are classified.
    pub intake: IntakeConfig,
    /// `[executors.NAME]`: the coding agents bosun can run.
    pub executors: BTreeMap<String, ExecutorConfig>,
    /// `[telemetry]`: the log file.
    pub telemetry: TelemetryConfig,
}

/// `[project]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectConfig {
    /// Markdown task lists, relative to the repository root.
    pub task_files: Vec<PathBuf>,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        Self {
            task_files: vec![PathBuf::from("TODO.md")],
        }
    }
}

/// `[intake]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeConfig {
    /// `[intake.types]`: keyword rules per task type.
    pub types: TypeKeywords,
}

impl IntakeConfig {
    /// The type rules these settings describe.
    pub fn type_rules(&self) -> TypeRules {
        let t = &self.types;
        TypeRules::new([
            (TaskType::Code, t.code.as_slice()),
            (TaskType::Docs, t.docs.as_slice()),
            (TaskType::Refactor, t.refactor.as_slice()),
            (TaskType::Test, t.test.as_slice()),
            (TaskType::Release, t.release.as_slice()),
            (TaskType::Devops, t.devops.as_slice()),
        ])
    }
}

/// `[intake.types]`: for each type, the words that select it when they appear in a task's
/// title (or, failing that, its description). `word*` matches any word starting with `word`.
/// Setting a list replaces that type's default list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TypeKeywords {
    /// Keywords for `code` (the type used when nothing matches).
    pub code: Vec<String>,
    /// Keywords for `docs`.
    pub docs: Vec<String>,
    /// Keywords for `refactor`.
    pub refactor: Vec<String>,
    /// Keywords for `test`.
    pub test: Vec<String>,
    /// Keywords for `release`.
    pub release: Vec<String>,
    /// Keywords for `devops`.
    pub devops: Vec<String>,
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

impl Default for TypeKeywords {
    fn default() -> Self {
        Self {
            code: Vec::new(),
            docs: strings(&[
                "doc",
                "docs",
                "document*",
                "readme*",
                "guide",
                "tutorial*",
                "manual",
                "документ*",
                "руководств*",
                "инструкци*",
            ]),
            refactor: strings(&[
                "refactor*",
                "restructur*",
                "decompos*",
                "cleanup",
                "рефактор*",
                "декомпозиц*",
                "переработ*",
                "реструктур*",
            ]),
            test: strings(&["test*", "coverage", "тест*", "покрыти*"]),
            release: strings(&["release*", "publish", "changelog", "релиз*", "выпуск*"]),
            devops: strings(&[
                "ci",
                "cd",
                "devops",
                "deploy*",
                "docker*",
                "kubernetes",
                "k8s",
                "pipeline*",
                "runner*",
                "infra*",
                "terraform",
                "деплой*",
                "развертыван*",
                "развёртыван*",
                "инфраструктур*",
            ]),
        }
    }
}

/// `[executors.NAME]`: one coding agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorConfig {
    /// The agent's argv; the first word must be a program on PATH (or a path).
    pub command: Vec<String>,
}

/// `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Level written to `.bosun/logs/bosun.YYYY-MM-DD.log` (error, warn, info, debug, trace).
    pub file_level: String,
    /// How many daily log files to keep.
    pub max_files: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            file_level: "info".to_string(),
            max_files: 14,
        }
    }
}

/// `config.example.toml`: every option, commented, at its default.
pub const EXAMPLE: &str = include_str!("../../config.example.toml");

/// The example with every setting commented out, for `bosun init`: the file documents all
/// options without pinning today's defaults. `task_files`, when given, is set for real.
pub fn commented_example(task_files: Option<&[PathBuf]>) -> String {
    let mut out = String::with_capacity(EXAMPLE.len() + 512);
    for line in EXAMPLE.lines() {
        let trimmed = line.trim_start();
        let is_setting =
            !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with('[');
        if is_setting
            && trimmed.starts_with("task_files")
            && let Some(files) = task_files
        {
            let list: Vec<String> = files
                .iter()
                .map(|f| format!("{:?}", f.display().to_string()))
                .collect();
            out.push_str(&format!("task_files = [{}]\n", list.join(", ")));
            continue;
        }
        if is_setting {
            out.push_str("# ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_states_exactly_the_defaults() {
        let parsed = parse_str(EXAMPLE, std::path::Path::new("config.example.toml")).unwrap();
        assert_eq!(parsed, Config::default());
    }

    /// Every key of the default configuration is documented in the example.
    #[test]
    fn example_mentions_every_option() {
        fn walk(prefix: &str, table: &toml::Table, keys: &mut Vec<String>) {
            for (k, v) in table {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match v {
                    toml::Value::Table(t) => walk(&path, t, keys),
                    _ => keys.push(path),
                }
            }
        }
        let mut config = Config::default();
        config
            .executors
            .insert("x".into(), ExecutorConfig::default());
        let table = toml::Table::try_from(&config).unwrap();
        let mut keys = Vec::new();
        walk("", &table, &mut keys);
        assert!(keys.len() >= 10, "{keys:?}");
        for key in keys {
            let leaf = key.rsplit('.').next().unwrap();
            let section = key
                .rsplit_once('.')
                .map(|(s, _)| s.replace(".x", ".NAME"))
                .unwrap_or_default();
            assert!(
                EXAMPLE.contains(&format!("[{section}]")),
                "section of {key} is documented"
            );
            assert!(
                EXAMPLE.contains(&format!("{leaf} = ")),
                "{key} is documented"
            );
        }
    }

    #[test]
    fn commented_example_parses_to_defaults_or_to_the_detected_files() {
        let text = commented_example(None);
        assert_eq!(
            parse_str(&text, std::path::Path::new("bosun.toml")).unwrap(),
            Config::default()
        );
        let files = [PathBuf::from("docs/TASKS.md")];
        let text = commented_example(Some(&files));
        let parsed = parse_str(&text, std::path::Path::new("bosun.toml")).unwrap();
        assert_eq!(parsed.project.task_files, files);
        assert_eq!(parsed.intake, IntakeConfig::default());
    }
}
