//! Element-wise fusion: trees of f32 element-wise nodes placed on the GPU (unary math,
//! binary arithmetic with broadcasting, comparisons, IsNaN/IsInf, Where) whose intermediate
//! values have exactly one reader become one kernel that reads each outside input once and
//! writes only the last node's output. BERT's exact GELU (Div, Erf, Add, Mul, Mul) is one
//! pass instead of five; a bias Add and the activation after it are one.
//!
//! The plan here is backend-neutral: which nodes form a group, the values it reads from
//! outside (its leaves), and the steps in order. The backend renders the steps as a kernel
//! (CUDA: `cuda::ops::fused`) with the same per-op arithmetic as its unfused kernels, so a
//! fused group gives the same bits as its nodes run one by one.
//!
//! Contract: a group's members run at the root's place in the node order, all at once; a
//! member's output other than the root's is never materialised (its one reader is in the
//! group, and it is not a graph output or read by a subgraph).

use super::elementwise::{BinaryOp, CompareOp, UnaryOp};
use super::op::GpuOp;
use smelt_core::DType;
use smelt_ir::{Attr, Graph, Node};

/// Most leaves (values read from outside) of one group; the kernel indexes each.
pub const MAX_LEAVES: usize = 8;
/// Most nodes in one group.
pub const MAX_MEMBERS: usize = 48;

/// The element type of a step's value: f32, or bool (one byte, 0 or 1, in memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    F32,
    Bool,
}

/// A step's operand: leaf `j` or the value of an earlier step `k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    Leaf(usize),
    Step(usize),
}

/// The operation of one step, with the op's constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StepOp {
    /// f32 -> f32 with the op's two float parameters (see `UnaryOp`).
    Unary(UnaryOp, f32, f32),
    /// f32, f32 -> f32.
    Binary(BinaryOp),
    /// f32, f32 -> bool.
    Compare(CompareOp),
    /// f32 -> bool; mode as `GpuOp::IsClass`.
    IsClass(i32),
    /// bool, f32, f32 -> f32.
    Where,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub op: StepOp,
    pub args: Vec<Arg>,
}

/// One fused group.
#[derive(Clone, Debug, PartialEq)]
pub struct Fusion {
    /// The last member; its output is the group's only output.
    pub root: usize,
    /// Member nodes in graph order (the root last); step k is member k.
    pub members: Vec<usize>,
    /// Values read from outside the group, in first-use order, with their types.
    pub leaves: Vec<(usize, Ty)>,
    pub steps: Vec<Step>,
    /// The root's type.
    pub out: Ty,
    /// The members' op types joined by '+' ("Div+Erf+Add+Mul+Mul").
    pub label: String,
}

impl Fusion {
    /// The leaves other than leaf `given` (one a fused kernel computes itself), in order.
    pub fn leaves_but(&self, given: usize) -> impl Iterator<Item = &(usize, Ty)> {
        self.leaves
            .iter()
            .enumerate()
            .filter(move |(j, _)| *j != given)
            .map(|(_, l)| l)
    }
}

fn ty(graph: &Graph, id: usize) -> Option<Ty> {
    match graph.values[id].info.dtype? {
        DType::F32 => Some(Ty::F32),
        DType::Bool => Some(Ty::Bool),
        _ => None,
    }
}

/// The step op of node `n` when it fuses: one output, declared input and output types
/// the op's f32 arithmetic takes.
fn step_op(graph: &Graph, n: usize, op: &GpuOp) -> Option<StepOp> {
    let node = &graph.nodes[n];
    if node.outputs.len() != 1 || node.outputs[0].is_none() {
        return None;
    }
    let ins: Option<Vec<Ty>> = node
        .inputs
        .iter()
        .map(|i| i.and_then(|id| ty(graph, id)))
        .collect();
    let ins = ins?;
    let out = ty(graph, node.outputs[0]?)?;
    use Ty::*;
    let (s, want_in, want_out): (StepOp, &[Ty], Ty) = match op {
        GpuOp::Unary { op, p, q } if op.in_f32_table() => (StepOp::Unary(*op, *p, *q), &[F32], F32),
        GpuOp::Binary(b) if b.in_f32_table() => (StepOp::Binary(*b), &[F32, F32], F32),
        GpuOp::Compare(c) => (StepOp::Compare(*c), &[F32, F32], Bool),
        GpuOp::IsClass { mode } => (StepOp::IsClass(*mode), &[F32], Bool),
        GpuOp::Where => (StepOp::Where, &[Bool, F32, F32], F32),
        _ => return None,
    };
    (ins == want_in && out == want_out).then_some(s)
}

