//! `dead`: pure nodes whose outputs nothing reads (no node, no subgraph, not a graph output)
//! are removed, last first so that chains go at once; initializers nothing reads are dropped
//! (by [`smelt_ir::Editor::finish`]).

use crate::Pass;
use smelt_core::Result;
use smelt_ir::{Editor, Graph};

pub struct DeadNodes;

impl Pass for DeadNodes {
    fn name(&self) -> &'static str {
        "dead"
    }

    fn run(&self, g: &mut Graph) -> Result<usize> {
        let mut e = Editor::new(g);
        let mut n = 0;
        for k in e.live().into_iter().rev() {
            let node = e.node(k);
            let used = node
                .outputs
                .iter()
                .flatten()
                .any(|o| e.uses().is_used(e.graph(), *o));
            if node.op.is_pure() && !used {
                e.remove_node(k);
                n += 1;
            }
        }
        e.finish()?;
        Ok(n)
    }
}
