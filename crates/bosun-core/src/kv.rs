//! The store's engine: named trees of byte keys and values (ordered, as in sled, which bosun
//! used before) over the tables of one [redb](https://www.redb.org) file. redb is a copy-on-write
//! B-tree with checksummed, two-slot commits: a commit is all or nothing, a crash or a full disk
//! leaves the last committed state, and freed pages are reused (the file stays near the size of
//! what it holds).
//!
//! Every write is its own transaction, committed durably (fsync) unless it says otherwise
//! ([`Tree::insert_lazily`]: made durable by the next durable commit, or [`Db::flush`]);
//! [`Db::write`] groups writes to several trees into one transaction. Reads see the last
//! commit and never block writes. Iterators own their read transaction, so they can be kept
//! while others write.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::{ReadableDatabase as _, ReadableTable as _, ReadableTableMetadata as _};

/// MB available to unprivileged users on the file system holding `dir` (or its nearest existing
/// ancestor); `None` when it cannot be told.
pub fn free_mb(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt as _;
    let existing = dir.ancestors().find(|d| d.exists())?;
    let path = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes only into the zeroed struct we own; `path` is NUL-terminated.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some(stat.f_bavail.saturating_mul(stat.f_frsize) / (1024 * 1024))
}

/// What the engine says went wrong, in its words.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct KvError(pub String);

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for KvError {
            fn from(e: $t) -> Self {
                Self(e.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::CompactionError,
    redb::SetDurabilityError
);

type Bytes = &'static [u8];

/// Most memory redb keeps of the file's pages (its default, 1 GiB, is more than a console
/// should hold). Pages read stay cached up to this: with 64 MiB, opening one large review (its
/// 50,000 annotations) left 8 MB of pages in the console for good, and every other review
/// more; the pages come again from the system's file cache when read again (no measurable
/// change to `runs --json`, the board's start or 20 merges a task at a time; issue 20).
const CACHE_BYTES: usize = 4 * 1024 * 1024;

fn table(name: &str) -> redb::TableDefinition<'_, Bytes, Bytes> {
    redb::TableDefinition::new(name)
}

struct Inner {
    db: redb::Database,
    /// A commit since the last durable one was not durable.
    lazy: AtomicBool,
}

/// One database file.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

/// One transaction's view of the trees, for writes that must happen together.
pub struct Tx<'t> {
    txn: &'t redb::WriteTransaction,
}

