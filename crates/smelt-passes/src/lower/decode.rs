//! `decode`: a per-device lowering pass (never saved). Compressed weights are decode nodes
//! of smelt's `ai.smelt` domain (LinearDequantize, LutToDense) reading constant codes and
//! tables; a device that has no kernel for them (or no fused reader) would otherwise run the
//! decode on the CPU and copy the result on every prediction. This pass evaluates each such
//! node once, at load, and makes its output an ordinary constant: the device then uploads
//! the decoded weight once, like any other. The CPU does not take it: its lowering keeps
//! weights compressed and decodes them a tile at a time inside the reading kernel.
//!
//! The portable graph is left alone: run this on the copy a device executes.

use crate::Pass;
use smelt_core::Result;
use smelt_ir::{Editor, EvalCtx, Graph, NoSubgraphs};

/// The domain of smelt's own ops (compressed-weight decodes).
pub const SMELT_DOMAIN: &str = "ai.smelt";

pub struct DecodeWeights;

impl Pass for DecodeWeights {
    fn name(&self) -> &'static str {
        "decode"
    }

    fn run(&self, g: &mut Graph) -> Result<usize> {
        let mut e = Editor::new(g);
        let mut n = 0;
        for k in e.live() {
            let node = e.node(k);
            if node.domain != SMELT_DOMAIN || !node.op.is_pure() {
                continue;
            }
            let inputs: Option<Vec<_>> = node
                .inputs
                .iter()
                .map(|i| match i {
                    None => Some(None),
                    Some(v) => e.constant(*v).map(|t| Some(t.clone())),
                })
                .collect();
            let (Some(inputs), outputs) = (inputs, node.outputs.clone()) else {
                continue;
            };
            if outputs
                .iter()
                .flatten()
                .any(|o| e.graph().outputs.contains(o))
            {
                continue;
            }
            let ctx = EvalCtx {
                n_outputs: outputs.len(),
                subgraphs: &NoSubgraphs,
            };
            let values = node.op.eval(&ctx, inputs)?;
            e.remove_node(k);
            for (o, t) in outputs.iter().zip(values) {
                if let Some(o) = o {
                    e.set_constant(*o, t)?;
                }
            }
            n += 1;
        }
        e.finish()?;
        Ok(n)
    }
}
