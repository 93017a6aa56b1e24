//! Gates over the semantic analysis's annotations (computed once per run, before the gates):
//! `syntax` fails on a syntax error the change introduced; `semantic` scores the annotations
//! (risks and notices lower the score) and warns on risks without failing — holding risky runs
//! for the operator is the policy's job (`require_operator_for = ["risk"]`); `api_unchanged`,
//! a Definition-of-Done check for refactors, fails on any public API change.

use super::{Gate, GateContext, GateFuture};
use crate::model::{Annotation, AnnotationKind, GateResult, Severity, Verdict};
use crate::semantic::structure::Language;

/// How much one risk annotation lowers the `semantic` score.
pub const RISK_PENALTY: f64 = 0.25;
/// How much one notice lowers it.
pub const NOTICE_PENALTY: f64 = 0.05;

/// The `syntax` gate.
pub struct SyntaxGate;

impl Gate for SyntaxGate {
    fn name(&self) -> &str {
        "syntax"
    }
    fn run<'a>(&'a self, cx: &'a GateContext<'a>) -> GateFuture<'a> {
        Box::pin(async move { syntax(cx) })
    }
}

fn syntax(cx: &GateContext<'_>) -> GateResult {
    let result = |verdict, score, summary: String, details: String| {
        GateResult::new("syntax", verdict, score, summary, details)
    };
    let errors: Vec<&Annotation> = cx
        .annotations
        .iter()
        .filter(|a| a.kind == AnnotationKind::SyntaxError)
        .collect();
    let (parsed, other): (Vec<&str>, Vec<&str>) = cx
        .diff
        .files
        .iter()
        .filter(|f| f.status != crate::git::ChangeStatus::Deleted && !f.binary)
        .map(|f| f.path.as_str())
        .partition(|p| Language::for_path(p).is_some());
    let details: Vec<String> = errors
        .iter()
        .map(|a| format!("{}: {}", a.location(), a.message))
        .collect();
    if let Some(first) = details.first() {
        let summary = if details.len() == 1 {
            format!("new syntax error: {first}")
        } else {
            format!("{} new syntax errors, first: {first}", details.len())
        };
        return result(Verdict::Fail, 0.0, summary, details.join("\n"));
    }
    let skipped = if other.is_empty() {
        String::new()
    } else {
        format!(
            "; not parsed (other languages): {}",
            shorten(&other.iter().map(|s| s.to_string()).collect::<Vec<_>>(), 5)
        )
    };
    if parsed.is_empty() {
        return result(
            Verdict::Skip,
            0.0,
            format!("no Rust, Python, JavaScript, TypeScript or Go file changed{skipped}"),
            String::new(),
        );
    }
    result(
        Verdict::Pass,
        1.0,
        format!("{} file(s) parse with no new errors{skipped}", parsed.len()),
        String::new(),
    )
}

/// The first `n` items joined, with "+N more".
fn shorten(items: &[String], n: usize) -> String {
    let mut s = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > n {
        s.push_str(&format!(" (+{} more)", items.len() - n));
    }
    s
}

/// The `semantic` gate.
pub struct SemanticGate;

impl Gate for SemanticGate {
    fn name(&self) -> &str {
        "semantic"
    }
    fn required(&self) -> bool {
        false
    }
    fn weight(&self) -> f64 {
        1.0
    }
    fn run<'a>(&'a self, cx: &'a GateContext<'a>) -> GateFuture<'a> {
        Box::pin(async move { semantic(cx.annotations) })
    }
}

/// Scores annotations: 1 − 0.25 per risk − 0.05 per notice, at least 0. Risks make it a
/// warning; the summary counts each kind.
pub fn semantic(annotations: &[Annotation]) -> GateResult {
    let count = |s: Severity| annotations.iter().filter(|a| a.severity == s).count();
    let (risks, notices) = (count(Severity::Risk), count(Severity::Notice));
    let score = (1.0 - RISK_PENALTY * risks as f64 - NOTICE_PENALTY * notices as f64).max(0.0);
    let mut kinds: Vec<(AnnotationKind, usize)> = Vec::new();
    for a in annotations.iter().filter(|a| a.severity != Severity::Info) {
        match kinds.iter_mut().find(|(k, _)| *k == a.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((a.kind, 1)),
        }
    }
    kinds.sort();
    let listed: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    let symbols = annotations
        .iter()
        .filter(|a| {
            matches!(
                a.kind,
                AnnotationKind::SymbolAdded
                    | AnnotationKind::SymbolRemoved
                    | AnnotationKind::SymbolModified
            )
        })
        .count();
    let summary = if listed.is_empty() {
        format!("{symbols} definition(s) changed, nothing risky")
    } else {
        format!(
            "{risks} risk(s), {notices} notice(s): {}",
            listed.join(", ")
        )
    };
    let verdict = if risks > 0 {
        Verdict::Warn
    } else {
        Verdict::Pass
    };
    GateResult::new(
        "semantic",
        verdict,
        score,
        summary,
        risk_card(annotations).join("\n"),
    )
}

