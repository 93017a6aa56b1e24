//! Delivering an approval as a pull request, end to end through the binary: a real repository
//! whose `origin` is a bare repository on disk, a scripted forge on 127.0.0.1 that keeps pull
//! requests, statuses and reviews as the forge's API documents them, and `bosun run
//! --headless` / `bosun approve --deliver pr` as an operator would use them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::forge_server::ForgeServer;
use common::{clean, git, outcome, toml_str};

/// The token the scripted forge accepts; it must never show up in bosun's output or state.
const TOKEN_VAR: &str = "BOSUN_TEST_FORGE_TOKEN";

struct Setup {
    _dir: TempDir,
    repo: PathBuf,
    remote: PathBuf,
    server: ForgeServer,
}

/// A repository with one task and an agent that writes a file, `origin` a bare repository
/// holding `main`, and `[forge]` pointing at a scripted forge of `kind`.
fn setup(kind: &str, extra: &str) -> Setup {
    let server = ForgeServer::start(kind);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let remote = dir.path().join("remote.git");
    std::fs::create_dir(&repo).unwrap();
    git(
        dir.path(),
        &["init", "-q", "--bare", "-b", "main", "remote.git"],
    );
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(
        repo.join("TODO.md"),
        "# Tasks\n\n- [ ] **Write the greeting** - a file that says hello\n",
    )
    .unwrap();
    let agent = dir.path().join("agent.sh");
    std::fs::write(
        &agent,
        "#!/bin/sh\necho hello > greeting.txt\necho wrote it\n",
    )
    .unwrap();
    assert!(
        Command::new("chmod")
            .arg("+x")
            .arg(&agent)
            .status()
            .unwrap()
            .success()
    );
    let config = format!(
        "[project]\nworktree_root = {wt}\n\n[orchestrator]\nmax_attempts = 2\n\n\
         [executors.a]\ncommand = [{agent}]\n\n\
         [forge]\nkind = {kind}\napi_url = {api}\nrepository = {repository}\ntoken_env = \"{TOKEN_VAR}\"\npoll_secs = 1\n{extra}",
        wt = toml_str(&dir.path().join("wt").display().to_string()),
        agent = toml_str(&agent.display().to_string()),
        kind = toml_str(kind),
        api = toml_str(&server.url()),
        repository = toml_str(&server.repository()),
    );
    std::fs::write(repo.join("bosun.toml"), config).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    git(
        &repo,
        &["remote", "add", "origin", &remote.display().to_string()],
    );
    git(&repo, &["push", "-q", "origin", "main"]);
    Setup {
        _dir: dir,
        repo,
        remote,
        server,
    }
}

impl Setup {
    /// `bosun ARGS` with the forge's token in its variable: (success, stdout, stderr).
    fn bosun(&self, args: &[&str], token: &str) -> (bool, String, String) {
        let mut cmd = clean(env!("CARGO_BIN_EXE_bosun"), &self.repo);
        cmd.args(args)
            .env(TOKEN_VAR, token)
            .stdin(std::process::Stdio::null());
        outcome(cmd)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.bosun(args, &self.server.token());
        assert!(ok, "bosun {args:?} failed:\n{out}\n{err}");
        out
    }

    fn runs(&self) -> Vec<Value> {
        serde_json::from_str(&self.ok(&["runs", "--json"])).unwrap()
    }

    /// Runs the agent on the task: the one run, awaiting approval.
    fn run_to_review(&self) -> Value {
        self.ok(&["run", "--headless"]);
        let runs = self.runs();
        assert_eq!(runs.len(), 1, "{runs:#?}");
        assert_eq!(runs[0]["status"], "awaiting_approval", "{:#}", runs[0]);
        runs[0].clone()
    }

