//! Per-device lowering passes: run on the copy of the graph one device executes, at load,
//! and never saved. Each makes the graph cheaper for a device that has the kernels for it;
//! a device lists the ones it takes ([`cpu`]; a GPU backend takes [`decode`]).
//!
//! - `decode` ([`decode`]): compressed-weight decodes evaluated once into constants, for a
//!   device that would otherwise decode them on every prediction;
//! - `conv_epilogue` ([`conv_epilogue`]): a Conv with the residual Add and the element-wise
//!   activation that follow it becomes one `ai.smelt::FusedConv`, which applies them to
//!   each block of its output while it is in cache.
//!
//! A fused node's name is the last node it replaces with the rule appended
//! (`Relu_12.conv_epilogue`), which is how `smelt info --plan` tells what made it.

pub mod conv_epilogue;
pub mod decode;

use crate::Pass;

/// The lowering passes the CPU takes, in order.
pub fn cpu() -> Vec<Box<dyn Pass>> {
    vec![Box::new(conv_epilogue::ConvEpilogue)]
}

/// The rule that made a lowered node, from its name (`Relu_12.conv_epilogue` ->
/// `conv_epilogue`).
pub fn made_by(node_name: &str) -> Option<&'static str> {
    let (_, suffix) = node_name.rsplit_once('.')?;
    [conv_epilogue::RULE].into_iter().find(|r| *r == suffix)
}
