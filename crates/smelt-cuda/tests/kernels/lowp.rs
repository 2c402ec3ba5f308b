//! 16-bit stores for GEMM readers (fp16 / bf16): a fused group and Transposes whose only
//! readers are MatMul / Gemm operands (directly or through views) write 16 bits; the
//! outputs are the same bits as with the stores off (the GEMMs' own conversion rounds the
//! same way), within the 16-bit bound of the CPU, and a value also read elsewhere (a graph
//! output) stays f32.

use crate::common::*;
use smelt_core::{DType, Dim, Tensor};
use smelt_cuda::{ExecOptions, Executor, Precision};
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::builder::V;
use smelt_ops::GraphBuilder;

/// x [2, 17, 48]: GELU-like group (x + bias, Erf, * x) -> MatMul w1 [48, 40] -> y1;
/// heads: Transpose(Reshape(x, [2, 17, 4, 12]), [0, 2, 1, 3]) times
/// Transpose(Reshape(x2, ..), [0, 2, 3, 1]) -> y2 [2, 4, 17, 17]; a group read through
/// Flatten by a Gemm -> y3; a Transpose also returned as output t (stays f32); and a
/// LayerNormalization read by a MatMul (y5) and a residual Add (r): it writes a 16-bit copy
/// beside its f32 output.
fn heads(rng: &mut Rng) -> Graph {
    let d = |n: usize| Dim::Fixed(n);
    let mut b = GraphBuilder::new("heads");
    let x = b.placeholder("x", DType::F32, &[d(2), d(17), d(48)]);
    let x2 = b.placeholder("x2", DType::F32, &[d(2), d(17), d(48)]);
    let bias = b.constant("bias", rng.tensor(&[48], -1.0, 1.0));
    let w1 = b.constant("w1", rng.tensor(&[48, 40], -0.5, 0.5));
    let w3 = b.constant("w3", rng.tensor(&[24, 2 * 17 * 48], -0.1, 0.1));
    let shape = b.constant(
        "shape",
        Tensor::from_vec(vec![4], vec![2i64, 17, 4, 12]).unwrap(),
    );
    let op = |b: &mut GraphBuilder, t: &str, ins: &[V], a: Attributes| b.op(t, ins, a).unwrap();
    let perm = |p: &[i64]| attrs(&[("perm", Attr::Ints(p.to_vec()))]);
    let h = b.add(x, bias).unwrap();
    let e = op(&mut b, "Erf", &[h], Attributes::new());
    let g = b.mul(e, x).unwrap();
    let y1 = op(&mut b, "MatMul", &[g, w1], Attributes::new());
    let rq = op(&mut b, "Reshape", &[x, shape], Attributes::new());
    let q = op(&mut b, "Transpose", &[rq], perm(&[0, 2, 1, 3]));
    let rk = op(&mut b, "Reshape", &[x2, shape], Attributes::new());
    let k = op(&mut b, "Transpose", &[rk], perm(&[0, 2, 3, 1]));
    let y2 = op(&mut b, "MatMul", &[q, k], Attributes::new());
    let s = b.mul(x2, x).unwrap();
    let e2 = op(&mut b, "Exp", &[s], Attributes::new());
    let f = op(&mut b, "Reshape", &[e2, shape], Attributes::new());
    let fl = op(&mut b, "Flatten", &[f], attrs(&[("axis", Attr::Int(0))]));
    let y3 = op(
        &mut b,
        "Gemm",
        &[w3, fl],
        attrs(&[("transB", Attr::Int(1))]),
    );
    let gamma = b.constant("gamma", rng.tensor(&[48], 0.5, 1.5));
    let beta = b.constant("beta", rng.tensor(&[48], -0.5, 0.5));
    let ln = op(
        &mut b,
        "LayerNormalization",
        &[x2, gamma, beta],
        attrs(&[("axis", Attr::Int(-1))]),
    );
    let y5 = op(&mut b, "MatMul", &[ln, w1], Attributes::new());
    let r = b.add(ln, x).unwrap();
    let t = op(&mut b, "Transpose", &[rk], perm(&[0, 2, 1, 3]));
    let y4 = op(&mut b, "MatMul", &[t, k], Attributes::new());
    b.output(y1, "y1");
    b.output(y2, "y2");
    b.output(y3, "y3");
    b.output(y4, "y4");
    b.output(t, "t");
    b.output(y5, "y5");
    b.output(r, "r");
    b.build().unwrap()
}

fn opts(precision: Precision, store_16bit: bool) -> ExecOptions {
    ExecOptions {
        precision,
        profile: false,
        cuda_graphs: false,
        fuse: true,
        profile_kernels: false,
        store_16bit,
    }
}

