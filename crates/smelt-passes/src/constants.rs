//! `constants`: Constant nodes become initializers, and a node whose inputs are all
//! constant is evaluated once and replaced by its outputs.
//!
//! A node is folded when: its op is pure ([`smelt_ir::Op::is_pure`]), it holds no subgraph,
//! it is not in smelt's own `ai.smelt` domain (compressed-weight decodes stay compressed),
//! none of its outputs is a graph output, and its outputs are no larger than its inputs (with
//! the tensors held in its attributes) or than [`SMALL`] bytes, so that folding never inflates a package (a DequantizeLinear of
//! int8 weights, an Expand of a scalar stay as they are). A node whose outputs are known
//! from its input types alone (`Shape`, `Size` of a value of fixed shape) is folded without
//! evaluating anything ([`smelt_ir::Op::value_from_types`]).

use crate::Pass;
use smelt_core::{Result, Tensor};
use smelt_ir::{Attr, Editor, EvalCtx, Graph, NoSubgraphs};

/// Outputs up to this many bytes may be folded even when larger than the inputs.
pub const SMALL: usize = 4096;

pub struct FoldConstants;

impl Pass for FoldConstants {
    fn name(&self) -> &'static str {
        "constants"
    }

    fn run(&self, g: &mut Graph) -> Result<usize> {
        let mut e = Editor::new(g);
        let mut folded = 0;
        for k in e.live() {
            let node = e.node(k);
            let holds_graph = node
                .attrs
                .0
                .values()
                .any(|a| matches!(a, Attr::Graph(_) | Attr::Graphs(_)));
            if !node.op.is_pure()
                || holds_graph
                || node.domain == "ai.smelt"
                || node.outputs.is_empty()
                || node
                    .outputs
                    .iter()
                    .flatten()
                    .any(|o| e.graph().outputs.contains(o))
            {
                continue;
            }
            let Some(values) = fold(&e, k)? else {
                continue;
            };
            let outputs = node.outputs.clone();
            e.remove_node(k);
            for (o, t) in outputs.iter().zip(values) {
                if let Some(o) = o {
                    e.set_constant(*o, t)?;
                }
            }
            folded += 1;
        }
        e.finish()?;
        Ok(folded)
    }
}

/// The outputs of node `k` if it can be folded (see the module docs), else `None`.
fn fold(e: &Editor, k: usize) -> Result<Option<Vec<Tensor>>> {
    let g = e.graph();
    let node = e.node(k);
    let n_out = node.outputs.len();
    let infos: Vec<_> = node
        .inputs
        .iter()
        .map(|i| i.map(|i| g.values[i].info.clone()))
        .collect();
    if let Some(out) = node.op.value_from_types(&infos) {
        return Ok((out.len() >= n_out).then_some(out));
    }
    let mut inputs = Vec::with_capacity(node.inputs.len());
    // values held in attributes (a Constant's tensor) are already in the package
    let mut in_bytes: usize = node
        .attrs
        .0
        .values()
        .map(|a| match a {
            Attr::Tensor(t) => t.byte_size(),
            Attr::Tensors(ts) => ts.iter().map(|t| t.byte_size()).sum(),
            Attr::Floats(v) => 4 * v.len(),
            Attr::Ints(v) => 8 * v.len(),
            Attr::Strings(v) => v.iter().map(|s| s.len()).sum(),
            _ => 0,
        })
        .sum();
    for i in &node.inputs {
        match i {
            None => inputs.push(None),
            Some(i) => match e.constant(*i) {
                Some(t) => {
                    in_bytes += t.byte_size();
                    inputs.push(Some(t.clone()));
                }
                None => return Ok(None),
            },
        }
    }
    let ctx = EvalCtx {
        n_outputs: n_out,
        subgraphs: &NoSubgraphs,
    };
    // an op that fails on these constants fails at run time too: leave it to say so there
    let Ok(out) = node.op.eval(&ctx, inputs) else {
        return Ok(None);
    };
    if out.len() < n_out {
        return Ok(None);
    }
    let out_bytes: usize = out.iter().take(n_out).map(|t| t.byte_size()).sum();
    if out_bytes > in_bytes.max(SMALL) {
        return Ok(None);
    }
    Ok(Some(out))
}
