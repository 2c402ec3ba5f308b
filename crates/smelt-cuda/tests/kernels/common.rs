//! Test support: one-node (or small) graphs run on the CPU reference (smelt-cpu, the ops of
//! smelt-ops) and through the CUDA executor with every node on the GPU, compared within a
//! named tolerance. Without a device each test prints why it skips and returns.

#![allow(dead_code)]

use smelt_core::{DType, Dim, Tensor};
use smelt_cuda::Executor;
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::GraphBuilder;

/// A named tolerance: |gpu - cpu| <= abs + rel * |cpu| per element.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub name: &'static str,
    pub abs: f32,
    pub rel: f32,
}
/// Moves data, no arithmetic.
pub const EXACT: Tol = Tol {
    name: "exact",
    abs: 0.0,
    rel: 0.0,
};
/// One correctly rounded op, or a libm-level transcendental (a few ulp).
pub const ULPS: Tol = Tol {
    name: "ulps",
    abs: 1e-6,
    rel: 4e-6,
};
/// Sums of up to a few thousand terms in another order (GEMM, conv, reductions, norms).
pub const SUMS: Tol = Tol {
    name: "sums",
    abs: 2e-5,
    rel: 1e-4,
};

/// Whether a device is there; without one, prints why the test skips.
pub fn gpu_or_skip(test: &str) -> bool {
    match smelt_cuda::device() {
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIP: no CUDA device: {e} ({test} not run)");
            false
        }
    }
}

/// Deterministic uniform values in [lo, hi).
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn tensor(&mut self, shape: &[usize], lo: f32, hi: f32) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| lo + (hi - lo) * self.next()).collect();
        Tensor::from_vec(shape.to_vec(), v).unwrap()
    }
}

pub fn ints(v: &[i64]) -> Tensor {
    Tensor::from_vec(vec![v.len()], v.to_vec()).unwrap()
}

/// An input of a one-node graph: a graph input (fed each run) or a constant (a weight).
pub enum In {
    Feed(Tensor),
    Const(Tensor),
    Absent,
}

/// A graph of one node `op` over `ins`, with its feeds.
pub fn one(op: &str, ins: Vec<In>, attrs: Attributes) -> (Graph, Vec<(String, Tensor)>) {
    one_opset(op, ins, attrs, smelt_ops::builder::DEFAULT_OPSET)
}

pub fn one_opset(
    op: &str,
    ins: Vec<In>,
    attrs: Attributes,
    opset: i64,
) -> (Graph, Vec<(String, Tensor)>) {
    one_n(op, ins, attrs, opset, 1)
}

/// A one-node graph with `n_out` outputs (y0, y1, ...; `y` when there is one).
pub fn one_n(
    op: &str,
    ins: Vec<In>,
    attrs: Attributes,
    opset: i64,
    n_out: usize,
) -> (Graph, Vec<(String, Tensor)>) {
    let mut b = GraphBuilder::new("t");
    b.set_opset("", opset);
    let mut feeds = Vec::new();
    let mut vs = Vec::new();
    for (i, x) in ins.into_iter().enumerate() {
        let name = format!("in{i}");
        vs.push(match x {
            In::Feed(t) => {
                let dims: Vec<Dim> = t.shape().iter().map(|&d| Dim::Fixed(d)).collect();
                let v = b.placeholder(&name, t.dtype(), &dims);
                feeds.push((name, t));
                Some(v)
            }
            In::Const(t) => Some(b.constant(&name, t)),
            In::Absent => None,
        });
    }
    let names: Vec<String> = if n_out == 1 {
        vec!["y".into()]
    } else {
        (0..n_out).map(|i| format!("y{i}")).collect()
    };
    let outs = b.add_node("n", "", op, &vs, &names, attrs).unwrap();
    for (o, name) in outs.iter().zip(&names) {
        b.output(o.unwrap(), name);
    }
    (b.build().unwrap(), feeds)
}

pub fn attrs(list: &[(&str, Attr)]) -> Attributes {
    let mut a = Attributes::new();
    for (k, v) in list {
        a = a.with(k, v.clone());
    }
    a
}

