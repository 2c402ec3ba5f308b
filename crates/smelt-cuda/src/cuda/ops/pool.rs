//! Launches of pooling: MaxPool / AveragePool (with MaxPool's Indices output) and MaxUnpool.

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::pool::{self, PoolAttrs};
use smelt_core::{DType, Error, Result};
use smelt_ops::nn::spatial::WindowAttrs;

/// y (and, for `n_outputs` 2, MaxPool's i64 Indices) of x [N, C, spatial...].
pub(super) fn pool(
    s: &Stream,
    a: &PoolAttrs,
    x: &GpuTensor,
    n_outputs: usize,
) -> Result<Vec<GpuTensor>> {
    let (p, out) = pool::plan(a, x.shape())?;
    let y = s.alloc(DType::F32, &out)?;
    let idx = if n_outputs > 1 {
        if !a.max {
            return Err(Error::invalid("AveragePool has one output"));
        }
        Some(s.alloc(DType::I64, &out)?)
    } else {
        None
    };
    let (xp, yp, ip) = (x.ptr(), y.ptr(), idx.as_ref().map_or(0u64, |t| t.ptr()));
    let (g, b) = geom(y.len());
    s.launch("pool_f32", g, b, args![&xp, &yp, &ip, &p])?;
    Ok(std::iter::once(y).chain(idx).collect())
}

/// MaxUnpool: x f32, indices i64 on the device, output_shape (input 2) on the host. An
/// index outside the unpooled shape is an error (read back after the launch).
pub(super) fn max_unpool(s: &Stream, w: &WindowAttrs, ins: &Ins) -> Result<GpuTensor> {
    let x = ins.f32(0)?;
    let idx = ins.dev(1)?;
    if idx.dtype() != DType::I64 {
        return Err(Error::dtype(idx.dtype(), "MaxUnpool indices"));
    }
    let os = ins.host_ints(2)?;
    let (p, out) = pool::unpool_plan(w, x.shape(), idx.shape(), os.as_deref())?;
    let y = s.alloc(DType::F32, &out)?;
    let winner = s.alloc(DType::I32, &out)?;
    let bad = s.alloc(DType::I32, &[1])?;
    let (yp, wp, bp, xp, ip) = (y.ptr(), winner.ptr(), bad.ptr(), x.ptr(), idx.ptr());
    let (n_out, zero, none) = (y.len() as i32, 0f32, -1i32);
    let (g, b) = geom(y.len());
    s.launch("pool_fill_f32", g, b, args![&yp, &zero, &n_out])?;
    s.launch("pool_fill_i32", g, b, args![&wp, &none, &n_out])?;
    let (zi, one) = (0i32, 1i32);
    s.launch("pool_fill_i32", 1, 1, args![&bp, &zi, &one])?;
    let (g, b) = geom(x.len());
    s.launch("unpool_claim", g, b, args![&ip, &wp, &bp, &p])?;
    s.launch("unpool_write", g, b, args![&xp, &ip, &wp, &yp, &p])?;
    if s.download(&bad)?.to_i64_vec()?[0] != 0 {
        return Err(Error::invalid(format!(
            "MaxUnpool: an index is out of range for the unpooled shape (of {} elements)",
            p.n_default
        )));
    }
    Ok(y)
}
