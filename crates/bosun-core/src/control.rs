//! The control socket's server: the bosun that holds a repository's lock (the console, or
//! `bosun run --headless`) answers the [`crate::api`] protocol on `.bosun/bosun.sock`, so every
//! command run from another terminal — `bosun runs`, `show`, `approve`, `reject`, `cancel`,
//! `retry`, `memory`, `audit`, `tasks add` — reaches the running bosun instead of being
//! refused because it is busy, `bosun events` can watch it, and `bosun attach` can open a
//! console on it. A client that never sends or never reads holds only its own connection's
//! task, never the orchestrator. Reads go to the store and git off the async threads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use crate::api::{
    LOG_TAIL_LINES, LogTail, MAX_REQUEST, Request, Response, Status, Streamed, socket_path,
};
use crate::diff::Diff;
use crate::model::Strategy;
use crate::model::{Run, RunId, Task};
use crate::orchestrator::{Command, CommandError};
use crate::store::Store;

/// What the control socket serves: the running orchestrator's handles and its store.
#[derive(Clone)]
pub struct Service {
    /// Decisions go here.
    pub commands: mpsc::Sender<Command>,
    /// Subscriptions listen here.
    pub events: crate::orchestrator::Bus,
    /// Reads come from here (the store and the repository, off the async threads).
    pub local: Arc<Local>,
    /// The branch runs merge into.
    pub target: String,
}

impl Service {
    /// What [`Request::Status`] answers.
    pub fn status(&self) -> Status {
        Status {
            repo: self
                .local
                .repo_root
                .file_name()
                .map_or_else(|| "repository".into(), |n| n.to_string_lossy().into_owned()),
            target: self.target.clone(),
            sandbox_off: crate::executors::sandbox::warning(&self.local.config.sandbox),
        }
    }
}

/// Starts listening on the socket of `state_dir` (replacing a stale one: the caller holds the
/// repository's lock, so no other bosun serves it).
pub fn serve(state_dir: &Path, service: Service) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = socket_path(state_dir);
    remove_stale(state_dir)?;
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let allowed = stream.peer_cred().is_ok_and(|c| c.uid() == me);
                let _ = answer(stream, allowed, service).await;
            });
        }
    }))
}

/// What a running bosun serves, once [`start`] set it up.
#[derive(Debug, Default)]
pub struct Served {
    /// Where `/metrics` and `/healthz` answer, when `[server] metrics_addr` asks for them.
    pub metrics: Option<std::net::SocketAddr>,
    /// What could not be started, one sentence each (bosun goes on without it).
    pub problems: Vec<String>,
    /// The `[notify]` command's task, when there is one.
    pub notifier: Option<tokio::task::JoinHandle<()>>,
}

impl Served {
    /// Once the orchestrator has stopped: lets the notifier start its last commands (for up
    /// to two seconds) before the process ends.
    pub async fn finish(self) {
        if let Some(notifier) = self.notifier {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), notifier).await;
        }
    }
}

/// Starts everything a running bosun serves to other front ends: the control socket in
/// `state_dir`, the metrics endpoint when `server` names an address, and the `[notify]`
/// command.
pub async fn start(
    state_dir: &Path,
    server: &crate::config::ServerConfig,
    service: Service,
) -> Served {
    let mut served = Served::default();
    let (store, events) = (service.local.store.clone(), service.events.clone());
    served.notifier = crate::orchestrator::notify::spawn(
        &events,
        &service.local.config.notify.command,
        service.local.repo_root.clone(),
    );
    if let Err(e) = serve(state_dir, service) {
        served.problems.push(format!(
            "cannot listen on the control socket {}: {e}; commands from other terminals are refused",
            socket_path(state_dir).display()
        ));
    }
    let addr = server.metrics_addr.trim();
    if !addr.is_empty() {
        // The config check made sure it parses.
        match addr.parse() {
            Ok(addr) => match crate::metrics::endpoint::serve(addr, store, &events).await {
                Ok(bound) => served.metrics = Some(bound),
                Err(e) => served.problems.push(format!(
                    "cannot serve metrics on {addr} ([server] metrics_addr): {e}"
                )),
            },
            Err(e) => served
                .problems
                .push(format!("[server] metrics_addr `{addr}`: {e}")),
        }
    }
    for problem in &served.problems {
        tracing::warn!("{problem}");
    }
    if let Some(addr) = served.metrics {
        tracing::info!(%addr, "serving /metrics and /healthz");
    }
    served
}

