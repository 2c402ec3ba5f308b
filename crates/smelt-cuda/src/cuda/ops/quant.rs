//! QuantizeLinear / DequantizeLinear (u8) and DynamicQuantizeLinear (plan in `plan::quant`).

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::quant::{self, QMap, QuantAttrs};
use crate::plan::{i32_of, BLOCK};
use smelt_core::{DType, Error, Result};

pub(super) fn quantize(s: &Stream, a: &QuantAttrs, ins: &Ins) -> Result<GpuTensor> {
    let (x, scale) = (ins.dev(0)?, ins.f32(1)?);
    let zp = match ins.0.get(2) {
        None | Some(None) => None,
        _ => Some(ins.dev(2)?),
    };
    let (xd, od) = if a.dequant {
        (DType::U8, DType::F32)
    } else {
        (DType::F32, DType::U8)
    };
    if x.dtype() != xd || zp.is_some_and(|z| z.dtype() != DType::U8) {
        return Err(Error::unsupported(
            "QuantizeLinear",
            format!("x {} / zero point on the GPU", x.dtype()),
        ));
    }
    let sm = quant::qmap(x.shape(), scale.shape(), a.axis, a.block_size)?;
    let zm = match zp {
        Some(z) => {
            quant::check_zero_point(scale.shape(), z.shape())?;
            quant::qmap(x.shape(), z.shape(), a.axis, a.block_size)?
        }
        None => QMap::default(),
    };
    let y = s.alloc(od, x.shape())?;
    let n = i32_of(x.len(), "element count")?;
    let (xp, sp, zpp, yp) = (x.ptr(), scale.ptr(), zp.map_or(0u64, |z| z.ptr()), y.ptr());
    let k = if a.dequant {
        "dequant_u8_f32"
    } else {
        "quant_f32_u8"
    };
    let (g, b) = geom(x.len());
    s.launch(k, g, b, args![&xp, &sp, &zpp, &yp, &n, &sm, &zm])?;
    Ok(y)
}

/// Returns y (u8), y_scale (f32 scalar) and y_zero_point (u8 scalar).
pub(super) fn dynamic_quantize(s: &Stream, x: &GpuTensor) -> Result<Vec<GpuTensor>> {
    let y = s.alloc(DType::U8, x.shape())?;
    let scale = s.alloc(DType::F32, &[])?;
    let zp = s.alloc(DType::U8, &[])?;
    let n = i32_of(x.len(), "element count")?;
    let (xp, yp, sp, zpp) = (x.ptr(), y.ptr(), scale.ptr(), zp.ptr());
    s.launch("dql_params_f32", 1, BLOCK, args![&xp, &n, &sp, &zpp])?;
    let (g, b) = geom(x.len());
    s.launch("dql_apply_f32", g, b, args![&xp, &yp, &n, &sp, &zpp])?;
    Ok(vec![y, scale, zp])
}
