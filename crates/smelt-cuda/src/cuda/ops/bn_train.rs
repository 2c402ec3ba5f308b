//! BatchNormalization in training mode: Y, then (as many as the node declares) running
//! mean, running variance, saved batch mean and saved batch variance, all f32.

use super::Ins;
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::{i32_of, BLOCK};
use smelt_core::{DType, Error, Result};

pub(super) fn batch_norm_training(
    s: &Stream,
    ins: &Ins,
    eps: f32,
    momentum: f32,
    n_outputs: usize,
) -> Result<Vec<GpuTensor>> {
    let x = ins.f32(0)?;
    let sh = x.shape().to_vec();
    if sh.is_empty() {
        return Err(Error::shape("BatchNormalization: X must have rank >= 1"));
    }
    let (nb, c) = (sh[0], if sh.len() > 1 { sh[1] } else { 1 });
    let sp: usize = sh.iter().skip(2).product();
    let names = ["scale", "B", "input_mean", "input_var"];
    let mut ps = Vec::with_capacity(4);
    for (i, nm) in names.iter().enumerate() {
        let p = ins.f32(i + 1)?;
        if p.len() != c {
            return Err(Error::shape(format!(
                "BatchNormalization: {nm} has {} elements, expected {c}",
                p.len()
            )));
        }
        ps.push(p);
    }
    i32_of(x.len(), "BatchNormalization input size")?;
    let y = s.alloc(DType::F32, &sh)?;
    let stats: Vec<GpuTensor> = (1..n_outputs.min(5))
        .map(|_| s.alloc(DType::F32, &[c]))
        .collect::<Result<_>>()?;
    let ptr = |i: usize| stats.get(i).map_or(0u64, |t| t.ptr());
    let (xp, yp) = (x.ptr(), y.ptr());
    let (sc, bi, mi, vi) = (ps[0].ptr(), ps[1].ptr(), ps[2].ptr(), ps[3].ptr());
    let (rm, rv, sm, sv) = (ptr(0), ptr(1), ptr(2), ptr(3));
    let (nbi, ci, spi) = (nb as i32, c as i32, sp as i32);
    if c > 0 {
        s.launch(
            "bn_train_f32",
            c as u32,
            BLOCK,
            args![
                &xp, &sc, &bi, &mi, &vi, &yp, &rm, &rv, &sm, &sv, &nbi, &ci, &spi, &eps, &momentum
            ],
        )?;
    }
    Ok(std::iter::once(y).chain(stats).collect())
}
