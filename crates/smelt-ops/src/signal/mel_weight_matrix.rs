//! MelWeightMatrix (opset 17): triangular mel filter bank of shape
//! [dft_length/2 + 1, num_mel_bins], dtype `output_datatype` (default float).
//! Inputs: num_mel_bins, dft_length, sample_rate (int scalars), lower_edge_hertz,
//! upper_edge_hertz (float scalars). Bin edges are num_mel_bins + 2 points evenly spaced on
//! the mel scale (2595·log10(1 + f/700)) mapped to FFT bins ⌊(dft_length+1)·f / sample_rate⌋.

use crate::prelude::*;
use crate::signal::{dft::scalar_i64, from_f64_any};

#[derive(Debug)]
pub struct MelWeightMatrix {
    dtype: DType,
}

pub fn register(r: &mut Registry) {
    r.register("", "MelWeightMatrix", |c| {
        let dtype = dtype_from_onnx(c.attrs.int_or("output_datatype", 1)?)?;
        ensure!(
            dtype.is_numeric(),
            "MelWeightMatrix: output_datatype must be numeric, got {dtype}"
        );
        Ok(Box::new(MelWeightMatrix { dtype }))
    });
}

fn scalar_f64(t: &Tensor, what: &str) -> Result<f64> {
    let v = t.to_f64_vec()?;
    ensure!(
        v.len() == 1,
        "MelWeightMatrix: {what} must be a scalar, got shape {:?}",
        t.shape()
    );
    Ok(v[0])
}

impl Op for MelWeightMatrix {
    fn op_type(&self) -> &str {
        "MelWeightMatrix"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let mels = scalar_i64(req(&inputs, 0)?, "num_mel_bins")?;
        let dft_len = scalar_i64(req(&inputs, 1)?, "dft_length")?;
        let rate = scalar_i64(req(&inputs, 2)?, "sample_rate")?;
        let lo = scalar_f64(req(&inputs, 3)?, "lower_edge_hertz")?;
        let hi = scalar_f64(req(&inputs, 4)?, "upper_edge_hertz")?;
        ensure!(mels >= 1 && dft_len >= 1 && rate >= 1, "MelWeightMatrix: num_mel_bins ({mels}), dft_length ({dft_len}) and sample_rate ({rate}) must be positive");
        ensure!(
            lo >= 0.0 && hi >= lo,
            "MelWeightMatrix: edges [{lo}, {hi}] must satisfy 0 <= lower <= upper"
        );
        let (m, nbins) = (mels as usize, dft_len as usize / 2 + 1);
        // mel endpoints in f32 (as the reference computes them), the rest in f64
        let lo_mel = (2595.0f32 * (1.0f32 + lo as f32 / 700.0).log10()) as f64;
        let hi_mel = (2595.0f32 * (1.0f32 + hi as f32 / 700.0).log10()) as f64;
        let step = ((hi_mel - lo_mel) as f32 / (m + 2) as f32) as f64;
        let edges: Vec<i64> = (0..m + 2)
            .map(|i| {
                let f = 700.0 * (10f64.powf((i as f64 * step + lo_mel) / 2595.0) - 1.0);
                (((dft_len + 1) as f64 * f) / rate as f64).floor() as i64
            })
            .collect();
        let mut out = vec![0.0f64; nbins * m];
        let mut set = |j: i64, i: usize, v: f64| -> Result<()> {
            ensure!(
                j >= 0 && (j as usize) < nbins,
                "MelWeightMatrix: bin {j} outside 0..{nbins}"
            );
            out[j as usize * m + i] = v;
            Ok(())
        };
        for i in 0..m {
            let (l, c, r) = (edges[i], edges[i + 1], edges[i + 2]);
            if c == l {
                set(c, i, 1.0)?;
            } else {
                for j in l..=c {
                    set(j, i, (j - l) as f64 / (c - l) as f64)?;
                }
            }
            if r > c {
                for j in c..r {
                    set(j, i, (r - j) as f64 / (r - c) as f64)?;
                }
            }
        }
        Ok(vec![from_f64_any(self.dtype, vec![nbins, m], out)?])
    }
}
