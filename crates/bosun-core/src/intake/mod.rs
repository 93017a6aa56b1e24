//! Task intake: Markdown task lists parsed into prioritized, typed tasks with stable ids,
//! and the write-back that ticks a task's checkbox without touching any other byte.

mod classify;
pub mod encoding;
mod ids;
mod markdown;
mod shared;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use classify::{TypeRules, heading_priority, parse_priority};
pub use encoding::Misreading;

use crate::model::Task;

/// A task file that could not be read as a task list.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The file is missing or unreadable.
    #[error("cannot read task file {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("{path} is not valid UTF-8 (first bad byte at offset {offset}); save it as UTF-8")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// The file is UTF-8 that was once misread as a single-byte encoding and saved again.
    #[error(
        "{path} is double-encoded (its UTF-8 was read as {misreading} and saved again); repaired, it begins:\n{preview}\nrun `bosun tasks --repair-encoding` to rewrite it (the original is kept as {path}.bak)"
    )]
    DoubleEncoded {
        /// The file.
        path: PathBuf,
        /// How it was misread.
        misreading: Misreading,
        /// The first lines of the repaired text.
        preview: String,
    },
    /// `tick` was asked for a task that is not in the task files (any more).
    #[error("task {id} is not in {files}: it was removed, or its title or section changed")]
    TaskNotFound {
        /// The id asked for.
        id: String,
        /// The files searched.
        files: String,
    },
    /// Writing the file back failed.
    #[error("cannot write task file {path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// Where a task's checkbox is: which loaded file, and the byte offset of its `[ ]`
/// in that file (BOM included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Marker {
    file: usize,
    offset: usize,
}

/// Tasks from one or more task files, with ids unique across them.
#[derive(Debug, Clone, Default)]
pub struct TaskList {
    /// Every task, in file order (files in the order given).
    pub tasks: Vec<Task>,
    /// Things worth telling the user that did not stop parsing (unknown tags, unresolved
    /// dependencies), each naming file and line.
    pub warnings: Vec<String>,
    markers: Vec<Marker>,
}

impl TaskList {
    /// Parses Markdown `text` as the content of `file` (used in tasks and messages).
    pub fn parse_str(text: &str, file: &Path, rules: &TypeRules) -> Self {
        let mut list = Self::default();
        list.add(text, 0, 0, file, rules);
        list.finish();
        list
    }

    /// Reads and parses task files. `files` are the paths to show (as configured); each is
    /// read at `root.join(file)`.
    ///
    /// Two loads of the same content at the same time (the console's and the orchestrator's
    /// at start) share one parse.
    pub fn load(root: &Path, files: &[PathBuf], rules: &TypeRules) -> Result<Self, IntakeError> {
        let sources = files
            .iter()
            .map(|file| Ok((file.clone(), read(&root.join(file), file)?)))
            .collect::<Result<Vec<_>, IntakeError>>()?;
        shared::parse(sources, rules)
    }

    /// Parses task files given as (path to show, content) pairs, e.g. read from a git branch.
    pub fn from_sources(
        sources: &[(PathBuf, Vec<u8>)],
        rules: &TypeRules,
    ) -> Result<Self, IntakeError> {
        let mut list = Self::default();
        for (index, (file, bytes)) in sources.iter().enumerate() {
            let (bom, text) = checked_text(bytes, file)?;
            list.add(
                text,
                index,
                if bom { encoding::BOM.len() } else { 0 },
                file,
                rules,
            );
        }
        list.finish();
        Ok(list)
    }

    fn add(&mut self, text: &str, file_index: usize, shift: usize, file: &Path, rules: &TypeRules) {
        let mut parsed = markdown::parse(text, file, rules);
        self.warnings.extend(parsed.warnings);
        self.markers
            .extend(parsed.markers.into_iter().map(|offset| Marker {
                file: file_index,
                offset: offset + shift,
            }));
        if self.tasks.is_empty() {
            self.tasks = parsed.tasks;
        } else {
            self.tasks.append(&mut parsed.tasks);
        }
    }

