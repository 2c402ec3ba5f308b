//! Structural checks of a graph. Every error names the node and the value at fault.

use crate::Graph;
use smelt_core::{Error, Result};

/// Checks that ids are in range, each value is produced once, nodes are topologically
/// ordered, and graph outputs are defined. Recurses into subgraphs held by attributes.
pub fn verify(g: &Graph) -> Result<()> {
    let n = g.values.len();
    let mut defined = vec![false; n];
    let check = |id: usize, what: &str| -> Result<()> {
        if id >= n {
            return Err(Error::invalid(format!(
                "graph '{}': {what} refers to value #{id}, graph has {n}",
                g.name
            )));
        }
        Ok(())
    };
    for &i in g
        .inputs
        .iter()
        .chain(g.captures.iter())
        .chain(g.initializers.keys())
    {
        check(i, "input/initializer")?;
        defined[i] = true;
    }
    for node in &g.nodes {
        for i in node.inputs.iter().flatten() {
            check(*i, &format!("node '{}' input", node.name))?;
            if !defined[*i] {
                return Err(Error::invalid(format!(
                    "graph '{}': node '{}' ({}) reads '{}' before it is defined",
                    g.name, node.name, node.op_type, g.values[*i].name
                )));
            }
        }
        for o in node.outputs.iter().flatten() {
            check(*o, &format!("node '{}' output", node.name))?;
            if defined[*o] {
                return Err(Error::invalid(format!(
                    "graph '{}': node '{}' ({}) redefines '{}'",
                    g.name, node.name, node.op_type, g.values[*o].name
                )));
            }
            defined[*o] = true;
        }
        for a in node.attrs.0.values() {
            match a {
                crate::Attr::Graph(sub) => verify(sub)?,
                crate::Attr::Graphs(subs) => subs.iter().try_for_each(|s| verify(s))?,
                _ => {}
            }
        }
    }
    for &o in &g.outputs {
        check(o, "graph output")?;
        if !defined[o] {
            return Err(Error::invalid(format!(
                "graph '{}': output '{}' is never defined",
                g.name, g.values[o].name
            )));
        }
    }
    Ok(())
}
