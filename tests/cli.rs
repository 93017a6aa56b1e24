//! The `bosun` binary end to end: each test runs the built executable in a fresh temporary git
//! repository and checks what a user would see (output, exit status, files on disk).

use std::path::Path;
use std::process::ExitStatus;

use serde_json::Value;

mod common;
use common::{clean, git};
use tempfile::TempDir;

/// A new, empty git repository on branch `main`.
fn repo() -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    dir
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, contents).expect("write file");
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

/// Runs `bosun args…` in `dir` with extra environment `env`: (status, stdout, stderr).
fn bosun_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let out = clean(env!("CARGO_BIN_EXE_bosun"), dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("bosun runs");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("bosun prints UTF-8");
    (out.status, text(out.stdout), text(out.stderr))
}

fn bosun(dir: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    bosun_env(dir, args, &[])
}

/// `bosun args…` must fail with exactly one `error: ` line on stderr, which it returns.
fn bosun_error(dir: &Path, args: &[&str]) -> String {
    let (status, stdout, stderr) = bosun(dir, args);
    assert!(
        !status.success(),
        "bosun {args:?} should fail; stdout: {stdout}"
    );
    assert_eq!(stdout, "", "nothing on stdout when bosun {args:?} fails");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

/// Parses `bosun tasks --json …` output, asserting success.
fn tasks_json(dir: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["tasks", "--json"];
    args.extend_from_slice(extra);
    let (status, stdout, stderr) = bosun(dir, &args);
    assert!(status.success(), "bosun {args:?}: {stderr}");
    match serde_json::from_str(&stdout) {
        Ok(Value::Array(tasks)) => tasks,
        other => panic!("not a JSON array ({other:?}): {stdout}"),
    }
}

fn titles(tasks: &[Value]) -> Vec<&str> {
    tasks
        .iter()
        .map(|t| t["title"].as_str().expect("title is a string"))
        .collect()
}

const TODO: &str = "\
# Project

## 🔥 Critical

- [ ] **Fix login crash** — happens on empty password
  - [ ] reproduce it
  - [x] add a guard
- [ ] Write the guide [type:docs] - see docs/x.md

## Low

- [ ] Polish colors: make them nicer (after: Fix login crash)
- [x] Old finished thing
";

#[test]
fn tasks_json_lists_open_tasks_with_every_field() {
    let dir = repo();
    write(dir.path(), "TODO.md", TODO);
    let tasks = tasks_json(dir.path(), &[]);
    assert_eq!(
        titles(&tasks),
        ["Fix login crash", "Write the guide", "Polish colors"]
    );

    for t in &tasks {
        let id = t["id"].as_str().expect("id is a string");
        let suffix = id.strip_prefix("t-").unwrap_or_else(|| panic!("{id}"));
        assert!(
            suffix.len() == 6
                && suffix
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()),
            "id {id} is t- and six of [0-9a-z]"
        );
        assert_eq!(t["file"], "TODO.md");
        assert_eq!(t["done"], false);
    }
    let ids: std::collections::HashSet<_> = tasks.iter().map(|t| &t["id"]).collect();
    assert_eq!(ids.len(), 3, "ids are unique");

    let fix = &tasks[0];
    assert_eq!(fix["description"], "happens on empty password");
    assert_eq!(fix["priority"], "critical");
    assert_eq!(fix["type"], "code");
    assert_eq!(
        fix["section"],
        serde_json::json!(["Project", "🔥 Critical"])
    );
    assert_eq!(fix["line"], 5);
    assert_eq!(
        fix["subtasks"],
        serde_json::json!([
            {"text": "reproduce it", "done": false},
            {"text": "add a guard", "done": true},
        ])
    );
    assert_eq!(fix["refs"], serde_json::json!([]));
    assert_eq!(fix["depends_on"], serde_json::json!([]));

    let guide = &tasks[1];
    assert_eq!(
        guide["title"], "Write the guide",
        "the tag is not in the title"
    );
    assert_eq!(guide["type"], "docs");
    assert_eq!(guide["type_rule"], "tag [type:docs]");
    assert_eq!(guide["priority"], "critical");
    assert_eq!(guide["line"], 8);
    assert_eq!(guide["refs"], serde_json::json!(["docs/x.md"]));
    assert_eq!(guide["subtasks"], serde_json::json!([]));

    let polish = &tasks[2];
    assert_eq!(polish["description"], "make them nicer");
    assert_eq!(polish["priority"], "low");
    assert_eq!(polish["section"], serde_json::json!(["Project", "Low"]));
    assert_eq!(
        polish["depends_on"],
        serde_json::json!([fix["id"]]),
        "`after: <title>` resolves to that task's id"
    );

    let all = tasks_json(dir.path(), &["--all"]);
    assert_eq!(
        titles(&all),
        [
            "Fix login crash",
            "Write the guide",
            "Polish colors",
            "Old finished thing"
        ]
    );
    assert_eq!(all[3]["done"], true);
    assert_eq!(all[3]["line"], 13);
    assert_eq!(all[0]["id"], fix["id"], "ids are stable between runs");
}

