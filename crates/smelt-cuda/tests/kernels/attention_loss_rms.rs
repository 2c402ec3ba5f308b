//! Attention, the losses (NLL, SoftmaxCrossEntropy) and RMSNormalization against the CPU
//! reference.

use crate::common::*;
use smelt_core::Tensor;
use smelt_ir::Attr;

fn bools(shape: &[usize], rng: &mut Rng) -> Tensor {
    let n: usize = shape.iter().product();
    // mostly true, so that few rows are fully masked
    let v: Vec<bool> = (0..n).map(|_| rng.next() < 0.8).collect();
    Tensor::from_vec(shape.to_vec(), v).unwrap()
}

/// One Attention case: 4-D shapes (b, hq, hkv, s, l, past, d, dv), the layout, the mask
/// (None, Some(rank, bool)), nonpad lengths, attributes and the number of outputs.
#[allow(clippy::too_many_arguments)]
fn attention_case(
    rng: &mut Rng,
    (b, hq, hkv, s, l, past, d, dv): (usize, usize, usize, usize, usize, usize, usize, usize),
    three_d: bool,
    mask: Option<(usize, bool)>,
    nonpad: Option<Vec<i64>>,
    at: Vec<(&str, Attr)>,
    n_out: usize,
) {
    let t = past + l;
    let (q, k, v) = if three_d {
        (
            rng.tensor(&[b, s, hq * d], -1.0, 1.0),
            rng.tensor(&[b, l, hkv * d], -1.0, 1.0),
            rng.tensor(&[b, l, hkv * dv], -1.0, 1.0),
        )
    } else {
        (
            rng.tensor(&[b, hq, s, d], -1.0, 1.0),
            rng.tensor(&[b, hkv, l, d], -1.0, 1.0),
            rng.tensor(&[b, hkv, l, dv], -1.0, 1.0),
        )
    };
    let mut ins = vec![In::Feed(q), In::Feed(k), In::Feed(v)];
    let mut at = at;
    if three_d {
        at.push(("q_num_heads", Attr::Int(hq as i64)));
        at.push(("kv_num_heads", Attr::Int(hkv as i64)));
    }
    let what = format!(
        "Attention b{b} hq{hq} hkv{hkv} s{s} l{l} past{past} d{d} dv{dv} 3d={three_d} mask={mask:?} attrs={at:?}"
    );
    ins.push(match mask {
        None => In::Absent,
        Some((rank, is_bool)) => {
            let full = [b, hq, s, t];
            let mut shape = full[4 - rank..].to_vec();
            if rank >= 3 {
                shape[rank - 3] = 1; // broadcast over heads
            }
            if is_bool {
                In::Feed(bools(&shape, rng))
            } else {
                In::Feed(rng.tensor(&shape, -2.0, 0.5))
            }
        }
    });
    if past > 0 {
        ins.push(In::Feed(rng.tensor(&[b, hkv, past, d], -1.0, 1.0)));
        ins.push(In::Feed(rng.tensor(&[b, hkv, past, dv], -1.0, 1.0)));
    } else {
        ins.push(In::Absent);
        ins.push(In::Absent);
    }
    if let Some(np) = nonpad {
        ins.push(In::Feed(ints(&np)));
    }
    while matches!(ins.last(), Some(In::Absent)) {
        ins.pop();
    }
    let (g, f) = one_n("Attention", ins, attrs(&at), 24, n_out);
    check(&what, &g, f, SUMS);
}

