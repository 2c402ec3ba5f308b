//! `fuse`: op patterns written out in primitives become the one op that computes them, so
//! that every backend implementing that op runs one kernel instead of a chain (and every
//! other backend still runs it: the fused op has a reference evaluation like any op).
//!
//! The rules, one file each, each producing a standard ONNX op:
//! - [`layernorm`]: `(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) * g + b` over the
//!   last axis -> `LayerNormalization`;
//! - [`hardswish`]: `x * clip(x + 3, 0, 6) / 6` -> `HardSwish`;
//! - [`gelu`]: `x * 0.5 * (1 + erf(x / sqrt 2))` -> `Gelu`.
//!
//! A rule replaces the pattern's last node by the fused node (same output value, so the
//! graph's interface and every reader are kept) and leaves the inner nodes to the `dead`
//! pass: an inner value that something else reads keeps its node, so a rule never needs to
//! prove that the pattern's inside is private to be correct. The fused node is named after
//! the node it replaces with the rule's name appended (`Div_12.layernorm`), which is how
//! `smelt info --plan` tells what made it.

pub mod gelu;
pub mod hardswish;
pub mod layernorm;
pub(crate) mod pattern;

use crate::Pass;
use smelt_core::Result;
use smelt_ir::{Editor, Graph, NodeId};

/// A rule: tries to match at node `k` (the pattern's last node) and rewrite; true if it did.
type Rule = fn(&mut Editor, NodeId) -> Result<bool>;

/// The rules in the order they are tried at each node.
const RULES: [(&str, Rule); 3] = [
    ("layernorm", layernorm::apply),
    ("hardswish", hardswish::apply),
    ("gelu", gelu::apply),
];

pub struct Fuse;

impl Pass for Fuse {
    fn name(&self) -> &'static str {
        "fuse"
    }

    fn run(&self, g: &mut Graph) -> Result<usize> {
        let mut e = Editor::new(g);
        let mut n = 0;
        // last nodes first, so that the largest pattern wins (a LayerNorm's final bias Add
        // before the scale Mul inside it); a node nothing reads any more is skipped
        for k in e.live().into_iter().rev() {
            let read = e
                .node(k)
                .outputs
                .iter()
                .flatten()
                .any(|&o| e.uses().is_used(e.graph(), o));
            if !read {
                continue;
            }
            for (_, rule) in RULES {
                if !e.is_dead(k) && rule(&mut e, k)? {
                    n += 1;
                    break;
                }
            }
        }
        e.finish()?;
        Ok(n)
    }
}

/// The rule that made a fused node, from its name (`Div_12.layernorm` -> `layernorm`).
pub fn made_by(node_name: &str) -> Option<&'static str> {
    let (_, suffix) = node_name.rsplit_once('.')?;
    RULES.iter().map(|(n, _)| *n).find(|n| *n == suffix)
}
