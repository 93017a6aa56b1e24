//! The collector on synthetic runs: lifecycles seen live, replays, seeds from the store.

use super::*;
use crate::Event;
use crate::model::{
    Decision, GateResult, RoutingChoice, Run, RunId, RunStatus, TaskId, TaskType, Usage, Verdict,
};

const MIN: u64 = 60_000;
/// A fixed "now": 2025-01-01T00:00:00Z.
const T0: u64 = 1_735_689_600_000;

fn run(id: &str, task: &str, attempt: u32) -> Run {
    Run {
        id: RunId(id.into()),
        task_id: TaskId(task.into()),
        task_title: format!("task {task}"),
        attempt,
        executor: "claude".into(),
        status: RunStatus::Queued,
        branch: String::new(),
        target: "main".into(),
        created_ms: T0,
        ..Run::queued(TaskId(String::new()), "", 1, "main")
    }
}

fn gate(name: &str, verdict: Verdict, score: f64) -> GateResult {
    GateResult {
        duration_ms: 1_000,
        ..GateResult::new(name, verdict, score, String::new(), String::new())
    }
}

/// The states a run that is approved goes through, with times 0, 1, 2, 10, 30 minutes in.
fn approved_lifecycle(id: &str, task: &str, attempt: u32, by: &str) -> Vec<Run> {
    let mut r = run(id, task, attempt);
    let mut states = vec![r.clone()];
    r.status = RunStatus::Running;
    r.started_ms = Some(T0 + MIN);
    r.routing = Some(RoutingChoice {
        task_type: TaskType::Docs,
        by: crate::model::ChosenBy::OnlyCandidate,
        candidates: Vec::new(),
        chosen: "claude".into(),
    });
    states.push(r.clone());
    r.status = RunStatus::Gating;
    states.push(r.clone());
    r.status = RunStatus::AwaitingApproval;
    r.finished_ms = Some(T0 + 10 * MIN);
    r.score = Some(0.8);
    r.gates = vec![
        gate("diff", Verdict::Pass, 1.0),
        gate("test", Verdict::Fail, 0.0),
        gate("judge", Verdict::Skip, 0.0),
    ];
    r.usage = Usage {
        input_tokens: 1_000,
        output_tokens: 200,
        cost_usd: 0.5,
        ..Default::default()
    };
    states.push(r.clone());
    r.status = RunStatus::Merged;
    r.decision = Some(Decision {
        verdict: "approve".into(),
        by: by.into(),
        at_ms: T0 + 30 * MIN,
        reason: String::new(),
    });
    states.push(r);
    states
}

fn feed(m: &mut MetricsCollector, runs: &[Run]) {
    for r in runs {
        let at = r
            .decision
            .as_ref()
            .map(|d| d.at_ms)
            .or(r.finished_ms)
            .or(r.started_ms)
            .unwrap_or(r.created_ms);
        m.observe(
            &Event::Run {
                run: Box::new(r.clone()),
            },
            at,
        );
    }
}

