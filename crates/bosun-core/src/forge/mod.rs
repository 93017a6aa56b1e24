//! Forges — GitHub, GitLab, Gitea — as far as delivering a run as a pull request needs them:
//! open the pull (merge) request, post a status per gate on its commit, look at it again
//! (conditional requests) until it is merged or closed, read the reviews and comments that
//! explain a decision, and say who the token belongs to (`bosun doctor`).
//!
//! One HTTP client and one request loop for every forge (authentication header, rate limits
//! and `Retry-After`, retries of an unreachable forge, pagination, `ETag`s: `http.rs`); each
//! forge is one file (`github.rs`, `gitlab.rs`, `gitea.rs`) that says which endpoint each
//! operation is and how its JSON reads (the `Dialect` trait). `remote.rs` reads the
//! repository and the API's address from `[forge]` and the git remote's URL.
//!
//! The token is held in a [`Token`], which never prints: errors name the URL and the status,
//! never a header, and a forge's error message that echoes the token has it cut out.

mod gitea;
mod github;
mod gitlab;
mod http;
mod remote;

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{ForgeConfig, ForgeKind};
use gitea::Gitea;
use github::Github;
use gitlab::Gitlab;
use http::{Api, Limits};

/// Longest status description the forges take (GitHub refuses more than 140 characters).
const MAX_DESCRIPTION: usize = 140;

/// An API token. It never prints: `Debug` and `Display` show `<token>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token from its text (surrounding whitespace, such as a file's last newline, dropped).
    pub fn new(token: String) -> Self {
        let trimmed = token.trim();
        if trimmed.len() == token.len() {
            Self(token)
        } else {
            Self(trimmed.to_string())
        }
    }

    /// The token in environment variable `name`; `None` when it is unset, empty or not UTF-8.
    pub fn from_env(name: &str) -> Option<Token> {
        let value = std::env::var(name).ok()?;
        let token = Token::new(value);
        (!token.0.is_empty()).then_some(token)
    }

    /// The secret itself: for an authentication header or a git credential only, never for
    /// a message or a log.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<token>")
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<token>")
    }
}

/// What went wrong talking to a forge. Every message names the URL involved; none carries
/// the token.
#[derive(thiserror::Error, Debug)]
pub enum ForgeError {
    /// HTTP 401: the token is missing, wrong or expired (the caller names its variable).
    #[error("the forge refused the token (HTTP 401 from {url})")]
    Unauthorized {
        /// The URL that answered 401.
        url: String,
    },
    /// HTTP 403 that is not a rate limit: the token lacks a scope or a permission.
    #[error("the forge forbids {url} to this token (HTTP 403): {message}")]
    Forbidden {
        /// The URL that answered 403.
        url: String,
        /// The forge's own words.
        message: String,
    },
    /// HTTP 404: no such repository, pull request or endpoint — or one the token cannot see.
    #[error(
        "{url} does not exist or the token cannot see it (HTTP 404): check [forge] repository and api_url"
    )]
    NotFound {
        /// The URL that answered 404.
        url: String,
    },
    /// Rate-limited for longer than bosun waits in one go.
    #[error(
        "the forge rate-limits {url} for {wait_secs} s, longer than bosun waits: try again later"
    )]
    RateLimited {
        /// The URL that was refused.
        url: String,
        /// How long the forge asks to wait.
        wait_secs: u64,
    },
    /// No answer (connection refused, timeout) or a server error, after every retry.
    #[error("cannot reach the forge at {url}: {why}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// The last failure.
        why: String,
    },
    /// The forge refused the request (422 and other 4xx): its message says why, e.g. "A pull
    /// request already exists".
    #[error("the forge rejected {url} (HTTP {status}): {message}")]
    Rejected {
        /// The URL that refused.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The forge's own words.
        message: String,
    },
    /// An answer bosun cannot read.
    #[error("the forge's answer from {url} cannot be read: {why}")]
    Malformed {
        /// The URL that answered.
        url: String,
        /// What is wrong with the answer.
        why: String,
    },
    /// A repository or URL in the configuration that cannot be used.
    #[error("{0}")]
    Config(String),
}

