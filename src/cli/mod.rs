//! The command line: argument parsing (clap derive) and one module per subcommand.

// Everything the subcommands print may carry agent-controlled text (titles, diff lines, output
// lines, errors): these shadow the standard printing macros in every module below, so each
// line goes through `visible` and a terminal shows control sequences instead of obeying them.
// JSON is unchanged by it (serde escapes control characters). `std::println!` prints raw, for
// `bosun show --raw` only.
// A reader that went away (`bosun run --headless | head`) must not stop bosun mid-run: a
// failed write to stdout or stderr is dropped instead of panicking as `std::println!` does.
// (Commands that only print restore SIGPIPE and end quietly before they get here.)
// `say!(w, …)` is the same for any writer (`bosun show` prints through one buffer).
macro_rules! say {
    ($w:expr, $($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($w, "{}", $crate::cli::visible::visible(&format!($($arg)*)));
    }};
}
macro_rules! println {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {
        say!(std::io::stdout(), $($arg)*)
    };
}
macro_rules! eprintln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr());
    }};
    ($($arg:tt)*) => {
        say!(std::io::stderr(), $($arg)*)
    };
}
macro_rules! print {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), "{}", $crate::cli::visible::visible(&format!($($arg)*)));
    }};
}

mod audit;
pub mod console;
mod decide;
mod demo;
mod demo_agent;
mod demo_model;
mod doctor;
mod events;
mod gc;
mod init;
mod json;
mod mcp;
mod memory;
pub(crate) mod run;
mod runs;
mod table;
mod tasks;
pub mod visible;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::Config;
use crate::project::Project;
use crate::telemetry::{self, TelemetryGuard};

/// bosun: supervise coding agents working through your task list.
#[derive(Debug, Parser)]
#[command(
    name = "bosun",
    version,
    about,
    long_about = None,
    after_help = "Run without a command in a terminal, inside a git repository, bosun opens the console: \
                  the task board, reviews and decisions, with agents working through the task list."
)]
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
    /// What to do; without one, bosun opens the console on the repository (in a terminal; elsewhere it prints this help).
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
    Doctor(doctor::DoctorArgs),
    /// Run coding agents on the open tasks, each in its own worktree, until nothing more can run.
    Run(run::RunArgs),
    /// List runs, newest first.
    Runs(runs::RunsArgs),
    /// Show one run: its state, history, diff and log.
    Show(runs::ShowArgs),
    /// Merge a run awaiting approval into the target branch and tick its task.
    Approve(decide::ApproveArgs),
    /// Reject a run (optionally retrying with the reason in the next prompt).
    Reject(decide::RejectArgs),
    /// Stop a queued or running run.
    Cancel(decide::CancelArgs),
    /// Queue another attempt at a failed, rejected or cancelled run's task (its error goes
    /// into the next prompt; also past `max_attempts`).
    Retry(decide::RetryArgs),
    /// Follow a running bosun from another terminal: what happens, as it happens.
    Events(events::EventsArgs),
    /// Open another console on the bosun running here (the console or `bosun run
    /// --headless`): the same board, and decisions made in either; quitting leaves it running.
    Attach,
    /// Serve MCP over stdio, so Claude Code, Codex or any MCP client can list and add tasks,
    /// list and show runs, and (with `[mcp] allow_decisions = true`) approve, reject, retry.
    Mcp,
    /// Show what process memory learned (executors' records per task type, lessons), or
    /// forget a lesson.
    Memory(memory::MemoryArgs),
    /// List the audit trail of decisions, or verify its hash chain (`bosun audit verify`).
    Audit(audit::AuditArgs),
    /// Forget the details (events, diffs, logs) of runs older than `[store] keep_days`, and
    /// compact the store; decisions, gates, process memory and the audit trail are kept.
    Gc(gc::GcArgs),
    /// Make a sandbox repository and run the whole loop on it with a bundled demo agent.
    Demo(demo::DemoArgs),
    /// Print a shell completion script (`source <(bosun completions bash)`; zsh, fish,
    /// elvish and powershell too).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print bosun's man page (roff: `bosun man > ~/.local/share/man/man1/bosun.1`).
    Man,
    /// The scripted agent used by `bosun demo`.
    #[command(hide = true)]
    DemoAgent,
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
        Self::of(cli, Project::locate(cli.repo.as_deref())?)
    }

    /// [`open`](Self::open), with the project already located.
    fn of(cli: &Cli, project: Project) -> anyhow::Result<Self> {
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

/// For commands that only print: when the reader goes away (`bosun runs | head`), end the
/// way Unix filters do, silently, instead of panicking in `println!` (Rust ignores SIGPIPE by
/// default). Not for commands that run agents, which must outlive a closed pipe.
fn end_quietly_on_a_closed_pipe() {
    // SAFETY: setting a signal disposition to its default has no preconditions; it is done
    // before any thread that could be writing starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Runs the command line; the error, if any, is for the user (one sentence, with context).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if matches!(
        cli.command,
        Some(
            Command::Tasks(_)
                | Command::Runs(_)
                | Command::Show(_)
                | Command::Memory(_)
                | Command::Audit(_)
                | Command::Events(_)
                | Command::Gc(_)
                | Command::Doctor(_)
                | Command::Completions { .. }
                | Command::Man
        )
    ) {
        end_quietly_on_a_closed_pipe();
    }
    match &cli.command {
        None => {
            use std::io::IsTerminal;
            let interactive = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
            let project = Project::locate(cli.repo.as_deref())
                .ok()
                .filter(|p| p.repo.is_some());
            if let (true, Some(project)) = (interactive, project) {
                let ctx = Context::of(&cli, project)?;
                let options = crate::orchestrator::Options {
                    schedule: true,
                    ..Default::default()
                };
                console::run(ctx.project.clone(), ctx.config.clone(), options)?;
                return Ok(ExitCode::SUCCESS);
            }
            Cli::command().print_help()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Init) => init::run(&cli),
        Some(Command::Doctor(args)) => doctor::run(&cli, args),
        Some(Command::Demo(args)) => demo::run(&cli, args),
        Some(Command::DemoAgent) => demo_agent::run(),
        Some(Command::Completions { shell }) => {
            let mut command = Cli::command();
            clap_complete::generate(*shell, &mut command, "bosun", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man) => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Mcp) => mcp::run(Context::open(&cli)?),
        Some(command) => {
            let ctx = Context::open(&cli)?;
            match command {
                Command::Tasks(args) => tasks::run(&ctx, args),
                Command::Run(args) => run::run(&ctx, args, cli.verbose > 0),
                Command::Runs(args) => runs::run_list(&ctx, args),
                Command::Show(args) => runs::show(&ctx, args),
                Command::Approve(args) => decide::approve(&ctx, args),
                Command::Reject(args) => decide::reject(&ctx, args),
                Command::Cancel(args) => decide::cancel(&ctx, args),
                Command::Retry(args) => decide::retry(&ctx, args),
                Command::Events(args) => events::run(&ctx, args),
                Command::Attach => {
                    console::attach(ctx.project.clone(), ctx.config.clone())?;
                    Ok(ExitCode::SUCCESS)
                }
                Command::Memory(args) => memory::run(&ctx, args),
                Command::Audit(args) => audit::run(&ctx, args),
                Command::Gc(args) => gc::run(&ctx, args),
                Command::Init
                | Command::Doctor(_)
                | Command::Demo(_)
                | Command::DemoAgent
                | Command::Completions { .. }
                | Command::Man
                | Command::Mcp => {
                    unreachable!("handled above")
                }
            }
        }
    }
}
