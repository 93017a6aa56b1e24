//! `bosun mcp` through the real binary, driven by a scripted JSON-RPC client over its stdio:
//! it lists tasks, adds one (committed to the task file), lists and shows runs, and is refused
//! a decision unless `[mcp] allow_decisions = true` — then it approves, and the audit trail
//! names the MCP client's user.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

mod common;
use common::{agent, clean, git, toml_str};

/// A repository with one task, an agent that rewrites notes.txt, and `[mcp]` as given.
fn repository(dir: &Path, allow_decisions: bool) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("TODO.md"), "# Tasks\n\n- [ ] Rewrite the notes\n").unwrap();
    std::fs::write(repo.join("notes.txt"), "original\n").unwrap();
    std::fs::write(
        repo.join("bosun.toml"),
        format!(
            "[project]\nworktree_root = {}\n\n[executors.fake]\ncommand = [{}]\n\n[mcp]\nallow_decisions = {allow_decisions}\n",
            toml_str(&dir.join("wt").display().to_string()),
            toml_str(&agent("writes_note.sh")),
        ),
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "initial"]);
    repo
}

/// A `bosun mcp` child and a client that matches answers to requests by id.
struct Client {
    child: Child,
    stdin: ChildStdin,
    answers: mpsc::Receiver<Value>,
    next_id: u64,
}

impl Client {
    fn start(repo: &Path) -> Self {
        let mut child = clean(env!("CARGO_BIN_EXE_bosun"), repo)
            .arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("bosun mcp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let message: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout carries only JSON-RPC ({e}): {line}"));
                if tx.send(message).is_err() {
                    return;
                }
            }
        });
        let mut client = Self {
            child,
            stdin,
            answers,
            next_id: 1,
        };
        let init = client.request(
            "initialize",
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bosun-test", "version": "0.0.0"}
            }),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "bosun", "{init}");
        client.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        client
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").expect("write to bosun mcp");
        self.stdin.flush().expect("flush");
    }

    /// Sends a request and waits for the answer with its id.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let answer = self
                .answers
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no answer to {method} #{id}"));
            if answer["id"] == id {
                return answer;
            }
        }
    }

    /// Calls a tool: (whether it reported an error, its text).
    fn call(&mut self, tool: &str, arguments: Value) -> (bool, String) {
        let answer = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        let result = &answer["result"];
        assert!(result.is_object(), "a tool result: {answer}");
        let text = result["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("text content: {answer}"))
            .to_string();
        (result["isError"] == true, text)
    }

    fn tools(&mut self) -> Vec<String> {
        let answer = self.request("tools/list", json!({}));
        answer["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("a tool list: {answer}"))
            .iter()
            .map(|t| t["name"].as_str().expect("a name").to_string())
            .collect()
    }

    /// Closes stdin: the server ends, successfully.
    fn finish(mut self) {
        drop(self.stdin);
        let status = self.child.wait().expect("bosun mcp ends");
        assert!(status.success(), "{status}");
    }
}

fn bosun(repo: &Path, args: &[&str]) -> String {
    common::bosun_ok(repo, args)
}

#[test]
fn an_mcp_client_reads_and_adds_tasks_and_decides_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(dir.path(), false);
    let mut client = Client::start(&repo);

    let tools = client.tools();
    for read in ["list_tasks", "add_task", "list_runs", "show_run"] {
        assert!(tools.contains(&read.to_string()), "{tools:?}");
    }
    for decision in ["approve", "reject", "retry"] {
        assert!(!tools.contains(&decision.to_string()), "{tools:?}");
    }

    let (error, text) = client.call(
        "add_task",
        json!({"title": "Document the notes", "body": "Say what notes.txt is for.", "priority": "high"}),
    );
    assert!(!error, "{text}");
    let task: Value = serde_json::from_str(&text).expect("the task as JSON");
    assert_eq!(task["title"], "Document the notes");
    let todo = git(&repo, &["show", "main:TODO.md"]);
    assert!(
        todo.contains("- [ ] Document the notes [priority:high]\n  Say what notes.txt is for."),
        "committed on main: {todo}"
    );
    let (error, text) = client.call("list_tasks", json!({}));
    assert!(!error, "{text}");
    let tasks: Vec<Value> = serde_json::from_str(&text).expect("tasks as JSON");
    let titles: Vec<&str> = tasks.iter().filter_map(|t| t["title"].as_str()).collect();
    assert_eq!(
        titles,
        ["Rewrite the notes", "Document the notes"],
        "in file order"
    );
    let (error, text) = client.call("add_task", json!({"title": "x", "priority": "urgent"}));
    assert!(
        error && text.contains("not one of critical, high, medium, low"),
        "{text}"
    );

    // A run to decide on: the agent's change awaits approval.
    bosun(
        &repo,
        &[
            "run",
            "--headless",
            "--task",
            tasks[0]["id"].as_str().unwrap(),
        ],
    );
    let (error, text) = client.call("list_runs", json!({"status": "awaiting_approval"}));
    assert!(!error, "{text}");
    let runs: Vec<Value> = serde_json::from_str(&text).expect("runs as JSON");
    assert_eq!(runs.len(), 1, "{text}");
    let run = runs[0]["id"].as_str().unwrap().to_string();
    let (error, text) = client.call("show_run", json!({"run": run}));
    assert!(!error && text.contains("+note from"), "{text}");

    let (error, text) = client.call("approve", json!({"run": run}));
    assert!(error && text.contains("allow_decisions"), "{text}");
    let (error, text) = client.call("show_run", json!({"run": "no-such-run"}));
    assert!(error && text.starts_with("error: "), "{text}");
    client.finish();
    let shown: Value = serde_json::from_str(&bosun(&repo, &["show", &run, "--json"])).unwrap();
    assert_eq!(
        shown["status"], "awaiting_approval",
        "refused: nothing decided"
    );

    // Allowed: the same client approves, and the audit trail says it was through MCP.
    let toml = std::fs::read_to_string(repo.join("bosun.toml")).unwrap();
    std::fs::write(
        repo.join("bosun.toml"),
        toml.replace("allow_decisions = false", "allow_decisions = true"),
    )
    .unwrap();
    git(&repo, &["commit", "-q", "-am", "let MCP clients decide"]);
    let mut client = Client::start(&repo);
    assert!(client.tools().contains(&"approve".to_string()));
    let (error, text) = client.call("approve", json!({"run": run, "note": "fine"}));
    assert!(!error, "{text}");
    assert!(text.contains("\"merged\""), "{text}");
    client.finish();
    let audit: Vec<Value> = serde_json::from_str(&bosun(&repo, &["audit", "--json"])).unwrap();
    let approval = audit
        .iter()
        .find(|e| e["action"] == "approve")
        .expect("the approval is audited");
    assert!(
        approval["who"].as_str().unwrap().ends_with("(mcp)"),
        "{approval}"
    );
    let todo = git(&repo, &["show", "main:TODO.md"]);
    assert!(todo.contains("- [x] Rewrite the notes"), "{todo}");
}
