//! Disk full: the repository, bosun's state directory and the run checkouts live on a small
//! tmpfs; while `bosun run --headless` works through tasks that auto-approve (so runs, gates
//! and approvals are all under way), a separate writer fills the file system at a random
//! moment, holds it full for a while and frees it; bosun is then killed (SIGKILL or SIGTERM).
//! Afterwards the store opens, nothing decided is lost, and git and bosun agree: a run is
//! `merged` iff its commit is on `main`, each merged run's task is ticked there, the checkout
//! is clean, there is one audit entry per approval and the chain verifies.
//!
//! `[store] min_free_mb = 0` here, so writes really meet ENOSPC (with the default guard bosun
//! stops starting runs well before). Mounting a tmpfs needs root, as in CI.
//!
//! `BOSUN_DISKFULL_ITERATIONS` sets the number of trials (default 4, what CI runs) and
//! `BOSUN_DISKFULL_SEED` the moments (a fixed default); the long run recorded in
//! RELIABILITY.md is
//! `BOSUN_DISKFULL_ITERATIONS=50 cargo test --test disk_full -- --nocapture`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::clean;

/// A tmpfs mounted for one trial, unmounted when dropped.
struct Mount {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

impl Mount {
    /// A tmpfs of `mb` MiB, or None (after saying why) when this process cannot mount one.
    fn new(mb: u32) -> Option<Self> {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("mnt");
        std::fs::create_dir(&path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(&path)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { _tmp: tmp, path }),
            Ok(o) => {
                common::skip(
                    "disk_full",
                    &format!(
                        "cannot mount a tmpfs (run as root): {}",
                        String::from_utf8_lossy(&o.stderr).trim()
                    ),
                );
                None
            }
            Err(e) => {
                common::skip("disk_full", &format!("cannot run mount: {e}"));
                None
            }
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A small deterministic generator for the trial's timings.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    // The last partial block: byte by byte until nothing fits.
    while file.write_all(&[0]).is_ok() {}
}

#[test]
fn a_full_disk_at_any_moment_loses_nothing_decided() {
    let iterations = common::env_number("BOSUN_DISKFULL_ITERATIONS", 4);
    // `BOSUN_DISKFULL_SEED` picks other moments.
    let seed = common::env_number("BOSUN_DISKFULL_SEED", 0x5eed_d15c);
    let mut rng = Lcg(seed);
    let started = Instant::now();
    let (mut full_hits, mut merged_total) = (0, 0);
    for trial in 1..=iterations {
        let Some(mount) = Mount::new(14) else { return };
        let repo = common::auto_approving_repository(&mount.path, 30, 0);
        let mut child = clean(env!("CARGO_BIN_EXE_bosun"), &repo)
            .args(["run", "--headless"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(50 + rng.below(900));
        let hold = Duration::from_millis(50 + rng.below(1_000));
        std::thread::sleep(delay);
        let filler = mount.path.join("filler");
        fill(&filler);
        std::thread::sleep(hold);
        std::fs::remove_file(&filler).unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(1_500)));
        let how = if trial % 2 == 0 { "SIGTERM" } else { "SIGKILL" };
        if child.try_wait().unwrap().is_none() {
            if how == "SIGTERM" {
                // SAFETY: kill(2) on our own child's pid.
                unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            } else {
                child.kill().unwrap();
            }
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("No space left") || stderr.contains("StorageFull") {
            full_hits += 1;
        }
        let what = format!("trial {trial} (full after {delay:?} for {hold:?}, then {how})");
        let merged = common::git_and_bosun_agree(&repo, &what);
        merged_total += merged;
        eprintln!("{what}: store opens, {merged} merged, invariants hold");
    }
    eprintln!(
        "{iterations} trials in {:.0?}: bosun met a full disk in {full_hits}; {merged_total} runs merged in all",
        started.elapsed()
    );
}
