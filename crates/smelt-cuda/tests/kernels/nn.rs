use crate::common::*;
use smelt_ir::Attr;

fn conv_attrs(
    k: usize,
    s: usize,
    p: usize,
    d: usize,
    group: usize,
    rank: usize,
) -> Vec<(&'static str, Attr)> {
    vec![
        ("kernel_shape", Attr::Ints(vec![k as i64; rank])),
        ("strides", Attr::Ints(vec![s as i64; rank])),
        ("pads", Attr::Ints(vec![p as i64; 2 * rank])),
        ("dilations", Attr::Ints(vec![d as i64; rank])),
        ("group", Attr::Int(group as i64)),
    ]
}

#[test]
fn conv_matches_cpu() {
    if !gpu_or_skip("conv_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(20);
    // (n, c, h, w, m, k, stride, pad, dilation, group, bias)
    let cases = [
        (1, 1, 1, 1, 1, 1, 1, 0, 1, 1, false),
        (2, 3, 31, 33, 5, 3, 1, 1, 1, 1, true),
        (1, 4, 33, 31, 8, 3, 2, 1, 1, 1, true),
        (1, 16, 17, 17, 32, 1, 1, 0, 1, 1, true), // 1x1: no im2col
        (2, 8, 17, 19, 8, 3, 1, 2, 2, 8, true),   // depthwise, dilated
        (2, 4, 9, 9, 6, 3, 2, 1, 1, 2, false),    // grouped
        (1, 3, 64, 64, 64, 7, 2, 3, 1, 1, true),  // ResNet stem
    ];
    let mut worst = 0f32;
    for (n, c, h, w, m, k, s, p, d, grp, bias) in cases {
        let x = rng.tensor(&[n, c, h, w], -1.0, 1.0);
        let wt = rng.tensor(&[m, c / grp, k, k], -0.5, 0.5);
        let mut ins = vec![In::Feed(x), In::Const(wt)];
        if bias {
            ins.push(In::Const(rng.tensor(&[m], -1.0, 1.0)));
        }
        let (g, f) = one("Conv", ins, attrs(&conv_attrs(k, s, p, d, grp, 2)));
        worst = worst.max(check(
            &format!("Conv n{n} c{c} {h}x{w} m{m} k{k} s{s} p{p} d{d} g{grp}"),
            &g,
            f,
            SUMS,
        ));
    }
    // 1-d conv, and auto_pad SAME_UPPER with an even kernel
    let (g, f) = one(
        "Conv",
        vec![
            In::Feed(rng.tensor(&[2, 3, 257], -1.0, 1.0)),
            In::Const(rng.tensor(&[4, 3, 5], -0.5, 0.5)),
        ],
        attrs(&conv_attrs(5, 2, 2, 1, 1, 1)),
    );
    worst = worst.max(check("Conv 1-d", &g, f, SUMS));
    let (g, f) = one(
        "Conv",
        vec![
            In::Feed(rng.tensor(&[1, 3, 31, 33], -1.0, 1.0)),
            In::Const(rng.tensor(&[5, 3, 4, 4], -0.5, 0.5)),
        ],
        attrs(&[
            ("auto_pad", Attr::String("SAME_UPPER".into())),
            ("strides", Attr::Ints(vec![2, 2])),
        ]),
    );
    worst = worst.max(check("Conv SAME_UPPER", &g, f, SUMS));
    println!("Conv: max abs error {worst:.3e}");
}

#[test]
fn pooling_matches_cpu() {
    if !gpu_or_skip("pooling_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(21);
    for (h, w) in [(1, 1), (31, 33), (33, 31), (56, 56)] {
        let x = rng.tensor(&[2, 3, h, w], -1.0, 1.0);
        let k = if h < 3 { 1 } else { 3 };
        for (op, extra) in [
            ("MaxPool", vec![]),
            ("MaxPool", vec![("ceil_mode", Attr::Int(1))]),
            ("AveragePool", vec![]),
            ("AveragePool", vec![("count_include_pad", Attr::Int(1))]),
            (
                "AveragePool",
                vec![
                    ("ceil_mode", Attr::Int(1)),
                    ("count_include_pad", Attr::Int(1)),
                ],
            ),
        ] {
            let p = if k == 1 { 0 } else { 1 };
            let mut at = vec![
                ("kernel_shape", Attr::Ints(vec![k, k])),
                ("strides", Attr::Ints(vec![2, 2])),
                ("pads", Attr::Ints(vec![p, p, p, p])),
            ];
            at.extend(extra.clone());
            let (g, f) = one(op, vec![In::Feed(x.clone())], attrs(&at));
            check(&format!("{op} {h}x{w} {extra:?}"), &g, f, ULPS);
        }
        for op in ["GlobalAveragePool", "GlobalMaxPool"] {
            let (g, f) = one(op, vec![In::Feed(x.clone())], attrs(&[]));
            check(&format!("{op} {h}x{w}"), &g, f, SUMS);
        }
    }
}

#[test]
fn normalisations_match_cpu() {
    if !gpu_or_skip("normalisations_match_cpu") {
        return;
    }
    let mut rng = Rng::new(22);
    let mut worst = 0f32;
    for n in SIZES {
        for op in ["Softmax", "LogSoftmax"] {
            let (g, f) = one(
                op,
                vec![In::Feed(rng.tensor(&[3, n], -5.0, 5.0))],
                attrs(&[("axis", Attr::Int(-1))]),
            );
            worst = worst.max(check(&format!("{op} [3, {n}]"), &g, f, SUMS));
        }
        let x = rng.tensor(&[2, 5, n], -2.0, 2.0);
        let (g, f) = one(
            "LayerNormalization",
            vec![
                In::Feed(x.clone()),
                In::Const(rng.tensor(&[n], 0.5, 1.5)),
                In::Const(rng.tensor(&[n], -1.0, 1.0)),
            ],
            attrs(&[("epsilon", Attr::Float(1e-5))]),
        );
        worst = worst.max(check(&format!("LayerNormalization [2,5,{n}]"), &g, f, SUMS));
        let (g, f) = one(
            "LayerNormalization",
            vec![In::Feed(x), In::Const(rng.tensor(&[5, n], 0.5, 1.5))],
            attrs(&[("axis", Attr::Int(-2))]),
        );
        worst = worst.max(check(
            &format!("LayerNormalization axis -2 no bias [2,5,{n}]"),
            &g,
            f,
            SUMS,
        ));
    }
    // rows a multiple of 4 long, up to 2048: the warp-per-row kernels (2, 4, 8 and 16
    // float4 per lane; 9 rows: a partial block of 2), with and without the stats; 2052
    // takes the block-per-row kernel
    for n in [4usize, 36, 260, 768, 2048, 2052] {
        let x = rng.tensor(&[3, 3, n], -2.0, 2.0);
        let mut ins = || {
            vec![
                In::Feed(x.clone()),
                In::Const(rng.tensor(&[n], 0.5, 1.5)),
                In::Const(rng.tensor(&[n], -1.0, 1.0)),
            ]
        };
        let (g, f) = one("LayerNormalization", ins(), attrs(&[]));
        worst = worst.max(check(&format!("LayerNormalization [3,3,{n}]"), &g, f, SUMS));
        let (g, f) = one_n("LayerNormalization", ins(), attrs(&[]), 21, 3);
        worst = worst.max(check(
            &format!("LayerNormalization 3 outputs [3,3,{n}]"),
            &g,
            f,
            SUMS,
        ));
    }
    // 2100 rows: eight per block, the last block partial
    let (g, f) = one(
        "LayerNormalization",
        vec![
            In::Feed(rng.tensor(&[1050, 2, 36], -2.0, 2.0)),
            In::Const(rng.tensor(&[36], 0.5, 1.5)),
            In::Const(rng.tensor(&[36], -1.0, 1.0)),
        ],
        attrs(&[]),
    );
    worst = worst.max(check("LayerNormalization [1050,2,36]", &g, f, SUMS));
    // with the Mean and InvStdDev outputs
    for axis in [-1i64, 1] {
        let x = rng.tensor(&[2, 31, 33], -2.0, 2.0);
        let sc = if axis == -1 { vec![33] } else { vec![31, 33] };
        let (g, f) = one_n(
            "LayerNormalization",
            vec![
                In::Feed(x),
                In::Const(rng.tensor(&sc, 0.5, 1.5)),
                In::Const(rng.tensor(&sc, -1.0, 1.0)),
            ],
            attrs(&[("axis", Attr::Int(axis))]),
            21,
            3,
        );
        worst = worst.max(check(
            &format!("LayerNormalization 3 outputs axis {axis}"),
            &g,
            f,
            SUMS,
        ));
    }
    for c in [1, 31, 33] {
        let ins = vec![
            In::Feed(rng.tensor(&[2, c, 7, 9], -2.0, 2.0)),
            In::Const(rng.tensor(&[c], 0.5, 1.5)),
            In::Const(rng.tensor(&[c], -1.0, 1.0)),
            In::Const(rng.tensor(&[c], -1.0, 1.0)),
            In::Const(rng.tensor(&[c], 0.5, 2.0)),
        ];
        let (g, f) = one(
            "BatchNormalization",
            ins,
            attrs(&[("epsilon", Attr::Float(1e-3))]),
        );
        worst = worst.max(check(&format!("BatchNormalization c{c}"), &g, f, SUMS));
    }
    println!("norms: max abs error {worst:.3e}");
}

#[test]
fn reductions_match_cpu() {
    if !gpu_or_skip("reductions_match_cpu") {
        return;
    }
    let mut rng = Rng::new(23);
    let shape = [3usize, 33, 31, 5];
    let axes_list: [&[i64]; 6] = [&[-1], &[1], &[1, 2], &[0], &[2, 3], &[]];
    for op in [
        "ReduceSum",
        "ReduceMean",
        "ReduceMax",
        "ReduceMin",
        "ReduceSumSquare",
        "ReduceL1",
        "ReduceL2",
        "ReduceLogSumExp",
    ] {
        for axes in axes_list {
            for keep in [0, 1] {
                let x = rng.tensor(&shape, 0.1, 1.0);
                let mut ins = vec![In::Feed(x)];
                if !axes.is_empty() {
                    ins.push(In::Const(ints(axes)));
                }
                let (g, f) = one(op, ins, attrs(&[("keepdims", Attr::Int(keep))]));
                check(&format!("{op} axes {axes:?} keepdims {keep}"), &g, f, SUMS);
            }
        }
    }
    // ReduceMean with axes as an attribute (opset 13) and a long row
    let (g, f) = one_opset(
        "ReduceMean",
        vec![In::Feed(rng.tensor(&[4, 4099], -1.0, 1.0))],
        attrs(&[("axes", Attr::Ints(vec![1]))]),
        13,
    );
    check("ReduceMean opset 13", &g, f, SUMS);
}

#[test]
fn resize_matches_cpu() {
    if !gpu_or_skip("resize_matches_cpu") {
        return;
    }
    use smelt_core::Tensor;
    let mut rng = Rng::new(24);
    let x = rng.tensor(&[2, 3, 31, 33], -1.0, 1.0);
    let scales = |v: &[f32]| Tensor::from_vec(vec![v.len()], v.to_vec()).unwrap();
    let empty = Tensor::from_vec(vec![0], Vec::<f32>::new()).unwrap();
    let modes: [(&str, &str, &str); 6] = [
        ("nearest", "asymmetric", "floor"),
        ("nearest", "half_pixel", "round_prefer_floor"),
        ("linear", "half_pixel", "round_prefer_floor"),
        ("linear", "align_corners", "round_prefer_floor"),
        ("linear", "pytorch_half_pixel", "round_prefer_floor"),
        ("cubic", "half_pixel", "round_prefer_floor"),
    ];
    let mut worst = 0f32;
    for (mode, coord, nearest) in modes {
        for sc in [
            [1.0f32, 1.0, 2.0, 2.0],
            [1.0, 1.0, 0.5, 0.75],
            [1.0, 1.0, 1.7, 3.0],
        ] {
            let at = attrs(&[
                ("mode", Attr::String(mode.into())),
                ("coordinate_transformation_mode", Attr::String(coord.into())),
                ("nearest_mode", Attr::String(nearest.into())),
            ]);
            let (g, f) = one(
                "Resize",
                vec![
                    In::Feed(x.clone()),
                    In::Const(empty.clone()),
                    In::Const(scales(&sc)),
                ],
                at,
            );
            worst = worst.max(check(&format!("Resize {mode} {coord} {sc:?}"), &g, f, SUMS));
        }
    }
    // sizes instead of scales, and the opset-10 form
    let sizes = Tensor::from_vec(vec![4], vec![2i64, 3, 64, 17]).unwrap();
    let (g, f) = one(
        "Resize",
        vec![
            In::Feed(x.clone()),
            In::Const(empty.clone()),
            In::Const(empty),
            In::Const(sizes),
        ],
        attrs(&[("mode", Attr::String("linear".into()))]),
    );
    worst = worst.max(check("Resize sizes", &g, f, SUMS));
    let (g, f) = one_opset(
        "Resize",
        vec![In::Feed(x), In::Const(scales(&[1.0, 1.0, 2.0, 2.0]))],
        attrs(&[]),
        10,
    );
    worst = worst.max(check("Resize opset 10", &g, f, SUMS));
    println!("Resize: max abs error {worst:.3e}");
}

#[test]
fn conv_transpose_matches_cpu() {
    if !gpu_or_skip("conv_transpose_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(25);
    // (n, c, h, w, m, k, stride, pad, dilation, group, output_padding, bias)
    let cases = [
        (1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, false),
        (2, 4, 15, 17, 3, 2, 2, 0, 1, 1, 0, true), // the 2x upsampling of detection heads
        (1, 8, 9, 11, 6, 3, 2, 1, 1, 2, 1, true),
        (1, 3, 31, 33, 5, 3, 1, 1, 2, 1, 0, false),
    ];
    let mut worst = 0f32;
    for (n, c, h, w, m, k, s, p, d, g, op, bias) in cases {
        let mut ins = vec![
            In::Feed(rng.tensor(&[n, c, h, w], -1.0, 1.0)),
            In::Const(rng.tensor(&[c, m / g, k, k], -0.5, 0.5)),
        ];
        if bias {
            ins.push(In::Const(rng.tensor(&[m], -1.0, 1.0)));
        }
        let mut at = conv_attrs(k, s, p, d, g, 2);
        at.push(("output_padding", Attr::Ints(vec![op as i64; 2])));
        let (gr, f) = one("ConvTranspose", ins, attrs(&at));
        worst = worst.max(check(
            &format!("ConvTranspose n{n} c{c} {h}x{w} m{m} k{k} s{s} p{p} d{d} g{g} op{op}"),
            &gr,
            f,
            SUMS,
        ));
    }
    let (gr, f) = one(
        "ConvTranspose",
        vec![
            In::Feed(rng.tensor(&[1, 2, 7, 9], -1.0, 1.0)),
            In::Const(rng.tensor(&[2, 3, 3, 3], -0.5, 0.5)),
        ],
        attrs(&[
            ("auto_pad", Attr::String("SAME_UPPER".into())),
            ("strides", Attr::Ints(vec![2, 2])),
        ]),
    );
    worst = worst.max(check("ConvTranspose SAME_UPPER", &gr, f, SUMS));
    println!("ConvTranspose: max abs error {worst:.3e}");
}

#[test]
fn argmax_argmin_match_cpu() {
    if !gpu_or_skip("argmax_argmin_match_cpu") {
        return;
    }
    let mut rng = Rng::new(26);
    // a coarse grid so that ties occur, and a NaN
    let mut v: Vec<f32> = rng
        .tensor(&[3, 33, 31], -2.0, 2.0)
        .as_slice::<f32>()
        .unwrap()
        .iter()
        .map(|x| (x * 2.0).round())
        .collect();
    v[100] = f32::NAN;
    let x = smelt_core::Tensor::from_vec(vec![3, 33, 31], v).unwrap();
    for op in ["ArgMax", "ArgMin"] {
        for axis in [0i64, 1, -1] {
            for (keep, last) in [(1, 0), (0, 1)] {
                let at = attrs(&[
                    ("axis", Attr::Int(axis)),
                    ("keepdims", Attr::Int(keep)),
                    ("select_last_index", Attr::Int(last)),
                ]);
                let (g, f) = one(op, vec![In::Feed(x.clone())], at);
                check(
                    &format!("{op} axis {axis} keepdims {keep} last {last}"),
                    &g,
                    f,
                    EXACT,
                );
            }
        }
    }
}
