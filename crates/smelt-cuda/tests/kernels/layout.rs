use crate::common::*;
use smelt_core::Tensor;
use smelt_ir::Attr;

#[test]
fn transpose_matches_cpu() {
    if !gpu_or_skip("transpose_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(30);
    let x = rng.tensor(&[2, 3, 31, 33], -1.0, 1.0);
    for perm in [
        vec![0, 1, 3, 2],
        vec![3, 2, 1, 0],
        vec![0, 2, 1, 3],
        vec![1, 0, 2, 3],
    ] {
        let (g, f) = one(
            "Transpose",
            vec![In::Feed(x.clone())],
            attrs(&[("perm", Attr::Ints(perm.clone()))]),
        );
        check(&format!("Transpose {perm:?}"), &g, f, EXACT);
    }
    let (g, f) = one(
        "Transpose",
        vec![In::Feed(rng.tensor(&[257, 33], -1.0, 1.0))],
        attrs(&[]),
    );
    check("Transpose default", &g, f, EXACT);
    // attention's head transposes: contiguous inner runs moved 16 bytes at a time (runs of
    // 64 and 12 f32, 8 f16), and a run of 6 that is not a multiple of 4 (element-wise)
    for (shape, perm) in [
        ([3usize, 33, 12, 64], vec![0i64, 2, 1, 3]),
        ([2, 7, 5, 12], vec![1, 0, 2, 3]),
        ([2, 7, 5, 6], vec![1, 0, 2, 3]),
    ] {
        let x = rng.tensor(&shape, -1.0, 1.0);
        let (g, f) = one(
            "Transpose",
            vec![In::Feed(x.clone())],
            attrs(&[("perm", Attr::Ints(perm.clone()))]),
        );
        check(&format!("Transpose {shape:?} {perm:?}"), &g, f, EXACT);
        let h = Tensor::from_vec(
            shape.to_vec(),
            x.as_slice::<f32>()
                .unwrap()
                .iter()
                .map(|&v| smelt_core::f16::from_f32(v))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let (g, f) = one(
            "Transpose",
            vec![In::Feed(h)],
            attrs(&[("perm", Attr::Ints(perm.clone()))]),
        );
        check(&format!("Transpose f16 {shape:?} {perm:?}"), &g, f, EXACT);
    }
}

#[test]
fn views_and_copies_match_cpu() {
    if !gpu_or_skip("views_and_copies_match_cpu") {
        return;
    }
    let mut rng = Rng::new(31);
    let x = rng.tensor(&[2, 3, 4, 5], -1.0, 1.0);
    let (g, f) = one(
        "Reshape",
        vec![In::Feed(x.clone()), In::Const(ints(&[0, -1, 5]))],
        attrs(&[]),
    );
    check("Reshape", &g, f, EXACT);
    let (g, f) = one(
        "Flatten",
        vec![In::Feed(x.clone())],
        attrs(&[("axis", Attr::Int(2))]),
    );
    check("Flatten", &g, f, EXACT);
    let (g, f) = one(
        "Unsqueeze",
        vec![In::Feed(x.clone()), In::Const(ints(&[0, -1]))],
        attrs(&[]),
    );
    check("Unsqueeze", &g, f, EXACT);
    let y = rng.tensor(&[1, 33, 1], -1.0, 1.0);
    let (g, f) = one(
        "Squeeze",
        vec![In::Feed(y.clone()), In::Const(ints(&[0]))],
        attrs(&[]),
    );
    check("Squeeze axes", &g, f, EXACT);
    let (g, f) = one("Squeeze", vec![In::Feed(y)], attrs(&[]));
    check("Squeeze all", &g, f, EXACT);
    let (g, f) = one("Identity", vec![In::Feed(x.clone())], attrs(&[]));
    check("Identity", &g, f, EXACT);
    // Expand
    let (g, f) = one(
        "Expand",
        vec![
            In::Feed(rng.tensor(&[3, 1], -1.0, 1.0)),
            In::Const(ints(&[2, 3, 33])),
        ],
        attrs(&[]),
    );
    check("Expand", &g, f, EXACT);
}

#[test]
fn concat_slice_gather_match_cpu() {
    if !gpu_or_skip("concat_slice_gather_match_cpu") {
        return;
    }
    let mut rng = Rng::new(32);
    for axis in [0i64, 1, -1] {
        let base = [2usize, 31, 33];
        let a = rng.tensor(&base, -1.0, 1.0);
        let mut s2 = base;
        s2[axis.rem_euclid(3) as usize] = 1;
        let b = rng.tensor(&s2, -1.0, 1.0);
        let mut s3 = base;
        s3[axis.rem_euclid(3) as usize] = 257;
        let c = rng.tensor(&s3, -1.0, 1.0);
        let (g, f) = one(
            "Concat",
            vec![In::Feed(a), In::Feed(b), In::Const(c)],
            attrs(&[("axis", Attr::Int(axis))]),
        );
        check(&format!("Concat axis {axis}"), &g, f, EXACT);
    }
    let x = rng.tensor(&[5, 33, 257], -1.0, 1.0);
    let slices: [(&[i64], &[i64], &[i64], &[i64]); 5] = [
        (&[1], &[4], &[0], &[1]),
        (&[-10], &[i64::MAX], &[2], &[1]),
        (&[32, 250], &[0, 3], &[1, 2], &[-3, -7]),
        (&[0, 1, 2], &[5, 33, 257], &[0, 1, 2], &[2, 2, 2]),
        (&[3], &[1], &[0], &[1]), // empty
    ];
    for (st, en, ax, sp) in slices {
        let (g, f) = one(
            "Slice",
            vec![
                In::Feed(x.clone()),
                In::Const(ints(st)),
                In::Const(ints(en)),
                In::Const(ints(ax)),
                In::Const(ints(sp)),
            ],
            attrs(&[]),
        );
        check(&format!("Slice {st:?} {en:?} {ax:?} {sp:?}"), &g, f, EXACT);
    }
    // Slice with attributes (opset 1)
    let (g, f) = one_opset(
        "Slice",
        vec![In::Feed(x.clone())],
        attrs(&[
            ("starts", Attr::Ints(vec![1, -5])),
            ("ends", Attr::Ints(vec![3, 1000])),
            ("axes", Attr::Ints(vec![0, 2])),
        ]),
        1,
    );
    check("Slice opset 1", &g, f, EXACT);
    // Gather: embedding lookup and along a middle axis, negative indices
    let table = rng.tensor(&[257, 33], -1.0, 1.0);
    let idx =
        Tensor::from_vec(vec![2, 5], vec![0i64, 256, -1, 31, 32, 1, 2, 3, -257, 100]).unwrap();
    let (g, f) = one("Gather", vec![In::Const(table), In::Feed(idx)], attrs(&[]));
    check("Gather axis 0", &g, f, EXACT);
    let idx = Tensor::from_vec(vec![3], vec![0i64, -1, 16]).unwrap();
    let (g, f) = one(
        "Gather",
        vec![In::Feed(x), In::Const(idx)],
        attrs(&[("axis", Attr::Int(1))]),
    );
    check("Gather axis 1", &g, f, EXACT);
}

#[test]
fn split_matches_cpu() {
    if !gpu_or_skip("split_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(33);
    let x = rng.tensor(&[4, 33, 31], -1.0, 1.0);
    // sizes as an input, equal parts, num_outputs (uneven), the opset-11 attribute
    let (g, f) = one_n(
        "Split",
        vec![In::Feed(x.clone()), In::Const(ints(&[1, 30, 2]))],
        attrs(&[("axis", Attr::Int(1))]),
        18,
        3,
    );
    check("Split sizes input", &g, f, EXACT);
    let (g, f) = one_n(
        "Split",
        vec![In::Feed(x.clone())],
        attrs(&[("axis", Attr::Int(0))]),
        18,
        4,
    );
    check("Split equal", &g, f, EXACT);
    let (g, f) = one_n(
        "Split",
        vec![In::Feed(x.clone())],
        attrs(&[("axis", Attr::Int(-1)), ("num_outputs", Attr::Int(3))]),
        18,
        3,
    );
    check("Split num_outputs", &g, f, EXACT);
    let (g, f) = one_n(
        "Split",
        vec![In::Feed(x)],
        attrs(&[("axis", Attr::Int(2)), ("split", Attr::Ints(vec![10, 21]))]),
        11,
        2,
    );
    check("Split attribute", &g, f, EXACT);
}

#[test]
fn pad_matches_cpu() {
    if !gpu_or_skip("pad_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(34);
    let x = rng.tensor(&[2, 3, 31, 33], -1.0, 1.0);
    for mode in ["constant", "reflect", "edge", "wrap"] {
        for pads in [
            vec![0i64, 0, 1, 2, 0, 0, 3, 1],
            vec![0, 1, -2, 5, 1, 0, 4, -3],
        ] {
            let (g, f) = one(
                "Pad",
                vec![
                    In::Feed(x.clone()),
                    In::Const(ints(&pads)),
                    In::Const(smelt_core::Tensor::scalar(0.25f32)),
                ],
                attrs(&[("mode", Attr::String(mode.into()))]),
            );
            check(&format!("Pad {mode} {pads:?}"), &g, f, EXACT);
        }
    }
    // axes input (opset 18) and the attribute form (opset 2)
    let (g, f) = one(
        "Pad",
        vec![
            In::Feed(x.clone()),
            In::Const(ints(&[2, 3, 1, 0])),
            In::Absent,
            In::Const(ints(&[-1, 1])),
        ],
        attrs(&[]),
    );
    check("Pad axes", &g, f, EXACT);
    let (g, f) = one_opset(
        "Pad",
        vec![In::Feed(x)],
        attrs(&[
            ("pads", Attr::Ints(vec![0, 0, 1, 1, 0, 0, 1, 1])),
            ("value", Attr::Float(-1.0)),
        ]),
        2,
    );
    check("Pad opset 2", &g, f, EXACT);
}