    fn run(&self, id: &str) -> Value {
        self.runs()
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no run {id}"))
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The commit `branch` points at in the bare repository `remote`.
fn remote_branch(remote: &Path, branch: &str) -> Option<String> {
    let out = clean("git", remote)
        .args([
            "rev-parse",
            "--verify",
            "-q",
            &format!("refs/heads/{branch}"),
        ])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Every file under `dir`, read as lossy text, that contains `needle`.
fn files_with(dir: &Path, needle: &str) -> Vec<PathBuf> {
    common::files_containing(dir, &[needle.to_string()])
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

#[test]
fn an_approval_delivered_as_a_pull_request_is_merged_when_the_forge_merges_it() {
    let s = setup("github", "");
    let run = s.run_to_review();
    let id = text(&run["id"]).to_string();
    let candidate = text(&run["head"]).to_string();
    let main_before = git(&s.repo, &["rev-parse", "main"]);

    let said = s.ok(&["approve", &id, "--deliver", "pr", "--note", "ship it"]);
    assert!(said.contains("pull request #1"), "{said}");

    // Exactly the reviewed commit, with the task ticked in one commit on top, on the run's
    // branch of the remote; nothing merged here.
    let branch = text(&run["branch"]).to_string();
    let pushed = remote_branch(&s.remote, &branch).expect("the run's branch is on the remote");
    let parent = git(&s.remote, &["rev-parse", &format!("{pushed}^")]);
    assert_eq!(parent.trim(), candidate);
    let todo = git(&s.remote, &["show", &format!("{pushed}:TODO.md")]);
    assert!(todo.contains("- [x] **Write the greeting**"), "{todo}");
    let greeting = git(&s.remote, &["show", &format!("{pushed}:greeting.txt")]);
    assert_eq!(greeting.trim(), "hello");
    assert_eq!(git(&s.repo, &["rev-parse", "main"]), main_before);

    // One pull request against main from that branch, with the gate table and the trailers;
    // one status per gate on the pushed commit.
    let prs = s.server.prs();
    assert_eq!(prs.len(), 1, "{prs:#?}");
    let pr = &prs[0];
    assert_eq!(pr["head"], branch.as_str());
    assert_eq!(pr["base"], "main");
    assert_eq!(pr["title"], "Write the greeting");
    let body = text(&pr["body"]);
    assert!(body.contains("### Gates"), "{body}");
    assert!(body.contains(&format!("Bosun-Run: {id}")), "{body}");
    assert!(
        body.contains("Approved by") && body.contains("ship it"),
        "{body}"
    );
    let gates = run["gates"].as_array().unwrap();
    assert!(!gates.is_empty());
    let statuses = s.server.statuses(&pushed);
    assert_eq!(statuses.len(), gates.len(), "{statuses:#?}");
    for g in gates {
        let context = format!("bosun/{}", text(&g["name"]));
        assert!(
            statuses.iter().any(|st| st["context"] == context.as_str()),
            "no status {context}: {statuses:#?}"
        );
    }

    let delivered = s.run(&id);
    assert_eq!(delivered["status"], "delivered", "{delivered:#}");
    assert_eq!(delivered["delivery"]["number"], 1);
    let listed = s.ok(&["runs"]);
    let url = text(&delivered["delivery"]["url"]).to_string();
    assert!(listed.contains("delivered (PR #1)"), "{listed}");
    assert!(listed.contains(&format!("PR #1 {url} (open)")), "{listed}");
    assert_eq!(delivered["delivery"]["commit"], pushed.as_str());
    // The task is not picked up again while its pull request is open.
    s.ok(&["run", "--headless"]);
    assert_eq!(s.runs().len(), 1);
    assert_eq!(s.run(&id)["status"], "delivered");

    // Merged on the forge: the next look records it.
    s.server.merge(1, "octocat");
    s.ok(&["run", "--headless"]);
    let merged = s.run(&id);
    assert_eq!(merged["status"], "merged", "{merged:#}");
    assert_eq!(merged["delivery"]["state"], "merged");
    let shown = s.ok(&["show", &id]);
    assert!(shown.contains("pull request #1"), "{shown}");
    let audit = s.ok(&["audit"]);
    assert!(
        audit.contains("deliver") && audit.contains("merged upstream"),
        "{audit}"
    );

    // The token is nowhere in bosun's state, logs or the repository.
    let token = s.server.token();
    assert!(files_with(&s.repo, &token).is_empty());
}

#[test]
fn a_pull_request_closed_unmerged_rejects_the_run_with_the_closers_words() {
    let s = setup("github", "");
    let run = s.run_to_review();
    let id = text(&run["id"]).to_string();
    s.ok(&["approve", &id, "--deliver", "pr"]);
    s.server
        .close(1, "maintainer", "We solved this differently upstream.");
    s.ok(&["run", "--headless"]);
    let closed = s.run(&id);
    assert_eq!(closed["status"], "rejected", "{closed:#}");
    assert!(
        text(&closed["decision"]["reason"]).contains("solved this differently"),
        "{closed:#}"
    );
    assert_eq!(closed["decision"]["by"], "maintainer");
}

#[test]
fn a_refused_token_leaves_the_run_awaiting_approval_and_is_never_shown() {
    let s = setup("github", "");
    let run = s.run_to_review();
    let id = text(&run["id"]).to_string();
    let wrong = "ghp_wrongtoken0123456789abcdefWRONG";
    let (ok, out, err) = s.bosun(&["approve", &id, "--deliver", "pr"], wrong);
    assert!(!ok, "{out}");
    assert!(
        err.contains(TOKEN_VAR),
        "the error names the variable: {err}"
    );
    assert!(
        err.contains("401") || err.to_lowercase().contains("refused"),
        "{err}"
    );
    assert!(!err.contains(wrong) && !out.contains(wrong));
    assert_eq!(s.run(&id)["status"], "awaiting_approval");
    assert!(s.server.prs().is_empty());
    assert!(
        files_with(&s.repo, wrong).is_empty(),
        "the token was written down"
    );
    // With the right token it goes through — a second later, so the tick commit made again
    // has another timestamp unless it is dated as its parent (the branch pushed by the first
    // try would then refuse it as a non-fast-forward).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s.ok(&["approve", &id, "--deliver", "pr"]);
    assert_eq!(s.run(&id)["status"], "delivered");
}

#[test]
fn changes_requested_retry_the_task_with_the_reviewers_words() {
    let s = setup("github", "retry_on_changes_requested = true\n");
    let run = s.run_to_review();
    let id = text(&run["id"]).to_string();
    s.ok(&["approve", &id, "--deliver", "pr"]);
    s.server
        .request_changes(1, "reviewer", "Say hello in French as well, please.");
    s.ok(&["run", "--headless"]);
    let runs = s.runs();
    let first = runs.iter().find(|r| r["id"] == id.as_str()).unwrap();
    assert_eq!(first["status"], "rejected", "{first:#}");
    let second = runs
        .iter()
        .find(|r| r["id"] != id.as_str())
        .expect("another attempt");
    assert_eq!(second["attempt"], 2);
    assert!(
        text(&second["feedback"]).contains("Say hello in French"),
        "{second:#}"
    );
}

#[test]
fn doctor_checks_the_remote_the_push_connection_and_the_token() {
    let s = setup("github", "");
    let (_, out, err) = s.bosun(&["doctor"], &s.server.token());
    let said = format!("{out}{err}");
    assert!(said.contains("accepts a push connection"), "{said}");
    assert!(said.contains("accepts the token"), "{said}");
    let (ok, out, err) = s.bosun(&["doctor"], "not-the-token");
    let said = format!("{out}{err}");
    assert!(!ok, "{said}");
    assert!(said.contains(TOKEN_VAR), "{said}");
    assert!(!said.contains("not-the-token"), "{said}");
    git(&s.repo, &["remote", "remove", "origin"]);
    let (ok, out, err) = s.bosun(&["doctor"], &s.server.token());
    let said = format!("{out}{err}");
    assert!(!ok && said.contains("git remote add origin"), "{said}");
}

#[test]
fn gitlab_and_gitea_get_the_same_delivery_and_following() {
    for kind in ["gitlab", "gitea"] {
        let s = setup(kind, "");
        let run = s.run_to_review();
        let id = text(&run["id"]).to_string();
        let said = s.ok(&["approve", &id, "--deliver", "pr"]);
        assert!(said.contains("pull request #1"), "{kind}: {said}");
        let branch = text(&run["branch"]).to_string();
        let pushed = remote_branch(&s.remote, &branch).expect("the branch is on the remote");
        let prs = s.server.prs();
        assert_eq!(prs.len(), 1, "{kind}: {prs:#?}");
        assert_eq!(prs[0]["head"], branch.as_str(), "{kind}");
        assert_eq!(prs[0]["base"], "main", "{kind}");
        assert!(
            text(&prs[0]["body"]).contains(&format!("Bosun-Run: {id}")),
            "{kind}"
        );
        let gates = run["gates"].as_array().unwrap().len();
        assert_eq!(s.server.statuses(&pushed).len(), gates, "{kind}");
        assert_eq!(s.run(&id)["status"], "delivered", "{kind}");
        s.server.merge(1, "maintainer");
        s.ok(&["run", "--headless"]);
        assert_eq!(s.run(&id)["status"], "merged", "{kind}");
    }
}

#[test]
fn a_push_the_remote_refuses_leaves_the_run_awaiting_with_a_clear_error() {
    let s = setup("github", "");
    let run = s.run_to_review();
    let id = text(&run["id"]).to_string();
    // Someone else's commit is already on the run's branch there: not a fast-forward.
    let branch = text(&run["branch"]).to_string();
    git(
        &s.repo,
        &["commit", "-q", "--allow-empty", "-m", "elsewhere"],
    );
    git(
        &s.repo,
        &["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")],
    );
    git(&s.repo, &["reset", "-q", "--hard", "HEAD~1"]);
    let (ok, out, err) = s.bosun(&["approve", &id, "--deliver", "pr"], &s.server.token());
    assert!(!ok, "{out}");
    assert!(
        err.contains("non-fast-forward") && err.contains(&branch),
        "{err}"
    );
    assert_eq!(s.run(&id)["status"], "awaiting_approval");
    assert!(s.server.prs().is_empty());
}

#[test]
fn a_rate_limited_forge_is_waited_for_and_an_unreachable_one_is_named() {
    let s = setup("github", "");
    let run = s.run_to_review();
    let id = text(&run["id"]).to_string();
    s.server.fail_next_on(
        "/pulls",
        1,
        429,
        &[("retry-after", "1")],
        r#"{"message":"API rate limit exceeded"}"#,
    );
    s.ok(&["approve", &id, "--deliver", "pr"]);
    assert_eq!(s.run(&id)["status"], "delivered");
    assert_eq!(s.server.prs().len(), 1);

    // A second repository whose forge is a closed port.
    let t = setup("github", "");
    let run = t.run_to_review();
    let id = text(&run["id"]).to_string();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let config = std::fs::read_to_string(t.repo.join("bosun.toml")).unwrap();
    let config = config.replace(&t.server.url(), &dead);
    std::fs::write(t.repo.join("bosun.toml"), config).unwrap();
    let (ok, out, err) = t.bosun(&["approve", &id, "--deliver", "pr"], &t.server.token());
    assert!(!ok, "{out}");
    assert!(
        err.contains(&dead),
        "the error names the forge's URL: {err}"
    );
    assert_eq!(t.run(&id)["status"], "awaiting_approval");
}

#[test]
fn a_pull_request_left_open_by_a_delivery_cut_short_is_adopted_not_opened_twice() {
    use bosun::config::ForgeKind;
    use bosun::forge::{Forge, NewPr, Token};
    for (name, kind) in [
        ("github", ForgeKind::Github),
        ("gitlab", ForgeKind::Gitlab),
        ("gitea", ForgeKind::Gitea),
    ] {
        let s = setup(name, "");
        let run = s.run_to_review();
        let id = text(&run["id"]).to_string();
        let branch = text(&run["branch"]).to_string();
        // What a first delivery did before bosun stopped: the pull request is open for the
        // branch.
        let forge = Forge::new(
            kind,
            &s.server.url(),
            &s.server.repository(),
            Some(Token::new(s.server.token())),
            bosun::llm::client::http_client().unwrap(),
        );
        let first = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(forge.open_pr(&NewPr {
                head: branch.clone(),
                base: "main".into(),
                title: "Write the greeting".into(),
                body: "opened by a delivery cut short".into(),
                draft: false,
                labels: Vec::new(),
            }))
            .unwrap();
        let said = s.ok(&["approve", &id, "--deliver", "pr"]);
        assert!(
            said.contains(&format!("pull request #{}", first.number)),
            "{name}: {said}"
        );
        assert_eq!(s.server.prs().len(), 1, "{name}: no second pull request");
        let delivered = s.run(&id);
        assert_eq!(delivered["status"], "delivered", "{name}");
        assert_eq!(delivered["delivery"]["number"], first.number, "{name}");
        let shown = s.ok(&["show", &id]);
        assert!(
            shown.contains("already open for this branch"),
            "{name}: {shown}"
        );
    }
}
