//! One OpenAI-compatible provider over HTTP: writes a [`ChatRequest`] in the chat-completions
//! wire format, reads the answer back (whole, or assembled from a server-sent event stream),
//! and turns every failure into an [`LlmError`]. It does not retry: the router does.
//!
//! The API key is read from the provider's `api_key_env` for each request and lives only in a
//! local and in the `Authorization` header, which is marked sensitive (reqwest's `Debug` hides
//! it); error messages built from a provider's answer have the key cut out in case the
//! provider echoes it.

use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::LlmError;
use super::types::{ChatRequest, ChatResponse, Message, Role, TokenLogprob, TokenUsage, ToolCall};
use crate::config::ProviderConfig;

/// Longest error message kept from a provider's body.
const MAX_MESSAGE: usize = 300;

/// The HTTP client every provider shares: one connection pool, so calls to the same host
/// reuse connections (and HTTP/2 streams when the server offers h2 over TLS). Plain-HTTP
/// servers (local models) are spoken to in HTTP/1.1, since prior knowledge of h2 is not
/// assumed.
pub fn http_client() -> Result<reqwest::Client, LlmError> {
    install_tls_provider();
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(90))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| LlmError::Transport {
            provider: String::new(),
            message: format!("cannot build the HTTP client: {}", chain(&e)),
        })
}

/// Makes ring the process's TLS crypto provider. reqwest is built without one (its default
/// brings aws-lc, a large C build), and building a client panics until one is installed.
/// Calling it again, or after another provider was installed, changes nothing.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means a provider is already installed: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// One `[llm.providers.NAME]`: its settings, the shared HTTP client and a limit on requests
/// in flight (`max_concurrency`).
#[derive(Debug, Clone)]
pub struct Provider {
    name: String,
    config: ProviderConfig,
    http: reqwest::Client,
    slots: Arc<Semaphore>,
}

impl Provider {
    /// Provider `name` with `config`, sending through `http` (see [`http_client`]).
    pub fn new(name: impl Into<String>, config: ProviderConfig, http: reqwest::Client) -> Self {
        // 0 would deadlock every call; treat it as 1.
        let slots = Arc::new(Semaphore::new(config.max_concurrency.max(1)));
        Self {
            name: name.into(),
            config,
            http,
            slots,
        }
    }

