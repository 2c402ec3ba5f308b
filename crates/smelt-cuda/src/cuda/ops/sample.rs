//! GridSample (plan in `plan::grid_sample`).

use super::geom;
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::grid_sample::{self, GridSampleAttrs};
use smelt_core::{DType, Result};

pub(super) fn grid_sample(
    s: &Stream,
    a: &GridSampleAttrs,
    x: &GpuTensor,
    grid: &GpuTensor,
) -> Result<GpuTensor> {
    let (p, out) = grid_sample::plan(a, x.shape(), grid.shape())?;
    let y = s.alloc(DType::F32, &out)?;
    let (xp, gp, yp) = (x.ptr(), grid.ptr(), y.ptr());
    let (g, b) = geom(y.len());
    s.launch("grid_sample_f32", g, b, args![&xp, &gp, &yp, &p])?;
    Ok(y)
}
