//! Test data shared by the kernels' tests: deterministic pseudo-random values (xorshift64),
//! never all zeros.

/// `n` values in [0, 1) from `seed`.
pub fn uniform(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// `n` values in [-1, 1) from `seed`.
pub fn signed(n: usize, seed: u64) -> Vec<f32> {
    uniform(n, seed)
        .into_iter()
        .map(|v| 2.0 * v - 1.0)
        .collect()
}
