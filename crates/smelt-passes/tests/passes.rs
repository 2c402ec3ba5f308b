//! Each pass on small graphs built in code: what it rewrites, what it must leave alone, and
//! outputs equal to the graph's before the pass on random inputs (sizes off any tile width).

mod common;

use common::{builder, check, count, ints, random};
use smelt_core::{DType, Dim, Tensor};
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::GraphBuilder;
use smelt_passes::{batchnorm, constants, conv_affine, cse, dead, declutter, fuse, optimize, Pass};

#[test]
fn constants_fold_pure_nodes_and_shapes() {
    let mut b = builder();
    let x = b.placeholder("x", DType::F32, &[Dim::Fixed(5), Dim::Fixed(7)]);
    let c = b
        .op(
            "Constant",
            &[],
            Attributes::new().with(
                "value",
                Attr::Tensor(Tensor::from_vec(vec![7], random(7, 1)).unwrap()),
            ),
        )
        .unwrap();
    let two = b.constant("two", Tensor::from_vec(vec![7], vec![2.0f32; 7]).unwrap());
    let c2 = b.mul(c, two).unwrap();
    let y = b.add(x, c2).unwrap();
    // Shape(x) of a fixed shape, through Reshape: folded to a constant
    let s = b.op("Shape", &[x], Attributes::new()).unwrap();
    let r = b.op("Reshape", &[y, s], Attributes::new()).unwrap();
    b.output(r, "y");
    let g = b.build().unwrap();
    let x = Tensor::from_vec(vec![5, 7], random(35, 2)).unwrap();
    let h = check(
        &g,
        vec![Box::new(constants::FoldConstants)],
        &[("x", x)],
        0.0,
    );
    assert_eq!(
        count(&h, "Constant") + count(&h, "Mul") + count(&h, "Shape"),
        0
    );
    assert_eq!((count(&h, "Add"), count(&h, "Reshape")), (1, 1));
}

#[test]
fn constants_never_inflate_or_draw() {
    let mut b = builder();
    let x = b.placeholder("x", DType::F32, &[Dim::Fixed(64), Dim::Fixed(129)]);
    // Expand of one value to 64 x 129 floats (33 KiB): larger than its inputs, kept
    let one = b.constant("one", Tensor::from_vec(vec![1], vec![0.5f32]).unwrap());
    let shape = b.constant("shape", ints(&[64, 129]));
    let big = b.op("Expand", &[one, shape], Attributes::new()).unwrap();
    let y = b.add(x, big).unwrap();
    // an unseeded draw is never folded
    let noise = b
        .op(
            "RandomUniform",
            &[],
            Attributes::new()
                .with("shape", Attr::Ints(vec![64, 129]))
                .with("dtype", Attr::Int(1)),
        )
        .unwrap();
    let z = b.add(x, noise).unwrap();
    b.output(y, "y");
    b.output(z, "z");
    let mut g = b.build().unwrap();
    constants::FoldConstants.run(&mut g).unwrap();
    assert_eq!((count(&g, "Expand"), count(&g, "RandomUniform")), (1, 1));
}

#[test]
fn declutter_removes_identities_and_reshape_chains() {
    let mut b = builder();
    let x = b.placeholder("x", DType::F32, &[Dim::Fixed(6), Dim::Fixed(33)]);
    let i = b.op("Identity", &[x], Attributes::new()).unwrap();
    let c = b
        .op("Cast", &[i], Attributes::new().with("to", Attr::Int(1)))
        .unwrap();
    let d = b.op("Dropout", &[c], Attributes::new()).unwrap();
    let s1 = b.constant("s1", ints(&[2, 99]));
    let r1 = b.op("Reshape", &[d, s1], Attributes::new()).unwrap();
    let s2 = b.constant("s2", ints(&[-1, 11]));
    let r2 = b.op("Reshape", &[r1, s2], Attributes::new()).unwrap();
    let y = b.relu(r2).unwrap();
    // an Identity right before a graph output: the output keeps its name
    let out = b.op("Identity", &[y], Attributes::new()).unwrap();
    b.output(out, "out");
    let g = b.build().unwrap();
    let x = Tensor::from_vec(vec![6, 33], random(198, 3)).unwrap();
    let passes: Vec<Box<dyn Pass>> =
        vec![Box::new(declutter::Declutter), Box::new(dead::DeadNodes)];
    let h = check(&g, passes, &[("x", x)], 0.0);
    for op in ["Identity", "Cast", "Dropout"] {
        assert_eq!(count(&h, op), 0, "{op} left");
    }
    assert_eq!(count(&h, "Reshape"), 1);
    assert_eq!(h.output_names(), ["out"]);
}

