//! Pushing through the `git` program, for the remotes this build of libgit2 cannot speak to
//! (HTTPS and SSH): `git push` brings everything the user already set up for that remote — SSH
//! config, agent and keys, credential helpers, proxies, `insteadOf` — and bosun's token, when
//! one is given, is offered after the user's own credential helpers by a helper that reads it
//! from the environment (never from the command line, where other users could see it).
//!
//! git never prompts: no terminal prompt, no askpass program, SSH in batch mode unless the user
//! chose their own SSH command — a password that is needed is a refused credential, not a
//! prompt that would wait forever under the console.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{GitError, Pushed, Session};

/// The variable the credential helper reads the token from.
const TOKEN_VARIABLE: &str = "BOSUN_PUSH_TOKEN";

/// The `git` program on `PATH`, if there is one.
pub(super) fn git_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("git"))
        .find(|candidate| candidate.is_file())
}

/// `git push --porcelain REMOTE COMMIT:refs/heads/BRANCH`, never forced.
pub(super) fn push(
    git: &Path,
    repo_root: &Path,
    session: &Session<'_>,
    commit: &str,
    branch: &str,
) -> Result<Pushed, GitError> {
    tracing::debug!(remote = session.remote, url = %session.url, commit, branch, "pushing with git");
    let refspec = format!("{commit}:refs/heads/{branch}");
    let out = command(git, repo_root, session)
        .args(["push", "--porcelain", "--", session.remote, &refspec])
        .output()
        .map_err(|e| failed(session, &format!("cannot run {}: {e}", git.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // `--porcelain`: one line per ref, `!` for a refused one, with git's summary and reason.
    let refused = stdout
        .lines()
        .find(|l| l.starts_with('!'))
        .map(|l| l.rsplit('\t').next().unwrap_or(l).trim().to_string());
    if let Some(summary) = refused {
        let remote_lines = remote_lines(session, &stderr);
        let reason = if remote_lines.is_empty() {
            session.redact(&summary)
        } else {
            format!(
                "{} (remote: {})",
                session.redact(&summary),
                remote_lines.join("; ")
            )
        };
        return Err(GitError::PushRejected {
            remote: session.remote.to_string(),
            branch: branch.to_string(),
            reason,
        });
    }
    if !out.status.success() {
        return Err(classify(session, &stderr));
    }
    Ok(Pushed {
        remote_url: session.url.clone(),
        branch: branch.to_string(),
        commit: commit.to_string(),
    })
}

/// `git ls-remote` in the push direction's URL: reachable, and the credentials are taken.
pub(super) fn check(git: &Path, repo_root: &Path, session: &Session<'_>) -> Result<(), GitError> {
    let out = command(git, repo_root, session)
        .args(["ls-remote", "--heads", "--", session.configured])
        .output()
        .map_err(|e| failed(session, &format!("cannot run {}: {e}", git.display())))?;
    if out.status.success() {
        return Ok(());
    }
    Err(classify(session, &String::from_utf8_lossy(&out.stderr)))
}

/// git in `repo_root`, unable to prompt, with bosun's token as the last credential helper.
fn command(git: &Path, repo_root: &Path, session: &Session<'_>) -> Command {
    let mut cmd = Command::new(git);
    cmd.current_dir(repo_root)
        .stdin(Stdio::null())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "")
        .env("SSH_ASKPASS", "")
        .env_remove(TOKEN_VARIABLE);
    let own_ssh =
        std::env::var_os("GIT_SSH_COMMAND").is_some() || std::env::var_os("GIT_SSH").is_some();
    let mut config: Vec<(&str, String)> = Vec::new();
    if !own_ssh {
        // (core.sshCommand, when the user set one, still wins over this default.)
        config.push(("core.sshCommand", "ssh -o BatchMode=yes".into()));
    }
    if let Some(token) = session.token {
        let user = "x-access-token";
        config.push((
            "credential.helper",
            format!(
                "!f() {{ test \"$1\" = get && echo username={user} && echo \"password=${TOKEN_VARIABLE}\"; }}; f"
            ),
        ));
        cmd.env(TOKEN_VARIABLE, token);
    }
    // Passed as GIT_CONFIG_* (git ≥ 2.31), after whatever the user configured.
    let base = std::env::var("GIT_CONFIG_COUNT")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    for (i, (key, value)) in config.iter().enumerate() {
        cmd.env(format!("GIT_CONFIG_KEY_{}", base + i), key)
            .env(format!("GIT_CONFIG_VALUE_{}", base + i), value);
    }
    cmd.env("GIT_CONFIG_COUNT", (base + config.len()).to_string());
    cmd
}

/// What git said on a failure, as refused credentials or the transport's reason.
fn classify(session: &Session<'_>, stderr: &str) -> GitError {
    let lower = stderr.to_lowercase();
    let refused = [
        "authentication failed",
        "could not read username",
        "could not read password",
        "permission denied (publickey",
        "invalid username or password",
        "403",
    ]
    .iter()
    .any(|needle| lower.contains(needle));
    if refused {
        let mut tried =
            vec!["git's own credentials (SSH agent and keys, credential helpers)".into()];
        if session.token.is_some() {
            tried.push("the token".into());
        }
        return GitError::CredentialsRefused {
            remote: session.remote.to_string(),
            url: session.url.clone(),
            tried,
        };
    }
    let lines: Vec<String> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| session.redact(l))
        .collect();
    failed(session, &lines.join("; "))
}

fn failed(session: &Session<'_>, reason: &str) -> GitError {
    GitError::RemoteFailed {
        remote: session.remote.to_string(),
        url: session.url.clone(),
        reason: session.redact(reason),
    }
}

/// The `remote: …` lines of git's stderr, masked.
fn remote_lines(session: &Session<'_>, stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("remote:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| session.redact(l))
        .collect()
}
