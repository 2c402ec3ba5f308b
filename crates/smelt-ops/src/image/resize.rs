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
            (
                Coord::parse(&a.string_or("coordinate_transformation_mode", "half_pixel".into())?)?,
                Nearest::parse(&a.string_or("nearest_mode", "round_prefer_floor".into())?)?,
            )
        };
        let antialias = a.int_or("antialias", 0)? != 0;
        ensure!(
            !(antialias && mode == Mode::Nearest),
            "antialias is not defined for nearest mode"
        );
        let policy = a.string_or("keep_aspect_ratio_policy", "stretch".into())?;
        ensure!(
            ["stretch", "not_larger", "not_smaller"].contains(&policy.as_str()),
            "unknown keep_aspect_ratio_policy '{policy}'"
        );
        let p = Params {
            mode,
            coord,
            nearest,
            cubic_a: a.float_or("cubic_coeff_a", -0.75)? as f64,
            exclude_outside: a.int_or("exclude_outside", 0)? != 0,
            extrapolation: a.float_or("extrapolation_value", 0.0)? as f64,
            antialias,
        };
        Ok(Box::new(Resize {
            opset: ctx.opset,
            p,
            axes: a.ints("axes")?,
            policy,
        }))
    });
}

/// A float tensor's values as f64 (f32 values widened exactly).
fn floats(t: &Tensor, what: &str) -> Result<Vec<f64>> {
    ensure!(
        t.dtype().is_float(),
        "{what} must be float, got {}",
        t.dtype()
    );
    t.to_f64_vec()
}

