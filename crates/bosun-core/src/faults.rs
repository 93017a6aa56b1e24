//! Crash points for the chaos tests. With `BOSUN_CRASH_AT=NAME` set, bosun kills itself with
//! SIGKILL — exactly what `kill -9` does: no unwinding, no flush — on reaching the point NAME,
//! so a test can stop it between any two steps of an approval and check what the next start
//! makes of it. Unset (always, in real use), a point costs one environment lookup.

/// Dies here when `BOSUN_CRASH_AT` names this point.
pub fn crash_point(name: &str) {
    if std::env::var_os("BOSUN_CRASH_AT").is_some_and(|v| v == name) {
        // SAFETY: kill(getpid(), SIGKILL) has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