impl ForgeError {
    /// The error with `secret` replaced by `<token>` everywhere (a forge may echo the token).
    fn redacted(self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        let clean = |s: String| {
            if s.contains(secret) {
                s.replace(secret, "<token>")
            } else {
                s
            }
        };
        match self {
            Self::Unauthorized { url } => Self::Unauthorized { url: clean(url) },
            Self::Forbidden { url, message } => Self::Forbidden {
                url: clean(url),
                message: clean(message),
            },
            Self::NotFound { url } => Self::NotFound { url: clean(url) },
            Self::RateLimited { url, wait_secs } => Self::RateLimited {
                url: clean(url),
                wait_secs,
            },
            Self::Unreachable { url, why } => Self::Unreachable {
                url: clean(url),
                why: clean(why),
            },
            Self::Rejected {
                url,
                status,
                message,
            } => Self::Rejected {
                url: clean(url),
                status,
                message: clean(message),
            },
            Self::Malformed { url, why } => Self::Malformed {
                url: clean(url),
                why: clean(why),
            },
            Self::Config(message) => Self::Config(clean(message)),
        }
    }
}

/// A pull (merge) request to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPr {
    /// The branch on the remote with the change.
    pub head: String,
    /// The branch it goes into.
    pub base: String,
    /// Its title.
    pub title: String,
    /// Its description (Markdown).
    pub body: String,
    /// Open it as a draft (GitHub's draft flag; a `Draft: `/`WIP: ` title elsewhere).
    pub draft: bool,
    /// Labels to put on it.
    pub labels: Vec<String>,
}

/// An opened pull (merge) request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PrRef {
    /// Its number (GitLab: the merge request's `iid`).
    pub number: u64,
    /// Its web page, for humans.
    pub url: String,
}

/// What a look at a pull request found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Looked {
    /// The forge says nothing changed since the `ETag` given.
    Unchanged,
    /// Its state now, and the `ETag` to give next time (when the forge sends one).
    Changed {
        /// Its state.
        state: PrState,
        /// The `ETag` of this answer.
        etag: Option<String>,
    },
}

/// Where a pull request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrState {
    /// Open; `changes_requested` when a reviewer's latest verdict asks for changes.
    Open {
        /// A reviewer asks for changes.
        changes_requested: bool,
    },
    /// Merged, by whom and as which commit (when the forge says).
    Merged {
        /// Who merged it.
        by: Option<String>,
        /// The commit on the base branch.
        commit: Option<String>,
    },
    /// Closed without merging, by whom (when the forge says).
    Closed {
        /// Who closed it.
        by: Option<String>,
    },
}

/// A commit status: one per gate, under its own context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckStatus {
    /// Its name, e.g. `bosun/tests`.
    pub context: String,
    /// Its state.
    pub state: StatusState,
    /// One line; cut to 140 characters.
    pub description: String,
    /// A page with the details.
    pub target_url: Option<String>,
}

/// The state of a [`CheckStatus`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusState {
    /// Still running.
    Pending,
    /// Passed.
    Success,
    /// Failed.
    Failure,
    /// Could not run.
    Error,
}

/// A comment or a review on a pull request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// Its author's login.
    pub author: String,
    /// Its text (Markdown; empty for a review without one).
    pub body: String,
    /// The verdict, for a review submission.
    pub review: Option<ReviewVerdict>,
}

/// A review's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewVerdict {
    /// Approved.
    Approved,
    /// Changes requested.
    ChangesRequested,
    /// A comment only.
    Commented,
}

/// Whom the token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Their login (GitLab: username).
    pub login: String,
    /// The token's scopes, when the forge says (GitHub classic tokens: `X-OAuth-Scopes`).
    pub scopes: Option<Vec<String>>,
}

