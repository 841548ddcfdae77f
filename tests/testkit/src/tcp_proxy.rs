//! A byte-for-byte TCP proxy on 127.0.0.1 in front of a real server (TLS
//! passes through untouched), for fault tests: [`TcpProxy::cut`] closes
//! every open connection at once, as a broken network path would, and
//! [`TcpProxy::set_down`] refuses new connections (accepted and closed at
//! once) until set up again, as an unreachable server would, and
//! [`TcpProxy::set_delay`] holds every chunk of bytes, each way, as a slow
//! or distant server would.
//!
//! Plain `std` threads: one accepting (polling a stop flag), two per
//! connection copying each way until either side closes. Dropping the
//! proxy stops accepting and closes every connection, which ends them all.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Default)]
struct State {
    stop: AtomicBool,
    down: AtomicBool,
    /// Milliseconds each chunk is held before it is passed on.
    delay_ms: AtomicU64,
    /// Both ends of every open connection, to cut them.
    open: Mutex<Vec<TcpStream>>,
}

/// A running proxy.
pub struct TcpProxy {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl TcpProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `to`.
    pub fn start(to: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("proxy addr");
        let state = Arc::new(State::default());
        let st = state.clone();
        let accept = std::thread::spawn(move || {
            while !st.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        if st.down.load(Ordering::SeqCst) {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        }
                        connect(&st, client, to);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        TcpProxy {
            addr,
            state,
            accept: Some(accept),
        }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every open connection (both sides).
    pub fn cut(&self) {
        let open = std::mem::take(&mut *lock(&self.state.open));
        for s in open {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Holds every chunk `delay` before passing it on (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Refuses new connections (`true`) or accepts them again (`false`).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
        if down {
            self.cut();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Connects `client` to `to` and copies both ways until either side ends.
fn connect(st: &Arc<State>, client: TcpStream, to: SocketAddr) {
    let Ok(server) = TcpStream::connect_timeout(&to, Duration::from_secs(5)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nonblocking(false);
    let pairs = [
        (client.try_clone(), server.try_clone()),
        (server.try_clone(), client.try_clone()),
    ];
    {
        let mut open = lock(&st.open);
        open.extend(client.try_clone());
        open.extend(server.try_clone());
        // Closed connections are dropped from the list now and then.
        if open.len() > 256 {
            open.retain(|s| s.peer_addr().is_ok());
        }
    }
    for pair in pairs {
        if let (Ok(mut from), Ok(mut into)) = pair {
            let st = st.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let delay = st.delay_ms.load(Ordering::SeqCst);
                            if delay > 0 {
                                std::thread::sleep(Duration::from_millis(delay));
                            }
                            if into.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = into.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
            });
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.cut();
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}
