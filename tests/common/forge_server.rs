//! A fake forge for tests: a stateful HTTP/1.1 server on 127.0.0.1 (an ephemeral port) that
//! speaks the part of GitHub's, GitLab's or Gitea's REST API bosun uses — pull (merge)
//! requests, labels, commit statuses, reviews, comments and notes, `/user` — with each
//! forge's JSON shapes, authentication header, error bodies, `ETag`s and pagination.
//!
//! The API root ([`ForgeServer::url`]) is `http://127.0.0.1:PORT` for GitHub (as
//! api.github.com has no path), `http://127.0.0.1:PORT/api/v4` for GitLab and
//! `http://127.0.0.1:PORT/api/v1` for Gitea. It serves one repository
//! ([`ForgeServer::repository`]: `acme/widgets`, on GitLab `acme/tools/widgets` so that the
//! encoded project path is exercised) and accepts one token ([`ForgeServer::token`]).
//!
//! Tests act as the humans on the forge ([`ForgeServer::merge`], [`ForgeServer::close`],
//! [`ForgeServer::request_changes`], …), inject failures ([`ForgeServer::fail_next`]), and
//! read what arrived ([`ForgeServer::requests`], [`ForgeServer::prs`],
//! [`ForgeServer::statuses`]). Pages hold 100 items unless [`ForgeServer::set_page_size`]
//! says fewer; GitHub and Gitea point at the next page with `Link`, GitLab with
//! `X-Next-Page` only (so both ways are exercised).
//!
//! It runs on its own thread and tokio runtime; dropping the [`ForgeServer`] stops it.
//!
//! ```ignore
//! let server = ForgeServer::start("github"); // or ForgeKind::Github
//! // Forge::new(ForgeKind::Github, &server.url(), &server.repository(), Some(token), http)…
//! server.merge(1, "alice");
//! assert_eq!(server.prs()[0]["state"], "merged");
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bosun::config::ForgeKind;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The token the fake forge accepts.
pub const TOKEN: &str = "fake-forge-token-0123456789";

/// Whom that token belongs to.
pub const LOGIN: &str = "bosun-bot";

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path with its query, as sent (`/api/v4/projects/acme%2Ftools%2Fwidgets/…`).
    pub path: String,
    /// Headers in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Null` when empty, `Value::String` of the text when not JSON).
    pub body: Value,
}

impl Recorded {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or(&self.path)
    }
}

/// A pull (merge) request as the fake forge keeps it ([`ForgeServer::prs`] gives it as JSON).
#[derive(Debug, Clone, PartialEq)]
struct FakePr {
    /// Its number (GitLab: iid), from 1.
    number: u64,
    head: String,
    base: String,
    /// Its title as sent.
    title: String,
    body: String,
    /// GitHub's flag, a `Draft:` title on GitLab, a `WIP:` title on Gitea.
    draft: bool,
    labels: Vec<String>,
    /// `open`, `closed` or `merged`.
    state: String,
    merged_by: Option<String>,
    merge_commit_sha: Option<String>,
    closed_by: Option<String>,
    /// A reviewer's changes request stands (GitLab's `detailed_merge_status`).
    changes_requested: bool,
    /// Bumped on every change; its `ETag` is made of it.
    version: u64,
}

impl FakePr {
    fn to_json(&self) -> Value {
        json!({
            "number": self.number,
            "head": self.head,
            "base": self.base,
            "title": self.title,
            "body": self.body,
            "draft": self.draft,
            "labels": self.labels,
            "state": self.state,
            "merged": self.state == "merged",
            "merged_by": self.merged_by,
            "merge_commit_sha": self.merge_commit_sha,
            "closed_by": self.closed_by,
            "changes_requested": self.changes_requested,
            "version": self.version,
        })
    }
}

/// A commit status as posted ([`ForgeServer::statuses`] gives it as JSON).
#[derive(Debug, Clone, PartialEq)]
struct FakeStatus {
    /// The forge's own state word (`failed` on GitLab, `failure` elsewhere).
    state: String,
    /// `context` (GitLab: `name`).
    context: String,
    description: String,
    target_url: Option<String>,
}

/// What names the forge a [`ForgeServer`] plays: a [`ForgeKind`], or `"github"`, `"gitlab"`
/// or `"gitea"`.
pub trait Kind {
    /// The kind named.
    fn kind(self) -> ForgeKind;
}

impl Kind for ForgeKind {
    fn kind(self) -> ForgeKind {
        self
    }
}

