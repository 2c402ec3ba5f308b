//! MaxPool and AveragePool over NCHW (1-d and 2-d), with the CPU op's window rules.

use super::i32_of;
use smelt_core::{Error, Result};
use smelt_ir::Attributes;
use smelt_ops::nn::spatial::WindowAttrs;

#[derive(Clone, Debug)]
pub struct PoolAttrs {
    pub window: WindowAttrs,
    pub max: bool,
    pub count_include_pad: bool,
}

impl PoolAttrs {
    pub fn parse(a: &Attributes, max: bool) -> Result<PoolAttrs> {
        if max && a.int_or("storage_order", 0)? != 0 {
            return Err(Error::unsupported("MaxPool", "storage_order=1"));
        }
        Ok(PoolAttrs {
            window: WindowAttrs::parse(a)?,
            max,
            count_include_pad: a.int_or("count_include_pad", 0)? != 0,
        })
    }
}

/// The kernel's parameter block (`PoolP` in pool.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolParams {
    pub nc: i32,
    pub h: i32,
    pub w: i32,
    pub oh: i32,
    pub ow: i32,
    pub kh: i32,
    pub kw: i32,
    pub sh: i32,
    pub sw: i32,
    pub ph: i32,
    pub pw: i32,
    pub dh: i32,
    pub dw: i32,
    pub peh: i32,
    pub pew: i32,
    pub mode: i32,
    pub count_include_pad: i32,
}

/// Plans pooling of x [N, C, (H,) W]; returns the parameters and the output shape.
pub fn plan(a: &PoolAttrs, x: &[usize]) -> Result<(PoolParams, Vec<usize>)> {
    if !(x.len() == 3 || x.len() == 4) {
        return Err(Error::unsupported(
            "Pool",
            format!("GPU pooling is 1-d or 2-d; input {x:?}"),
        ));
    }
    let sp = &x[2..];
    let g = a.window.resolve(sp, &a.window.kernel(sp.len(), None)?)?;
    let two = |v: &[usize], one: usize| -> (i32, i32) {
        if v.len() == 2 {
            (v[0] as i32, v[1] as i32)
        } else {
            (one as i32, v[0] as i32)
        }
    };
    let mut out = vec![x[0], x[1]];
    out.extend(&g.output);
    i32_of(out.iter().product(), "pool output size")?;
    i32_of(x.iter().product(), "pool input size")?;
    let (h, w) = two(&g.input, 1);
    let (oh, ow) = two(&g.output, 1);
    let (kh, kw) = two(&g.kernel, 1);
    let (sh, sw) = two(&g.strides, 1);
    let (ph, pw) = two(&g.pads_begin, 0);
    let (peh, pew) = two(&g.pads_end, 0);
    let (dh, dw) = two(&g.dilations, 1);
    Ok((
        PoolParams {
            nc: (x[0] * x[1]) as i32,
            h,
            w,
            oh,
            ow,
            kh,
            kw,
            sh,
            sw,
            ph,
            pw,
            dh,
            dw,
            peh,
            pew,
            mode: if a.max { 0 } else { 1 },
            count_include_pad: a.count_include_pad as i32,
        },
        out,
    ))
}
