//! NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (plan in `plan::loss`): the
//! targets are read and checked on the host, then uploaded as i64.

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::loss::{self, LossAttrs, Reduction};
use crate::plan::BLOCK;
use smelt_core::{DType, Error, Result, Tensor};

/// Returns the loss and, for SCE with `n_outputs` > 1, the log-probabilities.
pub(super) fn loss(
    s: &Stream,
    a: &LossAttrs,
    ins: &Ins,
    n_outputs: usize,
) -> Result<Vec<GpuTensor>> {
    let x = ins.f32(0)?;
    let target = ins
        .host_ints(1)?
        .ok_or_else(|| Error::invalid("loss: target missing"))?;
    let w = ins.f32_opt(2)?;
    let p = loss::plan(a, x.shape(), &target, w.map(|w| w.shape()))?;
    let logp = if a.sce {
        let y = s.alloc(DType::F32, x.shape())?;
        let (xp, yp) = (x.ptr(), y.ptr());
        let (n, c, inner) = (p.n as i32, p.c as i32, p.inner as i32);
        let (g, b) = geom(p.n * p.inner);
        s.launch("log_softmax_mid_f32", g, b, args![&xp, &yp, &n, &c, &inner])?;
        y
    } else {
        x.clone()
    };
    let tgt = s.upload(&Tensor::from_vec(vec![target.len()], target)?)?;
    let y = s.alloc(DType::F32, &p.out)?;
    let (lp, tp, wp, yp) = (logp.ptr(), tgt.ptr(), w.map_or(0u64, |w| w.ptr()), y.ptr());
    let (n, c, inner) = (p.n as i32, p.c as i32, p.inner as i32);
    let (ignore, has_ignore) = (a.ignore_index.unwrap_or(0), a.ignore_index.is_some() as i32);
    match a.reduction {
        Reduction::None => {
            let (g, b) = geom(p.n * p.inner);
            s.launch(
                "nll_none_f32",
                g,
                b,
                args![&lp, &tp, &wp, &yp, &n, &c, &inner, &ignore, &has_ignore],
            )?;
        }
        r => {
            let mean = (r == Reduction::Mean) as i32;
            s.launch(
                "nll_reduce_f32",
                1,
                BLOCK,
                args![
                    &lp,
                    &tp,
                    &wp,
                    &yp,
                    &n,
                    &c,
                    &inner,
                    &ignore,
                    &has_ignore,
                    &mean
                ],
            )?;
        }
    }
    let mut out = vec![y];
    if a.sce && n_outputs > 1 {
        out.push(logp);
    }
    Ok(out)
}
