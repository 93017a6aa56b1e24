//! The built-in agent's tools: what the model may do in the run's worktree, described to it
//! as JSON-schema functions, and carried out here.
//!
//! Every path the model gives is relative to the worktree and is checked before use: absolute
//! paths, `..`, anything under `.git`, and symbolic links that lead outside are refused. The
//! file tools are synchronous (the agent runs them on the blocking pool); `run` starts a shell
//! command through the executors' process runner, so it gets the same process group, scrubbed
//! environment, timeout and cancellation as an agent CLI. A tool's failure is an answer the
//! model reads ([`ToolError`]'s text), never the end of the run.

use std::collections::VecDeque;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::executors::command::{AgentRun, ExitKind, run_agent};
use crate::executors::presets::OutputFormat;
use crate::llm::Tool;

/// Most entries `list_files` shows when the model does not say.
const DEFAULT_LIST_MAX: usize = 500;

/// Most matches `search` shows when the model does not say.
const DEFAULT_SEARCH_MAX: usize = 100;

/// Files larger than this are not read or searched: they are data, not source.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// How much of a file's start is looked at to tell text from binary (git looks at 8000).
const BINARY_SNIFF_BYTES: usize = 8000;

/// Most output of one `run` command kept on disk while it runs; past it only the start is
/// shown (far more than any test run prints).
const MAX_COMMAND_LOG_BYTES: u64 = 64 * 1024 * 1024;

/// Longest matching line `search` shows, in bytes.
const SEARCH_LINE_BYTES: usize = 240;

/// Characters that would let a command line chain, substitute or redirect beyond the allowed
/// command (`cargo test; rm -rf x`, `cargo test > src/lib.rs`).
const SHELL_METACHARACTERS: [&str; 9] = [";", "&", "|", "`", "$(", ">", "<", "\n", "\r"];

/// Why a tool call could not be carried out; its text is what the model reads after `error: `.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The model called a tool that does not exist.
    #[error(
        "there is no tool `{0}`; the tools are list_files, read_file, search, write_file, edit_file, run and finish"
    )]
    UnknownTool(String),
    /// The arguments are not valid JSON, or not what the tool takes.
    #[error(
        "the arguments of `{tool}` are not valid: {message}; they must be a JSON object like {example}"
    )]
    Arguments {
        /// The tool.
        tool: String,
        /// What was wrong.
        message: String,
        /// A correct call's arguments.
        example: &'static str,
    },
    /// The path is not one the agent may use.
    #[error("the path `{path}` {reason}")]
    Path {
        /// The path as given.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The path does not exist.
    #[error("`{0}` does not exist; use list_files to see what does")]
    NotFound(String),
    /// A directory where a file was needed.
    #[error("`{0}` is a directory; use list_files to see its files")]
    IsDirectory(String),
    /// A binary or oversized file.
    #[error("`{0}` is not a text file (binary, or larger than 8 MiB)")]
    NotText(String),
    /// Reading or writing failed.
    #[error("cannot {action} `{path}`: {error}")]
    Io {
        /// read, write, list, …
        action: &'static str,
        /// The path as given.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// A line range outside the file.
    #[error("{0}")]
    LineRange(String),
    /// `search` got a pattern the regex crate does not accept.
    #[error("the pattern is not a valid regular expression: {0}")]
    Pattern(String),
    /// `edit_file`'s search text is not in the file.
    #[error("the search text was not found in `{path}`. {hint}")]
    SearchNotFound {
        /// The file.
        path: String,
        /// What may have gone wrong.
        hint: String,
    },
    /// `edit_file`'s search text is in the file more than once.
    #[error(
        "the search text occurs {count} times in `{path}` (at lines {lines}); include more of the surrounding lines so it matches exactly once"
    )]
    NotUnique {
        /// The file.
        path: String,
        /// How many times.
        count: usize,
        /// Where (the first few line numbers).
        lines: String,
    },
    /// `run` was asked for a command that is not allowed.
    #[error("{0}")]
    Refused(String),
    /// The command could not be started.
    #[error("cannot run the command: {0}")]
    Command(String),
}

/// One tool call, its arguments checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// A file tool, carried out by [`Workspace::call`].
    File(FileCall),
    /// Runs an allowed command line.
    Run {
        /// The command line.
        command: String,
    },
    /// Ends the run.
    Finish {
        /// What was done.
        summary: String,
    },
}

/// A call of one of the tools that read or change files.
#[derive(Debug, Clone, PartialEq)]
pub enum FileCall {
    /// Files under a directory.
    ListFiles {
        /// The directory (the worktree's root when absent).
        path: Option<String>,
        /// Most files to show.
        max: Option<usize>,
    },
    /// A file's lines, numbered.
    ReadFile {
        /// The file.
        path: String,
        /// First line (1-based).
        start_line: Option<usize>,
        /// Last line (inclusive).
        end_line: Option<usize>,
    },
    /// Lines matching a regular expression.
    Search {
        /// The regular expression.
        pattern: String,
        /// Where to look (the whole worktree when absent).
        path: Option<String>,
        /// Most matches to show.
        max: Option<usize>,
    },
    /// Creates or replaces a file.
    WriteFile {
        /// The file.
        path: String,
        /// Its new content.
        content: String,
    },
    /// Replaces one exact occurrence of text in a file.
    EditFile {
        /// The file.
        path: String,
        /// The text to find (must occur exactly once).
        search: String,
        /// What to put in its place.
        replace: String,
    },
}

#[derive(Deserialize)]
struct ListArgs {
    path: Option<String>,
    max: Option<usize>,
}

#[derive(Deserialize)]
struct ReadArgs {
    path: String,
    start_line: Option<usize>,
    end_line: Option<usize>,
}

#[derive(Deserialize)]
struct SearchArgs {
    pattern: String,
    path: Option<String>,
    max: Option<usize>,
}

#[derive(Deserialize)]
struct WriteArgs {
    path: String,
    content: String,
}

#[derive(Deserialize)]
struct EditArgs {
    path: String,
    search: String,
    replace: String,
}

