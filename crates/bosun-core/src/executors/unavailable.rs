//! Telling "the agent could not work" from "the agent's work failed": an agent CLI that could
//! not reach its model — bad credentials, a rate limit or exhausted quota, a server error, no
//! connection — did nothing wrong with the task. Such a run uses no attempt, teaches process
//! memory nothing and charges the agent nothing; its executor cools down instead.
//!
//! Read from what the CLI said: its parsed error (`AgentEvent::Final` with `is_error`) and
//! its last output lines — an HTTP status where one is written, else the wording the CLIs
//! use (checked against the recordings in `tests/fixtures/agents/`).

use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;

/// Why an agent could not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unavailable {
    /// Its credentials were refused (401, 403, an invalid key): nothing changes until the
    /// operator fixes them.
    Auth,
    /// Too many requests, or the quota is used up (429, "high demand", "overloaded").
    Limited,
    /// The model's server failed (5xx).
    Outage,
    /// No connection to the model (refused, reset, DNS, dropped stream).
    Unreachable,
}

impl Unavailable {
    /// A word for the operator.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "credentials refused",
            Self::Limited => "rate limited",
            Self::Outage => "model server error",
            Self::Unreachable => "model unreachable",
        }
    }

    /// How long the executor waits before it is tried again (`cooldown` for passing
    /// trouble); `None`: not again until bosun starts again (refused credentials).
    pub fn cooldown(self, cooldown: Duration) -> Option<Duration> {
        match self {
            Self::Auth => None,
            Self::Limited | Self::Outage | Self::Unreachable => Some(cooldown),
        }
    }
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An HTTP status written in an error: `status: 500`, `"statusCode":401`, `API Error: 500`,
/// `"code":400`, `HTTP 429`.
fn status_in(text: &str) -> Option<u16> {
    static STATUS: OnceLock<Regex> = OnceLock::new();
    let re = STATUS.get_or_init(|| {
        Regex::new(
            r#"(?i)(?:status(?:_?code)?|api[ _]error(?:_status)?|"code"|http)["':\s]*([1-5]\d\d)\b"#,
        )
        .expect("a valid pattern")
    });
    re.captures(text)?.get(1)?.as_str().parse().ok()
}

/// Whether `text` (what an agent said when it stopped) says it could not reach or use its
/// model, and why. Read the agent's own parsed error first and its raw lines only when that
/// says nothing ([`classify_output`]).
pub fn classify(text: &str) -> Option<Unavailable> {
    let lower = text.to_lowercase();
    let says = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    // Words first: a 400 that says the key is bad is a credentials problem.
    if says(&[
        "invalid api key",
        "incorrect api key",
        "api key not valid",
        "invalid x-api-key",
        "authentication_failed",
        "authentication failed",
        // litellm's exception names (aider).
        "authenticationerror",
        "permissiondeniederror",
        "unauthorized",
        "not logged in",
        // bosun's own words for it, read back from a stored reason.
        "credentials refused",
    ]) {
        return Some(Unavailable::Auth);
    }
    match status_in(text) {
        Some(401 | 403) => return Some(Unavailable::Auth),
        Some(429) => return Some(Unavailable::Limited),
        Some(500..=599) => return Some(Unavailable::Outage),
        _ => {}
    }
    if says(&[
        "rate limit",
        "rate_limit",
        "too many requests",
        "quota",
        "high demand",
        "overloaded",
    ]) {
        return Some(Unavailable::Limited);
    }
    if says(&[
        "connection refused",
        "connectionrefused",
        "econnrefused",
        "unable to connect",
        "connection failed",
        "connection reset",
        "error sending request",
        "stream disconnected",
        "could not resolve host",
        "waiting for network",
        "apiconnectionerror",
        "unreachable",
    ]) {
        return Some(Unavailable::Unreachable);
    }
    if says(&[
        "internal server error",
        "internalservererror",
        "serviceunavailableerror",
        "service unavailable",
        "bad gateway",
        "gateway timeout",
        "server_error",
        "server error",
    ]) {
        return Some(Unavailable::Outage);
    }
    None
}

/// [`classify`] on the agent's parsed error (`said`), else on its last raw lines.
pub fn classify_output(said: &str, raw: &str) -> Option<Unavailable> {
    classify(said).or_else(|| classify(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_wordings_are_told_apart_from_failed_work() {
        use Unavailable::*;
        let cases = [
            ("Invalid API key · Fix external API key", Some(Auth)),
            (
                "[API Error: {\"error\":{\"code\":400,\"message\":\"fake server: API key not valid\"}}]",
                Some(Auth),
            ),
            (
                "APIError: fake server: invalid api key (statusCode 401)",
                Some(Auth),
            ),
            (
                "API Error: 500 fake server: internal error. This is a server-side issue",
                Some(Outage),
            ),
            ("{\"statusCode\":503}", Some(Outage)),
            (
                "We’re currently experiencing high demand, which may cause temporary errors.",
                Some(Limited),
            ),
            ("HTTP 429 Too Many Requests", Some(Limited)),
            (
                "API Error: Unable to connect to API (ConnectionRefused)",
                Some(Unreachable),
            ),
            (
                "stream disconnected before completion: fake server: the model failed",
                Some(Unreachable),
            ),
            (
                "Reconnecting... waiting for network (Connection failed: error sending request)",
                Some(Unreachable),
            ),
            // Failed work, not an unavailable agent.
            (
                "error: cannot keep line_count()'s behaviour in one pass; giving up",
                None,
            ),
            ("test result: FAILED. 3 passed; 1 failed", None),
            ("wrote 500 lines to out.txt", None),
            ("permission denied: src/lib.rs", None),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text), want, "{text}");
        }
        // A stored reason says its kind again.
        for kind in [Auth, Limited, Outage, Unreachable] {
            assert_eq!(
                classify(&format!("agent unavailable ({kind}): …")),
                Some(kind)
            );
        }
        assert_eq!(Auth.cooldown(Duration::from_secs(60)), None);
        assert_eq!(
            Outage.cooldown(Duration::from_secs(60)),
            Some(Duration::from_secs(60))
        );
    }
}
