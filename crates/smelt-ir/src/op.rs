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

/// The runner for evaluations outside an executor (constant folding, fused ops' parts,
/// tests), which hold no subgraphs: running one is an error naming it.
pub struct NoSubgraphs;

impl SubgraphRunner for NoSubgraphs {
    fn run(&self, graph: &Graph, _: Vec<Tensor>) -> Result<Vec<Tensor>> {
        Err(Error::invalid(format!(
            "this evaluation runs no subgraphs (asked to run '{}')",
            graph.name
        )))
    }
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

/// Typed access to an op behind `dyn Op`: `node.op_as::<Conv>()` (see [`crate::Node::op_as`]).
/// Implemented for every `'static` type, so ops get it without writing anything.
pub trait AsAny {
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<T: std::any::Any> AsAny for T {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An element-wise f32 map applied in place (see [`Op::f32_map`]).
pub type F32Map = std::sync::Arc<dyn Fn(&mut [f32]) + Send + Sync>;

pub trait Op: AsAny + Send + Sync + Debug {
    fn op_type(&self) -> &str;

    /// The op as an in-place map over f32 elements, when it is one: one input, one output
    /// of the same shape, each output element a function of the input element at the same
    /// place alone (Relu, Sigmoid, HardSwish, ...), computing what `eval` computes for f32
    /// (within the op's stated error where it has a fast kernel). Fused kernels apply it to
    /// blocks of their output while they are in cache. `None` for every other op.
    fn f32_map(&self) -> Option<F32Map> {
        None
    }

    /// Output types and shapes from input types; `ValueInfo::unknown()` where it cannot tell.
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![ValueInfo::unknown(); ctx.n_outputs])
    }

    /// Whether the op gives the same outputs for the same inputs, with no effect besides
    /// them: what constant folding, dead-node removal and common-subexpression elimination
    /// require. Random ops say no.
    fn is_pure(&self) -> bool {
        true
    }

    /// Outputs known from the input types alone, without their values (`Shape` and `Size`
    /// of a value whose shape is fixed); constant folding uses it. `None` when they are not.
    fn value_from_types(&self, _inputs: &[Option<ValueInfo>]) -> Option<Vec<Tensor>> {
        None
    }

    /// Whether the node passes input 0 through unchanged as output 0 (Identity; Dropout
    /// when not training; Cast to the type its input has), given its input types and its
    /// constant inputs, one entry per input slot (`None`: the slot is absent / the input is
    /// not a constant). The declutter pass removes such a node when its other outputs are
    /// unread.
    fn is_identity(&self, _types: &[Option<ValueInfo>], _consts: &[Option<&Tensor>]) -> bool {
        false
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
