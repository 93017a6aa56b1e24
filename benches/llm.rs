//! The LLM layer's own cost: a router call against the scripted local server next to a bare
//! reqwest POST of the same body to the same server (the difference is the router's
//! overhead: wire body, strategy, stats, span, parsing), and a cache hit on a warm sled
//! cache. Besides criterion's medians it prints p50/p99 of a plain timed loop, since the tail
//! is what a caller waiting on many calls feels.

use std::time::{Duration, Instant};

use bosun::config::{LlmConfig, ProviderConfig, RouteConfig, RouteStrategy};
use bosun::llm::client::{Provider, http_client};
use bosun::llm::{Cache, Chat, ChatRequest, Message, Router};
use criterion::{Criterion, criterion_group, criterion_main};

// The bench uses a few of the server's replies only.
#[allow(dead_code)]
#[path = "../tests/common/llm_server.rs"]
mod llm_server;
use llm_server::{ScriptedServer, reply};

/// Calls timed for the percentiles.
const LOOP: usize = 2_000;

fn config(server: &ScriptedServer) -> LlmConfig {
    let provider = ProviderConfig {
        base_url: server.url(),
        model: "bench-model".into(),
        input_usd_per_mtok: 1.0,
        output_usd_per_mtok: 2.0,
        ..ProviderConfig::default()
    };
    LlmConfig {
        providers: [("local".to_string(), provider)].into(),
        routes: [(
            "main".to_string(),
            RouteConfig {
                chain: vec!["local".into()],
                strategy: RouteStrategy::Fallback,
            },
        )]
        .into(),
        ..LlmConfig::default()
    }
}

/// A request of typical agent size: a system prompt and a few turns, about 2 KB.
fn request(temperature: Option<f64>) -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::system("You are a careful coding agent. ".repeat(20)),
            Message::user("Fix the failing test in src/lib.rs. ".repeat(20)),
            Message::assistant("I will read the file first. ".repeat(10)),
            Message::user("Here it is: fn add(a: u32, b: u32) -> u32 { a - b }".repeat(4)),
        ],
        temperature,
        max_tokens: Some(512),
        ..ChatRequest::default()
    }
}

/// p50 and p99 in microseconds of `LOOP` runs of `f`.
fn percentiles(mut f: impl FnMut()) -> (f64, f64) {
    let mut samples: Vec<Duration> = (0..LOOP)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    samples.sort();
    let at = |q: f64| samples[((q * LOOP as f64) as usize).min(LOOP - 1)].as_secs_f64() * 1e6;
    (at(0.50), at(0.99))
}

fn bench_llm(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = ScriptedServer::with_handler(|_| {
        reply::text("The test now passes: add returns a + b.", 600, 20)
    });
    let config = config(&server);
    let router = Router::new(&config, None).expect("router");
    let fresh = request(None);
    // The bare POST sends exactly what the router would send.
    let provider = Provider::new(
        "local",
        config.providers["local"].clone(),
        http_client().expect("client"),
    );
    let body = provider.wire_body(&fresh);
    let http = http_client().expect("client");
    let url = format!("{}/chat/completions", server.url());
    let bare = || async {
        http.post(&url)
            .json(&body)
            .send()
            .await
            .expect("post")
            .bytes()
            .await
            .expect("body")
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let db = bosun::store::kv::Db::open(&dir.path().join("cache.redb")).expect("a store file");
    let cache = Cache::new(
        db.open_tree("llm_cache").expect("tree"),
        Duration::from_secs(3600),
    );
    let cached_router = Router::new(&config, Some(cache.clone())).expect("router");
    let at_zero = request(Some(0.0));
    rt.block_on(cached_router.chat("main", &at_zero, None))
        .expect("warm the cache");
    let key = Cache::key(
        &serde_json::json!([["local", server.url(), "bench-model"]]),
        &at_zero,
    )
    .expect("temperature 0 has a key");

    let mut group = c.benchmark_group("llm");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("bare_reqwest_post", |b| b.iter(|| rt.block_on(bare())));
    group.bench_function("router_call", |b| {
        b.iter(|| {
            rt.block_on(router.chat("main", &fresh, None))
                .expect("answer")
        })
    });
    group.bench_function("router_cache_hit", |b| {
        b.iter(|| {
            let r = rt
                .block_on(cached_router.chat("main", &at_zero, None))
                .expect("answer");
            assert!(r.cached);
        })
    });
    group.bench_function("cache_get", |b| b.iter(|| cache.get(&key).expect("hit")));
    group.finish();

    let (bare50, bare99) = percentiles(|| {
        rt.block_on(bare());
    });
    let (router50, router99) = percentiles(|| {
        rt.block_on(router.chat("main", &fresh, None))
            .expect("answer");
    });
    let (hit50, hit99) = percentiles(|| {
        rt.block_on(cached_router.chat("main", &at_zero, None))
            .expect("answer");
    });
    let (get50, get99) = percentiles(|| {
        cache.get(&key).expect("hit");
    });
    println!("\n{LOOP} calls each, µs           p50      p99");
    println!("bare reqwest POST          {bare50:8.1} {bare99:8.1}");
    println!("router call                {router50:8.1} {router99:8.1}");
    println!(
        "router overhead            {:8.1} {:8.1}",
        router50 - bare50,
        router99 - bare99
    );
    println!("router call, cache hit     {hit50:8.1} {hit99:8.1}");
    println!("Cache::get (warm sled)     {get50:8.1} {get99:8.1}");
    let hits = server.hits();
    println!("server requests: {hits}");
}

criterion_group!(benches, bench_llm);
criterion_main!(benches);
