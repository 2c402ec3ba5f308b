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