#[test]
fn a_cast_that_converts_stays() {
    let mut b = builder();
    let x = b.placeholder("x", DType::F32, &[Dim::Fixed(3)]);
    let c = b
        .op("Cast", &[x], Attributes::new().with("to", Attr::Int(7)))
        .unwrap();
    b.output(c, "y");
    let mut g = b.build().unwrap();
    assert_eq!(declutter::Declutter.run(&mut g).unwrap(), 0);
    assert_eq!(count(&g, "Cast"), 1);
}

/// Conv (3 -> 17 channels, 3x3, bias or not) then BatchNormalization, the BN's output a
/// graph output.
fn conv_bn(with_bias: bool, groups: usize) -> Graph {
    let (cin, cout) = (3 * groups, 17 * groups);
    let mut b = builder();
    let x = b.placeholder(
        "x",
        DType::F32,
        &[
            Dim::Fixed(2),
            Dim::Fixed(cin),
            Dim::Fixed(9),
            Dim::Fixed(11),
        ],
    );
    let w = b.constant(
        "w",
        Tensor::from_vec(vec![cout, 3, 3, 3], random(cout * 27, 4)).unwrap(),
    );
    let mut ins = vec![x, w];
    if with_bias {
        ins.push(b.constant("b", Tensor::from_vec(vec![cout], random(cout, 5)).unwrap()));
    }
    let attrs = Attributes::new()
        .with("pads", Attr::Ints(vec![1, 1, 1, 1]))
        .with("group", Attr::Int(groups as i64));
    let y = b.op("Conv", &ins, attrs).unwrap();
    let p = |b: &mut GraphBuilder, n: &str, seed, add: f32| {
        let v: Vec<f32> = random(cout, seed).iter().map(|x| x.abs() + add).collect();
        b.constant(n, Tensor::from_vec(vec![cout], v).unwrap())
    };
    let (scale, shift, mean, var) = (
        p(&mut b, "scale", 6, 0.5),
        p(&mut b, "shift", 7, -0.5),
        p(&mut b, "mean", 8, -0.3),
        p(&mut b, "var", 9, 0.1),
    );
    let z = b
        .op(
            "BatchNormalization",
            &[y, scale, shift, mean, var],
            Attributes::new().with("epsilon", Attr::Float(1e-3)),
        )
        .unwrap();
    b.output(z, "z");
    b.build().unwrap()
}

#[test]
fn batchnorm_folds_into_the_conv_before_it() {
    for (bias, groups) in [(true, 1), (false, 1), (true, 2)] {
        let g = conv_bn(bias, groups);
        let x = Tensor::from_vec(vec![2, 3 * groups, 9, 11], random(198 * 3 * groups, 10)).unwrap();
        let h = check(
            &g,
            vec![Box::new(batchnorm::FoldBatchNorm)],
            &[("x", x)],
            1e-5,
        );
        assert_eq!(
            count(&h, "BatchNormalization"),
            0,
            "bias {bias}, groups {groups}"
        );
        assert_eq!(count(&h, "Conv"), 1);
        assert_eq!(h.output_names(), ["z"]);
    }
}

#[test]
fn batchnorm_after_a_shared_conv_output_stays() {
    // the Conv's output has a second reader: folding would change what it reads
    let mut g = conv_bn(true, 1);
    let y = g.nodes[0].outputs[0].unwrap();
    g.outputs.push(y);
    assert_eq!(batchnorm::FoldBatchNorm.run(&mut g).unwrap(), 0);
}

