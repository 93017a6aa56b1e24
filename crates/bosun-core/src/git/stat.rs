//! What bosun's own checkout of a run's base left on disk — each file's stat data as git's
//! index records it — read right after the checkout, before the agent starts, and kept in
//! bosun's memory. The candidate commit ([`super::candidate`]) is built on a fresh index (the
//! checkout's own index is the agent's to change); seeded with this, it reads and hashes only
//! the files whose stat data changed since, as `git add -A` does, instead of every file of the
//! checkout (on a 1,000-file repository that was most of a run's overhead: each file hashed
//! twice, and libgit2 resolves every directory of each one's path to look up its attributes).
//!
//! A file keeps its cached stat only if it cannot have changed unseen: like git's "racily
//! clean" rule, an entry whose modification time is not strictly older than the index written
//! after the checkout is left out (a change within the same clock tick would not show in the
//! stat data), and an entry is used only where the fresh index has the same object and mode.
//! A file an agent changes gets a new change time (which no process can set back), size or
//! inode, so it is read and hashed as before.

use std::path::Path;

/// One file's stat data from the checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cached {
    ctime: (i32, u32),
    mtime: (i32, u32),
    dev: u32,
    ino: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u32,
    id: git2::Oid,
    path: Vec<u8>,
}

/// The stat data of a fresh checkout's files (empty: nothing known, every file is hashed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatCache(Vec<Cached>);

impl StatCache {
    /// The entries of `repo`'s index right after a checkout, but those not older than the
    /// index file itself (racily clean). Anything unreadable gives an empty cache.
    pub fn after_checkout(repo: &git2::Repository) -> StatCache {
        let Ok(index) = repo.index() else {
            return StatCache::default();
        };
        let Some(written) = index_mtime(&repo.path().join("index")) else {
            return StatCache::default();
        };
        let entries = index
            .iter()
            .filter(|e| (e.mtime.seconds(), e.mtime.nanoseconds()) < written)
            .map(|e| Cached {
                ctime: (e.ctime.seconds(), e.ctime.nanoseconds()),
                mtime: (e.mtime.seconds(), e.mtime.nanoseconds()),
                dev: e.dev,
                ino: e.ino,
                mode: e.mode,
                uid: e.uid,
                gid: e.gid,
                size: e.file_size,
                id: e.id,
                path: e.path,
            })
            .collect();
        StatCache(entries)
    }

    /// How many files it knows.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// It knows none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Gives the entries of `index` (read from the base tree, so without stat data) the cached
    /// stat data of the same path, object and mode.
    pub fn seed(&self, index: &mut git2::Index) -> Result<(), git2::Error> {
        for c in &self.0 {
            let same = index
                .get_path(Path::new(std::str::from_utf8(&c.path).unwrap_or("\0")), 0)
                .is_some_and(|e| e.id == c.id && e.mode == c.mode);
            if !same {
                continue;
            }
            index.add(&git2::IndexEntry {
                ctime: git2::IndexTime::new(c.ctime.0, c.ctime.1),
                mtime: git2::IndexTime::new(c.mtime.0, c.mtime.1),
                dev: c.dev,
                ino: c.ino,
                mode: c.mode,
                uid: c.uid,
                gid: c.gid,
                file_size: c.size,
                id: c.id,
                flags: 0,
                flags_extended: 0,
                path: c.path.clone(),
            })?;
        }
        Ok(())
    }
}

/// The index file's modification time as (seconds, nanoseconds), as git's index compares them.
fn index_mtime(path: &Path) -> Option<(i32, u32)> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok()?;
    Some((
        i32::try_from(meta.mtime()).ok()?,
        u32::try_from(meta.mtime_nsec()).ok()?,
    ))
}
