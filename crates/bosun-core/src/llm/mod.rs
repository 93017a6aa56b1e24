//! The LLM layer: bosun's own agent and judge talk to OpenAI-compatible chat-completions
//! providers through one [`Router`].
//!
//! - [`types`]: messages, tools, requests and responses, independent of the wire format.
//! - [`client`]: one provider over HTTP (one shared reqwest client: HTTP/2, connection reuse),
//!   streaming (SSE) and not, tool calls, logprobs.
//! - [`router`]: routes (`[llm.routes.NAME]`) over providers — fallback chains, least latency,
//!   round robin, retries with backoff, `Retry-After`, cooldown — the only retry loop.
//! - [`cache`]: answers to identical temperature-0 requests from the store, with a TTL, and
//!   single-flight coalescing of concurrent identical requests.
//! - [`budget`]: spend per run, task and day against `[budget]`.

pub mod budget;
pub mod cache;
pub mod client;
pub mod router;
pub mod types;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use budget::{Ledger, Meter};
pub use cache::Cache;
pub use router::{ProviderStats, Router};
pub use types::{
    ChatRequest, ChatResponse, Message, Role, TokenLogprob, TokenUsage, Tool, ToolCall,
};

/// What can go wrong talking to a model.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    /// The route is not configured.
    #[error("there is no [llm.routes.{0}] in bosun.toml")]
    UnknownRoute(String),
    /// `[llm]` cannot be used as written (a route naming a missing provider, say).
    #[error("{0}")]
    Config(String),
    /// The provider's key variable is not set.
    #[error(
        "provider `{provider}` reads its API key from ${env}, which is not set; export it or change [llm.providers.{provider}] api_key_env"
    )]
    MissingKey {
        /// The provider.
        provider: String,
        /// The variable.
        env: String,
    },
    /// The provider answered with an HTTP error.
    #[error("provider `{provider}` answered HTTP {status}: {message}")]
    Status {
        /// The provider.
        provider: String,
        /// The HTTP status.
        status: u16,
        /// The body's error message (shortened).
        message: String,
        /// What its `Retry-After` header asked for.
        retry_after: Option<Duration>,
    },
    /// The request did not complete: connection refused or reset, timeout, truncated stream.
    #[error("provider `{provider}`: {message}")]
    Transport {
        /// The provider.
        provider: String,
        /// What happened.
        message: String,
    },
    /// The provider answered something that is not a chat completion.
    #[error("provider `{provider}` sent an answer bosun cannot read: {message}")]
    Malformed {
        /// The provider.
        provider: String,
        /// What was wrong.
        message: String,
    },
    /// Every provider of the route failed or is cooling down.
    #[error("every provider of route `{route}` failed; the last error: {last}")]
    Exhausted {
        /// The route.
        route: String,
        /// The last provider's error.
        last: Box<LlmError>,
    },
    /// The call would exceed a `[budget]` limit.
    #[error("{0}")]
    Budget(String),
    /// The run was cancelled while waiting.
    #[error("cancelled")]
    Cancelled,
}

impl LlmError {
    /// Whether trying the same provider again may help (timeouts, connection errors, 5xx,
    /// 429, malformed or truncated answers).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || *status >= 500 || *status == 408,
            Self::Transport { .. } | Self::Malformed { .. } => true,
            Self::UnknownRoute(_)
            | Self::Config(_)
            | Self::MissingKey { .. }
            | Self::Exhausted { .. }
            | Self::Budget(_)
            | Self::Cancelled => false,
        }
    }
}

/// A boxed chat future (the trait is used as a trait object).
pub type ChatFuture<'a> = Pin<Box<dyn Future<Output = Result<ChatResponse, LlmError>> + Send + 'a>>;

/// Something that answers chat requests on named routes: the [`router::Router`] in bosun;
/// the built-in agent and the judge gate depend only on this.
pub trait Chat: Send + Sync {
    /// Asks route `route` (`[llm.routes.NAME]`). With a `meter`, the call is checked against
    /// the budget before it is made (an estimate of its input cost) and charged after.
    fn chat<'a>(
        &'a self,
        route: &'a str,
        request: &'a ChatRequest,
        meter: Option<&'a Meter>,
    ) -> ChatFuture<'a>;

    /// Whether route `route` is configured.
    fn has_route(&self, route: &str) -> bool;

    /// What each provider has done so far, for the metrics (none by default).
    fn stats(&self) -> Vec<ProviderStats> {
        Vec::new()
    }
}
