//! Unary, Clip, binary with broadcasting, Where and Cast.

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::elementwise::{broadcast, BinaryOp, CompareOp, UnaryOp};
use crate::plan::{broadcast_shape, broadcast_strides, i32_of, pack_strides};
use smelt_core::{DType, Error, Result};

pub(super) fn unary(s: &Stream, x: &GpuTensor, op: UnaryOp, p: f32, q: f32) -> Result<GpuTensor> {
    let y = s.alloc(DType::F32, x.shape())?;
    let n = i32_of(x.len(), "element count")?;
    let (xp, yp, code) = (x.ptr(), y.ptr(), op as i32);
    let (g, b) = geom(x.len());
    s.launch("unary_f32", g, b, args![&xp, &yp, &n, &code, &p, &q])?;
    Ok(y)
}

pub(super) fn clip(
    s: &Stream,
    ins: &Ins,
    min: Option<f32>,
    max: Option<f32>,
    from_inputs: bool,
) -> Result<GpuTensor> {
    let bound = |i: usize, attr: Option<f32>, def: f32| -> Result<f32> {
        if !from_inputs {
            return Ok(attr.unwrap_or(def));
        }
        match ins.host(i)? {
            None => Ok(def),
            Some(t) if t.len() == 1 && t.dtype() == DType::F32 => Ok(t.as_slice::<f32>()?[0]),
            Some(t) => Err(Error::unsupported(
                "Clip",
                format!("bound {} {:?}", t.dtype(), t.shape()),
            )),
        }
    };
    let lo = bound(1, min, f32::NEG_INFINITY)?;
    let hi = bound(2, max, f32::INFINITY)?;
    unary(s, ins.f32(0)?, UnaryOp::Clip, lo, hi)
}

pub(super) fn binary(s: &Stream, a: &GpuTensor, b: &GpuTensor, op: BinaryOp) -> Result<GpuTensor> {
    let plan = broadcast(&[a.shape(), b.shape()])?;
    let y = s.alloc(DType::F32, &plan.out_shape)?;
    let n = plan.n as i32;
    let (ap, bp, yp, code) = (a.ptr(), b.ptr(), y.ptr(), op as i32);
    let (g, bl) = geom(plan.n);
    match plan.strides {
        None => s.launch("binary_same_f32", g, bl, args![&ap, &bp, &yp, &n, &code])?,
        Some(st) => s.launch("binary_f32", g, bl, args![&ap, &bp, &yp, &n, &code, &st])?,
    }
    Ok(y)
}

pub(super) fn compare(
    s: &Stream,
    a: &GpuTensor,
    b: &GpuTensor,
    op: CompareOp,
) -> Result<GpuTensor> {
    let plan = broadcast(&[a.shape(), b.shape()])?;
    let y = s.alloc(DType::Bool, &plan.out_shape)?;
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
    s.launch("compare_f32", g, bl, args![&ap, &bp, &yp, &n, &code, &st])?;
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
    let (x, z) = (ins.f32(1)?, ins.f32(2)?);
    let out = broadcast_shape(&[c.shape(), x.shape(), z.shape()])?;
    let st = pack_strides(
        &out,
        &[
            &broadcast_strides(c.shape(), &out),
            &broadcast_strides(x.shape(), &out),
            &broadcast_strides(z.shape(), &out),
        ],
    )?;
    let y = s.alloc(DType::F32, &out)?;
    let n = i32_of(y.len(), "element count")?;
    let (cp, xp, zp, yp) = (c.ptr(), x.ptr(), z.ptr(), y.ptr());
    let (g, b) = geom(y.len());
    s.launch("where_f32", g, b, args![&cp, &xp, &zp, &yp, &n, &st])?;
    Ok(y)
}

pub(super) fn cast(s: &Stream, x: &GpuTensor, to: DType) -> Result<GpuTensor> {
    if x.dtype() == to {
        return Ok(x.clone());
    }
    let kernel = match (x.dtype(), to) {
        (DType::I64, DType::F32) => "cast_i64_f32",
        (DType::I32, DType::F32) => "cast_i32_f32",
        (DType::Bool | DType::U8, DType::F32) => "cast_u8_f32",
        (DType::F32, DType::I64) => "cast_f32_i64",
        (f, t) => return Err(Error::unsupported("Cast", format!("{f} to {t} on the GPU"))),
    };
    let y = s.alloc(to, x.shape())?;
    let n = i32_of(x.len(), "element count")?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (g, b) = geom(x.len());
    s.launch(kernel, g, b, args![&xp, &yp, &n])?;
    Ok(y)
}
