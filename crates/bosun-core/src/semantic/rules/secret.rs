//! `secret` (risk): an added line that holds a credential. The detectors and what is exempt
//! are listed in the [module docs](super#secrets); this file holds them, the redaction applied
//! to anything a message quotes, and the rule itself.

use std::sync::LazyLock;

use regex::Regex;

use super::{ALLOW_SECRET_PRAGMA, FileContext, mask, paths, words};
use crate::diff::LineKind;
use crate::model::{Annotation, AnnotationKind, Severity};

/// What a private key's finding is called.
const PRIVATE_KEY_LABEL: &str = "private key block";

/// Shortest value of a `password = "…"`-style assignment that can be reported.
pub(crate) const MIN_ASSIGNED_LEN: usize = 12;
/// Least Shannon entropy, in bits per character, of a reported assigned value. Random
/// alphanumerics score 3.5–6; words and repeated characters score less (`changeme` 2.75,
/// `aaaaaaaaaaaa` 0).
pub(crate) const MIN_ASSIGNED_ENTROPY: f64 = 3.0;

/// A credential found on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// What it looks like, for the message ("GitHub token").
    pub(crate) label: &'static str,
    /// Byte range of the secret in the line.
    pub(crate) start: usize,
    pub(crate) end: usize,
}

fn re(pattern: &str) -> Regex {
    // Patterns are constants of this file; the tests compile every one.
    Regex::new(pattern).expect("secret patterns are valid regexes")
}

