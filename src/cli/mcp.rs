//! `bosun mcp`: an MCP server over stdio (rmcp), so Claude Code, Codex or any MCP client can
//! read the task list and the runs, add tasks, and — only with `[mcp] allow_decisions = true`
//! — approve, reject or retry runs.
//!
//! Each tool does what the CLI command of the same name does, through the same functions: on
//! a running bosun through its control socket, else on the repository directly. Answers are
//! the CLI's JSON (`bosun runs --json`, `show --json`, `tasks --json`), so a client reads one
//! format everywhere; diffs and histories are masked for credentials as `bosun show` masks
//! them. stdout carries the protocol only: bosun's log goes to its file and stderr.

use std::process::ExitCode;
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt, schemars};
use rmcp::{tool, tool_handler, tool_router};
use serde::Deserialize;

use super::Context;
use crate::model::RunStatus;
use crate::orchestrator::Command;

/// The tools that decide on runs, offered only with `[mcp] allow_decisions = true`.
const DECISIONS: [&str; 3] = ["approve", "reject", "retry"];

/// Arguments of `list_tasks`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ListTasksArgs {
    /// Include tasks already done.
    #[serde(default)]
    pub all: bool,
}

/// Arguments of `add_task`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddTaskArgs {
    /// The task's title, one line (e.g. "Fix the login timeout").
    pub title: String,
    /// What the agent should know beyond the title (Markdown).
    #[serde(default)]
    pub body: Option<String>,
    /// code, test, docs, refactor, devops, …; read from the title when not given.
    #[serde(default, rename = "type")]
    pub task_type: Option<String>,
    /// critical, high, medium or low.
    #[serde(default)]
    pub priority: Option<String>,
}

/// Arguments of `list_runs`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ListRunsArgs {
    /// Only runs with this status: queued, running, awaiting_approval, merged, rejected,
    /// failed, cancelled, …
    #[serde(default)]
    pub status: Option<String>,
}

/// A run named by id, or a unique prefix (or suffix) of one.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RunArgs {
    /// Run id, or a unique prefix (or suffix) of one.
    pub run: String,
}

/// Arguments of `approve`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ApproveArgs {
    /// Run id, or a unique prefix (or suffix) of one; it must await approval.
    pub run: String,
    /// A note for the audit trail.
    #[serde(default)]
    pub note: Option<String>,
}

/// Arguments of `reject`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RejectArgs {
    /// Run id, or a unique prefix (or suffix) of one.
    pub run: String,
    /// Why: kept in the audit trail and, with retry, given to the agent.
    pub reason: String,
    /// Queue another attempt with the reason in its prompt.
    #[serde(default)]
    pub retry: bool,
}

/// The MCP server: the CLI's context, shared by the tools.
#[derive(Clone)]
pub struct Bosun {
    ctx: Arc<Context>,
    tool_router: ToolRouter<Self>,
}

/// Who the audit trail names for a decision made through MCP.
fn who() -> String {
    format!("{} (mcp)", crate::orchestrator::operator())
}

/// Runs `work` off the async threads (it opens the store or talks to a running bosun, both
/// blocking); its error becomes the tool's error text, as the CLI would print it.
async fn blocking(
    ctx: &Arc<Context>,
    work: impl FnOnce(&Context) -> anyhow::Result<String> + Send + 'static,
) -> Result<CallToolResult, McpError> {
    let ctx = Arc::clone(ctx);
    let done = tokio::task::spawn_blocking(move || work(&ctx))
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    Ok(match done {
        Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
        Err(e) => CallToolResult::error(vec![ContentBlock::text(format!("error: {e:#}"))]),
    })
}

#[tool_router]
impl Bosun {
    fn new(ctx: Context) -> Self {
        let mut tool_router = Self::tool_router();
        if !ctx.config.mcp.allow_decisions {
            for name in DECISIONS {
                tool_router.disable_route(name);
            }
        }
        Self {
            ctx: Arc::new(ctx),
            tool_router,
        }
    }

