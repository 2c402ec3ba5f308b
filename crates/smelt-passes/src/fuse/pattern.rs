//! What the fusion rules ask of the graph: which node makes a value, the operands of a
//! binary node in either order, constant scalars, and the replacement of a pattern's last
//! node by the fused node.

use smelt_core::Result;
use smelt_ir::{Attributes, Editor, Node, NodeId, OpCtx, ValueId};

/// The default-domain node of type `op` that makes `v` (as its first output).
pub fn made_by(e: &Editor, v: ValueId, op: &str) -> Option<NodeId> {
    let (k, 0) = e.uses().producer(v)? else {
        return None;
    };
    let n = e.node(k);
    (n.domain.is_empty() && n.op_type == op && !e.is_dead(k)).then_some(k)
}

/// Whether node `k` is a default-domain `op` node.
pub fn is(e: &Editor, k: NodeId, op: &str) -> bool {
    let n = e.node(k);
    n.domain.is_empty() && n.op_type == op
}

/// The two inputs of binary node `k`.
pub fn operands(e: &Editor, k: NodeId) -> Option<(ValueId, ValueId)> {
    Some((e.input(k, 0)?, e.input(k, 1)?))
}

/// The value of a constant with one element, as f64.
pub fn scalar(e: &Editor, v: ValueId) -> Option<f64> {
    let t = e.constant(v)?;
    if t.len() != 1 || !t.dtype().is_float() {
        return None;
    }
    t.to_f64_vec().ok()?.first().copied()
}

/// Whether `v` is a constant scalar within 1e-6 (relative) of `want`.
pub fn scalar_is(e: &Editor, v: ValueId, want: f64) -> bool {
    scalar(e, v).is_some_and(|x| (x - want).abs() <= 1e-6 * want.abs().max(1.0))
}

/// For a commutative binary node: (the operand that satisfies `pick`, the other one).
pub fn split(e: &Editor, k: NodeId, pick: impl Fn(ValueId) -> bool) -> Option<(ValueId, ValueId)> {
    let (a, b) = operands(e, k)?;
    if pick(a) {
        Some((a, b))
    } else if pick(b) {
        Some((b, a))
    } else {
        None
    }
}

/// Replaces node `last` by a default-domain `op_type` node reading `inputs` and writing
/// `last`'s first output, named `{last's name}.{rule}`. The nodes that fed `last` stay
/// (the `dead` pass removes those nothing else reads).
pub fn replace(
    e: &mut Editor,
    last: NodeId,
    rule: &str,
    op_type: &str,
    inputs: &[Option<ValueId>],
    attrs: Attributes,
) -> Result<bool> {
    replace_in(e, last, rule, "", op_type, inputs, attrs)
}

/// [`replace`] with a node of `domain` (opset 1 for a domain other than the default).
pub fn replace_in(
    e: &mut Editor,
    last: NodeId,
    rule: &str,
    domain: &str,
    op_type: &str,
    inputs: &[Option<ValueId>],
    attrs: Attributes,
) -> Result<bool> {
    let Some(out) = e.output(last, 0) else {
        return Ok(false);
    };
    let old = e.node(last);
    if old.outputs.iter().skip(1).flatten().next().is_some() {
        return Ok(false);
    }
    let name = format!("{}.{rule}", old.name);
    let opset = if domain.is_empty() { old.opset } else { 1 };
    let ctx = OpCtx {
        attrs: &attrs,
        opset,
        n_inputs: inputs.len(),
        n_outputs: 1,
        node_name: &name,
    };
    let op = smelt_ops::registry().build(domain, op_type, &ctx)?;
    let node = Node {
        name,
        op_type: op_type.to_string(),
        domain: domain.to_string(),
        attrs,
        inputs: inputs.to_vec(),
        outputs: vec![Some(out)],
        op: op.into(),
        opset,
    };
    e.remove_node(last);
    e.add_node(node)?;
    Ok(true)
}