static PRIVATE_KEY: LazyLock<Regex> =
    LazyLock::new(|| re(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----"));
static PRIVATE_KEY_END: LazyLock<Regex> =
    LazyLock::new(|| re(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"));
static AWS_KEY_ID: LazyLock<Regex> = LazyLock::new(|| re(r"\b((?:AKIA|ASIA)[A-Z0-9]{16})\b"));
static AWS_CONTEXT: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)aws|amazon|secret.?access.?key"));
static BASE64_40: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z0-9/+=]+"));
static JWT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(ey[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]+)"));
static BEARER: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bbearer\s+([A-Za-z0-9_\-.=+/~]{20,})"));
static ASSIGNED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*(?::=|=>|==|=|:)\s*(?:[rRbBuU]?"(?P<dq>[^"\s]*)"|[rRbBuU]?'(?P<sq>[^'\s]*)'|`(?P<bq>[^`\s]*)`|(?P<bare>[^\s"'`,;#(){}\[\]=]+))"#,
    )
});
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| re(r"://[^/@\s:]*:[^/@\s]+@"));
static URL_SECRET_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)([?&](?:access_token|token|api_key|apikey|key|secret|password|sig)=)([^&#\s]+)")
});
/// `-----BEGIN … PRIVATE KEY-----` through its END marker on one line (a JSON-escaped key, with
/// `\n` between the lines, as in a GCP service-account file).
static PRIVATE_KEY_INLINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\\n)?",
    )
});
/// Provider tokens whose shape alone says what they are (after gitleaks' default rules and the
/// providers' documented formats): label, pattern with the token as group 1.
static PROVIDERS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        (
            "GitHub token",
            r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})\b",
        ),
        ("GitLab token", r"\b((?:glpat|gldt|glrt|glptt)-[A-Za-z0-9_\-]{20,})"),
        (
            "Slack token",
            r"\b(xox[baprs]-[A-Za-z0-9\-]{10,}|https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)",
        ),
        ("Stripe key", r"\b((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,247})\b"),
        ("Google API key", r"\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)"),
        ("SendGrid key", r"\b(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})(?:[^A-Za-z0-9_\-]|$)"),
        (
            "OpenAI key",
            r"\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|sk-[A-Za-z0-9]{48})(?:[^A-Za-z0-9_\-]|$)",
        ),
        ("npm token", r"\b(npm_[A-Za-z0-9]{36})\b"),
        ("Twilio API key", r"\b(SK[0-9a-fA-F]{32})\b"),
        ("Azure storage key", r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)"),
        (
            "GCP service account key id",
            r#""private_key_id"\s*:\s*"([0-9a-f]{40})""#,
        ),
    ]
    .into_iter()
    .map(|(label, pattern)| (label, re(pattern)))
    .collect()
});
/// A Twilio account SID, reported where the line says it is Twilio's.
static TWILIO_SID: LazyLock<Regex> = LazyLock::new(|| re(r"\b(AC[0-9a-f]{32})\b"));
static TWILIO_CONTEXT: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)twilio|account_?sid"));
/// The password of a URL with credentials (`postgres://user:PASSWORD@host`).
static URL_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:([^@\s/]+)@"));
/// HTTP Basic credentials: base64 of `user:password`.
static BASIC: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bbasic\s+([A-Za-z0-9+/]{8,}={0,2})"));
/// A typed assignment: `NAME: type = value` (Rust, TypeScript, Python) or `var NAME type =
/// value` (Go).
static TYPED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?:(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*:\s*&?(?:'static\s+)?[A-Za-z_][A-Za-z0-9_<>\[\]., ]*?|\bvar\s+(?P<gokey>[A-Za-z_][A-Za-z0-9_]*)\s+[A-Za-z_][A-Za-z0-9_\[\]*.]*)\s*=\s*[rRbBuU]?(?:"(?P<dq>[^"\s]*)"|'(?P<sq>[^'\s]*)'|`(?P<bq>[^`\s]*)`)"#,
    )
});
/// A command-line flag naming a credential and its argument (`--requirepass "…"`, also as
/// consecutive strings of an argument list).
static FLAG: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"--(?P<key>[A-Za-z][A-Za-z0-9\-]*)["']?(?:\s*,\s*|\s+|=)["']?(?P<v>[^"'\s,\]]+)"#)
});
/// Words one of which a line must hold for any detector to look at it (case-insensitive).
static KEYWORDS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)key|tok|secret|pass|pwd|auth|bearer|basic|cred|aws|amazon|akia|asia|twilio|account_?sid|ghp_|gho_|ghu_|ghs_|ghr_|github_pat|glpat|gldt|glrt|glptt|xox|hooks\.slack|eyj|sk_|rk_|sk-|aiza|sg\.|npm_|sig=|://|-----begin",
    )
});

/// Shannon entropy of `s` in bits per character (0 for the empty string).
pub(crate) fn entropy(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut len = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        len += 1;
    }
    if len == 0 {
        return 0.0;
    }
    let len = len as f64;
    counts
        .values()
        .map(|&n| {
            let p = n as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// The first credential on `line`, most specific detector first. `unquoted`: the file is one
/// where `KEY=value` without quotes is usual (`.env`, YAML, …).
pub(crate) fn find(line: &str, unquoted: bool) -> Option<Found> {
    find_all(line, unquoted).into_iter().next()
}

/// Every credential on `line`, most specific detector first; findings that overlap an earlier
/// one are left out. A line with none of the detectors' keywords is not looked at further.
pub(crate) fn find_all(line: &str, unquoted: bool) -> Vec<Found> {
    let mut all: Vec<Found> = Vec::new();
    if !KEYWORDS.is_match(line) {
        return all;
    }
    let mut push = |label: &'static str, start: usize, end: usize| {
        if start < end && !all.iter().any(|f| f.start < end && start < f.end) {
            all.push(Found { label, start, end });
        }
    };
    if let Some(m) = PRIVATE_KEY_INLINE
        .find(line)
        .or_else(|| PRIVATE_KEY.find(line))
    {
        push(PRIVATE_KEY_LABEL, m.start(), m.end());
    }
    for m in AWS_KEY_ID
        .captures_iter(line)
        .filter_map(|c| c.get(1))
        .filter(|m| !m.as_str().contains("EXAMPLE"))
    {
        push("AWS access key id", m.start(), m.end());
    }
    if AWS_CONTEXT.is_match(line) {
        for m in BASE64_40.find_iter(line).filter(|m| {
            let s = m.as_str().trim_end_matches('=');
            s.len() == 40
                && m.as_str().len() <= 42
                && !s.contains("EXAMPLE")
                && classes(s) >= 2
                && entropy(s) >= 3.5
        }) {
            push("AWS secret access key", m.start(), m.end());
        }
    }
    for (label, pattern) in PROVIDERS.iter() {
        for m in pattern.captures_iter(line).filter_map(|c| c.get(1)) {
            push(label, m.start(), m.end());
        }
    }
    if TWILIO_CONTEXT.is_match(line) {
        for m in TWILIO_SID.captures_iter(line).filter_map(|c| c.get(1)) {
            push("Twilio account SID", m.start(), m.end());
        }
    }
    for m in URL_PASSWORD
        .captures_iter(line)
        .filter_map(|c| c.get(1))
        .filter(|m| is_password(m.as_str()))
    {
        push("password in a URL", m.start(), m.end());
    }
    for m in JWT
        .captures_iter(line)
        .filter_map(|c| c.get(1))
        .filter(|m| is_jwt(m.as_str()))
    {
        push("JSON Web Token", m.start(), m.end());
    }
    for m in BASIC
        .captures_iter(line)
        .filter_map(|c| c.get(1))
        .filter(|m| is_basic(m.as_str()))
    {
        push("HTTP Basic credentials", m.start(), m.end());
    }
    for m in BEARER
        .captures_iter(line)
        .filter_map(|c| c.get(1))
        .filter(|m| is_random(m.as_str()))
    {
        push("bearer token", m.start(), m.end());
    }
    for caps in TYPED.captures_iter(line) {
        let key = caps.name("key").or_else(|| caps.name("gokey"));
        let value = ["dq", "sq", "bq"].into_iter().find_map(|g| caps.name(g));
        if let (Some(key), Some(value)) = (key, value)
            && secret_name(key.as_str())
            && is_random(value.as_str())
        {
            push("hard-coded credential", value.start(), value.end());
        }
    }
    // A bare value stops at a parenthesis or `=`, so an assignment after another on the line
    // (`client = Client(api_key="…")`) is the next match.
    for caps in ASSIGNED.captures_iter(line) {
        let Some(key) = caps.name("key") else {
            continue;
        };
        let value = ["dq", "sq", "bq"]
            .into_iter()
            .find_map(|g| caps.name(g))
            .or_else(|| caps.name("bare").filter(|_| unquoted));
        if let Some(value) = value
            && secret_name(key.as_str())
            && is_random(value.as_str())
        {
            push("hard-coded credential", value.start(), value.end());
        }
    }
    for caps in FLAG.captures_iter(line) {
        if let (Some(key), Some(value)) = (caps.name("key"), caps.name("v"))
            && secret_name(key.as_str())
            && is_random(value.as_str())
        {
            push("credential on a command line", value.start(), value.end());
        }
    }
    all
}

/// A URL's password that is a real one, not a placeholder or a variable.
fn is_password(p: &str) -> bool {
    let lower = p.to_lowercase();
    p.chars().count() >= 4
        && !p.starts_with(['$', '%', '<', '{'])
        && !PLACEHOLDERS
            .iter()
            .filter(|w| !matches!(**w, "://" | "password" | "secret"))
            .any(|w| lower.contains(w))
        && !matches!(lower.as_str(), "password" | "pass" | "secret" | "pwd")
}

/// Base64 of `user:password` with a password worth hiding.
fn is_basic(token: &str) -> bool {
    base64url(token)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            text.split_once(':')
                .map(|(user, pass)| !user.is_empty() && is_password(pass))
        })
        .unwrap_or(false)
}

/// A variable name that holds a credential: its last word is `secret`, `token`, `password`,
/// … or `key` after `api`, `secret`, `access`, ….
fn secret_name(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    let w = words(last);
    match w.as_slice() {
        [.., prev, last] if last == "key" => matches!(
            prev.as_str(),
            "api"
                | "secret"
                | "access"
                | "private"
                | "auth"
                | "client"
                | "signing"
                | "encryption"
                | "master"
        ),
        [.., last] => matches!(
            last.as_str(),
            "secret"
                | "token"
                | "password"
                | "passwd"
                | "pwd"
                | "passphrase"
                | "apikey"
                | "credential"
                | "credentials"
                | "tok"
                | "pass"
                | "requirepass"
                | "authtoken"
        ),
        [] => false,
    }
}

/// How many of lowercase, uppercase and digits `s` uses.
fn classes(s: &str) -> usize {
    [
        s.chars().any(|c| c.is_ascii_lowercase()),
        s.chars().any(|c| c.is_ascii_uppercase()),
        s.chars().any(|c| c.is_ascii_digit()),
    ]
    .into_iter()
    .filter(|&b| b)
    .count()
}

/// Words that mark a value as a placeholder or a reference, not a secret.
const PLACEHOLDERS: &[&str] = &[
    "example",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "your",
    "dummy",
    "sample",
    "redacted",
    "xxx",
    "***",
    "...",
    "…",
    "<",
    ">",
    "${",
    "{{",
    "}}",
    "%s",
    "%(",
    "$(",
    "fake",
    "mock",
    "todo",
    "fixme",
    "insert",
    "replace",
    "null",
    "undefined",
    "password",
    "secret",
    "://",
];

/// A value random enough to be a credential: long enough, mixed, high entropy, no placeholder.
fn is_random(value: &str) -> bool {
    let len = value.chars().count();
    if !(MIN_ASSIGNED_LEN..=512).contains(&len) {
        return false;
    }
    let lower = value.to_lowercase();
    if value.starts_with(['$', '%', '@', '/', '.', '~'])
        || PLACEHOLDERS.iter().any(|p| lower.contains(p))
    {
        return false;
    }
    classes(value) >= 2 && entropy(value) >= MIN_ASSIGNED_ENTROPY
}

/// A JWT: three base64url parts, the first decoding to a JSON object with `alg`.
fn is_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if sig.is_empty() {
        return false;
    }
    base64url(header)
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .is_some_and(|v| v.get("alg").is_some())
}

/// Decode unpadded base64url (or standard base64); None on a character outside both.
fn base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A private key's body: base64 runs on the lines between its BEGIN and END markers.
static KEY_BODY: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z0-9+/=]{16,}"));

/// Masks credentials in text read line by line, in order: what the detectors find on a line
/// (by value: a finding's exact span), every line of a private key block, and — through
/// [`Redactor::mask_values`] — any later or earlier occurrence of a value found anywhere in
/// the same text (the password of a URL repeated bare on another line, a token the agent also
/// printed). The one redaction every view, store writer and prompt builder goes through.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// Inside a private key block (its BEGIN line seen, not yet its END).
    in_key: bool,
    /// Every value found so far, longest first (so a value inside a longer one is masked
    /// after it).
    values: Vec<String>,
}

impl Redactor {
    /// A redactor that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets an unfinished private key block (a new file or hunk starts).
    pub fn end_block(&mut self) {
        self.in_key = false;
    }

    /// `line` (no line ending) with its credentials masked, and any value found so far.
    pub fn line(&mut self, line: &str) -> String {
        if self.in_key {
            if PRIVATE_KEY_END.is_match(line) {
                self.in_key = false;
                return line.to_string();
            }
            // Keep a diff's marker (`+`, `-`, ` `) readable; mask the key material.
            let (marker, rest) = match line.as_bytes().first() {
                Some(b'+' | b'-' | b' ') => line.split_at(1),
                _ => ("", line),
            };
            return format!("{marker}{}", KEY_BODY.replace_all(rest, "…(private key)"));
        }
        // Most lines name nothing a detector looks for: only values found earlier are masked.
        if !KEYWORDS.is_match(line) {
            return self.mask_values(line);
        }
        let mut text = line.to_string();
        for m in URL_PASSWORD
            .captures_iter(line)
            .filter_map(|c| c.get(1))
            .filter(|m| is_password(m.as_str()))
        {
            self.remember(m.as_str().to_string());
        }
        text = URL_USERINFO.replace_all(&text, "://…@").into_owned();
        text = URL_SECRET_PARAM
            .replace_all(&text, |c: &regex::Captures<'_>| {
                format!("{}{}", &c[1], mask(&c[2]))
            })
            .into_owned();
        let mut found = find_all(&text, true);
        found.sort_unstable_by_key(|f| f.start);
        // Masked from the end so earlier spans keep their offsets.
        for f in found.into_iter().rev() {
            let shown = if f.label == PRIVATE_KEY_LABEL {
                // A BEGIN marker alone (not the whole key on this line): its body follows.
                self.in_key = !text[f.start..f.end].contains("-----END");
                "-----BEGIN …(private key)".to_string()
            } else {
                let secret = &text[f.start..f.end];
                let shown = mask(secret);
                self.remember(secret.to_string());
                shown
            };
            text.replace_range(f.start..f.end, &shown);
        }
        self.mask_values(&text)
    }

    fn remember(&mut self, value: String) {
        // Short values would mask innocent text elsewhere.
        if value.chars().count() >= 8 && !self.values.contains(&value) {
            let at = self.values.partition_point(|v| v.len() >= value.len());
            self.values.insert(at, value);
        }
    }

    /// Whether a value has been found so far.
    pub fn found_any(&self) -> bool {
        !self.values.is_empty()
    }

    /// `text` (one or more lines) with its credentials masked, and any value found so far in
    /// this redactor's text; an unfinished private key block does not carry over.
    pub fn text(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for piece in text.split_inclusive('\n') {
            let (line, end) = match piece.strip_suffix('\n') {
                Some(l) => (l, "\n"),
                None => (piece, ""),
            };
            out.push_str(&self.line(line));
            out.push_str(end);
        }
        self.end_block();
        self.mask_values(&out)
    }

    /// `text` with every occurrence of a value found so far masked.
    pub fn mask_values(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), &mask(v));
            }
        }
        out
    }
}

/// A change as it may be shown or sent: every credential in its lines masked, line by line
/// in order (every line of a private key block, the values found so far), then the values
/// found later wherever else they occur. The core masks a change before a front end gets it.
pub fn mask_diff(diff: &mut crate::model::Diff) {
    let mut redactor = Redactor::new();
    for hunk in diff.files.iter_mut().flat_map(|f| f.hunks.iter_mut()) {
        redactor.end_block();
        for line in &mut hunk.lines {
            let masked = redactor.line(&line.text);
            if masked != line.text {
                line.text = masked;
            }
        }
    }
    if redactor.found_any() {
        for line in diff
            .files
            .iter_mut()
            .flat_map(|f| f.hunks.iter_mut())
            .flat_map(|h| h.lines.iter_mut())
        {
            let masked = redactor.mask_values(&line.text);
            if masked != line.text {
                line.text = masked;
            }
        }
    }
}

/// `text` (any number of lines) as it may be shown, stored or sent: every credential masked
/// with [`mask`] — detector spans, URL passwords, secret query parameters, private key
/// blocks whole — and every value found also wherever else it occurs (see [`Redactor`]).
pub fn redact_text(text: &str) -> String {
    Redactor::new().text(text)
}

/// The rule: every added line (not an exact move within its hunk, not carrying the pragma)
/// with a credential the base version did not already contain.
pub(crate) fn rule(ctx: &FileContext<'_>) -> Vec<Annotation> {
    let unquoted = paths::unquoted_values(ctx.path);
    let removed_texts: Vec<&str> = ctx
        .file
        .hunks
        .iter()
        .flat_map(|h| &h.lines)
        .filter(|l| l.kind == LineKind::Removed)
        .map(|l| l.text.as_str())
        .collect();
    let existed = |secret: &str| match ctx.base {
        Some(base) => base.contains(secret),
        None => removed_texts.iter().any(|t| t.contains(secret)),
    };
    let mut out = Vec::new();
    for hunk in &ctx.file.hunks {
        let moved: Vec<&str> = hunk
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Removed)
            .map(|l| l.text.trim())
            .collect();
        for (i, line) in hunk.lines.iter().enumerate() {
            let Some(n) = line.new_no.filter(|_| line.kind == LineKind::Added) else {
                continue;
            };
            if line.text.contains(ALLOW_SECRET_PRAGMA) || moved.contains(&line.text.trim()) {
                continue;
            }
            let Some(found) = find(&line.text, unquoted) else {
                continue;
            };
            let mut end = n;
            let message = if found.label == PRIVATE_KEY_LABEL {
                let rest = &hunk.lines[i + 1..];
                let body = rest
                    .first()
                    .filter(|l| l.kind == LineKind::Added)
                    .map(|l| l.text.trim())
                    .filter(|t| !t.is_empty());
                if body.is_some_and(existed) {
                    continue;
                }
                if let Some(last) = rest
                    .iter()
                    .take_while(|l| l.kind == LineKind::Added)
                    .find(|l| PRIVATE_KEY_END.is_match(&l.text))
                    .and_then(|l| l.new_no)
                {
                    end = last;
                }
                let algorithm = PRIVATE_KEY
                    .captures(&line.text)
                    .and_then(|c| c.get(1))
                    .map(|m| m.as_str().trim())
                    .filter(|a| !a.is_empty())
                    .map(|a| format!(" ({a})"))
                    .unwrap_or_default();
                format!(
                    "private key block{algorithm} added: remove it and rotate the key if it is real, or mark the line `{ALLOW_SECRET_PRAGMA}` if it is a fixture"
                )
            } else {
                let secret = &line.text[found.start..found.end];
                if existed(secret) {
                    continue;
                }
                format!(
                    "possible {} added ({}): remove it and rotate it if it is real, or mark the line `{ALLOW_SECRET_PRAGMA}` if it is a fixture",
                    found.label,
                    mask(secret)
                )
            };
            out.push(ctx.annotation(
                AnnotationKind::Secret,
                Severity::Risk,
                Some((n, end)),
                false,
                message,
            ));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    /// A change shown never holds a private key's body or a found value, even on lines that say
    /// nothing about being secret (`requirepass`'s argument repeats a URL's password).
    #[test]
    fn a_changes_private_key_block_and_repeated_values_are_masked() {
        let body: Vec<String> = (0..4)
            .map(|i| format!("MIIEpAIBAAKCAQEA{i}x7Kq9Lm2Nb8Vc4Xz1Qw5Er6Ty7Ui8Op9As0Df"))
            .collect();
        let password = ["S3cr", "LYSbND5zIWOHxHuF"].concat();
        let new = format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\nurl = \"postgres://app:{password}@db/app\"\nargs = [\"--x\", \"{password}\"]\n",
            body.join("\n")
        );
        let file =
            crate::diff::from_texts(None, None, Some("key.txt"), Some(new.as_bytes())).unwrap();
        let mut diff = crate::model::Diff { files: vec![file] };
        mask_diff(&mut diff);
        let shown: String = diff
            .files
            .iter()
            .flat_map(|f| &f.hunks)
            .flat_map(|h| &h.lines)
            .map(|l| format!("{}\n", l.text))
            .collect();
        for line in &body {
            assert!(!shown.contains(line.as_str()), "{shown}");
        }
        assert!(!shown.contains(&password), "{shown}");
        assert!(shown.contains("-----END RSA PRIVATE KEY-----"), "{shown}");
    }

    use super::*;

    /// Key-shaped test values, assembled at run time so that this file itself does not look
    /// like a leak to scanners.
    pub(crate) fn github() -> String {
        ["gh", "p_", "R7aK2mQ9xLw4Tz8Vb1Nc5Hd3Fj6Gp0SeYu2I"].concat()
    }
    pub(crate) fn aws_id() -> String {
        ["AK", "IA", "Q3ZT7W2MXK4PLV9R"].concat()
    }
    pub(crate) fn aws_secret() -> String {
        ["k9Jd2/Lq8", "Zx4Vt7Rb1Nm5Hc3Fg6Wp0Sy2Ue8Ta4Q"].concat()
    }
    pub(crate) fn gitlab() -> String {
        ["gl", "pat-", "x8Rk2Lm9Qz4Tv7Wb1Nc5"].concat()
    }
    pub(crate) fn slack() -> String {
        ["xo", "xb-", "1234567890-ab12CD34ef56"].concat()
    }
    pub(crate) fn jwt() -> String {
        // {"alg":"HS256","typ":"JWT"} . {"sub":"1234567890"} . signature
        [
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
            ".eyJzdWIiOiIxMjM0NTY3ODkwIn0",
            ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        ]
        .concat()
    }

    fn label(line: &str) -> Option<&'static str> {
        find(line, false).map(|f| f.label)
    }

    #[test]
    fn provider_tokens_are_found_with_their_exact_span() {
        for (line, secret, label) in [
            (
                format!("let t = \"{}\";", github()),
                github(),
                "GitHub token",
            ),
            (
                format!("aws_access_key_id = {}", aws_id()),
                aws_id(),
                "AWS access key id",
            ),
            (
                format!("aws_secret_access_key = {}", aws_secret()),
                aws_secret(),
                "AWS secret access key",
            ),
            (format!("GITLAB={}", gitlab()), gitlab(), "GitLab token"),
            (format!("slack: '{}'", slack()), slack(), "Slack token"),
            (
                format!("Authorization = {}", jwt()),
                jwt(),
                "JSON Web Token",
            ),
        ] {
            let f = find(&line, false).unwrap_or_else(|| panic!("{line}"));
            assert_eq!((f.label, &line[f.start..f.end]), (label, secret.as_str()));
        }
        assert_eq!(
            label("-----BEGIN OPENSSH PRIVATE KEY-----"),
            Some("private key block")
        );
        assert_eq!(
            label("-----BEGIN PGP PRIVATE KEY BLOCK-----"),
            Some("private key block")
        );
    }

    #[test]
    fn lookalikes_are_not_secrets() {
        for line in [
            "-----BEGIN PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----",
            "id = AKIAIOSFODNN7EXAMPLE",
            // 40 base64 characters without an AWS context.
            "digest = k9Jd2/Lq8Zx4Vt7Rb1Nm5Hc3Fg6Wp0Sy2Ue8Ta4Q",
            // A JWT-shaped string whose header is not JSON with `alg`.
            "v = eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.c2ln",
            "unsigned = eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
            "ghp_short",
            "token_count = 123456789012345",
        ] {
            assert_eq!(label(line), None, "{line}");
        }
    }

    #[test]
    fn assignments_need_a_secret_name_and_a_random_value() {
        for line in [
            r#"api_key = "Zx4Vt7Rb1Nm5Hc3F""#,
            r#"const apiKey = 'q8Rk2Lm9Qz4Tv7Wb';"#,
            r#"  "client_secret": "Hc3Fg6Wp0Sy2Ue8T","#,
            r#"DB_PASSWORD := "p4ssW0rdRand0m!x""#,
            r#"self.auth_token = "a1b2c3d4e5f6a7b8c9d0""#,
        ] {
            assert_eq!(label(line), Some("hard-coded credential"), "{line}");
        }
        for line in [
            r#"password = "changeme""#,
            r#"api_key = "${API_KEY}""#,
            r#"api_key = "xxxxxxxxxxxxxxxx""#,
            r#"token = "your-api-token-here""#,
            r#"secret = "{{ vault.secret }}""#,
            r#"password = "<your password>""#,
            r#"api_key = "aaaaaaaaaaaaaaaaaaaa""#,
            // Long and mixed but low entropy.
            r#"token = "abababababab1212""#,
            // Not a secret's name.
            r#"tokenizer = "bert-base-uncased-v2""#,
            r#"max_tokens = "Zx4Vt7Rb1Nm5Hc3F""#,
            // Unquoted values count only in config files.
            "api_key = Zx4Vt7Rb1Nm5Hc3F",
            r#"api_key = os.environ["API_KEY"]"#,
        ] {
            assert_eq!(label(line), None, "{line}");
        }
        assert_eq!(
            find("API_KEY=Zx4Vt7Rb1Nm5Hc3F", true).map(|f| f.label),
            Some("hard-coded credential")
        );
        assert_eq!(find("API_KEY=$FROM_VAULT_123abc", true), None);
    }

    #[test]
    fn entropy_is_bits_per_character() {
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-12);
        assert!(entropy("changeme") < MIN_ASSIGNED_ENTROPY);
    }

    #[test]
    fn redaction_masks_urls_and_tokens() {
        let text = format!(
            "git https://bot:{}@github.com/x/y?access_token=abcdef123456 and {}",
            github(),
            aws_id()
        );
        let red = redact_text(&text);
        assert!(
            !red.contains(&github()) && !red.contains(&aws_id()),
            "{red}"
        );
        assert!(!red.contains("abcdef123456"), "{red}");
        assert!(
            red.starts_with("git https://…@github.com/x/y?access_token="),
            "{red}"
        );
        assert_eq!(redact_text("serde 1.0.190"), "serde 1.0.190");
    }
}
