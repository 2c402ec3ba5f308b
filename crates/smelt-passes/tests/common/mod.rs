//! What the pass tests share: seeded inputs, a builder, running a graph on the CPU, and the
//! check that a pass kept a graph's outputs.
#![allow(dead_code)]

use smelt_core::Tensor;
use smelt_ir::Graph;
use smelt_ops::GraphBuilder;
use smelt_passes::{run, Pass};

/// splitmix64 values in [-1, 1): seeded, never all zero.
pub fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed ^ 0x5DEE_CE66_D1CE_4E5B;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

pub fn builder() -> GraphBuilder {
    let mut b = GraphBuilder::new("t");
    b.set_opset("", 17);
    b
}

pub fn ints(v: &[i64]) -> Tensor {
    Tensor::from_vec(vec![v.len()], v.to_vec()).unwrap()
}

/// Runs `g` on the CPU.
pub fn eval(g: &Graph, inputs: &[(&str, Tensor)]) -> Vec<(String, Tensor)> {
    let feed = inputs
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    smelt_cpu::run(g, feed).unwrap()
}

/// Runs `passes` on a copy of `g` and checks: the graph verifies, the outputs keep their
/// names, and their values are within `rtol` of the original's on `inputs`.
pub fn check(g: &Graph, passes: Vec<Box<dyn Pass>>, inputs: &[(&str, Tensor)], rtol: f32) -> Graph {
    let mut h = g.clone();
    run(&mut h, &passes).unwrap();
    smelt_ir::verify(&h).unwrap();
    assert_eq!(h.output_names(), g.output_names());
    let (want, got) = (eval(g, inputs), eval(&h, inputs));
    for ((wn, w), (gn, t)) in want.iter().zip(&got) {
        assert_eq!(wn, gn);
        assert_eq!(w.shape(), t.shape(), "{wn}");
        let (a, b) = (w.to_f64_vec().unwrap(), t.to_f64_vec().unwrap());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            let tol = rtol as f64 * x.abs().max(1.0);
            assert!((x - y).abs() <= tol, "{wn}[{i}]: {x} before, {y} after");
        }
    }
    h
}

pub fn count(g: &Graph, op: &str) -> usize {
    g.nodes.iter().filter(|n| n.op_type == op).count()
}
