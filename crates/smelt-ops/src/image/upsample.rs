//! Upsample (opset 7: `scales` attribute; opset 9: `scales` input; removed in 10):
//! output = floor(in * scale) per axis, scales >= 1, modes nearest / linear with
//! asymmetric coordinates (as Resize-10). Any numeric dtype.

use super::resample::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Upsample {
    p: Params,
    scales: Option<Vec<f32>>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Upsample", |ctx| {
        let a = ctx.attrs;
        let mode = match a.string_or("mode", "nearest".into())?.as_str() {
            "nearest" => Mode::Nearest,
            "linear" | "bilinear" => Mode::Linear,
            m => bail!("unknown Upsample mode '{m}'"),
        };
        let scales = if ctx.opset < 9 {
            Some(
                a.floats("scales")?
                    .ok_or_else(|| Error::invalid("missing floats attribute 'scales'"))?,
            )
        } else {
            None
        };
        let p = Params {
            mode,
            coord: Coord::Asymmetric,
            nearest: Nearest::Simple,
            cubic_a: -0.75,
            exclude_outside: false,
            extrapolation: 0.0,
            antialias: false,
        };
        Ok(Box::new(Upsample { p, scales }))
    });
}

impl Op for Upsample {
    fn op_type(&self) -> &str {
        "Upsample"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let scales: Vec<f64> = match &self.scales {
            Some(s) => s.iter().map(|&v| v as f64).collect(),
            None => {
                let t = req(&inputs, 1)?;
                ensure!(
                    t.dtype().is_float(),
                    "scales must be float, got {}",
                    t.dtype()
                );
                t.to_f64_vec()?
            }
        };
        ensure!(
            scales.len() == x.rank(),
            "scales has {} values for rank {}",
            scales.len(),
            x.rank()
        );
        ensure!(
            scales.iter().all(|&s| s >= 1.0 && s.is_finite()),
            "Upsample scales must be >= 1, got {scales:?}"
        );
        let out: Vec<usize> = x
            .shape()
            .iter()
            .zip(&scales)
            .map(|(&d, &s)| (d as f64 * s).floor() as usize)
            .collect();
        let roi = vec![(0.0, 1.0); x.rank()];
        let axes: Vec<usize> = (0..x.rank()).collect();
        Ok(vec![resize(x, &self.p, &out, &scales, &roi, &axes)?])
    }
}