/// Whether `node` is an ONNX Constant (no inputs). The executor evaluates these before each
/// run starts (`exec::host_side::constant_outputs`), so their outputs exist everywhere.
pub fn is_constant_node(node: &Node) -> bool {
    node.op_type == "Constant" && node.domain.is_empty() && node.inputs.is_empty()
}

/// How a graph's values are used, for both fusions: the distinct nodes reading each, the
/// node making each, and whether it must stay materialised (`pinned`: a graph output or a
/// value a subgraph reads).
pub struct Uses {
    readers: Vec<Vec<usize>>,
    producer: Vec<Option<usize>>,
    pinned: Vec<bool>,
    /// Per value: made by a Constant node (present from a run's start).
    from_constant: Vec<bool>,
}

impl Uses {
    /// The distinct nodes reading value `v`.
    pub fn readers(&self, v: usize) -> &[usize] {
        &self.readers[v]
    }
    /// The node making value `v`.
    pub fn producer(&self, v: usize) -> Option<usize> {
        self.producer[v]
    }
    /// Whether `v` must stay as the graph computes it (a graph output, a subgraph's read).
    pub fn pinned(&self, v: usize) -> bool {
        self.pinned[v]
    }
    /// Whether `v` exists when node `n` runs: a graph input, an initializer, a Constant
    /// node's output, or made by a node before `n`.
    pub fn ready_at(&self, v: usize, n: usize) -> bool {
        self.from_constant[v] || self.producer[v].is_none_or(|p| p < n)
    }

    pub fn of(graph: &Graph) -> Uses {
        let nv = graph.values.len();
        let mut readers: Vec<Vec<usize>> = vec![Vec::new(); nv];
        let mut producer: Vec<Option<usize>> = vec![None; nv];
        let mut from_constant = vec![false; nv];
        for (n, node) in graph.nodes.iter().enumerate() {
            for id in node.inputs.iter().flatten() {
                if !readers[*id].contains(&n) {
                    readers[*id].push(n);
                }
            }
            for o in node.outputs.iter().flatten() {
                producer[*o] = Some(n);
                from_constant[*o] = is_constant_node(node);
            }
        }
        Uses {
            readers,
            producer,
            pinned: pinned(graph),
            from_constant,
        }
    }
}

fn pinned(graph: &Graph) -> Vec<bool> {
    let mut p = vec![false; graph.values.len()];
    for &o in &graph.outputs {
        p[o] = true;
    }
    for node in &graph.nodes {
        for a in node.attrs.0.values() {
            let subs: Vec<&Graph> = match a {
                Attr::Graph(g) => vec![&**g],
                Attr::Graphs(gs) => gs.iter().map(|g| &**g).collect(),
                _ => continue,
            };
            for s in subs {
                for name in smelt_cpu::captured_names(s) {
                    if let Some(id) = graph.value_id(&name) {
                        p[id] = true;
                    }
                }
            }
        }
    }
    p
}

/// The groups of two or more nodes among `ops` (a node's GPU op, None when it runs on the
/// CPU), in root order.
pub fn plan(graph: &Graph, ops: &[Option<GpuOp>], uses: &Uses) -> Vec<Fusion> {
    let Uses {
        readers,
        producer,
        pinned,
        ..
    } = uses;
    let mut steps: Vec<Option<StepOp>> = vec![None; graph.nodes.len()];
    let mut group_of: Vec<Option<usize>> = vec![None; graph.nodes.len()];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (n, node) in graph.nodes.iter().enumerate() {
        let Some(op) = &ops[n] else { continue };
        let Some(s) = step_op(graph, n, op) else {
            continue;
        };
        steps[n] = Some(s);
        // the groups whose output this node is the only reader of
        let mut join: Vec<usize> = Vec::new();
        for id in node.inputs.iter().flatten() {
            if pinned[*id] || readers[*id].len() != 1 {
                continue;
            }
            if let Some(g) = producer[*id].and_then(|p| group_of[p]) {
                if !join.contains(&g) {
                    join.push(g);
                }
            }
        }
        let mut members: Vec<usize> = join.iter().flat_map(|&g| groups[g].clone()).collect();
        members.push(n);
        members.sort_unstable();
        let fits = !join.is_empty()
            && members.len() <= MAX_MEMBERS
            && leaves(graph, &members, producer).len() <= MAX_LEAVES;
        let g = if fits {
            for &other in &join[1..] {
                groups[other].clear();
            }
            groups[join[0]] = members;
            join[0]
        } else {
            groups.push(vec![n]);
            groups.len() - 1
        };
        for &m in &groups[g] {
            group_of[m] = Some(g);
        }
    }
    // then a group whose output is read several times, all by one other group, joins it
    // (a bias Add whose sum the exact GELU reads twice)
    loop {
        let mut merged = false;
        for p in 0..groups.len() {
            let Some(&root) = groups[p].last() else {
                continue;
            };
            let Some(v) = graph.nodes[root].outputs[0] else {
                continue;
            };
            if pinned[v] || readers[v].is_empty() {
                continue;
            }
            let Some(c) = group_of[readers[v][0]] else {
                continue;
            };
            if c == p || !readers[v].iter().all(|&r| group_of[r] == Some(c)) {
                continue;
            }
            let mut members = groups[c].clone();
            members.extend_from_slice(&groups[p]);
            members.sort_unstable();
            if members.len() > MAX_MEMBERS || leaves(graph, &members, producer).len() > MAX_LEAVES {
                continue;
            }
            groups[p].clear();
            for &m in &members {
                group_of[m] = Some(c);
            }
            groups[c] = members;
            merged = true;
        }
        if !merged {
            break;
        }
    }
    let mut out: Vec<Fusion> = groups
        .into_iter()
        .filter(|m| m.len() >= 2)
        .map(|members| build(graph, members, producer, &steps))
        .collect();
    out.sort_by_key(|f| f.root);
    out
}

