//! Transpose, Slice, Expand (strided copies), Concat, Gather and the no-copy views.

use super::{geom, intern, width, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::i32_of;
use crate::plan::layout::{self, CopyPlan};
use crate::plan::op::SliceAttrs;
use smelt_core::{DType, Error, Result, Tensor};

pub(super) fn strided_copy(s: &Stream, x: &GpuTensor, p: &CopyPlan) -> Result<GpuTensor> {
    let y = s.alloc(x.dtype(), &p.out_shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    if let Some(v) = vector_plan(p, x.dtype().size_of(), x.ptr(), y.ptr()) {
        // contiguous runs moved 16 bytes at a time
        let (xp, yp, n, base, st) = (x.ptr(), y.ptr(), v.n as i32, v.base, v.strides);
        let (g, b) = geom(v.n);
        s.launch("strided_copy_128", g, b, args![&xp, &yp, &n, &base, &st])?;
        return Ok(y);
    }
    let kernel = intern(format!("strided_copy_{}", width(x.dtype())?));
    let (xp, yp, n, base, st) = (x.ptr(), y.ptr(), p.n as i32, p.base, p.strides);
    let (g, b) = geom(p.n);
    s.launch(kernel, g, b, args![&xp, &yp, &n, &base, &st])?;
    Ok(y)
}

/// The copy `p` of `w`-byte elements as one of 16-byte elements, when the innermost
/// (merged) dim is contiguous in the source, every count and offset is a multiple of
/// 16 / w elements and both blocks are 16-byte aligned.
fn vector_plan(p: &CopyPlan, w: usize, xp: u64, yp: u64) -> Option<CopyPlan> {
    let st = &p.strides;
    let r = st.rank as usize;
    if w == 0
        || 16 % w != 0
        || w == 16
        || r == 0
        || !xp.is_multiple_of(16)
        || !yp.is_multiple_of(16)
    {
        return None;
    }
    let f = (16 / w) as i32;
    let inner_ok = st.a[r - 1] == 1 && st.dims[r - 1] % f == 0;
    let rest_ok = (0..r - 1).all(|d| st.a[d] % f == 0) && p.base % f == 0;
    if !inner_ok || !rest_ok {
        return None;
    }
    let mut v = p.clone();
    v.strides.dims[r - 1] /= f;
    for d in 0..r - 1 {
        v.strides.a[d] /= f;
    }
    v.base /= f;
    v.n = p.n / f as usize;
    Some(v)
}

pub(super) fn transpose(s: &Stream, x: &GpuTensor, perm: Option<&[i64]>) -> Result<GpuTensor> {
    strided_copy(s, x, &layout::transpose(x.shape(), perm)?)
}

/// Transpose of f32 `x` written as 16-bit `d` (F16 or BF16) values, rounded as
/// `linalg::operand` rounds.
pub(super) fn transpose_16bit(
    s: &Stream,
    x: &GpuTensor,
    perm: Option<&[i64]>,
    d: DType,
) -> Result<GpuTensor> {
    let p = layout::transpose(x.shape(), perm)?;
    let y = s.alloc(d, &p.out_shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    let bf = (d == DType::BF16) as i32;
    // runs of four floats read as one float4 (the plan of 16-byte elements over f32); the
    // output, half as wide, then is 8-byte aligned at every fourth element
    let (kernel, p) = match vector_plan(&p, 4, x.ptr(), y.ptr()) {
        Some(v) => ("strided_copy_to_16bit_x4", v),
        None => ("strided_copy_to_16bit", p),
    };
    let (xp, yp, n, base, st) = (x.ptr(), y.ptr(), p.n as i32, p.base, p.strides);
    let (g, b) = geom(p.n);
    s.launch(kernel, g, b, args![&xp, &yp, &n, &base, &st, &bf])?;
    Ok(y)
}

pub(super) fn concat(s: &Stream, ins: &Ins, axis: i64) -> Result<GpuTensor> {
    let xs: Vec<&GpuTensor> = (0..ins.0.len())
        .map(|i| ins.dev(i))
        .collect::<Result<_>>()?;
    let d = xs
        .first()
        .ok_or_else(|| Error::invalid("Concat of no inputs"))?
        .dtype();
    if let Some(x) = xs.iter().find(|x| x.dtype() != d) {
        return Err(Error::unsupported(
            "Concat",
            format!("inputs of {d} and {}", x.dtype()),
        ));
    }
    let kernel = intern(format!("copy_into_{}", width(d)?));
    let shapes: Vec<&[usize]> = xs.iter().map(|x| x.shape()).collect();
    let p = layout::concat(&shapes, axis)?;
    let y = s.alloc(d, &p.out_shape)?;
    let (yp, outer, out_run) = (y.ptr(), p.outer as i32, p.out_run as i32);
    for (x, &(run, off)) in xs.iter().zip(&p.parts) {
        if run == 0 || p.outer == 0 {
            continue;
        }
        let (xp, run32, off32) = (x.ptr(), run as i32, off as i32);
        let (g, b) = geom(p.outer * run);
        s.launch(
            kernel,
            g,
            b,
            args![&xp, &yp, &outer, &run32, &out_run, &off32],
        )?;
    }
    Ok(y)
}

pub(super) fn slice(s: &Stream, ins: &Ins, attrs: Option<&SliceAttrs>) -> Result<GpuTensor> {
    let x = ins.dev(0)?;
    let p = match attrs {
        Some(a) => layout::slice(x.shape(), &a.starts, &a.ends, a.axes.as_deref(), None)?,
        None => {
            let need = |i: usize, what: &str| {
                ins.host_ints(i)?
                    .ok_or_else(|| Error::invalid(format!("Slice without {what}")))
            };
            let (st, en) = (need(1, "starts")?, need(2, "ends")?);
            let (ax, sp) = (ins.host_ints(3)?, ins.host_ints(4)?);
            layout::slice(x.shape(), &st, &en, ax.as_deref(), sp.as_deref())?
        }
    };
    strided_copy(s, x, &p)
}

pub(super) fn expand(s: &Stream, ins: &Ins) -> Result<GpuTensor> {
    let x = ins.dev(0)?;
    let t = ins
        .host_ints(1)?
        .ok_or_else(|| Error::invalid("Expand without a shape"))?;
    let target: Vec<usize> = t
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| Error::shape(format!("Expand to {t:?}"))))
        .collect::<Result<_>>()?;
    strided_copy(s, x, &layout::expand(x.shape(), &target)?)
}

pub(super) fn tile(s: &Stream, ins: &Ins) -> Result<GpuTensor> {
    let x = ins.dev(0)?;
    let reps = ins
        .host_ints(1)?
        .ok_or_else(|| Error::invalid("Tile without repeats"))?;
    let (p, out) = layout::tile(x.shape(), &reps)?;
    strided_copy(s, x, &p)?.view(out)
}

/// Range's values as i64 (integer dtypes) or f64 (floats), the CPU op's length and
/// arithmetic; the caller casts them to the inputs' dtype. An integer value outside that
/// dtype (the CPU's error) is unsupported here, so the CPU reports it.
pub(super) fn range(s: &Stream, ins: &Ins) -> Result<GpuTensor> {
    let get = |i: usize| -> Result<&Tensor> {
        ins.host(i)?
            .filter(|t| t.len() == 1)
            .ok_or_else(|| Error::invalid("Range takes three scalars"))
    };
    let (a, b, c) = (get(0)?, get(1)?, get(2)?);
    let d = a.dtype();
    const MAX_LEN: f64 = (1u64 << 40) as f64;
    if crate::plan::elementwise::is_int(d) {
        let v = |t: &Tensor| t.to_i64_vec().map(|v| v[0] as i128);
        let (a, b, c) = (v(a)?, v(b)?, v(c)?);
        if c == 0 {
            return Err(Error::invalid("Range delta must not be 0"));
        }
        let n = ((b - a + c - c.signum()) / c).max(0);
        let last = a + (n - 1).max(0) * c;
        let fits = |x: i128| {
            let t = Tensor::from_vec(vec![1], vec![x as i64]).and_then(|t| {
                smelt_ops::math::cast::cast(&t, d, false).and_then(|u| u.to_i64_vec())
            });
            i64::try_from(x).is_ok() && t.is_ok_and(|u| u[0] as i128 == x)
        };
        if (n as f64) >= MAX_LEN || !fits(a) || !fits(last) {
            return Err(Error::unsupported("Range", "values outside the dtype"));
        }
        let y = s.alloc(DType::I64, &[n as usize])?;
        if n > 0 {
            let (yp, nn, a, c) = (
                y.ptr(),
                i32_of(n as usize, "Range length")?,
                a as i64,
                c as i64,
            );
            let (g, bl) = geom(n as usize);
            s.launch("range_i64", g, bl, args![&yp, &nn, &a, &c])?;
        }
        return Ok(y);
    }
    let f = |t: &Tensor| t.to_f64_vec().map(|v| v[0]);
    let (a, b, c) = (f(a)?, f(b)?, f(c)?);
    if c == 0.0 {
        return Err(Error::invalid("Range delta must not be 0"));
    }
    let n = ((b - a) / c).ceil().max(0.0);
    if !n.is_finite() || n >= MAX_LEN {
        return Err(Error::unsupported("Range", format!("length {n}")));
    }
    let n = n as usize;
    let y = s.alloc(DType::F64, &[n])?;
    if n > 0 {
        let (yp, nn) = (y.ptr(), i32_of(n, "Range length")?);
        let (g, bl) = geom(n);
        s.launch("range_f64", g, bl, args![&yp, &nn, &a, &c])?;
    }
    Ok(y)
}

/// GatherElements: indices (host, i32/i64) checked and made non-negative, then uploaded.
pub(super) fn gather_elements(s: &Stream, ins: &Ins, axis: i64) -> Result<GpuTensor> {
    let x = ins.dev(0)?;
    let idx = ins.dev(1)?;
    let idx64 = index_kind(idx, "GatherElements")?;
    let kernel = intern(format!("gather_elements_{}", width(x.dtype())?));
    let (st, axis_stride) = layout::gather_elements(x.shape(), idx.shape(), axis)?;
    let a = crate::plan::axis(axis, x.shape().len(), "GatherElements axis")?;
    let axis_len = i32_of(x.shape()[a], "axis")?;
    let y = s.alloc(x.dtype(), idx.shape())?;
    if y.is_empty() {
        return Ok(y);
    }
    let (xp, ip, yp, n) = (
        x.ptr(),
        idx.ptr(),
        y.ptr(),
        i32_of(y.len(), "element count")?,
    );
    let (ep, code) = s.error_word();
    let (g, b) = geom(y.len());
    s.launch(
        kernel,
        g,
        b,
        args![
            &xp,
            &ip,
            &idx64,
            &yp,
            &n,
            &axis_len,
            &axis_stride,
            &st,
            &ep,
            &code
        ],
    )?;
    Ok(y)
}

/// 1 for i64 indices, 0 for i32; other dtypes are unsupported.
fn index_kind(idx: &GpuTensor, op: &str) -> Result<i32> {
    match idx.dtype() {
        DType::I64 => Ok(1),
        DType::I32 => Ok(0),
        d => Err(Error::unsupported(
            op,
            format!("{d} indices (the kernel takes i64 or i32)"),
        )),
    }
}

/// BitCast to `to` of x's width: a byte copy under the new dtype; to bool, any nonzero
/// byte becomes true (the Cast of the bytes as u8).
pub(super) fn bit_cast(s: &Stream, x: &GpuTensor, to: DType) -> Result<GpuTensor> {
    if to.size_of() != x.dtype().size_of() || !crate::cuda::tensor::device_dtype(to) {
        return Err(Error::unsupported(
            "BitCast",
            format!("{} to {to}", x.dtype()),
        ));
    }
    let y = s.alloc(to, x.shape())?;
    if y.is_empty() {
        return Ok(y);
    }
    let (xp, yp, n) = (x.ptr(), y.ptr(), i32_of(y.len(), "element count")?);
    let (g, b) = geom(y.len());
    if to == DType::Bool {
        let (from_c, to_c, sat) = (5i32, 12i32, 1i32); // u8 -> bool
        s.launch("cast_any", g, b, args![&xp, &yp, &n, &from_c, &to_c, &sat])?;
    } else {
        let kernel = intern(format!("copy_into_{}", width(to)?));
        let (one, zero) = (1i32, 0i32);
        s.launch(kernel, g, b, args![&xp, &yp, &one, &n, &n, &zero])?;
    }
    Ok(y)
}

/// Trilu of x (rank >= 2) with k from input 1 (host scalar, default 0).
pub(super) fn trilu(s: &Stream, ins: &Ins, upper: bool) -> Result<GpuTensor> {
    let x = ins.dev(0)?;
    let k = match ins.host_ints(1)? {
        Some(v) if v.len() == 1 => v[0],
        Some(v) => return Err(Error::invalid(format!("Trilu k of {} values", v.len()))),
        None => 0,
    };
    let r = x.shape().len();
    if r < 2 {
        return Err(Error::invalid("Trilu input must have rank >= 2"));
    }
    let kernel = intern(format!("trilu_{}", width(x.dtype())?));
    let y = s.alloc(x.dtype(), x.shape())?;
    if y.is_empty() {
        return Ok(y);
    }
    let (xp, yp, n) = (x.ptr(), y.ptr(), i32_of(y.len(), "element count")?);
    let (rows, cols, up) = (
        x.shape()[r - 2] as i32,
        x.shape()[r - 1] as i32,
        upper as i32,
    );
    let (g, b) = geom(y.len());
    s.launch(kernel, g, b, args![&xp, &yp, &n, &rows, &cols, &k, &up])?;
    Ok(y)
}

/// ConstantOfShape: `value`'s bits over the shape of input 0 (host).
pub(super) fn constant_of_shape(s: &Stream, ins: &Ins, value: &Tensor) -> Result<GpuTensor> {
    let dims = ins
        .host_ints(0)?
        .ok_or_else(|| Error::invalid("ConstantOfShape without a shape"))?;
    let shape: Vec<usize> = dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| Error::shape(format!("shape {dims:?}"))))
        .collect::<Result<_>>()?;
    let d = value.dtype();
    let kernel = intern(format!("fill_{}", width(d)?));
    let y = s.alloc(d, &shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    let bytes = value.le_bytes()?;
    let mut raw = [0u8; 8];
    raw[..d.size_of()].copy_from_slice(&bytes[..d.size_of()]);
    let bits = u64::from_le_bytes(raw);
    let (yp, n) = (y.ptr(), i32_of(y.len(), "element count")?);
    let (g, b) = geom(y.len());
    s.launch(kernel, g, b, args![&yp, &n, &bits])?;
    Ok(y)
}

