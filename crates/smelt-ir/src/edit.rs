//! Editing a graph in place: who produces and who reads every value ([`Uses`]), and an
//! [`Editor`] that inserts, replaces and removes nodes and values while keeping that index
//! current, then puts the nodes back in topological order.
//!
//! Contract: while an editor is open, removed nodes stay in `Graph::nodes` (marked dead) so
//! that node ids stay valid; [`Editor::finish`] drops them, sorts the nodes topologically
//! (keeping the original order wherever the edges allow) and verifies the graph. A pass that
//! returns an error leaves the graph as the editor made it so far: passes work on a copy when
//! they must be all or nothing.

use crate::{verify, Graph, Node, ValueId};
use smelt_core::{Error, Result, Tensor, ValueInfo};

/// Index of a node in [`Graph::nodes`].
pub type NodeId = usize;

/// A node's input slot: (node, input index).
pub type Slot = (NodeId, usize);

/// The producer and the readers of every value of one graph (not of its subgraphs).
/// Subgraph captures count as reads by the node that holds the subgraph.
#[derive(Clone, Debug, Default)]
pub struct Uses {
    /// Per value: the node and output index that defines it.
    producer: Vec<Option<(NodeId, usize)>>,
    /// Per value: the input slots that read it (a node reading a value twice has two).
    readers: Vec<Vec<Slot>>,
    /// Per value: nodes whose subgraphs capture it by name.
    captured_by: Vec<Vec<NodeId>>,
}

impl Uses {
    pub fn of(g: &Graph) -> Uses {
        let n = g.values.len();
        let mut u = Uses {
            producer: vec![None; n],
            readers: vec![Vec::new(); n],
            captured_by: vec![Vec::new(); n],
        };
        for k in 0..g.nodes.len() {
            u.add_node(g, k);
        }
        u
    }

    fn grow(&mut self, n: usize) {
        if self.producer.len() < n {
            self.producer.resize(n, None);
            self.readers.resize(n, Vec::new());
            self.captured_by.resize(n, Vec::new());
        }
    }

    fn add_node(&mut self, g: &Graph, k: NodeId) {
        self.grow(g.values.len());
        let node = &g.nodes[k];
        for (s, i) in node.inputs.iter().enumerate() {
            if let Some(i) = i {
                self.readers[*i].push((k, s));
            }
        }
        for (o, v) in node.outputs.iter().enumerate() {
            if let Some(v) = v {
                self.producer[*v] = Some((k, o));
            }
        }
        for name in captured_names(node) {
            if let Some(v) = g.value_id(&name) {
                self.captured_by[v].push(k);
            }
        }
    }

    fn remove_node(&mut self, g: &Graph, k: NodeId) {
        let node = &g.nodes[k];
        for i in node.inputs.iter().flatten() {
            self.readers[*i].retain(|&(r, _)| r != k);
        }
        for v in node.outputs.iter().flatten() {
            if self.producer[*v].is_some_and(|(p, _)| p == k) {
                self.producer[*v] = None;
            }
        }
        for c in &mut self.captured_by {
            c.retain(|&r| r != k);
        }
    }

    /// The node and output index that define `v` (`None` for inputs, initializers, captures).
    pub fn producer(&self, v: ValueId) -> Option<(NodeId, usize)> {
        self.producer.get(v).copied().flatten()
    }
    /// The input slots that read `v`.
    pub fn readers(&self, v: ValueId) -> &[Slot] {
        self.readers.get(v).map_or(&[], |r| r.as_slice())
    }
    /// The nodes whose subgraphs read `v` by name.
    pub fn captured_by(&self, v: ValueId) -> &[NodeId] {
        self.captured_by.get(v).map_or(&[], |r| r.as_slice())
    }
    /// Whether anything reads `v`: a node input, a subgraph capture, or the graph's outputs.
    pub fn is_used(&self, g: &Graph, v: ValueId) -> bool {
        !self.readers(v).is_empty() || !self.captured_by(v).is_empty() || g.outputs.contains(&v)
    }
    /// The one slot that reads `v`, when exactly one node input does and nothing else (no
    /// capture, not a graph output): what a fusion needs to absorb the producer.
    pub fn single_reader(&self, g: &Graph, v: ValueId) -> Option<Slot> {
        match self.readers(v) {
            [r] if self.captured_by(v).is_empty() && !g.outputs.contains(&v) => Some(*r),
            _ => None,
        }
    }
}

