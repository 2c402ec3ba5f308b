//! Reductions of the dtypes other than f32 (f32 keeps `nn::reduce` and its block kernels):
//! `reduce_typed_<t>`, one thread per output over x viewed as [outer, r, inner]; and the
//! scans CumSum / CumProd (`scan_<t>`, one thread per line), every dtype incl. f32.

use super::{geom, kernel_for, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::i32_of;
use crate::plan::reduce::{self, ReduceAttrs, ScanAttrs};
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

pub(super) fn scan(s: &Stream, a: &ScanAttrs, ins: &Ins) -> Result<GpuTensor> {
    let x = ins.dev(0)?;
    let d = x.dtype();
    if !a.takes(d) {
        return Err(Error::unsupported("cuda", format!("scan of {d}")));
    }
    let ax = ins
        .host_ints(1)?
        .filter(|v| v.len() == 1)
        .ok_or_else(|| Error::invalid("CumSum/CumProd: axis must be one value"))?;
    let (outer, n, inner) = reduce::scan_dims(x.shape(), ax[0])?;
    let y = s.alloc(d, x.shape())?;
    if y.is_empty() {
        return Ok(y);
    }
    let (xp, yp) = (x.ptr(), y.ptr());
    let (o, nn, i) = (outer as i32, n as i32, inner as i32);
    let (p, e, r) = (a.prod as i32, a.exclusive as i32, a.reverse as i32);
    let (g, b) = geom(outer * inner);
    s.launch(
        kernel_for("scan", d)?,
        g,
        b,
        args![&xp, &yp, &o, &nn, &i, &p, &e, &r],
    )?;
    Ok(y)
}
