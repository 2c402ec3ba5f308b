//! Attention written out as nodes (`plan::attention_fuse`) run as one kernel at fp16 and
//! bf16: against the CPU's fp32 result and the nodes run apart (fusion off) at the same
//! precision, within the reduced-precision bound, for BERT's shape, tiles and heads of
//! odd sizes, a fully masked batch (the NaN guard), a second run, and shapes the kernel
//! refuses (the nodes then run apart, and say so).

use crate::common::*;
use smelt_core::{DType, Dim, Tensor};
use smelt_cuda::{ExecOptions, Executor, Precision};
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::builder::V;
use smelt_ops::GraphBuilder;

/// x [b, s, h*d] -> three projections (MatMul + bias) -> Reshape [b, s, h, d] ->
/// Transposes ([0, 2, 1, 3], k [0, 2, 3, 1]) -> q and k scaled by 1/sqrt(sqrt(d)) ->
/// MatMul -> + Where(m, 0, -inf) (m bool [b, 1, 1, s]) -> Softmax -> Where(IsNaN(p), 0, p)
/// -> MatMul v -> Transpose back -> Reshape [b, s, h*d] -> y. As PyTorch exports it, the
/// NaN guard's zero is a Constant node placed after the Softmax.
fn attention(rng: &mut Rng, b: usize, s: usize, h: usize, d: usize) -> Graph {
    let dim = Dim::Fixed;
    let mut g = GraphBuilder::new("attention");
    let hd = h * d;
    let x = g.placeholder("x", DType::F32, &[dim(b), dim(s), dim(hd)]);
    let m = g.placeholder("m", DType::Bool, &[dim(b), dim(1), dim(1), dim(s)]);
    let ints = |v: Vec<i64>| Tensor::from_vec(vec![v.len()], v).unwrap();
    let heads = g.constant("heads", ints(vec![b as i64, s as i64, h as i64, d as i64]));
    let merged = g.constant("merged", ints(vec![b as i64, s as i64, hd as i64]));
    let scale = g.constant("scale", Tensor::scalar(1.0 / (d as f32).sqrt().sqrt()));
    let zero = g.constant("zero", Tensor::scalar(0f32));
    let ninf = g.constant("ninf", Tensor::scalar(f32::NEG_INFINITY));
    let perm = |p: &[i64]| attrs(&[("perm", Attr::Ints(p.to_vec()))]);
    let op = |g: &mut GraphBuilder, t: &str, ins: &[V], a: Attributes| g.op(t, ins, a).unwrap();
    let wr = 1.0 / (hd as f32).sqrt();
    let mut proj = Vec::new();
    for i in 0..3 {
        let w = g.constant(&format!("w{i}"), rng.tensor(&[hd, hd], -wr, wr));
        let c = g.constant(&format!("c{i}"), rng.tensor(&[hd], -0.5, 0.5));
        let mm = op(&mut g, "MatMul", &[x, w], Attributes::new());
        let y = g.add(mm, c).unwrap();
        proj.push(op(&mut g, "Reshape", &[y, heads], Attributes::new()));
    }
    let q = op(&mut g, "Transpose", &[proj[0]], perm(&[0, 2, 1, 3]));
    let kt = op(&mut g, "Transpose", &[proj[1]], perm(&[0, 2, 3, 1]));
    let v = op(&mut g, "Transpose", &[proj[2]], perm(&[0, 2, 1, 3]));
    let qs = g.mul(q, scale).unwrap();
    let ks = g.mul(kt, scale).unwrap();
    let sc = op(&mut g, "MatMul", &[qs, ks], Attributes::new());
    let bias = op(&mut g, "Where", &[m, zero, ninf], Attributes::new());
    let sm = g.add(sc, bias).unwrap();
    let p = op(&mut g, "Softmax", &[sm], attrs(&[("axis", Attr::Int(-1))]));
    let nan = op(&mut g, "IsNaN", &[p], Attributes::new());
    let late_zero = attrs(&[("value", Attr::Tensor(Tensor::scalar(0f32)))]);
    let late_zero = op(&mut g, "Constant", &[], late_zero);
    let pg = op(&mut g, "Where", &[nan, late_zero, p], Attributes::new());
    let o = op(&mut g, "MatMul", &[pg, v], Attributes::new());
    let ot = op(&mut g, "Transpose", &[o], perm(&[0, 2, 1, 3]));
    let y = op(&mut g, "Reshape", &[ot, merged], Attributes::new());
    g.output(y, "y");
    g.build().unwrap()
}

