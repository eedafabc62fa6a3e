//! The accept loop behind the listener. It is ours rather than
//! `axum::serve` because the connection itself must be bounded: how many are
//! open (in all and per client address), how large a request head may be
//! (`431`), how long a client may take to send one or sit idle between
//! requests, and how long one connection may live. Shutdown lets requests in
//! flight finish, then closes every connection.

use crate::config::HttpLimits;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// How long shutdown waits for requests in flight.
const DRAIN_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Open connections per client address.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One client's open connection; gives its place back when dropped.
struct Slot {
    table: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    fn take(table: &Arc<PerClient>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut open = table.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            table: Arc::clone(table),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(PerClient::default());
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: say so, and give
                    // closing connections a moment to free some.
                    tracing::warn!(error = %e, "the HTTP listener cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            refuse("total");
            continue;
        };
        let ip = super::guard::canonical(peer.ip());
        let Some(slot) = PerClient::take(&per_client, ip, limits.max_connections_per_client) else {
            refuse("per_client");
            continue;
        };
        let app = app.clone();
        let limits = limits.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            connection(stream, peer, app, &limits, stopping).await;
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection hands its permit back once its last request is done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_FOR, open.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections still open after {DRAIN_FOR:?}; closing them");
    }
    Ok(())
}

fn refuse(reason: &'static str) {
    tracing::debug!(reason, "closed an HTTP connection on arrival");
    crate::metrics::init();
    crate::metrics::HTTP_REFUSED_CONNECTIONS
        .with_label_values(&[reason])
        .inc();
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &HttpLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout.to_std())
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let lifetime = tokio::time::sleep(limits.connection_lifetime.to_std());
    let mut lifetime = std::pin::pin!(lifetime);
    let ending = tokio::select! {
        result = conn.as_mut() => Some(result),
        () = &mut lifetime => None,
        _ = stopping.wait_for(|stop| *stop) => None,
    };
    let result = match ending {
        Some(result) => result,
        None => {
            // Finish the request in progress, take no other.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Slow or vanished clients end here; that is their business.
        tracing::debug!(client = %peer.ip(), error = %e, "an HTTP connection ended with an error");
    }
}
