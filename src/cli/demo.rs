//! `bosun demo`: makes a small sandbox git repository (from `assets/demo/`) and shows what
//! bosun reads from its task list, then runs the bundled demo agent on it, with the judge
//! gate asking a scripted stand-in for a model. Needs no agent, no model and no API key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::table::output_width;
use super::{Cli, run as headless, tasks};
use crate::project::Project;

/// Arguments of `bosun demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to create the sandbox (default: a new directory under the system temp dir).
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// Print progress instead of opening the console (the default when not on a terminal).
    #[arg(long)]
    pub headless: bool,
}

/// The sandbox project, embedded in the binary so the demo works from anywhere.
const FILES: [(&str, &str); 8] = [
    ("TODO.md", include_str!("../../assets/demo/TODO.md")),
    (
        "pyproject.toml",
        include_str!("../../assets/demo/pyproject.toml"),
    ),
    ("README.md", include_str!("../../assets/demo/README.md")),
    ("bosun.toml", include_str!("../../assets/demo/bosun.toml")),
    (
        "docs/usage.md",
        include_str!("../../assets/demo/docs/usage.md"),
    ),
    (
        "textstats.py",
        include_str!("../../assets/demo/textstats.py"),
    ),
    (
        "test_textstats.py",
        include_str!("../../assets/demo/test_textstats.py"),
    ),
    (".gitignore", "__pycache__/\n"),
];

/// Writes the sandbox into `dir` (which must be empty or absent) and commits it on `main`.
/// `agent` is the demo agent's argv, written into the sandbox's bosun.toml.
pub fn create_sandbox(dir: &Path, agent: &[String]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if std::fs::read_dir(dir)?.next().is_some() {
        anyhow::bail!(
            "{} is not empty; give --dir a new or empty directory",
            dir.display()
        );
    }
    for (path, content) in FILES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut content = content.to_string();
        if path == "bosun.toml" {
            let argv: Vec<String> = agent.iter().map(|a| format!("{a:?}")).collect();
            content.push_str(&format!(
                "\n# The bundled demo agent (bosun itself, behind a hidden subcommand).\n[executors.demo]\ncommand = [{}]\ntimeout = \"2m\"\n",
                argv.join(", ")
            ));
        }
        std::fs::write(&target, content)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo =
        git2::Repository::init_opts(dir, &opts).context("cannot create the sandbox repository")?;
    let mut index = repo.index()?;
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let who = git2::Signature::now("bosun demo", "demo@bosun.invalid")?;
    repo.commit(
        Some("HEAD"),
        &who,
        &who,
        "textstats: initial import",
        &tree,
        &[],
    )?;
    Ok(())
}

/// Runs `bosun demo`: the sandbox, then the console on it (or, off a terminal or with
/// `--headless`, the headless loop printing progress) with the demo agent.
pub fn run(cli: &Cli, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => tempfile::Builder::new()
            .prefix("bosun-demo-")
            .tempdir()
            .context("cannot create a temporary directory")?
            .keep(),
    };
    let exe = std::env::current_exe().context("cannot find the bosun executable")?;
    create_sandbox(&dir, &[exe.display().to_string(), "demo-agent".to_string()])?;
    let demo_cli = Cli {
        repo: Some(dir.clone()),
        config: None,
        verbose: cli.verbose,
        quiet: cli.quiet,
        command: None,
    };
    let mut ctx = super::Context::open(&demo_cli)?;
    // A scripted stand-in for a model, so the judge gate scores every change.
    let model = super::demo_model::DemoModel::start()?;
    model.configure(&mut ctx.config);
    use std::io::IsTerminal;
    let interactive = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if interactive && !args.headless {
        // The console on the sandbox: the demo agent works through the board while you watch,
        // review and decide.
        let options = crate::orchestrator::Options {
            schedule: true,
            ..Default::default()
        };
        super::console::run(ctx.project.clone(), ctx.config.clone(), options)?;
        let root = Project::locate(Some(&dir))?.root;
        println!(
            "The sandbox stays at {} — open it again with `{} --repo {}`.",
            root.display(),
            exe.display(),
            root.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let files = ctx.config.project.task_files.clone();
    let list = tasks::load(&ctx, &files)?;
    let open: Vec<_> = list.tasks.iter().filter(|t| !t.done).collect();
    let root = Project::locate(Some(&dir))?.root;
    println!(
        "Sandbox repository: {} (branch main, one commit)\n",
        root.display()
    );
    println!(
        "Its TODO.md, as bosun reads it — priority from the headings, type from tags and keywords:\n"
    );
    print!(
        "{}",
        tasks::render(&list, &open, &files, false, output_width())
    );
    println!("\nNow the demo agent works on each task in its own git worktree (two at a time):\n");
    let options = crate::orchestrator::Options {
        schedule: true,
        only: Vec::new(),
        max_runs: None,
        exit_when_idle: true,
    };
    let code = headless::runtime()?.block_on(headless::drive(
        &ctx.project,
        &ctx.config,
        options,
        false,
        cli.verbose > 0,
    ))?;
    let bosun = format!("{} --repo {}", exe.display(), root.display());
    println!("\nNext, review and decide (the task list is ticked on approval):");
    println!("  {bosun} runs");
    println!("  {bosun} show RUN            # diff, history and log of one run");
    println!("  {bosun} approve RUN         # merge into main and tick the checkbox");
    println!("  {bosun} reject RUN --reason \"…\" --retry");
    Ok(code)
}
