//! The repository bosun is pointed at: its root, its configuration, and bosun's state
//! directory `<root>/.bosun/` (kept out of git through `.git/info/exclude`).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::{self, Config};
use crate::git::{self, Repo};

/// Name of bosun's state directory at the repository root.
pub const STATE_DIR: &str = ".bosun";

/// Where run `run`'s agent output is logged, in the state directory `state`.
pub fn run_log_path(state: &Path, run: &crate::model::RunId) -> PathBuf {
    state.join("logs").join("runs").join(format!("{run}.log"))
}

/// Where bosun is working: the repository (or plain directory) and its settings.
#[derive(Debug, Clone)]
pub struct Project {
    /// The repository's working-tree root, or the directory itself outside git.
    pub root: PathBuf,
    /// The git repository, when there is one.
    pub repo: Option<Repo>,
}

impl Project {
    /// Locates the project for `--repo PATH` (default: the current directory): the enclosing
    /// git repository's root, else the directory itself.
    pub fn locate(repo_flag: Option<&Path>) -> anyhow::Result<Self> {
        let start = match repo_flag {
            Some(p) => p.to_path_buf(),
            None => std::env::current_dir().context("cannot read the current directory")?,
        };
        if !start.is_dir() {
            anyhow::bail!("--repo {} is not a directory", start.display());
        }
        let repo = git::discover(&start)
            .with_context(|| format!("cannot open the git repository at {}", start.display()))?;
        let root = repo.as_ref().map_or(start, |r| r.root.clone());
        Ok(Self { root, repo })
    }

    /// Loads the configuration: `--config PATH` or `<root>/bosun.toml`, then `BOSUN_*`
    /// environment variables.
    pub fn load_config(
        &self,
        config_flag: Option<&Path>,
    ) -> Result<config::Loaded, config::ConfigError> {
        config::load(config_flag, &self.root, std::env::vars())
    }

    /// `<root>/.bosun`.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// Creates `<root>/.bosun/<sub>` and makes sure git ignores `.bosun/`.
    pub fn ensure_state_subdir(&self, sub: &str) -> anyhow::Result<PathBuf> {
        let dir = self.state_dir().join(sub);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        if let Some(repo) = &self.repo {
            git::exclude(repo, &format!("/{STATE_DIR}/"))?;
        }
        Ok(dir)
    }

    /// Shows `path` relative to the project root when it is inside it.
    pub fn display_path(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root)
            .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
    }

    /// The configured task files, or `files` (relative to the current directory) when given.
    pub fn task_files(&self, config: &Config, files: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
        if files.is_empty() {
            return Ok(config.project.task_files.clone());
        }
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        Ok(files
            .iter()
            .map(|f| self.display_path(&normalize_lexically(&cwd.join(f))))
            .collect())
    }
}

/// Resolves `.` and `..` in a path without touching the file system (symlinks are kept as
/// written), so `sub/../TODO.md` is shown as `TODO.md`.
pub fn normalize_lexically(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_normalization() {
        assert_eq!(
            normalize_lexically(Path::new("/r/sub/../TODO.md")),
            PathBuf::from("/r/TODO.md")
        );
        assert_eq!(
            normalize_lexically(Path::new("a/./b/../../c")),
            PathBuf::from("c")
        );
        assert_eq!(
            normalize_lexically(Path::new("../x")),
            PathBuf::from("../x")
        );
    }
}
