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

    // The git steps bosun takes for a run, through git2: worktree, commit, diff, remove.
    let mut n = 0u64;
    group.bench_function("bosun_git_steps", |b| {
        b.iter(|| {
            n += 1;
            let path = wt_root.join(format!("g{n}"));
            let branch = format!("bosun/bench-{n}");
            let w = git::create_worktree(&root, &path, &branch, "main").expect("worktree");
            std::fs::write(path.join("noop.txt"), "x\n").expect("write");
            git::commit_all(&path, "bench", &[("Bosun-Run", "x")]).expect("commit");
            let head = git::head(&path).expect("head");
            let d = git::diff(&root, &w.base, &head).expect("diff");
            assert_eq!(d.files.len(), 1);
            git::remove_worktree(&root, &path, Some(&branch)).expect("remove");
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

criterion_group!(benches, bench_overhead);
criterion_main!(benches);