impl Kind for &str {
    fn kind(self) -> ForgeKind {
        match self {
            "github" => ForgeKind::Github,
            "gitlab" => ForgeKind::Gitlab,
            "gitea" => ForgeKind::Gitea,
            other => panic!("no such forge kind `{other}`: github, gitlab or gitea"),
        }
    }
}

/// What a human did on a pull request.
#[derive(Debug, Clone)]
enum Activity {
    /// A review with the forge's own state word.
    Review(String),
    /// A comment (GitLab: a note).
    Comment,
    /// A GitLab system note.
    System,
}

#[derive(Debug, Clone)]
struct Event {
    id: u64,
    pr: u64,
    author: String,
    body: String,
    activity: Activity,
    /// Seconds since the fake forge's day began.
    at: u64,
}

#[derive(Debug, Clone)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

struct World {
    kind: ForgeKind,
    repository: String,
    /// `http://127.0.0.1:PORT`, for links.
    origin: String,
    prs: Vec<FakePr>,
    events: Vec<Event>,
    statuses: Vec<(String, FakeStatus)>,
    /// Gitea's labels: (id, name).
    labels: Vec<(u64, String)>,
    clock: u64,
    next_id: u64,
    page_size: usize,
    /// Injected failures, each for the next request whose path contains its text (any
    /// request when `None`).
    failures: VecDeque<(Option<String>, Response)>,
    recorded: Vec<Recorded>,
}

/// The running fake forge; dropping it stops it.
pub struct ForgeServer {
    addr: SocketAddr,
    kind: ForgeKind,
    state: Arc<Mutex<World>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ForgeServer {
    /// A fake forge of `kind` (a [`ForgeKind`] or its name) with no pull requests yet,
    /// serving `acme/widgets` (GitLab: `acme/tools/widgets`).
    pub fn start(kind: impl Kind) -> Self {
        let kind = kind.kind();
        let repository = match kind {
            ForgeKind::Gitlab => "acme/tools/widgets",
            ForgeKind::Github | ForgeKind::Gitea => "acme/widgets",
        };
        Self::serving(kind, repository)
    }

    /// A fake forge of `kind` serving `repository` (`owner/name`; GitLab: a project path).
    pub fn serving(kind: impl Kind, repository: &str) -> Self {
        let kind = kind.kind();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let state = Arc::new(Mutex::new(World {
            kind,
            repository: repository.to_string(),
            origin: format!("http://{addr}"),
            prs: Vec::new(),
            events: Vec::new(),
            statuses: Vec::new(),
            labels: ["bosun", "feature", "bug", "priority: high", "priority: low"]
                .iter()
                .enumerate()
                .map(|(i, name)| (i as u64 + 1, name.to_string()))
                .collect(),
            clock: 0,
            next_id: 100,
            page_size: 100,
            failures: VecDeque::new(),
            recorded: Vec::new(),
        }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("forge-test-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("server runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("tokio listener");
                    let accept = async {
                        loop {
                            let Ok((socket, _)) = listener.accept().await else {
                                continue;
                            };
                            let _ = socket.set_nodelay(true);
                            tokio::spawn(serve(socket, Arc::clone(&served)));
                        }
                    };
                    tokio::select! {
                        _ = accept => {}
                        _ = stopped => {}
                    }
                });
                rt.shutdown_background();
            })
            .expect("server thread");
        Self {
            addr,
            kind,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The API root to put in `[forge] api_url`: `http://127.0.0.1:PORT` (GitHub),
    /// `…/api/v4` (GitLab), `…/api/v1` (Gitea).
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, prefix(self.kind))
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Which forge it plays.
    pub fn kind(&self) -> ForgeKind {
        self.kind
    }

    /// The repository it serves: `acme/widgets` (GitLab: `acme/tools/widgets`).
    pub fn repository(&self) -> String {
        self.state.lock().unwrap().repository.clone()
    }

    /// The token it accepts.
    pub fn token(&self) -> String {
        TOKEN.to_string()
    }

    /// Whom the token belongs to.
    pub fn login(&self) -> String {
        LOGIN.to_string()
    }

    /// Every request received so far, in order (refused and failed ones included).
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().recorded.clone()
    }

    /// The pull requests, by number, the same JSON for every kind: `number`, `head`, `base`,
    /// `title`, `body` (as sent), `draft` (GitHub's flag, a `Draft:`/`WIP:` title elsewhere),
    /// `labels` (names), `state` (`open`, `closed` or `merged`), `merged`, `merged_by`,
    /// `merge_commit_sha`, `closed_by`, `changes_requested`, `version`.
    pub fn prs(&self) -> Vec<Value> {
        let world = self.state.lock().unwrap();
        world.prs.iter().map(FakePr::to_json).collect()
    }

