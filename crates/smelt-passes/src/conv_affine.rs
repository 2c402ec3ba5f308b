//! `conv_affine`: a Mul, Div, Add or Sub by a per-channel constant right after a Conv is
//! folded into the Conv's weights and bias (exporters write an inference BatchNorm this way,
//! as `Mul(Conv, scale)` then `Add(.., shift)`).
//!
//! With `c` a constant of one element, or of shape `[M, 1, ...]` right-aligned against the
//! Conv's output `[N, M, spatial...]` (every dim 1 but the channel dim, which is M):
//! - `Conv(x, W, B) * c` -> `Conv(x, W * c[m], B * c[m])` (`c * Conv` too);
//! - `Conv(x, W, B) / c` -> `Conv(x, W / c[m], B / c[m])`;
//! - `Conv(x, W, B) + c` -> `Conv(x, W, B + c[m])` (`c + Conv` too);
//! - `Conv(x, W, B) - c` -> `Conv(x, W, B - c[m])`.
//!
//! Applies when W (and B, if present) and c are f32 constants and the Conv's output is read
//! by that node alone. The new weights are new initializers (W may be shared); the products
//! are made in f64 and rounded once.

use crate::Pass;
use smelt_core::{DType, Result, Tensor};
use smelt_ir::{Editor, Graph, NodeId, ValueId};
use smelt_ops::nn::conv::Conv;

pub struct FoldConvAffine;

impl Pass for FoldConvAffine {
    fn name(&self) -> &'static str {
        "conv_affine"
    }

    fn run(&self, g: &mut Graph) -> Result<usize> {
        let mut e = Editor::new(g);
        let mut n = 0;
        for k in e.live() {
            if !e.is_dead(k) && fold(&mut e, k)? {
                n += 1;
            }
        }
        e.finish()?;
        Ok(n)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Mul,
    Div,
    Add,
    Sub,
}

/// The per-channel values of constant `c` against a Conv output of rank `rank` with `m`
/// channels: `m` values (a single element repeated), or `None` if `c` is not per-channel.
fn per_channel(e: &Editor, c: ValueId, rank: usize, m: usize) -> Option<Vec<f64>> {
    let t = e.constant(c)?;
    if t.dtype() != DType::F32 || t.shape().len() > rank {
        return None;
    }
    let v = t.as_slice::<f32>().ok()?;
    if v.len() == 1 {
        return Some(vec![v[0] as f64; m]);
    }
    // right-aligned: the channel dim of the output is at index 1, i.e. at `1 - (rank -
    // t_rank)` in c's shape
    let lead = rank - t.shape().len();
    let channel_only =
        t.shape()
            .iter()
            .enumerate()
            .all(|(i, &d)| if i + lead == 1 { d == m } else { d == 1 });
    (channel_only && lead <= 1).then(|| v.iter().map(|&x| x as f64).collect())
}

fn f32_constant(e: &Editor, v: ValueId) -> Option<Tensor> {
    let t = e.constant(v)?;
    (t.dtype() == DType::F32).then(|| t.clone())
}

/// Folds node `k` into the Conv before it, if the pattern holds.
fn fold(e: &mut Editor, k: NodeId) -> Result<bool> {
    let node = e.node(k);
    if !node.domain.is_empty() {
        return Ok(false);
    }
    let kind = match node.op_type.as_str() {
        "Mul" => Kind::Mul,
        "Div" => Kind::Div,
        "Add" => Kind::Add,
        "Sub" => Kind::Sub,
        _ => return Ok(false),
    };
    let (Some(a), Some(b), Some(z)) = (e.input(k, 0), e.input(k, 1), e.output(k, 0)) else {
        return Ok(false);
    };
    let conv_of = |v: ValueId| match e.uses().producer(v) {
        Some((p, 0)) if e.node(p).op_as::<Conv>().is_some() => Some(p),
        _ => None,
    };
    // the Conv's output and the constant; Div and Sub only with the Conv on the left
    let (y, c, conv) = match (conv_of(a), conv_of(b)) {
        (Some(p), _) if e.constant(b).is_some() => (a, b, p),
        (_, Some(p)) if e.constant(a).is_some() && matches!(kind, Kind::Mul | Kind::Add) => {
            (b, a, p)
        }
        _ => return Ok(false),
    };
    if e.uses().single_reader(e.graph(), y).is_none() {
        return Ok(false);
    }
    let Some(w) = e.input(conv, 1).and_then(|v| f32_constant(e, v)) else {
        return Ok(false);
    };
    let (rank, m) = (w.shape().len(), w.shape().first().copied().unwrap_or(0));
    let Some(cv) = (m > 0).then(|| per_channel(e, c, rank, m)).flatten() else {
        return Ok(false);
    };
    let bias: Option<Vec<f64>> = match e.input(conv, 2) {
        None => None,
        Some(v) => match f32_constant(e, v) {
            Some(t) if t.len() == m => Some(t.to_f64_vec()?),
            _ => return Ok(false),
        },
    };
    let wv = w.as_slice::<f32>()?;
    let per = wv.len() / m;
    let scaled = |s: &dyn Fn(usize) -> f64| -> Vec<f32> {
        wv.iter()
            .enumerate()
            .map(|(i, &x)| (x as f64 * s(i / per)) as f32)
            .collect()
    };
    let b0 = |ch: usize| bias.as_ref().map_or(0.0, |b| b[ch]);
    let (new_w, new_b): (Option<Vec<f32>>, Vec<f32>) = match kind {
        Kind::Mul => (
            Some(scaled(&|ch| cv[ch])),
            (0..m).map(|ch| (b0(ch) * cv[ch]) as f32).collect(),
        ),
        Kind::Div => (
            Some(scaled(&|ch| 1.0 / cv[ch])),
            (0..m).map(|ch| (b0(ch) / cv[ch]) as f32).collect(),
        ),
        Kind::Add => (None, (0..m).map(|ch| (b0(ch) + cv[ch]) as f32).collect()),
        Kind::Sub => (None, (0..m).map(|ch| (b0(ch) - cv[ch]) as f32).collect()),
    };
    let name = e.node(conv).name.clone();
    if let Some(new_w) = new_w {
        let w2 = e.add_constant(
            &format!("{name}.weight_affine"),
            Tensor::from_vec(w.shape().to_vec(), new_w)?,
        );
        e.set_input(conv, 1, Some(w2));
    }
    let b2 = e.add_constant(
        &format!("{name}.bias_affine"),
        Tensor::from_vec(vec![m], new_b)?,
    );
    if e.node(conv).inputs.len() < 3 {
        let mut n = e.node(conv).clone();
        n.inputs.resize(3, None);
        n.inputs[2] = Some(b2);
        e.remove_node(conv);
        e.add_node(n)?;
    } else {
        e.set_input(conv, 2, Some(b2));
    }
    e.remove_node(k);
    e.replace_uses(z, y)?;
    Ok(true)
}
