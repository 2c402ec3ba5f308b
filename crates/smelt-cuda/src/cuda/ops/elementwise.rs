//! Unary, Clip, binary with broadcasting, comparisons, Where, Cast, IsNaN/IsInf and the
//! variadic Sum/Mean/Max/Min, over every dtype the plan's contract allows
//! ([`GpuOp::dtype_error`](crate::plan::GpuOp::dtype_error)): the kernel is picked by the
//! input's dtype (`binary_i64`, `unary_f16`, ...); f32 keeps its own kernels.

use super::{geom, kernel_for, width, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::elementwise::{broadcast, cast_code, is_int, BinaryOp, CompareOp, UnaryOp};
use crate::plan::{broadcast_shape, broadcast_strides, i32_of, pack_strides};
use smelt_core::{DType, Error, Result, Tensor};

pub(super) fn unary(s: &Stream, x: &GpuTensor, op: UnaryOp, p: f32, q: f32) -> Result<GpuTensor> {
    let d = x.dtype();
    if !op.takes(d) {
        return Err(Error::unsupported("cuda", format!("{op:?} of {d}")));
    }
    let kernel = match d {
        DType::F32 if op.in_f32_table() => "unary_f32",
        DType::F32 => "unary_t_f32",
        _ => kernel_for("unary", d)?,
    };
    let y = s.alloc(d, x.shape())?;
    if y.is_empty() {
        return Ok(y);
    }
    let n = i32_of(x.len(), "element count")?;
    let (xp, yp, code) = (x.ptr(), y.ptr(), op as i32);
    let (g, b) = geom(x.len());
    s.launch(kernel, g, b, args![&xp, &yp, &n, &code, &p, &q])?;
    Ok(y)
}

/// Clip: f32 through the unary kernel; other dtypes as Max with the lower bound then Min
/// with the upper one (NaN stays NaN, as on the CPU). Bounds: the attributes (opset < 11,
/// floats) or inputs 1 and 2 of x's dtype, one element each, read on the host.
pub(super) fn clip(
    s: &Stream,
    ins: &Ins,
    min: Option<f32>,
    max: Option<f32>,
    from_inputs: bool,
) -> Result<GpuTensor> {
    let x = ins.dev(0)?;
    let d = x.dtype();
    let bound = |i: usize, attr: Option<f32>| -> Result<Option<Tensor>> {
        if !from_inputs {
            return attr
                .map(|v| smelt_ops::math::cast::cast(&Tensor::scalar(v), d, false))
                .transpose();
        }
        match ins.host(i)? {
            None => Ok(None),
            Some(t) if t.len() == 1 && t.dtype() == d => Ok(Some(t.clone())),
            Some(t) => Err(Error::unsupported(
                "Clip",
                format!("bound {} {:?} for {d}", t.dtype(), t.shape()),
            )),
        }
    };
    let (lo, hi) = (bound(1, min)?, bound(2, max)?);
    if d == DType::F32 {
        let f = |t: &Option<Tensor>, def: f32| -> Result<f32> {
            Ok(match t {
                Some(t) => t.as_slice::<f32>()?[0],
                None => def,
            })
        };
        let (l, h) = (f(&lo, f32::NEG_INFINITY)?, f(&hi, f32::INFINITY)?);
        return unary(s, x, UnaryOp::Clip, l, h);
    }
    let mut y = x.clone();
    for (b, op) in [(lo, BinaryOp::Max), (hi, BinaryOp::Min)] {
        if let Some(b) = b {
            let b = s.upload(&b.reshape(vec![])?)?;
            y = binary(s, &y, &b, op)?;
        }
    }
    Ok(y)
}

/// A device i32 [1] holding 0: the divisor-zero flag of integer Div / Mod.
fn zero_flag(s: &Stream) -> Result<GpuTensor> {
    s.upload(&Tensor::from_vec(vec![1], vec![0i32])?)
}

pub(super) fn binary(s: &Stream, a: &GpuTensor, b: &GpuTensor, op: BinaryOp) -> Result<GpuTensor> {
    let (da, db) = (a.dtype(), b.dtype());
    if !op.takes(da, db) {
        return Err(Error::unsupported(
            "cuda",
            format!("{op:?} of {da} and {db}"),
        ));
    }
    if da != db {
        // Pow of mixed dtypes, as the CPU: integers through i64 (exact, wrapping), anything
        // else through f64, then to the base's dtype
        let via = if is_int(da) && is_int(db) {
            DType::I64
        } else {
            DType::F64
        };
        let r = binary(s, &cast(s, a, via)?, &cast(s, b, via)?, op)?;
        return cast(s, &r, da);
    }
    let plan = broadcast(&[a.shape(), b.shape()])?;
    let y = s.alloc(da, &plan.out_shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    let n = plan.n as i32;
    let (ap, bp, yp, code) = (a.ptr(), b.ptr(), y.ptr(), op as i32);
    let (g, bl) = geom(plan.n);
    if da == DType::F32 && op.in_f32_table() {
        match plan.strides {
            None => s.launch("binary_same_f32", g, bl, args![&ap, &bp, &yp, &n, &code])?,
            Some(st) => s.launch("binary_f32", g, bl, args![&ap, &bp, &yp, &n, &code, &st])?,
        }
        return Ok(y);
    }
    let flag = if op.checks_divisor(da) {
        Some(zero_flag(s)?)
    } else {
        None
    };
    let fp = flag.as_ref().map_or(0u64, |f| f.ptr());
    let (same, strided) = if da == DType::F32 {
        ("binary_same_t_f32", "binary_t_f32")
    } else {
        (kernel_for("binary_same", da)?, kernel_for("binary", da)?)
    };
    match plan.strides {
        None => s.launch(same, g, bl, args![&ap, &bp, &yp, &n, &code, &fp])?,
        Some(st) => s.launch(strided, g, bl, args![&ap, &bp, &yp, &n, &code, &fp, &st])?,
    }
    if let Some(f) = flag {
        if s.download(&f)?.as_slice::<i32>()?[0] != 0 {
            // the CPU op reports the zero divisor
            return Err(Error::unsupported("cuda", "integer division by zero"));
        }
    }
    Ok(y)
}

pub(super) fn compare(
    s: &Stream,
    a: &GpuTensor,
    b: &GpuTensor,
    op: CompareOp,
) -> Result<GpuTensor> {
    let d = a.dtype();
    if b.dtype() != d {
        return Err(Error::unsupported(
            "cuda",
            format!("{op:?} of {d} and {}", b.dtype()),
        ));
    }
    let plan = broadcast(&[a.shape(), b.shape()])?;
    let y = s.alloc(DType::Bool, &plan.out_shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    let n = plan.n as i32;
    let st = match plan.strides {
        Some(st) => st,
        None => {
            let d = crate::plan::dense_strides(&plan.out_shape);
            pack_strides(&plan.out_shape, &[&d, &d])?
        }
    };
    let (ap, bp, yp, code) = (a.ptr(), b.ptr(), y.ptr(), op as i32);
    let (g, bl) = geom(plan.n);
    s.launch(
        kernel_for("compare", d)?,
        g,
        bl,
        args![&ap, &bp, &yp, &n, &code, &st],
    )?;
    Ok(y)
}

pub(super) fn where_(s: &Stream, ins: &Ins) -> Result<GpuTensor> {
    let c = ins.dev(0)?;
    if c.dtype() != DType::Bool {
        return Err(Error::unsupported(
            "Where",
            format!("condition is {}", c.dtype()),
        ));
    }
    let (x, z) = (ins.dev(1)?, ins.dev(2)?);
    if x.dtype() != z.dtype() {
        return Err(Error::unsupported(
            "Where",
            format!("values of {} and {}", x.dtype(), z.dtype()),
        ));
    }
    let out = broadcast_shape(&[c.shape(), x.shape(), z.shape()])?;
    let y = s.alloc(x.dtype(), &out)?;
    if y.is_empty() {
        return Ok(y);
    }
    let st = pack_strides(
        &out,
        &[
            &broadcast_strides(c.shape(), &out),
            &broadcast_strides(x.shape(), &out),
            &broadcast_strides(z.shape(), &out),
        ],
    )?;
    let n = i32_of(y.len(), "element count")?;
    let (cp, xp, zp, yp) = (c.ptr(), x.ptr(), z.ptr(), y.ptr());
    let (g, b) = geom(y.len());
    let kernel = super::intern(format!("where_{}", width(x.dtype())?));
    s.launch(kernel, g, b, args![&cp, &xp, &zp, &yp, &n, &st])?;
    Ok(y)
}

/// Cast between any two device dtypes (numeric, bool, low-bit), as the CPU's Cast with
/// `saturate` = 1 (the default).
pub(super) fn cast(s: &Stream, x: &GpuTensor, to: DType) -> Result<GpuTensor> {
    cast_sat(s, x, to, true)
}

/// Cast with `saturate` (float8 targets: overflow to the largest finite value, else to
/// infinity or NaN as the format has them).
pub(super) fn cast_sat(s: &Stream, x: &GpuTensor, to: DType, saturate: bool) -> Result<GpuTensor> {
    if x.dtype() == to {
        return Ok(x.clone());
    }
    let (Some(from_c), Some(to_c)) = (cast_code(x.dtype()), cast_code(to)) else {
        return Err(Error::unsupported(
            "Cast",
            format!("{} to {to} on the GPU", x.dtype()),
        ));
    };
    let y = s.alloc(to, x.shape())?;
    if y.is_empty() {
        return Ok(y);
    }
    let n = i32_of(x.len(), "element count")?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (g, b) = geom(x.len());
    let sat = saturate as i32;
    s.launch("cast_any", g, b, args![&xp, &yp, &n, &from_c, &to_c, &sat])?;
    Ok(y)
}

/// IsNaN / IsInf: `mode` bits 1 NaN, 2 +inf, 4 -inf; float input, bool output.
pub(super) fn is_class(s: &Stream, x: &GpuTensor, mode: i32) -> Result<GpuTensor> {
    let d = x.dtype();
    if !crate::plan::elementwise::is_float(d) {
        return Err(Error::unsupported("cuda", format!("IsNaN/IsInf of {d}")));
    }
    let y = s.alloc(DType::Bool, x.shape())?;
    if y.is_empty() {
        return Ok(y);
    }
    let n = i32_of(x.len(), "element count")?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (g, b) = geom(x.len());
    s.launch(kernel_for("isclass", d)?, g, b, args![&xp, &yp, &n, &mode])?;
    Ok(y)
}

/// Sum / Mean / Max / Min: `op` folded over the inputs left to right (broadcasting), Mean
/// then divides by the count in the inputs' dtype (integers truncate), as the CPU.
pub(super) fn variadic(s: &Stream, ins: &Ins, op: BinaryOp, mean: bool) -> Result<GpuTensor> {
    let mut acc = ins.dev(0)?.clone();
    for i in 1..ins.0.len() {
        acc = binary(s, &acc, ins.dev(i)?, op)?;
    }
    let k = ins.0.len();
    if mean && k > 1 {
        let c = s.upload(&Tensor::from_vec(vec![], vec![k as f64])?)?;
        let c = cast(s, &c, acc.dtype())?;
        acc = binary(s, &acc, &c, BinaryOp::Div)?;
    }
    Ok(acc)
}
