//! NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: attributes, dtype contract and
//! shapes, after the CPU ops (`smelt_ops::loss`).
//!
//! Input [N, C, d1..dk] (log-probabilities, or scores for SCE, which takes log_softmax over
//! axis 1 first), target [N, d1..dk] (class indices, read on the host and checked there),
//! optional weight [C]. Reduction none -> [N, d1..dk]; sum / mean -> a scalar (mean divides
//! by the summed weights of the entries not ignored, 0 when that is 0). SCE's optional
//! second output is the log-probabilities, shaped like the input. f32 only.

use super::i32_of;
use smelt_core::{DType, Error, Result};
use smelt_ir::{Attributes, Graph, Node};
pub use smelt_ops::loss::nll::Reduction;

#[derive(Clone, Debug, PartialEq)]
pub struct LossAttrs {
    /// SoftmaxCrossEntropyLoss (else NegativeLogLikelihoodLoss)
    pub sce: bool,
    pub reduction: Reduction,
    pub ignore_index: Option<i64>,
}

impl LossAttrs {
    pub fn parse(a: &Attributes, sce: bool) -> Result<LossAttrs> {
        Ok(LossAttrs {
            sce,
            reduction: Reduction::parse(&a.string_or("reduction", "mean".into())?)?,
            ignore_index: a.int("ignore_index")?,
        })
    }
}

/// The dtype contract: input and weight f32, target i64 or i32 (read on the host).
pub fn check_types(node: &Node, graph: &Graph) -> std::result::Result<(), String> {
    for (i, inp) in node.inputs.iter().enumerate() {
        let Some(id) = inp else { continue };
        let v = &graph.values[*id];
        let Some(d) = v.info.dtype else {
            return Err(format!("dtype of input '{}' unknown", v.name));
        };
        let ok = if i == 1 {
            matches!(d, DType::I64 | DType::I32)
        } else {
            d == DType::F32
        };
        if !ok {
            return Err(format!(
                "{} input {i} '{}' is {d}; the GPU kernel takes f32 (target: i64/i32)",
                node.op_type, v.name
            ));
        }
    }
    Ok(())
}

/// Shapes of one loss: (n, c, inner) and the output shape.
#[derive(Clone, Debug, PartialEq)]
pub struct LossPlan {
    pub n: usize,
    pub c: usize,
    pub inner: usize,
    pub out: Vec<usize>,
}

/// Checks the shapes and the targets (each in 0..C or the ignore_index), as the CPU op.
pub fn plan(
    a: &LossAttrs,
    x: &[usize],
    target: &[i64],
    weight: Option<&[usize]>,
) -> Result<LossPlan> {
    if x.len() < 2 {
        return Err(Error::invalid(format!(
            "loss input must be [N, C, ...], got {x:?}"
        )));
    }
    let (n, c) = (x[0], x[1]);
    let inner: usize = x[2..].iter().product();
    if target.len() != n * inner {
        return Err(Error::invalid(format!(
            "target has {} elements, expected {}",
            target.len(),
            n * inner
        )));
    }
    if let Some(w) = weight {
        if w.iter().product::<usize>() != c {
            return Err(Error::invalid(format!(
                "weight {w:?} does not hold C = {c}"
            )));
        }
    }
    for &t in target {
        if Some(t) != a.ignore_index && (t < 0 || t as usize >= c) {
            return Err(Error::invalid(format!(
                "target {t} out of range for {c} classes"
            )));
        }
    }
    i32_of(n * c * inner, "loss input elements")?;
    let out = match a.reduction {
        Reduction::None => {
            let mut o = vec![n];
            o.extend_from_slice(&x[2..]);
            o
        }
        _ => vec![],
    };
    Ok(LossPlan { n, c, inner, out })
}