/// Conv (3 -> 17 channels, 3x3, with or without a bias) then `ops`: each a binary op with a
/// constant of `shape` (the Conv on the left unless `swap`).
fn conv_then(bias: bool, ops: &[(&str, Vec<usize>, bool)]) -> Graph {
    let mut b = builder();
    let x = b.placeholder(
        "x",
        DType::F32,
        &[Dim::Fixed(2), Dim::Fixed(3), Dim::Fixed(9), Dim::Fixed(11)],
    );
    let w = b.constant(
        "w",
        Tensor::from_vec(vec![17, 3, 3, 3], random(17 * 27, 4)).unwrap(),
    );
    let mut ins = vec![x, w];
    if bias {
        ins.push(b.constant("b", Tensor::from_vec(vec![17], random(17, 5)).unwrap()));
    }
    let attrs = Attributes::new().with("pads", Attr::Ints(vec![1, 1, 1, 1]));
    let mut y = b.op("Conv", &ins, attrs).unwrap();
    for (i, (op, shape, swap)) in ops.iter().enumerate() {
        let n: usize = shape.iter().product();
        // away from zero, so a Div stays well conditioned
        let v: Vec<f32> = random(n, 30 + i as u64)
            .iter()
            .map(|x| x + 2.0 * x.signum())
            .collect();
        let c = b.constant(
            &format!("c{i}"),
            Tensor::from_vec(shape.clone(), v).unwrap(),
        );
        let ins = if *swap { [c, y] } else { [y, c] };
        y = b.op(op, &ins, Attributes::new()).unwrap();
    }
    b.output(y, "z");
    b.build().unwrap()
}

#[test]
fn per_channel_arithmetic_after_a_conv_folds_into_it() {
    let x = Tensor::from_vec(vec![2, 3, 9, 11], random(2 * 3 * 99, 10)).unwrap();
    let cases: Vec<Vec<(&str, Vec<usize>, bool)>> = vec![
        vec![
            ("Mul", vec![1, 17, 1, 1], false),
            ("Add", vec![17, 1, 1], false),
        ],
        vec![("Mul", vec![1], true), ("Sub", vec![1, 17, 1, 1], false)],
        vec![
            ("Div", vec![17, 1, 1], false),
            ("Add", vec![1, 17, 1, 1], true),
        ],
    ];
    for bias in [true, false] {
        for ops in &cases {
            let g = conv_then(bias, ops);
            let h = check(
                &g,
                vec![Box::new(conv_affine::FoldConvAffine)],
                &[("x", x.clone())],
                1e-5,
            );
            assert_eq!(h.nodes.len(), 1, "bias {bias}, {ops:?}");
            assert_eq!(h.output_names(), ["z"]);
        }
    }
    // not per-channel (a spatial broadcast), or the Conv on the right of a Sub: kept
    for ops in [
        vec![("Mul", vec![1, 1, 1, 11], false)],
        vec![("Sub", vec![17, 1, 1], true)],
        vec![("Add", vec![1, 1, 17, 1, 1], false)],
    ] {
        let mut g = conv_then(true, &ops);
        assert_eq!(
            conv_affine::FoldConvAffine.run(&mut g).unwrap(),
            0,
            "{ops:?}"
        );
    }
}

#[test]
fn cse_computes_equal_nodes_once() {
    let mut b = builder();
    let x = b.placeholder("x", DType::F32, &[Dim::Fixed(4), Dim::Fixed(31)]);
    let a1 = b.sigmoid(x).unwrap();
    let a2 = b.sigmoid(x).unwrap();
    let t1 = b.transpose(a1, &[1, 0]).unwrap();
    let t2 = b.transpose(a2, &[1, 0]).unwrap();
    let t3 = b.transpose(a2, &[0, 1]).unwrap();
    let s = b.add(t1, t2).unwrap();
    b.output(s, "s");
    b.output(t3, "t");
    let g = b.build().unwrap();
    let x = Tensor::from_vec(vec![4, 31], random(124, 11)).unwrap();
    let passes: Vec<Box<dyn Pass>> = vec![Box::new(cse::CommonSubexpressions)];
    let h = check(&g, passes, &[("x", x)], 0.0);
    assert_eq!((count(&h, "Sigmoid"), count(&h, "Transpose")), (1, 2));
}

