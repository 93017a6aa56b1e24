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

use crate::executors::command::{AgentRun, ExitKind, OutputLine, run_agent};
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
                let old_last = first + search.matches('\n').count();
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
        let shown = bad.escape_debug();
        return Err(ToolError::Refused(format!(
            "refused: the command contains `{shown}`; run one allowed command at a time, without chaining, pipes, redirections or substitutions"
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
    let run = AgentRun {
        argv: vec!["sh".into(), "-c".into(), command.trim().to_string()],
        env: limits.env.clone(),
        cwd: root.to_path_buf(),
        timeout: limits.timeout,
        log_path: scratch.path().join("output.log"),
        // The output is collected from the line channel; the runner's log is not needed.
        max_log_bytes: 0,
        format: OutputFormat::Plain,
    };
    // Large enough that the collector, polled alongside the runner, never lets it fill.
    let (lines_tx, lines_rx) = mpsc::channel(4096);
    let (progress_tx, progress_rx) = mpsc::channel(1);
    drop(progress_rx);
    let (outcome, output) = tokio::join!(
        run_agent(&run, |_| {}, lines_tx, progress_tx, cancel.clone()),
        collect(lines_rx, limits.max_output),
    );
    let outcome = outcome.map_err(|e| ToolError::Command(e.to_string()))?;
    let status = match outcome.exit {
        ExitKind::Exited(code) => format!("exit status {code}"),
        ExitKind::Signaled(signal) => format!("killed by signal {signal}"),
        ExitKind::TimedOut => format!(
            "timed out after {}; the command was killed",
            humantime::format_duration(limits.timeout)
        ),
        ExitKind::Cancelled => return Ok(CommandAnswer::Cancelled),
    };
    Ok(CommandAnswer::Done(if output.is_empty() {
        format!("{status} (no output)")
    } else {
        format!("{status}\n{output}")
    }))
}

/// Gathers a command's output lines, keeping about `max` bytes: the start and the end (where
/// test failures and their summary are) with a note of how many lines were left out between.
async fn collect(mut rx: mpsc::Receiver<OutputLine>, max: usize) -> String {
    let half = max / 2;
    let mut head = String::new();
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut tail_bytes = 0;
    let mut omitted = 0usize;
    while let Some(line) = rx.recv().await {
        let mut text = line.text;
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
    out
}
