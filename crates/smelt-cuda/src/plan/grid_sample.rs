//! GridSample: attributes and the parameter block, after the CPU op
//! (`smelt_ops::image::grid_sample`): X [N, C, D1..Dk] sampled at grid [N, O1..Ok, k]
//! (last dim x, y[, z]: innermost spatial dim first) into Y [N, C, O1..Ok]; modes
//! nearest / linear / cubic, padding zeros / border / reflection, align_corners. The GPU
//! takes k <= 3 and f32; coordinates and sums are in f64 as on the CPU. (The CPU refuses
//! k != 2 before opset 20; placement does not know the opset, so such a node runs here.)

use super::i32_of;
use smelt_core::{Error, Result};
use smelt_ir::Attributes;

#[derive(Clone, Debug, PartialEq)]
pub struct GridSampleAttrs {
    /// 0 nearest, 1 linear, 2 cubic
    pub mode: i32,
    /// 0 zeros, 1 border, 2 reflection
    pub pad: i32,
    pub align: bool,
}

impl GridSampleAttrs {
    pub fn parse(a: &Attributes) -> Result<GridSampleAttrs> {
        let mode = match a.string_or("mode", "linear".into())?.as_str() {
            "nearest" => 0,
            "bilinear" | "linear" => 1,
            "bicubic" | "cubic" => 2,
            m => return Err(Error::invalid(format!("unknown GridSample mode '{m}'"))),
        };
        let pad = match a.string_or("padding_mode", "zeros".into())?.as_str() {
            "zeros" => 0,
            "border" => 1,
            "reflection" => 2,
            m => return Err(Error::invalid(format!("unknown padding_mode '{m}'"))),
        };
        Ok(GridSampleAttrs {
            mode,
            pad,
            align: a.int_or("align_corners", 0)? != 0,
        })
    }
}

/// The kernel's parameter block (`GsParams` in grid_sample.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GsParams {
    pub n: i32,
    pub c: i32,
    pub k: i32,
    pub mode: i32,
    pub pad: i32,
    pub align: i32,
    pub dims: [i32; 3],
    /// output positions per image
    pub on: i32,
}

/// The parameter block and Y's shape.
pub fn plan(a: &GridSampleAttrs, x: &[usize], grid: &[usize]) -> Result<(GsParams, Vec<usize>)> {
    let k = x.len().saturating_sub(2);
    if k == 0 {
        return Err(Error::invalid(format!(
            "GridSample: X must have rank >= 3, got {x:?}"
        )));
    }
    if k > 3 {
        return Err(Error::unsupported(
            "GridSample",
            format!("{k} spatial dims on the GPU"),
        ));
    }
    if grid.len() != k + 2 || grid[0] != x[0] || grid[k + 1] != k {
        return Err(Error::invalid(format!(
            "GridSample: grid shape {grid:?} does not fit X {x:?}"
        )));
    }
    let on: usize = grid[1..=k].iter().product();
    if x[2..].contains(&0) && x[0] * x[1] * on != 0 {
        return Err(Error::invalid(format!(
            "GridSample: cannot sample an empty X {x:?}"
        )));
    }
    i32_of(x.iter().product(), "X elements")?;
    i32_of(x[0] * x[1] * on, "Y elements")?;
    let mut dims = [1i32; 3];
    for i in 0..k {
        dims[i] = x[2 + i] as i32;
    }
    let mut out = vec![x[0], x[1]];
    out.extend_from_slice(&grid[1..=k]);
    Ok((
        GsParams {
            n: x[0] as i32,
            c: x[1] as i32,
            k: k as i32,
            mode: a.mode,
            pad: a.pad,
            align: a.align as i32,
            dims,
            on: on as i32,
        },
        out,
    ))
}

/// AffineGrid's parameter block (`AgParams` in grid_sample.cu): theta [N, k, k+1] with
/// size (N, C, spatial..) gives grid [N, spatial.., k], k = 2 or 3 (the CPU op's contract,
/// `smelt_ops::image::affine_grid`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AgParams {
    pub n: i32,
    pub k: i32,
    pub sp: [i32; 3],
    /// output points per image, total output elements
    pub np: i32,
    pub total: i32,
    pub align: i32,
}

/// Plans AffineGrid from theta's shape and the size input; returns the block and the
/// output shape.
pub fn affine_grid(theta: &[usize], size: &[i64], align: bool) -> Result<(AgParams, Vec<usize>)> {
    if size.iter().any(|&d| d < 0) {
        return Err(Error::invalid(format!(
            "AffineGrid: size must be non-negative, got {size:?}"
        )));
    }
    let k = match size.len() {
        4 => 2,
        5 => 3,
        l => {
            return Err(Error::invalid(format!(
                "AffineGrid: size must have 4 or 5 entries, got {l}"
            )))
        }
    };
    let n = size[0] as usize;
    if theta != [n, k, k + 1] {
        return Err(Error::invalid(format!(
            "AffineGrid: theta shape {theta:?}, expected {:?}",
            [n, k, k + 1]
        )));
    }
    let sp: Vec<usize> = size[2..].iter().map(|&d| d as usize).collect();
    let np: usize = sp.iter().product();
    let total = i32_of(n * np * k, "AffineGrid output elements")?;
    let mut p = AgParams {
        n: n as i32,
        k: k as i32,
        np: np as i32,
        total,
        align: align as i32,
        ..Default::default()
    };
    for (i, &d) in sp.iter().enumerate() {
        p.sp[i] = d as i32;
    }
    let mut shape = vec![n];
    shape.extend(&sp);
    shape.push(k);
    Ok((p, shape))
}
