//! GridSample, LinearAttention and CausalConvWithState against the CPU reference.

use crate::common::*;
use smelt_ir::Attr;

#[test]
fn grid_sample_matches_cpu() {
    if !gpu_or_skip("grid_sample_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(53);
    // (X shape, grid spatial shape)
    let shapes: [(&[usize], &[usize]); 4] = [
        (&[2, 3, 31, 33], &[17, 16]),
        (&[1, 2, 5, 257], &[3, 90]),
        (&[1, 2, 4, 5, 6], &[3, 4, 5]),
        (&[2, 3, 257], &[33]),
    ];
    for (xs, gs) in shapes {
        let k = xs.len() - 2;
        for mode in ["nearest", "linear", "cubic"] {
            if mode == "cubic" && k != 2 {
                continue;
            }
            for pad in ["zeros", "border", "reflection"] {
                for align in [0, 1] {
                    let mut gshape = vec![xs[0]];
                    gshape.extend_from_slice(gs);
                    gshape.push(k);
                    let (g, f) = one_opset(
                        "GridSample",
                        vec![
                            In::Feed(rng.tensor(xs, -1.0, 1.0)),
                            // beyond [-1, 1] to exercise the padding
                            In::Feed(rng.tensor(&gshape, -1.3, 1.3)),
                        ],
                        attrs(&[
                            ("mode", Attr::String(mode.into())),
                            ("padding_mode", Attr::String(pad.into())),
                            ("align_corners", Attr::Int(align)),
                        ]),
                        20,
                    );
                    check(
                        &format!("GridSample {xs:?} {gs:?} {mode} {pad} align {align}"),
                        &g,
                        f,
                        ULPS,
                    );
                }
            }
        }
    }
}

#[test]
fn linear_attention_matches_cpu() {
    if !gpu_or_skip("linear_attention_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(59);
    // (b, t, hq, hk, dk, dv, rule, per-head decay, beta last, past)
    let cases = [
        (2, 5, 2, 2, 8, 8, "linear", false, 0, false),
        (1, 33, 4, 2, 16, 257, "gated", false, 0, true),
        (2, 7, 4, 1, 31, 12, "gated", true, 0, false),
        (1, 9, 2, 2, 8, 33, "delta", false, 2, true),
        (2, 4, 6, 3, 16, 8, "gated_delta", true, 1, true),
        (1, 3, 2, 1, 257, 4, "gated_delta", false, 1, false),
    ];
    for (b, t, hq, hk, dk, dv, rule, per_head, beta_last, past) in cases {
        let mut ins = vec![
            In::Feed(rng.tensor(&[b, t, hq * dk], -0.5, 0.5)),
            In::Feed(rng.tensor(&[b, t, hk * dk], -0.5, 0.5)),
            In::Feed(rng.tensor(&[b, t, hk * dv], -1.0, 1.0)),
        ];
        ins.push(if past {
            In::Feed(rng.tensor(&[b, hk, dk, dv], -0.5, 0.5))
        } else {
            In::Absent
        });
        ins.push(if rule.starts_with("gated") {
            let last = if per_head { hk } else { hk * dk };
            In::Feed(rng.tensor(&[b, t, last], -0.5, 0.0))
        } else {
            In::Absent
        });
        ins.push(if rule.ends_with("delta") {
            In::Feed(rng.tensor(&[b, t, beta_last], 0.1, 0.9))
        } else {
            In::Absent
        });
        while matches!(ins.last(), Some(In::Absent)) {
            ins.pop();
        }
        let (g, f) = one_n(
            "LinearAttention",
            ins,
            attrs(&[
                ("q_num_heads", Attr::Int(hq as i64)),
                ("kv_num_heads", Attr::Int(hk as i64)),
                ("update_rule", Attr::String(rule.into())),
            ]),
            27,
            2,
        );
        check(
            &format!("LinearAttention b{b} t{t} hq{hq} hk{hk} dk{dk} dv{dv} {rule}"),
            &g,
            f,
            SUMS,
        );
    }
}

#[test]
fn causal_conv_with_state_matches_cpu() {
    if !gpu_or_skip("causal_conv_with_state_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(61);
    for &l in &SIZES {
        for (b, c, k, bias, past, act) in [
            (2, 3, 4, true, true, "silu"),
            (1, 33, 1, false, false, "none"),
            (2, 5, 7, false, true, "swish"),
            (1, 2, 3, true, false, "none"),
        ] {
            let mut ins = vec![
                In::Feed(rng.tensor(&[b, c, l], -1.0, 1.0)),
                In::Const(rng.tensor(&[c, 1, k], -1.0, 1.0)),
                if bias {
                    In::Const(rng.tensor(&[c], -1.0, 1.0))
                } else {
                    In::Absent
                },
            ];
            if past {
                ins.push(In::Feed(rng.tensor(&[b, c, k - 1], -1.0, 1.0)));
            }
            let (g, f) = one_n(
                "CausalConvWithState",
                ins,
                attrs(&[("activation", Attr::String(act.into()))]),
                27,
                2,
            );
            check(
                &format!("CausalConvWithState b{b} c{c} l{l} k{k} bias {bias} past {past} {act}"),
                &g,
                f,
                ULPS,
            );
        }
    }
}

#[test]
fn rotary_embedding_matches_cpu() {
    if !gpu_or_skip("rotary_embedding_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(71);
    // (b, h, s, d, rotary dim (0 = d), interleaved, 3-d, position_ids)
    for (b, h, s, d, rd, il, three_d, pos) in [
        (2, 3, 5, 8, 0, false, false, true),
        (1, 2, 257, 16, 8, true, false, false),
        (2, 4, 33, 32, 0, true, true, true),
        (1, 1, 31, 64, 32, false, true, false),
    ] {
        let half = if rd == 0 { d / 2 } else { rd / 2 };
        let x = if three_d {
            rng.tensor(&[b, s, h * d], -1.0, 1.0)
        } else {
            rng.tensor(&[b, h, s, d], -1.0, 1.0)
        };
        let maxp = 300;
        let cshape = if pos {
            vec![maxp, half]
        } else {
            vec![b, s, half]
        };
        let mut ins = vec![
            In::Feed(x),
            In::Const(rng.tensor(&cshape, -1.0, 1.0)),
            In::Const(rng.tensor(&cshape, -1.0, 1.0)),
        ];
        if pos {
            let ids: Vec<i64> = (0..b * s)
                .map(|_| (rng.next() * maxp as f32) as i64 % maxp as i64)
                .collect();
            ins.push(In::Feed(
                smelt_core::Tensor::from_vec(vec![b, s], ids).unwrap(),
            ));
        }
        let mut at = vec![
            ("interleaved", Attr::Int(il as i64)),
            ("rotary_embedding_dim", Attr::Int(rd as i64)),
        ];
        if three_d {
            at.push(("num_heads", Attr::Int(h as i64)));
        }
        let (g, f) = one_opset("RotaryEmbedding", ins, attrs(&at), 23);
        check(
            &format!("RotaryEmbedding b{b} h{h} s{s} d{d} rd{rd} il {il} 3d {three_d} pos {pos}"),
            &g,
            f,
            ULPS,
        );
    }
}

#[test]
fn dft_matches_cpu() {
    if !gpu_or_skip("dft_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(79);
    let scalar = |v: i64| smelt_core::Tensor::from_vec(vec![], vec![v]).unwrap();
    for &n in &SIZES[..4] {
        // opset 17: axis attribute, complex and real input, forward and inverse
        for (c, inverse, onesided) in [(2, 0, 0), (1, 0, 1), (2, 1, 0)] {
            let (g, f) = one_opset(
                "DFT",
                vec![In::Feed(rng.tensor(&[2, n, 3, c], -1.0, 1.0))],
                attrs(&[
                    ("axis", Attr::Int(1)),
                    ("inverse", Attr::Int(inverse)),
                    ("onesided", Attr::Int(onesided)),
                ]),
                17,
            );
            check(
                &format!("DFT-17 n{n} c{c} inverse {inverse} onesided {onesided}"),
                &g,
                f,
                SUMS,
            );
        }
        // opset 20 without an axis: the default -2 on a rank-4 input
        let (g, f) = one_opset(
            "DFT",
            vec![In::Feed(rng.tensor(&[2, 3, n, 2], -1.0, 1.0))],
            attrs(&[]),
            20,
        );
        check(&format!("DFT-20 n{n} default axis"), &g, f, SUMS);
        // opset 20: dft_length (padding and cutting) and axis inputs; a one-sided inverse
        for (len, inverse, onesided) in [(n + 5, 0, 0), ((n / 2).max(1), 0, 1), (0, 1, 1)] {
            if len == 0 && n < 2 {
                continue; // a one-sided inverse of one bin has no output
            }
            let half = n / 2 + 1;
            let x = if inverse == 1 {
                rng.tensor(&[3, half, 2], -1.0, 1.0)
            } else {
                rng.tensor(&[3, n, 2], -1.0, 1.0)
            };
            let (g, f) = one_opset(
                "DFT",
                vec![
                    In::Feed(x),
                    if len > 0 {
                        In::Const(scalar(len as i64))
                    } else {
                        In::Absent
                    },
                    In::Const(scalar(-2)),
                ],
                attrs(&[
                    ("inverse", Attr::Int(inverse)),
                    ("onesided", Attr::Int(onesided)),
                ]),
                20,
            );
            check(
                &format!("DFT-20 n{n} len {len} inverse {inverse} onesided {onesided}"),
                &g,
                f,
                SUMS,
            );
        }
    }
}

#[test]
fn windows_match_cpu() {
    if !gpu_or_skip("windows_match_cpu") {
        return;
    }
    for &n in &SIZES {
        for op in ["HannWindow", "HammingWindow", "BlackmanWindow"] {
            for periodic in [0, 1] {
                let (g, f) = one_opset(
                    op,
                    vec![In::Feed(
                        smelt_core::Tensor::from_vec(vec![], vec![n as i64]).unwrap(),
                    )],
                    attrs(&[("periodic", Attr::Int(periodic))]),
                    17,
                );
                check(&format!("{op} n{n} periodic {periodic}"), &g, f, ULPS);
            }
        }
    }
}

#[test]
fn affine_grid_matches_cpu() {
    if !gpu_or_skip("affine_grid_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(83);
    for size in [
        vec![2i64, 3, 31, 33],
        vec![1, 1, 1, 257],
        vec![2, 2, 5, 7, 9],
    ] {
        let k = size.len() - 2;
        for align in [0, 1] {
            let (g, f) = one_opset(
                "AffineGrid",
                vec![
                    In::Feed(rng.tensor(&[size[0] as usize, k, k + 1], -1.0, 1.0)),
                    In::Const(ints(&size)),
                ],
                attrs(&[("align_corners", Attr::Int(align))]),
                20,
            );
            check(&format!("AffineGrid {size:?} align {align}"), &g, f, ULPS);
        }
    }
}

#[test]
fn col2im_matches_cpu() {
    if !gpu_or_skip("col2im_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(97);
    // (n, c, image, block, dilations, pads, strides)
    let cases: [(
        usize,
        usize,
        Vec<i64>,
        Vec<i64>,
        Vec<i64>,
        Vec<i64>,
        Vec<i64>,
    ); 4] = [
        (
            1,
            2,
            vec![5, 5],
            vec![2, 2],
            vec![1, 1],
            vec![0, 0, 0, 0],
            vec![1, 1],
        ),
        (
            2,
            3,
            vec![31, 33],
            vec![3, 2],
            vec![2, 1],
            vec![1, 0, 1, 2],
            vec![2, 1],
        ),
        (1, 1, vec![257], vec![5], vec![1], vec![2, 2], vec![3]),
        (
            1,
            2,
            vec![4, 5, 6],
            vec![2, 2, 3],
            vec![1, 1, 1],
            vec![0, 1, 0, 0, 1, 1],
            vec![1, 2, 1],
        ),
    ];
    for (n, c, img, blk, dil, pads, st) in cases {
        let nd = img.len();
        let mut l = 1usize;
        for d in 0..nd {
            let span = dil[d] * (blk[d] - 1) + 1;
            l *= ((img[d] + pads[d] + pads[d + nd] - span) / st[d] + 1) as usize;
        }
        let kprod: i64 = blk.iter().product();
        let (g, f) = one_opset(
            "Col2Im",
            vec![
                In::Feed(rng.tensor(&[n, c * kprod as usize, l], -1.0, 1.0)),
                In::Const(ints(&img)),
                In::Const(ints(&blk)),
            ],
            attrs(&[
                ("dilations", Attr::Ints(dil.clone())),
                ("pads", Attr::Ints(pads.clone())),
                ("strides", Attr::Ints(st.clone())),
            ]),
            18,
        );
        check(&format!("Col2Im image {img:?} block {blk:?}"), &g, f, EXACT);
    }
}

#[test]
fn einsum_matches_cpu() {
    if !gpu_or_skip("einsum_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(101);
    let cases: [(&str, Vec<Vec<usize>>); 8] = [
        ("bij,bjk->bik", vec![vec![3, 31, 33], vec![3, 33, 5]]),
        ("i,i", vec![vec![257], vec![257]]),
        ("ij->ji", vec![vec![33, 31]]),
        ("ij->i", vec![vec![5, 257]]),
        ("...ii->...i", vec![vec![2, 3, 17, 17]]),
        (",->", vec![vec![], vec![]]),
        ("ab,bc,cd->ad", vec![vec![4, 5], vec![5, 6], vec![6, 3]]),
        ("bhqd,bhkd->bhqk", vec![vec![2, 1, 7, 8], vec![2, 3, 9, 8]]),
    ];
    for (eq, shapes) in cases {
        let ins: Vec<In> = shapes
            .iter()
            .map(|s| In::Feed(rng.tensor(s, -1.0, 1.0)))
            .collect();
        let (g, f) = one(
            "Einsum",
            ins,
            attrs(&[("equation", Attr::String(eq.into()))]),
        );
        check(&format!("Einsum '{eq}' {shapes:?}"), &g, f, SUMS);
    }
}

#[test]
fn roi_align_matches_cpu() {
    if !gpu_or_skip("roi_align_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(107);
    let (n, c, h, w, r) = (2, 3, 33, 31, 5);
    for opset in [10, 16] {
        for (mode, sr, oh, ow) in [
            ("avg", 0i64, 3i64, 4i64),
            ("max", 2, 5, 5),
            ("avg", 1, 7, 2),
        ] {
            // boxes partly outside the image, some smaller than a pixel
            let rois = rng.tensor(&[r, 4], -4.0, 40.0);
            let (g, f) = one_opset(
                "RoiAlign",
                vec![
                    In::Feed(rng.tensor(&[n, c, h, w], -1.0, 1.0)),
                    In::Feed(rois),
                    In::Const(ints(&[0, 1, 1, 0, 1])),
                ],
                attrs(&[
                    ("mode", Attr::String(mode.into())),
                    ("sampling_ratio", Attr::Int(sr)),
                    ("output_height", Attr::Int(oh)),
                    ("output_width", Attr::Int(ow)),
                    ("spatial_scale", Attr::Float(0.75)),
                ]),
                opset,
            );
            check(
                &format!("RoiAlign-{opset} {mode} sr {sr} {oh}x{ow}"),
                &g,
                f,
                ULPS,
            );
        }
    }
}

/// RoiAlign's opset-dependent default mode follows the node's opset (no device needed).
#[test]
fn roi_align_default_mode_follows_the_node_opset() {
    use smelt_cuda::plan::op::GpuOp;
    for (opset, half) in [(10, false), (16, true)] {
        let (g, _) = one_opset(
            "RoiAlign",
            vec![
                In::Feed(Rng::new(1).tensor(&[1, 1, 4, 4], -1.0, 1.0)),
                In::Feed(Rng::new(2).tensor(&[1, 4], 0.0, 3.0)),
                In::Const(ints(&[0])),
            ],
            attrs(&[]),
            opset,
        );
        match GpuOp::from_node(&g.nodes[0]) {
            Ok(GpuOp::RoiAlign(a)) => assert_eq!(a.half_pixel, half, "opset {opset}"),
            other => panic!("opset {opset}: {other:?}"),
        }
    }
}

/// DFT's opset-dependent axis follows the node's opset (no device needed).
#[test]
fn dft_axis_follows_the_node_opset() {
    use smelt_cuda::plan::op::GpuOp;
    for (opset, want) in [(17, Some(1)), (20, None)] {
        let (g, _) = one_opset(
            "DFT",
            vec![In::Feed(Rng::new(1).tensor(&[2, 3, 4, 2], -1.0, 1.0))],
            attrs(&[]),
            opset,
        );
        match GpuOp::from_node(&g.nodes[0]) {
            Ok(GpuOp::Dft(a)) => assert_eq!(a.axis, want, "opset {opset}"),
            other => panic!("opset {opset}: {other:?}"),
        }
    }
}

/// An f16 copy of an f32 tensor.
fn f16(t: &smelt_core::Tensor) -> smelt_core::Tensor {
    smelt_ops::rnn::common::to_tensor(
        smelt_core::DType::F16,
        t.shape().to_vec(),
        t.to_f64_vec().unwrap(),
    )
    .unwrap()
}

/// Runs `g` on the CPU and wholly on the GPU and compares f16 outputs within one f16
/// rounding (the GPU rounds f32 results, the CPU f64 or f32 ones).
fn check_f16(what: &str, g: &smelt_ir::Graph, feeds: Vec<(String, smelt_core::Tensor)>) {
    let want = smelt_cpu::run(g, feeds.clone()).unwrap_or_else(|e| panic!("{what}: cpu: {e}"));
    let ex = smelt_cuda::Executor::new(g, &vec![true; g.nodes.len()]).unwrap();
    assert_eq!(
        ex.gpu_node_count(),
        g.nodes.len(),
        "{what}: a node has no GPU op"
    );
    let got = ex.run(feeds).unwrap_or_else(|e| panic!("{what}: gpu: {e}"));
    assert_eq!(ex.stats().cpu_fallbacks, 0, "{what}: fell back to the CPU");
    for ((n, w), (_, gt)) in want.iter().zip(&got) {
        assert_eq!(w.dtype(), gt.dtype(), "{what}: {n} dtype");
        assert_eq!(w.shape(), gt.shape(), "{what}: {n} shape");
        for (i, (a, b)) in w
            .to_f64_vec()
            .unwrap()
            .iter()
            .zip(gt.to_f64_vec().unwrap())
            .enumerate()
        {
            assert!(
                (a - b).abs() <= 1e-3 + 1e-3 * a.abs() || (a.is_nan() && b.is_nan()),
                "{what}: {n}[{i}]: cpu {a}, gpu {b}"
            );
        }
    }
}

#[test]
fn f16_sequence_ops_match_cpu() {
    if !gpu_or_skip("f16_sequence_ops_match_cpu") {
        return;
    }
    let mut rng = Rng::new(113);
    // Attention with past and present, GQA, a float mask, all four outputs
    let (b, hq, hkv, s, l, past, d) = (2, 4, 2, 33, 7, 257, 8);
    let t = past + l;
    let (g, f) = one_n(
        "Attention",
        vec![
            In::Feed(f16(&rng.tensor(&[b, hq, s, d], -1.0, 1.0))),
            In::Feed(f16(&rng.tensor(&[b, hkv, l, d], -1.0, 1.0))),
            In::Feed(f16(&rng.tensor(&[b, hkv, l, d], -1.0, 1.0))),
            In::Feed(f16(&rng.tensor(&[s, t], -1.0, 0.5))),
            In::Feed(f16(&rng.tensor(&[b, hkv, past, d], -1.0, 1.0))),
            In::Feed(f16(&rng.tensor(&[b, hkv, past, d], -1.0, 1.0))),
        ],
        attrs(&[]),
        24,
        4,
    );
    check_f16("Attention f16", &g, f);
    // CausalConvWithState with bias, past state and SiLU
    let (g, f) = one_n(
        "CausalConvWithState",
        vec![
            In::Feed(f16(&rng.tensor(&[2, 5, 257], -1.0, 1.0))),
            In::Const(f16(&rng.tensor(&[5, 1, 4], -1.0, 1.0))),
            In::Const(f16(&rng.tensor(&[5], -1.0, 1.0))),
            In::Feed(f16(&rng.tensor(&[2, 5, 3], -1.0, 1.0))),
        ],
        attrs(&[("activation", Attr::String("silu".into()))]),
        27,
        2,
    );
    check_f16("CausalConvWithState f16", &g, f);
    // LinearAttention, gated delta rule
    let (bb, tt, hq, hk, dk, dv) = (1, 9, 4, 2, 16, 33);
    let (g, f) = one_n(
        "LinearAttention",
        vec![
            In::Feed(f16(&rng.tensor(&[bb, tt, hq * dk], -0.5, 0.5))),
            In::Feed(f16(&rng.tensor(&[bb, tt, hk * dk], -0.5, 0.5))),
            In::Feed(f16(&rng.tensor(&[bb, tt, hk * dv], -1.0, 1.0))),
            In::Feed(f16(&rng.tensor(&[bb, hk, dk, dv], -0.5, 0.5))),
            In::Feed(f16(&rng.tensor(&[bb, tt, hk], -0.5, 0.0))),
            In::Feed(f16(&rng.tensor(&[bb, tt, hk], 0.1, 0.9))),
        ],
        attrs(&[
            ("q_num_heads", Attr::Int(hq as i64)),
            ("kv_num_heads", Attr::Int(hk as i64)),
        ]),
        27,
        2,
    );
    check_f16("LinearAttention f16", &g, f);
}
