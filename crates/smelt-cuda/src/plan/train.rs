//! Optimizer steps of `ai.onnx.preview.training` (Adagrad, Adam, Momentum): the rule comes
//! from the CPU op ([`smelt_ops::misc::optimizers::Rule`]), and one launch updates one group
//! (X, G and the state tensors, all of one shape) element-wise, in double precision as the
//! CPU op computes.

use smelt_core::{Error, Result};
use smelt_ops::misc::optimizers::Rule;

/// The kernel's parameter block (`OptP` in train.cu). `kind`: 0 Adagrad (a = decay),
/// 1 Adam (a = alpha, b = beta), 2 Momentum (a = alpha, b = beta).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OptParams {
    pub kind: i32,
    pub nesterov: i32,
    pub a: f64,
    pub b: f64,
    pub eps: f64,
    pub norm: f64,
    pub norm_post: f64,
    /// learning rate R and step count T
    pub r: f64,
    pub t: f64,
    pub n: i32,
}

/// The parameters of one group's launch over `n` elements.
pub fn params(rule: &Rule, r: f64, t: f64, n: usize) -> Result<OptParams> {
    let mut p = OptParams {
        r,
        t,
        n: super::i32_of(n, "optimizer group size")?,
        ..Default::default()
    };
    match *rule {
        Rule::Adagrad { decay, eps, norm } => {
            (p.kind, p.a, p.eps, p.norm) = (0, decay, eps, norm);
        }
        Rule::Adam {
            alpha,
            beta,
            eps,
            norm,
            norm_post,
        } => {
            (p.kind, p.a, p.b, p.eps, p.norm, p.norm_post) = (1, alpha, beta, eps, norm, norm_post);
        }
        Rule::Momentum {
            alpha,
            beta,
            norm,
            nesterov,
        } => {
            (p.kind, p.a, p.b, p.norm, p.nesterov) = (2, alpha, beta, norm, nesterov as i32);
        }
    }
    Ok(p)
}

/// Groups of a node with `n_inputs` inputs (R, T, then groups of `rule.per_group()`).
pub fn groups(rule: &Rule, n_inputs: usize) -> Result<usize> {
    let k = rule.per_group();
    if n_inputs < 2 + k || !(n_inputs - 2).is_multiple_of(k) {
        return Err(Error::invalid(format!(
            "{}: expected R, T and groups of {k} tensors, got {n_inputs} inputs",
            rule.name()
        )));
    }
    Ok((n_inputs - 2) / k)
}
