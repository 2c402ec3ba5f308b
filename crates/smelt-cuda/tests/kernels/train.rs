//! Optimizer steps (ai.onnx.preview.training) against the CPU op.

use crate::common::*;
use smelt_core::{Dim, Tensor};
use smelt_ir::Attr;
use smelt_ops::GraphBuilder;

const DOMAIN: &str = "ai.onnx.preview.training";

/// One optimizer node over R, T and `groups` groups of `per_group` fed tensors.
fn graph(
    op: &str,
    at: &[(&str, Attr)],
    t: i64,
    groups: &[usize],
    per_group: usize,
    rng: &mut Rng,
) -> (smelt_ir::Graph, Vec<(String, Tensor)>) {
    let mut b = GraphBuilder::new("t");
    b.set_opset("", 18);
    b.set_opset(DOMAIN, 1);
    let mut feeds = vec![];
    let mut vs = vec![];
    let scalars = [
        ("r", Tensor::from_vec(vec![], vec![0.1f32]).unwrap()),
        ("t", Tensor::from_vec(vec![], vec![t]).unwrap()),
    ];
    for (n, v) in scalars {
        vs.push(Some(b.placeholder(n, v.dtype(), &[])));
        feeds.push((n.to_string(), v));
    }
    for kind in 0..per_group {
        for (gi, &len) in groups.iter().enumerate() {
            let name = format!("k{kind}g{gi}");
            // states (kind >= 2) are non-negative where they are squared sums
            let v = rng.tensor(&[len], if kind >= 2 { 0.0 } else { -1.0 }, 1.0);
            vs.push(Some(b.placeholder(&name, v.dtype(), &[Dim::Fixed(len)])));
            feeds.push((name, v));
        }
    }
    let n_out = groups.len() * (per_group - 1);
    let names: Vec<String> = (0..n_out).map(|i| format!("y{i}")).collect();
    let outs = b.add_node("n", DOMAIN, op, &vs, &names, attrs(at)).unwrap();
    for (o, name) in outs.iter().zip(&names) {
        b.output(o.unwrap(), name);
    }
    (b.build().unwrap(), feeds)
}

#[test]
fn optimizers_match_cpu() {
    if !gpu_or_skip("optimizers_match_cpu") {
        return;
    }
    let mut rng = Rng::new(31);
    let cases: Vec<(&str, usize, Vec<(&str, Attr)>)> = vec![
        (
            "Adagrad",
            3,
            vec![
                ("decay_factor", Attr::Float(0.1)),
                ("epsilon", Attr::Float(1e-5)),
                ("norm_coefficient", Attr::Float(0.01)),
            ],
        ),
        (
            "Adam",
            4,
            vec![
                ("alpha", Attr::Float(0.95)),
                ("beta", Attr::Float(0.1)),
                ("norm_coefficient", Attr::Float(0.001)),
                ("norm_coefficient_post", Attr::Float(0.02)),
            ],
        ),
        (
            "Momentum",
            3,
            vec![
                ("alpha", Attr::Float(0.95)),
                ("beta", Attr::Float(0.1)),
                ("norm_coefficient", Attr::Float(0.001)),
                ("mode", Attr::String("standard".into())),
            ],
        ),
        (
            "Momentum",
            3,
            vec![
                ("alpha", Attr::Float(0.95)),
                ("beta", Attr::Float(0.9)),
                ("norm_coefficient", Attr::Float(0.01)),
                ("mode", Attr::String("nesterov".into())),
            ],
        ),
    ];
    for (op, k, at) in cases {
        for t in [0i64, 3] {
            let (g, f) = graph(op, &at, t, &[1, 257, 4099], k, &mut rng);
            let e = check(&format!("{op} t={t}"), &g, f, ULPS);
            println!("{op} t={t}: max abs error {e:.3e}");
        }
    }
}
