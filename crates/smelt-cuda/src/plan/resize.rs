//! Resize as one resampling pass per resized axis, with the CPU op's axis plans
//! (`smelt_ops::image::resample::plan`: source indices and weights per output position),
//! so every mode and coordinate transform computes the same function on both backends.
//! `axes` (opset 18) and the keep_aspect_ratio_policy are planned as the CPU op plans them
//! (the listed axes resampled in the given order); tf_crop_and_resize with its roi, output
//! positions outside the crop set to extrapolation_value after each pass.

use super::i32_of;
use smelt_core::{Error, Result};
use smelt_ir::Node;
use smelt_ops::image::resample::{self, Coord, Mode, Nearest, Params};

#[derive(Clone, Debug)]
pub struct ResizeAttrs {
    pub p: Params,
    /// The opset-10 form (inputs X, scales): asymmetric coordinates, "simple" nearest.
    pub opset10: bool,
    /// The `axes` attribute: scales / sizes cover only these, in this order.
    pub axes: Option<Vec<i64>>,
    /// keep_aspect_ratio_policy: "stretch", "not_larger" or "not_smaller" (with sizes).
    pub policy: String,
}

impl ResizeAttrs {
    pub fn parse(node: &Node) -> std::result::Result<ResizeAttrs, String> {
        let a = &node.attrs;
        let e = |e: Error| e.to_string();
        let policy = a
            .string_or("keep_aspect_ratio_policy", "stretch".into())
            .map_err(e)?;
        if !["stretch", "not_larger", "not_smaller"].contains(&policy.as_str()) {
            return Err(format!("unknown keep_aspect_ratio_policy '{policy}'"));
        }
        let mode = match a.string_or("mode", "nearest".into()).map_err(e)?.as_str() {
            "nearest" => Mode::Nearest,
            "linear" | "bilinear" | "trilinear" => Mode::Linear,
            "cubic" | "bicubic" => Mode::Cubic,
            m => return Err(format!("unknown Resize mode '{m}'")),
        };
        // opset 10 has inputs (X, scales); later opsets (X, roi, scales[, sizes])
        let opset10 = node.inputs.len() == 2;
        let (coord, nearest) = if opset10 {
            (Coord::Asymmetric, Nearest::Simple)
        } else {
            (
                Coord::parse(
                    &a.string_or("coordinate_transformation_mode", "half_pixel".into())
                        .map_err(e)?,
                )
                .map_err(e)?,
                Nearest::parse(
                    &a.string_or("nearest_mode", "round_prefer_floor".into())
                        .map_err(e)?,
                )
                .map_err(e)?,
            )
        };
        let antialias = a.int_or("antialias", 0).map_err(e)? != 0;
        if antialias && mode == Mode::Nearest {
            return Err("antialias is not defined for nearest mode".into());
        }
        Ok(ResizeAttrs {
            p: Params {
                mode,
                coord,
                nearest,
                cubic_a: a.float_or("cubic_coeff_a", -0.75).map_err(e)? as f64,
                exclude_outside: a.int_or("exclude_outside", 0).map_err(e)? != 0,
                extrapolation: a.float_or("extrapolation_value", 0.0).map_err(e)? as f64,
                antialias,
            },
            opset10,
            axes: a.ints("axes").map_err(e)?,
            policy,
        })
    }
}

/// One resampling pass: x [outer, dim, inner] to y [outer, out, inner], each output
/// position the weighted sum of `n` source positions (`idx`, `w`: out x n).
#[derive(Clone, Debug, PartialEq)]
pub struct AxisStep {
    pub axis: usize,
    pub outer: usize,
    pub dim: usize,
    pub inner: usize,
    pub out: usize,
    pub n: usize,
    pub idx: Vec<i32>,
    pub w: Vec<f32>,
    /// Per output position, 1 where it lies outside the crop (tf_crop_and_resize): set to
    /// `fill` after the pass. Empty when there is none.
    pub extrap: Vec<i32>,
    pub fill: f32,
}

