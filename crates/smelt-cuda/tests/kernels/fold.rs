//! Nodes folded into a MatMul's GEMM (`plan::fold`). Scalar Muls into alpha:
//! attention-style scaled q and k heads, the scale an initializer on one side and a
//! Constant node on the other; a Mul whose output is also a graph output and a Mul by a
//! vector are not folded. Bias Adds into the epilogue: linear layers (bias on either side
//! of the Add, one followed by an element-wise chain), by cuBLASLt and, with it turned off,
//! by the kernel after the GEMM. Residual Adds after the bias into the GEMM's C, likewise
//! with and without cuBLASLt, and on the CPU when the residual broadcasts. Checked against
//! the CPU at fp32 and fp16.

use crate::common::*;
use smelt_core::{DType, Dim, Tensor};
use smelt_cuda::{ExecOptions, ExecStats, Executor, Precision};
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::builder::V;
use smelt_ops::GraphBuilder;

/// q = Transpose(Reshape(x, [2, 19, 4, 12]), [0, 2, 1, 3]) * 0.3535 (initializer);
/// k = Constant(0.5) * Transpose(.., [0, 2, 3, 1]); s = MatMul(q, k) [2, 4, 19, 19];
/// u = x2 * 0.25 returned and read by MatMul(u, w) (not folded: u is an output);
/// v = x * c (c of 48 values) read by MatMul(v, w) (not folded: not a scalar).
fn scaled_heads(rng: &mut Rng) -> Graph {
    let d = |n: usize| Dim::Fixed(n);
    let mut b = GraphBuilder::new("scaled_heads");
    let x = b.placeholder("x", DType::F32, &[d(2), d(19), d(48)]);
    let x2 = b.placeholder("x2", DType::F32, &[d(2), d(19), d(48)]);
    let shape = b.constant(
        "shape",
        Tensor::from_vec(vec![4], vec![2i64, 19, 4, 12]).unwrap(),
    );
    let s1 = b.constant("s1", Tensor::scalar(0.353_553_4f32));
    let c = b.constant("c", rng.tensor(&[48], -1.0, 1.0));
    let w = b.constant("w", rng.tensor(&[48, 33], -0.5, 0.5));
    let quarter = b.constant("quarter", Tensor::scalar(0.25f32));
    let op = |b: &mut GraphBuilder, t: &str, ins: &[V], a: Attributes| b.op(t, ins, a).unwrap();
    let perm = |p: &[i64]| attrs(&[("perm", Attr::Ints(p.to_vec()))]);
    let half = op(
        &mut b,
        "Constant",
        &[],
        attrs(&[("value", Attr::Tensor(Tensor::scalar(0.5f32)))]),
    );
    let rq = op(&mut b, "Reshape", &[x, shape], Attributes::new());
    let q = op(&mut b, "Transpose", &[rq], perm(&[0, 2, 1, 3]));
    let qs = b.mul(q, s1).unwrap();
    let rk = op(&mut b, "Reshape", &[x2, shape], Attributes::new());
    let k = op(&mut b, "Transpose", &[rk], perm(&[0, 2, 3, 1]));
    let ks = b.mul(half, k).unwrap();
    let s = op(&mut b, "MatMul", &[qs, ks], Attributes::new());
    let u = b.mul(x2, quarter).unwrap();
    let yu = op(&mut b, "MatMul", &[u, w], Attributes::new());
    let v = b.mul(x, c).unwrap();
    let yv = op(&mut b, "MatMul", &[v, w], Attributes::new());
    b.output(s, "s");
    b.output(u, "u");
    b.output(yu, "yu");
    b.output(yv, "yv");
    b.build().unwrap()
}

/// fp32 against the CPU's sums; fp16 operands over k = 48 terms of size <= 0.5.
const CASES: [(Precision, Tol); 2] = [
    (Precision::F32, SUMS),
    (
        Precision::F16,
        Tol {
            name: "fp16 operands: 8u sqrt(48) 0.5",
            abs: 8.0 * (1.0 / 2048.0) * 6.928_203 * 0.5,
            rel: 1e-3,
        },
    ),
];