/// (Conv node, Relu node) pairs where the Relu (f32) is the only reader of the Conv's
/// output and that output is not pinned: the Conv can apply the Relu with its bias
/// (`ConvAttrs::relu`) and the Relu's output is the Conv's.
pub fn conv_relu(graph: &Graph, ops: &[Option<GpuOp>], uses: &Uses) -> Vec<(usize, usize)> {
    let Uses {
        readers, pinned, ..
    } = uses;
    let mut pairs = Vec::new();
    for (n, node) in graph.nodes.iter().enumerate() {
        let Some(GpuOp::Conv(_)) = &ops[n] else {
            continue;
        };
        let Some(Some(y)) = node.outputs.first() else {
            continue;
        };
        if pinned[*y] || readers[*y].len() != 1 || node.outputs.len() != 1 {
            continue;
        }
        let r = readers[*y][0];
        let relu = matches!(
            &ops[r],
            Some(GpuOp::Unary {
                op: UnaryOp::Relu,
                ..
            })
        ) && step_op(graph, r, ops[r].as_ref().expect("matched")).is_some();
        if relu {
            pairs.push((n, r));
        }
    }
    pairs
}

/// The values members read that no member makes, in first-use order.
fn leaves(graph: &Graph, members: &[usize], producer: &[Option<usize>]) -> Vec<usize> {
    let mut l = Vec::new();
    for &m in members {
        for id in graph.nodes[m].inputs.iter().flatten() {
            let inside = producer[*id].is_some_and(|p| members.binary_search(&p).is_ok());
            if !inside && !l.contains(id) {
                l.push(*id);
            }
        }
    }
    l
}