    /// Assigns ids and resolves `depends on:` references (by id or by title) to ids.
    fn finish(&mut self) {
        ids::assign_ids(&mut self.tasks);
        if self.tasks.iter().all(|t| t.depends_on.is_empty()) {
            return;
        }
        let by_id: HashMap<String, String> = self
            .tasks
            .iter()
            .map(|t| (t.id.0.clone(), t.id.0.clone()))
            .collect();
        let mut by_title: HashMap<String, String> = HashMap::new();
        for t in &self.tasks {
            by_title
                .entry(t.title.to_lowercase())
                .or_insert_with(|| t.id.0.clone());
        }
        for task in &mut self.tasks {
            for dep in &mut task.depends_on {
                let key = dep.to_lowercase();
                match by_id.get(&key).or_else(|| by_title.get(&key)) {
                    Some(id) => *dep = id.clone(),
                    None => self.warnings.push(format!(
                        "{}:{}: depends on unknown task `{dep}` (kept as written; the task waits for it)",
                        task.file.display(),
                        task.line
                    )),
                }
            }
        }
    }

    /// Finds a task by id, or by a unique prefix of its id.
    pub fn find(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id.0 == id).or_else(|| {
            let mut matches = self.tasks.iter().filter(|t| t.id.0.starts_with(id));
            let first = matches.next()?;
            matches.next().is_none().then_some(first)
        })
    }
}

fn read(path: &Path, shown: &Path) -> Result<Vec<u8>, IntakeError> {
    std::fs::read(path).map_err(|error| IntakeError::Read {
        path: shown.to_path_buf(),
        error,
    })
}

/// The text of a task file: UTF-8, and not double-encoded.
fn checked_text<'a>(bytes: &'a [u8], shown: &Path) -> Result<(bool, &'a str), IntakeError> {
    let (bom, text) = encoding::decode(bytes).map_err(|offset| IntakeError::NotUtf8 {
        path: shown.to_path_buf(),
        offset,
    })?;
    if let Some((misreading, repaired)) = encoding::detect_double_encoding(text) {
        return Err(IntakeError::DoubleEncoded {
            path: shown.to_path_buf(),
            misreading,
            preview: encoding::preview(&repaired, 5),
        });
    }
    Ok((bom, text))
}

/// A new task as a Markdown list item the parser reads back with the same title, type and
/// priority: `- [ ] Title [type:docs] [priority:high]`, then the body's lines indented under
/// it. Line breaks in the title become spaces; an empty body adds nothing.
pub fn task_item(task: &crate::api::NewTask) -> String {
    let crate::api::NewTask {
        title,
        body,
        task_type,
        priority,
    } = task;
    let title: String = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut item = format!("- [ ] {title}");
    if let Some(task_type) = task_type {
        item.push_str(&format!(" [type:{task_type}]"));
    }
    if let Some(priority) = priority {
        item.push_str(&format!(" [priority:{priority}]"));
    }
    for line in body.trim_end().lines() {
        item.push('\n');
        if !line.trim().is_empty() {
            item.push_str("  ");
            item.push_str(line.trim_end());
        }
    }
    item
}

/// Ticks the checkbox of task `id` in whichever of `files` holds it: the space in `[ ]`
/// becomes `x` and no other byte changes. The files are parsed afresh, so edits made since
/// the caller last read them are respected. Returns the task as it was found.
pub fn tick(
    root: &Path,
    files: &[PathBuf],
    rules: &TypeRules,
    id: &str,
) -> Result<Task, IntakeError> {
    let sources = files
        .iter()
        .map(|file| Ok((file.clone(), read(&root.join(file), file)?)))
        .collect::<Result<Vec<_>, IntakeError>>()?;
    let (task, ticked) = tick_sources(&sources, rules, id)?;
    if let Some((index, bytes)) = ticked {
        let shown = &files[index];
        write_atomically(&root.join(shown), &bytes).map_err(|error| IntakeError::Write {
            path: shown.to_path_buf(),
            error,
        })?;
    }
    Ok(task)
}