/// An executor of every node of `g` on the GPU at precision `p`, fusion (and folding) on.
fn executor(g: &Graph, p: Precision) -> Executor<&Graph> {
    let opts = ExecOptions {
        precision: p,
        profile: false,
        cuda_graphs: false,
        fuse: true,
        profile_kernels: false,
        store_16bit: true,
    };
    Executor::with_options(g, &vec![true; g.nodes.len()], opts).unwrap()
}

/// Runs `g` at each precision of [`CASES`] with cuBLASLt and then without it
/// (`SMELT_NO_CUBLASLT`): two runs per executor on fresh `feeds`, each against the CPU
/// within the case's tolerance; `check` then sees the executor's stats.
fn with_and_without_cublaslt(
    g: &Graph,
    name: &str,
    mut feeds: impl FnMut() -> Vec<(String, Tensor)>,
    check: impl Fn(Precision, bool, &ExecStats),
) {
    for lt in [true, false] {
        if !lt {
            std::env::set_var("SMELT_NO_CUBLASLT", "1");
        }
        for (p, tol) in CASES {
            let ex = executor(g, p);
            for run in 0..2 {
                let f = feeds();
                let want = smelt_cpu::run(g, f.clone()).unwrap();
                let got = ex.run(f).unwrap();
                let what = format!("{name} {p} cublasLt {lt} run {run}");
                let err = compare(&what, &want, &got, tol);
                println!("{what}: max abs error {err:.3e}");
            }
            check(p, lt, &ex.stats());
        }
        std::env::remove_var("SMELT_NO_CUBLASLT");
    }
}

#[test]
fn scalar_muls_fold_into_matmul_alpha() {
    if !gpu_or_skip("scalar_muls_fold_into_matmul_alpha") {
        return;
    }
    let mut rng = Rng::new(41);
    let g = scaled_heads(&mut rng);
    for (p, tol) in CASES {
        let ex = executor(&g, p);
        for run in 0..2 {
            let feeds = vec![
                ("x".to_string(), rng.tensor(&[2, 19, 48], -1.0, 1.0)),
                ("x2".to_string(), rng.tensor(&[2, 19, 48], -1.0, 1.0)),
            ];
            let want = smelt_cpu::run(&g, feeds.clone()).unwrap();
            let got = ex.run(feeds).unwrap();
            let err = compare(&format!("scaled heads {p} run {run}"), &want, &got, tol);
            println!("scalar Muls folded at {p}, run {run}: max abs error vs cpu {err:.3e}");
        }
        let st = ex.stats();
        assert_eq!(st.cpu_fallbacks, 0, "{p}: {:?}", st.fallback_reasons);
        // the two head Muls fold into the first MatMul in each run; u's and v's Muls run
        assert_eq!(st.fused_nodes, 2 * 2, "{p}: {st:?}");
        // at fp16 the two Transposes behind the folded Muls store 16 bits
        let stores = if p == Precision::F16 { 2 * 2 } else { 0 };
        assert_eq!(st.stores_16bit, stores, "{p}: {st:?}");
    }
}

/// x [2, 19, 48] -> MatMul w1 [48, 40] -> Add b1 -> y1; Add(Identity(b2), MatMul(x, w2
/// [48, 24])) (a shared initializer, as exporters write it) -> Erf -> Mul 0.5 (a fused
/// chain after the folded bias) -> y2; MatMul(x, w1) + b1 read twice (Add and a second
/// output) is not folded.
fn linears(rng: &mut Rng) -> Graph {
    let d = |n: usize| Dim::Fixed(n);
    let mut b = GraphBuilder::new("linears");
    let x = b.placeholder("x", DType::F32, &[d(2), d(19), d(48)]);
    let w1 = b.constant("w1", rng.tensor(&[48, 40], -0.5, 0.5));
    let b1 = b.constant("b1", rng.tensor(&[40], -1.0, 1.0));
    let w2 = b.constant("w2", rng.tensor(&[48, 24], -0.5, 0.5));
    let b2 = b.constant("b2", rng.tensor(&[24], -1.0, 1.0));
    let half = b.constant("half", Tensor::scalar(0.5f32));
    let op = |b: &mut GraphBuilder, t: &str, ins: &[V]| b.op(t, ins, Attributes::new()).unwrap();
    let m1 = op(&mut b, "MatMul", &[x, w1]);
    let y1 = b.add(m1, b1).unwrap();
    let m2 = op(&mut b, "MatMul", &[x, w2]);
    let b2i = op(&mut b, "Identity", &[b2]);
    let s2 = b.add(b2i, m2).unwrap();
    let e = op(&mut b, "Erf", &[s2]);
    let y2 = b.mul(e, half).unwrap();
    let m3 = op(&mut b, "MatMul", &[x, w1]);
    let y3 = b.add(m3, b1).unwrap();
    b.output(y1, "y1");
    b.output(y2, "y2");
    b.output(y3, "y3");
    b.output(m3, "m3");
    b.build().unwrap()
}