#[test]
fn gemm_only_values_stored_in_16_bits_give_the_same_bits() {
    if !gpu_or_skip("gemm_only_values_stored_in_16_bits_give_the_same_bits") {
        return;
    }
    let mut rng = Rng::new(31);
    let g = heads(&mut rng);
    let on = vec![true; g.nodes.len()];
    for p in [Precision::F16, Precision::Bf16] {
        let with = Executor::with_options(&g, &on, opts(p, true)).unwrap();
        let without = Executor::with_options(&g, &on, opts(p, false)).unwrap();
        for run in 0..2 {
            let feeds = vec![
                ("x".to_string(), rng.tensor(&[2, 17, 48], -1.0, 1.0)),
                ("x2".to_string(), rng.tensor(&[2, 17, 48], -1.0, 1.0)),
            ];
            let want = smelt_cpu::run(&g, feeds.clone()).unwrap();
            let a = with.run(feeds.clone()).unwrap();
            let b = without.run(feeds).unwrap();
            for ((n, ya), (_, yb)) in a.iter().zip(&b) {
                assert_eq!(ya.dtype(), DType::F32, "{p} {n}");
                assert_eq!(
                    ya.le_bytes().unwrap(),
                    yb.le_bytes().unwrap(),
                    "{p} run {run}: {n} differs with 16-bit stores"
                );
            }
            let err = compare(&format!("heads {p}"), &want, &a, lowp_tol(p));
            println!("16-bit stores at {p}, run {run}: max abs error vs cpu fp32 {err:.3e}");
        }
        // per run: the GELU-like group, q, k (read by two MatMuls), the Exp group read
        // through Reshape and Flatten, and the LayerNorm's copy; not t (a graph output)
        assert_eq!(with.stats().stores_16bit, 2 * 5, "{p}: {:?}", with.stats());
        assert_eq!(without.stats().stores_16bit, 0, "{p}");
        assert_eq!(with.stats().cpu_fallbacks, 0, "{p}");
    }
}

/// Runs `g` at fp16 and bf16 with 16-bit stores on, twice each on fresh inputs `x` of
/// `shape` in [-r, r], against the CPU at fp32 within `tol(u)` (u: the unit roundoff);
/// checks no CPU fallback and, where `stores` gives it for the precision, the 16-bit
/// stores per run.
fn run_16bit_against_cpu(
    g: &Graph,
    what: &str,
    rng: &mut Rng,
    (shape, r): (&[usize], f32),
    tol: impl Fn(f32) -> Tol,
    stores: impl Fn(Precision) -> Option<u64>,
) {
    let on = vec![true; g.nodes.len()];
    for p in [Precision::F16, Precision::Bf16] {
        let ex = Executor::with_options(g, &on, opts(p, true)).unwrap();
        let tol = tol(p.unit_roundoff() as f32);
        for run in 0..2 {
            let feeds = vec![("x".to_string(), rng.tensor(shape, -r, r))];
            let want = smelt_cpu::run(g, feeds.clone()).unwrap();
            let got = ex.run(feeds).unwrap();
            assert!(
                got.iter().all(|(_, t)| t.dtype() == DType::F32),
                "{p}: f32 outputs"
            );
            let err = compare(&format!("{what} {p} run {run}"), &want, &got, tol);
            println!("{what} in 16 bits at {p}, run {run}: max abs error {err:.3e}");
        }
        let st = ex.stats();
        assert_eq!(st.cpu_fallbacks, 0, "{p}: {:?}", st.fallback_reasons);
        if let Some(n) = stores(p) {
            assert_eq!(st.stores_16bit, 2 * n, "{p}: {st:?}");
        }
    }
}

/// The bound of an f32 GEMM with 16-bit operands, 8u sqrt(k) scale, at its worst here:
/// y3's k = 1632 terms of |w3| <= 0.1 times Exp(x2 x) <= e.
fn lowp_tol(p: Precision) -> Tol {
    let u = p.unit_roundoff() as f32;
    Tol {
        name: "16-bit operands: 8u sqrt(1632) 0.3",
        abs: 8.0 * u * 1632f32.sqrt() * 0.3,
        rel: 1e-3,
    }
}