fn build(
    graph: &Graph,
    members: Vec<usize>,
    producer: &[Option<usize>],
    steps: &[Option<StepOp>],
) -> Fusion {
    let leaf_ids = leaves(graph, &members, producer);
    let leaves: Vec<(usize, Ty)> = leaf_ids
        .iter()
        .map(|&id| (id, ty(graph, id).expect("checked by step_op")))
        .collect();
    let mut out_steps = Vec::with_capacity(members.len());
    for &m in &members {
        let args = graph.nodes[m]
            .inputs
            .iter()
            .flatten()
            .map(
                |id| match producer[*id].and_then(|p| members.iter().position(|&x| x == p)) {
                    Some(k) => Arg::Step(k),
                    None => Arg::Leaf(leaf_ids.iter().position(|l| l == id).expect("a leaf")),
                },
            )
            .collect();
        out_steps.push(Step {
            op: steps[m].expect("a fusible member"),
            args,
        });
    }
    let root = *members.last().expect("two or more members");
    let out = ty(graph, graph.nodes[root].outputs[0].expect("one output")).expect("checked");
    let label = members
        .iter()
        .map(|&m| graph.nodes[m].op_type.as_str())
        .collect::<Vec<_>>()
        .join("+");
    Fusion {
        root,
        members,
        leaves,
        steps: out_steps,
        out,
        label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smelt_core::{Dim, Tensor};
    use smelt_ir::Attributes;
    use smelt_ops::GraphBuilder;

    fn ops_of(g: &Graph) -> Vec<Option<GpuOp>> {
        g.nodes.iter().map(|n| GpuOp::from_node(n).ok()).collect()
    }

    /// x [4, 8] + b [8] -> exact GELU by Div, Erf, Add, Mul, Mul: one group of six with
    /// leaves x, b and the three constants; the Relu reading x separately is not in it.
    #[test]
    fn bias_and_gelu_fuse_into_one_group() {
        let mut b = GraphBuilder::new("gelu");
        let x = b.placeholder("x", DType::F32, &[Dim::Fixed(4), Dim::Fixed(8)]);
        let bias = b.constant("bias", Tensor::from_vec(vec![8], vec![0.5f32; 8]).unwrap());
        let c = |b: &mut GraphBuilder, n: &str, v: f32| b.constant(n, Tensor::scalar(v));
        let (sqrt2, one, half) = (
            c(&mut b, "s", 1.414),
            c(&mut b, "one", 1.0),
            c(&mut b, "h", 0.5),
        );
        let h = b.add(x, bias).unwrap();
        let d = b.op("Div", &[h, sqrt2], Attributes::new()).unwrap();
        let e = b.op("Erf", &[d], Attributes::new()).unwrap();
        let a = b.add(e, one).unwrap();
        let m = b.mul(h, a).unwrap();
        let y = b.mul(m, half).unwrap();
        let r = b.relu(x).unwrap();
        b.output(y, "y");
        b.output(r, "r");
        let g = b.build().unwrap();
        let f = plan(&g, &ops_of(&g), &Uses::of(&g));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].label, "Add+Div+Erf+Add+Mul+Mul");
        assert_eq!(f[0].leaves.len(), 5);
        assert_eq!(f[0].steps[4].args, vec![Arg::Step(0), Arg::Step(3)]);
        // the same graph with the Add's output also a graph output: the Add stays out
        let mut b2 = GraphBuilder::new("pinned");
        let x = b2.placeholder("x", DType::F32, &[Dim::Fixed(4)]);
        let e = b2.op("Erf", &[x], Attributes::new()).unwrap();
        let t = b2.op("Tanh", &[e], Attributes::new()).unwrap();
        let s = b2.op("Sigmoid", &[t], Attributes::new()).unwrap();
        b2.output(t, "t");
        b2.output(s, "s");
        let g2 = b2.build().unwrap();
        let f2 = plan(&g2, &ops_of(&g2), &Uses::of(&g2));
        assert_eq!(f2.len(), 1);
        assert_eq!(
            f2[0].label, "Erf+Tanh",
            "Sigmoid reads a graph output: alone"
        );
    }

    /// A mask chain: IsNaN -> Where over f32 values; an i64 Add is not fused; a node on the
    /// CPU (None) is not fused.
    #[test]
    fn bool_steps_fuse_and_other_dtypes_do_not() {
        let mut b = GraphBuilder::new("mask");
        let x = b.placeholder("x", DType::F32, &[Dim::Fixed(2), Dim::Fixed(3)]);
        let z = b.constant("z", Tensor::scalar(0f32));
        let nan = b.op("IsNaN", &[x], Attributes::new()).unwrap();
        let w = b.op("Where", &[nan, z, x], Attributes::new()).unwrap();
        let y = b.op("Exp", &[w], Attributes::new()).unwrap();
        let i = b.placeholder("i", DType::I64, &[Dim::Fixed(3)]);
        let i2 = b.add(i, i).unwrap();
        let i3 = b.add(i2, i).unwrap();
        b.output(y, "y");
        b.output(i3, "i3");
        let g = b.build().unwrap();
        let f = plan(&g, &ops_of(&g), &Uses::of(&g));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].label, "IsNaN+Where+Exp");
        assert_eq!(
            f[0].leaves.iter().map(|l| l.1).collect::<Vec<_>>(),
            vec![Ty::F32, Ty::F32]
        );
        let mut ops = ops_of(&g);
        ops[1] = None; // Where pinned to the CPU
        assert!(plan(&g, &ops, &Uses::of(&g)).is_empty());
    }

    /// Conv -> Relu pairs: found when the Relu is the Conv's only reader; not when the Conv
    /// output is also a graph output.
    #[test]
    fn conv_relu_pairs() {
        for pinned in [false, true] {
            let mut b = GraphBuilder::new("cr");
            let d = |n: usize| Dim::Fixed(n);
            let x = b.placeholder("x", DType::F32, &[d(1), d(2), d(5), d(5)]);
            let w = b.constant(
                "w",
                Tensor::from_vec(vec![3, 2, 1, 1], vec![0.5f32; 6]).unwrap(),
            );
            let y = b.op("Conv", &[x, w], Attributes::new()).unwrap();
            let r = b.relu(y).unwrap();
            b.output(r, "r");
            if pinned {
                b.output(y, "y");
            }
            let g = b.build().unwrap();
            let pairs = conv_relu(&g, &ops_of(&g), &Uses::of(&g));
            assert_eq!(pairs, if pinned { vec![] } else { vec![(0, 1)] });
        }
    }
}