    /// The statuses posted on commit `sha`, in order: `state` (the forge's own word:
    /// `failed` on GitLab, `failure` elsewhere), `context` (GitLab: `name`), `description`,
    /// `target_url`.
    pub fn statuses(&self, sha: &str) -> Vec<Value> {
        let world = self.state.lock().unwrap();
        world
            .statuses
            .iter()
            .filter(|(s, _)| s == sha)
            .map(|(_, status)| {
                json!({
                    "state": status.state,
                    "context": status.context,
                    "description": status.description,
                    "target_url": status.target_url,
                })
            })
            .collect()
    }

    /// Lists are served `size` items a page (at most; the client may ask for fewer).
    pub fn set_page_size(&self, size: usize) {
        self.state.lock().unwrap().page_size = size.max(1);
    }

    /// The next `n` requests are answered with `status`, `headers` and `body` instead of
    /// being served (e.g. 401, 403 with rate-limit headers, 429 with `Retry-After`, 500).
    pub fn fail_next(&self, n: usize, status: u16, headers: &[(&str, &str)], body: &str) {
        let response = Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_string(),
        };
        let mut world = self.state.lock().unwrap();
        world
            .failures
            .extend(std::iter::repeat_n((None, response), n));
    }

    /// Like [`ForgeServer::fail_next`], for the next `n` requests whose path (query
    /// included) contains `path_part` only.
    pub fn fail_next_on(
        &self,
        path_part: &str,
        n: usize,
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) {
        let response = Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_string(),
        };
        let mut world = self.state.lock().unwrap();
        world.failures.extend(std::iter::repeat_n(
            (Some(path_part.to_string()), response),
            n,
        ));
    }

    /// `by` merges pull request `number`.
    pub fn merge(&self, number: u64, by: &str) {
        let mut world = self.state.lock().unwrap();
        let sha = format!("{:040x}", 0x00ba_5e00_u64 + number);
        let pr = world.pr_mut(number);
        pr.state = "merged".into();
        pr.merged_by = Some(by.to_string());
        pr.merge_commit_sha = Some(sha);
        pr.version += 1;
        world.add(number, by, "merged", Activity::System);
    }

    /// `by` closes pull request `number`, first commenting `comment` unless it is empty.
    pub fn close(&self, number: u64, by: &str, comment: &str) {
        let mut world = self.state.lock().unwrap();
        if !comment.is_empty() {
            world.add(number, by, comment, Activity::Comment);
        }
        let pr = world.pr_mut(number);
        pr.state = "closed".into();
        pr.closed_by = Some(by.to_string());
        pr.version += 1;
        world.add(number, by, "closed", Activity::System);
    }

    /// `by` requests changes on pull request `number`, saying `body` (GitLab: a note, and the
    /// merge request's `detailed_merge_status` becomes `requested_changes`).
    pub fn request_changes(&self, number: u64, by: &str, body: &str) {
        let mut world = self.state.lock().unwrap();
        match world.kind {
            ForgeKind::Github => world.add(number, by, body, review("CHANGES_REQUESTED")),
            ForgeKind::Gitea => world.add(number, by, body, review("REQUEST_CHANGES")),
            ForgeKind::Gitlab => {
                world.add(number, by, body, Activity::Comment);
                world.add(number, by, "requested changes", Activity::System);
            }
        }
        let pr = world.pr_mut(number);
        pr.changes_requested = true;
        pr.version += 1;
    }

    /// `by` approves pull request `number`, saying `body`.
    pub fn approve(&self, number: u64, by: &str, body: &str) {
        let mut world = self.state.lock().unwrap();
        match world.kind {
            ForgeKind::Github | ForgeKind::Gitea => {
                world.add(number, by, body, review("APPROVED"));
            }
            ForgeKind::Gitlab => {
                if !body.is_empty() {
                    world.add(number, by, body, Activity::Comment);
                }
                world.add(number, by, "approved this merge request", Activity::System);
            }
        }
        let pr = world.pr_mut(number);
        pr.changes_requested = false;
        pr.version += 1;
    }

    /// `by` comments `body` on pull request `number`.
    pub fn comment(&self, number: u64, by: &str, body: &str) {
        let mut world = self.state.lock().unwrap();
        world.add(number, by, body, Activity::Comment);
        world.pr_mut(number).version += 1;
    }
}

impl Drop for ForgeServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn review(state: &str) -> Activity {
    Activity::Review(state.to_string())
}

fn prefix(kind: ForgeKind) -> &'static str {
    match kind {
        ForgeKind::Github => "",
        ForgeKind::Gitlab => "/api/v4",
        ForgeKind::Gitea => "/api/v1",
    }
}

