//! The prompt an agent gets: the configured template filled in with the task, the files it
//! refers to (size-capped), and on a retry the previous failure and the operator's reason.

use std::path::Path;

use crate::model::Task;

/// Fills `template` for `task`. `root` is where referenced files are read from (the run's
/// worktree); each contributes at most `max_reference_bytes`.
pub fn build(
    template: &str,
    task: &Task,
    root: &Path,
    max_reference_bytes: usize,
    feedback: Option<&str>,
    attempt: u32,
) -> String {
    let subtasks = if task.subtasks.is_empty() {
        String::new()
    } else {
        let mut s = String::from("\nSubtasks:\n");
        for st in &task.subtasks {
            let mark = if st.done { "x" } else { " " };
            s.push_str(&format!("- [{mark}] {}\n", st.text));
        }
        s
    };
    let references = references(task, root, max_reference_bytes);
    let feedback = match feedback {
        Some(f) if !f.trim().is_empty() => {
            format!(
                "\nThis is attempt {attempt}. What went wrong before:\n{}\n",
                f.trim()
            )
        }
        _ => String::new(),
    };
    let body = if task.body.is_empty() {
        String::new()
    } else {
        format!("\n{}\n", task.body)
    };
    let section = if task.section.is_empty() {
        "(none)".to_string()
    } else {
        task.section.join(" › ")
    };
    let out = template
        .replace("{task_id}", &task.id.0)
        .replace("{title}", &task.title)
        .replace("{description}", &task.description)
        .replace("{body}", &body)
        .replace("{subtasks}", &subtasks)
        .replace("{section}", &section)
        .replace("{file}", &task.file.display().to_string())
        .replace("{references}", &references)
        .replace("{feedback}", &feedback)
        .replace("{attempt}", &attempt.to_string());
    collapse_blank_lines(&out)
}

/// The files a task refers to, each under a heading, cut at `max` bytes (on a char boundary).
fn references(task: &Task, root: &Path, max: usize) -> String {
    let mut out = String::new();
    for r in &task.refs {
        let path = root.join(r);
        // Only files inside the worktree: a reference is a hint, not a way out of it.
        let inside = path
            .canonicalize()
            .ok()
            .zip(root.canonicalize().ok())
            .is_some_and(|(p, r)| p.starts_with(r));
        let Some(text) = inside
            .then(|| std::fs::read_to_string(&path).ok())
            .flatten()
        else {
            out.push_str(&format!(
                "\nReferenced file {r}: not found in the repository.\n"
            ));
            continue;
        };
        let mut cut = text.len().min(max);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&format!("\nReferenced file {r}:\n```\n{}", &text[..cut]));
        if cut < text.len() {
            out.push_str(&format!("\n… ({} more bytes not shown)", text.len() - cut));
        }
        out.push_str("\n```\n");
    }
    out
}

/// At most one blank line in a row, so empty placeholders leave no holes.
fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim_start_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_PROMPT;
    use crate::intake::TaskList;

    #[test]
    fn prompt_carries_task_subtasks_references_and_feedback() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("docs")).unwrap();
        std::fs::write(dir.path().join("docs/plan.md"), "step one\n".repeat(10)).unwrap();
        let md = "## High\n- [ ] **Fix the parser** — see docs/plan.md\n  - [x] reproduce\n  - [ ] fix\n";
        let rules = crate::config::IntakeConfig::default().type_rules();
        let task = TaskList::parse_str(md, Path::new("TODO.md"), &rules)
            .tasks
            .remove(0);

        let p = build(
            DEFAULT_PROMPT,
            &task,
            dir.path(),
            30,
            Some("tests failed: 2 new failures"),
            2,
        );
        assert!(
            p.contains(&format!("Task {}: Fix the parser", task.id)),
            "{p}"
        );
        assert!(p.contains("section: High"), "{p}");
        assert!(p.contains("- [x] reproduce\n- [ ] fix"), "{p}");
        assert!(
            p.contains("Referenced file docs/plan.md:\n```\nstep one\nstep one\nstep one\nst"),
            "{p}"
        );
        assert!(p.contains("more bytes not shown"), "{p}");
        assert!(
            p.contains("This is attempt 2. What went wrong before:\ntests failed: 2 new failures"),
            "{p}"
        );
        assert!(!p.contains("\n\n\n"), "{p}");

        let first = build(DEFAULT_PROMPT, &task, dir.path(), 30, None, 1);
        assert!(!first.contains("What went wrong"), "{first}");
    }

    #[test]
    fn references_outside_the_worktree_are_not_read() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("wt");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(outer.path().join("secret.txt"), "do not leak").unwrap();
        let md = "- [ ] Read it, see ../secret.txt\n";
        let rules = crate::config::IntakeConfig::default().type_rules();
        let mut task = TaskList::parse_str(md, Path::new("TODO.md"), &rules)
            .tasks
            .remove(0);
        task.refs = vec!["../secret.txt".into()];
        let p = build("{references}", &task, &root, 1000, None, 1);
        assert!(!p.contains("do not leak"), "{p}");
        assert!(p.contains("not found in the repository"), "{p}");
    }
}
