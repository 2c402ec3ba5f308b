//! `conv_epilogue`: `act(Conv(X, W, B) + Z)` -> `ai.smelt::FusedConv(X, W, B, Z)`.
//!
//! Matches a default-domain Conv whose output is read by exactly one node (not a graph
//! output, not captured by a subgraph), which is either
//! - an Add of the output and another value Z (the residual) of the same shape, itself
//!   optionally read only by an element-wise activation, or
//! - an element-wise activation: any op that is an f32 map (`Op::f32_map`: Relu, LeakyRelu,
//!   HardSwish, HardSigmoid, Sigmoid, Tanh, ...), or a Clip whose bounds are constants.
//!
//! The fused node writes the last matched node's output, so readers and the graph's
//! interface are kept; the Conv and Add nodes are removed (their outputs had no other
//! reader). [`candidates`] says, for every Conv followed by an Add or an activation,
//! whether the rule fuses it and if not why, for `smelt info --plan`.

use crate::fuse::pattern::{is, operands, replace_in};
use crate::Pass;
use smelt_core::{Dim, Result};
use smelt_ir::{Attr, Attributes, Editor, Graph, NodeId, ValueId};
use smelt_ops::nn::fused_conv::{ACT_PREFIX, DOMAIN, OP_TYPE};

/// The rule's name, appended to the fused node's name.
pub const RULE: &str = "conv_epilogue";

/// One Conv the rule looked at, and what it decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The Conv node's name.
    pub conv: String,
    /// `Ok(pattern)` when fused ("Conv+Add+Relu"), `Err(reason)` when refused.
    pub outcome: std::result::Result<String, String>,
}

/// The nodes a match covers.
struct Match {
    conv: NodeId,
    /// The Add and its other operand (the residual).
    add: Option<(NodeId, ValueId)>,
    /// The activation node, its op type and the attributes and opset the fused node
    /// rebuilds it with.
    act: Option<(NodeId, String, Attributes, i64)>,
}

impl Match {
    fn pattern(&self) -> String {
        let mut p = "Conv".to_string();
        if self.add.is_some() {
            p.push_str("+Add");
        }
        if let Some((_, op, _, _)) = &self.act {
            p.push('+');
            p.push_str(op);
        }
        p
    }
    fn last(&self) -> NodeId {
        match (&self.act, &self.add) {
            (Some((a, ..)), _) => *a,
            (None, Some((a, _))) => *a,
            (None, None) => self.conv,
        }
    }
}

/// Node `k` as an activation the fused op can apply: (op type, attributes, opset).
fn activation(e: &Editor, k: NodeId) -> Option<(String, Attributes, i64)> {
    let n = e.node(k);
    if !n.domain.is_empty() || e.is_dead(k) {
        return None;
    }
    if n.op_type == "Clip" && n.opset >= 11 {
        // constant bounds become attributes of the opset-6 form; an absent bound is infinite
        let bound = |slot: usize, absent: f32| -> Option<f32> {
            match n.inputs.get(slot).copied().flatten() {
                None => Some(absent),
                Some(v) => {
                    let t = e.constant(v)?;
                    (t.len() == 1 && t.dtype().is_float())
                        .then(|| t.to_f64_vec().ok()?.first().map(|&x| x as f32))
                        .flatten()
                }
            }
        };
        let (lo, hi) = (bound(1, f32::NEG_INFINITY)?, bound(2, f32::INFINITY)?);
        let attrs = Attributes::new()
            .with("min", Attr::Float(lo))
            .with("max", Attr::Float(hi));
        return Some(("Clip".into(), attrs, 6));
    }
    let one_input = n.inputs.iter().flatten().count() == 1;
    (one_input && n.op.f32_map().is_some()).then(|| (n.op_type.clone(), n.attrs.clone(), n.opset))
}

fn shape_of(g: &Graph, v: ValueId) -> Option<Vec<usize>> {
    let s = g.values[v].info.shape.as_ref()?;
    s.iter()
        .map(|d| match d {
            Dim::Fixed(n) => Some(*n),
            _ => None,
        })
        .collect()
}