/// `HH:MM:SS` of `at` seconds into 2024-05-01, written with `offset_hours` (Gitea's reviews
/// use +02:00, so a client that sorts the text instead of the instant gets it wrong).
fn timestamp(at: u64, offset_hours: u64) -> String {
    let local = at + offset_hours * 3600;
    let (h, m, s) = (local / 3600, local / 60 % 60, local % 60);
    let zone = if offset_hours == 0 {
        "Z".to_string()
    } else {
        format!("+{offset_hours:02}:00")
    };
    format!("2024-05-01T{h:02}:{m:02}:{s:02}{zone}")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && hex.iter().all(u8::is_ascii_hexdigit)
            && let Ok(byte) = u8::from_str_radix(&String::from_utf8_lossy(hex), 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl World {
    fn pr_mut(&mut self, number: u64) -> &mut FakePr {
        self.prs
            .iter_mut()
            .find(|pr| pr.number == number)
            .unwrap_or_else(|| panic!("the fake forge has no pull request {number}"))
    }

    fn add(&mut self, pr: u64, author: &str, body: &str, activity: Activity) {
        self.clock += 1;
        self.next_id += 1;
        self.events.push(Event {
            id: self.next_id,
            pr,
            author: author.to_string(),
            body: body.to_string(),
            activity,
            at: self.clock,
        });
    }

    /// Answers one request: an injected failure, else what the forge would say.
    fn handle(&mut self, request: &Recorded) -> Response {
        let injected = self.failures.iter().position(|(part, _)| {
            part.as_ref()
                .is_none_or(|part| request.path.contains(part.as_str()))
        });
        if let Some((_, failure)) = injected.and_then(|i| self.failures.remove(i)) {
            return failure;
        }
        let (route, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
        let Some(route) = route.strip_prefix(prefix(self.kind)) else {
            return self.not_found();
        };
        if !self.authorized(request) {
            return self.unauthorized();
        }
        let query: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        let segments: Vec<String> = route
            .trim_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = request.method.as_str();
        if segments == ["user"] && method == "GET" {
            return self.user();
        }
        // The repository part of the route, then the rest.
        let rest = match self.kind {
            ForgeKind::Gitlab => match segments.as_slice() {
                ["projects", id, rest @ ..] if *id == self.repository => rest,
                _ => return self.not_found(),
            },
            ForgeKind::Github | ForgeKind::Gitea => match segments.as_slice() {
                ["repos", owner, name, rest @ ..]
                    if format!("{owner}/{name}") == self.repository =>
                {
                    rest
                }
                _ => return self.not_found(),
            },
        };
        let number = |s: &str| s.parse::<u64>().ok();
        let list = |items: Vec<Value>, world: &World| world.page(items, request, &query);
        match (self.kind, method, rest) {
            (ForgeKind::Github | ForgeKind::Gitea, "POST", ["pulls"])
            | (ForgeKind::Gitlab, "POST", ["merge_requests"]) => self.create(&request.body),
            // The list of pull requests (every state; the client filters).
            (ForgeKind::Github | ForgeKind::Gitea, "GET", ["pulls"])
            | (ForgeKind::Gitlab, "GET", ["merge_requests"]) => {
                let all = self.prs.iter().map(|pr| self.pr_json(pr)).collect();
                list(all, self)
            }
            (ForgeKind::Github | ForgeKind::Gitea, "GET", ["pulls", n])
            | (ForgeKind::Gitlab, "GET", ["merge_requests", n]) => match number(n) {
                Some(n) => self.get_pr(n, request.header("if-none-match")),
                None => self.not_found(),
            },
            (ForgeKind::Github | ForgeKind::Gitea, "GET", ["pulls", n, "reviews"]) => {
                match number(n).filter(|n| self.has(*n)) {
                    Some(n) => list(self.reviews(n), self),
                    None => self.not_found(),
                }
            }
            (ForgeKind::Github | ForgeKind::Gitea, "GET", ["issues", n, "comments"]) => {
                match number(n).filter(|n| self.has(*n)) {
                    Some(n) => list(self.comments(n), self),
                    None => self.not_found(),
                }
            }
            (ForgeKind::Gitlab, "GET", ["merge_requests", n, "notes"]) => {
                match number(n).filter(|n| self.has(*n)) {
                    Some(n) => list(self.comments(n), self),
                    None => self.not_found(),
                }
            }
            (ForgeKind::Github, "GET", ["issues", n]) => {
                match number(n).and_then(|n| self.prs.iter().find(|pr| pr.number == n)) {
                    Some(pr) => Response::json(
                        200,
                        json!({
                            "number": pr.number,
                            "state": if pr.state == "open" { "open" } else { "closed" },
                            "closed_by": pr.closed_by.as_ref().or(pr.merged_by.as_ref())
                                .map(|login| json!({ "login": login })),
                            "pull_request": { "url": "" },
                        }),
                    ),
                    None => self.not_found(),
                }
            }
            (ForgeKind::Github | ForgeKind::Gitea, "POST", ["issues", n, "labels"]) => {
                match number(n).filter(|n| self.has(*n)) {
                    Some(n) => self.add_labels(n, &request.body),
                    None => self.not_found(),
                }
            }
            (ForgeKind::Gitea, "GET", ["labels"]) => {
                let labels = self
                    .labels
                    .iter()
                    .map(|(id, name)| json!({ "id": id, "name": name, "color": "00aabb" }))
                    .collect();
                list(labels, self)
            }
            (_, "POST", ["statuses", sha]) => self.post_status(sha, &request.body),
            _ => self.not_found(),
        }
    }

    fn has(&self, number: u64) -> bool {
        self.prs.iter().any(|pr| pr.number == number)
    }

    fn authorized(&self, request: &Recorded) -> bool {
        match self.kind {
            ForgeKind::Github => {
                request.header("authorization") == Some(&format!("Bearer {TOKEN}"))
            }
            ForgeKind::Gitlab => request.header("private-token") == Some(TOKEN),
            ForgeKind::Gitea => request.header("authorization") == Some(&format!("token {TOKEN}")),
        }
    }

    fn unauthorized(&self) -> Response {
        Response::json(
            401,
            match self.kind {
                ForgeKind::Github => json!({
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401",
                }),
                ForgeKind::Gitlab => json!({ "message": "401 Unauthorized" }),
                ForgeKind::Gitea => json!({
                    "message": "user does not exist [uid: 0, name: ]",
                    "url": format!("{}/api/swagger", self.origin),
                }),
            },
        )
    }

    fn not_found(&self) -> Response {
        Response::json(
            404,
            match self.kind {
                ForgeKind::Github => json!({
                    "message": "Not Found",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "404",
                }),
                ForgeKind::Gitlab => json!({ "message": "404 Not found" }),
                ForgeKind::Gitea => json!({
                    "message": "The target couldn't be found.",
                    "url": format!("{}/api/swagger", self.origin),
                    "errors": [],
                }),
            },
        )
    }

    fn user(&self) -> Response {
        match self.kind {
            ForgeKind::Github => Response::json(200, json!({ "login": LOGIN, "id": 7 }))
                .with_header("x-oauth-scopes", "repo, workflow"),
            ForgeKind::Gitlab => Response::json(
                200,
                json!({ "id": 7, "username": LOGIN, "name": "Bosun Bot" }),
            ),
            ForgeKind::Gitea => Response::json(
                200,
                json!({ "id": 7, "login": LOGIN, "full_name": "Bosun Bot" }),
            ),
        }
    }

    fn create(&mut self, body: &Value) -> Response {
        let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or("");
        let (head, base, description) = match self.kind {
            ForgeKind::Gitlab => (
                text("source_branch"),
                text("target_branch"),
                text("description"),
            ),
            ForgeKind::Github | ForgeKind::Gitea => (text("head"), text("base"), text("body")),
        };
        let title = text("title");
        if head.is_empty() || base.is_empty() || title.is_empty() {
            return Response::json(
                422,
                json!({ "message": "Validation Failed: head, base and title are required" }),
            );
        }
        if let Some(open) = self
            .prs
            .iter()
            .find(|pr| pr.head == head && pr.state == "open")
        {
            let owner = self.repository.split('/').next().unwrap_or("");
            return match self.kind {
                ForgeKind::Github => Response::json(
                    422,
                    json!({
                        "message": "Validation Failed",
                        "errors": [{
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": format!("A pull request already exists for {owner}:{head}."),
                        }],
                        "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
                        "status": "422",
                    }),
                ),
                ForgeKind::Gitlab => Response::json(
                    409,
                    json!({ "message": [format!(
                        "Another open merge request already exists for this source branch: !{}",
                        open.number
                    )] }),
                ),
                ForgeKind::Gitea => Response::json(
                    409,
                    json!({
                        "message": format!(
                            "pull request already exists for these targets [id: {}, issue_id: {}, head_repo_id: 1, base_repo_id: 1, head_branch: {head}, base_branch: {}]",
                            open.number, open.number, open.base
                        ),
                        "url": format!("{}/api/swagger", self.origin),
                    }),
                ),
            };
        }
        let lower = title.to_ascii_lowercase();
        let draft = match self.kind {
            ForgeKind::Github => body.get("draft").and_then(Value::as_bool).unwrap_or(false),
            ForgeKind::Gitlab => ["draft:", "[draft]", "(draft)"]
                .iter()
                .any(|p| lower.starts_with(p)),
            ForgeKind::Gitea => lower.starts_with("wip:") || lower.starts_with("[wip]"),
        };
        let labels = match self.kind {
            ForgeKind::Gitlab => text("labels")
                .split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            ForgeKind::Github | ForgeKind::Gitea => Vec::new(),
        };
        let pr = FakePr {
            number: self.prs.len() as u64 + 1,
            head: head.to_string(),
            base: base.to_string(),
            title: title.to_string(),
            body: description.to_string(),
            draft,
            labels,
            state: "open".into(),
            merged_by: None,
            merge_commit_sha: None,
            closed_by: None,
            changes_requested: false,
            version: 1,
        };
        let json = self.pr_json(&pr);
        self.prs.push(pr);
        Response::json(201, json)
    }

    fn etag(&self, pr: &FakePr) -> String {
        match self.kind {
            ForgeKind::Github => format!("W/\"pr-{}-v{}\"", pr.number, pr.version),
            ForgeKind::Gitlab | ForgeKind::Gitea => {
                format!("\"pr-{}-v{}\"", pr.number, pr.version)
            }
        }
    }

    fn get_pr(&self, number: u64, if_none_match: Option<&str>) -> Response {
        let Some(pr) = self.prs.iter().find(|pr| pr.number == number) else {
            return self.not_found();
        };
        let etag = self.etag(pr);
        if if_none_match == Some(etag.as_str()) {
            return Response {
                status: 304,
                headers: vec![("etag".into(), etag)],
                body: String::new(),
            };
        }
        Response::json(200, self.pr_json(pr)).with_header("etag", etag)
    }

    fn pr_json(&self, pr: &FakePr) -> Value {
        let web = format!("https://forge.example/{}", self.repository);
        let user = |login: &Option<String>| login.as_ref().map(|l| json!({ "login": l }));
        match self.kind {
            ForgeKind::Github => json!({
                "id": 1000 + pr.number,
                "number": pr.number,
                "html_url": format!("{web}/pull/{}", pr.number),
                "state": if pr.state == "open" { "open" } else { "closed" },
                "title": pr.title,
                "body": pr.body,
                "draft": pr.draft,
                "head": { "ref": pr.head, "sha": format!("{:040x}", 0xeadu64 + pr.number) },
                "base": { "ref": pr.base },
                "labels": pr.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
                "user": { "login": LOGIN },
                "merged": pr.state == "merged",
                "merged_at": (pr.state == "merged").then(|| timestamp(self.clock, 0)),
                "merged_by": user(&pr.merged_by),
                // GitHub names a test merge commit while the pull request is open.
                "merge_commit_sha": pr.merge_commit_sha.clone()
                    .unwrap_or_else(|| format!("{:040x}", 0x7e57u64 + pr.number)),
            }),
            ForgeKind::Gitlab => {
                let username = |login: &Option<String>| {
                    login.as_ref().map(|l| json!({ "username": l, "name": l }))
                };
                json!({
                    "id": 1000 + pr.number,
                    "iid": pr.number,
                    "project_id": 42,
                    "web_url": format!("{web}/-/merge_requests/{}", pr.number),
                    "state": match pr.state.as_str() {
                        "open" => "opened",
                        other => other,
                    },
                    "title": pr.title,
                    "description": pr.body,
                    "draft": pr.draft,
                    "work_in_progress": pr.draft,
                    "source_branch": pr.head,
                    "target_branch": pr.base,
                    "labels": pr.labels,
                    "author": { "username": LOGIN },
                    "sha": format!("{:040x}", 0xeadu64 + pr.number),
                    "merged_by": username(&pr.merged_by),
                    "merge_user": username(&pr.merged_by),
                    "merge_commit_sha": pr.merge_commit_sha,
                    "squash_commit_sha": null,
                    "closed_by": username(&pr.closed_by),
                    "detailed_merge_status": match (pr.state.as_str(), pr.changes_requested) {
                        ("open", true) => "requested_changes",
                        ("open", false) => "mergeable",
                        _ => "not_open",
                    },
                })
            }
            ForgeKind::Gitea => json!({
                "id": 1000 + pr.number,
                "number": pr.number,
                "html_url": format!("{web}/pulls/{}", pr.number),
                "state": if pr.state == "open" { "open" } else { "closed" },
                "title": pr.title,
                "body": pr.body,
                "head": { "ref": pr.head, "label": pr.head },
                "base": { "ref": pr.base, "label": pr.base },
                "labels": pr.labels.iter().map(|name| {
                    let id = self.labels.iter().find(|(_, n)| n == name).map(|(id, _)| *id);
                    json!({ "id": id, "name": name })
                }).collect::<Vec<_>>(),
                "user": { "login": LOGIN },
                "merged": pr.state == "merged",
                "merged_at": (pr.state == "merged").then(|| timestamp(self.clock, 0)),
                "merged_by": user(&pr.merged_by),
                "merge_commit_sha": pr.merge_commit_sha,
            }),
        }
    }

    fn reviews(&self, number: u64) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| e.pr == number)
            .filter_map(|e| match &e.activity {
                Activity::Review(state) => Some(match self.kind {
                    ForgeKind::Gitea => json!({
                        "id": e.id,
                        "user": { "login": e.author },
                        "state": state,
                        "body": e.body,
                        "submitted_at": timestamp(e.at, 2),
                        "dismissed": false,
                        "stale": false,
                        "official": true,
                    }),
                    ForgeKind::Github | ForgeKind::Gitlab => json!({
                        "id": e.id,
                        "user": { "login": e.author },
                        "state": state,
                        "body": e.body,
                        "submitted_at": timestamp(e.at, 0),
                        "commit_id": "0".repeat(40),
                    }),
                }),
                Activity::Comment | Activity::System => None,
            })
            .collect()
    }

    /// Issue comments (GitHub, Gitea) or notes, system notes included (GitLab).
    fn comments(&self, number: u64) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| e.pr == number)
            .filter_map(|e| match (&e.activity, self.kind) {
                (Activity::Comment, ForgeKind::Github | ForgeKind::Gitea) => Some(json!({
                    "id": e.id,
                    "user": { "login": e.author },
                    "body": e.body,
                    "created_at": timestamp(e.at, 0),
                })),
                (Activity::Comment | Activity::System, ForgeKind::Gitlab) => Some(json!({
                    "id": e.id,
                    "author": { "username": e.author },
                    "body": e.body,
                    "created_at": timestamp(e.at, 0),
                    "system": matches!(e.activity, Activity::System),
                    "noteable_type": "MergeRequest",
                })),
                (Activity::Review(_), _)
                | (Activity::System, ForgeKind::Github | ForgeKind::Gitea) => None,
            })
            .collect()
    }

    fn add_labels(&mut self, number: u64, body: &Value) -> Response {
        let Some(items) = body.get("labels").and_then(Value::as_array) else {
            return Response::json(422, json!({ "message": "labels must be a list" }));
        };
        let mut names = Vec::new();
        for item in items {
            let name = match (self.kind, item) {
                (ForgeKind::Gitea, Value::Number(id)) => self
                    .labels
                    .iter()
                    .find(|(i, _)| Some(*i) == id.as_u64())
                    .map(|(_, n)| n.clone()),
                (ForgeKind::Github, Value::String(name)) => Some(name.clone()),
                _ => None,
            };
            match name {
                Some(name) => names.push(name),
                None => {
                    return Response::json(
                        422,
                        json!({ "message": format!("unknown label {item}") }),
                    );
                }
            }
        }
        let pr = self.pr_mut(number);
        for name in names {
            if !pr.labels.contains(&name) {
                pr.labels.push(name);
            }
        }
        pr.version += 1;
        let all: Vec<Value> = pr.labels.iter().map(|l| json!({ "name": l })).collect();
        Response::json(200, Value::Array(all))
    }

    fn post_status(&mut self, sha: &str, body: &Value) -> Response {
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
        let state = text("state").unwrap_or_default();
        let allowed: &[&str] = match self.kind {
            ForgeKind::Github => &["pending", "success", "failure", "error"],
            ForgeKind::Gitlab => &["pending", "running", "success", "failed", "canceled"],
            ForgeKind::Gitea => &["pending", "success", "failure", "error", "warning"],
        };
        if !allowed.contains(&state.as_str()) {
            return Response::json(
                if self.kind == ForgeKind::Gitlab {
                    400
                } else {
                    422
                },
                json!({ "message": format!("state `{state}` is not valid") }),
            );
        }
        let context = match self.kind {
            ForgeKind::Gitlab => text("name"),
            ForgeKind::Github | ForgeKind::Gitea => text("context"),
        }
        .unwrap_or_else(|| "default".into());
        let description = text("description").unwrap_or_default();
        if self.kind == ForgeKind::Github && description.chars().count() > 140 {
            return Response::json(
                422,
                json!({ "message": "Validation Failed", "errors": [{ "message": "description is too long (maximum is 140 characters)" }] }),
            );
        }
        // GitLab refuses to "move" a status to the state it already has.
        let current = self
            .statuses
            .iter()
            .rev()
            .find(|(s, st)| s == sha && st.context == context);
        if self.kind == ForgeKind::Gitlab
            && let Some((_, current)) = current
            && current.state == state
        {
            return Response::json(
                400,
                json!({ "message": format!(
                    "Cannot transition status via :enqueue from :{state} (Reasons(s): Status cannot transition via \"enqueue\")"
                ) }),
            );
        }
        let status = FakeStatus {
            state: state.clone(),
            context: context.clone(),
            description: description.clone(),
            target_url: text("target_url"),
        };
        self.statuses.push((sha.to_string(), status));
        self.next_id += 1;
        let mut answer = json!({
            "id": self.next_id,
            "context": context,
            "description": description,
            "target_url": text("target_url"),
            "sha": sha,
        });
        match self.kind {
            ForgeKind::Gitlab => {
                answer["status"] = json!(state);
                answer["name"] = json!(context);
            }
            ForgeKind::Github | ForgeKind::Gitea => answer["state"] = json!(state),
        }
        Response::json(201, answer)
    }

    /// One page of `items`: `per_page` (GitLab, GitHub) or `limit` (Gitea) items, never
    /// more than the server's page size, with the way to the next page.
    fn page(&self, items: Vec<Value>, request: &Recorded, query: &[(String, String)]) -> Response {
        let param = |key: &str| {
            query
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let size_key = if self.kind == ForgeKind::Gitea {
            "limit"
        } else {
            "per_page"
        };
        let size = param(size_key)
            .unwrap_or(30)
            .clamp(1, self.page_size.max(1));
        let page = param("page").unwrap_or(1).max(1);
        let total = items.len();
        let chunk: Vec<Value> = items
            .into_iter()
            .skip((page - 1) * size)
            .take(size)
            .collect();
        let mut response = Response::json(200, Value::Array(chunk));
        let pages = total.div_ceil(size).max(1);
        if page < pages {
            let next = page + 1;
            match self.kind {
                ForgeKind::Gitlab => {
                    response = response.with_header("x-next-page", next.to_string());
                }
                ForgeKind::Github | ForgeKind::Gitea => {
                    let route = request.route();
                    let mut params: Vec<String> = query
                        .iter()
                        .filter(|(k, _)| k != "page")
                        .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20")))
                        .collect();
                    params.push(format!("page={next}"));
                    let url = format!("{}{route}?{}", self.origin, params.join("&"));
                    response = response.with_header(
                        "link",
                        format!("<{url}>; rel=\"next\", <{url}>; rel=\"last\""),
                    );
                }
            }
        } else if self.kind == ForgeKind::Gitlab {
            response = response.with_header("x-next-page", "");
        }
        response
            .with_header("x-page", page.to_string())
            .with_header("x-total", total.to_string())
    }
}