/// Runs `g` on the CPU and on the GPU (every node placed there), checks each output within
/// `tol`, that every node ran on the GPU, and returns the largest absolute error.
pub fn check(what: &str, g: &Graph, feeds: Vec<(String, Tensor)>, tol: Tol) -> f32 {
    let (want, got) = run_both(what, g, feeds);
    compare(what, &want, &got, tol)
}

/// The outputs of `g` on the CPU and on the GPU (every node placed there), after checking
/// that every node has a GPU op and none ran on the host or fell back to the CPU.
pub fn run_both(
    what: &str,
    g: &Graph,
    feeds: Vec<(String, Tensor)>,
) -> (Vec<(String, Tensor)>, Vec<(String, Tensor)>) {
    let want = smelt_cpu::run(g, feeds.clone()).unwrap_or_else(|e| panic!("{what}: cpu: {e}"));
    let ex = Executor::new(g, &vec![true; g.nodes.len()]).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        ex.gpu_node_count(),
        g.nodes.len(),
        "{what}: a node has no GPU op"
    );
    let got = ex.run(feeds).unwrap_or_else(|e| panic!("{what}: gpu: {e}"));
    let st = ex.stats();
    assert_eq!(
        st.host_side_nodes, 0,
        "{what}: a node ran on the host (its inputs were small host-only integers); feed one"
    );
    assert_eq!(
        st.cpu_fallbacks, 0,
        "{what}: fell back to the CPU: {:?}",
        st.fallback_reasons
    );
    (want, got)
}

/// Per node of `g`: whether CUDA placement takes it.
pub fn placement(g: &Graph) -> Vec<bool> {
    g.nodes
        .iter()
        .map(|n| smelt_cuda::backend::gpu_support(n, g) == smelt_ir::Support::Yes)
        .collect()
}

/// x [4, 33] (placeholder "x") -> Relu -> TopK "topk" (k = 5): its values and indices.
pub fn relu_topk(b: &mut GraphBuilder) -> (smelt_ops::V, smelt_ops::V) {
    let x = b.placeholder("x", DType::F32, &[Dim::Fixed(4), Dim::Fixed(33)]);
    let r = b.relu(x).unwrap();
    let k = b.constant("k", Tensor::from_vec(vec![1], vec![5i64]).unwrap());
    let outs = b
        .add_node(
            "topk",
            "",
            "TopK",
            &[Some(r), Some(k)],
            &["vals".into(), "idx".into()],
            Attributes::new(),
        )
        .unwrap();
    (outs[0].unwrap(), outs[1].unwrap())
}

pub fn compare(what: &str, want: &[(String, Tensor)], got: &[(String, Tensor)], tol: Tol) -> f32 {
    let mut worst = 0f32;
    for ((n, w), (_, g)) in want.iter().zip(got) {
        assert_eq!(w.dtype(), g.dtype(), "{what}: output {n} dtype");
        assert_eq!(w.shape(), g.shape(), "{what}: output {n} shape");
        if w.dtype() != DType::F32 {
            assert_eq!(
                w.to_f64_vec().unwrap(),
                g.to_f64_vec().unwrap(),
                "{what}: output {n}"
            );
            continue;
        }
        let (wv, gv) = (w.as_slice::<f32>().unwrap(), g.as_slice::<f32>().unwrap());
        for (i, (a, b)) in wv.iter().zip(gv).enumerate() {
            if a.is_nan() || b.is_nan() {
                assert!(
                    a.is_nan() && b.is_nan(),
                    "{what}: {n}[{i}]: cpu {a}, gpu {b}"
                );
                continue;
            }
            let e = (a - b).abs();
            if !(a.is_infinite() && a == b) {
                assert!(
                    e <= tol.abs + tol.rel * a.abs(),
                    "{what}: {n}[{i}]: cpu {a}, gpu {b}, error {e:e} over tolerance '{}' ({:e} + {:e} * |cpu|)",
                    tol.name,
                    tol.abs,
                    tol.rel
                );
                worst = worst.max(e);
            }
        }
    }
    worst
}

/// Sizes that straddle block and tile widths.
pub const SIZES: [usize; 5] = [1, 31, 33, 257, 4099];
