//! Answers to identical temperature-0 requests, kept in the store (its `llm_cache` tree)
//! for a TTL, and single-flight: while one request is upstream, identical ones wait for its
//! answer instead of making their own call.
//!
//! A key is the SHA-256 of canonical JSON (object keys sorted) of a *scope* — what the caller
//! says must match besides the request, the router passes the route's providers and models —
//! and the request's messages, tools and parameters. Only requests with `temperature` 0 are
//! cached: any other temperature asks for a fresh sample each time. Errors are handed to the
//! waiters of the call that failed but never stored.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use super::LlmError;
use super::types::{ChatRequest, ChatResponse};
use crate::model::now_ms;

/// A cache key: SHA-256 of the canonical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

type Outcome = Result<ChatResponse, LlmError>;

/// The calls upstream right now, by key: each with the channel its waiters listen on and a
/// number telling one leader's entry from a later one's.
type InFlight = HashMap<CacheKey, (u64, broadcast::Sender<Outcome>)>;

/// The store-backed answer cache with single-flight coalescing. Cloning shares it.
#[derive(Clone)]
pub struct Cache {
    tree: crate::kv::Tree,
    ttl: Duration,
    in_flight: Arc<Mutex<InFlight>>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("entries", &self.tree.len())
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// What is stored per key.
#[derive(Serialize, Deserialize)]
struct Entry {
    /// Layout version, so a later bosun can tell old entries (it may just drop them).
    v: u32,
    stored_ms: u64,
    response: ChatResponse,
}

/// Sorts every object's keys, so equal requests give equal bytes whatever order their maps
/// were built in. (serde_json's `Map` is a BTreeMap without `preserve_order`, but this does
/// not rely on that feature staying off.)
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Removes its key from the in-flight map when the leader finishes or is dropped (cancelled):
/// its waiters then see the channel close and try again themselves.
struct Lead<'a> {
    map: &'a Mutex<InFlight>,
    key: CacheKey,
    id: u64,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut map = lock(self.map);
        if map.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            map.remove(&self.key);
        }
    }
}

fn lock(map: &Mutex<InFlight>) -> std::sync::MutexGuard<'_, InFlight> {
    // Poisoning means a panic while inserting or removing one entry; the map is still sound.
    map.lock().unwrap_or_else(|p| p.into_inner())
}

