//! GridSample: samples X [N, C, D1..Dk] at the normalized coordinates of
//! grid [N, O1..Ok, k] (last dim ordered x, y[, z] i.e. innermost spatial dim first), giving
//! Y [N, C, O1..Ok]. Opset 16: 4-D only, modes bilinear / nearest / bicubic; opset 20: any
//! k, modes linear / nearest / cubic. padding_mode zeros / border / reflection;
//! align_corners maps -1 / 1 to the corner pixel centres (else to the image edges).
//! Float dtypes; computed in f64.

use crate::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Nearest,
    Linear,
    Cubic,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Pad {
    Zeros,
    Border,
    Reflection,
}

#[derive(Debug)]
pub struct GridSample {
    mode: Mode,
    pad: Pad,
    align: bool,
    opset: i64,
}

pub fn register(r: &mut Registry) {
    r.register("", "GridSample", |ctx| {
        let a = ctx.attrs;
        let default = if ctx.opset < 20 { "bilinear" } else { "linear" };
        let mode = match a.string_or("mode", default.into())?.as_str() {
            "nearest" => Mode::Nearest,
            "bilinear" | "linear" => Mode::Linear,
            "bicubic" | "cubic" => Mode::Cubic,
            m => bail!("unknown GridSample mode '{m}'"),
        };
        let pad = match a.string_or("padding_mode", "zeros".into())?.as_str() {
            "zeros" => Pad::Zeros,
            "border" => Pad::Border,
            "reflection" => Pad::Reflection,
            m => bail!("unknown padding_mode '{m}'"),
        };
        Ok(Box::new(GridSample {
            mode,
            pad,
            align: a.int_or("align_corners", 0)? != 0,
            opset: ctx.opset,
        }))
    });
}

/// Reflects `x` into [lo, hi] by folding at the borders.
fn reflect(x: f64, lo: f64, hi: f64) -> f64 {
    let rng = hi - lo;
    if rng <= 0.0 {
        return lo;
    }
    if x < lo {
        let dx = lo - x;
        let n = (dx / rng) as i64;
        let r = dx - n as f64 * rng;
        if n % 2 == 0 {
            lo + r
        } else {
            hi - r
        }
    } else if x > hi {
        let dx = x - hi;
        let n = (dx / rng) as i64;
        let r = dx - n as f64 * rng;
        if n % 2 == 0 {
            hi - r
        } else {
            lo + r
        }
    } else {
        x
    }
}

