//! LpPool (1-d and 2-d) through `plan::pool`'s window plan (kernel in lp_pool.cu).

use super::geom;
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::pool::{self, PoolAttrs};
use smelt_core::{DType, Result};

pub(super) fn lp_pool(s: &Stream, a: &PoolAttrs, p: f64, x: &GpuTensor) -> Result<GpuTensor> {
    let (pp, out) = pool::plan(a, x.shape())?;
    let y = s.alloc(DType::F32, &out)?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (g, b) = geom(y.len());
    s.launch("lppool_f32", g, b, args![&xp, &yp, &pp, &p])?;
    Ok(y)
}