#[derive(Deserialize)]
struct RunArgs {
    command: String,
}

#[derive(Deserialize)]
struct FinishArgs {
    summary: String,
}

/// Parses `arguments` as the JSON object tool `tool` takes.
fn args<T: for<'de> Deserialize<'de>>(
    tool: &str,
    arguments: &str,
    example: &'static str,
) -> Result<T, ToolError> {
    // Models sometimes send nothing at all for a call without arguments.
    let text = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    serde_json::from_str(text).map_err(|e| ToolError::Arguments {
        tool: tool.to_string(),
        message: e.to_string(),
        example,
    })
}

impl Call {
    /// Reads a call of tool `name` with `arguments` (JSON text as the model wrote it).
    pub fn parse(name: &str, arguments: &str) -> Result<Self, ToolError> {
        Ok(match name {
            "list_files" => {
                let a: ListArgs = args(name, arguments, r#"{"path": "src", "max": 200}"#)?;
                Self::File(FileCall::ListFiles {
                    path: a.path,
                    max: a.max,
                })
            }
            "read_file" => {
                let a: ReadArgs = args(
                    name,
                    arguments,
                    r#"{"path": "src/lib.rs", "start_line": 1, "end_line": 80}"#,
                )?;
                Self::File(FileCall::ReadFile {
                    path: a.path,
                    start_line: a.start_line,
                    end_line: a.end_line,
                })
            }
            "search" => {
                let a: SearchArgs =
                    args(name, arguments, r#"{"pattern": "fn main", "path": "src"}"#)?;
                Self::File(FileCall::Search {
                    pattern: a.pattern,
                    path: a.path,
                    max: a.max,
                })
            }
            "write_file" => {
                let a: WriteArgs =
                    args(name, arguments, r#"{"path": "notes.txt", "content": "…"}"#)?;
                Self::File(FileCall::WriteFile {
                    path: a.path,
                    content: a.content,
                })
            }
            "edit_file" => {
                let a: EditArgs = args(
                    name,
                    arguments,
                    r#"{"path": "src/lib.rs", "search": "old text", "replace": "new text"}"#,
                )?;
                Self::File(FileCall::EditFile {
                    path: a.path,
                    search: a.search,
                    replace: a.replace,
                })
            }
            "run" => {
                let a: RunArgs = args(name, arguments, r#"{"command": "cargo test"}"#)?;
                Self::Run { command: a.command }
            }
            "finish" => {
                let a: FinishArgs = args(
                    name,
                    arguments,
                    r#"{"summary": "what was changed and why"}"#,
                )?;
                Self::Finish { summary: a.summary }
            }
            other => return Err(ToolError::UnknownTool(other.to_string())),
        })
    }

    /// The call in a few words for the log: `read_file src/lib.rs 1-40`.
    pub fn describe(&self) -> String {
        match self {
            Self::File(FileCall::ListFiles { path, .. }) => {
                format!("list_files {}", path.as_deref().unwrap_or("."))
            }
            Self::File(FileCall::ReadFile {
                path,
                start_line,
                end_line,
            }) => match (start_line, end_line) {
                (None, None) => format!("read_file {path}"),
                (s, e) => format!(
                    "read_file {path} {}-{}",
                    s.unwrap_or(1),
                    e.map_or_else(|| "end".to_string(), |e| e.to_string())
                ),
            },
            Self::File(FileCall::Search { pattern, path, .. }) => {
                format!("search /{pattern}/ in {}", path.as_deref().unwrap_or("."))
            }
            Self::File(FileCall::WriteFile { path, content }) => format!(
                "write_file {path} ({} lines, {} bytes)",
                content.lines().count(),
                content.len()
            ),
            Self::File(FileCall::EditFile { path, .. }) => format!("edit_file {path}"),
            Self::Run { command } => format!("run {command}"),
            Self::Finish { .. } => "finish".to_string(),
        }
    }

    /// What the agent is doing, for the console's progress line: `editing src/lib.rs`.
    pub fn progress(&self) -> String {
        match self {
            Self::File(FileCall::ListFiles { path, .. }) => {
                format!("listing {}", path.as_deref().unwrap_or("."))
            }
            Self::File(FileCall::ReadFile { path, .. }) => format!("reading {path}"),
            Self::File(FileCall::Search { pattern, .. }) => format!("searching /{pattern}/"),
            Self::File(FileCall::WriteFile { path, .. }) => format!("writing {path}"),
            Self::File(FileCall::EditFile { path, .. }) => format!("editing {path}"),
            Self::Run { command } => format!("running {command}"),
            Self::Finish { .. } => "finishing".to_string(),
        }
    }
}

/// The tools as the model sees them.
pub fn definitions() -> Vec<Tool> {
    let tool = |name: &str, description: &str, parameters: serde_json::Value| Tool {
        name: name.to_string(),
        description: description.to_string(),
        parameters,
    };
    vec![
        tool(
            "list_files",
            "List the files under a directory of the worktree (recursively, sorted, skipping what .gitignore ignores).",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Directory relative to the worktree root; default: the root."},
                    "max": {"type": "integer", "minimum": 1, "description": "Most files to list; default 500."}
                }
            }),
        ),
        tool(
            "read_file",
            "Read a text file with line numbers, whole or a range of lines. Long files are cut; the answer says how to read on.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "File relative to the worktree root."},
                    "start_line": {"type": "integer", "minimum": 1, "description": "First line to read (1-based); default 1."},
                    "end_line": {"type": "integer", "minimum": 1, "description": "Last line to read (inclusive); default: the end."}
                },
                "required": ["path"]
            }),
        ),
        tool(
            "search",
            "Search the worktree's text files (skipping what .gitignore ignores) for a regular expression (Rust regex syntax); answers `path:line: text` per matching line.",
            json!({
                "type": "object",
                "properties": {
                    "pattern": {"type": "string", "description": "Regular expression, e.g. `fn parse_\\w+`."},
                    "path": {"type": "string", "description": "File or directory to search, relative to the worktree root; default: everything."},
                    "max": {"type": "integer", "minimum": 1, "description": "Most matching lines to show; default 100."}
                },
                "required": ["pattern"]
            }),
        ),
        tool(
            "write_file",
            "Create a file, or replace a file's whole content. Missing parent directories are created. Prefer edit_file for changes to an existing file.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "File relative to the worktree root."},
                    "content": {"type": "string", "description": "The file's complete new content."}
                },
                "required": ["path", "content"]
            }),
        ),
        tool(
            "edit_file",
            "Replace one exact occurrence of `search` in a file with `replace`. `search` must match the file exactly (whitespace included, without read_file's line numbers) and occur exactly once; include surrounding lines to make it unique.",
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "File relative to the worktree root."},
                    "search": {"type": "string", "description": "The exact text to replace."},
                    "replace": {"type": "string", "description": "The text to put in its place."}
                },
                "required": ["path", "search", "replace"]
            }),
        ),
        tool(
            "run",
            "Run a command line in the worktree root (only the allowed commands, optionally followed by arguments; no `;`, `&`, `|`, redirections or substitutions). Answers the exit status and the output (long output keeps its start and end).",
            json!({
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command line, e.g. `cargo test --lib parser`."}
                },
                "required": ["command"]
            }),
        ),
        tool(
            "finish",
            "End the work: call this once the task is done (or cannot be done), with a summary of what was changed and why.",
            json!({
                "type": "object",
                "properties": {
                    "summary": {"type": "string", "description": "What was done, for the operator reviewing the change."}
                },
                "required": ["summary"]
            }),
        ),
    ]
}