fn cubic(x: f64) -> [f64; 4] {
    let a = -0.75;
    let x = x.abs();
    [
        ((a * (x + 1.0) - 5.0 * a) * (x + 1.0) + 8.0 * a) * (x + 1.0) - 4.0 * a,
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0,
        ((a + 2.0) * (1.0 - x) - (a + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0,
        ((a * (2.0 - x) - 5.0 * a) * (2.0 - x) + 8.0 * a) * (2.0 - x) - 4.0 * a,
    ]
}

/// numpy rint: half to even.
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

impl GridSample {
    /// Maps an integer index on a spatial dim through the padding mode; None = zero pixel.
    fn index(&self, i: i64, d: usize, lo: f64, hi: f64) -> Option<usize> {
        let n = d as i64;
        match self.pad {
            Pad::Zeros => (i >= 0 && i < n).then_some(i as usize),
            Pad::Border => Some(i.clamp(0, n - 1) as usize),
            Pad::Reflection => Some((reflect(i as f64, lo, hi) as i64).clamp(0, n - 1) as usize),
        }
    }
}

impl Op for GridSample {
    fn op_type(&self) -> &str {
        "GridSample"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let grid = req(&inputs, 1)?;
        ensure!(
            x.dtype().is_float() && grid.dtype().is_float(),
            "GridSample takes float X and grid (got {}, {})",
            x.dtype(),
            grid.dtype()
        );
        let k = x.rank().saturating_sub(2);
        ensure!(k >= 1, "X must have rank >= 3, got {:?}", x.shape());
        ensure!(
            self.opset >= 20 || k == 2,
            "GridSample-{} takes 4-D X only",
            self.opset
        );
        ensure!(
            grid.rank() == k + 2 && grid.shape()[0] == x.shape()[0] && grid.shape()[k + 1] == k,
            "grid shape {:?} does not fit X {:?}",
            grid.shape(),
            x.shape()
        );
        let (n, c) = (x.shape()[0], x.shape()[1]);
        let dims: Vec<usize> = x.shape()[2..].to_vec();
        let osp: Vec<usize> = grid.shape()[1..=k].to_vec();
        let on = numel(&osp);
        ensure!(
            dims.iter().all(|&d| d > 0) || n * c * on == 0,
            "cannot sample an empty X {:?}",
            x.shape()
        );
        let in_sp = numel(&dims);
        let xs = x.to_f64_vec()?;
        let gs = grid.to_f64_vec()?;
        let dst = strides(&dims);
        let (lo, hi): (Vec<f64>, Vec<f64>) = dims
            .iter()
            .map(|&d| {
                if self.align {
                    (0.0, d as f64 - 1.0)
                } else {
                    (-0.5, d as f64 - 0.5)
                }
            })
            .unzip();
        let mut out = vec![0.0; n * c * on];
        let mut pos = vec![0.0; k];
        // per-dim neighbour indices and weights
        let mut nb: Vec<Vec<(Option<usize>, f64)>> = vec![vec![]; k];
        for b in 0..n {
            for o in 0..on {
                let g = &gs[(b * on + o) * k..][..k];
                for i in 0..k {
                    let v = g[k - 1 - i];
                    let d = dims[i] as f64;
                    let mut p = if self.align {
                        (v + 1.0) / 2.0 * (d - 1.0)
                    } else {
                        ((v + 1.0) * d - 1.0) / 2.0
                    };
                    if self.mode == Mode::Nearest {
                        p = round_half_even(p);
                    }
                    if p < lo[i] || p > hi[i] {
                        match self.pad {
                            Pad::Border => p = p.clamp(0.0, d - 1.0),
                            Pad::Reflection => p = reflect(p, lo[i], hi[i]),
                            Pad::Zeros => {}
                        }
                    }
                    pos[i] = p;
                }
                for i in 0..k {
                    let p = pos[i];
                    nb[i].clear();
                    match self.mode {
                        Mode::Nearest => {
                            nb[i].push((self.index(p as i64, dims[i], lo[i], hi[i]), 1.0))
                        }
                        Mode::Linear => {
                            let f = p.floor();
                            let t = p - f;
                            nb[i].push((self.index(f as i64, dims[i], lo[i], hi[i]), 1.0 - t));
                            nb[i].push((self.index(f as i64 + 1, dims[i], lo[i], hi[i]), t));
                        }
                        Mode::Cubic => {
                            let f = p.floor();
                            let w = cubic(p - f);
                            for (j, &wj) in w.iter().enumerate() {
                                nb[i].push((
                                    self.index(f as i64 - 1 + j as i64, dims[i], lo[i], hi[i]),
                                    wj,
                                ));
                            }
                        }
                    }
                }
                // tensor product over dims
                let counts: Vec<usize> = nb.iter().map(|v| v.len()).collect();
                let total = numel(&counts);
                for ch in 0..c {
                    let src = &xs[(b * c + ch) * in_sp..][..in_sp];
                    let mut acc = 0.0;
                    'combo: for t in 0..total {
                        let mut rem = t;
                        let mut off = 0;
                        let mut w = 1.0;
                        for i in (0..k).rev() {
                            let (idx, wi) = nb[i][rem % counts[i]];
                            rem /= counts[i];
                            match idx {
                                Some(ix) => off += ix * dst[i],
                                None => continue 'combo,
                            }
                            w *= wi;
                        }
                        acc += w * src[off];
                    }
                    out[(b * c + ch) * on + o] = acc;
                }
            }
        }
        let mut shape = vec![n, c];
        shape.extend(osp);
        super::resample::from_f64(x.dtype(), shape, out).map(|t| vec![t])
    }
}
