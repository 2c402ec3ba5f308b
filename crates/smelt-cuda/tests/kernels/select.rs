//! Selection kernels with data-dependent output shapes (NonMaxSuppression, NonZero, Unique)
//! against the CPU ops; exact.

use crate::common::*;
use crate::index::typed;
use smelt_core::{f16, DType, Tensor};
use smelt_ir::Attr;

#[test]
fn non_max_suppression_matches_cpu() {
    if !gpu_or_skip("non_max_suppression_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(68);
    for (nb, n) in [(1usize, 1usize), (2, 31), (2, 257)] {
        let boxes = rng.tensor(&[nb, n, 4], 0.0, 10.0);
        // quantised scores: ties, ordered by box index as on the CPU
        let sv: Vec<f32> = (0..nb * 3 * n)
            .map(|_| (rng.next() * 16.0).floor() / 16.0)
            .collect();
        let scores = Tensor::from_vec(vec![nb, 3, n], sv).unwrap();
        for (center, max_out, iou, score_th) in [
            (0i64, 300i64, 0.3f32, None),
            (1, 5, 0.0, Some(0.5f32)),
            (0, 0, 0.5, None),
            (1, 1000, 0.7, Some(-1.0)),
        ] {
            let th = match score_th {
                Some(t) => In::Const(Tensor::from_vec(vec![1], vec![t]).unwrap()),
                None => In::Absent,
            };
            let (g, f) = one(
                "NonMaxSuppression",
                vec![
                    In::Feed(boxes.clone()),
                    In::Feed(scores.clone()),
                    In::Const(ints(&[max_out])),
                    In::Const(Tensor::from_vec(vec![1], vec![iou]).unwrap()),
                    th,
                ],
                attrs(&[("center_point_box", Attr::Int(center))]),
            );
            check(
                &format!("NonMaxSuppression {nb}x{n} center {center} max {max_out} iou {iou} th {score_th:?}"),
                &g,
                f,
                EXACT,
            );
        }
    }
}

#[test]
fn non_zero_matches_cpu() {
    if !gpu_or_skip("non_zero_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(69);
    // chunks of one block (<= 256 elements) and of many tiles (n > 1024 * 256)
    for shape in [
        vec![1usize],
        vec![31],
        vec![3, 257],
        vec![4099],
        vec![5, 60007],
        vec![],
    ] {
        for dt in [
            DType::F32,
            DType::F64,
            DType::F16,
            DType::I64,
            DType::Bool,
            DType::U8,
        ] {
            // about half zeros; floats get exact zeros and negative zeros
            let x = typed(&mut rng, &shape, dt, -1.0, 1.5);
            let x = if dt.is_float() {
                let v: Vec<f64> = x.to_f64_vec().unwrap();
                let v: Vec<f64> = v
                    .iter()
                    .enumerate()
                    .map(|(i, &a)| match i % 3 {
                        0 => 0.0,
                        1 if a < 0.0 => -0.0,
                        _ => a,
                    })
                    .collect();
                match dt {
                    DType::F32 => Tensor::from_vec(
                        shape.clone(),
                        v.iter().map(|&a| a as f32).collect::<Vec<_>>(),
                    ),
                    DType::F64 => Tensor::from_vec(shape.clone(), v),
                    _ => Tensor::from_vec(
                        shape.clone(),
                        v.iter().map(|&a| f16::from_f64(a)).collect::<Vec<_>>(),
                    ),
                }
                .unwrap()
            } else {
                x
            };
            let (g, f) = one("NonZero", vec![In::Feed(x)], attrs(&[]));
            check(&format!("NonZero {dt} {shape:?}"), &g, f, EXACT);
        }
    }
}

#[test]
fn unique_matches_cpu() {
    if !gpu_or_skip("unique_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(70);
    // flattened: few distinct values (and NaNs in f32: the f16 output would hold NaNs,
    // which the exact comparison of non-f32 outputs cannot match) among 1..4099 elements
    for n in [1usize, 31, 257, 4099] {
        let v: Vec<f32> = (0..n)
            .map(|i| {
                if i % 17 == 5 {
                    f32::NAN
                } else {
                    (rng.next() * 40.0).floor() - 20.0
                }
            })
            .collect();
        let xf = Tensor::from_vec(vec![n], v).unwrap();
        for dt in [DType::F32, DType::I64, DType::F16, DType::Bool] {
            let x = match dt {
                DType::F32 => xf.clone(),
                _ => typed(&mut rng, &[n], dt, -20.0, 20.0),
            };
            for sorted in [0, 1] {
                let (g, f) = one_n(
                    "Unique",
                    vec![In::Feed(x.clone())],
                    attrs(&[("sorted", Attr::Int(sorted))]),
                    smelt_ops::builder::DEFAULT_OPSET,
                    4,
                );
                check(&format!("Unique {dt} [{n}] sorted {sorted}"), &g, f, EXACT);
            }
        }
    }
    // along an axis: items are rows / columns, some repeated
    let base = typed(&mut rng, &[5, 33], DType::I64, -3.0, 3.0)
        .to_i64_vec()
        .unwrap();
    let rows: Vec<i64> = (0..257)
        .flat_map(|r| base[(r * 7 % 5) * 33..][..33].to_vec())
        .collect();
    let x = Tensor::from_vec(vec![257, 33], rows).unwrap();
    for axis in [0i64, 1, -1] {
        for sorted in [0, 1] {
            let (g, f) = one_n(
                "Unique",
                vec![In::Feed(x.clone())],
                attrs(&[("axis", Attr::Int(axis)), ("sorted", Attr::Int(sorted))]),
                smelt_ops::builder::DEFAULT_OPSET,
                4,
            );
            check(
                &format!("Unique i64 axis {axis} sorted {sorted}"),
                &g,
                f,
                EXACT,
            );
        }
    }
}