#[test]
fn bias_adds_fold_into_the_gemm_epilogue() {
    if !gpu_or_skip("bias_adds_fold_into_the_gemm_epilogue") {
        return;
    }
    let mut rng = Rng::new(43);
    let g = linears(&mut rng);
    let feeds = || vec![("x".to_string(), rng.tensor(&[2, 19, 48], -1.0, 1.0))];
    with_and_without_cublaslt(&g, "linears", feeds, |p, lt, st| {
        assert_eq!(st.cpu_fallbacks, 0, "{p}: {:?}", st.fallback_reasons);
        // per run: the two bias Adds in their GEMMs, and Erf+Mul as one fused group
        assert_eq!(st.fused_nodes, 2 * (2 + 2), "{p} cublasLt {lt}: {st:?}");
    });
}

/// y1 = x + (MatMul(x, w1 [48, 48]) + b1) (a transformer sublayer: the residual Add
/// folds into the GEMM's C); y2 = r [19, 48] + (MatMul(x, w2) + b2), r broadcasting over
/// the batch: planned the same, the GEMM refuses it when it runs and the three nodes run
/// on the CPU.
fn residuals(rng: &mut Rng) -> Graph {
    let d = |n: usize| Dim::Fixed(n);
    let mut b = GraphBuilder::new("residuals");
    let x = b.placeholder("x", DType::F32, &[d(2), d(19), d(48)]);
    let r = b.placeholder("r", DType::F32, &[d(19), d(48)]);
    let w1 = b.constant("w1", rng.tensor(&[48, 48], -0.5, 0.5));
    let b1 = b.constant("b1", rng.tensor(&[48], -1.0, 1.0));
    let w2 = b.constant("w2", rng.tensor(&[48, 48], -0.5, 0.5));
    let b2 = b.constant("b2", rng.tensor(&[48], -1.0, 1.0));
    let op = |b: &mut GraphBuilder, t: &str, ins: &[V]| b.op(t, ins, Attributes::new()).unwrap();
    let m1 = op(&mut b, "MatMul", &[x, w1]);
    let s1 = b.add(m1, b1).unwrap();
    let y1 = b.add(x, s1).unwrap();
    let m2 = op(&mut b, "MatMul", &[x, w2]);
    let s2 = b.add(b2, m2).unwrap();
    let y2 = b.add(s2, r).unwrap();
    b.output(y1, "y1");
    b.output(y2, "y2");
    b.build().unwrap()
}

#[test]
fn residual_adds_fold_into_the_gemm() {
    if !gpu_or_skip("residual_adds_fold_into_the_gemm") {
        return;
    }
    let mut rng = Rng::new(44);
    let g = residuals(&mut rng);
    let feeds = || {
        vec![
            ("x".to_string(), rng.tensor(&[2, 19, 48], -1.0, 1.0)),
            ("r".to_string(), rng.tensor(&[19, 48], -1.0, 1.0)),
        ]
    };
    with_and_without_cublaslt(&g, "residuals", feeds, |p, lt, st| {
        // per run: y1's two Adds in its GEMM; y2's MatMul falls back (the residual
        // broadcasts) and its Adds run after it
        assert_eq!(st.fused_nodes, 2 * 2, "{p} cublasLt {lt}: {st:?}");
        assert_eq!(st.cpu_fallbacks, 2, "{p} cublasLt {lt}: {st:?}");
        assert!(
            st.fallback_reasons
                .iter()
                .all(|r| r.contains("MatMul+Add+Add")),
            "{:?}",
            st.fallback_reasons
        );
    });
}