#[test]
fn tasks_file_flag_is_relative_to_the_current_directory() {
    let dir = repo();
    write(dir.path(), "TODO.md", TODO);
    write(
        dir.path(),
        "sub/OTHER.md",
        "# Other\n\n- [ ] Only in other\n- [x] Done in other\n",
    );
    let sub = dir.path().join("sub");
    let (status, stdout, stderr) = bosun(&sub, &["tasks", "--json", "--file", "OTHER.md"]);
    assert!(status.success(), "{stderr}");
    let tasks: Vec<Value> = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(titles(&tasks), ["Only in other"]);
    assert_eq!(
        tasks[0]["file"], "sub/OTHER.md",
        "shown relative to the root"
    );
    assert_eq!(tasks[0]["line"], 3);

    // Without --file, a subdirectory still means the repository's TODO.md.
    let (status, stdout, stderr) = bosun(&sub, &["tasks", "--json"]);
    assert!(status.success(), "{stderr}");
    let tasks: Vec<Value> = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(tasks.len(), 3);
}

#[test]
fn tasks_table_groups_by_priority_and_counts() {
    let dir = repo();
    // Low first in the file: the table still puts critical first.
    write(
        dir.path(),
        "TODO.md",
        "## Low\n\n- [ ] Tidy the logs\n- [x] Old chore\n\n## 🔥 Critical\n\n- [ ] Stop the data loss\n- [ ] Patch the leak\n",
    );
    let (status, stdout, stderr) = bosun(dir.path(), &["tasks"]);
    assert!(status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines[0];
    let columns = ["ID", "PRIORITY", "TYPE", "STATUS", "TITLE", "SECTION"];
    let at: Vec<usize> = columns
        .iter()
        .map(|c| header.find(c).unwrap_or_else(|| panic!("{c} in {header}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "column order: {header}");

    let row = |title: &str| {
        lines
            .iter()
            .position(|l| l.contains(title))
            .unwrap_or_else(|| panic!("no row for {title}:\n{stdout}"))
    };
    assert!(row("Stop the data loss") < row("Tidy the logs"), "{stdout}");
    assert!(row("Patch the leak") < row("Tidy the logs"), "{stdout}");
    assert!(lines[row("Stop the data loss")].contains("critical"));
    assert!(lines[row("Tidy the logs")].contains("low"));
    assert!(!stdout.contains("Old chore"), "done tasks hidden: {stdout}");
    assert!(
        stdout.contains("3 open (2 critical, 1 low), 1 done"),
        "{stdout}"
    );

    let (status, stdout, _) = bosun(dir.path(), &["tasks", "--all"]);
    assert!(status.success());
    let done_row = stdout
        .lines()
        .find(|l| l.contains("Old chore"))
        .unwrap_or_else(|| panic!("--all shows done tasks: {stdout}"));
    assert!(done_row.contains("done"), "{done_row}");
    assert!(stdout.contains("3 open"), "{stdout}");
}

#[test]
fn missing_task_file_points_at_the_config() {
    let dir = repo();
    let stderr = bosun_error(dir.path(), &["tasks"]);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("TODO.md"), "{stderr}");
    assert!(stderr.contains("[project] task_files"), "{stderr}");
}

#[test]
fn task_file_that_is_not_utf8_names_the_byte() {
    let dir = repo();
    write(dir.path(), "TODO.md", b"- [ ] ok\n\xff\xfe rest\n");
    let stderr = bosun_error(dir.path(), &["tasks"]);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("TODO.md"), "{stderr}");
    assert!(stderr.contains("not valid UTF-8"), "{stderr}");
    assert!(stderr.contains("offset 9"), "{stderr}");
}

#[test]
fn unknown_config_key_names_file_line_column_and_key() {
    let dir = repo();
    write(dir.path(), "TODO.md", TODO);
    write(
        dir.path(),
        "bosun.toml",
        "[project]\ntask_files = [\"TODO.md\"]\ntask_filez = [\"X.md\"]\n",
    );
    let stderr = bosun_error(dir.path(), &["tasks"]);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("bosun.toml:3:1"), "{stderr}");
    assert!(stderr.contains("project.task_filez"), "{stderr}");
}

#[test]
fn double_encoded_file_is_refused_then_repaired_with_a_backup() {
    let dir = repo();
    let original =
        "# Задачи\n\n## 🔥 Критический\n\n- [ ] Исправить вход — падает на пустом пароле\n";
    let (mangled, _, _) = encoding_rs::MACINTOSH.decode(original.as_bytes());
    let mangled = mangled.into_owned();
    assert_ne!(mangled, original);
    write(dir.path(), "TODO.md", &mangled);

    let stderr = bosun_error(dir.path(), &["tasks"]);
    assert!(stderr.contains("double-encoded"), "{stderr}");
    assert!(stderr.contains("--repair-encoding"), "{stderr}");
    assert_eq!(read(dir.path(), "TODO.md"), mangled.as_bytes(), "untouched");
    assert!(!dir.path().join("TODO.md.bak").exists());

    let (status, stdout, stderr) = bosun(dir.path(), &["tasks", "--repair-encoding"]);
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("repaired TODO.md"), "{stderr}");
    assert!(stdout.contains("Исправить вход"), "{stdout}");
    assert!(stdout.contains("critical"), "{stdout}");
    assert_eq!(read(dir.path(), "TODO.md"), original.as_bytes());
    assert_eq!(read(dir.path(), "TODO.md.bak"), mangled.as_bytes());

    // Once repaired, the file reads fine and a second repair leaves the backup alone.
    let (status, _, stderr) = bosun(dir.path(), &["tasks", "--repair-encoding"]);
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("repaired"), "{stderr}");
    assert_eq!(read(dir.path(), "TODO.md.bak"), mangled.as_bytes());
    assert_eq!(tasks_json(dir.path(), &[]).len(), 1);
}

