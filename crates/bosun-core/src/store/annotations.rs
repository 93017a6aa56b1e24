//! How a run's annotations are laid out in the `annotations` tree: one entry per changed file,
//! so the review's first screen reads those of the files it shows and not the tens of thousands
//! of a large change, plus one entry with the run's notices and risks, all files together, for
//! the risk card.
//!
//! - `<run id> NUL <path>`: the file's annotations (the whole change's, such as its size, under
//!   the empty path), a JSON array in the analysis's order;
//! - `<run id> SOH`: every annotation that is not `info`, a JSON array (a copy).

use std::collections::BTreeMap;

use super::{StoreError, decode, encode, kv};
use crate::model::{Annotation, RunId, Severity};

/// The first byte after the run id of a file's entry.
const FILE: u8 = 0;
/// The byte after the run id of the notable (not `info`) annotations' entry.
const NOTABLE: u8 = 1;

/// The prefix of `run`'s file entries.
fn files_prefix(run: &RunId) -> Vec<u8> {
    let mut key = run.0.as_bytes().to_vec();
    key.push(FILE);
    key
}

fn file_key(run: &RunId, path: &str) -> Vec<u8> {
    let mut key = files_prefix(run);
    key.extend_from_slice(path.as_bytes());
    key
}

fn notable_key(run: &RunId) -> Vec<u8> {
    let mut key = run.0.as_bytes().to_vec();
    key.push(NOTABLE);
    key
}

/// A key and its value.
pub(super) type Entry = (Vec<u8>, Vec<u8>);

/// The entries that hold `annotations` of `run` (values are JSON arrays).
pub(super) fn entries(run: &RunId, annotations: &[Annotation]) -> Result<Vec<Entry>, StoreError> {
    let mut by_path: BTreeMap<&str, Vec<&Annotation>> = BTreeMap::new();
    for a in annotations {
        by_path.entry(a.path.as_str()).or_default().push(a);
    }
    let mut out = Vec::with_capacity(by_path.len() + 1);
    for (path, list) in by_path {
        out.push((file_key(run, path), encode("annotations", &list)?));
    }
    let notable: Vec<&Annotation> = annotations
        .iter()
        .filter(|a| a.severity != Severity::Info)
        .collect();
    if !notable.is_empty() {
        out.push((notable_key(run), encode("annotations", &notable)?));
    }
    Ok(out)
}

/// The keys of `run`'s entries now in `tree`.
pub(super) fn keys(tree: &kv::Tree, run: &RunId) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut keys = Vec::new();
    for kv in tree.scan_prefix(files_prefix(run)) {
        keys.push(kv?.0.to_vec());
    }
    let notable = notable_key(run);
    if tree.contains_key(&notable)? {
        keys.push(notable);
    }
    Ok(keys)
}

fn read(what: &RunId, value: &[u8]) -> Result<Vec<Annotation>, StoreError> {
    decode(&format!("the annotations of run {what}"), value)
}

/// Every annotation of `run`, file by file (in path order).
pub(super) fn all(tree: &kv::Tree, run: &RunId) -> Result<Vec<Annotation>, StoreError> {
    let mut out = Vec::new();
    for kv in tree.scan_prefix(files_prefix(run)) {
        out.extend(read(run, &kv?.1)?);
    }
    // The review keeps them: a large change's 50,000 without the growth's spare room.
    out.shrink_to_fit();
    Ok(out)
}

/// The annotations of `run` on the files `paths`, and its notices and risks on every file.
pub(super) fn some(
    tree: &kv::Tree,
    run: &RunId,
    paths: &[String],
) -> Result<Vec<Annotation>, StoreError> {
    let mut out = match tree.get(notable_key(run))? {
        Some(v) => read(run, &v)?,
        None => Vec::new(),
    };
    // The notable ones are there already; of the files shown, the rest.
    let mut seen = std::collections::HashSet::new();
    for path in paths {
        if !seen.insert(path.as_str()) {
            continue;
        }
        if let Some(v) = tree.get(file_key(run, path))? {
            out.extend(
                read(run, &v)?
                    .into_iter()
                    .filter(|a| a.severity == Severity::Info),
            );
        }
    }
    Ok(out)
}