/// Removes the socket file of `state_dir`, left by a bosun that is gone (the caller holds the
/// repository's lock, so no live bosun serves it).
pub fn remove_stale(state_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(socket_path(state_dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Reads one request from `stream`, carries it out, writes the response (or the stream).
async fn answer(
    stream: tokio::net::UnixStream,
    allowed: bool,
    service: Service,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_REQUEST + 1));
    let response = if allowed {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).await?;
        if line.len() as u64 > MAX_REQUEST {
            refused(format!("the request is over {MAX_REQUEST} bytes"))
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Ok(Request::Subscribe { output }) => {
                    return stream_events(write, &service.events, output).await;
                }
                Ok(request) => respond(request, &service).await,
                Err(e) => refused(format!("not a request bosun understands: {e}")),
            }
        }
    } else {
        refused("the control socket serves only the user running bosun".into())
    };
    let mut bytes = serde_json::to_vec(&response).unwrap_or_default();
    bytes.push(b'\n');
    write.write_all(&bytes).await?;
    write.shutdown().await?;
    // What the client sent beyond what was read is drained (for a moment, up to a bound), so
    // closing does not reset the connection before the client has read the answer.
    let mut rest = reader.into_inner().into_inner().take(16 * MAX_REQUEST);
    let mut sink = tokio::io::sink();
    let drain = tokio::io::copy(&mut rest, &mut sink);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
    Ok(())
}

/// Writes every event published from now on to `write`, one JSON line each, until bosun stops
/// or the client goes away. Only this connection's task waits on a slow client: the bus never
/// does, and what the client missed is said ([`Streamed::Lagged`], [`Streamed::Skipped`]).
async fn stream_events(
    mut write: tokio::net::unix::OwnedWriteHalf,
    events: &crate::orchestrator::Bus,
    output: bool,
) -> std::io::Result<()> {
    use crate::orchestrator::{Event, Missed};
    let mut subscription = events.subscribe();
    if !output {
        subscription = subscription.without_output();
    }
    let line = |value: Result<Vec<u8>, serde_json::Error>| {
        let mut bytes = value.unwrap_or_default();
        bytes.push(b'\n');
        bytes
    };
    write
        .write_all(&line(serde_json::to_vec(&Streamed::Subscribed)))
        .await?;
    loop {
        let (bytes, last) = match subscription.recv().await {
            Ok(event) => {
                let last = matches!(event, Event::Stopped);
                (line(serde_json::to_vec(&event)), last)
            }
            Err(Missed::State(run_changes)) => (
                line(serde_json::to_vec(&Streamed::Lagged { run_changes })),
                false,
            ),
            Err(Missed::Output(lines)) => (
                line(serde_json::to_vec(&Streamed::Skipped { lines })),
                false,
            ),
            Err(Missed::Closed) => break,
        };
        write.write_all(&bytes).await?;
        if last {
            break;
        }
    }
    write.shutdown().await
}

/// An error answer.
fn refused(error: String) -> Response {
    Response {
        error: Some(error),
        ..Response::default()
    }
}

