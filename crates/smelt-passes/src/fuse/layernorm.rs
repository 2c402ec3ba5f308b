//! `layernorm`: layer normalization written out over the last axis ->
//! `LayerNormalization(x, g, b, axis=-1, epsilon)`.
//!
//! Matched from the last node: `Add(Mul(n, g), b)`, `Mul(n, g)` or `n` itself (a `Div`),
//! with `n = Div(d, Sqrt(Add(ReduceMean(Pow(d, 2)), eps)))` and `d = Sub(x, ReduceMean(x))`,
//! both means over the last axis with kept dims; `g` and `b` constants of the last axis's
//! length (leading 1s allowed), `eps` a constant scalar. Without `g` the scale is ones.

use super::pattern::*;
use smelt_core::{DType, Result, Tensor};
use smelt_ir::{Attr, Attributes, Editor, NodeId, ValueId};

pub fn apply(e: &mut Editor, k: NodeId) -> Result<bool> {
    let Some(out) = e.output(k, 0) else {
        return Ok(false);
    };
    // peel the optional bias, then the optional scale, down to the normalized value
    let (mut n, mut beta, mut gamma) = (out, None, None);
    let mut mul = is(e, k, "Mul").then_some(k);
    if is(e, k, "Add") {
        if let Some((b, y)) = split(e, k, |v| vector(e, v).is_some()) {
            beta = Some(b);
            n = y;
            mul = made_by(e, y, "Mul");
        }
    }
    if let Some(m) = mul {
        if let Some((g, y)) = split(e, m, |v| vector(e, v).is_some()) {
            gamma = Some(g);
            n = y;
        }
    }
    if beta.is_some() && gamma.is_none() {
        return Ok(false);
    }
    let div = if n == out {
        is(e, k, "Div").then_some(k)
    } else {
        made_by(e, n, "Div")
    };
    let Some(div) = div else { return Ok(false) };
    let Some((x, eps)) = normalized(e, div) else {
        return Ok(false);
    };
    // the last axis's length, from x or from the parameters
    let c = last_dim(e, x).or_else(|| gamma.and_then(|g| vector(e, g)));
    let Some(c) = c else { return Ok(false) };
    let mut param = |v: Option<ValueId>, fill: f32, what: &str| -> Result<Option<ValueId>> {
        match v {
            Some(v) => match vector(e, v) {
                Some(len) if len == c => Ok(flat(e, v, what)),
                _ => Ok(None),
            },
            None => Ok(Some(e.add_constant(
                &format!("{}.{what}", e.node(div).name),
                Tensor::from_vec(vec![c], vec![fill; c])?,
            ))),
        }
    };
    let Some(g) = param(gamma, 1.0, "scale")? else {
        return Ok(false);
    };
    let b = match beta {
        Some(_) => match param(beta, 0.0, "bias")? {
            Some(b) => Some(b),
            None => return Ok(false),
        },
        None => None,
    };
    let attrs = Attributes::new()
        .with("axis", Attr::Int(-1))
        .with("epsilon", Attr::Float(eps as f32));
    let mut inputs = vec![Some(x), Some(g)];
    if b.is_some() {
        inputs.push(b);
    }
    replace(e, k, "layernorm", "LayerNormalization", &inputs, attrs)
}

/// `div = Div(Sub(x, mean(x)), Sqrt(Add(mean(Pow(Sub(..), 2)), eps)))`: (x, eps).
fn normalized(e: &Editor, div: NodeId) -> Option<(ValueId, f64)> {
    let (d, s) = operands(e, div)?;
    let sub = made_by(e, d, "Sub")?;
    let (x, m) = operands(e, sub)?;
    let mean_x = made_by(e, m, "ReduceMean")?;
    if e.input(mean_x, 0)? != x || !last_axis(e, mean_x, x) {
        return None;
    }
    let sqrt = made_by(e, s, "Sqrt")?;
    let add = made_by(e, e.input(sqrt, 0)?, "Add")?;
    let (eps, v) = split(e, add, |v| scalar(e, v).is_some())?;
    let eps = scalar(e, eps)?;
    let mean_sq = made_by(e, v, "ReduceMean")?;
    if !last_axis(e, mean_sq, x) {
        return None;
    }
    let sq = e.input(mean_sq, 0)?;
    let squared = if let Some(p) = made_by(e, sq, "Pow") {
        let (base, two) = operands(e, p)?;
        base == d && scalar_is(e, two, 2.0)
    } else if let Some(m) = made_by(e, sq, "Mul") {
        operands(e, m)? == (d, d)
    } else {
        false
    };
    (squared && eps >= 0.0).then_some((x, eps))
}

/// Whether ReduceMean node `r` averages the last axis of `x` alone, keeping dims.
fn last_axis(e: &Editor, r: NodeId, x: ValueId) -> bool {
    let a = &e.node(r).attrs;
    if a.int_or("keepdims", 1).ok() != Some(1) {
        return false;
    }
    let axes = match a.ints("axes").ok().flatten() {
        Some(v) => v,
        None => match e.input(r, 1).and_then(|v| e.constant(v)) {
            Some(t) => match t.to_i64_vec() {
                Ok(v) => v,
                Err(_) => return false,
            },
            None => return false,
        },
    };
    let rank = e.graph().values[x]
        .info
        .shape
        .as_ref()
        .map(|s| s.len() as i64);
    match axes.as_slice() {
        [-1] => true,
        [a] => rank.is_some_and(|r| *a == r - 1),
        _ => false,
    }
}

/// The length of an f32 constant whose dims are all 1 but the last.
fn vector(e: &Editor, v: ValueId) -> Option<usize> {
    let t = e.constant(v)?;
    let (last, lead) = t.shape().split_last()?;
    (t.dtype() == DType::F32 && lead.iter().all(|&d| d == 1)).then_some(*last)
}

/// Constant `v` as a rank-1 constant (itself when it is one).
fn flat(e: &mut Editor, v: ValueId, what: &str) -> Option<ValueId> {
    let t = e.constant(v)?;
    if t.rank() == 1 {
        return Some(v);
    }
    let r = t.reshape(vec![t.len()]).ok()?;
    let name = format!("{}.{what}", e.graph().values[v].name);
    Some(e.add_constant(&name, r))
}

/// The fixed length of the last axis of `x`, if known.
fn last_dim(e: &Editor, x: ValueId) -> Option<usize> {
    e.graph().values[x].info.shape.as_ref()?.last()?.fixed()
}
