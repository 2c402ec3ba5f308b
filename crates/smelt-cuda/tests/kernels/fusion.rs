//! Fused element-wise groups: the same bits as the nodes run one by one (fusion off), and
//! the CPU within one-op tolerances, over broadcast shapes that straddle the block width.

use crate::common::*;
use smelt_core::{DType, Dim, Tensor};
use smelt_cuda::{ExecOptions, Executor, Precision};
use smelt_ir::{Attributes, Graph};
use smelt_ops::builder::V;
use smelt_ops::GraphBuilder;

fn opts(fuse: bool) -> ExecOptions {
    ExecOptions {
        precision: Precision::F32,
        profile: false,
        cuda_graphs: false,
        fuse,
        profile_kernels: false,
        store_16bit: true,
    }
}

/// x [rows, cols] + bias [cols] -> exact GELU (Div, Erf, Add, Mul, Mul) -> y; and a
/// score mask: s [rows, cols] / 8 + m [1, cols] -> IsNaN / Where(0) -> Exp -> z; and a
/// comparison output x > s (bool root); and two groups of full-size and scalar leaves
/// only (four elements per thread where the count allows): Exp(s * 0.5) + x -> q, and
/// x * 0.5 < s -> lt (bool root).
fn chains(rows: usize, cols: usize, rng: &mut Rng) -> Graph {
    let d = |n: usize| Dim::Fixed(n);
    let mut b = GraphBuilder::new("chains");
    let x = b.placeholder("x", DType::F32, &[d(rows), d(cols)]);
    let s = b.placeholder("s", DType::F32, &[d(rows), d(cols)]);
    let m = b.placeholder("m", DType::F32, &[d(1), d(cols)]);
    let bias = b.constant("bias", rng.tensor(&[cols], -1.0, 1.0));
    let k = |b: &mut GraphBuilder, n: &str, v: f32| b.constant(n, Tensor::scalar(v));
    let (sqrt2, one, half, eight, zero) = (
        k(&mut b, "sqrt2", std::f32::consts::SQRT_2),
        k(&mut b, "one", 1.0),
        k(&mut b, "half", 0.5),
        k(&mut b, "eight", 8.0),
        k(&mut b, "zero", 0.0),
    );
    let op = |b: &mut GraphBuilder, t: &str, ins: &[V]| b.op(t, ins, Attributes::new()).unwrap();
    let h = b.add(x, bias).unwrap();
    let dv = op(&mut b, "Div", &[h, sqrt2]);
    let e = op(&mut b, "Erf", &[dv]);
    let a = b.add(e, one).unwrap();
    let hm = b.mul(h, a).unwrap();
    let y = b.mul(hm, half).unwrap();
    let sc = op(&mut b, "Div", &[s, eight]);
    let sm = b.add(sc, m).unwrap();
    let nan = op(&mut b, "IsNaN", &[sm]);
    let w = op(&mut b, "Where", &[nan, zero, sm]);
    let z = op(&mut b, "Exp", &[w]);
    let gt = op(&mut b, "Greater", &[x, s]);
    let sh = b.mul(s, half).unwrap();
    let ex = op(&mut b, "Exp", &[sh]);
    let q = b.add(ex, x).unwrap();
    let xh = b.mul(x, half).unwrap();
    let lt = op(&mut b, "Less", &[xh, s]);
    b.output(y, "y");
    b.output(z, "z");
    b.output(gt, "gt");
    b.output(q, "q");
    b.output(lt, "lt");
    b.build().unwrap()
}