/// The passes and the output shape for x of `shape` with `scales` (floats) or `sizes`, and
/// `roi` (tf_crop_and_resize: starts then ends of the listed axes).
pub fn plan(
    a: &ResizeAttrs,
    shape: &[usize],
    scales: Option<Vec<f64>>,
    sizes: Option<Vec<i64>>,
    roi: Option<Vec<f64>>,
) -> Result<(Vec<AxisStep>, Vec<usize>)> {
    let r = shape.len();
    let axes: Vec<usize> = match &a.axes {
        Some(v) => smelt_ops::util::norm_axes(v, r)?,
        None => (0..r).collect(),
    };
    let na = axes.len();
    let mut rois = vec![(0.0, 1.0); r];
    if let Some(v) = roi.filter(|v| !v.is_empty()) {
        if v.len() != 2 * na {
            return Err(Error::invalid(format!(
                "roi has {} values, expected {}",
                v.len(),
                2 * na
            )));
        }
        for (i, &d) in axes.iter().enumerate() {
            rois[d] = (v[i], v[na + i]);
        }
    }
    let mut sc = vec![1.0f64; r];
    let mut out = shape.to_vec();
    match (
        scales.filter(|s| !s.is_empty()),
        sizes.filter(|s| !s.is_empty()),
    ) {
        (Some(s), None) => {
            if s.len() != na {
                return Err(Error::invalid(format!(
                    "scales has {} values, expected {na}",
                    s.len()
                )));
            }
            for (i, &d) in axes.iter().enumerate() {
                if !(s[i] > 0.0 && s[i].is_finite()) {
                    return Err(Error::invalid(format!(
                        "scales must be positive, got {}",
                        s[i]
                    )));
                }
                sc[d] = s[i];
                out[d] = (s[i] * shape[d] as f64).floor() as usize;
            }
        }
        (None, Some(s)) => {
            if s.len() != na || s.iter().any(|&v| v < 0) {
                return Err(Error::invalid(format!("sizes {s:?} for {na} axes")));
            }
            for (i, &d) in axes.iter().enumerate() {
                if shape[d] == 0 {
                    return Err(Error::invalid(format!("cannot resize empty axis {d}")));
                }
                sc[d] = s[i] as f64 / shape[d] as f64;
                out[d] = s[i] as usize;
            }
            if a.policy != "stretch" {
                let it = axes.iter().map(|&d| sc[d]);
                let k = if a.policy == "not_larger" {
                    it.fold(f64::INFINITY, f64::min)
                } else {
                    it.fold(0.0, f64::max)
                };
                for &d in &axes {
                    sc[d] = k;
                    out[d] = (k * shape[d] as f64 + 0.5) as usize;
                }
            }
        }
        (Some(_), Some(_)) => {
            return Err(Error::invalid("only one of scales and sizes may be given"))
        }
        (None, None) => return Err(Error::invalid("one of scales and sizes must be given")),
    }
    i32_of(out.iter().product(), "Resize output size")?;
    let mut steps = Vec::new();
    let mut cur = shape.to_vec();
    for &d in &axes {
        let unit_roi = rois[d] == (0.0, 1.0);
        if (sc[d] - 1.0).abs() < 1e-9
            && out[d] == cur[d]
            && (a.p.coord != Coord::TfCropAndResize || unit_roi)
        {
            continue; // as the CPU op: an axis kept as it is is not resampled
        }
        let pl = resample::plan(&a.p, cur[d], out[d], sc[d], rois[d])?;
        let extrap: Vec<i32> = if pl.extrapolated.iter().any(|&e| e) {
            pl.extrapolated.iter().map(|&e| e as i32).collect()
        } else {
            Vec::new()
        };
        i32_of(cur.iter().product(), "Resize intermediate size")?;
        steps.push(AxisStep {
            axis: d,
            outer: cur[..d].iter().product(),
            dim: cur[d],
            inner: cur[d + 1..].iter().product(),
            out: out[d],
            n: pl.n,
            idx: pl.idx.iter().map(|&i| i as i32).collect(),
            w: pl.w.iter().map(|&w| w as f32).collect(),
            extrap,
            fill: a.p.extrapolation as f32,
        });
        cur[d] = out[d];
    }
    Ok((steps, out))
}
