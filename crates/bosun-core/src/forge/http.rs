//! The request loop every forge shares: authentication and API headers, a timeout per
//! request, waits for rate limits (`Retry-After`, `X-RateLimit-Reset`/`RateLimit-Reset`) up
//! to a limit, retries of an unreachable forge with backoff, conditional requests
//! (`If-None-Match`), pagination (`Link: rel="next"`, GitLab's `X-Next-Page`), and errors
//! that name the URL — with the token cut out of whatever the forge says back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{
    ACCEPT, AUTHORIZATION, ETAG, HeaderMap, HeaderName, HeaderValue, IF_NONE_MATCH, LINK,
    RETRY_AFTER, USER_AGENT,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ForgeError, Token};
use crate::config::ForgeKind;
use crate::llm::client::chain;

/// How long one request may take, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest message kept from a forge's error body.
const MAX_MESSAGE: usize = 300;

/// Most pages read for one list (a guard against a forge that always says "next").
const MAX_PAGES: usize = 100;

/// How long to wait on a rate limit that does not say (GitHub's advice for secondary limits).
const UNSAID_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The `User-Agent` of every request (GitHub refuses requests without one).
const AGENT: &str = concat!("bosun/", env!("CARGO_PKG_VERSION"));

/// How patient the loop is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The longest single wait for a rate limit; a longer one is [`ForgeError::RateLimited`].
    max_wait: Duration,
    /// Attempts at an unreachable forge (and waits for a rate limit) before giving up.
    tries: u32,
}

impl Limits {
    /// Waits of at most `max_wait`, `tries` attempts (at least one).
    pub(crate) fn new(max_wait: Duration, tries: u32) -> Self {
        Self {
            max_wait,
            tries: tries.max(1),
        }
    }

    /// The pause after the `failures`-th failure: `max_wait / 120`, doubling (0.5 s, 1 s, …
    /// at the default 60 s), never more than `max_wait`.
    fn backoff(&self, failures: u32) -> Duration {
        let first = self.max_wait / 120;
        first
            .saturating_mul(1 << failures.saturating_sub(1).min(16))
            .min(self.max_wait)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(Duration::from_secs(60), 3)
    }
}

/// A forge's answer that was not an error: 2xx, or 304 to a conditional request.
pub(crate) struct Answer {
    /// The URL asked.
    pub url: String,
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: bytes::Bytes,
}

impl Answer {
    /// The body read as `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ForgeError> {
        serde_json::from_slice(&self.body).map_err(|e| ForgeError::Malformed {
            url: self.url.clone(),
            why: format!("not the JSON expected ({e})"),
        })
    }

    /// Header `name` as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Its `ETag`.
    pub(crate) fn etag(&self) -> Option<String> {
        self.headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// Whether it is a 304: the resource still has the `ETag` sent.
    pub(crate) fn not_modified(&self) -> bool {
        self.status == StatusCode::NOT_MODIFIED
    }
}

/// One forge's API root, repository and token, and the loop that sends requests to it.
#[derive(Clone, Debug)]
pub(crate) struct Api {
    kind: ForgeKind,
    base: String,
    repository: String,
    token: Option<Token>,
    http: reqwest::Client,
    limits: Limits,
}

impl Api {
    /// The API of `kind` at `base` for `repository`.
    pub(crate) fn new(
        kind: ForgeKind,
        base: &str,
        repository: &str,
        token: Option<Token>,
        http: reqwest::Client,
        limits: Limits,
    ) -> Self {
        Self {
            kind,
            base: base.trim().trim_end_matches('/').to_string(),
            repository: repository.trim().trim_matches('/').to_string(),
            token,
            http,
            limits,
        }
    }

    /// Which forge it is.
    pub(crate) fn kind(&self) -> ForgeKind {
        self.kind
    }

    /// The API's base URL (no trailing slash).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The repository (`owner/name`, or GitLab's project path).
    pub(crate) fn repository(&self) -> &str {
        &self.repository
    }