#[test]
fn environment_overrides_the_file_and_file_flag_overrides_both() {
    let dir = repo();
    write(
        dir.path(),
        "bosun.toml",
        "[project]\ntask_files = [\"A.md\"]\n",
    );
    write(dir.path(), "A.md", "- [ ] Task from A\n");
    write(dir.path(), "B.md", "- [ ] Task from B\n");
    write(dir.path(), "C.md", "- [ ] Task from C\n");
    let env = [("BOSUN_PROJECT__TASK_FILES", r#"["B.md"]"#)];
    let only_title = |args: &[&str], env: &[(&str, &str)]| {
        let (status, stdout, stderr) = bosun_env(dir.path(), args, env);
        assert!(status.success(), "{stderr}");
        let tasks: Vec<Value> = serde_json::from_str(&stdout).expect("JSON");
        assert_eq!(tasks.len(), 1, "{stdout}");
        tasks[0]["title"].as_str().expect("title").to_string()
    };
    assert_eq!(only_title(&["tasks", "--json"], &[]), "Task from A");
    assert_eq!(only_title(&["tasks", "--json"], &env), "Task from B");
    assert_eq!(
        only_title(&["tasks", "--json", "--file", "C.md"], &env),
        "Task from C"
    );

    let (status, stdout, _) = bosun_env(dir.path(), &["tasks"], &env);
    assert!(status.success());
    assert!(stdout.contains("· B.md"), "summary names B.md: {stdout}");
}

#[test]
fn init_writes_a_commented_config_once() {
    let dir = repo();
    write(dir.path(), "TODO.md", TODO);
    let (status, stdout, stderr) = bosun(dir.path(), &["init"]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("bosun.toml"), "{stdout}");
    let text = String::from_utf8(read(dir.path(), "bosun.toml")).expect("UTF-8");
    assert!(text.lines().any(|l| l == "[project]"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("# task_files")),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("task_files")),
        "nothing pinned: {text}"
    );
    // The written file is valid: bosun still reads TODO.md with it.
    assert_eq!(tasks_json(dir.path(), &[]).len(), 3);

    let edited = format!("{text}\n# my own note\n");
    write(dir.path(), "bosun.toml", &edited);
    let stderr = bosun_error(dir.path(), &["init"]);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(read(dir.path(), "bosun.toml"), edited.as_bytes());
}

#[test]
fn init_detects_another_task_list() {
    let dir = repo();
    write(dir.path(), "TASKS.md", "# Tasks\n\n- [ ] Found in TASKS\n");
    let (status, stdout, stderr) = bosun(dir.path(), &["init"]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("TASKS.md"), "{stdout}");
    let text = String::from_utf8(read(dir.path(), "bosun.toml")).expect("UTF-8");
    assert!(
        text.lines().any(|l| l == r#"task_files = ["TASKS.md"]"#),
        "{text}"
    );
    let (status, stdout, stderr) = bosun(dir.path(), &["tasks"]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("Found in TASKS"), "{stdout}");
    assert!(stdout.contains("· TASKS.md"), "{stdout}");
}

/// The line of `out` starting with `  {tag}` that contains `what`.
fn doctor_line<'a>(out: &'a str, tag: &str, what: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("  {tag}")) && l.contains(what))
        .unwrap_or_else(|| panic!("no `{tag}` line about {what}:\n{out}"))
}

