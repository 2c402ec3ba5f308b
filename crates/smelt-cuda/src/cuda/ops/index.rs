//! Launches of the indexing and generation ops ([`IndexOp`], plan/index.rs; kernels in
//! kernels/index.cu; TopK and NonMaxSuppression in select.rs). Scalars, shapes and indices
//! arrive on the host: they are checked there as the CPU op checks them, and the elements
//! are made on the device.

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::i32_of;
use crate::plan::index::{self as plan, IndexOp};
use smelt_core::{DType, Error, Result, Tensor};
use smelt_ops::array::common::Reduction;
use std::ffi::c_void;

/// A kernel parameter list to extend (see `args!`).
macro_rules! argv {
    ($($a:expr),* $(,)?) => {
        vec![$($a as *const _ as *mut c_void),*]
    };
}

/// The kernel of `names` (widths 1, 2, 4, 8 bytes) for elements of `d`.
pub(super) fn sized(names: [&'static str; 4], d: DType) -> Result<&'static str> {
    match d.size_of() {
        1 if plan::movable(d) => Ok(names[0]),
        2 if plan::movable(d) => Ok(names[1]),
        4 if plan::movable(d) => Ok(names[2]),
        8 if plan::movable(d) => Ok(names[3]),
        _ => Err(Error::unsupported("cuda", format!("{d} elements"))),
    }
}

/// The kernel of `names` (f32, f64, f16, i32, i64) for `d`.
fn typed(names: [&'static str; 5], d: DType) -> Result<&'static str> {
    Ok(match d {
        DType::F32 => names[0],
        DType::F64 => names[1],
        DType::F16 => names[2],
        DType::I32 => names[3],
        DType::I64 => names[4],
        _ => return Err(Error::unsupported("cuda", format!("{d} arithmetic"))),
    })
}

/// One element's bits as the kernel parameter of its width.
enum Bits {
    B1(u8),
    B2(u16),
    B4(u32),
    B8(u64),
}

impl Bits {
    /// Element `i` of `t`.
    fn of(t: &Tensor, i: usize) -> Result<Bits> {
        let w = t.dtype().size_of();
        let b = t.le_bytes()?;
        let s = b
            .get(i * w..(i + 1) * w)
            .ok_or_else(|| Error::invalid(format!("element {i} of {:?}", t.shape())))?;
        Bits::from_le(s)
    }
    fn from_le(s: &[u8]) -> Result<Bits> {
        Ok(match s.len() {
            1 => Bits::B1(s[0]),
            2 => Bits::B2(u16::from_le_bytes([s[0], s[1]])),
            4 => Bits::B4(u32::from_le_bytes(s.try_into().unwrap())),
            8 => Bits::B8(u64::from_le_bytes(s.try_into().unwrap())),
            n => return Err(Error::unsupported("cuda", format!("{n}-byte elements"))),
        })
    }
    /// 1 of dtype `d`.
    fn one(d: DType) -> Result<Bits> {
        Ok(match d {
            DType::F32 => Bits::B4(1f32.to_bits()),
            DType::F64 => Bits::B8(1f64.to_bits()),
            DType::F16 => Bits::B2(0x3c00),
            DType::BF16 => Bits::B2(0x3f80),
            d if d == DType::Bool || (d.is_int() && plan::movable(d)) => match d.size_of() {
                1 => Bits::B1(1),
                2 => Bits::B2(1),
                4 => Bits::B4(1),
                _ => Bits::B8(1),
            },
            d => return Err(Error::unsupported("cuda", format!("1 of {d}"))),
        })
    }
    fn ptr(&self) -> *mut c_void {
        match self {
            Bits::B1(v) => v as *const u8 as *mut c_void,
            Bits::B2(v) => v as *const u16 as *mut c_void,
            Bits::B4(v) => v as *const u32 as *mut c_void,
            Bits::B8(v) => v as *const u64 as *mut c_void,
        }
    }
}

pub(super) fn need_host<'a>(ins: &'a Ins, i: usize, what: &str) -> Result<&'a Tensor> {
    ins.host(i)?
        .ok_or_else(|| Error::invalid(format!("missing {what}")))
}

/// One scalar of a host input (a 1-element tensor).
fn scalar_f64(t: &Tensor, what: &str) -> Result<f64> {
    let v = t.to_f64_vec()?;
    if v.len() != 1 {
        return Err(Error::invalid(format!(
            "{what} must be a scalar, got shape {:?}",
            t.shape()
        )));
    }
    Ok(v[0])
}

pub(super) fn upload_i64(s: &Stream, v: Vec<i64>) -> Result<GpuTensor> {
    s.upload(&Tensor::from_vec(vec![v.len()], v)?)
}

/// A device copy of `x` (a new block).
fn copy(s: &Stream, x: &GpuTensor) -> Result<GpuTensor> {
    let y = s.alloc(x.dtype(), x.shape())?;
    s.copy_device(x, &y)?;
    Ok(y)
}

pub(super) fn run(s: &Stream, op: &IndexOp, ins: &Ins, n_out: usize) -> Result<Vec<GpuTensor>> {
    let y = match op {
        IndexOp::EyeLike { dtype, k } => {
            let x = ins.dev(0)?;
            if x.shape().len() != 2 {
                return Err(Error::invalid(format!(
                    "EyeLike input must be 2-D, has shape {:?}",
                    x.shape()
                )));
            }
            let d = dtype.unwrap_or(x.dtype());
            let (r, c) = (x.shape()[0], x.shape()[1]);
            let y = s.alloc(d, &[r, c])?;
            let one = Bits::one(d)?;
            let name = sized(["eye_8", "eye_16", "eye_32", "eye_64"], d)?;
            let (yp, r32, c32) = (y.ptr(), i32_of(r, "rows")?, i32_of(c, "cols")?);
            i32_of(r * c, "EyeLike size")?;
            let (g, b) = geom(y.len());
            let mut a = argv![&yp, &r32, &c32, k];
            a.push(one.ptr());
            s.launch(name, g, b, &mut a)?;
            y
        }
        IndexOp::OneHot { axis } => one_hot(s, ins, *axis)?,
        IndexOp::GatherND { batch_dims } => {
            let x = ins.dev(0)?;
            let it = need_host(ins, 1, "GatherND indices")?;
            let idx = index_ints(it, "GatherND indices")?;
            let (shape, src, inner) = plan::gather_nd(x.shape(), it.shape(), &idx, *batch_dims)?;
            gather_rows(s, x, &shape, src, inner)?
        }
        IndexOp::Compress { axis } => {
            let x = ins.dev(0)?;
            let c = need_host(ins, 1, "Compress condition")?;
            if c.shape().len() != 1 {
                return Err(Error::invalid("Compress condition must be 1-D"));
            }
            let (shape, src, inner) = plan::compress(x.shape(), &c.to_i64_vec()?, *axis)?;
            gather_rows(s, x, &shape, src, inner)?
        }
        IndexOp::CenterCropPad { axes } => {
            let x = ins.dev(0)?;
            let target = smelt_ops::array::common::shape_input(
                need_host(ins, 1, "CenterCropPad shape")?,
                "CenterCropPad shape",
            )?;
            let (shape, table, st) = plan::center_crop_pad(x.shape(), &target, axes.as_deref())?;
            let y = s.alloc(x.dtype(), &shape)?;
            if y.is_empty() {
                return Ok(vec![y]);
            }
            let name = sized(
                [
                    "ix_map_gather_8",
                    "ix_map_gather_16",
                    "ix_map_gather_32",
                    "ix_map_gather_64",
                ],
                x.dtype(),
            )?;
            let t = s.upload(&Tensor::from_vec(vec![table.len()], table)?)?;
            let (xp, yp, n, tp) = (x.ptr(), y.ptr(), y.len() as i32, t.ptr());
            let (g, b) = geom(y.len());
            s.launch(name, g, b, args![&xp, &yp, &n, &tp, &st])?;
            y
        }
        IndexOp::Scatter { axis, red, nd } => scatter(s, ins, *axis, *red, *nd)?,
        IndexOp::TensorScatter { circular, axis } => {
            let (past, up) = (ins.dev(0)?, ins.dev(1)?);
            if past.dtype() != up.dtype() {
                return Err(Error::invalid(
                    "TensorScatter update and cache dtypes differ",
                ));
            }
            let idx = match ins.host(2)? {
                Some(t) => Some(index_ints(t, "write_indices")?),
                None => None,
            };
            let dst = plan::tensor_scatter_dst(past.shape(), up.shape(), idx, *axis, *circular)?;
            let y = copy(s, past)?;
            if !dst.is_empty() {
                let name = sized(
                    [
                        "scatter_set_8",
                        "scatter_set_16",
                        "scatter_set_32",
                        "scatter_set_64",
                    ],
                    past.dtype(),
                )?;
                // positions are distinct (supd <= smax), so the writes are independent
                let (n, serial) = (dst.len() as i32, 0i32);
                let dd = upload_i64(s, dst)?;
                let (yp, upp, dp) = (y.ptr(), up.ptr(), dd.ptr());
                let (g, b) = geom(n as usize);
                s.launch(name, g, b, args![&yp, &upp, &dp, &n, &serial])?;
            }
            y
        }
        IndexOp::Unique { sorted, axis } => {
            return super::select::unique(s, ins.dev(0)?, *sorted, *axis)
        }
        IndexOp::NonZero => super::select::non_zero(s, ins.dev(0)?)?,
        IndexOp::Nms { center } => super::select::nms(s, ins, *center)?,
        IndexOp::TopK { axis, largest, k } => {
            return super::select::topk(s, ins, *axis, *largest, *k)
        }
        IndexOp::Dropout => {
            let x = ins.dev(0)?;
            let ratio = match ins.host(1)? {
                Some(t) => scalar_f64(t, "Dropout ratio")?,
                None => 0.5,
            };
            let training = match ins.host(2)? {
                Some(t) => scalar_f64(t, "Dropout training_mode")? != 0.0,
                None => false,
            };
            if training && ratio != 0.0 {
                return Err(Error::unsupported("Dropout", "training mode on the GPU"));
            }
            let mut outs = vec![x.clone()];
            if n_out > 1 {
                outs.push(fill(s, DType::Bool, x.shape(), &Bits::B1(1))?);
            }
            return Ok(outs);
        }
    };
    Ok(vec![y])
}

/// y of `shape` = rows of `inner` elements of x starting at `src` (checked offsets).
fn gather_rows(
    s: &Stream,
    x: &GpuTensor,
    shape: &[usize],
    src: Vec<i64>,
    inner: usize,
) -> Result<GpuTensor> {
    let y = s.alloc(x.dtype(), shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    let name = sized(
        [
            "gather_rows_8",
            "gather_rows_16",
            "gather_rows_32",
            "gather_rows_64",
        ],
        x.dtype(),
    )?;
    let rows = src.len() as i32;
    let d = upload_i64(s, src)?;
    let (xp, dp, yp, inn) = (x.ptr(), d.ptr(), y.ptr(), inner as i32);
    let (g, b) = geom(y.len());
    s.launch(name, g, b, args![&xp, &dp, &yp, &rows, &inn])?;
    Ok(y)
}

fn fill(s: &Stream, d: DType, shape: &[usize], v: &Bits) -> Result<GpuTensor> {
    let y = s.alloc(d, shape)?;
    let name = sized(["ix_fill_8", "ix_fill_16", "ix_fill_32", "ix_fill_64"], d)?;
    let (yp, n) = (y.ptr(), i32_of(y.len(), "fill size")?);
    let (g, b) = geom(y.len());
    let mut a = argv![&yp, &n];
    a.push(v.ptr());
    s.launch(name, g, b, &mut a)?;
    Ok(y)
}

pub(super) fn index_ints(t: &Tensor, what: &str) -> Result<Vec<i64>> {
    if !matches!(t.dtype(), DType::I64 | DType::I32) {
        return Err(Error::dtype(t.dtype(), what));
    }
    t.to_i64_vec()
}

fn one_hot(s: &Stream, ins: &Ins, axis: i64) -> Result<GpuTensor> {
    let it = need_host(ins, 0, "OneHot indices")?;
    let depth = scalar_f64(need_host(ins, 1, "OneHot depth")?, "OneHot depth")?;
    let vals = need_host(ins, 2, "OneHot values")?;
    if vals.len() != 2 {
        return Err(Error::invalid(format!(
            "OneHot values must hold [off, on], has shape {:?}",
            vals.shape()
        )));
    }
    let p = plan::one_hot(it.shape(), &it.to_f64_vec()?, depth, axis)?;
    let (shape, (o, d, inn), tgt) = (p.shape, p.dims, p.tgt);
    let y = s.alloc(vals.dtype(), &shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    let name = sized(
        ["one_hot_8", "one_hot_16", "one_hot_32", "one_hot_64"],
        vals.dtype(),
    )?;
    let dt = s.upload(&Tensor::from_vec(vec![tgt.len()], tgt)?)?;
    let (off, on) = (Bits::of(vals, 0)?, Bits::of(vals, 1)?);
    let (tp, yp, o, d, inn) = (dt.ptr(), y.ptr(), o as i32, d as i32, inn as i32);
    let (g, b) = geom(y.len());
    let mut a = argv![&tp, &yp, &o, &d, &inn];
    a.extend([off.ptr(), on.ptr()]);
    s.launch(name, g, b, &mut a)?;
    Ok(y)
}

fn scatter(s: &Stream, ins: &Ins, axis: i64, red: Reduction, nd: bool) -> Result<GpuTensor> {
    let x = ins.dev(0)?;
    let it = need_host(ins, 1, "scatter indices")?;
    let up = ins.dev(2)?;
    if up.dtype() != x.dtype() {
        return Err(Error::invalid(format!(
            "updates are {}, data is {}",
            up.dtype(),
            x.dtype()
        )));
    }
    let idx = index_ints(it, "scatter indices")?;
    let dst = if nd {
        plan::scatter_nd_dst(x.shape(), it.shape(), up.shape(), &idx)?
    } else {
        if up.shape() != it.shape() {
            return Err(Error::invalid(format!(
                "updates shape {:?} differs from indices shape {:?}",
                up.shape(),
                it.shape()
            )));
        }
        plan::scatter_elements_dst(x.shape(), it.shape(), &idx, axis)?
    };
    i32_of(x.len().max(dst.len()), "scatter size")?;
    let y = copy(s, x)?;
    if dst.is_empty() {
        return Ok(y);
    }
    let serial = plan::has_duplicates(&dst) as i32;
    let n = dst.len() as i32;
    let dd = upload_i64(s, dst)?;
    let (yp, upp, dp) = (y.ptr(), up.ptr(), dd.ptr());
    let (g, b) = if serial != 0 {
        (1, 1)
    } else {
        geom(n as usize)
    };
    if red == Reduction::None {
        let name = sized(
            [
                "scatter_set_8",
                "scatter_set_16",
                "scatter_set_32",
                "scatter_set_64",
            ],
            x.dtype(),
        )?;
        s.launch(name, g, b, args![&yp, &upp, &dp, &n, &serial])?;
    } else {
        let name = typed(
            [
                "scatter_red_f32",
                "scatter_red_f64",
                "scatter_red_f16",
                "scatter_red_i32",
                "scatter_red_i64",
            ],
            x.dtype(),
        )?;
        let r: i32 = match red {
            Reduction::Add => 1,
            Reduction::Mul => 2,
            Reduction::Max => 3,
            _ => 4,
        };
        s.launch(name, g, b, args![&yp, &upp, &dp, &n, &r, &serial])?;
    }
    Ok(y)
}
