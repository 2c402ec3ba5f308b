//! Which weights to compress, and how each is laid out: which axis holds the output
//! channels (scales and tables are per channel or channel group) and which the inputs
//! (blocks run along it).
//!
//! | reader | weight | channel axis | input axis |
//! |---|---|---|---|
//! | Conv | `W [M, C/g, k..]` | 0 | 1 |
//! | ConvTranspose | `W [C, M/g, k..]` | 1 | 0 |
//! | MatMul (B) | `[K, N]` | 1 | 0 |
//! | Gemm (B) | `[K, N]`, or `[N, K]` with transB | 1 or 0 | 0 or 1 |
//! | Gather (data, axis 0) | `[V, D]` embedding | 0 | 1 |

use crate::Options;
use smelt_core::DType;
use smelt_ir::{Graph, ValueId};

/// A weight chosen for compression.
#[derive(Clone, Debug)]
pub struct Layout {
    pub value: ValueId,
    /// Index of the node whose weight it is (the first reader).
    pub reader: usize,
    pub op_type: String,
    pub shape: Vec<usize>,
    pub channel: usize,
    pub input: usize,
}

/// (channel axis, input axis) of a weight in `slot` of a node, if it is a weight slot.
fn axes(
    op_type: &str,
    slot: usize,
    rank: usize,
    trans_b: bool,
    gather_axis: i64,
) -> Option<(usize, usize)> {
    match (op_type, slot) {
        ("Conv", 1) if rank >= 3 => Some((0, 1)),
        ("ConvTranspose", 1) if rank >= 3 => Some((1, 0)),
        ("MatMul", 1) if rank == 2 => Some((1, 0)),
        ("Gemm", 1) if rank == 2 => Some(if trans_b { (0, 1) } else { (1, 0) }),
        ("Gather", 0) if rank == 2 && gather_axis == 0 => Some((0, 1)),
        _ => None,
    }
}

/// The weights of `g` to compress (first reader decides the layout), and the float weights
/// read as weights that were left alone, with why.
pub fn candidates(g: &Graph, opts: &Options) -> (Vec<Layout>, Vec<(String, String)>) {
    let mut chosen: Vec<Layout> = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (ni, n) in g.nodes.iter().enumerate() {
        for (slot, v) in n.inputs.iter().enumerate() {
            let Some(v) = *v else { continue };
            let Some(t) = g.initializers.get(&v) else {
                continue;
            };
            if !matches!(t.dtype(), DType::F32 | DType::F16 | DType::BF16) || seen.contains(&v) {
                continue;
            }
            let trans_b = n.attrs.int_or("transB", 0).unwrap_or(0) != 0;
            let gather_axis = n.attrs.int_or("axis", 0).unwrap_or(0);
            let Some((channel, input)) =
                axes(&n.op_type, slot, t.shape().len(), trans_b, gather_axis)
            else {
                continue;
            };
            seen.insert(v);
            let name = &g.values[v].name;
            let why = if !opts.ops.iter().any(|o| o == &n.op_type) {
                Some(format!("{} not in --ops", n.op_type))
            } else if opts.skip.iter().any(|s| s == name || s == &n.name) {
                Some("in --skip".to_string())
            } else if t.len() < opts.weight_threshold {
                Some(format!(
                    "{} elements < threshold {}",
                    t.len(),
                    opts.weight_threshold
                ))
            } else {
                None
            };
            match why {
                Some(w) => skipped.push((name.clone(), w)),
                None => chosen.push(Layout {
                    value: v,
                    reader: ni,
                    op_type: n.op_type.clone(),
                    shape: t.shape().to_vec(),
                    channel,
                    input,
                }),
            }
        }
    }
    (chosen, skipped)
}
