//! A scripted OpenAI-compatible chat-completions server for tests and benches: listens on
//! 127.0.0.1 (an ephemeral port), speaks just enough HTTP/1.1 (request line, headers,
//! `Content-Length` body, keep-alive), records every request, and answers each with the next
//! [`Reply`] of its script — or with what a handler decides from the request.
//!
//! It runs on its own thread and tokio runtime, so it can be started from sync code, from any
//! runtime, and outlives nothing: dropping the [`ScriptedServer`] stops it.
//!
//! ```ignore
//! let server = ScriptedServer::start(vec![reply::text("hello", 10, 2)]);
//! // point a provider's base_url at server.url(), call it, then:
//! assert_eq!(server.hits(), 1);
//! assert_eq!(server.requests()[0].body["model"], "m1");
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One answer the server gives.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this JSON body (a whole chat completion).
    Json(Value),
    /// 200 `text/event-stream`: each string is one event's `data:` payload; `[DONE]` is sent
    /// after them.
    Sse(Vec<String>),
    /// Like `Sse` but the connection closes after the events, with no `[DONE]`.
    Truncated(Vec<String>),
    /// An HTTP error with an optional `Retry-After` (seconds) and this body.
    Status {
        /// The HTTP status.
        code: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
        /// The body (JSON text, usually).
        body: String,
    },
    /// Reads the request, then says nothing for this long, then closes the connection.
    Stall(Duration),
    /// 200 `application/json` with this body verbatim (not a completion, or not JSON).
    Malformed(String),
    /// Waits, then gives the inner reply.
    Delay(Duration, Box<Reply>),
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST`, …
    pub method: String,
    /// `/v1/chat/completions`, …
    pub path: String,
    /// Headers in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Value::String` of the raw text when it is not JSON).
    pub body: Value,
}

impl Recorded {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

type Handler = Box<dyn Fn(&Recorded) -> Reply + Send + Sync>;

struct State {
    script: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Reply>,
    handler: Option<Handler>,
    recorded: Mutex<Vec<Recorded>>,
}

impl State {
    fn next_reply(&self, request: &Recorded) -> Reply {
        if let Some(handler) = &self.handler {
            return handler(request);
        }
        if let Some(reply) = self.script.lock().unwrap().pop_front() {
            return reply;
        }
        self.fallback.lock().unwrap().clone()
    }
}

/// The running server; dropping it stops it.
pub struct ScriptedServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ScriptedServer {
    /// Serves `script` in order, then the fallback (HTTP 500 "script exhausted" unless
    /// [`ScriptedServer::set_fallback`] says otherwise).
    pub fn start(script: Vec<Reply>) -> Self {
        Self::launch(script.into(), None)
    }

    /// Answers every request with what `handler` returns for it.
    pub fn with_handler(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        Self::launch(VecDeque::new(), Some(Box::new(handler)))
    }

