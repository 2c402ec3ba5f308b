//! The per-device lowering passes on small graphs built in code: what they fuse, what they
//! refuse and why, and outputs equal to the graph's before the pass on random inputs.

mod common;

use common::{builder, check, count, random};
use smelt_core::{DType, Dim, Tensor};
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::{GraphBuilder, V};
use smelt_passes::lower::conv_epilogue::{candidates, ConvEpilogue};
use smelt_passes::Pass;

/// The fused kernel computes the same f32 sums as the Conv, then the same Add and
/// activation: only the activation's fast kernel may round differently from the op run
/// alone, and it is the same kernel, so the outputs agree to f32 rounding.
const FUSED_RTOL: f32 = 1e-6;

/// x: [2, 6, 13, 17] (sizes off any tile width).
fn input(b: &mut GraphBuilder) -> V {
    b.placeholder(
        "x",
        DType::F32,
        &[Dim::Fixed(2), Dim::Fixed(6), Dim::Fixed(13), Dim::Fixed(17)],
    )
}

fn x_value() -> Tensor {
    Tensor::from_vec(vec![2, 6, 13, 17], random(2 * 6 * 13 * 17, 21)).unwrap()
}

/// A 3x3 same-padded Conv from `cin` to `cout` channels, with a bias.
fn conv(b: &mut GraphBuilder, x: V, cin: usize, cout: usize, seed: u64) -> V {
    let w = b.constant(
        &format!("w{seed}"),
        Tensor::from_vec(vec![cout, cin, 3, 3], random(cout * cin * 9, seed)).unwrap(),
    );
    let bias = b.constant(
        &format!("b{seed}"),
        Tensor::from_vec(vec![cout], random(cout, seed + 100)).unwrap(),
    );
    let attrs = Attributes::new().with("pads", Attr::Ints(vec![1, 1, 1, 1]));
    b.op("Conv", &[x, w, bias], attrs).unwrap()
}

fn lowered(g: &Graph) -> Graph {
    check(
        g,
        vec![Box::new(ConvEpilogue)],
        &[("x", x_value())],
        FUSED_RTOL,
    )
}

#[test]
fn conv_and_activation_become_one_fused_conv() {
    let scalar = |b: &mut GraphBuilder, n: &str, v: f32| {
        b.constant(n, Tensor::from_vec(vec![], vec![v]).unwrap())
    };
    for act in ["Relu", "HardSwish", "Sigmoid", "LeakyRelu", "Clip"] {
        let mut b = builder();
        let x = input(&mut b);
        let y = conv(&mut b, x, 6, 8, 1);
        let z = if act == "Clip" {
            let (lo, hi) = (scalar(&mut b, "lo", -0.3), scalar(&mut b, "hi", 0.6));
            b.op("Clip", &[y, lo, hi], Attributes::new()).unwrap()
        } else {
            b.op(act, &[y], Attributes::new()).unwrap()
        };
        b.output(z, "z");
        let g = b.build().unwrap();
        let h = lowered(&g);
        assert_eq!(count(&h, "FusedConv"), 1, "{act}");
        assert_eq!(count(&h, "Conv") + count(&h, act), 0, "{act}");
        assert_eq!(
            candidates(&g)[0].outcome,
            Ok(format!("Conv+{act}")),
            "{act}"
        );
        assert!(h.nodes[0].name.ends_with(".conv_epilogue"));
        assert_eq!(
            smelt_passes::lower::made_by(&h.nodes[0].name),
            Some("conv_epilogue")
        );
    }
}

#[test]
fn a_residual_block_fuses_both_convs() {
    // x -> Conv -> Relu -> Conv -> Add(x) -> Relu: ResNet's basic block
    let mut b = builder();
    let x = input(&mut b);
    let y = conv(&mut b, x, 6, 6, 1);
    let y = b.op("Relu", &[y], Attributes::new()).unwrap();
    let y = conv(&mut b, y, 6, 6, 2);
    let y = b.op("Add", &[x, y], Attributes::new()).unwrap();
    let y = b.op("Relu", &[y], Attributes::new()).unwrap();
    b.output(y, "y");
    let g = b.build().unwrap();
    let h = lowered(&g);
    assert_eq!(count(&h, "FusedConv"), 2);
    assert_eq!(h.nodes.len(), 2);
    let patterns: Vec<_> = candidates(&g).into_iter().map(|c| c.outcome).collect();
    assert_eq!(
        patterns,
        [Ok("Conv+Relu".to_string()), Ok("Conv+Add+Relu".to_string())]
    );
    // the residual without an activation after it
    let mut b = builder();
    let x = input(&mut b);
    let y = conv(&mut b, x, 6, 6, 1);
    let y = b.op("Add", &[y, x], Attributes::new()).unwrap();
    b.output(y, "y");
    let g = b.build().unwrap();
    let h = lowered(&g);
    assert_eq!(count(&h, "FusedConv"), 1);
    assert_eq!(h.nodes.len(), 1);
}

#[test]
fn refused_candidates_say_why_and_stay() {
    // the Conv's output is also a graph output
    let mut b = builder();
    let x = input(&mut b);
    let y = conv(&mut b, x, 6, 8, 1);
    let z = b.op("Relu", &[y], Attributes::new()).unwrap();
    b.output(z, "z");
    b.output(y, "y");
    let mut g = b.build().unwrap();
    let why = candidates(&g)[0].outcome.clone().unwrap_err();
    assert!(why.contains("graph output"), "{why}");
    assert_eq!(ConvEpilogue.run(&mut g).unwrap(), 0);

    // a residual that broadcasts ([1, 8, 1, 1] over [2, 8, 13, 17])
    let mut b = builder();
    let x = input(&mut b);
    let y = conv(&mut b, x, 6, 8, 1);
    let r = b.constant(
        "r",
        Tensor::from_vec(vec![1, 8, 1, 1], random(8, 9)).unwrap(),
    );
    let z = b.op("Add", &[y, r], Attributes::new()).unwrap();
    b.output(z, "z");
    let mut g = b.build().unwrap();
    let why = candidates(&g)[0].outcome.clone().unwrap_err();
    assert!(why.contains("broadcasts"), "{why}");
    assert_eq!(ConvEpilogue.run(&mut g).unwrap(), 0);

    // two readers
    let mut b = builder();
    let x = input(&mut b);
    let y = conv(&mut b, x, 6, 8, 1);
    let z = b.op("Relu", &[y], Attributes::new()).unwrap();
    let s = b.op("Sigmoid", &[y], Attributes::new()).unwrap();
    b.output(z, "z");
    b.output(s, "s");
    let mut g = b.build().unwrap();
    let why = candidates(&g)[0].outcome.clone().unwrap_err();
    assert!(why.contains("2 nodes read it"), "{why}");
    assert_eq!(ConvEpilogue.run(&mut g).unwrap(), 0);

    // nothing fusable after the Conv: not a candidate
    let mut b = builder();
    let x = input(&mut b);
    let y = conv(&mut b, x, 6, 8, 1);
    let z = b
        .op(
            "Softmax",
            &[y],
            Attributes::new().with("axis", Attr::Int(1)),
        )
        .unwrap();
    b.output(z, "z");
    let g = b.build().unwrap();
    assert!(candidates(&g).is_empty());
}