/// What the rule makes of Conv node `k`: `None` when nothing it fuses follows the Conv.
fn examine(e: &Editor, k: NodeId) -> Option<std::result::Result<Match, String>> {
    if !is(e, k, "Conv") || e.is_dead(k) {
        return None;
    }
    let g = e.graph();
    let y = e.output(k, 0)?;
    let follows = |r: NodeId| is(e, r, "Add") || activation(e, r).is_some();
    if !e.uses().readers(y).iter().any(|&(r, _)| follows(r)) {
        return None;
    }
    let Some((r, _)) = e.uses().single_reader(g, y) else {
        let others = e.uses().readers(y).len();
        let also = if g.outputs.contains(&y) {
            "it is a graph output".to_string()
        } else if !e.uses().captured_by(y).is_empty() {
            "a subgraph reads it".to_string()
        } else {
            format!("{others} nodes read it")
        };
        return Some(Err(format!("the Conv's output has other readers: {also}")));
    };
    let mut m = Match {
        conv: k,
        add: None,
        act: None,
    };
    if is(e, r, "Add") {
        let (a, b) = operands(e, r)?;
        if a == b {
            return Some(Err("the Add adds the Conv's output to itself".into()));
        }
        let z = if a == y { b } else { a };
        if let (Some(ys), Some(zs)) = (shape_of(g, y), shape_of(g, z)) {
            if ys != zs {
                return Some(Err(format!(
                    "the residual {zs:?} broadcasts to the output {ys:?}"
                )));
            }
        }
        m.add = Some((r, z));
        let sum = e.output(r, 0)?;
        if let Some((r2, _)) = e.uses().single_reader(g, sum) {
            if let Some((op, attrs, opset)) = activation(e, r2) {
                m.act = Some((r2, op, attrs, opset));
            }
        }
    } else {
        let (op, attrs, opset) = activation(e, r)?;
        m.act = Some((r, op, attrs, opset));
    }
    Some(Ok(m))
}

/// Every Conv of `g` (not of its subgraphs) followed by an Add or an activation, in graph
/// order, with what the rule decides for it.
pub fn candidates(g: &Graph) -> Vec<Candidate> {
    let mut copy = g.clone();
    let e = Editor::new(&mut copy);
    e.live()
        .into_iter()
        .filter_map(|k| {
            let outcome = examine(&e, k)?.map(|m| m.pattern());
            Some(Candidate {
                conv: e.node(k).name.clone(),
                outcome,
            })
        })
        .collect()
}

pub struct ConvEpilogue;

impl Pass for ConvEpilogue {
    fn name(&self) -> &'static str {
        RULE
    }

    fn run(&self, g: &mut Graph) -> Result<usize> {
        let mut e = Editor::new(g);
        let mut n = 0;
        for k in e.live() {
            let Some(Ok(m)) = examine(&e, k) else {
                continue;
            };
            let conv = e.node(m.conv);
            let mut inputs: Vec<Option<ValueId>> = (0..3)
                .map(|s| conv.inputs.get(s).copied().flatten())
                .collect();
            inputs.push(m.add.map(|(_, z)| z));
            let mut attrs = conv.attrs.clone();
            if let Some((_, op, act_attrs, opset)) = &m.act {
                attrs = attrs
                    .with("activation", Attr::String(op.clone()))
                    .with("activation_opset", Attr::Int(*opset));
                for (name, v) in &act_attrs.0 {
                    attrs = attrs.with(&format!("{ACT_PREFIX}{name}"), v.clone());
                }
            }
            let last = m.last();
            if !replace_in(&mut e, last, RULE, DOMAIN, OP_TYPE, &inputs, attrs)? {
                continue;
            }
            e.remove_node(m.conv);
            if let Some((add, _)) = m.add {
                if add != last {
                    e.remove_node(add);
                }
            }
            n += 1;
        }
        e.finish()?;
        Ok(n)
    }
}
