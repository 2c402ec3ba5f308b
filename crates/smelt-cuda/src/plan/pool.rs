//! MaxPool and AveragePool over NC + 1 to 3 spatial dims, with the CPU op's window rules.
//! 1-d and 2-d windows are planned as 3-d ones with leading spatial dims of 1.

use super::i32_of;
use smelt_core::{Error, Result};
use smelt_ir::Attributes;
use smelt_ops::nn::spatial::WindowAttrs;

#[derive(Clone, Debug)]
pub struct PoolAttrs {
    pub window: WindowAttrs,
    pub max: bool,
    pub count_include_pad: bool,
    /// MaxPool's Indices within a plane: 0 row-major, 1 column-major.
    pub storage_order: i64,
}

impl PoolAttrs {
    pub fn parse(a: &Attributes, max: bool) -> Result<PoolAttrs> {
        Ok(PoolAttrs {
            window: WindowAttrs::parse(a)?,
            max,
            count_include_pad: a.int_or("count_include_pad", 0)? != 0,
            storage_order: if max {
                a.int_or("storage_order", 0)?
            } else {
                0
            },
        })
    }
}

/// The kernel's parameter block (`PoolP` in pool.cu): spatial dims as (depth, height,
/// width), unused leading ones of size 1 with kernel 1, stride 1, no padding.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolParams {
    pub nc: i32,
    /// input spatial dims
    pub i: [i32; 3],
    /// output spatial dims
    pub o: [i32; 3],
    pub k: [i32; 3],
    pub s: [i32; 3],
    /// begin pads
    pub p: [i32; 3],
    pub d: [i32; 3],
    /// end pads (the count_include_pad divisor)
    pub pe: [i32; 3],
    pub mode: i32,
    pub count_include_pad: i32,
    pub storage_order: i32,
}

/// Plans pooling of x [N, C, (D, (H,)) W]; returns the parameters and the output shape.
pub fn plan(a: &PoolAttrs, x: &[usize]) -> Result<(PoolParams, Vec<usize>)> {
    if !(3..=5).contains(&x.len()) {
        return Err(Error::unsupported(
            "Pool",
            format!("GPU pooling is 1-d, 2-d or 3-d; input {x:?}"),
        ));
    }
    let sp = &x[2..];
    let g = a.window.resolve(sp, &a.window.kernel(sp.len(), None)?)?;
    // right-aligned into three dims, `fill` in front
    let three = |v: &[usize], fill: i32| -> [i32; 3] {
        let mut r = [fill; 3];
        for (j, &e) in v.iter().enumerate() {
            r[3 - v.len() + j] = e as i32;
        }
        r
    };
    let mut out = vec![x[0], x[1]];
    out.extend(&g.output);
    i32_of(out.iter().product(), "pool output size")?;
    i32_of(x.iter().product(), "pool input size")?;
    Ok((
        PoolParams {
            nc: (x[0] * x[1]) as i32,
            i: three(&g.input, 1),
            o: three(&g.output, 1),
            k: three(&g.kernel, 1),
            s: three(&g.strides, 1),
            p: three(&g.pads_begin, 0),
            d: three(&g.dilations, 1),
            pe: three(&g.pads_end, 0),
            mode: if a.max { 0 } else { 1 },
            count_include_pad: a.count_include_pad as i32,
            storage_order: a.storage_order as i32,
        },
        out,
    ))
}

/// MaxUnpool's parameter block (`UnpoolP` in pool.cu): the default unpooled shape the
/// indices address and the output shape (the default zero-extended at the end of each
/// dim), rank <= 5.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnpoolParams {
    pub rank: i32,
    pub nx: i32,
    pub dflt: [i32; 5],
    pub os: [i32; 5],
    pub n_default: i64,
}

/// Plans MaxUnpool of x (and indices of x's shape) with an optional output_shape; returns
/// the parameters and the output shape.
pub fn unpool_plan(
    window: &WindowAttrs,
    x: &[usize],
    indices: &[usize],
    output_shape: Option<&[i64]>,
) -> Result<(UnpoolParams, Vec<usize>)> {
    if indices != x {
        return Err(Error::shape(format!(
            "MaxUnpool: indices shape {indices:?} differs from X shape {x:?}"
        )));
    }
    let dflt = smelt_ops::nn::max_unpool::unpooled_shape(window, x)?;
    if dflt.len() > 5 {
        return Err(Error::unsupported(
            "MaxUnpool",
            format!("rank {} on the GPU (at most 5)", dflt.len()),
        ));
    }
    let os: Vec<usize> = match output_shape {
        None => dflt.clone(),
        Some(s) => {
            if s.len() != dflt.len() || s.iter().zip(&dflt).any(|(&a, &b)| a < b as i64) {
                return Err(Error::shape(format!(
                    "MaxUnpool: output_shape {s:?} must have rank {} and be at least the unpooled shape {dflt:?}",
                    dflt.len()
                )));
            }
            s.iter().map(|&d| d as usize).collect()
        }
    };
    let mut p = UnpoolParams {
        rank: dflt.len() as i32,
        nx: i32_of(x.iter().product(), "MaxUnpool input size")?,
        n_default: i32_of(dflt.iter().product(), "MaxUnpool unpooled size")? as i64,
        ..Default::default()
    };
    i32_of(os.iter().product(), "MaxUnpool output size")?;
    for d in 0..dflt.len() {
        p.dflt[d] = dflt[d] as i32;
        p.os[d] = os[d] as i32;
    }
    Ok((p, os))
}
