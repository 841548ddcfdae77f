//! Caps on what the Kubernetes API server can make the agent read: a
//! tower layer around kube's HTTP client that wraps every response body.
//!
//! kube-client reads a list answer whole into memory and splits a watch
//! stream into lines with an unbounded `LinesCodec`, so a hostile or broken
//! API server could grow the agent without limit with one endless body or
//! one endless line. The wrapped body counts bytes as they arrive and fails
//! the read once a cap is passed, before kube buffers more:
//! - a watch (`watch=true` in the query): bytes since the last newline, at
//!   most [`Caps::watch_line`] (one event);
//! - anything else (list pages, gets): the whole body, at most
//!   [`Caps::body`].
//!
//! The failure surfaces as a kube error, so the watchers count, log
//! (rate-limited) and retry it with their growing backoff like any other.

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{BoxError, Layer, Service};

/// The caps, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// One watch event line. etcd refuses objects over 1.5 MiB, so a real
    /// event line stays well under this.
    pub watch_line: usize,
    /// One non-watch answer: a list page of the watchers' 500 objects (pods
    /// of ~20 KiB at worst come to ~10 MiB) with a wide margin.
    pub body: usize,
}

/// The shipped caps: sized to stay far below the pod's 1 GiB memory limit
/// (kube holds a list page twice while decoding it).
pub const DEFAULT_CAPS: Caps = Caps {
    watch_line: 8 << 20,
    body: 64 << 20,
};

/// An answer passed a cap.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CapError {
    /// A watch line longer than the cap.
    #[error("API server sent a watch line over {0} bytes; the watch is dropped")]
    WatchLine(usize),
    /// A (list) body longer than the cap.
    #[error("API server sent a response body over {0} bytes; the request is dropped")]
    Body(usize),
}

/// The layer for `kube::client::ClientBuilder::with_layer`.
#[derive(Clone, Copy, Debug)]
pub struct CapLayer(pub Caps);

impl<S> Layer<S> for CapLayer {
    type Service = CapService<S>;
    fn layer(&self, inner: S) -> CapService<S> {
        CapService {
            inner,
            caps: self.0,
        }
    }
}

/// The service the layer makes: the inner one with capped bodies.
#[derive(Clone, Debug)]
pub struct CapService<S> {
    inner: S,
    caps: Caps,
}

impl<S, Q, B> Service<Request<Q>> for CapService<S>
where
    S: Service<Request<Q>, Response = Response<B>>,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Capped<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Q>) -> Self::Future {
        let mode = if is_watch(req.uri().query()) {
            Mode::Line(self.caps.watch_line)
        } else {
            Mode::Total(self.caps.body)
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(resp.map(|inner| Capped {
                inner,
                mode,
                seen: 0,
                failed: false,
            }))
        })
    }
}

/// Whether a query string asks for a watch stream.
fn is_watch(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|kv| matches!(kv, "watch=true" | "watch=1"))
    })
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Line(usize),
    Total(usize),
}

/// A response body that fails once its cap is passed.
pub struct Capped<B> {
    inner: B,
    mode: Mode,
    /// Bytes of the current line (watch) or of the body so far.
    seen: usize,
    failed: bool,
}

impl<B> Capped<B> {
    /// Counts `data`; the error if a cap is now passed.
    fn count(&mut self, data: &[u8]) -> Result<(), CapError> {
        match self.mode {
            Mode::Total(cap) => {
                self.seen = self.seen.saturating_add(data.len());
                if self.seen > cap {
                    return Err(CapError::Body(cap));
                }
            }
            Mode::Line(cap) => {
                // The line carried over ends at this chunk's first newline;
                // lines wholly inside the chunk are at most the chunk,
                // which hyper bounds.
                let first = data.iter().position(|&b| b == b'\n');
                let carried = self.seen.saturating_add(first.unwrap_or(data.len()));
                self.seen = match data.iter().rposition(|&b| b == b'\n') {
                    Some(i) => data.len() - i - 1,
                    None => carried,
                };
                if carried > cap || self.seen > cap {
                    return Err(CapError::WatchLine(cap));
                }
            }
        }
        Ok(())
    }
}

impl<B> Body for Capped<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if let Err(e) = self.count(data) {
                        self.failed = true;
                        return Poll::Ready(Some(Err(Box::new(e))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capped(mode: Mode) -> Capped<()> {
        Capped {
            inner: (),
            mode,
            seen: 0,
            failed: false,
        }
    }

    #[test]
    fn a_list_body_fails_once_over_the_cap() {
        let mut c = capped(Mode::Total(10));
        assert_eq!(c.count(b"0123456789"), Ok(()));
        assert_eq!(c.count(b"x"), Err(CapError::Body(10)));
    }

    #[test]
    fn watch_lines_are_counted_from_the_last_newline() {
        let mut c = capped(Mode::Line(10));
        assert_eq!(c.count(b"0123456789\n012345"), Ok(()));
        assert_eq!(c.count(b"6789\n"), Ok(()));
        // Many short lines add up to far more than the cap: fine.
        for _ in 0..100 {
            assert_eq!(c.count(b"short\n"), Ok(()));
        }
        assert_eq!(c.count(b"0123456"), Ok(()));
        assert_eq!(c.count(b"7890"), Err(CapError::WatchLine(10)));
        // A long line that ends inside the next chunk is caught too.
        let mut c = capped(Mode::Line(10));
        assert_eq!(c.count(b"012345678"), Ok(()));
        assert_eq!(c.count(b"9abc\nde"), Err(CapError::WatchLine(10)));
    }

    #[test]
    fn watch_requests_are_told_from_lists() {
        assert!(is_watch(Some("&watch=true&timeoutSeconds=290")));
        assert!(is_watch(Some("watch=1")));
        assert!(!is_watch(Some("limit=500&resourceVersion=0")));
        assert!(!is_watch(Some("labelSelector=watch%3Dtrue")));
        assert!(!is_watch(None));
    }
}
