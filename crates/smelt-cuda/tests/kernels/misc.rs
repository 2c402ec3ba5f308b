//! LRN, ReverseSequence and Det against the CPU ops.

use crate::common::*;
use smelt_core::Tensor;
use smelt_ir::Attr;

#[test]
fn lrn_matches_cpu() {
    if !gpu_or_skip("lrn_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(41);
    let mut worst = 0f32;
    for (shape, size) in [
        (vec![2usize, 5, 7, 7], 3i64),
        (vec![1, 33, 257], 5),
        (vec![3, 4], 2),
    ] {
        let x = rng.tensor(&shape, -2.0, 2.0);
        let at = [
            ("size", Attr::Int(size)),
            ("alpha", Attr::Float(0.002)),
            ("beta", Attr::Float(0.5)),
            ("bias", Attr::Float(2.0)),
        ];
        let (g, f) = one("LRN", vec![In::Feed(x)], attrs(&at));
        worst = worst.max(check(&format!("LRN {shape:?} size {size}"), &g, f, ULPS));
    }
    println!("LRN: max abs error {worst:.3e}");
}

#[test]
fn reverse_sequence_matches_cpu() {
    if !gpu_or_skip("reverse_sequence_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(42);
    for (ba, ta) in [(1i64, 0i64), (0, 1)] {
        // [time, batch, inner] or [batch, time, inner]
        let (nb, nt) = (5usize, 33usize);
        let shape = if ba == 1 {
            vec![nt, nb, 9]
        } else {
            vec![nb, nt, 9]
        };
        let lens: Vec<i64> = (0..nb).map(|b| [0, 1, 17, 32, 33][b]).collect();
        let x = rng.tensor(&shape, -1.0, 1.0);
        let xi: Vec<i64> = x
            .as_slice::<f32>()
            .unwrap()
            .iter()
            .map(|v| (v * 1000.0) as i64)
            .collect();
        let xi = Tensor::from_vec(shape.clone(), xi).unwrap();
        for x in [x, xi] {
            let at = [("batch_axis", Attr::Int(ba)), ("time_axis", Attr::Int(ta))];
            let (g, f) = one(
                "ReverseSequence",
                vec![In::Feed(x.clone()), In::Const(ints(&lens))],
                attrs(&at),
            );
            check(
                &format!("ReverseSequence {:?} batch_axis {ba}", x.dtype()),
                &g,
                f,
                EXACT,
            );
        }
    }
}

#[test]
fn det_matches_cpu() {
    if !gpu_or_skip("det_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(43);
    let mut worst = 0f32;
    for shape in [
        vec![1usize, 1],
        vec![3, 3],
        vec![257, 4, 4],
        vec![2, 3, 7, 7],
    ] {
        let x = rng.tensor(&shape, -1.0, 1.0);
        let (g, f) = one("Det", vec![In::Feed(x)], attrs(&[]));
        worst = worst.max(check(&format!("Det {shape:?}"), &g, f, ULPS));
    }
    // a singular matrix (two equal rows) gives 0 on both
    let s = Tensor::from_vec(vec![3, 3], vec![1f32, 2., 3., 1., 2., 3., 4., 5., 7.]).unwrap();
    let (g, f) = one("Det", vec![In::Feed(s)], attrs(&[]));
    check("Det singular", &g, f, EXACT);
    println!("Det: max abs error {worst:.3e}");
}

#[test]
fn empty_reductions_give_the_cpu_identities() {
    if !gpu_or_skip("empty_reductions_give_the_cpu_identities") {
        return;
    }
    let ops = [
        "ReduceSum",
        "ReduceMean",
        "ReduceMax",
        "ReduceMin",
        "ReduceProd",
        "ReduceSumSquare",
        "ReduceL1",
        "ReduceL2",
        "ReduceLogSum",
        "ReduceLogSumExp",
    ];
    // [2, 0, 3] reduced over axis 1 (rows of inner 3) and [3, 0] over axis 1 (inner 1)
    for (shape, axes) in [(vec![2usize, 0, 3], vec![1i64]), (vec![3, 0], vec![1])] {
        for op in ops {
            let x = Tensor::zeros(smelt_core::DType::F32, shape.clone());
            let (g, f) = one_opset(
                op,
                vec![In::Feed(x), In::Const(ints(&axes))],
                attrs(&[("keepdims", Attr::Int(0))]),
                18,
            );
            check(
                &format!("{op} over an empty axis of {shape:?}"),
                &g,
                f,
                EXACT,
            );
        }
    }
}

#[test]
fn prelu_per_channel_slope_matches_cpu() {
    if !gpu_or_skip("prelu_per_channel_slope_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(45);
    for shape in [vec![2usize, 3, 4], vec![2, 3, 257, 5], vec![2, 3, 4, 5, 6]] {
        let x = rng.tensor(&shape, -2.0, 2.0);
        let slope = rng.tensor(&[3], 0.1, 0.9);
        let (g, f) = one("PRelu", vec![In::Feed(x), In::Const(slope)], attrs(&[]));
        check(&format!("PRelu slope [3] on {shape:?}"), &g, f, ULPS);
    }
}

#[test]
fn conv_1d_to_3d_and_grouped_match_cpu() {
    if !gpu_or_skip("conv_1d_to_3d_and_grouped_match_cpu") {
        return;
    }
    let mut rng = Rng::new(46);
    let mut worst = 0f32;
    // (x, w, group, pads, strides, dilations)
    let cases: Vec<(Vec<usize>, Vec<usize>, i64, Vec<i64>, Vec<i64>, Vec<i64>)> = vec![
        (
            vec![2, 3, 5, 5, 5],
            vec![4, 3, 2, 2, 2],
            1,
            vec![0; 6],
            vec![1; 3],
            vec![1; 3],
        ),
        (
            vec![2, 4, 9, 17, 6],
            vec![6, 2, 3, 3, 3],
            2,
            vec![1; 6],
            vec![2, 1, 1],
            vec![1, 2, 1],
        ),
        (
            vec![1, 8, 33, 31],
            vec![8, 1, 3, 3],
            8,
            vec![1, 1, 1, 1],
            vec![1, 1],
            vec![1, 1],
        ),
        (
            vec![2, 5, 257],
            vec![7, 5, 5],
            1,
            vec![2, 2],
            vec![3],
            vec![1],
        ),
        // asymmetric pads: not cuDNN's, the im2col path
        (
            vec![1, 3, 17, 15],
            vec![4, 3, 3, 3],
            1,
            vec![0, 1, 2, 1],
            vec![1, 1],
            vec![1, 1],
        ),
    ];
    for (xs, ws, group, pads, st, dil) in cases {
        let x = rng.tensor(&xs, -1.0, 1.0);
        let w = rng.tensor(&ws, -0.5, 0.5);
        let b = rng.tensor(&[ws[0]], -0.5, 0.5);
        let at = [
            ("group", Attr::Int(group)),
            ("pads", Attr::Ints(pads.clone())),
            ("strides", Attr::Ints(st.clone())),
            ("dilations", Attr::Ints(dil.clone())),
        ];
        let (g, f) = one(
            "Conv",
            vec![In::Feed(x), In::Const(w), In::Const(b)],
            attrs(&at),
        );
        worst = worst.max(check(
            &format!("Conv {xs:?} w {ws:?} group {group}"),
            &g,
            f,
            SUMS,
        ));
    }
    println!("Conv 1-3 d: max abs error {worst:.3e}");
}