/// The run's worktree, as the file tools see it.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The worktree, canonical (symbolic links resolved) so containment checks compare like
    /// with like.
    root: PathBuf,
    /// Most bytes of one tool answer.
    max_output: usize,
}

impl Workspace {
    /// The worktree at `root`; answers are capped at `max_output` bytes.
    pub fn new(root: &Path, max_output: usize) -> std::io::Result<Self> {
        Ok(Self {
            root: root.canonicalize()?,
            // Below a few hundred bytes not even an error message fits.
            max_output: max_output.max(512),
        })
    }

    /// The worktree's canonical path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Carries out a file tool and gives the answer for the model.
    pub fn call(&self, call: &FileCall) -> Result<String, ToolError> {
        match call {
            FileCall::ListFiles { path, max } => self.list_files(path.as_deref(), *max),
            FileCall::ReadFile {
                path,
                start_line,
                end_line,
            } => self.read_file(path, *start_line, *end_line),
            FileCall::Search { pattern, path, max } => self.search(pattern, path.as_deref(), *max),
            FileCall::WriteFile { path, content } => self.write_file(path, content),
            FileCall::EditFile {
                path,
                search,
                replace,
            } => self.edit_file(path, search, replace),
        }
    }

    /// `path` inside the worktree, or why it may not be used. An empty path or `.` is the
    /// root. The deepest part of the path that exists must resolve (symbolic links followed)
    /// to somewhere inside the worktree and outside `.git`.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, ToolError> {
        let refuse = |reason| ToolError::Path {
            path: path.to_string(),
            reason,
        };
        let rel = Path::new(path.trim());
        for component in rel.components() {
            match component {
                Component::Prefix(_) | Component::RootDir => {
                    return Err(refuse(
                        "is absolute; give paths relative to the worktree root",
                    ));
                }
                Component::ParentDir => {
                    return Err(refuse(
                        "goes up with `..`; paths must stay inside the worktree",
                    ));
                }
                Component::Normal(name) if name == ".git" => {
                    return Err(refuse("is inside .git, which the agent may not touch"));
                }
                Component::Normal(_) | Component::CurDir => {}
            }
        }
        let full = self.root.join(rel);
        // The root exists (it was canonicalized), so this walk up ends.
        let mut existing = full.as_path();
        while existing.symlink_metadata().is_err() {
            match existing.parent() {
                Some(parent) => existing = parent,
                None => break,
            }
        }
        let real = existing
            .canonicalize()
            .map_err(|_| refuse("is a symbolic link whose target does not exist"))?;
        let inside = real
            .strip_prefix(&self.root)
            .map_err(|_| refuse("leads outside the worktree through a symbolic link"))?;
        if inside.components().next() == Some(Component::Normal(".git".as_ref())) {
            return Err(refuse("leads into .git, which the agent may not touch"));
        }
        Ok(full)
    }

    /// `full` as the model would write it.
    fn rel(&self, full: &Path) -> String {
        match full.strip_prefix(&self.root) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
            Ok(rel) => rel.display().to_string(),
            Err(_) => full.display().to_string(),
        }
    }

    /// Every file under `target` (a directory or a file) that git would not ignore, sorted.
    fn files_under(&self, target: &Path) -> Vec<PathBuf> {
        if target.is_file() {
            return vec![target.to_path_buf()];
        }
        let keep = target.to_path_buf();
        // The walk starts at the root even for a subdirectory so that every .gitignore on the
        // way down applies, and does not read ignore files above the worktree (`parents`),
        // which may belong to an enclosing repository that ignores the worktree itself.
        let walker = ignore::WalkBuilder::new(&self.root)
            .hidden(false)
            .parents(false)
            .require_git(false)
            .follow_links(false)
            .sort_by_file_name(|a, b| a.cmp(b))
            .filter_entry(move |entry| {
                entry.file_name() != ".git"
                    && (keep.starts_with(entry.path()) || entry.path().starts_with(&keep))
            })
            .build();
        walker
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_some_and(|t| !t.is_dir()))
            .filter(|entry| entry.path().starts_with(target))
            .map(ignore::DirEntry::into_path)
            .collect()
    }

    fn list_files(&self, path: Option<&str>, max: Option<usize>) -> Result<String, ToolError> {
        let target = self.resolve(path.unwrap_or(""))?;
        let shown = self.rel(&target);
        if !target.exists() {
            return Err(ToolError::NotFound(shown));
        }
        let max = max.unwrap_or(DEFAULT_LIST_MAX).max(1);
        let files = self.files_under(&target);
        if files.is_empty() {
            return Ok(format!("no files under {shown}"));
        }
        let mut out = format!("{} files under {shown}:\n", files.len());
        let mut listed = 0;
        for file in &files {
            let line = self.rel(file);
            if listed == max || out.len() + line.len() + 1 > self.max_output - 100 {
                break;
            }
            out.push_str(&line);
            out.push('\n');
            listed += 1;
        }
        if listed < files.len() {
            out.push_str(&format!(
                "[{} more not shown; list a subdirectory with `path`]\n",
                files.len() - listed
            ));
        }
        Ok(out)
    }

    /// The text of the file at `full`, or why it is not text.
    fn read_text(&self, full: &Path) -> Result<String, ToolError> {
        let shown = self.rel(full);
        let meta = std::fs::metadata(full).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => ToolError::NotFound(shown.clone()),
            _ => ToolError::Io {
                action: "read",
                path: shown.clone(),
                error,
            },
        })?;
        if meta.is_dir() {
            return Err(ToolError::IsDirectory(shown));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(ToolError::NotText(shown));
        }
        let bytes = std::fs::read(full).map_err(|error| ToolError::Io {
            action: "read",
            path: shown.clone(),
            error,
        })?;
        if bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0) {
            return Err(ToolError::NotText(shown));
        }
        String::from_utf8(bytes).map_err(|_| ToolError::NotText(shown))
    }

    fn read_file(
        &self,
        path: &str,
        start_line: Option<usize>,
        end_line: Option<usize>,
    ) -> Result<String, ToolError> {
        let full = self.resolve(path)?;
        let shown = self.rel(&full);
        let text = self.read_text(&full)?;
        let lines: Vec<&str> = text.lines().collect();
        let total = lines.len();
        if total == 0 {
            return Ok(format!("{shown} is empty"));
        }
        let start = start_line.unwrap_or(1).max(1);
        if start > total {
            return Err(ToolError::LineRange(format!(
                "{shown} has {total} lines; start_line {start} is past its end"
            )));
        }
        let end = end_line.unwrap_or(total).min(total);
        if end < start {
            return Err(ToolError::LineRange(format!(
                "end_line {end} is before start_line {start}"
            )));
        }
        let budget = self.max_output - 200;
        let mut body = String::new();
        let mut last = start - 1;
        for (index, line) in lines[start - 1..end].iter().enumerate() {
            let number = start + index;
            let numbered = format!("{number:>6}  {line}\n");
            if body.len() + numbered.len() > budget {
                if body.is_empty() {
                    // One line longer than the whole budget: show its start rather than
                    // nothing, or the model could never get past it.
                    let cut = numbered.floor_char_boundary(budget);
                    body.push_str(&numbered[..cut]);
                    body.push_str("…[line cut]\n");
                    last = number;
                }
                break;
            }
            body.push_str(&numbered);
            last = number;
        }
        let mut out = format!("{shown}: lines {start}-{last} of {total}\n{body}");
        if last < end {
            out.push_str(&format!(
                "[cut at the output limit after line {last}; call read_file with start_line {} to read on]\n",
                last + 1
            ));
        }
        Ok(out)
    }

    fn search(
        &self,
        pattern: &str,
        path: Option<&str>,
        max: Option<usize>,
    ) -> Result<String, ToolError> {
        let regex = regex::Regex::new(pattern).map_err(|e| ToolError::Pattern(e.to_string()))?;
        let target = self.resolve(path.unwrap_or(""))?;
        let shown = self.rel(&target);
        if !target.exists() {
            return Err(ToolError::NotFound(shown));
        }
        let max = max.unwrap_or(DEFAULT_SEARCH_MAX).max(1);
        let budget = self.max_output - 200;
        let mut out = String::new();
        let mut matches = 0;
        let mut files = 0;
        let mut more = false;
        'files: for file in self.files_under(&target) {
            let Ok(text) = self.read_text(&file) else {
                continue;
            };
            let mut in_file = false;
            for (index, line) in text.lines().enumerate() {
                if !regex.is_match(line) {
                    continue;
                }
                let line = line.trim_end();
                let shown_line = if line.len() > SEARCH_LINE_BYTES {
                    format!("{}…", &line[..line.floor_char_boundary(SEARCH_LINE_BYTES)])
                } else {
                    line.to_string()
                };
                let entry = format!("{}:{}: {shown_line}\n", self.rel(&file), index + 1);
                if matches == max || out.len() + entry.len() > budget {
                    more = true;
                    break 'files;
                }
                out.push_str(&entry);
                matches += 1;
                if !in_file {
                    in_file = true;
                    files += 1;
                }
            }
        }
        if matches == 0 {
            return Ok(format!("no matches for /{pattern}/ in {shown}"));
        }
        let head = if more {
            format!(
                "the first {matches} matching lines (there are more; narrow `path` or the pattern):\n"
            )
        } else {
            format!("{matches} matching lines in {files} files:\n")
        };
        Ok(head + &out)
    }

    fn write_file(&self, path: &str, content: &str) -> Result<String, ToolError> {
        let full = self.resolve(path)?;
        let shown = self.rel(&full);
        if full.is_dir() {
            return Err(ToolError::IsDirectory(shown));
        }
        let existed = full.exists();
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(|error| ToolError::Io {
                action: "create the directory of",
                path: shown.clone(),
                error,
            })?;
        }
        std::fs::write(&full, content).map_err(|error| ToolError::Io {
            action: "write",
            path: shown.clone(),
            error,
        })?;
        let what = if existed { "replaced" } else { "created" };
        Ok(format!(
            "{what} {shown} ({} lines, {} bytes)",
            content.lines().count(),
            content.len()
        ))
    }

    fn edit_file(&self, path: &str, search: &str, replace: &str) -> Result<String, ToolError> {
        if search.is_empty() {
            return Err(ToolError::Arguments {
                tool: "edit_file".to_string(),
                message: "`search` is empty".to_string(),
                example: r#"{"path": "src/lib.rs", "search": "old text", "replace": "new text"}"#,
            });
        }
        let full = self.resolve(path)?;
        let shown = self.rel(&full);
        let text = self.read_text(&full)?;
        let found: Vec<usize> = text.match_indices(search).map(|(at, _)| at).collect();
        let line_of = |at: usize| text[..at].matches('\n').count() + 1;
        match found.as_slice() {
            [] => Err(ToolError::SearchNotFound {
                hint: not_found_hint(&text, search),
                path: shown,
            }),
            [at] => {
                let edited = format!("{}{replace}{}", &text[..*at], &text[at + search.len()..]);
                std::fs::write(&full, &edited).map_err(|error| ToolError::Io {
                    action: "write",
                    path: shown.clone(),
                    error,
                })?;
                let first = line_of(*at);
                // A trailing newline ends the last replaced line; it does not start another.
                let old_last = first + search.trim_end_matches('\n').matches('\n').count();
                Ok(format!(
                    "edited {shown}: lines {first}-{old_last} replaced by {} lines",
                    replace.lines().count()
                ))
            }
            many => {
                let mut lines: Vec<String> = many
                    .iter()
                    .take(10)
                    .map(|&at| line_of(at).to_string())
                    .collect();
                if many.len() > 10 {
                    lines.push("…".to_string());
                }
                Err(ToolError::NotUnique {
                    path: shown,
                    count: many.len(),
                    lines: lines.join(", "),
                })
            }
        }
    }
}