/// x [2, 33, 40] -> MatMul w1 [40, 72] + b1 (a bias fold) -> exact GELU (Div, Erf, Add,
/// Mul, Mul: one group) -> MatMul w2 [72, 24] -> y. At fp16 / bf16 the first GEMM writes
/// f16 for the GELU group, which widens it as it reads it, and the group writes 16 bits
/// for the second GEMM: two 16-bit stores per run. The group then computes on the
/// product rounded to 16 bits, so the result is checked against the CPU within the 16-bit
/// bound (not against the stores off bit for bit).
#[test]
fn a_gemm_feeding_a_group_writes_16_bits() {
    if !gpu_or_skip("a_gemm_feeding_a_group_writes_16_bits") {
        return;
    }
    let mut rng = Rng::new(37);
    let d = |n: usize| Dim::Fixed(n);
    let mut b = GraphBuilder::new("ffn");
    let x = b.placeholder("x", DType::F32, &[d(2), d(33), d(40)]);
    let w1 = b.constant("w1", rng.tensor(&[40, 72], -0.3, 0.3));
    let b1 = b.constant("b1", rng.tensor(&[72], -0.5, 0.5));
    let w2 = b.constant("w2", rng.tensor(&[72, 24], -0.3, 0.3));
    let sqrt2 = b.constant("sqrt2", Tensor::scalar(std::f32::consts::SQRT_2));
    let one = b.constant("one", Tensor::scalar(1f32));
    let half = b.constant("half", Tensor::scalar(0.5f32));
    let op = |b: &mut GraphBuilder, t: &str, ins: &[V]| b.op(t, ins, Attributes::new()).unwrap();
    let m = op(&mut b, "MatMul", &[x, w1]);
    let h = b.add(m, b1).unwrap();
    let dv = op(&mut b, "Div", &[h, sqrt2]);
    let e = op(&mut b, "Erf", &[dv]);
    let a = b.add(e, one).unwrap();
    let g1 = b.mul(h, a).unwrap();
    let g = b.mul(g1, half).unwrap();
    let y = op(&mut b, "MatMul", &[g, w2]);
    b.output(y, "y");
    let g = b.build().unwrap();
    // |h| < 3.5: h and the GELU output each rounded once (2u of 3.5) and summed over 72
    // terms of |w2| <= 0.3, plus the second GEMM's own bound, 8u sqrt(k) times its largest
    // product (3.5 * 0.3); per run two stores: the first GEMM's output (cuBLASLt present)
    // and the group's
    let tol = |u: f32| Tol {
        name: "16-bit FFN: 2u 3.5 72 0.3 + 8u sqrt(72) 1.05",
        abs: 2.0 * u * 3.5 * 72.0 * 0.3 + 8.0 * u * 72f32.sqrt() * 1.05,
        rel: 1e-3,
    };
    run_16bit_against_cpu(
        &g,
        "GEMM -> GELU group",
        &mut rng,
        (&[2, 33, 40], 1.0),
        tol,
        |_| Some(2),
    );
}

/// A post-norm residual stream: x [2, 33, 64] -> LN0 -> h0; h0 @ w1 + b1 + h0 -> LN1 -> h1;
/// h1 @ w2 + b2 + h1 -> LN2 -> y (a graph output). At fp16 / bf16 the two folded GEMMs
/// write 16 bits (their reader is a LayerNorm, which widens its input), reading their
/// residual in 16 bits as cuBLASLt's C, and LN0 and LN1 write 16 bits only (read by a GEMM
/// and as a 16-bit residual); LN2 writes f32 (a graph output): four 16-bit stores per run.
#[test]
fn a_post_norm_residual_stream_runs_in_16_bits() {
    if !gpu_or_skip("a_post_norm_residual_stream_runs_in_16_bits") {
        return;
    }
    let mut rng = Rng::new(41);
    let d = |n: usize| Dim::Fixed(n);
    let mut b = GraphBuilder::new("post_norm");
    let x = b.placeholder("x", DType::F32, &[d(2), d(33), d(64)]);
    let op = |b: &mut GraphBuilder, t: &str, ins: &[V]| b.op(t, ins, Attributes::new()).unwrap();
    let norm = |b: &mut GraphBuilder, v: V, i: usize, rng: &mut Rng| {
        let gamma = b.constant(&format!("g{i}"), rng.tensor(&[64], 0.5, 1.5));
        let beta = b.constant(&format!("b{i}"), rng.tensor(&[64], -0.5, 0.5));
        b.op("LayerNormalization", &[v, gamma, beta], Attributes::new())
            .unwrap()
    };
    let mut h = norm(&mut b, x, 0, &mut rng);
    for i in 1..=2 {
        let w = b.constant(&format!("w{i}"), rng.tensor(&[64, 64], -0.2, 0.2));
        let c = b.constant(&format!("c{i}"), rng.tensor(&[64], -0.5, 0.5));
        let m = op(&mut b, "MatMul", &[h, w]);
        let mb = b.add(m, c).unwrap();
        let r = b.add(mb, h).unwrap();
        h = norm(&mut b, r, i, &mut rng);
    }
    b.output(h, "y");
    let g = b.build().unwrap();
    // |LayerNorm outputs| <= 1.5 * 3 + 0.5 = 5; each 16-bit rounding and GEMM adds at most
    // (1 + 8 sqrt(64) * 0.2 * 5 / 5) u of the stream's magnitude, which the next LayerNorm
    // divides by its row's deviation (>= 0.5 here): 64u of 5, the golden models' bound;
    // per run four stores: LN0, the first GEMM, LN1, the second GEMM
    let tol = |u: f32| Tol {
        name: "16-bit residual stream: 64u of |y| <= 5",
        abs: 64.0 * u * 5.0,
        rel: 1e-3,
    };
    run_16bit_against_cpu(
        &g,
        "post-norm residual stream",
        &mut rng,
        (&[2, 33, 64], 2.0),
        tol,
        |_| Some(4),
    );
}

