//! f32 element-wise kernels that run in f32 (the reference functions compute in f64), over
//! slices, compiled for the widest vector ISA the CPU has ([`crate::isa`]). Each states its measured error against the f64
//! reference; the tests hold them to it.
//!
//! - [`erf`]: `x * P(x²) / Q(x²)` on `[-4, 4]` (degrees 12 / 8, a rational least-squares fit
//!   to erf(x)/x), clamped to ±1 beyond: at most [`ERF_MAX_ABS_ERROR`] from erf.
//! - [`gelu`]: `0.5 x (1 + erf(x / √2))` with that erf.

/// Largest absolute error of [`erf`] against erf in f64, measured over `[-6, 6]` by the
/// tests (the fit gives 3.5e-7 in f32 arithmetic).
pub const ERF_MAX_ABS_ERROR: f32 = 5e-7;

/// Numerator of erf(x)/x in z = x²: `P[0] + P[1] z + ... + P[6] z⁶`.
const P: [f32; 7] = [
    1.128_378_9,
    0.207_401_66,
    0.051_548_52,
    0.004_010_728,
    0.000_148_524_53,
    -1.960_724_6e-6,
    1.932_218e-8,
];
/// Denominator of erf(x)/x in z = x², without its constant 1: `1 + Q[0] z + ... + Q[3] z⁴`.
const Q: [f32; 4] = [0.517_134_4, 0.118_077_22, 0.014_981_912, 0.001_028_815_8];

/// erf(x) in f32 (NaN stays NaN).
#[inline(always)]
pub fn erf1(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let z = x * x;
    let mut p = P[6];
    for &c in P[..6].iter().rev() {
        p = p * z + c;
    }
    let mut q = Q[3];
    for &c in Q[..3].iter().rev() {
        q = q * z + c;
    }
    q = q * z + 1.0;
    (x * p / q).clamp(-1.0, 1.0)
}

crate::multiversion!(
    /// erf of every element, in place.
    pub fn erf(v: &mut [f32]) {
        for x in v {
            *x = erf1(*x);
        }
    }
);

crate::multiversion!(
    /// Gelu (the erf form) of every element, in place.
    pub fn gelu(v: &mut [f32]) {
        for x in v {
            *x = 0.5 * *x * (1.0 + erf1(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::unary::erf_f64;

    /// Points spread over [-6, 6] plus the edges and specials.
    fn grid() -> Vec<f32> {
        let mut v: Vec<f32> = (0..240_001).map(|i| -6.0 + i as f32 * 5e-5).collect();
        v.extend([
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            4.0,
            -4.0,
            100.0,
            -100.0,
            f32::MAX,
            f32::MIN,
        ]);
        v
    }

    #[test]
    fn erf_is_within_its_stated_error() {
        let xs = grid();
        let mut y = xs.clone();
        erf(&mut y);
        let mut worst = 0f64;
        for (&x, &y) in xs.iter().zip(&y) {
            let want = erf_f64(x as f64);
            worst = worst.max((y as f64 - want).abs());
            assert!(y.abs() <= 1.0, "erf({x}) = {y}");
        }
        assert!(worst <= ERF_MAX_ABS_ERROR as f64, "max error {worst:e}");
        // the scalar function gives the same values as the dispatched slice kernel
        for (&x, &y) in xs.iter().zip(&y) {
            assert_eq!(erf1(x).to_bits(), y.to_bits(), "erf({x})");
        }
        let mut nan = [f32::NAN];
        erf(&mut nan);
        assert!(nan[0].is_nan());
    }

    #[test]
    fn gelu_is_within_the_erf_error_scaled_by_x() {
        let xs = grid();
        let mut y = xs.clone();
        gelu(&mut y);
        for (&x, &y) in xs.iter().zip(&y) {
            let xd = x as f64;
            let want = 0.5 * xd * (1.0 + erf_f64(xd / std::f64::consts::SQRT_2));
            // the erf error scaled by x/2, plus f32 rounding of the product
            let tol =
                0.5 * xd.abs() * ERF_MAX_ABS_ERROR as f64 + 2.0 * f32::EPSILON as f64 * want.abs();
            assert!(
                (y as f64 - want).abs() <= tol,
                "gelu({x}) = {y}, want {want}"
            );
        }
    }
}