impl Op for Resize {
    fn op_type(&self) -> &str {
        "Resize"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let r = x.rank();
        let (roi_t, scales_t, sizes_t) = if self.opset < 11 {
            (None, opt(&inputs, 1), None)
        } else {
            (opt(&inputs, 1), opt(&inputs, 2), opt(&inputs, 3))
        };
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
            ensure!(
                v.len() == 2 * na,
                "roi has {} values, expected {}",
                v.len(),
                2 * na
            );
            for (i, &a) in axes.iter().enumerate() {
                roi[a] = (v[i], v[na + i]);
            }
        }
        let mut scales = vec![1.0f64; r];
        let mut out: Vec<usize> = x.shape().to_vec();
        match (scales_t, sizes_t) {
            (Some(s), None) => {
                let v = floats(s, "scales")?;
                ensure!(
                    v.len() == na,
                    "scales has {} values, expected {na}",
                    v.len()
                );
                for (i, &a) in axes.iter().enumerate() {
                    ensure!(
                        v[i] > 0.0 && v[i].is_finite(),
                        "scales must be positive, got {}",
                        v[i]
                    );
                    scales[a] = v[i];
                    let o = (v[i] * x.shape()[a] as f64).floor();
                    ensure!(
                        o < (1u64 << 40) as f64,
                        "scale {} gives an output dim that is too large",
                        v[i]
                    );
                    out[a] = o as usize;
                }
            }
            (None, Some(s)) => {
                let v = s.to_i64_vec()?;
                ensure!(v.len() == na, "sizes has {} values, expected {na}", v.len());
                ensure!(
                    v.iter().all(|&d| d >= 0),
                    "sizes must be non-negative, got {v:?}"
                );
                for (i, &a) in axes.iter().enumerate() {
                    ensure!(x.shape()[a] > 0, "cannot resize empty axis {a}");
                    scales[a] = v[i] as f64 / x.shape()[a] as f64;
                    out[a] = v[i] as usize;
                }
                if self.policy != "stretch" {
                    let it = axes.iter().map(|&a| scales[a]);
                    let s = if self.policy == "not_larger" {
                        it.fold(f64::INFINITY, f64::min)
                    } else {
                        it.fold(0.0, f64::max)
                    };
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

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::rnn::common::testing::eval;

    fn scales(v: &[f32]) -> Tensor {
        Tensor::from_vec(vec![v.len()], v.to_vec()).unwrap()
    }

    #[test]
    fn opset10_nearest_and_u8_linear() {
        let x = Tensor::from_vec(vec![1, 4], vec![10u8, 20, 30, 40]).unwrap();
        let a = Attributes::new();
        // upsample x2: floor(y / 2)
        let y = eval(
            "Resize",
            10,
            a.clone(),
            vec![Some(x.clone()), Some(scales(&[1.0, 2.0]))],
            1,
        )
        .unwrap();
        assert_eq!(
            y[0].as_slice::<u8>().unwrap(),
            &[10, 10, 20, 20, 30, 30, 40, 40]
        );
        // downsample x0.5: ceil(y / 0.5) = 2y -> 0, 2
        let y = eval(
            "Resize",
            10,
            a,
            vec![Some(x.clone()), Some(scales(&[1.0, 0.5]))],
            1,
        )
        .unwrap();
        assert_eq!(y[0].as_slice::<u8>().unwrap(), &[10, 30]);
        // linear half_pixel on u8 rounds half to even: 10, 12.5, 17.5, 22.5, ...
        let lin = Attributes::new().with("mode", Attr::String("linear".into()));
        let y = eval(
            "Resize",
            13,
            lin,
            vec![Some(x), None, Some(scales(&[1.0, 2.0]))],
            1,
        )
        .unwrap();
        assert_eq!(
            y[0].as_slice::<u8>().unwrap(),
            &[10, 12, 18, 22, 28, 32, 38, 40]
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = Tensor::from_vec(vec![1, 2], vec![1f32, 2.]).unwrap();
        let sizes = Tensor::from_vec(vec![2], vec![1i64, 4]).unwrap();
        let a = Attributes::new();
        assert!(eval(
            "Resize",
            13,
            a.clone(),
            vec![
                Some(x.clone()),
                None,
                Some(scales(&[1.0, 2.0])),
                Some(sizes.clone())
            ],
            1
        )
        .is_err());
        assert!(eval(
            "Resize",
            13,
            a.clone(),
            vec![Some(x.clone()), None, Some(scales(&[2.0]))],
            1
        )
        .is_err());
        assert!(eval(
            "Resize",
            13,
            a.clone(),
            vec![Some(x.clone()), None, Some(scales(&[1.0, -2.0]))],
            1
        )
        .is_err());
        assert!(eval(
            "Resize",
            13,
            a.clone(),
            vec![Some(x.clone()), None, Some(scales(&[1.0, 1e30]))],
            1
        )
        .is_err());
        assert!(eval("Resize", 13, a, vec![Some(x.clone()), None, None], 1).is_err());
        let bad = Attributes::new()
            .with("mode", Attr::String("nearest".into()))
            .with("antialias", Attr::Int(1));
        assert!(eval(
            "Resize",
            18,
            bad,
            vec![Some(x.clone()), None, None, Some(sizes.clone())],
            1
        )
        .is_err());
        let axes = Attributes::new().with("axes", Attr::Ints(vec![1, -1]));
        assert!(eval(
            "Resize",
            18,
            axes,
            vec![Some(x), None, None, Some(sizes)],
            1
        )
        .is_err());
    }

    #[test]
    fn upsample_attribute_and_input_forms() {
        let x = Tensor::from_vec(vec![2, 2], vec![1f32, 2., 3., 4.]).unwrap();
        let a7 = Attributes::new().with("scales", Attr::Floats(vec![1.0, 2.0]));
        let y7 = eval("Upsample", 7, a7, vec![Some(x.clone())], 1).unwrap();
        let y9 = eval(
            "Upsample",
            9,
            Attributes::new(),
            vec![Some(x), Some(scales(&[1.0, 2.0]))],
            1,
        )
        .unwrap();
        assert_eq!(
            y7[0].as_slice::<f32>().unwrap(),
            &[1., 1., 2., 2., 3., 3., 4., 4.]
        );
        assert_eq!(
            y7[0].as_slice::<f32>().unwrap(),
            y9[0].as_slice::<f32>().unwrap()
        );
    }
}