#[test]
fn dead_nodes_go_outputs_stay() {
    let mut b = builder();
    let x = b.placeholder("x", DType::F32, &[Dim::Sym("n".into())]);
    let unused = b.relu(x).unwrap();
    let _ = b.sigmoid(unused).unwrap();
    let y = b.tanh(x).unwrap();
    b.output(y, "y");
    let mut g = b.build().unwrap();
    assert_eq!(dead::DeadNodes.run(&mut g).unwrap(), 2);
    assert_eq!(g.nodes.len(), 1);
    assert_eq!(g.output_names(), ["y"]);
}

#[test]
fn optimize_reports_and_reaches_a_fixed_point() {
    let g = conv_bn(true, 1);
    let mut h = g.clone();
    let r = optimize(&mut h).unwrap();
    assert_eq!(r.count("batchnorm"), 1);
    assert_eq!((r.nodes_before, r.nodes_after), (2, 1));
    assert!(
        r.to_string()
            .starts_with("2 -> 1 nodes (constants 0, declutter 0, batchnorm 1"),
        "{r}"
    );
    // a second run changes nothing
    let again = optimize(&mut h).unwrap();
    assert!(again.passes.iter().all(|(_, n)| *n == 0), "{again}");
}

fn scalar(b: &mut GraphBuilder, name: &str, v: f32) -> smelt_ops::V {
    b.constant(name, Tensor::from_vec(vec![1], vec![v]).unwrap())
}

/// x: f32[3, 7, 33] as a graph input, with random values.
fn x_3_7_33(b: &mut GraphBuilder) -> smelt_ops::V {
    b.placeholder(
        "x",
        DType::F32,
        &[Dim::Fixed(3), Dim::Fixed(7), Dim::Fixed(33)],
    )
}

fn x_value(seed: u64) -> Tensor {
    Tensor::from_vec(
        vec![3, 7, 33],
        random(3 * 7 * 33, seed).iter().map(|v| v * 4.0).collect(),
    )
    .unwrap()
}

fn fused(g: &Graph) -> Graph {
    let passes: Vec<Box<dyn Pass>> = vec![Box::new(fuse::Fuse), Box::new(dead::DeadNodes)];
    check(g, passes, &[("x", x_value(20))], 2e-5)
}

#[test]
fn layernorm_written_out_becomes_one_op() {
    for (scale, bias) in [(true, true), (true, false), (false, false)] {
        let mut b = builder();
        let x = x_3_7_33(&mut b);
        let axes = || Attributes::new().with("axes", Attr::Ints(vec![-1]));
        let m = b.op("ReduceMean", &[x], axes()).unwrap();
        let d = b.sub(x, m).unwrap();
        let two = scalar(&mut b, "two", 2.0);
        let p = b.op("Pow", &[d, two], Attributes::new()).unwrap();
        let v = b.op("ReduceMean", &[p], axes()).unwrap();
        let eps = scalar(&mut b, "eps", 1e-5);
        let ve = b.add(v, eps).unwrap();
        let s = b.op("Sqrt", &[ve], Attributes::new()).unwrap();
        let mut y = b.div(d, s).unwrap();
        if scale {
            let g = b.constant("g", Tensor::from_vec(vec![33], random(33, 21)).unwrap());
            y = b.mul(g, y).unwrap();
        }
        if bias {
            let bb = b.constant("b", Tensor::from_vec(vec![1, 33], random(33, 22)).unwrap());
            y = b.add(y, bb).unwrap();
        }
        b.output(y, "y");
        let h = fused(&b.build().unwrap());
        assert_eq!(
            count(&h, "LayerNormalization"),
            1,
            "scale {scale} bias {bias}"
        );
        assert_eq!(
            h.nodes.len(),
            1,
            "scale {scale} bias {bias}: {:?}",
            h.nodes.iter().map(|n| &n.op_type).collect::<Vec<_>>()
        );
        assert_eq!(
            smelt_passes::fuse::made_by(&h.nodes[0].name),
            Some("layernorm")
        );
    }
}

