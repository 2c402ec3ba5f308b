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
use std::collections::BTreeSet;

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

/// What [`candidates`] found: the weights to compress, and the float weights of the
/// supported readers that were left alone, with why.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub chosen: Vec<Layout>,
    /// (name, why) per weight left alone.
    pub skipped: Vec<(String, String)>,
    /// The op types that read at least one float weight (selected or not).
    pub readers: BTreeSet<String>,
    /// Element counts of the weights left alone for being under the threshold.
    pub small: Vec<usize>,
    /// Weights left alone by name (`skip`).
    pub by_name: usize,
    /// Weights left alone because their reader is not in `ops`.
    pub other_ops: usize,
    /// Names in `skip` that are neither a weight considered nor a node reading one.
    pub unused_skip: Vec<String>,
}

impl Selection {
    /// Why nothing was chosen, in one line: "the model has no Conv weight; 3 weights below
    /// --weight-threshold 2048 (the largest has 1600 elements); ...".
    pub fn why_none(&self, opts: &Options) -> String {
        let mut why = Vec::new();
        // the op types asked for matter when none of them reads a weight here
        let absent: Vec<&str> = opts.ops.iter().map(|o| o.as_str()).collect();
        if !absent.iter().any(|o| self.readers.contains(*o)) {
            let has = if self.readers.is_empty() {
                "no op reads a float weight".to_string()
            } else {
                format!(
                    "float weights are read by {}",
                    self.readers.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            why.push(format!(
                "the model has no {} weight ({has})",
                absent.join(", ")
            ));
        }
        let plural = |n: usize| if n == 1 { "weight" } else { "weights" };
        if !self.small.is_empty() {
            let n = self.small.len();
            why.push(format!(
                "{n} {} below --weight-threshold {} (the largest has {} elements)",
                plural(n),
                opts.weight_threshold,
                self.small.iter().max().unwrap_or(&0)
            ));
        }
        if self.by_name > 0 {
            why.push(format!(
                "{} {} in --skip",
                self.by_name,
                plural(self.by_name)
            ));
        }
        if self.other_ops > 0 {
            why.push(format!(
                "{} {} read by ops not in --ops",
                self.other_ops,
                plural(self.other_ops)
            ));
        }
        if why.is_empty() {
            why.push("the model has no float weight to compress".into());
        }
        why.join("; ")
    }
}

/// The weights of `g` to compress (first reader decides the layout), and the float weights
/// read as weights that were left alone, with why.
pub fn candidates(g: &Graph, opts: &Options) -> Selection {
    let mut sel = Selection::default();
    let mut seen = std::collections::HashSet::new();
    let mut skip_used = vec![false; opts.skip.len()];
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
            sel.readers.insert(n.op_type.clone());
            let name = &g.values[v].name;
            for (used, s) in skip_used.iter_mut().zip(&opts.skip) {
                *used |= s == name || s == &n.name;
            }
            let why = if !opts.ops.iter().any(|o| o == &n.op_type) {
                sel.other_ops += 1;
                Some(format!("{} not in --ops", n.op_type))
            } else if opts.skip.iter().any(|s| s == name || s == &n.name) {
                sel.by_name += 1;
                Some("in --skip".to_string())
            } else if t.len() < opts.weight_threshold {
                sel.small.push(t.len());
                Some(format!(
                    "{} elements < threshold {}",
                    t.len(),
                    opts.weight_threshold
                ))
            } else {
                None
            };
            match why {
                Some(w) => sel.skipped.push((name.clone(), w)),
                None => sel.chosen.push(Layout {
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
    sel.unused_skip = opts
        .skip
        .iter()
        .zip(skip_used)
        .filter(|(_, used)| !used)
        .map(|(s, _)| s.clone())
        .collect();
    sel
}
