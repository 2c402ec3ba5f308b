//! AffineGrid (opset 20): theta [N, 2, 3] with size (N, C, H, W) -> grid [N, H, W, 2], or
//! theta [N, 3, 4] with size (N, C, D, H, W) -> grid [N, D, H, W, 3]. Each output is
//! theta @ (x, y[, z], 1) over the normalized base grid: align_corners spans -1..1 over pixel
//! centres, else pixel i of n sits at (2i + 1) / n - 1. Float dtypes.

use crate::prelude::*;

#[derive(Debug)]
pub struct AffineGrid {
    align: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "AffineGrid", |ctx| {
        Ok(Box::new(AffineGrid {
            align: ctx.attrs.int_or("align_corners", 0)? != 0,
        }))
    });
}

impl AffineGrid {
    fn base(&self, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| {
                if self.align {
                    if n <= 1 {
                        0.0
                    } else {
                        -1.0 + 2.0 * i as f64 / (n - 1) as f64
                    }
                } else {
                    (2.0 * i as f64 + 1.0) / n as f64 - 1.0
                }
            })
            .collect()
    }
}

impl Op for AffineGrid {
    fn op_type(&self) -> &str {
        "AffineGrid"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let theta = req(&inputs, 0)?;
        let size = req(&inputs, 1)?.to_i64_vec()?;
        ensure!(
            theta.dtype().is_float(),
            "theta must be float, got {}",
            theta.dtype()
        );
        ensure!(
            size.iter().all(|&d| d >= 0),
            "size must be non-negative, got {size:?}"
        );
        let k = match size.len() {
            4 => 2,
            5 => 3,
            l => bail!("size must have 4 or 5 entries, got {l}"),
        };
        let n = size[0] as usize;
        ensure!(
            theta.shape() == [n, k, k + 1],
            "theta shape {:?}, expected {:?}",
            theta.shape(),
            [n, k, k + 1]
        );
        let sp: Vec<usize> = size[2..].iter().map(|&d| d as usize).collect();
        let th = theta.to_f64_vec()?;
        // base coordinates, x along the last spatial dim
        let bases: Vec<Vec<f64>> = sp.iter().map(|&d| self.base(d)).collect();
        let np = numel(&sp);
        let st = strides(&sp);
        let mut out = Vec::with_capacity(n * np * k);
        let mut pt = vec![1.0; k + 1];
        for b in 0..n {
            let t = &th[b * k * (k + 1)..][..k * (k + 1)];
            for p in 0..np {
                for i in 0..k {
                    // pt[0] = x (last dim), pt[1] = y, pt[2] = z
                    let d = k - 1 - i;
                    pt[i] = bases[d][(p / st[d]) % sp[d]];
                }
                for r in 0..k {
                    out.push((0..=k).map(|j| t[r * (k + 1) + j] * pt[j]).sum::<f64>());
                }
            }
        }
        let mut shape = vec![n];
        shape.extend(&sp);
        shape.push(k);
        super::resample::from_f64(theta.dtype(), shape, out).map(|t| vec![t])
    }
}