    fn launch(script: VecDeque<Reply>, handler: Option<Handler>) -> Self {
        let state = Arc::new(State {
            script: Mutex::new(script),
            fallback: Mutex::new(reply::error(500, "script exhausted")),
            handler,
            recorded: Mutex::new(Vec::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("llm-test-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("server runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("tokio listener");
                    let accept = async {
                        loop {
                            let Ok((socket, _)) = listener.accept().await else {
                                continue;
                            };
                            let _ = socket.set_nodelay(true);
                            tokio::spawn(serve(socket, Arc::clone(&served)));
                        }
                    };
                    tokio::select! {
                        _ = accept => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime cancels connections still open (stalls, delays).
                rt.shutdown_background();
            })
            .expect("server thread");
        Self {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The API root to use as a provider's `base_url`: `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.recorded.lock().unwrap().clone()
    }

    /// How many requests were received.
    pub fn hits(&self) -> usize {
        self.state.recorded.lock().unwrap().len()
    }

    /// Appends replies to the script.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    /// What to answer once the script is exhausted.
    pub fn set_fallback(&self, reply: Reply) {
        *self.state.fallback.lock().unwrap() = reply;
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves requests on one connection until the client closes it or a reply ends it.
async fn serve(mut socket: TcpStream, state: Arc<State>) {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut socket, &mut buffer).await else {
            return;
        };
        let reply = state.next_reply(&request);
        state.recorded.lock().unwrap().push(request);
        if !answer(&mut socket, reply).await {
            return;
        }
    }
}

/// Reads one request; `None` when the connection closed or the request is unreadable.
/// Bytes past the request stay in `buffer` for the next one.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Recorded> {
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buffer.len() > 1 << 20 || read_more(socket, buffer).await == 0 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        if read_more(socket, buffer).await == 0 {
            return None;
        }
    }
    let raw = buffer[body_start..body_start + length].to_vec();
    buffer.drain(..body_start + length);
    let body = serde_json::from_slice(&raw)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()));
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

async fn read_more(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> usize {
    let mut chunk = [0u8; 16 * 1024];
    match socket.read(&mut chunk).await {
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            n
        }
        Err(_) => 0,
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Writes `reply`; whether the connection can serve another request.
async fn answer(socket: &mut TcpStream, reply: Reply) -> bool {
    match reply {
        Reply::Json(body) => write_body(socket, 200, None, &body.to_string()).await,
        Reply::Malformed(text) => write_body(socket, 200, None, &text).await,
        Reply::Status {
            code,
            retry_after,
            body,
        } => write_body(socket, code, retry_after, &body).await,
        Reply::Sse(events) => {
            write_events(socket, &events, true).await;
            false
        }
        Reply::Truncated(events) => {
            write_events(socket, &events, false).await;
            false
        }
        Reply::Stall(d) => {
            tokio::time::sleep(d).await;
            false
        }
        Reply::Delay(d, inner) => {
            tokio::time::sleep(d).await;
            Box::pin(answer(socket, *inner)).await
        }
    }
}

async fn write_body(
    socket: &mut TcpStream,
    code: u16,
    retry_after: Option<u64>,
    body: &str,
) -> bool {
    let mut head = format!(
        "HTTP/1.1 {code} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        reason(code),
        body.len()
    );
    if let Some(s) = retry_after {
        head.push_str(&format!("retry-after: {s}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await.is_ok()
        && socket.write_all(body.as_bytes()).await.is_ok()
        && socket.flush().await.is_ok()
}

/// An event stream, ended by closing the connection (no length, no chunking).
async fn write_events(socket: &mut TcpStream, events: &[String], done: bool) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
    if socket.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    for data in events {
        if socket
            .write_all(format!("data: {data}\n\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
        let _ = socket.flush().await;
    }
    if done {
        let _ = socket.write_all(b"data: [DONE]\n\n").await;
    }
    let _ = socket.flush().await;
    let _ = socket.shutdown().await;
}

/// Builders of typical replies.
pub mod reply {
    use super::*;

    /// A whole completion with `message`, `finish_reason` and usage.
    pub fn completion(message: Value, finish_reason: &str, input: u64, output: u64) -> Reply {
        Reply::Json(json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": "scripted",
            "choices": [{ "index": 0, "message": message, "finish_reason": finish_reason }],
            "usage": {
                "prompt_tokens": input,
                "completion_tokens": output,
                "total_tokens": input + output,
            },
        }))
    }

    /// A text answer using `input` prompt and `output` completion tokens.
    pub fn text(content: &str, input: u64, output: u64) -> Reply {
        completion(
            json!({ "role": "assistant", "content": content }),
            "stop",
            input,
            output,
        )
    }

    /// An answer calling tools: `(id, name, arguments JSON text)` each.
    pub fn tool_calls(calls: &[(&str, &str, &str)]) -> Reply {
        let calls: Vec<Value> = calls
            .iter()
            .map(|(id, name, args)| {
                json!({
                    "id": id,
                    "type": "function",
                    "function": { "name": name, "arguments": args },
                })
            })
            .collect();
        completion(
            json!({ "role": "assistant", "content": null, "tool_calls": calls }),
            "tool_calls",
            10,
            5,
        )
    }

    /// One output token: `(token, logprob, [(alternative, logprob)])`.
    pub type TokenLogprob<'a> = (&'a str, f64, &'a [(&'a str, f64)]);

    /// A text answer with per-token logprobs.
    pub fn text_with_logprobs(content: &str, tokens: &[TokenLogprob<'_>]) -> Reply {
        let Reply::Json(mut body) = text(content, 10, tokens.len() as u64) else {
            unreachable!("text() builds a JSON reply");
        };
        let entries: Vec<Value> = tokens
            .iter()
            .map(|(token, lp, top)| {
                let top: Vec<Value> = top
                    .iter()
                    .map(|(t, l)| json!({ "token": t, "logprob": l }))
                    .collect();
                json!({ "token": token, "logprob": lp, "top_logprobs": top })
            })
            .collect();
        body["choices"][0]["logprobs"] = json!({ "content": entries });
        Reply::Json(body)
    }

    /// An HTTP error with an OpenAI-shaped body.
    pub fn error(code: u16, message: &str) -> Reply {
        Reply::Status {
            code,
            retry_after: None,
            body: json!({ "error": { "message": message, "type": "test" } }).to_string(),
        }
    }

    /// A 429 asking to wait `seconds`.
    pub fn rate_limited(seconds: u64) -> Reply {
        Reply::Status {
            code: 429,
            retry_after: Some(seconds),
            body: json!({ "error": { "message": "slow down" } }).to_string(),
        }
    }

    fn chunk(delta: Value, finish_reason: Option<&str>) -> String {
        json!({
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "model": "scripted",
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish_reason }],
        })
        .to_string()
    }

    fn usage_chunk(input: u64, output: u64) -> String {
        json!({
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "model": "scripted",
            "choices": [],
            "usage": { "prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output },
        })
        .to_string()
    }

    /// Stream chunks of a text answer: one content delta per chunk, no finish.
    pub fn text_chunks(chunks: &[&str]) -> Vec<String> {
        let mut events = vec![chunk(json!({ "role": "assistant", "content": "" }), None)];
        events.extend(chunks.iter().map(|c| chunk(json!({ "content": c }), None)));
        events
    }

    /// A streamed text answer: the chunks, a `stop` chunk, a usage chunk (7 in, one token
    /// per chunk out), `[DONE]`.
    pub fn sse_text(chunks: &[&str]) -> Reply {
        let mut events = text_chunks(chunks);
        events.push(chunk(json!({}), Some("stop")));
        events.push(usage_chunk(7, chunks.len() as u64));
        Reply::Sse(events)
    }

    /// A streamed tool call: id and name in the first chunk, the arguments split over the
    /// following ones, then `tool_calls` finish and usage (7 in, 3 out).
    pub fn sse_tool_call(id: &str, name: &str, argument_parts: &[&str]) -> Reply {
        let mut events = vec![chunk(
            json!({ "role": "assistant", "content": null, "tool_calls": [{
                "index": 0, "id": id, "type": "function",
                "function": { "name": name, "arguments": "" },
            }] }),
            None,
        )];
        events.extend(argument_parts.iter().map(|part| {
            chunk(
                json!({ "tool_calls": [{ "index": 0, "function": { "arguments": part } }] }),
                None,
            )
        }));
        events.push(chunk(json!({}), Some("tool_calls")));
        events.push(usage_chunk(7, 3));
        Reply::Sse(events)
    }

    /// A text stream cut off: the chunks, then the connection closes (no finish, no
    /// `[DONE]`).
    pub fn truncated_text(chunks: &[&str]) -> Reply {
        Reply::Truncated(text_chunks(chunks))
    }
}
