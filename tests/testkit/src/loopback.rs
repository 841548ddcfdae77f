//! Loopback HTTP/1.1 servers for fault tests, on 127.0.0.1 only: a fake
//! that answers every request with canned bytes (HTTP 500, an error
//! envelope, truncated JSON, an HTML page, anything), switchable while it
//! runs, and a proxy in front of a real server that can hold requests past
//! the client's timeout while counting how many it holds at once.
//!
//! Plain `std` threads, so tests need no async I/O features: one thread
//! accepts (polling a stop flag), one thread per connection, every wait
//! bounded. Each connection serves one request and closes.
//!
//! ```ignore
//! let fake = Loopback::start(Behaviour::Reply(response(500, "text/plain", "boom")));
//! fake.set(Behaviour::Forward { to: prom.addr(), delay: Duration::from_secs(5) });
//! fake.url(); fake.requests(); fake.peak_held();
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest any single read or write may block.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server does with a request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Writes these bytes (a whole HTTP response, or anything) and closes.
    Reply(Vec<u8>),
    /// Holds the request for `delay` (or until the client hangs up), then
    /// forwards it to `to` and relays the answer.
    Forward {
        /// Upstream server.
        to: SocketAddr,
        /// Hold time before forwarding.
        delay: Duration,
    },
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    /// Request line and headers.
    pub head: String,
    /// Body.
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

#[derive(Default)]
struct Shared {
    behaviour: Mutex<Option<Behaviour>>,
    requests: Mutex<Vec<Request>>,
    held: AtomicUsize,
    peak_held: AtomicUsize,
    stop: AtomicBool,
}

/// A running loopback server; stopped when dropped.
pub struct Loopback {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Loopback {
    /// Listens on a free 127.0.0.1 port.
    pub fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared::default());
        *shared
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(behaviour);
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            while !s.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let s = s.clone();
                        std::thread::spawn(move || serve(stream, &s));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Loopback {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes what later requests get.
    pub fn set(&self, behaviour: Behaviour) {
        *self
            .shared
            .behaviour
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(behaviour);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Requests being held or forwarded right now.
    pub fn held(&self) -> usize {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// Most requests ever held at once.
    pub fn peak_held(&self) -> usize {
        self.shared.peak_held.load(Ordering::SeqCst)
    }

    /// Starts counting [`Loopback::peak_held`] anew from what is held now.
    pub fn reset_peak(&self) {
        self.shared.peak_held.store(self.held(), Ordering::SeqCst);
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// A whole HTTP/1.1 response with `Content-Length` and `Connection: close`.
pub fn response(status: u16, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(mut stream: TcpStream, s: &Shared) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let Some(req) = read_request(&mut stream) else {
        return;
    };
    let raw = [req.head.as_bytes(), b"\r\n\r\n", &req.body].concat();
    s.requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(req);
    let behaviour = s
        .behaviour
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match behaviour {
        Some(Behaviour::Reply(bytes)) => {
            let _ = stream.write_all(&bytes);
        }
        Some(Behaviour::Forward { to, delay }) => {
            let now = s.held.fetch_add(1, Ordering::SeqCst) + 1;
            s.peak_held.fetch_max(now, Ordering::SeqCst);
            if wait_unless_gone(&stream, delay) {
                forward(&mut stream, &raw, to);
            }
            s.held.fetch_sub(1, Ordering::SeqCst);
        }
        None => {}
    }
}

/// Sleeps up to `delay`; false as soon as the client hangs up.
fn wait_unless_gone(stream: &TcpStream, delay: Duration) -> bool {
    let start = Instant::now();
    let _ = stream.set_nonblocking(true);
    let mut buf = [0u8; 1];
    let alive = loop {
        match stream.peek(&mut buf) {
            Ok(0) => break false,
            Err(e) if e.kind() != ErrorKind::WouldBlock => break false,
            _ => {}
        }
        if start.elapsed() >= delay {
            break true;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = stream.set_nonblocking(false);
    alive
}

fn forward(client: &mut TcpStream, raw: &[u8], to: SocketAddr) {
    let Ok(mut up) = TcpStream::connect_timeout(&to, IO_TIMEOUT) else {
        return;
    };
    let _ = up.set_read_timeout(Some(IO_TIMEOUT));
    // One request per connection: ask upstream to close when done.
    let text = String::from_utf8_lossy(raw);
    let req = text.replacen("\r\n", "\r\nConnection: close\r\n", 1);
    if up.write_all(req.as_bytes()).is_err() {
        return;
    }
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    let _ = client.write_all(&answer);
}

/// Reads the head and a `Content-Length` body.
fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if data.len() > 1 << 20 {
            return None;
        }
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let len = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&buf[..n]);
    }
    // Keep-alive headers would make the relayed answer ambiguous.
    let head = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    Some(Request { head, body })
}
