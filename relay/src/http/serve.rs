//! The listener: the router served over hyper's HTTP/1 connections under the relay's own accept
//! loop, so that no client can hold more than its share:
//!
//! - at most `server.max_connections` connections at once (one semaphore permit each); one more
//!   is closed at once and logged (`connection limit reached`, at most once per 10 s, with the
//!   count closed since the last line), so a flood of idle sockets cannot take the process's
//!   file descriptors;
//! - at most `server.max_connections_per_ip` of them from one client address (an IPv6 client
//!   counts by its /64; trusted proxies are not limited), so one client cannot take every
//!   connection from `/healthz`, Calltouch and the browsers ([`PerAddress`]); one more is closed
//!   at once and logged the same way;
//! - headers within `server.header_read_timeout_ms` (hyper's timer, which also bounds how long
//!   an idle keep-alive connection waits for its next request), else the connection is closed;
//! - no byte either way for `server.idle_timeout_ms`: closed ([`Idle`]);
//! - a request head (line and headers) of at most 64 KiB, and as much buffered per connection;
//! - on shutdown: stop accepting, ask every connection to finish its request in progress and
//!   close, wait up to `server.shutdown_grace_ms`, then drop whatever is still open.
//!
//! (The body-read timeout and body caps are the handlers': [`super::ingest`].)

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::config::Server;

/// What bounds each connection (from `[server]`, read once at start-up).
#[derive(Debug, Clone)]
pub struct Limits {
    /// `server.header_read_timeout_ms`.
    pub header_read_timeout: Duration,
    /// `server.idle_timeout_ms`.
    pub idle_timeout: Duration,
    /// `server.max_connections`.
    pub max_connections: usize,
    /// `server.max_connections_per_ip` (0: no limit).
    pub max_connections_per_ip: usize,
    /// `server.trusted_proxies`: not limited per address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `server.shutdown_grace_ms`.
    pub shutdown_grace: Duration,
}

impl Limits {
    /// The limits `server` sets.
    pub fn from_config(server: &Server) -> Limits {
        Limits {
            header_read_timeout: server.header_read_timeout(),
            idle_timeout: server.idle_timeout(),
            max_connections: server.max_connections.max(1) as usize,
            max_connections_per_ip: server.max_connections_per_ip as usize,
            trusted_proxies: server.trusted_proxies.clone(),
            shutdown_grace: server.shutdown_grace(),
        }
    }
}

/// The most a connection buffers while reading, so also the largest request head (line and
/// headers; a Calltouch GET webhook's query is a few KB): a larger one is refused (431) or the
/// connection closed. Bounds memory per connection before anything is authenticated.
const MAX_BUFFER_BYTES: usize = 64 * 1024;

/// How often at most the connection-limit warning is logged.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Rate-limited warnings: the first at once, then at most one per [`WARN_EVERY`] with the count
/// of events since the last one.
struct Throttled {
    last: Option<Instant>,
    unreported: u64,
}

impl Throttled {
    fn new() -> Throttled {
        Throttled {
            last: None,
            unreported: 0,
        }
    }

    /// Counts one event; `Some(count)` when a line is due.
    fn note(&mut self) -> Option<u64> {
        self.unreported += 1;
        if self.last.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.unreported))
    }
}

/// Connections open per client address, so one client can be held to its share. An IPv6
/// client counts by its /64 (one host usually holds the whole prefix). Entries go when their
/// last connection closes, so it holds at most one per open connection.
#[derive(Debug, Default)]
pub struct PerAddress {
    open: std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>,
}

impl PerAddress {
    /// Counts a connection from `ip` unless it already has `limit` open; the guard uncounts it.
    pub fn open(self: &Arc<Self>, ip: IpAddr, limit: usize) -> Option<AddressGuard> {
        let key = super::limiter::client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key).or_default();
        if *n >= limit {
            if *n == 0 {
                open.remove(&key);
            }
            return None;
        }
        *n += 1;
        Some(AddressGuard {
            table: self.clone(),
            key,
        })
    }

    /// Addresses with a connection open.
    pub fn addresses(&self) -> usize {
        self.open.lock().map_or(0, |open| open.len())
    }
}

/// One counted connection of an address; uncounted when dropped.
#[derive(Debug)]
pub struct AddressGuard {
    table: Arc<PerAddress>,
    key: IpAddr,
}

