//! Error-compensating rounding from calibration data (GPTQ, Frantar et al. 2022) for a weight
//! read as `Y = X · W`, W `[K, N]` (K inputs, N outputs).
//!
//! With the input Gram matrix `H = Σ xᵀx` (`[K, K]`, over calibration rows x), the output
//! error of a weight error `E` is `tr(Eᵀ H E)`. Rows of W are rounded one input at a time;
//! the rounding error of row k, scaled by the inverse Hessian's Cholesky factor, is pushed
//! onto the rows not yet rounded, which then round to compensate it. Quantization
//! parameters (scales, zero points, tables) are fixed beforehand; only the codes change.
//!
//! Dampening: `H += DAMP · mean(diag H) · I`; inputs never active (`H[k][k] = 0`) get
//! `H[k][k] = 1` and round plainly.

use smelt_core::{Error, Result};

/// Relative dampening of the Hessian's diagonal.
pub const DAMP: f64 = 0.01;

/// In-place lower Cholesky factor of the `n x n` matrix `a` (row-major); the upper
/// triangle is zeroed.
fn cholesky(a: &mut [f64], n: usize) -> Result<()> {
    for j in 0..n {
        let d = a[j * n + j] - a[j * n..j * n + j].iter().map(|x| x * x).sum::<f64>();
        if d <= 0.0 || !d.is_finite() {
            return Err(Error::invalid(format!(
                "calibration Hessian is not positive definite at input {j}"
            )));
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        let rj: Vec<f64> = a[j * n..j * n + j].to_vec();
        for i in j + 1..n {
            let ri = &mut a[i * n..i * n + n];
            let s: f64 = ri[..j].iter().zip(&rj).map(|(x, y)| x * y).sum();
            ri[j] = (ri[j] - s) / d;
        }
        a[j * n + j + 1..j * n + n].fill(0.0);
    }
    Ok(())
}

/// The upper-triangular `U` with `H⁻¹ = Uᵀ U` (row-major `n x n`), without forming `H⁻¹`:
/// with J the reversal permutation and `J H J = L Lᵀ`, `H = R Rᵀ` for the upper `R = J L J`,
/// so `H⁻¹ = R⁻ᵀ R⁻¹` and `U = R⁻¹ = J L⁻¹ J`. One Cholesky and one triangular inverse,
/// both by contiguous row operations.
fn upper_factor_of_inverse(h: &[f64], n: usize) -> Result<Vec<f64>> {
    let mut a: Vec<f64> = (0..n * n)
        .map(|p| h[(n - 1 - p / n) * n + (n - 1 - p % n)])
        .collect();
    cholesky(&mut a, n)?;
    // X = L⁻¹ (lower): X[i, :] = (e_i - Σ_{k<i} L[i][k] X[k, :]) / L[i][i]
    let mut x = vec![0.0f64; n * n];
    for i in 0..n {
        let (done, rest) = x.split_at_mut(i * n);
        let row = &mut rest[..n];
        row[i] = 1.0;
        for k in 0..i {
            let f = a[i * n + k];
            if f != 0.0 {
                for (r, &v) in row[..=k].iter_mut().zip(&done[k * n..k * n + k + 1]) {
                    *r -= f * v;
                }
            }
        }
        let d = a[i * n + i];
        for r in &mut row[..=i] {
            *r /= d;
        }
    }
    Ok((0..n * n)
        .map(|p| x[(n - 1 - p / n) * n + (n - 1 - p % n)])
        .collect())
}

/// Rounds `w` (`[K, N]` row-major, consumed as a working copy) with error compensation
/// under Gram matrix `h` (`[K, K]`). `quant(k, n, v)` rounds value `v` of element (k, n),
/// records its code, and returns the dequantized value.
pub fn gptq(
    mut w: Vec<f32>,
    k: usize,
    n: usize,
    mut h: Vec<f64>,
    mut quant: impl FnMut(usize, usize, f32) -> f32,
) -> Result<()> {
    if h.len() != k * k || w.len() != k * n {
        return Err(Error::invalid(format!(
            "calibration Hessian {} / weight {} do not fit [{k}, {n}]",
            h.len(),
            w.len()
        )));
    }
    let mean = (0..k).map(|i| h[i * k + i]).sum::<f64>() / k.max(1) as f64;
    let damp = DAMP * if mean > 0.0 { mean } else { 1.0 };
    for i in 0..k {
        if h[i * k + i] <= 0.0 {
            h[i * k + i] = 1.0;
        }
        h[i * k + i] += damp;
    }
    let uf = upper_factor_of_inverse(&h, k)?;
    let u = |r: usize, c: usize| uf[r * k + c];
    let mut err = vec![0.0f32; n];
    for r in 0..k {
        let d = u(r, r) as f32;
        let (done, rest) = w.split_at_mut((r + 1) * n);
        let row = &done[r * n..];
        for (c, (e, &v)) in err.iter_mut().zip(row).enumerate() {
            *e = (v - quant(r, c, v)) / d;
        }
        for j in r + 1..k {
            let f = u(r, j) as f32;
            if f == 0.0 {
                continue;
            }
            for (x, &e) in rest[(j - r - 1) * n..(j - r) * n].iter_mut().zip(&err) {
                *x -= f * e;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_factor_of_the_inverse_is_upper_and_factors_it() {
        let n = 6;
        let h: Vec<f64> = (0..n * n)
            .map(|p| {
                let (i, j) = (p / n, p % n);
                1.0 / (1.0 + (i as f64 - j as f64).abs()) + if i == j { 2.0 } else { 0.0 }
            })
            .collect();
        let u = upper_factor_of_inverse(&h, n).unwrap();
        for i in 0..n {
            for j in 0..i {
                assert_eq!(u[i * n + j], 0.0, "U is upper triangular");
            }
        }
        // H · (Uᵀ U) = I
        for i in 0..n {
            for j in 0..n {
                let s: f64 = (0..n)
                    .map(|k| {
                        h[i * n + k] * (0..n).map(|m| u[m * n + k] * u[m * n + j]).sum::<f64>()
                    })
                    .sum();
                assert!(
                    (s - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10,
                    "({i},{j}) {s}"
                );
            }
        }
    }

    #[test]
    fn compensated_rounding_lowers_the_output_error() {
        // correlated inputs: x_k = z + small noise, so errors can cancel across rows
        let (k, n, m) = (16, 4, 400);
        let mut s = 7u64;
        let mut rnd = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f64 / (1u64 << 24) as f64) - 0.5
        };
        let x: Vec<f64> = (0..m)
            .flat_map(|_| {
                let z = rnd();
                (0..k).map(|_| z + 0.1 * rnd()).collect::<Vec<_>>()
            })
            .collect();
        let mut h = vec![0.0f64; k * k];
        for r in 0..m {
            for i in 0..k {
                for j in 0..k {
                    h[i * k + j] += x[r * k + i] * x[r * k + j];
                }
            }
        }
        let w: Vec<f32> = (0..k * n).map(|_| rnd() as f32).collect();
        let step = 0.25f32;
        let plain: Vec<f32> = w.iter().map(|v| (v / step).round() * step).collect();
        let mut comp = vec![0.0f32; k * n];
        gptq(w.clone(), k, n, h.clone(), |r, c, v| {
            let q = (v / step).round() * step;
            comp[r * n + c] = q;
            q
        })
        .unwrap();
        let out_err = |q: &[f32]| -> f64 {
            let mut e = 0.0;
            for r in 0..m {
                for c in 0..n {
                    let d: f64 = (0..k)
                        .map(|i| x[r * k + i] * (w[i * n + c] - q[i * n + c]) as f64)
                        .sum();
                    e += d * d;
                }
            }
            e
        };
        assert!(
            out_err(&comp) < 0.5 * out_err(&plain),
            "{} vs {}",
            out_err(&comp),
            out_err(&plain)
        );
    }
}
