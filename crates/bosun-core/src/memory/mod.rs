//! Process memory: what bosun learns from decisions, kept in the store's database.
//!
//! - Strategies: per (task type, executor), successes (approved and merged), failures
//!   (rejected, or failed after all attempts), the Beta posterior of success, and mean gate
//!   score, duration and cost. The executor for a task is drawn by Thompson sampling
//!   ([`Sampler`]) among those routed to its type.
//! - Lessons: operators' rejection reasons, and required gates failing the same way on two
//!   runs or more, with the task's type and [`keywords`]; prompts of later similar tasks
//!   recall the most relevant ones.
//! - Patterns: a short record of each approved change, shown to later agents on similar
//!   tasks as an example of what was accepted.
//!
//! A run's write and what it teaches are one transaction ([`Memory::learn_in`]), so a
//! crash never leaves a decision counted without its run, or the other way round.

mod keywords;
mod recall;
mod strategy;
mod thompson;

use crate::kv;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use keywords::{MAX_KEYWORDS, jaccard, keywords};
pub use recall::{
    Lesson, LessonSource, Pattern, Recall, files_in_patch, gate_failure_key, gate_failure_line,
    most_relevant, rejection_key, relevance,
};
pub use strategy::{Outcome, PRIOR, Strategy, cost_adjusted, strategy_key};
pub use thompson::{Sampler, first_routed};

use crate::model::TaskType;

/// A process-memory problem, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The store's engine failed.
    #[error("process memory: {0}")]
    Engine(String),
    /// A record could not be encoded or decoded.
    #[error("process memory: cannot decode {what}: {error}")]
    Codec {
        /// Which record.
        what: String,
        /// Why.
        error: String,
    },
    /// No lesson matches.
    #[error("no lesson matches `{0}` (see `bosun memory`)")]
    NoSuchLesson(String),
    /// Several lessons match a prefix.
    #[error("`{prefix}` matches {count} lessons; give more of the id")]
    AmbiguousLesson {
        /// What was given.
        prefix: String,
        /// How many match.
        count: usize,
    },
}

impl From<kv::KvError> for MemoryError {
    fn from(e: kv::KvError) -> Self {
        Self::Engine(e.0)
    }
}

/// What one run teaches: the run's task and executor, and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Learning {
    /// The run.
    pub run_id: String,
    /// Its task's type.
    pub task_type: TaskType,
    /// Its task's title.
    pub task_title: String,
    /// Its task's keywords.
    pub keywords: Vec<String>,
    /// Its executor.
    pub executor: String,
    /// What happened, applied in order.
    pub observations: Vec<Observation>,
}

/// One thing that happened to a run that process memory keeps.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// The run started (a pull of its strategy) with these lessons and examples (ids) in its
    /// prompt, whose use counts go up.
    Started {
        /// Lesson ids.
        lessons: Vec<String>,
        /// Pattern ids.
        examples: Vec<String>,
    },
    /// The run decided its strategy's outcome for the task.
    Decided(Outcome),
    /// The operator rejected the run for this reason (a lesson; the same reason for the same
    /// task type again is not a second one).
    Rejected {
        /// The reason given.
        reason: String,
    },
    /// A required gate failed with this line (see [`gate_failure_line`]); the second run to
    /// fail the same way makes a lesson.
    GateFailed {
        /// The gate's name.
        gate: String,
        /// How it failed.
        line: String,
    },
    /// The run was approved: keep its pattern.
    Accepted {
        /// Paths the change touched.
        files: Vec<String>,
        /// What the agent said it did.
        summary: Option<String>,
    },
}

/// What applying a [`Learning`] produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Learned {
    /// Lessons made by this run.
    pub new_lessons: Vec<Lesson>,
    /// The pattern kept for this run, if it was approved.
    pub pattern: Option<String>,
}

/// Repeats of one failure (or rejection reason) across runs, under its key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
struct Recurrence {
    /// The distinct runs it was seen on (the first [`MAX_RUNS`]).
    runs: Vec<String>,
    /// The keywords of their tasks, merged.
    keywords: Vec<String>,
    /// The lesson made of it, once there is one.
    lesson: Option<String>,
}

/// Most run ids kept per recurrence and lesson.
const MAX_RUNS: usize = 20;

/// Most lessons, and most patterns, a recall looks at: the newest. Recall runs at every run's
/// start, and every approved run leaves a pattern; this bounds its cost on a long history.
pub const RECALL_WINDOW: usize = 1_000;

/// Runs a failure must be seen on before it becomes a lesson.
pub const RECURRING_AFTER: usize = 2;