    /// Sets how patient the loop is.
    pub(crate) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// `owner/name` as two encoded path segments, for `/repos/{owner}/{name}`.
    pub(crate) fn repo_path(&self) -> String {
        self.repository
            .split('/')
            .map(encode)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// `result` with the token cut out of its error.
    pub(crate) fn redact<T>(&self, result: Result<T, ForgeError>) -> Result<T, ForgeError> {
        match &self.token {
            Some(token) => result.map_err(|e| e.redacted(token.reveal())),
            None => result,
        }
    }

    /// `error` as one line fit for a log (the token cut out).
    pub(crate) fn describe(&self, error: ForgeError) -> String {
        match &self.token {
            Some(token) => error.redacted(token.reveal()).to_string(),
            None => error.to_string(),
        }
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path` as `T`.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ForgeError> {
        self.send(Method::GET, &self.url(path), None, None)
            .await?
            .json()
    }

    /// GET `path`, conditional on `etag` when given (a 304 comes back as an [`Answer`]).
    pub(crate) async fn get(&self, path: &str, etag: Option<&str>) -> Result<Answer, ForgeError> {
        self.send(Method::GET, &self.url(path), None, etag).await
    }

    /// POST `body` to `path`.
    pub(crate) async fn post(&self, path: &str, body: &Value) -> Result<Answer, ForgeError> {
        self.send(Method::POST, &self.url(path), Some(body), None)
            .await
    }

    /// Every item of the list at `path` (which asks for the largest page the forge gives),
    /// following the pages the forge points to.
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Vec<T>, ForgeError> {
        let mut items = Vec::new();
        let mut url = self.url(path);
        for _ in 0..MAX_PAGES {
            let answer = self.send(Method::GET, &url, None, None).await?;
            let page: Vec<T> = answer.json()?;
            let empty = page.is_empty();
            items.extend(page);
            let next = answer
                .header(LINK.as_str())
                .and_then(next_link)
                .or_else(|| {
                    answer
                        .header("x-next-page")
                        .map(str::trim)
                        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                        .map(|n| with_query(&url, "page", n))
                });
            match next {
                Some(next) if !empty => {
                    // The token goes with every request: never to another host.
                    if origin(&next) != origin(&self.base) {
                        tracing::warn!(
                            list = %url,
                            next = %next,
                            "the forge points the next page at another host: not followed"
                        );
                        return Ok(items);
                    }
                    url = next;
                }
                _ => return Ok(items),
            }
        }
        tracing::warn!(list = %url, "more than {MAX_PAGES} pages: the rest is not read");
        Ok(items)
    }

    /// Sends one request until it is answered, waiting out rate limits and retrying an
    /// unreachable forge; an error status becomes the matching [`ForgeError`].
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        etag: Option<&str>,
    ) -> Result<Answer, ForgeError> {
        let result = self.send_loop(method, url, body, etag).await;
        self.redact(result)
    }

    /// After the `failures`th failure to get an answer (`why`): a pause before the next try,
    /// or [`ForgeError::Unreachable`] once the tries are used up.
    async fn pause_or_give_up(
        &self,
        failures: u32,
        method: &Method,
        url: &str,
        why: String,
    ) -> Result<(), ForgeError> {
        if failures >= self.limits.tries {
            return Err(ForgeError::Unreachable {
                url: url.to_string(),
                why,
            });
        }
        let pause = self.limits.backoff(failures);
        tracing::warn!(%method, %url, %why, ?pause, "no answer from the forge; trying again");
        tokio::time::sleep(pause).await;
        Ok(())
    }

    async fn send_loop(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        etag: Option<&str>,
    ) -> Result<Answer, ForgeError> {
        let headers = self.headers(etag)?;
        let mut failures = 0;
        let mut waits = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url)
                .headers(headers.clone())
                .timeout(REQUEST_TIMEOUT);
            if let Some(body) = body {
                request = request.json(body);
            }
            let reply = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    response.bytes().await.map(|body| (status, headers, body))
                }
                Err(e) => Err(e),
            };
            let (status, headers, answer_body) = match reply {
                Ok(reply) => reply,
                Err(e) => {
                    failures += 1;
                    self.pause_or_give_up(failures, &method, url, chain(&e))
                        .await?;
                    continue;
                }
            };
            tracing::debug!(%method, %url, status = status.as_u16(), "the forge answered");
            if status.is_success() || status == StatusCode::NOT_MODIFIED {
                return Ok(Answer {
                    url: url.to_string(),
                    status,
                    headers,
                    body: answer_body,
                });
            }
            let message = error_message(&answer_body);
            if let Some(wait) = rate_limit_wait(status, &headers, &message) {
                waits += 1;
                if wait > self.limits.max_wait || waits >= self.limits.tries {
                    return Err(ForgeError::RateLimited {
                        url: url.to_string(),
                        wait_secs: wait.as_secs_f64().ceil() as u64,
                    });
                }
                tracing::warn!(%method, %url, ?wait, "rate-limited by the forge; waiting");
                tokio::time::sleep(wait).await;
                continue;
            }
            if status.is_server_error() {
                failures += 1;
                let why = format!("HTTP {}: {message}", status.as_u16());
                self.pause_or_give_up(failures, &method, url, why).await?;
                continue;
            }
            let url = url.to_string();
            return Err(match status {
                StatusCode::UNAUTHORIZED => ForgeError::Unauthorized { url },
                StatusCode::FORBIDDEN => ForgeError::Forbidden { url, message },
                StatusCode::NOT_FOUND => ForgeError::NotFound { url },
                _ => ForgeError::Rejected {
                    url,
                    status: status.as_u16(),
                    message,
                },
            });
        }
    }

    /// The headers of every request: the API's, the token's (marked sensitive, so reqwest
    /// never prints it), and `If-None-Match` for a conditional request.
    fn headers(&self, etag: Option<&str>) -> Result<HeaderMap, ForgeError> {
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
        match self.kind {
            ForgeKind::Github => {
                headers.insert(
                    ACCEPT,
                    HeaderValue::from_static("application/vnd.github+json"),
                );
                headers.insert(
                    HeaderName::from_static("x-github-api-version"),
                    HeaderValue::from_static("2022-11-28"),
                );
            }
            ForgeKind::Gitlab | ForgeKind::Gitea => {
                headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
            }
        }
        if let Some(token) = &self.token {
            let (name, value) = match self.kind {
                ForgeKind::Github => (AUTHORIZATION, format!("Bearer {}", token.reveal())),
                ForgeKind::Gitlab => (
                    HeaderName::from_static("private-token"),
                    token.reveal().to_string(),
                ),
                ForgeKind::Gitea => (AUTHORIZATION, format!("token {}", token.reveal())),
            };
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                ForgeError::Config(
                    "the forge token has characters that cannot go in an HTTP header: set it again without them"
                        .into(),
                )
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if let Some(etag) = etag
            && let Ok(value) = HeaderValue::from_str(etag)
        {
            headers.insert(IF_NONE_MATCH, value);
        }
        Ok(headers)
    }
}

/// Header `name` as text.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// How long a rate-limited answer asks to wait; `None` when the answer is no rate limit.
/// A 429 always is; a 403 is when the quota is spent (`X-RateLimit-Remaining: 0`), when it
/// says `Retry-After`, or when its message says so (GitHub's secondary limits).
fn rate_limit_wait(status: StatusCode, headers: &HeaderMap, message: &str) -> Option<Duration> {
    let remaining =
        header(headers, "x-ratelimit-remaining").or_else(|| header(headers, "ratelimit-remaining"));
    let retry_after = header(headers, RETRY_AFTER.as_str());
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (remaining == Some("0")
                || retry_after.is_some()
                || message.to_ascii_lowercase().contains("rate limit")));
    if !limited {
        return None;
    }
    if let Some(seconds) = retry_after.and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    let reset = header(headers, "x-ratelimit-reset")
        .or_else(|| header(headers, "ratelimit-reset"))
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(reset) = reset {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // The reset is a whole second; one more makes sure it has passed.
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    Some(UNSAID_RATE_LIMIT_WAIT)
}

/// The forge's own words from an error body: GitHub's `message` and `errors[].message`,
/// GitLab's `message` (text, list or field map) or `error`, Gitea's `message` — else the
/// start of the body.
pub(crate) fn error_message(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(json) => {
            let mut parts = Vec::new();
            for key in ["message", "error", "error_description"] {
                if let Some(value) = json.get(key) {
                    flatten(value, None, &mut parts);
                }
            }
            if let Some(Value::Array(errors)) = json.get("errors") {
                for error in errors {
                    match error.get("message") {
                        Some(message) => flatten(message, None, &mut parts),
                        None => flatten(error, None, &mut parts),
                    }
                }
            }
            if parts.is_empty() {
                json.to_string()
            } else {
                parts.join(": ")
            }
        }
        Err(_) => String::from_utf8_lossy(body).trim().to_string(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= MAX_MESSAGE {
        text
    } else {
        let mut short: String = text.chars().take(MAX_MESSAGE).collect();
        short.push('…');
        short
    }
}

/// The texts in `value`: a string, the strings of a list, `field text` for each entry of a
/// map (GitLab's `{"message": {"title": ["is too long"]}}`).
fn flatten(value: &Value, field: Option<&str>, parts: &mut Vec<String>) {
    match value {
        Value::String(text) => parts.push(match field {
            Some(field) => format!("{field} {text}"),
            None => text.clone(),
        }),
        Value::Array(items) => {
            for item in items {
                flatten(item, field, parts);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                flatten(item, Some(key), parts);
            }
        }
        Value::Null => {}
        Value::Bool(_) | Value::Number(_) => parts.push(value.to_string()),
    }
}

/// The URL of `rel="next"` in a `Link` header.
pub(crate) fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let target = target.strip_prefix('<')?.strip_suffix('>')?;
        let is_next = pieces.any(|param| {
            let Some((key, value)) = param.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        is_next.then(|| target.to_string())
    })
}

/// `url` with query parameter `key` set to `value`.
pub(crate) fn with_query(url: &str, key: &str, value: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(key))
        .map(str::to_string)
        .collect();
    pairs.push(format!("{key}={}", encode(value)));
    format!("{path}?{}", pairs.join("&"))
}

/// `scheme://host:port` of a URL, lowercased.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{authority}").to_ascii_lowercase()
}

/// `text` percent-encoded as one path segment or query value (`/` included, as GitLab's
/// project ids need).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_a_link_header() {
        let link = r#"<https://api.github.com/repositories/1/pulls?page=1>; rel="prev", <https://api.github.com/repositories/1/pulls?page=3>; rel="next", <https://api.github.com/repositories/1/pulls?page=5>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=3")
        );
        assert_eq!(next_link(r#"<https://x/y?page=1>; rel="first""#), None);
    }

    #[test]
    fn a_page_parameter_replaces_the_old_one() {
        assert_eq!(
            with_query("http://h/a?per_page=100&page=1", "page", "2"),
            "http://h/a?per_page=100&page=2"
        );
        assert_eq!(with_query("http://h/a", "page", "2"), "http://h/a?page=2");
    }

    #[test]
    fn origins_ignore_the_path() {
        assert_eq!(
            origin("https://API.github.com/repos/x"),
            "https://api.github.com"
        );
        assert_ne!(
            origin("https://evil.example/x"),
            origin("https://api.github.com")
        );
    }

    #[test]
    fn project_paths_are_encoded_whole() {
        assert_eq!(encode("group/sub/my.proj"), "group%2Fsub%2Fmy.proj");
        assert_eq!(encode("feature/ü"), "feature%2F%C3%BC");
    }

    #[test]
    fn error_messages_read_every_forge_shape() {
        let github = br#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for o:b."}]}"#;
        assert_eq!(
            error_message(github),
            "Validation Failed: A pull request already exists for o:b."
        );
        let gitlab = br#"{"message":["Another open merge request already exists for this source branch: !1"]}"#;
        assert_eq!(
            error_message(gitlab),
            "Another open merge request already exists for this source branch: !1"
        );
        let gitlab_fields = br#"{"message":{"title":["is too long"]}}"#;
        assert_eq!(error_message(gitlab_fields), "title is too long");
        assert_eq!(
            error_message(b"<html>\n oops </html>"),
            "<html> oops </html>"
        );
        assert_eq!(error_message(&[b'x'; 400]).chars().count(), MAX_MESSAGE + 1);
    }

    #[test]
    fn rate_limits_are_told_from_refusals() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &headers, "Resource not accessible"),
            None
        );
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &headers, ""),
            Some(UNSAID_RATE_LIMIT_WAIT)
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &headers, ""),
            Some(Duration::from_secs(7))
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("0"));
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &headers, ""),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn backoff_scales_with_the_longest_wait() {
        let limits = Limits::default();
        assert_eq!(limits.backoff(1), Duration::from_millis(500));
        assert_eq!(limits.backoff(2), Duration::from_secs(1));
        let quick = Limits::new(Duration::from_millis(1200), 0);
        assert_eq!(quick.tries, 1);
        assert_eq!(quick.backoff(1), Duration::from_millis(10));
    }
}
