//! The durable store: runs, run events, diffs, task snapshots, a tamper-evident audit chain
//! and process memory's trees (see [`crate::memory`]) in one redb file, `.bosun/store.redb`
//! (see [`kv`]). Every write that changes a run's state is committed durably before the
//! caller publishes the change, so a crash never loses a state the operator saw; a full disk
//! fails the write and leaves the last commit.

mod annotations;
mod audit;
mod import;
mod journal;
pub use crate::kv;
pub use crate::kv::free_mb;
mod lock;

use std::ops::Bound;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use audit::AuditEntry;
pub use journal::Approval;
pub use lock::StoreLock;

use crate::memory::{Learned, Learning, Memory, MemoryError};
use crate::model::{Annotation, AnnotationCounts, Run, RunId, RunSummary, Task, TaskId, now_ms};

/// The store layout this build writes. Version 2 keeps the number of runs in `meta`
/// ([`RUN_COUNT`]): sled counts a tree by reading all of it, 120 ms for 100,000 runs, and the
/// console asks at start and on every page of history. Version 3 indexes the runs: the ones not
/// finished (`open_runs`) and a summary of each task's runs (`task_runs`), so the orchestrator
/// starts by reading those instead of every run. Version 4 keeps a run's annotations apart
/// (`annotations`, by run and file: see [`annotations`]) and only their counts in the run: a
/// large change has tens of thousands, which every list of runs, every start and every change
/// of the run's state decoded or wrote again.
pub const SCHEMA_VERSION: u32 = 4;

/// The `meta` key present once `open_runs` and `task_runs` index every run.
const RUNS_INDEXED: &str = "runs_indexed";

/// The `meta` key holding a digest of the task list last saved ([`Store::put_tasks`]).
const TASKS_DIGEST: &str = "tasks_digest";

/// The `meta` key holding how many runs the `runs` tree has (big-endian u64).
const RUN_COUNT: &str = "run_count";

/// A step that rewrites the store from one schema version to the next.
type Migration = fn(&kv::Db) -> Result<(), StoreError>;

/// Migrations from version `i + 1` to `i + 2`, applied in order at open.
const MIGRATIONS: &[Migration] = &[count_runs, index_runs, separate_annotations];

/// 1 → 2: counts the runs once, so [`Store::run_count`] can read the number.
fn count_runs(db: &kv::Db) -> Result<(), StoreError> {
    let n = db.open_tree("runs")?.len()?;
    db.open_tree("meta")?.insert(RUN_COUNT, n.to_be_bytes())?;
    Ok(())
}

/// 2 → 3 (and any store whose runs were written without the indexes): builds `open_runs` and
/// `task_runs` from the runs, reading each once.
fn index_runs(db: &kv::Db) -> Result<(), StoreError> {
    let (open, by_task) = (db.open_tree("open_runs")?, db.open_tree("task_runs")?);
    open.clear()?;
    by_task.clear()?;
    let (mut open_batch, mut task_batch) = (kv::Batch::default(), kv::Batch::default());
    for kv in db.open_tree("runs")?.iter() {
        let (k, v) = kv?;
        let run: Run = decode(&format!("run {}", String::from_utf8_lossy(&k)), &v)?;
        task_batch.insert(
            task_run_key(&run),
            encode("run summary", &RunSummary::from(&run))?,
        );
        if !run.status.is_final() {
            open_batch.insert(run.id.0.as_bytes(), run.task_id.0.as_bytes());
        }
    }
    open.apply_batch(open_batch)?;
    by_task.apply_batch(task_batch)?;
    db.open_tree("meta")?.insert(RUNS_INDEXED, b"1")?;
    Ok(())
}

/// 3 → 4: moves each run's annotations out of its record into `annotations`, leaving their
/// counts; a thousand runs per transaction (a run already moved has no annotations in its
/// record, so a migration cut short goes on where it stopped).
fn separate_annotations(db: &kv::Db) -> Result<(), StoreError> {
    const CHUNK: usize = 1_000;
    let (runs, tree) = (db.open_tree("runs")?, db.open_tree("annotations")?);
    let mut after: Option<Vec<u8>> = None;
    loop {
        let range = match &after {
            Some(k) => runs.range(Bound::Excluded(k.as_slice()), Bound::Unbounded),
            None => runs.iter(),
        };
        let mut moved = Vec::new();
        let mut last = None;
        for kv in range.take(CHUNK) {
            let (k, v) = kv?;
            last = Some(k.to_vec());
            let what = format!("run {}", String::from_utf8_lossy(&k));
            let mut record: serde_json::Map<String, serde_json::Value> = decode(&what, &v)?;
            let Some(list) = record.remove("annotations") else {
                continue;
            };
            let codec = |e: serde_json::Error| StoreError::Codec {
                what: format!("the annotations of {what}"),
                error: e.to_string(),
            };
            let list: Vec<Annotation> = serde_json::from_value(list).map_err(codec)?;
            let counts = AnnotationCounts::of(&list);
            if !counts.is_empty() {
                let counts = serde_json::to_value(&counts).map_err(codec)?;
                record.insert("annotation_counts".into(), counts);
            }
            let id = RunId(String::from_utf8_lossy(&k).into_owned());
            let entries = annotations::entries(&id, &list)?;
            moved.push((k.to_vec(), encode(&what, &record)?, entries));
        }
        db.write(|tx| {
            for (key, record, entries) in &moved {
                tx.insert(&runs, key, record)?;
                for (key, value) in entries {
                    tx.insert(&tree, key, value)?;
                }
            }
            Ok::<_, StoreError>(())
        })?;
        match last {
            Some(k) => after = Some(k),
            None => return Ok(()),
        }
    }
}