/// Process memory's trees in the store's database.
pub struct Memory {
    db: kv::Db,
    strategies: kv::Tree,
    lessons: kv::Tree,
    patterns: kv::Tree,
    recurrences: kv::Tree,
}

fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, MemoryError> {
    serde_json::to_vec(value).map_err(|e| MemoryError::Codec {
        what: what.to_string(),
        error: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, MemoryError> {
    serde_json::from_slice(bytes).map_err(|e| MemoryError::Codec {
        what: what.to_string(),
        error: e.to_string(),
    })
}

/// A new id for a lesson or pattern, later than every id made before it by this process
/// (monotonic within a millisecond too), so id order is creation order.
fn new_id() -> String {
    static IDS: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());
    let generated = IDS.lock().ok().and_then(|mut g| g.generate().ok());
    // A poisoned lock or 2^80 ids in one millisecond: a random id of this millisecond.
    // (Not `unwrap_or_default`: the default ULID is the nil id.)
    let id = match generated {
        Some(id) => id,
        None => ulid::Ulid::new(),
    };
    id.to_string().to_lowercase()
}

/// Reads a record of `tree` inside the transaction `tx`.
fn tx_get<T: DeserializeOwned>(
    tx: &kv::Tx<'_>,
    tree: &kv::Tree,
    key: &[u8],
    what: &str,
) -> Result<Option<T>, MemoryError> {
    tx.get(tree, key)?
        .map(|bytes| decode(what, &bytes))
        .transpose()
}

/// Writes a record of `tree` inside the transaction `tx`.
fn tx_put<T: Serialize>(
    tx: &kv::Tx<'_>,
    tree: &kv::Tree,
    key: &[u8],
    what: &str,
    value: &T,
) -> Result<(), MemoryError> {
    tx.insert(tree, key, &encode(what, value)?)?;
    Ok(())
}

/// `extra` keywords added to `into`, without repeats, up to [`MAX_KEYWORDS`].
fn merge_keywords(into: &mut Vec<String>, extra: &[String]) {
    for k in extra {
        if into.len() >= MAX_KEYWORDS {
            break;
        }
        if !into.contains(k) {
            into.push(k.clone());
        }
    }
}

/// The newest [`RECALL_WINDOW`] records of a tree keyed by time-ordered ids.
fn newest<T: DeserializeOwned>(tree: &kv::Tree, what: &str) -> Result<Vec<T>, MemoryError> {
    tree.iter()
        .rev()
        .take(RECALL_WINDOW)
        .map(|kv| decode(what, &kv?.1))
        .collect()
}

/// The memory trees, as one transaction sees them.
struct Tx<'a> {
    tx: &'a kv::Tx<'a>,
    strategies: &'a kv::Tree,
    lessons: &'a kv::Tree,
    patterns: &'a kv::Tree,
    recurrences: &'a kv::Tree,
}

impl Tx<'_> {
    fn put_lesson(&self, lesson: &Lesson) -> Result<(), MemoryError> {
        tx_put(
            self.tx,
            self.lessons,
            lesson.id.as_bytes(),
            "lesson",
            lesson,
        )
    }

    fn strategy(&self, l: &Learning) -> Result<(Vec<u8>, Strategy), MemoryError> {
        let key = strategy_key(l.task_type, &l.executor);
        let found = tx_get(self.tx, self.strategies, &key, "strategy")?;
        Ok((
            key,
            found.unwrap_or_else(|| Strategy::new(l.task_type, &l.executor)),
        ))
    }

    fn apply(&self, l: &Learning, now_ms: u64) -> Result<Learned, MemoryError> {
        let mut learned = Learned::default();
        for observation in &l.observations {
            match observation {
                Observation::Started { lessons, examples } => {
                    let (key, mut s) = self.strategy(l)?;
                    s.pulls += 1;
                    tx_put(self.tx, self.strategies, &key, "strategy", &s)?;
                    for id in lessons {
                        if let Some(mut lesson) =
                            tx_get::<Lesson>(self.tx, self.lessons, id.as_bytes(), "lesson")?
                        {
                            lesson.uses += 1;
                            tx_put(self.tx, self.lessons, id.as_bytes(), "lesson", &lesson)?;
                        }
                    }
                    for id in examples {
                        if let Some(mut p) =
                            tx_get::<Pattern>(self.tx, self.patterns, id.as_bytes(), "pattern")?
                        {
                            p.uses += 1;
                            tx_put(self.tx, self.patterns, id.as_bytes(), "pattern", &p)?;
                        }
                    }
                }
                Observation::Decided(outcome) => {
                    let (key, mut s) = self.strategy(l)?;
                    s.record(outcome);
                    tx_put(self.tx, self.strategies, &key, "strategy", &s)?;
                }
                Observation::Rejected { reason } => {
                    let reason = reason.trim();
                    if reason.is_empty() {
                        continue;
                    }
                    let text = format!(
                        "The operator rejected a change for “{}”: {reason}",
                        l.task_title
                    );
                    let key = rejection_key(l.task_type, reason);
                    if let Some(lesson) =
                        self.recur(l, &key, 1, text, LessonSource::Rejection, now_ms)?
                    {
                        learned.new_lessons.push(lesson);
                    }
                }
                Observation::GateFailed { gate, line } => {
                    let text = format!("gate `{gate}` keeps failing with: {line}");
                    let key = gate_failure_key(gate, line);
                    if let Some(lesson) = self.recur(
                        l,
                        &key,
                        RECURRING_AFTER,
                        text,
                        LessonSource::GateFailure,
                        now_ms,
                    )? {
                        learned.new_lessons.push(lesson);
                    }
                }
                Observation::Accepted { files, summary } => {
                    let pattern = Pattern {
                        id: new_id(),
                        task_type: l.task_type,
                        task_title: l.task_title.clone(),
                        keywords: l.keywords.clone(),
                        executor: l.executor.clone(),
                        files: files.clone(),
                        summary: summary.clone(),
                        run_id: l.run_id.clone(),
                        uses: 0,
                        created_ms: now_ms,
                    };
                    tx_put(
                        self.tx,
                        self.patterns,
                        pattern.id.as_bytes(),
                        "pattern",
                        &pattern,
                    )?;
                    learned.pattern = Some(pattern.id);
                }
            }
        }
        Ok(learned)
    }

    /// Notes that `key` was seen on this run; once it has been seen on `after` distinct runs
    /// and has no lesson yet (or its lesson was forgotten), makes one and returns it.
    fn recur(
        &self,
        l: &Learning,
        key: &str,
        after: usize,
        text: String,
        source: LessonSource,
        now_ms: u64,
    ) -> Result<Option<Lesson>, MemoryError> {
        let mut rec: Recurrence =
            tx_get(self.tx, self.recurrences, key.as_bytes(), "recurrence")?.unwrap_or_default();
        if !rec.runs.contains(&l.run_id) && rec.runs.len() < MAX_RUNS {
            rec.runs.push(l.run_id.clone());
        }
        merge_keywords(&mut rec.keywords, &l.keywords);
        let existing = match &rec.lesson {
            Some(id) => tx_get::<Lesson>(self.tx, self.lessons, id.as_bytes(), "lesson")?,
            None => None,
        };
        let made = match existing {
            Some(mut lesson) => {
                // Known already: it now covers this run's task too.
                if !lesson.runs.contains(&l.run_id) && lesson.runs.len() < MAX_RUNS {
                    lesson.runs.push(l.run_id.clone());
                }
                merge_keywords(&mut lesson.keywords, &l.keywords);
                self.put_lesson(&lesson)?;
                None
            }
            None if rec.runs.len() >= after => {
                let lesson = Lesson {
                    id: new_id(),
                    text,
                    task_type: l.task_type,
                    keywords: rec.keywords.clone(),
                    source,
                    uses: 0,
                    created_ms: now_ms,
                    runs: rec.runs.clone(),
                    key: key.to_string(),
                };
                self.put_lesson(&lesson)?;
                rec.lesson = Some(lesson.id.clone());
                Some(lesson)
            }
            None => None,
        };
        tx_put(
            self.tx,
            self.recurrences,
            key.as_bytes(),
            "recurrence",
            &rec,
        )?;
        Ok(made)
    }
}

