//! The LLM layer against a scripted OpenAI-compatible server on 127.0.0.1: the client's wire
//! format (whole and streamed answers, tool calls, logprobs), the router's retries, timeouts,
//! fallback, cooldown and strategies, the store-backed cache with its TTL and single-flight, the
//! budget check, and that the API key goes only where it must.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use bosun::config::{BudgetConfig, LlmConfig, ProviderConfig, RouteConfig, RouteStrategy};
use bosun::llm::client::{Provider, http_client};
use bosun::llm::{
    Cache, Chat, ChatRequest, ChatResponse, Ledger, LlmError, Message, Meter, Router, Tool,
    ToolCall,
};
use bosun::store::Store;
use serde_json::json;

mod common;
use common::llm_server::{Reply, ScriptedServer, reply};

const MODEL: &str = "model-under-test";

fn provider(server: &ScriptedServer) -> ProviderConfig {
    ProviderConfig {
        base_url: server.url(),
        model: MODEL.into(),
        timeout: "2s".into(),
        input_usd_per_mtok: 2.0,
        output_usd_per_mtok: 4.0,
        ..ProviderConfig::default()
    }
}

/// `[llm]` with `providers` chained in route `main` by `strategy`; retries 2, backoff
/// 10 ms, cooldown after 3 failed calls.
fn llm(providers: Vec<(&str, ProviderConfig)>, strategy: RouteStrategy) -> LlmConfig {
    let chain = providers.iter().map(|(n, _)| n.to_string()).collect();
    LlmConfig {
        retries: 2,
        backoff: "10ms".into(),
        cooldown_after: 3,
        cooldown: "60s".into(),
        providers: providers
            .into_iter()
            .map(|(n, p)| (n.to_string(), p))
            .collect(),
        routes: [("main".to_string(), RouteConfig { chain, strategy })].into(),
        ..LlmConfig::default()
    }
}

fn one(server: &ScriptedServer) -> Router {
    Router::new(
        &llm(vec![("a", provider(server))], RouteStrategy::Fallback),
        None,
    )
    .unwrap()
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("be brief"), Message::user(text)],
        ..ChatRequest::default()
    }
}

fn at_zero(text: &str) -> ChatRequest {
    ChatRequest {
        temperature: Some(0.0),
        ..ask(text)
    }
}

async fn chat(router: &Router, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
    router.chat("main", request, None).await
}

fn stats(router: &Router, name: &str) -> bosun::llm::ProviderStats {
    router.stats().into_iter().find(|s| s.name == name).unwrap()
}

#[tokio::test]
async fn a_text_answer_comes_back_with_usage_and_cost() {
    let server = ScriptedServer::start(vec![reply::text("hello there", 1000, 500)]);
    let router = one(&server);
    let response = chat(&router, &ask("hi")).await.unwrap();
    assert_eq!(response.text(), "hello there");
    assert_eq!(response.finish_reason.as_deref(), Some("stop"));
    assert_eq!((response.usage.input, response.usage.output), (1000, 500));
    // 1000 × $2/M + 500 × $4/M
    assert!(
        (response.cost_usd - 0.004).abs() < 1e-12,
        "{}",
        response.cost_usd
    );
    assert_eq!(response.provider, "a");
    assert!(!response.cached);

    let sent = &server.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(sent.body["model"], MODEL);
    assert_eq!(
        sent.body["messages"][1],
        json!({"role": "user", "content": "hi"})
    );
    assert!(sent.body.get("stream").is_none() && sent.body.get("logprobs").is_none());
    let s = stats(&router, "a");
    assert_eq!((s.requests, s.successes, s.input_tokens), (1, 1, 1000));
    assert!(s.latency_p50_ms.is_some());
}

