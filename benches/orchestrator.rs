//! Orchestrator overhead per run on a generated 1,000-file repository (DESIGN.md §11: no
//! slower than the git CLI doing the same steps, and < 20 ms beyond the checkout), side by side
//! with `git worktree add` + commit + diff + cleanup run as commands on the same repository.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bosun::config::{Config, ExecutorConfig};
use bosun::git;
use bosun::orchestrator::{Options, Orchestrator};
use bosun::project::Project;
use criterion::{Criterion, criterion_group, criterion_main};

mod common;
use common::git;

/// A repository with 1,000 source files (about 2 KB each) in 20 directories and a TODO.md.
fn repo(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    for i in 0..1000 {
        let sub = dir.join(format!("src/mod{}", i % 20));
        std::fs::create_dir_all(&sub).expect("mkdir");
        let body: String = (0..40)
            .map(|l| format!("fn f{i}_{l}() -> u32 {{ {l} }} // padding text\n"))
            .collect();
        std::fs::write(sub.join(format!("file{i}.rs")), body).expect("write");
    }
    std::fs::write(dir.join("TODO.md"), "# Tasks\n").expect("write");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "init"]);
}

fn bench_overhead(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    std::fs::create_dir(&root).expect("mkdir");
    repo(&root);
    let wt_root = tmp.path().join("wt");
    let mut group = c.benchmark_group("run_overhead_1000_files");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));

    // The git steps bosun takes for a run, through git2: the private checkout, the candidate
    // commit published to the repository, diff, remove.
    let mut n = 0u64;
    group.bench_function("bosun_git_steps", |b| {
        b.iter(|| {
            n += 1;
            let path = wt_root.join(format!("g{n}"));
            let branch = format!("bosun/bench-{n}");
            let w = git::create_worktree(&root, &path, &branch, "main", &[]).expect("worktree");
            std::fs::write(path.join("noop.txt"), "x\n").expect("write");
            let head = git::candidate(&root, &w, "bench", &[("Bosun-Run", "x")], &[])
                .expect("commit")
                .expect("a change");
            let d = git::diff(&root, &w.base, &head).expect("diff");
            assert_eq!(d.files.len(), 1);
            git::remove_worktree(&root, &path, Some(&branch)).expect("remove");
        })
    });

    // The path bosun took before runs got private repositories: a linked worktree of the
    // repository through git2, commit in it, diff, prune and delete the branch.
    group.bench_function("linked_worktree_git2_steps", |b| {
        b.iter(|| {
            n += 1;
            let name = format!("l{n}");
            let path = wt_root.join(&name);
            let repo = git2::Repository::open(&root).expect("open");
            let tip = repo
                .find_branch("main", git2::BranchType::Local)
                .expect("main")
                .get()
                .peel_to_commit()
                .expect("tip");
            let branch_name = format!("linked/bench-{n}");
            let branch = repo.branch(&branch_name, &tip, false).expect("branch");
            let mut opts = git2::WorktreeAddOptions::new();
            opts.reference(Some(branch.get()));
            std::fs::create_dir_all(&wt_root).expect("mkdir");
            let wt = repo.worktree(&name, &path, Some(&opts)).expect("worktree");
            std::fs::write(path.join("noop.txt"), "x\n").expect("write");
            git::commit_all(&path, "bench", &[("Bosun-Run", "x")]).expect("commit");
            let head = git::head(&path).expect("head");
            let d = git::diff(&root, &tip.id().to_string(), &head).expect("diff");
            assert_eq!(d.files.len(), 1);
            std::fs::remove_dir_all(&path).expect("remove");
            let mut prune = git2::WorktreePruneOptions::new();
            prune.valid(true).working_tree(false);
            wt.prune(Some(&mut prune)).expect("prune");
            repo.find_branch(&branch_name, git2::BranchType::Local)
                .expect("the branch")
                .delete()
                .expect("delete branch");
        })
    });

    // The same steps with the git CLI.
    group.bench_function("git_cli_steps", |b| {
        b.iter(|| {
            n += 1;
            let path = wt_root.join(format!("c{n}"));
            let p = path.to_str().expect("utf-8 path");
            let branch = format!("cli/bench-{n}");
            git(&root, &["worktree", "add", "-q", "-b", &branch, p, "main"]);
            std::fs::write(path.join("noop.txt"), "x\n").expect("write");
            git(&path, &["add", "-A"]);
            git(&path, &["commit", "-q", "-m", "bench"]);
            git(&path, &["diff", "--stat", "main", "HEAD"]);
            git(&root, &["worktree", "remove", "--force", p]);
            git(&root, &["branch", "-q", "-D", &branch]);
        })
    });

    // A whole run through the orchestrator with a no-op agent (writes one file): scheduling,
    // worktree, agent process, commit, diff, store writes. Measured per run over a batch.
    let mut batch = 0u64;
    group.bench_function("bosun_full_run", |b| {
        b.iter_custom(|iters| {
            batch += 1;
            let repo_dir = tmp.path().join(format!("full{batch}"));
            std::fs::create_dir(&repo_dir).expect("mkdir");
            repo(&repo_dir);
            let todo: String = (0..iters)
                .map(|i| format!("- [ ] bench task {batch} {i}\n"))
                .collect();
            std::fs::write(repo_dir.join("TODO.md"), format!("# Tasks\n{todo}")).expect("write");
            git(&repo_dir, &["commit", "-q", "-am", "tasks"]);
            let mut config = Config::default();
            config.project.worktree_root = tmp
                .path()
                .join(format!("fullwt{batch}"))
                .display()
                .to_string();
            config.orchestrator.max_parallel = 1;
            config.executors.agents.insert(
                "noop".into(),
                ExecutorConfig {
                    command: vec!["sh".into(), "-c".into(), "echo x > noop.txt".into()],
                    ..ExecutorConfig::default()
                },
            );
            let project = Project::locate(Some(&repo_dir)).expect("project");
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let options = Options {
                schedule: true,
                only: Vec::new(),
                max_runs: None,
                exit_when_idle: true,
            };
            let start = Instant::now();
            rt.block_on(async {
                let o = Orchestrator::open(project, config, options).expect("open");
                o.spawn().done.await.expect("join").expect("run");
            });
            start.elapsed()
        })
    });
    group.finish();
    let _: PathBuf = wt_root;
}

