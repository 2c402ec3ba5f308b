//! `batchnorm`: an inference BatchNormalization right after a Conv is folded into it.
//!
//! `BN(Conv(x, W, B))` with per-channel `s = scale / sqrt(var + eps)` is
//! `Conv(x, W * s[m], (B - mean) * s + bias)`: output channel `m` of W (its first axis,
//! `[M, C/group, k...]`) scaled by `s[m]`. Applies when W, B (if present) and the four BN
//! parameters are f32 constants of M elements, the Conv's output is read by the BN alone,
//! and the BN is not training and has no other output read. The new weights are new
//! initializers (W may be shared by another Conv); sums are made in f64.

use crate::Pass;
use smelt_core::{DType, Result, Tensor};
use smelt_ir::{Editor, Graph};
use smelt_ops::nn::conv::Conv;
use smelt_ops::norm::batchnorm::BatchNorm;

pub struct FoldBatchNorm;

impl Pass for FoldBatchNorm {
    fn name(&self) -> &'static str {
        "batchnorm"
    }

    fn run(&self, g: &mut Graph) -> Result<usize> {
        let mut e = Editor::new(g);
        let mut n = 0;
        for k in e.live() {
            if fold(&mut e, k)? {
                n += 1;
            }
        }
        e.finish()?;
        Ok(n)
    }
}

/// The f32 values of constant input `slot` of node `k`, if it is one.
fn f32s(e: &Editor, k: usize, slot: usize) -> Option<Vec<f32>> {
    let t = e.constant(e.input(k, slot)?)?;
    (t.dtype() == DType::F32)
        .then(|| t.as_slice::<f32>().ok().map(|v| v.to_vec()))
        .flatten()
}

/// Folds BatchNormalization node `bn` into the Conv before it, if the pattern holds.
fn fold(e: &mut Editor, bn: usize) -> Result<bool> {
    let Some(op) = e.node(bn).op_as::<BatchNorm>() else {
        return Ok(false);
    };
    let eps = op.epsilon() as f64;
    let others_read = e
        .node(bn)
        .outputs
        .iter()
        .skip(1)
        .flatten()
        .any(|o| e.uses().is_used(e.graph(), *o));
    if op.is_training() || others_read {
        return Ok(false);
    }
    let (Some(y), Some(z)) = (e.input(bn, 0), e.output(bn, 0)) else {
        return Ok(false);
    };
    let Some((conv, 0)) = e.uses().producer(y) else {
        return Ok(false);
    };
    if e.node(conv).op_as::<Conv>().is_none() || e.uses().single_reader(e.graph(), y).is_none() {
        return Ok(false);
    }
    let params: Option<Vec<Vec<f32>>> = (1..5).map(|s| f32s(e, bn, s)).collect();
    let (Some(params), Some(w_id)) = (params, e.input(conv, 1)) else {
        return Ok(false);
    };
    let Some(w) = e.constant(w_id).cloned() else {
        return Ok(false);
    };
    let Ok(wv) = w.as_slice::<f32>() else {
        return Ok(false);
    };
    let m = w.shape().first().copied().unwrap_or(0);
    if m == 0 || params.iter().any(|p| p.len() != m) {
        return Ok(false);
    }
    let bias: Vec<f32> = match e.input(conv, 2) {
        None => vec![0.0; m],
        Some(_) => match f32s(e, conv, 2) {
            Some(b) if b.len() == m => b,
            _ => return Ok(false),
        },
    };
    let (scale, shift, mean, var) = (&params[0], &params[1], &params[2], &params[3]);
    let s: Vec<f64> = (0..m)
        .map(|c| scale[c] as f64 / (var[c] as f64 + eps).sqrt())
        .collect();
    let per = wv.len() / m;
    let new_w: Vec<f32> = wv
        .iter()
        .enumerate()
        .map(|(i, &x)| (x as f64 * s[i / per]) as f32)
        .collect();
    let new_b: Vec<f32> = (0..m)
        .map(|c| ((bias[c] as f64 - mean[c] as f64) * s[c] + shift[c] as f64) as f32)
        .collect();
    let name = e.node(conv).name.clone();
    let w2 = e.add_constant(
        &format!("{name}.weight_bn"),
        Tensor::from_vec(w.shape().to_vec(), new_w)?,
    );
    let b2 = e.add_constant(
        &format!("{name}.bias_bn"),
        Tensor::from_vec(vec![m], new_b)?,
    );
    e.set_input(conv, 1, Some(w2));
    e.set_input(conv, 2, Some(b2));
    e.remove_node(bn);
    e.replace_uses(z, y)?;
    Ok(true)
}
