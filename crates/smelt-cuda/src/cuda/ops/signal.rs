//! DFT and the window generators (plans in `plan::signal`), and Einsum (`plan::einsum`).

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::einsum;
use crate::plan::signal::{self, DftAttrs, WindowAttrs};
use smelt_core::{DType, Error, Result};

/// One host scalar input (None when absent).
fn scalar(ins: &Ins, i: usize, what: &str) -> Result<Option<i64>> {
    match ins.host_ints(i)? {
        None => Ok(None),
        Some(v) if v.len() == 1 => Ok(Some(v[0])),
        Some(v) => Err(Error::invalid(format!(
            "{what} must be a scalar, got {} values",
            v.len()
        ))),
    }
}

pub(super) fn dft(s: &Stream, a: &DftAttrs, ins: &Ins) -> Result<GpuTensor> {
    let x = ins.f32(0)?;
    let (p, out) = signal::dft(
        a,
        x.shape(),
        scalar(ins, 1, "DFT dft_length")?,
        scalar(ins, 2, "DFT axis")?,
    )?;
    let y = s.alloc(DType::F32, &out)?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let n = p.n as usize;
    if n > 1 && n.is_power_of_two() {
        // the CPU's radix-2 FFT, one thread per row, in a scratch of 2 n doubles a row
        let rows = (p.outer * p.inner) as usize;
        let scratch = s.alloc(DType::I64, &[rows * 2 * n])?;
        crate::plan::i32_of(rows * 2 * n, "DFT scratch")?;
        let sp = scratch.ptr();
        let (g, b) = geom(rows);
        s.launch("dft_pow2_f32", g, b.min(64), args![&xp, &yp, &sp, &p])?;
    } else {
        let (g, b) = geom(y.len());
        s.launch("dft_f32", g, b, args![&xp, &yp, &p])?;
    }
    Ok(y)
}

pub(super) fn window(s: &Stream, a: &WindowAttrs, ins: &Ins) -> Result<GpuTensor> {
    let n = scalar(ins, 0, "window size")?.ok_or_else(|| Error::invalid("window size missing"))?;
    if n < 0 {
        return Err(Error::invalid(format!("window size must be >= 0, got {n}")));
    }
    let n = n as usize;
    if n == 1 && !a.periodic {
        // the CPU op's one-sample symmetric window is [1]
        return s.upload(&smelt_core::Tensor::from_vec(vec![1], vec![1.0f32])?);
    }
    let y = s.alloc(DType::F32, &[n])?;
    let d = if a.periodic { n as f64 } else { n as f64 - 1.0 };
    let (yp, nn, k) = (y.ptr(), crate::plan::i32_of(n, "window size")?, a.kind);
    let (g, b) = geom(n);
    s.launch("window_f32", g, b, args![&yp, &nn, &k, &d])?;
    Ok(y)
}

pub(super) fn einsum(s: &Stream, equation: &str, ins: &Ins) -> Result<GpuTensor> {
    let n = ins.0.len();
    let mut xs = Vec::with_capacity(n);
    for i in 0..n {
        xs.push(ins.f32(i)?);
    }
    let shapes: Vec<&[usize]> = xs.iter().map(|x| x.shape()).collect();
    let (p, out) = einsum::plan(equation, &shapes)?;
    let y = s.alloc(DType::F32, &out)?;
    let ptr = |i: usize| xs.get(i).map_or(0u64, |x| x.ptr());
    let (p0, p1, p2, p3, yp) = (ptr(0), ptr(1), ptr(2), ptr(3), y.ptr());
    let (g, b) = geom(y.len());
    s.launch("einsum_f32", g, b, args![&p0, &p1, &p2, &p3, &yp, &p])?;
    Ok(y)
}