#[test]
fn doctor_passes_in_a_healthy_repository() {
    let dir = repo();
    write(dir.path(), "TODO.md", TODO);
    let agent = dir.path().join("fake-agent.sh");
    write(dir.path(), "fake-agent.sh", "#!/bin/sh\nexit 0\n");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let agent = agent.display();
    write(
        dir.path(),
        "bosun.toml",
        format!("[executors.fake]\ncommand = [\"{agent}\", \"--go\"]\n"),
    );
    let (status, stdout, stderr) = bosun(dir.path(), &["doctor"]);
    assert!(status.success(), "{stdout}{stderr}");
    doctor_line(&stdout, "ok", "git repository");
    doctor_line(&stdout, "ok", "config bosun.toml");
    assert!(doctor_line(&stdout, "ok", "task file TODO.md").contains("3 open, 1 done"));
    doctor_line(&stdout, "ok", "agent fake");
    doctor_line(&stdout, "ok", "state dir");
    assert!(!stdout.contains("  fail"), "{stdout}");
}

#[test]
fn doctor_fails_on_a_missing_agent_with_a_fix() {
    let dir = repo();
    write(dir.path(), "TODO.md", TODO);
    write(
        dir.path(),
        "bosun.toml",
        "[executors.ghost]\ncommand = [\"definitely-not-a-program-xyz\"]\n",
    );
    let (status, stdout, _) = bosun(dir.path(), &["doctor"]);
    assert_eq!(status.code(), Some(1), "{stdout}");
    let fail = doctor_line(&stdout, "fail", "ghost");
    assert!(fail.contains("definitely-not-a-program-xyz"), "{fail}");
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines.iter().position(|l| *l == fail).expect("fail line");
    assert!(
        lines.get(at + 1).is_some_and(|l| l.contains("fix:")),
        "a fix follows: {stdout}"
    );
}