/// A ResNet-like chain large enough for cuDNN with 16-bit data (each conv 0.92 G or 0.44 G
/// multiply-adds): x [8, 64, 56, 56] -> Conv a + Relu -> h; Conv b -> y1; Relu(y1 + h) (a
/// group) -> r; Conv c -> y (a graph output). At fp16 / bf16 conv a and conv b write 16
/// bits (their readers: convs and the group), the group writes 16 bits (a leaf came in 16
/// bits, its reader a conv), and conv c reads r in 16 bits and writes f32: three 16-bit
/// stores per run.
#[test]
fn a_conv_chain_runs_in_16_bits_on_cudnn() {
    if !gpu_or_skip("a_conv_chain_runs_in_16_bits_on_cudnn") {
        return;
    }
    // 64 channels of 56 x 56: the bias pass eight values at a time; 63 of 37 x 37 (an odd
    // count): one at a time
    for (n, c, hw) in [(8, 64, 56), (9, 63, 37)] {
        conv_chain(n, c, hw);
    }
}

/// [`a_conv_chain_runs_in_16_bits_on_cudnn`] on x [n, c, hw, hw].
fn conv_chain(n: usize, c: usize, hw: usize) {
    let mut rng = Rng::new(43);
    let d = |n: usize| Dim::Fixed(n);
    let mut b = GraphBuilder::new("conv_chain");
    let x = b.placeholder("x", DType::F32, &[d(n), d(c), d(hw), d(hw)]);
    let pads = || attrs(&[("pads", Attr::Ints(vec![1, 1, 1, 1]))]);
    let conv = |b: &mut GraphBuilder, v: V, i: usize, rng: &mut Rng| {
        let w = b.constant(&format!("w{i}"), rng.tensor(&[c, c, 3, 3], -0.06, 0.06));
        let bias = b.constant(&format!("c{i}"), rng.tensor(&[c], -0.2, 0.2));
        b.op("Conv", &[v, w, bias], pads()).unwrap()
    };
    let a = conv(&mut b, x, 0, &mut rng);
    let h = b.op("Relu", &[a], Attributes::new()).unwrap();
    let y1 = conv(&mut b, h, 1, &mut rng);
    let s = b.add(y1, h).unwrap();
    let r = b.op("Relu", &[s], Attributes::new()).unwrap();
    let y = conv(&mut b, r, 2, &mut rng);
    b.output(y, "y");
    let g = b.build().unwrap();
    // |x| <= 1, weights <= 0.06 over 9c <= 576 terms: |h|, |y1|, |r| <= about 3; each of the
    // three stored values rounded to 16 bits (u of 3) and carried through the next conv
    // (576 * 0.06 = 35 times), plus each conv's own bound 8u sqrt(576) of its largest
    // product (0.18): 64u of the output's scale (4), as the golden models; per run three
    // stores where cuDNN runs them: conv a (with its Relu), conv b, the group
    let tol = |u: f32| Tol {
        name: "16-bit conv chain: 64u of |y| <= 4",
        abs: 64.0 * u * 4.0,
        rel: 1e-3,
    };
    if !smelt_cuda::cudnn_available() {
        println!("no cuDNN: the convs run on im2col + GEMM in f32");
    }
    let stores = |_| smelt_cuda::cudnn_available().then_some(3);
    let what = format!("conv chain [{n}, {c}, {hw}, {hw}]");
    run_16bit_against_cpu(&g, &what, &mut rng, (&[n, c, hw, hw], 1.0), tol, stores);
}