impl Cache {
    /// A cache over `tree` (e.g. `Store::llm_cache`) keeping answers for `ttl`.
    pub fn new(tree: crate::kv::Tree, ttl: Duration) -> Self {
        Self {
            tree,
            ttl,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            next_id: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }

    /// The key of `request` within `scope`, or `None` when the request is not cacheable
    /// (temperature other than exactly 0). `stream` is left out: a streamed answer, once
    /// assembled, is the same answer.
    pub fn key(scope: &Value, request: &ChatRequest) -> Option<CacheKey> {
        if request.temperature != Some(0.0) {
            return None;
        }
        let material = json!({
            "scope": scope,
            "messages": request.messages,
            "tools": request.tools,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "top_logprobs": request.top_logprobs,
            "json": request.json,
        });
        let bytes = serde_json::to_vec(&canonical(&material)).ok()?;
        Some(CacheKey(Sha256::digest(&bytes).into()))
    }

    /// The stored answer for `key` if it is younger than the TTL (marked `cached`, cost 0).
    /// An expired or unreadable entry is removed and is a miss.
    pub fn get(&self, key: &CacheKey) -> Option<ChatResponse> {
        let bytes = self.tree.get(key.0).ok()??;
        let fresh = serde_json::from_slice::<Entry>(&bytes)
            .ok()
            .filter(|e| now_ms().saturating_sub(e.stored_ms) < self.ttl.as_millis() as u64);
        match fresh {
            Some(entry) => {
                let mut response = entry.response;
                response.cached = true;
                response.cost_usd = 0.0;
                Some(response)
            }
            None => {
                // A failed removal leaves an entry that the next lookup drops again.
                let _ = self.tree.remove(key.0);
                None
            }
        }
    }

    /// Removes every expired (or unreadable) entry; returns how many. Lookups drop an expired
    /// entry they meet, but answers never asked for again would stay: bosun prunes at start so
    /// the cache holds at most one TTL's worth of answers.
    pub fn prune(&self) -> usize {
        #[derive(Deserialize)]
        struct Stamp {
            stored_ms: u64,
        }
        let ttl = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let now = now_ms();
        let stale: Vec<Vec<u8>> = self
            .tree
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, v)| {
                serde_json::from_slice::<Stamp>(v)
                    .map_or(true, |s| now.saturating_sub(s.stored_ms) >= ttl)
            })
            .map(|(k, _)| k)
            .collect();
        stale.iter().filter(|k| self.tree.remove(k).is_ok()).count()
    }

    /// Stores `response` under `key`. A write error only costs a later miss, so it is logged
    /// rather than returned.
    pub fn put(&self, key: &CacheKey, response: &ChatResponse) {
        let entry = Entry {
            v: 1,
            stored_ms: now_ms(),
            response: response.clone(),
        };
        match serde_json::to_vec(&entry) {
            Ok(bytes) => {
                if let Err(e) = self.tree.insert(key.0, bytes) {
                    tracing::warn!("llm cache: cannot store an answer: {e}");
                }
            }
            Err(e) => tracing::warn!("llm cache: cannot encode an answer: {e}"),
        }
    }

    /// The cached answer for `key`, or the result of `fetch`, with identical concurrent
    /// calls sharing one `fetch`: the first caller runs it and the others wait for its
    /// outcome (they get the answer marked `cached`, cost 0, since they caused no call). A
    /// successful answer is stored; an error is shared but not stored. If the caller
    /// running `fetch` is cancelled, one of the waiters takes over.
    pub async fn get_or_fetch<F, Fut>(&self, key: CacheKey, fetch: F) -> Outcome
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        loop {
            if let Some(hit) = self.get(&key) {
                return Ok(hit);
            }
            enum Turn {
                Wait(broadcast::Receiver<Outcome>),
                Lead(u64, broadcast::Sender<Outcome>),
            }
            let turn = {
                let mut map = lock(&self.in_flight);
                match map.get(&key) {
                    Some((_, sender)) => Turn::Wait(sender.subscribe()),
                    None => {
                        let id = self
                            .next_id
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let (sender, _) = broadcast::channel(1);
                        map.insert(key, (id, sender.clone()));
                        Turn::Lead(id, sender)
                    }
                }
            };
            match turn {
                Turn::Lead(id, sender) => return self.lead(key, id, sender, &fetch).await,
                Turn::Wait(mut rx) => match rx.recv().await {
                    Ok(Ok(mut response)) => {
                        response.cached = true;
                        response.cost_usd = 0.0;
                        return Ok(response);
                    }
                    Ok(Err(e)) => return Err(e),
                    // The leader was cancelled before answering: look again.
                    Err(_) => continue,
                },
            }
        }
    }

    async fn lead<F, Fut>(
        &self,
        key: CacheKey,
        id: u64,
        sender: broadcast::Sender<Outcome>,
        fetch: &F,
    ) -> Outcome
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        let lead = Lead {
            map: &self.in_flight,
            key,
            id,
        };
        // Another leader may have stored the answer between our lookup and taking the lead.
        let outcome = match self.get(&key) {
            Some(hit) => Ok(hit),
            None => {
                let outcome = fetch().await;
                if let Ok(response) = &outcome {
                    self.put(&key, response);
                }
                outcome
            }
        };
        // Out of the map first, so a caller arriving now reads the stored answer rather
        // than subscribing to a channel that has already sent.
        drop(lead);
        // No receivers is fine: nobody was waiting.
        let _ = sender.send(outcome.clone());
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::types::Message;

    fn request(t: Option<f64>, text: &str) -> ChatRequest {
        ChatRequest {
            messages: vec![Message::user(text)],
            temperature: t,
            ..ChatRequest::default()
        }
    }

    #[test]
    fn only_temperature_zero_has_a_key_and_keys_follow_content() {
        let scope = json!(["m1"]);
        assert!(Cache::key(&scope, &request(None, "a")).is_none());
        assert!(Cache::key(&scope, &request(Some(0.7), "a")).is_none());
        let a = Cache::key(&scope, &request(Some(0.0), "a")).unwrap();
        assert_eq!(Some(a), Cache::key(&scope, &request(Some(0.0), "a")));
        assert_ne!(Some(a), Cache::key(&scope, &request(Some(0.0), "b")));
        assert_ne!(
            Some(a),
            Cache::key(&json!(["m2"]), &request(Some(0.0), "a"))
        );
        let mut streamed = request(Some(0.0), "a");
        streamed.stream = true;
        assert_eq!(Some(a), Cache::key(&scope, &streamed));
    }

    #[test]
    fn pruning_removes_expired_and_unreadable_entries_only() {
        let dir = tempfile::tempdir().unwrap();
        let tree = crate::kv::Db::open(&dir.path().join("cache.redb"))
            .unwrap()
            .open_tree("llm_cache")
            .unwrap();
        let cache = Cache::new(tree.clone(), Duration::from_secs(3600));
        let answer = ChatResponse {
            message: Message::assistant("hi"),
            finish_reason: None,
            usage: crate::llm::TokenUsage::default(),
            cost_usd: 0.01,
            provider: "p".into(),
            model: "m".into(),
            logprobs: None,
            cached: false,
        };
        let fresh = Cache::key(&json!(["m"]), &request(Some(0.0), "fresh")).unwrap();
        cache.put(&fresh, &answer);
        let old = serde_json::to_vec(&Entry {
            v: 1,
            stored_ms: now_ms() - 2 * 3_600_000,
            response: answer.clone(),
        })
        .unwrap();
        tree.insert(b"old", old).unwrap();
        tree.insert(b"junk", b"not json").unwrap();
        assert_eq!(cache.prune(), 2);
        assert_eq!(tree.len().unwrap(), 1);
        assert!(cache.get(&fresh).is_some());
    }

    #[test]
    fn canonical_json_sorts_nested_keys() {
        let a: Value = serde_json::from_str(r#"{"b":{"y":1,"x":2},"a":[{"d":1,"c":2}]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":[{"c":2,"d":1}],"b":{"x":2,"y":1}}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&canonical(&a)).unwrap(),
            serde_json::to_string(&canonical(&b)).unwrap()
        );
    }
}