    #[tool(
        description = "List the tasks of the repository's task files (open ones unless all), in file order, as JSON: id, title, type, priority, description.",
        annotations(read_only_hint = true)
    )]
    async fn list_tasks(
        &self,
        Parameters(args): Parameters<ListTasksArgs>,
    ) -> Result<CallToolResult, McpError> {
        blocking(&self.ctx, move |ctx| {
            let files = ctx.project.task_files(&ctx.config, &[])?;
            let list = super::tasks::load(ctx, &files)?;
            let shown: Vec<&crate::model::Task> =
                list.tasks.iter().filter(|t| args.all || !t.done).collect();
            Ok(serde_json::to_string_pretty(&shown)?)
        })
        .await
    }

    #[tool(
        description = "Add a task to the first task file (committed on the target branch); a running bosun schedules it like any open task. Returns the task as JSON."
    )]
    async fn add_task(
        &self,
        Parameters(args): Parameters<AddTaskArgs>,
    ) -> Result<CallToolResult, McpError> {
        blocking(&self.ctx, move |ctx| {
            let task_type = args
                .task_type
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("type: {e}"))?;
            let priority = args
                .priority
                .as_deref()
                .map(super::tasks::priority)
                .transpose()
                .map_err(|e| anyhow::anyhow!("priority: {e}"))?;
            let added = super::tasks::AddArgs {
                title: args.title,
                body: args.body.unwrap_or_default(),
                task_type,
                priority,
            };
            let task = super::tasks::add_task(ctx, &added)?;
            Ok(serde_json::to_string_pretty(&task)?)
        })
        .await
    }

    #[tool(
        description = "List runs (one agent's attempt at one task each), newest first, as JSON; optionally only those with one status.",
        annotations(read_only_hint = true)
    )]
    async fn list_runs(
        &self,
        Parameters(args): Parameters<ListRunsArgs>,
    ) -> Result<CallToolResult, McpError> {
        blocking(&self.ctx, move |ctx| {
            let status = args
                .status
                .as_deref()
                .map(str::parse::<RunStatus>)
                .transpose()
                .map_err(|e| anyhow::anyhow!("status: {e}"))?;
            let runs = super::runs::load_runs(ctx, status)?;
            Ok(serde_json::to_string_pretty(&super::runs::runs_view(
                &runs,
            ))?)
        })
        .await
    }

    #[tool(
        description = "Show one run as JSON: its state, gate results, score, history and diff (credentials masked).",
        annotations(read_only_hint = true)
    )]
    async fn show_run(
        &self,
        Parameters(args): Parameters<RunArgs>,
    ) -> Result<CallToolResult, McpError> {
        blocking(&self.ctx, move |ctx| {
            let shown = super::runs::load_show(ctx, &args.run)?;
            Ok(serde_json::to_string_pretty(&super::runs::show_view(
                ctx, &shown,
            ))?)
        })
        .await
    }

    #[tool(
        description = "Approve a run awaiting approval: bosun merges it into the target branch and ticks its task. Returns the run as JSON."
    )]
    async fn approve(
        &self,
        Parameters(args): Parameters<ApproveArgs>,
    ) -> Result<CallToolResult, McpError> {
        blocking(&self.ctx, move |ctx| {
            let note = args.note.unwrap_or_default();
            let forwarded = crate::api::Request::Approve {
                run: args.run.clone(),
                who: who(),
                note: note.clone(),
                keep: None,
                message: None,
                deliver: None,
            };
            let run = super::decide::request(ctx, forwarded, |reply| Command::Approve {
                run: args.run,
                who: who(),
                note,
                keep: None,
                message: None,
                deliver: None,
                reply,
            })?;
            Ok(serde_json::to_string_pretty(&super::runs::runs_view(&[
                run,
            ]))?)
        })
        .await
    }

    #[tool(
        description = "Reject a run with a reason (kept in the audit trail and process memory); with retry, another attempt is queued with the reason in its prompt. Returns the run as JSON."
    )]
    async fn reject(
        &self,
        Parameters(args): Parameters<RejectArgs>,
    ) -> Result<CallToolResult, McpError> {
        blocking(&self.ctx, move |ctx| {
            if args.reason.trim().is_empty() {
                anyhow::bail!("give a reason: it goes into the audit trail and the next prompt");
            }
            let forwarded = crate::api::Request::Reject {
                run: args.run.clone(),
                who: who(),
                reason: args.reason.clone(),
                retry: args.retry,
                prompt: None,
            };
            let run = super::decide::request(ctx, forwarded, |reply| Command::Reject {
                run: args.run,
                who: who(),
                reason: args.reason,
                retry: args.retry,
                prompt: None,
                reply,
            })?;
            Ok(serde_json::to_string_pretty(&super::runs::runs_view(&[
                run,
            ]))?)
        })
        .await
    }

    #[tool(
        description = "Queue another attempt at a failed, rejected or cancelled run's task, with its error as feedback. Returns the new run as JSON."
    )]
    async fn retry(
        &self,
        Parameters(args): Parameters<RunArgs>,
    ) -> Result<CallToolResult, McpError> {
        blocking(&self.ctx, move |ctx| {
            let forwarded = crate::api::Request::Retry {
                run: args.run.clone(),
                who: who(),
            };
            let run = super::decide::request(ctx, forwarded, |reply| Command::Retry {
                run: args.run,
                who: who(),
                reply,
            })?;
            Ok(serde_json::to_string_pretty(&super::runs::runs_view(&[
                run,
            ]))?)
        })
        .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Bosun {
    fn get_info(&self) -> ServerConfig {
        let decisions = if self.ctx.config.mcp.allow_decisions {
            "approve, reject or retry runs"
        } else {
            "not decide on runs (the operator does; [mcp] allow_decisions is off)"
        };
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("bosun", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "bosun supervises coding agents working through the task list of {}: list and add tasks, list and show runs; you may {decisions}.",
                self.ctx.project.root.display()
            ))
    }

    /// A decision asked for while `[mcp] allow_decisions` is off is refused in words (the
    /// tools are not listed then), not as an unknown tool.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if !self.ctx.config.mcp.allow_decisions && DECISIONS.contains(&request.name.as_ref()) {
            return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "error: {} is the operator's decision here: set [mcp] allow_decisions = true in bosun.toml to let MCP clients decide",
                request.name
            ))])
            .into());
        }
        let call = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }
}

/// Runs `bosun mcp` until the client closes stdin.
pub fn run(ctx: Context) -> anyhow::Result<ExitCode> {
    super::run::runtime()?.block_on(async move {
        let service = Bosun::new(ctx)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| anyhow::anyhow!("the MCP client did not start a session: {e}"))?;
        service
            .waiting()
            .await
            .map_err(|e| anyhow::anyhow!("the MCP session ended badly: {e}"))?;
        Ok(ExitCode::SUCCESS)
    })
}
