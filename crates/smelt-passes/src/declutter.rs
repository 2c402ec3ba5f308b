//! `declutter`: nodes that do nothing are removed, chains are shortened.
//!
//! - A node whose op says it passes input 0 through unchanged ([`smelt_ir::Op::is_identity`]:
//!   Identity, Dropout when not training, Cast to the type it has) is removed when its other
//!   outputs are unread; its readers read its input.
//! - `Reshape(Reshape(x, s1), s2)` reads `x` directly when `s2` is a constant with no 0
//!   entry (a 0 copies a dim of the reshape's own input) and the inner Reshape has no other
//!   reader; the inner one is then dead.

use crate::Pass;
use smelt_core::Result;
use smelt_ir::{Editor, Graph};
use smelt_ops::array::reshape::Reshape;

pub struct Declutter;

impl Pass for Declutter {
    fn name(&self) -> &'static str {
        "declutter"
    }

    fn run(&self, g: &mut Graph) -> Result<usize> {
        let mut e = Editor::new(g);
        let mut n = 0;
        for k in e.live() {
            if remove_identity(&mut e, k)? || skip_inner_reshape(&mut e, k) {
                n += 1;
            }
        }
        e.finish()?;
        Ok(n)
    }
}

fn remove_identity(e: &mut Editor, k: usize) -> Result<bool> {
    let g = e.graph();
    let node = e.node(k);
    let (Some(x), Some(y)) = (e.input(k, 0), e.output(k, 0)) else {
        return Ok(false);
    };
    let types: Vec<_> = node
        .inputs
        .iter()
        .map(|i| i.map(|i| g.values[i].info.clone()))
        .collect();
    let consts: Vec<_> = node
        .inputs
        .iter()
        .map(|i| i.and_then(|i| e.constant(i)))
        .collect();
    if !node.op.is_identity(&types, &consts) {
        return Ok(false);
    }
    let others_read = node
        .outputs
        .iter()
        .skip(1)
        .flatten()
        .any(|o| e.uses().is_used(g, *o));
    // a graph output that would become a graph input or output under another name, or a
    // captured value, stays as it is
    let y_out = g.outputs.contains(&y);
    let x_io = g.inputs.contains(&x) || g.outputs.contains(&x) || g.initializers.contains_key(&x);
    if others_read || (y_out && x_io) || !e.uses().captured_by(y).is_empty() {
        return Ok(false);
    }
    e.remove_node(k);
    e.replace_uses(y, x)?;
    Ok(true)
}

fn skip_inner_reshape(e: &mut Editor, k: usize) -> bool {
    if e.node(k).op_as::<Reshape>().is_none() {
        return false;
    }
    let (Some(mid), Some(spec)) = (e.input(k, 0), e.input(k, 1)) else {
        return false;
    };
    let no_zero = e
        .constant(spec)
        .and_then(|t| t.to_i64_vec().ok())
        .is_some_and(|s| !s.contains(&0));
    let Some((inner, 0)) = e.uses().producer(mid) else {
        return false;
    };
    if !no_zero
        || e.node(inner).op_as::<Reshape>().is_none()
        || e.uses().single_reader(e.graph(), mid).is_none()
    {
        return false;
    }
    let x = e.input(inner, 0);
    e.set_input(k, 0, x);
    true
}
