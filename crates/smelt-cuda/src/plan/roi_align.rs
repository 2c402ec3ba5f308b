//! RoiAlign, after the CPU op (`smelt_ops::image::roi_align`): X [N, C, H, W], rois [R, 4]
//! (x1, y1, x2, y2 before `spatial_scale`), batch_indices [R] (read on the host and checked
//! there) -> Y [R, C, output_height, output_width]; bins average (avg) or take the max of the
//! weighted corner values (max) of bilinear samples, in f64 as on the CPU. The default
//! coordinate_transformation_mode depends on the opset (output_half_pixel before 16), so
//! without the attribute it follows the node's opset (the CPU op's rule). f32.

use super::i32_of;
use smelt_core::{Error, Result};
use smelt_ir::Node;

#[derive(Clone, Debug, PartialEq)]
pub struct RoiAlignAttrs {
    pub half_pixel: bool,
    pub max: bool,
    pub oh: usize,
    pub ow: usize,
    pub sampling_ratio: i64,
    pub spatial_scale: f64,
}

impl RoiAlignAttrs {
    pub fn parse(node: &Node) -> std::result::Result<RoiAlignAttrs, String> {
        let a = &node.attrs;
        let s = |e: smelt_core::Error| e.to_string();
        let half_pixel = smelt_ops::image::roi_align::half_pixel(node.opset, a).map_err(s)?;
        let max = match a.string_or("mode", "avg".into()).map_err(s)?.as_str() {
            "avg" => false,
            "max" => true,
            m => return Err(format!("unknown RoiAlign mode '{m}'")),
        };
        let oh = a.int_or("output_height", 1).map_err(s)?;
        let ow = a.int_or("output_width", 1).map_err(s)?;
        let sampling_ratio = a.int_or("sampling_ratio", 0).map_err(s)?;
        if oh < 1 || ow < 1 || sampling_ratio < 0 {
            return Err("RoiAlign: bad output size or sampling_ratio".into());
        }
        Ok(RoiAlignAttrs {
            half_pixel,
            max,
            oh: oh as usize,
            ow: ow as usize,
            sampling_ratio,
            spatial_scale: a.float_or("spatial_scale", 1.0).map_err(s)? as f64,
        })
    }
}

/// The kernel's parameter block (`RoiParams` in grid_sample.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RoiParams {
    pub spatial_scale: f64,
    pub n: i32,
    pub c: i32,
    pub h: i32,
    pub w: i32,
    pub oh: i32,
    pub ow: i32,
    pub nr: i32,
    pub half_pixel: i32,
    pub max: i32,
    pub sampling_ratio: i32,
    pub total: i32,
}

/// Plans RoiAlign; returns the block, the batch indices as i32 and the output shape.
pub fn plan(
    a: &RoiAlignAttrs,
    x: &[usize],
    rois: &[usize],
    batch: &[i64],
) -> Result<(RoiParams, Vec<i32>, Vec<usize>)> {
    if x.len() != 4 {
        return Err(Error::invalid(format!(
            "RoiAlign: X must be [N, C, H, W], got {x:?}"
        )));
    }
    if rois.len() != 2 || rois[1] != 4 {
        return Err(Error::invalid(format!(
            "RoiAlign: rois must be [R, 4], got {rois:?}"
        )));
    }
    let nr = rois[0];
    if batch.len() != nr {
        return Err(Error::invalid(format!(
            "RoiAlign: batch_indices has {} entries, rois {nr}",
            batch.len()
        )));
    }
    let mut bi = Vec::with_capacity(nr);
    for &b in batch {
        if b < 0 || b as usize >= x[0] {
            return Err(Error::invalid(format!(
                "RoiAlign: batch index {b} out of range 0..{}",
                x[0]
            )));
        }
        bi.push(b as i32);
    }
    let out = vec![nr, x[1], a.oh, a.ow];
    let total = i32_of(out.iter().product(), "RoiAlign output elements")?;
    i32_of(x.iter().product(), "RoiAlign input elements")?;
    let i = |v: usize| i32_of(v, "RoiAlign size");
    Ok((
        RoiParams {
            spatial_scale: a.spatial_scale,
            n: i(x[0])?,
            c: i(x[1])?,
            h: i(x[2])?,
            w: i(x[3])?,
            oh: i(a.oh)?,
            ow: i(a.ow)?,
            nr: i(nr)?,
            half_pixel: a.half_pixel as i32,
            max: a.max as i32,
            sampling_ratio: i32::try_from(a.sampling_ratio)
                .map_err(|_| Error::invalid("RoiAlign: sampling_ratio exceeds 32 bits"))?,
            total,
        },
        bi,
        out,
    ))
}