/// Bug: `doctor` and the check before a run looked for an agent on bosun's own PATH, though
/// the launch uses the executor's `env.PATH` (an agent installed in a virtualenv was refused).
#[test]
fn an_agent_on_the_executors_own_path_is_found() {
    let dir = repo();
    write(dir.path(), "TODO.md", TODO);
    let venv = dir.path().join("venv-bin");
    std::fs::create_dir(&venv).unwrap();
    let program = venv.join("venv-only-agent-xyz");
    std::fs::write(&program, "#!/bin/sh\necho hi > hello.txt\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = format!(
        "[executors.venv]\ncommand = [\"venv-only-agent-xyz\"]\nenv = {{ PATH = \"{}:/usr/bin:/bin\" }}\n",
        venv.display()
    );
    write(dir.path(), "bosun.toml", &config);
    let (_, stdout, _) = bosun(dir.path(), &["doctor"]);
    let ok = doctor_line(&stdout, "ok", "agent venv");
    assert!(ok.contains("venv-bin/venv-only-agent-xyz"), "{ok}");
    // And a run starts with it (the check before the first run agrees).
    let (status, out, err) = bosun(dir.path(), &["run", "--headless", "--max-runs", "1"]);
    assert!(status.success(), "{out}{err}");
    assert!(!out.contains("was not found on PATH"), "{out}");
}

#[test]
fn doctor_checks_the_built_in_agents_key_variable_not_a_program() {
    let dir = repo();
    write(dir.path(), "TODO.md", TODO);
    let config = "[llm.providers.p]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\napi_key_env = \"DOCTOR_TEST_UNSET_KEY\"\n\
                  [llm.routes.coder]\nchain = [\"p\"]\n\
                  [executors.builtin]\ntype = \"llm\"\nroute = \"coder\"\n";
    write(dir.path(), "bosun.toml", config);
    let (_, stdout, _) = bosun(dir.path(), &["doctor"]);
    doctor_line(
        &stdout,
        "warn",
        "agent builtin: $DOCTOR_TEST_UNSET_KEY not set",
    );
    assert!(!stdout.contains("  fail"), "{stdout}");
    let (status, stdout, stderr) =
        bosun_env(dir.path(), &["doctor"], &[("DOCTOR_TEST_UNSET_KEY", "x")]);
    assert!(status.success(), "{stdout}{stderr}");
    doctor_line(&stdout, "ok", "agent builtin: built-in, route coder (p)");
}

#[test]
fn doctor_fails_outside_a_git_repository() {
    let dir = tempfile::tempdir().expect("temp dir");
    let inside = clean("git", dir.path())
        .args(["rev-parse", "--git-dir"])
        .output()
        .expect("git runs");
    assert!(
        !inside.status.success(),
        "precondition: the temp dir is not inside a git repository"
    );
    write(dir.path(), "TODO.md", TODO);
    let (status, stdout, _) = bosun(dir.path(), &["doctor"]);
    assert_eq!(status.code(), Some(1), "{stdout}");
    doctor_line(&stdout, "fail", "not inside a git repository");
}