/// `task_runs` key: the task id, NUL, the run id (so a task's runs are one prefix, oldest
/// first).
fn task_run_key(run: &Run) -> Vec<u8> {
    let mut key = task_prefix(&run.task_id);
    key.extend_from_slice(run.id.0.as_bytes());
    key
}

fn task_prefix(task: &TaskId) -> Vec<u8> {
    let mut key = task.0.as_bytes().to_vec();
    key.push(0);
    key
}

fn read_count(value: Option<&[u8]>) -> u64 {
    // Written only by this module as 8 bytes; anything else reads as none.
    value
        .and_then(|v| <[u8; 8]>::try_from(v).ok())
        .map_or(0, u64::from_be_bytes)
}

/// A store problem, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another bosun holds this repository's store.
    #[error("bosun is already running on this repository{}; stop it first, or use that one", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked {
        /// The other process, when known.
        pid: Option<u32>,
    },
    /// The database engine failed (a full disk, a damaged file).
    #[error("store: {0}")]
    Engine(String),
    /// A file next to the store failed.
    #[error("store: {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A record could not be encoded or decoded.
    #[error("store: cannot decode {what}: {error}")]
    Codec {
        /// Which record.
        what: String,
        /// Why.
        error: String,
    },
    /// The store was written by a newer bosun.
    #[error(
        "the store in .bosun/store.redb was written by a newer bosun (schema {found}, this one knows {SCHEMA_VERSION}); upgrade bosun"
    )]
    NewerSchema {
        /// The version found.
        found: u32,
    },
    /// No run matches.
    #[error("no run matches `{0}` (see `bosun runs`)")]
    NoSuchRun(String),
    /// Several runs match a prefix.
    #[error("`{prefix}` matches {count} runs; give more of the id")]
    AmbiguousRun {
        /// What was given.
        prefix: String,
        /// How many match.
        count: usize,
    },
    /// Process memory failed.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The audit chain does not verify.
    #[error("the audit trail is broken at entry {seq}: {why}")]
    AuditBroken {
        /// The first bad entry.
        seq: u64,
        /// What does not match.
        why: String,
    },
}

impl From<kv::KvError> for StoreError {
    fn from(e: kv::KvError) -> Self {
        Self::Engine(e.0)
    }
}

pub use crate::model::RunEvent;

/// Once a run has this many events, further `progress` events are dropped (the run's log file
/// has every line). Status changes, errors and notes are always kept: a run has a handful of
/// those, and its history must still say how it ended.
pub const MAX_EVENTS_PER_RUN: u32 = 2_000;

/// bosun's durable state for one repository.
pub struct Store {
    db: kv::Db,
    meta: kv::Tree,
    runs: kv::Tree,
    /// Ids of the runs not finished (value: the task id).
    open_runs: kv::Tree,
    /// A [`RunSummary`] per run, keyed by task then run.
    task_runs: kv::Tree,
    events: kv::Tree,
    diffs: kv::Tree,
    tasks: kv::Tree,
    audit: kv::Tree,
    journal: kv::Tree,
    /// Each run's annotations, by run and file ([`annotations`]).
    annotations: kv::Tree,
    memory: Memory,
    _lock: StoreLock,
}

fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Codec {
        what: what.to_string(),
        error: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Codec {
        what: what.to_string(),
        error: e.to_string(),
    })
}