/// x in [-1, 1]; the mask keeps about 3 keys in 4, none in the last batch when `empty`.
fn feeds(rng: &mut Rng, b: usize, s: usize, hd: usize, empty: bool) -> Vec<(String, Tensor)> {
    let keep: Vec<bool> = (0..b * s)
        .map(|i| !(empty && i >= (b - 1) * s) && rng.next() < 0.75)
        .collect();
    vec![
        ("x".to_string(), rng.tensor(&[b, s, hd], -1.0, 1.0)),
        (
            "m".to_string(),
            Tensor::from_vec(vec![b, 1, 1, s], keep).unwrap(),
        ),
    ]
}

fn opts(p: Precision, fuse: bool) -> ExecOptions {
    ExecOptions {
        precision: p,
        profile: false,
        cuda_graphs: false,
        fuse,
        profile_kernels: false,
        store_16bit: true,
    }
}

#[test]
fn attention_as_one_kernel_matches_cpu_and_the_nodes_apart() {
    if !gpu_or_skip("attention_as_one_kernel_matches_cpu_and_the_nodes_apart") {
        return;
    }
    // the tensor-core variant where the device has tensor cores (8.0 and up), and the SIMT
    // one (SMELT_ATTENTION_TC=0)
    let tc = smelt_cuda::device().unwrap().capability().0 >= 8;
    for variant in [tc, false] {
        std::env::set_var("SMELT_ATTENTION_TC", if variant { "1" } else { "0" });
        println!(
            "attention variant: {}",
            if variant { "tensor cores" } else { "SIMT" }
        );
        one_kernel_cases(variant);
        if !tc {
            break;
        }
    }
    std::env::remove_var("SMELT_ATTENTION_TC");
}

fn one_kernel_cases(tc: bool) {
    let mut rng = Rng::new(91);
    // (b, s, h, d, fused): BERT's heads; tiles and heads of odd sizes with a fully masked
    // batch; more keys than a chunk and a warp's pass; heads too wide; more keys than the
    // SIMT variant's shared memory holds (the tensor-core one takes them in 8 chunks)
    let cases = [
        (2, 128, 12, 64, true),
        (3, 77, 3, 40, true),
        (1, 300, 2, 32, true),
        (1, 9, 1, 160, false),
        (1, 900, 1, 64, tc),
        (32, 128, 12, 64, true),
    ];
    for (b, s, h, d, fused) in cases {
        let g = attention(&mut rng, b, s, h, d);
        for p in [Precision::F16, Precision::Bf16] {
            let u = p.unit_roundoff() as f32;
            let what = format!("attention b{b} s{s} h{h} d{d} at {p}");
            let on = vec![true; g.nodes.len()];
            let ex = Executor::with_options(&g, &on, opts(p, true)).unwrap();
            let apart = Executor::with_options(&g, &on, opts(p, false)).unwrap();
            for run in 0..2 {
                let f = feeds(&mut rng, b, s, h * d, b > 1);
                let want = smelt_cpu::run(&g, f.clone()).unwrap();
                let got = ex.run(f.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
                let base = apart.run(f).unwrap();
                // q, k, v and p rounded to the 16-bit type: scores off by about 2u times
                // their magnitude, outputs by about 2u times |v| (|v| < 2 here)
                let tol = Tol {
                    name: "16-bit attention: 32u (1 + 2)",
                    abs: 32.0 * u * 3.0,
                    rel: 1e-3,
                };
                let e1 = compare(&format!("{what} run {run} fused vs cpu"), &want, &got, tol);
                let e2 = compare(&format!("{what} run {run} apart vs cpu"), &want, &base, tol);
                println!(
                    "{what} run {run}: max abs error vs cpu fp32 {e1:.3e} (nodes apart {e2:.3e})"
                );
            }
            let st = ex.stats();
            assert_eq!(st.cpu_fallbacks, 0, "{what}: {:?}", st.fallback_reasons);
            let refused = st
                .fallback_reasons
                .iter()
                .any(|r| r.contains("fused attention"));
            assert_eq!(refused, !fused, "{what}: {:?}", st.fallback_reasons);
            if fused {
                // per run: 4 Transposes, 2 MatMuls, 2 Muls, Where, Add, Softmax, IsNaN,
                // Where in the kernel, and the three bias Adds in their GEMMs
                assert_eq!(st.fused_nodes, 2 * (13 + 3), "{what}: {st:?}");
                // the three projections' GEMMs write their outputs in 16 bits for the
                // kernel (cuBLASLt's bias epilogue with a 16-bit D)
                assert_eq!(st.stores_16bit, 2 * 3, "{what}: {st:?}");
            }
        }
    }
}
