//! Process groups: every agent runs in its own group (its pgid is its pid), so the agent and
//! everything it started — a shell's `sleep 1000 &`, a test runner's workers — end together.

use std::io;
use std::time::{Duration, Instant};

/// How long a group gets between SIGTERM and SIGKILL.
pub(super) const KILL_GRACE: Duration = Duration::from_secs(2);

/// How often a dying group is checked.
pub(super) const POLL: Duration = Duration::from_millis(20);

/// Sends `signal` to group `pgid`. Refuses the groups that are never an agent's: 0 and
/// negatives (which `killpg` reads as "my own group" or worse), 1 (init's) and bosun's own.
/// A group that is already gone is not an error.
pub(super) fn signal_group(pgid: i32, signal: i32) {
    if !is_agent_group(pgid) {
        return;
    }
    // SAFETY: killpg has no memory-safety preconditions; the pgid was checked above.
    let sent = unsafe { libc::killpg(pgid, signal) };
    if sent != 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::ESRCH) {
            tracing::warn!(pgid, signal, %error, "cannot signal agent process group");
        }
    }
}

fn is_agent_group(pgid: i32) -> bool {
    // SAFETY: getpgrp cannot fail and has no preconditions.
    pgid > 1 && pgid != unsafe { libc::getpgrp() }
}

/// Whether any process of group `pgid` is still running. Zombies do not count: an orphan
/// killed with its group stays a zombie until init reaps it, which in a container may be never.
pub fn process_group_alive(pgid: i32) -> bool {
    if !is_agent_group(pgid) {
        return false;
    }
    if let Some(alive) = live_member_in_proc(pgid) {
        return alive;
    }
    // No /proc (not Linux): signal 0 only checks for existence (zombies included).
    // SAFETY: killpg has no memory-safety preconditions; signal 0 sends nothing.
    let probe = unsafe { libc::killpg(pgid, 0) };
    probe == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Scans `/proc/*/stat` for a non-zombie process whose group is `pgid`; `None` without `/proc`.
fn live_member_in_proc(pgid: i32) -> Option<bool> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut saw_a_process = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue; // exited meanwhile
        };
        saw_a_process = true;
        // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
        let Some(fields) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = fields.split_whitespace();
        let state = fields.next();
        let group = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
        if group == Some(pgid) && !matches!(state, Some("Z" | "X" | "x")) {
            return Some(true);
        }
    }
    // An empty /proc means it is not procfs; let the caller ask the kernel instead.
    saw_a_process.then_some(false)
}

/// Ends group `pgid`: SIGTERM, then SIGKILL after a short grace (2 s) for whatever is left.
/// A group that is already gone is fine. For an agent that outlived bosun (after a crash);
/// blocks for up to the grace period, so async code should call it via `spawn_blocking`.
///
/// A pgid recorded before a crash could, in principle, have been reused by an unrelated group
/// since; callers should only pass pgids of runs that were still marked running.
pub fn kill_process_group(pgid: i32) {
    if !process_group_alive(pgid) {
        return;
    }
    signal_group(pgid, libc::SIGTERM);
    let until = Instant::now() + KILL_GRACE;
    while Instant::now() < until {
        if !process_group_alive(pgid) {
            return;
        }
        std::thread::sleep(POLL);
    }
    signal_group(pgid, libc::SIGKILL);
}

/// Async version for the runner: waits for a group that was just SIGKILLed to disappear
/// (bounded), so callers can rely on it being gone once the run returns.
pub(super) async fn wait_gone(pgid: i32, limit: Duration) -> bool {
    let until = tokio::time::Instant::now() + limit;
    loop {
        if !process_group_alive(pgid) {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_touches_init_bosun_or_special_ids() {
        // SAFETY: getpgrp has no preconditions.
        let own = unsafe { libc::getpgrp() };
        for pgid in [-1, 0, 1, own] {
            assert!(!process_group_alive(pgid), "{pgid}");
            signal_group(pgid, 0);
            kill_process_group(pgid);
        }
    }

    #[test]
    fn a_group_lives_until_killed() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = i32::try_from(child.id()).unwrap();
        assert!(process_group_alive(pgid));
        kill_process_group(pgid);
        // Our own unreaped child is a zombie now, which does not count.
        assert!(!process_group_alive(pgid));
        let status = child.wait().unwrap();
        assert!(!status.success());
        // Gone for good: a second kill is a no-op.
        kill_process_group(pgid);
    }
}
