//! Metrics for the console and for export: a [`MetricsCollector`] fed by the orchestrator's
//! events (and seeded from the store's runs) that keeps all-time totals — outcomes, gate pass
//! rates, tokens and cost per executor, attempts per merged task, approval latency — and a
//! sliding [`Timeline`] of buckets for trends (throughput, success rate, quality per task
//! type, queue depth). Pure: times come from the runs' own timestamps or from the caller, so
//! the same events always give the same numbers.
//!
//! A run is counted on its transitions, in lifecycle order: a repeated or older state of a
//! run (an event replayed after a seed, say) counts nothing, so seeding from the store and
//! then replaying the events that raced the seed does not count a run twice.

pub mod endpoint;
pub mod prometheus;

pub use bosun_api::metrics::*;

use crate::model::Run;

/// Every stored run, newest first, decoded [`SEED_STEP`] at a time (a run that cannot be
/// read ends the walk: a seed counts what came before it).
pub fn stored_runs(store: &crate::store::Store) -> impl Iterator<Item = Run> + '_ {
    paged_runs(move |cursor, n| store.runs_page(cursor, n).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use std::collections::HashMap;

    use super::*;
    use crate::model::RunId;
    use crate::model::{Run, RunStatus, TaskId, Usage};
    use crate::store::Store;

    fn plant(store: &Store, n: usize) {
        let tree = store.db_for_tests().open_tree("runs").unwrap();
        let mut batch = crate::kv::Batch::default();
        for i in 0..n {
            let run = Run {
                id: RunId(format!("{i:026}")),
                task_id: TaskId(format!("t-{}", i % 5)),
                task_title: format!("task {i}"),
                attempt: 1,
                executor: if i % 2 == 0 { "claude" } else { "codex" }.into(),
                status: if i % 4 == 0 {
                    RunStatus::Failed
                } else {
                    RunStatus::Merged
                },
                branch: String::new(),
                target: "main".into(),
                created_ms: 1_700_000_000_000 + i as u64 * 60_000,
                started_ms: Some(1_700_000_000_000 + i as u64 * 60_000),
                finished_ms: Some(1_700_000_000_000 + i as u64 * 60_000 + 30_000),
                usage: Usage {
                    input_tokens: 100,
                    output_tokens: 10,
                    cost_usd: 0.01,
                    ..Default::default()
                },
                score: Some(0.5),
                ..Run::queued(crate::model::TaskId(String::new()), "", 1, "main")
            };
            batch.insert(run.id.0.as_bytes(), serde_json::to_vec(&run).unwrap());
        }
        tree.apply_batch(batch).unwrap();
    }

    #[test]
    fn the_seed_walks_every_stored_run_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // Exactly two batches and a half: the walk stops at the end, not at a full batch.
        plant(&store, 2 * SEED_STEP + SEED_STEP / 2);
        let ids: Vec<RunId> = stored_runs(&store).map(|r| r.id).collect();
        assert_eq!(ids.len(), 2_500);
        assert!(
            ids.windows(2).all(|w| w[0] > w[1]),
            "newest first, no repeats"
        );
        let seed = MetricsCollector::seeded(stored_runs(&store), HashMap::new(), 0, 0);
        let totals = seed.totals();
        assert_eq!((totals.merged, totals.failed), (1_875, 625));
        assert_eq!(seed.executors()["claude"].runs, 1_250);
    }

    /// How long seeding takes over 100,000 runs and how much memory it holds: run with
    /// `cargo test --release -p bosun --lib seed_of_100k -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check: about a minute in a debug build"]
    fn seed_of_100k_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        plant(&store, 100_000);
        let start = Instant::now();
        let seed = MetricsCollector::seeded(stored_runs(&store), HashMap::new(), 0, 0);
        eprintln!(
            "seeding from 100,000 runs: {:?}; {} finished",
            start.elapsed(),
            seed.totals().finished
        );
    }
}