impl Tx<'_> {
    /// The value of `key` in `tree`, as this transaction sees it.
    pub fn get(&self, tree: &Tree, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        let t = self.txn.open_table(table(&tree.name))?;
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Sets `key` to `value` in `tree`; the previous value.
    pub fn insert(
        &self,
        tree: &Tree,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, KvError> {
        let mut t = self.txn.open_table(table(&tree.name))?;
        Ok(t.insert(key, value)?.map(|v| v.value().to_vec()))
    }

    /// Removes `key` from `tree`; the previous value.
    pub fn remove(&self, tree: &Tree, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        let mut t = self.txn.open_table(table(&tree.name))?;
        Ok(t.remove(key)?.map(|v| v.value().to_vec()))
    }
}

impl Db {
    /// Opens the database file at `path`, creating it if needed. Another handle on the same file
    /// in this process (one being dropped) is waited for, up to a second.
    pub fn open(path: &Path) -> Result<Self, KvError> {
        Self::create_atomically(path)?;
        let mut tries = 0;
        let db = loop {
            match redb::Builder::new()
                .set_cache_size(CACHE_BYTES)
                .create(path)
            {
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                lazy: AtomicBool::new(false),
            }),
        })
    }

    /// Makes the database file at `path` if there is none, so that a crash can never leave a
    /// half-made one (whose header redb would refuse for good): the file is made under another
    /// name and renamed into place. An empty file at `path` — one that a crash left before its
    /// header was written, so nothing was ever committed to it — is made again.
    fn create_atomically(path: &Path) -> Result<(), KvError> {
        let io = |e: std::io::Error| KvError(format!("{}: {e}", path.display()));
        match std::fs::metadata(path) {
            Ok(m) if m.len() > 0 => return Ok(()),
            Ok(_) | Err(_) => {}
        }
        let fresh = path.with_extension("redb.new");
        match std::fs::remove_file(&fresh) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        drop(redb::Database::create(&fresh)?);
        std::fs::File::open(&fresh)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        std::fs::rename(&fresh, path).map_err(io)?;
        if let Some(dir) = path.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Opens the database at `path` for this caller alone and compacts it (moves pages to the
    /// start of the file and truncates what is free at its end); whether anything changed.
    pub fn compact_file(path: &Path) -> Result<bool, KvError> {
        let mut db = redb::Database::create(path)?;
        let mut changed = false;
        while db.compact(redb::CompactionMode::default())? {
            changed = true;
        }
        Ok(changed)
    }

    /// The tree `name` (made on its first write).
    pub fn open_tree(&self, name: &str) -> Result<Tree, KvError> {
        Ok(Tree {
            db: self.clone(),
            name: Arc::from(name),
        })
    }

    /// The names of the trees that exist.
    pub fn tree_names(&self) -> Result<Vec<String>, KvError> {
        use redb::TableHandle as _;
        let txn = self.inner.db.begin_read()?;
        Ok(txn.list_tables()?.map(|t| t.name().to_string()).collect())
    }

    /// Runs `f` in one write transaction, committed durably when it returns `Ok` (and
    /// abandoned, changing nothing, when it returns `Err`).
    pub fn write<R, E: From<KvError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let txn = self.inner.db.begin_write().map_err(KvError::from)?;
        let out = f(&Tx { txn: &txn })?;
        txn.commit().map_err(KvError::from)?;
        self.inner.lazy.store(false, Ordering::SeqCst);
        Ok(out)
    }

    /// Makes every commit so far durable.
    pub fn flush(&self) -> Result<(), KvError> {
        if self.inner.lazy.swap(false, Ordering::SeqCst) {
            let txn = self.inner.db.begin_write()?;
            if let Err(e) = txn.commit() {
                self.inner.lazy.store(true, Ordering::SeqCst);
                return Err(e.into());
            }
        }
        Ok(())
    }

    fn commit(&self, mut txn: redb::WriteTransaction, durable: bool) -> Result<(), KvError> {
        if !durable {
            txn.set_durability(redb::Durability::None)?;
        }
        txn.commit()?;
        self.inner.lazy.store(!durable, Ordering::SeqCst);
        Ok(())
    }
}

/// A batch of writes to one tree, applied in one transaction.
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.ops
            .push((key.as_ref().to_vec(), Some(value.as_ref().to_vec())));
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: impl AsRef<[u8]>) {
        self.ops.push((key.as_ref().to_vec(), None));
    }
}

/// Key-value pairs in key order (either way), read from one snapshot.
pub struct Iter {
    range: Option<redb::OwnedRange<Bytes, Bytes>>,
    error: Option<KvError>,
}

/// A key and its value.
pub type Pair = (Vec<u8>, Vec<u8>);

type Entry = Result<Pair, KvError>;

impl Iter {
    fn map(item: Option<Result<ItemGuards, redb::StorageError>>) -> Option<Entry> {
        item.map(|r| {
            r.map(|(k, v)| (k.value().to_vec(), v.value().to_vec()))
                .map_err(KvError::from)
        })
    }

    fn failed(e: KvError) -> Self {
        Self {
            range: None,
            error: Some(e),
        }
    }
}

type ItemGuards = (redb::OwnedAccessGuard<Bytes>, redb::OwnedAccessGuard<Bytes>);