    /// Its `[llm.providers.NAME]` name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its settings.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Sends `request` once and returns the answer. Waits for a free slot first
    /// (`max_concurrency`); the provider's `timeout` then bounds the whole call, stream
    /// included.
    pub async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let key = match self.config.api_key_env.as_str() {
            "" => None,
            env => Some(std::env::var(env).map_err(|_| LlmError::MissingKey {
                provider: self.name.clone(),
                env: env.to_string(),
            })?),
        };
        // The semaphore is never closed, so acquiring only fails if it were; treat that as
        // "no limit" rather than failing the call.
        let _slot = self.slots.acquire().await.ok();
        let timeout = self.config.timeout();
        let result = match tokio::time::timeout(timeout, self.send(request, key.as_deref())).await {
            Ok(result) => result,
            Err(_) => Err(self.transport(format!("no complete answer within {timeout:?}"))),
        };
        match key {
            Some(key) if !key.is_empty() => result.map_err(|e| redact(e, &key)),
            _ => result,
        }
    }

    async fn send(
        &self,
        request: &ChatRequest,
        key: Option<&str>,
    ) -> Result<ChatResponse, LlmError> {
        let url = format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        );
        let mut headers = HeaderMap::new();
        for (name, value) in &self.config.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                self.malformed_config(format!("header name `{name}` is not valid HTTP"))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                self.malformed_config(format!("the value of header `{name}` is not valid HTTP"))
            })?;
            headers.insert(name, value);
        }
        if let Some(key) = key {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                self.malformed_config(format!(
                    "the key in ${} is not a valid header value",
                    self.config.api_key_env
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let response = self
            .http
            .post(url)
            .headers(headers)
            .json(&self.wire_body(request))
            .send()
            .await
            .map_err(|e| self.transport(chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64);
            let body = response.text().await.unwrap_or_default();
            return Err(LlmError::Status {
                provider: self.name.clone(),
                status: status.as_u16(),
                message: error_message(&body),
                retry_after,
            });
        }
        if request.stream {
            self.read_stream(response).await
        } else {
            let body = response
                .bytes()
                .await
                .map_err(|e| self.transport(chain(&e)))?;
            let completion: WireCompletion = serde_json::from_slice(&body)
                .map_err(|e| self.malformed(format!("not a chat completion: {e}")))?;
            self.finish(Assembly::from_completion(completion).map_err(|m| self.malformed(m))?)
        }
    }

    /// The request body in the chat-completions wire format, with this provider's model.
    pub fn wire_body(&self, request: &ChatRequest) -> Value {
        let messages: Vec<Value> = request.messages.iter().map(wire_message).collect();
        let mut body = json!({ "model": self.config.model, "messages": messages });
        let Some(obj) = body.as_object_mut() else {
            unreachable!("json! of an object literal is an object");
        };
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| {
                    json!({
                        "type": "function",
                        "function": {
                            "name": t.name,
                            "description": t.description,
                            "parameters": t.parameters,
                        }
                    })
                })
                .collect();
            obj.insert("tools".into(), Value::Array(tools));
        }
        if let Some(t) = request.temperature {
            obj.insert("temperature".into(), json!(t));
        }
        if let Some(n) = request.max_tokens {
            obj.insert("max_tokens".into(), json!(n));
        }
        if let Some(n) = request.top_logprobs
            && self.config.logprobs
        {
            obj.insert("logprobs".into(), json!(true));
            obj.insert("top_logprobs".into(), json!(n));
        }
        if request.json {
            obj.insert("response_format".into(), json!({ "type": "json_object" }));
        }
        if request.stream {
            obj.insert("stream".into(), json!(true));
            obj.insert("stream_options".into(), json!({ "include_usage": true }));
        }
        body
    }

    async fn read_stream(&self, response: reqwest::Response) -> Result<ChatResponse, LlmError> {
        let mut events = response.bytes_stream().eventsource();
        let mut assembly = Assembly::default();
        let mut done = false;
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| self.transport(format!("stream broke: {e}")))?;
            let data = event.data.trim();
            if data == "[DONE]" {
                done = true;
                break;
            }
            if data.is_empty() {
                continue;
            }
            let chunk: WireCompletion = serde_json::from_str(data)
                .map_err(|e| self.malformed(format!("a stream chunk is not JSON: {e}")))?;
            assembly.add_chunk(chunk).map_err(|m| self.malformed(m))?;
        }
        if !done && assembly.finish_reason.is_none() {
            return Err(self.transport("stream ended early (no [DONE], no finish_reason)".into()));
        }
        self.finish(assembly)
    }

    fn finish(&self, a: Assembly) -> Result<ChatResponse, LlmError> {
        let tool_calls = a
            .tool_calls
            .into_iter()
            .map(|c| ToolCall {
                id: c.id,
                name: c.name,
                arguments: c.arguments,
            })
            .collect();
        Ok(ChatResponse {
            message: Message {
                role: Role::Assistant,
                content: a.content,
                tool_calls,
                tool_call_id: None,
            },
            finish_reason: a.finish_reason,
            usage: a.usage,
            cost_usd: self.config.cost_usd(a.usage.input, a.usage.output),
            provider: self.name.clone(),
            model: a.model.unwrap_or_else(|| self.config.model.clone()),
            logprobs: a.logprobs,
            cached: false,
        })
    }

    fn transport(&self, message: String) -> LlmError {
        LlmError::Transport {
            provider: self.name.clone(),
            message,
        }
    }

    fn malformed(&self, message: String) -> LlmError {
        LlmError::Malformed {
            provider: self.name.clone(),
            message,
        }
    }

    /// A setting that cannot be sent: a 400-like error that no retry fixes.
    fn malformed_config(&self, message: String) -> LlmError {
        LlmError::Status {
            provider: self.name.clone(),
            status: 400,
            message: format!("[llm.providers.{}]: {message}", self.name),
            retry_after: None,
        }
    }
}

