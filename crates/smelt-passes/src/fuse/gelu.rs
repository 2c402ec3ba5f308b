//! `gelu`: `x * 0.5 * (1 + erf(x / sqrt 2))` -> `Gelu(x)` (exact, `approximate="none"`).
//!
//! Matched from the last node, a `Mul` whose operands multiply out to the three factors
//! `x`, `0.5` and `Add(Erf(t), 1)` in any grouping and order, where `t` is `Div(x, sqrt 2)`
//! or `Mul(x, 1/sqrt 2)`.

use super::pattern::*;
use smelt_core::Result;
use smelt_ir::{Attributes, Editor, NodeId, ValueId};

pub fn apply(e: &mut Editor, k: NodeId) -> Result<bool> {
    if !is(e, k, "Mul") {
        return Ok(false);
    }
    let Some((p, q)) = operands(e, k) else {
        return Ok(false);
    };
    // the three factors, with 0.5 found at either level
    let mut triples: Vec<[ValueId; 2]> = Vec::new();
    for (a, b) in [(p, q), (q, p)] {
        if scalar_is(e, a, 0.5) {
            if let Some((u, w)) = made_by(e, b, "Mul").and_then(|m| operands(e, m)) {
                triples.push([u, w]);
            }
        } else if let Some(m) = made_by(e, a, "Mul") {
            if let Some((_, other)) = split(e, m, |v| scalar_is(e, v, 0.5)) {
                triples.push([other, b]);
            }
        }
    }
    for [u, w] in triples {
        for (x, a) in [(u, w), (w, u)] {
            if one_plus_erf_of(e, a, x) {
                let attrs = Attributes::new();
                return replace(e, k, "gelu", "Gelu", &[Some(x)], attrs);
            }
        }
    }
    Ok(false)
}

/// Whether `a` is `Add(Erf(x / sqrt 2), 1)`.
fn one_plus_erf_of(e: &Editor, a: ValueId, x: ValueId) -> bool {
    let Some(add) = made_by(e, a, "Add") else {
        return false;
    };
    let Some((_, t)) = split(e, add, |v| scalar_is(e, v, 1.0)) else {
        return false;
    };
    let Some(erf) = made_by(e, t, "Erf") else {
        return false;
    };
    let Some(arg) = e.input(erf, 0) else {
        return false;
    };
    if let Some(div) = made_by(e, arg, "Div") {
        return operands(e, div)
            .is_some_and(|(y, s)| y == x && scalar_is(e, s, std::f64::consts::SQRT_2));
    }
    if let Some(mul) = made_by(e, arg, "Mul") {
        return split(e, mul, |v| scalar_is(e, v, std::f64::consts::FRAC_1_SQRT_2))
            .is_some_and(|(_, y)| y == x);
    }
    false
}