/// One forge's API: which endpoint each operation is and how its JSON reads. The request
/// loop ([`Api`]) is shared.
pub(crate) trait Dialect {
    /// Opens `pr`, then labels it (a label that fails is a warning, not an error).
    async fn open_pr(&self, api: &Api, pr: &NewPr) -> Result<PrRef, ForgeError>;
    /// Posts `status` on commit `sha` (its description already cut to size).
    async fn post_status(
        &self,
        api: &Api,
        sha: &str,
        status: &CheckStatus,
    ) -> Result<(), ForgeError>;
    /// The pull request's state, unless it still has `etag`.
    async fn look(&self, api: &Api, pr: &PrRef, etag: Option<&str>) -> Result<Looked, ForgeError>;
    /// Reviews and comments, oldest first.
    async fn feedback(&self, api: &Api, pr: &PrRef) -> Result<Vec<Comment>, ForgeError>;
    /// The token's owner.
    async fn whoami(&self, api: &Api) -> Result<Identity, ForgeError>;
    /// The open pull request from branch `head`, if there is one.
    async fn find_open(&self, api: &Api, head: &str) -> Result<Option<PrRef>, ForgeError>;
}

/// Runs `$call` on the dialect of `$forge`'s kind, with the token cut out of any error.
macro_rules! on_dialect {
    ($forge:expr, $dialect:ident => $call:expr) => {{
        let result = match $forge.api.kind() {
            ForgeKind::Github => {
                let $dialect = Github;
                $call.await
            }
            ForgeKind::Gitlab => {
                let $dialect = Gitlab;
                $call.await
            }
            ForgeKind::Gitea => {
                let $dialect = Gitea;
                $call.await
            }
        };
        $forge.api.redact(result)
    }};
}

/// A repository on a forge, reached with one token through a shared HTTP client.
#[derive(Clone, Debug)]
pub struct Forge {
    api: Api,
}

impl Forge {
    /// The forge of `kind` whose API is at `api_url`, for `repository` (`owner/name`; GitLab:
    /// the full project path), sending `token` through `http` (see
    /// [`crate::llm::client::http_client`]).
    pub fn new(
        kind: ForgeKind,
        api_url: &str,
        repository: &str,
        token: Option<Token>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            api: Api::new(kind, api_url, repository, token, http, Limits::default()),
        }
    }

    /// The forge `[forge]` describes: its repository from `config.repository` or else from
    /// `remote_url` (`https://host/owner/name.git`, `git@host:owner/name.git`,
    /// `ssh://git@host:port/owner/name.git`, GitLab subgroups included), its API from
    /// `config.api_url` or else the kind's default for the remote's host.
    pub fn from_config(
        config: &ForgeConfig,
        remote_url: &str,
        token: Option<Token>,
        http: reqwest::Client,
    ) -> Result<Self, ForgeError> {
        let found = remote::locate(config, remote_url)?;
        Ok(Self::new(
            config.kind,
            &found.api_url,
            &found.repository,
            token,
            http,
        ))
    }

    /// The same forge waiting at most `max_wait` at a time for a rate limit (60 s unless
    /// set) and trying an unreachable forge `tries` times (3 unless set); the pauses between
    /// tries scale with `max_wait` (0.5 s then 1 s at 60 s).
    pub fn with_limits(mut self, max_wait: Duration, tries: u32) -> Self {
        self.api.set_limits(Limits::new(max_wait, tries));
        self
    }

    /// The repository: `owner/name` (GitLab: the project path).
    pub fn repository(&self) -> &str {
        self.api.repository()
    }

    /// Which forge it is.
    pub fn kind(&self) -> ForgeKind {
        self.api.kind()
    }

    /// The API's base URL.
    pub fn api_url(&self) -> &str {
        self.api.base()
    }

    /// Opens a pull (merge) request, then puts its labels on it (labels that cannot be put
    /// are logged as warnings: the pull request is open either way).
    pub async fn open_pr(&self, pr: &NewPr) -> Result<PrRef, ForgeError> {
        on_dialect!(self, d => d.open_pr(&self.api, pr))
    }

    /// The open pull request from branch `head` (a delivery that opened it and was cut short
    /// before recording it adopts it instead of opening a second).
    pub async fn find_open(&self, head: &str) -> Result<Option<PrRef>, ForgeError> {
        on_dialect!(self, d => d.find_open(&self.api, head))
    }

    /// Posts a commit status on `sha` (the description cut to 140 characters).
    pub async fn post_status(&self, sha: &str, status: &CheckStatus) -> Result<(), ForgeError> {
        let status = CheckStatus {
            description: truncate_chars(&status.description, MAX_DESCRIPTION),
            ..status.clone()
        };
        on_dialect!(self, d => d.post_status(&self.api, sha, &status))
    }

    /// Looks at `pr` again: [`Looked::Unchanged`] when the forge says it still has `etag`
    /// (a conditional request, which costs no rate limit on GitHub).
    pub async fn look(&self, pr: &PrRef, etag: Option<&str>) -> Result<Looked, ForgeError> {
        on_dialect!(self, d => d.look(&self.api, pr, etag))
    }

    /// The reviews and comments on `pr`, oldest first, every page.
    pub async fn feedback(&self, pr: &PrRef) -> Result<Vec<Comment>, ForgeError> {
        on_dialect!(self, d => d.feedback(&self.api, pr))
    }

    /// Whom the token belongs to (`bosun doctor`).
    pub async fn whoami(&self) -> Result<Identity, ForgeError> {
        on_dialect!(self, d => d.whoami(&self.api))
    }
}

