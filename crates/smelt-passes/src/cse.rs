//! `cse`: common subexpressions. Two pure nodes with the same domain, op type, opset,
//! attributes and inputs compute the same outputs: the later one's readers read the
//! earlier one's outputs, and the later one is removed. Nodes holding subgraphs, or tensor
//! attributes over [`MAX_ATTR_BYTES`], are left alone (comparing them costs more than it
//! saves).

use crate::Pass;
use smelt_core::Result;
use smelt_ir::{Attr, Attributes, Editor, Graph, Node};
use std::collections::HashMap;

/// Tensor attributes larger than this make a node's key too costly to build.
pub const MAX_ATTR_BYTES: usize = 1024;

pub struct CommonSubexpressions;

impl Pass for CommonSubexpressions {
    fn name(&self) -> &'static str {
        "cse"
    }

    fn run(&self, g: &mut Graph) -> Result<usize> {
        let mut e = Editor::new(g);
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut n = 0;
        for k in e.live() {
            let node = e.node(k);
            if !node.op.is_pure() {
                continue;
            }
            let Some(key) = key(node) else { continue };
            let Some(&first) = seen.get(&key) else {
                seen.insert(key, k);
                continue;
            };
            let outs = node.outputs.clone();
            let firsts = e.node(first).outputs.clone();
            let g = e.graph();
            // the later node's outputs must be movable: not graph outputs, not captured
            let movable = outs
                .iter()
                .flatten()
                .all(|o| !g.outputs.contains(o) && e.uses().captured_by(*o).is_empty());
            if !movable || outs.len() != firsts.len() {
                continue;
            }
            // each output read must exist on the first node too
            let ok = outs
                .iter()
                .zip(&firsts)
                .all(|(o, f)| o.is_none() || f.is_some());
            if !ok {
                continue;
            }
            e.remove_node(k);
            for (o, f) in outs.iter().zip(&firsts) {
                if let (Some(o), Some(f)) = (o, f) {
                    e.replace_uses(*o, *f)?;
                }
            }
            n += 1;
        }
        e.finish()?;
        Ok(n)
    }
}

/// What makes two nodes compute the same thing, as one string; `None` when the node is not
/// a candidate.
fn key(node: &Node) -> Option<String> {
    let mut k = format!(
        "{}\u{1}{}\u{1}{}\u{1}",
        node.domain, node.op_type, node.opset
    );
    for i in &node.inputs {
        k.push_str(&i.map_or("-".to_string(), |i| i.to_string()));
        k.push(',');
    }
    k.push('\u{1}');
    k.push_str(
        &node
            .outputs
            .iter()
            .map(|o| o.is_some() as u8)
            .map(|b| b.to_string())
            .collect::<String>(),
    );
    k.push('\u{1}');
    attrs_key(&node.attrs, &mut k)?;
    Some(k)
}

fn attrs_key(a: &Attributes, k: &mut String) -> Option<()> {
    use std::fmt::Write;
    for (name, v) in &a.0 {
        let _ = write!(k, "{name}=");
        match v {
            Attr::Float(f) => {
                let _ = write!(k, "f{}", f.to_bits());
            }
            Attr::Int(i) => {
                let _ = write!(k, "i{i}");
            }
            Attr::String(s) => {
                let _ = write!(k, "s{s:?}");
            }
            Attr::Floats(v) => {
                let _ = write!(
                    k,
                    "F{:?}",
                    v.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
                );
            }
            Attr::Ints(v) => {
                let _ = write!(k, "I{v:?}");
            }
            Attr::Strings(v) => {
                let _ = write!(k, "S{v:?}");
            }
            Attr::Type(t) => {
                let _ = write!(k, "T{t}");
            }
            Attr::Types(ts) => {
                for t in ts {
                    let _ = write!(k, "T{t};");
                }
            }
            Attr::Tensor(t) => tensor_key(t, k)?,
            Attr::Tensors(ts) => {
                for t in ts {
                    tensor_key(t, k)?;
                }
            }
            Attr::Graph(_) | Attr::Graphs(_) => return None,
        }
        k.push('\u{1}');
    }
    Some(())
}

fn tensor_key(t: &smelt_core::Tensor, k: &mut String) -> Option<()> {
    use std::fmt::Write;
    if t.byte_size() > MAX_ATTR_BYTES {
        return None;
    }
    let bytes = t.le_bytes().ok()?;
    let _ = write!(k, "t{}{:?}{:?}", t.dtype(), t.shape(), bytes);
    Some(())
}
