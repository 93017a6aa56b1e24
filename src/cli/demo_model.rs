//! The demo's stand-in for a model provider: an OpenAI-compatible chat-completions endpoint
//! on 127.0.0.1 that answers the judge gate with scripted rubric scores, so `bosun demo`
//! shows the judge (scores from several samples, a 95% interval) with no API key and no
//! model. Like the demo agent it judges nothing: the scores are a deterministic function of
//! the request, spread a little from sample to sample.
//!
//! It serves plain HTTP/1.1, one request per connection, on threads of its own, for as long
//! as the demo process runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::config::{Config, ProviderConfig, RouteConfig, RouteStrategy};

/// The provider and route name the demo's configuration gets.
const NAME: &str = "demo";

/// Largest request body read (a judge prompt holds a diff cut at 60 KB).
const MAX_BODY: usize = 1 << 20;

/// The running stand-in.
pub struct DemoModel {
    addr: SocketAddr,
}

impl DemoModel {
    /// Starts serving on an ephemeral port of 127.0.0.1.
    pub fn start() -> anyhow::Result<Self> {
        let listener =
            TcpListener::bind("127.0.0.1:0").context("cannot open a port for the demo model")?;
        let addr = listener.local_addr()?;
        let samples = Arc::new(AtomicU64::new(0));
        std::thread::Builder::new()
            .name("demo-model".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let samples = Arc::clone(&samples);
                    // One thread per request: the judge asks a handful of times per change.
                    let _ = std::thread::Builder::new()
                        .name("demo-model-request".into())
                        .spawn(move || serve(stream, &samples));
                }
            })
            .context("cannot start the demo model")?;
        Ok(Self { addr })
    }

    /// Points `config`'s judge gate at this stand-in (in memory: the sandbox's bosun.toml is
    /// left as it is, so the sandbox opened later simply has no judge).
    pub fn configure(&self, config: &mut Config) {
        config.llm.providers.insert(
            NAME.into(),
            ProviderConfig {
                base_url: format!("http://{}/v1", self.addr),
                model: "demo-judge".into(),
                timeout: "20s".into(),
                ..ProviderConfig::default()
            },
        );
        config.llm.routes.insert(
            NAME.into(),
            RouteConfig {
                chain: vec![NAME.into()],
                strategy: RouteStrategy::Fallback,
            },
        );
        config.gates.judge.route = NAME.into();
    }
}

/// Answers one request (errors only cost the judge a retry).
fn serve(stream: TcpStream, samples: &AtomicU64) {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(MAX_BODY)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let sample = samples.fetch_add(1, Ordering::Relaxed);
    let answer = completion(&request, sample).to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let mut stream = &stream;
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

/// A chat completion whose content is a rubric answer: every criterion near a level set by
/// the request (the same change gets the same level), moved by a point per sample — and, for
/// about one change in four, by two more points up or down, so that some changes show
/// judges that disagree (a wide interval, a warning).
fn completion(request: &Value, sample: u64) -> Value {
    let prompt = request["messages"].to_string();
    let hash = fnv(prompt.as_bytes());
    let level = 6 + (hash % 3) as i64;
    let swing = if hash.is_multiple_of(4) {
        2 * ((sample % 3) as i64 - 1)
    } else {
        0
    };
    let criteria = [
        "correctness",
        "completeness",
        "scope",
        "code_quality",
        "tests",
    ];
    let mut scores = serde_json::Map::new();
    for (i, name) in criteria.iter().enumerate() {
        let jitter = ((sample + i as u64) % 3) as i64 - 1;
        scores.insert((*name).into(), json!((level + jitter + swing).clamp(0, 10)));
    }
    scores.insert(
        "rationale".into(),
        json!("Demo judge: scripted scores, not a model's reading of the change."),
    );
    let content = Value::Object(scores).to_string();
    json!({
        "id": format!("demo-{sample}"),
        "object": "chat.completion",
        "model": "demo-judge",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": prompt.len() / 4, "completion_tokens": 40}
    })
}

/// FNV-1a, for a stable level per request.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_rubric_json_the_judge_reads_and_vary_by_sample() {
        let request = json!({"messages": [{"role": "user", "content": "a diff"}]});
        let scores: Vec<f64> = (0..3)
            .map(|sample| {
                let reply = completion(&request, sample);
                let content = reply["choices"][0]["message"]["content"]
                    .as_str()
                    .expect("text content");
                let answer = crate::gates::judge::parse(content).expect("a valid rubric answer");
                answer.scores.iter().sum::<f64>() / 50.0
            })
            .collect();
        assert!(scores.iter().all(|s| (0.3..=1.0).contains(s)), "{scores:?}");
        assert!(scores.windows(2).any(|w| w[0] != w[1]), "{scores:?}");
    }

    #[test]
    fn it_serves_chat_completions_over_http() {
        let model = DemoModel::start().expect("starts");
        let mut config = Config::default();
        model.configure(&mut config);
        let base = &config.llm.providers[NAME].base_url;
        let url = format!("{base}/chat/completions");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let reply: Value = rt.block_on(async {
            crate::llm::client::http_client()
                .expect("client")
                .post(&url)
                .json(&json!({"model": "demo-judge", "messages": []}))
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("JSON")
        });
        assert_eq!(reply["object"], "chat.completion");
        assert_eq!(config.gates.judge.route, NAME);
    }
}
