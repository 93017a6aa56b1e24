//! The control socket's costs (DESIGN.md §11 and the service issue's budgets): a forwarded
//! `bosun runs --json` against the direct read (≤ 1.5×), and the latency of an event from the
//! orchestrator's bus to a subscriber on the socket — what an attached console or `bosun
//! events` hears (p99 < 5 ms; printed once, as criterion reports means).
//!
//! `cargo bench --bench control`

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun::api::{Heard, Request};
use bosun::control::Service;
use bosun::model::{GateResult, Run, RunId, RunStatus, TaskId, Verdict};
use bosun::orchestrator::{Bus, Event};
use bosun::store::Store;
use criterion::{Criterion, criterion_group, criterion_main};

/// As many runs as the slow case measured on a real repository (2,105).
const RUNS: usize = 2_100;

fn stored_run(i: usize) -> Run {
    let mut run = Run::queued(
        TaskId(format!("t-{:06}", i % 300)),
        "Fix the flaky export test",
        1,
        "main",
    );
    run.id = RunId(format!("01j{i:023}"));
    run.status = RunStatus::Merged;
    run.executor = "claude".into();
    run.base = Some("4f1c2a9e0b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a".into());
    run.head = Some("9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b".into());
    run.created_ms = 1_700_000_000_000 + i as u64 * 60_000;
    run.started_ms = Some(run.created_ms + 1_000);
    run.finished_ms = Some(run.created_ms + 95_000);
    run.diffstat = Some((3, 40, 12));
    run.score = Some(0.81);
    run.gates = ["diff", "build", "test", "semantic"]
        .into_iter()
        .map(|g| GateResult::new(g, Verdict::Pass, 1.0, format!("{g} passed"), String::new()))
        .collect();
    run
}

/// A store with [`RUNS`] runs, served on the control socket of `state_dir` by a runtime of
/// its own (as a running bosun serves it).
fn serving(state_dir: &Path) -> (Arc<Store>, Bus, tokio::runtime::Runtime) {
    let store = Arc::new(Store::open(state_dir).expect("store"));
    for i in 0..RUNS {
        store.put_run(&stored_run(i)).expect("put");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let bus = Bus::new();
    let (commands, _) = tokio::sync::mpsc::channel(1);
    let service = Service {
        commands,
        events: bus.clone(),
        local: bosun::control::Local::shared(
            Arc::clone(&store),
            state_dir.to_path_buf(),
            &bosun::config::Config::default(),
        ),
        target: "main".into(),
    };
    runtime.block_on(async {
        bosun::control::serve(state_dir, service).expect("serve");
    });
    (store, bus, runtime)
}

fn bench_runs(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _bus, _runtime) = serving(dir.path());
    let mut group = c.benchmark_group("runs_json_2100");
    group.sample_size(30);
    group.bench_function("direct", |b| {
        b.iter(|| {
            let runs = store.runs().expect("runs");
            serde_json::to_string(&runs).expect("json").len()
        });
    });
    group.bench_function("forwarded", |b| {
        b.iter(|| {
            let answer = bosun::api::exchange_blocking(dir.path(), &Request::Runs).expect("answer");
            serde_json::to_string(&answer.runs().expect("runs"))
                .expect("json")
                .len()
        });
    });
    group.finish();
}

/// One event from the bus to a subscriber's reader on the socket.
async fn one_event(bus: &Bus, stream: &mut bosun::api::Stream, i: usize) -> Duration {
    let started = Instant::now();
    bus.send(Event::Notice {
        text: format!("notice {i}"),
    });
    loop {
        match stream.next().await {
            Some(Ok(Heard::Event(event))) if matches!(*event, Event::Notice { .. }) => {
                return started.elapsed();
            }
            Some(Ok(_)) => {}
            other => panic!("the stream ended: {other:?}"),
        }
    }
}

fn bench_event_latency(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (_store, bus, runtime) = serving(dir.path());
    let mut stream = runtime
        .block_on(bosun::api::Stream::open(dir.path(), false))
        .expect("subscribed");
    // The distribution, once: criterion reports means.
    let mut samples: Vec<Duration> = runtime.block_on(async {
        let mut out = Vec::with_capacity(10_000);
        for i in 0..10_000 {
            out.push(one_event(&bus, &mut stream, i).await);
        }
        out
    });
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    eprintln!(
        "event → socket subscriber, 10,000 events: p50 {:?}, p99 {:?}, max {:?}",
        at(0.5),
        at(0.99),
        samples[samples.len() - 1]
    );
    c.bench_function("event_to_socket_subscriber", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    total += one_event(&bus, &mut stream, i as usize).await;
                }
                total
            })
        });
    });
}

criterion_group!(benches, bench_runs, bench_event_latency);
criterion_main!(benches);
