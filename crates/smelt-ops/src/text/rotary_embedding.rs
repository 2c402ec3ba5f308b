//! RotaryEmbedding (opset 23): rotates pairs of features of each head by position angles.
//!
//! X: (B, H, S, D) or (B, S, H*D) with the `num_heads` attribute. cos/sin caches:
//! (max_pos, R/2) indexed by position_ids (B, S), or (B, S, R/2) when position_ids is absent.
//! R = `rotary_embedding_dim` (0: D) features of each head are rotated; the rest pass through.
//! Pairs are (x[k], x[k + R/2]) or, with `interleaved`, (x[2k], x[2k+1]):
//! x1' = cos·x1 − sin·x2, x2' = sin·x1 + cos·x2. Output has X's shape and dtype.

use crate::prelude::*;
use crate::signal::{ensure_float, from_f64};

#[derive(Debug)]
pub struct RotaryEmbedding {
    interleaved: bool,
    rot_dim: usize,
    num_heads: usize,
}

pub fn register(r: &mut Registry) {
    r.register("", "RotaryEmbedding", |c| {
        let rd = c.attrs.int_or("rotary_embedding_dim", 0)?;
        let nh = c.attrs.int_or("num_heads", 0)?;
        ensure!(
            rd >= 0 && nh >= 0,
            "RotaryEmbedding: rotary_embedding_dim and num_heads must be >= 0"
        );
        Ok(Box::new(RotaryEmbedding {
            interleaved: c.attrs.int_or("interleaved", 0)? != 0,
            rot_dim: rd as usize,
            num_heads: nh as usize,
        }))
    });
}

impl Op for RotaryEmbedding {
    fn op_type(&self) -> &str {
        "RotaryEmbedding"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure_float(x, "input")?;
        let (cos_t, sin_t) = (req(&inputs, 1)?, req(&inputs, 2)?);
        let sh = x.shape().to_vec();
        // (batch, seq, heads, head size) and the element strides of each in X.
        let (b, s, h, d, st) = match sh.len() {
            4 => (
                sh[0],
                sh[2],
                sh[1],
                sh[3],
                [sh[1] * sh[2] * sh[3], sh[3], sh[2] * sh[3]],
            ),
            3 => {
                ensure!(
                    self.num_heads > 0,
                    "RotaryEmbedding: 3-D input needs num_heads"
                );
                ensure!(
                    sh[2] % self.num_heads == 0,
                    "RotaryEmbedding: hidden size {} not a multiple of num_heads {}",
                    sh[2],
                    self.num_heads
                );
                let (h, d) = (self.num_heads, sh[2] / self.num_heads);
                (sh[0], sh[1], h, d, [sh[1] * sh[2], sh[2], d])
            }
            r => bail!("RotaryEmbedding: input must be 3-D or 4-D, got rank {r}"),
        };
        let rd = if self.rot_dim == 0 { d } else { self.rot_dim };
        ensure!(
            rd <= d && rd % 2 == 0,
            "RotaryEmbedding: rotary_embedding_dim {rd} must be even and <= head size {d}"
        );
        let half = rd / 2;
        let cosv = cos_t.to_f64_vec()?;
        let sinv = sin_t.to_f64_vec()?;
        ensure!(
            cos_t.shape() == sin_t.shape(),
            "RotaryEmbedding: cos_cache {:?} and sin_cache {:?} differ",
            cos_t.shape(),
            sin_t.shape()
        );
        ensure!(
            cos_t.shape().last() == Some(&half),
            "RotaryEmbedding: cache last dim {:?} must be rotary_dim/2 = {half}",
            cos_t.shape()
        );
        // Offset of the cache row for (batch, position).
        let rows: Vec<usize> = match opt(&inputs, 3) {
            Some(p) => {
                ensure!(
                    p.shape() == [b, s],
                    "RotaryEmbedding: position_ids shape {:?}, expected [{b}, {s}]",
                    p.shape()
                );
                ensure!(
                    cos_t.rank() == 2,
                    "RotaryEmbedding: with position_ids the caches must be 2-D, got {:?}",
                    cos_t.shape()
                );
                let maxp = cos_t.shape()[0];
                p.to_i64_vec()?
                    .into_iter()
                    .map(|id| {
                        if id >= 0 && (id as usize) < maxp {
                            Ok(id as usize * half)
                        } else {
                            Err(Error::invalid(format!(
                                "RotaryEmbedding: position id {id} out of range 0..{maxp}"
                            )))
                        }
                    })
                    .collect::<Result<_>>()?
            }
            None => {
                ensure!(cos_t.shape() == [b, s, half], "RotaryEmbedding: without position_ids the caches must be [{b}, {s}, {half}], got {:?}", cos_t.shape());
                (0..b * s).map(|i| i * half).collect()
            }
        };
        let xv = x.to_f64_vec()?;
        let mut out = xv.clone();
        for bi in 0..b {
            for si in 0..s {
                let c0 = rows[bi * s + si];
                for hi in 0..h {
                    let base = bi * st[0] + si * st[1] + hi * st[2];
                    for k in 0..half {
                        let (i1, i2) = if self.interleaved {
                            (base + 2 * k, base + 2 * k + 1)
                        } else {
                            (base + k, base + k + half)
                        };
                        let (c, sn) = (cosv[c0 + k], sinv[c0 + k]);
                        let (x1, x2) = (xv[i1], xv[i2]);
                        out[i1] = c * x1 - sn * x2;
                        out[i2] = sn * x1 + c * x2;
                    }
                }
            }
        }
        Ok(vec![from_f64(x.dtype(), sh, out)?])
    }
}