/// Why `search` may not have been found in `text`, as cheaply as that can be guessed.
fn not_found_hint(text: &str, search: &str) -> String {
    let numbered = regex::Regex::new(r"^\s*\d+  ")
        .ok()
        .is_some_and(|re| search.lines().next().is_some_and(|l| re.is_match(l)));
    if numbered {
        return "It looks like it starts with a line number from read_file; leave those out."
            .to_string();
    }
    let Some(first) = search.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return "The search text is only whitespace.".to_string();
    };
    let similar: Vec<String> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.trim() == first)
        .take(5)
        .map(|(index, _)| (index + 1).to_string())
        .collect();
    if similar.is_empty() {
        format!(
            "Not even its first line (`{first}`) is in the file; read the file again to see its current content."
        )
    } else {
        format!(
            "Its first line, ignoring indentation, is at line {}; the lines after it or the whitespace differ. Copy the text exactly as read_file shows it.",
            similar.join(", ")
        )
    }
}

/// Whether `command` may be run: it must be one of `allowed` or start with one followed by a
/// space (compared word by word, so extra spaces do not matter), and contain nothing that
/// chains, substitutes or redirects. This keeps the agent to the commands the operator chose;
/// it is not a sandbox (an allowed command's own arguments can still do a lot).
pub fn check_command(command: &str, allowed: &[String]) -> Result<(), ToolError> {
    let command = command.trim();
    if command.is_empty() {
        return Err(ToolError::Refused("the command is empty".to_string()));
    }
    if let Some(bad) = SHELL_METACHARACTERS.iter().find(|m| command.contains(**m)) {
        return Err(ToolError::Refused(format!(
            "refused: the command contains {bad:?}; run one allowed command at a time, without chaining, pipes, redirections or substitutions"
        )));
    }
    if allowed.is_empty() {
        return Err(ToolError::Refused(
            "refused: no commands are allowed for this agent ([executors.NAME] allowed_commands is empty)"
                .to_string(),
        ));
    }
    let words: Vec<&str> = command.split_whitespace().collect();
    let permitted = allowed.iter().any(|entry| {
        let entry: Vec<&str> = entry.split_whitespace().collect();
        !entry.is_empty() && words.starts_with(&entry)
    });
    if permitted {
        Ok(())
    } else {
        Err(ToolError::Refused(format!(
            "refused: `{command}` is not allowed; the allowed commands (optionally followed by arguments) are: {}",
            allowed.join(", ")
        )))
    }
}

