//! InstanceNormalization and GroupNormalization. X is `N x C x D1..` (rank >= 2).
//!
//! InstanceNorm: per (n, c), mean / population variance over the spatial dims;
//! `Y = (X - mean) / sqrt(var + epsilon) * scale[c] + B[c]`.
//! GroupNorm: channels split into `num_groups` groups of C/G; statistics per (n, group).
//! Opset 21: scale / bias have C elements (per channel); opset 18: `num_groups` elements
//! (per group). f16/bf16 compute in f32.

use super::common::*;
use crate::prelude::*;
use num_traits::Float;

#[derive(Debug)]
pub struct GroupNorm {
    /// `None`: InstanceNormalization (one group per channel).
    groups: Option<i64>,
    eps: f32,
    /// Opset >= 21: scale/bias per channel.
    per_channel: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "InstanceNormalization", |ctx| {
        Ok(Box::new(GroupNorm {
            groups: None,
            eps: ctx.attrs.float_or("epsilon", 1e-5)?,
            per_channel: true,
        }))
    });
    r.register("", "GroupNormalization", |ctx| {
        let g = ctx.attrs.req_int("num_groups")?;
        ensure!(
            g > 0,
            "GroupNormalization: num_groups must be positive, got {g}"
        );
        Ok(Box::new(GroupNorm {
            groups: Some(g),
            eps: ctx.attrs.float_or("epsilon", 1e-5)?,
            per_channel: ctx.opset >= 21,
        }))
    });
}

impl GroupNorm {
    fn name(&self) -> &'static str {
        if self.groups.is_some() {
            "GroupNormalization"
        } else {
            "InstanceNormalization"
        }
    }
    fn run<T: FloatIo>(&self, inputs: &[Option<Tensor>]) -> Result<Vec<Tensor>> {
        let name = self.name();
        let x = req(inputs, 0)?;
        ensure!(
            x.rank() >= 2,
            "{name}: X must be N x C x ..., got shape {:?}",
            x.shape()
        );
        let sh = x.shape();
        let (nb, c) = (sh[0], sh[1]);
        let sp: usize = sh[2..].iter().product();
        let g = self.groups.map(|g| g as usize).unwrap_or(c);
        ensure!(
            c % g.max(1) == 0 || c == 0,
            "{name}: {c} channels do not split into {g} groups"
        );
        let cpg = c.checked_div(g).unwrap_or(0);
        let scale: Vec<T::C> = param(req(inputs, 1)?, "scale")?;
        let bias: Vec<T::C> = param(req(inputs, 2)?, "bias")?;
        // per channel when the length says so (opset 21 requires it)
        let per_ch = if self.per_channel {
            true
        } else {
            scale.len() == c && g != c && scale.len() != g
        };
        let want = if per_ch { c } else { g };
        ensure!(
            scale.len() == want && bias.len() == want,
            "{name}: scale/bias have {}/{} elements, expected {want}",
            scale.len(),
            bias.len()
        );
        let xs = float_input::<T>(x)?;
        let eps = cst::<T::C>(self.eps as f64);
        let mut y = vec![cst::<T::C>(0.0); xs.len()];
        let blk = cpg * sp;
        for n in 0..nb {
            for gi in 0..g {
                let base = (n * g + gi) * blk;
                let (m, var) = mean_var(&xs[base..base + blk]);
                let inv = cst::<T::C>(1.0) / (var + eps).sqrt();
                for k in 0..cpg {
                    let p = if per_ch { gi * cpg + k } else { gi };
                    let (s, b) = (scale[p] * inv, bias[p]);
                    let o = base + k * sp;
                    for (d, &v) in y[o..o + sp].iter_mut().zip(&xs[o..o + sp]) {
                        *d = (v - m) * s + b;
                    }
                }
            }
        }
        Ok(vec![float_output::<T>(sh.to_vec(), y)?])
    }
}

impl Op for GroupNorm {
    fn op_type(&self) -> &str {
        self.name()
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![ctx
            .inputs
            .first()
            .cloned()
            .flatten()
            .unwrap_or_default()])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let what = format!("{} input", self.name());
        crate::norm_float!(x.dtype(), what, T => self.run::<T>(&inputs))
    }
}