impl Memory {
    /// Opens (creating) the memory trees in `db`.
    pub(crate) fn open(db: &kv::Db) -> Result<Self, kv::KvError> {
        Ok(Self {
            db: db.clone(),
            strategies: db.open_tree("memory_stats")?,
            lessons: db.open_tree("lessons")?,
            patterns: db.open_tree("patterns")?,
            recurrences: db.open_tree("recurrences")?,
        })
    }

    /// Applies `learning` inside the caller's transaction `tx` (which also writes the run it
    /// comes from: both happen or neither does).
    pub(crate) fn learn_in(
        &self,
        tx: &kv::Tx<'_>,
        learning: &Learning,
        now_ms: u64,
    ) -> Result<Learned, MemoryError> {
        Tx {
            tx,
            strategies: &self.strategies,
            lessons: &self.lessons,
            patterns: &self.patterns,
            recurrences: &self.recurrences,
        }
        .apply(learning, now_ms)
    }

    /// The record of `executor` on `task_type`, if it has one.
    pub fn strategy(
        &self,
        task_type: TaskType,
        executor: &str,
    ) -> Result<Option<Strategy>, MemoryError> {
        self.strategies
            .get(strategy_key(task_type, executor))?
            .map(|v| decode("strategy", &v))
            .transpose()
    }

