//! What the semantic analysis says about a change: one finding, on a file and its lines.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// How much an annotation matters to the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context for the reviewer (a function added, a TODO).
    Info,
    /// Worth a look (a dependency changed, a large change, a binary file).
    Notice,
    /// Needs a human (a public API changed, a secret, a weakened test, CI edited).
    Risk,
}

impl Severity {
    /// The lowercase name used in config (`require_operator_for`) and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Notice => "notice",
            Self::Risk => "risk",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an annotation is about (DESIGN.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationKind {
    /// A definition (function, method, type, module) that is new.
    SymbolAdded,
    /// A definition that is gone.
    SymbolRemoved,
    /// A definition whose body or signature changed.
    SymbolModified,
    /// A public item removed, renamed or with a changed signature: something its users lose.
    ApiChanged,
    /// A public item added (a compatible addition): a notice, not a risk.
    ApiAdded,
    /// New `unsafe` code.
    UnsafeAdded,
    /// A dependency added, removed or changed version in a manifest.
    DependencyChanged,
    /// Something that looks like a credential was added.
    Secret,
    /// A TODO / FIXME / XXX / HACK comment was added.
    TodoAdded,
    /// A test was deleted.
    TestRemoved,
    /// A test was skipped, ignored, narrowed (`.only`) or lost assertions.
    TestWeakened,
    /// CI configuration changed.
    CiChanged,
    /// A binary file changed.
    BinaryFile,
    /// The change is larger than `[gates.semantic] large_change_lines`.
    LargeChange,
    /// A syntax error the base did not have.
    SyntaxError,
    /// A changed file or symbol that the task does not seem to be about.
    OutsideScope,
    /// Only formatting or comments changed in a hunk.
    FormattingOnly,
}

impl AnnotationKind {
    /// Every kind, in display order.
    pub const ALL: [AnnotationKind; 17] = [
        Self::SymbolAdded,
        Self::SymbolRemoved,
        Self::SymbolModified,
        Self::ApiChanged,
        Self::ApiAdded,
        Self::UnsafeAdded,
        Self::DependencyChanged,
        Self::Secret,
        Self::TodoAdded,
        Self::TestRemoved,
        Self::TestWeakened,
        Self::CiChanged,
        Self::BinaryFile,
        Self::LargeChange,
        Self::SyntaxError,
        Self::OutsideScope,
        Self::FormattingOnly,
    ];

    /// The snake_case name used in config (`require_operator_for`) and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SymbolAdded => "symbol_added",
            Self::SymbolRemoved => "symbol_removed",
            Self::SymbolModified => "symbol_modified",
            Self::ApiChanged => "api_changed",
            Self::ApiAdded => "api_added",
            Self::UnsafeAdded => "unsafe_added",
            Self::DependencyChanged => "dependency_changed",
            Self::Secret => "secret",
            Self::TodoAdded => "todo_added",
            Self::TestRemoved => "test_removed",
            Self::TestWeakened => "test_weakened",
            Self::CiChanged => "ci_changed",
            Self::BinaryFile => "binary_file",
            Self::LargeChange => "large_change",
            Self::SyntaxError => "syntax_error",
            Self::OutsideScope => "outside_scope",
            Self::FormattingOnly => "formatting_only",
        }
    }
}

impl fmt::Display for AnnotationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding about a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// What it is about.
    pub kind: AnnotationKind,
    /// How much it matters.
    pub severity: Severity,
    /// The file (its new path; the old one for a deleted file).
    pub path: String,
    /// First line concerned, on the new side (on the old side for removals: `old_side`).
    pub line: Option<u32>,
    /// Last line concerned (same side as `line`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u32>,
    /// `line` and `end_line` count lines of the old file (something removed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub old_side: bool,
    /// The definition concerned, qualified (`impl Config::load`, `Parser.parse`).
    #[serde(default)]
    pub symbol: Option<String>,
    /// One line for the operator (never a secret's text).
    pub message: String,
}