#[test]
fn fused_groups_equal_unfused_kernels_and_the_cpu() {
    if !gpu_or_skip("fused_groups_equal_unfused_kernels_and_the_cpu") {
        return;
    }
    let mut rng = Rng::new(77);
    // (4, 300) and (8, 4096): counts of a multiple of four
    for (rows, cols) in [(1, 1), (3, 31), (2, 257), (4, 300), (5, 4099), (8, 4096)] {
        let g = chains(rows, cols, &mut rng);
        let mut mask = rng.tensor(&[1, cols], -2.0, 2.0);
        if cols > 1 {
            // a NaN in the mask: the Where replaces it
            let mut v = mask.as_slice::<f32>().unwrap().to_vec();
            v[cols / 2] = f32::NAN;
            mask = Tensor::from_vec(vec![1, cols], v).unwrap();
        }
        let feeds = vec![
            ("x".to_string(), rng.tensor(&[rows, cols], -4.0, 4.0)),
            ("s".to_string(), rng.tensor(&[rows, cols], -20.0, 20.0)),
            ("m".to_string(), mask),
        ];
        let what = format!("chains [{rows}, {cols}]");
        let fused = Executor::with_options(&g, &vec![true; g.nodes.len()], opts(true)).unwrap();
        let plain = Executor::with_options(&g, &vec![true; g.nodes.len()], opts(false)).unwrap();
        let got = fused.run(feeds.clone()).unwrap();
        let one_by_one = plain.run(feeds.clone()).unwrap();
        let want = smelt_cpu::run(&g, feeds).unwrap();
        compare(&format!("{what} fused vs cpu"), &want, &got, ULPS);
        for ((n, a), (_, b)) in got.iter().zip(&one_by_one) {
            assert_eq!(
                a.le_bytes().unwrap(),
                b.le_bytes().unwrap(),
                "{what}: output {n} fused differs from the unfused kernels"
            );
        }
        let st = fused.stats();
        // Add+Div+Erf+Add+Mul+Mul, Div+Add+IsNaN+Where+Exp, Mul+Exp+Add and Mul+Less; the
        // lone Greater is not fused
        assert_eq!(st.fused_nodes, 16, "{what}: {st:?}");
        assert_eq!(st.cpu_fallbacks, 0, "{:?}", st.fallback_reasons);
        assert_eq!(plain.stats().fused_nodes, 0);
    }
}

/// Conv -> Relu: the Relu runs in the Conv's bias kernel (im2col + GEMM, 1x1 direct and
/// grouped paths), with the same bits as the two nodes apart; a Conv whose output is also
/// a graph output keeps its Relu apart.
#[test]
fn conv_with_its_relu_equals_the_two_apart() {
    if !gpu_or_skip("conv_with_its_relu_equals_the_two_apart") {
        return;
    }
    let mut rng = Rng::new(78);
    // (c, m, k, group, bias, also output)
    for (c, m, k, group, bias, pinned) in [
        (3usize, 33usize, 3usize, 1usize, true, false),
        (16, 32, 1, 1, false, false),
        (8, 8, 3, 8, true, false),
        (4, 17, 3, 1, true, true),
    ] {
        let mut b = GraphBuilder::new("conv_relu");
        let x = b.placeholder(
            "x",
            DType::F32,
            &[Dim::Fixed(2), Dim::Fixed(c), Dim::Fixed(19), Dim::Fixed(21)],
        );
        let w = b.constant("w", rng.tensor(&[m, c / group, k, k], -0.5, 0.5));
        let mut ins = vec![x, w];
        if bias {
            ins.push(b.constant("b", rng.tensor(&[m], -0.5, 0.5)));
        }
        let pad = (k / 2) as i64;
        let at = Attributes::new()
            .with("pads", smelt_ir::Attr::Ints(vec![pad; 4]))
            .with("group", smelt_ir::Attr::Int(group as i64));
        let y = b.op("Conv", &ins, at).unwrap();
        let r = b.relu(y).unwrap();
        b.output(r, "r");
        if pinned {
            b.output(y, "y");
        }
        let g = b.build().unwrap();
        let feeds = vec![("x".to_string(), rng.tensor(&[2, c, 19, 21], -1.0, 1.0))];
        let what = format!("Conv c{c} m{m} k{k} group {group} bias {bias} pinned {pinned}");
        let fused = Executor::with_options(&g, &vec![true; g.nodes.len()], opts(true)).unwrap();
        let plain = Executor::with_options(&g, &vec![true; g.nodes.len()], opts(false)).unwrap();
        let got = fused.run(feeds.clone()).unwrap();
        let apart = plain.run(feeds.clone()).unwrap();
        let want = smelt_cpu::run(&g, feeds).unwrap();
        compare(&what, &want, &got, SUMS);
        for ((n, a), (_, b)) in got.iter().zip(&apart) {
            assert_eq!(a.le_bytes().unwrap(), b.le_bytes().unwrap(), "{what}: {n}");
        }
        let st = fused.stats();
        assert_eq!(st.fused_nodes, if pinned { 0 } else { 1 }, "{what}: {st:?}");
        assert_eq!(st.cpu_fallbacks, 0, "{:?}", st.fallback_reasons);
    }
}

