//! `bosun doctor`: checks that bosun can work in this repository, one line per check with a
//! fix for each problem.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::Cli;
use crate::config::Config;
use crate::intake::TaskList;
use crate::project::Project;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
struct Check {
    level: Level,
    what: String,
    fix: Option<String>,
}

impl Check {
    fn ok(what: impl Into<String>) -> Self {
        Self {
            level: Level::Ok,
            what: what.into(),
            fix: None,
        }
    }
    fn warn(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            level: Level::Warn,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            level: Level::Fail,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Arguments of `bosun doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Also run every command gate (`[gates.NAME] command`) on the target branch's tip, as
    /// bosun does before any agent: a required gate that fails there would fail every run.
    #[arg(long)]
    pub gates: bool,
}

/// Runs `bosun doctor`: exit status 1 when any check fails.
pub fn run(cli: &Cli, args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let project = Project::locate(cli.repo.as_deref())?;
    let mut checks = check_all(&project, cli.config.as_deref());
    if args.gates {
        checks.extend(check_gates(&project, cli.config.as_deref())?);
    }
    let mut out = format!("bosun doctor · {}\n", project.root.display());
    for c in &checks {
        let tag = match c.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "fail",
        };
        let _ = writeln!(out, "  {tag}  {}", c.what);
        if let Some(fix) = &c.fix {
            let _ = writeln!(out, "        fix: {fix}");
        }
    }
    let fails = checks.iter().filter(|c| c.level == Level::Fail).count();
    let warns = checks.iter().filter(|c| c.level == Level::Warn).count();
    let _ = writeln!(
        out,
        "{}",
        match (fails, warns) {
            (0, 0) => "All good.".to_string(),
            (0, w) => format!("No problems; {w} warning(s)."),
            (f, w) => format!("{f} problem(s), {w} warning(s)."),
        }
    );
    print!("{out}");
    Ok(if fails == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every command gate run on the target's tip: ok when it passes; a failure is a problem
/// for a required gate that does not compare with the base, a warning for the others (runs
/// count only what they make worse).
fn check_gates(project: &Project, config_flag: Option<&Path>) -> anyhow::Result<Vec<Check>> {
    let Some(repo) = &project.repo else {
        return Ok(Vec::new());
    };
    let config = project.load_config(config_flag)?.config;
    let target = if config.project.target_branch.is_empty() {
        repo.branch.clone().unwrap_or_else(|| "HEAD".into())
    } else {
        config.project.target_branch.clone()
    };
    if config.gates.commands.is_empty() {
        return Ok(vec![Check::warn(
            "no command gate is configured",
            "add [gates.build] / [gates.test] commands to bosun.toml",
        )]);
    }
    let base = crate::git::tip_of(&project.root, &target)?;
    let state = project.ensure_state_subdir("cache")?;
    let state = state.parent().unwrap_or(&project.root).to_path_buf();
    eprintln!(
        "running the command gates on {target} ({})…",
        &base[..base.len().min(10)]
    );
    let cancel = tokio_util::sync::CancellationToken::new();
    let results = crate::runtime()?.block_on(crate::gates::on_base(
        &config,
        &project.root,
        &state,
        &base,
        |_, _| true,
        &cancel,
        &|_| {},
    ));
    Ok(results
        .iter()
        .map(|(name, result)| {
            let gate = &config.gates.commands[name];
            match crate::gates::failure(result) {
                None => Check::ok(format!("gate {name} passes on {target} (`{}`)", gate.command)),
                Some(why) if crate::gates::blocks_when_broken(name, gate) => Check::fail(
                    format!("gate {name} fails on {target} itself: {why}"),
                    format!(
                        "every run would fail it: fix {target}, or [gates.{name}] command (bosun stops the queue until then)"
                    ),
                ),
                Some(why) if gate.compares_base(name) => Check::warn(
                    format!("gate {name} fails on {target}: {why}"),
                    "runs are compared with it: only what a change makes worse counts",
                ),
                Some(why) => Check::warn(
                    format!("gate {name} fails on {target}: {why}"),
                    format!(
                        "fine if it checks what a task adds; if it should pass on {target}, set preflight = true in [gates.{name}]"
                    ),
                ),
            }
        })
        .collect())
}

fn check_all(project: &Project, config_flag: Option<&Path>) -> Vec<Check> {
    let mut checks = Vec::new();
    match &project.repo {
        Some(repo) => checks.push(Check::ok(format!(
            "git repository at {} (branch {})",
            repo.root.display(),
            repo.branch.as_deref().unwrap_or("detached HEAD")
        ))),
        None => checks.push(Check::fail(
            format!("{} is not inside a git repository", project.root.display()),
            "run `git init` there, or pass --repo PATH to a repository",
        )),
    }

    let config = match project.load_config(config_flag) {
        Ok(loaded) => {
            checks.push(match &loaded.path {
                Some(p) => Check::ok(format!("config {}", project.display_path(p).display())),
                None => Check::warn(
                    "no bosun.toml: built-in defaults in use",
                    "run `bosun init` to write one",
                ),
            });
            loaded.config
        }
        Err(e) => {
            checks.push(Check::fail(format!("config: {e}"), "correct the file (see config.example.toml); defaults are used for the other checks"));
            Config::default()
        }
    };

    check_task_files(project, &config, &mut checks);
    check_executors(project, &config, &mut checks);
    checks.push(check_sandbox(&config));
    // Only when `[forge]` is set up: the checks reach the remote and the forge.
    if project.repo.is_some() && config.forge.is_set_up() {
        check_forge(project, &config, &mut checks);
    }
    // Outside a repository there is nowhere bosun would keep state, and nothing to litter.
    if project.repo.is_some() {
        checks.push(check_state_dir(project));
        if let Some(check) = check_audit(project) {
            checks.push(check);
        }
    }
    checks
}

fn check_task_files(project: &Project, config: &Config, checks: &mut Vec<Check>) {
    let rules = config.intake.type_rules();
    for file in &config.project.task_files {
        let shown = file.display();
        match TaskList::load(&project.root, std::slice::from_ref(file), &rules) {
            Ok(list) if list.tasks.is_empty() => checks.push(Check::warn(
                format!("task file {shown} has no checkbox tasks"),
                "add top-level items like `- [ ] Fix the login bug`",
            )),
            Ok(list) => {
                let open = list.tasks.iter().filter(|t| !t.done).count();
                checks.push(Check::ok(format!(
                    "task file {shown}: {open} open, {} done",
                    list.tasks.len() - open
                )));
                for w in list.warnings {
                    checks.push(Check::warn(w, "edit the task file"));
                }
            }
            Err(crate::intake::IntakeError::Read { error, .. })
                if error.kind() == std::io::ErrorKind::NotFound =>
            {
                checks.push(Check::fail(
                    format!("task file {shown} does not exist"),
                    "create it, or name your task list in bosun.toml under [project] task_files",
                ));
            }
            Err(e @ crate::intake::IntakeError::DoubleEncoded { .. }) => checks.push(Check::fail(
                e.to_string().lines().next().unwrap_or_default().to_string(),
                "run `bosun tasks --repair-encoding` (the original is kept as .bak)",
            )),
            Err(e) => checks.push(Check::fail(
                e.to_string(),
                "fix or re-save the file as UTF-8 Markdown",
            )),
        }
    }
}

fn check_executors(project: &Project, config: &Config, checks: &mut Vec<Check>) {
    if config.executors.is_empty() {
        checks.push(Check::warn(
            "no coding agent configured",
            "add an [executors.NAME] section with the agent's command to bosun.toml",
        ));
    }
    for (name, executor) in &config.executors.agents {
        if executor.kind == crate::config::ExecutorKind::Llm {
            checks.push(llm_agent_check(name, executor, config));
            continue;
        }
        let command = executor.argv();
        let Some(program) = command.first() else {
            continue;
        };
        if config.budget.limited()
            && executor.prices.is_none()
            && executor.preset.is_some_and(|p| !p.reports_cost())
        {
            checks.push(Check::warn(
                format!("agent {name} reports tokens but no cost: [budget] limits cannot count its runs"),
                format!("set [executors.{name}] prices = {{ input = …, output = … }} (dollars per million tokens)"),
            ));
        }
        match crate::executors::find_agent_program(program, &project.root, &executor.env) {
            Some(path) => checks.push(Check::ok(format!("agent {name}: {}", path.display()))),
            None => {
                let what = if program.contains('/') {
                    "does not exist or is not executable"
                } else {
                    "is not on PATH"
                };
                checks.push(Check::fail(
                    format!("agent {name}: `{program}` {what}"),
                    format!("install it, or correct [executors.{name}] command in bosun.toml"),
                ));
            }
        }
    }
}

/// Which sandbox agents, hooks and gates run in: ok when something confines them, a warning
/// when nothing does (by choice or for want of Landlock and bubblewrap).
fn check_sandbox(config: &Config) -> Check {
    let sandbox = crate::executors::sandbox::Sandbox::from_config(&config.sandbox, &[]);
    let gates = crate::executors::sandbox::Sandbox::for_gates(&config.sandbox);
    let what = format!(
        "sandbox: {}{}",
        sandbox.describe(),
        if gates.network == sandbox.network {
            String::new()
        } else if gates.network {
            "; gates: network allowed".to_string()
        } else {
            "; gates: TCP denied".to_string()
        }
    );
    match sandbox.confinement {
        crate::executors::sandbox::Confinement::Off if sandbox.degraded() => Check::warn(
            what,
            "use a kernel with Landlock (Linux 5.13+, enabled at boot) or install bubblewrap (`apt-get install bubblewrap`)",
        ),
        crate::executors::sandbox::Confinement::Off => Check::warn(
            what,
            "set [sandbox] mode = \"auto\" in bosun.toml to confine agents",
        ),
        crate::executors::sandbox::Confinement::Landlock(_)
        | crate::executors::sandbox::Confinement::Bwrap => Check::ok(what),
    }
}

/// The audit trail's hash chain, when there is a store (doctor makes none). A bosun running
/// here holds the store: then it is not checked.
fn check_audit(project: &Project) -> Option<Check> {
    let state = project.state_dir();
    if !crate::store::Store::file(&state).exists() && !state.join("store").exists() {
        return None;
    }
    Some(match crate::store::Store::open(&state) {
        Ok(store) => match store.verify_audit() {
            Ok(n) => Check::ok(format!("audit trail: {n} entries, hash chain verified")),
            Err(e) => Check::fail(
                format!("audit trail: {e}"),
                "the store was changed outside bosun or lost data; `bosun audit` lists what is there",
            ),
        },
        Err(crate::store::StoreError::Locked { .. }) => Check::warn(
            "audit trail: not checked (a running bosun holds the store)",
            "run `bosun audit verify` once it has stopped",
        ),
        Err(e) => Check::fail(
            format!("{e}"),
            "see the error; the store is .bosun/store.redb",
        ),
    })
}

/// The built-in agent needs its route's providers, and their keys in the environment.
fn llm_agent_check(name: &str, executor: &crate::config::ExecutorConfig, config: &Config) -> Check {
    let chain = config
        .llm
        .routes
        .get(&executor.route)
        .map(|r| r.chain.clone())
        .unwrap_or_default();
    let missing: Vec<String> = chain
        .iter()
        .filter_map(|p| config.llm.providers.get(p))
        .filter(|p| !p.api_key_env.is_empty() && std::env::var_os(&p.api_key_env).is_none())
        .map(|p| p.api_key_env.clone())
        .collect();
    if missing.is_empty() {
        Check::ok(format!(
            "agent {name}: built-in, route {} ({})",
            executor.route,
            chain.join(" → ")
        ))
    } else {
        Check::warn(
            format!("agent {name}: ${} not set", missing.join(", $")),
            "export the API key variable(s) named by api_key_env before running bosun",
        )
    }
}

fn check_state_dir(project: &Project) -> Check {
    let probe = || -> anyhow::Result<()> {
        let dir = project.ensure_state_subdir("logs")?;
        let file = dir.join(".doctor-probe");
        std::fs::write(&file, b"ok")?;
        std::fs::remove_file(&file)?;
        Ok(())
    };
    let shown = project
        .display_path(&project.state_dir())
        .display()
        .to_string();
    match probe() {
        Ok(()) => Check::ok(format!("state dir {shown}/ is writable")),
        Err(e) => Check::fail(
            format!("state dir {shown}/ is not writable: {e:#}"),
            "fix its permissions, or run bosun as a user who can write there",
        ),
    }
}

/// `[forge]`: the remote, push credentials (a connection in the push direction, nothing
/// pushed), the token's variable, and whether the forge accepts the token (and, for GitHub
/// classic tokens, has the `repo` scope pull requests and statuses need).
fn check_forge(project: &Project, config: &Config, checks: &mut Vec<Check>) {
    let forge = &config.forge;
    let url = match crate::git::remote_url(&project.root, &forge.remote) {
        Ok(url) => url,
        Err(e) => {
            checks.push(Check::fail(
                format!("[forge] remote: {e}"),
                format!(
                    "add it (`git remote add {} URL`) or set [forge] remote",
                    forge.remote
                ),
            ));
            return;
        }
    };
    let variable = forge.token_variable();
    let token = crate::forge::Token::from_env(variable);
    match crate::git::check_push(
        &project.root,
        &forge.remote,
        token.as_ref().map(crate::forge::Token::reveal),
    ) {
        Ok(()) => checks.push(Check::ok(format!(
            "[forge] remote `{}` accepts a push connection",
            forge.remote
        ))),
        Err(e) => checks.push(Check::fail(
            format!("[forge] cannot push to `{}`: {e}", forge.remote),
            "set up an SSH agent or a git credential helper for it, or the token variable for HTTPS",
        )),
    }
    let Some(token) = token else {
        checks.push(Check::fail(
            format!("[forge] ${variable} is not set"),
            format!("export {variable}=… (a token that may open pull requests), or name another variable in [forge] token_env"),
        ));
        return;
    };
    let http = match crate::llm::client::http_client() {
        Ok(h) => h,
        Err(e) => {
            checks.push(Check::fail(format!("[forge] {e}"), "see the log"));
            return;
        }
    };
    let client = match crate::forge::Forge::from_config(forge, &url, Some(token), http) {
        Ok(c) => c,
        Err(e) => {
            checks.push(Check::fail(
                format!("[forge] {e}"),
                "set [forge] repository and api_url",
            ));
            return;
        }
    };
    let who = super::run::runtime().map(|rt| rt.block_on(client.whoami()));
    match who {
        Ok(Ok(identity)) => {
            let scopes = identity.scopes.unwrap_or_default();
            let lacks_repo = config.forge.kind == crate::config::ForgeKind::Github
                && !scopes.is_empty()
                && !scopes.iter().any(|s| s == "repo" || s == "public_repo");
            if lacks_repo {
                checks.push(Check::fail(
                    format!(
                        "[forge] the token in ${variable} ({}) lacks the `repo` scope (it has: {})",
                        identity.login,
                        scopes.join(", ")
                    ),
                    "make a token with the `repo` scope",
                ));
            } else {
                checks.push(Check::ok(format!(
                    "[forge] {} accepts the token in ${variable} (user {}) for {}",
                    client.api_url(),
                    identity.login,
                    client.repository()
                )));
            }
        }
        Ok(Err(e)) => checks.push(Check::fail(
            format!("[forge] {e}"),
            format!("check the token in ${variable} and [forge] api_url"),
        )),
        Err(e) => checks.push(Check::fail(format!("[forge] {e}"), "see the log")),
    }
}