#[test]
fn runs_log_to_the_state_dir_and_keep_it_out_of_git() {
    let dir = repo();
    write(dir.path(), "TODO.md", TODO);
    git(dir.path(), &["add", "TODO.md"]);
    git(dir.path(), &["commit", "-q", "-m", "tasks"]);
    for _ in 0..2 {
        let (status, _, stderr) = bosun(dir.path(), &["tasks"]);
        assert!(status.success(), "{stderr}");
    }
    let logs: Vec<_> = std::fs::read_dir(dir.path().join(".bosun/logs"))
        .expect(".bosun/logs exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("bosun.") && name.ends_with(".log")
        })
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(
        std::fs::metadata(&logs[0]).expect("log").len() > 0,
        "the log has lines"
    );

    let exclude = String::from_utf8(read(dir.path(), ".git/info/exclude")).expect("UTF-8");
    assert_eq!(
        exclude.lines().filter(|l| l.trim() == "/.bosun/").count(),
        1,
        "{exclude}"
    );
    assert_eq!(git(dir.path(), &["status", "--porcelain"]), "");
}

#[test]
fn no_subcommand_prints_help() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, stdout, stderr) = bosun(dir.path(), &[]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("Usage"), "{stdout}");
    for command in ["tasks", "init", "doctor", "demo"] {
        assert!(stdout.contains(command), "help lists {command}: {stdout}");
    }
}

#[test]
fn completions_load_in_bash_and_the_man_page_is_roff() {
    let dir = tempfile::tempdir().expect("temp dir");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (status, stdout, stderr) = bosun(dir.path(), &["completions", shell]);
        assert!(status.success(), "{shell}: {stderr}");
        assert!(
            stdout.contains("approve"),
            "{shell} completes the subcommands"
        );
    }
    // bash loads the script and registers it; completing `bosun ap` offers `approve`.
    let (_, script, _) = bosun(dir.path(), &["completions", "bash"]);
    let file = dir.path().join("bosun.bash");
    std::fs::write(&file, script).expect("write the script");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p bosun && COMP_WORDS=(bosun ap) COMP_CWORD=1 && _bosun bosun ap bosun && echo \"${{COMPREPLY[@]}}\"",
            file.display()
        ))
        .output()
        .expect("bash runs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("complete -o bashdefault"), "{said}");
    assert!(
        said.lines().last().unwrap_or_default().contains("approve"),
        "{said}"
    );

    let (status, man, stderr) = bosun(dir.path(), &["man"]);
    assert!(status.success(), "{stderr}");
    assert!(man.contains(".TH bosun 1"), "{man}");
    assert!(man.contains("completions"), "{man}");
}

#[test]
fn help_says_plain_bosun_opens_the_console() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (status, stdout, stderr) = bosun(dir.path(), &["--help"]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("bosun opens the console"), "{stdout}");
    assert!(!stdout.contains("not part of this release"), "{stdout}");
    let (_, run_help, _) = bosun(dir.path(), &["run", "--help"]);
    assert!(!run_help.contains("not part of this release"), "{run_help}");
}

