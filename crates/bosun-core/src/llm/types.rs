//! The chat-completions vocabulary bosun speaks with every provider (OpenAI-compatible):
//! messages, tool definitions and calls, a request, a response with usage and logprobs.
//! These are bosun's own types; the wire format is written and read in `client`.

use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from bosun.
    System,
    /// The task, or tool results folded into text.
    User,
    /// The model.
    Assistant,
    /// A tool's result, answering one of the assistant's tool calls.
    Tool,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Its text (an assistant message that only calls tools may have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Tools the assistant asks to call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a `tool` message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Self::text(Role::System, text)
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::text(Role::User, text)
    }

    /// An assistant message with text only.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::text(Role::Assistant, text)
    }

    /// A tool's result for the call `call_id`.
    pub fn tool(call_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            role: Role::Tool,
            content: Some(text.into()),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
        }
    }

    fn text(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(text.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A tool the model may call: a function with a JSON-schema for its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// The function's name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call, echoed in the tool message that answers it.
    pub id: String,
    /// The function called.
    pub name: String,
    /// Its arguments as the model wrote them (JSON text, possibly malformed).
    pub arguments: String,
}

/// What to ask a model. The provider's model name is added by the router.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Tools the model may call (empty: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Sampling temperature (None: the provider's default). Only requests at temperature 0
    /// are answered from the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Ask for the log-probabilities of this many top alternatives per output token
    /// (providers that cannot give them answer without).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u8>,
    /// Ask for a JSON object as the answer (`response_format: json_object`).
    #[serde(default)]
    pub json: bool,
    /// Stream the answer (server-sent events); the response is the same once assembled.
    #[serde(default)]
    pub stream: bool,
}

/// Tokens a call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Prompt tokens.
    pub input: u64,
    /// Completion tokens.
    pub output: u64,
}

/// One output token with its log-probability and the most likely alternatives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    /// The token's text.
    pub token: String,
    /// Its natural-log probability.
    pub logprob: f64,
    /// The top alternatives at this position (the token itself usually among them).
    #[serde(default)]
    pub top: Vec<(String, f64)>,
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The assistant message (text and/or tool calls).
    pub message: Message,
    /// Why generation stopped (`stop`, `length`, `tool_calls`, …), when the provider said.
    pub finish_reason: Option<String>,
    /// Tokens used (0 when the provider did not report them).
    pub usage: TokenUsage,
    /// What the call cost, from the provider's prices.
    pub cost_usd: f64,
    /// The provider that answered (its `[llm.providers.NAME]`).
    pub provider: String,
    /// The model that answered.
    pub model: String,
    /// Per-token log-probabilities, when asked for and given.
    #[serde(default)]
    pub logprobs: Option<Vec<TokenLogprob>>,
    /// Answered from the cache (no upstream call, no cost).
    #[serde(default)]
    pub cached: bool,
}

impl ChatResponse {
    /// The answer's text ("" when it only called tools).
    pub fn text(&self) -> &str {
        self.message.content.as_deref().unwrap_or("")
    }
}