pub use crate::model::risk_card;

/// `api_unchanged`: the Definition-of-Done check of refactors.
pub struct ApiUnchanged;

impl Gate for ApiUnchanged {
    fn name(&self) -> &str {
        "api_unchanged"
    }
    fn run<'a>(&'a self, cx: &'a GateContext<'a>) -> GateFuture<'a> {
        Box::pin(async move {
            let changes: Vec<String> = cx
                .annotations
                .iter()
                .filter(|a| a.kind == AnnotationKind::ApiChanged)
                .map(|a| format!("{}: {}", a.location(), a.message))
                .collect();
            match changes.first() {
                None => GateResult::new(
                    "api_unchanged",
                    Verdict::Pass,
                    1.0,
                    "no public API changed".into(),
                    String::new(),
                ),
                Some(first) => GateResult::new(
                    "api_unchanged",
                    Verdict::Fail,
                    0.0,
                    if changes.len() == 1 {
                        format!("public API changed: {first}")
                    } else {
                        format!("{} public API changes, first: {first}", changes.len())
                    },
                    changes.join("\n"),
                ),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(kind: AnnotationKind, severity: Severity, path: &str, line: u32, msg: &str) -> Annotation {
        Annotation {
            kind,
            severity,
            path: path.into(),
            line: Some(line),
            end_line: None,
            old_side: false,
            symbol: None,
            message: msg.into(),
        }
    }

    #[test]
    fn semantic_score_falls_with_each_risk_and_notice_and_risks_warn() {
        use AnnotationKind::*;
        let none = semantic(&[a(SymbolModified, Severity::Info, "a.rs", 3, "fn x")]);
        assert_eq!((none.verdict, none.score), (Verdict::Pass, 1.0));
        assert_eq!(none.summary, "1 definition(s) changed, nothing risky");
        let some = semantic(&[
            a(
                ApiChanged,
                Severity::Risk,
                "a.rs",
                3,
                "public `fn x` removed",
            ),
            a(Secret, Severity::Risk, "b.rs", 9, "AWS key AKIA…(20)"),
            a(
                DependencyChanged,
                Severity::Notice,
                "Cargo.toml",
                12,
                "serde 1.0 → 1.1",
            ),
        ]);
        assert_eq!(some.verdict, Verdict::Warn);
        assert!((some.score - 0.45).abs() < 1e-9, "{}", some.score);
        assert_eq!(
            some.summary,
            "2 risk(s), 1 notice(s): api_changed ×1, dependency_changed ×1, secret ×1"
        );
        let many: Vec<Annotation> = (0..6)
            .map(|i| a(CiChanged, Severity::Risk, "ci.yml", i + 1, "CI"))
            .collect();
        assert_eq!(semantic(&many).score, 0.0);
    }

    #[test]
    fn risk_card_groups_what_needs_a_human() {
        use AnnotationKind::*;
        let card = risk_card(&[
            a(TodoAdded, Severity::Info, "a.rs", 1, "TODO added"),
            a(
                DependencyChanged,
                Severity::Notice,
                "Cargo.toml",
                12,
                "added tokio 1.54",
            ),
            a(
                ApiChanged,
                Severity::Risk,
                "src/lib.rs",
                3,
                "public `fn x` removed",
            ),
            a(
                LargeChange,
                Severity::Notice,
                "src/big.rs",
                1,
                "900 lines changed",
            ),
            a(
                TestWeakened,
                Severity::Risk,
                "tests/t.rs",
                40,
                "#[ignore] added",
            ),
        ]);
        assert_eq!(
            card,
            [
                "API changes (1)",
                "  src/lib.rs:3                 public `fn x` removed",
                "Tests removed or weakened (1)",
                "  tests/t.rs:40                #[ignore] added",
                "Dependencies (1)",
                "  Cargo.toml:12                added tokio 1.54",
                "Notices (1)",
                "  src/big.rs:1                 900 lines changed",
            ]
        );
        assert!(risk_card(&[a(TodoAdded, Severity::Info, "a.rs", 1, "TODO")]).is_empty());
    }
}