impl Store {
    /// Opens (creating) the store in `state_dir` (`<repo>/.bosun`), taking the repository lock
    /// and migrating older layouts.
    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(state_dir).map_err(|error| StoreError::Io {
            path: state_dir.to_path_buf(),
            error,
        })?;
        let lock = StoreLock::acquire(&state_dir.join("lock"))?;
        let file = Self::file(state_dir);
        if !file.exists()
            && let Some(old) = import::legacy(state_dir)
        {
            let n = import::import(&old, &file)?;
            tracing::info!(
                entries = n,
                "imported the sled store into {}",
                file.display()
            );
        }
        let db = kv::Db::open(&file)?;
        let meta = db.open_tree("meta")?;
        let stored = match meta.get("schema_version")? {
            Some(v) => Some(u32::from_be_bytes(v.as_slice().try_into().map_err(
                |_| StoreError::Codec {
                    what: "schema version".into(),
                    error: format!("{} bytes", v.len()),
                },
            )?)),
            None => None,
        };
        let found = stored.unwrap_or(SCHEMA_VERSION);
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { found });
        }
        for (i, migrate) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(found.saturating_sub(1) as usize)
        {
            migrate(&db)?;
            let reached = u32::try_from(i + 2).unwrap_or(SCHEMA_VERSION);
            meta.insert("schema_version", reached.to_be_bytes())?;
        }
        // Written when it changes only: every write is a durable commit, and bosun opens
        // the store at every start.
        if stored != Some(SCHEMA_VERSION) {
            meta.insert("schema_version", SCHEMA_VERSION.to_be_bytes())?;
        }
        let runs = db.open_tree("runs")?;
        // A store made before schema versions were written has runs but no count.
        if meta.get(RUN_COUNT)?.is_none() && !runs.is_empty()? {
            count_runs(&db)?;
        }
        // Runs written straight into the tree (by an older build's import, or a bench) are
        // indexed once.
        if meta.get(RUNS_INDEXED)?.is_none() && !runs.is_empty()? {
            index_runs(&db)?;
        }
        let store = Self {
            meta,
            runs,
            open_runs: db.open_tree("open_runs")?,
            task_runs: db.open_tree("task_runs")?,
            events: db.open_tree("run_events")?,
            diffs: db.open_tree("diffs")?,
            tasks: db.open_tree("tasks")?,
            audit: db.open_tree("audit")?,
            journal: db.open_tree("journal")?,
            annotations: db.open_tree("annotations")?,
            memory: Memory::open(&db)?,
            db,
            _lock: lock,
        };
        store.flush()?;
        Ok(store)
    }

    /// The store's file in `state_dir`.
    pub fn file(state_dir: &Path) -> PathBuf {
        state_dir.join("store.redb")
    }

    /// Compacts the (closed) store in `state_dir`, taking the repository lock for the time it
    /// takes: its file's size before and after. (Freed pages are reused as the store goes on;
    /// compaction gives them back to the file system, e.g. after `bosun gc`.)
    pub fn compact(state_dir: &Path) -> Result<(u64, u64), StoreError> {
        let _lock = StoreLock::acquire(&state_dir.join("lock"))?;
        let file = Self::file(state_dir);
        let size = || std::fs::metadata(&file).map_or(0, |m| m.len());
        let before = size();
        kv::Db::compact_file(&file)?;
        Ok((before, size()))
    }

    /// The `llm_cache` tree: answers of temperature-0 model calls (see `crate::llm::Cache`).
    pub fn llm_cache(&self) -> Result<kv::Tree, StoreError> {
        Ok(self.db.open_tree("llm_cache")?)
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Writes a run with its indexes (its summary under its task, its place among the open
    /// runs) and the run count, in the transaction `tx`.
    fn write_run(&self, tx: &kv::Tx<'_>, run: &Run) -> Result<(), StoreError> {
        let key = run.id.0.as_bytes();
        tx.insert(
            &self.task_runs,
            &task_run_key(run),
            &encode("run summary", &RunSummary::from(run))?,
        )?;
        if run.status.is_final() {
            tx.remove(&self.open_runs, key)?;
        } else {
            tx.insert(&self.open_runs, key, run.task_id.0.as_bytes())?;
        }
        if tx.insert(&self.runs, key, &encode("run", run)?)?.is_none() {
            let n = read_count(tx.get(&self.meta, RUN_COUNT.as_bytes())?.as_deref());
            tx.insert(&self.meta, RUN_COUNT.as_bytes(), &(n + 1).to_be_bytes())?;
        }
        Ok(())
    }

    /// Saves a run, durably (the caller may publish the change after this returns).
    pub fn put_run(&self, run: &Run) -> Result<(), StoreError> {
        self.db.write(|tx| self.write_run(tx, run))
    }

    /// Saves a run and what it teaches process memory in one transaction (both or neither).
    /// An empty `learning` is a plain [`put_run`](Self::put_run).
    pub fn put_run_and_learn(&self, run: &Run, learning: &Learning) -> Result<Learned, StoreError> {
        if learning.observations.is_empty() {
            self.put_run(run)?;
            return Ok(Learned::default());
        }
        self.db.write(|tx| {
            self.write_run(tx, run)?;
            Ok(self.memory.learn_in(tx, learning, now_ms())?)
        })
    }

    /// Process memory: strategies, lessons and patterns.
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// The database itself, for tests that plant records.
    #[doc(hidden)]
    pub fn db_for_tests(&self) -> kv::Db {
        self.db.clone()
    }

    /// A run by exact id.
    pub fn run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        self.runs
            .get(id.0.as_bytes())?
            .map(|v| decode(&format!("run {id}"), &v))
            .transpose()
    }

    /// The runs not finished (queued, working, awaiting approval), oldest first. Index
    /// entries a crash left behind (a run since finished, or never written) are removed.
    pub fn open_runs(&self) -> Result<Vec<Run>, StoreError> {
        let mut open = Vec::new();
        for kv in self.open_runs.iter() {
            let (k, _) = kv?;
            let id = RunId(String::from_utf8_lossy(&k).into_owned());
            match self.run(&id)? {
                Some(run) if !run.status.is_final() => open.push(run),
                _ => {
                    self.open_runs.remove(&k)?;
                }
            }
        }
        Ok(open)
    }

    /// The summaries of every run of `task`, oldest first.
    pub fn task_runs(&self, task: &TaskId) -> Result<Vec<RunSummary>, StoreError> {
        self.task_runs
            .scan_prefix(task_prefix(task))
            .map(|kv| {
                let (_, v) = kv?;
                decode("run summary", &v)
            })
            .collect()
    }

    /// What the runs created at or after `created_ms` spent: (US dollars, when each ended or
    /// else began), for those that spent anything. Reads only what it needs of each run.
    pub fn spent_since(&self, created_ms: u64) -> Result<Vec<(f64, u64)>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Spent {
            created_ms: u64,
            #[serde(default)]
            finished_ms: Option<u64>,
            #[serde(default)]
            usage: Cost,
        }
        #[derive(serde::Deserialize, Default)]
        struct Cost {
            #[serde(default)]
            cost_usd: f64,
        }
        let mut out = Vec::new();
        for kv in self.runs.iter().rev() {
            let (k, v) = kv?;
            let run: Spent = decode(&format!("run {}", String::from_utf8_lossy(&k)), &v)?;
            if run.created_ms < created_ms {
                break;
            }
            if run.usage.cost_usd > 0.0 {
                out.push((
                    run.usage.cost_usd,
                    run.finished_ms.unwrap_or(run.created_ms),
                ));
            }
        }
        Ok(out)
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<Run>, StoreError> {
        self.runs
            .iter()
            .rev()
            .map(|kv| {
                let (k, v) = kv?;
                decode(&format!("run {}", String::from_utf8_lossy(&k)), &v)
            })
            .collect()
    }

    /// Every run, newest first, as one JSON array of the runs as stored (no decoding: for
    /// passing them on, as the control socket does).
    pub fn runs_json(&self) -> Result<Box<serde_json::value::RawValue>, StoreError> {
        let mut out = Vec::with_capacity(64 * 1024);
        out.push(b'[');
        for (i, kv) in self.runs.iter().rev().enumerate() {
            let (_, v) = kv?;
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&v);
        }
        out.push(b']');
        let text = String::from_utf8(out).map_err(|e| StoreError::Codec {
            what: "the runs".into(),
            error: e.to_string(),
        })?;
        serde_json::value::RawValue::from_string(text).map_err(|e| StoreError::Codec {
            what: "the runs".into(),
            error: e.to_string(),
        })
    }

    /// At most `limit` runs older than `before` (all when None), newest first: a page of
    /// history, read without decoding the rest.
    pub fn runs_page(&self, before: Option<&RunId>, limit: usize) -> Result<Vec<Run>, StoreError> {
        let range = match before {
            Some(id) => self
                .runs
                .range(Bound::Unbounded, Bound::Excluded(id.0.as_bytes())),
            None => self.runs.iter(),
        };
        let mut runs = Vec::with_capacity(limit.min(self.run_count()));
        for kv in range.rev().take(limit) {
            let (k, v) = kv?;
            runs.push(decode(&format!("run {}", String::from_utf8_lossy(&k)), &v)?);
        }
        Ok(runs)
    }

    /// How many runs there are (kept in `meta`, so this does not read the runs).
    pub fn run_count(&self) -> usize {
        let stored = self.meta.get(RUN_COUNT).ok().flatten();
        usize::try_from(read_count(stored.as_deref())).unwrap_or(usize::MAX)
    }

    /// The one run whose id starts with `prefix` (or, failing that, ends with it, as in branch
    /// names, when at least 6 characters are given).
    pub fn find_run(&self, prefix: &str) -> Result<Run, StoreError> {
        let prefix = prefix.trim().to_lowercase();
        if prefix.is_empty() {
            return Err(StoreError::NoSuchRun(prefix));
        }
        let mut by_prefix: Vec<Run> = Vec::new();
        for kv in self.runs.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv?;
            by_prefix.push(decode(&format!("run {}", String::from_utf8_lossy(&k)), &v)?);
        }
        // A suffix as in branch names (`…-4c6322`): at least that long, so it is deliberate.
        let candidates = if by_prefix.is_empty() && prefix.len() >= 6 {
            self.runs()?
                .into_iter()
                .filter(|r| r.id.0.ends_with(&prefix))
                .collect()
        } else {
            by_prefix
        };
        match candidates.len() {
            0 => Err(StoreError::NoSuchRun(prefix)),
            1 => Ok(candidates.into_iter().next().expect("one candidate")),
            count => Err(StoreError::AmbiguousRun { prefix, count }),
        }
    }

    /// Appends an event to a run's history (progress is bounded per run, see
    /// [`MAX_EVENTS_PER_RUN`]).
    pub fn append_event(&self, run: &RunId, event: &RunEvent) -> Result<(), StoreError> {
        let mut prefix = run.0.as_bytes().to_vec();
        prefix.push(0);
        let next = match self.events.scan_prefix(&prefix).next_back() {
            Some(kv) => {
                let (k, _) = kv?;
                let tail: [u8; 4] =
                    k[prefix.len()..]
                        .try_into()
                        .map_err(|_| StoreError::Codec {
                            what: "event key".into(),
                            error: "bad length".into(),
                        })?;
                u32::from_be_bytes(tail) + 1
            }
            None => 0,
        };
        if next >= MAX_EVENTS_PER_RUN && event.kind == "progress" {
            return Ok(());
        }
        let mut key = prefix;
        key.extend_from_slice(&next.to_be_bytes());
        // Durable with the run's next state change (its log file has every line anyway).
        self.events
            .insert_lazily(key, encode("run event", event)?)?;
        Ok(())
    }

    /// A run's events, oldest first.
    pub fn events(&self, run: &RunId) -> Result<Vec<RunEvent>, StoreError> {
        let mut prefix = run.0.as_bytes().to_vec();
        prefix.push(0);
        self.events
            .scan_prefix(prefix)
            .map(|kv| {
                let (_, v) = kv?;
                decode("run event", &v)
            })
            .collect()
    }

    /// Saves a run's diff text, its credentials masked (the change itself is in git; what
    /// bosun keeps and shows never holds them).
    pub fn put_diff(&self, run: &RunId, patch: &str) -> Result<(), StoreError> {
        let masked = crate::semantic::rules::redact_text(patch);
        self.diffs
            .insert_lazily(run.0.as_bytes(), masked.as_bytes())?;
        Ok(())
    }

    /// Saves a run's annotations with the run, its counts set from them, in one transaction.
    pub fn put_run_annotated(
        &self,
        run: &mut Run,
        annotations: &[Annotation],
    ) -> Result<(), StoreError> {
        run.annotation_counts = AnnotationCounts::of(annotations);
        let old = annotations::keys(&self.annotations, &run.id)?;
        let new = annotations::entries(&run.id, annotations)?;
        self.db.write(|tx| {
            for key in &old {
                tx.remove(&self.annotations, key)?;
            }
            for (key, value) in &new {
                tx.insert(&self.annotations, key, value)?;
            }
            self.write_run(tx, run)
        })
    }

    /// A run's annotations, file by file (none when it has none, or `bosun gc` forgot them).
    pub fn annotations(&self, run: &RunId) -> Result<Vec<Annotation>, StoreError> {
        annotations::all(&self.annotations, run)
    }

    /// A run's annotations on the files `paths`, with its notices and risks on every file
    /// (what the review's first screen and its risk card need of a large change).
    pub fn annotations_on(
        &self,
        run: &RunId,
        paths: &[String],
    ) -> Result<Vec<Annotation>, StoreError> {
        annotations::some(&self.annotations, run, paths)
    }

    /// A run's diff text, if one was saved.
    pub fn diff(&self, run: &RunId) -> Result<Option<String>, StoreError> {
        Ok(self
            .diffs
            .get(run.0.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The bytes [`forget_details`](Self::forget_details) would remove.
    pub fn details_bytes(&self, run: &RunId) -> Result<u64, StoreError> {
        let mut prefix = run.0.as_bytes().to_vec();
        prefix.push(0);
        let mut bytes = 0u64;
        for kv in self.events.scan_prefix(&prefix) {
            let (k, v) = kv?;
            bytes += (k.len() + v.len()) as u64;
        }
        bytes += self
            .diffs
            .get(run.0.as_bytes())?
            .map_or(0, |v| v.len() as u64);
        for key in annotations::keys(&self.annotations, run)? {
            bytes += self.annotations.get(&key)?.map_or(0, |v| v.len() as u64);
        }
        Ok(bytes)
    }

    /// Forgets the details of a finished run kept for review — its events, its diff and its
    /// annotations (their counts stay) — and keeps the run itself (status, decision, gates,
    /// score), its summary, process memory and the audit trail. Returns the bytes removed.
    pub fn forget_details(&self, run: &RunId) -> Result<u64, StoreError> {
        let mut prefix = run.0.as_bytes().to_vec();
        prefix.push(0);
        let mut batch = kv::Batch::default();
        let mut bytes = 0u64;
        for kv in self.events.scan_prefix(&prefix) {
            let (k, v) = kv?;
            bytes += (k.len() + v.len()) as u64;
            batch.remove(k);
        }
        self.events.apply_batch(batch)?;
        if let Some(old) = self.diffs.remove(run.0.as_bytes())? {
            bytes += old.len() as u64;
        }
        for key in annotations::keys(&self.annotations, run)? {
            if let Some(old) = self.annotations.remove(&key)? {
                bytes += old.len() as u64;
            }
        }
        Ok(bytes)
    }

    /// Saves the tasks as last read from the task files, durably — unless they are the
    /// tasks saved last time (bosun saves them at every start and every edit of a task file;
    /// a digest of the list in `meta` says whether anything changed).
    pub fn put_tasks(&self, tasks: &[Task]) -> Result<(), StoreError> {
        use std::hash::BuildHasher as _;
        // The list is compared by a hash of the tasks themselves: encoding 176,000 tasks (a
        // 10 MB list) only to learn that nothing changed took longer than parsing them, and
        // std's SipHash over their many small fields took 100 ms. (A new foldhash may hash
        // differently: that costs one write after an upgrade.)
        const SEED: u64 = 0x626f_7375_6e5f_7473;
        let digest = foldhash::quality::FixedState::with_seed(SEED)
            .hash_one(tasks)
            .to_be_bytes();
        if self.meta.get(TASKS_DIGEST)?.as_deref() == Some(&digest[..]) {
            return Ok(());
        }
        let encoded = tasks
            .iter()
            .map(|t| Ok((t.id.0.as_bytes(), encode("task", t)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.db.write(|tx| {
            for (key, value) in &encoded {
                tx.insert(&self.tasks, key, value)?;
            }
            tx.insert(&self.meta, TASKS_DIGEST.as_bytes(), &digest)?;
            Ok::<_, StoreError>(())
        })
    }

    /// A task snapshot by id.
    pub fn task(&self, id: &str) -> Result<Option<Task>, StoreError> {
        self.tasks
            .get(id.as_bytes())?
            .map(|v| decode(&format!("task {id}"), &v))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RunStatus, TaskId};

    pub(crate) fn run(title: &str) -> Run {
        Run {
            id: RunId::new(),
            task_id: TaskId("t-abc123".into()),
            task_title: title.into(),
            attempt: 1,
            executor: "fake".into(),
            status: RunStatus::Queued,
            branch: "bosun/x-abcdef".into(),
            target: "main".into(),
            created_ms: 1,
            ..Run::queued(TaskId(String::new()), "", 1, "main")
        }
    }

    #[test]
    fn runs_round_trip_newest_first_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = {
            let store = Store::open(dir.path()).unwrap();
            let a = run("first");
            std::thread::sleep(std::time::Duration::from_millis(2));
            let mut b = run("second");
            store.put_run(&a).unwrap();
            store.put_run(&b).unwrap();
            b.status = RunStatus::Running;
            store.put_run(&b).unwrap();
            store
                .append_event(
                    &b.id,
                    &RunEvent {
                        at_ms: 5,
                        kind: "status".into(),
                        text: "running".into(),
                    },
                )
                .unwrap();
            store.put_diff(&b.id, "diff --git a/x b/x\n").unwrap();
            (a, b)
        };
        let store = Store::open(dir.path()).unwrap();
        let runs = store.runs().unwrap();
        assert_eq!(
            runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
            vec![b.id.clone(), a.id.clone()]
        );
        assert_eq!(runs[0].status, RunStatus::Running);
        assert_eq!(store.events(&b.id).unwrap().len(), 1);
        assert_eq!(
            store.diff(&b.id).unwrap().as_deref(),
            Some("diff --git a/x b/x\n")
        );
        assert_eq!(store.find_run(&b.id.0[..20]).unwrap().id, b.id);
        assert_eq!(store.find_run(b.id.short()).unwrap().id, b.id);
        assert!(matches!(
            store.find_run("zzzz"),
            Err(StoreError::NoSuchRun(_))
        ));
    }

    #[test]
    fn history_pages_newest_first_without_reading_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut ids = Vec::new();
        for i in 0..7 {
            let r = run(&format!("r{i}"));
            store.put_run(&r).unwrap();
            ids.push(r.id);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        ids.reverse();
        let page = |before: Option<&RunId>, n| -> Vec<RunId> {
            store
                .runs_page(before, n)
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(page(None, 3), ids[..3]);
        assert_eq!(page(Some(&ids[2]), 3), ids[3..6]);
        assert_eq!(page(Some(&ids[5]), 3), ids[6..]);
        assert!(page(Some(&ids[6]), 3).is_empty());
        assert_eq!(store.run_count(), 7);
    }

    /// A long page (the console's start reads 2,000 runs): every run, newest first, once.
    #[test]
    fn a_long_page_comes_back_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut ids: Vec<RunId> = (0..1_101)
            .map(|i| run(&format!("r{i}")))
            .map(|r| {
                store.put_run(&r).unwrap();
                r.id
            })
            .collect();
        ids.sort();
        ids.reverse();
        let page = store.runs_page(None, 1_000).unwrap();
        let got: Vec<&RunId> = page.iter().map(|r| &r.id).collect();
        assert_eq!(got, ids[..1_000].iter().collect::<Vec<_>>());
        let rest = store.runs_page(Some(&ids[599]), 1_000).unwrap();
        assert_eq!(rest.len(), 501);
        assert_eq!(rest[0].id, ids[600]);
        assert_eq!(rest[500].id, ids[1_100]);
    }

    #[test]
    fn run_count_is_kept_through_new_runs_updates_learning_and_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = run("b");
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.run_count(), 0);
            let a = run("a");
            store.put_run(&a).unwrap();
            store.put_run(&b).unwrap();
            b.status = RunStatus::Running;
            store.put_run(&b).unwrap();
            assert_eq!(store.run_count(), 2, "an update is not a new run");
            let learning = |r: &Run| Learning {
                run_id: r.id.0.clone(),
                task_type: crate::model::TaskType::Code,
                task_title: r.task_title.clone(),
                keywords: Vec::new(),
                executor: r.executor.clone(),
                observations: vec![crate::memory::Observation::Decided(
                    crate::memory::Outcome {
                        success: true,
                        score: Some(1.0),
                        duration_ms: Some(2_000),
                        cost_usd: None,
                    },
                )],
            };
            b.status = RunStatus::Merged;
            store.put_run_and_learn(&b, &learning(&b)).unwrap();
            let c = run("c");
            store.put_run_and_learn(&c, &learning(&c)).unwrap();
            assert_eq!(store.run_count(), 3);
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.run_count(), 3);
        assert_eq!(store.run_count(), store.runs().unwrap().len());
    }

    #[test]
    fn a_schema_1_store_is_counted_once_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            for name in ["a", "b", "c"] {
                store.put_run(&run(name)).unwrap();
            }
            // As schema 1 left it: no count.
            let meta = store.db_for_tests().open_tree("meta").unwrap();
            meta.remove(RUN_COUNT).unwrap();
            meta.insert("schema_version", 1u32.to_be_bytes()).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.run_count(), 3);
        let meta = store.db_for_tests().open_tree("meta").unwrap();
        assert_eq!(
            meta.get("schema_version").unwrap().as_deref(),
            Some(&SCHEMA_VERSION.to_be_bytes()[..])
        );
        store.put_run(&run("d")).unwrap();
        assert_eq!(store.run_count(), 4);
    }

    #[test]
    fn open_runs_and_task_histories_are_indexed_as_runs_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut a = run("a");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let mut b = run("b");
        b.task_id = TaskId("t-other".into());
        store.put_run(&a).unwrap();
        store.put_run(&b).unwrap();
        let open: Vec<RunId> = store
            .open_runs()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(open, [a.id.clone(), b.id.clone()]);
        // Finishing a run takes it out of the open runs and updates its task's summary.
        a.status = RunStatus::Failed;
        a.reason = Some("budget".into());
        a.usage.cost_usd = 0.25;
        store.put_run(&a).unwrap();
        let open: Vec<RunId> = store
            .open_runs()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(open, [b.id.clone()]);
        let history = store.task_runs(&a.task_id).unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0], RunSummary::from(&a));
        assert_eq!(store.task_runs(&TaskId("t-none".into())).unwrap(), []);
        // Process memory's transaction path keeps the indexes too.
        b.status = RunStatus::AwaitingApproval;
        let learning = crate::memory::Learning {
            run_id: b.id.0.clone(),
            task_type: crate::model::TaskType::Code,
            task_title: "b".into(),
            keywords: Vec::new(),
            executor: "fake".into(),
            observations: vec![crate::memory::Observation::Started {
                lessons: Vec::new(),
                examples: Vec::new(),
            }],
        };
        store.put_run_and_learn(&b, &learning).unwrap();
        assert_eq!(
            store.task_runs(&b.task_id).unwrap()[0].status,
            RunStatus::AwaitingApproval
        );
        // An index entry a crash left behind (its run never written) is tidied away.
        store
            .open_runs
            .insert(b"01zzzzzzzzzzzzzzzzzzzzzzzz", b"t-x".as_slice())
            .unwrap();
        assert_eq!(store.open_runs().unwrap().len(), 1);
        assert!(
            !store
                .open_runs
                .contains_key(b"01zzzzzzzzzzzzzzzzzzzzzzzz")
                .unwrap()
        );
    }

    #[test]
    fn runs_written_without_the_indexes_are_indexed_once_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let (queued, merged) = {
            let store = Store::open(dir.path()).unwrap();
            // As schema 2 (or a bulk import) left them: runs, no indexes.
            let runs = store.db_for_tests().open_tree("runs").unwrap();
            let queued = run("queued");
            let mut merged = run("merged");
            merged.status = RunStatus::Merged;
            for r in [&queued, &merged] {
                runs.insert(r.id.0.as_bytes(), encode("run", r).unwrap())
                    .unwrap();
            }
            let meta = store.db_for_tests().open_tree("meta").unwrap();
            meta.insert("schema_version", 2u32.to_be_bytes()).unwrap();
            store.flush().unwrap();
            (queued, merged)
        };
        let store = Store::open(dir.path()).unwrap();
        let open: Vec<RunId> = store
            .open_runs()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(open, std::slice::from_ref(&queued.id));
        let mut expected = vec![RunSummary::from(&queued), RunSummary::from(&merged)];
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(store.task_runs(&queued.task_id).unwrap(), expected);
        // Only runs made since a time are read for what they spent.
        assert_eq!(store.spent_since(2).unwrap(), []);
        let mut spent = run("spent");
        spent.usage.cost_usd = 0.25;
        spent.finished_ms = Some(7);
        store.put_run(&spent).unwrap();
        assert_eq!(store.spent_since(1).unwrap(), [(0.25, 7)]);
    }

    fn annotation(path: &str, severity: crate::model::Severity) -> Annotation {
        Annotation {
            kind: crate::model::AnnotationKind::ApiChanged,
            severity,
            path: path.into(),
            line: Some(3),
            end_line: None,
            old_side: false,
            symbol: Some("fn f".into()),
            message: "public fn f changed its signature".into(),
        }
    }

    #[test]
    fn annotations_are_kept_apart_from_the_run_and_outlive_its_updates() {
        use crate::model::Severity;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut r = run("annotated");
        let list = vec![
            annotation("a.rs", Severity::Risk),
            annotation("b.rs", Severity::Info),
        ];
        store.put_run_annotated(&mut r, &list).unwrap();
        assert_eq!(r.annotation_counts, AnnotationCounts::of(&list));
        assert_eq!(r.annotation_counts.severity(Severity::Risk), 1);
        // The record holds the counts, not the annotations.
        let record = store.runs.get(r.id.0.as_bytes()).unwrap().unwrap();
        let record = String::from_utf8(record).unwrap();
        assert!(!record.contains("\"annotations\""), "{record}");
        assert!(!record.contains("signature"), "{record}");
        // A run read from a list and saved again (as the orchestrator does on every state
        // change) keeps its annotations.
        let mut listed = store.runs_page(None, 10).unwrap().remove(0);
        assert_eq!(listed.annotation_counts, r.annotation_counts);
        listed.status = RunStatus::Merged;
        store.put_run(&listed).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.annotations(&r.id).unwrap(), list);
        assert_eq!(store.run(&r.id).unwrap().unwrap().status, RunStatus::Merged);
        // The first screen's read: the files shown, and the notices and risks of all files
        // (for the risk card), each once.
        let on = |paths: &[&str]| {
            let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
            store.annotations_on(&r.id, &paths).unwrap()
        };
        assert_eq!(on(&[]), list[..1]);
        assert_eq!(on(&["a.rs"]), list[..1]);
        assert_eq!(on(&["b.rs", "b.rs"]), list);
        assert_eq!(on(&["c.rs"]), list[..1]);
        // Analysed again: what was found before on other files is gone; with nothing found,
        // none is left.
        let mut again = run("clean");
        store.put_run_annotated(&mut again, &list).unwrap();
        store.put_run_annotated(&mut again, &list[1..]).unwrap();
        assert_eq!(store.annotations(&again.id).unwrap(), list[1..]);
        let paths = ["a.rs".to_string()];
        assert_eq!(store.annotations_on(&again.id, &paths).unwrap(), []);
        store.put_run_annotated(&mut again, &[]).unwrap();
        assert!(again.annotation_counts.is_empty());
        assert_eq!(store.annotations(&again.id).unwrap(), []);
        // `bosun gc` forgets them with the other details; the counts stay.
        let size = store.details_bytes(&r.id).unwrap();
        assert!(size > 100, "{size}");
        assert_eq!(store.forget_details(&r.id).unwrap(), size);
        assert_eq!(store.annotations(&r.id).unwrap(), []);
        let kept = store.run(&r.id).unwrap().unwrap();
        assert_eq!(kept.annotation_counts.total(), 2);
    }

    #[test]
    fn a_schema_3_store_moves_annotations_out_of_the_run_records() {
        use crate::model::Severity;
        // More runs than one migration transaction takes, so it goes on past the first.
        const RUNS: usize = 1_003;
        let dir = tempfile::tempdir().unwrap();
        let mut expected = Vec::new();
        {
            let store = Store::open(dir.path()).unwrap();
            let mut batch = kv::Batch::default();
            for i in 0..RUNS {
                let r = run(&format!("run {i}"));
                // As schema 3 wrote a run: its annotations in the record (none for some).
                let list: Vec<Annotation> = (0..i % 3)
                    .map(|k| annotation(&format!("f{k}.rs"), Severity::Notice))
                    .collect();
                let mut record = serde_json::to_value(&r).unwrap();
                record["annotations"] = serde_json::to_value(&list).unwrap();
                batch.insert(r.id.0.as_bytes(), serde_json::to_vec(&record).unwrap());
                expected.push((r.id, list));
            }
            store.runs.apply_batch(batch).unwrap();
            store
                .meta
                .insert("schema_version", 3u32.to_be_bytes())
                .unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.meta.get("schema_version").unwrap().as_deref(),
            Some(&4u32.to_be_bytes()[..])
        );
        for (id, list) in &expected {
            let record = store.runs.get(id.0.as_bytes()).unwrap().unwrap();
            assert!(
                !String::from_utf8_lossy(&record).contains("\"annotations\""),
                "run {id} still has its annotations in its record"
            );
            let r = store.run(id).unwrap().unwrap();
            assert_eq!(r.annotation_counts, AnnotationCounts::of(list), "run {id}");
            assert_eq!(&store.annotations(id).unwrap(), list, "run {id}");
        }
        // A run with none has no entry; one per file, plus its notices.
        let with = expected.iter().filter(|(_, l)| !l.is_empty()).count() as u64;
        let files: u64 = expected.iter().map(|(_, l)| l.len() as u64).sum();
        assert_eq!(store.annotations.len().unwrap(), files + with);
    }

    #[test]
    fn an_unchanged_task_list_is_not_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rules = crate::config::Config::default().intake.type_rules();
        let list = |text: &str| {
            crate::intake::TaskList::parse_str(text, Path::new("TODO.md"), &rules).tasks
        };
        let tasks = list("- [ ] One\n- [ ] Two\n");
        store.put_tasks(&tasks).unwrap();
        assert_eq!(
            store.task(&tasks[1].id.0).unwrap().as_ref(),
            Some(&tasks[1])
        );
        // Saved again unchanged: nothing is written (a record removed behind its back stays
        // removed).
        store.tasks.remove(tasks[1].id.0.as_bytes()).unwrap();
        store.put_tasks(&tasks).unwrap();
        assert_eq!(store.task(&tasks[1].id.0).unwrap(), None);
        // Changed (a task ticked): written.
        let ticked = list("- [ ] One\n- [x] Two\n");
        store.put_tasks(&ticked).unwrap();
        assert_eq!(
            store.task(&ticked[1].id.0).unwrap().as_ref(),
            Some(&ticked[1])
        );
        assert!(ticked[1].done);
    }

    #[test]
    fn an_open_store_runs_no_periodic_flusher() {
        // sled names its flusher thread `log flusher`. Other tests open sled databases of
        // their own in this process, so the check runs in a child process of this binary.
        const CHILD: &str = "BOSUN_STORE_TEST_FLUSHER_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            store.put_run(&run("a")).unwrap();
            let names: Vec<String> = std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|n| n.trim().to_string())
                .collect();
            assert!(names.iter().all(|n| n != "log flusher"), "{names:?}");
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::tests::an_open_store_runs_no_periodic_flusher",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "the child ran the check: {text}");
    }

    #[test]
    fn a_second_store_on_the_same_repository_is_refused_with_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        // flock is per open file description, so a second open in this process conflicts too.
        let err = Store::open(dir.path()).err().expect("second open fails");
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(
            text.starts_with("bosun is already running on this repository"),
            "{text}"
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = kv::Db::open(&Store::file(dir.path())).unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert("schema_version", 99u32.to_be_bytes())
                .unwrap();
        }
        let err = Store::open(dir.path()).err().expect("refused");
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99 }),
            "{err}"
        );
    }

    /// A store written by bosun before it moved to redb (sled, in `.bosun/store/`) is imported
    /// at the first open: runs, their indexes and the audit chain read back the same; the old
    /// directory is kept aside.
    #[test]
    fn a_sled_store_is_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join("store");
        let first = run("01aaaaaaaaaaaaaaaaaaaaaaaa");
        {
            // No periodic flusher: its thread would hold sled's file lock after the drop
            // below (up to its 500 ms period, longer on a loaded machine), which only this
            // test's same-process handle can cause; the importer waits up to ten seconds.
            let db = sled::Config::new()
                .path(&legacy)
                .flush_every_ms(None)
                .open()
                .unwrap();
            let runs = db.open_tree("runs").unwrap();
            runs.insert(first.id.0.as_bytes(), encode("run", &first).unwrap())
                .unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert("schema_version", &2u32.to_be_bytes())
                .unwrap();
            db.flush().unwrap();
        }
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.run(&first.id).unwrap().unwrap(), first);
            assert_eq!(store.run_count(), 1);
            assert_eq!(store.open_runs().unwrap().len(), 1, "indexed on import");
            store.append_audit("ana", "approve", "r", "t", "x").unwrap();
        }
        assert!(!legacy.exists());
        assert!(dir.path().join("store.sled-imported").join("db").exists());
        assert!(!dir.path().join("store.redb.importing").exists());
        // The second open reads the new file, not the old store again.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.verify_audit().unwrap(), 1);
        assert_eq!(store.run_count(), 1);
    }

    #[test]
    fn events_are_bounded_per_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r = run("x");
        for i in 0..(MAX_EVENTS_PER_RUN + 10) {
            store
                .append_event(
                    &r.id,
                    &RunEvent {
                        at_ms: u64::from(i),
                        kind: "progress".into(),
                        text: String::new(),
                    },
                )
                .unwrap();
        }
        assert_eq!(
            store.events(&r.id).unwrap().len(),
            MAX_EVENTS_PER_RUN as usize
        );
        // How the run ended is kept however chatty its agent was.
        let ended = RunEvent {
            at_ms: 1,
            kind: "status".into(),
            text: "awaiting_approval".into(),
        };
        store.append_event(&r.id, &ended).unwrap();
        let events = store.events(&r.id).unwrap();
        assert_eq!(events.len(), MAX_EVENTS_PER_RUN as usize + 1);
        assert_eq!(events.last(), Some(&ended));
    }
}