/// Answers `request`: a decision through the orchestrator (as a [`Command`], waiting for its
/// answer), or a read from the store and the repository off the async threads.
async fn respond(request: Request, service: &Service) -> Response {
    let answer_run = |run: Run| Response {
        run: Some(Box::new(run)),
        ..Response::default()
    };
    let answered = match request {
        Request::Subscribe { .. } => Err("a subscription is answered by a stream, not here".into()),
        Request::Status => Ok(Response {
            status: Some(service.status()),
            ..Response::default()
        }),
        Request::Pause => send(service, Command::Pause).await,
        Request::Resume => send(service, Command::Resume).await,
        Request::AddTask { task, who } => {
            ask(service, |reply| Command::AddTask { task, who, reply })
                .await
                .map(|task| Response {
                    task: Some(task),
                    ..Response::default()
                })
        }
        Request::Approve {
            run,
            who,
            note,
            keep,
            message,
            deliver,
        } => ask(service, |reply| Command::Approve {
            run,
            who,
            note,
            keep,
            message,
            deliver,
            reply,
        })
        .await
        .map(answer_run),
        Request::Reject {
            run,
            who,
            reason,
            retry,
            prompt,
        } => ask(service, |reply| Command::Reject {
            run,
            who,
            reason,
            retry,
            prompt,
            reply,
        })
        .await
        .map(answer_run),
        Request::Instruct { run, who, prompt } => ask(service, |reply| Command::Instruct {
            run,
            who,
            prompt,
            reply,
        })
        .await
        .map(answer_run),
        Request::Cancel { run } => ask(service, |reply| Command::Cancel { run, reply })
            .await
            .map(answer_run),
        Request::Retry { run, who } => ask(service, |reply| Command::Retry { run, who, reply })
            .await
            .map(answer_run),
        reading => {
            let local = Arc::clone(&service.local);
            tokio::task::spawn_blocking(move || read(&local, reading))
                .await
                .unwrap_or_else(|e| Err(format!("the read stopped: {e}")))
        }
    };
    answered.unwrap_or_else(refused)
}

/// Sends `command`, which has no answer.
async fn send(service: &Service, command: Command) -> Result<Response, String> {
    match service.commands.send(command).await {
        Ok(()) => Ok(Response::default()),
        Err(_) => Err(CommandError::Stopped.to_string()),
    }
}

/// Sends the command `make` builds and waits for the orchestrator's answer.
async fn ask<T>(
    service: &Service,
    make: impl FnOnce(oneshot::Sender<Result<T, CommandError>>) -> Command,
) -> Result<T, String> {
    let (reply, answer) = oneshot::channel();
    if service.commands.send(make(reply)).await.is_err() {
        return Err(CommandError::Stopped.to_string());
    }
    match answer.await {
        Ok(answer) => answer.map_err(|e| e.to_string()),
        Err(_) => Err(CommandError::Stopped.to_string()),
    }
}

/// Answers a read (runs, history, memory, the audit trail, tasks, changes); blocking.
fn read(local: &Local, request: Request) -> Result<Response, String> {
    use crate::api::Core as _;
    let store = &local.store;
    let stored = |e: crate::store::StoreError| e.to_string();
    let memory = |e: crate::memory::MemoryError| e.to_string();
    let mut r = Response::default();
    match request {
        Request::Runs => r.runs = Some(store.runs_json().map_err(stored)?),
        Request::Show { run } => {
            let found = store.find_run(&run).map_err(stored)?;
            r.rival = match &found.rival {
                Some(id) => store.run(id).map_err(stored)?.map(Box::new),
                None => None,
            };
            r.diff = store.diff(&found.id).map_err(stored)?;
            r.events = Some(store.events(&found.id).map_err(stored)?);
            r.annotations = Some(store.annotations(&found.id).map_err(stored)?);
            r.run = Some(Box::new(found));
        }
        Request::Memory => {
            r.strategies = Some(store.memory().strategies().map_err(memory)?);
            r.lessons = Some(store.memory().lessons().map_err(memory)?);
        }
        Request::Forget { lesson } => {
            r.lessons = Some(vec![store.memory().forget(&lesson).map_err(memory)?]);
        }
        Request::Audit => r.audit = Some(store.audit().map_err(stored)?),
        Request::VerifyAudit => {
            r.verified = Some(store.verify_audit().map_err(stored)?);
            let newest = store.audit().map_err(stored)?.into_iter().last();
            r.audit = Some(newest.into_iter().collect());
        }
        Request::Tasks => r.tasks = Some(local.tasks()?),
        Request::FirstDiff {
            base,
            head,
            files,
            bytes,
        } => {
            let (diff, total) = local.first_diff(&base, &head, files, bytes)?;
            r.change = Some(diff);
            r.count = Some(total);
        }
        Request::Diff { base, head } => r.change = Some(local.diff(&base, &head)?),
        Request::OpenRuns => r.runs = Some(raw(&local.open_runs()?)?),
        Request::RunsPage { before, limit } => {
            r.runs = Some(raw(&local.runs_page(before.as_ref(), limit)?)?);
        }
        Request::RunCount => r.count = Some(local.run_count()),
        Request::Run { id } => r.run = local.run(&id)?.map(Box::new),
        Request::RunLog { id } => r.log = local.run_log(&id)?,
        Request::Annotations { id, paths } => {
            r.annotations = Some(match paths {
                Some(paths) => local.annotations_on(&id, &paths)?,
                None => local.annotations(&id)?,
            });
        }
        other => return Err(format!("not a read: {other:?}")),
    }
    Ok(r)
}

