//! Helpers shared by the integration tests: commands with a clean environment and git.
// Each test crate uses only some of these.
#![allow(dead_code)]

pub mod llm_server;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

/// A command with no inherited git, bosun or logging settings (so a test run from a git hook
/// or with `BOSUN_*` set still works on its temporary repository only).
pub fn clean(program: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("BOSUN_") || name.starts_with("GIT_") {
            cmd.env_remove(&key);
        }
    }
    cmd
}

/// Runs git in `dir` with a test identity, asserts it succeeded, and returns its stdout.
pub fn git_output(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = clean("git", dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "status.showUntrackedFiles=all",
        ])
        .args(args)
        .output()
        .expect("git runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "git {args:?} failed: {stderr}");
    out.stdout
}

/// [`git_output`] as text.
pub fn git(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(git_output(dir, args)).expect("git prints UTF-8")
}

/// Runs `cmd` to the end: whether it succeeded, its stdout and its stderr (lossy UTF-8).
pub fn outcome(mut cmd: Command) -> (bool, String, String) {
    let out = cmd.output().expect("the command runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The path of a scripted agent in `tests/agents/`.
pub fn agent(name: &str) -> String {
    format!("{}/tests/agents/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A TOML string literal.
pub fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Whether `tool` (checked with `tool version_flag`) can be run; `false` means the calling
/// test should return early, skipped. That happens only outside CI and is said on stderr,
/// past the harness's capture, so a skip is seen rather than passing silently: `.ci/run`
/// installs every tool the tests need, so with `CI` set a missing tool fails the test.
pub fn tool_available(tool: &str, version_flag: &str, test: &str) -> bool {
    match Command::new(tool).arg(version_flag).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => panic!(
            "`{tool} {version_flag}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => skip(
            test,
            &format!("{tool} is not installed (install {tool} to run it; .ci/run does)"),
        ),
        Err(e) => panic!("cannot run {tool}: {e}"),
    }
}

/// Skips `test` for `why`: says so on stderr (past the harness's capture) and returns
/// `false`, or fails the test under `CI`, where everything a test needs is installed.
pub fn skip(test: &str, why: &str) -> bool {
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} must run in CI, but {why}"
    );
    let _ = writeln!(std::io::stderr(), "skipping {test}: {why}");
    false
}