pub(super) fn gather(s: &Stream, ins: &Ins, axis: i64) -> Result<GpuTensor> {
    let x = ins.dev(0)?;
    let kernel = intern(format!("gather_{}", width(x.dtype())?));
    let idx = ins.dev(1)?;
    let idx64 = index_kind(idx, "Gather")?;
    let p = layout::gather(x.shape(), idx.shape(), axis)?;
    let y = s.alloc(x.dtype(), &p.out_shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    let (xp, ip, yp) = (x.ptr(), idx.ptr(), y.ptr());
    let (o, a, k, inn) = (
        i32_of(p.outer, "outer size")?,
        i32_of(p.axis_len, "axis")?,
        i32_of(p.nidx, "index count")?,
        i32_of(p.inner, "inner size")?,
    );
    i32_of(y.len(), "element count")?;
    let (ep, code) = s.error_word();
    let (g, b) = geom(y.len());
    s.launch(
        kernel,
        g,
        b,
        args![&xp, &ip, &idx64, &yp, &o, &a, &k, &inn, &ep, &code],
    )?;
    Ok(y)
}

pub(super) fn split(
    s: &Stream,
    ins: &Ins,
    axis: i64,
    attr: Option<Vec<i64>>,
    num_outputs: Option<i64>,
    n_out: usize,
) -> Result<Vec<GpuTensor>> {
    let x = ins.dev(0)?;
    let a = crate::plan::axis(axis, x.shape().len(), "Split axis")?;
    let given = match attr {
        Some(v) => Some(v),
        None => ins.host_ints(1)?,
    };
    let sizes = layout::split_sizes(x.shape()[a], given, num_outputs, n_out)?;
    let mut outs = Vec::with_capacity(sizes.len());
    let mut start = 0i64;
    for sz in sizes {
        let p = layout::slice(
            x.shape(),
            &[start],
            &[start + sz as i64],
            Some(&[a as i64]),
            None,
        )?;
        outs.push(strided_copy(s, x, &p)?);
        start += sz as i64;
    }
    Ok(outs)
}

pub(super) fn pad(
    s: &Stream,
    ins: &Ins,
    mode: smelt_ops::array::pad::Mode,
    attrs: Option<&(Vec<i64>, f32)>,
) -> Result<GpuTensor> {
    let x = ins.dev(0)?;
    let d = x.dtype();
    let kernel = intern(format!("map_gather_{}", width(d)?));
    let (p, fill) = match attrs {
        Some((pads, v)) => (
            layout::pad(x.shape(), pads, None, mode)?,
            Tensor::from_vec(vec![], vec![*v])?,
        ),
        None => {
            let pads = ins
                .host_ints(1)?
                .ok_or_else(|| Error::invalid("Pad without pads"))?;
            let fill = match ins.host(2)? {
                Some(t) if !t.is_empty() => t.clone(),
                _ => Tensor::from_vec(vec![], vec![0f32])?,
            };
            let axes = ins.host_ints(3)?;
            (layout::pad(x.shape(), &pads, axes.as_deref(), mode)?, fill)
        }
    };
    // the fill value's bits in x's dtype, in the low bytes of a u64
    let fill = smelt_ops::math::cast::cast(&fill, d, false)?;
    let bytes = fill.le_bytes()?;
    let mut raw = [0u8; 8];
    raw[..d.size_of()].copy_from_slice(&bytes[..d.size_of()]);
    let fill = u64::from_le_bytes(raw);
    let y = s.alloc(d, &p.out_shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    let table = s.upload(&Tensor::from_vec(vec![p.table.len()], p.table.clone())?)?;
    let (xp, yp, tp, n, st) = (x.ptr(), y.ptr(), table.ptr(), y.len() as i32, p.strides);
    let (g, b) = geom(y.len());
    s.launch(kernel, g, b, args![&xp, &yp, &n, &fill, &tp, &st])?;
    Ok(y)
}
