//! Timing helpers shared by the simulator benchmarks.

use std::time::{Duration, Instant};

/// Mean time of one call of `f` over `n` calls, after a warm-up of `n / 10`.
pub(crate) fn per_iter(n: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..n / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed() / n
}

/// The median of `v`.
pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
