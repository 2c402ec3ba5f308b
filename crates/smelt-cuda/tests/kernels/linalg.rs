use crate::common::*;
use smelt_cuda::{ExecOptions, Executor, Precision};
use smelt_ir::Attr;

#[test]
fn matmul_matches_cpu() {
    if !gpu_or_skip("matmul_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(10);
    let cases: [(&[usize], &[usize]); 9] = [
        (&[1, 1], &[1, 1]),
        (&[31, 33], &[33, 257]),
        (&[257, 33], &[33, 31]),
        (&[2, 3, 31, 33], &[33, 5]),
        (&[33], &[33, 31]),
        (&[31, 33], &[33]),
        (&[4, 33], &[7, 33, 31]),
        (&[3, 5, 33], &[3, 33, 2]),
        (&[2, 4, 128, 32], &[2, 4, 32, 128]),
    ];
    let mut worst = 0f32;
    for (a, b) in cases {
        let (g, f) = one(
            "MatMul",
            vec![
                In::Feed(rng.tensor(a, -1.0, 1.0)),
                In::Feed(rng.tensor(b, -1.0, 1.0)),
            ],
            attrs(&[]),
        );
        worst = worst.max(check(&format!("MatMul {a:?} x {b:?}"), &g, f, SUMS));
    }
    // weights as constants (uploaded once)
    let (g, f) = one(
        "MatMul",
        vec![
            In::Feed(rng.tensor(&[9, 257], -1.0, 1.0)),
            In::Const(rng.tensor(&[257, 33], -1.0, 1.0)),
        ],
        attrs(&[]),
    );
    worst = worst.max(check("MatMul const B", &g, f, SUMS));
    println!("MatMul: max abs error {worst:.3e}");
}

#[test]
fn gemm_matches_cpu() {
    if !gpu_or_skip("gemm_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(11);
    let (m, k, n) = (31usize, 257usize, 33usize);
    let mut worst = 0f32;
    for ta in [0, 1] {
        for tb in [0, 1] {
            for c in [
                None,
                Some(vec![n]),
                Some(vec![m, n]),
                Some(vec![1, 1]),
                Some(vec![m, 1]),
            ] {
                let a = rng.tensor(&if ta == 1 { [k, m] } else { [m, k] }, -1.0, 1.0);
                let b = rng.tensor(&if tb == 1 { [n, k] } else { [k, n] }, -1.0, 1.0);
                let mut ins = vec![In::Feed(a), In::Const(b)];
                if let Some(cs) = &c {
                    ins.push(In::Const(rng.tensor(cs, -1.0, 1.0)));
                }
                let at = attrs(&[
                    ("transA", Attr::Int(ta)),
                    ("transB", Attr::Int(tb)),
                    ("alpha", Attr::Float(0.5)),
                    ("beta", Attr::Float(2.0)),
                ]);
                let (g, f) = one("Gemm", ins, at);
                worst = worst.max(check(&format!("Gemm tA={ta} tB={tb} C={c:?}"), &g, f, SUMS));
            }
        }
    }
    println!("Gemm: max abs error {worst:.3e}");
}

// ---- reduced-precision GEMM operands (fp32 accumulation) against the CPU's fp32 op ----

/// The named tolerance of a GEMM-type op with operands rounded to `p` and fp32 sums of `k`
/// products whose factors are at most `scale` in magnitude (product): each product is off
/// by at most 2u relative (both factors rounded, u the unit roundoff), and k such errors of
/// random sign add up to about 2u * sqrt(k) * scale; 4 of those standard deviations, plus
/// the fp32 summation tolerance.
fn lowp_tol(p: Precision, k: usize, scale: f32) -> Tol {
    let u = p.unit_roundoff() as f32;
    Tol {
        name: match p {
            Precision::F32 => "sums",
            Precision::Tf32 => "tf32: 8u sqrt(k) scale, u = 2^-11",
            Precision::F16 => "fp16: 8u sqrt(k) scale, u = 2^-11",
            Precision::Bf16 => "bf16: 8u sqrt(k) scale, u = 2^-8",
        },
        abs: SUMS.abs + 4.0 * 2.0 * u * (k as f32).sqrt() * scale,
        rel: SUMS.rel,
    }
}

/// Options at precision `p`: no profile, no CUDA graphs, fusion when `fuse`.
fn exec_opts(p: Precision, fuse: bool) -> ExecOptions {
    ExecOptions {
        precision: p,
        profile: false,
        cuda_graphs: false,
        fuse,
        profile_kernels: false,
        store_16bit: true,
    }
}

/// Runs `g` on the CPU (fp32) and twice on the GPU at precision `p` (the second run uses
/// the cached 16-bit weights); both within `tol`; returns the largest error.
fn check_prec(
    what: &str,
    g: &smelt_ir::Graph,
    feeds: Vec<(String, smelt_core::Tensor)>,
    p: Precision,
    tol: Tol,
) -> f32 {
    let want = smelt_cpu::run(g, feeds.clone()).unwrap_or_else(|e| panic!("{what}: cpu: {e}"));
    let opts = exec_opts(p, false);
    let ex = Executor::with_options(g, &vec![true; g.nodes.len()], opts)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut worst = 0f32;
    for run in 0..2 {
        let got = ex
            .run(feeds.clone())
            .unwrap_or_else(|e| panic!("{what}: gpu: {e}"));
        worst = worst.max(compare(&format!("{what} {p} run {run}"), &want, &got, tol));
    }
    let st = ex.stats();
    assert_eq!(st.cpu_fallbacks, 0, "{what}: {:?}", st.fallback_reasons);
    // a GEMM-type node whose input 1 (the weight) is a constant keeps a 16-bit copy of it,
    // except grouped convs (direct f32 kernel)
    let node = &g.nodes[0];
    let grouped = node.attrs.int_or("group", 1).unwrap() != 1;
    let const_w = node.inputs[1].is_some_and(|w| g.initializers.contains_key(&w));
    if p.is_16bit() && const_w && !grouped {
        assert!(st.weight_16bit_bytes > 0, "{what}: no 16-bit weight copy");
    }
    worst
}

const LOWP: [Precision; 3] = [Precision::Tf32, Precision::F16, Precision::Bf16];

#[test]
fn matmul_gemm_reduced_precision_match_cpu_fp32() {
    if !gpu_or_skip("matmul_gemm_reduced_precision_match_cpu_fp32") {
        return;
    }
    for p in LOWP {
        let mut rng = Rng::new(12);
        let mut worst = 0f32;
        let cases: [(&[usize], &[usize], bool); 5] = [
            (&[31, 33], &[33, 257], false),
            (&[257, 33], &[33, 31], true),
            (&[2, 3, 31, 257], &[257, 5], true),
            (&[3, 5, 33], &[3, 33, 2], false),
            (&[2, 4, 128, 64], &[2, 4, 64, 128], false),
        ];
        for (a, b, const_b) in cases {
            let k = a[a.len() - 1];
            let bt = rng.tensor(b, -1.0, 1.0);
            let (g, f) = one(
                "MatMul",
                vec![
                    In::Feed(rng.tensor(a, -1.0, 1.0)),
                    if const_b { In::Const(bt) } else { In::Feed(bt) },
                ],
                attrs(&[]),
            );
            let what = format!("MatMul {a:?} x {b:?}");
            worst = worst.max(check_prec(&what, &g, f, p, lowp_tol(p, k, 1.0)));
        }
        let (m, k, n) = (31usize, 257usize, 33usize);
        for (ta, tb) in [(0, 0), (1, 1), (0, 1)] {
            let a = rng.tensor(&if ta == 1 { [k, m] } else { [m, k] }, -1.0, 1.0);
            let b = rng.tensor(&if tb == 1 { [n, k] } else { [k, n] }, -1.0, 1.0);
            let c = rng.tensor(&[n], -1.0, 1.0);
            let at = attrs(&[
                ("transA", Attr::Int(ta)),
                ("transB", Attr::Int(tb)),
                ("alpha", Attr::Float(0.5)),
                ("beta", Attr::Float(2.0)),
            ]);
            let (g, f) = one("Gemm", vec![In::Feed(a), In::Const(b), In::Const(c)], at);
            // alpha 0.5 scales the products
            let what = format!("Gemm tA={ta} tB={tb}");
            worst = worst.max(check_prec(&what, &g, f, p, lowp_tol(p, k, 0.5)));
        }
        println!(
            "MatMul/Gemm at {p}: max abs error vs cpu fp32 {worst:.3e} (tolerance at k=257: {:.3e})",
            lowp_tol(p, 257, 1.0).abs
        );
        // the reduced path was taken: rounding 257-term operands changes some result
        assert!(worst > 0.0, "{p}: results equal fp32 exactly");
    }
}

#[test]
fn conv_reduced_precision_matches_cpu_fp32() {
    if !gpu_or_skip("conv_reduced_precision_matches_cpu_fp32") {
        return;
    }
    for p in LOWP {
        let mut rng = Rng::new(21);
        let mut worst = 0f32;
        // (n, c, h, w, m, k, stride, pad, group)
        let cases = [
            (2, 3, 31, 33, 5, 3, 1, 1, 1),
            (1, 16, 17, 17, 32, 1, 1, 0, 1), // 1x1: the input converted directly
            (1, 3, 64, 64, 64, 7, 2, 3, 1),  // ResNet stem
            (2, 64, 9, 9, 64, 3, 1, 1, 1),   // k = 576
            (2, 8, 17, 19, 8, 3, 1, 1, 8),   // depthwise: stays f32
        ];
        for (n, c, h, w, m, k, s, pd, grp) in cases {
            let x = rng.tensor(&[n, c, h, w], -1.0, 1.0);
            let wt = rng.tensor(&[m, c / grp, k, k], -0.5, 0.5);
            let b = rng.tensor(&[m], -1.0, 1.0);
            let at = attrs(&[
                ("kernel_shape", Attr::Ints(vec![k as i64; 2])),
                ("strides", Attr::Ints(vec![s as i64; 2])),
                ("pads", Attr::Ints(vec![pd as i64; 4])),
                ("group", Attr::Int(grp as i64)),
            ]);
            let (g, f) = one("Conv", vec![In::Feed(x), In::Const(wt), In::Const(b)], at);
            let kk = c / grp * k * k;
            let what = format!("Conv n{n} c{c} {h}x{w} m{m} k{k} s{s} g{grp}");
            worst = worst.max(check_prec(&what, &g, f, p, lowp_tol(p, kk, 0.5)));
        }
        println!("Conv at {p}: max abs error vs cpu fp32 {worst:.3e}");
        assert!(worst > 0.0, "{p}: results equal fp32 exactly");
    }
}

/// A conv of at least 2^29 multiply-adds at fp16 / bf16 runs on cuDNN as tf32 (where cuDNN
/// is present): no 16-bit weight copy, the tf32 run's bits, and within the fp16 bound of
/// the GPU's fp32 result (itself checked against the CPU in nn.rs). Without cuDNN it runs
/// on im2col + GEMM and is checked against fp32 the same way.
#[test]
fn large_convs_at_16bit_run_as_tf32() {
    if !gpu_or_skip("large_convs_at_16bit_run_as_tf32") {
        return;
    }
    let mut rng = Rng::new(22);
    // 4 x 128 x 48 x 48 outputs x 576 taps = 679 M multiply-adds
    let x = rng.tensor(&[4, 64, 48, 48], -1.0, 1.0);
    let wt = rng.tensor(&[128, 64, 3, 3], -0.5, 0.5);
    let b = rng.tensor(&[128], -1.0, 1.0);
    let at = attrs(&[
        ("kernel_shape", Attr::Ints(vec![3, 3])),
        ("pads", Attr::Ints(vec![1, 1, 1, 1])),
    ]);
    let (g, f) = one("Conv", vec![In::Feed(x), In::Const(wt), In::Const(b)], at);
    let run = |p: Precision| {
        let opts = exec_opts(p, false);
        let ex = Executor::with_options(&g, &vec![true; g.nodes.len()], opts).unwrap();
        let y = ex.run(f.clone()).unwrap_or_else(|e| panic!("{p}: {e}"));
        (y, ex.stats().weight_16bit_bytes)
    };
    let (want, _) = run(Precision::F32);
    let (tf32, _) = run(Precision::Tf32);
    let cudnn = smelt_cuda::cudnn_available();
    for p in [Precision::F16, Precision::Bf16] {
        let (got, copies) = run(p);
        let err = compare(
            &format!("Conv 679M MACs at {p}"),
            &want,
            &got,
            lowp_tol(p, 576, 0.5),
        );
        println!("large Conv at {p}: max abs error vs gpu fp32 {err:.3e}; cuDNN {cudnn}");
        if cudnn {
            // (the bias may run in cuDNN's epilogue, whose call computes in exact fp32)
            assert_eq!(copies, 0, "{p}: the tf32 route keeps no 16-bit weights");
            assert_eq!(
                got[0].1.le_bytes().unwrap(),
                tf32[0].1.le_bytes().unwrap(),
                "{p}: not the tf32 run's bits"
            );
        } else {
            assert!(err > 0.0, "{p}: equals fp32 exactly");
        }
    }
}

/// Conv (+ bias) -> Relu and Conv + bias on cuDNN (tf32, and fp16 for convs of at least
/// 2^29 multiply-adds), the bias and ReLU by the kernel after it and, with
/// `SMELT_CUDNN_BIAS_ACT=1`, possibly in cuDNN's epilogue: within the reduced-precision
/// bound of the CPU's fp32 result (exact fp32 where cuDNN's fused call was chosen), the
/// ReLU applied (zeros, no negatives), the same on a second run; fusion off (the Relu as
/// its own node) agrees.
#[test]
fn conv_bias_relu_on_cudnn_matches_cpu() {
    if !gpu_or_skip("conv_bias_relu_on_cudnn_matches_cpu") {
        return;
    }
    use smelt_core::{DType, Dim};
    let mut rng = Rng::new(23);
    // (x shape, m, k, relu): 679 M and 822 M multiply-adds, and a 1x1 without ReLU
    let cases: [([usize; 4], usize, usize, bool); 3] = [
        ([4, 64, 48, 48], 128, 3, true),
        ([4, 256, 28, 28], 256, 1, true),
        ([4, 256, 28, 28], 256, 1, false),
    ];
    for ((xs, m, k, relu), bias_act) in cases.into_iter().flat_map(|c| [(c, false), (c, true)]) {
        if bias_act {
            std::env::set_var("SMELT_CUDNN_BIAS_ACT", "1");
        }
        let mut b = smelt_ops::GraphBuilder::new("conv_bias_relu");
        let dims: Vec<Dim> = xs.iter().map(|&d| Dim::Fixed(d)).collect();
        let x = b.placeholder("x", DType::F32, &dims);
        let w = b.constant("w", rng.tensor(&[m, xs[1], k, k], -0.5, 0.5));
        let bias = b.constant("b", rng.tensor(&[m], -1.0, 1.0));
        let pad = (k / 2) as i64;
        let at = smelt_ir::Attributes::new().with("pads", Attr::Ints(vec![pad; 4]));
        let mut y = b.op("Conv", &[x, w, bias], at).unwrap();
        if relu {
            y = b.relu(y).unwrap();
        }
        b.output(y, "y");
        let g = b.build().unwrap();
        let f = vec![("x".to_string(), rng.tensor(&xs, -1.0, 1.0))];
        let want = smelt_cpu::run(&g, f.clone()).unwrap();
        for p in [Precision::Tf32, Precision::F16] {
            let tol = lowp_tol(p, xs[1] * k * k, 0.5);
            let what = format!("Conv {xs:?} m{m} k{k} relu {relu} at {p} cuDNN bias {bias_act}");
            for fuse in [true, false] {
                let ex = Executor::with_options(&g, &vec![true; g.nodes.len()], exec_opts(p, fuse))
                    .unwrap();
                for run in 0..2 {
                    let got = ex.run(f.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
                    let err = compare(&format!("{what} fuse {fuse} run {run}"), &want, &got, tol);
                    println!("{what} fuse {fuse} run {run}: max abs error {err:.3e}");
                    let v = got[0].1.as_slice::<f32>().unwrap();
                    if relu {
                        let zeros = v.iter().filter(|&&e| e == 0.0).count();
                        assert!(zeros > v.len() / 10, "{what}: {zeros} zeros");
                        assert!(v.iter().all(|&e| e >= 0.0), "{what}: a negative");
                    } else {
                        assert!(v.iter().any(|&e| e < 0.0), "{what}: no negatives");
                    }
                }
                assert_eq!(ex.stats().cpu_fallbacks, 0, "{what}");
            }
        }
        std::env::remove_var("SMELT_CUDNN_BIAS_ACT");
    }
}

/// Q, K and V projections of one input at fp16/bf16 share its 16-bit conversion: each
/// output equals that projection alone (its own executor) bit for bit, and the CPU within
/// the fp16 bound; a second run (new input values, same addresses reused) is right too.
#[test]
fn projections_of_one_input_share_its_conversion() {
    if !gpu_or_skip("projections_of_one_input_share_its_conversion") {
        return;
    }
    let mut rng = Rng::new(31);
    let ws: Vec<smelt_core::Tensor> = (0..3).map(|_| rng.tensor(&[257, 65], -1.0, 1.0)).collect();
    let build = |which: &[usize]| {
        let mut b = smelt_ops::GraphBuilder::new("qkv");
        let x = b.placeholder(
            "x",
            smelt_core::DType::F32,
            &[smelt_core::Dim::Fixed(33), smelt_core::Dim::Fixed(257)],
        );
        for &i in which {
            let w = b.constant(&format!("w{i}"), ws[i].clone());
            let y = b.matmul(x, w).unwrap();
            b.output(y, &format!("y{i}"));
        }
        b.build().unwrap()
    };
    for p in [Precision::F16, Precision::Bf16] {
        let opts = exec_opts(p, true);
        let g = build(&[0, 1, 2]);
        let ex = Executor::with_options(&g, &vec![true; g.nodes.len()], opts.clone()).unwrap();
        for run in 0..2 {
            let feeds = vec![("x".to_string(), rng.tensor(&[33, 257], -1.0, 1.0))];
            let got = ex.run(feeds.clone()).unwrap();
            let want = smelt_cpu::run(&g, feeds.clone()).unwrap();
            compare(
                &format!("qkv {p} run {run}"),
                &want,
                &got,
                lowp_tol(p, 257, 1.0),
            );
            for i in 0..3 {
                let gi = build(&[i]);
                let alone = Executor::with_options(&gi, &[true], opts.clone())
                    .unwrap()
                    .run(feeds.clone())
                    .unwrap();
                assert_eq!(
                    got[i].1.le_bytes().unwrap(),
                    alone[0].1.le_bytes().unwrap(),
                    "{p} run {run}: projection {i} differs from its own executor"
                );
            }
        }
    }
}