#[test]
fn demo_makes_a_committed_sandbox_and_shows_its_tasks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = dir.path().join("sandbox");
    let sandbox_arg = sandbox.to_str().expect("UTF-8 path");
    let (status, stdout, stderr) = bosun(dir.path(), &["demo", "--dir", sandbox_arg]);
    assert!(status.success(), "{stderr}");
    let canonical = sandbox.canonicalize().expect("sandbox exists");
    assert!(
        stdout.contains(sandbox_arg) || stdout.contains(canonical.to_str().expect("UTF-8")),
        "{stdout}"
    );
    assert!(stdout.contains("PRIORITY"), "{stdout}");
    assert!(stdout.contains("Fix crash on empty input"), "{stdout}");
    assert!(stdout.contains(" open ("), "{stdout}");
    // The judge gate scored the changes through the demo's stand-in model.
    let judged = stdout
        .lines()
        .find(|l| l.contains("gate judge"))
        .unwrap_or_else(|| panic!("no judge gate ran: {stdout}"));
    assert!(
        judged.contains("(95% ") && judged.contains(" samples)"),
        "{judged}"
    );
    assert_eq!(git(&sandbox, &["rev-list", "--count", "HEAD"]).trim(), "1");
    assert_eq!(git(&sandbox, &["status", "--porcelain"]), "");
    assert_eq!(git(&sandbox, &["branch", "--show-current"]).trim(), "main");

    // The sandbox is a real project: bosun reads it like any other.
    assert!(tasks_json(&sandbox, &[]).len() > 3);

    // Bug: the release task could never pass (its version was where no check looked). Once
    // the `--json` task it waits for is approved, it reaches approval with its checks passed.
    let runs = |dir: &Path| -> Vec<Value> {
        let (_, out, _) = bosun(dir, &["runs", "--json"]);
        serde_json::from_str(&out).expect("runs as JSON")
    };
    let json = runs(&sandbox)
        .into_iter()
        .find(|r| {
            r["task_title"] == "Add a `--json` output flag" && r["status"] == "awaiting_approval"
        })
        .expect("the --json run awaits approval");
    let (status, _, stderr) = bosun(&sandbox, &["approve", json["id"].as_str().unwrap()]);
    assert!(status.success(), "{stderr}");
    let (status, out, stderr) = bosun(&sandbox, &["run", "--headless"]);
    assert!(status.success(), "{out}{stderr}");
    assert!(
        out.contains("version 0.1.0 → 0.2.0 (pyproject.toml)"),
        "{out}"
    );
    let release = runs(&sandbox)
        .into_iter()
        .find(|r| r["task_title"] == "Cut the 0.2.0 release")
        .expect("a release run");
    assert_eq!(release["status"], "awaiting_approval", "{release:#}");
}

#[test]
fn an_error_states_its_cause_once() {
    let dir = repo();
    let stderr = bosun_error(dir.path(), &["--config", "nope.toml", "tasks"]);
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
    std::fs::create_dir(dir.path().join("TODO.md")).unwrap();
    let stderr = bosun_error(dir.path(), &["tasks"]);
    assert_eq!(stderr.matches("Is a directory").count(), 1, "{stderr}");
}

#[test]
fn repair_of_a_missing_file_explains_the_config() {
    let dir = repo();
    let stderr = bosun_error(dir.path(), &["tasks", "--repair-encoding"]);
    assert!(stderr.contains("[project] task_files"), "{stderr}");
}

#[test]
fn doctor_leaves_nothing_behind_outside_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stdout, _) = bosun(dir.path(), &["doctor"]);
    assert!(!status.success(), "{stdout}");
    assert!(
        !dir.path().join(".bosun").exists(),
        "doctor created .bosun/ in a plain directory"
    );
}

#[test]
fn file_flag_paths_are_shown_tidied() {
    let dir = repo();
    write(dir.path(), "TODO.md", TODO);
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let (status, stdout, stderr) = bosun(
        &dir.path().join("sub"),
        &["tasks", "--json", "--file", "../TODO.md"],
    );
    assert!(status.success(), "{stderr}");
    let tasks: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(tasks[0]["file"], "TODO.md");
}

#[test]
fn doctor_says_a_path_agent_is_missing_rather_than_off_path() {
    let dir = repo();
    write(dir.path(), "TODO.md", TODO);
    write(
        dir.path(),
        "bosun.toml",
        "[executors.local]\ncommand = [\"./nope/agent\"]\n",
    );
    let (status, stdout, _) = bosun(dir.path(), &["doctor"]);
    assert!(!status.success());
    assert!(
        stdout.contains("`./nope/agent` does not exist or is not executable"),
        "{stdout}"
    );
}

#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let dir = repo();
    write(dir.path(), "TODO.md", "- [ ] one\n- [ ] two\n");
    // A reader that is gone before bosun writes, as with `bosun tasks | head -0`.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = clean(env!("CARGO_BIN_EXE_bosun"), dir.path())
        .arg("tasks")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("bosun runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{stderr}");
}