#[test]
fn a_run_approved_by_the_operator_counts_once_everywhere() {
    let mut m = MetricsCollector::new(T0);
    let states = approved_lifecycle("r1", "t1", 1, "ana");
    feed(&mut m, &states[..4]);
    assert_eq!(
        m.depths(),
        Depths {
            queued: 0,
            active: 0,
            awaiting: 1
        }
    );
    feed(&mut m, &states[4..]);
    let t = m.totals();
    assert_eq!((t.finished, t.merged, t.rejected, t.failed), (1, 1, 0, 0));
    assert_eq!(t.success_rate(), Some(1.0));
    assert_eq!(m.depths(), Depths::default());
    // Waited 20 minutes for the operator.
    let l = m.latency();
    assert_eq!(l.count, 1);
    assert_eq!(l.mean_ms, Some(20 * MIN));
    assert_eq!(l.median_ms, Some(20 * MIN));
    assert_eq!(m.attempts(), [1, 0, 0, 0, 0]);
    assert_eq!(m.quality()[type_index(TaskType::Docs)].value(), Some(0.8));
    let gates = m.gates();
    assert_eq!(gates["diff"].pass_rate(), Some(1.0));
    assert_eq!(gates["test"].pass_rate(), Some(0.0));
    assert_eq!(gates["judge"].pass_rate(), None);
    assert_eq!(gates["judge"].skip, 1);
    let e = m.executors()["claude"];
    assert_eq!(
        (e.runs, e.merged, e.input_tokens, e.output_tokens),
        (1, 1, 1_000, 200)
    );
    assert_eq!(e.cost_text(), "$0.50");

    // Five-minute buckets: finished at +10 min (the third), merged at +30 min (the seventh);
    // the queue was 1 at the start.
    let s = m.series(T0 + 30 * MIN, 7, 1);
    let finished: Vec<u32> = s.iter().map(|b| b.finished).collect();
    let merged: Vec<u32> = s.iter().map(|b| b.merged).collect();
    assert_eq!(finished, [0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(merged, [0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(
        s[2].score_by_type[type_index(TaskType::Docs)].value(),
        Some(0.8)
    );
    assert_eq!(s[0].queued.map(|d| d.peak), Some(1));
    assert_eq!(s[0].awaiting.map(|d| d.last), Some(0));
    assert_eq!(s[2].awaiting.map(|d| d.last), Some(1));
    assert_eq!(s[3].awaiting.map(|d| d.last), Some(1), "carried forward");
    assert_eq!(s[6].awaiting.map(|d| d.last), Some(0));
    assert_eq!(s[6].latency_ms.value(), Some((20 * MIN) as f64));
}

#[test]
fn repeated_and_stale_events_count_nothing() {
    let states = approved_lifecycle("r1", "t1", 1, "ana");
    let mut once = MetricsCollector::new(T0);
    feed(&mut once, &states);
    let mut twice = MetricsCollector::new(T0);
    feed(&mut twice, &states);
    feed(&mut twice, &states);
    // An older state arriving late does not reopen the run either.
    feed(&mut twice, &states[1..2]);
    assert_eq!(twice.totals(), once.totals());
    assert_eq!(twice.depths(), Depths::default());
    assert_eq!(twice.gates(), once.gates());
    assert_eq!(twice.executors(), once.executors());
}

#[test]
fn a_policy_approval_has_no_operator_latency_and_retries_count_as_rework() {
    let mut m = MetricsCollector::new(T0);
    feed(&mut m, &approved_lifecycle("r1", "t1", 1, "policy"));
    feed(&mut m, &approved_lifecycle("r2", "t2", 3, "ana"));
    assert_eq!(m.latency().count, 1);
    assert_eq!(m.attempts(), [1, 0, 1, 0, 0]);
    assert_eq!(m.mean_attempts(), Some(2.0));
}

#[test]
fn a_failed_run_rejected_later_is_one_failure() {
    let mut m = MetricsCollector::new(T0);
    let mut r = run("r1", "t1", 1);
    feed(&mut m, std::slice::from_ref(&r));
    r.status = RunStatus::Failed;
    r.started_ms = Some(T0);
    r.finished_ms = Some(T0 + MIN);
    r.error = Some("tests failed".into());
    feed(&mut m, std::slice::from_ref(&r));
    r.status = RunStatus::Rejected;
    r.decision = Some(Decision {
        verdict: "reject".into(),
        by: "ana".into(),
        at_ms: T0 + 2 * MIN,
        reason: "no".into(),
    });
    feed(&mut m, std::slice::from_ref(&r));
    let t = m.totals();
    assert_eq!((t.finished, t.failed, t.rejected), (1, 1, 0));
    assert_eq!(t.success_rate(), Some(0.0));
    assert_eq!(m.latency().count, 0);
    // Also when the failure was counted before the collector remembers the run (a seed, an
    // earlier session): the rejection alone counts nothing.
    let mut fresh = MetricsCollector::new(T0);
    feed(&mut fresh, &[r]);
    assert_eq!(fresh.totals(), Totals::default());
}

#[test]
fn cancelled_runs_are_stopped_not_failures() {
    let mut m = MetricsCollector::new(T0);
    let mut r = run("r1", "t1", 1);
    feed(&mut m, std::slice::from_ref(&r));
    r.status = RunStatus::Cancelled;
    r.finished_ms = Some(T0 + MIN);
    feed(&mut m, &[r]);
    let t = m.totals();
    assert_eq!((t.finished, t.stopped, t.failed), (0, 1, 0));
    assert_eq!(t.success_rate(), None);
    assert!(
        m.executors().is_empty(),
        "a run that never started spent nothing"
    );
}

#[test]
fn task_types_come_from_the_run_or_else_the_task_list() {
    let mut m = MetricsCollector::new(T0);
    m.set_task_types([(TaskId("t9".into()), TaskType::Test)]);
    let mut r = run("r1", "t9", 1);
    r.status = RunStatus::AwaitingApproval;
    r.started_ms = Some(T0);
    r.finished_ms = Some(T0);
    r.score = Some(0.5);
    feed(&mut m, &[r]);
    assert_eq!(m.quality()[type_index(TaskType::Test)].value(), Some(0.5));
}

#[test]
fn a_seed_plus_the_events_that_raced_it_equals_seeing_everything_live() {
    // r1 ended long ago; r2 was awaiting when the seed read it and is merged during the
    // read; r3 is created and merged entirely during the read.
    let r1 = approved_lifecycle("r1", "t1", 1, "ana");
    let r2 = approved_lifecycle("r2", "t2", 2, "ana");
    let r3 = approved_lifecycle("r3", "t3", 1, "ana");
    let mut everything = MetricsCollector::new(T0);
    for states in [&r1, &r2, &r3] {
        feed(&mut everything, states);
    }

    let mut console = MetricsCollector::new(T0);
    console.begin_seed();
    assert!(console.seeding());
    // Events after the job started: r2's last two, all of r3's (r3 ended before the read
    // reached it, so the seed has it too).
    feed(&mut console, &r2[3..]);
    feed(&mut console, &r3);
    let stored = vec![r1[4].clone(), r2[3].clone(), r3[4].clone()];
    let seed = MetricsCollector::seeded(stored, HashMap::new(), T0, T0 + 30 * MIN);
    console.adopt(seed);
    assert!(!console.seeding());
    assert_eq!(console.totals(), everything.totals());
    assert_eq!(console.attempts(), everything.attempts());
    assert_eq!(console.gates(), everything.gates());
    assert_eq!(console.executors(), everything.executors());
    assert_eq!(console.latency().count, 3);
    assert_eq!(console.depths(), Depths::default());
}

#[test]
fn a_seed_rebuilds_past_queue_and_approval_depths() {
    // Queued at T0, started 20 minutes later (bucket 4), awaiting from 30 to 50 minutes.
    let mut r = run("r1", "t1", 1);
    r.status = RunStatus::Merged;
    r.started_ms = Some(T0 + 20 * MIN);
    r.finished_ms = Some(T0 + 30 * MIN);
    r.decision = Some(Decision {
        verdict: "approve".into(),
        by: "ana".into(),
        at_ms: T0 + 50 * MIN,
        reason: String::new(),
    });
    let mut queued_now = run("r2", "t2", 1);
    queued_now.created_ms = T0 + 40 * MIN;
    let m = MetricsCollector::seeded(vec![r, queued_now], HashMap::new(), T0, T0 + 55 * MIN);
    let s = m.series(T0 + 55 * MIN, 12, 1);
    let q: Vec<u32> = s.iter().map(|b| b.queued.map_or(99, |d| d.last)).collect();
    let a: Vec<u32> = s
        .iter()
        .map(|b| b.awaiting.map_or(99, |d| d.last))
        .collect();
    assert_eq!(q, [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]);
    assert_eq!(a, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0]);
    assert_eq!(m.depths().queued, 1);
    assert_eq!(m.latency().mean_ms, Some(20 * MIN));
}

/// A run whose agent reports tokens only makes its executor's spend unknown (alone) or a
/// lower bound (beside priced runs), never a smaller number that looks complete.
#[test]
fn an_executor_whose_runs_report_no_cost_shows_its_spend_as_unknown() {
    let mut m = MetricsCollector::new(T0);
    let mut tokens_only = approved_lifecycle("r1", "t1", 1, "ana");
    for r in &mut tokens_only {
        r.usage.cost_usd = 0.0;
        r.usage.cost_unknown = true;
    }
    feed(&mut m, &tokens_only);
    let e = m.executors()["claude"];
    assert_eq!((e.runs, e.cost_unknown), (1, 1));
    assert_eq!(e.cost_text(), "unknown");
    feed(&mut m, &approved_lifecycle("r2", "t2", 1, "ana"));
    assert_eq!(m.executors()["claude"].cost_text(), "≥$0.50");
}
