//! `[server] metrics_addr`: a running bosun serves `GET /metrics` (OpenMetrics text, see
//! [`super::prometheus`]) and `GET /healthz` over HTTP/1.1 (hyper).
//!
//! The figures come from a [`MetricsCollector`] seeded from the store at start and kept up to
//! date from the orchestrator's state events (never its output lines); if it falls behind
//! them it is seeded again. A scrape only reads a snapshot under a short lock: it never waits
//! on the orchestrator, and the orchestrator never waits on it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::{MetricsCollector, prometheus};
use crate::model::ProviderStats;
use crate::model::now_ms;
use crate::orchestrator::{Bus, Event, Missed, Subscription};
use crate::store::Store;

/// What a scrape reads.
struct Figures {
    collector: MetricsCollector,
    providers: Vec<ProviderStats>,
    /// False once the orchestrator has stopped (`/healthz` then answers 503).
    alive: bool,
}

/// Listens on `addr` and serves until the process ends; returns the address bound (port 0
/// picks a free one).
pub async fn serve(
    addr: SocketAddr,
    store: Arc<Store>,
    events: &Bus,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let figures = Arc::new(Mutex::new(Figures {
        collector: MetricsCollector::new(now_ms()),
        providers: Vec::new(),
        alive: true,
    }));
    tokio::spawn(follow(
        Arc::clone(&figures),
        events.subscribe().without_output(),
        store,
    ));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let figures = Arc::clone(&figures);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let figures = Arc::clone(&figures);
                    async move { Ok::<_, Infallible>(answer(&request, &figures)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

fn lock(figures: &Mutex<Figures>) -> std::sync::MutexGuard<'_, Figures> {
    figures.lock().unwrap_or_else(|e| e.into_inner())
}

/// Seeds the collector from the store (again, whenever the events were missed) and applies
/// every state event to it.
async fn follow(figures: Arc<Mutex<Figures>>, mut events: Subscription, store: Arc<Store>) {
    let seed = |store: Arc<Store>| {
        let now = now_ms();
        let since = super::seed_since(now);
        tokio::task::spawn_blocking(move || {
            MetricsCollector::seeded(super::stored_runs(&store), HashMap::new(), since, now)
        })
    };
    lock(&figures).collector.begin_seed();
    let mut seeding = Some(seed(Arc::clone(&store)));
    loop {
        tokio::select! {
            seeded = async { seeding.as_mut().expect("guarded").await }, if seeding.is_some() => {
                seeding = None;
                if let Ok(seeded) = seeded {
                    lock(&figures).collector.adopt(seeded);
                }
            }
            event = events.recv() => match event {
                Ok(event) => {
                    let mut f = lock(&figures);
                    match &event {
                        Event::Models { providers } => f.providers = providers.clone(),
                        Event::Stopped => f.alive = false,
                        _ => {}
                    }
                    f.collector.observe(&event, now_ms());
                }
                Err(Missed::State(_)) => {
                    if seeding.is_none() {
                        lock(&figures).collector.begin_seed();
                        seeding = Some(seed(Arc::clone(&store)));
                    }
                }
                Err(Missed::Output(_)) => {}
                Err(Missed::Closed) => {
                    lock(&figures).alive = false;
                    return;
                }
            },
        }
    }
}

fn answer(request: &Request<Incoming>, figures: &Mutex<Figures>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    };
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => {
            let body = {
                let f = lock(figures);
                prometheus::render(&f.collector, &f.providers)
            };
            let mut response = reply(StatusCode::OK, body);
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(prometheus::CONTENT_TYPE),
            );
            response
        }
        (&Method::GET, "/healthz") => {
            if lock(figures).alive {
                reply(StatusCode::OK, "ok\n".into())
            } else {
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "bosun's orchestrator has stopped\n".into(),
                )
            }
        }
        (_, "/metrics" | "/healthz") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is served here\n".into(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "not found: bosun serves /metrics and /healthz\n".into(),
        ),
    }
}
