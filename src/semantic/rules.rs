//! Risk rules (TEMPORARY stub in main until the rules branch lands).

use crate::diff::{Diff, FileDiff};
use crate::model::{Annotation, Task};

/// Stub.
pub fn file_rules(_file: &FileDiff, _base: Option<&str>, _head: Option<&str>) -> Vec<Annotation> {
    Vec::new()
}

/// Stub.
pub fn change_rules(_diff: &Diff, _task: &Task, _large_change_lines: usize) -> Vec<Annotation> {
    Vec::new()
}
