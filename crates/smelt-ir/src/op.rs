//! The [`Op`] trait every op implements, and the [`Registry`] of op factories.
//!
//! Contract: an op is built once per node from its attributes by an [`OpFactory`] (which
//! validates them and resolves opset-versioned behaviour), then `eval` may be called many
//! times, from many threads, on inputs whose types may change between calls.

use crate::{Attributes, Graph};
use smelt_core::{Error, Result, Tensor, ValueInfo};
use std::collections::HashMap;
use std::fmt::Debug;

/// What a factory sees of the node it builds an op for.
pub struct OpCtx<'a> {
    pub attrs: &'a Attributes,
    /// Opset version of the node's domain in the model.
    pub opset: i64,
    pub n_inputs: usize,
    pub n_outputs: usize,
    pub node_name: &'a str,
}

/// Runs a subgraph (If / Loop / Scan bodies) in the scope of the node being evaluated:
/// captured values resolve against the enclosing graph's live values.
pub trait SubgraphRunner: Sync {
    fn run(&self, graph: &Graph, inputs: Vec<Tensor>) -> Result<Vec<Tensor>>;
}

/// What an op sees while evaluating.
pub struct EvalCtx<'a> {
    /// How many outputs the node declares (trailing optional outputs may be omitted).
    pub n_outputs: usize,
    pub subgraphs: &'a dyn SubgraphRunner,
}

/// What an op sees during shape and type inference.
pub struct InferCtx<'a> {
    pub inputs: &'a [Option<ValueInfo>],
    /// Values of inputs that are constants, where known.
    pub consts: &'a [Option<Tensor>],
    pub n_outputs: usize,
}

pub trait Op: Send + Sync + Debug {
    fn op_type(&self) -> &str;

    /// Output types and shapes from input types; `ValueInfo::unknown()` where it cannot tell.
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![ValueInfo::unknown(); ctx.n_outputs])
    }

    /// The reference evaluation. `inputs[i]` is `None` for an omitted optional input.
    /// Returns at least `ctx.n_outputs` tensors (extra ones are dropped).
    fn eval(&self, ctx: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>>;
}

pub type OpFactory = fn(&OpCtx) -> Result<Box<dyn Op>>;

/// Op factories by (domain, op type). The default ONNX domain is stored as "".
#[derive(Default, Clone)]
pub struct Registry {
    map: HashMap<(String, String), OpFactory>,
}

/// "ai.onnx" and "" are the same domain.
pub fn normalize_domain(d: &str) -> &str {
    if d == "ai.onnx" {
        ""
    } else {
        d
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn register(&mut self, domain: &str, op_type: &str, f: OpFactory) {
        self.map.insert(
            (normalize_domain(domain).to_string(), op_type.to_string()),
            f,
        );
    }
    pub fn get(&self, domain: &str, op_type: &str) -> Option<OpFactory> {
        self.map
            .get(&(normalize_domain(domain).to_string(), op_type.to_string()))
            .copied()
    }
    pub fn build(&self, domain: &str, op_type: &str, ctx: &OpCtx) -> Result<Box<dyn Op>> {
        let f = self
            .get(domain, op_type)
            .ok_or_else(|| Error::UnsupportedOp {
                domain: if domain.is_empty() {
                    "ai.onnx".into()
                } else {
                    domain.into()
                },
                op_type: op_type.into(),
                detail: String::new(),
            })?;
        f(ctx)
    }
    /// (domain, op type) of every registered op, sorted.
    pub fn ops(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.map.keys().cloned().collect();
        v.sort();
        v
    }
}
