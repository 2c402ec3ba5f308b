//! Launches of LRN, ReverseSequence and Det (kernels in misc.cu).

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::i32_of;
use smelt_core::{DType, Error, Result};

/// LRN of x [N, C, ...] (f32).
pub(super) fn lrn(
    s: &Stream,
    x: &GpuTensor,
    alpha: f32,
    beta: f32,
    bias: f32,
    size: usize,
) -> Result<GpuTensor> {
    let sh = x.shape();
    if sh.len() < 2 {
        return Err(Error::shape(format!(
            "LRN: X must be N x C x ..., got shape {sh:?}"
        )));
    }
    i32_of(x.len(), "LRN input size")?;
    let (n, c, sp) = (
        sh[0] as i32,
        sh[1] as i32,
        sh[2..].iter().product::<usize>() as i32,
    );
    let (lo, hi) = (((size - 1) / 2) as i32, (size / 2) as i32);
    let k = (alpha as f64 / size as f64) as f32;
    let y = s.alloc(DType::F32, sh)?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (g, b) = geom(x.len());
    s.launch(
        "lrn_f32",
        g,
        b,
        args![&xp, &yp, &n, &c, &sp, &lo, &hi, &k, &bias, &beta],
    )?;
    Ok(y)
}

/// ReverseSequence of x (any dtype of 1 to 8 bytes) with sequence_lens read on the host.
pub(super) fn reverse_sequence(
    s: &Stream,
    ins: &Ins,
    batch_axis: i64,
    time_axis: i64,
) -> Result<GpuTensor> {
    let x = ins.dev(0)?;
    let lens = ins
        .host_ints(1)?
        .ok_or_else(|| Error::invalid("ReverseSequence without sequence_lens"))?;
    let sh = x.shape();
    if sh.len() < 2 {
        return Err(Error::shape(format!(
            "ReverseSequence input must have rank >= 2, has shape {sh:?}"
        )));
    }
    let ba = smelt_ops::util::norm_axis(batch_axis, sh.len())?;
    let ta = smelt_ops::util::norm_axis(time_axis, sh.len())?;
    if ba > 1 || ta > 1 || ba == ta {
        return Err(Error::invalid(format!(
            "batch_axis {batch_axis} and time_axis {time_axis} must be 0 and 1"
        )));
    }
    let (nb, nt) = (sh[ba], sh[ta]);
    if lens.len() != nb {
        return Err(Error::shape(format!(
            "sequence_lens has {} entries for batch size {nb}",
            lens.len()
        )));
    }
    if let Some(l) = lens.iter().find(|&&l| l < 0 || l as usize > nt) {
        return Err(Error::invalid(format!(
            "sequence length {l} out of range for {nt} time steps"
        )));
    }
    i32_of(x.len(), "ReverseSequence input size")?;
    let y = s.alloc(x.dtype(), sh)?;
    if y.is_empty() {
        return Ok(y);
    }
    let dl = s.upload(&smelt_core::Tensor::from_vec(vec![lens.len()], lens)?)?;
    let (d0, d1) = (sh[0] as i32, sh[1] as i32);
    let inner = sh[2..].iter().product::<usize>() as i32;
    let (bai, es) = (ba as i32, x.dtype().size_of() as i32);
    let (xp, yp, lp) = (x.ptr(), y.ptr(), dl.ptr());
    let (g, b) = geom(x.len());
    s.launch(
        "reverse_sequence",
        g,
        b,
        args![&xp, &yp, &lp, &d0, &d1, &inner, &bai, &es],
    )?;
    Ok(y)
}

/// Det of x [*, M, M] (f32), in double precision as on the CPU.
pub(super) fn det(s: &Stream, x: &GpuTensor) -> Result<GpuTensor> {
    let sh = x.shape();
    let r = sh.len();
    if r < 2 || sh[r - 1] != sh[r - 2] {
        return Err(Error::shape(format!(
            "Det: input must be [*, M, M], got {sh:?}"
        )));
    }
    let n = sh[r - 1];
    let out = sh[..r - 2].to_vec();
    let batch: usize = out.iter().product();
    let y = s.alloc(DType::F32, &out)?;
    if batch == 0 {
        return Ok(y);
    }
    // scratch of batch * n * n doubles (8-byte elements)
    let scratch = s.alloc(DType::I64, &[batch * n * n])?;
    i32_of(batch * n * n, "Det scratch")?;
    let (xp, yp, ap) = (x.ptr(), y.ptr(), scratch.ptr());
    let (bt, ni) = (batch as i32, n as i32);
    let (g, b) = geom(batch);
    s.launch("det_f32", g, b.min(64), args![&xp, &yp, &ap, &bt, &ni])?;
    Ok(y)
}