/// How a `run` command should be run.
#[derive(Debug, Clone)]
pub struct CommandLimits {
    /// Longest it may take.
    pub timeout: Duration,
    /// Most bytes of output shown (start and end kept).
    pub max_output: usize,
    /// Extra environment, applied after scrubbing.
    pub env: Vec<(String, String)>,
    /// Where a scratch directory for the runner's log may be made.
    pub scratch: PathBuf,
    /// The sandbox the command starts in.
    pub sandbox: crate::executors::sandbox::Sandbox,
}

/// What came of a `run`.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandAnswer {
    /// It ended (or timed out); the answer for the model.
    Done(String),
    /// The run was cancelled while it ran; the command's process group was killed.
    Cancelled,
}

/// Runs an allowed `command` with `sh -c` in the worktree `root`.
pub async fn run_command(
    root: &Path,
    command: &str,
    limits: &CommandLimits,
    cancel: &CancellationToken,
) -> Result<CommandAnswer, ToolError> {
    let scratch = tempfile::Builder::new()
        .prefix("agent-run-")
        .tempdir_in(&limits.scratch)
        .map_err(|e| ToolError::Command(format!("cannot make a scratch directory: {e}")))?;
    let log_path = scratch.path().join("output.log");
    let run = AgentRun {
        argv: vec!["sh".into(), "-c".into(), command.trim().to_string()],
        env: limits.env.clone(),
        cwd: root.to_path_buf(),
        timeout: limits.timeout,
        log_path: log_path.clone(),
        max_log_bytes: MAX_COMMAND_LOG_BYTES,
        format: OutputFormat::Plain,
        sandbox: limits.sandbox.clone(),
        // Its log is a scratch file capped at MAX_COMMAND_LOG_BYTES.
        min_free_mb: 0,
    };
    // The output is read back from the runner's log, which has every line: its line channel
    // drops lines when the reader lags, and a fast command outruns any reader polled
    // alongside the runner. Nobody listens to either channel.
    let (lines_tx, lines_rx) = mpsc::channel(1);
    let (progress_tx, progress_rx) = mpsc::channel(1);
    drop((lines_rx, progress_rx));
    let outcome = run_agent(&run, |_| {}, lines_tx, progress_tx, cancel.clone())
        .await
        .map_err(|e| ToolError::Command(e.to_string()))?;
    let status = match outcome.exit {
        ExitKind::Exited(code) => format!("exit status {code}"),
        ExitKind::Signaled(signal) => format!("killed by signal {signal}"),
        ExitKind::TimedOut => format!(
            "timed out after {}; the command was killed",
            humantime::format_duration(limits.timeout)
        ),
        ExitKind::Cancelled => return Ok(CommandAnswer::Cancelled),
    };
    let max = limits.max_output;
    let output = tokio::task::spawn_blocking(move || head_and_tail(&log_path, max))
        .await
        .map_err(|e| ToolError::Command(format!("reading its output failed: {e}")))?
        .map_err(|e| ToolError::Command(format!("cannot read its output: {e}")))?;
    drop(scratch);
    Ok(CommandAnswer::Done(if output.is_empty() {
        format!("{status} (no output)")
    } else {
        format!("{status}\n{output}")
    }))
}

