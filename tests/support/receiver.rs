//! A tiny scriptable HTTP receiver on tokio for the sink tests (webhook
//! receivers, Alertmanager's webhook target, a fake Grafana API) on
//! 127.0.0.1: answers from a script, then with a default status; can hold a
//! request until released; records every request; stops on drop.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reply {
    /// This status, at once.
    Status(u16),
    /// Hold the request until [`Receiver::release`], then answer 503
    /// (the client has long given up).
    Hold,
}

/// One request the receiver saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method.
    pub method: Method,
    /// Path.
    pub path: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Bytes,
    /// What it answered (`None` while held).
    pub status: Option<u16>,
}

impl Seen {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Shared state of a receiver.
#[derive(Default)]
pub struct ReceiverState {
    seen: Mutex<Vec<Seen>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<u16>,
    held: std::sync::atomic::AtomicUsize,
    release: tokio::sync::Notify,
    released: std::sync::atomic::AtomicBool,
}

/// A tiny HTTP receiver: answers from a script, then with a default
/// status; records every request; replies `{"id": n}` (Grafana style).
pub struct Receiver {
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

async fn handle(
    State(s): State<Arc<ReceiverState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let reply = s.script.lock().unwrap().pop_front();
    let reply = reply.unwrap_or(Reply::Status(*s.default.lock().unwrap()));
    let index = {
        let mut seen = s.seen.lock().unwrap();
        seen.push(Seen {
            method,
            path: uri.path().to_string(),
            headers,
            body,
            status: None,
        });
        seen.len() - 1
    };
    let status = match reply {
        Reply::Status(c) => c,
        Reply::Hold => {
            s.held.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            while !s.released.load(std::sync::atomic::Ordering::SeqCst) {
                let wait = s.release.notified();
                if s.released.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(100), wait).await;
            }
            503
        }
    };
    s.seen.lock().unwrap()[index].status = Some(status);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        format!("{{\"id\": {}}}", index + 1),
    )
}

impl Receiver {
    /// Starts on a free port.
    pub async fn start(script: &[Reply]) -> Receiver {
        Self::start_on(0, script).await
    }

    /// Starts on `port` (0: any).
    pub async fn start_on(port: u16, script: &[Reply]) -> Receiver {
        let state = Arc::new(ReceiverState::default());
        *state.default.lock().unwrap() = 200;
        state.script.lock().unwrap().extend(script.iter().copied());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/"),
            state,
            task,
        }
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Requests answered 2xx.
    pub fn delivered(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.status.is_some_and(|c| (200..300).contains(&c)))
            .collect()
    }

    /// Requests being held now.
    pub fn holding(&self) -> usize {
        if self
            .state
            .released
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            0
        } else {
            self.state.held.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    /// Lets held requests finish.
    pub fn release(&self) {
        self.state
            .released
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.state.release.notify_waiters();
    }

    /// Answer with `status` once the script is used up.
    pub fn set_default(&self, status: u16) {
        *self.state.default.lock().unwrap() = status;
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.release();
        self.task.abort();
    }
}

/// How a [`Hostile`] server answers one request. The real receivers
/// (Alertmanager, Grafana, Prometheus) cannot be made to misbehave like
/// this, so these answers come from a fake on raw TCP.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Misbehave {
    /// This status with a chunked body of at most `limit` bytes, streamed
    /// as fast as the client reads it ("endless" for any sane client).
    Huge {
        /// Status code.
        status: u16,
        /// `Content-Type` of the body.
        json: bool,
        /// Bytes of body at most.
        limit: u64,
    },
    /// `302 Found` back to the same path: a redirect loop.
    RedirectLoop,
    /// Bytes that are not HTTP, then the connection closes.
    Garbage,
    /// `200 OK` with `{"id": 1}`.
    Ok,
}

/// A hostile HTTP server on 127.0.0.1: answers every request (after the
/// script, with the default) as [`Misbehave`] says; counts connections,
/// requests and body bytes it managed to write.
pub struct Hostile {
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    /// Its port.
    pub port: u16,
    state: Arc<HostileState>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct HostileState {
    script: Mutex<VecDeque<Misbehave>>,
    default: Mutex<Option<Misbehave>>,
    connections: std::sync::atomic::AtomicU64,
    requests: std::sync::atomic::AtomicU64,
    written: std::sync::atomic::AtomicU64,
}

impl Hostile {
    /// Starts on a free port: `script` first, then `default` for ever.
    pub async fn start(script: &[Misbehave], default: Misbehave) -> Hostile {
        let state = Arc::new(HostileState::default());
        state.script.lock().unwrap().extend(script.iter().copied());
        *state.default.lock().unwrap() = Some(default);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind hostile server");
        let port = listener.local_addr().expect("addr").port();
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                st.connections
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(serve_hostile(sock, st.clone()));
            }
        });
        Hostile {
            url: format!("http://127.0.0.1:{port}/"),
            port,
            state,
            task,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests read so far.
    pub fn requests(&self) -> u64 {
        self.state
            .requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Body bytes written so far (what the clients let it send).
    pub fn written(&self) -> u64 {
        self.state.written.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Answer as `m` from now on (after the script).
    pub fn set_default(&self, m: Misbehave) {
        *self.state.default.lock().unwrap() = Some(m);
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one connection: request after request (keep-alive), each
/// answered as the script says, until the client goes away.
async fn serve_hostile(mut sock: tokio::net::TcpStream, st: Arc<HostileState>) {
    use std::sync::atomic::Ordering::SeqCst;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // Read one request: headers, then Content-Length bytes of body.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.len() > 1 << 20 {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 8192];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + len);
        st.requests.fetch_add(1, SeqCst);
        let m = st.script.lock().unwrap().pop_front();
        let m = m.unwrap_or_else(|| st.default.lock().unwrap().unwrap_or(Misbehave::Ok));
        match m {
            Misbehave::Ok => {
                let body = "{\"id\": 1}";
                let r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if sock.write_all(r.as_bytes()).await.is_err() {
                    return;
                }
            }
            Misbehave::RedirectLoop => {
                let r =
                    format!("HTTP/1.1 302 Found\r\nLocation: {path}\r\nContent-Length: 0\r\n\r\n");
                if sock.write_all(r.as_bytes()).await.is_err() {
                    return;
                }
            }
            Misbehave::Garbage => {
                let _ = sock.write_all(b"\x00\x01garbage, not HTTP\r\n\r\n").await;
                return;
            }
            Misbehave::Huge {
                status,
                json,
                limit,
            } => {
                let ctype = if json {
                    "application/json"
                } else {
                    "text/plain"
                };
                let head = format!(
                    "HTTP/1.1 {status} Whatever\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n"
                );
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                // A valid start, then filler that never closes the JSON.
                let mut first = true;
                let mut sent = 0u64;
                let filler = vec![b' '; 64 * 1024];
                while sent < limit {
                    let data: &[u8] = if first && json {
                        br#"{"status":"success","data":{"resultType":"vector","result":["#
                    } else {
                        &filler
                    };
                    first = false;
                    let frame = format!("{:x}\r\n", data.len());
                    let ok = sock.write_all(frame.as_bytes()).await.is_ok()
                        && sock.write_all(data).await.is_ok()
                        && sock.write_all(b"\r\n").await.is_ok();
                    if !ok {
                        return;
                    }
                    sent += data.len() as u64;
                    st.written.fetch_add(data.len() as u64, SeqCst);
                }
                if sock.write_all(b"0\r\n\r\n").await.is_err() {
                    return;
                }
            }
        }
    }
}
