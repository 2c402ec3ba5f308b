//! Resize: X resized by `scales` (output = floor(in * scale)) or to `sizes`.
//!
//! Opset 10: inputs (X, scales); nearest / linear with asymmetric coordinates (nearest
//! floors when upsampling, ceils when downsampling). Opset 11+: inputs (X, roi, scales,
//! sizes), exactly one of scales / sizes non-empty; attributes coordinate_transformation_mode
//! (default half_pixel), cubic_coeff_a (-0.75), exclude_outside, extrapolation_value (for
//! tf_crop_and_resize), mode (nearest / linear / cubic), nearest_mode (round_prefer_floor).
//! Opset 18+: `antialias` (linear / cubic), `axes` (scales / sizes / roi then cover only those
//! axes, processed in the given order), `keep_aspect_ratio_policy` (stretch / not_larger /
//! not_smaller, with sizes). Opset 19 adds half_pixel_symmetric.
//! Any numeric dtype; computed in f64, integers rounded half to even and saturated.

use super::resample::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Resize {
    opset: i64,
    p: Params,
    axes: Option<Vec<i64>>,
    policy: String,
}

pub fn register(r: &mut Registry) {
    r.register("", "Resize", |ctx| {
        let a = ctx.attrs;
        let mode = match a.string_or("mode", "nearest".into())?.as_str() {
            "nearest" => Mode::Nearest,
            "linear" | "bilinear" | "trilinear" => Mode::Linear,
            "cubic" | "bicubic" => Mode::Cubic,
            m => bail!("unknown Resize mode '{m}'"),
        };
        let (coord, nearest) = if ctx.opset < 11 {
            (Coord::Asymmetric, Nearest::Simple)
        } else {
            (Coord::parse(&a.string_or("coordinate_transformation_mode", "half_pixel".into())?)?, Nearest::parse(&a.string_or("nearest_mode", "round_prefer_floor".into())?)?)
        };
        let antialias = a.int_or("antialias", 0)? != 0;
        ensure!(!(antialias && mode == Mode::Nearest), "antialias is not defined for nearest mode");
        let policy = a.string_or("keep_aspect_ratio_policy", "stretch".into())?;
        ensure!(["stretch", "not_larger", "not_smaller"].contains(&policy.as_str()), "unknown keep_aspect_ratio_policy '{policy}'");
        let p = Params {
            mode,
            coord,
            nearest,
            cubic_a: a.float_or("cubic_coeff_a", -0.75)? as f64,
            exclude_outside: a.int_or("exclude_outside", 0)? != 0,
            extrapolation: a.float_or("extrapolation_value", 0.0)? as f64,
            antialias,
        };
        Ok(Box::new(Resize { opset: ctx.opset, p, axes: a.ints("axes")?, policy }))
    });
}

/// A float tensor's values as f64 (f32 values widened exactly).
fn floats(t: &Tensor, what: &str) -> Result<Vec<f64>> {
    ensure!(t.dtype().is_float(), "{what} must be float, got {}", t.dtype());
    t.to_f64_vec()
}

impl Op for Resize {
    fn op_type(&self) -> &str {
        "Resize"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let r = x.rank();
        let (roi_t, scales_t, sizes_t) = if self.opset < 11 { (None, opt(&inputs, 1), None) } else { (opt(&inputs, 1), opt(&inputs, 2), opt(&inputs, 3)) };
        let scales_t = scales_t.filter(|t| !t.is_empty());
        let sizes_t = sizes_t.filter(|t| !t.is_empty());
        let axes: Vec<usize> = match &self.axes {
            Some(a) => norm_axes(a, r)?,
            None => (0..r).collect(),
        };
        let na = axes.len();
        // roi per axis of x, default (0, 1)
        let mut roi = vec![(0.0, 1.0); r];
        if let Some(t) = roi_t.filter(|t| !t.is_empty()) {
            let v = floats(t, "roi")?;
            ensure!(v.len() == 2 * na, "roi has {} values, expected {}", v.len(), 2 * na);
            for (i, &a) in axes.iter().enumerate() {
                roi[a] = (v[i], v[na + i]);
            }
        }
        let mut scales = vec![1.0f64; r];
        let mut out: Vec<usize> = x.shape().to_vec();
        match (scales_t, sizes_t) {
            (Some(s), None) => {
                let v = floats(s, "scales")?;
                ensure!(v.len() == na, "scales has {} values, expected {na}", v.len());
                for (i, &a) in axes.iter().enumerate() {
                    ensure!(v[i] > 0.0 && v[i].is_finite(), "scales must be positive, got {}", v[i]);
                    scales[a] = v[i];
                    out[a] = (v[i] * x.shape()[a] as f64).floor() as usize;
                }
            }
            (None, Some(s)) => {
                let v = s.to_i64_vec()?;
                ensure!(v.len() == na, "sizes has {} values, expected {na}", v.len());
                ensure!(v.iter().all(|&d| d >= 0), "sizes must be non-negative, got {v:?}");
                for (i, &a) in axes.iter().enumerate() {
                    ensure!(x.shape()[a] > 0, "cannot resize empty axis {a}");
                    scales[a] = v[i] as f64 / x.shape()[a] as f64;
                    out[a] = v[i] as usize;
                }
                if self.policy != "stretch" {
                    let it = axes.iter().map(|&a| scales[a]);
                    let s = if self.policy == "not_larger" { it.fold(f64::INFINITY, f64::min) } else { it.fold(0.0, f64::max) };
                    for &a in &axes {
                        scales[a] = s;
                        out[a] = (s * x.shape()[a] as f64 + 0.5) as usize;
                    }
                }
            }
            (Some(_), Some(_)) => bail!("only one of scales and sizes may be given"),
            (None, None) => bail!("one of scales and sizes must be given"),
        }
        Ok(vec![resize(x, &self.p, &out, &scales, &roi, &axes)?])
    }
}
