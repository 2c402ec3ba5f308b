//! LayerNormalization (opset 17) and RMSNormalization (opset 23).
//!
//! Both normalize over the trailing dims `[axis..]` (axis default -1), each "row" of
//! `n = prod(shape[axis..])` elements independently:
//! LayerNorm: `Y = (X - mean) / sqrt(var + epsilon) * Scale + B`, with optional outputs
//! `Mean` and `InvStdDev` (f32, shape `shape[..axis]` followed by 1s).
//! RMSNorm: `Y = X / sqrt(mean(X^2) + epsilon) * Scale`.
//! `Scale` / `B` broadcast to `shape[axis..]`. f16/bf16 compute in f32 (`stash_type` 1);
//! f64 computes in f64.

use super::common::*;
use crate::prelude::*;
use num_traits::{Float, ToPrimitive, Zero};

#[derive(Debug)]
pub struct LayerNorm {
    rms: bool,
    axis: i64,
    eps: f32,
}

pub fn register(r: &mut Registry) {
    r.register("", "LayerNormalization", |c| factory(c, false));
    r.register("", "RMSNormalization", |c| factory(c, true));
}

fn factory(ctx: &OpCtx, rms: bool) -> Result<Box<dyn Op>> {
    let stash = ctx.attrs.int_or("stash_type", 1)?;
    ensure!(
        stash == 1 || stash == 11 || stash == 16 || stash == 10,
        "stash_type {stash} not supported"
    );
    Ok(Box::new(LayerNorm {
        rms,
        axis: ctx.attrs.int_or("axis", -1)?,
        eps: ctx.attrs.float_or("epsilon", 1e-5)?,
    }))
}

/// Elements above which rows are split across threads.
const PAR_MIN: usize = 1 << 15;

/// Normalizes one row `xr` into `yr`; returns (mean, inv_std_dev).
#[inline]
fn one_row<F: Float>(
    xr: &[F],
    yr: &mut [F],
    scale: &[F],
    bias: Option<&[F]>,
    eps: F,
    rms: bool,
) -> (F, F) {
    let nf = F::from(xr.len()).unwrap_or_else(F::one);
    let (m, inv) = if rms {
        (
            F::zero(),
            F::one() / (sum_map(xr, |v| v * v) / nf + eps).sqrt(),
        )
    } else {
        let (m, var) = mean_var(xr);
        (m, F::one() / (var + eps).sqrt())
    };
    match bias {
        Some(b) => {
            for (((o, &v), &s), &b) in yr.iter_mut().zip(xr).zip(scale).zip(b) {
                *o = (v - m) * inv * s + b;
            }
        }
        None => {
            for ((o, &v), &s) in yr.iter_mut().zip(xr).zip(scale) {
                *o = (v - m) * inv * s;
            }
        }
    }
    (m, inv)
}

/// Normalizes rows of `n` elements of `x` into `y` (`scale`/`bias` have `n` elements);
/// returns per-row (mean, inv_std_dev). Large inputs split rows across threads.
pub fn rows<F: Float + Send + Sync>(
    x: &[F],
    y: &mut [F],
    n: usize,
    scale: &[F],
    bias: Option<&[F]>,
    eps: F,
    rms: bool,
) -> Vec<(F, F)> {
    if n == 0 {
        return Vec::new();
    }
    if x.len() >= PAR_MIN && x.len() > n && rayon::current_num_threads() > 1 {
        use rayon::prelude::*;
        return x
            .par_chunks_exact(n)
            .zip(y.par_chunks_exact_mut(n))
            .map(|(xr, yr)| one_row(xr, yr, scale, bias, eps, rms))
            .collect();
    }
    x.chunks_exact(n)
        .zip(y.chunks_exact_mut(n))
        .map(|(xr, yr)| one_row(xr, yr, scale, bias, eps, rms))
        .collect()
}