/// `text` cut to at most `max` characters (never inside a character).
fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_string(),
        None => text.to_string(),
    }
}

/// A `title` marked as a draft with `prefix`, unless it already is.
fn draft_title(title: &str, prefix: &str) -> String {
    if title
        .to_ascii_lowercase()
        .starts_with(&prefix.to_ascii_lowercase())
    {
        title.to_string()
    } else {
        format!("{prefix}{title}")
    }
}

/// Whether some reviewer's latest decisive verdict asks for changes. `reviews` come oldest
/// first as (reviewer, effect): `Some(true)` requests changes, `Some(false)` clears them
/// (approval, dismissal), `None` decides nothing (a comment).
fn changes_requested<'a>(reviews: impl IntoIterator<Item = (&'a str, Option<bool>)>) -> bool {
    let mut latest: HashMap<&str, bool> = HashMap::new();
    for (reviewer, effect) in reviews {
        if let Some(requests) = effect {
            latest.insert(reviewer, requests);
        }
    }
    latest.values().any(|requests| *requests)
}

/// A pull request's reviews (when, who, verdict, text) and comments (when, who, text) as one
/// thread, oldest first; a bare "comment" review with no text says nothing and is left out.
pub(crate) fn thread<'a>(
    reviews: impl IntoIterator<Item = (Option<&'a str>, String, ReviewVerdict, String)>,
    comments: impl IntoIterator<Item = (Option<&'a str>, String, String)>,
) -> Vec<Comment> {
    let reviews = reviews
        .into_iter()
        .filter(|(_, _, verdict, body)| {
            !(body.trim().is_empty() && *verdict == ReviewVerdict::Commented)
        })
        .map(|(when, author, verdict, body)| {
            let review = Some(verdict);
            (
                when,
                Comment {
                    author,
                    body,
                    review,
                },
            )
        });
    let comments = comments.into_iter().map(|(when, author, body)| {
        (
            when,
            Comment {
                author,
                body,
                review: None,
            },
        )
    });
    oldest_first(reviews.chain(comments).collect())
}

/// Comments from several lists (reviews, comments) merged oldest first by their timestamps
/// (RFC 3339, any offset); entries without a readable time keep their place at the end.
fn oldest_first(mut dated: Vec<(Option<&str>, Comment)>) -> Vec<Comment> {
    dated.sort_by_key(|(when, _)| when.and_then(instant).unwrap_or(i64::MAX));
    dated.into_iter().map(|(_, comment)| comment).collect()
}

/// Milliseconds since the epoch of an RFC 3339 time (`2024-05-01T10:00:00Z`,
/// `2024-05-01T12:00:00.123+02:00`).
fn instant(text: &str) -> Option<i64> {
    let text = text.trim();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if text.get(4..5)? != "-" || text.get(7..8)? != "-" || text.get(13..14)? != ":" {
        return None;
    }
    if !matches!(text.get(10..11)?, "T" | "t" | " ") || !(1..=12).contains(&month) {
        return None;
    }
    let mut rest = text.get(19..)?;
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        let scaled: String = fraction[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = scaled.parse::<i64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (hours * 60 + minutes)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_prints() {
        let token = Token::new("ghp_secret\n".into());
        assert_eq!(token.reveal(), "ghp_secret");
        assert_eq!(format!("{token} {token:?}"), "<token> <token>");
        let forge = Forge::new(
            ForgeKind::Github,
            "https://api.github.com",
            "o/r",
            Some(token),
            crate::llm::client::http_client().expect("client"),
        );
        assert!(!format!("{forge:?}").contains("ghp_secret"));
    }

    #[test]
    fn an_error_echoing_the_token_has_it_cut_out() {
        let e = ForgeError::Forbidden {
            url: "https://x/y".into(),
            message: "token abc123 lacks repo scope".into(),
        }
        .redacted("abc123");
        assert_eq!(
            e.to_string(),
            "the forge forbids https://x/y to this token (HTTP 403): token <token> lacks repo scope"
        );
    }

    #[test]
    fn descriptions_are_cut_on_a_character_boundary() {
        let long = "é".repeat(200);
        let cut = truncate_chars(&long, MAX_DESCRIPTION);
        assert_eq!(cut.chars().count(), 140);
        assert_eq!(truncate_chars("short", 140), "short");
    }

    #[test]
    fn draft_titles_are_marked_once() {
        assert_eq!(draft_title("Fix it", "Draft: "), "Draft: Fix it");
        assert_eq!(draft_title("draft: Fix it", "Draft: "), "draft: Fix it");
    }

    #[test]
    fn the_latest_verdict_of_each_reviewer_counts() {
        assert!(changes_requested([("a", Some(true)), ("a", None)]));
        assert!(!changes_requested([("a", Some(true)), ("a", Some(false))]));
        assert!(changes_requested([("a", Some(false)), ("b", Some(true))]));
        assert!(!changes_requested([("a", None)]));
    }

    #[test]
    fn times_with_offsets_compare_as_instants() {
        assert_eq!(instant("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(instant("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(instant("2000-03-01T00:00:00.5Z"), Some(951_868_800_500));
        assert_eq!(
            instant("2024-05-01T00:00:11Z").map(|t| t % 86_400_000),
            Some(11_000)
        );
        assert!(instant("2024-05-01T02:00:10+02:00") < instant("2024-05-01T00:00:11Z"));
        assert_eq!(instant("yesterday"), None);
        assert_eq!(instant("2024-13-01T00:00:00Z"), None);
    }

    #[test]
    fn comments_are_sorted_by_time_across_lists() {
        let c = |author: &str| Comment {
            author: author.into(),
            body: String::new(),
            review: None,
        };
        let sorted = oldest_first(vec![
            (Some("2024-05-01T00:00:11Z"), c("late")),
            (None, c("undated")),
            (Some("2024-05-01T02:00:10+02:00"), c("early")),
        ]);
        let authors: Vec<&str> = sorted.iter().map(|c| c.author.as_str()).collect();
        assert_eq!(authors, ["early", "late", "undated"]);
    }
}