/// A task file after a tick: its index among the sources and its new bytes.
pub type TickedFile = (usize, Vec<u8>);

/// Ticks task `id` in task files given as (path, content) pairs, in memory. Returns the task
/// as found and, unless it was already done, which source changed and its new bytes (only the
/// marker byte differs).
pub fn tick_sources(
    sources: &[(PathBuf, Vec<u8>)],
    rules: &TypeRules,
    id: &str,
) -> Result<(Task, Option<TickedFile>), IntakeError> {
    let list = TaskList::from_sources(sources, rules)?;
    let not_found = |files: String| IntakeError::TaskNotFound {
        id: id.to_string(),
        files,
    };
    let index = list
        .tasks
        .iter()
        .position(|t| t.id.0 == id)
        .ok_or_else(|| {
            not_found(
                sources
                    .iter()
                    .map(|(f, _)| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
    let task = list.tasks[index].clone();
    if task.done {
        return Ok((task, None));
    }
    let marker = list.markers[index];
    let (shown, original) = &sources[marker.file];
    let mut bytes = original.clone();
    // The marker is `[ ]`: exactly three bytes with a space (or other blank) in the middle.
    match bytes.get(marker.offset..marker.offset + 3) {
        Some([b'[', _, b']']) => bytes[marker.offset + 1] = b'x',
        _ => return Err(not_found(shown.display().to_string())),
    }
    Ok((task, Some((marker.file, bytes))))
}

/// Rewrites a double-encoded task file with its repaired text, keeping the original as
/// `<file>.bak`. Returns how it had been misread, or `None` (and writes nothing) when the
/// file is not double-encoded.
pub fn repair_encoding(root: &Path, file: &Path) -> Result<Option<Misreading>, IntakeError> {
    let path = root.join(file);
    let bytes = read(&path, file)?;
    let (bom, text) = encoding::decode(&bytes).map_err(|offset| IntakeError::NotUtf8 {
        path: file.to_path_buf(),
        offset,
    })?;
    let Some((misreading, repaired)) = encoding::detect_double_encoding(text) else {
        return Ok(None);
    };
    let write_err = |error| IntakeError::Write {
        path: file.to_path_buf(),
        error,
    };
    let mut backup = path.clone().into_os_string();
    backup.push(".bak");
    std::fs::write(&backup, &bytes).map_err(write_err)?;
    let mut out = Vec::with_capacity(repaired.len() + 3);
    if bom {
        out.extend_from_slice(encoding::BOM);
    }
    out.extend_from_slice(repaired.as_bytes());
    write_atomically(&path, &out).map_err(write_err)?;
    Ok(Some(misreading))
}

/// Replaces `path` with `bytes` via a temporary file in the same directory and a rename, so a
/// crash leaves either the old file or the new one; permissions are kept.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod task_item_tests {
    use super::*;
    use crate::model::{Priority, TaskType};

    #[test]
    fn a_new_task_item_reads_back_with_its_title_type_priority_and_body() {
        let item = task_item(&crate::api::NewTask {
            title: "Document the\nparser".into(),
            body: "Cover every option.\n\nWith examples.\n".into(),
            task_type: Some(TaskType::Docs),
            priority: Some(Priority::High),
        });
        assert_eq!(
            item,
            "- [ ] Document the parser [type:docs] [priority:high]\n  Cover every option.\n\n  With examples."
        );
        let rules = crate::config::IntakeConfig::default().type_rules();
        let list = TaskList::parse_str(
            &format!("# Tasks\n\n{item}\n"),
            Path::new("TODO.md"),
            &rules,
        );
        let task = &list.tasks[0];
        assert_eq!(task.title, "Document the parser");
        assert_eq!(task.task_type, TaskType::Docs);
        assert_eq!(task.priority, Priority::High);
        // The first body line continues the item's paragraph (the description), the rest is
        // the body.
        let text = format!("{}\n{}", task.description, task.body);
        assert!(text.contains("Cover every option."), "{text:?}");
        assert!(text.contains("With examples."), "{text:?}");
    }
}
