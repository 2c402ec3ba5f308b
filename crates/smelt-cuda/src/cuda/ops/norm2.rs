//! RMSNormalization (plan in `plan::norm2`).

use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::{norm2, BLOCK};
use smelt_core::{DType, Result};

pub(super) fn rms_norm(
    s: &Stream,
    x: &GpuTensor,
    scale: &GpuTensor,
    axis: i64,
    eps: f32,
) -> Result<GpuTensor> {
    let (r, sp) = norm2::rms_norm(x.shape(), axis, scale.shape())?;
    let y = s.alloc(DType::F32, x.shape())?;
    let (xp, scp, yp) = (x.ptr(), scale.ptr(), y.ptr());
    let (rows, n) = (r.rows as i32, r.n as i32);
    s.launch(
        "rmsnorm_rows_f32",
        r.rows as u32,
        BLOCK,
        args![&xp, &scp, &yp, &rows, &n, &eps, &sp],
    )?;
    Ok(y)
}