/// The names a node's subgraphs read from enclosing scopes (their captures, recursively).
fn captured_names(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for a in node.attrs.0.values() {
        let subs: Vec<&Graph> = match a {
            crate::Attr::Graph(g) => vec![g.as_ref()],
            crate::Attr::Graphs(gs) => gs.iter().map(|g| g.as_ref()).collect(),
            _ => continue,
        };
        for s in subs {
            out.extend(s.captures.iter().map(|&c| s.values[c].name.clone()));
            for n in &s.nodes {
                out.extend(captured_names(n));
            }
        }
    }
    out
}

/// Edits one graph with its [`Uses`] kept current. See the module docs for the contract.
pub struct Editor<'g> {
    g: &'g mut Graph,
    uses: Uses,
    dead: Vec<bool>,
}

impl<'g> Editor<'g> {
    pub fn new(g: &'g mut Graph) -> Editor<'g> {
        let uses = Uses::of(g);
        let dead = vec![false; g.nodes.len()];
        Editor { g, uses, dead }
    }

    pub fn graph(&self) -> &Graph {
        self.g
    }
    pub fn uses(&self) -> &Uses {
        &self.uses
    }
    pub fn node(&self, k: NodeId) -> &Node {
        &self.g.nodes[k]
    }
    /// Whether node `k` was removed.
    pub fn is_dead(&self, k: NodeId) -> bool {
        self.dead[k]
    }
    /// The live node ids, in the graph's current order.
    pub fn live(&self) -> Vec<NodeId> {
        (0..self.g.nodes.len()).filter(|&k| !self.dead[k]).collect()
    }
    /// The constant value of `v`: an initializer (Constant nodes become initializers in the
    /// declutter pass).
    pub fn constant(&self, v: ValueId) -> Option<&Tensor> {
        self.g.initializers.get(&v)
    }
    /// The value `k` reads at input `slot`, if the slot is present.
    pub fn input(&self, k: NodeId, slot: usize) -> Option<ValueId> {
        self.g.nodes[k].inputs.get(slot).copied().flatten()
    }
    /// The value `k` writes at output `slot`, if the slot is present.
    pub fn output(&self, k: NodeId, slot: usize) -> Option<ValueId> {
        self.g.nodes[k].outputs.get(slot).copied().flatten()
    }

    /// A new value (the name gets a suffix if taken).
    pub fn add_value(&mut self, name: &str, info: ValueInfo) -> ValueId {
        let v = self.g.add_value(name, info);
        self.uses.grow(self.g.values.len());
        v
    }
    /// A new initializer.
    pub fn add_constant(&mut self, name: &str, t: Tensor) -> ValueId {
        let v = self.g.add_initializer(name, t);
        self.uses.grow(self.g.values.len());
        v
    }
    /// Makes `v` a constant with value `t` (its producer, if any, must be removed first).
    pub fn set_constant(&mut self, v: ValueId, t: Tensor) -> Result<()> {
        if self.uses.producer(v).is_some() {
            return Err(Error::invalid(format!(
                "value '{}' is produced by a node: remove it before making the value constant",
                self.g.values[v].name
            )));
        }
        self.g.values[v].info = ValueInfo::fixed(t.dtype(), t.shape());
        self.g.initializers.insert(v, t);
        Ok(())
    }

    /// Appends a node (its place in the order is fixed by [`Editor::finish`]).
    pub fn add_node(&mut self, node: Node) -> Result<NodeId> {
        let n = self.g.values.len();
        for v in node.inputs.iter().chain(&node.outputs).flatten() {
            if *v >= n {
                return Err(Error::invalid(format!(
                    "node '{}' refers to value #{v}, the graph has {n}",
                    node.name
                )));
            }
        }
        for v in node.outputs.iter().flatten() {
            if self.uses.producer(*v).is_some() || self.g.initializers.contains_key(v) {
                return Err(Error::invalid(format!(
                    "node '{}' would redefine '{}'",
                    node.name, self.g.values[*v].name
                )));
            }
        }
        let k = self.g.nodes.len();
        self.g.nodes.push(node);
        self.dead.push(false);
        self.uses.add_node(self.g, k);
        Ok(k)
    }

    /// Removes node `k`. Its outputs are left undefined: readers must have been moved to
    /// other values first ([`Editor::replace_uses`]), or [`Editor::finish`] fails.
    pub fn remove_node(&mut self, k: NodeId) {
        if !self.dead[k] {
            self.uses.remove_node(self.g, k);
            self.dead[k] = true;
        }
    }

    /// Points input `slot` of node `k` at `v`.
    pub fn set_input(&mut self, k: NodeId, slot: usize, v: Option<ValueId>) {
        self.uses.remove_node(self.g, k);
        let node = &mut self.g.nodes[k];
        if node.inputs.len() <= slot {
            node.inputs.resize(slot + 1, None);
        }
        node.inputs[slot] = v;
        self.uses.add_node(self.g, k);
    }

    /// Makes every reader of `old` read `new` instead: node inputs and graph outputs. A graph
    /// output keeps its name: `new` takes `old`'s name (and `old` gets a fresh one), so the
    /// model's interface does not change. Subgraph captures of `old` are refused (they bind
    /// by name).
    pub fn replace_uses(&mut self, old: ValueId, new: ValueId) -> Result<()> {
        if old == new {
            return Ok(());
        }
        if !self.uses.captured_by(old).is_empty() {
            return Err(Error::invalid(format!(
                "value '{}' is captured by a subgraph: its readers cannot be moved",
                self.g.values[old].name
            )));
        }
        for (k, s) in self.uses.readers(old).to_vec() {
            self.g.nodes[k].inputs[s] = Some(new);
        }
        let moved = std::mem::take(&mut self.uses.readers[old]);
        self.uses.readers[new].extend(moved);
        if self.g.outputs.contains(&old) {
            if !self.uses.captured_by(new).is_empty() {
                return Err(Error::invalid(format!(
                    "'{}' is captured by a subgraph by name: it cannot take graph output \
                     name '{}'",
                    self.g.values[new].name, self.g.values[old].name
                )));
            }
            if self.g.outputs.contains(&new) || self.g.inputs.contains(&new) {
                return Err(Error::invalid(format!(
                    "graph output '{}' cannot be replaced by '{}', itself a graph input or \
                     output",
                    self.g.values[old].name, self.g.values[new].name
                )));
            }
            for o in &mut self.g.outputs {
                if *o == old {
                    *o = new;
                }
            }
            let name = self.g.values[old].name.clone();
            let fresh = format!("{name}.replaced");
            let ok = self.g.rename(old, &fresh) || {
                let n = self.g.values.len();
                self.g.rename(old, &format!("{fresh}.{n}"))
            };
            if !ok || !self.g.rename(new, &name) {
                return Err(Error::invalid(format!(
                    "cannot give graph output name '{name}' to '{}'",
                    self.g.values[new].name
                )));
            }
            // the output's declared type is the interface
            let info = self.g.values[old].info.clone();
            if self.g.values[new].info.dtype.is_none() || self.g.values[new].info.shape.is_none() {
                self.g.values[new].info = info;
            }
        }
        Ok(())
    }

    /// Drops removed nodes, initializers nothing reads, sorts the nodes topologically
    /// (keeping the current order where the edges allow) and verifies the graph.
    pub fn finish(self) -> Result<()> {
        let Editor { g, dead, .. } = self;
        let nodes: Vec<Node> = std::mem::take(&mut g.nodes)
            .into_iter()
            .zip(&dead)
            .filter(|(_, d)| !**d)
            .map(|(n, _)| n)
            .collect();
        g.nodes = topo_sort(g, nodes)?;
        let uses = Uses::of(g);
        let keep: Vec<bool> = (0..g.values.len())
            .map(|v| uses.is_used(g, v) || g.inputs.contains(&v))
            .collect();
        g.initializers.retain(|&v, _| keep[v]);
        verify(g)
    }
}

/// Nodes in topological order, stable: among the nodes ready to run, the earliest first.
/// A node is ready when its inputs and the values its subgraphs capture from this graph are
/// defined.
fn topo_sort(g: &Graph, nodes: Vec<Node>) -> Result<Vec<Node>> {
    let n = g.values.len();
    let mut defined = vec![false; n];
    for &v in g
        .inputs
        .iter()
        .chain(&g.captures)
        .chain(g.initializers.keys())
    {
        defined[v] = true;
    }
    // values a node reads that no node of this graph produces are resolved from enclosing
    // scopes (a subgraph's outer values): treat them as defined
    let mut produced = vec![false; n];
    for node in &nodes {
        for v in node.outputs.iter().flatten() {
            produced[*v] = true;
        }
    }
    for node in &nodes {
        for v in node.inputs.iter().flatten() {
            if !produced[*v] {
                defined[*v] = true;
            }
        }
    }
    // what each node waits for: its inputs, and the captures of its subgraphs that this
    // graph's nodes produce
    let needs: Vec<Vec<ValueId>> = nodes
        .iter()
        .map(|node| {
            let mut v: Vec<ValueId> = node.inputs.iter().flatten().copied().collect();
            v.extend(
                captured_names(node)
                    .iter()
                    .filter_map(|name| g.value_id(name))
                    .filter(|&c| produced[c]),
            );
            v
        })
        .collect();
    let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    let mut progress = true;
    while progress {
        progress = false;
        for (s, need) in slots.iter_mut().zip(&needs) {
            let ready = s.is_some() && need.iter().all(|v| defined[*v]);
            if ready {
                let node = s.take().expect("ready node");
                for v in node.outputs.iter().flatten() {
                    defined[*v] = true;
                }
                out.push(node);
                progress = true;
            }
        }
    }
    if let Some(stuck) = slots.iter().flatten().next() {
        return Err(Error::invalid(format!(
            "graph '{}': node '{}' ({}) is in a cycle or reads a value no node defines",
            g.name, stuck.name, stuck.op_type
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attributes, EvalCtx, Op};
    use smelt_core::DType;
    use std::sync::Arc;

    #[derive(Debug)]
    struct Pass1;
    impl Op for Pass1 {
        fn op_type(&self) -> &str {
            "Pass1"
        }
        fn eval(&self, _: &EvalCtx, i: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
            Ok(i.into_iter().flatten().collect())
        }
    }

    fn node(name: &str, inputs: &[ValueId], outputs: &[ValueId]) -> Node {
        Node {
            name: name.into(),
            op_type: "Pass1".into(),
            domain: String::new(),
            attrs: Attributes::new(),
            inputs: inputs.iter().map(|&v| Some(v)).collect(),
            outputs: outputs.iter().map(|&v| Some(v)).collect(),
            op: Arc::new(Pass1),
            opset: 1,
        }
    }

    /// x -> a -> b -> y (graph output)
    fn chain() -> Graph {
        let mut g = Graph::new("g");
        let info = ValueInfo::fixed(DType::F32, &[2]);
        let [x, a, b, y] = ["x", "a", "b", "y"].map(|n| g.add_value(n, info.clone()));
        g.inputs.push(x);
        g.nodes = vec![
            node("n0", &[x], &[a]),
            node("n1", &[a], &[b]),
            node("n2", &[b], &[y]),
        ];
        g.outputs.push(y);
        g
    }

    #[test]
    fn uses_know_producers_and_readers() {
        let g = chain();
        let u = Uses::of(&g);
        let a = g.value_id("a").unwrap();
        assert_eq!(u.producer(a), Some((0, 0)));
        assert_eq!(u.readers(a), &[(1, 0)]);
        assert_eq!(u.single_reader(&g, a), Some((1, 0)));
        // a graph output has no single reader to fuse into
        assert_eq!(u.single_reader(&g, g.value_id("y").unwrap()), None);
    }

    #[test]
    fn replacing_a_graph_output_keeps_its_name() {
        let mut g = chain();
        let (b, y) = (g.value_id("b").unwrap(), g.value_id("y").unwrap());
        let mut e = Editor::new(&mut g);
        e.remove_node(2);
        e.replace_uses(y, b).unwrap();
        e.finish().unwrap();
        assert_eq!(g.output_names(), ["y"]);
        assert_eq!(g.outputs, [b]);
        assert_eq!(g.nodes.len(), 2);
    }

    #[test]
    fn finish_sorts_appended_nodes_and_refuses_dangling_reads() {
        let mut g = chain();
        let (x, a) = (g.value_id("x").unwrap(), g.value_id("a").unwrap());
        let mut e = Editor::new(&mut g);
        // a new producer of 'a' appended at the end: sorted before its readers
        e.remove_node(0);
        let k = e.add_node(node("n0b", &[x], &[a])).unwrap();
        assert_eq!(e.uses().producer(a), Some((k, 0)));
        e.finish().unwrap();
        assert_eq!(g.nodes[0].name, "n0b");

        let mut g = chain();
        let mut e = Editor::new(&mut g);
        e.remove_node(0); // 'a' now has no producer but is still read
        let err = e.finish().unwrap_err().to_string();
        assert!(err.contains("'n1'"), "{err}");
    }

    #[test]
    fn a_value_is_defined_once() {
        let mut g = chain();
        let (x, a) = (g.value_id("x").unwrap(), g.value_id("a").unwrap());
        let mut e = Editor::new(&mut g);
        let err = e
            .add_node(node("again", &[x], &[a]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("redefine 'a'"), "{err}");
    }

    #[test]
    fn a_node_whose_subgraph_captures_a_value_runs_after_its_producer() {
        // x -> n0 -> a; 'cap' reads only x but its subgraph captures 'b', which n1 makes
        // from a. Re-adding n0 at the end must not move 'cap' before n1.
        let mut g = chain();
        let (x, a, b) = (
            g.value_id("x").unwrap(),
            g.value_id("a").unwrap(),
            g.value_id("b").unwrap(),
        );
        let mut sub = Graph::new("sub");
        let inner = sub.add_value("b", ValueInfo::fixed(DType::F32, &[2]));
        sub.captures.push(inner);
        sub.outputs.push(inner);
        let z = g.add_value("z", ValueInfo::fixed(DType::F32, &[2]));
        let mut cap = node("cap", &[x], &[z]);
        cap.attrs = Attributes::new().with("body", crate::Attr::Graph(Arc::new(sub)));
        g.nodes.insert(1, cap);
        g.outputs.push(z);
        let mut e = Editor::new(&mut g);
        assert_eq!(e.uses().captured_by(b), &[1]);
        e.remove_node(0);
        e.add_node(node("n0b", &[x], &[a])).unwrap();
        e.finish().unwrap();
        let at = |name: &str| g.nodes.iter().position(|n| n.name == name).unwrap();
        assert!(
            at("cap") > at("n1"),
            "{:?}",
            g.nodes.iter().map(|n| &n.name).collect::<Vec<_>>()
        );
    }
}