/// The output in the runner's log at `path`, about `max` bytes of it: the start and the end
/// (where test failures and their summary are), with a note of how many lines were left out
/// between. The runner's own `[bosun] …` notes and stderr marks are taken out, so the model
/// sees what a terminal would show.
fn head_and_tail(path: &Path, max: usize) -> std::io::Result<String> {
    use std::io::BufRead;
    let half = max / 2;
    let mut reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut head = String::new();
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut tail_bytes = 0;
    let mut omitted = 0usize;
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        if reader.read_until(b'\n', &mut bytes)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&bytes);
        let line = line.trim_end_matches('\n');
        if line.starts_with("[bosun] ") {
            // The runner's notes (exit code, log cap), not the command's output.
            if line.starts_with("[bosun] log truncated") {
                tail.push_back(format!(
                    "[output past {} MiB was not kept]",
                    MAX_COMMAND_LOG_BYTES >> 20
                ));
            }
            continue;
        }
        let mut text = line.strip_prefix("[stderr] ").unwrap_or(line).to_string();
        if text.len() > half {
            text.truncate(text.floor_char_boundary(half.saturating_sub(4)));
            text.push('…');
        }
        if tail.is_empty() && head.len() + text.len() < half {
            head.push_str(&text);
            head.push('\n');
            continue;
        }
        tail_bytes += text.len() + 1;
        tail.push_back(text);
        while tail_bytes > half
            && let Some(dropped) = tail.pop_front()
        {
            tail_bytes -= dropped.len() + 1;
            omitted += 1;
        }
    }
    let mut out = head;
    if omitted > 0 {
        out.push_str(&format!("[… {omitted} lines left out …]\n"));
    }
    for line in tail {
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worktree with these files (parents created).
    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
        let ws = Workspace::new(dir.path(), 16 * 1024).unwrap();
        (dir, ws)
    }

    fn file(call: FileCall, ws: &Workspace) -> Result<String, ToolError> {
        ws.call(&call)
    }

    fn list(ws: &Workspace, path: Option<&str>, max: Option<usize>) -> String {
        file(
            FileCall::ListFiles {
                path: path.map(String::from),
                max,
            },
            ws,
        )
        .unwrap()
    }

    fn read(
        ws: &Workspace,
        path: &str,
        s: Option<usize>,
        e: Option<usize>,
    ) -> Result<String, ToolError> {
        file(
            FileCall::ReadFile {
                path: path.into(),
                start_line: s,
                end_line: e,
            },
            ws,
        )
    }

    fn edit(ws: &Workspace, path: &str, search: &str, replace: &str) -> Result<String, ToolError> {
        file(
            FileCall::EditFile {
                path: path.into(),
                search: search.into(),
                replace: replace.into(),
            },
            ws,
        )
    }

    fn search(
        ws: &Workspace,
        pattern: &str,
        path: Option<&str>,
        max: Option<usize>,
    ) -> Result<String, ToolError> {
        file(
            FileCall::Search {
                pattern: pattern.into(),
                path: path.map(String::from),
                max,
            },
            ws,
        )
    }

    #[test]
    fn paths_outside_the_worktree_or_into_git_are_refused() {
        let (dir, ws) = tree(&[("src/lib.rs", "x\n"), (".git/config", "[core]\n")]);
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cret\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(dir.path().join(".git"), dir.path().join("gitlink")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", dir.path().join("dangling")).unwrap();
        let abs = outside.path().join("secret").display().to_string();
        for (path, why) in [
            (abs.as_str(), "is absolute"),
            ("../x", "goes up with `..`"),
            ("src/../../x", "goes up with `..`"),
            (".git/config", "inside .git"),
            ("src/.git", "inside .git"),
            ("escape/secret", "outside the worktree"),
            ("link", "outside the worktree"),
            ("escape/new/file", "outside the worktree"),
            ("gitlink/config", "into .git"),
            ("dangling", "does not exist"),
        ] {
            let err = ws.resolve(path).unwrap_err().to_string();
            assert!(err.contains(why), "{path}: {err}");
        }
        // Through every tool, not just resolve: nothing outside is read or written.
        assert!(
            read(&ws, "link", None, None)
                .unwrap_err()
                .to_string()
                .contains("outside")
        );
        let written = file(
            FileCall::WriteFile {
                path: "escape/planted".into(),
                content: "x".into(),
            },
            &ws,
        );
        assert!(written.is_err());
        assert!(!outside.path().join("planted").exists());
        // Paths that do not exist yet, inside the worktree, are fine.
        assert_eq!(
            ws.resolve("src/new/mod.rs").unwrap(),
            ws.root().join("src/new/mod.rs")
        );
        assert_eq!(ws.resolve("").unwrap(), ws.root());
    }

    #[test]
    fn list_files_is_sorted_skips_ignored_files_and_git_and_is_capped() {
        let (_dir, ws) = tree(&[
            (".gitignore", "target/\n*.log\nsrc/generated.rs\n"),
            (".git/HEAD", "ref: refs/heads/main\n"),
            (".github/ci.yml", "on: push\n"),
            ("src/b.rs", ""),
            ("src/a.rs", ""),
            ("src/generated.rs", ""),
            ("src/deep/c.rs", ""),
            ("target/debug/bosun", ""),
            ("debug.log", ""),
            ("README.md", ""),
        ]);
        let all = list(&ws, None, None);
        assert_eq!(
            all,
            "6 files under .:\n.github/ci.yml\n.gitignore\nREADME.md\nsrc/a.rs\nsrc/b.rs\nsrc/deep/c.rs\n"
        );
        // A subdirectory still honours the root's .gitignore.
        assert_eq!(
            list(&ws, Some("src"), None),
            "3 files under src:\nsrc/a.rs\nsrc/b.rs\nsrc/deep/c.rs\n"
        );
        let capped = list(&ws, None, Some(2));
        assert!(
            capped.ends_with(
                ".github/ci.yml\n.gitignore\n[4 more not shown; list a subdirectory with `path`]\n"
            ),
            "{capped}"
        );
        let missing = file(
            FileCall::ListFiles {
                path: Some("nope".into()),
                max: None,
            },
            &ws,
        );
        assert!(matches!(missing, Err(ToolError::NotFound(p)) if p == "nope"));
    }

    #[test]
    fn read_file_numbers_lines_reads_ranges_and_says_how_to_read_on() {
        let text: String = (1..=10).map(|n| format!("line {n}\n")).collect();
        let long: String = (1..=400).map(|n| format!("row number {n:04}\n")).collect();
        let (_dir, ws) = tree(&[("a.txt", &text), ("long.txt", &long), ("bin.dat", "a\0b")]);
        assert_eq!(
            read(&ws, "a.txt", Some(3), Some(5)).unwrap(),
            "a.txt: lines 3-5 of 10\n     3  line 3\n     4  line 4\n     5  line 5\n"
        );
        let tail = read(&ws, "a.txt", Some(9), Some(99)).unwrap();
        assert!(tail.starts_with("a.txt: lines 9-10 of 10\n"), "{tail}");
        let err = read(&ws, "a.txt", Some(11), None).unwrap_err().to_string();
        assert_eq!(err, "a.txt has 10 lines; start_line 11 is past its end");
        assert!(read(&ws, "a.txt", Some(5), Some(2)).is_err());
        assert!(matches!(
            read(&ws, "bin.dat", None, None),
            Err(ToolError::NotText(_))
        ));
        assert!(matches!(
            read(&ws, "nope.rs", None, None),
            Err(ToolError::NotFound(_))
        ));

        let small = Workspace::new(ws.root(), 1024).unwrap();
        let cut = read(&small, "long.txt", None, None).unwrap();
        assert!(cut.len() <= 1024, "{} bytes", cut.len());
        let last = cut.lines().rev().nth(1).unwrap();
        let shown: usize = last.split_whitespace().next().unwrap().parse().unwrap();
        assert!(
            cut.starts_with(&format!("long.txt: lines 1-{shown} of 400\n")),
            "{cut}"
        );
        assert!(
            cut.ends_with(&format!(
                "call read_file with start_line {} to read on]\n",
                shown + 1
            )),
            "{cut}"
        );
        let next = read(&small, "long.txt", Some(shown + 1), None).unwrap();
        assert!(next.contains(&format!("row number {:04}", shown + 1)));
    }

    #[test]
    fn search_reports_path_line_text_skips_ignored_and_binary_files() {
        let (_dir, ws) = tree(&[
            (".gitignore", "vendor/\n"),
            ("src/a.rs", "fn alpha() {}\nfn beta() {}\n"),
            ("src/b.rs", "// nothing\nfn alpha_two() {}\n"),
            ("vendor/c.rs", "fn alpha() {}\n"),
            ("blob.bin", "fn alpha\0"),
        ]);
        assert_eq!(
            search(&ws, r"fn alpha\w*", None, None).unwrap(),
            "2 matching lines in 2 files:\nsrc/a.rs:1: fn alpha() {}\nsrc/b.rs:2: fn alpha_two() {}\n"
        );
        assert_eq!(
            search(&ws, "alpha", Some("src/b.rs"), None).unwrap(),
            "1 matching lines in 1 files:\nsrc/b.rs:2: fn alpha_two() {}\n"
        );
        let capped = search(&ws, "fn", None, Some(1)).unwrap();
        assert!(
            capped.starts_with("the first 1 matching lines (there are more"),
            "{capped}"
        );
        assert_eq!(
            search(&ws, "zeta", None, None).unwrap(),
            "no matches for /zeta/ in ."
        );
        assert!(matches!(
            search(&ws, "fn (", None, None),
            Err(ToolError::Pattern(_))
        ));
    }

    #[test]
    fn write_file_creates_parent_directories() {
        let (dir, ws) = tree(&[("old.txt", "old\n")]);
        let made = file(
            FileCall::WriteFile {
                path: "a/b/c.txt".into(),
                content: "one\ntwo\n".into(),
            },
            &ws,
        )
        .unwrap();
        assert_eq!(made, "created a/b/c.txt (2 lines, 8 bytes)");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a/b/c.txt")).unwrap(),
            "one\ntwo\n"
        );
        let replaced = file(
            FileCall::WriteFile {
                path: "old.txt".into(),
                content: "new\n".into(),
            },
            &ws,
        )
        .unwrap();
        assert!(replaced.starts_with("replaced old.txt"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("old.txt")).unwrap(),
            "new\n"
        );
        let onto_dir = file(
            FileCall::WriteFile {
                path: "a".into(),
                content: String::new(),
            },
            &ws,
        );
        assert!(matches!(onto_dir, Err(ToolError::IsDirectory(_))));
    }

    #[test]
    fn edit_file_replaces_one_exact_match_and_explains_misses() {
        let text = "fn a() {\n    let x = 1;\n}\nfn b() {\n    let x = 1;\n}\n";
        let (dir, ws) = tree(&[("src/lib.rs", text)]);
        let path = dir.path().join("src/lib.rs");

        let twice = edit(&ws, "src/lib.rs", "let x = 1;", "let x = 2;").unwrap_err();
        assert_eq!(
            twice.to_string(),
            "the search text occurs 2 times in `src/lib.rs` (at lines 2, 5); include more of the surrounding lines so it matches exactly once"
        );
        let indented = edit(&ws, "src/lib.rs", "fn b() {\nlet x = 1;", "")
            .unwrap_err()
            .to_string();
        assert!(
            indented.starts_with("the search text was not found in `src/lib.rs`."),
            "{indented}"
        );
        assert!(
            indented.contains("first line, ignoring indentation, is at line 4"),
            "{indented}"
        );
        let numbered = edit(&ws, "src/lib.rs", "     2      let x = 1;", "")
            .unwrap_err()
            .to_string();
        assert!(
            numbered.contains("line number from read_file"),
            "{numbered}"
        );
        let absent = edit(&ws, "src/lib.rs", "fn zeta()", "")
            .unwrap_err()
            .to_string();
        assert!(
            absent.contains("Not even its first line (`fn zeta()`)"),
            "{absent}"
        );
        assert!(edit(&ws, "src/lib.rs", "", "x").is_err());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "failed edits change nothing"
        );

        let done = edit(
            &ws,
            "src/lib.rs",
            "fn b() {\n    let x = 1;",
            "fn b() {\n    let x = 2;",
        )
        .unwrap();
        assert_eq!(done, "edited src/lib.rs: lines 4-5 replaced by 2 lines");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "fn a() {\n    let x = 1;\n}\nfn b() {\n    let x = 2;\n}\n"
        );
    }

    #[test]
    fn tool_arguments_are_checked_with_a_useful_message() {
        let err = Call::parse("read_file", "{\"path\": ")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the arguments of `read_file` are not valid: EOF"),
            "{err}"
        );
        assert!(
            err.ends_with(r#"like {"path": "src/lib.rs", "start_line": 1, "end_line": 80}"#),
            "{err}"
        );
        let err = Call::parse("edit_file", r#"{"path": "a", "replace": "b"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `search`"), "{err}");
        assert!(
            matches!(Call::parse("rm_rf", "{}"), Err(ToolError::UnknownTool(n)) if n == "rm_rf")
        );
        assert_eq!(
            Call::parse("list_files", "").unwrap(),
            Call::File(FileCall::ListFiles {
                path: None,
                max: None
            })
        );
        let names: Vec<String> = definitions().into_iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "list_files",
                "read_file",
                "search",
                "write_file",
                "edit_file",
                "run",
                "finish"
            ]
        );
    }

    #[test]
    fn only_allowed_commands_without_chaining_may_run() {
        let allowed = vec!["cargo test".to_string(), "make".to_string()];
        for ok in [
            "cargo test",
            "cargo test --lib parser",
            "  cargo   test  ",
            "make",
            "make check",
        ] {
            assert!(check_command(ok, &allowed).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("cargo test; rm -rf x", "contains \";\""),
            ("cargo test && rm x", "contains \"&\""),
            ("cargo test | tee out", "contains \"|\""),
            ("cargo test > src/lib.rs", "contains \">\""),
            ("cargo test < in", "contains \"<\""),
            ("cargo test $(rm x)", "contains \"$(\""),
            ("cargo test `rm x`", "contains \"`\""),
            ("cargo test\nrm x", "contains \"\\n\""),
            ("cargo testing", "is not allowed"),
            ("cargo build", "is not allowed"),
            ("rm -rf /", "is not allowed"),
            ("", "empty"),
        ] {
            let err = check_command(bad, &allowed).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        let none = check_command("make", &[]).unwrap_err().to_string();
        assert!(none.contains("allowed_commands is empty"), "{none}");
    }

    fn limits(dir: &Path, timeout: Duration, max_output: usize) -> CommandLimits {
        CommandLimits {
            timeout,
            max_output,
            env: vec![("BOSUN_AGENT_TEST".into(), "from-spec".into())],
            scratch: dir.to_path_buf(),
            sandbox: Default::default(),
        }
    }

    #[tokio::test]
    async fn run_answers_exit_status_and_output_in_the_worktree() {
        let (dir, ws) = tree(&[("here.txt", "")]);
        let scratch = tempfile::tempdir().unwrap();
        let cancel = CancellationToken::new();
        let answer = run_command(
            ws.root(),
            "ls; echo \"$BOSUN_AGENT_TEST\"; echo oops >&2; exit 3",
            &limits(scratch.path(), Duration::from_secs(20), 4096),
            &cancel,
        )
        .await
        .unwrap();
        let CommandAnswer::Done(text) = answer else {
            panic!("cancelled")
        };
        assert!(text.starts_with("exit status 3\n"), "{text}");
        for line in ["here.txt", "from-spec", "oops"] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from {text}"
            );
        }
        assert_eq!(
            std::fs::read_dir(scratch.path()).unwrap().count(),
            0,
            "scratch left behind"
        );
        drop(dir);
    }

    #[tokio::test]
    async fn run_keeps_the_start_and_end_of_long_output() {
        let (_dir, ws) = tree(&[]);
        let scratch = tempfile::tempdir().unwrap();
        let answer = run_command(
            ws.root(),
            "seq 1 20000",
            &limits(scratch.path(), Duration::from_secs(20), 1000),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        let CommandAnswer::Done(text) = answer else {
            panic!("cancelled")
        };
        assert!(text.len() < 1100, "{} bytes", text.len());
        assert!(text.starts_with("exit status 0\n1\n2\n3\n"), "{text}");
        assert!(text.ends_with("19999\n20000\n"), "{text}");
        assert!(text.contains(" lines left out …]"), "{text}");
    }

    #[tokio::test]
    async fn run_kills_a_command_past_its_timeout() {
        let (_dir, ws) = tree(&[]);
        let scratch = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let answer = run_command(
            ws.root(),
            "echo before; sleep 30",
            &limits(scratch.path(), Duration::from_millis(300), 4096),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            answer,
            CommandAnswer::Done("timed out after 300ms; the command was killed\nbefore\n".into())
        );
    }
}