/// s [2, 3, 5, k] / 8 + m [2, 1, 1, k] -> Softmax(-1) -> Where(IsNaN(p), 0, p) -> y, with
/// batch 1 of the mask all -inf (its rows are NaN before the guard); `pv`: y read only by
/// MatMul(y, v [2, 3, k, 16]) -> z instead of returned.
fn attention_softmax(k: usize, pv: bool) -> Graph {
    let d = |n: usize| Dim::Fixed(n);
    let mut b = GraphBuilder::new("attention_softmax");
    let s = b.placeholder("s", DType::F32, &[d(2), d(3), d(5), d(k)]);
    let m = b.placeholder("m", DType::F32, &[d(2), d(1), d(1), d(k)]);
    let eight = b.constant("eight", Tensor::scalar(8f32));
    let zero = b.constant("zero", Tensor::scalar(0f32));
    let op = |b: &mut GraphBuilder, t: &str, ins: &[V]| b.op(t, ins, Attributes::new()).unwrap();
    let sc = op(&mut b, "Div", &[s, eight]);
    let sm = b.add(sc, m).unwrap();
    let mut axis = Attributes::new();
    axis.0.insert("axis".into(), smelt_ir::Attr::Int(-1));
    let p = b.op("Softmax", &[sm], axis).unwrap();
    let nan = op(&mut b, "IsNaN", &[p]);
    let y = op(&mut b, "Where", &[nan, zero, p]);
    if pv {
        let v = b.placeholder("v", DType::F32, &[d(2), d(3), d(k), d(16)]);
        let z = op(&mut b, "MatMul", &[y, v]);
        b.output(z, "z");
    } else {
        b.output(y, "y");
    }
    b.build().unwrap()
}

/// The softmax fused with the groups before and after it gives the bits of the three
/// kernels apart (rows of 1 to 1024 values), and runs them apart for longer rows; at fp16
/// with a MatMul reader it stores 16 bits, the same bits as without.
#[test]
fn softmax_with_its_groups_equals_them_apart() {
    if !gpu_or_skip("softmax_with_its_groups_equals_them_apart") {
        return;
    }
    let mut rng = Rng::new(79);
    for k in [1, 31, 128, 200, 1024, 1500] {
        let feeds = |rng: &mut Rng, pv: bool| {
            let mut mask = rng.tensor(&[2, 1, 1, k], -2.0, 2.0);
            let mut mv = mask.as_slice::<f32>().unwrap().to_vec();
            mv[k..].iter_mut().for_each(|x| *x = f32::NEG_INFINITY);
            mask = Tensor::from_vec(vec![2, 1, 1, k], mv).unwrap();
            let mut f = vec![
                ("s".to_string(), rng.tensor(&[2, 3, 5, k], -20.0, 20.0)),
                ("m".to_string(), mask),
            ];
            if pv {
                f.push(("v".to_string(), rng.tensor(&[2, 3, k, 16], -1.0, 1.0)));
            }
            f
        };
        let g = attention_softmax(k, false);
        let f = feeds(&mut rng, false);
        let on = vec![true; g.nodes.len()];
        let fused = Executor::with_options(&g, &on, opts(true)).unwrap();
        let apart = Executor::with_options(&g, &on, opts(false)).unwrap();
        let got = fused.run(f.clone()).unwrap();
        let want = smelt_cpu::run(&g, f.clone()).unwrap();
        compare(
            &format!("attention softmax k {k} vs cpu"),
            &want,
            &got,
            ULPS,
        );
        assert_eq!(
            got[0].1.le_bytes().unwrap(),
            apart.run(f).unwrap()[0].1.le_bytes().unwrap(),
            "k {k}: the fused softmax differs from the kernels apart"
        );
        let st = fused.stats();
        assert_eq!(st.cpu_fallbacks, 0, "{:?}", st.fallback_reasons);
        if k <= 1024 {
            // Div+Add, Softmax and IsNaN+Where in one kernel
            assert_eq!(st.fused_nodes, 5, "k {k}: {st:?}");
        } else {
            assert_eq!(
                st.fused_nodes, 4,
                "k {k}: the two groups, the Softmax apart: {st:?}"
            );
            assert!(
                st.fallback_reasons
                    .iter()
                    .any(|r| r.contains("fused softmax")),
                "{st:?}"
            );
        }
        // fp16 with the PV MatMul: the probabilities stored in 16 bits, the same bits
        let g = attention_softmax(k, true);
        let f = feeds(&mut rng, true);
        let on = vec![true; g.nodes.len()];
        let lowp = |store_16bit: bool| ExecOptions {
            precision: Precision::F16,
            store_16bit,
            ..opts(true)
        };
        let with = Executor::with_options(&g, &on, lowp(true)).unwrap();
        let without = Executor::with_options(&g, &on, lowp(false)).unwrap();
        let (a, b) = (with.run(f.clone()).unwrap(), without.run(f).unwrap());
        assert_eq!(
            a[0].1.le_bytes().unwrap(),
            b[0].1.le_bytes().unwrap(),
            "k {k}: 16-bit probabilities differ from converting them in the GEMM"
        );
        // by the fused kernel, or by the NaN guard's group when the rows run apart
        assert_eq!(with.stats().stores_16bit, 1, "k {k}: {:?}", with.stats());
    }
}
