//! The accept loop: HTTP/1.1 over hyper with the protections `axum::serve`
//! lacks, so idle or slow clients cannot starve the probes. A connection
//! must send a complete request head within `header_read_timeout` (also
//! the idle limit between keep-alive requests); a request is answered
//! within `request_timeout` (else `503`); at most `max_connections` are
//! open: one more closes the oldest, at once when it is idle, after its
//! answer otherwise. When the process runs out of file descriptors
//! (`EMFILE`), the oldest connection is closed the same way instead of
//! the listener spinning on errors, so `/healthz` still gets through.
//! A client that accepts no response bytes for `header_read_timeout` is
//! disconnected, so a reader that stalls cannot pin an answer (and the
//! query permit that comes with it) forever.

use super::config::ServeConfig;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Sleep;

/// The connection limits of [`serve`], from the `serve:` settings.
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    header_read: Duration,
    request: Duration,
    max_connections: usize,
}

impl ServerLimits {
    /// The limits configured in `cfg` (zero durations and counts are
    /// raised to the smallest useful value).
    pub fn from_config(cfg: &ServeConfig) -> Self {
        let ms = |d: crate::time::Duration| Duration::from_millis(d.0.max(1) as u64);
        ServerLimits {
            header_read: ms(cfg.header_read_timeout),
            request: ms(cfg.request_timeout),
            max_connections: cfg.max_connections.max(1),
        }
    }
}

/// Open connections, oldest first, each with the signal that closes it.
#[derive(Default)]
struct Open {
    next: u64,
    conns: BTreeMap<u64, Arc<Notify>>,
}

impl Open {
    fn add(&mut self) -> (u64, Arc<Notify>) {
        let id = self.next;
        self.next += 1;
        let n = Arc::new(Notify::new());
        self.conns.insert(id, n.clone());
        (id, n)
    }

    /// Asks the oldest connection to close (it stops tracking it now, so
    /// the next eviction picks the next one).
    fn evict_oldest(&mut self) {
        if let Some((_, n)) = self.conns.pop_first() {
            n.notify_one();
        }
    }

    fn close_all(&mut self) {
        for (_, n) in std::mem::take(&mut self.conns) {
            n.notify_one();
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes,
/// then lets in-flight requests finish (for at most `request_timeout`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app.layer(axum::middleware::from_fn_with_state(
        limits.request,
        request_timeout,
    ));
    let open = Arc::new(Mutex::new(Open::default()));
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut errors = 0u64;
    loop {
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                // Answers are written whole; Nagle's algorithm would only
                // hold a small answer's last segment back for an ACK.
                let _ = stream.set_nodelay(true);
                stream
            }
            Err(e) => {
                errors += 1;
                // Out of descriptors: free one; other errors (a client that
                // reset before accept) pass. Logged sparsely either way.
                if matches!(e.raw_os_error(), Some(23 | 24)) {
                    lock(&open).evict_oldest();
                }
                if errors.is_power_of_two() {
                    tracing::warn!(error = %e, errors, "accepting a connection failed");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let (id, close) = {
            let mut o = lock(&open);
            if o.conns.len() >= limits.max_connections {
                o.evict_oldest();
            }
            o.add()
        };
        let svc = TowerToHyperService::new(app.clone());
        let open = open.clone();
        tasks.spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read);
            let io = WriteStall::new(stream, limits.header_read);
            let conn = builder.serve_connection(TokioIo::new(io), svc);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = close.notified() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            lock(&open).conns.remove(&id);
        });
    }
    lock(&open).close_all();
    let _ = tokio::time::timeout(limits.request, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

fn lock(open: &Mutex<Open>) -> std::sync::MutexGuard<'_, Open> {
    open.lock().unwrap_or_else(|p| p.into_inner())
}

/// Middleware: answers `503` when the handler takes longer than `limit`.
async fn request_timeout(
    axum::extract::State(limit): axum::extract::State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "request timed out (serve.request_timeout)\n",
        )
            .into_response(),
    }
}

/// A connection whose writes fail with `TimedOut` once the peer has taken
/// no bytes for `limit` (reads are bounded by hyper's header timeout).
struct WriteStall {
    inner: TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteStall {
    fn new(inner: TcpStream, limit: Duration) -> Self {
        WriteStall {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Turns a pending write into an error once it has been pending for
    /// `limit`; any progress resets the clock.
    fn watch<T>(&mut self, cx: &mut Context<'_>, p: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if p.is_ready() {
            self.stalled = None;
            return p;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
        }
        Poll::Pending
    }
}

impl AsyncRead for WriteStall {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteStall {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, p)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let p = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, p)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