/// `runs` as the JSON a [`Response`] carries.
fn raw(runs: &[Run]) -> Result<Box<serde_json::value::RawValue>, String> {
    serde_json::value::to_raw_value(runs).map_err(|e| e.to_string())
}

/// The core in this process: its store and repository.
pub struct Local {
    /// The store.
    pub store: Arc<Store>,
    /// The repository.
    pub repo_root: PathBuf,
    /// Its settings (the task files).
    pub config: Arc<crate::config::Config>,
}

impl Local {
    /// The reads of `store` and the repository at `repo_root`, shared (as a console's
    /// [`crate::api::Core`]).
    pub fn shared(
        store: Arc<Store>,
        repo_root: PathBuf,
        config: &crate::config::Config,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            repo_root,
            config: Arc::new(config.clone()),
        })
    }
}

impl crate::api::Core for Local {
    fn tasks(&self) -> Result<Vec<Task>, String> {
        crate::intake::TaskList::load(
            &self.repo_root,
            &self.config.project.task_files,
            &self.config.intake.type_rules(),
        )
        .map(|list| list.tasks)
        .map_err(|e| e.to_string())
    }
    fn open_runs(&self) -> Result<Vec<Run>, String> {
        self.store.open_runs().map_err(|e| e.to_string())
    }
    fn runs_page(&self, before: Option<&RunId>, limit: usize) -> Result<Vec<Run>, String> {
        self.store
            .runs_page(before, limit)
            .map_err(|e| e.to_string())
    }
    fn run_count(&self) -> usize {
        self.store.run_count()
    }
    fn run(&self, id: &RunId) -> Result<Option<Run>, String> {
        self.store.run(id).map_err(|e| e.to_string())
    }
    fn annotations(&self, id: &RunId) -> Result<Vec<crate::model::Annotation>, String> {
        self.store.annotations(id).map_err(|e| e.to_string())
    }
    fn annotations_on(
        &self,
        id: &RunId,
        paths: &[String],
    ) -> Result<Vec<crate::model::Annotation>, String> {
        self.store
            .annotations_on(id, paths)
            .map_err(|e| e.to_string())
    }
    fn verify_audit(&self) -> Result<usize, String> {
        self.store.verify_audit().map_err(|e| e.to_string())
    }
    fn strategies(&self) -> Result<Vec<Strategy>, String> {
        self.store.memory().strategies().map_err(|e| e.to_string())
    }
    fn first_diff(
        &self,
        base: &str,
        head: &str,
        files: usize,
        bytes: usize,
    ) -> Result<(Diff, usize), String> {
        let (mut diff, total) = crate::diff::first(&self.repo_root, base, head, files, bytes)
            .map_err(|e| e.to_string())?;
        crate::semantic::rules::mask_diff(&mut diff);
        Ok((diff, total))
    }
    fn diff(&self, base: &str, head: &str) -> Result<Diff, String> {
        let mut diff = crate::diff::load(&self.repo_root, base, head).map_err(|e| e.to_string())?;
        crate::semantic::rules::mask_diff(&mut diff);
        Ok(diff)
    }
    fn run_log(&self, id: &RunId) -> Result<Option<LogTail>, String> {
        let state = self.repo_root.join(crate::project::STATE_DIR);
        let path = crate::project::run_log_path(&state, id);
        match read_tail(&path) {
            Ok(tail) => Ok(Some(tail)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }
}

/// Bytes read from the end of a run's log file.
const TAIL_BYTES: u64 = 4 * 1024 * 1024;
/// Longest line kept from a log file, in characters.
const MAX_LINE: usize = 2_000;

/// Reads the end of `path`: at most [`LOG_TAIL_LINES`] lines from its last [`TAIL_BYTES`],
/// each cut at [`MAX_LINE`] characters.
fn read_tail(path: &Path) -> std::io::Result<LogTail> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    let mut cut = false;
    if start > 0 && !lines.is_empty() {
        // The first line read is a piece of a longer one.
        lines.remove(0);
        cut = true;
    }
    if lines.len() > LOG_TAIL_LINES {
        lines.drain(..lines.len() - LOG_TAIL_LINES);
        cut = true;
    }
    let lines = lines
        .into_iter()
        .map(|l| {
            if l.chars().count() > MAX_LINE {
                let mut s: String = l.chars().take(MAX_LINE).collect();
                s.push('…');
                s
            } else {
                l.to_string()
            }
        })
        .collect();
    Ok(LogTail { lines, cut })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Core as _;

    /// A run's annotations, kept apart from the run, reach a console or `bosun show` in
    /// another terminal through the socket; the run itself carries their counts.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_runs_annotations_are_read_through_the_socket() {
        use crate::model::{Annotation, AnnotationKind, Severity, TaskId};
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(crate::project::STATE_DIR);
        let store = Arc::new(Store::open(&state).unwrap());
        let mut run = Run::queued(TaskId("t-1".into()), "Rotate the token", 1, "main");
        let list = vec![Annotation {
            kind: AnnotationKind::Secret,
            severity: Severity::Risk,
            path: "src/token.rs".into(),
            line: Some(2),
            end_line: None,
            old_side: false,
            symbol: None,
            message: "looks like an API key".into(),
        }];
        store.put_run_annotated(&mut run, &list).unwrap();
        let config = crate::config::Config::default();
        let (commands, _commands) = mpsc::channel(1);
        let service = Service {
            commands,
            events: crate::orchestrator::Bus::new(),
            local: Local::shared(store, dir.path().to_path_buf(), &config),
            target: "main".into(),
        };
        let served = start(&state, &config.server, service).await;
        let remote = crate::api::Remote {
            state_dir: state.clone(),
        };
        let id = run.id.clone();
        let (read, on, listed) = tokio::task::spawn_blocking(move || {
            let other = ["src/other.rs".to_string()];
            (
                remote.annotations(&id),
                remote.annotations_on(&id, &other),
                remote.runs_page(None, 10),
            )
        })
        .await
        .unwrap();
        assert_eq!(read.unwrap(), list);
        assert_eq!(
            on.unwrap(),
            list,
            "a risk on any file is in the first screen's read"
        );
        let listed = listed.unwrap();
        assert_eq!(listed[0].annotation_counts.severity(Severity::Risk), 1);
        let show = Request::Show {
            run: run.id.0.clone(),
        };
        let shown = crate::api::exchange(&state, &show).await.unwrap();
        assert_eq!(shown.annotations, Some(list));
        served.finish().await;
    }

    #[test]
    fn a_run_log_is_read_from_its_end_in_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(crate::project::STATE_DIR);
        let store = Arc::new(Store::open(&state).unwrap());
        let config = crate::config::Config::default();
        let local = Local::shared(store, dir.path().to_path_buf(), &config);
        let id = RunId("01JRUNWITHALOG".into());
        assert_eq!(local.run_log(&id), Ok(None), "no log file yet");
        let path = crate::project::run_log_path(&state, &id);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut text: String = (0..LOG_TAIL_LINES + 4)
            .map(|i| format!("line {i}\n"))
            .collect();
        text.push_str(&"é".repeat(MAX_LINE + 10));
        std::fs::write(&path, text).unwrap();
        let tail = local.run_log(&id).unwrap().unwrap();
        assert!(tail.cut);
        assert_eq!(tail.lines.len(), LOG_TAIL_LINES);
        assert_eq!(tail.lines[0], "line 5");
        assert_eq!(tail.lines[LOG_TAIL_LINES - 2], "line 10003");
        let long = tail.lines.last().unwrap();
        assert!(long.ends_with('…'));
        assert_eq!(long.chars().count(), MAX_LINE + 1);
    }
}