impl LayerNorm {
    fn run<T: FloatIo>(&self, inputs: &[Option<Tensor>], n_out: usize) -> Result<Vec<Tensor>> {
        let x = req(inputs, 0)?;
        let name = self.op_type();
        ensure!(x.rank() > 0, "{name}: input must have rank >= 1");
        let a = norm_axis(self.axis, x.rank())?;
        let norm_shape = &x.shape()[a..];
        let n = numel(norm_shape);
        let scale: Vec<T::C> = param_bcast(req(inputs, 1)?, norm_shape, "Scale")?;
        let bias: Option<Vec<T::C>> = match (self.rms, opt(inputs, 2)) {
            (false, Some(b)) => Some(param_bcast(b, norm_shape, "B")?),
            _ => None,
        };
        let xs = float_input::<T>(x)?;
        let mut y = vec![<T::C as Zero>::zero(); xs.len()];
        let eps =
            <T::C as num_traits::NumCast>::from(self.eps).unwrap_or_else(<T::C as Zero>::zero);
        let stats = rows(&xs, &mut y, n, &scale, bias.as_deref(), eps, self.rms);
        let mut out = vec![float_output::<T>(x.shape().to_vec(), y)?];
        if !self.rms && n_out > 1 {
            let mut sshape = x.shape()[..a].to_vec();
            sshape.extend(std::iter::repeat_n(1, x.rank() - a));
            let rows_n = numel(&sshape);
            let mut mean: Vec<f32> = stats
                .iter()
                .map(|s| s.0.to_f32().unwrap_or(f32::NAN))
                .collect();
            let mut inv: Vec<f32> = stats
                .iter()
                .map(|s| s.1.to_f32().unwrap_or(f32::NAN))
                .collect();
            // n == 0: every row is empty
            mean.resize(rows_n, f32::NAN);
            inv.resize(rows_n, f32::NAN);
            out.push(Tensor::from_vec(sshape.clone(), mean)?);
            out.push(Tensor::from_vec(sshape, inv)?);
        }
        Ok(out)
    }
}

impl Op for LayerNorm {
    fn op_type(&self) -> &str {
        if self.rms {
            "RMSNormalization"
        } else {
            "LayerNormalization"
        }
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let mut out = vec![x.clone()];
        if ctx.n_outputs > 1 {
            let shape = match &x.shape {
                Some(d) => {
                    let a = norm_axis(self.axis, d.len())?;
                    Some(
                        d.iter()
                            .enumerate()
                            .map(|(i, v)| if i < a { v.clone() } else { Dim::Fixed(1) })
                            .collect(),
                    )
                }
                None => None,
            };
            let vi = ValueInfo {
                dtype: Some(DType::F32),
                shape,
            };
            out.push(vi.clone());
            out.push(vi);
        }
        Ok(out)
    }
    fn eval(&self, ctx: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let what = format!("{} input", self.op_type());
        crate::norm_float!(x.dtype(), what, T => self.run::<T>(&inputs, ctx.n_outputs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn rows_match_naive() {
        for &(n, nrows) in &[(31usize, 3usize), (32, 3), (33, 3), (33, 1100)] {
            let x: Vec<f32> = (0..nrows * n)
                .map(|i| ((i * 29 % 53) as f32) * 0.31 - 4.0)
                .collect();
            let s: Vec<f32> = (0..n).map(|i| 0.5 + i as f32 * 0.01).collect();
            let b: Vec<f32> = (0..n).map(|i| i as f32 * -0.02).collect();
            for rms in [false, true] {
                let mut y = vec![0f32; x.len()];
                rows(
                    &x,
                    &mut y,
                    n,
                    &s,
                    if rms { None } else { Some(&b) },
                    1e-5,
                    rms,
                );
                for r in 0..nrows {
                    let xr: Vec<f64> = x[r * n..(r + 1) * n].iter().map(|&v| v as f64).collect();
                    let m = if rms {
                        0.0
                    } else {
                        xr.iter().sum::<f64>() / n as f64
                    };
                    let var = xr.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64;
                    for i in 0..n {
                        let want = (xr[i] - m) / (var + 1e-5).sqrt() * s[i] as f64
                            + if rms { 0.0 } else { b[i] as f64 };
                        assert!(
                            (y[r * n + i] as f64 - want).abs() < 1e-4,
                            "{} vs {want}",
                            y[r * n + i]
                        );
                    }
                }
            }
        }
    }
}
