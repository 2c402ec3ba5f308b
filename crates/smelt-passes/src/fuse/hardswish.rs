//! `hardswish`: `x * clip(x + 3, 0, 6) / 6` -> `HardSwish(x)`.
//!
//! Matched from the last node: `Div(m, 6)` or `Mul(m, 1/6)`, where
//! `m = Mul(x, Clip(Add(x, 3), 0, 6))` (operands of Mul and Add in either order; Clip's
//! bounds as inputs, from opset 11, or as attributes before).

use super::pattern::*;
use smelt_core::Result;
use smelt_ir::{Attributes, Editor, NodeId};

pub fn apply(e: &mut Editor, k: NodeId) -> Result<bool> {
    let m = if is(e, k, "Div") {
        match operands(e, k) {
            Some((m, six)) if scalar_is(e, six, 6.0) => m,
            _ => return Ok(false),
        }
    } else if is(e, k, "Mul") {
        match split(e, k, |v| scalar_is(e, v, 1.0 / 6.0)) {
            Some((_, m)) => m,
            None => return Ok(false),
        }
    } else {
        return Ok(false);
    };
    let Some(mul) = made_by(e, m, "Mul") else {
        return Ok(false);
    };
    let Some((a, b)) = operands(e, mul) else {
        return Ok(false);
    };
    for (x, c) in [(a, b), (b, a)] {
        if clip_of_x_plus_3(e, c, x) {
            return replace(
                e,
                k,
                "hardswish",
                "HardSwish",
                &[Some(x)],
                Attributes::new(),
            );
        }
    }
    Ok(false)
}

/// Whether `c` is `Clip(Add(x, 3), 0, 6)`.
fn clip_of_x_plus_3(e: &Editor, c: usize, x: usize) -> bool {
    let Some(clip) = made_by(e, c, "Clip") else {
        return false;
    };
    let bounds = match (e.input(clip, 1), e.input(clip, 2)) {
        (Some(lo), Some(hi)) => scalar_is(e, lo, 0.0) && scalar_is(e, hi, 6.0),
        (None, None) => {
            let a = &e.node(clip).attrs;
            let f = |n: &str| a.float(n).ok().flatten().map(|v| v as f64);
            f("min") == Some(0.0) && f("max") == Some(6.0)
        }
        _ => false,
    };
    let Some(add) = e.input(clip, 0).and_then(|v| made_by(e, v, "Add")) else {
        return false;
    };
    bounds && split(e, add, |v| scalar_is(e, v, 3.0)).is_some_and(|(_, y)| y == x)
}