/// One message in the wire format (an assistant's tool calls as `function` calls).
fn wire_message(m: &Message) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut v = json!({ "role": role, "content": m.content });
    if let Some(obj) = v.as_object_mut() {
        if !m.tool_calls.is_empty() {
            let calls: Vec<Value> = m
                .tool_calls
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id,
                        "type": "function",
                        "function": { "name": c.name, "arguments": c.arguments },
                    })
                })
                .collect();
            obj.insert("tool_calls".into(), Value::Array(calls));
        }
        if let Some(id) = &m.tool_call_id {
            obj.insert("tool_call_id".into(), json!(id));
        }
    }
    v
}

/// The error's message and its sources, one line (reqwest's own Display omits the cause).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A short message from an error body: its `error.message` when it is OpenAI-shaped, else
/// the start of the body.
fn error_message(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.get("error").and_then(|e| {
            e.get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| e.as_str().map(str::to_string))
        })
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_string());
    shorten(&text)
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE {
        return text.to_string();
    }
    let mut s: String = text.chars().take(MAX_MESSAGE).collect();
    s.push('…');
    s
}

/// Cuts `key` out of an error's messages: a provider may echo the key it was sent.
fn redact(e: LlmError, key: &str) -> LlmError {
    let clean = |s: String| s.replace(key, "[redacted]");
    match e {
        LlmError::Status {
            provider,
            status,
            message,
            retry_after,
        } => LlmError::Status {
            provider,
            status,
            message: clean(message),
            retry_after,
        },
        LlmError::Transport { provider, message } => LlmError::Transport {
            provider,
            message: clean(message),
        },
        LlmError::Malformed { provider, message } => LlmError::Malformed {
            provider,
            message: clean(message),
        },
        other @ (LlmError::UnknownRoute(_)
        | LlmError::Config(_)
        | LlmError::MissingKey { .. }
        | LlmError::Exhausted { .. }
        | LlmError::Budget(_)
        | LlmError::Cancelled) => other,
    }
}

// The wire format, read side: a whole completion and a stream chunk share one shape
// (`message` in the first, `delta` in the second).

#[derive(Deserialize)]
struct WireCompletion {
    #[serde(default)]
    choices: Option<Vec<WireChoice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    delta: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    logprobs: Option<WireLogprobs>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct WireLogprobs {
    #[serde(default)]
    content: Option<Vec<WireTokenLogprob>>,
}

#[derive(Deserialize)]
struct WireTokenLogprob {
    token: String,
    logprob: f64,
    #[serde(default)]
    top_logprobs: Vec<WireTop>,
}

#[derive(Deserialize)]
struct WireTop {
    token: String,
    logprob: f64,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// An answer being put together from a completion or from stream chunks.
#[derive(Default)]
struct Assembly {
    content: Option<String>,
    tool_calls: Vec<PartialCall>,
    finish_reason: Option<String>,
    usage: TokenUsage,
    model: Option<String>,
    logprobs: Option<Vec<TokenLogprob>>,
}

impl Assembly {
    fn from_completion(c: WireCompletion) -> Result<Self, String> {
        let mut a = Self::default();
        if c.choices.as_ref().is_none_or(Vec::is_empty) {
            return Err(match c.error {
                Some(e) => format!(
                    "error instead of an answer: {}",
                    error_message(&e.to_string())
                ),
                None => "no choices in the answer".into(),
            });
        }
        a.add_chunk(c)?;
        Ok(a)
    }

