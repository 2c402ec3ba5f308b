//! Pooling of 1-d, 2-d and 3-d windows against the CPU op.

use crate::common::*;
use smelt_ir::Attr;

#[test]
fn pooling_1d_and_3d_match_cpu() {
    if !gpu_or_skip("pooling_1d_and_3d_match_cpu") {
        return;
    }
    let mut rng = Rng::new(23);
    // (spatial dims, kernel, strides, pads, dilations)
    let cases: Vec<(Vec<usize>, Vec<i64>, Vec<i64>, Vec<i64>, Vec<i64>)> = vec![
        (vec![257], vec![3], vec![2], vec![1, 1], vec![1]),
        (
            vec![5, 5, 5],
            vec![2, 2, 2],
            vec![1, 1, 1],
            vec![0; 6],
            vec![1, 1, 1],
        ),
        (
            vec![9, 17, 33],
            vec![3, 3, 3],
            vec![2, 2, 2],
            vec![1, 0, 1, 1, 2, 0],
            vec![1, 1, 1],
        ),
        (
            vec![7, 8, 9],
            vec![2, 3, 2],
            vec![1, 2, 1],
            vec![0; 6],
            vec![2, 1, 3],
        ),
    ];
    for (sp, k, st, pads, dil) in cases {
        let mut shape = vec![2, 3];
        shape.extend(&sp);
        let x = rng.tensor(&shape, -1.0, 1.0);
        for (op, extra) in [
            ("MaxPool", vec![]),
            ("MaxPool", vec![("ceil_mode", Attr::Int(1))]),
            ("AveragePool", vec![]),
            ("AveragePool", vec![("count_include_pad", Attr::Int(1))]),
        ] {
            let mut at = vec![
                ("kernel_shape", Attr::Ints(k.clone())),
                ("strides", Attr::Ints(st.clone())),
                ("pads", Attr::Ints(pads.clone())),
                ("dilations", Attr::Ints(dil.clone())),
            ];
            at.extend(extra.clone());
            let (g, f) = one_opset(op, vec![In::Feed(x.clone())], attrs(&at), 19);
            check(&format!("{op} {sp:?} k{k:?} {extra:?}"), &g, f, ULPS);
        }
        for op in ["GlobalAveragePool", "GlobalMaxPool"] {
            let (g, f) = one(op, vec![In::Feed(x.clone())], attrs(&[]));
            check(&format!("{op} {sp:?}"), &g, f, SUMS);
        }
    }
}

#[test]
fn max_pool_indices_and_unpool_match_cpu() {
    if !gpu_or_skip("max_pool_indices_and_unpool_match_cpu") {
        return;
    }
    let mut rng = Rng::new(24);
    for (sp, k, st) in [
        (vec![33usize], vec![3i64], vec![2i64]),
        (vec![31, 33], vec![3, 3], vec![2, 2]),
        (vec![5, 6, 7], vec![2, 2, 2], vec![1, 2, 2]),
    ] {
        let mut shape = vec![2, 3];
        shape.extend(&sp);
        let x = rng.tensor(&shape, -1.0, 1.0);
        for order in [0i64, 1] {
            let at = vec![
                ("kernel_shape", Attr::Ints(k.clone())),
                ("strides", Attr::Ints(st.clone())),
                ("storage_order", Attr::Int(order)),
            ];
            let (g, f) = one_n("MaxPool", vec![In::Feed(x.clone())], attrs(&at), 12, 2);
            check(
                &format!("MaxPool+Indices {sp:?} order {order}"),
                &g,
                f,
                EXACT,
            );
        }
        // unpool: pooled values scattered to random positions of the default unpooled
        // shape, with repeats (the last writer wins, as on the CPU)
        let pooled: Vec<usize> = sp
            .iter()
            .zip(&k)
            .zip(&st)
            .map(|((&d, &k), &s)| (d - k as usize) / s as usize + 1)
            .collect();
        let mut pshape = vec![2, 3];
        pshape.extend(&pooled);
        // the default unpooled shape: (pooled - 1) * stride + kernel per dim
        let dflt: Vec<usize> = pooled
            .iter()
            .zip(&k)
            .zip(&st)
            .map(|((&p, &k), &s)| (p - 1) * s as usize + k as usize)
            .collect();
        let unpooled: usize = 6 * dflt.iter().product::<usize>();
        let n: usize = pshape.iter().product();
        let px = rng.tensor(&pshape, -1.0, 1.0);
        let idx: Vec<i64> = (0..n)
            .map(|_| (rng.next() * unpooled as f32) as i64 % unpooled as i64)
            .collect();
        let idx = smelt_core::Tensor::from_vec(pshape.clone(), idx).unwrap();
        let at = vec![
            ("kernel_shape", Attr::Ints(k.clone())),
            ("strides", Attr::Ints(st.clone())),
        ];
        // the default shape, then one grown by 2 at the end of each spatial dim
        let mut grown = vec![2i64, 3];
        grown.extend(dflt.iter().map(|&d| d as i64 + 2));
        for os in [None, Some(grown)] {
            let mut ins = vec![In::Feed(px.clone()), In::Feed(idx.clone())];
            if let Some(o) = &os {
                ins.push(In::Const(ints(o)));
            }
            let (g, f) = one_opset("MaxUnpool", ins, attrs(&at), 11);
            check(
                &format!("MaxUnpool {sp:?} output_shape {os:?}"),
                &g,
                f,
                EXACT,
            );
        }
    }
}