    /// The posterior (α, β) of `executor` on `task_type` (the prior when it has no record).
    pub fn posterior(
        &self,
        task_type: TaskType,
        executor: &str,
    ) -> Result<(f64, f64), MemoryError> {
        Ok(self
            .strategy(task_type, executor)?
            .map_or(PRIOR, |s| s.posterior()))
    }

    /// Every strategy, by task type, then executor.
    pub fn strategies(&self) -> Result<Vec<Strategy>, MemoryError> {
        let mut all: Vec<Strategy> = self
            .strategies
            .iter()
            .map(|kv| decode("strategy", &kv?.1))
            .collect::<Result<_, _>>()?;
        all.sort_by(|a, b| (a.task_type, &a.executor).cmp(&(b.task_type, &b.executor)));
        Ok(all)
    }

    /// Every lesson, oldest first.
    pub fn lessons(&self) -> Result<Vec<Lesson>, MemoryError> {
        self.lessons
            .iter()
            .map(|kv| decode("lesson", &kv?.1))
            .collect()
    }

    /// Every pattern, oldest first.
    pub fn patterns(&self) -> Result<Vec<Pattern>, MemoryError> {
        self.patterns
            .iter()
            .map(|kv| decode("pattern", &kv?.1))
            .collect()
    }

    /// The lessons and examples most relevant to a task of `task_type` with `keywords`, at
    /// most `max_lessons` and `max_examples`, from the newest [`RECALL_WINDOW`] of each.
    pub fn recall(
        &self,
        task_type: TaskType,
        keywords: &[String],
        max_lessons: usize,
        max_examples: usize,
    ) -> Result<Recall, MemoryError> {
        let lessons = if max_lessons == 0 {
            Vec::new()
        } else {
            most_relevant(
                newest::<Lesson>(&self.lessons, "lesson")?,
                max_lessons,
                |l| relevance(task_type, keywords, l.task_type, &l.keywords),
                |l| l.created_ms,
            )
        };
        let examples = if max_examples == 0 {
            Vec::new()
        } else {
            most_relevant(
                newest::<Pattern>(&self.patterns, "pattern")?,
                max_examples,
                |p| relevance(task_type, keywords, p.task_type, &p.keywords),
                |p| p.created_ms,
            )
        };
        Ok(Recall { lessons, examples })
    }

    /// The one lesson whose id starts with `prefix` (or, failing that, ends with it, when at
    /// least 6 characters are given).
    pub fn find_lesson(&self, prefix: &str) -> Result<Lesson, MemoryError> {
        let prefix = prefix.trim().to_lowercase();
        if prefix.is_empty() {
            return Err(MemoryError::NoSuchLesson(prefix));
        }
        let mut found: Vec<Lesson> = self
            .lessons
            .scan_prefix(prefix.as_bytes())
            .map(|kv| decode("lesson", &kv?.1))
            .collect::<Result<_, _>>()?;
        if found.is_empty() && prefix.len() >= 6 {
            found = self
                .lessons()?
                .into_iter()
                .filter(|l| l.id.ends_with(&prefix))
                .collect();
        }
        match found.len() {
            0 => Err(MemoryError::NoSuchLesson(prefix)),
            1 => Ok(found.remove(0)),
            count => Err(MemoryError::AmbiguousLesson { prefix, count }),
        }
    }

    /// Deletes the lesson `prefix` names (see [`find_lesson`](Self::find_lesson)) and the
    /// record of its repeats, so the same failure must recur again to come back. Flushed.
    pub fn forget(&self, prefix: &str) -> Result<Lesson, MemoryError> {
        let lesson = self.find_lesson(prefix)?;
        self.db.write(|tx| {
            tx.remove(&self.lessons, lesson.id.as_bytes())?;
            let rec: Option<Recurrence> =
                tx_get(tx, &self.recurrences, lesson.key.as_bytes(), "recurrence")?;
            if rec.is_some_and(|r| r.lesson.as_deref() == Some(lesson.id.as_str())) {
                tx.remove(&self.recurrences, lesson.key.as_bytes())?;
            }
            Ok::<_, MemoryError>(())
        })?;
        Ok(lesson)
    }
}

#[cfg(test)]
mod tests;
