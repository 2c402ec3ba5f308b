//! Col2Im (`plan::col2im`, kernel in col2im.cu).

use super::geom;
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::col2im::{self, Col2ImAttrs};
use smelt_core::{DType, Result};

/// Col2Im: image_shape and block_shape (inputs 1, 2) read on the host.
pub(super) fn col2im(s: &Stream, a: &Col2ImAttrs, ins: &super::Ins) -> Result<GpuTensor> {
    let x = ins.f32(0)?;
    let shape = |i: usize| {
        ins.host_ints(i)?
            .ok_or_else(|| smelt_core::Error::invalid(format!("Col2Im: input {i} missing")))
    };
    let (p, out) = col2im::plan(a, x.shape(), &shape(1)?, &shape(2)?)?;
    let y = s.alloc(DType::F32, &out)?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (g, b) = geom(y.len());
    s.launch("col2im_f32", g, b, args![&xp, &yp, &p])?;
    Ok(y)
}