impl Annotation {
    /// `path:line` of an annotation, or just the path ("(whole change)" for one about the whole
    /// change, such as its size).
    pub fn location(&self) -> String {
        if self.path.is_empty() {
            return "(whole change)".to_string();
        }
        match self.line {
            Some(line) if self.old_side => format!("{}:{line} (before)", self.path),
            Some(line) => format!("{}:{line}", self.path),
            None => self.path.clone(),
        }
    }
}

/// How many annotations of each kind and of each severity a run has: what lists, the board
/// and the policy use of them. The run record keeps these; the annotations themselves (tens of
/// thousands on a large change) are kept apart and read when the run is reviewed or shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnotationCounts {
    /// Per kind (kinds with none left out).
    #[serde(default)]
    pub by_kind: BTreeMap<AnnotationKind, usize>,
    /// Per severity (severities with none left out).
    #[serde(default)]
    pub by_severity: BTreeMap<Severity, usize>,
}

impl AnnotationCounts {
    /// The counts of `annotations`.
    pub fn of<'a>(annotations: impl IntoIterator<Item = &'a Annotation>) -> Self {
        let mut counts = Self::default();
        for a in annotations {
            *counts.by_kind.entry(a.kind).or_default() += 1;
            *counts.by_severity.entry(a.severity).or_default() += 1;
        }
        counts
    }

    /// No annotation at all.
    pub fn is_empty(&self) -> bool {
        self.by_severity.values().all(|n| *n == 0)
    }

    /// How many in all.
    pub fn total(&self) -> usize {
        self.by_severity.values().sum()
    }

    /// How many of `severity`.
    pub fn severity(&self, severity: Severity) -> usize {
        self.by_severity.get(&severity).copied().unwrap_or(0)
    }

    /// The kinds and severities present, by name (what `require_operator_for` names).
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        let kinds = self.by_kind.iter().filter(|(_, n)| **n > 0);
        let severities = self.by_severity.iter().filter(|(_, n)| **n > 0);
        kinds
            .map(|(k, _)| k.as_str())
            .chain(severities.map(|(s, _)| s.as_str()))
    }
}

/// The risk card: one screen of what needs a human, grouped — API changes, secrets, new
/// unsafe code, weakened or removed tests, CI edits, dependencies, then other risks and
/// notices — each line `path:line  message`. Empty when there is nothing to say.
pub fn risk_card(annotations: &[Annotation]) -> Vec<String> {
    const GROUPS: [(&str, &[AnnotationKind]); 6] = [
        ("API changes", &[AnnotationKind::ApiChanged]),
        ("Secrets", &[AnnotationKind::Secret]),
        ("New unsafe code", &[AnnotationKind::UnsafeAdded]),
        (
            "Tests removed or weakened",
            &[AnnotationKind::TestRemoved, AnnotationKind::TestWeakened],
        ),
        ("CI edits", &[AnnotationKind::CiChanged]),
        ("Dependencies", &[AnnotationKind::DependencyChanged]),
    ];
    let mut lines = Vec::new();
    let mut shown = vec![false; annotations.len()];
    let mut group = |title: &str, pick: &dyn Fn(&Annotation) -> bool, lines: &mut Vec<String>| {
        let items: Vec<usize> = (0..annotations.len())
            .filter(|&i| !shown[i] && pick(&annotations[i]))
            .collect();
        if items.is_empty() {
            return;
        }
        lines.push(format!("{title} ({})", items.len()));
        for i in items {
            shown[i] = true;
            let a = &annotations[i];
            lines.push(format!("  {:<28} {}", a.location(), a.message));
        }
    };
    for (title, kinds) in GROUPS {
        group(title, &|a| kinds.contains(&a.kind), &mut lines);
    }
    group("Other risks", &|a| a.severity == Severity::Risk, &mut lines);
    group("Notices", &|a| a.severity == Severity::Notice, &mut lines);
    lines
}
