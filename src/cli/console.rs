//! The console's two ways to start: `bosun` (an orchestrator in this process, served to other
//! terminals on the control socket) and `bosun attach` (on the bosun already running here,
//! through its socket). Either way the console itself, [`crate::tui::session`], talks to the
//! core only through [`crate::api`].

use std::sync::Arc;

use crate::api::Feed;
use crate::config::Config;
use crate::orchestrator::{Command, Options, Orchestrator, OrchestratorError};
use crate::project::Project;
use crate::tui::Settings;
use crate::tui::app::JobContext;

/// Opens the console on `project`, with an orchestrator scheduling runs in this process.
pub fn run(project: Project, config: Config, options: Options) -> anyhow::Result<()> {
    crate::runtime()?.block_on(own(project, config, options))
}

/// Opens a console on the bosun already running on `project` (the console or `bosun run
/// --headless`), through its control socket; quitting it leaves that bosun running.
pub fn attach(project: Project, config: Config) -> anyhow::Result<()> {
    crate::runtime()?.block_on(attached(project, config))
}

async fn own(project: Project, config: Config, options: Options) -> anyhow::Result<()> {
    let orchestrator = Orchestrator::open(project.clone(), config.clone(), options)?;
    let mut events = Feed::Local(orchestrator.subscribe());
    let store = orchestrator.store();
    let target = orchestrator.target().to_string();
    // The orchestrator's start waits for the console's first frame (or half a second): both
    // want the CPU at once, and the board is what the operator sees. A console that ended
    // before drawing anything lets it end without starting.
    let (first_frame, drawn) = tokio::sync::oneshot::channel::<std::time::Instant>();
    let handle = orchestrator.spawn_after(async move {
        match tokio::time::timeout(std::time::Duration::from_millis(500), drawn).await {
            Ok(Ok(at)) => {
                // Kept in the log for start-up figures (benches/e2e reads it).
                let ms = at
                    .saturating_duration_since(crate::telemetry::started())
                    .as_secs_f64()
                    * 1e3;
                tracing::info!(ms = format!("{ms:.1}"), "first frame drawn");
                true
            }
            Ok(Err(_)) => false,
            Err(_) => true,
        }
    });
    // Other terminals reach this orchestrator through the control socket.
    let local = crate::control::Local::shared(store, project.root.clone(), &config);
    let service = crate::control::Service {
        commands: handle.commands.clone(),
        events: handle.events.clone(),
        local: Arc::clone(&local),
        target,
    };
    let status = service.status();
    let served = crate::control::start(&project.state_dir(), &config.server, service).await;
    let jobs = Arc::new(
        JobContext::new(local, project.root, settings(&config)).telling_first_frame(first_frame),
    );
    let result = session(status, &mut events, &handle.commands, &jobs).await;
    // Never drawn: the orchestrator is told not to start.
    drop(jobs.take_first_frame());

    let _ = handle.commands.send(Command::Shutdown).await;
    let done = handle.done.await;
    served.finish().await;
    match done {
        Ok(Ok(())) | Ok(Err(OrchestratorError::Stopped)) => {}
        Ok(Err(e)) => return Err(e.into()),
        Err(e) => {
            return Err(anyhow::anyhow!(
                "the orchestrator stopped unexpectedly: {e}"
            ));
        }
    }
    result
}

async fn attached(project: Project, config: Config) -> anyhow::Result<()> {
    let state_dir = project.state_dir();
    let no_bosun = |e: crate::api::ControlError| match e {
        crate::api::ControlError::Unreachable(..) => anyhow::anyhow!(
            "no bosun is running on {}: `bosun` opens the console and starts one",
            project.root.display()
        ),
        other => other.into(),
    };
    // Subscribed first: whatever happens while the start is read is heard after it.
    let stream = crate::api::Stream::open(&state_dir, true)
        .await
        .map_err(no_bosun)?;
    let mut events = Feed::Remote(stream);
    let mut status = crate::api::exchange(&state_dir, &crate::api::Request::Status)
        .await
        .map_err(no_bosun)?
        .status
        .unwrap_or_default();
    status.repo = format!("{} (attached)", status.repo);
    let commands = crate::api::forward_commands(state_dir.clone());
    let jobs = Arc::new(JobContext::new(
        Arc::new(crate::api::Remote { state_dir }),
        project.root,
        settings(&config),
    ));
    session(status, &mut events, &commands, &jobs).await
}

/// What the console takes from the configuration.
fn settings(config: &Config) -> Settings {
    Settings {
        max_parallel: config.orchestrator.max_parallel,
        keys: config.keys.extra(),
        bell: config.notify.bell,
        commit_message: config.project.commit_message.clone(),
        forge: config.forge.is_set_up().then_some(config.forge.deliver),
    }
}

/// The console's session, with bosun's log lines kept off the terminal it draws on and a
/// [`watchdog`] for as long as it lasts.
async fn session(
    status: crate::api::Status,
    events: &mut Feed,
    commands: &tokio::sync::mpsc::Sender<Command>,
    jobs: &Arc<JobContext>,
) -> anyhow::Result<()> {
    crate::telemetry::silence_terminal(true);
    let watchdog = watchdog(WATCHDOG_GRACE);
    let result = crate::tui::session(status, events, commands, jobs).await;
    watchdog.abort();
    crate::telemetry::silence_terminal(false);
    result
}

/// How long the console has to end itself once told to stop.
const WATCHDOG_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Ends the process when the console cannot end itself. Told to stop (SIGTERM, or SIGHUP when
/// its terminal goes away), the console's loop quits at once; one that has not within `grace`
/// is stuck — a terminal that went away can leave crossterm's reader spinning with the loop
/// behind it (crossterm issue 793), and the process then ignored SIGTERM at 100 % CPU. This
/// runs on the runtime's workers, not the console's thread: it gives the terminal back as far
/// as it can and exits with 128 + the signal, as the signal would have. What was under way is
/// then as after a crash: the next start finds it (the journal, interrupted runs).
fn watchdog(grace: std::time::Duration) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        let (code, name) = tokio::select! {
            _ = term.recv() => (128 + libc::SIGTERM, "SIGTERM"),
            _ = hup.recv() => (128 + libc::SIGHUP, "SIGHUP"),
        };
        tokio::time::sleep(grace).await;
        tracing::error!(
            "the console did not end within {}s of {name}: ending the process",
            grace.as_secs()
        );
        // On a thread of its own: writing to a terminal that is gone may never return.
        std::thread::spawn(crate::tui::restore_terminal);
        // Time for that and for the log line to reach the file.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        std::process::exit(code);
    })
}