/// Serves requests on one connection until the client closes it.
async fn serve(mut socket: TcpStream, state: Arc<Mutex<World>>) {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut socket, &mut buffer).await else {
            return;
        };
        let response = {
            let mut world = state.lock().unwrap();
            let response = world.handle(&request);
            world.recorded.push(request);
            response
        };
        if !write_response(&mut socket, &response).await {
            return;
        }
    }
}

/// Reads one request; `None` when the connection closed or the request is unreadable.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Recorded> {
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buffer.len() > 1 << 20 || read_more(socket, buffer).await == 0 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        if read_more(socket, buffer).await == 0 {
            return None;
        }
    }
    let raw = buffer[body_start..body_start + length].to_vec();
    buffer.drain(..body_start + length);
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()))
    };
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

async fn read_more(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> usize {
    let mut chunk = [0u8; 16 * 1024];
    match socket.read(&mut chunk).await {
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            n
        }
        Err(_) => 0,
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Writes `response`; whether the connection can serve another request.
async fn write_response(socket: &mut TcpStream, response: &Response) -> bool {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-length: {}\r\n",
        response.status,
        reason(response.status),
        response.body.len()
    );
    if !response.body.is_empty() {
        head.push_str("content-type: application/json\r\n");
    }
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await.is_ok()
        && socket.write_all(response.body.as_bytes()).await.is_ok()
        && socket.flush().await.is_ok()
}