#[test]
fn attention_matches_cpu() {
    if !gpu_or_skip("attention_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(41);
    // plain, GQA, MQA; key lengths straddling the 256-thread block
    for (dims, three_d) in [
        ((2, 4, 4, 3, 5, 0, 8, 8), false),
        ((1, 6, 2, 33, 257, 0, 31, 17), false),
        ((2, 4, 1, 7, 255, 0, 16, 16), true),
        ((1, 8, 2, 31, 33, 0, 8, 12), true),
    ] {
        attention_case(&mut rng, dims, three_d, None, None, vec![], 1);
    }
    // masks of every rank, bool and float, with causal and a shorter last dim
    for (rank, is_bool) in [(1, true), (2, false), (3, true), (4, false), (4, true)] {
        attention_case(
            &mut rng,
            (2, 4, 2, 9, 257, 0, 16, 16),
            false,
            Some((rank, is_bool)),
            None,
            vec![("is_causal", Attr::Int((rank % 2) as i64))],
            1,
        );
    }
    // past and present, all four outputs in each qk mode, softcap and scale
    for mode in 0..4 {
        attention_case(
            &mut rng,
            (2, 4, 2, 5, 7, 250, 16, 8),
            mode % 2 == 1,
            Some((2, false)),
            None,
            vec![
                ("qk_matmul_output_mode", Attr::Int(mode)),
                ("softcap", Attr::Float(2.5)),
                ("scale", Attr::Float(0.3)),
                ("is_causal", Attr::Int(1)),
            ],
            4,
        );
    }
    // nonpad_kv_seqlen (opset 24)
    attention_case(
        &mut rng,
        (2, 2, 2, 4, 300, 0, 8, 8),
        false,
        None,
        Some(vec![257, 31]),
        vec![],
        1,
    );
}

#[test]
fn losses_match_cpu() {
    if !gpu_or_skip("losses_match_cpu") {
        return;
    }
    let mut rng = Rng::new(43);
    for &(shape, reduction, weight, ignore) in &[
        (&[3usize, 5][..], "mean", false, None),
        (&[31, 7, 33][..], "sum", true, Some(2i64)),
        (&[2, 257, 3][..], "none", true, Some(-1)),
        (&[4, 3, 2, 33, 5][..], "mean", true, Some(1)),
        (&[257, 10][..], "mean", false, Some(0)),
    ] {
        let c = shape[1];
        let mut tshape = vec![shape[0]];
        tshape.extend_from_slice(&shape[2..]);
        let n: usize = tshape.iter().product();
        let tv: Vec<i64> = (0..n)
            .map(|_| {
                let r = (rng.next() * (c + 1) as f32) as i64;
                match ignore {
                    Some(ii) if r >= c as i64 => ii,
                    _ => r.min(c as i64 - 1),
                }
            })
            .collect();
        let target = Tensor::from_vec(tshape, tv).unwrap();
        let mut at = vec![("reduction", Attr::String(reduction.into()))];
        if let Some(ii) = ignore {
            at.push(("ignore_index", Attr::Int(ii)));
        }
        for sce in [false, true] {
            let x = if sce {
                rng.tensor(shape, -3.0, 3.0)
            } else {
                rng.tensor(shape, -5.0, -0.01)
            };
            let mut ins = vec![In::Feed(x), In::Feed(target.clone())];
            if weight {
                ins.push(In::Const(rng.tensor(&[c], 0.1, 2.0)));
            }
            let op = if sce {
                "SoftmaxCrossEntropyLoss"
            } else {
                "NegativeLogLikelihoodLoss"
            };
            let n_out = if sce { 2 } else { 1 };
            let (g, f) = one_n(op, ins, attrs(&at), 13, n_out);
            check(
                &format!("{op} {shape:?} {reduction} weight={weight} ignore={ignore:?}"),
                &g,
                f,
                SUMS,
            );
        }
    }
}

#[test]
fn rms_norm_matches_cpu() {
    if !gpu_or_skip("rms_norm_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(47);
    for &n in &SIZES {
        for (shape, axis, scale) in [
            (vec![3, n], -1i64, vec![n]),
            (vec![2, n, 3], 1, vec![n, 3]),
            (vec![2, 3, n], 1, vec![1, n]), // broadcast over dim 1
            (vec![n, 2], 0, vec![n, 2]),
        ] {
            let (g, f) = one_opset(
                "RMSNormalization",
                vec![
                    In::Feed(rng.tensor(&shape, -2.0, 2.0)),
                    In::Const(rng.tensor(&scale, 0.5, 1.5)),
                ],
                attrs(&[("axis", Attr::Int(axis)), ("epsilon", Attr::Float(1e-3))]),
                23,
            );
            check(
                &format!("RMSNormalization {shape:?} axis {axis} scale {scale:?}"),
                &g,
                f,
                SUMS,
            );
        }
    }
}

#[test]
fn group_instance_lp_mvn_norms_match_cpu() {
    if !gpu_or_skip("group_instance_lp_mvn_norms_match_cpu") {
        return;
    }
    let mut rng = Rng::new(67);
    for &n in &SIZES {
        // InstanceNormalization
        let (g, f) = one(
            "InstanceNormalization",
            vec![
                In::Feed(rng.tensor(&[2, 3, n, 2], -2.0, 2.0)),
                In::Const(rng.tensor(&[3], 0.5, 1.5)),
                In::Const(rng.tensor(&[3], -1.0, 1.0)),
            ],
            attrs(&[("epsilon", Attr::Float(1e-3))]),
        );
        check(&format!("InstanceNormalization n{n}"), &g, f, SUMS);
        // GroupNormalization: per-channel scale (opset 21) and per-group (opset 18)
        for (opset, per) in [(21, 6), (18, 3)] {
            let (g, f) = one_opset(
                "GroupNormalization",
                vec![
                    In::Feed(rng.tensor(&[2, 6, n], -2.0, 2.0)),
                    In::Const(rng.tensor(&[per], 0.5, 1.5)),
                    In::Const(rng.tensor(&[per], -1.0, 1.0)),
                ],
                attrs(&[("num_groups", Attr::Int(3))]),
                opset,
            );
            check(&format!("GroupNormalization-{opset} n{n}"), &g, f, SUMS);
        }
        // LpNormalization
        for (axis, p) in [(-1i64, 2i64), (0, 1), (1, 2)] {
            let (g, f) = one(
                "LpNormalization",
                vec![In::Feed(rng.tensor(&[3, n, 2], -2.0, 2.0))],
                attrs(&[("axis", Attr::Int(axis)), ("p", Attr::Int(p))]),
            );
            check(
                &format!("LpNormalization n{n} axis {axis} p {p}"),
                &g,
                f,
                SUMS,
            );
        }
        // MeanVarianceNormalization: default axes and one axis
        for axes in [vec![0i64, 2, 3], vec![1], vec![-1, 1]] {
            let (g, f) = one(
                "MeanVarianceNormalization",
                vec![In::Feed(rng.tensor(&[2, 3, n, 2], -2.0, 2.0))],
                attrs(&[("axes", Attr::Ints(axes.clone()))]),
            );
            check(
                &format!("MeanVarianceNormalization n{n} axes {axes:?}"),
                &g,
                f,
                SUMS,
            );
        }
    }
}

#[test]
fn lp_pool_matches_cpu() {
    if !gpu_or_skip("lp_pool_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(73);
    for &n in &SIZES[..4] {
        for (shape, k, s, pad, p) in [
            (
                vec![2, 3, n, 7],
                vec![3, 2],
                vec![1, 1],
                vec![1, 0, 1, 1],
                2i64,
            ),
            (
                vec![1, 2, n + 2, n + 1],
                vec![2, 2],
                vec![2, 2],
                vec![0, 0, 0, 0],
                3,
            ),
            (vec![2, 3, n + 3], vec![3], vec![2], vec![1, 1], 1),
            (
                vec![1, 2, 4, n + 2, 5],
                vec![2, 3, 2],
                vec![1, 2, 1],
                vec![0, 1, 0, 1, 1, 1],
                2,
            ),
        ] {
            let (g, f) = one(
                "LpPool",
                vec![In::Feed(rng.tensor(&shape, -2.0, 2.0))],
                attrs(&[
                    ("kernel_shape", Attr::Ints(k.clone())),
                    ("strides", Attr::Ints(s.clone())),
                    ("pads", Attr::Ints(pad.clone())),
                    ("p", Attr::Int(p)),
                ]),
            );
            check(
                &format!("LpPool {shape:?} k{k:?} s{s:?} pads{pad:?} p{p}"),
                &g,
                f,
                ULPS,
            );
        }
    }
}

#[test]
fn softmax_family_over_any_axis_matches_cpu() {
    if !gpu_or_skip("softmax_family_over_any_axis_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(89);
    for &n in &SIZES[..4] {
        let shape = [3, n, 4, 2];
        for op in ["Softmax", "LogSoftmax", "Hardmax"] {
            // opset 11 flattens dims axis..; opset 13 normalises the axis alone
            for opset in [11, 13] {
                for axis in [None, Some(0i64), Some(1), Some(2), Some(-1)] {
                    let at = match axis {
                        Some(a) => vec![("axis", Attr::Int(a))],
                        None => vec![],
                    };
                    let (g, f) = one_opset(
                        op,
                        vec![In::Feed(rng.tensor(&shape, -4.0, 4.0))],
                        attrs(&at),
                        opset,
                    );
                    let tol = if op == "Hardmax" { EXACT } else { SUMS };
                    check(&format!("{op}-{opset} {shape:?} axis {axis:?}"), &g, f, tol);
                }
            }
        }
    }
}

/// The opset rule of Softmax-family nodes follows the node's opset as the CPU op's does
/// (no device needed).
#[test]
fn softmax_rule_follows_the_node_opset() {
    for (opset, axis, want) in [
        (11, None, (1, true)),
        (13, None, (-1, false)),
        (13, Some(0), (0, false)),
        (11, Some(2), (2, true)),
    ] {
        for op in ["Softmax", "LogSoftmax", "Hardmax"] {
            let at = match axis {
                Some(a) => vec![("axis", Attr::Int(a))],
                None => vec![],
            };
            let (g, _) = one_opset(
                op,
                vec![In::Feed(Rng::new(1).tensor(&[2, 3, 4], -1.0, 1.0))],
                attrs(&at),
                opset,
            );
            match smelt_cuda::plan::op::GpuOp::from_node(&g.nodes[0]) {
                Ok(smelt_cuda::plan::op::GpuOp::SoftmaxNd {
                    axis: a, coerce, ..
                }) => {
                    assert_eq!((a, coerce), want, "{op}-{opset} axis {axis:?}")
                }
                other => panic!("{op}-{opset}: {other:?}"),
            }
        }
    }
}

#[test]
fn quantize_dequantize_u8_match_cpu() {
    if !gpu_or_skip("quantize_dequantize_u8_match_cpu") {
        return;
    }
    let mut rng = Rng::new(103);
    let u8s = |shape: &[usize], rng: &mut Rng| {
        let n: usize = shape.iter().product();
        let v: Vec<u8> = (0..n).map(|_| (rng.next() * 256.0) as u8).collect();
        Tensor::from_vec(shape.to_vec(), v).unwrap()
    };
    for &n in &SIZES {
        // (x shape, scale shape, axis, block size)
        for (xs, ss, axis, bs) in [
            (vec![n], vec![], 1i64, 0i64),
            (vec![2, 3, n], vec![3], 1, 0),
            (vec![2, n, 4], vec![2, n.div_ceil(2), 4], 1, 2),
        ] {
            let mut at = vec![("axis", Attr::Int(axis))];
            if bs > 0 {
                at.push(("block_size", Attr::Int(bs)));
            }
            let scale = rng.tensor(&ss, 0.01, 0.2);
            let (g, f) = one_opset(
                "QuantizeLinear",
                vec![
                    In::Feed(rng.tensor(&xs, -20.0, 20.0)),
                    In::Const(scale.clone()),
                    In::Const(u8s(&ss, &mut rng)),
                ],
                attrs(&at),
                21,
            );
            check(&format!("QuantizeLinear {xs:?} scale {ss:?}"), &g, f, EXACT);
            let (g, f) = one_opset(
                "DequantizeLinear",
                vec![
                    In::Feed(u8s(&xs, &mut rng)),
                    In::Const(scale),
                    In::Const(u8s(&ss, &mut rng)),
                ],
                attrs(&at),
                21,
            );
            check(
                &format!("DequantizeLinear {xs:?} scale {ss:?}"),
                &g,
                f,
                ULPS,
            );
        }
        let (g, f) = one_n(
            "DynamicQuantizeLinear",
            vec![In::Feed(rng.tensor(&[3, n], -2.0, 5.0))],
            attrs(&[]),
            11,
            3,
        );
        check(&format!("DynamicQuantizeLinear n{n}"), &g, f, EXACT);
    }
}

#[test]
fn batch_norm_training_matches_cpu() {
    if !gpu_or_skip("batch_norm_training_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(109);
    for &n in &SIZES[..4] {
        // opset 15: training_mode with 3 outputs; opset 9: training by 5 outputs
        for (opset, n_out) in [(15, 3), (9, 5)] {
            let c = 3;
            let mut at = vec![
                ("epsilon", Attr::Float(1e-3)),
                ("momentum", Attr::Float(0.8)),
            ];
            if opset >= 14 {
                at.push(("training_mode", Attr::Int(1)));
            }
            let (g, f) = one_n(
                "BatchNormalization",
                vec![
                    In::Feed(rng.tensor(&[2, c, n, 3], -2.0, 2.0)),
                    In::Const(rng.tensor(&[c], 0.5, 1.5)),
                    In::Const(rng.tensor(&[c], -1.0, 1.0)),
                    In::Const(rng.tensor(&[c], -0.5, 0.5)),
                    In::Const(rng.tensor(&[c], 0.5, 1.5)),
                ],
                attrs(&at),
                opset,
                n_out,
            );
            check(
                &format!("BatchNormalization training opset {opset} n{n}"),
                &g,
                f,
                SUMS,
            );
        }
    }
}

/// Training mode is what the CPU op resolved from the opset (no device needed).
#[test]
fn batch_norm_training_is_read_from_the_cpu_op() {
    use smelt_cuda::plan::op::GpuOp;
    for (opset, mode, n_out, want) in [(15, 1, 3, true), (15, 0, 1, false), (9, 0, 5, true)] {
        let p = || In::Const(Rng::new(3).tensor(&[2], 0.5, 1.5));
        let (g, _) = one_n(
            "BatchNormalization",
            vec![
                In::Feed(Rng::new(1).tensor(&[1, 2, 3], -1.0, 1.0)),
                p(),
                p(),
                p(),
                p(),
            ],
            attrs(&[("training_mode", Attr::Int(mode))]),
            opset,
            n_out,
        );
        let op = GpuOp::from_node(&g.nodes[0]).unwrap();
        assert_eq!(
            matches!(op, GpuOp::BatchNormTrain { .. }),
            want,
            "opset {opset}"
        );
    }
}