/// What the sandbox adds to starting a command: `true` through the runner unconfined, then
/// under Landlock (ruleset built in the parent, applied between fork and exec), with TCP
/// denied too.
fn bench_sandbox_spawn(c: &mut Criterion) {
    use bosun::config::{NetworkAccess, SandboxConfig, SandboxMode};
    use bosun::executors::sandbox::{Confinement, Sandbox};
    use bosun::executors::{AgentRun, OutputFormat, run_agent};

    let tmp = tempfile::tempdir().expect("tempdir");
    let cwd = tmp.path().join("run");
    std::fs::create_dir(&cwd).expect("mkdir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let run = |sandbox: Sandbox| AgentRun {
        argv: vec!["true".into()],
        env: Vec::new(),
        cwd: cwd.clone(),
        timeout: Duration::from_secs(10),
        log_path: tmp.path().join("logs/run.log"),
        max_log_bytes: 1 << 20,
        format: OutputFormat::Plain,
        sandbox,
        min_free_mb: 0,
    };
    let landlock = Sandbox::from_config(
        &SandboxConfig {
            mode: SandboxMode::Landlock,
            network: NetworkAccess::Deny,
            ..SandboxConfig::default()
        },
        &[],
    );
    let mut group = c.benchmark_group("sandbox_spawn");
    let mut cases = vec![("off", Sandbox::default())];
    if matches!(landlock.confinement, Confinement::Landlock(_)) {
        cases.push(("landlock_tcp_denied", landlock));
    }
    for (name, sandbox) in cases {
        let agent = run(sandbox);
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let (lines, _l) = tokio::sync::mpsc::channel(16);
                    let (progress, _p) = tokio::sync::mpsc::channel(16);
                    let outcome = run_agent(
                        &agent,
                        |_| {},
                        lines,
                        progress,
                        tokio_util::sync::CancellationToken::new(),
                    )
                    .await
                    .expect("runs");
                    assert!(matches!(
                        outcome.exit,
                        bosun::executors::ExitKind::Exited(0)
                    ));
                })
            })
        });
    }
    group.finish();
}

/// What the approval journal costs: approving a one-file change on the 1,000-file repository
/// (target checked out, so its files follow) as before the journal — merge, then tick the
/// task with a second commit and ref move — and as now: merge and tick built as commits, the
/// intent journaled in the store, one compare-and-swap of the ref, the checkout following file
/// by file, the journal entry removed.
fn bench_approve(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    std::fs::create_dir(&root).expect("mkdir");
    repo(&root);
    std::fs::write(root.join("TODO.md"), "# Tasks\n- [ ] the task\n").expect("write");
    git(&root, &["commit", "-q", "-am", "a task"]);
    let store = bosun::store::Store::open(&tmp.path().join("state")).expect("store");
    let ticked = b"# Tasks\n- [x] the task\n";
    let mut n = 0u64;
    // Before each timed approval, not timed: the task unticked again on main, and a branch
    // with a one-file change on main's tip.
    let mut branch = |root: &Path| {
        std::fs::write(root.join("TODO.md"), "# Tasks\n- [ ] the task\n").expect("write");
        git(root, &["commit", "-q", "--allow-empty", "-am", "untick"]);
        n += 1;
        let name = format!("run-{n}");
        git(root, &["branch", "-q", &name, "main"]);
        git::commit_file(
            root,
            &name,
            Path::new(&format!("src/mod1/file{}.rs", n % 1000 + 1000)),
            format!("fn new{n}() {{}}\n").as_bytes(),
            "change",
        )
        .expect("change");
        name
    };
    let mut group = c.benchmark_group("approve_1000_files");
    group.sample_size(20);
    group.bench_function("merge_then_tick_before_the_journal", |b| {
        b.iter_batched(
            || branch(&root),
            |name| {
                git::merge(&root, "main", &name, git::MergeMode::Merge, "merge").expect("merge");
                git::commit_file(&root, "main", Path::new("TODO.md"), ticked, "tick")
                    .expect("tick");
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.bench_function("journaled_one_ref_move", |b| {
        b.iter_batched(
            || branch(&root),
            |name| {
                let plan = git::plan_merge(
                    &root,
                    "main",
                    &name,
                    None,
                    git::MergeMode::Merge,
                    "merge",
                    None,
                )
                .expect("plan");
                let new =
                    git::commit_file_on(&root, &plan.commit, Path::new("TODO.md"), ticked, "tick")
                        .expect("tick");
                store
                    .put_approval(&bosun::store::Approval {
                        run_id: name.clone(),
                        who: "bench".into(),
                        note: String::new(),
                        target: "main".into(),
                        old: plan.old.clone(),
                        new: new.clone(),
                        at_ms: 0,
                    })
                    .expect("journal");
                git::advance(&root, "main", &plan.old, &new, "bench").expect("advance");
                store.remove_approval(&name).expect("journal");
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_overhead, bench_sandbox_spawn, bench_approve);
criterion_main!(benches);