    /// Folds one chunk (or a whole completion) in: text and tool-call arguments are
    /// appended, a tool call is found by its `index`, usage and finish reason replace.
    fn add_chunk(&mut self, c: WireCompletion) -> Result<(), String> {
        if let Some(e) = c.error {
            return Err(format!(
                "error in the answer: {}",
                error_message(&json!({ "error": e }).to_string())
            ));
        }
        if let Some(u) = c.usage {
            self.usage = TokenUsage {
                input: u.prompt_tokens,
                output: u.completion_tokens,
            };
        }
        if c.model.is_some() {
            self.model = c.model;
        }
        let Some(choice) = c.choices.and_then(|cs| cs.into_iter().next()) else {
            return Ok(());
        };
        if let Some(m) = choice.message.or(choice.delta) {
            if let Some(text) = m.content {
                self.content.get_or_insert_with(String::new).push_str(&text);
            }
            for call in m.tool_calls.unwrap_or_default() {
                // Without an index, a call with a new id starts a new entry; anything else
                // continues the last one.
                let index = match call.index {
                    Some(i) => i,
                    None if call.id.is_some() || self.tool_calls.is_empty() => {
                        self.tool_calls.len()
                    }
                    None => self.tool_calls.len() - 1,
                };
                if index > self.tool_calls.len() + 64 {
                    return Err(format!("tool call index {index} out of range"));
                }
                while self.tool_calls.len() <= index {
                    self.tool_calls.push(PartialCall::default());
                }
                let slot = &mut self.tool_calls[index];
                if let Some(id) = call.id {
                    slot.id = id;
                }
                if let Some(f) = call.function {
                    if let Some(name) = f.name {
                        slot.name.push_str(&name);
                    }
                    if let Some(args) = f.arguments {
                        slot.arguments.push_str(&args);
                    }
                }
            }
        }
        if choice.finish_reason.is_some() {
            self.finish_reason = choice.finish_reason;
        }
        if let Some(content) = choice.logprobs.and_then(|l| l.content) {
            self.logprobs
                .get_or_insert_with(Vec::new)
                .extend(content.into_iter().map(|t| {
                    TokenLogprob {
                        token: t.token,
                        logprob: t.logprob,
                        top: t
                            .top_logprobs
                            .into_iter()
                            .map(|a| (a.token, a.logprob))
                            .collect(),
                    }
                }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::types::Tool;

    fn provider(logprobs: bool) -> Provider {
        let config = ProviderConfig {
            base_url: "http://127.0.0.1:9/v1".into(),
            model: "m1".into(),
            logprobs,
            ..ProviderConfig::default()
        };
        Provider::new("p", config, http_client().expect("client"))
    }

    #[test]
    fn logprobs_are_asked_for_only_when_the_provider_can_give_them() {
        let request = ChatRequest {
            messages: vec![Message::user("hi")],
            top_logprobs: Some(3),
            ..ChatRequest::default()
        };
        let yes = provider(true).wire_body(&request);
        assert_eq!(yes["logprobs"], json!(true));
        assert_eq!(yes["top_logprobs"], json!(3));
        let no = provider(false).wire_body(&request);
        assert!(no.get("logprobs").is_none() && no.get("top_logprobs").is_none());
    }

    #[test]
    fn the_wire_body_has_tools_tool_calls_and_options_in_openai_shape() {
        let mut assistant = Message::assistant("");
        assistant.content = None;
        assistant.tool_calls = vec![ToolCall {
            id: "c1".into(),
            name: "read".into(),
            arguments: "{\"path\":\"a\"}".into(),
        }];
        let request = ChatRequest {
            messages: vec![assistant, Message::tool("c1", "text of a")],
            tools: vec![Tool {
                name: "read".into(),
                description: "reads".into(),
                parameters: json!({"type": "object"}),
            }],
            json: true,
            stream: true,
            ..ChatRequest::default()
        };
        let body = provider(true).wire_body(&request);
        assert_eq!(body["model"], "m1");
        assert_eq!(body["messages"][0]["content"], Value::Null);
        assert_eq!(body["messages"][0]["tool_calls"][0]["type"], "function");
        assert_eq!(
            body["messages"][0]["tool_calls"][0]["function"]["name"],
            "read"
        );
        assert_eq!(body["messages"][1]["role"], "tool");
        assert_eq!(body["messages"][1]["tool_call_id"], "c1");
        assert_eq!(body["tools"][0]["function"]["parameters"]["type"], "object");
        assert_eq!(body["response_format"]["type"], "json_object");
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(body.get("temperature").is_none());
    }

    #[test]
    fn an_error_body_gives_its_message_shortened() {
        assert_eq!(
            error_message(r#"{"error":{"message":"rate limited","type":"x"}}"#),
            "rate limited"
        );
        let long = "x".repeat(1000);
        assert_eq!(error_message(&long).chars().count(), MAX_MESSAGE + 1);
    }

    #[test]
    fn redaction_removes_an_echoed_key() {
        let e = LlmError::Status {
            provider: "p".into(),
            status: 401,
            message: "bad key sk-secret-123".into(),
            retry_after: None,
        };
        assert!(!redact(e, "sk-secret-123").to_string().contains("sk-secret"));
    }
}
