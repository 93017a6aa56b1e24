//! The command line: argument parsing (clap derive) and one module per subcommand.

mod demo;
mod doctor;
mod init;
mod table;
mod tasks;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::Config;
use crate::project::Project;
use crate::telemetry::{self, TelemetryGuard};

/// bosun: supervise coding agents working through your task list.
#[derive(Debug, Parser)]
#[command(name = "bosun", version, about, long_about = None)]
pub struct Cli {
    /// Repository to work on (default: the one containing the current directory).
    #[arg(long, global = true, value_name = "PATH")]
    pub repo: Option<PathBuf>,
    /// Config file (default: bosun.toml at the repository root).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Say more on the terminal (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Say only errors on the terminal.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do; without one, bosun prints this help (the console arrives in a later release).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// bosun's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the tasks in the task files, by priority.
    Tasks(tasks::TasksArgs),
    /// Write a commented bosun.toml at the repository root.
    Init,
    /// Check that bosun can work here, with a fix for each problem.
    Doctor,
    /// Make a sandbox repository with a task list and show what bosun reads from it.
    Demo(demo::DemoArgs),
}

/// Everything a subcommand needs: where it is, its settings, and the log.
pub struct Context {
    /// The repository.
    pub project: Project,
    /// The layered configuration.
    pub config: Config,
    /// The config file read, if any.
    pub config_path: Option<PathBuf>,
    _telemetry: TelemetryGuard,
}

impl Context {
    /// Locates the project, loads its configuration and starts logging to `.bosun/logs/`.
    fn open(cli: &Cli) -> anyhow::Result<Self> {
        let project = Project::locate(cli.repo.as_deref())?;
        let loaded = project.load_config(cli.config.as_deref())?;
        let (telemetry, problem) = start_telemetry(cli, &project, &loaded.config);
        if let Some(problem) = problem {
            eprintln!("warning: {problem}; logging to the terminal only");
        }
        tracing::info!(root = %project.root.display(), config = ?loaded.path, "bosun started");
        Ok(Self {
            project,
            config: loaded.config,
            config_path: loaded.path,
            _telemetry: telemetry,
        })
    }
}

fn verbosity(cli: &Cli) -> i8 {
    if cli.quiet {
        -1
    } else {
        i8::try_from(cli.verbose).unwrap_or(i8::MAX)
    }
}

/// Logs go to `.bosun/logs/` inside a git repository; elsewhere (a plain directory) bosun
/// does not litter and logs to the terminal only.
fn start_telemetry(
    cli: &Cli,
    project: &Project,
    config: &Config,
) -> (TelemetryGuard, Option<String>) {
    let log_dir = match &project.repo {
        Some(_) => match project.ensure_state_subdir("logs") {
            Ok(dir) => Some(dir),
            Err(e) => {
                let (guard, _) = telemetry::init(verbosity(cli), None, &config.telemetry);
                return (guard, Some(format!("{e:#}")));
            }
        },
        None => None,
    };
    telemetry::init(verbosity(cli), log_dir.as_deref(), &config.telemetry)
}

/// Runs the command line; the error, if any, is for the user (one sentence, with context).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        None => {
            Cli::command().print_help()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Init) => init::run(&cli),
        Some(Command::Doctor) => doctor::run(&cli),
        Some(Command::Demo(args)) => demo::run(&cli, args),
        Some(Command::Tasks(args)) => {
            let ctx = Context::open(&cli)?;
            tasks::run(&ctx, args)
        }
    }
}