#[tokio::test]
async fn a_stream_is_assembled_from_text_and_tool_call_chunks() {
    let server = ScriptedServer::start(vec![
        reply::sse_text(&["Hel", "lo, ", "world"]),
        reply::sse_tool_call(
            "call_7",
            "read_file",
            &["{\"pa", "th\": \"src/", "main.rs\"}"],
        ),
    ]);
    let router = one(&server);
    let request = ChatRequest {
        stream: true,
        ..ask("hi")
    };
    let text = chat(&router, &request).await.unwrap();
    assert_eq!(text.text(), "Hello, world");
    assert_eq!(text.finish_reason.as_deref(), Some("stop"));
    assert_eq!((text.usage.input, text.usage.output), (7, 3));

    let call = chat(&router, &request).await.unwrap();
    assert_eq!(call.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(
        call.message.tool_calls,
        vec![ToolCall {
            id: "call_7".into(),
            name: "read_file".into(),
            arguments: "{\"path\": \"src/main.rs\"}".into(),
        }]
    );
    let sent = &server.requests()[0].body;
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn logprobs_are_asked_for_and_parsed() {
    let server = ScriptedServer::start(vec![reply::text_with_logprobs(
        "yes",
        &[("yes", -0.05, &[("yes", -0.05), ("no", -3.2)])],
    )]);
    let router = one(&server);
    let request = ChatRequest {
        top_logprobs: Some(2),
        ..ask("pass?")
    };
    let response = chat(&router, &request).await.unwrap();
    let logprobs = response.logprobs.unwrap();
    assert_eq!(logprobs.len(), 1);
    assert_eq!(logprobs[0].token, "yes");
    assert_eq!(logprobs[0].logprob, -0.05);
    assert_eq!(
        logprobs[0].top,
        vec![("yes".to_string(), -0.05), ("no".to_string(), -3.2)]
    );
    let sent = &server.requests()[0].body;
    assert_eq!(
        (sent["logprobs"].clone(), sent["top_logprobs"].clone()),
        (json!(true), json!(2))
    );
}

#[tokio::test]
async fn tool_calls_round_trip_in_the_wire_shape() {
    let server = ScriptedServer::start(vec![
        reply::tool_calls(&[("call_1", "list", "{\"dir\":\".\"}")]),
        reply::text("done", 20, 1),
    ]);
    let router = one(&server);
    let tools = vec![Tool {
        name: "list".into(),
        description: "lists a directory".into(),
        parameters: json!({"type": "object", "properties": {"dir": {"type": "string"}}}),
    }];
    let mut request = ChatRequest {
        tools: tools.clone(),
        ..ask("what is here?")
    };
    let first = chat(&router, &request).await.unwrap();
    assert_eq!(first.message.tool_calls[0].name, "list");
    assert_eq!(first.message.tool_calls[0].arguments, "{\"dir\":\".\"}");
    request.messages.push(first.message.clone());
    request
        .messages
        .push(Message::tool("call_1", "Cargo.toml\nsrc"));
    assert_eq!(chat(&router, &request).await.unwrap().text(), "done");

    let second = &server.requests()[1].body;
    assert_eq!(
        second["tools"][0],
        json!({"type": "function", "function": {
            "name": "list",
            "description": "lists a directory",
            "parameters": tools[0].parameters,
        }})
    );
    assert_eq!(
        second["messages"][2],
        json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "list", "arguments": "{\"dir\":\".\"}"},
        }]})
    );
    assert_eq!(
        second["messages"][3],
        json!({"role": "tool", "content": "Cargo.toml\nsrc", "tool_call_id": "call_1"})
    );
}

#[tokio::test]
async fn a_500_is_retried_on_the_same_provider() {
    let server = ScriptedServer::start(vec![
        reply::error(500, "boom"),
        reply::text("recovered", 5, 1),
    ]);
    let router = one(&server);
    let response = chat(&router, &ask("hi")).await.unwrap();
    assert_eq!(response.text(), "recovered");
    assert_eq!(server.hits(), 2);
    let s = stats(&router, "a");
    assert_eq!(
        (s.requests, s.failures, s.retries, s.successes),
        (2, 1, 1, 1)
    );
}

