//! `secret` (risk): an added line that holds a credential. The detectors and what is exempt
//! are listed in the [module docs](super#secrets); this file holds them, the redaction applied
//! to anything a message quotes, and the rule itself.

use std::sync::LazyLock;

use regex::Regex;

use super::{ALLOW_SECRET_PRAGMA, FileContext, mask, paths, words};
use crate::diff::LineKind;
use crate::model::{Annotation, AnnotationKind, Severity};

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
static GITHUB: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})\b")
});
static GITLAB: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b((?:glpat|gldt|glrt|glptt)-[A-Za-z0-9_\-]{20,})"));
static SLACK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(xox[baprs]-[A-Za-z0-9\-]{10,}|https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)",
    )
});
static JWT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(ey[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]+)"));
static BEARER: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bbearer\s+([A-Za-z0-9_\-.=+/~]{20,})"));
static ASSIGNED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*(?::=|=>|==|=|:)\s*(?:[rRbBuU]?"(?P<dq>[^"\s]*)"|[rRbBuU]?'(?P<sq>[^'\s]*)'|`(?P<bq>[^`\s]*)`|(?P<bare>[^\s"'`,;#)}\]]+))"#,
    )
});
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| re(r"://[^/@\s]+@"));
static URL_SECRET_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)([?&](?:access_token|token|api_key|apikey|key|secret|password|sig)=)([^&#\s]+)")
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
    let found = |label, m: regex::Match<'_>| Found {
        label,
        start: m.start(),
        end: m.end(),
    };
    if let Some(m) = PRIVATE_KEY.find(line) {
        return Some(found("private key block", m));
    }
    if let Some(m) = AWS_KEY_ID
        .captures_iter(line)
        .filter_map(|c| c.get(1))
        .find(|m| !m.as_str().contains("EXAMPLE"))
    {
        return Some(found("AWS access key id", m));
    }
    if AWS_CONTEXT.is_match(line)
        && let Some(m) = BASE64_40.find_iter(line).find(|m| {
            let s = m.as_str().trim_end_matches('=');
            s.len() == 40
                && m.as_str().len() <= 42
                && !s.contains("EXAMPLE")
                && classes(s) >= 2
                && entropy(s) >= 3.5
        })
    {
        return Some(found("AWS secret access key", m));
    }
    for (label, pattern) in [
        ("GitHub token", &GITHUB),
        ("GitLab token", &GITLAB),
        ("Slack token", &SLACK),
    ] {
        if let Some(m) = pattern.captures(line).and_then(|c| c.get(1)) {
            return Some(found(label, m));
        }
    }
    if let Some(m) = JWT
        .captures_iter(line)
        .filter_map(|c| c.get(1))
        .find(|m| is_jwt(m.as_str()))
    {
        return Some(found("JSON Web Token", m));
    }
    if let Some(m) = BEARER
        .captures_iter(line)
        .filter_map(|c| c.get(1))
        .find(|m| is_random(m.as_str()))
    {
        return Some(found("bearer token", m));
    }
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
            return Some(found("hard-coded credential", value));
        }
    }
    None
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

/// `text` safe to put in a message: URL credentials (`https://user:pass@…`), secret query
/// parameters and anything a provider-specific detector recognises are masked.
pub(crate) fn redact(text: &str) -> String {
    let mut text = URL_USERINFO.replace_all(text, "://…@").into_owned();
    text = URL_SECRET_PARAM
        .replace_all(&text, |c: &regex::Captures<'_>| {
            format!("{}{}", &c[1], mask(&c[2]))
        })
        .into_owned();
    // Mask one finding at a time, rescanning, until the text is clean (each pass shortens a
    // secret to its mask, which no detector matches, so this ends).
    for _ in 0..32 {
        let Some(found) = find(&text, true) else {
            break;
        };
        let masked = mask(&text[found.start..found.end]);
        text.replace_range(found.start..found.end, &masked);
    }
    text
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
            let message = if found.label == "private key block" {
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
        let red = redact(&text);
        assert!(
            !red.contains(&github()) && !red.contains(&aws_id()),
            "{red}"
        );
        assert!(!red.contains("abcdef123456"), "{red}");
        assert!(
            red.starts_with("git https://…@github.com/x/y?access_token="),
            "{red}"
        );
        assert_eq!(redact("serde 1.0.190"), "serde 1.0.190");
    }
}
