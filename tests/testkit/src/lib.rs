//! What nodewatch's integration tests and benches share, as one dev-only
//! crate instead of a file each binary pulls in with `#[path]`: an item
//! here is compiled once and never "unused" in the binaries that do not
//! call it. Start of issue #12's "one support crate"; the rest of
//! `tests/support/` moves here as the tests are grouped.

/// A port on 127.0.0.1 that was free a moment ago: the OS picks it for a
/// listener that is closed at once. Tests bind it soon after; the OS does
/// not hand the same ephemeral port out again immediately.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}