#[test]
fn a_mean_over_another_axis_is_not_a_layernorm() {
    let mut b = builder();
    let x = x_3_7_33(&mut b);
    let axes = |a| Attributes::new().with("axes", Attr::Ints(vec![a]));
    let m = b.op("ReduceMean", &[x], axes(1)).unwrap();
    let d = b.sub(x, m).unwrap();
    let two = scalar(&mut b, "two", 2.0);
    let p = b.op("Pow", &[d, two], Attributes::new()).unwrap();
    let v = b.op("ReduceMean", &[p], axes(-1)).unwrap();
    let eps = scalar(&mut b, "eps", 1e-5);
    let ve = b.add(v, eps).unwrap();
    let s = b.op("Sqrt", &[ve], Attributes::new()).unwrap();
    let y = b.div(d, s).unwrap();
    b.output(y, "y");
    let h = fused(&b.build().unwrap());
    assert_eq!(count(&h, "LayerNormalization"), 0);
}

#[test]
fn hardswish_written_out_becomes_one_op() {
    for by_div in [true, false] {
        let mut b = builder();
        let x = x_3_7_33(&mut b);
        let three = scalar(&mut b, "three", 3.0);
        let a = b.add(three, x).unwrap();
        let (lo, hi) = (scalar(&mut b, "lo", 0.0), scalar(&mut b, "hi", 6.0));
        let lo = b.op("Squeeze", &[lo], Attributes::new()).unwrap();
        let hi = b.op("Squeeze", &[hi], Attributes::new()).unwrap();
        let c = b.op("Clip", &[a, lo, hi], Attributes::new()).unwrap();
        let m = b.mul(c, x).unwrap();
        let y = if by_div {
            let six = scalar(&mut b, "six", 6.0);
            b.div(m, six).unwrap()
        } else {
            let sixth = scalar(&mut b, "sixth", 1.0 / 6.0);
            b.mul(sixth, m).unwrap()
        };
        b.output(y, "y");
        let g = b.build().unwrap();
        // Squeeze of a constant folds first: the bounds must be scalars for Clip
        let mut g2 = g.clone();
        constants::FoldConstants.run(&mut g2).unwrap();
        let h = fused(&g2);
        assert_eq!(count(&h, "HardSwish"), 1, "by_div {by_div}");
        assert_eq!(h.nodes.len(), 1);
    }
}

#[test]
fn gelu_written_out_becomes_one_op() {
    for grouping in 0..3 {
        let mut b = builder();
        let x = x_3_7_33(&mut b);
        let r2 = scalar(&mut b, "sqrt2", std::f32::consts::SQRT_2);
        let t = b.div(x, r2).unwrap();
        let erf = b.op("Erf", &[t], Attributes::new()).unwrap();
        let one = scalar(&mut b, "one", 1.0);
        let a = b.add(erf, one).unwrap();
        let half = scalar(&mut b, "half", 0.5);
        let y = match grouping {
            0 => {
                let xa = b.mul(x, a).unwrap();
                b.mul(xa, half).unwrap()
            }
            1 => {
                let xh = b.mul(x, half).unwrap();
                b.mul(xh, a).unwrap()
            }
            _ => {
                let ah = b.mul(half, a).unwrap();
                b.mul(x, ah).unwrap()
            }
        };
        b.output(y, "y");
        let h = fused(&b.build().unwrap());
        assert_eq!(count(&h, "Gelu"), 1, "grouping {grouping}");
        assert_eq!(h.nodes.len(), 1, "grouping {grouping}");
    }
}

#[test]
fn an_inner_value_read_elsewhere_keeps_its_node() {
    // the GELU's Erf is also a graph output: the fused Gelu is added, the Erf chain stays
    let mut b = builder();
    let x = x_3_7_33(&mut b);
    let r2 = scalar(&mut b, "sqrt2", std::f32::consts::SQRT_2);
    let t = b.div(x, r2).unwrap();
    let erf = b.op("Erf", &[t], Attributes::new()).unwrap();
    let one = scalar(&mut b, "one", 1.0);
    let a = b.add(erf, one).unwrap();
    let half = scalar(&mut b, "half", 0.5);
    let xa = b.mul(x, a).unwrap();
    let y = b.mul(xa, half).unwrap();
    b.output(y, "y");
    b.output(erf, "erf");
    let h = fused(&b.build().unwrap());
    assert_eq!((count(&h, "Gelu"), count(&h, "Erf")), (1, 1));
    assert_eq!(h.output_names(), ["y", "erf"]);
}