impl Drop for AddressGuard {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains (see the module doc).
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let mut over_address_limit = Throttled::new();
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut over_limit = Throttled::new();
    let mut accept_errors = Throttled::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: back off a little rather than spin.
                    if let Some(count) = accept_errors.note() {
                        tracing::warn!(error = %e, count, "accepting a connection failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream);
            if let Some(count) = over_limit.note() {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    closed = count,
                    "connection limit reached: closing new connections at once (server.max_connections)"
                );
            }
            continue;
        };
        let ip = peer.ip().to_canonical();
        let limited = limits.max_connections_per_ip > 0
            && !limits.trusted_proxies.iter().any(|net| net.contains(&ip));
        let address = if limited {
            match per_address.open(ip, limits.max_connections_per_ip) {
                Some(guard) => Some(guard),
                None => {
                    drop(stream);
                    if let Some(count) = over_address_limit.note() {
                        tracing::warn!(
                            max_connections_per_ip = limits.max_connections_per_ip,
                            closed = count,
                            "connection limit of one client address reached: closing its new connections at once (server.max_connections_per_ip)"
                        );
                    }
                    continue;
                }
            }
        } else {
            None
        };
        let app = app.clone();
        let stopping = stopping.clone();
        let limits = limits.clone();
        connections.spawn(async move {
            connection(stream, peer, app, &limits, stopping).await;
            drop(address);
            drop(permit);
        });
    }
    drop(listener);
    let open = connections.len();
    tracing::info!(
        open,
        grace_ms = limits.shutdown_grace.as_millis() as u64,
        "shutting down: no new connections; letting requests in progress finish"
    );
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        tracing::warn!(
            open = connections.len(),
            "shutdown grace over (server.shutdown_grace_ms): closing connections still open"
        );
        connections.abort_all();
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &Limits,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(Idle::new(stream, limits.idle_timeout));
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_BUFFER_BYTES)
        .max_header_size(MAX_BUFFER_BYTES)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection closed with an error");
    }
}

/// A stream that fails with `TimedOut` once no byte has moved either way for `timeout`.
pub struct Idle<S> {
    inner: S,
    timeout: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<S> Idle<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, timeout: Duration) -> Idle<S> {
        Idle {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    fn touch(&mut self) {
        let next = tokio::time::Instant::now() + self.timeout;
        self.deadline.as_mut().reset(next);
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn idle_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "connection idle past server.idle_timeout_ms",
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for Idle<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Idle<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_is_held_to_its_limit_and_a_closed_connection_frees_its_place() {
        let table = Arc::new(PerAddress::default());
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let first = table.open(ip, 2).expect("first");
        let _second = table.open(ip, 2).expect("second");
        assert!(table.open(ip, 2).is_none(), "a third over the limit");
        assert!(
            table.open("192.0.2.8".parse().unwrap(), 2).is_some(),
            "another address"
        );
        drop(first);
        assert!(table.open(ip, 2).is_some(), "a place freed");
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_and_nothing_is_kept_for_closed_addresses() {
        let table = Arc::new(PerAddress::default());
        let a = table
            .open("2001:db8:1:2::1".parse().unwrap(), 1)
            .expect("first");
        assert!(
            table
                .open("2001:db8:1:2:ffff::9".parse().unwrap(), 1)
                .is_none(),
            "the same /64"
        );
        let b = table
            .open("2001:db8:1:3::1".parse().unwrap(), 1)
            .expect("another /64");
        assert!(
            table.open("::ffff:192.0.2.7".parse().unwrap(), 0).is_none(),
            "limit 0 here refuses"
        );
        assert_eq!(table.addresses(), 2);
        drop((a, b));
        assert_eq!(
            table.addresses(),
            0,
            "entries go with their last connection"
        );
    }
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_silent_stream_times_out_and_a_busy_one_does_not() {
        let (client, server) = tokio::io::duplex(64);
        let mut idle = Idle::new(server, Duration::from_secs(5));
        let mut client = client;
        let mut buf = [0u8; 8];
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(3)).await;
            client.write_all(b"x").await.unwrap();
            assert_eq!(idle.read(&mut buf).await.unwrap(), 1);
        }
        let err = idle.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn warnings_are_throttled_with_the_count() {
        let mut t = Throttled::new();
        assert_eq!(t.note(), Some(1));
        assert_eq!(t.note(), None);
        assert_eq!(t.note(), None);
        t.last = Some(Instant::now() - WARN_EVERY);
        assert_eq!(t.note(), Some(3));
    }
}
