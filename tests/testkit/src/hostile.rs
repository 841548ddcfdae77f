//! A hostile HTTP server on raw tokio TCP for the robustness tests:
//! endless bodies, redirect loops, bytes that are not HTTP. It is a fake
//! on purpose: the real receivers (Alertmanager, Grafana, Prometheus, the
//! API server) cannot be made to misbehave like this. It counts
//! connections, requests and the body bytes clients let it write.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

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
    /// A Kubernetes API server whose lists are empty and whose watches
    /// (`watch=true`) answer `200` with one line of `limit` bytes.
    KubeEndlessWatch {
        /// Bytes of the one watch line at most.
        limit: u64,
    },
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
            Misbehave::KubeEndlessWatch { limit } if path.contains("watch=true") => {
                if !write_huge(&mut sock, &st, 200, true, limit).await {
                    return;
                }
            }
            Misbehave::KubeEndlessWatch { .. } => {
                let body = r#"{"apiVersion":"v1","kind":"List","metadata":{"resourceVersion":"1"},"items":[]}"#;
                let r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if sock.write_all(r.as_bytes()).await.is_err() {
                    return;
                }
            }
            Misbehave::Huge {
                status,
                json,
                limit,
            } => {
                if !write_huge(&mut sock, &st, status, json, limit).await {
                    return;
                }
            }
        }
    }
}

/// Writes a chunked answer of `status` with at most `limit` body bytes (a
/// valid JSON start, then spaces: no newline, never closed); false if the
/// client went away.
async fn write_huge(
    sock: &mut tokio::net::TcpStream,
    st: &HostileState,
    status: u16,
    json: bool,
    limit: u64,
) -> bool {
    use std::sync::atomic::Ordering::SeqCst;
    use tokio::io::AsyncWriteExt;
    let ctype = if json {
        "application/json"
    } else {
        "text/plain"
    };
    let head = format!(
        "HTTP/1.1 {status} Whatever\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    if sock.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
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
            return false;
        }
        sent += data.len() as u64;
        st.written.fetch_add(data.len() as u64, SeqCst);
    }
    sock.write_all(b"0\r\n\r\n").await.is_ok()
}
