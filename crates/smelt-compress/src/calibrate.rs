//! Calibration: the input Gram matrix `H = Σ xᵀx` of each MatMul / Gemm weight, from running
//! the float graph on the caller's sample inputs (for [`crate::gptq`]).

use crate::select::Layout;
use smelt_core::{DType, Error, Result, Tensor};
use smelt_ir::{Graph, ValueId};
use smelt_ops::linalg::blas::{row_major, sgemm, transposed};
use std::collections::HashMap;

/// The activation input of the node reading `l`'s weight, and K, if it is a MatMul or a
/// Gemm (transA = 0) with a 2-D weight.
fn x_of(g: &Graph, l: &Layout) -> Option<(ValueId, usize)> {
    let n = &g.nodes[l.reader];
    if l.shape.len() != 2 {
        return None;
    }
    match n.op_type.as_str() {
        "MatMul" if n.inputs.get(1) == Some(&Some(l.value)) => Some((n.inputs[0]?, l.shape[0])),
        "Gemm"
            if n.inputs.get(1) == Some(&Some(l.value))
                && n.attrs.int_or("transA", 0).ok()? == 0 =>
        {
            let k = if n.attrs.int_or("transB", 0).ok()? != 0 {
                l.shape[1]
            } else {
                l.shape[0]
            };
            Some((n.inputs[0]?, k))
        }
        _ => None,
    }
}

/// `H` (`[K, K]`, f64) per weight value, over every row of every calibration feed.
pub fn grams(
    g: &Graph,
    chosen: &[Layout],
    feeds: &[Vec<(String, Tensor)>],
) -> Result<HashMap<ValueId, Vec<f64>>> {
    let wanted: Vec<(ValueId, ValueId, usize)> = chosen
        .iter()
        .filter_map(|l| x_of(g, l).map(|(x, k)| (l.value, x, k)))
        .collect();
    let mut out: HashMap<ValueId, Vec<f64>> = HashMap::new();
    if wanted.is_empty() || feeds.is_empty() {
        return Ok(out);
    }
    let mut probe = g.clone();
    for &(_, x, _) in &wanted {
        if !probe.outputs.contains(&x) {
            probe.outputs.push(x);
        }
    }
    let plan = smelt_cpu::Plan::new(&probe);
    for feed in feeds {
        let values: HashMap<String, Tensor> = plan.run(feed.clone())?.into_iter().collect();
        for &(w, x, k) in &wanted {
            let name = &g.values[x].name;
            let t = values
                .get(name)
                .ok_or_else(|| Error::invalid(format!("calibration: no value for '{name}'")))?;
            if t.dtype() != DType::F32 || t.shape().last() != Some(&k) {
                return Err(Error::invalid(format!(
                    "calibration: '{name}' is {} {:?}, expected f32 [.., {k}]",
                    t.dtype(),
                    t.shape()
                )));
            }
            let xs = t.as_slice::<f32>()?;
            let m = xs.len() / k.max(1);
            let mut h32 = vec![0.0f32; k * k];
            // H = Xᵀ X: A = Xᵀ (k x m), B = X (m x k)
            sgemm(
                k,
                k,
                m,
                xs,
                transposed(k),
                xs,
                row_major(k),
                &mut h32,
                k,
                1.0,
                0.0,
            );
            let h = out.entry(w).or_insert_with(|| vec![0.0; k * k]);
            for (a, b) in h.iter_mut().zip(&h32) {
                *a += *b as f64;
            }
        }
    }
    Ok(out)
}
