//! glibc malloc settings for the long-running agent, set by the code so no
//! user has to know an environment variable (`MALLOC_ARENA_MAX`).
//!
//! Measured in the soak (issue #13): at 1,000 nodes heaptrack saw a peak of
//! 60 MiB of live heap while RSS was 110–133 MiB, 17 MiB of it the binary.
//! The rest was memory glibc kept: each thread that allocates (two tokio
//! workers, blocking-pool threads answering queries, the Prometheus and
//! Kubernetes clients) may get its own arena (up to 8 per core), and an
//! arena keeps freed pages of transient buffers — a 410 relist, a large
//! query answer, a `/metrics` body, a Prometheus response — mapped until
//! its top is free. Two arenas bound how many such pools exist, and a trim
//! after each tick hands freed pages back to the kernel.
//!
//! Elsewhere (musl, macOS) both are no-ops.

/// Most malloc arenas: one for the main heap and one more, so two tokio
/// workers contend a little but freed memory is not spread over up to 16.
const ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`ARENAS`]. Call before the runtime
/// starts its threads (an arena is bound to a thread when it first
/// allocates).
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a malloc parameter and takes no
    // pointers; glibc serialises it with its own lock. `main` calls it
    // before the runtime's threads exist, so every arena is bound by it.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
    }
}

/// Returns freed heap pages to the kernel (glibc's `malloc_trim`, which
/// also releases free pages inside an arena, not only at its top). Cheap
/// next to a tick: it walks the free lists once. Returns whether anything
/// was released.
pub fn release_free() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and takes no pointers.
    unsafe {
        libc::malloc_trim(0) == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_after_freeing_a_large_buffer_keeps_the_heap_usable() {
        limit_arenas();
        // Many mid-sized blocks (below the mmap threshold, so they live in
        // the arena), freed: what a relist leaves.
        let blocks: Vec<Vec<u8>> = (0..2_000).map(|i| vec![i as u8; 64 * 1024]).collect();
        let kept: Vec<u8> = blocks[1_999].clone();
        drop(blocks);
        let released = release_free();
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(
            released,
            "125 MiB freed in the arena: something to give back"
        );
        let _ = released;
        // Memory still works, and what was kept is intact.
        let again: Vec<Vec<u8>> = (0..100).map(|i| vec![i as u8; 64 * 1024]).collect();
        assert_eq!(again[99][65_535], 99);
        assert!(kept.iter().all(|b| *b == 1_999u32 as u8));
    }
}