#[tokio::test]
async fn a_429_waits_its_retry_after() {
    let server = ScriptedServer::start(vec![reply::rate_limited(1), reply::text("ok", 5, 1)]);
    let router = one(&server);
    let started = Instant::now();
    let response = chat(&router, &ask("hi")).await.unwrap();
    assert_eq!(response.text(), "ok");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_stall_past_the_timeout_moves_to_the_next_provider() {
    let slow = ScriptedServer::start(vec![Reply::Stall(Duration::from_secs(10))]);
    let fast = ScriptedServer::start(vec![reply::text("from b", 5, 1)]);
    let mut config = llm(
        vec![
            (
                "a",
                ProviderConfig {
                    timeout: "300ms".into(),
                    ..provider(&slow)
                },
            ),
            ("b", provider(&fast)),
        ],
        RouteStrategy::Fallback,
    );
    config.retries = 0;
    let router = Router::new(&config, None).unwrap();
    let started = Instant::now();
    let response = chat(&router, &ask("hi")).await.unwrap();
    assert_eq!(response.provider, "b");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((slow.hits(), fast.hits()), (1, 1));
}

#[tokio::test]
async fn malformed_answers_are_retried() {
    let server = ScriptedServer::start(vec![
        Reply::Malformed("<html>gateway</html>".into()),
        Reply::Malformed("{\"object\": \"chat.completion\"}".into()),
        reply::text("fine", 5, 1),
    ]);
    let router = one(&server);
    assert_eq!(chat(&router, &ask("hi")).await.unwrap().text(), "fine");
    assert_eq!(server.hits(), 3);
    assert_eq!(stats(&router, "a").retries, 2);
}

#[tokio::test]
async fn a_truncated_stream_is_a_transient_transport_error() {
    let server = ScriptedServer::start(vec![
        reply::truncated_text(&["half an ans"]),
        reply::truncated_text(&["half again"]),
        reply::sse_text(&["whole"]),
    ]);
    // The provider alone reports the truncation...
    let provider = Provider::new("a", provider(&server), http_client().unwrap());
    let request = ChatRequest {
        stream: true,
        ..ask("hi")
    };
    let err = provider.complete(&request).await.unwrap_err();
    assert!(matches!(err, LlmError::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains("ended early"), "{err}");
    assert!(err.is_transient());
    // ...and the router retries it.
    let router = one(&server);
    assert_eq!(chat(&router, &request).await.unwrap().text(), "whole");
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn a_failing_provider_falls_back_to_the_next() {
    let broken = ScriptedServer::start(vec![]);
    let good = ScriptedServer::start(vec![reply::text("from b", 5, 1)]);
    let router = Router::new(
        &llm(
            vec![("a", provider(&broken)), ("b", provider(&good))],
            RouteStrategy::Fallback,
        ),
        None,
    )
    .unwrap();
    let response = chat(&router, &ask("hi")).await.unwrap();
    assert_eq!(response.provider, "b");
    // One call and two retries on `a`, all HTTP 500.
    assert_eq!(broken.hits(), 3);
    assert_eq!(good.hits(), 1);
}

#[tokio::test]
async fn every_provider_failing_is_exhausted_with_the_last_error() {
    let a = ScriptedServer::start(vec![]);
    let b = ScriptedServer::start(vec![]);
    b.set_fallback(reply::error(400, "bad request from b"));
    let router = Router::new(
        &llm(
            vec![("a", provider(&a)), ("b", provider(&b))],
            RouteStrategy::Fallback,
        ),
        None,
    )
    .unwrap();
    let err = chat(&router, &ask("hi")).await.unwrap_err();
    let LlmError::Exhausted { route, last } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(route, "main");
    assert!(last.to_string().contains("bad request from b"), "{last}");
    // A 400 is not retried.
    assert_eq!((a.hits(), b.hits()), (3, 1));
}

#[tokio::test]
async fn a_provider_failing_repeatedly_cools_down_and_is_skipped() {
    let broken = ScriptedServer::start(vec![]);
    broken.set_fallback(reply::error(503, "overloaded"));
    let good = ScriptedServer::with_handler(|_| reply::text("from b", 5, 1));
    let mut config = llm(
        vec![("a", provider(&broken)), ("b", provider(&good))],
        RouteStrategy::Fallback,
    );
    config.retries = 0;
    config.cooldown_after = 2;
    let router = Router::new(&config, None).unwrap();
    for _ in 0..2 {
        assert_eq!(chat(&router, &ask("hi")).await.unwrap().provider, "b");
    }
    assert_eq!(broken.hits(), 2);
    assert!(stats(&router, "a").cooling_down);
    assert_eq!(chat(&router, &ask("hi")).await.unwrap().provider, "b");
    assert_eq!(broken.hits(), 2, "a cooling provider was called");
    assert_eq!(good.hits(), 3);
}

#[tokio::test]
async fn when_every_provider_cools_down_the_first_to_recover_gets_one_probe() {
    let broken = ScriptedServer::start(vec![]);
    let mut config = llm(vec![("a", provider(&broken))], RouteStrategy::Fallback);
    config.retries = 0;
    config.cooldown_after = 1;
    let router = Router::new(&config, None).unwrap();
    assert!(chat(&router, &ask("hi")).await.is_err());
    assert!(stats(&router, "a").cooling_down);
    broken.push([reply::text("back", 1, 1)]);
    assert_eq!(chat(&router, &ask("hi")).await.unwrap().text(), "back");
    assert!(!stats(&router, "a").cooling_down);
    assert_eq!(broken.hits(), 2);
}

#[tokio::test]
async fn least_latency_prefers_the_faster_provider() {
    let slow = ScriptedServer::with_handler(|_| {
        Reply::Delay(
            Duration::from_millis(150),
            Box::new(reply::text("slow", 1, 1)),
        )
    });
    let fast = ScriptedServer::with_handler(|_| reply::text("fast", 1, 1));
    let router = Router::new(
        &llm(
            vec![("a", provider(&slow)), ("b", provider(&fast))],
            RouteStrategy::LeastLatency,
        ),
        None,
    )
    .unwrap();
    let mut answered = Vec::new();
    for _ in 0..6 {
        answered.push(chat(&router, &ask("hi")).await.unwrap().provider);
    }
    // Each is measured once (unknown latency goes first), then the faster one wins.
    assert_eq!(answered, ["a", "b", "b", "b", "b", "b"]);
    assert_eq!((slow.hits(), fast.hits()), (1, 5));
    assert!(stats(&router, "a").latency_ewma_ms > stats(&router, "b").latency_ewma_ms);
}

#[tokio::test]
async fn round_robin_alternates() {
    let a = ScriptedServer::with_handler(|_| reply::text("a", 1, 1));
    let b = ScriptedServer::with_handler(|_| reply::text("b", 1, 1));
    let router = Router::new(
        &llm(
            vec![("a", provider(&a)), ("b", provider(&b))],
            RouteStrategy::RoundRobin,
        ),
        None,
    )
    .unwrap();
    let mut answered = Vec::new();
    for _ in 0..4 {
        answered.push(chat(&router, &ask("hi")).await.unwrap().provider);
    }
    assert_eq!(answered, ["a", "b", "a", "b"]);
}

/// A router over one provider with the cache in a store under `dir`.
fn cached(server: &ScriptedServer, dir: &Path, ttl: Duration) -> (Router, Store) {
    let store = Store::open(dir).unwrap();
    let cache = Cache::new(store.llm_cache().unwrap(), ttl);
    let router = Router::new(
        &llm(vec![("a", provider(server))], RouteStrategy::Fallback),
        Some(cache),
    )
    .unwrap();
    (router, store)
}

#[tokio::test]
async fn identical_temperature_zero_requests_are_answered_from_the_cache() {
    let server = ScriptedServer::with_handler(|_| reply::text("forty-two", 100, 10));
    let dir = tempfile::tempdir().unwrap();
    let (router, _store) = cached(&server, dir.path(), Duration::from_secs(3600));
    let ledger = Ledger::new(BudgetConfig::default());
    let meter = Meter::new(Arc::clone(&ledger), "run-1", "task-1");

    let first = router
        .chat("main", &at_zero("q"), Some(&meter))
        .await
        .unwrap();
    assert!(!first.cached && first.cost_usd > 0.0);
    let second = router
        .chat("main", &at_zero("q"), Some(&meter))
        .await
        .unwrap();
    assert!(second.cached);
    assert_eq!(second.text(), "forty-two");
    assert_eq!(second.cost_usd, 0.0);
    assert_eq!(server.hits(), 1);
    // Only the upstream call was charged.
    assert!((ledger.run_usage("run-1").cost_usd - first.cost_usd).abs() < 1e-15);

    // A different question, and the same one at another temperature, go upstream.
    chat(&router, &at_zero("other q")).await.unwrap();
    assert_eq!(server.hits(), 2);
    let warm = ChatRequest {
        temperature: Some(0.7),
        ..ask("q")
    };
    assert!(!chat(&router, &warm).await.unwrap().cached);
    assert!(!chat(&router, &warm).await.unwrap().cached);
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn a_cached_answer_expires_after_its_ttl() {
    let server = ScriptedServer::with_handler(|_| reply::text("fresh", 1, 1));
    let dir = tempfile::tempdir().unwrap();
    let (router, _store) = cached(&server, dir.path(), Duration::from_millis(300));
    chat(&router, &at_zero("q")).await.unwrap();
    assert!(chat(&router, &at_zero("q")).await.unwrap().cached);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!chat(&router, &at_zero("q")).await.unwrap().cached);
    assert_eq!(server.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_requests_make_one_upstream_call() {
    let server = ScriptedServer::with_handler(|_| {
        Reply::Delay(
            Duration::from_millis(300),
            Box::new(reply::text("shared", 10, 2)),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let (router, _store) = cached(&server, dir.path(), Duration::from_secs(3600));
    let router = Arc::new(router);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let router = Arc::clone(&router);
        calls.spawn(async move { router.chat("main", &at_zero("same"), None).await });
    }
    let mut fresh = 0;
    while let Some(done) = calls.join_next().await {
        let response = done.unwrap().unwrap();
        assert_eq!(response.text(), "shared");
        fresh += usize::from(!response.cached);
    }
    assert_eq!(server.hits(), 1);
    assert_eq!(fresh, 1, "exactly one caller paid for the call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_requests_share_an_error_which_is_not_cached() {
    let server = ScriptedServer::with_handler(|_| {
        Reply::Delay(
            Duration::from_millis(200),
            Box::new(reply::error(400, "no")),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let (router, _store) = cached(&server, dir.path(), Duration::from_secs(3600));
    let router = Arc::new(router);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let router = Arc::clone(&router);
        calls.spawn(async move { router.chat("main", &at_zero("same"), None).await });
    }
    while let Some(done) = calls.join_next().await {
        assert!(done.unwrap().is_err());
    }
    assert_eq!(server.hits(), 1);
    assert!(chat(&router, &at_zero("same")).await.is_err());
    assert_eq!(server.hits(), 2, "an error was answered from the cache");
}

#[tokio::test]
async fn a_spent_budget_refuses_before_calling() {
    let server = ScriptedServer::with_handler(|_| reply::text("x", 1, 1));
    let router = one(&server);
    let ledger = Ledger::new(BudgetConfig {
        per_run_usd: 0.01,
        ..BudgetConfig::default()
    });
    ledger.charge("run-1", "task-1", Default::default(), 0.01);
    let meter = Meter::new(ledger, "run-1", "task-1");
    let err = router
        .chat("main", &ask("hi"), Some(&meter))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Budget(_)), "{err:?}");
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn an_unknown_route_is_an_error() {
    let server = ScriptedServer::start(vec![]);
    let router = one(&server);
    let err = router.chat("nope", &ask("hi"), None).await.unwrap_err();
    assert!(matches!(err, LlmError::UnknownRoute(_)), "{err:?}");
    assert_eq!(server.hits(), 0);
}

/// A unique key variable and its value, set once for this test binary.
static KEY: LazyLock<(String, String)> = LazyLock::new(|| {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "BOSUN_TEST_KEY_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let value = format!("sk-test-SECRET-{}", rand::random::<u64>());
    // SAFETY: std's own lock serializes set_var with every std::env read, and nothing in this
    // test binary reads the environment through libc (the servers are IP literals, so no
    // resolver runs).
    unsafe { std::env::set_var(&name, &value) };
    (name, value)
});

#[tokio::test]
async fn the_api_key_is_sent_but_never_shown_or_stored() {
    let (env, secret) = KEY.clone();
    // A provider that echoes the key it got in its error, as some do.
    let server = ScriptedServer::with_handler(|request| {
        if request.body["messages"][1]["content"] == "fail" {
            let auth = request.header("authorization").unwrap_or("").to_string();
            reply::error(401, &format!("invalid key: {auth}"))
        } else {
            reply::text("answer-marker-5d1c", 3, 1)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut config = llm(
        vec![(
            "a",
            ProviderConfig {
                api_key_env: env.clone(),
                headers: [("x-team".to_string(), "bosun".to_string())].into(),
                ..provider(&server)
            },
        )],
        RouteStrategy::Fallback,
    );
    config.retries = 0;
    let router = Router::new(
        &config,
        Some(Cache::new(
            store.llm_cache().unwrap(),
            Duration::from_secs(60),
        )),
    )
    .unwrap();

    chat(&router, &at_zero("ok")).await.unwrap();
    let sent = &server.requests()[0];
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {secret}").as_str())
    );
    assert_eq!(sent.header("x-team"), Some("bosun"));

    let err = chat(&router, &at_zero("fail")).await.unwrap_err();
    assert!(
        server.requests()[1]
            .header("authorization")
            .unwrap()
            .contains(&secret),
        "the server did get the key"
    );
    for shown in [
        err.to_string(),
        format!("{err:?}"),
        format!("{router:?}"),
        format!("{:?}", router.stats()),
    ] {
        assert!(!shown.contains(&secret), "the key leaked: {shown}");
    }
    assert!(err.to_string().contains("[redacted]"), "{err}");

    store.flush().unwrap();
    drop(router);
    drop(store);
    let mut files = vec![dir.path().to_path_buf()];
    let mut answer_on_disk = false;
    let contains =
        |bytes: &[u8], needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !contains(&bytes, &secret),
                "the key is in {}",
                path.display()
            );
            answer_on_disk |= contains(&bytes, "answer-marker-5d1c");
        }
    }
    // The scan did read the cached answer, so it looked where the key could have been.
    assert!(answer_on_disk);
    let reopened = Store::open(dir.path()).unwrap();
    assert_eq!(reopened.llm_cache().unwrap().len().unwrap(), 1);
}

#[tokio::test]
async fn an_unset_key_variable_is_missing_key_without_a_call() {
    let server = ScriptedServer::start(vec![reply::text("x", 1, 1)]);
    let provider = Provider::new(
        "a",
        ProviderConfig {
            api_key_env: "BOSUN_TEST_KEY_NEVER_SET_7f3a".into(),
            ..provider(&server)
        },
        http_client().unwrap(),
    );
    let err = provider.complete(&ask("hi")).await.unwrap_err();
    assert!(matches!(err, LlmError::MissingKey { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(server.hits(), 0);
}

/// When each of three different requests reached the server, for a provider allowing
/// `max_concurrency` requests in flight; the server holds each answer for 200 ms.
async fn arrivals(max_concurrency: usize) -> Vec<Duration> {
    let start = std::time::Instant::now();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let server = ScriptedServer::with_handler(move |_| {
        record.lock().unwrap().push(start.elapsed());
        Reply::Delay(
            Duration::from_millis(200),
            Box::new(reply::text("ok", 1, 1)),
        )
    });
    let config = llm(
        vec![(
            "a",
            ProviderConfig {
                max_concurrency,
                ..provider(&server)
            },
        )],
        RouteStrategy::Fallback,
    );
    let router = Arc::new(Router::new(&config, None).unwrap());
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..3 {
        let router = Arc::clone(&router);
        calls.spawn(async move { router.chat("main", &ask(&format!("q{i}")), None).await });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap().unwrap();
    }
    let mut times = seen.lock().unwrap().clone();
    times.sort();
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_holds_requests_until_a_slot_is_free() {
    // One at a time: each request reaches the server only after the previous answer.
    let one = arrivals(1).await;
    assert_eq!(one.len(), 3);
    for pair in one.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(180), "{one:?}");
    }
    // Three at a time: they all arrive before the first answer.
    let three = arrivals(3).await;
    assert!(
        three[2] - three[0] < Duration::from_millis(180),
        "{three:?}"
    );
}
