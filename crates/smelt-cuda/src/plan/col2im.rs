//! Col2Im, after the CPU op (`smelt_ops::array::col2im`): x [N, C*prod(block), L] holds the
//! C*prod(block) values of each of the L sliding block positions (row-major over the block
//! grid); overlapping values are summed into y [N, C, image..]. image_shape and block_shape
//! are inputs 1 and 2 (host); dilations, pads [begin.., end..], strides attributes. Up to 3
//! spatial dims, f32.

use super::i32_of;
use smelt_core::{Error, Result};
use smelt_ir::Attributes;

#[derive(Clone, Debug, PartialEq)]
pub struct Col2ImAttrs {
    pub dilations: Option<Vec<i64>>,
    pub pads: Option<Vec<i64>>,
    pub strides: Option<Vec<i64>>,
}

impl Col2ImAttrs {
    pub fn parse(a: &Attributes) -> Result<Col2ImAttrs> {
        Ok(Col2ImAttrs {
            dilations: a.ints("dilations")?,
            pads: a.ints("pads")?,
            strides: a.ints("strides")?,
        })
    }
}

/// The kernel's parameter block (`C2iParams` in col2im.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct C2iParams {
    pub nd: i32,
    pub img: [i32; 3],
    pub blk: [i32; 3],
    pub grid: [i32; 3],
    pub dil: [i32; 3],
    pub pad: [i32; 3],
    pub st: [i32; 3],
    pub kprod: i32,
    pub l: i32,
    pub ipix: i32,
    /// output elements
    pub total: i32,
}

/// Plans Col2Im; returns the block and the output shape.
pub fn plan(
    a: &Col2ImAttrs,
    x: &[usize],
    img: &[i64],
    blk: &[i64],
) -> Result<(C2iParams, Vec<usize>)> {
    let bad = |m: String| Err(Error::invalid(format!("Col2Im: {m}")));
    let nd = img.len();
    if x.len() != 3 {
        return bad(format!("input must be 3-D, has shape {x:?}"));
    }
    if blk.len() != nd || nd == 0 {
        return bad(format!(
            "block_shape {blk:?} and image_shape {img:?} differ in rank"
        ));
    }
    if nd > 3 {
        return Err(Error::unsupported(
            "Col2Im",
            format!("{nd} spatial dims on the GPU"),
        ));
    }
    if img.iter().chain(blk).any(|&d| d < 0) {
        return bad("negative shape".into());
    }
    let dil = a.dilations.clone().unwrap_or(vec![1; nd]);
    let pads = a.pads.clone().unwrap_or(vec![0; 2 * nd]);
    let st = a.strides.clone().unwrap_or(vec![1; nd]);
    if dil.len() != nd || st.len() != nd || pads.len() != 2 * nd {
        return bad(format!(
            "dilations/strides/pads lengths do not match {nd} spatial dims"
        ));
    }
    let (n, ck, l) = (x[0], x[1], x[2]);
    let kprod: usize = blk.iter().map(|&d| d as usize).product();
    if kprod == 0 || ck % kprod != 0 {
        return bad(format!(
            "input dim 1 ({ck}) not divisible by the block size {kprod}"
        ));
    }
    let c = ck / kprod;
    let mut p = C2iParams {
        nd: nd as i32,
        kprod: kprod as i32,
        l: l as i32,
        ..Default::default()
    };
    let mut cells = 1usize;
    for d in 0..nd {
        if dil[d] < 1 || st[d] < 1 {
            return bad("dilations and strides must be >= 1".into());
        }
        let span = dil[d] * (blk[d] - 1) + 1;
        let g = (img[d] + pads[d] + pads[d + nd] - span) / st[d] + 1;
        if g < 0 {
            return bad(format!(
                "block {blk:?} does not fit the padded image {img:?}"
            ));
        }
        cells *= g as usize;
        let v = |x: i64| {
            i32::try_from(x).map_err(|_| Error::invalid("Col2Im: a value exceeds 32 bits"))
        };
        p.img[d] = v(img[d])?;
        p.blk[d] = v(blk[d])?;
        p.grid[d] = v(g)?;
        p.dil[d] = v(dil[d])?;
        p.pad[d] = v(pads[d])?;
        p.st[d] = v(st[d])?;
    }
    if cells != l {
        return bad(format!(
            "input has {l} block positions, the shapes give {cells}"
        ));
    }
    let ipix: usize = img.iter().map(|&d| d as usize).product();
    p.ipix = i32_of(ipix, "image pixels")?;
    p.total = i32_of(n * c * ipix, "Col2Im output elements")?;
    i32_of(x.iter().product(), "Col2Im input elements")?;
    let mut out = vec![n, c];
    out.extend(img.iter().map(|&d| d as usize));
    Ok((p, out))
}
