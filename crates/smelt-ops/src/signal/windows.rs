//! HannWindow, HammingWindow, BlackmanWindow (opset 17): a 1-D window of `size` (int scalar
//! input) samples, of dtype `output_datatype` (default float). With `periodic` (default 1)
//! the denominator is N, otherwise N−1 (symmetric window).
//! Hann: 0.5 − 0.5·cos(2πn/D); Hamming: α − (1−α)·cos(2πn/D), α = 25/46;
//! Blackman: 0.42 − 0.5·cos(2πn/D) + 0.08·cos(4πn/D).

use crate::prelude::*;
use crate::signal::{dft::scalar_i64, from_f64_any};
use std::f64::consts::PI;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Hann,
    Hamming,
    Blackman,
}

#[derive(Debug)]
pub struct Window {
    kind: Kind,
    periodic: bool,
    dtype: DType,
}

fn factory(kind: Kind, c: &OpCtx) -> Result<Box<dyn Op>> {
    let dtype = dtype_from_onnx(c.attrs.int_or("output_datatype", 1)?)?;
    ensure!(
        dtype.is_numeric(),
        "window: output_datatype must be numeric, got {dtype}"
    );
    Ok(Box::new(Window {
        kind,
        periodic: c.attrs.int_or("periodic", 1)? != 0,
        dtype,
    }))
}

pub fn register(r: &mut Registry) {
    r.register("", "HannWindow", |c| factory(Kind::Hann, c));
    r.register("", "HammingWindow", |c| factory(Kind::Hamming, c));
    r.register("", "BlackmanWindow", |c| factory(Kind::Blackman, c));
}

/// Window values of length `n` as f64.
pub(crate) fn window_values(kind_name: &str, n: usize, periodic: bool) -> Vec<f64> {
    let d = if periodic { n as f64 } else { n as f64 - 1.0 };
    (0..n)
        .map(|i| {
            let x = 2.0 * PI * i as f64 / d;
            match kind_name {
                "HannWindow" => 0.5 - 0.5 * x.cos(),
                "HammingWindow" => 25.0 / 46.0 - (1.0 - 25.0 / 46.0) * x.cos(),
                _ => 0.42 - 0.5 * x.cos() + 0.08 * (2.0 * x).cos(),
            }
        })
        .collect()
}

impl Op for Window {
    fn op_type(&self) -> &str {
        match self.kind {
            Kind::Hann => "HannWindow",
            Kind::Hamming => "HammingWindow",
            Kind::Blackman => "BlackmanWindow",
        }
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let n = scalar_i64(req(&inputs, 0)?, "window size")?;
        ensure!(n >= 0, "{}: size must be >= 0, got {n}", self.op_type());
        let n = n as usize;
        let v = if n == 1 && !self.periodic {
            vec![1.0]
        } else {
            window_values(self.op_type(), n, self.periodic)
        };
        Ok(vec![from_f64_any(self.dtype, vec![n], v)?])
    }
}
