//! SoftmaxCrossEntropyLoss: scores [N, C, d1..dk], labels [N, d1..dk], optional weights [C].
//! Output 0: the NLL loss of log_softmax(scores, axis 1); output 1 (optional): that
//! log-probability tensor, shaped like scores.

use super::nll::{float_tensor, nll_loss, Reduction};
use crate::prelude::*;

#[derive(Debug)]
pub struct SoftmaxCrossEntropy {
    reduction: Reduction,
    ignore_index: Option<i64>,
}

pub fn register(r: &mut Registry) {
    r.register("", "SoftmaxCrossEntropyLoss", |c| {
        Ok(Box::new(SoftmaxCrossEntropy {
            reduction: Reduction::parse(&c.attrs.string_or("reduction", "mean".into())?)?,
            ignore_index: c.attrs.int("ignore_index")?,
        }))
    });
}

impl Op for SoftmaxCrossEntropy {
    fn op_type(&self) -> &str {
        "SoftmaxCrossEntropyLoss"
    }
    fn eval(&self, ctx: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure!(
            x.dtype().is_float(),
            "scores must be float, got {}",
            x.dtype()
        );
        ensure!(
            x.rank() >= 2,
            "scores must be [N, C, ...], got {:?}",
            x.shape()
        );
        let s = x.to_f64_vec()?;
        let (n, c) = (x.shape()[0], x.shape()[1]);
        let inner: usize = x.shape()[2..].iter().product();
        let mut logp = vec![0f64; s.len()];
        for b in 0..n {
            for i in 0..inner {
                let at = |k: usize| (b * c + k) * inner + i;
                let m = (0..c).map(|k| s[at(k)]).fold(f64::NEG_INFINITY, f64::max);
                let lse = m + (0..c).map(|k| (s[at(k)] - m).exp()).sum::<f64>().ln();
                for k in 0..c {
                    logp[at(k)] = s[at(k)] - lse;
                }
            }
        }
        let labels = req(&inputs, 1)?.to_i64_vec()?;
        let weight = opt(&inputs, 2).map(|w| w.to_f64_vec()).transpose()?;
        let (v, shape) = nll_loss(
            &logp,
            x.shape(),
            &labels,
            weight.as_deref(),
            self.reduction,
            self.ignore_index,
        )?;
        let mut out = vec![float_tensor(x.dtype(), shape, v)?];
        if ctx.n_outputs > 1 {
            out.push(float_tensor(x.dtype(), x.shape().to_vec(), logp)?);
        }
        Ok(out)
    }
}