impl Iterator for Iter {
    type Item = Entry;
    fn next(&mut self) -> Option<Entry> {
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        Self::map(self.range.as_mut()?.next())
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Entry> {
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        Self::map(self.range.as_mut()?.next_back())
    }
}

/// The smallest key greater than every key starting with `prefix` (None: there is none).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A named, ordered map of byte keys to byte values.
#[derive(Clone)]
pub struct Tree {
    db: Db,
    name: Arc<str>,
}

impl Tree {
    /// Reads with the tree as the last commit left it; None when the tree does not exist yet.
    fn read<R>(
        &self,
        f: impl FnOnce(&redb::ReadOnlyTable<Bytes, Bytes>) -> Result<R, KvError>,
    ) -> Result<Option<R>, KvError> {
        let txn = self.db.inner.db.begin_read()?;
        match txn.open_table(table(&self.name)) {
            Ok(t) => f(&t).map(Some),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes in a transaction of its own.
    fn change<R>(
        &self,
        durable: bool,
        f: impl FnOnce(&mut redb::Table<'_, Bytes, Bytes>) -> Result<R, KvError>,
    ) -> Result<R, KvError> {
        let txn = self.db.inner.db.begin_write()?;
        let out = {
            let mut t = txn.open_table(table(&self.name))?;
            f(&mut t)?
        };
        self.db.commit(txn, durable)?;
        Ok(out)
    }

    /// The value of `key`.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self
            .read(|t| Ok(t.get(key.as_ref())?.map(|v| v.value().to_vec())))?
            .flatten())
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, KvError> {
        Ok(self.get(key)?.is_some())
    }

    /// How many keys the tree has.
    pub fn len(&self) -> Result<u64, KvError> {
        Ok(self.read(|t| Ok(t.len()?))?.unwrap_or(0))
    }

    /// Whether the tree has no key.
    pub fn is_empty(&self) -> Result<bool, KvError> {
        Ok(self.len()? == 0)
    }

    /// Sets `key` to `value`, durably; the previous value.
    pub fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>, KvError> {
        self.change(true, |t| {
            Ok(t.insert(key.as_ref(), value.as_ref())?
                .map(|v| v.value().to_vec()))
        })
    }

    /// Sets `key` to `value`, made durable by the next durable commit (for records a crash
    /// may lose, such as progress events).
    pub fn insert_lazily(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<(), KvError> {
        self.change(false, |t| {
            t.insert(key.as_ref(), value.as_ref())?;
            Ok(())
        })
    }

    /// Removes `key`, durably; the previous value.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, KvError> {
        self.change(true, |t| {
            Ok(t.remove(key.as_ref())?.map(|v| v.value().to_vec()))
        })
    }

    /// Applies `batch` in one durable transaction.
    pub fn apply_batch(&self, batch: Batch) -> Result<(), KvError> {
        if batch.ops.is_empty() {
            return Ok(());
        }
        self.change(true, |t| {
            for (k, v) in &batch.ops {
                match v {
                    Some(v) => {
                        t.insert(k.as_slice(), v.as_slice())?;
                    }
                    None => {
                        t.remove(k.as_slice())?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Sets `key` to what `f` makes of its current value (None removes it), durably; the new
    /// value.
    pub fn update_and_fetch(
        &self,
        key: impl AsRef<[u8]>,
        f: impl FnOnce(Option<&[u8]>) -> Option<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>, KvError> {
        self.change(true, |t| {
            let old = t.get(key.as_ref())?.map(|v| v.value().to_vec());
            let new = f(old.as_deref());
            match &new {
                Some(v) => {
                    t.insert(key.as_ref(), v.as_slice())?;
                }
                None => {
                    t.remove(key.as_ref())?;
                }
            }
            Ok(new)
        })
    }

    /// Removes every key, durably.
    pub fn clear(&self) -> Result<(), KvError> {
        self.change(true, |t| {
            t.retain(|_, _| false)?;
            Ok(())
        })
    }

    /// Keys and values between `lower` and `upper`, in key order (`.rev()` for the other way).
    pub fn range(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> Iter {
        let opened = self.read(|t| Ok(t.range_owned((lower, upper))?));
        match opened {
            Ok(range) => Iter { range, error: None },
            Err(e) => Iter::failed(e),
        }
    }

    /// Every key and value, in key order.
    pub fn iter(&self) -> Iter {
        self.range(Bound::Unbounded, Bound::Unbounded)
    }

    /// The keys starting with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        let prefix = prefix.as_ref();
        match prefix_end(prefix) {
            Some(end) => self.range(Bound::Included(prefix), Bound::Excluded(&end)),
            None => self.range(Bound::Included(prefix), Bound::Unbounded),
        }
    }

    /// The last key and its value.
    pub fn last(&self) -> Result<Option<Pair>, KvError> {
        self.iter().next_back().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_read_write_scan_and_group_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("x.redb")).unwrap();
        let a = db.open_tree("a").unwrap();
        let b = db.open_tree("b").unwrap();
        assert_eq!(
            a.get(b"k").unwrap(),
            None,
            "a tree that does not exist reads empty"
        );
        assert_eq!(a.iter().count(), 0);
        assert_eq!(a.insert(b"k1", b"v1").unwrap(), None);
        assert_eq!(a.insert(b"k1", b"v2").unwrap().as_deref(), Some(&b"v1"[..]));
        a.insert_lazily(b"k2", b"w").unwrap();
        a.insert(b"l", b"x").unwrap();
        a.insert([b'k', 0xff], b"y").unwrap();
        let keys: Vec<Vec<u8>> = a.scan_prefix(b"k").map(|kv| kv.unwrap().0).collect();
        assert_eq!(keys, [b"k1".to_vec(), b"k2".to_vec(), vec![b'k', 0xff]]);
        assert_eq!(a.last().unwrap().unwrap().0, b"l");
        assert_eq!(a.iter().next_back().unwrap().unwrap().1, b"x");
        assert_eq!(a.len().unwrap(), 4);
        // An open iterator keeps its snapshot while others write.
        let mut it = a.iter();
        a.remove(b"k1").unwrap();
        assert_eq!(it.next().unwrap().unwrap().0, b"k1");
        // A failing group of writes changes nothing.
        let failed: Result<(), KvError> = db.write(|tx| {
            tx.insert(&b, b"n", b"1")?;
            Err(KvError("no".into()))
        });
        assert!(failed.is_err());
        assert_eq!(b.get(b"n").unwrap(), None);
        db.write::<_, KvError>(|tx| {
            tx.insert(&b, b"n", b"1")?;
            tx.remove(&a, b"l")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(b.get(b"n").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(a.get(b"l").unwrap(), None);
        let mut names = db.tree_names().unwrap();
        names.sort();
        assert_eq!(names, ["a", "b"]);
        db.flush().unwrap();
        a.clear().unwrap();
        assert!(a.is_empty().unwrap());
        assert_eq!(
            b.update_and_fetch(b"n", |v| v.map(|v| [v, b"2"].concat()))
                .unwrap()
                .as_deref(),
            Some(&b"12"[..])
        );
    }

    #[test]
    fn a_file_a_crash_left_empty_is_made_again_and_nothing_half_made_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.redb");
        // A crash between creating the file and writing its header.
        std::fs::write(&file, b"").unwrap();
        std::fs::write(dir.path().join("x.redb.new"), b"half").unwrap();
        let db = Db::open(&file).unwrap();
        db.open_tree("t").unwrap().insert(b"k", b"v").unwrap();
        drop(db);
        assert!(!dir.path().join("x.redb.new").exists());
        let db = Db::open(&file).unwrap();
        assert_eq!(
            db.open_tree("t").unwrap().get(b"k").unwrap().as_deref(),
            Some(&b"v"[..])
        );
        // A file with data that is not a database is refused, not replaced.
        std::fs::write(dir.path().join("y.redb"), b"something else").unwrap();
        assert!(Db::open(&dir.path().join("y.redb")).is_err());
    }

    #[test]
    fn prefix_end_carries_past_0xff() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[b'a', 0xff]), Some(b"b".to_vec()));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }
}
