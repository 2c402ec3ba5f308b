//! RoiAlign: X [N, C, H, W], rois [R, 4] (x1, y1, x2, y2 in input coordinates before
//! `spatial_scale`), batch_indices [R] -> Y [R, C, output_height, output_width].
//! Each bin averages (mode avg) or takes the max (mode max, of the weighted corner values) of
//! sampling_ratio^2 bilinear samples (adaptive ceil(roi / bins) when sampling_ratio is 0).
//! Opset 10: output_half_pixel only; opset 16 adds coordinate_transformation_mode
//! (default half_pixel: shifts by -0.5 and allows rois smaller than a pixel). Float dtypes.

use crate::prelude::*;

#[derive(Debug)]
pub struct RoiAlign {
    half_pixel: bool,
    max: bool,
    oh: usize,
    ow: usize,
    sampling_ratio: i64,
    spatial_scale: f64,
}

/// Whether RoiAlign's coordinates are half_pixel: `coordinate_transformation_mode`, by
/// default output_half_pixel before opset 16 and half_pixel from 16.
pub fn half_pixel(opset: i64, a: &crate::prelude::Attributes) -> Result<bool> {
    let ctm = a.string_or(
        "coordinate_transformation_mode",
        if opset < 16 {
            "output_half_pixel"
        } else {
            "half_pixel"
        }
        .into(),
    )?;
    Ok(match ctm.as_str() {
        "half_pixel" => true,
        "output_half_pixel" => false,
        m => bail!("unknown coordinate_transformation_mode '{m}'"),
    })
}

pub fn register(r: &mut Registry) {
    r.register("", "RoiAlign", |ctx| {
        let a = ctx.attrs;
        let half_pixel = half_pixel(ctx.opset, a)?;
        let max = match a.string_or("mode", "avg".into())?.as_str() {
            "avg" => false,
            "max" => true,
            m => bail!("unknown RoiAlign mode '{m}'"),
        };
        let oh = a.int_or("output_height", 1)?;
        let ow = a.int_or("output_width", 1)?;
        ensure!(
            oh >= 1 && ow >= 1,
            "output_height / output_width must be >= 1 (got {oh}, {ow})"
        );
        let sampling_ratio = a.int_or("sampling_ratio", 0)?;
        ensure!(
            sampling_ratio >= 0,
            "sampling_ratio must be >= 0, got {sampling_ratio}"
        );
        Ok(Box::new(RoiAlign {
            half_pixel,
            max,
            oh: oh as usize,
            ow: ow as usize,
            sampling_ratio,
            spatial_scale: a.float_or("spatial_scale", 1.0)? as f64,
        }))
    });
}

impl Op for RoiAlign {
    fn op_type(&self) -> &str {
        "RoiAlign"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let rois = req(&inputs, 1)?;
        let bi = req(&inputs, 2)?;
        ensure!(
            x.dtype().is_float() && rois.dtype().is_float(),
            "RoiAlign takes float X and rois"
        );
        ensure!(x.rank() == 4, "X must be [N, C, H, W], got {:?}", x.shape());
        ensure!(
            rois.rank() == 2 && rois.shape()[1] == 4,
            "rois must be [R, 4], got {:?}",
            rois.shape()
        );
        let nr = rois.shape()[0];
        let bidx = bi.to_i64_vec()?;
        ensure!(
            bidx.len() == nr,
            "batch_indices has {} entries, rois {nr}",
            bidx.len()
        );
        let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let xs = x.to_f64_vec()?;
        let rs = rois.to_f64_vec()?;
        let (oh, ow) = (self.oh, self.ow);
        let mut out = vec![0.0; nr * c * oh * ow];
        for r in 0..nr {
            let b = bidx[r];
            ensure!(
                b >= 0 && (b as usize) < n,
                "batch index {b} out of range 0..{n}"
            );
            let b = b as usize;
            let off = if self.half_pixel { 0.5 } else { 0.0 };
            let roi = &rs[r * 4..][..4];
            let (sw, sh) = (
                roi[0] * self.spatial_scale - off,
                roi[1] * self.spatial_scale - off,
            );
            let (ew, eh) = (
                roi[2] * self.spatial_scale - off,
                roi[3] * self.spatial_scale - off,
            );
            let (mut rw, mut rh) = (ew - sw, eh - sh);
            if !self.half_pixel {
                rw = rw.max(1.0);
                rh = rh.max(1.0);
            }
            let (bh, bw) = (rh / oh as f64, rw / ow as f64);
            let gh = if self.sampling_ratio > 0 {
                self.sampling_ratio as usize
            } else {
                (rh / oh as f64).ceil().max(0.0) as usize
            };
            let gw = if self.sampling_ratio > 0 {
                self.sampling_ratio as usize
            } else {
                (rw / ow as f64).ceil().max(0.0) as usize
            };
            let count = (gh * gw).max(1) as f64;
            // (positions, weights) of every sample of every bin
            let mut pre = Vec::with_capacity(oh * ow * gh * gw);
            for ph in 0..oh {
                for pw in 0..ow {
                    for iy in 0..gh {
                        let mut y = sh + ph as f64 * bh + (iy as f64 + 0.5) * bh / gh as f64;
                        for ix in 0..gw {
                            let mut xx = sw + pw as f64 * bw + (ix as f64 + 0.5) * bw / gw as f64;
                            if y < -1.0
                                || y > h as f64
                                || xx < -1.0
                                || xx > w as f64
                                || h == 0
                                || w == 0
                            {
                                pre.push(([0usize; 4], [0.0f64; 4]));
                                continue;
                            }
                            let yv = y.max(0.0);
                            xx = xx.max(0.0);
                            y = yv;
                            let (mut yl, mut xl) = (y as usize, xx as usize);
                            let (yh, xh);
                            if yl >= h - 1 {
                                yl = h - 1;
                                yh = yl;
                                y = yl as f64;
                            } else {
                                yh = yl + 1;
                            }
                            if xl >= w - 1 {
                                xl = w - 1;
                                xh = xl;
                                xx = xl as f64;
                            } else {
                                xh = xl + 1;
                            }
                            let (ly, lx) = (y - yl as f64, xx - xl as f64);
                            let (hy, hx) = (1.0 - ly, 1.0 - lx);
                            pre.push((
                                [yl * w + xl, yl * w + xh, yh * w + xl, yh * w + xh],
                                [hy * hx, hy * lx, ly * hx, ly * lx],
                            ));
                        }
                    }
                }
            }
            for ch in 0..c {
                let src = &xs[(b * c + ch) * h * w..][..h * w];
                let mut pi = 0;
                for bin in 0..oh * ow {
                    let mut acc = 0.0;
                    let mut first = true;
                    for _ in 0..gh * gw {
                        let (p, wt) = &pre[pi];
                        pi += 1;
                        if self.max {
                            let v = (0..4)
                                .map(|k| wt[k] * src[p[k]])
                                .fold(f64::NEG_INFINITY, f64::max);
                            acc = if first { v } else { acc.max(v) };
                            first = false;
                        } else {
                            acc += (0..4).map(|k| wt[k] * src[p[k]]).sum::<f64>();
                        }
                    }
                    if !self.max {
                        acc /= count;
                    }
                    out[((r * c + ch) * oh * ow) + bin] = acc;
                }
            }
        }
        super::resample::from_f64(x.dtype(), vec![nr, c, oh, ow], out).map(|t| vec![t])
    }
}
