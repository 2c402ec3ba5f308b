//! Helpers shared by the normalization ops: float dispatch, parameter vectors, and the
//! `outer x n x inner` view of a tensor around an axis.

use crate::prelude::*;
pub use crate::reduce::kernel::{float_input, float_output, FloatIo};
use num_traits::Float;

/// A small parameter tensor (scale, bias, mean, ...) converted to compute type `C`.
pub fn param<C: Float>(t: &Tensor, what: &str) -> Result<Vec<C>> {
    let v = t
        .to_f64_vec()
        .map_err(|e| Error::invalid(format!("{what}: {e}")))?;
    Ok(v.into_iter()
        .map(|x| C::from(x).unwrap_or_else(C::nan))
        .collect())
}

/// `t` broadcast (numpy rules, right-aligned) to `target`, materialized in row-major order.
pub fn param_bcast<C: Float>(t: &Tensor, target: &[usize], what: &str) -> Result<Vec<C>> {
    let ok = t.rank() <= target.len()
        && t.shape()
            .iter()
            .rev()
            .zip(target.iter().rev())
            .all(|(&a, &b)| a == b || a == 1);
    ensure!(
        ok,
        "{what} of shape {:?} does not broadcast to {:?}",
        t.shape(),
        target
    );
    let v: Vec<C> = param(t, what)?;
    if v.len() == numel(target) {
        return Ok(v);
    }
    let st = broadcast_strides(t.shape(), target);
    let mut out = Vec::with_capacity(numel(target));
    for_each_broadcast(target, &[st], |_, o| out.push(v[o[0]]));
    Ok(out)
}

/// `(outer, n, inner)` with `n = shape[axis]`.
pub fn split3(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

/// Runs `$body` with `$T` bound to the element type of a float dtype (f32/f64/f16/bf16),
/// erroring with `$what` otherwise.
#[macro_export]
macro_rules! norm_float {
    ($dt:expr, $what:expr, $T:ident => $body:expr) => {
        match $dt {
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
            DType::F16 => {
                type $T = f16;
                $body
            }
            DType::BF16 => {
                type $T = bf16;
                $body
            }
            d => return Err(Error::dtype(d, $what)),
        }
    };
}

/// Values in compute type `C` written out as a float tensor of `dtype`.
pub fn floats_as<C: Float>(dtype: DType, shape: Vec<usize>, v: Vec<C>) -> Result<Tensor> {
    let f = |x: C| x.to_f64().unwrap_or(f64::NAN);
    match dtype {
        DType::F32 => Tensor::from_vec(
            shape,
            v.into_iter().map(|x| f(x) as f32).collect::<Vec<f32>>(),
        ),
        DType::F64 => Tensor::from_vec(shape, v.into_iter().map(f).collect::<Vec<f64>>()),
        DType::F16 => Tensor::from_vec(
            shape,
            v.into_iter()
                .map(|x| f16::from_f64(f(x)))
                .collect::<Vec<f16>>(),
        ),
        DType::BF16 => Tensor::from_vec(
            shape,
            v.into_iter()
                .map(|x| bf16::from_f64(f(x)))
                .collect::<Vec<bf16>>(),
        ),
        d => Err(Error::dtype(d, "float output")),
    }
}

/// Sum of `f(x)` over a slice with 8 independent partial sums (vectorizes for f32).
#[inline]
pub fn sum_map<F: Float>(x: &[F], f: impl Fn(F) -> F) -> F {
    let mut lanes = [F::zero(); 8];
    let mut ch = x.chunks_exact(8);
    for c in &mut ch {
        for j in 0..8 {
            lanes[j] = lanes[j] + f(c[j]);
        }
    }
    let mut s = F::zero();
    for &v in ch.remainder() {
        s = s + f(v);
    }
    lanes.iter().fold(s, |a, &b| a + b)
}

/// Population mean and variance of a slice (two passes; 0/0 gives NaN for an empty slice).
#[inline]
pub fn mean_var<F: Float>(x: &[F]) -> (F, F) {
    let n = F::from(x.len()).unwrap_or_else(F::zero);
    let m = sum_map(x, |v| v) / n;
    let var = sum_map(x, |v| (v - m) * (v - m)) / n;
    (m, var)
}

/// A constant in compute type `C`.
#[inline(always)]
pub fn cst<C: Float>(v: f64) -> C {
    C::from(v).unwrap_or_else(C::nan)
}
