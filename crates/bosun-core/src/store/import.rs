//! Stores written before bosun moved to redb were sled databases in `.bosun/store/`. At the
//! first open by this bosun, every tree is copied into `store.redb.importing`, which is
//! renamed to `store.redb` once complete (the commit point: a crash before it leaves the old
//! store to import again, after it the new one); the old directory is then renamed to
//! `store.sled-imported/`, kept until the operator deletes it.

use std::path::{Path, PathBuf};

use super::StoreError;
use super::kv;

/// Entries copied per transaction.
const BATCH: u64 = 2_000;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// The sled store bosun used before, if one is there to import.
pub fn legacy(state_dir: &Path) -> Option<PathBuf> {
    let dir = state_dir.join("store");
    (dir.join("db").is_file() || dir.join("conf").is_file()).then_some(dir)
}

/// Imports the sled store at `legacy` into a new database file `file` (see the module
/// documentation); returns how many entries were copied.
pub fn import(legacy: &Path, file: &Path) -> Result<u64, StoreError> {
    let importing = file.with_extension("redb.importing");
    if importing.exists() {
        std::fs::remove_file(&importing).map_err(io(&importing))?;
    }
    // sled lets go of its file lock a moment after this process's last handle is dropped
    // (its threads end): a lock conflict is tried again for up to ten seconds (one second was
    // not always enough under a loaded test run: the import test failed once in CI here).
    let config = sled::Config::new().path(legacy).flush_every_ms(None);
    let mut tries = 0;
    let old = loop {
        match config.open() {
            Err(sled::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock && tries < 500 =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => {
                break other.map_err(|e| {
                    StoreError::Engine(format!("cannot read the old sled store: {e}"))
                })?;
            }
        }
    };
    let new = kv::Db::open(&importing)?;
    let mut copied = 0u64;
    for name in old.tree_names() {
        let name = String::from_utf8_lossy(&name).into_owned();
        if name.starts_with("__sled__") {
            continue;
        }
        let src = old
            .open_tree(&name)
            .map_err(|e| StoreError::Engine(e.to_string()))?;
        let dst = new.open_tree(&name)?;
        let mut batch = kv::Batch::default();
        let mut n = 0u64;
        for kv in src.iter() {
            let (k, v) = kv.map_err(|e| StoreError::Engine(e.to_string()))?;
            batch.insert(k, v);
            n += 1;
            if n.is_multiple_of(BATCH) {
                dst.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        dst.apply_batch(batch)?;
        copied += n;
    }
    new.flush()?;
    drop(new);
    drop(old);
    std::fs::rename(&importing, file).map_err(io(&importing))?;
    let kept = legacy.with_file_name("store.sled-imported");
    if kept.exists() {
        std::fs::remove_dir_all(&kept).map_err(io(&kept))?;
    }
    std::fs::rename(legacy, &kept).map_err(io(legacy))?;
    Ok(copied)
}
