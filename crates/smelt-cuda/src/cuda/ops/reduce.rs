//! Reductions of the dtypes other than f32 (f32 keeps `nn::reduce` and its block kernels):
//! `reduce_typed_<t>`, one thread per output over x viewed as [outer, r, inner].

use super::{geom, kernel_for};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::i32_of;
use crate::plan::reduce::{self, ReduceAttrs};
use smelt_core::{Error, Result};

pub(super) fn reduce_typed(
    s: &Stream,
    a: &ReduceAttrs,
    x: &GpuTensor,
    axes_in: Option<Vec<i64>>,
) -> Result<GpuTensor> {
    let d = x.dtype();
    if !reduce::takes(a.op, d) {
        return Err(Error::unsupported("cuda", format!("{:?} of {d}", a.op)));
    }
    let axes = a.axes.clone().or(axes_in);
    // noop_with_empty_axes: each output reduces its one element (outer 1, r 1, inner n)
    let p = reduce::plan(
        x.shape(),
        axes.as_deref(),
        a.keepdims,
        a.noop_with_empty_axes,
    )?;
    let y = s.alloc(d, &p.out_shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    if p.r == 0 {
        return Err(Error::unsupported("Reduce", "empty reduced axis"));
    }
    let (xp, yp, code) = (x.ptr(), y.ptr(), a.op as i32);
    let (o, r, i) = (
        i32_of(p.outer, "outer")?,
        i32_of(p.r, "reduced size")?,
        i32_of(p.inner, "inner")?,
    );
    let (g, b) = geom(p.outer * p.inner);
    s.launch(
        kernel_for("reduce_typed", d)?,
        g,
        b,
        args![&xp, &yp, &o, &r, &i, &code],
    )?;
    Ok(y)
}
