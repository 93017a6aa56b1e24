//! `bosun init`: write a commented `bosun.toml` documenting every option.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::Cli;
use crate::config::{self, FILE_NAME};
use crate::project::Project;

/// Task lists looked for when the default `TODO.md` is missing.
const CANDIDATES: [&str; 7] = [
    "TODO.md",
    "todo.md",
    "TASKS.md",
    "tasks.md",
    "ROADMAP.md",
    "docs/TODO.md",
    "docs/TASKS.md",
];

/// The first candidate task list that exists and has a checkbox, if the default does not.
fn detect_task_file(root: &Path) -> Option<PathBuf> {
    if root.join("TODO.md").is_file() {
        return None;
    }
    CANDIDATES.iter().map(PathBuf::from).find(|c| {
        std::fs::read_to_string(root.join(c)).is_ok_and(|t| t.contains("[ ]") || t.contains("[x]"))
    })
}

/// Runs `bosun init`.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let project = Project::locate(cli.repo.as_deref())?;
    let path = cli
        .config
        .clone()
        .unwrap_or_else(|| project.root.join(FILE_NAME));
    let detected = detect_task_file(&project.root);
    let text = config::commented_example(detected.as_ref().map(std::slice::from_ref));
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => anyhow::bail!(
            "{} already exists; bosun init does not overwrite it (edit it, or remove it first)",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    std::io::Write::write_all(&mut file, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", project.display_path(&path).display());
    if let Some(found) = detected {
        println!("task list: {} (found in the repository)", found.display());
    }
    println!(
        "next: add an [executors.NAME] section naming your coding agent, then run `bosun doctor`"
    );
    Ok(ExitCode::SUCCESS)
}
