//! Separable 1-D resampling used by Resize and Upsample: for each output position along an
//! axis, a set of neighbour indices (clamped to the input, edge padding) and weights, then
//! the weighted sum applied axis by axis in f64.
//!
//! The coordinate mapping and weight formulas follow the ONNX Resize definition.

use crate::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Nearest,
    Linear,
    Cubic,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Coord {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfCropAndResize,
    /// Opset 11 only: (y + 0.5) / scale.
    TfHalfPixelForNn,
}

impl Coord {
    pub fn parse(s: &str) -> Result<Coord> {
        Ok(match s {
            "half_pixel" => Coord::HalfPixel,
            "half_pixel_symmetric" => Coord::HalfPixelSymmetric,
            "pytorch_half_pixel" => Coord::PytorchHalfPixel,
            "align_corners" => Coord::AlignCorners,
            "asymmetric" => Coord::Asymmetric,
            "tf_crop_and_resize" => Coord::TfCropAndResize,
            "tf_half_pixel_for_nn" => Coord::TfHalfPixelForNn,
            _ => bail!("unknown coordinate_transformation_mode '{s}'"),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nearest {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
    /// Resize-10 / Upsample: floor when upsampling, ceil when downsampling.
    Simple,
}

impl Nearest {
    pub fn parse(s: &str) -> Result<Nearest> {
        Ok(match s {
            "round_prefer_floor" => Nearest::RoundPreferFloor,
            "round_prefer_ceil" => Nearest::RoundPreferCeil,
            "floor" => Nearest::Floor,
            "ceil" => Nearest::Ceil,
            _ => bail!("unknown nearest_mode '{s}'"),
        })
    }
}

/// Everything that decides the weights along one axis.
#[derive(Clone, Debug)]
pub struct Params {
    pub mode: Mode,
    pub coord: Coord,
    pub nearest: Nearest,
    pub cubic_a: f64,
    pub exclude_outside: bool,
    pub extrapolation: f64,
    pub antialias: bool,
}

/// Weights for one output position: `n` neighbours starting `offset` before floor(x).
fn coeffs(p: &Params, ratio: f64, scale: f64) -> Vec<f64> {
    match p.mode {
        Mode::Nearest => {
            if ratio.fract() == 0.0 {
                return vec![0.0, 1.0];
            }
            let up = match p.nearest {
                Nearest::RoundPreferFloor => ratio > 0.5,
                Nearest::RoundPreferCeil => ratio >= 0.5,
                Nearest::Floor => false,
                Nearest::Ceil => true,
                Nearest::Simple => scale < 1.0,
            };
            if up {
                vec![0.0, 1.0]
            } else {
                vec![1.0, 0.0]
            }
        }
        Mode::Linear if p.antialias => {
            let s = scale.min(1.0);
            let start = (-1.0 / s).floor() as i64 + 1;
            let n = 2 - 2 * start;
            let c: Vec<f64> = (start..start + n)
                .map(|k| (1.0 - ((k as f64 - ratio) * s).abs()).clamp(0.0, 1.0))
                .collect();
            let sum: f64 = c.iter().sum();
            c.into_iter().map(|v| v / sum).collect()
        }
        Mode::Linear => vec![1.0 - ratio, ratio],
        Mode::Cubic if p.antialias => {
            let s = scale.min(1.0);
            let a = p.cubic_a;
            let f = |x: f64| {
                let x = x.abs();
                let (x2, x3) = (x * x, x * x * x);
                if x <= 1.0 {
                    (a + 2.0) * x3 - (a + 3.0) * x2 + 1.0
                } else if x < 2.0 {
                    a * x3 - 5.0 * a * x2 + 8.0 * a * x - 4.0 * a
                } else {
                    0.0
                }
            };
            let start = (-2.0 / s).floor() as i64 + 1;
            let end = 2 - start;
            let c: Vec<f64> = (start..end).map(|i| f(s * (i as f64 - ratio))).collect();
            let sum: f64 = c.iter().sum();
            c.into_iter().map(|v| v / sum).collect()
        }
        Mode::Cubic => {
            let a = p.cubic_a;
            let r = ratio;
            let q = 1.0 - r;
            vec![
                ((a * (r + 1.0) - 5.0 * a) * (r + 1.0) + 8.0 * a) * (r + 1.0) - 4.0 * a,
                ((a + 2.0) * r - (a + 3.0)) * r * r + 1.0,
                ((a + 2.0) * q - (a + 3.0)) * q * q + 1.0,
                ((a * (q + 1.0) - 5.0 * a) * (q + 1.0) + 8.0 * a) * (q + 1.0) - 4.0 * a,
            ]
        }
    }
}

/// The resampling of one axis: `n` (index, weight) pairs per output position.
pub struct AxisPlan {
    pub out: usize,
    pub n: usize,
    pub idx: Vec<usize>,
    pub w: Vec<f64>,
    /// Output positions whose source lies outside the crop (tf_crop_and_resize only).
    pub extrapolated: Vec<bool>,
}

/// Plans an axis of `input` elements resized to `out` with `scale`; `roi` is (start, end)
/// for tf_crop_and_resize.
pub fn plan(p: &Params, input: usize, out: usize, scale: f64, roi: (f64, f64)) -> Result<AxisPlan> {
    ensure!(
        input > 0 || out == 0,
        "cannot resize an empty axis to {out}"
    );
    let in_f = input as f64;
    let out_f = scale * in_f;
    let mut idx = vec![];
    let mut w = vec![];
    let mut extrapolated = vec![false; out];
    let mut n = 0;
    for (y, ex) in extrapolated.iter_mut().enumerate() {
        let yf = y as f64;
        let x = match p.coord {
            Coord::AlignCorners => {
                if out_f == 1.0 {
                    0.0
                } else {
                    yf * (in_f - 1.0) / (out_f - 1.0)
                }
            }
            Coord::Asymmetric => yf / scale,
            Coord::TfCropAndResize => {
                let x = if out_f == 1.0 {
                    (roi.1 - roi.0) * (in_f - 1.0) / 2.0
                } else {
                    yf * (roi.1 - roi.0) * (in_f - 1.0) / (out_f - 1.0)
                };
                let x = x + roi.0 * (in_f - 1.0);
                *ex = x < 0.0 || x > in_f - 1.0;
                x
            }
            Coord::PytorchHalfPixel => {
                if out_f == 1.0 {
                    -0.5
                } else {
                    (yf + 0.5) / scale - 0.5
                }
            }
            Coord::HalfPixel => (yf + 0.5) / scale - 0.5,
            Coord::TfHalfPixelForNn => (yf + 0.5) / scale,
            Coord::HalfPixelSymmetric => {
                let adj = out as f64 / out_f;
                let offset = in_f / 2.0 * (1.0 - adj);
                offset + (yf + 0.5) / scale - 0.5
            }
        };
        let fl = x.floor();
        let ratio = if x == fl { 1.0 } else { x - fl };
        let mut c = coeffs(p, ratio, scale);
        n = c.len();
        let frac = x - fl;
        let offset: i64 = if n % 2 == 0 {
            if frac == 0.0 {
                -(n as i64 / 2)
            } else {
                -(n as i64 / 2) + 1
            }
        } else {
            let base = -((n as i64 - 1) / 2);
            if frac <= 0.5 {
                base
            } else {
                base + 1
            }
        };
        let start = fl as i64 + offset;
        if p.exclude_outside {
            for (k, v) in c.iter_mut().enumerate() {
                let i = start + k as i64;
                if i < 0 || i >= input as i64 {
                    *v = 0.0;
                }
            }
            let s: f64 = c.iter().sum();
            let s = if s == 0.0 { 1.0 } else { s };
            c.iter_mut().for_each(|v| *v /= s);
        }
        for (k, v) in c.into_iter().enumerate() {
            idx.push((start + k as i64).clamp(0, input as i64 - 1) as usize);
            w.push(v);
        }
    }
    Ok(AxisPlan {
        out,
        n,
        idx,
        w,
        extrapolated,
    })
}

/// Applies a plan along `axis` of `data` (row-major `shape`), returning the new data.
pub fn apply(
    data: &[f64],
    shape: &[usize],
    axis: usize,
    pl: &AxisPlan,
    extrapolation: f64,
) -> Vec<f64> {
    let outer = numel(&shape[..axis]);
    let inner = numel(&shape[axis + 1..]);
    let dim = shape[axis];
    let mut out = vec![0.0; outer * pl.out * inner];
    for o in 0..outer {
        let src = &data[o * dim * inner..][..dim * inner];
        let dst = &mut out[o * pl.out * inner..][..pl.out * inner];
        for y in 0..pl.out {
            let row = &mut dst[y * inner..][..inner];
            if pl.extrapolated[y] {
                row.iter_mut().for_each(|v| *v = extrapolation);
                continue;
            }
            for k in 0..pl.n {
                let (i, wt) = (pl.idx[y * pl.n + k], pl.w[y * pl.n + k]);
                if wt == 0.0 {
                    continue;
                }
                for (d, s) in row.iter_mut().zip(&src[i * inner..][..inner]) {
                    *d += wt * s;
                }
            }
        }
    }
    out
}

/// f64 values back to `dtype`: integers round half to even and saturate.
pub fn from_f64(dtype: DType, shape: Vec<usize>, v: Vec<f64>) -> Result<Tensor> {
    fn r(x: f64) -> f64 {
        let t = x.round();
        if (x - x.trunc()).abs() == 0.5 {
            2.0 * (x / 2.0).round()
        } else {
            t
        }
    }
    macro_rules! ints {
        ($t:ty) => {
            Tensor::from_vec(
                shape,
                v.into_iter()
                    .map(|x| r(x).clamp(<$t>::MIN as f64, <$t>::MAX as f64) as $t)
                    .collect::<Vec<$t>>(),
            )
        };
    }
    match dtype {
        DType::F32 => Tensor::from_vec(shape, v.into_iter().map(|x| x as f32).collect::<Vec<_>>()),
        DType::F64 => Tensor::from_vec(shape, v),
        DType::F16 => Tensor::from_vec(shape, v.into_iter().map(f16::from_f64).collect::<Vec<_>>()),
        DType::BF16 => {
            Tensor::from_vec(shape, v.into_iter().map(bf16::from_f64).collect::<Vec<_>>())
        }
        DType::I8 => ints!(i8),
        DType::U8 => ints!(u8),
        DType::I16 => ints!(i16),
        DType::U16 => ints!(u16),
        DType::I32 => ints!(i32),
        DType::U32 => ints!(u32),
        DType::I64 => ints!(i64),
        DType::U64 => ints!(u64),
        d => Err(Error::dtype(d, "resize")),
    }
}

/// Resizes `x` to `out_shape` with per-axis `scales`, processing `axes` in order.
/// `roi` holds (start, end) per axis of x.
pub fn resize(
    x: &Tensor,
    p: &Params,
    out_shape: &[usize],
    scales: &[f64],
    roi: &[(f64, f64)],
    axes: &[usize],
) -> Result<Tensor> {
    ensure!(
        x.dtype().is_numeric(),
        "resize of {} is not supported",
        x.dtype()
    );
    let total = out_shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= 1 << 40);
    ensure!(
        total.is_some(),
        "resize output shape {out_shape:?} is too large"
    );
    let mut data = x.to_f64_vec()?;
    let mut shape = x.shape().to_vec();
    for &a in axes {
        let unit_roi = roi[a].0 == 0.0 && roi[a].1 == 1.0;
        if (scales[a] - 1.0).abs() < 1e-9
            && out_shape[a] == shape[a]
            && (p.coord != Coord::TfCropAndResize || unit_roi)
        {
            continue;
        }
        let pl = plan(p, shape[a], out_shape[a], scales[a], roi[a])?;
        data = apply(&data, &shape, a, &pl, p.extrapolation);
        shape[a] = out_shape[a];
    }
    from_f64(x.dtype(), shape, data)
}
