//! Test-only HTTP/1.1 over a raw `tokio::net::TcpStream` (the crate has no
//! HTTP client, and tokio's `io-util` feature is off, so this uses the
//! readiness API), plus the `promtool check metrics` lint.

use nodewatch::serve::{router_with, serve_router, Published};
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};

/// Serves `published` (no token) on a free 127.0.0.1 port until the
/// returned sender is dropped or fired.
pub async fn serve(published: Published) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_router(
        listener,
        router_with(published, None),
        async move {
            let _ = rx.await;
        },
    ));
    (addr, tx)
}

/// A parsed HTTP response.
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
    /// Body, de-chunked.
    pub body: String,
}

impl Resp {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let h = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name));
        h.map(|(_, v)| v.as_str())
    }
}

/// Sends one request with `Connection: close` and reads the whole answer.
pub async fn request(addr: SocketAddr, method: &str, path: &str, extra: &[(&str, &str)]) -> Resp {
    request_with_body(addr, method, path, extra, "").await
}

/// `POST path` with a form body, as Grafana sends queries.
pub async fn post_form(addr: SocketAddr, path: &str, form: &str) -> Resp {
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    request_with_body(addr, "POST", path, &ct, form).await
}

/// Sends one request with a body and reads the whole answer.
pub async fn request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Resp {
    let raw = request_raw(addr, method, path, extra, body).await;
    Resp {
        status: raw.status,
        headers: raw.headers,
        body: String::from_utf8(raw.body).expect("utf-8 response"),
    }
}

/// A response whose body is kept as bytes (e.g. gzip).
pub struct RawResp {
    /// Status code.
    pub status: u16,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
    /// Body, de-chunked.
    pub body: Vec<u8>,
}

/// Sends one request and reads the whole answer as bytes.
pub async fn request_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> RawResp {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    write_all(&stream, req.as_bytes()).await;
    let raw = read_to_end(&stream).await;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8(raw[..split].to_vec()).expect("utf-8 head");
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    RawResp {
        status,
        headers,
        body,
    }
}

/// Writes all of `buf`.
async fn write_all(stream: &TcpStream, mut buf: &[u8]) {
    while !buf.is_empty() {
        stream.writable().await.expect("writable");
        match stream.try_write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => panic!("write: {e}"),
        }
    }
}

/// Reads until the server closes the connection.
async fn read_to_end(stream: &TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        stream.readable().await.expect("readable");
        match stream.try_read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Decodes a chunked body (hyper may stream large bodies that way).
fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = s.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&s[..eol]).expect("chunk size");
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        let rest = &s[eol + 2..];
        out.extend_from_slice(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// `GET path`.
pub async fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path, &[]).await
}

/// Runs `promtool check metrics`; promtool must be installed (Debian
/// package `prometheus`, which `scripts/test.sh` installs).
pub fn promtool_check(body: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        panic!("`promtool` is not installed: install the Debian package `prometheus` (scripts/test.sh does it)");
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool: {report}"
    );
}
