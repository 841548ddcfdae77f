//! Sockets for the fake API server: HTTP/1.1 through axum over a listener
//! whose connections can all be cut at once, so an outage looks like one
//! to the client (refused connects, reset keep-alive connections and
//! watches), and rebinding the same port ends it.

use super::http::{handle, Inner};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

/// Binds `addr` (or a free loopback port) with SO_REUSEADDR, so an outage
/// can end on the same port.
pub async fn bind(addr: Option<SocketAddr>) -> TcpListener {
    let addr = addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    for _ in 0..100 {
        let sock = TcpSocket::new_v4().expect("socket");
        sock.set_reuseaddr(true).expect("reuseaddr");
        if sock.bind(addr).is_ok() {
            if let Ok(l) = sock.listen(1024) {
                return l;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("cannot bind {addr}");
}

/// A connection that fails every read and write once the kill switch moves.
pub struct KillableIo {
    inner: TcpStream,
    killed: Pin<Box<dyn Future<Output = ()> + Send>>,
    dead: bool,
}

impl KillableIo {
    fn check(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.dead && self.killed.as_mut().poll(cx).is_ready() {
            self.dead = true;
        }
        self.dead
    }
}

fn reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "fake API server is down")
}

impl AsyncRead for KillableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.check(cx) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.check(cx) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.check(cx) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A listener handing out [`KillableIo`] connections.
pub struct KillableListener {
    inner: TcpListener,
    kill: watch::Receiver<u64>,
}

impl axum::serve::Listener for KillableListener {
    type Io = KillableIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((s, a)) => {
                    let _ = s.set_nodelay(true);
                    let mut rx = self.kill.clone();
                    rx.borrow_and_update();
                    let killed = Box::pin(async move {
                        // A closed channel (server dropped) is a kill too.
                        let _ = rx.changed().await;
                    });
                    return (
                        KillableIo {
                            inner: s,
                            killed,
                            dead: false,
                        },
                        a,
                    );
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Serves until the task is aborted.
pub async fn serve(listener: TcpListener, kill: watch::Receiver<u64>, inner: Arc<Inner>) {
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let inner = inner.clone();
            async move { handle(inner, method, uri, headers, body).await }
        },
    );
    let _ = axum::serve(
        KillableListener {
            inner: listener,
            kill,
        },
        app,
    )
    .await;
}
